"""The search vocabulary: words people can be found by, for forgiving misspellings.

`profiles_searchword` (migration 0007) is a materialised view of the words in
the display names and interests of published profiles, with how many
profiles use each: a few thousand rows, however many profiles there are.
It is refreshed by a Celery task shortly after public data changes
(`schedule_refresh`, at most once per REFRESH_DELAY_SECONDS) and by beat
every few minutes in case an enqueue was lost.

A stale vocabulary can only offer a word that a listed profile used
recently: profiles.directory shows a suggestion only when the corrected
search finds a profile listed now, under the visitor's filters, so nothing
unlisted is ever suggested.

A misspelt word is matched to vocabulary words within `max_edits(word)`
edits (letters changed, added, left out, or two neighbours swapped), found
in one query: its one-edit variants by the unique index on `word` and, for
longer words, words similar by trigrams (`word % q`) by the GIN index.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction

from penpals.tasks import task_named

logger = logging.getLogger(__name__)

# Words are the runs of letters and digits of a query; shorter ones are not corrected.
WORD = re.compile(r"[^\W_]+")
MIN_CORRECTED_WORD = 3
# Up to this length one slip is forgiven, from the next length on two.
MAX_ONE_EDIT_LENGTH = 5
# Letters tried when a slip changes or adds one: English and Spanish names and interests.
ALPHABET = "abcdefghijklmnopqrstuvwxyzáéíóúüñ"
REFRESH_DELAY_SECONDS = 30
REFRESH_QUEUED_KEY = "search-words:refresh-queued"


@dataclass(frozen=True)
class Correction:
    word: str  # as typed, lower case
    candidates: list[str]  # vocabulary words within max_edits(word), closest then commonest first

    @property
    def best(self) -> str:
        return self.candidates[0]


def max_edits(word: str) -> int:
    return 1 if len(word) <= MAX_ONE_EDIT_LENGTH else 2


def one_edit_variants(word: str) -> set[str]:
    """Every string one slip away from `word`: a letter left out, two
    neighbours swapped, a letter changed or a letter added."""
    letters = set(ALPHABET) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return {
        *(start + rest[1:] for start, rest in splits if rest),
        *(start + rest[1] + rest[0] + rest[2:] for start, rest in splits if len(rest) > 1),
        *(start + letter + rest[1:] for start, rest in splits if rest for letter in letters),
        *(start + letter + rest for start, rest in splits for letter in letters),
    } - {word}


def edit_distance(first: str, second: str) -> int:
    """Slips between two words, a swap of neighbours counting as one
    (optimal string alignment distance)."""
    rows = [list(range(len(second) + 1))]
    for i, first_letter in enumerate(first, start=1):
        row = [i] + [0] * len(second)
        for j, second_letter in enumerate(second, start=1):
            cost = 0 if first_letter == second_letter else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and first_letter == second[j - 2] and first[i - 2] == second_letter:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def correct_words(words: list[str]) -> dict[str, Correction]:
    """Corrections for those of `words` (lower case) that no listed profile's
    name or interests use but that are within max_edits of words they do use.
    One query; words too short or with digits are left alone.

    Trigram candidates use the transaction's pg_trgm.similarity_threshold
    (profiles.directory sets it for searches).
    """
    words = [
        word
        for word in dict.fromkeys(words)
        if len(word) >= MIN_CORRECTED_WORD and not any(letter.isdigit() for letter in word)
    ]
    if not words:
        return {}
    exact = set(words)
    for word in words:
        exact |= one_edit_variants(word)
    long_words = [word for word in words if max_edits(word) > 1]
    similar = "".join(" OR word %% %s" for _ in long_words)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT word, profiles FROM profiles_searchword WHERE word = ANY(%s){similar}",  # noqa: S608 - fixed SQL
            [sorted(exact), *long_words],
        )
        vocabulary = dict(cursor.fetchall())
    corrections = {}
    for word in words:
        if word in vocabulary:
            continue
        ranked = sorted(
            (distance, -profiles, candidate)
            for candidate, profiles in vocabulary.items()
            if WORD.fullmatch(candidate)
            and (distance := edit_distance(word, candidate)) <= max_edits(word)
        )
        if ranked:
            corrections[word] = Correction(word, [candidate for _, _, candidate in ranked])
    return corrections


def respell(text: str, corrections: dict[str, Correction]) -> str:
    """`text` with each corrected word replaced by its best correction, in the
    case it was typed in ("Marcis" gives "Marcus")."""

    def replace(match: re.Match) -> str:
        typed = match.group()
        correction = corrections.get(typed.lower())
        if correction is None:
            return typed
        if typed.isupper() and len(typed) > 1:
            return correction.best.upper()
        if typed[:1].isupper():
            return correction.best.capitalize()
        return correction.best

    return WORD.sub(replace, text)


# --- Keeping the vocabulary fresh -----------------------------------------------------------------


def refresh() -> None:
    """Rebuild the vocabulary from the published profiles (a fraction of a
    second at 100,000 profiles; readers are not blocked)."""
    with connection.cursor() as cursor:
        cursor.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY profiles_searchword")


def _enqueue_refresh() -> None:
    try:
        # One refresh per REFRESH_DELAY_SECONDS however many changes: it runs
        # after the key expires, so it sees every change that did not queue another.
        if cache.add(REFRESH_QUEUED_KEY, "1", REFRESH_DELAY_SECONDS):
            task_named("profiles.tasks.refresh_search_words").apply_async(
                countdown=REFRESH_DELAY_SECONDS + 1
            )
    except Exception:
        logger.exception("search words refresh not queued; beat will refresh them")


def schedule_refresh() -> None:
    """Refresh the vocabulary after the current transaction commits (debounced)."""
    transaction.on_commit(_enqueue_refresh)


# Changes to these fields can change the vocabulary.
VOCABULARY_FIELDS = frozenset({"status", "display_name", "interests"})


def on_profile_saved(sender, update_fields=None, **kwargs) -> None:
    if update_fields is None or VOCABULARY_FIELDS & set(update_fields):
        schedule_refresh()


def on_profile_deleted(sender, **kwargs) -> None:
    schedule_refresh()
