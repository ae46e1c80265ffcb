from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PenpalsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "penpals"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from penpals.context_processors import remember_role

        user_logged_in.connect(remember_role, dispatch_uid="penpals_remember_role")

    def export_user_data(self, user) -> dict:
        """This app's part of "download my data" (see penpals.services)."""
        # apps.py loads before the models: import them when called.
        from penpals.services import export_account

        return export_account(user)
