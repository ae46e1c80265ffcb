"""No page, JSON response or email shows an inmate's date of birth, legal name,
inmate number or consent form, or another person's email, address, letters
or correspondence codes.

The crawler walks the demo data (seed_demo) as a visitor and as each demo pen
pal, following every link on the site; the liaison portal and the admin, where
legal names and inmate numbers are needed for printed mail, are out of its
scope, and test_it_keeps_pen_pals_out_of_liaison_and_staff_pages proves a pen
pal cannot reach them.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from messaging.models import Correspondence, Letter, Notification
from penpals.management.commands.seed_demo import DEMO_PASSWORD
from profiles.models import InmateProfile, ProfilePhoto
from tests.privacy.conftest import PEN_PALS, REQUESTER
from tests.privacy.crawler import EMAIL_ADDRESS, Needle, crawl, find_needles, json_text

pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("privacy-crawl")]

MAX_REQUESTS = 1000
# Links followed per route beyond the seeds: many differ only by the object or
# a query ("Log in to save" on every profile, "Write a letter" on every one).
DEFAULT_BUDGET = 20
# A visitor reaches every listed profile; the directory's filter and page
# links multiply, and these many reach every filter and every page of the
# unfiltered list.
VISITOR_BUDGETS = {"directory:list": 60, "directory:profile": None}
# A pen pal's view of a profile differs from a visitor's only by its "Save"
# button: a sample is enough. Their own threads and write pages are seeds.
PEN_PAL_BUDGETS = {"directory:list": 20, "directory:profile": 30, "letters:write": 30}

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


def test_it_shows_visitors_no_private_fact(client, demo_world):
    listed = [p for p in demo_world.profiles if p.status == InmateProfile.Status.PUBLISHED]
    seeds = [reverse(name) for name in PUBLIC_PAGES]
    seeds += [reverse("directory:profile", args=[p.slug]) for p in listed]
    seeds.append(reverse("directory:list"))

    result = crawl(
        client,
        seeds,
        max_requests=MAX_REQUESTS,
        default_budget=DEFAULT_BUDGET,
        route_budgets=VISITOR_BUDGETS,
    )

    assert_no_errors(result.visits)
    leaks = leaks_in(result.visits, demo_world.needles_hidden_from(None))
    assert not leaks, "\n".join(map(str, leaks[:50]))
    # The crawl really covered the public site: every public page, every
    # listed profile, the directory's pages and filters, the protection form.
    reached = result.routes()
    assert reached["directory:profile"] >= len(listed) > 200
    assert reached["directory:list"] > 20
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
    pen_pal_client(client, email)
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
        default_budget=DEFAULT_BUDGET,
        route_budgets=PEN_PAL_BUDGETS,
    )

    assert_no_errors(result.visits)

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


def test_it_sends_nobody_another_persons_details_by_email(demo_world):
    emails = demo_world.emails
    sent = set(Notification.objects.filter(state="sent").values_list("kind", flat=True))
    assert sent == set(Notification.Kind.values)  # approved, rejected, delivered, reply
    assert {to for message in emails for to in message.to} == {*PEN_PALS, REQUESTER["email"]}
    assert any("password" in message.subject.lower() for message in emails)
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
    from messaging.models import PrintBatch

    pen_pal_client(client, PEN_PALS[0])
    batch = PrintBatch.objects.select_related("facility").first()
    profile = next(p for p in demo_world.profiles if p.consent_form)
    photo = ProfilePhoto.objects.first()
    facility = batch.facility.slug
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
        reverse("liaison_safety:no_contact_orders", args=[profile.pk]),
        reverse("admin:index"),
        reverse("admin:profiles_inmateprofile_changelist"),
        reverse("admin:moderation_protectionrequest_changelist"),
    ]
    needles = demo_world.needles_hidden_from(PEN_PALS[0])
    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (url, response.status_code)
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
    for query in (profile.inmate_number, profile.date_of_birth.isoformat()):
        response = client.get(reverse("directory:list"), {"q": query})
        assert response.status_code == 200
        assert reverse("directory:profile", args=[profile.slug]) not in response.content.decode(), (
            query
        )
