"""A sentence that ends on a name ends once: "Tasha R." never becomes "Tasha R.."
(penpals.text.end_sentence, and the `end_sentence` template filter)."""

from __future__ import annotations

import uuid

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from messaging.services import check_create_print_batch
from penpals.text import end_sentence
from profiles.models import InmateProfile
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    PenPalFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def liaison_client(client, liaison):
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("Tasha R.", "Tasha R."),
        ("Tasha R. ", "Tasha R. "),
        ("Tasha", "Tasha."),
        ("Wow!", "Wow!"),
        ("Who?", "Who?"),
        ("Etc…", "Etc…"),
        ("St. Mary", "St. Mary."),
    ],
)
def test_it_ends_a_sentence_once(name, sentence):
    assert end_sentence(name) == sentence


def test_the_template_filter_keeps_names_escaped():
    template = Template("{% load sentences %}for {{ name|end_sentence }} Next")
    assert template.render(Context({"name": "<b>Tasha R.</b>"})) == (
        "for &lt;b&gt;Tasha R.&lt;/b&gt;. Next"
    )
    assert template.render(Context({"name": "Tasha R."})) == "for Tasha R. Next"


def test_the_liaison_is_told_of_a_new_profile_with_one_full_stop(liaison_client, facility):
    today = timezone.localdate()
    response = liaison_client.post(
        reverse("liaison:profile_create", args=[facility.slug]),
        {
            "display_name": "Tasha R.",
            "legal_name": "Tasha Rowe",
            "inmate_number": "T-1",
            "date_of_birth": today.replace(year=today.year - 30).isoformat(),
            "gender": "female",
            "release_kind": "unknown",
            "release_date": "",
            "bio": "I read everything.",
            "interests": "reading",
            "seeking": ["friendship"],
            "languages": ["en"],
            "is_accepting_letters": "on",
        },
        follow=True,
    )
    page = response.content.decode()
    assert InmateProfile.objects.filter(display_name="Tasha R.").exists()
    assert "Created a draft profile for Tasha R. Next:" in page
    assert "R.." not in page


def test_the_no_contact_page_names_the_person_with_one_full_stop(liaison_client, facility):
    profile = InmateProfileFactory.published(facility=facility, display_name="Tasha R.")
    page = liaison_client.get(
        reverse("liaison_safety:no_contact_orders", args=[profile.pk])
    ).content.decode()
    assert "must not write to Tasha R. A letter" in page
    assert "No active orders for Tasha R.</p>" in page
    assert "R.." not in page


def test_printed_letters_never_double_a_names_full_stop(liaison_client, liaison, facility):
    profile = InmateProfileFactory.published(facility=facility, display_name="Tasha R.")
    pen_pal = PenPalFactory(display_name="Jo B.")
    LetterFactory(
        correspondence=CorrespondenceFactory(pen_pal=pen_pal, profile=profile),
        status="approved",
        approved_at=timezone.now(),
    )
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    for name in ("batch_print", "batch_detail"):
        page = liaison_client.get(
            reverse(f"liaison_letters:{name}", args=[facility.slug, batch.pk])
        ).content.decode()
        assert "Jo B." in page
        assert "B.." not in page and "R.." not in page
