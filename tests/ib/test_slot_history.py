"""Past slots filled from IB's historical bars, with the real ib_async client against the
simulator: the bar ending at the slot, a session's first slot, an expired month, and a month
beyond IB's retention (docs/storage.md, "Provenance")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from ib_futures.core.config import FuturesConfig
from ib_futures.ib.collector import CycleResult, collect_slot
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.settings import GatewaySettings

CFG = FuturesConfig()


def collect(port: int, slot: datetime, symbols: list[str]) -> CycleResult:
    settings = GatewaySettings(host="127.0.0.1", port=port, request_timeout=5, snapshot_timeout=3)

    async def run() -> CycleResult:
        async with connect_gateway(settings) as gateway:
            return await collect_slot(gateway, CFG, slot, symbols)

    return asyncio.run(run())


def es_bars(port: int, local_symbol: str, end: datetime, what: str) -> dict[datetime, Any]:
    """The simulator's own ES bars of one contract (expired ones included), by start."""
    from ib_async import Future

    from ib_gateway_sim.testing import connect_ib

    ib = connect_ib(port, client_id=91, request_timeout=10)
    try:
        (contract,) = ib.qualifyContracts(
            Future(localSymbol=local_symbol, exchange="CME", includeExpired=True)
        )
        contract.includeExpired = True
        stamp = end.strftime("%Y%m%d %H:%M:%S UTC")
        bars = ib.reqHistoricalData(contract, stamp, "1800 S", "5 mins", what, False, 2)
        return {b.date.astimezone(UTC): b for b in bars}
    finally:
        ib.disconnect()


def test_the_session_first_slot_takes_the_open_of_the_bar_starting_there(simulator_factory):
    reopen = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 18:00 ET, after the daily halt
    sim = simulator_factory(start=(reopen + timedelta(hours=2)).isoformat())
    result = collect(sim.port, reopen, ["ES"])
    (rec,) = result.records()
    assert rec["price_source"] == "hist_midpoint_open"
    bars = es_bars(sim.port, rec["local_symbol"], reopen + timedelta(minutes=10), "MIDPOINT")
    assert reopen - timedelta(minutes=5) not in bars  # the halt: no bar ends at 18:00 ET
    assert rec["price"] == bars[reopen].open


def test_a_slot_of_an_expired_month_is_filled_from_that_contract(simulator_factory):
    slot = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)  # ESU6's last weeks; it expired 2026-09-18
    sim = simulator_factory(start="2026-10-20T15:00:00+00:00")  # a month after its expiry
    (rec,) = collect(sim.port, slot, ["ES"]).records()
    assert (rec["local_symbol"], rec["expiry"]) == ("ESU6", "2026-09-18")
    mid = es_bars(sim.port, "ESU6", slot, "MIDPOINT")[slot - timedelta(minutes=5)]
    trades = es_bars(sim.port, "ESU6", slot, "TRADES")[slot - timedelta(minutes=5)]
    assert (rec["price"], rec["last"], rec["price_source"]) == (
        mid.close, trades.close, "hist_midpoint_close"
    )


def test_a_month_beyond_retention_fails_naming_the_contract_and_stores_nothing(
    simulator_factory,
):
    slot = datetime(2023, 5, 1, 15, 0, tzinfo=UTC)  # ESM3, expired 2023-06-16
    sim = simulator_factory(start="2026-11-24T15:00:00+00:00")
    result = collect(sim.port, slot, ["ES", "NQ"])
    assert result.records() == []
    assert set(result.collection.failures) == {"ES", "NQ"}
    assert "ESM3" in result.collection.failures["ES"]
    assert "NQM3" in result.collection.failures["NQ"]
    assert result.failure_summary(slot).startswith("slot 2023-05-01T15:00:00+00:00: 2 of 2")


def test_live_rows_and_history_rows_give_identical_returns(simulator_factory, monkeypatch):
    """The simulator's clock frozen at each slot of half an hour: the live quotes and, asked
    two hours later, the bars ending at those slots give the same prices, so the same returns."""
    import ib_futures.core.pacing as pacing

    # IB's hard limits still hold (the simulator answers 162 otherwise); only the extra global
    # gap between requests is dropped so that 24 requests take seconds, not a minute.
    fast = pacing.HistoricalPacer(min_gap_s=0.0, margin_s=0.05)
    monkeypatch.setattr(pacing, "default_pacer", lambda: fast)
    slots = [datetime(2026, 11, 24, 15, 0, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(6)]
    sim = simulator_factory(start=slots[0].isoformat(), frozen=True)
    live, late = {}, {}
    for slot in slots:
        sim.clock.set(slot)
        for rec in collect(sim.port, slot, ["ES", "SPY"]).records():
            assert rec["price_source"] == "live"
            live[rec["symbol"], slot] = rec["price"]
    sim.clock.set(slots[-1] + timedelta(hours=2))
    for slot in slots:
        for rec in collect(sim.port, slot, ["ES", "SPY"]).records():
            assert rec["price_source"] == "hist_midpoint_close"
            late[rec["symbol"], slot] = rec["price"]
    assert late == live

    def returns(prices: dict[tuple[str, datetime], float], sym: str) -> list[float]:
        series = [prices[sym, s] for s in slots]
        return [b / a - 1 for a, b in pairwise(series)]

    for sym in ("ES", "SPY"):
        assert returns(live, sym) == returns(late, sym)
