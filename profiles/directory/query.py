"""The directory's filters and search text as SQL.

Search (`q`)
    Full text over the stored `search_vector`. SEARCH_VECTOR indexes names
    unstemmed and interests and bio stemmed for the bio's language (English
    or Spanish), all without accents, so `q` is parsed each of those ways and
    any may match: `websearch_to_tsquery('penpals_simple', q) ||
    websearch_to_tsquery('penpals_english', q) || ... 'penpals_spanish' ...`.
    "corazon" finds "corazón" and "corazones" in a Spanish bio; "gardens"
    finds "gardening" in an English one.
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
"""

from __future__ import annotations

import operator
import re
from datetime import timedelta
from functools import reduce
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.db.models import BooleanField, Case, F, Func, Q, QuerySet, Value, When
from django.utils import timezone

from penpals.dates import years_after, years_before
from profiles import search_words
from profiles.directory.filters import NEW_PROFILE_DAYS, DirectoryFilterForm, Sort
from profiles.models import NAME_SEARCH_CONFIG, TEXT_SEARCH_CONFIGS, InmateProfile

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


class ILike(Func):
    """`expression ILIKE pattern`; gin_trgm_ops indexes serve it."""

    arg_joiner = " ILIKE "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


SEARCH_CONFIGS = (NAME_SEARCH_CONFIG, *TEXT_SEARCH_CONFIGS.values())


def _parsed_every_way(text: str, search_type: str) -> SearchQuery:
    """`text` parsed the way each part of SEARCH_VECTOR was indexed; any may match."""
    queries = [SearchQuery(text, search_type=search_type, config=c) for c in SEARCH_CONFIGS]
    return reduce(operator.or_, queries)


def text_query(q: str) -> SearchQuery:
    return _parsed_every_way(q, "websearch")


def is_short_query(q: str) -> bool:
    return len(q) < MIN_WORD_QUERY


def filter_profiles(filters: dict[str, Any], form: DirectoryFilterForm) -> QuerySet[InmateProfile]:
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
    return _parsed_every_way(expression, "raw")


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
