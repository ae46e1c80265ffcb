"""Demo letters for `make run`: conversations in every state, a print queue with
letters waiting at the demo liaison's facility, and replies with generated scans.

Every letter goes through the same services as in production (screening,
moderation decisions, print batch, delivery), so the demo shows real screening
hits, real audit records and real outbox rows.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from messaging.models import Correspondence, Letter, LetterScan
from messaging.returns import check_record_return
from messaging.services import (
    check_create_print_batch,
    close_correspondences,
    do_mark_delivered,
    do_write_letter,
    screen_letter,
)
from moderation.models import ModerationItem
from moderation.services import current_version, do_decide
from penpals.models import User
from profiles.models import InmateProfile


@dataclass(frozen=True)
class DemoConversation:
    """One demo correspondence, its letters in the order they were written.

    The person written to is the first published profile of the facility,
    accepting letters and not written to by another demo conversation, with
    one of `topics` among their interests (any profile when `topics` is
    empty), and the letters talk about that interest: `{name}` is the
    person's first name, `{interest}` the interest. Each letter is
    (direction, what happens to it, text); what happens to a letter out is
    "submitted" (the worker screens it when `make run` starts), "review"
    (screened, waiting for a moderator), "approved" (in the print queue),
    "rejected" or "delivered"; to a reply, "approved" or "review". A letter
    out answers a reply only after that reply was approved (it could be read).
    """

    pen_pal: str
    facility: str
    topics: tuple[str, ...]
    letters: tuple[tuple[str, str, str], ...]


OUT, IN = "out", "in"
TEAM_SPORTS = ("basketball", "baseball", "football", "soccer")
MUSIC = ("guitar", "jazz", "gospel music", "country music", "rock music", "hip hop", "rap")

DEMO_CONVERSATIONS = [
    DemoConversation(
        "alex@example.org",
        "riverbend-state",
        TEAM_SPORTS,
        (
            (
                OUT,
                "delivered",
                "Dear {name},\n\nI'm Alex, from Columbus. I found your profile on Penpals and "
                "saw that you're into {interest}, so I thought I'd write. I played {interest} "
                "all through school, badly but happily, and these days I watch our local team "
                "most weekends, usually in the rain.\n\nHow did you get into it? I'd like to "
                "hear how your weeks go, too.\n\nBest wishes,\nAlex",
            ),
            (
                IN,
                "approved",
                "Dear Alex,\n\nThank you for writing. Mail call is the best part of the week "
                "and your letter made mine. I have loved {interest} since I was a kid: my uncle "
                "took me to games and we argued about every call. Here we get yard time most "
                "afternoons, and there is a game going whenever the weather lets us.\n\nTell "
                "me about your team. Who is the player everyone shouts at?\n\n{name}",
            ),
            (
                OUT,
                "approved",
                "Dear {name},\n\nThanks for your letter: it came on Tuesday and I read it "
                "twice. The player everyone shouts at is our captain, who is also my "
                "neighbour, so I keep quiet. We lost again on Saturday, but it was close.\n\n"
                "Your uncle sounds like a good man. Do you two still argue about every call? "
                "And what is a game of {interest} in the yard like?\n\nTake care,\nAlex",
            ),
        ),
    ),
    DemoConversation(
        "alex@example.org",
        "riverbend-state",
        ("history", "jazz", "cooking", "science fiction", "hip hop"),
        (
            (
                OUT,
                "review",
                "Hi {name}, I'm Alex. I saw that you like {interest}, me too. If you ever need "
                "anything just send me your cash app and I can help out. My number is "
                "555-867-5309.",
            ),
        ),
    ),
    DemoConversation(
        "alex@example.org",
        "fci-high-plains",
        ("drawing", "painting", "science fiction", "poetry", "writing", "reading"),
        (
            (
                OUT,
                "rejected",
                "Hello {name}, I'm Alex. I read that you like {interest}. I can put money on "
                "your books through JPay if you send me your details.",
            ),
            # The first letter never reached them: this one starts afresh.
            (
                OUT,
                "submitted",
                "Hello {name},\n\nI'm Alex, from Ohio. Your profile says you like {interest}, "
                "which is what made me write: I've been trying to get back into it myself this "
                "year, with mixed results. What got you started, and what are you working on "
                "at the moment?\n\nAll the best,\nAlex",
            ),
        ),
    ),
    DemoConversation(
        "sam@example.org",
        "riverbend-state",
        ("poetry", "writing", "spoken word", "reading"),
        (
            (
                OUT,
                "delivered",
                "Dear {name},\n\nMy name is Sam and I teach music at a primary school. I read "
                "your profile and saw that you love {interest}. Songs are only poems with a "
                "tune, so I think we'll get along. What have you been reading lately?\n\n"
                "Warmly,\nSam",
            ),
            # No answer yet: a second letter, not a reply.
            (
                OUT,
                "approved",
                "Dear {name},\n\nI hope my first letter reached you; I know the post takes "
                "its time. Since I wrote, I've been reading one poem every evening before bed, "
                "and it has become a good habit. If you have a favourite book or poet, tell me "
                "and I'll find it at the library, and tell me more about your {interest}."
                "\n\nWarmly,\nSam",
            ),
            (
                IN,
                "review",
                "Dear Sam,\n\nBoth your letters came, one week apart. Thank you. I write most "
                "nights after count, mostly about the river near where I grew up, and {interest} "
                "is what keeps my head clear. My favourite book changes every week. Write me "
                "about your city and your students.\n\n{name}",
            ),
        ),
    ),
    DemoConversation(
        "sam@example.org",
        # Cedar County reviews flagged letters only: a clean letter is approved at once.
        "cedar-county-jail",
        MUSIC,
        (
            (
                OUT,
                "approved",
                "Hi {name}!\n\nI'm Sam, and I teach music. I saw {interest} on your profile "
                "and had to write. Do you play an instrument, or mostly listen? This year I've "
                "been learning the blues on an old piano, one slow song at a time.\n\nSam",
            ),
        ),
    ),
]

# The letter to a person who is released afterwards (their correspondence closes).
RELEASED_LETTER = (
    "Hi {name},\n\nI'm Sam. I read your profile and saw that you're into {interest}. What do "
    "you like most about it? I'd love to hear, whenever you have the time to write.\n\nSam"
)

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
        # The liaison typed the transcription: the pen pal may read it.
        transcription_confirmed_at=timezone.now(),
        transcription_confirmed_by=liaison,
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
            seen_version=current_version(item),
            reason_code="" if approve else ModerationItem.Reason.MONEY,
            note="" if approve else REJECTION_NOTE,
        )


def first_name(profile: InmateProfile) -> str:
    """How a letter greets the person: "Tasha" for "Tasha R."."""
    return profile.display_name.split()[0]


def choose_profile(facility_slug: str, topics: tuple[str, ...], used: set[int]):
    """The person a conversation writes to and the interest it talks about."""
    candidates = (
        InmateProfile.objects.published()
        .filter(facility__slug=facility_slug, is_accepting_letters=True)
        .exclude(pk__in=used)
        .order_by("pk")
    )
    if topics:
        candidates = candidates.filter(interests__overlap=list(topics))
    profile = candidates.first()
    if profile is None or not profile.interests:
        return None, ""
    interest = next((i for i in profile.interests if i in topics), profile.interests[0])
    return profile, interest


def seed_letters() -> None:
    """Idempotent: does nothing once any demo pen pal has a correspondence."""
    emails = {conversation.pen_pal for conversation in DEMO_CONVERSATIONS}
    if Correspondence.objects.filter(pen_pal__email__in=emails).exists():
        return
    moderator = User.objects.get(email="moderator@example.org")
    liaison = User.objects.get(email="liaison@example.org")
    now = timezone.now()
    used: set[int] = set()
    to_deliver: list[Letter] = []
    for index, conversation in enumerate(DEMO_CONVERSATIONS):
        pen_pal = User.objects.get(email=conversation.pen_pal)
        profile, interest = choose_profile(conversation.facility, conversation.topics, used)
        if profile is None:
            continue
        used.add(profile.pk)
        words = {"name": first_name(profile), "interest": interest}
        correspondence = None
        for step, (direction, outcome, text) in enumerate(conversation.letters):
            body = text.format(**words)
            if direction == IN:
                # A conversation's first letter is the pen pal's: it opens the correspondence.
                assert correspondence is not None
                letter = _reply(correspondence, liaison, body)
            else:
                letter = do_write_letter(pen_pal, profile, body, uuid.uuid4(), correspondence)
                correspondence = letter.correspondence
            # A few days between letters, the last a few days ago; in the order written.
            Letter.objects.filter(pk=letter.pk).update(
                created_at=now - timedelta(days=24 - 6 * step, hours=index)
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

    # The facility sent one delivered letter back: the pen pal sees why.
    if to_deliver:
        check_record_return(
            liaison,
            Letter.objects.get(pk=to_deliver[-1].pk),  # delivered since it was made
            Letter.ReturnReason.MAIL_RULES,
            "Stickers are not allowed on letters here. Please write again without them.",
        )

    # A correspondence closed because the person was released.
    released = (
        InmateProfile.objects.published()
        .filter(facility__slug="riverbend-state", is_accepting_letters=True)
        .exclude(pk__in=used)
        .exclude(interests=[])
        .order_by("-pk")
        .first()
    )
    if released is not None:
        pen_pal = User.objects.get(email="sam@example.org")
        body = RELEASED_LETTER.format(name=first_name(released), interest=released.interests[0])
        letter = do_write_letter(pen_pal, released, body, uuid.uuid4())
        screen_letter(letter.pk)
        _decide(letter, moderator, approve=True)
        batch = check_create_print_batch(liaison, released.facility, [letter.pk], uuid.uuid4())
        do_mark_delivered(liaison, batch)
        InmateProfile.objects.filter(pk=released.pk).update(status=InmateProfile.Status.RELEASED)
        close_correspondences(released.correspondences.all(), Correspondence.CloseReason.RELEASED)
