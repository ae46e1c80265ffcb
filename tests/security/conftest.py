"""The people and objects of the authorisation matrix.

Everything belongs to facility X and pen pal A, so that pen pal B and the
liaison of facility Y ask for real objects that are not theirs. Each private
file carries a marker of its own, so a response that leaks one is found
whatever URL served it.
"""

from __future__ import annotations

import io
import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin as django_admin
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image

from messaging.models import LetterScan, Notification, ScanPage, ScanRun
from messaging.services import check_create_print_batch
from moderation.models import (
    ModerationItem,
    NoContactOrder,
    ProtectionRequest,
    ScreeningRule,
    WritingSuspension,
)
from moderation.reports import check_report
from moderation.services import submit_for_review
from penpals.models import MODERATORS_GROUP, User, WorkerHeartbeat
from profiles.models import InmateProfile, LiaisonAction, ProfilePhoto
from profiles.photos import run_photo_processing
from profiles.services import do_save_favorite, record_action
from tests.factories import (
    MINIMAL_PDF,
    PASSWORD,
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    ProfilePhotoFactory,
    activate_totp,
    image_bytes,
)

# What each private file holds, so any response carrying one can be spotted.
CONSENT_MARKER = b"CONSENT-FORM-PRIVATE-3f9a"
SCAN_MARKER = b"LETTER-SCAN-PRIVATE-7c21"
# The page image of the reply's scan (what OCR read, what staff redact on).
PAGE_IMAGE_MARKER = b"SCAN-PAGE-IMAGE-PRIVATE-5e80"
# A page of a scanning run waiting in triage.
RUN_PAGE_MARKER = b"RUN-PAGE-PRIVATE-d17b"
ORIGINAL_MARKER = "PHOTO-ORIGINAL-PRIVATE-b84e"

# The private facts of the two inmates and the emails of every account. Each is
# distinctive, so a page that shows one cannot be missed, and no page shows
# one by chance (tests/security/private_facts.py says who may see which).
INMATE_X = {
    "legal_name": "Zebulon Quxley-Private",
    "inmate_number": "INM-PRIV-7731",
    "date_of_birth": date(1980, 1, 5),
}
INMATE_Y = {
    "legal_name": "Yolanda Vexmoor-Private",
    "inmate_number": "INM-PRIV-8842",
    "date_of_birth": date(1975, 11, 23),
}
EMAILS = {
    "pen_pal_a": "ada-inbox-q7k2@example.org",
    "pen_pal_b": "bea-inbox-w3m8@example.org",
    "liaison_x": "liaison-x-r5t1@example.org",
    "liaison_y": "liaison-y-h9p4@example.org",
    "moderator": "moderator-z2v6@example.org",
    "admin": "admin-k8d3@example.org",
    "staff_no_mfa": "staff-no-mfa-j4n7@example.org",
    # A pen pal without a display name: whatever names them must not fall back to this.
    "suspended": "suspended-f6c9@example.org",
}

# The columns of the matrix, in the order its table lists them.
ROLES = (
    "anonymous",
    "pen_pal_a",
    "pen_pal_b",
    "liaison_x",
    "liaison_y",
    "moderator",
    "admin",
    "staff_no_mfa",
)


