"""Directory search reads Spanish: words with or without accents, other forms
of a word that Spanish stemming joins, while English bios keep English stemming."""

from __future__ import annotations

import pytest
from django.urls import reverse

from profiles.models import InmateProfile
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

URL = reverse("directory:list")

SPANISH_BIO = (
    "Hola, me llamo Rosa. Escribo canciones con todo mi corazón y leo poesía cada noche. "
    "Estoy estudiando para terminar la secundaria y me encantan las guitarras viejas."
)
ENGLISH_BIO = (
    "Hi, I'm Dale. I spend my days gardening and reading about old gardens, and I write "
    "short stories when the unit is quiet."
)


def found(client, q: str) -> list[str]:
    response = client.get(URL, {"q": q})
    assert response.status_code == 200
    return [profile.display_name for profile in response.context["page"].profiles]


@pytest.fixture
def profiles():
    spanish = InmateProfileFactory.published(display_name="Rosa M.", bio=SPANISH_BIO, interests=[])
    english = InmateProfileFactory.published(display_name="Dale T.", bio=ENGLISH_BIO, interests=[])
    named = InmateProfileFactory.published(display_name="José Ángel", bio="", interests=[])
    return spanish, english, named


def test_it_detects_the_language_each_bio_is_written_in(profiles):
    spanish, english, named = profiles
    assert (spanish.bio_language, english.bio_language, named.bio_language) == ("es", "en", "")


@pytest.mark.parametrize(
    "q",
    [
        "corazón",  # as written
        "corazon",  # without its accent
        "CORAZON",
        "corazones",  # another form: Spanish stemming joins them
        "canción",  # the bio has "canciones"
        "cancion",
        "guitarra",  # the bio has "guitarras"
        "poesia",
        "estudiar",  # the bio has "estudiando"
    ],
)
def test_a_spanish_bio_is_found_by_its_words_with_or_without_accents(client, profiles, q):
    assert found(client, q) == ["Rosa M."]


@pytest.mark.parametrize("q", ["garden", "gardens", "story", "writing"])
def test_an_english_bio_keeps_english_stemming(client, profiles, q):
    assert found(client, q) == ["Dale T."]


@pytest.mark.parametrize("q", ["jose", "José", "angel", "Jose Angel"])
def test_names_are_found_with_or_without_accents(client, profiles, q):
    assert found(client, q) == ["José Ángel"]


def test_a_word_in_neither_bio_finds_no_one(client, profiles):
    assert found(client, "ajedrez") == []


def test_changing_the_bio_changes_its_language_and_vector(client, profiles):
    spanish, _english, _named = profiles
    spanish.bio = "I moved units and now I mostly paint murals and read history."
    spanish.save(update_fields=["bio"])
    spanish.refresh_from_db()
    assert spanish.bio_language == "en"
    assert found(client, "corazon") == []
    assert found(client, "murals") == ["Rosa M."]


def test_a_bio_too_short_to_tell_is_stemmed_as_english(client):
    profile = InmateProfileFactory.published(display_name="Lee", bio="Chess, books.")
    assert InmateProfile.objects.get(pk=profile.pk).bio_language == ""
    assert found(client, "book") == ["Lee"]
