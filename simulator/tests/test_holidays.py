"""Holidays and early closes: the rules, and what the real ib_async client sees on those days."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from ib_async import Future, Stock

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.holidays import cme_equity_day, easter_sunday, nyse_day, us_holidays
from ib_gateway_sim.schedules import CME_GLOBEX, US_RTH
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]
ET = ZoneInfo("America/New_York")
AFTER_THANKSGIVING = "2026-11-28T15:00:00Z"  # Saturday after Thanksgiving


def es(month: str = "202612") -> Future:
    # A new object per request: qualifyContracts fills the one it is given in place.
    return Future("ES", month, "CME")


def spy() -> Stock:
    return Stock("SPY", "SMART", "USD", primaryExchange="ARCA")


def test_holidays_of_2026_on_their_observed_dates() -> None:
    assert sorted(us_holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 4, 3),
        date(2026, 5, 25), date(2026, 6, 19), date(2026, 7, 3),  # July 4th is a Saturday
        date(2026, 9, 7), date(2026, 11, 26), date(2026, 12, 25),
    ]  # fmt: skip


def test_observed_dates_and_easter() -> None:
    assert date(2027, 12, 24) in us_holidays(2027)  # Christmas on a Saturday
    assert date(2022, 12, 26) in us_holidays(2022)  # Christmas on a Sunday
    assert date(2027, 12, 31) not in us_holidays(2027)  # New Year 2028 is a Saturday: none
    assert date(2028, 1, 1) not in us_holidays(2028)
    assert [easter_sunday(y) for y in (2024, 2025, 2026, 2027)] == [
        date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2027, 3, 28),
    ]  # fmt: skip


def test_exchange_rules_differ_on_holidays() -> None:
    thanksgiving, friday = date(2026, 11, 26), date(2026, 11, 27)
    assert nyse_day(thanksgiving).closed
    assert cme_equity_day(thanksgiving).early and cme_equity_day(thanksgiving).close == time(13)
    assert nyse_day(friday).early and cme_equity_day(friday).early
    assert nyse_day(date(2026, 12, 25)).closed and cme_equity_day(date(2026, 12, 25)).closed
    good_friday = cme_equity_day(date(2027, 3, 26))
    assert good_friday.early and good_friday.close == time(9, 15) and nyse_day(date(2027, 3, 26)).closed
    assert not nyse_day(date(2026, 11, 24)).closed and not nyse_day(date(2026, 11, 24)).early


def test_sessions_around_thanksgiving_and_christmas() -> None:
    thursday = CME_GLOBEX.session(date(2026, 11, 26))
    assert thursday is not None
    assert thursday.start == datetime(2026, 11, 25, 18, tzinfo=ET)
    assert thursday.end == datetime(2026, 11, 26, 13, tzinfo=ET)
    friday = CME_GLOBEX.session(date(2026, 11, 27))
    assert friday is not None and friday.start == datetime(2026, 11, 26, 18, tzinfo=ET)
    assert US_RTH.session(date(2026, 11, 26)) is None
    rth_friday = US_RTH.session(date(2026, 11, 27))
    assert rth_friday is not None and rth_friday.end == datetime(2026, 11, 27, 13, tzinfo=ET)
    assert CME_GLOBEX.session(date(2026, 12, 25)) is None
    monday = CME_GLOBEX.session(date(2026, 12, 28))
    assert monday is not None and monday.start == datetime(2026, 12, 27, 18, tzinfo=ET)


def test_bars_after_thanksgiving_end_at_the_early_close(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=AFTER_THANKSGIVING, frozen=True)
    ib = connect_ib(sim.port)
    try:
        [future, stock] = ib.qualifyContracts(es(), spy())
        friday = ib.reqHistoricalData(future, "", "1 D", "5 mins", "TRADES", useRTH=False, timeout=5)
        daily = ib.reqHistoricalData(future, "", "5 D", "1 day", "TRADES", useRTH=False, timeout=5)
        spy_rth = ib.reqHistoricalData(stock, "", "1 D", "5 mins", "TRADES", useRTH=True, timeout=5)
        spy_daily = ib.reqHistoricalData(stock, "", "5 D", "1 day", "TRADES", useRTH=True, timeout=5)
    finally:
        ib.disconnect()
    # Thu 18:00 ET to Fri 13:15 ET (CME's half-day close, 12:15 CT): 19.25 hours.
    assert len(friday) == 231
    assert [friday[0].date, friday[-1].date] == [
        datetime(2026, 11, 26, 18, 0, tzinfo=ET), datetime(2026, 11, 27, 13, 10, tzinfo=ET),
    ]  # fmt: skip
    # CME trades Thanksgiving morning; NYSE is closed all day.
    assert [b.date for b in daily] == [date(2026, 11, d) for d in (23, 24, 25, 26, 27)]
    assert len(spy_rth) == 42  # 09:30-13:00 ET
    assert [b.date for b in spy_daily] == [date(2026, 11, d) for d in (20, 23, 24, 25, 27)]


def test_thanksgiving_afternoon_snapshot_has_no_fresh_quote(simulator_factory: Factory) -> None:
    sim = simulator_factory(start="2026-11-26T19:00:00Z", frozen=True)  # Thu 14:00 ET
    ib = connect_ib(sim.port)
    try:
        es_ticker, spy_ticker = ib.reqTickers(*ib.qualifyContracts(es(), spy()))
    finally:
        ib.disconnect()
    assert math.isnan(es_ticker.bid) and math.isnan(es_ticker.last) and es_ticker.close > 0
    assert es_ticker.lastTimestamp == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 13:00 ET
    assert math.isnan(spy_ticker.bid) and math.isnan(spy_ticker.ask)
    assert spy_ticker.lastTimestamp == datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # Wed 16:00 ET


@pytest.mark.parametrize("sim_start", ["2026-12-24T15:00:00+00:00"])  # Christmas Eve
def test_christmas_is_closed_in_hours_and_history(ib_client, ib_simulator) -> None:  # type: ignore[no-untyped-def]
    [details] = ib_client.reqContractDetails(es("202703"))  # ESZ6 expired on the 18th
    hours = details.tradingHours.split(";")
    assert "20261225:CLOSED" in hours
    assert "20261223:1700-20261224:1215" in hours  # Christmas Eve ends at 12:15 CT
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    ib_simulator.clock.set("2026-12-26T15:00:00Z")  # history cannot end after the clock
    christmas = datetime(2026, 12, 25, 16, 0, tzinfo=UTC)
    bars = ib_client.reqHistoricalData(details.contract, christmas, "3600 S", "5 mins", "TRADES", False, timeout=5)
    assert len(bars) == 0 and errors == [162]  # HMDS query returned no data
