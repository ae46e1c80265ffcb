"""Load the default screening rules from moderation/rules/default_rules.json.

It goes through moderation.screening.load_default_rule_specs, the loader that
`manage.py screen --rules default` uses, so the database starts with exactly
the shipped file. Later changes to the file need their own data migration.
"""

from django.db import migrations

from moderation.screening import load_default_rule_specs


def load_default_rules(apps, schema_editor):
    ScreeningRule = apps.get_model("moderation", "ScreeningRule")
    for spec in load_default_rule_specs():
        ScreeningRule.objects.update_or_create(
            name=spec.name,
            facility=None,
            defaults={
                "category": spec.category,
                "pattern_type": spec.pattern_type,
                "pattern": spec.pattern,
                "action": spec.action,
                "scope": spec.scope,
                "is_active": True,
            },
        )


def remove_default_rules(apps, schema_editor):
    ScreeningRule = apps.get_model("moderation", "ScreeningRule")
    names = [spec.name for spec in load_default_rule_specs()]
    ScreeningRule.objects.filter(facility=None, name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0003_screeningrule")]

    operations = [migrations.RunPython(load_default_rules, remove_default_rules)]
