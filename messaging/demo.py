"""Demo letters for `make run`: conversations in every state, a print queue with
letters waiting at the demo liaison's facility, and replies with generated scans.

Every letter goes through the same services as in production (screening,
moderation decisions, print batch, delivery), so the demo shows real screening
hits, real audit records and real outbox rows.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from messaging.models import Correspondence, Letter, LetterScan
from messaging.services import (
    check_create_print_batch,
    close_correspondences,
    do_mark_delivered,
    do_write_letter,
    screen_letter,
)
from moderation.models import ModerationItem
from moderation.services import do_decide
from penpals.models import User
from profiles.models import InmateProfile

# (pen pal, facility slug, [(letter text, what happens to it)], reply) per conversation.
# What happens: "submitted" (the worker screens it when `make run` starts),
# "review" (screened, waiting for a moderator), "approved" (in the print queue),
# "rejected", "delivered".
DEMO_CONVERSATIONS = [
    (
        "alex@example.org",
        "riverbend-state",
        [
            (
                "Hi! I saw that you like chess and old westerns. I've been learning the "
                "Sicilian defence and losing a lot. What got you into chess?",
                "delivered",
            ),
            (
                "Thanks for your letter! I laughed at the story about the library cart. "
                "This week I planted tomatoes; they are already taller than my dog.",
                "approved",
            ),
        ],
        ("approved", "Thank you for writing. Chess keeps me sane in here. My uncle taught me."),
    ),
    (
        "alex@example.org",
        "riverbend-state",
        [
            (
                "Hello, I'm Alex. If you ever need anything just send me your cash app "
                "and I can help out. My number is 555-867-5309.",
                "review",
            ),
        ],
        None,
    ),
    (
        "alex@example.org",
        "fci-high-plains",
        [
            (
                "I can put money on your books through JPay if you send me your details.",
                "rejected",
            ),
            ("Sorry about my last letter. How is the education program going?", "submitted"),
        ],
        None,
    ),
    (
        "sam@example.org",
        "riverbend-state",
        [
            ("Dear friend, I read your profile and loved your poem about the river.", "delivered"),
            ("I finished the book you recommended. The ending surprised me.", "approved"),
        ],
        ("review", "I am glad the book reached you. Write me about your city."),
    ),
    (
        "sam@example.org",
        "cedar-county-jail",
        # Cedar County reviews flagged letters only: a clean letter is approved at once.
        [("Hi! I'm Sam, I teach music. Do you play an instrument?", "approved")],
        None,
    ),
]

REJECTION_NOTE = "Letters can't offer or ask for money. You're welcome to write again."


def _scan_page(text: str) -> bytes:
    """A plain page with the reply's words on it, standing in for a scanned letter."""
    page = Image.new("L", (850, 1100), 250)
    draw = ImageDraw.Draw(page)
    y = 80
    words, line = text.split(), ""
    for word in words:
        if len(line) + len(word) > 60:
            draw.text((80, y), line, fill=40)
            y, line = y + 28, ""
        line = f"{line} {word}".strip()
    draw.text((80, y), line, fill=40)
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


def _reply(correspondence: Correspondence, liaison: User, text: str) -> Letter:
    letter = Letter.objects.create(
        correspondence=correspondence,
        direction=Letter.Direction.INBOUND,
        body=text,
        created_by=liaison,
        idempotency_key=uuid.uuid4(),
    )
    scan = LetterScan(letter=letter, page=1, content_type="image/png", size=0)
    content = _scan_page(text)
    scan.size = len(content)
    scan.file.save("page-1.png", ContentFile(content), save=False)
    scan.save()
    return letter


def _decide(letter: Letter, moderator: User, *, approve: bool) -> None:
    item = ModerationItem.objects.for_object(letter).pending().first()
    if item is not None:
        do_decide(
            item.pk,
            moderator,
            approve=approve,
            reason_code="" if approve else ModerationItem.Reason.MONEY,
            note="" if approve else REJECTION_NOTE,
        )


def seed_letters() -> None:
    """Idempotent: does nothing once any demo pen pal has a correspondence."""
    emails = {conversation[0] for conversation in DEMO_CONVERSATIONS}
    if Correspondence.objects.filter(pen_pal__email__in=emails).exists():
        return
    moderator = User.objects.get(email="moderator@example.org")
    liaison = User.objects.get(email="liaison@example.org")
    now = timezone.now()
    used: set[int] = set()
    to_deliver: list[Letter] = []
    for index, (email, facility_slug, letters, reply) in enumerate(DEMO_CONVERSATIONS):
        pen_pal = User.objects.get(email=email)
        profile = (
            InmateProfile.objects.published()
            .filter(facility__slug=facility_slug, is_accepting_letters=True)
            .exclude(pk__in=used)
            .order_by("pk")
            .first()
        )
        if profile is None:
            continue
        used.add(profile.pk)
        correspondence = None
        for offset, (text, outcome) in enumerate(letters):
            letter = do_write_letter(pen_pal, profile, text, uuid.uuid4(), correspondence)
            correspondence = letter.correspondence
            Letter.objects.filter(pk=letter.pk).update(
                created_at=now - timedelta(days=20 - 3 * offset, hours=index)
            )
            if outcome == "submitted":
                continue
            screen_letter(letter.pk)
            if outcome in ("approved", "delivered"):
                _decide(letter, moderator, approve=True)
            elif outcome == "rejected":
                _decide(letter, moderator, approve=False)
            if outcome == "delivered":
                to_deliver.append(letter)
        if reply is not None and correspondence is not None:
            state, text = reply
            letter = _reply(correspondence, liaison, text)
            screen_letter(letter.pk)
            if state == "approved":
                _decide(letter, moderator, approve=True)

    # The delivered letters went out in one batch; the approved ones wait in the queue.
    by_facility: dict[int, list[Letter]] = {}
    for letter in to_deliver:
        by_facility.setdefault(letter.correspondence.profile.facility_id, []).append(letter)
    for letters in by_facility.values():
        facility = letters[0].correspondence.profile.facility
        batch = check_create_print_batch(
            liaison, facility, [letter.pk for letter in letters], uuid.uuid4()
        )
        do_mark_delivered(liaison, batch)

    # A correspondence closed because the person was released.
    released = (
        InmateProfile.objects.published()
        .filter(facility__slug="riverbend-state")
        .exclude(pk__in=used)
        .order_by("-pk")
        .first()
    )
    if released is not None:
        pen_pal = User.objects.get(email="sam@example.org")
        letter = do_write_letter(
            pen_pal, released, "Congratulations on finishing your course!", uuid.uuid4()
        )
        screen_letter(letter.pk)
        _decide(letter, moderator, approve=True)
        batch = check_create_print_batch(liaison, released.facility, [letter.pk], uuid.uuid4())
        do_mark_delivered(liaison, batch)
        InmateProfile.objects.filter(pk=released.pk).update(status=InmateProfile.Status.RELEASED)
        close_correspondences(released, Correspondence.CloseReason.RELEASED)
