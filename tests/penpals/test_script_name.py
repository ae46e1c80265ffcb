"""Deployed under a path prefix, every path-based decision still holds.

A proxy that serves the site at /penpals/ passes SCRIPT_NAME=/penpals and the
rest of the path as PATH_INFO (or FORCE_SCRIPT_NAME says the prefix). Then
request.path is "/penpals/admin/" while the URL resolver serves the admin
from path_info "/admin/": a check on request.path misses it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory, activate_totp

# The test client leaves reverse()'s script prefix alone (the WSGI handler
# sets it in production), so redirects are compared without the prefix.
MFA_SETUP = reverse("mfa_activate_totp")
PREFIXES = ["/penpals", "/a/b"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("person", ["moderator", "liaison"])
@pytest.mark.parametrize("area", ["/admin/", "/liaison/", "/admin/penpals/user/"])
def test_it_sends_staff_and_liaisons_without_mfa_to_set_it_up_under_a_prefix(
    client, request, prefix, person, area
):
    client.force_login(request.getfixturevalue(person))
    response = client.get(area, SCRIPT_NAME=prefix)
    assert response.status_code == 302
    assert response["Location"].endswith(MFA_SETUP)


def test_it_sends_staff_without_mfa_to_set_it_up_under_force_script_name(
    client, moderator, settings
):
    settings.FORCE_SCRIPT_NAME = "/penpals"
    client.force_login(moderator)
    for area in ["/admin/", "/liaison/"]:
        response = client.get(area)
        assert response.status_code == 302
        assert response["Location"].endswith(MFA_SETUP)


def test_it_still_lets_staff_with_mfa_in_under_a_prefix(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    assert client.get("/admin/", SCRIPT_NAME="/penpals").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_it_refuses_a_nul_in_an_admin_query_under_a_prefix(client, prefix):
    admin = UserFactory(email="root@example.org", is_staff=True, is_superuser=True)
    activate_totp(admin)
    client.force_login(admin)
    response = client.get("/admin/penpals/user/", {"q": "a\x00b"}, SCRIPT_NAME=prefix)
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_keeps_healthz_on_plain_http_under_a_prefix_and_redirects_the_rest(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", SCRIPT_NAME="/penpals")
    assert response.status_code == 200
    response = client.get("/admin/", SCRIPT_NAME="/penpals")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/penpals/admin/"
    assert client.get("/healthz").status_code == 200
