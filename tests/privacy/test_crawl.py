"""No page, JSON response or email shows an inmate's date of birth, legal name,
inmate number or consent form, or another person's email, address, letters
or correspondence codes.

The crawler walks the demo data (seed_demo) as a visitor and as each demo pen
pal, following every link on the site, and test_it_keeps_pen_pals_out_of_liaison_and_staff_pages
proves a pen pal cannot reach the liaison portal or the admin. Those two, where
legal names and inmate numbers are needed for printed mail, are crawled as
their own roles at the end of this file: the moderator, the admin, and a
liaison of each of two facilities.

Every test runs in each language of the site, on a world built in it
(tests/privacy/conftest.py): the pages, the dates on them and the emails are
then in that language, and each crawl checks that the pages really came back
in it (Content-Language, `<html lang>`). English crawls everything; Spanish
renders the same views and templates with other words and date spellings, so
its crawls follow fewer links of each route (`Coverage`) but reach every route
and every role the English ones do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from django.utils import formats, translation

from devtools.management.commands.seed_demo import DEMO_PASSWORD
from messaging.models import Correspondence, Letter, Notification
from penpals.models import User
from profiles.models import Facility, FacilityLiaison, InmateProfile, ProfilePhoto
from tests.factories import LiaisonFactory, activate_totp
from tests.privacy.conftest import PEN_PALS, REQUESTER, speaking
from tests.privacy.crawler import (
    EMAIL_ADDRESS,
    Needle,
    crawl,
    find_needles,
    json_text,
    visits_not_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("privacy-crawl")]

MAX_REQUESTS = 1000
# Links followed per route beyond the seeds: many differ only by the object or
# a query ("Log in to save" on every profile, "Write a letter" on every one).
DEFAULT_BUDGET = 20


@dataclass(frozen=True)
class Coverage:
    """How far one language's crawls go."""

    # Listed profiles a visitor's crawl starts from (None: every one).
    visitor_profiles: int | None
    # A visitor reaches every listed profile (in English); the directory's
    # filter and page links multiply, and these many reach every filter and
    # every page of the unfiltered list.
    visitor_budgets: dict = field(default_factory=dict)
    # A pen pal's view of a profile differs from a visitor's only by its
    # "Save" button: a sample is enough. Their own threads and write pages are seeds.
    pen_pal_budgets: dict = field(default_factory=dict)
    pen_pal_default_budget: int = DEFAULT_BUDGET
    admin_budget: int = 4
    liaison_budget: int = 8


COVERAGE = {
    "en": Coverage(
        visitor_profiles=None,
        visitor_budgets={"directory:list": 60, "directory:profile": None},
        pen_pal_budgets={"directory:list": 20, "directory:profile": 30, "letters:write": 30},
    ),
    # Each route a few times, every seed still visited (a pen pal's threads,
    # the admin's and the portal's start pages).
    "es": Coverage(
        visitor_profiles=15,
        visitor_budgets={"directory:list": 12, "directory:profile": 10},
        pen_pal_budgets={"directory:list": 4, "directory:profile": 4, "letters:write": 4},
        pen_pal_default_budget=4,
        admin_budget=2,
        liaison_budget=3,
    ),
}

PUBLIC_PAGES = ["home", "about", "safety", "privacy", "terms", "protection:request", "healthz"]
PEN_PAL_PAGES = ["letters:inbox", "directory:saved", "account_settings", "account_export"]

# Where a signed-in pen pal's own email may appear, and why: it is theirs, and
# these are the pages that manage or export it.
OWN_EMAIL_ROUTES = {
    "account_email": "allauth's page for managing one's own email addresses",
    "account_export": "the data export holds everything about the person, their email first",
}


def leaks_in(visits, needles, allowed=None) -> list:
    found = []
    for visit in visits:
        text = visit.text
        if visit.content_type.startswith("application/json") and text:
            text = json_text(text)
        found += find_needles(
            text, needles, visit.url, allowed and (lambda n, v=visit: allowed(n, v))
        )
    return found


