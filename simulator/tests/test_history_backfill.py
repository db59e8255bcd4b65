"""What a backfill asks of the gateway: durations, BID_ASK bars, expired-contract retention,
and IB's errors (10339, 10314, 162, head timestamps), through the real ib_async client."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, BarData, ContFuture, Contract, Future, Stock

from ib_gateway_sim import (
    PacingLimits,
    PriceModel,
    PriceModelConfig,
    SimulatorProcess,
    SimulatorThread,
    load_scenario,
)
from ib_gateway_sim.__main__ import build_parser, make_simulator
from ib_gateway_sim.bars import floor_tick, time_average_bid
from ib_gateway_sim.contracts import ContractBook, ContractRequest, SimContract, stock_contract
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]
ET = ZoneInfo("America/New_York")
SLOT = timedelta(minutes=5)
T = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET
ESU6_GONE = "Historical Market Data Service error message:HMDS query returned no data: ESU6@CME Trades"


@contextmanager
def client(sim: SimulatorThread | SimulatorProcess) -> Iterator[tuple[IB, list[tuple[int, str]]]]:
    ib = connect_ib(sim.port)
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    try:
        yield ib, errors
    finally:
        ib.disconnect()


def expired(ib: IB, month: str, root: str = "ES") -> Contract | None:
    [contract] = ib.qualifyContracts(Future(root, month, "CME", includeExpired=True))
    if contract is not None:
        contract.includeExpired = True  # qualifying copies IB's answer over it (False)
    return contract


def bars(ib: IB, contract: Contract, end: datetime | str, duration: str, what: str = "TRADES", size: str = "5 mins") -> list[BarData]:
    return list(ib.reqHistoricalData(contract, end, duration, size, what, False, formatDate=2, timeout=5))


# -- durations: N S, N D, N W -----------------------------------------------------------------


def test_durations_in_seconds_days_and_weeks(simulator_factory: Factory) -> None:
    sim = simulator_factory(start=T, frozen=True, pacing=PacingLimits.disabled())
    with client(sim) as (ib, errors):
        [es] = ib.qualifyContracts(Future("ES", "202612", "CME"))
        assert es is not None
        seconds = bars(ib, es, "", "300 S")
        hour = bars(ib, es, "", "3600 S")
        day = bars(ib, es, "", "86400 S")
        one_day, two_days = bars(ib, es, "", "1 D"), bars(ib, es, "", "2 D")
        week = bars(ib, es, "", "1 W")
        assert not errors
    assert [b.date for b in seconds] == [T - SLOT]
    assert [b.date for b in hour] == [T - 12 * SLOT + k * SLOT for k in range(12)]
    # 86400 S reaches back 24 hours and so crosses Monday's daily halt (17:00-18:00 ET).
    assert len(day) == 24 * 12 - 12 and day[0].date == T - timedelta(days=1)
    # N D counts trading sessions: today's opened Monday 18:00 ET, the one before Sunday's.
    assert one_day[0].date.astimezone(ET) == datetime(2026, 11, 23, 18, 0, tzinfo=ET)
    assert two_days[0].date.astimezone(ET) == datetime(2026, 11, 22, 18, 0, tzinfo=ET)
    assert len(one_day) == 16 * 12 and len(two_days) == 23 * 12 + 16 * 12
    # N W is 7N calendar days: back to Tuesday 10:00 ET a week earlier, less the weekend
    # (Friday 17:00 to Sunday 18:00 ET, 49 hours) and four daily halts.
    assert week[0].date == T - timedelta(days=7)
    assert len(week) == (7 * 24 - 49 - 4) * 12
    assert all(b.date - a.date >= SLOT for a, b in itertools.pairwise(week))


@pytest.mark.parametrize("duration", ["86401 S", "2 W", "1 M", "1 Y"])
def test_durations_beyond_the_step_table_answer_162(ib_client: IB, duration: str) -> None:
    errors: list[tuple[int, str]] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    [es] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert es is not None and bars(ib_client, es, "", duration) == []
    assert errors == [(162, "Historical Market Data Service error message:Time length exceed max.")]


@pytest.mark.parametrize("duration", ["5 mins", "1 H", "0 D", "-1 W", "1"])
def test_illegal_durations_are_a_321_warning(ib_client: IB, duration: str) -> None:
    codes: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    [es] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert es is not None
    # 321 is a warning to ib_async: the request ends only at its own timeout.
    assert list(ib_client.reqHistoricalData(es, "", duration, "5 mins", "TRADES", False, timeout=0.5)) == []
    assert codes == [321]


# -- BID_ASK ------------------------------------------------------------------------------------


def sampled_average_bid(model: PriceModel, contract: SimContract, start: datetime, seconds: int) -> float:
    """The time-averaged bid by brute force: the quote's bid at the middle of each 0.1 s."""
    steps = seconds * 10
    total = sum(
        model.quote(contract, start + timedelta(seconds=(k + 0.5) / 10))[0] for k in range(steps)
    )
    return total / steps


