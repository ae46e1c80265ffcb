import importlib

import pytest


@pytest.fixture
def default_screening_rules(db):
    """The default rules in the database, as migration 0004 loads them.

    Transactional tests empty every table afterwards, the migrated rules
    included, and --reuse-db keeps the emptied database for the next run; so
    tests that need the rules put them back with the migration's own function.
    """
    from django.apps import apps

    migration = importlib.import_module("moderation.migrations.0004_default_rules")
    migration.load_default_rules(apps, None)
