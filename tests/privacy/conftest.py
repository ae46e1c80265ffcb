"""The demo world the privacy crawler walks: `seed_demo` (returned letters
included), plus the flows that put other people's details in the database
and send email, and a scanning run with pages to sort at each facility.

Seeding takes several seconds, so it happens once per module and language,
inside a transaction that is rolled back afterwards; each test runs in a
savepoint inside it (pytest-django's `db`), as Django's TestCase.setUpTestData
does.

The world is built in each language of the site: in the Spanish one every
account has Spanish saved (a signed-in person's saved language wins over what
their browser asks for), the flows are sent from Spanish pages, so the emails
go out in Spanish, and the crawlers' clients ask for Spanish (`speaking`).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from devtools.management.commands.seed_demo import DEMO_ACCOUNTS
from messaging import intake
from messaging.models import Correspondence, Letter, LetterScan, Notification, ScanPage, ScanRun
from messaging.notifications import deliver_notification
from messaging.replies import upload_refusal
from moderation.models import ProtectionRequest
from penpals.models import User
from profiles.models import Facility, FacilityLiaison, InmateProfile, ProfilePhoto
from tests.privacy.crawler import Needle, date_spellings

PEN_PALS = [email for email, _name, role in DEMO_ACCOUNTS if role == "pen pal"]

# Someone without an account asks for protection from a listed person. Their
# name, email and home address (given in the free-text details, as people do)
# must never reach anyone but them.
REQUESTER = {
    "name": "Rosalind Quartermaine",
    "email": "rosalind.q@victims.example.net",
    "address": "1428 Elm Street, Springwood, OH 43004",
}


LANGUAGES = [code for code, _name in settings.LANGUAGES]


def speaking(client: Client, language: str) -> Client:
    """`client`, asking for pages in `language` as a browser set to it does."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client


@dataclass
class DemoWorld:
    language: str  # every account's saved language, and the pages' the flows used
    profiles: list[InmateProfile]
    emails: list[mail.EmailMessage]
    # Private facts, by whose they are.
    inmate_needles: list[Needle] = field(default_factory=list)
    person_needles: list[Needle] = field(default_factory=list)

    def needles_hidden_from(self, email: str | None) -> list[Needle]:
        """Every private fact `email`'s owner (None: a visitor) must not see."""
        return self.inmate_needles + [n for n in self.person_needles if n.owner != email]


def inmate_needles(profiles) -> list[Needle]:
    needles = []
    for profile in profiles:
        owner, facility = f"inmate {profile.pk}", profile.facility_id
        needles += [
            Needle("date of birth", text, owner, facility)
            for text in date_spellings(profile.date_of_birth)
        ]
        needles.append(Needle("legal name", profile.legal_name, owner, facility))
        needles.append(Needle("inmate number", profile.inmate_number, owner, facility))
        if profile.consent_form:
            name = profile.consent_form.name
            needles.append(Needle("consent form path", name, owner, facility))
            needles.append(
                Needle("consent form file name", name.rsplit("/", 1)[-1], owner, facility)
            )
    # Private storage folders: no page should even name them.
    for folder in ("consent-forms/", "photos/originals/", "letter-scans/"):
        needles.append(Needle("private storage path", folder, "private storage"))
    for photo in ProfilePhoto.objects.exclude(original="").select_related("profile"):
        # The original's random name: a public variant named after it would
        # tell anyone where the private original is.
        stem = photo.original.name.rsplit("/", 1)[-1]
        needles.append(
            Needle(
                "photo original name",
                stem,
                f"inmate {photo.profile_id}",
                photo.profile.facility_id,
            )
        )
    for scan in LetterScan.objects.select_related("letter__correspondence__profile"):
        stem = scan.file.name.rsplit("/", 1)[-1]
        facility = scan.letter.correspondence.profile.facility_id
        needles.append(Needle("scan file name", stem, "letter scan", facility))
    for page in ScanPage.objects.exclude(image=""):
        stem = page.image.name.rsplit("/", 1)[-1]
        needles.append(Needle("scanned page file name", stem, "scanned page", page.facility_id))
    return needles


def person_needles() -> list[Needle]:
    """Emails of every account, the protection requester's details, and each
    pen pal's correspondence codes and letters (theirs alone to see)."""
    needles = [Needle("email", user.email, user.email) for user in User.objects.all()]
    for key, kind in (("name", "name"), ("email", "email"), ("address", "postal address")):
        needles.append(Needle(kind, REQUESTER[key], REQUESTER["email"]))
    for correspondence in Correspondence.objects.select_related("pen_pal", "profile"):
        owner, facility = correspondence.pen_pal.email, correspondence.profile.facility_id
        needles.append(Needle("correspondence code", correspondence.code, owner, facility))
        for letter in Letter.objects.outbound().filter(correspondence=correspondence):
            needles.append(Needle("letter text", letter.body[:60], owner, facility))
    return needles


