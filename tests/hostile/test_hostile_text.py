"""Hostile text in every field a person fills in, and in the query string.

Each field gets markup (a script tag, an event handler attribute, HTML
entities), direction overrides and zero-width characters, a 1 MB string, NUL
bytes, and invalid UTF-8 in the raw request. Each ends in one of two ways:
stored as typed and shown escaped on every page that shows it, or refused
with a form error. Never a 500: the test client re-raises any exception a
view lets escape, so a crash fails the test where it happens.

Names (pen pals' display names, inmate names, the names on a protection
request) lose invisible and direction-control characters (penpals.text);
free text (bios, letters, reports) keeps them, as typed.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from messaging.models import Letter
from messaging.services import screen_letter
from moderation.models import ModerationItem, ProtectionRequest, Report
from moderation.services import current_version, do_decide
from penpals.models import User
from profiles.models import InmateProfile
from profiles.services import do_submit_profile
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    UserFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>window.__pwned=1</script>"
HANDLER = '"><img src=x onerror=alert(1)>'
ENTITIES = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;b&#62;"
# All three, as one piece of free text (short enough for a card's bio preview).
MARKUP = f"{SCRIPT} {HANDLER} {ENTITIES}"
RTL_OVERRIDE = "\u202e"
ZERO_WIDTH = ("\u200b", "\ufeff")
# What spoofs a name: "Ann<RLO>gnp.exe" reads as "Annexe.png".
SPOOFED_NAME = f"{ZERO_WIDTH[1]}Ann{RTL_OVERRIDE}gnp{ZERO_WIDTH[0]}.exe"
CLEAN_NAME = "Anngnp.exe"
# Kept in free text: it may be a real bidirectional letter.
BIDI_TEXT = f"Hello {RTL_OVERRIDE}olleh{ZERO_WIDTH[0]} and {ZERO_WIDTH[1]}goodbye"
NUL_TEXT = "Hello\x00world"
ONE_MEGABYTE = "a" * 1_000_000
# Invalid UTF-8 (a lone surrogate's encoding, a stray continuation byte, 0xFF),
# percent-encoded as a client would send it and as raw bytes.
BROKEN_UTF8_ENCODED = "%ED%A0%80%C0%FF"
BROKEN_UTF8_RAW = b"\xed\xa0\x80\xc0\xff"


def assert_shown_escaped(html: str, text: str) -> None:
    """`text` is on the page as text: never as markup, and escaped exactly once."""
    for fragment in (SCRIPT, HANDLER, "<img src=x", "&lt;script&gt;alert"):
        if fragment in text:
            # The raw fragment is absent; "&lt;script&gt;alert" stays visible as typed.
            assert fragment not in html.replace(escape(fragment), "")
    assert escape(text) in html


def assert_no_raw_markup(html: str) -> None:
    assert SCRIPT not in html
    assert "<img src=x" not in html


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(liaison):
    activate_totp(liaison)
    return logged_in(liaison)


@pytest.fixture
def moderator_client(moderator_with_mfa):
    return logged_in(moderator_with_mfa)


@pytest.fixture
def superuser_client(db):
    superuser = User.objects.create_superuser("root@example.org", "correct-horse-battery-staple")
    activate_totp(superuser)
    return logged_in(superuser)


def item_page(client: Client, obj, kind: str) -> str:
    item = ModerationItem.objects.for_object(obj).filter(kind=kind).latest("created_at")
    response = client.get(reverse("admin:moderation_moderationitem_change", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- Inmate profiles (liaison portal) ------------------------------------------------


def profile_data(**overrides) -> dict:
    today = timezone.localdate()
    data = {
        "display_name": "Marcus",
        "legal_name": "Marcus Aurelius Smith",
        "inmate_number": "B-204511",
        "date_of_birth": date(today.year - 34, 1, 15).isoformat(),
        "gender": "male",
        "release_kind": "unknown",
        "release_date": "",
        "bio": "I draw and read history.",
        "interests": "drawing, history",
        "seeking": ["friendship"],
        "languages": ["en"],
        "is_accepting_letters": "on",
    }
    data.update(overrides)
    return data


def create_url(facility) -> str:
    return reverse("liaison:profile_create", args=[facility.slug])


LEGAL_NAME = f"Legal {HANDLER}"


def test_profile_markup_is_stored_as_typed_and_shown_escaped_on_every_page(
    liaison, liaison_client, facility, moderator_with_mfa, moderator_client, client
):
    response = liaison_client.post(
        create_url(facility),
        profile_data(
            display_name=SCRIPT,
            legal_name=LEGAL_NAME,
            bio=MARKUP,
            interests=f"{HANDLER}, chess",
        ),
    )
    assert response.status_code == 302
    profile = InmateProfile.objects.get(facility=facility)
    assert (profile.display_name, profile.legal_name, profile.bio) == (SCRIPT, LEGAL_NAME, MARKUP)
    assert profile.interests == [HANDLER, "chess"]

    detail = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk]))
    html = detail.content.decode()
    assert_shown_escaped(html, SCRIPT)
    assert_shown_escaped(html, LEGAL_NAME)
    html = liaison_client.get(reverse("liaison:profile_list", args=[facility.slug]))
    assert_shown_escaped(html.content.decode(), SCRIPT)
    html = liaison_client.get(reverse("liaison:profile_edit", args=[profile.pk])).content.decode()
    assert_no_raw_markup(html)
    assert escape(MARKUP) in html

    do_submit_profile(liaison, profile)
    html = item_page(moderator_client, profile, ModerationItem.Kind.PROFILE)
    assert_shown_escaped(html, SCRIPT)
    assert_shown_escaped(html, MARKUP)

    item = ModerationItem.objects.for_object(profile).pending().get()
    do_decide(item.pk, moderator_with_mfa, approve=True, seen_version=current_version(item))
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PUBLISHED
    public = client.get(reverse("directory:profile", args=[profile.slug])).content.decode()
    assert_shown_escaped(public, SCRIPT)
    assert_shown_escaped(public, MARKUP)
    assert_shown_escaped(public, HANDLER)  # the interest
    assert "Legal" not in public
    for query in ({}, {"q": "chess"}):
        listing = client.get(reverse("directory:list"), query)
        assert listing.status_code == 200
        html = listing.content.decode()
        assert_shown_escaped(html, SCRIPT)
        assert_shown_escaped(html, MARKUP)


def test_profile_markup_in_an_edit_waits_for_review_and_is_shown_escaped(
    liaison, liaison_client, facility, moderator_client
):
    profile = InmateProfileFactory.published(facility=facility, inmate_number="B-204511")
    response = liaison_client.post(
        reverse("liaison:profile_edit", args=[profile.pk]),
        profile_data(display_name="Marcus", bio=MARKUP, interests=f"{HANDLER}, chess"),
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.pending_changes["bio"] == MARKUP
    html = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk]))
    assert_shown_escaped(html.content.decode(), MARKUP)
    # The change's item page names the changed fields, not their text.
    assert_no_raw_markup(item_page(moderator_client, profile, ModerationItem.Kind.PROFILE_CHANGE))


def test_profile_names_lose_direction_and_zero_width_characters_and_the_bio_keeps_them(
    liaison_client, facility
):
    response = liaison_client.post(
        create_url(facility),
        profile_data(
            display_name=SPOOFED_NAME,
            legal_name=f"Marcus{ZERO_WIDTH[0]} {RTL_OVERRIDE}Smith",
            bio=BIDI_TEXT,
            interests=f"ch{ZERO_WIDTH[0]}ess, {RTL_OVERRIDE}poetry",
        ),
    )
    assert response.status_code == 302
    profile = InmateProfile.objects.get(facility=facility)
    assert profile.display_name == CLEAN_NAME
    assert profile.legal_name == "Marcus Smith"
    assert profile.interests == ["chess", "poetry"]
    assert profile.bio == BIDI_TEXT


def test_a_name_of_only_invisible_characters_is_refused(liaison_client, facility):
    response = liaison_client.post(
        create_url(facility), profile_data(display_name=f"{RTL_OVERRIDE}{ZERO_WIDTH[0]}")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["display_name"]
    assert not InmateProfile.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("display_name", NUL_TEXT, "Null characters are not allowed."),
        ("legal_name", NUL_TEXT, "Null characters are not allowed."),
        ("inmate_number", "B-1\x00", "Null characters are not allowed."),
        ("bio", NUL_TEXT, "Null characters are not allowed."),
        ("interests", f"chess, {NUL_TEXT}", "Null characters are not allowed."),
        ("display_name", ONE_MEGABYTE, "at most 80 characters"),
        ("legal_name", ONE_MEGABYTE, "at most 200 characters"),
        ("inmate_number", ONE_MEGABYTE, "at most 40 characters"),
        ("bio", ONE_MEGABYTE, "at most 4000 characters"),
        ("interests", ONE_MEGABYTE, "at most 40 characters"),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else value,
)
def test_profile_fields_refuse_nul_bytes_and_huge_text_with_a_message(
    liaison_client, facility, field, value, message
):
    response = liaison_client.post(create_url(facility), profile_data(**{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not InmateProfile.objects.exists()
    # The same on an edit, where public text of a listed profile waits in a JSON column.
    profile = InmateProfileFactory.published(facility=facility, inmate_number="B-204511")
    response = liaison_client.post(
        reverse("liaison:profile_edit", args=[profile.pk]), profile_data(**{field: value})
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    profile.refresh_from_db()
    assert profile.pending_changes == {}


def test_profile_list_search_takes_hostile_queries(liaison_client, facility):
    InmateProfileFactory(facility=facility, display_name="Marcus")
    url = reverse("liaison:profile_list", args=[facility.slug])
    for query in (SCRIPT, NUL_TEXT, ONE_MEGABYTE, SPOOFED_NAME):
        response = liaison_client.get(url, {"q": query})
        assert response.status_code == 200
        assert_no_raw_markup(response.content.decode())
    response = liaison_client.get(url, QUERY_STRING=f"q={BROKEN_UTF8_ENCODED}&status=%00")
    assert response.status_code == 200


# --- CSV import (text cells; the file's structure is tests/hostile/test_csv_hostile.py) ----


def csv_upload(rows: list[dict]) -> SimpleUploadedFile:
    header = [
        "inmate_number", "legal_name", "display_name", "date_of_birth", "gender",
        "release_kind", "release_date", "bio", "interests", "seeking", "languages",
        "accepting_letters",
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                "legal_name": "Marcus Smith",
                "display_name": "Marcus",
                "date_of_birth": "1980-02-03",
                "gender": "male",
                "languages": "en",
                **row,
            }
        )
    return SimpleUploadedFile("people.csv", out.getvalue().encode(), content_type="text/csv")


def test_csv_cells_with_markup_are_stored_as_typed_and_reported_escaped(liaison_client, facility):
    upload = csv_upload(
        [
            {"inmate_number": "C-1", "display_name": SCRIPT, "bio": MARKUP, "interests": HANDLER},
            {"inmate_number": "C-2", "display_name": SPOOFED_NAME, "bio": BIDI_TEXT},
        ]
    )
    response = liaison_client.post(
        reverse("liaison:csv_import", args=[facility.slug]), {"csv_file": upload}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert_shown_escaped(html, SCRIPT)
    first, second = InmateProfile.objects.filter(facility=facility).order_by("inmate_number")
    assert (first.display_name, first.bio, first.interests) == (SCRIPT, MARKUP, [HANDLER])
    assert (second.display_name, second.bio) == (CLEAN_NAME, BIDI_TEXT)


def test_a_csv_cell_with_a_nul_byte_refuses_the_file_with_a_reason(liaison_client, facility):
    upload = csv_upload(
        [
            {"inmate_number": "C-1", "bio": "A fine row."},
            {"inmate_number": "C-2", "interests": f"chess; {NUL_TEXT}"},
        ]
    )
    response = liaison_client.post(
        reverse("liaison:csv_import", args=[facility.slug]), {"csv_file": upload}
    )
    assert response.status_code == 200
    [error] = response.context["form"].errors["csv_file"]
    assert "contains NUL characters" in error
    assert not InmateProfile.objects.exists()


def test_huge_csv_cells_are_refused_with_a_reason(liaison_client, facility):
    url = reverse("liaison:csv_import", args=[facility.slug])
    # 100 kB: within the CSV reader's cell limit, so the profile rules reject the row.
    upload = csv_upload(
        [
            {"inmate_number": "C-1", "bio": "b" * 100_000},
            {"inmate_number": "C-2", "display_name": "d" * 100_000},
            {"inmate_number": "C-3", "bio": "A fine row."},
        ]
    )
    html = liaison_client.post(url, {"csv_file": upload}).content.decode()
    assert "at most 4000 characters" in html and "at most 80 characters" in html
    assert list(InmateProfile.objects.values_list("inmate_number", flat=True)) == ["C-3"]
    # 1 MB: past the reader's cell limit, the file is refused, naming the row.
    upload = csv_upload([{"inmate_number": "C-4", "bio": ONE_MEGABYTE}])
    response = liaison_client.post(url, {"csv_file": upload})
    assert response.status_code == 200
    assert "Row 2" in " ".join(response.context["form"].errors["csv_file"])
    assert not InmateProfile.objects.filter(inmate_number="C-4").exists()


# --- Letters and reports (pen pal) ----------------------------------------------------


@pytest.fixture
def profile(db):
    return InmateProfileFactory.published(display_name="Marcus")


def write(client: Client, profile, body: str):
    return client.post(
        reverse("letters:write", args=[profile.slug]),
        {"body": body, "idempotency_key": str(uuid.uuid4())},
    )


def test_a_letter_with_markup_is_kept_as_typed_and_shown_escaped(
    alice, profile, moderator_client, default_screening_rules
):
    client = logged_in(alice)
    body = f"{MARKUP}\n{BIDI_TEXT}"
    response = write(client, profile, body)
    assert response.status_code == 302
    letter = Letter.objects.get()
    assert letter.body == body
    thread = client.get(response["Location"]).content.decode()
    assert_shown_escaped(thread, MARKUP)
    assert BIDI_TEXT in thread
    inbox = client.get(reverse("letters:inbox")).content.decode()
    assert_no_raw_markup(inbox)
    screen_letter(letter.pk)
    html = item_page(moderator_client, letter, ModerationItem.Kind.LETTER_OUT)
    assert_no_raw_markup(html)
    assert escape(SCRIPT) in html


def test_a_letter_excerpt_keeps_its_direction_changes_to_itself(alice, profile):
    """The inbox quotes the start of a letter inline; an unclosed RTL override
    in it must not reverse the page's text after it (the quote, the status)."""
    client = logged_in(alice)
    assert write(client, profile, BIDI_TEXT).status_code == 302
    inbox = client.get(reverse("letters:inbox")).content.decode()
    assert f"“<bdi>{BIDI_TEXT}</bdi>”" in inbox


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (NUL_TEXT, "Null characters are not allowed."),
        (ONE_MEGABYTE, "Letters can be at most 13,000 characters; this one has 1,000,000."),
    ],
    ids=["nul", "1MB"],
)
def test_a_letter_with_nul_bytes_or_a_megabyte_is_refused_with_a_message(
    alice, profile, body, message
):
    response = write(logged_in(alice), profile, body)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Letter.objects.exists()


