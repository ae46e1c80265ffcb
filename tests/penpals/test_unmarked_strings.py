"""Every text a person reads is marked for translation.

Each page, as each kind of person gets it, is rendered in a pseudo language
whose catalogue puts every translated message between markers ("⟦Sign in⟧";
tests/penpals/pseudo_locale.py). Whatever words are left once the marked text
and the fixture's own data are taken out were never marked for translation,
or are marked but missing from the Spanish catalogue; either way a Spanish
reader would get English there.

The pages are those of the authorisation matrix (tests/security): every URL
pattern of the project, for the eight people of its world (a visitor, two pen
pals, two liaisons, a moderator, an admin, staff without MFA), then the pages
behind "confirm your password" once confirmed, each form sent empty (its
error messages), the actions of the matrix done by their owner (the message
on the page after), every email (the four letter notifications, the
protection request's confirmation, allauth's sign-up, "already exists",
password reset, unknown account, "already verified" and new address emails)
and the printed letters (as the PDF has them).

The fixture's data is rewritten so every word people typed starts with "zq"
(ZQ_DATA): such words are data, never the site's, and are taken out.

Two checks of the source cover what no rendered page reaches: the names of
our models and fields (the admin's labels) and the Python literals handed to
people (messages after a successful save, rare validation errors).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.db import models
from django.template import Context, Template
from django.test import Client
from django.test.utils import isolate_apps
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from messaging import printing
from messaging.models import Correspondence, Letter, Notification
from messaging.notifications import build_email
from messaging.services import screen_letter
from moderation.models import (
    ModerationItem,
    NoContactOrder,
    ProtectionRequest,
    Report,
    ScreeningRule,
    WritingSuspension,
)
from penpals.models import User, WorkerHeartbeat
from profiles.models import SEARCH_VECTOR, Facility, InmateProfile, ProfilePhoto
from tests.factories import PASSWORD, LetterFactory
from tests.penpals.pseudo_locale import (
    PSEUDO_LANGUAGE,
    activate_pseudo_locale,
    build_pseudo_locale,
    mark,
    unmarked_fragments,
    unmarked_literals,
    unmarked_model_names,
    visible_text,
)
from tests.security.conftest import ROLES, build_world, delete_files
from tests.security.test_authorisation_matrix import (
    POSTS,
    REAUTH,
    body_of,
    classify,
    client_for,
    post_url,
    url_for,
)
from tests.security.urls_walk import all_routes

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

# Every word of the fixture's data starts with "zq" (no word of English or
# Spanish does), so it is told apart from the site's own words.
ZQ_DATA = re.compile(r"\bzq\w*", re.IGNORECASE)

# Pages not sent empty: they would end the session or undo the second factor
# the rest of the walk needs, and have no form fields that could show an error.
NOT_POSTED_EMPTY = {"account_logout", "admin:logout", "mfa_deactivate_totp", "set_language"}
# Adding an empty heartbeat in the admin is a server error (its fields are all
# read-only), not a form with error messages.
NOT_POSTED_EMPTY.add("admin:penpals_workerheartbeat_add")

# Pages with a state the bare URL does not show, as their people see them.
EXTRA_PAGES = {
    "anonymous": [
        lambda w: reverse("directory:list") + "?q=zqnothing",  # no results
        lambda w: reverse("protection:request") + f"?profile={w.profile.slug}",
    ],
    "pen_pal_a": [lambda w: reverse("directory:list") + "?q=zqnothing"],
    "moderator": [
        lambda w: reverse("admin:moderation_moderationitem_change", args=[w.screened_item.pk]),
        lambda w: reverse("admin:moderation_moderationitem_changelist") + "?q=zqnothing",
    ],
    "admin": [
        lambda w: reverse("admin:moderation_moderationitem_change", args=[w.screened_item.pk]),
    ],
}


# --- The pseudo language and the world -------------------------------------------------------


@pytest.fixture(scope="session")
def pseudo_locale_dir(tmp_path_factory):
    return build_pseudo_locale(tmp_path_factory.mktemp("pseudo-locale"))


@pytest.fixture
def pseudo_locale(settings, pseudo_locale_dir, monkeypatch):
    activate_pseudo_locale(settings, pseudo_locale_dir, monkeypatch)
    yield
    translation.deactivate()


def disguise_data(world) -> None:
    """Rewrite what people typed in the matrix's world so each word starts
    with "zq", and give everyone the pseudo language."""
    for user in User.objects.all():
        name = f"Zquser{user.pk}" if user.display_name else ""
        User.objects.filter(pk=user.pk).update(display_name=name, language=PSEUDO_LANGUAGE)
    for facility in Facility.objects.all():
        Facility.objects.filter(pk=facility.pk).update(
            name=f"Zqfacility{facility.pk}",
            state="ZQ",
            mailing_address=f"Zqbox {facility.pk}\nZqcity, ZQ 43216",
            mail_rules="Zqwhite zqpaper zqonly.",
        )
    for profile in InmateProfile.objects.all():
        InmateProfile.objects.filter(pk=profile.pk).update(
            display_name=f"Zqinmate{profile.pk}",
            legal_name=f"Zqlegal Zqname{profile.pk}",
            inmate_number=f"ZQ{profile.pk}7731",
            bio="Zqbio zqabout zqchess.",
            interests=["zqchess", "zqreading"],
            # First a language the site does not speak: what is printed for
            # this person falls back to the site's language, the pseudo one.
            languages=["fr", "en"],
        )
    for letter in Letter.objects.all():
        body = f"Zqletter {letter.pk} zqbody." if letter.body else ""
        Letter.objects.filter(pk=letter.pk).update(body=body)
    # Summaries are the items' own words (names, letters' openings, report
    # details); what the app says about an item is in its alerts, kept.
    ModerationItem.objects.update(summary="Zqsummary")
    NoContactOrder.objects.update(name="Zqprotected Zqperson", note="Zqnote")
    ProtectionRequest.objects.update(
        requester_name="Zqrequester", profile_description="Zqsomeone", details="Zqdetails"
    )
    WritingSuspension.objects.update(reason="Zqscams")
    Report.objects.update(details="Zqreport zqdetails")
    WorkerHeartbeat.objects.update(worker="zqworker@zqhost")
    # Only the matrix's rule (the default rules are data an admin keeps).
    ScreeningRule.objects.exclude(pk=world.rule.pk).delete()
    ScreeningRule.objects.filter(pk=world.rule.pk).update(name="Zqrule", pattern="zqmatrixword")
    # The search vector (shown in the admin) from the new words.
    InmateProfile.objects.update(search_vector=SEARCH_VECTOR)
    # The admin's history names objects as they were called then.
    LogEntry.objects.update(object_repr="Zqobject")
    for name in ("facility_x", "facility_y", "profile", "profile_y", "rule"):
        getattr(world, name).refresh_from_db()
    for user in world.users.values():
        if user is not None:
            user.refresh_from_db()


def screened_letter_item(world) -> ModerationItem:
    """A letter held by screening, as the app itself writes its item."""
    letter = LetterFactory(
        correspondence=world.correspondence, body="Zqhello zqmatrixword zqfriend."
    )
    screen_letter(letter.pk)
    return ModerationItem.objects.for_object(letter).get()


def django_own_text() -> list[str]:
    """What Django itself shows untranslated, out of the project's reach: the
    permissions' names (rows written in English by `migrate`), and the names
    of the tables behind many-to-many fields ("User-group relationship:
    User_groups object (1)", on the admin's delete pages)."""
    values = list(Permission.objects.values_list("name", flat=True))
    for model in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        names = [str(model._meta.verbose_name), str(model._meta.verbose_name_plural)]
        values += names + [capfirst(name) for name in names]
        values += [str(row) for row in model.objects.all()]
    return values


def data_values(world) -> tuple[str, ...]:
    """Data that cannot start with "zq": codes, slugs, keys, stored file names,
    group names, password hashes as the admin summarises them."""
    values = [c.code for c in Correspondence.objects.all()]
    values += list(Notification.objects.values_list("key", flat=True))
    values += [f.slug for f in Facility.objects.all()]
    values += [p.slug for p in InmateProfile.objects.all()]
    values += list(Group.objects.values_list("name", flat=True))
    for photo in ProfilePhoto.objects.all():
        values += [f.name for f in (photo.original, photo.display, photo.thumbnail) if f]
    if world.profile.consent_form:
        values.append(world.profile.consent_form.name)
    values.append(world.scan.file.name)
    for user in User.objects.all():
        if user.has_usable_password():
            values += [
                str(v) for v in identify_hasher(user.password).safe_summary(user.password).values()
            ]
    values += django_own_text()
    # Typed by the matrix's own POST (tests/security/test_authorisation_matrix.py POSTS).
    values.append("Someone Protected")
    return tuple(values)


@pytest.fixture
def world(settings, pseudo_locale):
    # Ten accounts per test: the default hasher's deliberate slowness would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    built = build_world()
    disguise_data(built)
    built.screened_item = screened_letter_item(built)
    built.data_values = data_values(built)
    yield built
    delete_files(built)


# --- Checking what a response shows ---------------------------------------------------------

Finding = tuple[str, str]  # (where, the unmarked text)


def findings_in_text(text: str, world, where: str) -> list[Finding]:
    return [(where, fragment) for fragment in unmarked_fragments(text, world.data_values, ZQ_DATA)]


def findings_in_html(html: str, world, where: str) -> list[Finding]:
    return findings_in_text(visible_text(html), world, where)


def findings_in(response, world, where: str) -> list[Finding]:
    content = body_of(response)
    if response.status_code in (301, 302, 303):
        return []
    if not response.get("Content-Type", "").startswith("text/html"):
        return []  # files, the CSV template's column names, JSON for scripts
    return findings_in_html(content.decode(response.charset or "utf-8"), world, where)


def report(findings: list[Finding]) -> str:
    """One line per unmarked text: where it was first seen, and how often."""
    places: dict[str, list[str]] = {}
    for where, fragment in findings:
        places.setdefault(fragment, [])
        if where not in places[fragment]:
            places[fragment].append(where)
    return "\n".join(
        f"{fragment!r} on {wheres[0]}" + (f" (and {len(wheres) - 1} more)" if wheres[1:] else "")
        for fragment, wheres in sorted(places.items())
    )


def reauthenticate(client: Client) -> None:
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]