def assert_no_errors(visits) -> None:
    errors = [(v.url, v.status) for v in visits if v.status >= 500]
    assert not errors, f"server errors while crawling: {errors}"


def assert_in_language(visits, language: str) -> None:
    """The crawl saw the site in the world's language, not a fallback."""
    wrong = visits_not_in(visits, language)
    assert not wrong, f"not in {language!r}:\n" + "\n".join(wrong[:30])


def test_the_world_has_the_paper_path(demo_world):
    """What the crawls below must walk past: a returned letter in a pen pal's
    thread, and at each facility a scanning run with pages waiting to be
    sorted, one of them read on another facility's reply reference."""
    from messaging.models import ScanPage, ScanRun

    assert Letter.objects.filter(status=Letter.Status.RETURNED).exists()
    facilities = Facility.objects.count()
    assert ScanRun.objects.filter(state=ScanRun.State.DONE).count() == facilities
    waiting = ScanPage.objects.filter(state=ScanPage.State.TRIAGE)
    assert waiting.values("facility").distinct().count() == facilities
    other_facilitys = waiting.filter(triage_reason=ScanPage.TriageReason.OTHER_FACILITY)
    assert other_facilitys.exclude(mark_code="").exists()
    assert ScanPage.objects.filter(state=ScanPage.State.REPLY, letter__isnull=False).exists()


def test_it_shows_visitors_no_private_fact(client, demo_world):
    coverage = COVERAGE[demo_world.language]
    listed = [p for p in demo_world.profiles if p.status == InmateProfile.Status.PUBLISHED]
    seeds = [reverse(name) for name in PUBLIC_PAGES]
    seeds += [reverse("directory:profile", args=[p.slug]) for p in listed][
        : coverage.visitor_profiles
    ]
    seeds.append(reverse("directory:list"))

    result = crawl(
        speaking(client, demo_world.language),
        seeds,
        max_requests=MAX_REQUESTS,
        default_budget=DEFAULT_BUDGET,
        route_budgets=coverage.visitor_budgets,
    )

    assert_no_errors(result.visits)
    assert_in_language(result.visits, demo_world.language)
    leaks = leaks_in(result.visits, demo_world.needles_hidden_from(None))
    assert not leaks, "\n".join(map(str, leaks[:50]))
    # The crawl really covered the public site: every public page, every
    # listed profile (a sample in a language other than English), the
    # directory's pages and filters, the protection form.
    reached = result.routes()
    assert len(listed) > 200
    assert reached["directory:profile"] >= (coverage.visitor_profiles or len(listed))
    assert reached["directory:list"] > (20 if coverage.visitor_profiles is None else 5)
    assert {v.url for v in result.visits if "page=2" in v.url}
    for name in PUBLIC_PAGES:
        assert reached[name], name
    assert all(v.status in (200, 302) for v in result.visits if v.route != "(unresolved)")