def run_demo_flows(anonymous: Client) -> None:
    """The flows that send email: a protection request through the public page,
    a password reset, and the outbox rows seed_demo's letters left pending."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = anonymous.post(
            reverse("protection:request"),
            {
                "relationship": "self",
                "ask": "no_contact",
                "requester_name": REQUESTER["name"],
                "requester_email": REQUESTER["email"],
                "profile_description": "Someone at Riverbend",
                "details": f"He knows I live at {REQUESTER['address']}. Please help.",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ProtectionRequest.objects.filter(requester_email=REQUESTER["email"]).exists()
    response = anonymous.post(reverse("account_reset_password"), {"email": PEN_PALS[0]})
    assert response.status_code == 302
    for notification in Notification.objects.filter(state=Notification.State.PENDING):
        deliver_notification(notification.pk)


def scanned_page() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (170, 220), 245).save(buffer, "JPEG")
    return buffer.getvalue()


def add_scanning_runs() -> None:
    """A scanning run read to the end at each facility, uploaded by its liaison (or the demo admin, for replies that came by
    post): page 1 put in a reply by hand from triage (messaging.intake), page
    2 carrying another facility's reply reference, page 3 still waiting to be
    sorted, page 4 blank. What intake's own tests check is how a run is read;
    here it is what the run's pages show, and to whom."""
    admin = User.objects.get(email="admin@example.org")
    correspondences = list(
        Correspondence.objects.select_related("profile__facility").order_by("pk")
    )
    for facility in Facility.objects.order_by("pk"):
        membership = FacilityLiaison.objects.filter(facility=facility).order_by("pk").first()
        uploader = membership.user if membership else admin
        own = [c for c in correspondences if c.profile.facility_id == facility.pk]
        elsewhere = [c for c in correspondences if c.profile.facility_id != facility.pk]
        run = ScanRun.objects.create(
            facility=facility,
            uploaded_by=uploader,
            idempotency_key=uuid.uuid4(),
            state=ScanRun.State.DONE,
            pages_total=4,
            pages_done=4,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        triage = (ScanPage.State.TRIAGE, ScanPage.TriageReason.UNREADABLE, "")
        pages = [
            triage,
            (
                ScanPage.State.TRIAGE,
                ScanPage.TriageReason.OTHER_FACILITY,
                elsewhere[0].code if elsewhere else "",
            ),
            triage,
            (ScanPage.State.BLANK, "", ""),
        ]
        stored = []
        for number, (state, reason, code) in enumerate(pages, start=1):
            content = scanned_page() + f"{facility.pk}:{number}".encode()
            page = ScanPage(
                run=run,
                facility=facility,
                number=number,
                content_hash=hashlib.sha256(content).hexdigest(),
                width=170,
                height=220,
                state=state,
                triage_reason=reason,
                mark_code=code,
            )
            page.image.save("page.jpg", ContentFile(content))
            stored.append(page)
        if takes_replies := [c for c in own if not upload_refusal(c)]:
            intake.assign_page(uploader, stored[0], takes_replies[0].code)


@pytest.fixture(scope="module", params=LANGUAGES)
def demo_world(request, django_db_setup, django_db_blocker):
    language = request.param
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        stored_files = []
        try:
            # seed_demo refuses to run with DEBUG off; the pages are crawled with it off.
            with override_settings(DEBUG=True):
                call_command("seed_demo", verbosity=0)
            User.objects.update(language=language)
            mail.outbox = []
            run_demo_flows(speaking(Client(), language))
            add_scanning_runs()
            profiles = list(InmateProfile.objects.select_related("facility"))
            world = DemoWorld(language=language, profiles=profiles, emails=list(mail.outbox))
            world.inmate_needles = inmate_needles(profiles)
            world.person_needles = person_needles()
            stored_files = [
                *(p.consent_form for p in profiles if p.consent_form),
                *(
                    f
                    for photo in ProfilePhoto.objects.all()
                    for f in (photo.original, photo.display, photo.thumbnail)
                    if f
                ),
                *(scan.file for scan in LetterScan.objects.all()),
                *(page.image for page in ScanPage.objects.exclude(image="")),
            ]
            yield world
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            # The rows are gone; their files would stay behind in storage.
            for stored in stored_files:
                stored.storage.delete(stored.name)


@pytest.fixture
def private_dir(tmp_path, settings, monkeypatch):
    """Private storage (scans, photo originals) in a folder of this test's own,
    so a test sees exactly which files exist."""
    from django.core.files.storage import storages

    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    monkeypatch.setattr(LetterScan._meta.get_field("file"), "storage", storages["private"])
    monkeypatch.setattr(ProfilePhoto._meta.get_field("original"), "storage", storages["private"])
    return location
