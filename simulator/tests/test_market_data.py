"""Snapshots and streaming quotes through the real ib_async client."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from ib_async import IB, ContFuture, Contract, Future, Stock

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.contracts import ContractBook, stock_contract
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]
ES = Future("ES", "202612", "CME")
NQ = Future("NQ", "202612", "CME")
SPY = Stock("SPY", "SMART", "USD", primaryExchange="ARCA")


def six() -> list[Contract]:
    return [
        Future("ES", "202612", "CME"), Future("NQ", "202612", "CME"), Future("RTY", "202612", "CME"),
        Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD"), Stock("IWM", "SMART", "USD"),
    ]


@contextmanager
def client(sim: SimulatorThread, client_id: int = 1) -> Iterator[IB]:
    ib = connect_ib(sim.port, client_id)
    try:
        yield ib
    finally:
        ib.disconnect()


def test_live_snapshots_of_all_six(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    now = ib_simulator.clock.freeze()
    contracts = ib_client.qualifyContracts(*six())
    tickers = ib_client.reqTickers(*contracts)  # type: ignore[arg-type]
    ticks = {"ES": 0.25, "NQ": 0.25, "RTY": 0.1, "SPY": 0.01, "QQQ": 0.01, "IWM": 0.01}
    for ticker in tickers:
        symbol = ticker.contract.symbol  # type: ignore[union-attr]
        assert ticker.marketDataType == 1
        assert 0 < ticker.bid < ticker.ask
        assert ticker.ask - ticker.bid == pytest.approx(ticks[symbol])
        assert ticker.bid <= ticker.last <= ticker.ask
        assert ticker.bidSize > 0 and ticker.askSize > 0 and ticker.lastSize > 0
        assert ticker.volume > 0 and ticker.low <= ticker.last <= ticker.high
        assert ticker.close > 0 and ticker.open > 0
        assert ticker.lastTimestamp is not None
        assert timedelta(0) <= now - ticker.lastTimestamp < timedelta(seconds=3)
    levels = {t.contract.symbol: t.last for t in tickers}  # type: ignore[union-attr]
    # Realistic levels and ratios: SPY ~ ES/10, QQQ ~ NQ/41, IWM ~ RTY/10.
    assert 0.09 < levels["SPY"] / levels["ES"] < 0.11
    assert 1 / 45 < levels["QQQ"] / levels["NQ"] < 1 / 37
    assert 0.09 < levels["IWM"] / levels["RTY"] < 0.11
    snapshots = ib_simulator.journal.entries("snapshot")
    assert [e.outcome for e in snapshots] == ["answered"] * 6


def test_snapshot_agrees_with_the_price_model(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    at = ib_simulator.clock.freeze("2026-11-24T16:02:30Z")
    [spy] = ib_client.qualifyContracts(Stock("SPY", "SMART", "USD"))
    [ticker] = ib_client.reqTickers(spy)  # type: ignore[arg-type]
    bid, ask, last = ib_simulator.model.quote(stock_contract("SPY"), at)
    assert (ticker.bid, ticker.ask, ticker.last) == (bid, ask, last)


def test_streaming_quotes_update_until_cancelled(simulator_factory: Factory) -> None:
    sim = simulator_factory(stream_interval=0.05)
    with client(sim) as ib:
        [es] = ib.qualifyContracts(ES)
        ticker = ib.reqMktData(es)  # type: ignore[arg-type]
        updates: list[float] = []
        ticker.updateEvent += lambda t: updates.append(t.last)
        ib.sleep(0.6)
        assert len(updates) >= 2 and not math.isnan(ticker.bid)
        ib.cancelMktData(es)  # type: ignore[arg-type]
        ib.sleep(0.1)
        seen = len(updates)
        ib.sleep(0.3)
        assert len(updates) == seen
    assert sim.journal.entries("cancel_market_data")


def test_not_permissioned_live_request_gets_354(simulator_factory: Factory) -> None:
    sim = simulator_factory(not_permissioned=["NQ"])
    with client(sim) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
        [nq, spy] = ib.qualifyContracts(NQ, SPY)
        nq_ticker, spy_ticker = ib.reqTickers(nq, spy)  # type: ignore[arg-type]
        assert math.isnan(nq_ticker.bid) and math.isnan(nq_ticker.last)
        assert spy_ticker.bid > 0
        assert errors == [354]


def test_delayed_data_with_10167_when_not_subscribed(simulator_factory: Factory) -> None:
    sim = simulator_factory(not_permissioned=["NQ"])
    at = sim.clock.freeze("2026-11-24T16:00:00Z")
    with client(sim) as ib:
        warnings: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, contract: warnings.append(code)
        ib.reqMarketDataType(3)
        [nq, es] = ib.qualifyContracts(NQ, ES)
        nq_ticker, es_ticker = ib.reqTickers(nq, es)  # type: ignore[arg-type]
        assert warnings == [10167]
        assert nq_ticker.marketDataType == 3
        contract = ContractBook().front_month("NQ", at)
        bid, ask, last = sim.model.quote(contract, at - timedelta(minutes=10))
        assert (nq_ticker.bid, nq_ticker.ask, nq_ticker.last) == (bid, ask, last)
        assert nq_ticker.delayedLastTimestamp is not None
        # A subscribed symbol gets live data even when delayed data is asked for.
        assert es_ticker.marketDataType == 1


def test_weekend_snapshot_has_no_fresh_quote(simulator_factory: Factory) -> None:
    sim = simulator_factory(start="2026-11-21T15:00:00Z", frozen=True)  # an ordinary Saturday
    with client(sim) as ib:
        tickers = ib.reqTickers(*ib.qualifyContracts(ES, SPY))  # type: ignore[arg-type]
    friday_cme_close = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # Fri 17:00 ET
    friday_rth_close = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # Fri 16:00 ET
    for ticker, close_at in zip(tickers, (friday_cme_close, friday_rth_close), strict=True):
        assert math.isnan(ticker.bid) and math.isnan(ticker.ask) and math.isnan(ticker.last)
        assert ticker.close > 0
        assert ticker.lastTimestamp == close_at


def test_daily_halt_closes_futures_but_etfs_still_quote(simulator_factory: Factory) -> None:
    sim = simulator_factory(start="2026-11-24T22:30:00Z", frozen=True)  # Tue 17:30 ET
    with client(sim) as ib:
        es_ticker, spy_ticker = ib.reqTickers(*ib.qualifyContracts(ES, SPY))  # type: ignore[arg-type]
    assert math.isnan(es_ticker.bid) and es_ticker.close > 0
    assert es_ticker.lastTimestamp == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    # ETFs quote 04:00-20:00 ET; their last trade stays the 16:00 close.
    assert 0 < spy_ticker.bid < spy_ticker.ask and math.isnan(spy_ticker.last)
    assert spy_ticker.lastTimestamp == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)


def test_frozen_type_replays_the_close_while_closed(simulator_factory: Factory) -> None:
    sim = simulator_factory(start="2026-11-28T15:00:00Z", frozen=True)
    with client(sim) as ib:
        ib.reqMarketDataType(2)
        [ticker] = ib.reqTickers(*ib.qualifyContracts(ES))  # type: ignore[arg-type]
    assert ticker.marketDataType == 2
    assert 0 < ticker.bid < ticker.ask and ticker.last == ticker.close


def test_contfut_market_data_is_refused(ib_client: IB) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    [cont] = ib_client.qualifyContracts(ContFuture("ES", "CME"))
    [ticker] = ib_client.reqTickers(cont)  # type: ignore[arg-type]
    assert math.isnan(ticker.bid) and errors == [200]


def test_snapshot_turnaround_is_fast(ib_client: IB) -> None:
    contracts = ib_client.qualifyContracts(*six())
    started = time.monotonic()
    ib_client.reqTickers(*contracts)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5
