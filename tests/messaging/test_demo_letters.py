"""`seed_demo` adds conversations in every state, a print queue and replies with scans."""

import pytest
from django.core.management import call_command
from django.test import override_settings

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
