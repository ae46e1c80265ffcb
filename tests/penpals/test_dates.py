from datetime import date

import pytest

from penpals.dates import years_after, years_before


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2026, 12, 6), 18, date(2008, 12, 6)),
        (date(2024, 2, 29), 1, date(2023, 2, 28)),  # no 29 February that year
        (date(2024, 2, 29), 4, date(2020, 2, 29)),
        (date(2023, 3, 1), 1, date(2022, 3, 1)),
    ],
)
def test_it_goes_back_whole_years_with_one_answer_for_29_february(day, years, expected):
    assert years_before(day, years) == expected
    assert years_after(expected, years) in {day, date(day.year, 2, 28)}
