from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import SignupForm
from allauth.account.internal.flows.login import get_authentication_records
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.mail import EmailMessage
from django.db.models import Q
from django.urls import reverse
from django.utils import translation

from penpals.models import User

# allauth's name for the MFA app in its reauthentication checks.
MFA_APP = "allauth.mfa"


def home_url_for(user) -> str:
    """Where a signed-in person starts: staff in the admin, liaisons in their
    portal, a pen pal with letters in the letters page, anyone else in the
    directory (account settings is where nobody is going)."""
    if user.is_staff:
        return reverse("admin:index")
    if user.is_liaison():
        return reverse("liaison:dashboard")
    # The reverse relation of messaging's Correspondence: no import upward.
    if user.correspondences.exists():
        return reverse("letters:inbox")
    return reverse("directory:list")


def branded_site() -> SimpleNamespace:
    """What allauth's templates call `current_site`: the service's name and
    public host, instead of the host name of the request ("127.0.0.1:8000")."""
    return SimpleNamespace(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


def recipient_language(email: str, user: User | None = None) -> str | None:
    """The saved language of the account `user`, or of the account `email`
    belongs to; None (keep the active language) when there is none."""
    if not isinstance(user, User):
        user = (
            User.objects.filter(
                Q(email=email.strip().lower()) | Q(emailaddress__email__iexact=email)
            )
            .order_by("pk")
            .first()
        )
    return user.language if user is not None else None


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request) -> str:
        """Each person lands on their own place; a `next` in the URL still wins."""
        return home_url_for(request.user)

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A password typed at login a moment ago counts for the first MFA setup.

        Staff and liaisons are sent to set up TOTP right after they log in
        (penpals.middleware); asking them for the password they have just
        typed is a second prompt for nothing. The login counts only while it
        is fresh (ACCOUNT_REAUTHENTICATION_TIMEOUT), and only for MFA pages:
        exporting or deleting an account still asks again.
        """
        required = super().is_reauthentication_required(app=app, **kwargs)
        if not required or app != MFA_APP or self.request is None:
            return required
        user = self.request.user
        records = get_authentication_records(self.request, user)
        logins = [r for r in records if r.get("method") == "password"]
        if not logins:
            return True
        return time.time() - logins[-1]["at"] >= settings.ACCOUNT_REAUTHENTICATION_TIMEOUT

    def save_user(self, request, user, form, commit=True):
        """A new account keeps the language its owner signed up in (the
        switcher's cookie or the browser's): their emails and pages stay in it."""
        user.language = translation.get_language() or settings.LANGUAGE_CODE
        return super().save_user(request, user, form, commit=commit)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every account email names the service and says where to ask for help,
        in the language of the account it goes to (the page's language when
        the address has none: an "unknown account" email)."""
        branded = {
            "current_site": branded_site(),
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "contact_email": settings.CONTACT_EMAIL,
        }
        language = recipient_language(email, context.get("user")) or translation.get_language()
        with translation.override(language):
            super().send_mail(template_prefix, email, {**context, **branded})

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        message = super().render_mail(template_prefix, email, context, headers=headers)
        # Rendered under send_mail's override: the language the email is in.
        message.extra_headers.setdefault("Content-Language", translation.get_language())
        return message


class EqualTimeSignupForm(SignupForm):
    """allauth's sign-up form, as slow to answer for a taken address as for a new one.

    allauth's enumeration prevention (ACCOUNT_PREVENT_ENUMERATION, on by
    default) already gives a taken address the same page as a new one and
    emails its owner "you already have an account" instead. But only a new
    account hashes its password (the deliberately slow PBKDF2, about 0.3 s),
    so the time of the answer told a stranger whether the address was taken
    (0.02 s against 0.3 s). The taken path hashes the submitted password
    with the same hasher and throws the hash away. (Rows and the email cost
    a few milliseconds on either path, within the noise of the network.)
    """

    def try_save(self, request):
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1") or "")
        return super().try_save(request)
