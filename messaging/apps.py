import hashlib
import json

from django.apps import AppConfig
from django.contrib.postgres.aggregates import JSONBAgg
from django.db.models.functions import JSONObject
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"
    verbose_name = _("Letters")

    def ready(self) -> None:
        # Importing the tasks registers them: services enqueue them by name.
        from messaging import metrics, review, services, tasks  # noqa: F401
        from moderation import registry
        from moderation.models import ModerationItem
        from moderation.signals import no_contact_order_recorded
        from penpals.metrics import register_collector
        from profiles.signals import profile_left

        # A letter out is written once; a reply can change under review (its
        # transcription corrected, a page redacted or joined from triage).
        registry.register(
            ModerationItem.Kind.LETTER_OUT,
            on_approve=services.approve_letter,
            on_reject=services.reject_letter,
        )
        registry.register(
            ModerationItem.Kind.LETTER_IN,
            on_approve=services.approve_letter,
            on_reject=services.reject_letter,
            version_of=reply_review_version,
        )
        review.register()
        profile_left.connect(services.on_profile_left, dispatch_uid="messaging-profile-left")
        no_contact_order_recorded.connect(
            services.on_no_contact_order_recorded, dispatch_uid="messaging-no-contact-order"
        )
        register_collector("messaging", metrics.collect)

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


def reply_review_version(item, *, for_update: bool = False) -> str:
    """The version of a reply under review: what a moderator can change on it
    while it waits (its text, its machine transcription, its pages and each
    page's redactions), so an approval decided on an older page is refused.

    With `for_update` (inside do_decide's transaction), locks the item and
    then the reply: the order of the writers that lock both
    (messaging.transcription), so a decision and a correction wait for each
    other instead of deadlocking. Redactions and pages joined from triage
    lock the reply before they write, so they wait here too.
    """
    # apps.py loads before the models: import them when called.
    from messaging.models import Letter
    from moderation.models import ModerationItem

    if for_update:
        ModerationItem.objects.select_for_update().filter(pk=item.pk).values_list("pk").first()
        Letter.objects.select_for_update(of=("self",)).filter(pk=item.object_id).values_list(
            "pk"
        ).first()
    # One query (the item page pins its count): the reply and its pages.
    reply = (
        Letter.objects.filter(pk=item.object_id)
        .annotate(
            pages=JSONBAgg(
                JSONObject(pk="scans__pk", page="scans__page", redactions="scans__redactions"),
                order_by=("scans__page", "scans__pk"),
            )
        )
        .values("body", "machine_transcription", "pages")
        .first()
    )
    if reply is None:
        return "gone"
    # A reply without pages aggregates one row of nulls.
    reply["pages"] = [page for page in reply["pages"] or [] if page["pk"] is not None]
    return hashlib.sha256(json.dumps(reply, sort_keys=True, default=str).encode()).hexdigest()
