"""The coverage states and the page's range: pure rules."""

from __future__ import annotations

from datetime import date

import pytest

from ib_futures.core.coverage import DayRange, day_range, day_state, slot_state


@pytest.mark.parametrize(
    ("expected", "stored", "source", "unfillable", "state"),
    [
        (True, True, None, False, "live"),  # rows from before price_source: live
        (True, True, "live", False, "live"),
        (True, True, "hist_midpoint_close", False, "history"),
        (False, True, "hist_trades_close", False, "history"),  # stored shows even if unexpected
        (True, False, None, True, "unfillable"),
        (True, True, None, True, "live"),  # filled after all: stored wins
        (True, False, None, False, "missing"),
        (False, False, None, False, "not_expected"),
    ],
)
def test_slot_state(expected, stored, source, unfillable, state) -> None:
    assert slot_state(expected, stored, source, unfillable) == state


def test_a_day_shows_its_worst_slot() -> None:
    assert day_state({"live": 270, "missing": 1, "unfillable": 2}) == "missing"
    assert day_state({"live": 270, "unfillable": 2, "history": 5}) == "unfillable"
    assert day_state({"live": 270, "history": 5}) == "history"
    assert day_state({"live": 270}) == "live"
    assert day_state({}) == "not_expected"


def test_range_defaults_to_the_last_four_weeks() -> None:
    assert day_range(None, None, date(2026, 11, 27)) == DayRange(
        date(2026, 10, 31), date(2026, 11, 27)
    )
    assert day_range("2026-11-02", "2026-11-06", date(2026, 11, 27)).days == 5
    assert day_range("", "2026-11-06", date(2026, 11, 27)).start == date(2026, 10, 10)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-31", None, "start='2026-11-31' is not a date"),
        ("2026-11-01", "11/06/2026", "end='11/06/2026' is not a date"),
        ("2026-11-06", "2026-11-01", "end=2026-11-01 is before start=2026-11-06"),
        ("2020-01-01", "2026-11-01", "start=2020-01-01..end=2026-11-01 spans"),
    ],
)
def test_bad_ranges_name_the_parameter(start, end, message) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        day_range(start, end, date(2026, 11, 27))
