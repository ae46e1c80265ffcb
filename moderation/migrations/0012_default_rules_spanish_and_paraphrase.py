"""Apply moderation/rules/default_rules.json as it now stands: every rule gets
its language, the English rules read paraphrases, and the Spanish rule set
arrives.

Global rules are matched by name and set to the file's version (a superuser's
edit to a shipped rule is replaced; rules the file does not name, and every
facility's own rules, are left alone). Rules the file no longer ships are
listed in RETIRED and removed.
"""

from django.db import migrations

from moderation.screening import load_default_rule_specs

RETIRED: list[str] = []


def apply_default_rules(apps, schema_editor):
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
                "language": spec.language,
                "is_active": True,
            },
        )
    ScreeningRule.objects.filter(facility=None, name__in=RETIRED).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0011_screeningrule_language")]

    # Going back leaves the rules as they are: 0011's reverse drops the
    # language column, and the English rules still work without it.
    operations = [migrations.RunPython(apply_default_rules, migrations.RunPython.noop)]
