"""What the queue and the item page show a moderator of each kind of item."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from messaging.services import screen_letter
from moderation.models import ModerationItem
from moderation.reports import do_report
from profiles.services import do_update_profile
from tests.factories import (
    InmateProfileFactory,
    LiaisonFactory,
    add_public_photo,
    write_letter,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:moderation_moderationitem_changelist")


def item_page(client, item):
    response = client.get(reverse("admin:moderation_moderationitem_change", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_queue_preview_highlights_the_flagged_words(
    client, moderator_with_mfa, alice, default_screening_rules
):
    letter = write_letter(
        alice,
        InmateProfileFactory.published(),
        "Hi <b>there</b>.\n\nDo you use   Cash App?",
    )
    screen_letter(letter.pk)
    client.force_login(moderator_with_mfa)
    html = client.get(QUEUE).content.decode()
    # Found again in the whitespace-collapsed summary, whatever the case.
    assert '<mark title="Money request">Cash App</mark>' in html
    assert "&lt;b&gt;there&lt;/b&gt;" in html and "<b>there</b>" not in html


def test_a_profile_change_shows_the_approved_text_beside_the_proposed(client, moderator_with_mfa):
    profile = InmateProfileFactory.published(bio="The approved bio.")
    liaison = LiaisonFactory(facility=profile.facility).user
    do_update_profile(liaison, profile, {"bio": "A <i>new</i> bio, waiting for review."})
    item = ModerationItem.objects.for_object(profile).get(kind="profile_change")
    client.force_login(moderator_with_mfa)
    html = item_page(client, item)
    assert "against the approved version" in html
    changed_row = html.index('class="review-changed"')
    assert html.index("The approved bio.", changed_row) < html.index(
        "A &lt;i&gt;new&lt;/i&gt; bio, waiting for review.", changed_row
    )
    assert "Bio (changed)" in html
    assert "Display name (changed)" not in html
    # The legal name stays out of the moderator's view.
    assert profile.legal_name not in html


def test_a_photo_item_shows_the_photo_at_display_size(client, moderator_with_mfa):
    profile = InmateProfileFactory.published()
    photo = add_public_photo(profile, is_primary=False)
    item = ModerationItem.objects.create(
        kind=ModerationItem.Kind.PHOTO,
        content_type=ContentType.objects.get_for_model(photo),
        object_id=photo.pk,
        facility=profile.facility,
    )
    client.force_login(moderator_with_mfa)
    html = item_page(client, item)
    assert f'src="{photo.display.url}"' in html
    assert 'width="480" height="480"' in html


def test_a_report_shows_what_it_points_to(
    client, moderator_with_mfa, alice, default_screening_rules
):
    letter = write_letter(alice, InmateProfileFactory.published(), "A letter that was reported.")
    report = do_report(alice, letter, "threat", "This frightened me.")
    item = ModerationItem.objects.for_object(report).get()
    client.force_login(moderator_with_mfa)
    html = item_page(client, item)
    assert "This frightened me." in html
    assert "A letter that was reported." in html
    assert reverse("admin:messaging_letter_change", args=[letter.pk]) in html
    assert reverse("admin:moderation_report_change", args=[report.pk]) in html