@pytest.mark.parametrize("symbol", ["ES", "RTY", "SPY"])
def test_bid_ask_bar_is_the_time_averaged_quote(symbol: str) -> None:
    model = PriceModel(PriceModelConfig(seed=42))
    contract = stock_contract(symbol) if symbol == "SPY" else ContractBook().front_month(symbol, T)
    tick = contract.spec.min_tick
    for k in range(6):
        start = T + k * SLOT
        bar = model.slot_bar(contract, start, what="BID_ASK")
        assert bar.open == pytest.approx(sampled_average_bid(model, contract, start, 300), abs=tick / 100)
        assert bar.close == round(bar.open + tick, 6)
        assert bar.high == model.slot_bar(contract, start, what="ASK").high
        assert bar.low == model.slot_bar(contract, start, what="BID").low
        assert bar.low <= bar.open < bar.close <= bar.high
        assert (bar.volume, bar.wap, bar.count) == (-1.0, -1.0, -1)
    # The still-forming bar averages over the time it has run.
    partial = model.slot_bar(contract, T, until=T + timedelta(seconds=90), what="BID_ASK")
    assert partial.open == pytest.approx(sampled_average_bid(model, contract, T, 90), abs=tick / 100)


def test_time_average_of_a_steady_or_crossing_path() -> None:
    assert time_average_bid(100.1, 100.2, 0.25) == 100.0  # never leaves the 100.00 bid
    rising, falling = time_average_bid(100.1, 100.6, 0.25), time_average_bid(100.6, 100.1, 0.25)
    assert 100.0 < rising < 100.5 and 100.0 < falling < 100.5
    # Log-linear path: the bid is 100.00 until ln(100.25/100.1)/ln(100.6/100.1) of the way, ...
    span = math.log(100.6 / 100.1)
    cuts = [math.log(level / 100.1) / span for level in (100.25, 100.5)]
    expected = 100.0 * cuts[0] + 100.25 * (cuts[1] - cuts[0]) + 100.5 * (1 - cuts[1])
    assert rising == pytest.approx(expected, abs=1e-9)
    assert floor_tick(100.1, 0.25) == 100.0


