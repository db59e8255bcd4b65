"""The published 2025-2027 holiday table and the holiday rules say the same, day by day."""

from __future__ import annotations

from datetime import date, timedelta

from ib_gateway_sim.holidays import (
    REGULAR,
    cme_equity_day,
    cme_equity_rule,
    nyse_day,
    nyse_rule,
)
from ib_gateway_sim.published import CME_EQUITY_PUBLISHED, NYSE_PUBLISHED, PUBLISHED_YEARS


def weekdays() -> list[date]:
    day, out = date(PUBLISHED_YEARS[0], 1, 1), []
    while day.year in PUBLISHED_YEARS:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def test_the_rules_give_the_published_table() -> None:
    for day in weekdays():
        assert nyse_rule(day) == NYSE_PUBLISHED.get(day, REGULAR), day
        assert cme_equity_rule(day) == CME_EQUITY_PUBLISHED.get(day, REGULAR), day


def test_the_table_decides_in_its_years_and_the_rules_outside() -> None:
    christmas_2026 = date(2026, 12, 25)
    assert nyse_day(christmas_2026) is NYSE_PUBLISHED[christmas_2026]
    assert cme_equity_day(christmas_2026) is CME_EQUITY_PUBLISHED[christmas_2026]
    assert cme_equity_day(date(2028, 12, 25)).closed  # from the rules


def test_the_table_holds_each_years_holidays() -> None:
    for year in PUBLISHED_YEARS:
        closed = [d for d, r in NYSE_PUBLISHED.items() if d.year == year and r.closed]
        assert len(closed) in (10, 11), (year, closed)  # 10 holidays, 2025 adds a day of mourning
        early = [d for d, r in NYSE_PUBLISHED.items() if d.year == year and r.early]
        assert early, year