@pytest.fixture
def reply(alice, profile):
    return LetterFactory(
        correspondence=CorrespondenceFactory(pen_pal=alice, profile=profile),
        direction="in",
        status="approved",
        created_by=None,
        approved_at=timezone.now(),
    )


def test_a_report_with_markup_is_stored_and_shown_escaped_to_staff(alice, reply, moderator_client):
    url = reverse("letters:report", args=[reply.pk])
    response = logged_in(alice).post(url, {"reason": "other", "details": MARKUP})
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.details == MARKUP
    html = moderator_client.get(reverse("admin:moderation_report_change", args=[report.pk]))
    assert html.status_code == 200
    assert_shown_escaped(html.content.decode(), MARKUP)
    assert_no_raw_markup(item_page(moderator_client, report, ModerationItem.Kind.REPORT))


@pytest.mark.parametrize(
    ("details", "message"),
    [(NUL_TEXT, "Null characters are not allowed."), (ONE_MEGABYTE, "at most 4000 characters")],
    ids=["nul", "1MB"],
)
def test_a_report_with_nul_bytes_or_a_megabyte_is_refused_with_a_message(
    alice, reply, details, message
):
    url = reverse("letters:report", args=[reply.pk])
    response = logged_in(alice).post(url, {"reason": "other", "details": details})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["details"])
    assert not Report.objects.exists()


