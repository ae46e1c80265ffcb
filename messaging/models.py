"""Letters between pen pals and people in prison, and the email outbox.

A `Correspondence` pairs one pen pal with one inmate profile and carries the
short code printed on every outgoing letter, so a paper reply can be matched.
A `Letter` goes one way (outbound to the inmate, inbound to the pen pal) and
walks its statuses in messaging.services; no view changes a status itself.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from profiles.models import private_storage

# Letters a person could mistake for each other on paper (0/O, 1/I/L) are left out.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_correspondence_code() -> str:
    """A code like 'PP-7K3M-9QX2': short enough to copy from a handwritten envelope."""
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"PP-{body[:4]}-{body[4:]}"


def normalise_code(text: str) -> str:
    """What a person typed (any case, spaces, missing dashes) as a stored code."""
    cleaned = "".join(c for c in text.upper() if c.isalnum())
    if cleaned.startswith("PP"):
        cleaned = cleaned[2:]
    if len(cleaned) != 8:
        return ""
    return f"PP-{cleaned[:4]}-{cleaned[4:]}"


class CorrespondenceQuerySet(models.QuerySet):
    def open(self) -> CorrespondenceQuerySet:
        """Not closed (a release, a transfer, the team's decision, an order)."""
        return self.filter(closed_at__isnull=True)


class Correspondence(models.Model):
    """One pen pal writing with one person in prison."""

    class CloseReason(models.TextChoices):
        RELEASED = "released", _("The person has been released")
        TRANSFERRED = "transferred", _("The person has moved to another facility")
        MODERATOR = "moderator", _("Closed by the Penpals team")

    pen_pal = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="correspondences",
        verbose_name=_("pen pal"),
    )
    profile = models.ForeignKey(
        "profiles.InmateProfile",
        on_delete=models.PROTECT,
        related_name="correspondences",
        verbose_name=_("profile"),
    )
    code = models.CharField(
        _("reply reference"), max_length=12, unique=True, default=new_correspondence_code
    )
    blocked_by_pen_pal_at = models.DateTimeField(
        _("blocked by the pen pal at"), null=True, blank=True
    )
    # Set by the facility's liaison on the inmate's behalf, or by staff.
    blocked_by_inmate_at = models.DateTimeField(
        _("blocked for the person in prison at"), null=True, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.CharField(
        _("close reason"), max_length=12, choices=CloseReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # When the newest letter (either way) was written: the inbox's order.
    last_letter_at = models.DateTimeField(_("last letter at"), default=timezone.now)

    objects = CorrespondenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("correspondence")
        verbose_name_plural = _("correspondences")
        constraints = [
            models.UniqueConstraint(
                fields=["pen_pal", "profile"], name="messaging_one_correspondence_per_pair"
            ),
        ]
        indexes = [
            models.Index(fields=["pen_pal", "-last_letter_at"], name="messaging_inbox_order"),
            # "new correspondences per pen pal per day"
            models.Index(fields=["pen_pal", "created_at"], name="messaging_corr_pen_pal_new"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_by_pen_pal_at is not None or self.blocked_by_inmate_at is not None

    @property
    def is_open(self) -> bool:
        return not self.is_closed and not self.is_blocked

    @property
    def state_label(self) -> str:
        if self.is_closed:
            return gettext("Closed")
        if self.blocked_by_pen_pal_at:
            return gettext("Blocked by you")
        if self.blocked_by_inmate_at:
            return gettext("Blocked")
        return gettext("Active")


class LetterQuerySet(models.QuerySet):
    def outbound(self) -> LetterQuerySet:
        return self.filter(direction=Letter.Direction.OUTBOUND)

    def inbound(self) -> LetterQuerySet:
        return self.filter(direction=Letter.Direction.INBOUND)

    def visible_to_pen_pal(self) -> LetterQuerySet:
        """A pen pal sees every letter they wrote, and replies once approved."""
        return self.filter(
            Q(direction=Letter.Direction.OUTBOUND)
            | Q(status__in=(Letter.Status.APPROVED, Letter.Status.READ))
        )

    def print_queue(self, facility) -> LetterQuerySet:
        """Approved outbound letters for `facility`'s residents, not yet printed,
        in open correspondences (a block or a release holds them back)."""
        return self.filter(
            direction=Letter.Direction.OUTBOUND,
            status=Letter.Status.APPROVED,
            correspondence__profile__facility=facility,
            correspondence__closed_at__isnull=True,
            correspondence__blocked_by_pen_pal_at__isnull=True,
            correspondence__blocked_by_inmate_at__isnull=True,
        )


class Letter(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "out", _("To the person in prison")
        INBOUND = "in", _("Reply from the person in prison")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        IN_REVIEW = "in_review", _("In review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Not delivered")
        PRINTED = "printed", _("Printed")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")

    correspondence = models.ForeignKey(
        Correspondence,
        on_delete=models.PROTECT,
        related_name="letters",
        verbose_name=_("correspondence"),
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    # Outbound: what the pen pal wrote. Inbound: the optional transcription of the scans.
    body = models.TextField(_("text"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED
    )
    # Who put it in: the pen pal (outbound), the liaison or staff member (inbound).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("added by"),
    )
    # Sent with the form: a second submit of the same form finds the first letter.
    idempotency_key = models.UUIDField(_("idempotency key"))

    # Screening: {"risk": int, "categories": [codes], "hits": [{category, rule, start, end, match}]}
    screening = models.JSONField(_("screening"), default=dict, blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=16, blank=True)
    rejection_note = models.TextField(
        _("rejection note"), blank=True, help_text=_("Shown to the sender.")
    )
    print_batch = models.ForeignKey(
        "PrintBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="letters",
        verbose_name=_("print batch"),
    )

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    screened_at = models.DateTimeField(_("screened at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    printed_at = models.DateTimeField(_("printed at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = LetterQuerySet.as_manager()

    class Meta:
        verbose_name = _("letter")
        verbose_name_plural = _("letters")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], name="messaging_letter_idempotent"
            ),
        ]
        indexes = [
            models.Index(fields=["correspondence", "created_at"], name="messaging_thread"),
            # "letters per pen pal per day"
            models.Index(fields=["created_by", "created_at"], name="messaging_letter_author_day"),
            # The sweep for letters whose screening task was lost.
            models.Index(
                fields=["created_at"],
                name="messaging_letter_unscreened",
                condition=Q(status="submitted"),
            ),
            # Print queues: approved outbound letters not yet printed.
            models.Index(
                fields=["correspondence", "approved_at"],
                name="messaging_letter_print_queue",
                condition=Q(status="approved", direction="out"),
            ),
            models.Index(fields=["print_batch"], name="messaging_letter_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUTBOUND

    @property
    def is_unread(self) -> bool:
        return self.direction == self.Direction.INBOUND and self.status == self.Status.APPROVED


def scan_path(scan: LetterScan, filename: str) -> str:
    # Random names: nothing about the letter or its writer leaks through a file name.
    return f"letter-scans/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:6]}"


class LetterScan(models.Model):
    """One scanned page (or PDF) of an inbound letter, in private storage."""

    letter = models.ForeignKey(
        Letter, on_delete=models.CASCADE, related_name="scans", verbose_name=_("letter")
    )
    page = models.PositiveSmallIntegerField(_("page"))
    file = models.FileField(_("file"), upload_to=scan_path, storage=private_storage, max_length=200)
    content_type = models.CharField(_("file type"), max_length=40)
    size = models.PositiveIntegerField(_("size in bytes"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("letter scan")
        verbose_name_plural = _("letter scans")
        ordering = ["letter", "page"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "page"], name="messaging_scan_page_unique"),
        ]

    def __str__(self) -> str:
        return gettext("Page %(page)s of letter %(letter)s") % {
            "page": self.page,
            "letter": self.letter_id,
        }


class PrintBatch(models.Model):
    """Letters a liaison printed together for their facility's mailroom."""

    facility = models.ForeignKey(
        "profiles.Facility",
        on_delete=models.PROTECT,
        related_name="print_batches",
        verbose_name=_("facility"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("printed by"),
    )
    idempotency_key = models.UUIDField(_("idempotency key"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("marked delivered by"),
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], name="messaging_batch_idempotent"
            ),
        ]
        indexes = [
            models.Index(fields=["facility", "-created_at"], name="messaging_batch_facility"),
        ]

    def __str__(self) -> str:
        return gettext("Print batch %(pk)s for %(facility)s") % {
            "pk": self.pk,
            "facility": self.facility.slug,
        }


class Notification(models.Model):
    """The email outbox: one row per email, sent by a task, never twice.

    `key` names the event ("letter-approved:42"), so recording the same
    event twice makes one email.
    """

    class Kind(models.TextChoices):
        LETTER_APPROVED = "letter_approved", _("Letter approved")
        LETTER_REJECTED = "letter_rejected", _("Letter not delivered")
        LETTER_DELIVERED = "letter_delivered", _("Letter delivered")
        REPLY_RECEIVED = "reply_received", _("Reply received")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Gave up")
        CANCELLED = "cancelled", _("Cancelled")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=100, unique=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # When the current attempt started (SENDING), for the sweep to spot a dead worker.
    attempted_at = models.DateTimeField(_("attempted at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="messaging_outbox_unsent",
                condition=Q(state__in=["pending", "sending"]),
            ),
            models.Index(fields=["recipient", "-created_at"], name="messaging_outbox_recipient"),
        ]

    def __str__(self) -> str:
        # Translators: an email ("Letter approved"), its recipient's account number and
        # its state ("Sent").
        return gettext("%(kind)s to user %(user)s (%(state)s)") % {
            "kind": self.get_kind_display(),
            "user": self.recipient_id,
            "state": self.get_state_display(),
        }
