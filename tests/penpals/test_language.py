"""Choosing the language: the browser's Accept-Language on a first visit, the
switcher on every page (Django's set_language, no JavaScript), a signed-in
person's saved choice, and every email in its recipient's language, also
when a worker sends it later.

Until the Spanish catalogue is written, a page "in Spanish" is recognised by
what Django decided: `request.LANGUAGE_CODE`, `<html lang>` and the
`Content-Language` header; an email by its `Content-Language` header and the
language active while each of its templates was rendered.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import translation

from messaging.models import Notification
from messaging.notifications import build_email
from messaging.services import notify
from messaging.tasks import send_notification
from moderation.protection import do_create_protection_request
from penpals.models import User
from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = pytest.mark.django_db

HOME = reverse("home")
SET_LANGUAGE = reverse("set_language")
SETTINGS = reverse("account_settings")
SIGN_UP = {
    "email": "nuevo@example.org",
    "display_name": "Nuevo",
    "password1": "a-long-and-unusual-passphrase-42",
    "password2": "a-long-and-unusual-passphrase-42",
}


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]*)"', response.content.decode()).group(1)


def switcher_token(response) -> str:
    """The CSRF token of the language switcher's form on a page."""
    form = re.search(
        r'<form method="post" action="/i18n/setlang/".*?</form>',
        response.content.decode(),
        re.DOTALL,
    ).group(0)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)


@contextmanager
def languages_of_rendered_templates():
    """The language active while each template was rendered, by name."""
    seen: dict[str, str] = {}

    def record(sender, template, context, **kwargs):
        seen[template.name] = translation.get_language()

    template_rendered.connect(record, dispatch_uid="language-test")
    try:
        yield seen
    finally:
        template_rendered.disconnect(dispatch_uid="language-test")


# --- Pages ---------------------------------------------------------------------------------


def test_it_speaks_english_to_a_browser_that_asks_for_nothing(client):
    response = client.get(HOME)
    assert response.wsgi_request.LANGUAGE_CODE == "en"
    assert html_lang(response) == "en"
    assert response["Content-Language"] == "en"