def has_post_form(response) -> bool:
    return response.status_code == 200 and b'method="post"' in body_of(response).lower()


# --- Pages, emails, printed letters ----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_it_marks_every_page_each_role_sees(world, role):
    client = client_for(world, role)
    findings, behind_reauthentication, forms = [], [], []
    pages = [(route.key, url_for(route, world)) for route in all_routes()]
    pages += [("extra page", extra(world)) for extra in EXTRA_PAGES.get(role, [])]
    for key, url in pages:
        response = client.get(url)
        findings += findings_in(response, world, f"GET {url} ({key})")
        if classify(response) == REAUTH:
            behind_reauthentication.append((key, url))
        elif has_post_form(response):
            forms.append((key, url))
    if behind_reauthentication:
        reauthenticate(client)
        for key, url in behind_reauthentication:
            response = client.get(url)
            findings += findings_in(response, world, f"GET {url} ({key}, password confirmed)")
            if has_post_form(response):
                forms.append((key, url))
    # Each form sent empty: its error messages.
    for key, url in forms:
        if key not in NOT_POSTED_EMPTY:
            response = client.post(url, {})
            findings += findings_in(response, world, f"POST {url} ({key}, empty)")
    assert not findings, f"Not marked for translation, as {role}:\n{report(findings)}"


