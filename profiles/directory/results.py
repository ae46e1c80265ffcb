"""Running a directory search: the count, one page of rows and its links.

Pagination
    Pages are LIMIT/OFFSET slices, fetching one row more than a page to know
    whether there is a next one. The total is counted over at most
    COUNT_CAP + 1 rows ("500+ profiles"), so no page counts a large result
    in full, and pages stop at MAX_PAGE, beyond which offsets get slow and
    nobody reads: narrowing the filters or reversing the sort reaches the rest.
    Deep pages and relevance-ordered pages pick their ids first and read
    only those rows in full (`fetch_page`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import QueryDict
from django.utils.choices import flatten_choices
from django.utils.translation import gettext, ngettext

from penpals.text import grouped
from profiles import search_words
from profiles.directory.cards import CardColumns, ProfileCard, build_cards, card_fields
from profiles.directory.filters import (
    MAX_PAGE,
    US_STATES,
    DirectoryFilterForm,
    Sort,
    listed_facilities,
)
from profiles.directory.query import (
    NAME_SIMILARITY_THRESHOLD,
    filter_profiles,
    is_short_query,
    match_near_spelling,
    match_text,
    order_profiles,
    spelling_words,
    text_query,
)
from profiles.models import InmateProfile

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

PER_PAGE = 24
COUNT_CAP = 500
# From this offset on, a page is picked by id before its rows are read (see fetch_page).
DEFERRED_JOIN_OFFSET = 10 * PER_PAGE


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


def fetch_page(
    matching: QuerySet[InmateProfile], sort: str, number: int
) -> list[WithAnnotations[InmateProfile, CardColumns]]:
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

    profiles: list[ProfileCard]
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

    def query(self, **changes: object) -> str:
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
            (str(label), self.query(sort=value, page=None), value == self.sort)
            for value, label in Sort.CHOICES
            if value != Sort.RELEVANCE or (self.params.get("q") and not self.is_too_broad_to_rank)
        ]

    @property
    def count_label(self) -> str:
        if self.is_count_capped:
            return gettext("%(count)s+ profiles") % {"count": grouped(COUNT_CAP)}
        return ngettext("%(count)s profile", "%(count)s profiles", self.count) % {
            "count": grouped(self.count)
        }


def _active_filters(
    form: DirectoryFilterForm, filters: dict[str, Any], params: dict[str, str]
) -> list[ActiveFilter]:
    active = []
    for name in DirectoryFilterForm.FILTER_FIELDS:
        value = filters.get(name)
        if value in (None, "", False):
            continue
        form_field = form.fields[name]
        if name == "q":
            label = gettext("Search: %(words)s") % {"words": value}
        elif name == "age_min":
            label = gettext("Age %(age)s or over") % {"age": value}
        elif name == "age_max":
            label = gettext("Age %(age)s or under") % {"age": value}
        elif isinstance(form_field, forms.BooleanField):
            label = str(form_field.label)
        elif name == "facility":
            label = form.facilities[value].name
        elif name == "state":
            label = US_STATES.get(value, value)
        elif isinstance(form_field, forms.ChoiceField):
            # A ChoiceField keeps its choices as (value, label) pairs, but
            # django-stubs types the getter as anything the setter accepts.
            choices: dict[Any, Any] = dict(flatten_choices(form_field.choices))  # type: ignore[arg-type]
            label = str(choices.get(value, value))
        else:
            label = str(value)
        remaining = {key: value for key, value in params.items() if key not in (name, "page")}
        active.append(ActiveFilter(label=label, remove_query=f"?{urlencode(remaining)}"))
    return active


def _canonical_params(form: DirectoryFilterForm, filters: dict[str, Any]) -> dict[str, str]:
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
        profiles=build_cards(rows[:PER_PAGE]),
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
