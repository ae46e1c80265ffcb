from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class ModerationItemQuerySet(models.QuerySet):
    def pending(self) -> ModerationItemQuerySet:
        return self.filter(status=ModerationItem.Status.PENDING)

    def for_object(self, obj) -> ModerationItemQuerySet:
        return self.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


class ModerationItem(models.Model):
    """One thing waiting for (or given) a moderator's decision.

    The object under review is generic (a profile, a photo, a letter, a
    report). What approval does to it is registered per kind in
    moderation.registry, so this app does not import the others.
    """

    class Kind(models.TextChoices):
        PROFILE = "profile", "New profile"
        PROFILE_CHANGE = "profile_change", "Profile change"
        PHOTO = "photo", "Photo"
        LETTER_OUT = "letter_out", "Letter out"
        LETTER_IN = "letter_in", "Letter in"
        REPORT = "report", "Report"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ESCALATED = "escalated", "Escalated"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Reason(models.TextChoices):
        MONEY = "money", "Money request"
        CONTACT = "contact", "Contact details"
        EXPLICIT = "explicit", "Explicit content"
        THREAT = "threat", "Threat"
        CONTRABAND = "contraband", "Contraband"
        FACILITY_RULE = "facility_rule", "Facility rule"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    facility = models.ForeignKey(
        "profiles.Facility",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_items",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    risk_score = models.PositiveIntegerField(default=0)
    flags = models.JSONField(
        default=list, blank=True, help_text="Category codes of screening hits."
    )
    summary = models.CharField(
        max_length=300, blank=True, help_text="What the moderator needs to know at a glance."
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason_code = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    note = models.TextField(blank=True, help_text="Shown to the person whose content was rejected.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModerationItemQuerySet.as_manager()

    class Meta:
        ordering = ["-risk_score", "created_at"]
        constraints = [
            # At most one open item per object and kind: resubmitting updates it.
            models.UniqueConstraint(
                fields=["content_type", "object_id", "kind"],
                condition=models.Q(status="pending"),
                name="moderation_one_pending_item_per_object",
            ),
        ]
        indexes = [
            # The queue: pending items by risk, then age.
            models.Index(
                fields=["-risk_score", "created_at"],
                name="moderation_pending_queue",
                condition=models.Q(status="pending"),
            ),
            # An object's review history.
            models.Index(fields=["content_type", "object_id"], name="moderation_item_object"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.object_id} ({self.get_status_display()})"


class ModerationDecision(models.Model):
    """Every decision on an item, kept: who, when, what, why."""

    item = models.ForeignKey(ModerationItem, on_delete=models.CASCADE, related_name="decisions")
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=ModerationItem.Status.choices)
    reason_code = models.CharField(max_length=16, choices=ModerationItem.Reason.choices, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.status} by {self.moderator_id} on item {self.item_id}"
