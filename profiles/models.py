from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.files.storage import storages
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.languages import detect
from penpals.models import LIAISONS_GROUP
from profiles import search_words
from profiles.public_cache import PublicDataQuerySet


def private_storage():
    """Private files (originals, consent forms) never get a public URL."""
    return storages["private"]


PUBLISHED = Q(status="published")

# The fields SEARCH_VECTOR reads: saving any of them refreshes the vector.
SEARCH_VECTOR_FIELDS = frozenset({"display_name", "bio", "interests"})

# Text search configurations (migration 0008): Postgres' own with accents
# taken off before stemming, so "corazon" finds "corazón" and "José" is found
# by "jose". Names are not stemmed; a bio and its interests are stemmed for
# the language the bio is written in (`bio_language`, detected on save),
# English when it is another language or too short to tell.
NAME_SEARCH_CONFIG = "penpals_simple"
TEXT_SEARCH_CONFIGS = {"en": "penpals_english", "es": "penpals_spanish"}
DEFAULT_TEXT_SEARCH_CONFIG = TEXT_SEARCH_CONFIGS["en"]
_TEXT_CONFIG = models.Case(
    *(
        models.When(bio_language=code, then=Value(config))
        for code, config in TEXT_SEARCH_CONFIGS.items()
        if config != DEFAULT_TEXT_SEARCH_CONFIG
    ),
    default=Value(DEFAULT_TEXT_SEARCH_CONFIG),
    output_field=models.TextField(),
)

# Names weigh most, then interests, then the bio.
SEARCH_VECTOR = (
    SearchVector("display_name", weight="A", config=NAME_SEARCH_CONFIG)
    + SearchVector(
        Coalesce(
            models.Func(
                F("interests"),
                Value(" "),
                function="array_to_string",
                output_field=models.TextField(),
            ),
            Value(""),
            output_field=models.TextField(),
        ),
        weight="B",
        config=_TEXT_CONFIG,
    )
    + SearchVector("bio", weight="C", config=_TEXT_CONFIG)
)


def bio_language(bio: str) -> str:
    """The code of the language `bio` is written in when search stems it
    (TEXT_SEARCH_CONFIGS), else ""."""
    code = detect(bio, ruled=frozenset(TEXT_SEARCH_CONFIGS)).code
    return code if code in TEXT_SEARCH_CONFIGS else ""