def pen_pal_client(client, email: str):
    """Signed in through the login form, with the password confirmed again as
    the data export asks."""
    response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:1000]
    response = client.post(reverse("account_reauthenticate"), {"password": DEMO_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:1000]
    return client


@pytest.mark.parametrize("email", PEN_PALS)
def test_it_shows_each_pen_pal_only_their_own_details(client, demo_world, email):
    coverage = COVERAGE[demo_world.language]
    pen_pal_client(speaking(client, demo_world.language), email)
    threads = Correspondence.objects.filter(pen_pal__email=email).select_related("profile")
    seeds = [reverse(name) for name in PEN_PAL_PAGES]
    seeds += [reverse("letters:thread", args=[c.pk]) for c in threads]
    listed = [c.profile for c in threads if c.profile.status == InmateProfile.Status.PUBLISHED]
    seeds += [reverse("letters:write", args=[p.slug]) for p in listed]
    seeds.append(reverse("directory:list"))

    result = crawl(
        client,
        seeds,
        max_requests=MAX_REQUESTS,
        default_budget=coverage.pen_pal_default_budget,
        route_budgets=coverage.pen_pal_budgets,
    )

    assert_no_errors(result.visits)
    assert_in_language(result.visits, demo_world.language)

    excused = set()

    def own_email_where_expected(needle, visit) -> bool:
        if needle.text == email and visit.route in OWN_EMAIL_ROUTES:
            excused.add(visit.route)
            return True
        return False

    # Their own letters and reply references are theirs to see on any of their
    # pages; their own email only where OWN_EMAIL_ROUTES says.
    own_email = Needle("own email", email, email)
    needles = [*demo_world.needles_hidden_from(email), own_email]
    leaks = leaks_in(result.visits, needles, own_email_where_expected)
    assert not leaks, "\n".join(map(str, leaks[:50]))
    # Each exception is needed: an unused one would hide a future leak.
    assert excused == set(OWN_EMAIL_ROUTES)
    reached = result.routes()
    for name in PEN_PAL_PAGES + ["letters:thread", "letters:write", "account_email"]:
        assert reached[name], f"the crawl never reached {name}"
    assert reached["letters:thread"] == threads.count() > 0
    assert reached["letters:write"] > len(listed) > 0
    # The export is the person's own: their email, their letters, nobody else's.
    export_visit = next(v for v in result.visits if v.route == "account_export")
    assert export_visit.status == 200
    export = json.loads(export_visit.text)
    assert export["penpals"]["email"] == email
    assert set(EMAIL_ADDRESS.findall(export_visit.text)) == {email}
    written = Letter.objects.outbound().filter(correspondence__pen_pal__email=email).count()
    exported = sum(
        1
        for c in export["messaging"]["correspondences"]
        for letter in c["letters"]
        if letter["direction"] == "out"
    )
    assert exported == written > 0
    # Their own replies' scans open for them (linked from their threads).
    scans = [v for v in result.visits if v.route == "letters:scan"]
    assert all(v.status == 200 for v in scans)


PASSWORD_RESET_LINK = re.compile(r"/accounts/password/reset/key/\S+")


def test_it_sends_nobody_another_persons_details_by_email(demo_world):
    emails = demo_world.emails
    sent = set(Notification.objects.filter(state="sent").values_list("kind", flat=True))
    assert sent == set(Notification.Kind.values)  # approved, rejected, delivered, reply
    assert {to for message in emails for to in message.to} == {*PEN_PALS, REQUESTER["email"]}
    assert any(PASSWORD_RESET_LINK.search(message.body) for message in emails)
    # Each in the language of the world (its recipients' saved language, or
    # the page's the protection request was sent from).
    languages = {message.extra_headers.get("Content-Language") for message in emails}
    assert languages == {demo_world.language}, languages
    leaks = []
    for message in emails:
        [recipient] = message.to
        bodies = [message.subject, message.body]
        bodies += [content for content, _type in getattr(message, "alternatives", [])]
        for body in bodies:
            leaks += find_needles(
                body, demo_world.needles_hidden_from(recipient), f"email to {recipient}"
            )
    assert not leaks, "\n".join(map(str, leaks[:50]))
    # The requester's confirmation went to them alone.
    assert [m.to for m in emails if REQUESTER["email"] in m.to] == [[REQUESTER["email"]]]


def test_it_keeps_pen_pals_out_of_liaison_and_staff_pages(client, demo_world):
    """The print view (legal name, inmate number, facility address), consent
    forms and photo originals are for liaisons and staff only."""
    from messaging.models import PrintBatch, ScanPage

    pen_pal_client(speaking(client, demo_world.language), PEN_PALS[0])
    batch = PrintBatch.objects.select_related("facility").first()
    profile = next(p for p in demo_world.profiles if p.consent_form)
    photo = ProfilePhoto.objects.first()
    facility = batch.facility.slug
    # A page of the facility's scanning run, and the pen pal's own printed letter.
    scan_page = ScanPage.objects.filter(facility=batch.facility).order_by("pk").first()
    printed = batch.letters.select_related("correspondence").first()
    urls = [
        reverse("liaison:dashboard"),
        reverse("liaison:facility_dashboard", args=[facility]),
        reverse("liaison:profile_list", args=[facility]),
        reverse("liaison:profile_detail", args=[profile.pk]),
        reverse("liaison:consent_download", args=[profile.pk]),
        reverse("liaison:photo_original", args=[photo.pk]),
        reverse("liaison_letters:queue", args=[facility]),
        reverse("liaison_letters:batch_detail", args=[facility, batch.pk]),
        reverse("liaison_letters:batch_print", args=[facility, batch.pk]),
        reverse("liaison_letters:batch_pdf", args=[facility, batch.pk]),
        reverse("liaison_letters:reply_list", args=[facility]),
        reverse("liaison_letters:scan_runs", args=[facility]),
        reverse("liaison_letters:scan_run", args=[facility, scan_page.run_id]),
        reverse("liaison_letters:scan_run_status", args=[facility, scan_page.run_id]),
        reverse("liaison_letters:triage", args=[facility]),
        reverse("liaison_letters:scan_page_image", args=[facility, scan_page.pk]),
        reverse("liaison_letters:letter_return", args=[facility, printed.pk]),
        reverse("liaison_letters:return_find", args=[facility]),
        reverse("liaison_letters:return_choose", args=[facility, printed.correspondence_id]),
        reverse("liaison_safety:no_contact_orders", args=[profile.pk]),
        reverse("admin:index"),
        reverse("admin:profiles_inmateprofile_changelist"),
        reverse("admin:moderation_protectionrequest_changelist"),
        reverse("admin:messaging_scanrun_changelist"),
        reverse("admin:messaging_scanrun_change", args=[scan_page.run_id]),
    ]
    needles = demo_world.needles_hidden_from(PEN_PALS[0])
    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (url, response.status_code)
        assert response["Content-Language"] == demo_world.language, url
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("admin:login")), url
        body = b"" if response.streaming else response.content
        assert not find_needles(body.decode(errors="replace"), needles, url)


