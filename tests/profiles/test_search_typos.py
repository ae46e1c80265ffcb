"""Typo-tolerant directory search: misspelt names and interests, and "did you mean"."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from penpals.celery import app as celery_app
from profiles import search_words
from profiles.models import InmateProfile
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

URL = reverse("directory:list")


def published(**kwargs) -> InmateProfile:
    kwargs.setdefault("bio", "Hello.")
    kwargs.setdefault("interests", [])
    return InmateProfileFactory.published(**kwargs)


def listed_names(response) -> list[str]:
    return [profile.display_name for profile in response.context["page"].profiles]


def vocabulary() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT word, profiles FROM profiles_searchword")
        return dict(cursor.fetchall())


@pytest.fixture
def directory():
    """A few listed people, and the vocabulary built from them."""
    published(display_name="Marcus Q.", interests=["chess", "calligraphy"])
    published(display_name="Pamela R.", interests=["gardening"])
    published(display_name="Tasha W.", interests=["poetry"])
    published(display_name="Joseph K.", interests=["basketball"])
    search_words.refresh()


# --- Each kind of slip --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Marcis", "Marcus Q."),  # a letter changed
        ("Tasja", "Tasha W."),
        ("chees", "Marcus Q."),  # in an interest
        ("Pamla", "Pamela R."),  # a letter left out
        ("gardning", "Pamela R."),
        ("Marcsu", "Marcus Q."),  # two neighbours swapped
        ("Pammela", "Pamela R."),  # a letter added
        ("calligrafy", "Marcus Q."),  # two slips in a long word
    ],
)
def test_it_forgives_a_slip_in_names_and_interests(client, directory, typed, found):
    response = client.get(URL, {"q": typed})
    assert listed_names(response) == [found]
    assert response.context["page"].is_near_spelling


def test_it_forgives_only_one_slip_in_short_words(client, directory):
    # "Tsja" is two slips from "Tasha": too far for a five-letter word.
    assert listed_names(client.get(URL, {"q": "Tsja"})) == []


def test_it_corrects_each_word_of_a_longer_search(client, directory):
    response = client.get(URL, {"q": "Marcis chees"})
    assert listed_names(response) == ["Marcus Q."]
    assert response.context["page"].suggestion == "Marcus chess"


# --- Did you mean ------------------------------------------------------------------------------------


def test_it_suggests_the_corrected_search_as_a_link(client, directory):
    response = client.get(URL, {"q": "Marcis", "accepting": "on"})
    page = response.context["page"]
    assert page.suggestion == "Marcus"
    assert page.suggestion_query == "?q=Marcus&accepting=1"
    html = response.content.decode()
    assert 'Did you mean <a href="?q=Marcus&amp;accepting=1" class="did-you-mean">Marcus</a>?' in (
        html
    )

    corrected = client.get(URL + page.suggestion_query)
    assert listed_names(corrected) == ["Marcus Q."]
    assert not corrected.context["page"].is_near_spelling
    assert corrected.context["page"].suggestion == ""


def test_it_keeps_the_case_a_word_was_typed_in(client, directory):
    assert client.get(URL, {"q": "gardning"}).context["page"].suggestion == "gardening"
    assert client.get(URL, {"q": "PAMLA"}).context["page"].suggestion == "PAMELA"


def test_it_suggests_nothing_when_the_search_matches(client, directory):
    response = client.get(URL, {"q": "Marcus"})
    assert response.context["page"].suggestion == ""
    assert "Did you mean" not in response.content.decode()


def test_it_suggests_nothing_the_filters_exclude(client, directory):
    InmateProfile.objects.filter(display_name="Pamela R.").update(gender="female")
    response = client.get(URL, {"q": "Pamla", "gender": "male"})
    assert listed_names(response) == []
    assert response.context["page"].suggestion == ""
    assert "Pamela" not in response.content.decode()


# --- Privacy: only public words of listed profiles -----------------------------------------------


@pytest.mark.parametrize(
    "status",
    [status for status in InmateProfile.Status.values if status != InmateProfile.Status.PUBLISHED],
)
def test_it_never_suggests_words_of_unlisted_profiles(client, status):
    InmateProfileFactory(
        display_name="Pamela R.", interests=["calligraphy"], bio="Hello.", status=status
    )
    search_words.refresh()
    assert "pamela" not in vocabulary()
    for typed in ("Pamla", "calligrafy"):
        response = client.get(URL, {"q": typed})
        assert listed_names(response) == []
        assert response.context["page"].suggestion == ""
        assert "Pamela" not in response.content.decode()
        assert "calligraphy" not in response.content.decode()


def test_it_never_suggests_legal_names_or_bio_words(client):
    published(display_name="T. W.", legal_name="Tasha Winston", bio="I love calligraphy.")
    search_words.refresh()
    assert set(vocabulary()).isdisjoint({"tasha", "winston", "calligraphy", "love"})
    response = client.get(URL, {"q": "Tasja"})
    assert response.context["page"].suggestion == ""
    assert "Tasha" not in response.content.decode()


def test_it_never_suggests_a_profile_that_left_since_the_vocabulary_was_built(client):
    pamela = published(display_name="Pamela R.")
    search_words.refresh()
    # Paused before the refresh has run: the vocabulary still holds her name.
    InmateProfile.objects.filter(pk=pamela.pk).update(status=InmateProfile.Status.PAUSED)
    assert "pamela" in vocabulary()

    response = client.get(URL, {"q": "Pamla"})
    assert listed_names(response) == []
    assert response.context["page"].suggestion == ""
    assert "Pamela" not in response.content.decode()


# --- Keeping the vocabulary fresh ------------------------------------------------------------------


@pytest.fixture
def eager_tasks():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_it_refreshes_the_vocabulary_when_public_data_changes(
    eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pamela = published(display_name="Pamela R.", interests=["gardening"])
    assert {"pamela", "gardening"} <= set(vocabulary())

    cache.clear()  # the debounce window of the first refresh
    with django_capture_on_commit_callbacks(execute=True):
        InmateProfile.objects.filter(pk=pamela.pk).update(status=InmateProfile.Status.RELEASED)
    assert "pamela" not in vocabulary()


def test_it_refreshes_once_for_many_changes(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "profiles.tasks.refresh_search_words.apply_async", lambda **kw: queued.append(kw)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for number in range(3):
            published(display_name=f"Pamela {number}")
    assert queued == [{"countdown": search_words.REFRESH_DELAY_SECONDS + 1}]


def test_it_does_not_refresh_for_changes_outside_the_vocabulary(django_capture_on_commit_callbacks):
    profile = published(display_name="Pamela R.")
    with django_capture_on_commit_callbacks() as callbacks:
        profile.save(update_fields=["bio"])
        InmateProfile.objects.filter(pk=profile.pk).update(is_accepting_letters=False)
    assert search_words._enqueue_refresh not in callbacks


# --- Cost ----------------------------------------------------------------------------------------


def test_it_runs_a_fixed_number_of_queries_for_a_typo_search(
    client, directory, django_assert_num_queries
):
    # Facilities, the transaction's settings, the (empty) count, the
    # vocabulary, the near count with the suggestion check, the page; and
    # the savepoint around the search.
    with CaptureQueriesContext(connection) as captured:
        client.get(URL, {"q": "Marcis"})
    sql = [query["sql"] for query in captured]
    assert sum("profiles_searchword" in statement for statement in sql) == 1
    for number in range(30):
        published(display_name=f"Marcus {number}", interests=["chess"])
    search_words.refresh()
    with django_assert_num_queries(len(sql)):
        response = client.get(URL, {"q": "Marcis"})
    assert len(listed_names(response)) == 24
    assert len(sql) <= 8


# --- The pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "distance"),
    [
        ("marcus", "marcus", 0),
        ("marcis", "marcus", 1),
        ("marcsu", "marcus", 1),
        ("pamla", "pamela", 1),
        ("pammela", "pamela", 1),
        ("calligrafy", "calligraphy", 2),
        ("tsja", "tasha", 2),
    ],
)
def test_it_counts_slips_between_words(first, second, distance):
    assert search_words.edit_distance(first, second) == distance
    assert search_words.edit_distance(second, first) == distance


def test_it_makes_every_one_slip_variant():
    variants = search_words.one_edit_variants("tasja")
    assert {"tasha", "taja", "atsja", "tassja"} <= variants
    assert "tasja" not in variants
    assert all(search_words.edit_distance("tasja", variant) == 1 for variant in variants)


def test_it_shows_broad_near_spellings_newest_first(client, monkeypatch):
    # Ranking every match of a corrected common interest would be slow.
    monkeypatch.setattr("profiles.directory.results.COUNT_CAP", 2)
    for number in range(3):
        published(display_name=f"Player {number}", interests=["chess"])
    search_words.refresh()
    page = client.get(URL, {"q": "chees"}).context["page"]
    assert page.is_near_spelling
    assert page.is_too_broad_to_rank
    assert page.sort == "newest"
