from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ModerationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "moderation"
    verbose_name = _("Moderation")

    def ready(self) -> None:
        # Importing admin_safety registers its admins; checks registers the start-up check.
        from moderation import admin_safety, checks, metrics, registry, reports  # noqa: F401
        from moderation.models import ModerationItem
        from penpals.metrics import register_collector

        # Reports: a decision is recorded on the item; the actions on the
        # reported thing come with the moderation work (see moderation.reports).
        registry.register(
            ModerationItem.Kind.REPORT,
            on_approve=reports.report_action_taken,
            on_reject=reports.report_dismissed,
        )
        reports.register()
        register_collector("moderation", metrics.collect)

    def on_account_deleted(self, user) -> None:
        """Reports stay for moderation, but are no longer linked to the person
        (as the privacy page promises)."""
        # apps.py loads before the models: import them when called.
        from moderation.models import Report

        Report.objects.filter(reporter=user).update(reporter=None)
