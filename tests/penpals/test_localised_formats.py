"""Dates and numbers read the way the active language writes them: "7 December
2026" and "13,000" in English, "7 de diciembre de 2026" and "13.000" in Spanish,
on the pages and in the emails, which follow their recipient's language."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation

from messaging.models import Letter, Notification
from messaging.services import notify
from messaging.tasks import send_notification
from penpals.text import grouped
from profiles.models import InmateProfile
from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = pytest.mark.django_db

APPROVED_ON = datetime.datetime(2026, 12, 7, 15, 30, tzinfo=datetime.UTC)
BOTH = pytest.mark.parametrize(
    ("language", "day", "month"),
    [("en", "7 December 2026", "March 2029"), ("es", "7 de diciembre de 2026", "marzo de 2029")],
)


@pytest.fixture
def approved_letter(alice) -> Letter:
    profile = InmateProfileFactory.published(
        display_name="Marcus",
        release_kind=InmateProfile.ReleaseKind.DATE,
        release_date=datetime.date(2029, 3, 14),
    )
    correspondence = CorrespondenceFactory(pen_pal=alice, profile=profile)
    return LetterFactory(
        correspondence=correspondence, status=Letter.Status.APPROVED, approved_at=APPROVED_ON
    )


@BOTH
def test_the_thread_dates_a_letter_in_the_pages_language(
    client, alice, approved_letter, language, day, month
):
    alice.language = language  # a signed-in person's saved choice wins
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.get(
        reverse("letters:thread", args=[approved_letter.correspondence.pk]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response["Content-Language"] == language
    assert day in response.content.decode()


@BOTH
def test_a_release_date_reads_in_the_pages_language(client, approved_letter, language, day, month):
    profile = approved_letter.correspondence.profile
    response = client.get(
        reverse("directory:profile", args=[profile.slug]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert month in response.content.decode()


@pytest.mark.parametrize(
    ("language", "limit"), [("en", "13,000"), ("es", "13\N{NO-BREAK SPACE}000")]
)
def test_the_letter_limit_is_grouped_the_languages_way(client, alice, language, limit):
    assert settings.LETTER_MAX_LENGTH == 13_000
    profile = InmateProfileFactory.published()
    alice.language = language
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.get(
        reverse("letters:write", args=[profile.slug]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert limit in response.content.decode()


def test_grouped_follows_the_active_language():
    with translation.override("en"):
        assert grouped(500) == "500"
        assert grouped(10_000) == "10,000"
    with translation.override("es"):
        assert grouped(10_000) == "10\N{NO-BREAK SPACE}000"  # as the RAE writes it


def test_an_email_sent_later_is_in_its_recipients_language(alice, approved_letter):
    alice.language = "es"
    alice.save(update_fields=["language"])
    notification = notify(alice, Notification.Kind.LETTER_APPROVED, approved_letter)
    assert notification is not None
    with translation.override("en"):  # a worker's default
        send_notification.apply(args=[notification.pk])
    (message,) = mail.outbox
    with translation.override("es"):
        subject = translation.gettext("Your letter was approved")
        greeting = translation.gettext("Hello %(name)s,") % {"name": alice.display_name}
    assert subject != "Your letter was approved"
    assert message.subject.endswith(subject)
    assert greeting in message.body
    assert "Hello" not in message.body


def test_a_photos_stored_reason_reads_in_the_readers_language():
    """Reasons are kept in English (a record) and shown translated."""
    from penpals.images import DAMAGED
    from profiles.models import ProfilePhoto

    photo = ProfilePhoto(status_reason=DAMAGED)
    with translation.override("es"):
        spanish = photo.status_reason_text
    with translation.override("en"):
        assert photo.status_reason_text == DAMAGED
    assert spanish not in ("", DAMAGED)
    assert ProfilePhoto(status_reason="").status_reason_text == ""
