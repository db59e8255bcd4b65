"""History agrees with live quotes, through the real ib_async client.

A collector that missed slot T fills it from the five-minute bars (IB stamps a bar by its
start): ``last`` from the TRADES close of the bar dated T - 5 min, the mid from its MIDPOINT
close, and at a session's first slot the open of the bar dated T. These tests freeze the
simulator's clock at T, take a live snapshot, then ask for the bars (at T, or hours or weeks
later) and require the two to agree to the tick: for the front months, for a month that has
expired since (``includeExpired``), and for the ETFs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from ib_async import IB, BarData, Contract, Future, Stock, Ticker

from ib_gateway_sim import PacingLimits, SimulatorThread
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]
SLOT = timedelta(minutes=5)
#: Tuesday 2026-11-24 10:00 ET: CME and the ETFs' regular hours open, ESZ6 the front month.
T = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
FUTURES = [Future("ES", "202612", "CME"), Future("NQ", "202612", "CME"), Future("RTY", "202612", "CME")]
ETFS = [Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD"), Stock("IWM", "SMART", "USD")]


@contextmanager
def frozen_client(factory: Factory, at: datetime) -> Iterator[tuple[SimulatorThread, IB]]:
    # Pacing is not under test here; these tests ask for many bars of one contract.
    sim = factory(start=at, frozen=True, pacing=PacingLimits.disabled())
    ib = connect_ib(sim.port)
    try:
        yield sim, ib
    finally:
        ib.disconnect()


def qualified(ib: IB, contracts: Sequence[Contract]) -> list[Contract]:
    found = ib.qualifyContracts(*contracts)
    assert all(c is not None for c in found)
    return [c for c in found if c is not None]


def snapshot(ib: IB, contracts: list[Contract]) -> list[Ticker]:
    tickers = ib.reqTickers(*contracts)
    assert len(tickers) == len(contracts)
    return list(tickers)


def mid(ticker: Ticker) -> float:
    # Float addition of two tick prices can miss the decimal mid by an ulp; IB prices carry
    # at most six decimals, so compare at that precision.
    return round((ticker.bid + ticker.ask) / 2, 6)


def bar_dated(
    ib: IB, contract: Contract, what: str, stamp: datetime, end: datetime | str, duration: str
) -> BarData:
    bars = ib.reqHistoricalData(contract, end, duration, "5 mins", what, useRTH=False, formatDate=2, timeout=5)
    matching = [b for b in bars if b.date == stamp]
    assert len(matching) == 1, (contract.localSymbol, what, stamp, [b.date for b in bars[-3:]])
    return matching[0]


def assert_bar_closes_at(ib: IB, contract: Contract, ticker: Ticker, slot: datetime, end: datetime | str, duration: str) -> None:
    trades = bar_dated(ib, contract, "TRADES", slot - SLOT, end, duration)
    mids = bar_dated(ib, contract, "MIDPOINT", slot - SLOT, end, duration)
    assert (trades.close, mids.close) == (ticker.last, mid(ticker)), contract.localSymbol


def assert_bar_opens_at(ib: IB, contract: Contract, ticker: Ticker, slot: datetime, end: datetime | str, duration: str, *, trades: bool = True) -> None:
    mids = bar_dated(ib, contract, "MIDPOINT", slot, end, duration)
    assert mids.open == mid(ticker), contract.localSymbol
    if trades:
        assert bar_dated(ib, contract, "TRADES", slot, end, duration).open == ticker.last, contract.localSymbol


@pytest.mark.parametrize("duration", ["300 S", "1 D", "1 W"])
@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=2)], ids=["at-the-slot", "two-hours-later"])
def test_bar_ending_at_the_slot_closes_at_the_live_quote(simulator_factory: Factory, duration: str, later: timedelta) -> None:
    with frozen_client(simulator_factory, T) as (sim, ib):
        contracts = qualified(ib, FUTURES + ETFS)
        tickers = snapshot(ib, contracts)
        sim.clock.freeze(T + later)
        # At the slot the window ends now (""); later it must name the slot.
        end: datetime | str = T if later else ""
        for contract, ticker in zip(contracts, tickers, strict=True):
            assert_bar_closes_at(ib, contract, ticker, T, end, duration)


def test_bar_starting_at_the_slot_opens_at_the_live_quote(simulator_factory: Factory) -> None:
    with frozen_client(simulator_factory, T) as (sim, ib):
        contracts = qualified(ib, FUTURES + ETFS)
        tickers = snapshot(ib, contracts)
        sim.clock.freeze(T + timedelta(hours=2))
        for contract, ticker in zip(contracts, tickers, strict=True):
            assert_bar_opens_at(ib, contract, ticker, T, T + SLOT, "300 S")
            assert_bar_opens_at(ib, contract, ticker, T, "", "1 D")


@pytest.mark.parametrize(
    ("opening", "contracts", "trades", "bar_ends_there"),
    [
        pytest.param(datetime(2026, 11, 22, 23, 0, tzinfo=UTC), FUTURES, True, False, id="sunday-18:00-ET"),
        pytest.param(datetime(2026, 11, 24, 23, 0, tzinfo=UTC), FUTURES, True, False, id="after-the-daily-halt"),
        # Before 09:30 ET an ETF quotes but has no fresh last trade: the mid only.
        pytest.param(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), ETFS, False, False, id="etf-04:00-ET"),
        # The regular open follows the pre-market bars: a bar does end there.
        pytest.param(datetime(2026, 11, 24, 14, 30, tzinfo=UTC), ETFS, True, True, id="etf-09:30-ET"),
    ],
)
def test_session_first_slot_is_the_open_of_the_bar_starting_there(
    simulator_factory: Factory, opening: datetime, contracts: list[Contract], trades: bool, bar_ends_there: bool
) -> None:
    with frozen_client(simulator_factory, opening) as (sim, ib):
        codes: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
        found = qualified(ib, contracts)
        tickers = snapshot(ib, found)
        sim.clock.freeze(opening + timedelta(hours=1))
        for contract, ticker in zip(found, tickers, strict=True):
            assert_bar_opens_at(ib, contract, ticker, opening, opening + SLOT, "300 S", trades=trades)
        ending = ib.reqHistoricalData(found[0], opening, "300 S", "5 mins", "MIDPOINT", False, formatDate=2, timeout=5)
    assert [b.date for b in ending] == ([opening - SLOT] if bar_ends_there else [])
    assert codes == ([] if bar_ends_there else [162])


def test_expired_month_history_agrees_with_its_live_quotes(simulator_factory: Factory) -> None:
    # Thursday 2026-09-10 11:00 ET: ESU6 (expiry Friday 2026-09-18) is the front month.
    slot = datetime(2026, 9, 10, 15, 0, tzinfo=UTC)
    september = [Future(root, "202609", "CME") for root in ("ES", "NQ", "RTY")]
    with frozen_client(simulator_factory, slot) as (sim, ib):
        live = qualified(ib, september)
        tickers = snapshot(ib, live)
        # Three weeks after the expiry the month is only reachable with includeExpired.
        sim.clock.freeze(datetime(2026, 10, 8, 15, 0, tzinfo=UTC))
        assert ib.qualifyContracts(Future("ES", "202609", "CME")) == [None]
        expired = qualified(ib, [Future(c.symbol, "202609", "CME", includeExpired=True) for c in live])
        for contract, before, ticker in zip(expired, live, tickers, strict=True):
            assert (contract.conId, contract.localSymbol) == (before.conId, before.localSymbol)
            contract.includeExpired = True  # qualifying copies IB's answer over it (False)
            for duration in ("300 S", "1 D", "1 W"):
                assert_bar_closes_at(ib, contract, ticker, slot, slot, duration)
            assert_bar_opens_at(ib, contract, ticker, slot, slot + SLOT, "300 S")


def test_every_slot_of_a_session_agrees(simulator_factory: Factory) -> None:
    # Monday 18:00 ET to Tuesday 17:00 ET for the futures; the ETFs' last trades in 09:30-16:00.
    opening, closing = datetime(2026, 11, 23, 23, 0, tzinfo=UTC), datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    rth = (datetime(2026, 11, 24, 14, 30, tzinfo=UTC), datetime(2026, 11, 24, 21, 0, tzinfo=UTC))
    with frozen_client(simulator_factory, opening) as (sim, ib):
        # ~700 snapshot requests: lift ib_async's own 45-per-second throttle (a client-side
        # limit, not the gateway's), or the test would spend most of its time waiting on it.
        ib.client.MaxRequests = 0
        es, rty, spy = qualified(ib, [FUTURES[0], FUTURES[2], ETFS[0]])
        # ib_async keeps one Ticker per contract and updates it: keep the values, not it.
        live: dict[tuple[int, datetime], tuple[float, float]] = {}
        slot = opening
        while slot < closing:
            sim.clock.freeze(slot)
            contracts = [es, rty] + ([spy] if rth[0] <= slot < rth[1] else [])
            for contract, ticker in zip(contracts, snapshot(ib, contracts), strict=True):
                live[contract.conId, slot] = (ticker.last, mid(ticker))
            slot += SLOT
        sim.clock.freeze(closing + timedelta(hours=1))
        checked = 0
        for contract in (es, rty, spy):
            bars = {
                what: {b.date: b for b in ib.reqHistoricalData(contract, closing, "1 D", "5 mins", what, False, formatDate=2, timeout=5)}
                for what in ("TRADES", "MIDPOINT")
            }
            for (con_id, at), quote in live.items():
                if con_id != contract.conId:
                    continue
                assert (bars["TRADES"][at].open, bars["MIDPOINT"][at].open) == quote, (contract.symbol, at)
                if at - SLOT in bars["TRADES"]:
                    closes = (bars["TRADES"][at - SLOT].close, bars["MIDPOINT"][at - SLOT].close)
                    assert closes == quote, (contract.symbol, at)
                    checked += 1
    # 276 slots for each future less the session's first, 78 for SPY (its 09:30 bar follows
    # the pre-market one).
    assert checked == 2 * 275 + 78


def test_a_window_off_the_grid_still_gets_the_bars_on_it(simulator_factory: Factory) -> None:
    # A collector running 17 s late asks for "the last 300 s" ending now: the bars it gets are
    # stamped on the five-minute grid, the one ending at the slot whole.
    with frozen_client(simulator_factory, T) as (sim, ib):
        contracts = qualified(ib, FUTURES + ETFS)
        at_slot = [(t.last, mid(t)) for t in snapshot(ib, contracts)]
        late = sim.clock.freeze(T + timedelta(seconds=17))
        now = [(t.last, mid(t)) for t in snapshot(ib, contracts)]
        for contract, quote, latest in zip(contracts, at_slot, now, strict=True):
            trades = ib.reqHistoricalData(contract, "", "300 S", "5 mins", "TRADES", False, formatDate=2, timeout=5)
            mids = ib.reqHistoricalData(contract, "", "300 S", "5 mins", "MIDPOINT", False, formatDate=2, timeout=5)
            assert [b.date for b in trades] == [b.date for b in mids] == [T - SLOT, T]
            assert (trades[0].close, mids[0].close) == quote == (trades[1].open, mids[1].open)
            # The still-forming bar closes at the quote of the moment.
            assert (trades[1].close, mids[1].close) == latest, (contract.localSymbol, late)
