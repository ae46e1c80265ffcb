"""The migrations `make migrations-check` does not hold to its rules, and why.

devtools/migration_safety.py checks every migration of penpals, profiles,
messaging and moderation that is not in BASELINE. To let a new migration do
something the check flags, name the migration and the finding's code in
ACKNOWLEDGED with the reason it is safe (README "Safe migrations"), for example
the second half of an expand/contract change:

    ACKNOWLEDGED = {
        "profiles.0012_drop_old_bio": {
            "DROP_COLUMN": "0011 took the field out of the model state; shipped in 2027.02.",
        },
    }

Every entry needs a reason; entries for migrations that do not exist, or for
findings the check no longer makes, fail the check so the list stays true.
"""

from __future__ import annotations

_BEFORE_THE_CHECK = (
    "Landed before the check (issue 19), while Penpals had no production "
    "database: it has only run on databases that `migrate` builds from empty "
    "tables (development, tests, demo, benchmarks)."
)

# "app_label.migration_name" -> why it is not checked.
BASELINE: dict[str, str] = {
    name: _BEFORE_THE_CHECK
    for name in (
        "penpals.0001_initial",
        "penpals.0002_groups",
        "penpals.0003_user_language",
        "penpals.0004_user_reads_languages",
        "penpals.0005_verbose_names",
        "profiles.0001_initial",
        "profiles.0002_profiles_photos_favorites_audit",
        "profiles.0003_liaison_action_downloads",
        "profiles.0004_liaison_action_letters",
        "profiles.0005_liaison_action_no_contact_order",
        "profiles.0006_inmateprofile_is_paused_by_staff",
        "profiles.0007_search_words",
        "profiles.0008_search_in_spanish",
        "profiles.0009_verbose_names",
        "profiles.0010_paper_path",
        "messaging.0001_initial",
        "messaging.0002_verbose_names",
        "messaging.0003_paper_path",
        "moderation.0001_initial",
        "moderation.0002_moderators_permissions",
        "moderation.0003_screeningrule",
        "moderation.0004_default_rules",
        "moderation.0005_nocontactorder_report",
        "moderation.0006_queue_indexes",
        "moderation.0007_protection_requests",
        "moderation.0008_moderators_safety_permissions",
        "moderation.0009_queue_flag_indexes",
        "moderation.0010_no_contact_normalized_identifiers",
        "moderation.0011_screeningrule_language",
        "moderation.0012_default_rules_spanish_and_paraphrase",
        "moderation.0013_moderationitem_language",
        "moderation.0014_verbose_names",
        "moderation.0015_moderation_item_alerts",
        "moderation.0016_moderators_scan_run_permissions",
    )
}

# "app_label.migration_name" -> {finding code: why it is safe here}.
ACKNOWLEDGED: dict[str, dict[str, str]] = {}
