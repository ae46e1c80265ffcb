"""The "Try the rules" page of the screening rule admin: who may use it, what
it shows (the active database rules' hits, highlighted) and hostile input."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from moderation.active_rules import screen_text
from moderation.forms import TRY_TEXT_MAX_LENGTH
from moderation.models import ScreeningRule
from moderation.screening import highlight_segments
from penpals.models import User
from tests.factories import FacilityFactory, activate_totp

URL = reverse("admin:moderation_screeningrule_try")
TEXT = "Send me money on Cash App"


@pytest.fixture
def rules(db):
    """Only these rules are active: the tests do not depend on the shipped set."""
    ScreeningRule.objects.update(is_active=False, updated_at=timezone.now())
    ScreeningRule.objects.create(name="Payment apps", category="money", pattern="cash app")
    ScreeningRule.objects.create(
        name="Switched off", category="threat", pattern="money", is_active=False
    )


@pytest.fixture
def admin_client(client, db):
    superuser = User.objects.create_superuser("root@example.org", "correct-horse-battery-staple")
    activate_totp(superuser)
    client.force_login(superuser)
    return client


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert client.post(URL, {"text": TEXT, "scope": "outbound"}).status_code == 302


def test_pen_pals_cannot_use_it(client, alice):
    activate_totp(alice)
    client.force_login(alice)
    for response in (client.get(URL), client.post(URL, {"text": TEXT, "scope": "outbound"})):
        # Not staff: the admin sends them to its login page.
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_moderators_without_view_permission_get_403(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"text": TEXT, "scope": "outbound"}).status_code == 403


def test_the_changelist_links_to_it(admin_client):
    response = admin_client.get(reverse("admin:moderation_screeningrule_changelist"))
    assert f'href="{URL}"' in response.content.decode()


def test_admins_see_the_hits_of_the_active_rules(admin_client, rules):
    assert admin_client.get(URL).status_code == 200
    response = admin_client.post(URL, {"text": TEXT, "scope": "outbound"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'title="Money request: Payment apps">Cash App</mark>' in html
    assert '<span class="screening-label">Money request · Payment apps</span>' in html
    assert "Risk 40" in html
    [hit] = response.context["result"].hits
    assert (hit.category, hit.rule, hit.start, hit.end, hit.match) == (
        "money", "Payment apps", 17, 25, "Cash App",
    )  # fmt: skip
    # The same result as `screen --rules db`.
    assert response.context["result"] == screen_text(TEXT, scope="outbound")
    assert "Switched off" not in html


def test_scope_and_facility_pick_the_rules(admin_client, rules):
    facility = FacilityFactory()
    ScreeningRule.objects.create(
        name="Stamps", category="contraband", pattern="stamps", facility=facility
    )
    ScreeningRule.objects.create(
        name="Bio money", category="other", pattern="money", scope="profile"
    )
    text = "money for stamps"
    response = admin_client.post(URL, {"text": text, "scope": "outbound"})
    assert response.context["result"].hits == ()
    assert "No rule matched this text." in response.content.decode()
    response = admin_client.post(URL, {"text": text, "scope": "inbound", "facility": facility.pk})
    assert [h.rule for h in response.context["result"].hits] == ["Stamps"]
    response = admin_client.post(URL, {"text": text, "scope": "profile"})
    assert [h.rule for h in response.context["result"].hits] == ["Bio money"]


@pytest.mark.parametrize(
    "text",
    [
        '<script>alert("x")</script> Cash App',
        "Cash App <script>alert(1)</script>\u202egnp.exe",
        '"><img src=x onerror=alert(1)> cash app',
    ],
)
def test_hostile_text_is_escaped(admin_client, rules, text):
    response = admin_client.post(URL, {"text": text, "scope": "outbound"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html or "&lt;img" in html
    assert response.context["result"].categories == ["money"]


def test_a_rule_name_is_escaped_too(admin_client, rules):
    ScreeningRule.objects.create(name="<b>bold</b>", category="other", pattern="bold")
    html = admin_client.post(URL, {"text": "be bold", "scope": "outbound"}).content.decode()
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_nul_bytes_are_a_form_error_not_a_crash(admin_client, rules):
    response = admin_client.post(URL, {"text": "Cash\x00 App", "scope": "outbound"})
    assert response.status_code == 200
    assert response.context["form"].errors["text"]
    assert response.context["result"] is None


def test_over_long_text_is_a_form_error(admin_client, rules):
    response = admin_client.post(
        URL, {"text": "a" * (TRY_TEXT_MAX_LENGTH + 1), "scope": "outbound"}
    )
    assert response.status_code == 200
    assert "Paste at most 20,000 characters" in response.content.decode()
    assert response.context["result"] is None


def test_bad_scope_or_facility_is_a_form_error(admin_client, rules):
    response = admin_client.post(URL, {"text": TEXT, "scope": "letters", "facility": "999999"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"scope", "facility"}


def test_it_uses_a_bounded_number_of_queries(admin_client, rules, django_assert_max_num_queries):
    FacilityFactory.create_batch(3)
    text = " ".join(["Cash App"] * 500)
    with django_assert_max_num_queries(8):
        response = admin_client.post(URL, {"text": text, "scope": "outbound"})
    assert len(response.context["result"].hits) == 500


def test_segments_cover_the_text_and_overlapping_hits():
    from moderation.screening import Hit

    text = "send money now"
    a = Hit("money", "A", "flag", 0, 10, "send money")
    b = Hit("money", "B", "flag", 5, 14, "money now")
    segments = highlight_segments(text, (a, b))
    assert "".join(s.text for s in segments) == text
    assert [(s.text, [h.rule for h in s.hits], [h.rule for h in s.ending]) for s in segments] == [
        ("send ", ["A"], []),
        ("money", ["A", "B"], ["A"]),
        (" now", ["B"], ["B"]),
    ]
    assert highlight_segments("", ()) == []
