"""The Moderators group may work the queue (view and decide items, see the
objects under review). The moderation issue refines this set."""

from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

MODERATOR_PERMISSIONS = [
    ("moderation", "view_moderationitem"),
    ("moderation", "change_moderationitem"),
    ("moderation", "view_moderationdecision"),
    ("profiles", "view_inmateprofile"),
    ("profiles", "view_profilephoto"),
    ("profiles", "view_facility"),
]


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; make sure they exist now.
    for app_label in {label for label, _ in MODERATOR_PERMISSIONS}:
        app_config = apps.get_app_config(app_label)
        stub_models_module = getattr(app_config, "models_module", None)
        # Migration state's app stubs lack models_module; the creators only test it.
        app_config.models_module = stub_models_module or True
        create_contenttypes(app_config, apps=apps, verbosity=0)
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = stub_models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators, _ = Group.objects.get_or_create(name="Moderators")
    for app_label, codename in MODERATOR_PERMISSIONS:
        moderators.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    moderators = Group.objects.filter(name="Moderators").first()
    if moderators:
        for app_label, codename in MODERATOR_PERMISSIONS:
            moderators.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("penpals", "0002_groups"),
        ("profiles", "0002_profiles_photos_favorites_audit"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
