from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"
    verbose_name = _("Letters")

    def ready(self) -> None:
        # Importing the tasks registers them: services enqueue them by name.
        from messaging import review, services, tasks  # noqa: F401
        from moderation import registry
        from moderation.models import ModerationItem
        from moderation.signals import no_contact_order_recorded
        from profiles.signals import profile_left

        for kind in (ModerationItem.Kind.LETTER_OUT, ModerationItem.Kind.LETTER_IN):
            registry.register(
                kind, on_approve=services.approve_letter, on_reject=services.reject_letter
            )
        review.register()
        profile_left.connect(services.on_profile_left, dispatch_uid="messaging-profile-left")
        no_contact_order_recorded.connect(
            services.on_no_contact_order_recorded, dispatch_uid="messaging-no-contact-order"
        )

    def on_account_deleted(self, user) -> None:
        """Letters stay for the audit trail (under the anonymous author), but nothing
        more is printed for, delivered to or emailed to a deleted account."""
        # apps.py loads before the models: import them when called.
        from django.utils import timezone

        # apps.py loads before the models: import them when called.
        from messaging.models import Correspondence, Notification

        Correspondence.objects.filter(pen_pal=user, blocked_by_pen_pal_at__isnull=True).update(
            blocked_by_pen_pal_at=timezone.now()
        )
        Notification.objects.filter(
            recipient=user, state__in=[Notification.State.PENDING, Notification.State.SENDING]
        ).update(state=Notification.State.CANCELLED)

    def export_user_data(self, user) -> dict:
        """A pen pal's correspondences and the letters they wrote and received."""
        # apps.py loads before the models: import them when called.
        from messaging.models import Correspondence, Letter

        correspondences = []
        for correspondence in Correspondence.objects.filter(pen_pal=user).select_related("profile"):
            letters = Letter.objects.filter(correspondence=correspondence).visible_to_pen_pal()
            correspondences.append(
                {
                    "code": correspondence.code,
                    "with": correspondence.profile.display_name,
                    "state": correspondence.state_label,
                    "started_at": correspondence.created_at.isoformat(),
                    "letters": [
                        {
                            "direction": letter.direction,
                            "status": letter.status,
                            "written_at": letter.created_at.isoformat(),
                            "text": letter.body,
                        }
                        for letter in letters
                    ],
                }
            )
        return {"correspondences": correspondences}