@pytest.mark.parametrize("name", POSTS)
def test_it_marks_what_an_action_says_after(world, name):
    """The matrix's actions, done by their owner: the page they lead to,
    with the message each leaves there."""
    post = POSTS[name]
    if post.prepare:
        post.prepare(world)
    client = client_for(world, post.owner)
    response = client.post(post_url(world, name), post.data(world), follow=True)
    assert response.status_code == 200
    findings = findings_in(response, world, f"after POST {name}")
    assert not findings, f"Not marked for translation:\n{report(findings)}"


def findings_in_email(message, world) -> list[Finding]:
    where = f"email {message.subject!r} to {', '.join(message.to)}"
    findings = findings_in_text(message.subject, world, f"{where}, subject")
    findings += findings_in_text(message.body, world, f"{where}, text")
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            findings += findings_in_html(content, world, f"{where}, HTML")
    return findings


def test_it_marks_every_email(world, django_capture_on_commit_callbacks):
    pen_pal = world.users["pen_pal_a"]
    emails = []
    # The four notifications about letters (a rejection with its reason and note).
    Letter.objects.filter(pk=world.outbound.pk).update(
        rejection_reason=ModerationItem.Reason.MONEY, rejection_note="Zqnote"
    )
    for kind in Notification.Kind:
        notification = Notification.objects.create(
            recipient=pen_pal, kind=kind, key=f"zq-{kind}", context={"letter_id": world.outbound.pk}
        )
        emails.append(build_email(notification))

    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        # A protection request: its confirmation to the requester.
        Client().post(
            reverse("protection:request"),
            {
                "relationship": "self",
                "ask": "no_contact",
                "requester_name": "Zqrequester",
                "requester_email": "zq-requester@example.org",
                "profile_description": "Zqsomeone",
                "details": "Zqdetails.",
            },
        )
        # allauth's: a new account, a taken address, password resets for an
        # account and for an unknown address.
        signup = {"display_name": "Zqnew", "password1": "zq-Long-Passphrase-42"}
        signup["password2"] = signup["password1"]
        Client().post(reverse("account_signup"), {**signup, "email": "zq-new@example.org"})
        Client().post(reverse("account_signup"), {**signup, "email": pen_pal.email})
        Client().post(reverse("account_reset_password"), {"email": pen_pal.email})
        Client().post(reverse("account_reset_password"), {"email": "zq-nobody@example.org"})
        # New links for an unverified, a verified and an unknown address (each
        # an address not mailed above: one email per address every few minutes).
        waiting = User.objects.create_user(
            "zq-waiting@example.org", PASSWORD, language=PSEUDO_LANGUAGE
        )
        EmailAddress.objects.create(user=waiting, email=waiting.email, primary=True)
        verified = world.users["pen_pal_b"].email
        for address in (waiting.email, verified, "zq-nobody2@example.org"):
            Client().post(reverse("account_resend_verification"), {"email": address})
        # An address added to an account.
        client_for(world, "pen_pal_a").post(
            reverse("account_email"), {"action_add": "", "email": "zq-second@example.org"}
        )
    sent = "\n".join(f"{message.to}: {message.subject}" for message in mail.outbox)
    assert len(mail.outbox) == 9, sent
    emails += mail.outbox
    findings = [finding for message in emails for finding in findings_in_email(message, world)]
    assert not findings, f"Not marked for translation:\n{report(findings)}"