def test_bid_ask_bars_through_ib_async(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    ib_simulator.clock.freeze(T)
    [es, spy] = ib_client.qualifyContracts(Future("ES", "202612", "CME"), Stock("SPY", "SMART", "USD"))
    assert es is not None and spy is not None
    for contract, tick in ((es, 0.25), (spy, 0.01)):
        five = bars(ib_client, contract, "", "1 D", "BID_ASK")
        hourly = bars(ib_client, contract, "", "1 D", "BID_ASK", "1 hour")
        assert five and hourly
        for bar in five + hourly:
            assert bar.low <= bar.open < bar.close <= bar.high
            assert bar.close - bar.open == pytest.approx(tick)
            assert (bar.volume, bar.average, bar.barCount) == (-1, -1, -1)
        # A whole hour averages its twelve five-minute averages, each lasting as long.
        hour = next(b for b in hourly if b.date.astimezone(ET).hour == 8)
        inside = [b for b in five if hour.date <= b.date < hour.date + timedelta(hours=1)]
        assert len(inside) == 12
        assert hour.open == pytest.approx(sum(b.open for b in inside) / 12, abs=1e-6)
        assert hour.high == max(b.high for b in inside) and hour.low == min(b.low for b in inside)


# -- retention of expired contracts -------------------------------------------------------------


def test_default_retention_is_about_two_years(ib_client: IB) -> None:
    errors: list[tuple[int, str]] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    # ESZ4 expired 2024-12-20, 704 days before 2026-11-24: its bars are kept.
    esz4 = expired(ib_client, "202412")
    assert esz4 is not None and esz4.localSymbol == "ESZ4"
    last = bars(ib_client, esz4, "", "1 D")
    assert last and last[-1].date == datetime(2024, 12, 20, 14, 25, tzinfo=UTC)  # to 08:30 CT
    # ESU4 expired 2024-09-20, 795 days before: still listed, but HMDS has nothing for it.
    esu4 = expired(ib_client, "202409")
    assert esu4 is not None and esu4.localSymbol == "ESU4"
    assert bars(ib_client, esu4, datetime(2024, 9, 10, 15, tzinfo=UTC), "1 D") == []
    assert errors == [(162, "Historical Market Data Service error message:HMDS query returned no data: ESU4@CME Trades")]
    # ESU3 (2023-09-15) is past the year's listing grace too: no security definition.
    assert expired(ib_client, "202309") is None
    assert [code for code, _ in errors] == [162, 200]


@pytest.mark.parametrize("sim_expired_retention_days", [30])
def test_retention_is_configurable_and_beyond_it_is_162_naming_the_contract(
    ib_client: IB, ib_simulator: SimulatorThread
) -> None:
    errors: list[tuple[int, str]] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    # ESU6 expired 2026-09-18, 67 days before 2026-11-24: beyond a 30-day retention.
    esu6 = expired(ib_client, "202609")
    assert esu6 is not None and esu6.localSymbol == "ESU6"
    slot = datetime(2026, 9, 10, 15, 0, tzinfo=UTC)
    assert bars(ib_client, esu6, slot, "300 S") == []
    assert bars(ib_client, esu6, slot, "300 S", "MIDPOINT") == []
    assert ib_client.reqHeadTimeStamp(esu6, "TRADES", useRTH=False, formatDate=1) == []
    assert errors == [
        (162, ESU6_GONE),
        (162, ESU6_GONE.replace("Trades", "Midpoint")),
        (162, ESU6_GONE),
    ]
    assert ib_simulator.journal.entries("historical_data")[-1].detail == ESU6_GONE.replace("Trades", "Midpoint")
    # Live and recently expired contracts are unaffected.
    [esz6] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert esz6 is not None and bars(ib_client, esz6, "", "300 S")


def test_retention_boundary_is_the_last_trade_plus_the_days() -> None:
    book = ContractBook(expired_retention_days=30)
    esu6 = book.resolve(ContractRequest(symbol="ES", sec_type="FUT", local_symbol="ESU6", include_expired=True), T).contracts[0]
    assert esu6.last_trade == datetime(2026, 9, 18, 13, 30, tzinfo=UTC)
    gone = datetime(2026, 10, 18, 13, 30, tzinfo=UTC)
    assert book.has_history(esu6, gone - timedelta(seconds=1)) and not book.has_history(esu6, gone)
    assert book.has_history(stock_contract("SPY"), gone)
    # Listed for a year after the bars are gone, then not at all.
    delisted = gone + timedelta(days=365)
    oldest = book.chain("ES", delisted - timedelta(seconds=1), include_expired=True)[0]
    assert oldest.local_symbol == "ESU6"
    assert "ESU6" not in [c.local_symbol for c in book.chain("ES", delisted, include_expired=True)]
    with pytest.raises(ValueError):
        ContractBook(expired_retention_days=-1)


def test_retention_from_the_cli_and_a_scenario(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--expired-retention-days", "30", "--port", "0"])
    assert make_simulator(args).book.expired_retention_days == 30
    assert make_simulator(build_parser().parse_args(["--port", "0"])).book.expired_retention_days == 730
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--expired-retention-days", "-5"])
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"expired_retention_days": 45}))
    assert load_scenario(path).expired_retention_days == 45
    assert make_simulator(build_parser().parse_args(["--scenario", str(path)])).book.expired_retention_days == 45
    flag_wins = build_parser().parse_args(["--scenario", str(path), "--expired-retention-days", "10"])
    assert make_simulator(flag_wins).book.expired_retention_days == 10


def test_retention_flag_in_a_subprocess() -> None:
    with SimulatorProcess(start=T, seed=42, expired_retention_days=30) as proc, client(proc) as (ib, errors):
        esu6 = expired(ib, "202609")
        assert esu6 is not None
        assert bars(ib, esu6, datetime(2026, 9, 10, 15, tzinfo=UTC), "300 S") == []
    assert errors == [(162, ESU6_GONE)]


# -- IB's other answers the backfill relies on ----------------------------------------------------


def test_contfut_with_an_end_time_is_10339_whatever_it_shows(ib_client: IB) -> None:
    codes: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    [cont] = ib_client.qualifyContracts(ContFuture("ES", "CME"))
    assert cont is not None
    for what in ("TRADES", "MIDPOINT", "BID_ASK"):
        assert bars(ib_client, cont, T - timedelta(hours=1), "1 D", what) == []
        assert bars(ib_client, cont, "", "1 D", what)
    assert codes == [10339] * 3


@pytest.mark.parametrize(
    "end", ["yesterday", "20261123 25:00:00", "2026-11-23 10:00:00", "20261123 10:00:00 Mars/Olympus", "20261323"]
)
def test_bad_end_times_answer_10314(ib_client: IB, end: str) -> None:
    codes: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    [es] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert es is not None and bars(ib_client, es, end, "1 D") == []
    assert codes == [10314]


def test_head_timestamp_of_live_and_expired_months(ib_client: IB) -> None:
    [esz6] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert esz6 is not None
    assert ib_client.reqHeadTimeStamp(esz6, "MIDPOINT", useRTH=False, formatDate=2).date() == date(2025, 9, 18)
    esu6 = expired(ib_client, "202609")
    assert esu6 is not None
    head = ib_client.reqHeadTimeStamp(esu6, "TRADES", useRTH=False, formatDate=1)
    assert isinstance(head, datetime) and head.date() == date(2026, 9, 18) - timedelta(days=456)
