"""The Moderators group holds exactly what moderators need to work the queue,
reports, no-contact orders, protection requests and writing suspensions.

Moderators may not edit facilities, liaisons, users (emails, passwords) or
screening rules: those stay with admins (superusers). Moderators read letters
(and correspondences, print batches, scans) in the admin without changing
them, and add replies that arrive at the service by post.
"""

import importlib

from django.db import migrations

FIRST_GRANT = importlib.import_module("moderation.migrations.0002_moderators_permissions")

SAFETY_PERMISSIONS = [
    ("moderation", "view_report"),
    ("moderation", "view_nocontactorder"),
    ("moderation", "add_nocontactorder"),
    ("moderation", "change_nocontactorder"),
    ("moderation", "view_protectionrequest"),
    # To choose the profile of a request made from the footer (no profile named).
    ("moderation", "change_protectionrequest"),
    ("moderation", "view_writingsuspension"),
    ("moderation", "add_writingsuspension"),
    ("moderation", "change_writingsuspension"),
    ("messaging", "view_correspondence"),
    ("messaging", "view_letter"),
    ("messaging", "view_letterscan"),
    ("messaging", "view_printbatch"),
    # "Upload a reply that came by post" in the letter admin.
    ("messaging", "add_letter"),
]

MODERATOR_PERMISSIONS = [*FIRST_GRANT.MODERATOR_PERMISSIONS, *SAFETY_PERMISSIONS]


def grant(apps, schema_editor):
    # The first grant makes sure the permission rows exist and adds its own set.
    FIRST_GRANT.grant(apps, schema_editor)
    from django.contrib.auth.management import create_permissions

    from django.contrib.contenttypes.management import create_contenttypes

    for label in ("moderation", "messaging"):
        app_config = apps.get_app_config(label)
        stub_models_module = getattr(app_config, "models_module", None)
        app_config.models_module = stub_models_module or True
        create_contenttypes(app_config, apps=apps, verbosity=0)
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = stub_models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators = Group.objects.get(name="Moderators")
    # Exactly this set: anything granted by hand over time is taken away.
    moderators.permissions.set(
        [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in MODERATOR_PERMISSIONS
        ]
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators = Group.objects.filter(name="Moderators").first()
    if moderators:
        for app_label, codename in SAFETY_PERMISSIONS:
            moderators.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0007_protection_requests"),
        ("messaging", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