# --- The public protection request ------------------------------------------------------

PROTECTION_URL = reverse("protection:request")


def protection_post(**overrides) -> dict:
    return {
        "profile_description": "Marcus, Lakeside",
        "relationship": "self",
        "ask": "no_contact",
        "requester_name": "Dana Person",
        "requester_email": "dana@example.org",
        "details": "",
        **overrides,
    }


def test_a_protection_request_with_markup_is_stored_and_shown_escaped_to_staff(
    client, superuser_client
):
    response = client.post(
        PROTECTION_URL,
        protection_post(
            profile_description=SCRIPT,
            requester_name=SPOOFED_NAME,
            protected_name=HANDLER,
            details=f"{MARKUP} {BIDI_TEXT}",
        ),
    )
    assert response.status_code == 302
    request = ProtectionRequest.objects.get()
    assert request.profile_description == SCRIPT
    assert request.requester_name == CLEAN_NAME
    assert request.protected_name == HANDLER
    assert request.details == f"{MARKUP} {BIDI_TEXT}"
    url = reverse("admin:moderation_protectionrequest_change", args=[request.pk])
    html = superuser_client.get(url).content.decode()
    assert_no_raw_markup(html)
    assert escape(SCRIPT) in html
    assert_no_raw_markup(item_page(superuser_client, request, ModerationItem.Kind.REPORT))


