"""Historical bars through the real ib_async client: sizes, sessions, formats and IB's errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, BarData, ContFuture, Future, Stock

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]
ET = ZoneInfo("America/New_York")
SATURDAY = "2026-11-21T15:00:00Z"  # an ordinary weekend (test_holidays.py has Thanksgiving's)


@contextmanager
def client(sim: SimulatorThread) -> Iterator[tuple[IB, list[int]]]:
    ib = connect_ib(sim.port)
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    try:
        yield ib, errors
    finally:
        ib.disconnect()


def stamp(bar: BarData) -> datetime:
    assert isinstance(bar.date, datetime)
    return bar.date


def es(ib: IB) -> Future:
    [contract] = ib.qualifyContracts(Future("ES", "202612", "CME"))
    assert isinstance(contract, Future)
    return contract


def spy(ib: IB) -> Stock:
    [contract] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    assert isinstance(contract, Stock)
    return contract


def test_one_day_of_five_minute_bars_on_a_weekend_is_fridays_session(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=SATURDAY, frozen=True)
    with client(sim) as (ib, errors):
        bars = ib.reqHistoricalData(es(ib), "", "1 D", "5 mins", "TRADES", useRTH=False, timeout=5)
    # Thu 18:00 ET to Fri 17:00 ET: 23 hours.
    assert len(bars) == 23 * 12 and not errors
    first, last = bars[0].date, bars[-1].date
    assert isinstance(first, datetime) and isinstance(last, datetime)
    assert first.astimezone(ET) == datetime(2026, 11, 19, 18, 0, tzinfo=ET)
    assert last.astimezone(ET) == datetime(2026, 11, 20, 16, 55, tzinfo=ET)
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) and max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0 and bar.barCount > 0 and bar.low <= bar.average <= bar.high


def test_bars_skip_the_daily_halt(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=SATURDAY, frozen=True)
    with client(sim) as (ib, _):
        bars = ib.reqHistoricalData(es(ib), "", "3 D", "5 mins", "TRADES", useRTH=False, timeout=5)
    stamps = [stamp(b).astimezone(ET) for b in bars]
    assert len(bars) == 3 * 23 * 12
    assert not [s for s in stamps if time(17, 0) <= s.time() < time(18, 0)]
    assert stamps == sorted(stamps)


def test_rth_bars_of_an_etf(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=SATURDAY, frozen=True)
    with client(sim) as (ib, _):
        contract = spy(ib)
        five = ib.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", useRTH=True, timeout=5)
        hourly = ib.reqHistoricalData(contract, "", "1 D", "1 hour", "TRADES", useRTH=True, timeout=5)
        extended = ib.reqHistoricalData(contract, "", "1 D", "30 mins", "TRADES", useRTH=False, timeout=5)
    assert len(five) == 78
    assert stamp(five[0]).astimezone(ET).time() == time(9, 30)
    assert [stamp(b).astimezone(ET).hour for b in hourly] == [9, 10, 11, 12, 13, 14, 15]
    # Hourly bars aggregate the five-minute ones.
    assert hourly[0].open == five[0].open and hourly[-1].close == five[-1].close
    assert hourly[0].high == max(b.high for b in five[:6]) and hourly[0].volume == sum(b.volume for b in five[:6])
    assert len(extended) == 32  # 04:00-20:00 ET


def test_daily_bars_are_sessions_labelled_by_trade_date(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=SATURDAY, frozen=True)
    with client(sim) as (ib, _):
        contract = es(ib)
        daily = ib.reqHistoricalData(contract, "", "5 D", "1 day", "TRADES", useRTH=False, timeout=5)
        friday = ib.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", useRTH=False, timeout=5)
    assert [b.date for b in daily] == [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    assert daily[-1].open == friday[0].open and daily[-1].close == friday[-1].close
    assert daily[-1].high == max(b.high for b in friday) and daily[-1].low == min(b.low for b in friday)


def test_format_date_2_gives_utc_datetimes(ib_client: IB) -> None:
    bars = ib_client.reqHistoricalData(es(ib_client), "", "3600 S", "5 mins", "TRADES", False, formatDate=2, timeout=5)
    assert bars and all(stamp(b).tzinfo == UTC for b in bars)


def test_midpoint_bars_have_no_volume(ib_client: IB) -> None:
    bars = ib_client.reqHistoricalData(es(ib_client), "", "3600 S", "5 mins", "MIDPOINT", False, timeout=5)
    assert bars and {b.volume for b in bars} == {-1.0} and {b.average for b in bars} == {-1.0}
    assert all((b.close * 8) % 2 == 1 for b in bars)  # mid of a 0.25 tick: x.125, x.375, ...


@pytest.mark.parametrize(("duration", "bar_size"), [("1 M", "5 mins"), ("2 W", "5 mins"), ("1 Y", "1 hour"), ("90000 S", "1 hour")])
def test_step_rule_violations_answer_162(ib_client: IB, duration: str, bar_size: str) -> None:
    errors: list[tuple[int, str]] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    bars = ib_client.reqHistoricalData(es(ib_client), "", duration, bar_size, "TRADES", False, timeout=5)
    assert len(bars) == 0
    assert errors == [(162, "Historical Market Data Service error message:Time length exceed max.")]


def test_allowed_long_requests(ib_client: IB) -> None:
    contract = es(ib_client)
    week = ib_client.reqHistoricalData(contract, "", "1 W", "5 mins", "TRADES", False, timeout=10)
    month = ib_client.reqHistoricalData(contract, "", "1 M", "1 hour", "TRADES", True, timeout=10)
    assert len(week) > 5 * 23 * 12 - 24 and len(month) >= 20 * 7


def test_illegal_bar_size_is_a_321_warning_and_the_request_times_out(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    bars = ib_client.reqHistoricalData(es(ib_client), "", "1 D", "7 mins", "TRADES", False, timeout=0.5)
    assert len(bars) == 0 and errors == [321]
    ib_client.sleep(0.1)
    # ib_async cancels a timed-out request by itself.
    assert ib_simulator.journal.entries("cancel_historical_data")


def test_legal_but_unserved_bar_size_answers_162(ib_client: IB) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    assert len(ib_client.reqHistoricalData(es(ib_client), "", "1 D", "1 min", "TRADES", False, timeout=2)) == 0
    assert errors == [162]


def test_contfut_history_only_without_end_time(ib_client: IB) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    [cont] = ib_client.qualifyContracts(ContFuture("ES", "CME"))
    assert cont is not None
    bars = ib_client.reqHistoricalData(cont, "", "1 D", "1 hour", "TRADES", False, timeout=5)
    assert len(bars) > 0 and not errors
    end = datetime(2026, 11, 23, 20, tzinfo=UTC)
    assert len(ib_client.reqHistoricalData(cont, end, "1 D", "1 hour", "TRADES", False, timeout=5)) == 0
    assert errors == [10339]


@pytest.mark.parametrize(
    "end",
    [datetime(2026, 11, 23, 20, 0, tzinfo=UTC), "20261123-20:00:00", "20261123 15:00:00 US/Eastern", "20261123 20:00:00 UTC"],
)
def test_end_date_time_forms(ib_client: IB, end: datetime | str) -> None:
    bars = ib_client.reqHistoricalData(es(ib_client), end, "3600 S", "5 mins", "TRADES", False, timeout=5)
    assert len(bars) == 12
    assert bars[-1].date == datetime(2026, 11, 23, 19, 55, tzinfo=UTC)


def test_bad_end_date_time_answers_10314(ib_client: IB) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    assert len(ib_client.reqHistoricalData(es(ib_client), "yesterday", "1 D", "5 mins", "TRADES", False, timeout=2)) == 0
    assert errors == [10314]


def test_empty_window_answers_162_no_data(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=SATURDAY, frozen=True)
    with client(sim) as (ib, errors):
        assert len(ib.reqHistoricalData(es(ib), "", "3600 S", "5 mins", "TRADES", False, timeout=2)) == 0
    assert errors == [162]
    [entry] = sim.journal.entries("historical_data")
    assert entry.outcome == "error 162"
    assert entry.detail.endswith("HMDS query returned no data: ESZ6@CME Trades")


def test_quotes_and_bars_follow_one_price_path(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    ib_simulator.clock.freeze("2026-11-24T16:05:00Z")
    contract = es(ib_client)
    [ticker] = ib_client.reqTickers(contract)
    bars = ib_client.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", False, timeout=5)
    assert bars[-1].date == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert ticker.last == bars[-1].close
    assert ticker.high == max(b.high for b in bars) and ticker.low == min(b.low for b in bars)
    assert ticker.open == bars[0].open and ticker.volume == sum(b.volume for b in bars)


def test_expired_contract_history_ends_at_its_last_trade(ib_client: IB) -> None:
    expired = Future("ES", "202609", "CME", includeExpired=True)
    [contract] = ib_client.qualifyContracts(expired)
    assert contract is not None
    contract.includeExpired = True  # qualifying copies IB's answer over it (False)
    bars = ib_client.reqHistoricalData(contract, "", "1 W", "1 hour", "TRADES", False, timeout=5)
    last = bars[-1].date
    assert isinstance(last, datetime)
    assert last.astimezone(ET) == datetime(2026, 9, 18, 9, 0, tzinfo=ET)  # 08:30 CT = 09:30 ET
    assert last.astimezone(UTC) < datetime(2026, 9, 18, 13, 30, tzinfo=UTC) + timedelta(hours=1)


def test_head_timestamp(ib_client: IB) -> None:
    head = ib_client.reqHeadTimeStamp(es(ib_client), "TRADES", useRTH=False, formatDate=1)
    assert isinstance(head, datetime) and head.date() == date(2025, 9, 18)
    assert ib_client.reqHeadTimeStamp(spy(ib_client), "TRADES", True, 1) == datetime(1993, 1, 29, 14, 30)
