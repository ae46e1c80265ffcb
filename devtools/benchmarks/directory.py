"""Directory benchmarks: server time of directory pages at 100,000 published profiles.

Each case is timed through the whole Django request cycle (middleware,
view, queries, template) with django.test.Client, rotating through a few
representative URLs so that no single cached plan or page flatters it:

- list:        the first page, unfiltered (newest first)
- filtered:    three filters combined
- search:      full-text searches, broad (newest first) and ranked
- search_es:   Spanish words, with and without accents, in Spanish bios
               (about one profile in fifteen is written in Spanish)
- typo_search: misspelt names and interests (near spellings, "did you mean")
- deep_page:   page 200 of a broad query
- profile:     profile pages of random published people

Each case is timed twice, as the two kinds of visitor see it:

- `directory.anonymous.*`: a visitor who is not signed in. Their pages come
  from the public page cache (profiles.public_cache) after the first request,
  so these figures measure cache hits.
- `directory.signed_in.*`: a signed-in pen pal, whose pages are never cached:
  every request runs the queries and renders the page.

Target: every p95 under 50 ms, signed in included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devtools.benchmarks.pages import percentile
from devtools.demo.profiles import seed_scale
from profiles import search_words
from profiles.models import InmateProfile

Figure = tuple[str, float | int, str]

PROFILES = 100_000
REQUESTS_PER_CASE = 200
PEN_PAL_EMAIL = "bench-pen-pal@example.org"

CASES = {
    "list": ["/inmates/"],
    "filtered": [
        "/inmates/?gender=male&state=CA&seeking=education",
        "/inmates/?age_min=25&age_max=40&language=es&accepting=on",
        "/inmates/?release=2&photo=on&seeking=faith",
    ],
    "search": [
        "/inmates/?q=chess",
        "/inmates/?q=poetry+guitar",
        "/inmates/?q=Marcus",
        "/inmates/?q=basketball+cooking",
        "/inmates/?q=%22bible+study%22",
    ],
    "search_es": [
        "/inmates/?q=corazon",
        "/inmates/?q=canci%C3%B3n",
        "/inmates/?q=ajedrez",
        "/inmates/?q=poesia+guitarra",
        "/inmates/?q=%22mi+unidad%22",
    ],
    "typo_search": [
        "/inmates/?q=Marcis",
        "/inmates/?q=Pamla",
        "/inmates/?q=calligrafy",
        "/inmates/?q=gardning",
        "/inmates/?q=chees",
        "/inmates/?q=Jonh",
    ],
    "deep_page": [
        "/inmates/?page=200",
        "/inmates/?gender=male&page=200",
        "/inmates/?accepting=on&sort=name&page=200",
    ],
}


def _get(client: Client, path: str) -> float:
    """Milliseconds to answer `path`, which must be a page with profiles on it."""
    start = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    shows_profiles = b'class="profile-card"' in response.content or b'id="profile-name"' in (
        response.content
    )
    if response.status_code != 200 or not shows_profiles:
        raise RuntimeError(f"{path} answered {response.status_code} without profiles")
    return elapsed


def bench_directory() -> Iterator[Figure]:
    listed = InmateProfile.objects.published().count()
    if listed < PROFILES:
        yield "directory.seed_scale.seconds", seed_scale(PROFILES - listed), "s"
        listed = InmateProfile.objects.published().count()
    yield "directory.published_profiles", listed, "profiles"
    # Bulk seeding bypasses the refresh that saves schedule.
    search_words.refresh()

    slugs = (
        InmateProfile.objects.published()
        .order_by("?")
        .values_list("slug", flat=True)[:REQUESTS_PER_CASE]
    )
    cases = {**CASES, "profile": [f"/inmates/{slug}/" for slug in slugs]}

    anonymous = Client(SERVER_NAME="localhost")
    signed_in = Client(SERVER_NAME="localhost")
    pen_pal, _ = get_user_model().objects.get_or_create(
        email=PEN_PAL_EMAIL, defaults={"display_name": "Bench"}
    )
    signed_in.force_login(pen_pal)
    for visitor, client in (("anonymous", anonymous), ("signed_in", signed_in)):
        for case, paths in cases.items():
            for path in paths[:5]:  # warm caches, connections and plans
                _get(client, path)
            timings = [
                _get(client, paths[number % len(paths)]) for number in range(REQUESTS_PER_CASE)
            ]
            with CaptureQueriesContext(connection) as queries:
                _get(client, paths[0])
            name = f"directory.{visitor}.{case}"
            yield f"{name}.p50_ms", statistics.median(timings), "ms"
            yield f"{name}.p95_ms", percentile(timings, 0.95), "ms"
            yield f"{name}.queries", len(queries), "queries"