def test_it_finds_nobody_by_inmate_number_or_birth_date(client, demo_world):
    """The directory's search would otherwise pair a public profile with its
    private inmate number or date of birth. (A legal name is not tried: its
    first word is often the display name, which near-spelling search finds
    whatever the surname, so results say nothing about the legal name.)"""
    profile = next(p for p in demo_world.profiles if p.status == InmateProfile.Status.PUBLISHED)
    born = profile.date_of_birth
    with translation.override(demo_world.language):
        # As the world's language writes a date ("7 de diciembre de 1980", "07/12/1980").
        local_spellings = [
            formats.date_format(born),
            formats.date_format(born, "SHORT_DATE_FORMAT"),
        ]
    speaking(client, demo_world.language)
    for query in (profile.inmate_number, born.isoformat(), *local_spellings):
        response = client.get(reverse("directory:list"), {"q": query})
        assert response.status_code == 200
        assert response["Content-Language"] == demo_world.language
        assert reverse("directory:profile", args=[profile.slug]) not in response.content.decode(), (
            query
        )


# --- The admin and the liaison portal, as each role -----------------------------------------
#
# The privacy crawler in the admin and the liaison portal, as each role.
#
# Breadth-first from /admin/ (as the demo moderator, with MFA, and as the
# admin) and from /liaison/ (as a liaison of each of two facilities), GET only:
# no form is submitted. Change pages, history pages and delete confirmations
# are pages like any other.
#
# What each may read:
# - the admin (superuser): everything (the control: the crawl finds the facts);
# - the moderator: no inmate's legal name, birth date, inmate number, consent
#   form or private file name, and no pen pal's or liaison's email; they do read
#   letters, correspondence codes and protection requests (that is their work);
# - a liaison: their own facility's inmates' private facts, letters and codes
#   (they print the mail), nothing of another facility's, no protection
#   requester's details, and no email but their own and their colleagues'.

