from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from penpals.languages import READABLE_LANGUAGES

MODERATORS_GROUP = "Moderators"
LIAISONS_GROUP = "Liaisons"


def language_choices() -> list[tuple[str, str]]:
    """settings.LANGUAGES, read when the field is used: a callable keeps the
    list out of the migrations, so adding a language needs none."""
    return list(settings.LANGUAGES)


# The languages screening detects (moderation/languages.py LANGUAGE_CHOICES,
# which this core app may not import), for the languages a moderator reads;
# tests/moderation/test_moderator_languages.py keeps the two lists equal.
# What a moderator who listed no languages is taken to read.
DEFAULT_READ_LANGUAGE = "en"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Logins are case-insensitive: addresses are stored lower-cased.
        return self.get(email=(username or "").strip().lower())


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account: pen pal, liaison, moderator or admin.

    The email address is the login. Deleting an account is a soft delete
    (see penpals.services.do_delete_account): personal data is wiped and the
    row stays so that letters keep an anonymous author for the audit trail.
    """

    # Stored lower-cased (see save), so this index also makes logins case-insensitive.
    email = models.EmailField(gettext_lazy("email address"), max_length=254, unique=True)
    display_name = models.CharField(
        gettext_lazy("display name"),
        max_length=60,
        blank=True,
        help_text=gettext_lazy("The name other people see. Not your legal name."),
    )
    is_staff = models.BooleanField(
        gettext_lazy("staff status"),
        default=False,
        help_text=gettext_lazy("Can log into the admin site (moderators and admins)."),
    )
    is_active = models.BooleanField(pgettext_lazy("user account", "active"), default=True)
    date_joined = models.DateTimeField(gettext_lazy("date joined"), default=timezone.now)
    deleted_at = models.DateTimeField(gettext_lazy("deleted at"), null=True, blank=True)

    # Notification preferences: which emails this person wants.
    has_letter_status_emails = models.BooleanField(
        gettext_lazy("email me when a letter I wrote is approved, rejected or delivered"),
        default=True,
    )
    has_reply_emails = models.BooleanField(
        gettext_lazy("email me when a reply arrives"), default=True
    )
    has_digest_emails = models.BooleanField(gettext_lazy("send me a weekly digest"), default=False)
    # Pages, while signed in, and every email to this person, including those a
    # worker sends later (penpals.middleware.UserLanguageMiddleware, the mail
    # renderers). A new account starts in the language it signed up in.
    language = models.CharField(
        gettext_lazy("language"),
        max_length=10,
        choices=language_choices,
        default="en",
        help_text=gettext_lazy("The language of the pages and of every email we send you."),
    )
    # Staff only: the letters a moderator can judge (the queue's "Letters in
    # languages I read", the dashboard's letters no moderator reads).
    reads_languages = ArrayField(
        models.CharField(max_length=8, choices=READABLE_LANGUAGES),
        default=list,
        blank=True,
        verbose_name=gettext_lazy("languages I read"),
        help_text=gettext_lazy("Moderators: none ticked counts as English only."),
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = gettext_lazy("user")
        verbose_name_plural = gettext_lazy("users")

    def __str__(self) -> str:
        # Role-neutral: shown to staff and liaisons in lists, widgets and
        # history, so never the email (only the user admin shows that, to admins).
        if self.display_name:
            return self.display_name
        return gettext("Member #%(pk)s") % {"pk": self.pk} if self.pk else gettext("New member")

    @property
    def languages_read(self) -> list[str]:
        """The codes this moderator reads: English when they listed none."""
        return list(self.reads_languages) or [DEFAULT_READ_LANGUAGE]

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def public_name(self) -> str:
        """What others see; never the email address."""
        if self.is_deleted:
            return gettext("Former member")
        return self.display_name or gettext("Pen pal")

    def requires_mfa(self) -> bool:
        """Staff and facility liaisons must use a second factor."""
        if self.is_staff or self.is_superuser:
            return True
        return self.is_liaison()

    def is_liaison(self) -> bool:
        """In the Liaisons group, or a liaison of any facility (one query)."""
        return (
            User.objects.filter(pk=self.pk)
            .filter(
                models.Q(groups__name=LIAISONS_GROUP) | models.Q(facility_memberships__isnull=False)
            )
            .exists()
        )

    def anonymize(self) -> None:
        """Wipe personal data in place; the caller saves and removes related rows."""
        self.email = f"deleted-{uuid.uuid4().hex}@deleted.invalid"
        self.display_name = ""
        self.has_letter_status_emails = False
        self.has_reply_emails = False
        self.has_digest_emails = False
        self.is_active = False
        self.is_staff = False
        self.is_superuser = False
        self.deleted_at = timezone.now()
        self.set_unusable_password()


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the beat-scheduled heartbeat task.

    /healthz reports its age, so an operator can see that beat and the
    workers are alive without shell access.
    """

    worker = models.CharField(gettext_lazy("worker"), max_length=200, unique=True)
    seen_at = models.DateTimeField(gettext_lazy("last seen at"))

    class Meta:
        verbose_name = gettext_lazy("worker heartbeat")
        verbose_name_plural = gettext_lazy("worker heartbeats")

    def __str__(self) -> str:
        # Translators: a Celery worker's name and when it last reported in.
        return gettext("%(worker)s at %(time)s") % {
            "worker": self.worker,
            "time": formats.date_format(timezone.localtime(self.seen_at), "SHORT_DATETIME_FORMAT"),
        }
