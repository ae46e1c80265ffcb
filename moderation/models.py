from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from moderation.languages import LANGUAGE_CHOICES
from moderation.screening import RuleError, RuleSpec, compile_rule
from penpals.emails import normalize_email, normalize_person_name
from penpals.models import DEFAULT_READ_LANGUAGE, User


class FlagCategory(models.TextChoices):
    """What a screening hit is about: a rule's category, an item's flags."""

    MONEY = "money", _("Money request")
    CONTACT = "contact", _("Contact details")
    EXPLICIT = "explicit", _("Explicit content")
    THREAT = "threat", _("Threat or violence")
    CONTRABAND = "contraband", _("Contraband")
    ESCAPE = "escape", _("Escape or code")
    HATE = "hate", _("Hate speech")
    OTHER = "other", _("Other")


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
        PROFILE = "profile", _("New profile")
        PROFILE_CHANGE = "profile_change", _("Profile change")
        PHOTO = "photo", _("Photo")
        LETTER_OUT = "letter_out", _("Letter out")
        LETTER_IN = "letter_in", _("Letter in")
        REPORT = "report", _("Report")

    class Status(models.TextChoices):
        # A context of its own: Spanish agrees the word with "elemento".
        PENDING = "pending", pgettext_lazy("moderation item", "Pending")
        APPROVED = "approved", pgettext_lazy("moderation item", "Approved")
        REJECTED = "rejected", pgettext_lazy("moderation item", "Rejected")
        ESCALATED = "escalated", pgettext_lazy("moderation item", "Escalated")
        WITHDRAWN = "withdrawn", pgettext_lazy("moderation item", "Withdrawn")

    class Reason(models.TextChoices):
        MONEY = "money", _("Money request")
        CONTACT = "contact", _("Contact details")
        EXPLICIT = "explicit", _("Explicit content")
        THREAT = "threat", _("Threat")
        CONTRABAND = "contraband", _("Contraband")
        FACILITY_RULE = "facility_rule", _("Facility rule")
        OTHER = "other", _("Other")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", verbose_name=_("object type")
    )
    object_id = models.PositiveBigIntegerField(_("object ID"))
    content_object = GenericForeignKey("content_type", "object_id")
    facility = models.ForeignKey(
        "profiles.Facility",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_items",
        verbose_name=_("facility"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    risk_score = models.PositiveIntegerField(_("risk score"), default=0)
    flags = models.JSONField(
        _("flags"), default=list, blank=True, help_text=_("Category codes of screening hits.")
    )
    summary = models.CharField(
        _("summary"),
        max_length=300,
        blank=True,
        help_text=_("What the moderator needs to know at a glance."),
    )
    # What the machine found, as data worded for each reader (moderation.alerts):
    # a disguise, a language no rule reads, a writer who may evade an order.
    alerts = models.JSONField(_("alerts"), default=list, blank=True)
    # ISO 639-1 code screening detected in a letter; "" for other kinds and
    # for items opened before languages were recorded (unknown).
    language = models.CharField(
        _("language"), max_length=8, blank=True, default="", choices=LANGUAGE_CHOICES
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("claimed by"),
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason_code = models.CharField(_("reason"), max_length=16, choices=Reason.choices, blank=True)
    note = models.TextField(
        _("note"), blank=True, help_text=_("Shown to the person whose content was rejected.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ModerationItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("moderation item")
        verbose_name_plural = _("moderation items")
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
            # An object's review history, and the queue search (items of the
            # objects whose inmate number, name, email or code matched).
            models.Index(fields=["content_type", "object_id"], name="moderation_item_object"),
            # The queue filtered by kind, in queue order.
            models.Index(
                fields=["kind", "-risk_score", "created_at", "id"],
                name="moderation_pending_kind",
                condition=models.Q(status="pending"),
            ),
            # The queue filtered by facility, in queue order.
            models.Index(
                fields=["facility", "-risk_score", "created_at", "id"],
                name="moderation_pending_facility",
                condition=models.Q(status="pending"),
            ),
            # The oldest pending item (dashboard) and the age filters.
            models.Index(
                fields=["created_at"],
                name="moderation_pending_age",
                condition=models.Q(status="pending"),
            ),
            # "Claimed by me / by others" and the next-item skip of live claims.
            models.Index(
                fields=["claimed_by", "claimed_until"],
                name="moderation_pending_claimed",
                condition=models.Q(status="pending", claimed_by__isnull=False),
            ),
            # The flag-category filter in queue order, one small partial index
            # per category: a GIN index finds the rows but must then sort them
            # all, and cannot stop counting at a bound.
            *(
                models.Index(
                    fields=["-risk_score", "created_at", "id"],
                    name=f"mod_pending_flag_{category}",
                    condition=models.Q(status="pending", flags__contains=[category]),
                )
                for category in FlagCategory.values
            ),
            # "Letters in languages I read" and the language filter, in queue
            # order; with the kind included, the dashboard's count of pending
            # items per kind and language (and the oldest) is index-only.
            models.Index(
                fields=["language", "-risk_score", "created_at", "id"],
                include=["kind"],
                name="moderation_pending_language",
                condition=models.Q(status="pending"),
            ),
            # Any other status (escalated, approved, rejected) in queue order,
            # without walking the million decided rows.
            models.Index(
                fields=["status", "-risk_score", "created_at", "id"],
                name="moderation_item_status_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.object_id} ({self.get_status_display()})"


def languages_read_by_moderators() -> set[str]:
    """The codes some active moderator reads, a moderator who listed none
    counting as reading English only (User.languages_read). One query."""
    moderator_ids = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            models.Q(is_superuser=True)
            | models.Q(groups__permissions__codename="view_moderationitem")
            | models.Q(user_permissions__codename="view_moderationitem")
        )
        .values("pk")
    )
    read: set[str] = set()
    for codes in User.objects.filter(pk__in=moderator_ids).values_list(
        "reads_languages", flat=True
    ):
        read.update(codes or [DEFAULT_READ_LANGUAGE])
    return read


class ModerationDecision(models.Model):
    """Every decision on an item, kept: who, when, what, why."""

    item = models.ForeignKey(
        ModerationItem,
        on_delete=models.CASCADE,
        related_name="decisions",
        verbose_name=_("moderation item"),
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("moderator"),
    )
    status = models.CharField(_("decision"), max_length=10, choices=ModerationItem.Status.choices)
    reason_code = models.CharField(
        _("reason"), max_length=16, choices=ModerationItem.Reason.choices, blank=True
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("decided at"), auto_now_add=True)

    class Meta:
        verbose_name = _("moderation decision")
        verbose_name_plural = _("moderation decisions")
        ordering = ["created_at"]
        indexes = [
            # The dashboard's decisions today per moderator.
            models.Index(fields=["created_at"], name="moderation_decision_created"),
        ]

    def __str__(self) -> str:
        if self.moderator_id is None:
            # Translators: a decision ("Approved") on a moderation item (by number).
            return gettext("%(decision)s on item %(item)s") % {
                "decision": self.get_status_display(),
                "item": self.item_id,
            }
        # Translators: a decision ("Approved"), the moderator's account number and the
        # moderation item's number.
        return gettext("%(decision)s by user %(user)s on item %(item)s") % {
            "decision": self.get_status_display(),
            "user": self.moderator_id,
            "item": self.item_id,
        }


class ScreeningRule(models.Model):
    """A pattern every letter and profile text is screened against.

    Global rules (no facility) apply everywhere; a facility's rules add to them
    for letters to or from that facility. The engine (moderation.screening)
    compiles the active rules with RE2 and recompiles when any rule changes.
    """

    Category = FlagCategory

    class PatternType(models.TextChoices):
        KEYWORDS = "keywords", _("Keywords (one per line)")
        REGEX = "regex", _("Regular expression (RE2)")

    class Action(models.TextChoices):
        FLAG = "flag", _("Flag for the moderator")
        HOLD = "hold", _("Hold for review")
        REJECT = "reject", _("Reject")

    class Scope(models.TextChoices):
        ALL = "all", _("Letters both ways and profile text")
        LETTERS = "letters", _("Letters both ways")
        OUTBOUND = "outbound", _("Outbound letters (to inmates)")
        INBOUND = "inbound", _("Inbound letters (from inmates)")
        PROFILE = "profile", _("Profile text")

    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    pattern_type = models.CharField(
        _("pattern type"), max_length=10, choices=PatternType.choices, default=PatternType.KEYWORDS
    )
    pattern = models.TextField(
        _("pattern"),
        help_text=_(
            "Keywords: one word or phrase per line; case, accents and separators are "
            "ignored, whole words only, a trailing * matches any ending. Regular "
            "expression: RE2 syntax (no look-around or back-references), matched "
            "case-insensitively against the lower-cased text."
        ),
    )
    action = models.CharField(
        _("action"), max_length=8, choices=Action.choices, default=Action.FLAG
    )
    scope = models.CharField(
        _("applies to"), max_length=10, choices=Scope.choices, default=Scope.ALL
    )
    facility = models.ForeignKey(
        "profiles.Facility",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="screening_rules",
        verbose_name=_("facility"),
        help_text=_("Leave empty for a rule that applies to every facility."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=LANGUAGE_CHOICES,
        blank=True,
        help_text=_(
            "The language the rule is written for; leave empty for a rule that reads any "
            "language (phone numbers, addresses). A letter in a language no rule is written "
            "for is marked not machine-screened and always goes to a person."
        ),
    )
    is_active = models.BooleanField(pgettext_lazy("screening rule", "active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The engine's cache is keyed on the newest updated_at: keep auto_now.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("screening rule")
        verbose_name_plural = _("screening rules")
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(facility__isnull=True),
                name="moderation_screeningrule_global_name_unique",
            ),
            models.UniqueConstraint(
                fields=["facility", "name"],
                condition=models.Q(facility__isnull=False),
                name="moderation_screeningrule_facility_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if not self.pattern:
            return
        try:
            compile_rule(self.pattern_type, self.pattern)
        except RuleError as exc:
            raise ValidationError({"pattern": str(exc)}) from None

    def as_spec(self) -> RuleSpec:
        return RuleSpec(
            name=self.name,
            category=self.category,
            pattern_type=self.pattern_type,
            pattern=self.pattern,
            action=self.action,
            scope=self.scope,
            facility_id=self.facility_id,
            language=self.language,
        )


class Report(models.Model):
    """A user's report of a profile, a letter or another user. Each report opens a
    moderation item (kind "report"); what staff do about it is decided there."""

    class Reason(models.TextChoices):
        MONEY = "money", _("Asks for money or gifts")
        CONTACT = "contact", _("Shares or asks for contact details")
        EXPLICIT = "explicit", _("Sexual or explicit content")
        THREAT = "threat", _("Threatening or harassing")
        SCAM = "scam", _("Looks like a scam")
        OTHER = "other", _("Something else")

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reporter"),
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", verbose_name=_("object type")
    )
    object_id = models.PositiveBigIntegerField(_("object ID"))
    target = GenericForeignKey("content_type", "object_id")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    details = models.TextField(_("details"), max_length=4000, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at"]
        constraints = [
            # One report per person and thing: reporting twice does not jump the queue.
            models.UniqueConstraint(
                fields=["reporter", "content_type", "object_id"], name="moderation_report_once"
            ),
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="moderation_report_target")
        ]

    def __str__(self) -> str:
        return gettext("Report #%(pk)s (%(reason)s)") % {
            "pk": self.pk,
            "reason": self.get_reason_display(),
        }


class NoContactOrderQuerySet(models.QuerySet):
    def active(self) -> NoContactOrderQuerySet:
        return self.filter(is_active=True)


class NoContactOrder(models.Model):
    """A person who must not be able to write to a given inmate (victim protection).

    Checked when a letter is written (messaging.services): the same email,
    compared in its normalised form (penpals.emails.normalize_email: case,
    plus-tags, Gmail's dots), blocks the letter with a neutral message; the
    same name under another email holds the letter for a moderator with a
    flag; and letters already approved from a matching writer are held back
    from printing (messaging.services.enforce_no_contact_order).
    """

    profile = models.ForeignKey(
        "profiles.InmateProfile",
        on_delete=models.CASCADE,
        related_name="no_contact_orders",
        verbose_name=_("profile"),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    # What the checks compare, kept by save(): penpals.emails's normalised forms.
    email_normalized = models.CharField(
        _("normalized email address"), max_length=254, blank=True, editable=False
    )
    name_normalized = models.CharField(
        _("normalized name"), max_length=200, blank=True, editable=False
    )
    note = models.TextField(_("note"), blank=True, help_text=_("Why, for staff only."))
    is_active = models.BooleanField(pgettext_lazy("no-contact order", "active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = NoContactOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("no-contact order")
        verbose_name_plural = _("no-contact orders")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(name="", email=""), name="moderation_nco_name_or_email"
            ),
        ]
        indexes = [
            models.Index(
                fields=["profile"],
                name="moderation_nco_profile",
                condition=models.Q(is_active=True),
            ),
            # writing_refusal's "does an active order for this profile cover
            # this writer's address?" lookup.
            models.Index(
                fields=["profile", "email_normalized"],
                name="moderation_nco_profile_email",
                condition=models.Q(is_active=True),
            ),
        ]

    def __str__(self) -> str:
        return gettext("No-contact order #%(pk)s for profile %(profile)s") % {
            "pk": self.pk,
            "profile": self.profile_id,
        }

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        self.name = " ".join(self.name.split())
        self.email_normalized = normalize_email(self.email)
        self.name_normalized = normalize_person_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"email", "name"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "email_normalized", "name_normalized"}
        super().save(*args, **kwargs)

    def matches(self, identifiers, name_normalized: str) -> str:
        """How a writer known by these normalised addresses and normalised
        name matches the order: "email", "name" or "" (no match)."""
        if self.email_normalized and self.email_normalized in identifiers:
            return "email"
        if self.name_normalized and self.name_normalized == name_normalized:
            return "name"
        return ""


class ProtectionRequest(models.Model):
    """A request, made without an account from the public victim-protection page,
    that someone listed never be able to contact the requester (or the person
    they act for), or that a profile be reviewed.

    Stores only what staff need to act: who asks and how to reach them for the
    confirmation, which profile, and the name and email a no-contact order
    would cover. No IP address is kept (the rate limit counts a hash of it in
    the cache, which expires within the hour).
    """

    class Relationship(models.TextChoices):
        SELF = "self", _("I was harmed by this person")
        ADVOCATE = "advocate", _("I am asking for someone who was harmed (advocate or family)")

    class Ask(models.TextChoices):
        NO_CONTACT = "no_contact", _("This person must never be able to contact me (or them)")
        REVIEW = "review", _("Review the profile: it should not be listed")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        NO_CONTACT_ORDER = "no_contact_order", _("No-contact order recorded")
        PROFILE_PAUSED = "profile_paused", _("Profile paused")
        DISMISSED = "dismissed", _("Dismissed")

    profile = models.ForeignKey(
        "profiles.InmateProfile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="protection_requests",
        verbose_name=_("profile"),
    )
    profile_description = models.CharField(
        _("profile description"),
        max_length=300,
        blank=True,
        help_text=_(
            "The person's name and facility, when the request did not come from a profile."
        ),
    )
    relationship = models.CharField(_("relationship"), max_length=10, choices=Relationship.choices)
    ask = models.CharField(_("request"), max_length=12, choices=Ask.choices)
    requester_name = models.CharField(_("requester's name"), max_length=200)
    requester_email = models.EmailField(_("requester's email address"))
    # Whom a no-contact order protects when an advocate asks; empty when the
    # requester asks for themself.
    protected_name = models.CharField(_("protected person's name"), max_length=200, blank=True)
    protected_email = models.EmailField(_("protected person's email address"), blank=True)
    details = models.TextField(_("details"), max_length=4000, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    no_contact_order = models.ForeignKey(
        NoContactOrder,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("no-contact order"),
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
        verbose_name = _("protection request")
        verbose_name_plural = _("protection requests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return gettext("Protection request #%(pk)s (%(request)s)") % {
            "pk": self.pk,
            "request": self.get_ask_display(),
        }

    @property
    def order_name(self) -> str:
        """The name a no-contact order made from this request covers: the
        requester's own, unless an advocate asks for someone else."""
        if self.relationship == self.Relationship.ADVOCATE:
            return self.protected_name
        return self.protected_name or self.requester_name

    @property
    def order_email(self) -> str:
        if self.relationship == self.Relationship.ADVOCATE:
            return self.protected_email
        return self.protected_email or self.requester_email


class WritingSuspensionQuerySet(models.QuerySet):
    def active(self) -> WritingSuspensionQuerySet:
        return self.filter(lifted_at__isnull=True)


class WritingSuspension(models.Model):
    """A pen pal's account may not write letters (after a report or a pattern of
    rejected letters). Nothing they already wrote is hidden or deleted: staff
    still see every letter. Checked by messaging.services.writing_refusal."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="writing_suspensions",
        verbose_name=_("user"),
    )
    reason = models.TextField(_("reason"), help_text=_("Why, for staff only."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("suspended by"),
    )
    created_at = models.DateTimeField(_("suspended at"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("lifted by"),
    )
    # The suspended account's addresses (its login and every verified one),
    # normalised, kept when the suspension is made: a new account at one of
    # them is flagged to moderators before its first letter goes out.
    normalized_emails = ArrayField(
        models.CharField(max_length=254),
        default=list,
        blank=True,
        editable=False,
        verbose_name=_("normalized email addresses"),
    )

    objects = WritingSuspensionQuerySet.as_manager()

    class Meta:
        verbose_name = _("writing suspension")
        verbose_name_plural = _("writing suspensions")
        ordering = ["-created_at"]
        constraints = [
            # One active suspension per person; its unique index also serves
            # writing_refusal's "is this writer suspended?" lookup.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(lifted_at__isnull=True),
                name="moderation_one_active_suspension",
                violation_error_message=_("This person is already suspended from writing."),
            ),
        ]
        indexes = [
            # "Is this new account at an address of a suspended one?"
            # (messaging.services.evasion_alerts), over active suspensions.
            GinIndex(
                fields=["normalized_emails"],
                name="moderation_suspension_emails",
                condition=models.Q(lifted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        if self.lifted_at:
            message = gettext("Writing suspension #%(pk)s of user %(user)s (lifted)")
        else:
            message = gettext("Writing suspension #%(pk)s of user %(user)s (active)")
        return message % {"pk": self.pk, "user": self.user_id}

    def save(self, *args, **kwargs) -> None:
        if self._state.adding and not self.normalized_emails and self.user_id:
            self.normalized_emails = account_identifiers(self.user)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


def account_identifiers(user) -> list[str]:
    """The normalised addresses an account is known by: its login email and
    every verified address on it."""
    addresses = [user.email or ""]
    addresses += EmailAddress.objects.filter(user=user, verified=True).values_list(
        "email", flat=True
    )
    return sorted({normalize_email(address) for address in addresses} - {""})
