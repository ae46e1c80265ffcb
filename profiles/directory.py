"""The public directory: its filters, its search rules and its pagination.

This module is the one home for how the public finds profiles. Views pass it
the query string and render what it returns.

Search (`q`)
    Full text over the stored `search_vector`. SEARCH_VECTOR indexes names
    with the 'simple' configuration and interests and bio with 'english', so
    `q` is parsed with both and either may match:
    `websearch_to_tsquery('simple', q) || websearch_to_tsquery('english', q)`.
    Quotes, `or` and `-word` work as on web search engines. (A query mixing a
    name that English stems differently with other words, "Charles
    gardening", can miss; the name alone always works.) Results are ranked
    with ts_rank (names weigh most), unless more than COUNT_CAP profiles
    match: ranking reads every match, so broad searches ("music") are shown
    newest first, and the page says so.

    Near spellings, only when the text matches nothing (they would bury
    exact matches): each word of `q` with a letter left out or two letters
    swapped, in the full text ("Jonh" finds "John R."); or the words of
    listed profiles' names and interests within one slip of it (two for
    words of six letters or more: letters changed, added, left out or
    swapped), from the vocabulary in profiles.search_words ("Tasja" finds
    "Tasha", "gardning" "gardening", "calligrafy" "calligraphy"); or, for
    queries of six characters or more that the vocabulary could not correct
    (a profile listed since its last refresh), a name similar by trigrams
    (`display_name % q` at a threshold of 0.45, served by the GIN
    gin_trgm_ops index: "Alxander" finds "Alexander M."). Trigrams alone
    cannot fix short names: "Jonh" shares as many trigrams with "Joseph" as
    with "John", and a threshold low enough to accept "John R." accepts a
    twentieth of the directory. With near spellings the page offers "Did you
    mean …?", a link to `q` with each word corrected, but only when that
    search finds someone listed now under the same filters: the vocabulary
    may lag behind a profile leaving the directory, the suggestion never does.

    Queries of one or two characters have no useful trigrams and no near
    spellings; they match names starting with them (`display_name ILIKE
    'q%'`, which the trigram index serves; Django's istartswith compiles to
    UPPER() LIKE, which no index here serves) as well as full text.

Pagination
    Pages are LIMIT/OFFSET slices, fetching one row more than a page to know
    whether there is a next one. The total is counted over at most
    COUNT_CAP + 1 rows ("500+ profiles"), so no page counts a large result
    in full, and pages stop at MAX_PAGE, beyond which offsets get slow and
    nobody reads: narrowing the filters or reversing the sort reaches the rest.
    Deep pages and relevance-ordered pages pick their ids first and read
    only those rows in full (`fetch_page`).

Indexes
    Every filter and sort uses the partial indexes on published profiles in
    profiles.models (the sort orders match their column directions); search
    uses the GIN indexes on `search_vector` and `display_name`. Searches run
    in a transaction with SET LOCAL enable_seqscan = off (`_plan_for_search`).
    Measured by profiles.benchmarks at 100,000 published profiles.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from urllib.parse import urlencode

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Left
from django.forms.utils import flatatt
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from penpals.dates import years_after, years_before
from profiles import search_words
from profiles.models import Facility, Favorite, InmateProfile, ProfilePhoto

PER_PAGE = 24
COUNT_CAP = 500
MAX_PAGE = 250
NEW_PROFILE_DAYS = 30
# Shorter queries have too few trigrams to compare; they match name prefixes
# instead, and get no near spellings (one edit away from "Al" is half the alphabet).
MIN_WORD_QUERY = 3
# Names are compared by trigram similarity for near spellings from this length on,
# and must be at least this similar.
MIN_SIMILAR_NAME_QUERY = 6
NAME_SIMILARITY_THRESHOLD = 0.45
# Near spellings are looked for in this many words of `q` at most.
MAX_SPELLING_WORDS = 4
# Vocabulary words tried in place of a misspelt word, closest first.
MAX_CORRECTIONS_PER_WORD = 3
BIO_PREVIEW_CHARS = 200
# From this offset on, a page is picked by id before its rows are read (see fetch_page).
DEFERRED_JOIN_OFFSET = 10 * PER_PAGE

Gender = InmateProfile.Gender

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "PR": "Puerto Rico", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "GU": "Guam", "VI": "U.S. Virgin Islands",
}  # fmt: skip


class Sort:
    RELEVANCE = "relevance"
    NEWEST = "newest"
    UPDATED = "updated"
    RELEASE = "release"
    NAME = "name"

    CHOICES = [
        (RELEVANCE, "Best match"),
        (NEWEST, "Newest"),
        (UPDATED, "Recently updated"),
        (RELEASE, "Release soonest"),
        (NAME, "Name"),
    ]
    # Each ordering matches one of the partial indexes on published profiles
    # (profiles_pub_newest, _updated, _release, _name), column directions included.
    ORDERINGS = {
        NEWEST: (F("published_at").desc(), "id"),
        UPDATED: (F("public_updated_at").desc(), "id"),
        RELEASE: (F("release_date").asc(), "id"),
        NAME: ("display_name", "id"),
    }


RELEASE_WITHIN_CHOICES = [
    ("1", "Within 1 year"),
    ("2", "Within 2 years"),
    ("5", "Within 5 years"),
    ("unknown", "Release not set"),
]


# --- The filter form ------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityOption:
    pk: int
    slug: str
    name: str
    state: str


def listed_facilities() -> list[FacilityOption]:
    """Facilities offered as filters (one query)."""
    return [
        FacilityOption(*row)
        for row in Facility.objects.filter(is_active=True)
        .order_by("state", "name")
        .values_list("pk", "slug", "name", "state")
    ]


def _with_blank(choices, blank: str) -> list:
    return [("", blank), *choices]


# The filter form is drawn on every directory page. Django renders each widget,
# label and <option> through a template, which costs several milliseconds per
# page here; these widgets render the same HTML in Python.


def _as_tuples(choices) -> tuple:
    return tuple(
        (value, _as_tuples(label)) if isinstance(label, list | tuple) else (value, label)
        for value, label in choices
    )


@functools.lru_cache(maxsize=512)
def _options_html(choices: tuple, selected: str) -> str:
    """<option>s (and <optgroup>s) for `choices`, `selected` marked. Cached: the
    facility list is the same on every page."""

    def option(value, label) -> str:
        value = str(value)
        mark = " selected" if value == selected else ""
        return f'<option value="{escape(value)}"{mark}>{escape(str(label))}</option>'

    parts = []
    for value_or_group, label in choices:
        if isinstance(label, tuple):
            options = "".join(option(*choice) for choice in label)
            parts.append(f'<optgroup label="{escape(str(value_or_group))}">{options}</optgroup>')
        else:
            parts.append(option(value_or_group, label))
    return "".join(parts)


class QuickSelect(forms.Select):
    """Options come from `options` (nested tuples) when given, else `choices`.
    (Assigning `choices` normalises the list on every form: milliseconds for
    the facilities.)"""

    def __init__(self, attrs=None, options: tuple | None = None) -> None:
        super().__init__(attrs)
        self.options = options

    def render(self, name, value, attrs=None, renderer=None) -> str:
        choices = self.options if self.options is not None else _as_tuples(self.choices)
        selected = "" if value is None else str(value)
        final_attrs = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        options = _options_html(choices, selected)
        return mark_safe(f"<select{final_attrs}>{options}</select>")  # noqa: S308 - escaped


def _choice_field(label: str, choices, blank: str) -> forms.ChoiceField:
    choices = _with_blank(choices, blank)
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=choices,
        widget=QuickSelect(options=_as_tuples(choices)),
    )


class QuickNumberInput(forms.NumberInput):
    def render(self, name, value, attrs=None, renderer=None) -> str:
        final_attrs = self.build_attrs(
            self.attrs, {**(attrs or {}), "type": self.input_type, "name": name}
        )
        if value not in (None, ""):
            final_attrs["value"] = self.format_value(value)
        return mark_safe(f"<input{flatatt(final_attrs)}>")  # noqa: S308 - flatatt escapes


class QuickCheckbox(forms.CheckboxInput):
    def render(self, name, value, attrs=None, renderer=None) -> str:
        final_attrs = self.build_attrs(
            self.attrs, {**(attrs or {}), "type": "checkbox", "name": name}
        )
        if self.check_test(value):
            final_attrs["checked"] = True
        return mark_safe(f"<input{flatatt(final_attrs)}>")  # noqa: S308 - flatatt escapes


class DirectoryFilterForm(forms.Form):
    """The directory's query string. Every field is optional; an invalid value
    is reported and left out, and the remaining filters still apply."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="Names, interests or words from the profile.",
    )
    gender = _choice_field("Gender", Gender.choices, "Any gender")
    age_min = forms.IntegerField(
        label="Age from", required=False, min_value=18, max_value=120, widget=QuickNumberInput
    )
    age_max = forms.IntegerField(
        label="Age to", required=False, min_value=18, max_value=120, widget=QuickNumberInput
    )
    # Choices come from the facility list; validated in clean_state / clean_facility.
    state = forms.CharField(label="State", required=False, widget=QuickSelect)
    facility = forms.CharField(label="Facility", required=False, widget=QuickSelect)
    release = _choice_field("Release", RELEASE_WITHIN_CHOICES, "Any time")
    seeking = _choice_field("Looking for", InmateProfile.Seeking.choices, "Anything")
    language = _choice_field("Writes in", InmateProfile.Language.choices, "Any language")
    photo = forms.BooleanField(label="Has a photo", required=False, widget=QuickCheckbox)
    new = forms.BooleanField(
        label=f"New in the last {NEW_PROFILE_DAYS} days", required=False, widget=QuickCheckbox
    )
    accepting = forms.BooleanField(
        label="Accepting letters now", required=False, widget=QuickCheckbox
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=Sort.CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    # Everything but `sort` and `page` narrows the results.
    FILTER_FIELDS = (
        "q", "gender", "age_min", "age_max", "state", "facility", "release", "seeking",
        "language", "photo", "new", "accepting",
    )  # fmt: skip

    def __init__(self, data: QueryDict, facilities: list[FacilityOption]) -> None:
        super().__init__(data, label_suffix="")
        self.facilities = {facility.slug: facility for facility in facilities}
        self.states = sorted({facility.state for facility in facilities})
        # Plain fields with QuickSelect options, validated in clean_state and
        # clean_facility: a ChoiceField would normalise the nested list each time.
        self.fields["state"].widget.options = _as_tuples(
            _with_blank([(code, US_STATES.get(code, code)) for code in self.states], "Any state")
        )
        by_state: dict[str, list[tuple[str, str]]] = {}
        for facility in facilities:
            by_state.setdefault(facility.state, []).append((facility.slug, facility.name))
        self.fields["facility"].widget.options = _as_tuples(
            _with_blank(
                [(US_STATES.get(code, code), options) for code, options in by_state.items()],
                "Any facility",
            )
        )
        self.fields["page"].error_messages["max_value"] = (
            f"Only the first {MAX_PAGE} pages can be shown. Add a filter or change the sort "
            "order to see other profiles."
        )
        self.fields["page"].error_messages["min_value"] = "Page numbers start at 1."

    def clean_state(self) -> str:
        state = self.cleaned_data["state"].upper()
        if state and state not in self.states:
            raise forms.ValidationError("No facility listed here is in that state.")
        return state

    def clean_facility(self) -> str:
        slug = self.cleaned_data["facility"]
        if slug and slug not in self.facilities:
            raise forms.ValidationError("There is no facility with that name here.")
        return slug

    def clean_q(self) -> str:
        q = " ".join(self.cleaned_data["q"].split())
        if q and not any(character.isalnum() for character in q):
            raise forms.ValidationError("Search for letters or numbers.")
        return q

    def clean(self) -> dict:
        cleaned = super().clean()
        age_min, age_max = cleaned.get("age_min"), cleaned.get("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.add_error("age_max", "“Age to” must not be lower than “Age from”.")
        return cleaned

    def facility_ids_in(self, state: str) -> list[int]:
        return [facility.pk for facility in self.facilities.values() if facility.state == state]

    def error_messages(self) -> list[str]:
        """One readable line per rejected value, naming the filter."""
        lines = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else None
            if name == "page":
                label = "Page"
            lines.extend(f"{label}: {error}" if label else str(error) for error in errors)
        return lines


# --- Building the query ---------------------------------------------------------------------------


class ILike(Func):
    """`expression ILIKE pattern`; gin_trgm_ops indexes serve it."""

    arg_joiner = " ILIKE "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def text_query(q: str) -> SearchQuery:
    """`q` parsed the way each part of SEARCH_VECTOR was indexed; either may match."""
    return SearchQuery(q, search_type="websearch", config="simple") | SearchQuery(
        q, search_type="websearch", config="english"
    )


def is_short_query(q: str) -> bool:
    return len(q) < MIN_WORD_QUERY


def filter_profiles(filters: dict, form: DirectoryFilterForm) -> QuerySet[InmateProfile]:
    """Published profiles matching the cleaned `filters` (absent keys are ignored),
    apart from the search text `q`, which `match_text` and `match_name_spelling` apply."""
    profiles = InmateProfile.objects.published()
    today = timezone.localdate()
    if filters.get("gender"):
        profiles = profiles.filter(gender=filters["gender"])
    if filters.get("age_min") is not None:
        profiles = profiles.filter(date_of_birth__lte=years_before(today, filters["age_min"]))
    if filters.get("age_max") is not None:
        profiles = profiles.filter(date_of_birth__gt=years_before(today, filters["age_max"] + 1))
    # Facilities are resolved to ids from the form's list, so no join is needed.
    if filters.get("facility"):
        profiles = profiles.filter(facility_id=form.facilities[filters["facility"]].pk)
    if filters.get("state"):
        profiles = profiles.filter(facility_id__in=form.facility_ids_in(filters["state"]))
    release = filters.get("release")
    if release == "unknown":
        profiles = profiles.filter(release_kind=InmateProfile.ReleaseKind.UNKNOWN)
    elif release:
        profiles = profiles.filter(
            release_kind=InmateProfile.ReleaseKind.DATE,
            release_date__lte=years_after(today, int(release)),
        )
    if filters.get("seeking"):
        profiles = profiles.filter(seeking__contains=[filters["seeking"]])
    if filters.get("language"):
        profiles = profiles.filter(languages__contains=[filters["language"]])
    if filters.get("photo"):
        profiles = profiles.filter(primary_photo__isnull=False)
    if filters.get("new"):
        profiles = profiles.filter(
            published_at__gte=timezone.now() - timedelta(days=NEW_PROFILE_DAYS)
        )
    if filters.get("accepting"):
        profiles = profiles.filter(is_accepting_letters=True)
    return profiles


def match_text(profiles: QuerySet[InmateProfile], q: str) -> QuerySet[InmateProfile]:
    """Profiles whose text matches `q`, annotated with `relevance`.

    A query too short for trigrams also matches names starting with it; those
    rank below text matches.
    """
    query = text_query(q)
    matches_text = Q(search_vector=query)
    relevance = SearchRank(F("search_vector"), query)
    if is_short_query(q):
        starts_name = ILike(F("display_name"), Value(_like_prefix(q)))
        return profiles.filter(matches_text | Q(starts_name)).annotate(
            relevance=Case(When(matches_text, then=relevance + 1), default=Value(0.0))
        )
    return profiles.filter(matches_text).annotate(relevance=relevance)


def spelling_variants(word: str) -> set[str]:
    """`word`, and `word` with one letter left out or two neighbours swapped:
    "jonh" gives "john" and "jon", "johhn" gives "john". (Letters changed or
    added would make hundreds of variants: too many for the planner to pick
    the text index. Longer names with those slips are found by trigrams.)"""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        word,
        *(start + rest[1:] for start, rest in splits if rest),
        *(start + rest[1] + rest[0] + rest[2:] for start, rest in splits if len(rest) > 1),
    }


# Quotes, "-word" and "or" ask for something precise: no respelling then.
SEARCH_OPERATORS = re.compile(r'"|(?:^|\s)-|\bor\b', re.IGNORECASE)


def spelling_words(q: str) -> list[str]:
    """The words of `q` that near spellings are looked for, or none when `q`
    uses search operators."""
    if SEARCH_OPERATORS.search(q):
        return []
    words = [word for word in re.findall(r"[^\W_]+", q.lower()) if len(word) >= MIN_WORD_QUERY]
    return words[:MAX_SPELLING_WORDS]


def spelling_query(
    q: str, corrections: dict[str, search_words.Correction] | None = None
) -> SearchQuery | None:
    """A text query matching each word of `q`, one of its spelling variants or
    one of its `corrections`, or None when `q` uses search operators or has no
    word long enough to respell."""
    words = spelling_words(q)
    if not words:
        return None
    corrections = corrections or {}

    def alternatives(word: str) -> list[str]:
        correction = corrections.get(word)
        candidates = correction.candidates[:MAX_CORRECTIONS_PER_WORD] if correction else []
        return sorted(spelling_variants(word) | set(candidates))

    # Only letters and digits reach the raw tsquery (variants are made of the
    # word's, corrections are checked by search_words.WORD): no operator can
    # be injected.
    expression = " & ".join("(" + " | ".join(alternatives(word)) + ")" for word in words)
    return SearchQuery(expression, search_type="raw", config="simple") | SearchQuery(
        expression, search_type="raw", config="english"
    )


def match_near_spelling(
    profiles: QuerySet[InmateProfile],
    q: str,
    corrections: dict[str, search_words.Correction] | None = None,
) -> QuerySet[InmateProfile]:
    """Profiles matching `q` spelled slightly differently, closest first (`relevance`).

    Two ways, both served by GIN indexes: spelling variants of each word of
    `q` in the full text ("Jonh" finds "John R."; trigrams cannot, as "Jonh"
    shares as many trigrams with "Joseph" as with "John"), or its
    `corrections` from the vocabulary; and for longer queries the vocabulary
    could not correct, names similar to `q` by trigrams (`display_name % q`) at
    NAME_SIMILARITY_THRESHOLD, which `_plan_for_search` sets ("Alxander" and
    "Alexnder" find "Alexander M.").
    """
    respelled = spelling_query(q, corrections)
    if respelled is None:
        return profiles.none().annotate(relevance=Value(0.0))
    matches_text = Q(search_vector=respelled)
    text_relevance = SearchRank(F("search_vector"), respelled) + 1
    if len(q) < MIN_SIMILAR_NAME_QUERY or corrections:
        # A short name shares its few trigrams with thousands of others ("Jonh"
        # with every "Jo..."): the variants alone find its near spellings. And
        # once the vocabulary has corrected the words (names included), name
        # trigrams add nothing but cost: each is computed per row the page
        # reads, a third of a typo search's database time.
        return profiles.filter(matches_text).annotate(relevance=text_relevance)
    return profiles.filter(matches_text | Q(display_name__trigram_similar=q)).annotate(
        # Text matches first (their rank is below 1), then names by similarity.
        relevance=Case(
            When(matches_text, then=text_relevance),
            default=TrigramSimilarity("display_name", q),
        )
    )


def order_profiles(profiles: QuerySet[InmateProfile], sort: str) -> QuerySet[InmateProfile]:
    if sort == Sort.RELEVANCE:
        return profiles.order_by(F("relevance").desc(), *Sort.ORDERINGS[Sort.NEWEST])
    return profiles.order_by(*Sort.ORDERINGS.get(sort, Sort.ORDERINGS[Sort.NEWEST]))


def card_fields(profiles: QuerySet[InmateProfile]) -> QuerySet[InmateProfile]:
    """Only what a directory card shows (not the private columns, not the search
    vector). Facility and photo come as annotations, not related objects: three
    model instances per card would cost more than the query."""
    return profiles.only(
        "slug",
        "display_name",
        "date_of_birth",  # for the age; the date itself is never shown
        "release_kind",
        "release_date",
        "is_accepting_letters",
        "published_at",
    ).annotate(
        bio_start=Left("bio", BIO_PREVIEW_CHARS + 1),
        facility_name=F("facility__name"),
        facility_state=F("facility__state"),
        thumbnail_name=F("primary_photo__thumbnail"),
    )


def prepare_cards(profiles: list[InmateProfile]) -> list[InmateProfile]:
    """Work out what each card shows once, in Python rather than in the template
    (a page has 24 cards): `url`, `meta`, `thumbnail_url`, `release`, `initial`
    and `bio_preview`, the bio's first words cut at a word."""
    # One reverse() for the page: a slug never needs quoting in a path.
    url_pattern = reverse("directory:profile", args=["--slug--"])
    photo_storage = ProfilePhoto._meta.get_field("thumbnail").storage
    for profile in profiles:
        profile.url = url_pattern.replace("--slug--", profile.slug)
        profile.meta = f"{profile.age} · {profile.facility_state}"
        profile.release = f"Release: {profile.release_label()}"
        profile.initial = profile.display_name[:1].upper()
        name = profile.thumbnail_name
        profile.thumbnail_url = photo_storage.url(name) if name else ""
        text = profile.bio_start
        if len(text) > BIO_PREVIEW_CHARS:
            text = text[:BIO_PREVIEW_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
        profile.bio_preview = text
    return profiles


def count_matches(matching: QuerySet[InmateProfile]) -> int:
    """How many profiles match, counting no further than COUNT_CAP + 1."""
    return matching.order_by().values("pk")[: COUNT_CAP + 1].count()


def count_near_matches(near: QuerySet[InmateProfile], suggestion: str) -> tuple[int, bool]:
    """How many profiles match near spellings (no further than COUNT_CAP + 1),
    and whether any of those matches the search `suggestion` as typed. One query."""
    fits = Q(search_vector=text_query(suggestion)) if suggestion else Q(pk__in=[])
    flags = list(
        near.order_by()
        .annotate(fits=ExpressionWrapper(fits, output_field=BooleanField()))
        .values_list("fits", flat=True)[: COUNT_CAP + 1]
    )
    return len(flags), any(flags)


def fetch_page(matching: QuerySet[InmateProfile], sort: str, number: int) -> list[InmateProfile]:
    """Page `number` of `matching`, with one row more to tell whether a next page exists.

    Deep pages, and pages by relevance (which sort every match), are chosen by
    id first; only their rows are then joined to facility and photo and read
    in full, so the OFFSET and the sort handle narrow rows, not joined ones.
    """
    offset = (number - 1) * PER_PAGE
    ordered = order_profiles(matching, sort)
    if offset < DEFERRED_JOIN_OFFSET and sort != Sort.RELEVANCE:
        return list(card_fields(ordered)[offset : offset + PER_PAGE + 1])
    page_ids = ordered.values("pk")[offset : offset + PER_PAGE + 1]
    return list(card_fields(order_profiles(matching.filter(pk__in=page_ids), sort)))


# --- Running a search -----------------------------------------------------------------------------


@dataclass
class ActiveFilter:
    label: str
    remove_query: str


@dataclass
class DirectoryPage:
    """One page of results and what the template needs to draw it."""

    profiles: list[InmateProfile]
    number: int
    has_next: bool
    count: int
    is_count_capped: bool
    sort: str
    params: dict[str, str]  # the valid, non-empty parameters: canonical links build on them
    is_near_spelling: bool = False  # no text matched `q`; these names are spelled like it
    suggestion: str = ""  # `q` corrected, when that search finds someone: "did you mean"
    is_too_broad_to_rank: bool = False  # too many matches to rank: newest first instead
    active_filters: list[ActiveFilter] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def is_past_end(self) -> bool:
        return not self.profiles and self.number > 1

    @property
    def known_last_page(self) -> int | None:
        if self.is_count_capped:
            return None
        return max(1, -(-self.count // PER_PAGE))

    def query(self, **changes) -> str:
        """This page's query string with `changes` applied (None removes a key)."""
        params = dict(self.params)
        for key, value in changes.items():
            if value is None or (key == "page" and value == 1):
                params.pop(key, None)
            else:
                params[key] = str(value)
        return f"?{urlencode(params)}"

    @property
    def suggestion_query(self) -> str:
        return self.query(q=self.suggestion, page=None)

    @property
    def previous_query(self) -> str:
        return self.query(page=self.number - 1)

    @property
    def next_query(self) -> str:
        return self.query(page=self.number + 1)

    @property
    def first_query(self) -> str:
        return self.query(page=None)

    @property
    def page_links(self) -> list[tuple[int, str]]:
        """(number, query) for a window of pages around this one, as far as pages
        are known to exist."""
        last = self.known_last_page
        if last is None:
            last = self.number + 1 if self.has_next else self.number
        last = min(last, MAX_PAGE, self.number + 2)
        return [
            (number, self.query(page=number)) for number in range(max(1, self.number - 2), last + 1)
        ]

    @property
    def sort_links(self) -> list[tuple[str, str, bool]]:
        """(label, query, is_current) for each order the results can take."""
        return [
            (label, self.query(sort=value, page=None), value == self.sort)
            for value, label in Sort.CHOICES
            if value != Sort.RELEVANCE or (self.params.get("q") and not self.is_too_broad_to_rank)
        ]

    @property
    def count_label(self) -> str:
        if self.is_count_capped:
            return f"{COUNT_CAP:,}+ profiles"
        return f"{self.count:,} profile{'' if self.count == 1 else 's'}"


def _active_filters(
    form: DirectoryFilterForm, filters: dict, params: dict[str, str]
) -> list[ActiveFilter]:
    active = []
    for name in DirectoryFilterForm.FILTER_FIELDS:
        value = filters.get(name)
        if value in (None, "", False):
            continue
        form_field = form.fields[name]
        if name == "q":
            label = f"Search: {value}"
        elif name == "age_min":
            label = f"Age {value} or over"
        elif name == "age_max":
            label = f"Age {value} or under"
        elif isinstance(form_field, forms.BooleanField):
            label = str(form_field.label)
        elif name == "facility":
            label = form.facilities[value].name
        elif name == "state":
            label = US_STATES.get(value, value)
        else:
            choices = dict(_flat_choices(form_field.choices))
            label = str(choices.get(value, value))
        remaining = {key: value for key, value in params.items() if key not in (name, "page")}
        active.append(ActiveFilter(label=label, remove_query=f"?{urlencode(remaining)}"))
    return active


def _flat_choices(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from label
        else:
            yield value, label


def _canonical_params(form: DirectoryFilterForm, filters: dict) -> dict[str, str]:
    params = {}
    for name in form.fields:
        value = filters.get(name)
        if value in (None, "", False):
            continue
        params[name] = "1" if value is True else str(value)
    if params.get("page") == "1":
        del params["page"]
    return params


def _plan_for_search() -> None:
    """Settings for this transaction's search queries (SET LOCAL: nothing leaks,
    even through a connection pooler).

    - No sequential scans: the planner prices the text-search operator as
      cheap, so for a capped count (LIMIT 501) of a common word it prefers
      to read the table until it has found enough matches, evaluating @@ on
      tens of thousands of rows (~100 ms at 100,000 profiles) where the GIN
      index answers in a few.
    - Name similarity: near spellings of a long name need a closer match than
      pg_trgm's default 0.3, which lets "Christpher" reach every "Christina".
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), "
            "set_config('pg_trgm.similarity_threshold', %s, true)",
            [str(NAME_SIMILARITY_THRESHOLD)],
        )


def search_directory(data: QueryDict) -> tuple[DirectoryFilterForm, DirectoryPage]:
    """Validate the query string and fetch one page of the directory.

    Queries, whatever the page holds: the facility list, the capped count and
    the page. With `q`, one more to tune the transaction, and when the text
    matches nothing, two more: one for corrections of its words from the
    vocabulary, one to count near spellings of `q` (and check the suggestion).
    """
    form = DirectoryFilterForm(data, listed_facilities())
    form.is_valid()
    # Invalid fields are absent from cleaned_data: the rest still apply.
    filters = dict(form.cleaned_data)
    q = filters.get("q") or ""
    sort = filters.get("sort") or (Sort.RELEVANCE if q else Sort.NEWEST)
    if sort == Sort.RELEVANCE and not q:
        sort = Sort.NEWEST
    number = filters.get("page") or 1

    matching = filter_profiles(filters, form)
    is_near_spelling = is_too_broad_to_rank = False
    suggestion = ""
    if not q:
        count = count_matches(matching)
        rows = fetch_page(matching, sort, number)
    else:
        with transaction.atomic():
            _plan_for_search()
            matches = match_text(matching, q)
            count = count_matches(matches)
            # Near spellings only when nothing contains the words themselves:
            # they would bury exact matches.
            if not count and not is_short_query(q):
                corrections = search_words.correct_words(spelling_words(q))
                suggestion = search_words.respell(q, corrections) if corrections else ""
                matches = match_near_spelling(matching, q, corrections)
                count, is_suggestion_found = count_near_matches(matches, suggestion)
                is_near_spelling = bool(count)
                # The vocabulary may lag behind a profile leaving the directory:
                # suggest only what finds someone listed now, under these filters.
                if not is_suggestion_found:
                    suggestion = ""
            # Ranking reads every match (about 2 µs each); past COUNT_CAP that is
            # slow and says little, so broad searches are shown newest first.
            # So are near spellings: a corrected interest ("chees") can match thousands.
            if sort == Sort.RELEVANCE and count > COUNT_CAP:
                sort = Sort.NEWEST
                is_too_broad_to_rank = True
            rows = fetch_page(matches, sort, number)

    params = _canonical_params(form, filters)
    return form, DirectoryPage(
        profiles=prepare_cards(rows[:PER_PAGE]),
        number=number,
        has_next=len(rows) > PER_PAGE and number < MAX_PAGE,
        count=min(count, COUNT_CAP),
        is_count_capped=count > COUNT_CAP,
        sort=sort,
        params=params,
        is_near_spelling=is_near_spelling,
        suggestion=suggestion,
        is_too_broad_to_rank=is_too_broad_to_rank,
        active_filters=_active_filters(form, filters, params),
        errors=form.error_messages(),
    )


# What a ticked checkbox sends from the filter form, and what the page's own links use.
TICKED = {"on", "1"}


def is_canonical_query(data: QueryDict, page: DirectoryPage) -> bool:
    """The query string says exactly the page's canonical parameters (each
    once, all valid; a ticked box as the form or the page's links send it):
    the only directory requests whose pages are cached, so junk parameters
    cannot make new cache keys."""
    if page.errors or any(len(values) != 1 for _, values in data.lists()):
        return False
    sent = data.dict()
    if sent.keys() != page.params.keys():
        return False
    return all(
        sent[name] == value or (value == "1" and sent[name] in TICKED)
        for name, value in page.params.items()
    )


# --- A profile page ----------------------------------------------------------------------------------

MAX_PROFILE_PHOTOS = 6


def public_photos(profile: InmateProfile) -> list[ProfilePhoto]:
    """The photos the public may see (processed and approved), primary first. One query."""
    return list(
        profile.photos.public()
        .exclude(display="")
        .only("display", "thumbnail", "width", "height", "is_primary", "profile_id")
        .order_by("-is_primary", "created_at")[:MAX_PROFILE_PHOTOS]
    )


# --- Favourites ------------------------------------------------------------------------------------


def is_saved(user, profile: InmateProfile) -> bool:
    return user.is_authenticated and Favorite.objects.filter(user=user, profile=profile).exists()


def saved_profiles(user) -> QuerySet[InmateProfile]:
    """The user's saved profiles that are listed now, most recently saved first.

    Favourites of profiles that left the directory (paused, released...) stay
    stored, so they come back if the profile does, but are not shown.
    """
    return card_fields(
        InmateProfile.objects.published()
        .filter(favorited_by__user=user)
        # Annotating after filtering reuses the filtered join: this user's favourite.
        .annotate(saved_at=F("favorited_by__created_at"))
        .order_by("-saved_at", "-pk")
    )


def saved_page(user, number: str | None) -> Page:
    """One page of the user's saved profiles (a user's list is short: a plain count is fine)."""
    page = Paginator(saved_profiles(user), PER_PAGE).get_page(number)
    page.object_list = prepare_cards(list(page.object_list))
    return page


class FavoriteForm(forms.Form):
    action = forms.ChoiceField(choices=[("save", "Save"), ("remove", "Remove")])
    # Where to go afterwards: back to the profile, or to the saved list.
    next = forms.ChoiceField(
        required=False, choices=[("profile", "Profile"), ("saved", "Saved profiles")]
    )
