"""The simulator's calendar and contract rules agree with the product's.

The simulator (ib-gateway-sim) keeps its own rules so that it depends on nothing but the
standard library: session schedules with holidays (``ib_gateway_sim.schedules`` and
``.holidays``) and quarterly contract months (``.months``, listed by ``.contracts``). The
product decides with ``core.session`` (pandas_market_calendars) and ``core.contracts``. When the
two disagree, a test on the simulator checks something the product would not do (a quote on a
slot the product skips, a front month it would not choose), so this module pins them together:

* open or closed, for every five-minute slot of the weeks the test suite uses: Thanksgiving
  2026 (early closes on the Thursday and Friday), the December 2026 roll week, Christmas and
  New Year 2026-27, the March 2027 roll and Good Friday week; futures (Globex) and ETFs in
  regular and in extended hours;
* every session (trade date, open, close) of the years around them, holidays included;
* the front-month contract per day across the December and March rolls, chosen by the
  product's roll rule from the chain the simulator lists, and the chain itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ib_futures.core.calendars import timeline
from ib_futures.core.config import FuturesConfig, parse_config
from ib_futures.core.contracts import (
    MONTH_CODES,
    RollRule,
    choose_front_month,
    front_contract_month,
    listed_contract_months,
    third_friday,
)
from ib_futures.core.session import session_at
from ib_futures.core.snapshot import AssetClass
from ib_gateway_sim.contracts import FUTURES, ContractBook, SimContract
from ib_gateway_sim.months import third_friday as sim_third_friday
from ib_gateway_sim.schedules import CME_GLOBEX, US_EXTENDED, US_RTH, Schedule

CT = ZoneInfo("America/Chicago")
SLOT = timedelta(minutes=5)

#: The weeks the tests use, Monday to Sunday (ET dates), each slot of each day.
WEEKS = {
    "thanksgiving-2026": date(2026, 11, 23),
    "december-roll-2026": date(2026, 12, 7),
    "december-expiry-2026": date(2026, 12, 14),
    "christmas-2026": date(2026, 12, 21),
    "new-year-2027": date(2026, 12, 28),
    "march-roll-2027": date(2027, 3, 8),
    "good-friday-2027": date(2027, 3, 22),
}
REGULAR = FuturesConfig()
EXTENDED = parse_config({"collection": {"etf_hours": "extended"}})
MARKETS: dict[str, tuple[AssetClass, FuturesConfig, Schedule]] = {
    "futures": ("FUT", REGULAR, CME_GLOBEX),
    "etf-regular": ("ETF", REGULAR, US_RTH),
    "etf-extended": ("ETF", EXTENDED, US_EXTENDED),
}


def slots(monday: date) -> Iterator[datetime]:
    t = datetime.combine(monday, time(0), UTC)
    for _ in range(7 * 24 * 12):
        yield t
        t += SLOT


@pytest.mark.parametrize("market", list(MARKETS))
@pytest.mark.parametrize("week", list(WEEKS))
def test_open_or_closed_agrees_for_every_slot(week: str, market: str) -> None:
    asset_class, cfg, schedule = MARKETS[market]
    differ = []
    for t in slots(WEEKS[week]):
        product = session_at(t, asset_class, cfg) is not None
        if product != schedule.is_open(t):
            state = ("open", "closed") if product else ("closed", "open")
            differ.append(f"{t:%a %Y-%m-%d %H:%M} UTC: product {state[0]}, simulator {state[1]}")
    assert differ == []


def test_the_weeks_hold_what_they_are_chosen_for() -> None:
    """Thanksgiving closes early, Christmas closes: the slots above are not all plain ones."""
    thanksgiving_afternoon = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)  # 14:00 ET
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    good_friday = datetime(2027, 3, 26, 15, 0, tzinfo=UTC)
    for t in (thanksgiving_afternoon, christmas):
        assert not CME_GLOBEX.is_open(t) and not US_RTH.is_open(t)
    assert not CME_GLOBEX.is_open(good_friday) and not US_EXTENDED.is_open(good_friday)
    assert CME_GLOBEX.is_open(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))  # Thu 12:00 ET


@pytest.mark.parametrize("market", list(MARKETS))
def test_every_session_agrees_2025_to_2028(market: str) -> None:
    asset_class, cfg, schedule = MARKETS[market]
    extended = cfg.collection.etf_hours == "extended"
    calendar = cfg.session.futures_calendar if asset_class == "FUT" else cfg.session.etf_calendar
    product = {
        s.trade_date: s.bounds(extended) for s in timeline(calendar, asset_class, 2025, 2028).sessions
    }
    simulated = {}
    day = date(2025, 1, 1)
    while day <= date(2028, 12, 31):
        if (session := schedule.session(day)) is not None:
            simulated[day] = (session.start.astimezone(UTC), session.end.astimezone(UTC))
        day += timedelta(days=1)
    assert sorted(set(product) ^ set(simulated)) == []
    assert {d: (product[d], simulated[d]) for d in product if product[d] != simulated[d]} == {}


def test_expiry_days_agree() -> None:
    for year in range(2024, 2031):
        for month in MONTH_CODES:
            assert sim_third_friday(year, month) == third_friday(year, month)


def days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


ROLL_PERIODS = [
    pytest.param(date(2026, 11, 23), date(2027, 1, 3), id="december-2026"),
    pytest.param(date(2027, 3, 1), date(2027, 3, 28), id="march-2027"),
]


@pytest.mark.parametrize(("first", "last"), ROLL_PERIODS)
@pytest.mark.parametrize("root", list(FUTURES))
def test_front_month_from_the_simulated_chain_is_the_products(
    root: str, first: date, last: date
) -> None:
    book, rule = ContractBook(), RollRule()
    seen = set()
    for day in days(first, last):
        # Mid-day Chicago time: after the 08:30 CT last trade on an expiry day, as a collector
        # run in the session would see the chain.
        chain = book.chain(root, datetime.combine(day, time(12), CT))
        chosen: SimContract = choose_front_month(chain, lambda c: c.expiry, day, rule)
        expected = front_contract_month(root, day, rule)
        assert chosen.month is not None
        assert (chosen.local_symbol, chosen.month.contract_month, chosen.expiry) == (
            expected.local_symbol,
            expected.contract_month,
            expected.expiry,
        ), day
        seen.add(chosen.local_symbol)
    assert len(seen) == 2  # the period crosses a roll


@pytest.mark.parametrize(("first", "last"), ROLL_PERIODS)
def test_listed_chain_is_the_products_listed_months(first: date, last: date) -> None:
    book = ContractBook()
    for day in days(first, last):
        for root in FUTURES:
            # Before the 08:30 CT last trade: the product counts the expiry day as listed.
            chain = book.chain(root, datetime.combine(day, time(6), CT))
            listed = listed_contract_months(root, day, count=len(chain))
            assert [(c.local_symbol, c.expiry) for c in chain] == [
                (m.local_symbol, m.expiry) for m in listed
            ], (root, day)
