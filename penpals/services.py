"""Account operations that span several models."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter

# allauth's own helpers for the resend (internal API, pinned with allauth's
# version in uv.lock; tests/penpals/test_first_run_accounts.py runs them).
from allauth.account.internal.flows.email_verification import (
    consume_email_verification_rate_limit,
)
from allauth.account.internal.flows.signup import send_unknown_account_mail
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.db import transaction
from django.utils import timezone

from penpals.models import User


def export_account(user: User) -> dict[str, Any]:
    """The account part of a data export: the user row, addresses, MFA methods."""
    return {
        "email": user.email,
        "display_name": user.display_name,
        "date_joined": user.date_joined.isoformat(),
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "notification_preferences": {
            "letter_status_emails": user.has_letter_status_emails,
            "reply_emails": user.has_reply_emails,
            "digest_emails": user.has_digest_emails,
        },
        "language": user.language,
        # Staff only: the languages they read letters in (moderation queue).
        **({"reads_languages": list(user.reads_languages)} if user.is_staff else {}),
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("pk")
        ],
        # Which second factors exist, never their secrets.
        "mfa_methods": [
            {"type": auth.type, "created_at": auth.created_at.isoformat()}
            for auth in Authenticator.objects.filter(user=user).order_by("pk")
        ],
    }


def export_user_data(user: User) -> dict[str, Any]:
    """Everything the service holds about `user`, as JSON-ready data.

    Each app contributes through an `export_user_data(user)` method on its
    AppConfig, so a new model with personal data adds itself to the export in
    its own app.
    """
    export: dict[str, Any] = {
        "service": "Penpals",
        "exported_at": timezone.now().isoformat(),
    }
    for config in apps.get_app_configs():
        exporter = getattr(config, "export_user_data", None)
        if exporter is not None:
            export[config.label] = exporter(user)
    return export


@transaction.atomic
def do_delete_account(user: User) -> None:
    """Soft-delete `user`: wipe personal data and disable the login.

    The row stays, so letters written by this person keep an anonymous author
    for the audit trail. Changing the password hash ends every other session.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_deleted:
        return
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    user.groups.clear()
    user.user_permissions.clear()
    user.anonymize()
    user.save()
    # Each app tidies what it holds for the person (an AppConfig hook, like the export).
    for config in apps.get_app_configs():
        on_deleted = getattr(config, "on_account_deleted", None)
        if on_deleted is not None:
            on_deleted(user)


def do_resend_verification(request, email: str) -> None:
    """Send a new verification link to `email` if it waits for one.

    Every address gets the same answer on the page and one email, so neither
    the page nor its timing tells a stranger whether an account exists: an
    address without an account is told so (allauth's "unknown account" email,
    as for a password reset), one already verified that it can log in. At
    most one email per address every few minutes (allauth's "confirm_email"
    rate limit); beyond it nothing is sent, silently, as the earlier link
    still works.
    """
    if not consume_email_verification_rate_limit(request, email):
        return
    address = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
    if address is None or not address.user.is_active:
        send_unknown_account_mail(request, email)
    elif address.verified:
        get_adapter().send_mail("account/email/already_verified", address.email, {})
    else:
        address.send_confirmation(request)
