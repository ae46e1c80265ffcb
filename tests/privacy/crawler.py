"""A same-origin, GET-only crawler over Django's test client, and the private
facts it looks for in every page, JSON response and email.

The crawler starts from seed URLs, follows every `<a href>` on the site,
requests each URL once, and stops at a fixed number of requests. Each URL is
classified by the URL resolver, so a test can ask which routes were reached
and give a route its own budget (the directory's filter links multiply).
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import dateformat, formats, translation

# Every way a template could print a date: Django's defaults (DATE_FORMAT "N j,
# Y", SHORT_DATE_FORMAT "m/d/Y") and the formats this project's templates use.
# Each is spelled in every language of the site (month and day names differ).
DATE_FORMATS = [
    "Y-m-d", "j M Y", "d M Y", "F j, Y", "N j, Y", "M j, Y", "M. j, Y", "j F Y", "jS F Y",
    "F jS, Y", "m/d/Y", "n/j/Y", "d/m/Y", "j/n/Y", "d.m.Y", "Y/m/d", "D, j M Y", "l, F j, Y",
]  # fmt: skip
# The active language's own formats, as `|date` with no argument, `|date:"SHORT_DATE_FORMAT"`
# and formats.date_format print them ("7 de diciembre de 1980" in Spanish).
LOCALE_DATE_FORMATS = ["DATE_FORMAT", "SHORT_DATE_FORMAT"]

# Never followed: other areas (checked on their own), files that are not text.
OUT_OF_SCOPE_PREFIXES = ("/admin/", "/liaison/", "/static/", "/media/")


def date_spellings(day: date) -> set[str]:
    """`day` as any page could print it, in any language of the site: the
    formats above with each language's month and day names, each language's
    own date formats, and the value a date field shows in a form
    (DATE_INPUT_FORMATS[0]: "1980-12-07" in English, "07/12/1980" in Spanish).
    The same whichever language is active when it is called."""
    spellings = set()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            spellings |= {dateformat.format(day, fmt) for fmt in DATE_FORMATS}
            spellings |= {formats.date_format(day, name) for name in LOCALE_DATE_FORMATS}
            spellings.add(day.strftime(formats.get_format("DATE_INPUT_FORMATS")[0]))
    return spellings


@dataclass(frozen=True)
class Needle:
    """One private fact: `text` must not appear where `kind` says it is private."""

    kind: str  # "date of birth", "legal name", "inmate number", "private file", "email"...
    text: str
    owner: str  # whose it is: a user's email, or "inmate <pk>", or "requester"
    facility_id: int | None = None  # the facility whose liaisons may see it, if any


@dataclass
class Finding:
    where: str  # a URL, or "email to x"
    needle: Needle

    def __str__(self) -> str:
        return f"{self.where}: {self.needle.kind} {self.needle.text!r} (of {self.needle.owner})"


DIGIT_RUN = re.compile(r"\d{4,}")


@functools.cache
def digit_key(text: str) -> str:
    """The longest run of four or more digits in `text` ("" if none)."""
    return max(DIGIT_RUN.findall(text), key=len, default="")


def find_needles(text: str, needles: list[Needle], where: str, allowed=None) -> list[Finding]:
    """Every needle in `text` (raw, and with HTML entities decoded; case-insensitive)
    that `allowed(needle)` does not excuse."""
    haystack = text.casefold()
    decoded = html.unescape(text).casefold()
    # Most needles are birth dates (a year in each) and inmate numbers: one with
    # a digit run absent from every digit run of the page cannot be on it, so
    # thousands of needles cost one scan of the page's numbers.
    digit_runs = " ".join(set(DIGIT_RUN.findall(haystack)) | set(DIGIT_RUN.findall(decoded)))
    found = []
    for needle in needles:
        wanted = needle.text.casefold()
        key = digit_key(wanted)
        if key and key not in digit_runs:
            continue
        if (wanted in haystack or wanted in decoded) and not (allowed and allowed(needle)):
            found.append(Finding(where, needle))
    return found


class LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        elif tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])


def normalise(url: str, base: str) -> str | None:
    """`url` (relative to `base`) as a path plus sorted query, or None when it
    leaves the site (another host, mailto:, javascript:)."""
    absolute = urljoin(f"http://testserver{base}", url.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or parts.netloc != "testserver":
        return None
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.path + (f"?{query}" if query else "")


def route_of(url: str) -> str:
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return "(unresolved)"
    return match.view_name


HTML_LANG = re.compile(r"<html[^>]*\blang=\"([^\"]*)\"")


@dataclass
class Visit:
    url: str
    route: str
    status: int
    content_type: str
    text: str  # decoded body of HTML, JSON and plain text; "" otherwise
    content_language: str = ""  # the Content-Language header: the language Django chose

    @property
    def html_lang(self) -> str | None:
        """The page's `<html lang>`, or None for what is not a whole page."""
        if not self.content_type.startswith("text/html"):
            return None
        match = HTML_LANG.search(self.text)
        return match.group(1) if match else None


