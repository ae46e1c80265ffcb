from __future__ import annotations

from django.conf import settings
from django.db import models


class Facility(models.Model):
    """A prison or jail whose residents may be listed, and whose mail rules apply."""

    class Kind(models.TextChoices):
        STATE = "state", "State prison"
        FEDERAL = "federal", "Federal prison"
        COUNTY = "county", "County jail"
        PRIVATE = "private", "Private facility"

    class ScreeningMode(models.TextChoices):
        EVERY_LETTER = "every_letter", "A person reviews every letter"
        FLAGGED_ONLY = "flagged_only", "A person reviews flagged letters only"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=2, help_text="Two-letter US state code.")
    mailing_address = models.TextField(
        help_text="Where letters are posted, as printed on envelopes."
    )
    mail_rules = models.TextField(
        blank=True, help_text="Shown to every writer: what this facility's mailroom accepts."
    )
    screening_mode = models.CharField(
        max_length=20, choices=ScreeningMode.choices, default=ScreeningMode.EVERY_LETTER
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class FacilityLiaison(models.Model):
    """A member of a facility's staff who keeps that facility's profiles and mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="facility_memberships"
    )
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="liaisons")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "facility"], name="profiles_liaison_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.facility}"

    def save(self, *args, **kwargs) -> None:
        from django.contrib.auth.models import Group

        from penpals.models import LIAISONS_GROUP

        super().save(*args, **kwargs)
        # The group carries the liaisons' permissions (created by a data migration).
        self.user.groups.add(Group.objects.get_or_create(name=LIAISONS_GROUP)[0])
