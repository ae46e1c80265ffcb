import pytest

from tests.factories import InmateProfileFactory


@pytest.fixture
def profile(db):
    """A published profile accepting letters, in a facility where a person reviews every letter."""
    return InmateProfileFactory.published(display_name="Marcus", legal_name="Marcus T. Legalname")