MODERATOR, ADMIN = "moderator@example.org", "admin@example.org"
LIAISON = "liaison@example.org"  # seed_demo's, of the first facility
SECOND_LIAISON = "second-liaison@example.org"  # made here, for another facility

# Each route at most Coverage.admin_budget (liaison_budget) times beyond the
# seeds: the changelists' filter and sort links multiply, every object has a
# change and a history page.
ADMIN_MAX_REQUESTS = 450
LIAISON_MAX_REQUESTS = 300
# Not followed: they end the session (GET shows a confirmation, but the crawl
# has no reason to be there) or leave the area.
NEVER = ("/accounts/logout/", "/admin/logout/", "/admin/r/")


def staff_client(client, email: str, language: str):
    user = User.objects.get(email=email)
    if not user.authenticator_set.exists():
        activate_totp(user)
    client.force_login(user)
    return speaking(client, language)


def crawl_admin(client, budget: int):
    return crawl(
        client,
        [reverse("admin:index")],
        max_requests=ADMIN_MAX_REQUESTS,
        default_budget=budget,
        follow=("/admin/",),
        never=NEVER,
    )


def is_pen_pal_or_liaison(email: str) -> bool:
    """An account's email, not staff's (a protection requester has no account:
    moderators read requests)."""
    return User.objects.filter(email=email, is_staff=False).exists()


def test_it_shows_the_moderator_no_inmate_fact_or_pen_pal_email_in_the_admin(client, demo_world):
    result = crawl_admin(
        staff_client(client, MODERATOR, demo_world.language),
        COVERAGE[demo_world.language].admin_budget,
    )

    assert_no_errors(result.visits)
    assert_in_language(result.visits, demo_world.language)
    hidden = [*demo_world.inmate_needles]
    hidden += [
        n
        for n in demo_world.person_needles
        if n.kind == "email" and n.owner != MODERATOR and is_pen_pal_or_liaison(n.text)
    ]
    leaks = leaks_in(result.visits, hidden)
    assert not leaks, "\n".join(map(str, leaks[:60]))
    reached = result.routes()
    for name in (
        "admin:index",
        "admin:profiles_inmateprofile_changelist",
        "admin:profiles_inmateprofile_change",
        "admin:profiles_inmateprofile_history",
        "admin:moderation_moderationitem_change",
        "admin:messaging_correspondence_change",
        "admin:messaging_correspondence_history",
        "admin:messaging_letter_change",
        "admin:moderation_protectionrequest_change",
    ):
        assert reached[name], f"the crawl never reached {name}"


def test_it_shows_the_admin_the_private_facts_in_the_admin(client, demo_world):
    """The control: the same crawl as a superuser finds the facts, so the
    moderator's crawl finding none means they were not there."""
    # Fewer pages per route: the superuser reaches every model, and the
    # control needs only one page of each kind.
    result = crawl_admin(staff_client(client, ADMIN, demo_world.language), budget=1)

    assert_no_errors(result.visits)
    assert_in_language(result.visits, demo_world.language)
    found = {finding.needle.kind for finding in leaks_in(result.visits, demo_world.inmate_needles)}
    assert {"legal name", "inmate number", "date of birth"} <= found, found
    emails = [n for n in demo_world.person_needles if n.kind == "email"]
    assert leaks_in(result.visits, emails)
    reached = result.routes()
    assert reached["admin:penpals_user_change"] and reached["admin:profiles_inmateprofile_history"]