def test_it_speaks_spanish_on_a_first_visit_from_a_spanish_browser(client):
    response = client.get(HOME, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5")
    assert response.wsgi_request.LANGUAGE_CODE == "es"
    assert html_lang(response) == "es"
    assert response["Content-Language"] == "es"
    assert "Accept-Language" in response["Vary"]


def test_every_page_offers_the_switcher_with_the_current_language_chosen(client):
    body = client.get(HOME, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f'action="{SET_LANGUAGE}"' in body
    assert '<select id="language-switcher" name="language">' in body
    assert '<option value="es" lang="es" selected>Español</option>' in body
    assert '<option value="en" lang="en">English</option>' in body
    assert f'name="next" value="{HOME}"' in body


def test_the_switcher_posts_and_the_next_page_is_in_the_chosen_language():
    client = Client(enforce_csrf_checks=True)  # the form's own token must do
    page = client.get(reverse("safety"))
    response = client.post(
        SET_LANGUAGE,
        {
            "csrfmiddlewaretoken": switcher_token(page),
            "language": "es",
            "next": reverse("safety"),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("safety")
    following = client.get(response["Location"])
    assert html_lang(following) == "es"
    # The cookie beats the browser from now on.
    assert html_lang(client.get(HOME, HTTP_ACCEPT_LANGUAGE="en")) == "es"


def test_the_switcher_refuses_a_language_we_do_not_speak(client):
    client.post(SET_LANGUAGE, {"language": "xx", "next": HOME})
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    assert html_lang(client.get(HOME)) == "en"


def test_the_switcher_does_not_send_a_visitor_to_another_site(client):
    response = client.post(SET_LANGUAGE, {"language": "es", "next": "https://evil.example/"})
    assert response["Location"] == "/"


# --- A signed-in person's saved choice -------------------------------------------------------


def test_a_saved_choice_wins_over_the_browser_and_the_cookie(client, alice):
    alice.language = "es"
    alice.save(update_fields=["language"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(alice)
    response = client.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="en")
    assert response.wsgi_request.LANGUAGE_CODE == "es"
    assert html_lang(response) == "es"
    # The cookie follows the account, so the site stays in Spanish after logging out.
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    client.post(reverse("account_logout"))
    assert html_lang(client.get(HOME, HTTP_ACCEPT_LANGUAGE="en")) == "es"


def test_the_switcher_saves_a_signed_in_persons_choice_on_the_account(client, alice):
    client.force_login(alice)
    response = client.post(SET_LANGUAGE, {"language": "es", "next": SETTINGS})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.language == "es"
    # On another device, without the cookie, the account still says Spanish.
    other_device = Client()
    other_device.force_login(alice)
    assert html_lang(other_device.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="en")) == "es"


def test_the_settings_page_offers_and_saves_the_language(client, alice):
    client.force_login(alice)
    body = client.get(SETTINGS).content.decode()
    assert 'name="language"' in body and '<option value="es">Español</option>' in body
    response = client.post(
        SETTINGS, {"display_name": "Alice", "language": "es", "has_reply_emails": "on"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.language == "es"
    assert html_lang(client.get(response["Location"])) == "es"


def test_the_settings_page_refuses_a_language_we_do_not_speak(client, alice):
    client.force_login(alice)
    response = client.post(SETTINGS, {"display_name": "Alice", "language": "xx"})
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.language == "en"


def test_a_new_account_keeps_the_language_it_signed_up_in(client):
    client.post(reverse("account_signup"), SIGN_UP, HTTP_ACCEPT_LANGUAGE="es")
    assert User.objects.get(email=SIGN_UP["email"]).language == "es"
    # Its first email, the verification link, is in that language too.
    assert mail.outbox[-1].extra_headers["Content-Language"] == "es"


def test_an_account_signed_up_in_english_stays_english(client):
    client.post(reverse("account_signup"), SIGN_UP)
    assert User.objects.get(email=SIGN_UP["email"]).language == "en"


# --- Emails ---------------------------------------------------------------------------------


@pytest.fixture
def spanish_reader(alice) -> User:
    alice.language = "es"
    alice.save(update_fields=["language"])
    return alice


def a_notification_for(user: User) -> Notification:
    profile = InmateProfileFactory.published(display_name="Marcus")
    letter = LetterFactory(correspondence=CorrespondenceFactory(pen_pal=user, profile=profile))
    notification = notify(user, Notification.Kind.LETTER_APPROVED, letter)
    assert notification is not None
    return notification


def test_an_outbox_email_is_rendered_in_its_recipients_language(spanish_reader):
    notification = a_notification_for(spanish_reader)
    with translation.override("en"), languages_of_rendered_templates() as rendered:
        email = build_email(notification)
        assert translation.get_language() == "en"  # put back afterwards
    assert email.extra_headers["Content-Language"] == "es"
    assert rendered, "no template was rendered"
    assert set(rendered.values()) == {"es"}, rendered


def test_the_task_sends_each_recipient_their_own_language(spanish_reader, bob):
    """As a worker does it, later, with the site's default language active."""
    for recipient in (spanish_reader, bob):
        with translation.override(settings.LANGUAGE_CODE):
            send_notification.apply(args=[a_notification_for(recipient).pk])
    languages = {
        message.to[0]: message.extra_headers["Content-Language"] for message in mail.outbox
    }
    assert languages == {spanish_reader.email: "es", bob.email: "en"}


def test_an_account_email_is_in_the_account_holders_language(client, spanish_reader):
    # Asked from an English page: the email still goes out in Spanish.
    client.post(
        reverse("account_reset_password"),
        {"email": spanish_reader.email},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    (message,) = mail.outbox
    assert message.extra_headers["Content-Language"] == "es"


def test_an_email_to_an_address_without_account_is_in_the_pages_language(client):
    client.post(
        reverse("account_reset_password"),
        {"email": "nobody@example.org"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    (message,) = mail.outbox
    assert message.extra_headers["Content-Language"] == "es"


def test_the_protection_confirmation_is_in_the_language_it_was_asked_in(
    django_capture_on_commit_callbacks,
):
    fields = {
        "profile": InmateProfileFactory.published(),
        "relationship": "self",
        "ask": "no_contact",
        "requester_name": "Dana",
        "requester_email": "dana@example.org",
    }
    with translation.override("es"), django_capture_on_commit_callbacks() as callbacks:
        do_create_protection_request(fields)
    # Sent after commit, when the request's language is no longer active.
    with translation.override("en"), languages_of_rendered_templates() as rendered:
        for callback in callbacks:
            callback()
    (message,) = mail.outbox
    assert message.extra_headers["Content-Language"] == "es"
    assert set(rendered.values()) == {"es"}, rendered