@pytest.mark.parametrize("field", ["profile_description", "requester_name", "details"])
@pytest.mark.parametrize(
    ("value", "message"),
    [(NUL_TEXT, "Null characters are not allowed."), (ONE_MEGABYTE, "")],
    ids=["nul", "1MB"],
)
def test_a_protection_request_refuses_nul_bytes_and_huge_text_with_a_message(
    client, field, value, message
):
    response = client.post(PROTECTION_URL, protection_post(**{field: value}))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors and errors
    assert not ProtectionRequest.objects.exists()


@pytest.mark.parametrize("slug", ["%00", "%ED%A0%80", "x" * 2000, "%3Cscript%3E"])
def test_the_protection_page_takes_any_profile_parameter(client, slug):
    response = client.get(PROTECTION_URL, QUERY_STRING=f"profile={slug}")
    assert response.status_code == 200
    # Not a profile: the form asks who it is about.
    assert 'name="profile_description"' in response.content.decode()
    assert_no_raw_markup(response.content.decode())


# --- Display names (account settings) -------------------------------------------------

SETTINGS_URL = reverse("account_settings")


def test_a_display_name_with_markup_is_stored_and_shown_escaped(alice, profile, liaison):
    client = logged_in(alice)
    response = client.post(SETTINGS_URL, {"display_name": SCRIPT})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == SCRIPT
    html = client.get(SETTINGS_URL).content.decode()
    assert_shown_escaped(html, SCRIPT)


