"""`seed_demo` adds conversations in every state, a print queue and replies with scans."""

import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from devtools.demo.messaging import DEMO_CONVERSATIONS
from messaging.models import Correspondence, Letter, LetterScan
from moderation.models import ModerationItem

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=True)
def test_demo_letters_cover_every_state_once():
    call_command("seed_demo")
    counts = (Correspondence.objects.count(), Letter.objects.count(), LetterScan.objects.count())
    call_command("seed_demo")
    assert (
        Correspondence.objects.count(),
        Letter.objects.count(),
        LetterScan.objects.count(),
    ) == counts

    outbound = set(Letter.objects.outbound().values_list("status", flat=True))
    assert {"submitted", "in_review", "approved", "rejected", "delivered"} <= outbound
    assert set(Letter.objects.inbound().values_list("status", flat=True)) == {
        "approved",
        "in_review",
    }
    rejected = Letter.objects.get(status="rejected")
    assert rejected.rejection_reason == "money" and rejected.rejection_note

    # The demo liaison's facility has letters waiting to be printed.
    riverbend = Correspondence.objects.filter(profile__facility__slug="riverbend-state").first()
    assert Letter.objects.print_queue(riverbend.profile.facility).count() >= 2

    # Every reply has a scan page in private storage.
    for scan in LetterScan.objects.all():
        assert scan.file.storage.exists(scan.file.name) and scan.size > 0

    # The moderation queue has flagged letters both ways.
    pending = ModerationItem.objects.pending()
    assert pending.filter(kind="letter_out", flags__contains=["money"]).exists()
    assert pending.filter(kind="letter_in").exists()

    closed = Correspondence.objects.get(closed_at__isnull=False)
    assert closed.close_reason == "released"

    # One letter came back from the facility, with its reason for the pen pal.
    returned = Letter.objects.get(status="returned")
    assert returned.return_reason == "mail_rules" and returned.return_note

    # The liaison typed each reply's transcription, so its pen pal may read it.
    replies = Letter.objects.inbound()
    assert replies.exists()
    assert not replies.filter(transcription_confirmed_at__isnull=True).exists()


# A letter that answers one: it may only follow a reply its writer could read.
ANSWERING = re.compile(
    r"thank(s| you) for (your|the) (letter|reply)|your (last |first )?(letter|reply)"
    r"|you recommended|you (told|wrote to) me",
    re.IGNORECASE,
)


@override_settings(DEBUG=True)
def test_demo_letters_read_like_letters_between_these_two_people():
    call_command("seed_demo")
    correspondences = Correspondence.objects.select_related("profile", "pen_pal")
    # Every conversation found someone into what it talks about (and one more, released).
    assert correspondences.count() == len(DEMO_CONVERSATIONS) + 1
    for correspondence in correspondences:
        profile = correspondence.profile
        first_name = profile.display_name.split()[0]
        letters = list(correspondence.letters.order_by("created_at", "pk"))
        outbound = [letter for letter in letters if letter.direction == "out"]
        # A pen pal's first letter opens a correspondence; it answers nothing.
        assert not ANSWERING.search(outbound[0].body), outbound[0].body
        assert first_name in outbound[0].body
        for position, letter in enumerate(letters):
            # What they write about is something the person is into.
            assert any(interest in letter.body.casefold() for interest in profile.interests), (
                profile.interests,
                letter.body,
            )
            assert ".." not in letter.body
            if letter.direction == "out" and ANSWERING.search(letter.body):
                readable = [
                    earlier
                    for earlier in letters[:position]
                    if earlier.direction == "in" and earlier.status in ("approved", "read")
                ]
                assert readable, letter.body
            if letter.direction == "in":
                assert letter.body.rstrip().endswith(first_name)