def test_it_marks_the_printed_letters(world):
    """The PDF is the print view without its toolbar (messaging.printing);
    the print view itself is one of the pages walked above."""
    assert world.profile.reading_language == PSEUDO_LANGUAGE
    html = printing.render_print_html(world.batch, for_pdf=True)
    assert "Zqletter" in html
    findings = findings_in_html(html, world, "the printed batch")
    assert not findings, f"Not marked for translation:\n{report(findings)}"


# --- What no page of the walk may reach --------------------------------------------------------

OUR_APPS = ("penpals", "profiles", "messaging", "moderation")


def our_python_files() -> list[Path]:
    """Our apps' modules; not migrations (history), nor management commands
    (their output is for operators, in the terminal)."""
    return [
        path
        for app in OUR_APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and "management" not in path.parts
    ]


def test_it_marks_every_model_and_field_name():
    """What the admin shows as column, label and title for our models, also
    those no page above happens to show."""
    models = [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]
    found = unmarked_model_names(models)
    assert not found, "Not marked for translation:\n" + "\n".join(found)


def test_it_marks_python_strings_shown_to_people():
    """Messages, labels, help texts and validation errors written in Python,
    also on paths no page above takes (a successful save, a rare error)."""
    found = [
        finding
        for path in our_python_files()
        for finding in unmarked_literals(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "Not marked for translation:\n" + "\n".join(found)


# --- The checks themselves ---------------------------------------------------------------------


def test_it_finds_text_that_is_not_marked(world):
    """The control: unmarked words are found; marked ones, data, script and
    identifiers are not."""
    html = Template(
        "{% load i18n %}<h1>{% translate 'Pen pal' %}</h1>"
        "<p>{{ name }} — Not marked at all</p>"
        '<img alt="An unmarked picture" src="x.png">'
        '<input type="submit" value="{% translate "Save" %}">'
        "<p>{% blocktranslate with found=name %}<strong>Possibly disguised:</strong> {{ found }}{% endblocktranslate %}</p>"
        "<code>display_name</code><script>var notText = 'hidden';</script>"
    ).render(Context({"name": world.users["pen_pal_a"].display_name}))
    assert report(findings_in_html(html, world, "the sample")) == (
        "'An unmarked picture' on the sample\n"
        f"'{world.users['pen_pal_a'].display_name} — Not marked at all' on the sample"
    )


def test_it_finds_unmarked_names_and_literals():
    """The control for the two checks of the source."""
    with isolate_apps("tests"):

        class Sample(models.Model):
            title = models.CharField(max_length=10, help_text="Plain help.")
            note = models.CharField(gettext_lazy("note"), max_length=10)

            class Meta:
                app_label = "tests"
                verbose_name = gettext_lazy("sample")

            def __str__(self) -> str:
                return self.title

    assert unmarked_model_names([Sample]) == [
        "tests.Sample: Meta.verbose_name_plural ('samples')",
        "tests.Sample.title: verbose_name ('title')",
        "tests.Sample.title: help_text ('Plain help.')",
    ]
    source = (
        "messages.success(request, 'Saved.')\n"
        "messages.info(request, _('Marked.'))\n"
        "raise ValidationError(f'Too long by {n}.')\n"
        "name = forms.CharField(label=_('Name'), help_text='Plain ' + 'help')\n"
        "code = forms.CharField(widget=forms.TextInput(attrs={'placeholder': 'Type it'}))\n"
        "admin.site.site_header = 'Staff'\n"
        "other = forms.CharField(label='')\n"
    )
    assert unmarked_literals(source, "sample.py") == [
        "sample.py:1: 'Saved.'",
        "sample.py:3: f'Too long by {n}.'",
        "sample.py:4: 'Plain ' + 'help'",
        "sample.py:5: 'Type it'",
        "sample.py:6: 'Staff'",
    ]


def test_it_shows_marked_text_between_markers(world):
    """The pseudo language is the one in use, and its catalogue has ours,
    Django's and allauth's messages, plurals and contexts."""
    assert translation.get_language() == PSEUDO_LANGUAGE
    assert translation.gettext("Pen pal") == mark("Pen pal")  # ours
    assert translation.gettext("This field is required.") == mark("This field is required.")
    assert translation.gettext("Forgot your password?") == mark("Forgot your password?")
    assert translation.ngettext("%(num)d year", "%(num)d years", 2) == mark("%(num)d years")
    assert translation.pgettext("abbrev. month", "Jan.") == mark("Jan.")
    response = client_for(world, "pen_pal_a").get(reverse("home"))
    assert response.wsgi_request.LANGUAGE_CODE == PSEUDO_LANGUAGE