def test_a_display_name_loses_direction_and_zero_width_characters(alice):
    response = logged_in(alice).post(SETTINGS_URL, {"display_name": SPOOFED_NAME})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == CLEAN_NAME


@pytest.mark.parametrize(
    ("value", "message"),
    [(NUL_TEXT, "Null characters are not allowed."), (ONE_MEGABYTE, "at most 60 characters")],
    ids=["nul", "1MB"],
)
def test_a_display_name_with_nul_bytes_or_a_megabyte_is_refused(alice, value, message):
    response = logged_in(alice).post(SETTINGS_URL, {"display_name": value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["display_name"])
    alice.refresh_from_db()
    assert alice.display_name == "Alice"


def test_the_signup_form_cleans_the_display_name_the_same_way(client, db):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.org",
            "password1": "correct-horse-battery-staple",
            "password2": "correct-horse-battery-staple",
            "display_name": SPOOFED_NAME,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="new@example.org").display_name == CLEAN_NAME
    response = client.post(
        reverse("account_signup"),
        {
            "email": "other@example.org",
            "password1": "correct-horse-battery-staple",
            "password2": "correct-horse-battery-staple",
            "display_name": NUL_TEXT,
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="other@example.org").exists()


# --- The directory's search box and query string ---------------------------------------

DIRECTORY_URL = reverse("directory:list")


@pytest.mark.parametrize(
    "query_string",
    [
        "q=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E",
        "q=%22%3E%3Cimg+src%3Dx+onerror%3Dalert(1)%3E",
        "q=%26lt%3Bscript%26gt%3B",
        "q=Mar%E2%80%AEcus%E2%80%8B",
        "q=%00",
        "q=Marcus%00",
        f"q={BROKEN_UTF8_ENCODED}",
        f"q=Marcus{BROKEN_UTF8_ENCODED}",
        "q=" + "a" * 1_000_000,
        "state=%00&facility=%00&gender=%00&sort=%00&page=%00&age_min=%00&release=%00",
        f"facility={BROKEN_UTF8_ENCODED}&state={BROKEN_UTF8_ENCODED}&page=%ED%A0%80",
        "q=%EF%BF%BF%F4%8F%BF%BF",  # noncharacters: valid UTF-8, never a letter
    ],
    ids=[
        "script",
        "handler",
        "entities",
        "rtl",
        "nul",
        "nul-in-word",
        "bad-utf8",
        "bad-utf8-in-word",
        "1MB",
        "nul-everywhere",
        "bad-utf8-everywhere",
        "noncharacters",
    ],  # fmt: skip
)
def test_the_directory_answers_any_query_string(client, profile, query_string):
    response = client.get(DIRECTORY_URL, QUERY_STRING=query_string)
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_raw_markup(html)
    assert "<img src=x" not in html


def test_the_directory_shows_a_hostile_query_escaped_in_the_search_box(client, profile):
    response = client.get(DIRECTORY_URL, {"q": HANDLER})
    html = response.content.decode()
    assert f'value="{escape(HANDLER)}"' in html
    assert HANDLER not in html


def test_the_directory_says_why_it_ignored_a_nul_byte_or_a_huge_query(client, profile):
    response = client.get(DIRECTORY_URL, QUERY_STRING="q=Marcus%00")
    assert response.context["form"].errors["q"] == ["Null characters are not allowed."]
    response = client.get(DIRECTORY_URL, {"q": ONE_MEGABYTE})
    assert "at most 100 characters" in response.context["form"].errors["q"][0]


def test_the_directory_finds_a_name_through_invisible_characters(client, profile):
    response = client.get(DIRECTORY_URL, {"q": f"Mar{ZERO_WIDTH[0]}cus"})
    assert response.status_code == 200
    assert profile.slug in response.content.decode()


@pytest.mark.parametrize(
    "path",
    ["/inmates/%ED%A0%80/", "/inmates/%FF/", "/inmates/a%00b/", "/letters/write/%00/"],
)
def test_broken_paths_are_not_found(client, path):
    assert client.get(path).status_code == 404


# --- Staff: the screening rules' "try it" box and the queue's search box -------------------

TRY_URL = reverse("admin:moderation_screeningrule_try")


def test_the_try_box_keeps_direction_and_zero_width_characters_and_refuses_a_megabyte(
    superuser_client, default_screening_rules
):
    # Markup, NUL and 20,001 characters: tests/moderation/test_try_rules.py.
    text = f"{BIDI_TEXT} send money by cash{ZERO_WIDTH[0]}app {SCRIPT}"
    response = superuser_client.post(TRY_URL, {"text": text, "scope": "outbound"})
    assert response.status_code == 200
    assert "money" in response.context["result"].categories
    html = response.content.decode()
    assert_no_raw_markup(html)
    assert RTL_OVERRIDE in html and escape(SCRIPT) in html
    response = superuser_client.post(TRY_URL, {"text": ONE_MEGABYTE, "scope": "outbound"})
    assert "Paste at most 20,000 characters" in response.content.decode()
    assert response.context["result"] is None


@pytest.mark.parametrize(
    "query_string",
    [
        "q=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E",
        "q=%00",
        f"q={BROKEN_UTF8_ENCODED}",
        "q=Mar%E2%80%AEcus",
        "q=" + "a" * 100_000,
        "kind=%00",
        "status=%00",
        "flag=%00",
        "age=%00",
        "claimed=%00",
        "facility__id__exact=%00",
        "kind=%3Cscript%3E&flag=%3Cscript%3E",
    ],
    ids=[
        "script",
        "nul",
        "bad-utf8",
        "rtl",
        "100kB",
        "nul-kind",
        "nul-status",
        "nul-flag",
        "nul-age",
        "nul-claimed",
        "nul-facility",
        "script-filters",
    ],  # fmt: skip
)
def test_the_moderation_queue_search_answers_any_query_string(moderator_client, query_string):
    url = reverse("admin:moderation_moderationitem_changelist")
    response = moderator_client.get(url, QUERY_STRING=query_string)
    if "%00" in query_string:
        # penpals.middleware: the admin's filters would put it in a query.
        assert response.status_code == 400
    else:
        # 302: the admin's own answer to filter values it does not know (?e=1).
        assert response.status_code in (200, 302)
    assert_no_raw_markup(response.content.decode())


def filter_parameters(model_admin) -> list[str]:
    """The query parameters of an admin list's filters (and its search box)."""
    names = ["q"]
    for list_filter in model_admin.list_filter:
        if isinstance(list_filter, tuple):
            list_filter = list_filter[0]
        if isinstance(list_filter, str):
            # A field's filter reads one of these, by the field's kind.
            names += [list_filter, f"{list_filter}__exact", f"{list_filter}__id__exact"]
        else:
            names.append(list_filter.parameter_name)
    return names


def test_no_admin_list_filter_takes_a_nul_byte_to_the_database(superuser_client):
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        for name in filter_parameters(model_admin):
            response = superuser_client.get(url, QUERY_STRING=f"{name}=a%00b")
            assert response.status_code == 400, (url, name)


# --- Invalid UTF-8 in the raw request body of every form ----------------------------------


def post_raw(client: Client, url: str, body: bytes):
    return client.generic("POST", url, body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("broken", [BROKEN_UTF8_ENCODED.encode(), BROKEN_UTF8_RAW])
def test_a_letter_with_invalid_utf8_is_stored_with_replacement_characters(alice, profile, broken):
    key = uuid.uuid4()
    body = b"body=Hello+" + broken + b"+friend&idempotency_key=" + str(key).encode()
    response = post_raw(logged_in(alice), reverse("letters:write", args=[profile.slug]), body)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        letter = Letter.objects.get()
        assert letter.body.startswith("Hello ") and letter.body.endswith(" friend")
        # Whatever the decoder made of the bytes, it is text Postgres stores and
        # UTF-8 can encode: no lone surrogate survives.
        letter.body.encode("utf-8")


@pytest.mark.parametrize("broken", [BROKEN_UTF8_ENCODED.encode(), BROKEN_UTF8_RAW])
def test_every_text_form_takes_invalid_utf8_without_a_500(
    alice, reply, liaison_client, facility, superuser_client, broken
):
    forms = [
        (logged_in(alice), SETTINGS_URL, b"display_name=A" + broken),
        (logged_in(alice), reverse("letters:report", args=[reply.pk]),
         b"reason=other&details=" + broken),
        (Client(), PROTECTION_URL,
         b"relationship=self&ask=review&profile_description=" + broken
         + b"&requester_name=" + broken + b"&requester_email=a%40example.org&details=" + broken),
        (liaison_client, create_url(facility),
         b"display_name=M" + broken + b"&legal_name=L" + broken + b"&inmate_number=B-1"
         + b"&date_of_birth=1980-01-01&gender=male&release_kind=unknown&languages=en"
         + b"&bio=" + broken + b"&interests=" + broken),
        (superuser_client, reverse("admin:moderation_screeningrule_try"),
         b"scope=outbound&text=" + broken),
    ]  # fmt: skip
    for client, url, body in forms:
        response = post_raw(client, url, body)
        assert response.status_code in (200, 302), url
    for text in [
        *User.objects.values_list("display_name", flat=True),
        *Report.objects.values_list("details", flat=True),
        *ProtectionRequest.objects.values_list("requester_name", "details"),
        *InmateProfile.objects.values_list("display_name", "bio"),
    ]:
        for value in text if isinstance(text, tuple) else (text,):
            value.encode("utf-8")


def test_a_multipart_body_with_invalid_utf8_is_no_500(liaison_client, facility):
    boundary = "hostile"
    fields = {
        "display_name": b"M\xff",
        "legal_name": b"L\xed\xa0\x80",
        "inmate_number": b"B-1",
        "date_of_birth": b"1980-01-01",
        "gender": b"male",
        "release_kind": b"unknown",
        "languages": b"en",
        "bio": BROKEN_UTF8_RAW,
    }
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
            for name, value in fields.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    response = liaison_client.generic(
        "POST",
        create_url(facility),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code in (200, 302)


def test_text_in_another_display_name_is_escaped_in_the_print_queue(
    liaison_client, facility, default_screening_rules
):
    writer = UserFactory(display_name=SCRIPT)
    correspondence = CorrespondenceFactory(
        pen_pal=writer, profile=InmateProfileFactory.published(facility=facility)
    )
    LetterFactory(correspondence=correspondence, status="approved", approved_at=timezone.now())
    html = liaison_client.get(reverse("liaison_letters:queue", args=[facility.slug]))
    assert html.status_code == 200
    assert_shown_escaped(html.content.decode(), SCRIPT)