def visits_not_in(visits: list[Visit], language: str) -> list[str]:
    """The visits that did not come back in `language`: by their
    Content-Language header, and for HTML pages by `<html lang>` too."""
    wrong = []
    for visit in visits:
        if visit.content_language != language:
            wrong.append(f"{visit.url}: Content-Language {visit.content_language!r}")
        elif visit.html_lang not in (None, language):
            wrong.append(f"{visit.url}: <html lang={visit.html_lang!r}>")
    return wrong


@dataclass
class Crawl:
    """What one identity reached: every visit, and the out-of-scope links seen."""

    visits: list[Visit] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)

    def routes(self) -> Counter:
        return Counter(visit.route for visit in self.visits)

    def urls(self) -> set[str]:
        return {visit.url for visit in self.visits}


def crawl(
    client,
    seeds: list[str],
    *,
    max_requests: int,
    default_budget: int,
    route_budgets: dict[str, int | None] | None = None,
    follow: tuple[str, ...] | None = None,
    never: tuple[str, ...] = (),
) -> Crawl:
    """Breadth-first from `seeds` (always visited), GET only, each URL once.

    Beyond the seeds, each route is followed at most `default_budget` times
    (or its `route_budgets` entry; None: no limit): many links differ only
    by object or query ("Log in to save" on every profile). Raises
    AssertionError when `max_requests` runs out before the queue does, so a
    crawl never silently covers less.

    `follow` (path prefixes) limits the crawl to one area, the admin or the
    liaison portal; by default it stays out of them (OUT_OF_SCOPE_PREFIXES).
    Links starting with one of `never` are not followed (a logout page).
    """
    budgets: dict[str, int | None] = dict(route_budgets or {})
    result = Crawl()
    queue: deque[tuple[str, bool]] = deque((url, True) for url in seeds)
    queued = {url for url in seeds}
    while queue:
        url, is_seed = queue.popleft()
        route = route_of(url)
        if not is_seed:
            left = budgets.setdefault(route, default_budget)
            if left is not None:
                if left <= 0:
                    continue
                budgets[route] = left - 1
        assert len(result.visits) < max_requests, (
            f"crawl budget of {max_requests} requests exhausted with {len(queue) + 1} URLs left"
        )
        response = client.get(url)
        content_type = response.get("Content-Type", "")
        is_text = content_type.startswith(("text/", "application/json"))
        if response.streaming:
            # Scans and other files: read to the end (the test client closes the
            # file then; closing it again here would close the database
            # connection through request_finished), never parsed.
            b"".join(response.streaming_content)
            body = b""
        else:
            body = response.content
        text = body.decode(response.charset or "utf-8", errors="replace") if is_text else ""
        result.visits.append(
            Visit(
                url,
                route,
                response.status_code,
                content_type,
                text,
                content_language=response.get("Content-Language", ""),
            )
        )
        links: list[str] = []
        if response.status_code in (301, 302, 303, 307, 308):
            links.append(response["Location"])
        elif content_type.startswith("text/html"):
            parser = LinkParser()
            parser.feed(text)
            links.extend(parser.links)
            links.extend(parser.images)
        for link in links:
            target = normalise(link, url)
            if target is None or target in queued:
                continue
            in_scope = (
                target.startswith(follow)
                if follow
                else not target.startswith(OUT_OF_SCOPE_PREFIXES)
            )
            if not in_scope or (never and target.startswith(never)):
                result.skipped.add(target)
                continue
            queued.add(target)
            queue.append((target, False))
    return result


def json_text(payload: str) -> str:
    """A JSON document re-serialised without escapes, so "é" or "/" inside it
    match the needles as they would in a page."""
    return json.dumps(json.loads(payload), ensure_ascii=False)


EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