def second_liaison(demo_world) -> tuple[Facility, User]:
    """A liaison of a facility other than the demo liaison's, with profiles."""
    first = FacilityLiaison.objects.get(user__email=LIAISON).facility
    facility = (
        Facility.objects.exclude(pk=first.pk)
        .filter(profiles__status=InmateProfile.Status.PUBLISHED)
        .order_by("slug")
        .first()
    )
    user = LiaisonFactory(
        facility=facility, user__email=SECOND_LIAISON, user__language=demo_world.language
    ).user
    return facility, user


@pytest.mark.parametrize("email", [LIAISON, SECOND_LIAISON])
def test_it_shows_a_liaison_only_their_own_facilitys_private_facts(client, demo_world, email):
    if email == SECOND_LIAISON:
        second_liaison(demo_world)
    facilities = set(
        FacilityLiaison.objects.filter(user__email=email).values_list("facility_id", flat=True)
    )
    colleagues = set(
        FacilityLiaison.objects.filter(facility__in=facilities).values_list(
            "user__email", flat=True
        )
    )
    staff_client(client, email, demo_world.language)
    slugs = Facility.objects.filter(pk__in=facilities).values_list("slug", flat=True)
    seeds = [reverse("liaison:dashboard")]
    seeds += [reverse("liaison:facility_dashboard", args=[slug]) for slug in slugs]
    seeds += [reverse("liaison:activity", args=[slug]) for slug in slugs]
    # Reached only by finding a returned letter (a POST): its correspondence's
    # printed and returned letters, each of their facility's correspondences.
    seeds += [
        reverse("liaison_letters:return_choose", args=[c.profile.facility.slug, c.pk])
        for c in Correspondence.objects.filter(profile__facility__in=facilities)
        .select_related("profile__facility")
        .order_by("pk")
    ]
    result = crawl(
        client,
        seeds,
        max_requests=LIAISON_MAX_REQUESTS,
        default_budget=COVERAGE[demo_world.language].liaison_budget,
        follow=("/liaison/",),
        never=NEVER,
    )

    assert_no_errors(result.visits)
    assert_in_language(result.visits, demo_world.language)

    needles = demo_world.inmate_needles + demo_world.person_needles
    # Inmate numbers are unique per facility only (and birth dates are shared):
    # another facility's fact spelled like one of their own says nothing.
    own_texts = {n.text.casefold() for n in needles if n.facility_id in facilities}

    def own_facility(needle, visit) -> bool:
        if needle.kind == "email":
            return needle.text in colleagues
        if needle.owner == REQUESTER["email"]:
            return False  # a victim's details are for staff only
        return needle.facility_id in facilities or needle.text.casefold() in own_texts

    leaks = leaks_in(result.visits, needles, own_facility)
    assert not leaks, "\n".join(map(str, leaks[:60]))
    # The control: their own facility's facts are on their pages (the print
    # view and the profile pages), so the needles were looked for where they are.
    own = [n for n in demo_world.inmate_needles if n.facility_id in facilities]
    assert {f.needle.kind for f in leaks_in(result.visits, own)} >= {"legal name", "inmate number"}
    reached = result.routes()
    if Letter.objects.filter(
        correspondence__profile__facility__in=facilities, print_batch__isnull=False
    ).exists():
        # "Record a return" beside each letter of a print batch.
        assert reached["liaison_letters:letter_return"], "the crawl never reached a return"
    for name in (
        "liaison:facility_dashboard",
        "liaison:profile_list",
        "liaison:profile_detail",
        "liaison:activity",
        "liaison_letters:queue",
        "liaison_letters:reply_list",
        # The paper path: the facility's scanning run, its pages to sort (one
        # read on another facility's reference) and their images, returns.
        "liaison_letters:scan_runs",
        "liaison_letters:scan_run",
        "liaison_letters:triage",
        "liaison_letters:scan_page_image",
        "liaison_letters:return_find",
    ):
        assert reached[name], f"the crawl never reached {name}"
