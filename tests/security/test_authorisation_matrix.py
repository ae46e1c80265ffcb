"""The authorisation matrix: every URL pattern of the project, requested as
every kind of person, answers what the tables below say.

The URL list comes from the resolver (tests/security/urls_walk.py), so a new
pattern without a row in TABLE, or a newly registered model without an entry
in ADMIN_MODELS, fails test_every_url_has_an_entry: nobody can add a URL
without deciding who may see it. Parameters are real objects of facility X and
pen pal A (tests/security/conftest.py), so pen pal B and the liaison of
facility Y get a real "not yours", never a 404 for a missing object.

Every test that sends requests does so in each language of the site (the
`language` fixture; the tests that change nothing loop over the languages in
one world), with the language saved on every account and asked for by every
client, and checks that each answer came back in it (Content-Language, and a
page's `<html lang>`): access must not depend on the language, and neither
may what a page lets slip (a date of birth is spelled differently in
Spanish; the needles know every spelling).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging import services as letter_services
from messaging.models import Letter, LetterScan
from moderation.models import ModerationItem
from moderation.services import submit_for_review
from penpals.models import User
from tests.factories import MINIMAL_PDF, LetterFactory, image_bytes
from tests.privacy.crawler import HTML_LANG
from tests.security.conftest import (
    CONSENT_MARKER,
    ORIGINAL_MARKER,
    PAGE_IMAGE_MARKER,
    ROLES,
    RUN_PAGE_MARKER,
    SCAN_MARKER,
)
from tests.security.private_facts import page_text, private_facts_in
from tests.security.urls_walk import Route, all_routes

pytestmark = pytest.mark.django_db

# --- Outcomes ----------------------------------------------------------------------------

OK = 200
PENDING = 202  # a batch PDF still being rendered
FORBIDDEN = 403
NOT_FOUND = 404
NOT_ALLOWED = 405  # a POST-only view asked with GET
LOGIN = "to login"  # 302 to allauth's login page
ADMIN_LOGIN = "to admin login"  # 302 to the admin's login (which goes through allauth)
MFA = "to MFA setup"  # 302 to TOTP activation (penpals.middleware.RequireMFAMiddleware)
REAUTH = "to reauthenticate"  # 302 to "confirm your password" (allauth)
ELSEWHERE = "redirect"  # any other 302 (a page that sends a signed-in person on)

A, B, X, Y, MOD, ADM = "pen_pal_a", "pen_pal_b", "liaison_x", "liaison_y", "moderator", "admin"


def classify(response) -> int | str:
    if response.status_code not in (301, 302):
        return response.status_code
    location = response["Location"]
    for prefix, outcome in (
        (reverse("account_login"), LOGIN),
        (reverse("admin:login"), ADMIN_LOGIN),
        (reverse("mfa_activate_totp"), MFA),
        (reverse("account_reauthenticate"), REAUTH),
    ):
        if location.startswith(prefix):
            return outcome
    return ELSEWHERE


def row(*outcomes) -> dict[str, int | str]:
    assert len(outcomes) == len(ROLES), outcomes
    return dict(zip(ROLES, outcomes, strict=True))


EVERYONE = row(OK, OK, OK, OK, OK, OK, OK, OK)
SIGNED_IN = row(LOGIN, OK, OK, OK, OK, OK, OK, OK)
# A's own object: everyone else signed in gets 404, as if it did not exist.
A_ONLY = row(LOGIN, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND)
A_ONLY_POST = row(LOGIN, *[NOT_ALLOWED] * 7)
# The liaison portal: only facility X's liaison; staff without MFA are sent to set it up.
X_ONLY = row(LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, MFA)
X_ONLY_POST = row(LOGIN, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, MFA)  # fmt: skip
# Private files of X's people: X's liaison, and staff with MFA (moderators check photos).
X_AND_STAFF = row(LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, OK, OK, MFA)
# A consent form carries the legal name: X's liaison and superusers only.
X_AND_SUPERUSERS = row(LOGIN, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, OK, MFA)
# Site-wide admin pages: staff with MFA only.
NOT_STAFF = (ADMIN_LOGIN,) * 5
STAFF = row(*NOT_STAFF, OK, OK, MFA)
# The allauth pages a signed-in person is sent on from (to their start page).
SENT_ON = row(OK, *[ELSEWHERE] * 7)

# fmt: off
TABLE: dict[str, dict[str, int | str]] = {
    #                                  anonymous  A          B          liaison X  liaison Y  moderator  admin      staff no MFA
    # Public pages.
    "home": EVERYONE,
    "about": EVERYONE,
    "safety": EVERYONE,
    "privacy": EVERYONE,
    "terms": EVERYONE,
    "healthz": EVERYONE,
    # By address, not by account: the test client is loopback, which may
    # scrape (tests/penpals/test_metrics.py covers other addresses and tokens).
    "metrics": EVERYONE,
    "set_language":                row(*[ELSEWHERE] * 8),  # POST-only in effect: a GET goes back
    "protection:request": EVERYONE,
    "protection:sent": EVERYONE,
    "directory:list": EVERYONE,
    "directory:profile": EVERYONE,
    "directory:favorite": row(NOT_ALLOWED, *[NOT_ALLOWED] * 7),
    "directory:report": EVERYONE,  # a visitor is asked to log in, or pointed to protection
    "^media/(?P<path>.*)$": EVERYONE,  # public media only: processed photos
    # One's own account (no object in the URL: each person gets their own).
    "account_settings": SIGNED_IN,
    "account_export": row(LOGIN, *[REAUTH] * 7),
    "account_export_prepare": row(LOGIN, *[REAUTH] * 7),
    "account_continue":            row(LOGIN,     *[ELSEWHERE] * 7),  # on from MFA setup
    "account_delete": row(LOGIN, *[REAUTH] * 7),
    "directory:saved": SIGNED_IN,
    "letters:inbox": SIGNED_IN,
    "letters:write": SIGNED_IN,
    # A's letters.
    "letters:thread": A_ONLY,
    "letters:block": A_ONLY_POST,
    "letters:unblock": A_ONLY_POST,
    "letters:report": A_ONLY,
    "letters:scan":                row(LOGIN,     OK,        NOT_FOUND, OK,        NOT_FOUND, OK,        OK,        FORBIDDEN),
    # The liaison portal, facility X.
    "liaison:dashboard":           row(LOGIN,     NOT_FOUND, NOT_FOUND, ELSEWHERE, ELSEWHERE, NOT_FOUND, NOT_FOUND, MFA),
    "liaison:facility_dashboard": X_ONLY,
    "liaison:profile_list": X_ONLY,
    "liaison:profile_create": X_ONLY,
    "liaison:csv_import": X_ONLY,
    "liaison:csv_template": X_ONLY,
    "liaison:activity": X_ONLY,
    "liaison:profile_detail": X_ONLY,
    "liaison:profile_edit": X_ONLY,
    "liaison:profile_submit": X_ONLY_POST,
    "liaison:lifecycle": X_ONLY,
    "liaison:consent_upload": X_ONLY,
    "liaison:consent_download": X_AND_SUPERUSERS,
    "liaison:photo_upload": X_ONLY,
    "liaison:photo_primary": X_ONLY_POST,
    "liaison:photo_delete": X_ONLY_POST,
    "liaison:photo_original": X_AND_STAFF,
    "liaison_letters:queue": X_ONLY,
    "liaison_letters:batch_list": X_ONLY,
    "liaison_letters:batch_detail": X_ONLY,
    "liaison_letters:batch_print": X_ONLY,
    "liaison_letters:batch_pdf_status": X_ONLY,
    "liaison_letters:batch_pdf":   row(LOGIN,     NOT_FOUND, NOT_FOUND, PENDING,   NOT_FOUND, NOT_FOUND, NOT_FOUND, MFA),
    "liaison_letters:batch_delivered": X_ONLY_POST,
    "liaison_letters:reply_list": X_ONLY,
    "liaison_letters:reply_upload": X_ONLY,
    "liaison_letters:scan_runs": X_ONLY,
    "liaison_letters:scan_run": X_ONLY,
    "liaison_letters:scan_run_status": X_ONLY,
    "liaison_letters:triage": X_ONLY,
    "liaison_letters:triage_page": X_ONLY_POST,
    # A page of X's run: X's liaison, and staff who may view scanned pages (admins).
    # Moderators work the runs staff upload for replies that came by post.
    "liaison_letters:scan_page_image": X_AND_STAFF,
    "liaison_letters:letter_return": X_ONLY,
    "liaison_letters:return_find": X_ONLY,
    "liaison_letters:return_choose": X_ONLY,
    "liaison_safety:no_contact_orders": X_ONLY,
    # allauth: accounts and second factors. Each acts on the person asking only.
    "account_login": SENT_ON,
    "account_signup": SENT_ON,
    "account_confirm_login_code":  row(LOGIN,     *[ELSEWHERE] * 7),
    "account_logout":              row(ELSEWHERE, *[OK] * 7),
    "account_inactive": EVERYONE,
    "account_reauthenticate": SIGNED_IN,
    "account_email": SIGNED_IN,
    "account_email_verification_sent": EVERYONE,
    "account_resend_verification": EVERYONE,
    "account_confirm_email": EVERYONE,  # an unknown key: the page says the link is invalid
    "account_change_password": SIGNED_IN,
    "account_set_password":        row(LOGIN,     *[ELSEWHERE] * 7),  # everyone has a password
    "account_reset_password": EVERYONE,
    "account_reset_password_done": EVERYONE,
    "account_reset_password_from_key": EVERYONE,  # an unknown key: "bad token" page
    "account_reset_password_from_key_done": EVERYONE,
    "mfa_index": SIGNED_IN,
    "mfa_authenticate":            row(LOGIN,     *[ELSEWHERE] * 7),
    "mfa_reauthenticate":          row(LOGIN,     REAUTH,    REAUTH,    OK,        OK,        OK,        OK,        REAUTH),
    "mfa_activate_totp":           row(LOGIN,     *[REAUTH] * 7),
    "mfa_deactivate_totp":         row(LOGIN,     NOT_FOUND, NOT_FOUND, REAUTH,    REAUTH,    REAUTH,    REAUTH,    NOT_FOUND),
    "mfa_generate_recovery_codes": row(LOGIN,     *[REAUTH] * 7),
    "mfa_view_recovery_codes":     row(LOGIN,     *[NOT_FOUND] * 7),  # nobody made any
    "mfa_download_recovery_codes": row(LOGIN,     *[NOT_FOUND] * 7),
    # The admin site's own pages.
    "admin:index": STAFF,
    "admin:login":                 row(LOGIN,     FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, ELSEWHERE, ELSEWHERE, MFA),
    "admin:logout":                row(*[ELSEWHERE] * 5,                                    NOT_ALLOWED, NOT_ALLOWED, MFA),
    "admin:password_change": STAFF,
    "admin:password_change_done": STAFF,
    "admin:jsi18n": STAFF,
    "admin:autocomplete":          row(*NOT_STAFF,                                          FORBIDDEN, FORBIDDEN, MFA),
    "admin:view_on_site":          row(*NOT_STAFF,                                          NOT_FOUND, NOT_FOUND, MFA),
    "admin:app_list": STAFF,
    "admin/(?P<url>.*)$":          row(*NOT_STAFF,                                          NOT_FOUND, NOT_FOUND, MFA),
    # Admin pages that a ModelAdmin adds to the standard five.
    "admin:messaging_letter_upload_postal_reply": STAFF,
    "admin:messaging_letter_record_return": STAFF,  # staff who handle the post (add_letter)
    # A reply's page image, its redaction and its transcription: staff who decide letters.
    "admin:messaging_letter_scan_image": STAFF,  # 404 when the scan has no page image
    "admin:messaging_letter_scan_redact": STAFF,
    "admin:messaging_letter_transcription": STAFF,
    # Runs of replies that came by post: staff who handle the post (add_scanrun).
    "admin:messaging_scanrun_upload": STAFF,
    "admin:moderation_moderationitem_decide":     row(*NOT_STAFF,                           NOT_ALLOWED, NOT_ALLOWED, MFA),
    "admin:moderation_moderationitem_next":       row(*NOT_STAFF,                           NOT_ALLOWED, NOT_ALLOWED, MFA),
    "admin:moderation_screeningrule_try":         row(*NOT_STAFF,                           FORBIDDEN, OK,        MFA),
    "admin:auth_user_password_change":            row(*NOT_STAFF,                           FORBIDDEN, OK,        MFA),
}
# fmt: on


# --- The admin, one entry per registered model ------------------------------------------------

BOTH, ADMIN_ONLY, NOBODY = frozenset({MOD, ADM}), frozenset({ADM}), frozenset()


@dataclass(frozen=True)
class AdminRights:
    """Who (of moderator and admin) may view, add, change and delete one model
    in the admin, and which object of the world its object pages show."""

    obj: object  # world -> an instance
    view: frozenset
    add: frozenset = NOBODY
    change: frozenset = NOBODY
    delete: frozenset = NOBODY


def user_object(role):
    return lambda world: world.users[role]


ADMIN_MODELS: dict[str, AdminRights] = {
    # The queue, and what people tell staff.
    "moderation.moderationitem": AdminRights(lambda w: w.pending_item, view=BOTH, change=BOTH),
    "moderation.report": AdminRights(lambda w: w.report, view=BOTH, delete=ADMIN_ONLY),
    "moderation.nocontactorder": AdminRights(
        lambda w: w.no_contact_order, view=BOTH, add=BOTH, change=BOTH, delete=ADMIN_ONLY
    ),
    "moderation.protectionrequest": AdminRights(
        lambda w: w.protection_request, view=BOTH, change=BOTH, delete=ADMIN_ONLY
    ),
    "moderation.writingsuspension": AdminRights(
        lambda w: w.suspension, view=BOTH, add=BOTH, change=BOTH
    ),
    # Rules change what every letter is held for: admins only.
    "moderation.screeningrule": AdminRights(
        lambda w: w.rule, view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY
    ),
    # Letters are records: nobody edits them in the admin.
    "messaging.correspondence": AdminRights(lambda w: w.correspondence, view=BOTH),
    "messaging.letter": AdminRights(lambda w: w.outbound, view=BOTH),
    "messaging.printbatch": AdminRights(lambda w: w.batch, view=BOTH),
    "messaging.notification": AdminRights(lambda w: w.notification, view=ADMIN_ONLY),
    # Scanning runs: staff who handle replies that came by post (moderators too).
    "messaging.scanrun": AdminRights(lambda w: w.scan_run, view=BOTH),
    # Moderators see what they review; only admins change facilities and profiles.
    "profiles.inmateprofile": AdminRights(
        lambda w: w.profile, view=BOTH, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY
    ),
    "profiles.profilephoto": AdminRights(
        lambda w: w.photo, view=BOTH, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY
    ),
    "profiles.facility": AdminRights(
        lambda w: w.facility_x, view=BOTH, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY
    ),
    "profiles.liaisonaction": AdminRights(lambda w: w.liaison_action, view=ADMIN_ONLY),
    # People, their logins and second factors: admins only.
    "profiles.facilityliaison": AdminRights(
        lambda w: w.users[X].facility_memberships.get(),
        view=ADMIN_ONLY,
        add=ADMIN_ONLY,
        change=ADMIN_ONLY,
        delete=ADMIN_ONLY,
    ),  # fmt: skip
    "penpals.user": AdminRights(
        user_object(A), view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY
    ),
    "auth.group": AdminRights(
        lambda w: w.moderators_group,
        view=ADMIN_ONLY,
        add=ADMIN_ONLY,
        change=ADMIN_ONLY,
        delete=ADMIN_ONLY,
    ),  # fmt: skip
    "account.emailaddress": AdminRights(
        lambda w: w.users[A].emailaddress_set.get(),
        view=ADMIN_ONLY,
        add=ADMIN_ONLY,
        change=ADMIN_ONLY,
        delete=ADMIN_ONLY,
    ),  # fmt: skip
    "mfa.authenticator": AdminRights(
        lambda w: w.users[ADM].authenticator_set.get(),
        view=ADMIN_ONLY,
        add=ADMIN_ONLY,
        change=ADMIN_ONLY,
        delete=ADMIN_ONLY,
    ),  # fmt: skip
    "penpals.workerheartbeat": AdminRights(
        lambda w: w.heartbeat,
        view=ADMIN_ONLY,
        add=ADMIN_ONLY,
        change=ADMIN_ONLY,
        delete=ADMIN_ONLY,
    ),  # fmt: skip
}

# The URL names every ModelAdmin gets, and the right each needs.
STANDARD_ADMIN_PAGES = {
    "changelist": "view",
    "history": "view",
    "change": "view",  # read-only for those who may only view
    "add": "add",
    "delete": "delete",
}


def label_of(model_admin: admin.ModelAdmin) -> str:
    return model_admin.model._meta.label_lower


def admin_page(route: Route) -> str | None:
    """Which standard page of its ModelAdmin `route` is ("object" for the bare
    object URL that redirects to the change page), or None for an extra one."""
    if route.pattern.name is None:
        return "object"
    prefix = f"{route.model_admin.opts.app_label}_{route.model_admin.opts.model_name}_"
    page = route.pattern.name.removeprefix(prefix)
    return page if page in STANDARD_ADMIN_PAGES else None


def admin_expectation(route: Route) -> dict[str, int | str]:
    rights = ADMIN_MODELS[label_of(route.model_admin)]
    page = admin_page(route)

    def staff_outcome(role):
        if page == "object":
            return ELSEWHERE  # on to the change page, which checks
        needed = STANDARD_ADMIN_PAGES[page]
        allowed = rights.view | rights.change if needed == "view" else getattr(rights, needed)
        return OK if role in allowed else FORBIDDEN

    return row(*NOT_STAFF, staff_outcome(MOD), staff_outcome(ADM), MFA)


def expectation(route: Route) -> dict[str, int | str]:
    if route.key in TABLE:
        return TABLE[route.key]
    return admin_expectation(route)


# --- Filling in URL parameters with the world's objects --------------------------------------

# Which object a "pk" names, by URL.
PK_OBJECTS = {
    "letters:thread": "correspondence",
    "letters:block": "correspondence",
    "letters:unblock": "correspondence",
    "letters:report": "reply",
    "letters:scan": "scan",
}
PARAMETERS = {
    "slug": lambda w: w.profile.slug,
    "facility_slug": lambda w: w.facility_x.slug,
    "batch_id": lambda w: w.batch.pk,
    "run_id": lambda w: w.scan_run.pk,
    "page_id": lambda w: w.scan_page.pk,
    "correspondence_id": lambda w: w.correspondence.pk,
    "scan_id": lambda w: w.scan.pk,
    "letter_id": lambda w: w.reply.pk,  # a reply's transcription
    "profile_id": lambda w: w.profile.pk,
    "photo_id": lambda w: w.photo.pk,
    "item_id": lambda w: w.pending_item.pk,
    "id": lambda w: w.users[A].pk,  # the admin's "change A's password"
    "content_type_id": lambda w: ContentType.objects.get_for_model(w.profile).pk,
    "object_id": lambda w: w.profile.pk,  # view_on_site
    "app_label": lambda w: "profiles",
    # allauth's emailed links, with keys nobody issued.
    "key": lambda w: "not-a-real-key",
    "uidb36": lambda w: "zz",
}
# Where one URL's parameter names another object than PARAMETERS says.
ROUTE_PARAMETERS = {
    # Only a printed letter can come back (messaging.returns).
    "liaison_letters:letter_return": {"letter_id": lambda w: w.outbound.pk},
}


def url_for(route: Route, world) -> str:
    if route.model_admin is not None and "object_id" in route.pattern.pattern.regex.groupindex:
        pk = ADMIN_MODELS[label_of(route.model_admin)].obj(world).pk
        if route.pattern.name is None:
            return "/" + route.route.replace("<path:object_id>", str(pk))
        return reverse(route.key, kwargs={"object_id": pk})
    if route.key == "^media/(?P<path>.*)$":
        return f"/media/{world.photo.display.name}"
    if route.key == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    kwargs = {}
    for name in route.pattern.pattern.regex.groupindex:
        if name == "pk":
            kwargs[name] = getattr(world, PK_OBJECTS[route.key]).pk
        else:
            parameter = ROUTE_PARAMETERS.get(route.key, {}).get(name, PARAMETERS[name])
            kwargs[name] = parameter(world)
    return reverse(route.key, kwargs=kwargs)


LANGUAGES = [code for code, _name in settings.LANGUAGES]


@pytest.fixture(params=LANGUAGES)
def language(request, world) -> str:
    """The language the test asks for every page in (`speak`, `client_for`)."""
    speak(world, request.param)
    return request.param


def speak(world, language: str) -> None:
    """Every account of the world has `language` saved: a signed-in person's
    saved language wins over what their browser asks for."""
    users = [user for user in world.users.values() if user is not None]
    User.objects.filter(pk__in=[user.pk for user in users]).update(language=language)
    for user in users:
        user.language = language


def client_for(world, role: str, language: str | None = None) -> Client:
    """A client signed in as `role`, whose browser asks for `language` (if given)."""
    client = Client(**({"HTTP_ACCEPT_LANGUAGE": language} if language else {}))
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def not_in_language(response, text: str, language: str) -> str | None:
    """Why `response` is not in `language` (its Content-Language header, and
    a page's `<html lang>`), or None when it is."""
    content_language = response.get("Content-Language")
    if content_language != language:
        return f"Content-Language {content_language!r}"
    html_lang = (
        HTML_LANG.search(text) if response.get("Content-Type", "").startswith("text/html") else None
    )
    if html_lang and html_lang.group(1) != language:
        return f"<html lang={html_lang.group(1)!r}>"
    return None


def body_of(response) -> bytes:
    if not response.streaming:
        return response.content
    content = b"".join(response.streaming_content)
    # Closing fires request_finished, whose close_old_connections would close the
    # test's transaction; the test client keeps it disconnected the same way.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()  # the open file of a FileResponse
    finally:
        request_finished.connect(close_old_connections)
    return content


# Where each private file may be served, and to whom: nowhere else, to nobody else.
PRIVATE_FILES = {
    CONSENT_MARKER: ("liaison:consent_download", {X, ADM}),
    ORIGINAL_MARKER.encode(): ("liaison:photo_original", {X, MOD, ADM}),
    SCAN_MARKER: ("letters:scan", {A, X, MOD, ADM}),
    PAGE_IMAGE_MARKER: ("admin:messaging_letter_scan_image", {MOD, ADM}),
    RUN_PAGE_MARKER: ("liaison_letters:scan_page_image", {X, MOD, ADM}),
}


# --- The tests ------------------------------------------------------------------------------


def test_every_url_has_an_entry():
    routes = all_routes()
    missing = [
        route.key
        for route in routes
        if route.key not in TABLE
        and (
            route.model_admin is None
            or label_of(route.model_admin) not in ADMIN_MODELS
            or admin_page(route) is None
        )
    ]
    assert not missing, f"Decide who may see these URLs (TABLE or ADMIN_MODELS): {missing}"
    stale = set(TABLE) - {route.key for route in routes}
    assert not stale, f"TABLE lists URLs that no longer exist: {sorted(stale)}"


def test_every_registered_model_has_an_admin_entry():
    registered = {label_of(model_admin) for model_admin in admin.site._registry.values()}
    assert registered == set(ADMIN_MODELS), (
        f"Missing: {sorted(registered - set(ADMIN_MODELS))}; "
        f"no longer registered: {sorted(set(ADMIN_MODELS) - registered)}"
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_matrix_says(world, role, language):
    client = client_for(world, role, language)
    wrong, leaks = [], []
    for route in all_routes():
        url = url_for(route, world)
        response = client.get(url)
        outcome = classify(response)
        expected = expectation(route)[role]
        if outcome != expected:
            wrong.append(f"{route.key} ({url}): expected {expected}, got {outcome}")
        content = body_of(response)
        if reason := not_in_language(response, page_text(response, content), language):
            wrong.append(f"{route.key} ({url}): not in {language!r}: {reason}")
        for marker, (key, allowed) in PRIVATE_FILES.items():
            if marker in content and not (route.key == key and role in allowed):
                leaks.append(f"{route.key} ({url}) served a private file ({marker!r})")
        # Legal names, birth dates, inmate numbers, emails: what this role may
        # not read must not be on any page it gets (tests/security/private_facts.py).
        for finding in private_facts_in(page_text(response, content), role, url):
            leaks.append(f"{route.key}: {finding}")
    assert not wrong, f"As {role}:\n" + "\n".join(wrong)
    assert not leaks, f"As {role}:\n" + "\n".join(leaks)


def test_the_private_files_were_served_to_their_owners(world, language):
    """The control for the leak check above: the markers are really in the files."""
    for marker, (key, roles) in PRIVATE_FILES.items():
        route = next(route for route in all_routes() if route.key == key)
        for role in roles:
            response = client_for(world, role, language).get(url_for(route, world))
            assert marker in body_of(response), (key, role)


def test_a_scan_without_a_page_image_is_not_found_in_the_admin(world, language):
    """The page image of a scan OCR has not read yet (or deleted on schedule):
    404 for the staff the table lets through, like a scan that does not exist."""
    world.scan.page_image.storage.delete(world.scan.page_image.name)
    LetterScan.objects.filter(pk=world.scan.pk).update(page_image="")
    url = reverse("admin:messaging_letter_scan_image", args=[world.scan.pk])
    for role in (MOD, ADM):
        assert classify(client_for(world, role, language).get(url)) == NOT_FOUND, role


# --- POSTs as the wrong person change nothing ----------------------------------------------

# What a POST may touch: every row of the project's tables (sessions aside).
SNAPSHOT_APPS = {"penpals", "profiles", "messaging", "moderation", "account", "mfa", "auth"}


def snapshot() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in SNAPSHOT_APPS and model is not Session
    }


def approved_letter_in_queue(world):
    return LetterFactory(
        correspondence=world.correspondence, status="approved", approved_at=timezone.now()
    ).pk


def reply_in_review(world):
    """The world's reply back in the queue, where moderators may still change it."""
    Letter.objects.filter(pk=world.reply.pk).update(status=Letter.Status.IN_REVIEW)
    submit_for_review(
        world.reply, ModerationItem.Kind.LETTER_IN, facility=world.facility_x, summary="Reply"
    )


def pending_reply_item(world) -> ModerationItem:
    return ModerationItem.objects.for_object(world.reply).pending().get()


def delete_earlier_report(world):
    ModerationItem.objects.for_object(world.report).delete()
    world.report.delete()


@dataclass(frozen=True)
class Post:
    """A POST that would change something if its access check were missing."""

    owner: str  # the role for whom the same POST does change something (the control)
    data: object = lambda world: {}  # world -> POST data
    prepare: object = None  # world -> None, to put the object in a state the POST changes


POSTS: dict[str, Post] = {
    "letters:block": Post(A),
    "letters:unblock": Post(A, prepare=lambda w: letter_services.do_block(w.correspondence)),
    "letters:report": Post(
        A, lambda w: {"reason": "money", "details": "Asks for money."}, delete_earlier_report
    ),
    "liaison_letters:queue": Post(
        X,
        lambda w: {"scope": "all", "idempotency_key": str(uuid.uuid4())},
        approved_letter_in_queue,
    ),
    "liaison_letters:batch_delivered": Post(X),
    "liaison_letters:reply_upload": Post(
        X,
        lambda w: {
            "code": w.correspondence.code,
            "scans": [SimpleUploadedFile("page.png", image_bytes("PNG"))],
            "idempotency_key": str(uuid.uuid4()),
        },
    ),
    "liaison_safety:no_contact_orders": Post(
        X, lambda w: {"name": "Someone Protected", "email": "someone@example.org"}
    ),
    "liaison:lifecycle": Post(X, lambda w: {"action": "paused"}),  # published: may pause
    "liaison:photo_delete": Post(X),
    "liaison:consent_upload": Post(
        X,
        lambda w: {
            "consent_form": SimpleUploadedFile("c.pdf", MINIMAL_PDF),
            "is_confirmed": "on",
        },
    ),
    "liaison_letters:scan_runs": Post(
        X,
        lambda w: {
            "scans": [SimpleUploadedFile("run.png", image_bytes("PNG"))],
            "idempotency_key": str(uuid.uuid4()),
        },
    ),
    "liaison_letters:triage_page": Post(X, lambda w: {f"page-{w.scan_page.pk}-action": "discard"}),
    "liaison_letters:letter_return": Post(X, lambda w: {"reason": "refused", "note": ""}),
    "liaison_letters:return_choose": Post(
        X, lambda w: {"letter": str(w.outbound.pk), "reason": "refused", "note": ""}
    ),
    "admin:moderation_moderationitem_decide": Post(MOD, lambda w: {"decision": "approve"}),
    # Sent from the reply's moderation item, as its forms are: back to the item after.
    "admin:messaging_letter_transcription": Post(
        MOD,
        lambda w: {"text": "Zqdear Zqada, zqtyped.", "item": str(pending_reply_item(w).pk)},
        reply_in_review,
    ),
    "admin:messaging_letter_scan_redact": Post(
        MOD,
        lambda w: {
            "x": "10",
            "y": "20",
            "width": "30",
            "height": "5",
            "item": str(pending_reply_item(w).pk),
        },
        reply_in_review,
    ),
}


def post_url(world, name: str) -> str:
    route = next(route for route in all_routes() if route.key == name)
    return url_for(route, world)


# The two tests below change nothing (that is what they check), so one world
# serves every language in turn.


@pytest.mark.parametrize("name", POSTS)
def test_a_post_by_the_wrong_person_changes_nothing(world, name):
    post = POSTS[name]
    if post.prepare:
        post.prepare(world)
    for language in LANGUAGES:
        speak(world, language)
        for role in ROLES:
            if role in (post.owner, ADM):
                continue
            client = client_for(world, role, language)
            before = snapshot()
            response = client.post(post_url(world, name), post.data(world))
            outcome = classify(response)
            assert outcome in (LOGIN, ADMIN_LOGIN, MFA, FORBIDDEN, NOT_FOUND), (language, role)
            assert response["Content-Language"] == language, (language, role)
            assert snapshot() == before, (language, role)


@pytest.mark.parametrize("name", POSTS)
def test_the_same_post_by_its_owner_changes_something(world, name, language):
    """The control: each POST above is one that would have had an effect."""
    post = POSTS[name]
    if post.prepare:
        post.prepare(world)
    client = client_for(world, post.owner, language)
    before = snapshot()
    response = client.post(post_url(world, name), post.data(world))
    assert classify(response) in (OK, ELSEWHERE), response.status_code
    assert snapshot() != before


@pytest.mark.parametrize("role", [r for r in ROLES if r != ADM])
def test_only_those_allowed_can_delete_in_the_admin(world, role):
    """A delete POST for every registered model: refused (and nothing deleted)
    for everyone the model's entry does not let delete."""
    for language in LANGUAGES:
        speak(world, language)
        client = client_for(world, role, language)
        for label, rights in ADMIN_MODELS.items():
            if role in rights.delete:
                continue
            obj = rights.obj(world)
            url = reverse(f"admin:{label.replace('.', '_')}_delete", args=[obj.pk])
            response = client.post(url, {"post": "yes"})
            assert classify(response) in (ADMIN_LOGIN, MFA, FORBIDDEN), (language, label)
            assert response["Content-Language"] == language, (language, label)
            assert type(obj).objects.filter(pk=obj.pk).exists(), (language, label)


def test_the_private_facts_are_shown_to_those_allowed(world, language):
    """The control for the page-text check above: the facts really are on the
    pages of those who need them, spelled as the needles spell them (in each
    language: the admin shows a date of birth as the language writes it)."""
    shown = {
        ("admin", reverse("admin:profiles_inmateprofile_change", args=[world.profile.pk])): (
            "legal name",
            "inmate number",
            "date of birth",
        ),
        ("liaison_x", reverse("liaison:profile_detail", args=[world.profile.pk])): (
            "legal name",
            "inmate number",
        ),
        ("liaison_y", reverse("liaison:profile_detail", args=[world.profile_y.pk])): (
            "legal name",
            "inmate number",
        ),
    }
    for (role, url), kinds in shown.items():
        response = client_for(world, role, language).get(url)
        assert response.status_code == 200, (role, url)
        assert not_in_language(response, response.content.decode(), language) is None, (role, url)
        # As seen by someone who may not see them (pen pal A): what is on the page.
        found = {f.needle.kind for f in private_facts_in(response.content.decode(), A, url)}
        assert set(kinds) <= found, (role, url, found)
