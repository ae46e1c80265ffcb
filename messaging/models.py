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
        # The facility would not hand it over (ReturnReason says why).
        RETURNED = "returned", _("Returned by the facility")

    class ReturnReason(models.TextChoices):
        MOVED = "moved", _("The person has moved to another facility")
        RELEASED = "released", _("The person has been released")
        REFUSED = "refused", _("The person refused the letter")
        MAIL_RULES = "mail_rules", _("It breaks the facility's mail rules")
        ADDRESS = "address", _("The name or number on it does not match")
        OTHER = "other", _("Another reason")

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

    # Inbound: what OCR read on the scans (every page, in order). A help for
    # the moderator and screened like any letter; the pen pal sees `body`
    # instead, and only once a person has confirmed it.
    machine_transcription = models.TextField(_("machine transcription"), blank=True)
    transcription_confirmed_at = models.DateTimeField(
        _("transcription confirmed at"), null=True, blank=True
    )
    transcription_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("transcription confirmed by"),
    )

    # Outbound: the facility sent it back (messaging.returns).
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    return_reason = models.CharField(
        _("return reason"), max_length=12, choices=ReturnReason.choices, blank=True
    )
    return_note = models.TextField(
        _("return note"), blank=True, help_text=_("Shown to the sender.")
    )
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("return recorded by"),
    )

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
            # A facility's most common return reasons (its mail rules page).
            models.Index(
                fields=["correspondence", "return_reason"],
                name="messaging_letter_returned",
                condition=Q(status="returned"),
            ),
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
    # SHA-256 of the page as received (an image file, or one rasterised PDF
    # page): the same page uploaded twice makes no second reply.
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    # The page as an image (upright): what OCR read and what word boxes and
    # redactions are measured on. For an image scan it is made from the file.
    page_image = models.FileField(
        _("page image"), upload_to=scan_path, storage=private_storage, max_length=200, blank=True
    )
    width = models.PositiveIntegerField(_("width in pixels"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height in pixels"), null=True, blank=True)
    # OCR (messaging.ocr): {"text", "mean_confidence", "languages",
    # "words": [{"text", "confidence", "box": [x, y, w, h], "start", "end"}]}.
    # `start`/`end` index the page's text; boxes are pixels of `page_image`.
    ocr = models.JSONField(_("OCR"), default=dict, blank=True)
    ocr_at = models.DateTimeField(_("read by OCR at"), null=True, blank=True)
    # Regions a moderator blacked out, as [x, y, w, h] fractions of the page
    # image, and the image with them blacked out: all the pen pal ever gets.
    redactions = models.JSONField(_("redactions"), default=list, blank=True)
    redacted_image = models.FileField(
        _("redacted image"),
        upload_to=scan_path,
        storage=private_storage,
        max_length=200,
        blank=True,
    )

    class Meta:
        verbose_name = _("letter scan")
        verbose_name_plural = _("letter scans")
        ordering = ["letter", "page"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "page"], name="messaging_scan_page_unique"),
        ]
        indexes = [
            models.Index(
                fields=["content_hash"],
                name="messaging_scan_hash",
                condition=~Q(content_hash=""),
            ),
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


def run_file_path(run_file: ScanRunFile, filename: str) -> str:
    return f"scan-runs/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:6]}"


class ScanRun(models.Model):
    """One upload of a mailroom's scanning run (a PDF, images or a ZIP), split
    into replies by a task (messaging.intake)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        PROCESSING = "processing", _("Reading the pages")
        DONE = "done", _("Done")
        FAILED = "failed", _("Could not be read")

    facility = models.ForeignKey(
        "profiles.Facility",
        on_delete=models.PROTECT,
        related_name="scan_runs",
        verbose_name=_("facility"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    idempotency_key = models.UUIDField(_("idempotency key"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    pages_total = models.PositiveIntegerField(_("pages"), default=0)
    pages_done = models.PositiveIntegerField(_("pages read"), default=0)
    replies_made = models.PositiveIntegerField(_("replies made"), default=0)
    # Why the run failed, in words for the uploader.
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Touched as pages are read: the sweep restarts a run whose worker died.
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scanning run")
        verbose_name_plural = _("scanning runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["uploaded_by", "idempotency_key"], name="messaging_scan_run_idempotent"
            ),
        ]
        indexes = [
            models.Index(fields=["facility", "-created_at"], name="messaging_scan_run_facility"),
            models.Index(
                fields=["heartbeat_at"],
                name="messaging_scan_run_unfinished",
                condition=Q(state__in=["queued", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return gettext("Scanning run %(pk)s") % {"pk": self.pk}


class ScanRunFile(models.Model):
    """One uploaded file of a run, kept until the run is read."""

    run = models.ForeignKey(
        ScanRun, on_delete=models.CASCADE, related_name="files", verbose_name=_("scanning run")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    file = models.FileField(
        _("file"), upload_to=run_file_path, storage=private_storage, max_length=200
    )
    content_type = models.CharField(_("file type"), max_length=40)
    size = models.PositiveBigIntegerField(_("size in bytes"))

    class Meta:
        verbose_name = _("scanning run file")
        verbose_name_plural = _("scanning run files")
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "position"], name="messaging_scan_run_file_unique"
            ),
        ]

    def __str__(self) -> str:
        return gettext("File %(position)s of scanning run %(run)s") % {
            "position": self.position,
            "run": self.run_id,
        }


class ScanPage(models.Model):
    """One page of a scanning run: in a reply, waiting for a person (triage),
    blank, a duplicate, or discarded."""

    class State(models.TextChoices):
        REPLY = "reply", _("In a reply")
        TRIAGE = "triage", _("Needs a person")
        BLANK = "blank", _("Blank")
        DUPLICATE = "duplicate", _("Already received")
        DISCARDED = "discarded", _("Discarded")

    class TriageReason(models.TextChoices):
        UNREADABLE = "unreadable", _("No readable reply code")
        UNKNOWN = "unknown", _("The reply code is not one of ours")
        OTHER_FACILITY = "other_facility", _("The reply code belongs to another facility")
        CLOSED = "closed", _("The correspondence is closed or blocked")

    run = models.ForeignKey(
        ScanRun, on_delete=models.CASCADE, related_name="pages", verbose_name=_("scanning run")
    )
    # Kept on the page: triage lists and duplicate checks are per facility.
    facility = models.ForeignKey(
        "profiles.Facility",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("facility"),
    )
    number = models.PositiveIntegerField(_("page number in the run"))
    image = models.FileField(
        _("page image"), upload_to=scan_path, storage=private_storage, max_length=200, blank=True
    )
    width = models.PositiveIntegerField(_("width in pixels"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height in pixels"), null=True, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    # What the page's QR code said (messaging.reply_sheets), if it could be read.
    mark_code = models.CharField(_("reply reference read"), max_length=12, blank=True)
    mark_page = models.PositiveSmallIntegerField(_("page read"), null=True, blank=True)
    # Degrees the page was turned to stand upright, and the skew corrected.
    rotation = models.SmallIntegerField(_("rotation"), default=0)
    skew = models.FloatField(_("skew"), default=0.0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    triage_reason = models.CharField(
        _("triage reason"), max_length=16, choices=TriageReason.choices, blank=True
    )
    letter = models.ForeignKey(
        Letter,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reply"),
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("scanned page")
        verbose_name_plural = _("scanned pages")
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="messaging_scan_page_number"),
        ]
        indexes = [
            models.Index(fields=["facility", "content_hash"], name="messaging_scan_page_hash"),
            models.Index(
                fields=["facility", "created_at"],
                name="messaging_scan_page_triage",
                condition=Q(state="triage"),
            ),
        ]

    def __str__(self) -> str:
        return gettext("Page %(number)s of scanning run %(run)s") % {
            "number": self.number,
            "run": self.run_id,
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
        LETTER_RETURNED = "letter_returned", _("Letter returned")

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
            # /metrics: emails given up on, in all and lately (messaging.metrics).
            models.Index(
                fields=["attempted_at"],
                name="messaging_outbox_failed",
                condition=Q(state="failed"),
            ),
        ]

    def __str__(self) -> str:
        # Translators: an email ("Letter approved"), its recipient's account number and
        # its state ("Sent").
        return gettext("%(kind)s to user %(user)s (%(state)s)") % {
            "kind": self.get_kind_display(),
            "user": self.recipient_id,
            "state": self.get_state_display(),
        }