class Facility(models.Model):
    """A prison or jail whose residents may be listed, and whose mail rules apply."""

    class Kind(models.TextChoices):
        STATE = "state", _("State prison")
        FEDERAL = "federal", _("Federal prison")
        COUNTY = "county", _("County jail")
        PRIVATE = "private", _("Private facility")

    class ScreeningMode(models.TextChoices):
        EVERY_LETTER = "every_letter", _("A person reviews every letter")
        FLAGGED_ONLY = "flagged_only", _("A person reviews flagged letters only")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("US state"), max_length=2, help_text=_("Two-letter US state code."))
    mailing_address = models.TextField(
        _("mailing address"), help_text=_("Where letters are posted, as printed on envelopes.")
    )
    mail_rules = models.TextField(
        _("mail rules"),
        blank=True,
        help_text=_("Shown to every writer: what this facility's mailroom accepts."),
    )
    screening_mode = models.CharField(
        _("screening mode"),
        max_length=20,
        choices=ScreeningMode.choices,
        default=ScreeningMode.EVERY_LETTER,
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PublicDataQuerySet.as_manager()

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    def postal_address_lines(self) -> list[str]:
        """The facility's lines of an address block: its name, then the mailing
        address. A mailing address is written as it goes on an envelope and
        often starts with the name already; that line is not printed twice."""
        lines = [line.strip() for line in self.mailing_address.splitlines() if line.strip()]
        if (
            lines
            and " ".join(lines[0].split()).casefold() == " ".join(self.name.split()).casefold()
        ):
            lines = lines[1:]
        return [self.name, *lines]


class FacilityLiaison(models.Model):
    """A member of a facility's staff who keeps that facility's profiles and mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="facility_memberships",
        verbose_name=_("user"),
    )
    facility = models.ForeignKey(
        Facility, on_delete=models.CASCADE, related_name="liaisons", verbose_name=_("facility")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("facility liaison")
        verbose_name_plural = _("facility liaisons")
        constraints = [
            models.UniqueConstraint(fields=["user", "facility"], name="profiles_liaison_unique"),
        ]

    def __str__(self) -> str:
        # Translators: a liaison (a person's name) and the facility they work for.
        return gettext("%(user)s at %(facility)s") % {"user": self.user, "facility": self.facility}

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # The group carries the liaisons' permissions (created by a data migration).
        self.user.groups.add(Group.objects.get_or_create(name=LIAISONS_GROUP)[0])


def consent_form_path(profile: InmateProfile, filename: str) -> str:
    # Random names: nothing about the person leaks through a file name.
    return (
        f"consent-forms/{profile.facility_id}/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:6]}"
    )


def photo_original_path(photo: ProfilePhoto, filename: str) -> str:
    return f"photos/originals/{uuid.uuid4().hex}"


class InmateProfileQuerySet(PublicDataQuerySet):
    def published(self) -> InmateProfileQuerySet:
        return self.filter(status=InmateProfile.Status.PUBLISHED)

    def listed(self) -> InmateProfileQuerySet:
        """Profiles that are listed (published) or were and are paused: their
        public page exists, saying when it is paused (InmateProfile.is_listed)."""
        return self.filter(status__in=InmateProfile.LISTED_STATUSES)

    # Bulk writes that can change the search vocabulary refresh it (saves and
    # deletes do so through signals, see ProfilesConfig.ready).
    def update(self, **kwargs) -> int:
        updated = super().update(**kwargs)
        if updated and search_words.VOCABULARY_FIELDS & kwargs.keys():
            search_words.schedule_refresh()
        return updated

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            search_words.schedule_refresh()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        updated = super().bulk_update(objs, fields, *args, **kwargs)
        if updated and search_words.VOCABULARY_FIELDS & set(fields):
            search_words.schedule_refresh()
        return updated


class InmateProfile(models.Model):
    """A person in prison listed in the directory, kept by their facility's liaisons.

    Public fields hold the approved version. Edits to public text of a
    published profile wait in `pending_changes` until a moderator approves
    them (see profiles.services), so the public never sees unreviewed text.
    Legal name, date of birth, inmate number and consent form are private.
    """

    class Gender(models.TextChoices):
        FEMALE = "female", _("Woman")
        MALE = "male", _("Man")
        NONBINARY = "nonbinary", _("Non-binary")
        OTHER = "other", _("Another gender")

    class ReleaseKind(models.TextChoices):
        DATE = "date", _("Release date")
        LIFE = "life", _("Life sentence")
        UNKNOWN = "unknown", _("Not set")

    class Seeking(models.TextChoices):
        FRIENDSHIP = "friendship", _("Friendship")
        ROMANCE = "romance", _("Romance")
        MENTORSHIP = "mentorship", _("Mentorship")
        LEGAL_HELP = "legal_help", _("Legal help")
        FAITH = "faith", _("Faith")
        EDUCATION = "education", _("Education")

    class Language(models.TextChoices):
        ENGLISH = "en", _("English")
        SPANISH = "es", _("Spanish")
        FRENCH = "fr", _("French")
        PORTUGUESE = "pt", _("Portuguese")
        CHINESE = "zh", _("Chinese")
        VIETNAMESE = "vi", _("Vietnamese")
        ARABIC = "ar", _("Arabic")
        ASL = "asl", _("American Sign Language")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_REVIEW = "pending_review", _("Pending review")
        PUBLISHED = "published", _("Published")
        PAUSED = "paused", _("Paused")
        RELEASED = "released", _("Released")
        TRANSFERRED = "transferred", _("Transferred")
        ARCHIVED = "archived", _("Archived")

    # Listed (published) or paused: the profile has a public page. The one
    # home of this rule: InmateProfile.objects.listed() and is_listed.
    LISTED_STATUSES = (Status.PUBLISHED, Status.PAUSED)

    # Public text that needs a moderator's approval when it changes.
    REVIEWED_FIELDS = ("display_name", "bio", "interests")

    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="profiles", verbose_name=_("facility")
    )
    inmate_number = models.CharField(_("inmate number"), max_length=40)
    legal_name = models.CharField(
        _("legal name"), max_length=200, help_text=_("Private: printed on mail only.")
    )
    display_name = models.CharField(_("display name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    date_of_birth = models.DateField(
        _("date of birth"), help_text=_("Private: only the age is shown.")
    )
    gender = models.CharField(_("gender"), max_length=12, choices=Gender.choices)
    release_kind = models.CharField(
        _("release kind"), max_length=10, choices=ReleaseKind.choices, default=ReleaseKind.UNKNOWN
    )
    release_date = models.DateField(_("release date"), null=True, blank=True)
    bio = models.TextField(_("bio"), max_length=4000, blank=True)
    interests = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        size=20,
        verbose_name=_("interests"),
    )
    seeking = ArrayField(
        models.CharField(max_length=12, choices=Seeking.choices),
        default=list,
        blank=True,
        verbose_name=_("seeking"),
    )
    languages = ArrayField(
        models.CharField(max_length=8, choices=Language.choices),
        default=list,
        blank=True,
        verbose_name=_("languages"),
    )
    is_accepting_letters = models.BooleanField(_("accepting letters"), default=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    # Staff paused the listing (a protection request, a report): only staff
    # resume it; the liaison sees why, not who asked (profiles.services).
    is_paused_by_staff = models.BooleanField(_("paused by staff"), default=False)
    pending_changes = models.JSONField(_("pending changes"), default=dict, blank=True)

    # The approved primary photo shown in the directory (denormalised for the list page).
    primary_photo = models.ForeignKey(
        "ProfilePhoto",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("primary photo"),
    )
    consent_form = models.FileField(
        _("consent form"),
        upload_to=consent_form_path,
        storage=private_storage,
        blank=True,
        max_length=200,
    )
    consent_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("consent confirmed by"),
    )
    consent_confirmed_at = models.DateTimeField(_("consent confirmed at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    # When the public version last changed (shown as "last updated").
    public_updated_at = models.DateTimeField(_("public version updated at"), null=True, blank=True)
    expires_at = models.DateField(_("expires on"), null=True, blank=True)
    transferred_to = models.ForeignKey(
        Facility,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("transferred to"),
    )

    # The language the bio is written in, for search (see bio_language).
    bio_language = models.CharField(_("bio language"), max_length=8, blank=True, editable=False)
    search_vector = SearchVectorField(_("search vector"), null=True, editable=False)

    objects = InmateProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("inmate profile")
        verbose_name_plural = _("inmate profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "inmate_number"],
                name="profiles_inmate_number_unique_per_facility",
            ),
            models.CheckConstraint(
                condition=models.Q(release_kind="date", release_date__isnull=False)
                | models.Q(~models.Q(release_kind="date"), release_date__isnull=True),
                name="profiles_release_date_matches_kind",
            ),
        ]
        indexes = [
            # The directory: every filter and sort runs on published rows only.
            models.Index(
                F("published_at").desc(), "id", name="profiles_pub_newest", condition=PUBLISHED
            ),  # sort=newest (the default) and "new in the last 30 days"
            models.Index(
                F("public_updated_at").desc(),
                "id",
                name="profiles_pub_updated",
                condition=PUBLISHED,
            ),  # sort=updated
            models.Index(
                "release_date", "id", name="profiles_pub_release", condition=PUBLISHED
            ),  # sort=release and the release-within filters
            models.Index(
                "display_name", "id", name="profiles_pub_name", condition=PUBLISHED
            ),  # sort=name
            models.Index(
                "date_of_birth", name="profiles_pub_birth", condition=PUBLISHED
            ),  # age range
            models.Index(
                "facility", "gender", name="profiles_pub_facility", condition=PUBLISHED
            ),  # facility
            models.Index("gender", name="profiles_pub_gender", condition=PUBLISHED),  # gender
            GinIndex(
                fields=["seeking"], name="profiles_pub_seeking", condition=PUBLISHED
            ),  # seeking
            GinIndex(
                fields=["languages"], name="profiles_pub_languages", condition=PUBLISHED
            ),  # language
            GinIndex(fields=["search_vector"], name="profiles_search_vector"),  # full-text q=
            GinIndex(
                OpClass("display_name", name="gin_trgm_ops"), name="profiles_name_trgm"
            ),  # near-spelling name search
            models.Index(
                fields=["facility", "status"], name="profiles_facility_status"
            ),  # liaison dashboard
        ]

    def __str__(self) -> str:
        # Shown in every admin list, widget, autocomplete and history entry,
        # to moderators too: never the inmate number or legal name (the
        # liaison portal and printed mail use those fields by name).
        return gettext("%(name)s (%(facility)s, profile %(pk)s)") % {
            "name": self.display_name,
            "facility": self.facility.slug,
            "pk": self.pk,
        }

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = f"{slugify(self.display_name)[:60] or 'profile'}-{secrets.token_hex(3)}"
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "bio" in update_fields:
            self.bio_language = bio_language(self.bio)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "bio_language"}
        super().save(*args, **kwargs)
        # Keep the stored search vector in step with the public text.
        if update_fields is None or SEARCH_VECTOR_FIELDS & set(update_fields):
            InmateProfile.objects.filter(pk=self.pk).update(search_vector=SEARCH_VECTOR)

    @property
    def is_listed(self) -> bool:
        return self.status in self.LISTED_STATUSES

    @property
    def reading_language(self) -> str:
        """The site language of what Penpals prints for this person (letters'
        headers, reply instructions): their first language when the site
        speaks it, else the site's default."""
        first = self.languages[0] if self.languages else ""
        spoken = {code for code, _name in settings.LANGUAGES}
        return first if first in spoken else settings.LANGUAGE_CODE

    @property
    def age(self) -> int:
        today = timezone.localdate()
        born = self.date_of_birth
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @property
    def has_confirmed_consent(self) -> bool:
        return bool(self.consent_form) and self.consent_confirmed_at is not None

    def release_label(self) -> str:
        if self.release_kind == self.ReleaseKind.DATE and self.release_date:
            return formats.date_format(self.release_date, "YEAR_MONTH_FORMAT")
        return self.get_release_kind_display()

    def seeking_labels(self) -> list[str]:
        return [
            str(self.Seeking(value).label) for value in self.seeking if value in self.Seeking.values
        ]

    def language_labels(self) -> list[str]:
        return [
            str(self.Language(value).label)
            for value in self.languages
            if value in self.Language.values
        ]


class ProfilePhotoQuerySet(PublicDataQuerySet):
    def public(self) -> ProfilePhotoQuerySet:
        """Photos the public may see: processed and approved (ProfilePhoto.is_public)."""
        return self.filter(
            status=ProfilePhoto.Status.READY, review_status=ProfilePhoto.Review.APPROVED
        )


class ProfilePhoto(models.Model):
    """A photo of a listed person: the private original and public processed variants."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    class Review(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    profile = models.ForeignKey(
        InmateProfile, on_delete=models.CASCADE, related_name="photos", verbose_name=_("profile")
    )
    original = models.FileField(
        _("original"), upload_to=photo_original_path, storage=private_storage, max_length=200
    )
    display = models.ImageField(
        _("display version"), upload_to="photos/display/", blank=True, max_length=200
    )
    thumbnail = models.ImageField(
        _("thumbnail"), upload_to="photos/thumbs/", blank=True, max_length=200
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.UPLOADED
    )
    status_reason = models.CharField(
        _("status reason"),
        max_length=300,
        blank=True,
        help_text=_("Why it was rejected or failed."),
    )
    review_status = models.CharField(
        _("review status"), max_length=10, choices=Review.choices, default=Review.PENDING
    )
    is_primary = models.BooleanField(_("primary"), default=False)
    size_bytes = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    checksum = models.CharField(
        _("checksum"), max_length=64, help_text=_("SHA-256 of the uploaded file.")
    )
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    objects = ProfilePhotoQuerySet.as_manager()

    class Meta:
        verbose_name = _("profile photo")
        verbose_name_plural = _("profile photos")
        ordering = ["-is_primary", "created_at"]
        constraints = [
            # The same file uploaded twice for one person is one photo.
            models.UniqueConstraint(
                fields=["profile", "checksum"], name="profiles_photo_unique_checksum"
            ),
            models.UniqueConstraint(
                fields=["profile"],
                condition=models.Q(is_primary=True),
                name="profiles_one_primary_photo",
            ),
        ]
        indexes = [
            # The processing sweep: uploads whose task never ran.
            models.Index(fields=["status", "created_at"], name="profiles_photo_status"),
        ]

    def __str__(self) -> str:
        return gettext("Photo %(pk)s of profile %(profile)s") % {
            "pk": self.pk,
            "profile": self.profile_id,
        }

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.READY and self.review_status == self.Review.APPROVED

    @property
    def status_reason_text(self) -> str:
        """The reason in the reader's language: it is stored in English, as
        written by gettext_noop (penpals/images.py, profiles/photos.py)."""
        return gettext(self.status_reason) if self.status_reason else ""


class Favorite(models.Model):
    """A pen pal saved a profile."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="favorites",
        verbose_name=_("pen pal"),
    )
    profile = models.ForeignKey(
        InmateProfile,
        on_delete=models.CASCADE,
        related_name="favorited_by",
        verbose_name=_("profile"),
    )
    created_at = models.DateTimeField(_("saved at"), auto_now_add=True)

    class Meta:
        verbose_name = _("favorite")
        verbose_name_plural = _("favorites")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "profile"], name="profiles_favorite_unique"),
        ]

    def __str__(self) -> str:
        return gettext("Profile %(profile)s saved by user %(user)s") % {
            "profile": self.profile_id,
            "user": self.user_id,
        }


