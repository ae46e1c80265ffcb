"""The public directory at /inmates/: filters, search, sorting, pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.directory import results
from profiles.models import InmateProfile
from tests.factories import FacilityFactory, InmateProfileFactory, add_public_photo

pytestmark = pytest.mark.django_db

URL = reverse("directory:list")


def published(**kwargs) -> InmateProfile:
    return InmateProfileFactory.published(**kwargs)


def born_years_ago(years: int, days: int = 0):
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=days)


def listed_names(response) -> list[str]:
    return [profile.display_name for profile in response.context["page"].profiles]


# --- Listing and access -------------------------------------------------------------------


def test_it_lists_published_profiles_for_anonymous_visitors(client):
    facility = FacilityFactory(name="Riverbend State", state="OH")
    published(
        display_name="Marcus T.",
        facility=facility,
        date_of_birth=born_years_ago(34, days=10),
        release_kind="date",
        release_date=timezone.localdate().replace(day=1) + timedelta(days=400),
        bio="I love chess and I write back to every letter.",
    )
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Marcus T." in html
    assert "34 · OH" in html
    assert "Riverbend State" in html
    assert "Release: " in html
    assert "I love chess and I write back" in html
    assert "1 profile" in html


def test_it_lists_signed_in_pen_pals_too(client, alice):
    published(display_name="Marcus T.")
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    assert listed_names(response) == ["Marcus T."]


@pytest.mark.parametrize(
    "status", ["draft", "pending_review", "paused", "released", "transferred", "archived"]
)
def test_it_never_lists_profiles_that_are_not_published(client, status):
    published(display_name="Listed L.")
    InmateProfileFactory(display_name="Hidden H.", status=status, bio="chess")
    response = client.get(URL)
    assert listed_names(response) == ["Listed L."]
    assert "Hidden H." not in response.content.decode()
    assert listed_names(client.get(URL, {"q": "Hidden"})) == []


def test_it_never_shows_private_fields_in_the_list(client):
    profile = published(
        display_name="Marcus T.",
        legal_name="Marcus Theodore Quillfeather",
        inmate_number="QX-998877",
        date_of_birth=born_years_ago(40),
    )
    html = client.get(URL).content.decode()
    assert "Quillfeather" not in html
    assert "QX-998877" not in html
    assert profile.date_of_birth.isoformat() not in html
    assert (
        f"{profile.date_of_birth:%B} {profile.date_of_birth.day}, {profile.date_of_birth.year}"
        not in html
    )


def test_it_shows_the_thumbnail_or_a_placeholder(client):
    with_photo = published(display_name="Pictured P.")
    add_public_photo(with_photo)
    published(display_name="Zed Z.")
    html = client.get(URL).content.decode()
    assert f"photos/thumbs/{with_photo.slug}.jpg" in html
    assert 'class="profile-card-photo photo-placeholder" aria-hidden="true"><span>Z</span>' in html


def test_it_marks_profiles_not_taking_letters(client):
    published(display_name="Busy B.", is_accepting_letters=False)
    assert "Not taking new letters" in client.get(URL).content.decode()


# --- Filters ---------------------------------------------------------------------------------


def test_it_filters_by_gender(client):
    published(display_name="Ann A.", gender="female")
    published(display_name="Bob B.", gender="male")
    assert listed_names(client.get(URL, {"gender": "female"})) == ["Ann A."]


def test_it_filters_by_age_range_on_birthdays(client):
    published(display_name="Turned 30 today", date_of_birth=born_years_ago(30))
    published(display_name="Almost 30", date_of_birth=born_years_ago(30) + timedelta(days=1))
    published(display_name="Aged 40", date_of_birth=born_years_ago(40, days=100))
    published(
        display_name="Turns 41 tomorrow", date_of_birth=born_years_ago(41) + timedelta(days=1)
    )
    published(display_name="Aged 41", date_of_birth=born_years_ago(41))

    assert set(listed_names(client.get(URL, {"age_min": 30}))) == {
        "Turned 30 today",
        "Aged 40",
        "Turns 41 tomorrow",
        "Aged 41",
    }
    assert set(listed_names(client.get(URL, {"age_max": 40}))) == {
        "Turned 30 today",
        "Almost 30",
        "Aged 40",
        "Turns 41 tomorrow",
    }
    assert set(listed_names(client.get(URL, {"age_min": 30, "age_max": 40}))) == {
        "Turned 30 today",
        "Aged 40",
        "Turns 41 tomorrow",
    }


def test_it_filters_by_state_and_facility(client):
    ohio_a = FacilityFactory(state="OH", slug="ohio-a", name="Ohio A")
    ohio_b = FacilityFactory(state="OH", slug="ohio-b", name="Ohio B")
    texas = FacilityFactory(state="TX", slug="texas", name="Texas")
    published(display_name="In A", facility=ohio_a)
    published(display_name="In B", facility=ohio_b)
    published(display_name="In TX", facility=texas)

    assert set(listed_names(client.get(URL, {"state": "OH"}))) == {"In A", "In B"}
    assert listed_names(client.get(URL, {"facility": "ohio-b"})) == ["In B"]
    assert listed_names(client.get(URL, {"state": "OH", "facility": "texas"})) == []


def test_it_filters_by_release(client):
    today = timezone.localdate()
    published(display_name="Soon", release_kind="date", release_date=today + timedelta(days=200))
    published(
        display_name="In 18 months", release_kind="date", release_date=today + timedelta(days=540)
    )
    published(
        display_name="In 4 years", release_kind="date", release_date=today + timedelta(days=4 * 365)
    )
    published(
        display_name="In 9 years", release_kind="date", release_date=today + timedelta(days=9 * 365)
    )
    published(display_name="Life", release_kind="life")
    published(display_name="Unknown", release_kind="unknown")

    assert listed_names(client.get(URL, {"release": "1"})) == ["Soon"]
    assert set(listed_names(client.get(URL, {"release": "2"}))) == {"Soon", "In 18 months"}
    assert set(listed_names(client.get(URL, {"release": "5"}))) == {
        "Soon",
        "In 18 months",
        "In 4 years",
    }
    assert listed_names(client.get(URL, {"release": "unknown"})) == ["Unknown"]


def test_it_filters_by_seeking_and_language(client):
    published(display_name="Faith ES", seeking=["faith", "friendship"], languages=["es"])
    published(display_name="Faith EN", seeking=["faith"], languages=["en"])
    published(display_name="Friend ES", seeking=["friendship"], languages=["en", "es"])

    assert set(listed_names(client.get(URL, {"seeking": "faith"}))) == {"Faith ES", "Faith EN"}
    assert set(listed_names(client.get(URL, {"language": "es"}))) == {"Faith ES", "Friend ES"}
    assert listed_names(client.get(URL, {"seeking": "faith", "language": "es"})) == ["Faith ES"]


def test_it_filters_by_photo_newness_and_accepting_letters(client):
    now = timezone.now()
    pictured = published(display_name="Pictured", published_at=now - timedelta(days=90))
    add_public_photo(pictured)
    published(display_name="New", published_at=now - timedelta(days=29))
    published(display_name="Old", published_at=now - timedelta(days=31))
    published(
        display_name="Closed", is_accepting_letters=False, published_at=now - timedelta(days=5)
    )

    assert listed_names(client.get(URL, {"photo": "on"})) == ["Pictured"]
    assert set(listed_names(client.get(URL, {"new": "on"}))) == {"New", "Closed"}
    assert "Closed" not in listed_names(client.get(URL, {"accepting": "on"}))
    assert listed_names(client.get(URL, {"new": "on", "accepting": "on"})) == ["New"]


def test_it_combines_filters_and_keeps_them_in_every_link(client):
    texas = FacilityFactory(state="TX", slug="tx-unit")
    for number in range(3):
        published(
            display_name=f"Match {number}",
            gender="female",
            facility=texas,
            seeking=["friendship"],
            date_of_birth=born_years_ago(35),
        )
    published(display_name="Wrong gender", gender="male", facility=texas, seeking=["friendship"])
    published(
        display_name="Wrong state",
        gender="female",
        seeking=["friendship"],
        date_of_birth=born_years_ago(35),
    )
    published(
        display_name="Too young", gender="female", facility=texas, date_of_birth=born_years_ago(20)
    )

    query = {"gender": "female", "state": "TX", "seeking": "friendship", "age_min": 30}
    response = client.get(URL, query)
    assert set(listed_names(response)) == {"Match 0", "Match 1", "Match 2"}
    page = response.context["page"]
    assert page.query() == "?gender=female&age_min=30&state=TX&seeking=friendship"
    labels = [active.label for active in page.active_filters]
    assert labels == ["Woman", "Age 30 or over", "Texas", "Friendship"]
    # Removing one filter keeps the others.
    remove_state = page.active_filters[2].remove_query
    assert remove_state == "?gender=female&age_min=30&seeking=friendship"
    assert "Wrong state" in listed_names(client.get(URL + remove_state))


# --- Search --------------------------------------------------------------------------------


def test_it_searches_bios_and_interests_with_english_stemming(client):
    published(display_name="Gardener", bio="I spend my days gardening.", interests=[])
    published(display_name="Painter", bio="Painting keeps me going.", interests=["watercolours"])
    published(display_name="Chess player", bio="Hello.", interests=["chess"])

    assert listed_names(client.get(URL, {"q": "garden"})) == ["Gardener"]
    assert listed_names(client.get(URL, {"q": "watercolour"})) == ["Painter"]
    assert listed_names(client.get(URL, {"q": "chess"})) == ["Chess player"]
    # websearch syntax: exclusion and OR.
    assert listed_names(client.get(URL, {"q": "painting -watercolours"})) == []
    assert set(listed_names(client.get(URL, {"q": "garden or chess"}))) == {
        "Gardener",
        "Chess player",
    }


def test_it_searches_names(client):
    published(display_name="James W.", bio="Hello.", interests=[])
    published(display_name="Luis P.", bio="I admire James Baldwin.", interests=[])
    published(display_name="Ana R.", bio="Hello.", interests=[])
    # "James" stems to "jame" in English; names are indexed unstemmed, so both parse.
    response = client.get(URL, {"q": "James"})
    # Best match first: a name outweighs a word in a bio.
    assert listed_names(response) == ["James W.", "Luis P."]
    assert response.context["page"].sort == "relevance"


def test_it_finds_near_spellings_of_names_when_nothing_matches_exactly(client):
    published(display_name="John R.", bio="Hello.", interests=[])
    published(display_name="Jon B.", bio="Hello.", interests=[])
    published(display_name="Joseph K.", bio="Hello.", interests=[])
    published(display_name="Alexander M.", bio="Hello.", interests=[])

    response = client.get(URL, {"q": "Jonh"})
    assert set(listed_names(response)) == {"John R.", "Jon B."}
    assert response.context["page"].is_near_spelling
    assert "names and interests spelled like it" in response.content.decode()
    # A letter missing from a longer name: trigram similarity.
    assert listed_names(client.get(URL, {"q": "Alxander"})) == ["Alexander M."]


def test_it_prefers_exact_matches_to_near_spellings(client):
    published(display_name="Jon B.", bio="Hello.", interests=[])
    published(display_name="John R.", bio="Hello.", interests=[])
    response = client.get(URL, {"q": "Jon"})
    assert listed_names(response) == ["Jon B."]
    assert not response.context["page"].is_near_spelling


def test_it_matches_short_queries_by_name_prefix(client):
    published(display_name="Alice W.", bio="Hello.", interests=[])
    published(display_name="Sal B.", bio="Hello.", interests=[])
    published(display_name="Al K.", bio="Hello.", interests=[])
    response = client.get(URL, {"q": "Al"})
    # The exact word first, then names starting with it; never a match inside a name.
    assert listed_names(response) == ["Al K.", "Alice W."]
    # Like/ILIKE wildcards in the query are plain characters.
    assert listed_names(client.get(URL, {"q": "A%"})) == []
    assert listed_names(client.get(URL, {"q": "A_"})) == []


def test_it_combines_search_with_filters(client):
    published(display_name="Chess Ann", gender="female", interests=["chess"])
    published(display_name="Chess Bob", gender="male", interests=["chess"])
    published(display_name="Poet Cat", gender="female", bio="Poetry.", interests=["poetry"])
    assert listed_names(client.get(URL, {"q": "chess", "gender": "female"})) == ["Chess Ann"]


def test_it_shows_broad_searches_newest_first(client, monkeypatch):
    monkeypatch.setattr(results, "COUNT_CAP", 2)
    now = timezone.now()
    for days in (3, 1, 2):
        published(
            display_name=f"Chess {days}",
            interests=["chess"],
            published_at=now - timedelta(days=days),
        )
    response = client.get(URL, {"q": "chess"})
    assert listed_names(response) == ["Chess 1", "Chess 2", "Chess 3"]
    assert response.context["page"].is_too_broad_to_rank
    assert "2+ profiles" in response.content.decode()
    assert "shown newest first" in response.content.decode()


# --- Sorting and pagination --------------------------------------------------------------------


def test_it_sorts_newest_first_by_default_and_by_update_release_and_name(client):
    now, today = timezone.now(), timezone.localdate()
    published(
        display_name="Bea",
        published_at=now - timedelta(days=1),
        public_updated_at=now - timedelta(days=1),
        release_kind="date",
        release_date=today + timedelta(days=900),
    )
    published(
        display_name="Cy",
        published_at=now - timedelta(days=3),
        public_updated_at=now,
        release_kind="unknown",
    )
    published(
        display_name="Al",
        published_at=now - timedelta(days=2),
        public_updated_at=now - timedelta(days=5),
        release_kind="date",
        release_date=today + timedelta(days=30),
    )
    assert listed_names(client.get(URL)) == ["Bea", "Al", "Cy"]
    assert listed_names(client.get(URL, {"sort": "newest"})) == ["Bea", "Al", "Cy"]
    assert listed_names(client.get(URL, {"sort": "updated"})) == ["Cy", "Bea", "Al"]
    assert listed_names(client.get(URL, {"sort": "release"})) == ["Al", "Bea", "Cy"]
    assert listed_names(client.get(URL, {"sort": "name"})) == ["Al", "Bea", "Cy"]


def test_it_paginates_without_counting_past_the_cap(client, monkeypatch):
    monkeypatch.setattr(results, "PER_PAGE", 2)
    monkeypatch.setattr(results, "COUNT_CAP", 3)
    now = timezone.now()
    for number in range(5):
        published(display_name=f"P{number}", published_at=now - timedelta(days=number))

    first = client.get(URL)
    page = first.context["page"]
    assert listed_names(first) == ["P0", "P1"]
    assert page.has_next and not page.has_previous
    assert page.is_count_capped
    assert "3+ profiles" in first.content.decode()
    assert 'rel="next" href="?page=2"' in first.content.decode()

    last = client.get(URL, {"page": 3})
    assert listed_names(last) == ["P4"]
    assert not last.context["page"].has_next
    assert 'rel="prev" href="?page=2"' in last.content.decode()


def test_it_counts_exactly_under_the_cap(client):
    for number in range(3):
        published(display_name=f"P{number}")
    page = client.get(URL).context["page"]
    assert (page.count, page.is_count_capped, page.count_label) == (3, False, "3 profiles")


def test_it_says_when_a_page_is_past_the_end(client):
    published(display_name="Only one")
    response = client.get(URL, {"page": 7})
    assert response.status_code == 200
    assert "There is no page 7" in response.content.decode()


def test_it_keeps_every_combination_in_a_shareable_url(client):
    facility = FacilityFactory(slug="north-unit", state="NY")
    published(display_name="Match", gender="male", facility=facility, interests=["chess"])
    query = "q=chess&gender=male&facility=north-unit&sort=name&page=1"
    response = client.get(f"{URL}?{query}")
    assert listed_names(response) == ["Match"]
    # Links drop the first page number and keep everything else.
    page = response.context["page"]
    assert page.first_query == "?q=chess&gender=male&facility=north-unit&sort=name"


# --- Invalid input and the empty state ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"age_min": "abc"}, "Age from: Enter a whole number."),
        ({"age_min": "12"}, "Age from: Ensure this value is greater than or equal to 18."),
        ({"age_min": "50", "age_max": "40"}, "must not be lower than"),
        ({"gender": "robot"}, "Gender: Select a valid choice."),
        ({"facility": "nowhere"}, "Facility: There is no facility with that name here."),
        ({"state": "ZZ"}, "State: No facility listed here is in that state."),
        ({"release": "99"}, "Release: Select a valid choice."),
        ({"sort": "random"}, "Sort by: Select a valid choice."),
        ({"page": "0"}, "Page: Page numbers start at 1."),
        ({"page": "x"}, "Page: Enter a whole number."),
        ({"page": "100000"}, "Only the first 250 pages can be shown."),
        ({"q": "!!!"}, "Search: Search for letters or numbers."),
        ({"q": "x" * 101}, "Search: Ensure this value has at most 100 characters"),
    ],
)
def test_it_explains_invalid_values_and_applies_the_rest(client, query, message):
    published(display_name="Ann A.", gender="female", date_of_birth=born_years_ago(55))
    published(display_name="Bob B.", gender="male", date_of_birth=born_years_ago(55))
    response = client.get(URL, {**query, "photo": "", "accepting": ""})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert set(listed_names(response)) <= {"Ann A.", "Bob B."}
    assert len(listed_names(response)) >= 1


def test_it_ignores_an_invalid_value_but_keeps_other_filters(client):
    published(display_name="Ann A.", gender="female")
    published(display_name="Bob B.", gender="male")
    response = client.get(URL, {"gender": "female", "age_min": "abc"})
    assert listed_names(response) == ["Ann A."]
    assert response.context["page"].query() == "?gender=female"


def test_it_helps_when_nothing_matches(client):
    published(display_name="Bob B.", gender="male", interests=["chess"])
    response = client.get(URL, {"gender": "female", "q": "chess"})
    html = response.content.decode()
    assert listed_names(response) == []
    assert "No profiles match all of these filters" in html
    assert 'href="?q=chess">Remove “Woman”' in html
    assert 'href="?gender=female">Remove “Search: chess”' in html
    assert reverse("safety") in html


def test_it_says_so_when_nobody_is_listed(client):
    html = client.get(URL).content.decode()
    assert "No one is listed yet" in html
    assert "0 profiles" in html


# --- Queries ------------------------------------------------------------------------------------


def _count_queries(client, query) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, query).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"gender": "male", "seeking": "friendship", "photo": "on", "sort": "name"},
        {"q": "chess"},
        {"q": "ch"},
        {"page": "2"},
    ],
)
def test_it_runs_as_many_queries_for_one_profile_as_for_fifty(
    client, django_assert_num_queries, query
):
    profile = published(display_name="First F.", interests=["chess"])
    add_public_photo(profile)
    one = _count_queries(client, query)
    for number in range(49):
        other = published(display_name=f"Chad {number}", interests=["chess"])
        if number % 2:
            add_public_photo(other)
    with django_assert_num_queries(one):
        response = client.get(URL, query)
    assert response.status_code == 200


def test_it_needs_three_queries_for_a_plain_page(client, django_assert_num_queries):
    published(display_name="First F.")
    # Facilities for the filters, the capped count, the page.
    with django_assert_num_queries(3):
        client.get(URL)


def test_it_reads_only_public_columns_for_cards(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    published(display_name="First F.")
    with CaptureQueriesContext(connection) as captured:
        client.get(URL)
    page_sql = captured[-1]["sql"]
    for private in ("legal_name", "inmate_number", "consent_form", '"search_vector"'):
        assert private not in page_sql