def original_photo_bytes() -> bytes:
    """A real JPEG whose EXIF description carries ORIGINAL_MARKER (the pipeline strips it)."""
    exif = Image.Exif()
    exif[0x010E] = ORIGINAL_MARKER  # ImageDescription
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 160)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def build_world() -> SimpleNamespace:
    facility_x = FacilityFactory(name="Facility X", slug="facility-x")
    facility_y = FacilityFactory(name="Facility Y", slug="facility-y")
    pen_pal_a = PenPalFactory(email=EMAILS["pen_pal_a"], display_name="Ada")
    pen_pal_b = PenPalFactory(email=EMAILS["pen_pal_b"], display_name="Bea")
    liaison_x = LiaisonFactory(facility=facility_x, user__email=EMAILS["liaison_x"]).user
    liaison_y = LiaisonFactory(facility=facility_y, user__email=EMAILS["liaison_y"]).user
    moderator = ModeratorFactory(email=EMAILS["moderator"])
    admin = User.objects.create_superuser(EMAILS["admin"], PASSWORD)
    EmailAddress.objects.create(user=admin, email=admin.email, verified=True, primary=True)
    staff_no_mfa = ModeratorFactory(email=EMAILS["staff_no_mfa"])
    for user in (liaison_x, liaison_y, moderator, admin):
        activate_totp(user)

    profile = InmateProfileFactory.published(facility=facility_x, display_name="Marcus", **INMATE_X)
    # Facility Y's own inmate: what liaison X must not see, and liaison Y may.
    profile_y = InmateProfileFactory.published(
        facility=facility_y, display_name="Yusuf", **INMATE_Y
    )
    profile.consent_form.save(
        "consent.pdf", ContentFile(MINIMAL_PDF + b"%" + CONSENT_MARKER + b"\n"), save=False
    )
    profile.consent_confirmed_by = liaison_x
    profile.consent_confirmed_at = timezone.now()
    profile.save()

    # A photo through the real pipeline: original private, display and thumbnail public.
    photo = ProfilePhotoFactory(
        profile=profile,
        uploaded_by=liaison_x,
        original=ContentFile(original_photo_bytes(), name="original.jpg"),
    )
    assert run_photo_processing(photo.pk) == "ready"
    ProfilePhoto.objects.filter(pk=photo.pk).update(review_status="approved", is_primary=True)
    photo.refresh_from_db()
    InmateProfile.objects.filter(pk=profile.pk).update(primary_photo=photo)
    profile.refresh_from_db()

    correspondence = CorrespondenceFactory(pen_pal=pen_pal_a, profile=profile)
    outbound = LetterFactory(
        correspondence=correspondence,
        status="approved",
        approved_at=timezone.now(),
        body="Dear Marcus, a letter only Ada and the facility may read.",
    )
    batch = check_create_print_batch(liaison_x, facility_x, None, uuid.uuid4())
    pending = LetterFactory(correspondence=correspondence, body="A letter waiting for review.")
    pending_item = submit_for_review(
        pending, ModerationItem.Kind.LETTER_OUT, facility=facility_x, summary="Letter out"
    )
    reply = LetterFactory(
        correspondence=correspondence,
        direction="in",
        status="approved",
        body="",
        created_by=None,
        approved_at=timezone.now(),
    )
    scan = LetterScan(letter=reply, page=1, content_type="image/png")
    scan_bytes = image_bytes("PNG") + SCAN_MARKER
    scan.size = len(scan_bytes)
    scan.file.save("page.png", ContentFile(scan_bytes), save=False)
    scan.page_image.save("page.png", ContentFile(image_bytes("PNG") + PAGE_IMAGE_MARKER))
    scan.width, scan.height = 64, 48
    scan.save()
    # A scanning run of facility X, read to the end, with a page nobody could match.
    scan_run = ScanRun.objects.create(
        facility=facility_x,
        uploaded_by=liaison_x,
        idempotency_key=uuid.uuid4(),
        state=ScanRun.State.DONE,
        pages_total=1,
        pages_done=1,
    )
    scan_page = ScanPage(
        run=scan_run,
        facility=facility_x,
        number=1,
        content_hash="f" * 64,
        width=64,
        height=48,
        state=ScanPage.State.TRIAGE,
        triage_reason=ScanPage.TriageReason.UNREADABLE,
    )
    scan_page.image.save("page.jpg", ContentFile(image_bytes() + RUN_PAGE_MARKER))
    do_save_favorite(pen_pal_a, profile)
    report = check_report(pen_pal_a, reply, "money")

    suspended = PenPalFactory(email=EMAILS["suspended"], display_name="")
    record_action(liaison_x, facility_x, LiaisonAction.Kind.CONSENT_DOWNLOADED, profile=profile)
    # Staff upload replies that came by post; the facility's trail records it
    # (messaging.replies.check_upload_reply), and liaisons read that trail.
    record_action(moderator, facility_x, LiaisonAction.Kind.REPLY_UPLOADED, profile=profile)
    world = SimpleNamespace(
        users={
            "anonymous": None,
            "pen_pal_a": pen_pal_a,
            "pen_pal_b": pen_pal_b,
            "liaison_x": liaison_x,
            "liaison_y": liaison_y,
            "moderator": moderator,
            "admin": admin,
            "staff_no_mfa": staff_no_mfa,
        },
        facility_x=facility_x,
        facility_y=facility_y,
        profile=profile,
        profile_y=profile_y,
        suspended=suspended,
        photo=photo,
        correspondence=correspondence,
        outbound=outbound,
        pending=pending,
        pending_item=pending_item,
        reply=reply,
        scan=scan,
        scan_run=scan_run,
        scan_page=scan_page,
        batch=batch,
        report=report,
        no_contact_order=NoContactOrder.objects.create(
            profile=profile, name="Protected Person", email="protected@example.org"
        ),
        protection_request=ProtectionRequest.objects.create(
            profile=profile,
            relationship="self",
            ask="review",
            requester_name="Requester",
            requester_email="requester@example.org",
        ),
        suspension=WritingSuspension.objects.create(user=suspended, reason="Scams"),
        rule=ScreeningRule.objects.create(
            name="Matrix rule", category="money", pattern="matrixword", action="flag"
        ),
        notification=Notification.objects.create(
            recipient=pen_pal_a, kind="letter_approved", key=f"letter-approved:{outbound.pk}"
        ),
        heartbeat=WorkerHeartbeat.objects.create(worker="matrix@host", seen_at=timezone.now()),
        liaison_action=LiaisonAction.objects.filter(facility=facility_x).first(),
        moderators_group=Group.objects.get(name=MODERATORS_GROUP),
    )
    log_admin_history(world)
    return world


def log_admin_history(world: SimpleNamespace) -> None:
    """Admin history as the admin's own change views write it (object_repr is
    the object's str() at the time): the admin corrected the profile's private
    fields and a pen pal's account; the moderator worked the profile, the
    correspondence and the suspension of a pen pal without a display name."""
    admin, moderator = world.users["admin"], world.users["moderator"]
    for user, obj, fields in (
        (admin, world.profile, ["Legal name", "Date of birth", "Inmate number"]),
        (admin, world.users["pen_pal_a"], ["Email"]),
        (admin, world.suspended, ["Display name"]),
        (moderator, world.profile, ["Bio"]),
        (moderator, world.correspondence, ["State"]),
        (moderator, world.suspension, ["Reason"]),
    ):
        request = RequestFactory().get("/admin/")
        request.user = user
        model_admin = django_admin.site._registry[type(obj)]
        model_admin.log_change(request, obj, [{"changed": {"fields": fields}}])


def delete_files(world: SimpleNamespace) -> None:
    """The files the world stored (private and public storage outlive the test database)."""
    for field_file in (
        world.profile.consent_form,
        world.photo.original,
        world.photo.display,
        world.photo.thumbnail,
        world.scan.file,
        world.scan.page_image,
        world.scan.redacted_image,
        world.scan_page.image,
    ):
        if field_file:
            field_file.storage.delete(field_file.name)


@pytest.fixture
def world(db, settings):
    # Ten accounts per test: the default hasher's deliberate slowness would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    built = build_world()
    yield built
    delete_files(built)
