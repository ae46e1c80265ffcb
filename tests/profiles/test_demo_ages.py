"""A demo bio's age ("Hi, I'm Tasha. ... I'm 40.") is the age its profile shows."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from devtools.demo.profiles import DEMO_INMATE_NUMBER_PREFIX, born_at_age, invent_person
from profiles.models import InmateProfile

# The only numbers in a generated bio are the person's age.
NUMBER = re.compile(r"\b\d+\b")


@pytest.mark.parametrize(
    "today",
    [date(2026, 12, 6), date(2028, 2, 29), date(2027, 3, 1), date(2026, 12, 31)],
)
def test_every_invented_person_is_as_old_as_their_bio_says(today):
    rng = random.Random(f"ages-{today}")  # noqa: S311 - made-up people
    now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        for _ in range(500):
            person = invent_person(rng, today=today, now=now)
            shown = InmateProfile(date_of_birth=person.date_of_birth).age
            assert {int(n) for n in NUMBER.findall(person.bio)} <= {shown}, person.bio


@pytest.mark.parametrize("today", [date(2028, 2, 29), date(2027, 2, 28), date(2026, 1, 1)])
def test_a_birth_date_for_an_age_covers_the_whole_year_of_it(today):
    with time_machine.travel(datetime(today.year, today.month, today.day, tzinfo=UTC)):
        births = {born_at_age(40, today, days_back=days) for days in range(365)}
        assert {InmateProfile(date_of_birth=born).age for born in births} == {40}
        assert len(births) == 365


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_demo_profiles_bios_match_their_ages():
    call_command("seed_demo")
    profiles = InmateProfile.objects.filter(inmate_number__startswith=DEMO_INMATE_NUMBER_PREFIX)
    stated = 0
    for profile in profiles:
        numbers = {int(n) for n in NUMBER.findall(profile.bio)}
        assert numbers <= {profile.age}, (profile.display_name, profile.age, profile.bio)
        stated += bool(numbers)
    assert stated > profiles.count() // 2  # most bios say the age
