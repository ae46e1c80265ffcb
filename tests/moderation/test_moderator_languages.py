"""Moderators by language: what each moderator reads, the queue's "Letters in
languages I read" filter and the dashboard's letters no moderator reads."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from messaging.services import screen_letter
from moderation.languages import LANGUAGE_CHOICES
from moderation.models import ModerationItem, languages_read_by_moderators
from penpals.languages import READABLE_LANGUAGES
from profiles.models import InmateProfile
from tests.factories import (
    InmateProfileFactory,
    ModeratorFactory,
    activate_totp,
    write_letter,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:moderation_moderationitem_changelist")
SETTINGS = reverse("account_settings")
_fake_ids = itertools.count(20_000_000)

SPANISH = (
    "Querido Samuel, gracias por tu carta. Aquí ya empezó el frío y he estado leyendo "
    "los libros que me recomendaste, un capítulo cada noche."
)


def make_item(*, kind="letter_out", language="", risk=0):
    return ModerationItem.objects.create(
        kind=kind,
        content_type=ContentType.objects.get_for_model(InmateProfile),
        object_id=next(_fake_ids),
        risk_score=risk,
        summary=f"{kind} in {language or 'unknown'}",
        language=language,
    )


def listed(response) -> set[int]:
    return {item.pk for item in response.context["cl"].result_list}


@pytest.fixture
def mod_client(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    return client


@pytest.fixture
def spanish_reader(db):
    other = ModeratorFactory(email="lectora@example.org", display_name="Lucía")
    activate_totp(other)
    other.reads_languages = ["es", "en"]
    other.save(update_fields=["reads_languages"])
    return other


@pytest.fixture
def items_by_language(db):
    return {
        "en": make_item(language="en"),
        "es": make_item(language="es", kind="letter_in"),
        "fr": make_item(language="fr"),
        "": make_item(kind="profile"),
    }


# --- What a moderator reads ----------------------------------------------------------


def test_it_takes_a_moderator_with_no_languages_listed_to_read_english(moderator):
    assert moderator.languages_read == ["en"]


def test_the_choices_are_the_languages_screening_detects():
    # penpals may not import moderation: the list is kept in both, and equal.
    assert [code for code, _name in READABLE_LANGUAGES] == [
        code for code, _name in LANGUAGE_CHOICES
    ]


def test_it_lets_a_moderator_list_their_languages_on_the_settings_page(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    assert "Languages I read" in client.get(SETTINGS).content.decode()
    response = client.post(
        SETTINGS,
        {
            "display_name": "Mod",
            "language": "en",
            "has_letter_status_emails": "on",
            "reads_languages": ["es", "fr"],
        },
    )
    assert response.status_code == 302
    moderator_with_mfa.refresh_from_db()
    assert moderator_with_mfa.reads_languages == ["es", "fr"]


def test_it_refuses_a_language_screening_does_not_detect(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    response = client.post(
        SETTINGS, {"display_name": "Mod", "language": "en", "reads_languages": ["xx"]}
    )
    assert response.status_code == 200
    moderator_with_mfa.refresh_from_db()
    assert moderator_with_mfa.reads_languages == []


def test_it_shows_and_saves_no_languages_for_pen_pals(client, alice):
    client.force_login(alice)
    assert "Languages I read" not in client.get(SETTINGS).content.decode()
    client.post(SETTINGS, {"display_name": "Alice", "language": "en", "reads_languages": ["es"]})
    alice.refresh_from_db()
    assert alice.reads_languages == []


def test_the_settings_page_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(SETTINGS)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


# --- The queue's filter --------------------------------------------------------------


def test_the_filter_shows_only_letters_in_english_by_default(mod_client, items_by_language):
    response = mod_client.get(QUEUE, {"language": "mine"})
    assert listed(response) == {items_by_language["en"].pk}
    assert "Letters in languages I read" in response.content.decode()


def test_the_filter_shows_the_languages_the_moderator_listed(
    client, spanish_reader, items_by_language
):
    client.force_login(spanish_reader)
    response = client.get(QUEUE, {"language": "mine"})
    assert listed(response) == {items_by_language["en"].pk, items_by_language["es"].pk}


def test_another_moderators_languages_do_not_leak_into_mine(
    mod_client, spanish_reader, items_by_language
):
    response = mod_client.get(QUEUE, {"language": "mine"})
    assert items_by_language["es"].pk not in listed(response)


def test_the_filter_shows_one_language(mod_client, items_by_language):
    response = mod_client.get(QUEUE, {"language": "fr"})
    assert listed(response) == {items_by_language["fr"].pk}


def test_the_filtered_queue_runs_the_same_queries_for_5_or_50_items(
    mod_client, django_assert_max_num_queries
):
    def fill(count):
        for number in range(count):
            make_item(language=["en", "es", "fr"][number % 3], risk=number)

    fill(5)
    mod_client.get(QUEUE, {"language": "mine"})  # warm the content type cache
    with django_assert_max_num_queries(15) as five:
        mod_client.get(QUEUE, {"language": "mine"})
    fill(45)
    with django_assert_max_num_queries(len(five)) as fifty:
        mod_client.get(QUEUE, {"language": "mine"})
    assert len(fifty) == len(five)


# --- The dashboard -------------------------------------------------------------------


def test_the_dashboard_counts_letters_no_moderator_reads(
    mod_client, items_by_language, django_assert_max_num_queries
):
    make_item(language="fr", kind="letter_in")
    make_item(language="es")
    with django_assert_max_num_queries(14):
        response = mod_client.get(reverse("admin:index"))
    dashboard = response.context["dashboard"]
    # Nobody listed a language: everyone reads English only.
    assert dashboard.unread_languages == [("fr", "French", 2), ("es", "Spanish", 2)]
    assert dashboard.unread_letters == 4
    page = response.content.decode()
    assert "Letters waiting in a language no moderator reads" in page
    assert f'href="{QUEUE}?status=pending&amp;language=fr">French: 2</a>' in page


def test_the_dashboard_leaves_out_languages_some_moderator_reads(
    mod_client, spanish_reader, items_by_language
):
    dashboard = mod_client.get(reverse("admin:index")).context["dashboard"]
    assert dashboard.unread_languages == [("fr", "French", 1)]


def test_the_dashboard_query_count_does_not_grow_with_moderators_or_languages(
    mod_client, django_assert_max_num_queries
):
    mod_client.get(reverse("admin:index"))
    with django_assert_max_num_queries(14) as few:
        mod_client.get(reverse("admin:index"))
    for number, code in enumerate(["es", "fr", "de", "it", "pt"]):
        make_item(language=code)
        ModeratorFactory(
            email=f"reader{number}@example.org", reads_languages=[code] if number % 2 else []
        )
    with django_assert_max_num_queries(len(few)):
        response = mod_client.get(reverse("admin:index"))
    unread = response.context["dashboard"].unread_languages
    assert [code for code, _name, _count in unread] == ["de", "pt", "es"]


def test_inactive_moderators_do_not_count_as_readers(moderator):
    ModeratorFactory(email="gone@example.org", is_active=False, reads_languages=["fr"])
    assert languages_read_by_moderators() == {"en"}


# --- Screening stores the language ---------------------------------------------------


def test_submit_for_review_stores_the_language_of_a_letter_screened_as_spanish(
    alice, default_screening_rules
):
    letter = write_letter(alice, InmateProfileFactory.published(), SPANISH)
    screen_letter(letter.pk)
    item = ModerationItem.objects.for_object(letter).get()
    assert item.language == "es"