class LiaisonAction(models.Model):
    """The audit trail: who did what to which profile, and when."""

    class Kind(models.TextChoices):
        PROFILE_CREATED = "profile_created", _("Created a profile")
        PROFILE_UPDATED = "profile_updated", _("Updated a profile")
        PROFILE_SUBMITTED = "profile_submitted", _("Submitted a profile for review")
        CONSENT_UPLOADED = "consent_uploaded", _("Uploaded a consent form")
        CONSENT_CONFIRMED = "consent_confirmed", _("Confirmed a consent form")
        CONSENT_DOWNLOADED = "consent_downloaded", _("Downloaded a consent form")
        PHOTO_UPLOADED = "photo_uploaded", _("Uploaded a photo")
        PHOTO_PRIMARY = "photo_primary", _("Chose the primary photo")
        PHOTO_DELETED = "photo_deleted", _("Deleted a photo")
        ORIGINAL_DOWNLOADED = "original_downloaded", _("Downloaded a photo original")
        CSV_IMPORTED = "csv_imported", _("Imported profiles from CSV")
        RELEASED = "released", _("Marked released")
        TRANSFERRED = "transferred", _("Marked transferred")
        PAUSED = "paused", _("Paused")
        RENEWED = "renewed", _("Renewed")
        RESUMED = "resumed", _("Resumed")
        LETTERS_PRINTED = "letters_printed", _("Printed letters")
        LETTERS_DELIVERED = "letters_delivered", _("Marked letters delivered")
        REPLY_UPLOADED = "reply_uploaded", _("Uploaded a reply")
        SCAN_DOWNLOADED = "scan_downloaded", _("Opened a reply scan")
        NO_CONTACT_ORDER = "no_contact_order", _("Recorded a no-contact order")
        SCAN_RUN_UPLOADED = "scan_run_uploaded", _("Uploaded a scanning run")
        SCAN_PAGE_ASSIGNED = "scan_page_assigned", _("Assigned a scanned page to a reply")
        SCAN_PAGE_DISCARDED = "scan_page_discarded", _("Discarded a scanned page")
        LETTER_RETURNED = "letter_returned", _("Recorded a returned letter")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("done by"),
    )
    facility = models.ForeignKey(
        Facility,
        on_delete=models.CASCADE,
        related_name="liaison_actions",
        verbose_name=_("facility"),
    )
    profile = models.ForeignKey(
        InmateProfile,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="liaison_actions",
        verbose_name=_("profile"),
    )
    kind = models.CharField(_("action"), max_length=20, choices=Kind.choices)
    detail = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("done at"), auto_now_add=True)

    class Meta:
        verbose_name = _("liaison action")
        verbose_name_plural = _("liaison actions")
        ordering = ["-created_at"]
        indexes = [
            # The dashboard's recent activity and a profile's history.
            models.Index(fields=["facility", "-created_at"], name="profiles_action_facility"),
            models.Index(fields=["profile", "-created_at"], name="profiles_action_profile"),
        ]

    def __str__(self) -> str:
        when = formats.date_format(timezone.localtime(self.created_at), "SHORT_DATETIME_FORMAT")
        if self.actor_id is None:
            # Translators: an action in a facility's audit trail ("Created a profile") and when.
            return gettext("%(action)s (%(time)s)") % {
                "action": self.get_kind_display(),
                "time": when,
            }
        # Translators: an action in a facility's audit trail ("Created a profile"), who did
        # it (an account number) and when.
        return gettext("%(action)s by user %(user)s at %(time)s") % {
            "action": self.get_kind_display(),
            "user": self.actor_id,
            "time": when,
        }
