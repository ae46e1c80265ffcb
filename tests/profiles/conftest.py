"""Fixtures shared by the liaison portal's tests."""

from __future__ import annotations

import pytest

from tests.factories import activate_totp


@pytest.fixture
def facility(liaison):
    """The one facility the `liaison` fixture belongs to."""
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(client, liaison):
    """A client logged in as the liaison, with MFA set up (the portal requires it)."""
    activate_totp(liaison)
    client.force_login(liaison)
    return client
