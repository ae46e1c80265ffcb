"""Calendar arithmetic with one answer for 29 February."""

from __future__ import annotations

import calendar
from datetime import date


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes the 28th in a year
    that has none (someone born on 29 February turns a year older on the 28th
    in the profile's age filters and checks alike)."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def years_after(day: date, years: int) -> date:
    return years_before(day, -years)
