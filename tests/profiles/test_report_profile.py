"""Reporting a profile: from the profile, signed in; a visitor is asked to log
in (and comes back) or pointed to the protection request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moderation.models import ModerationItem, Report
from tests.factories import InmateProfileFactory


@pytest.fixture
def profile(db):
    return InmateProfileFactory.published(display_name="Marcus Q.")


def report_url(profile) -> str:
    return reverse("directory:report", args=[profile.slug])


def test_it_links_the_report_page_from_the_profile(client, profile):
    html = client.get(reverse("directory:profile", args=[profile.slug])).content.decode()
    assert f'href="{report_url(profile)}">Report this profile' in html
    assert "#report-block" not in html


def test_it_asks_a_visitor_to_log_in_and_come_back_or_ask_for_protection(client, profile):
    response = client.get(report_url(profile))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{reverse('account_login')}?next={report_url(profile)}" in html
    assert f"{reverse('protection:request')}?profile={profile.slug}" in html
    assert "<form" not in html.split("<main", 1)[1].split("</main>")[0]


def test_it_records_a_signed_in_pen_pals_report(client, alice, profile):
    client.force_login(alice)
    response = client.post(report_url(profile), {"reason": "money", "details": "Asked for $50."})
    assert response["Location"] == reverse("directory:profile", args=[profile.slug])
    report = Report.objects.get()
    assert report.reporter == alice
    assert report.target == profile
    assert report.details == "Asked for $50."
    assert ModerationItem.objects.filter(kind=ModerationItem.Kind.REPORT).count() == 1


def test_it_says_when_the_profile_was_already_reported(client, alice, profile):
    client.force_login(alice)
    client.post(report_url(profile), {"reason": "scam"})
    html = client.get(report_url(profile)).content.decode()
    assert "You already reported this profile" in html
    assert Report.objects.count() == 1


def test_it_refuses_a_report_without_a_reason(client, alice, profile):
    client.force_login(alice)
    response = client.post(report_url(profile), {"details": "Something"})
    assert response.status_code == 200
    assert not Report.objects.exists()


def test_it_answers_404_for_a_profile_that_is_not_published(client, alice):
    draft = InmateProfileFactory()
    client.force_login(alice)
    assert client.get(reverse("directory:report", args=[draft.slug])).status_code == 404
    client.logout()
    assert client.get(reverse("directory:report", args=[draft.slug])).status_code == 404
