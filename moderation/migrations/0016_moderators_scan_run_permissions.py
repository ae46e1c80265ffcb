"""Moderators handle the replies that arrive at the service by post: they may
upload a whole scanning run of them, as they already may upload one reply
(add_letter), and see the runs and their pages in the admin."""

import importlib

from django.db import migrations

EARLIER_GRANT = importlib.import_module("moderation.migrations.0008_moderators_safety_permissions")

SCAN_RUN_PERMISSIONS = [
    ("messaging", "view_scanrun"),
    ("messaging", "add_scanrun"),
    ("messaging", "view_scanpage"),
]

# The whole current set (tests.factories grants it from here).
MODERATOR_PERMISSIONS = [*EARLIER_GRANT.MODERATOR_PERMISSIONS, *SCAN_RUN_PERMISSIONS]


def grant(apps, schema_editor):
    # The earlier grant makes the permission rows (the new models' too, for
    # messaging) and sets the group to exactly its set; then this one's.
    EARLIER_GRANT.grant(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators = Group.objects.get(name="Moderators")
    moderators.permissions.add(
        *[
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in SCAN_RUN_PERMISSIONS
        ]
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators = Group.objects.filter(name="Moderators").first()
    if moderators:
        for app_label, codename in SCAN_RUN_PERMISSIONS:
            moderators.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0015_moderation_item_alerts"),
        ("messaging", "0003_paper_path"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
