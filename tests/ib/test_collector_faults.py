"""The collection cycle against the simulator: the real ib_async client, each fault, asserted.

Documented outcomes (see ib_futures.ib.snapshots / ib.gateway):

* connection refused           -> GatewayError naming the gateway, fast
* dropped mid-request          -> ConnectionError; no snapshot is returned at all
* hung snapshot                -> that instrument fails after snapshot_timeout, others are kept
* 162 on historical bars       -> snapshot kept, change metrics None (never 0), failure noted
* 200 on contract details      -> that instrument fails with IB's message
* 354 (not subscribed)         -> delayed data (type 3) with fallback; failure without
* 10197 + cached ticker        -> the stale quote is rejected, not stored as fresh
* 326 (client id in use)       -> noticed at once; the next id is leased; fixed id fails fast
* 1100 during the collection   -> answers after it are rejected unless 1102 came first
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, date, datetime

import pytest

from ib_futures.core.config import load_config
from ib_futures.core.contracts import RollRule
from ib_futures.core.instruments import select_instruments
from ib_futures.ib.collector import run_cycle
from ib_futures.ib.contracts import resolve_all
from ib_futures.ib.gateway import ClientIdInUse, GatewayError, connect_gateway
from ib_futures.ib.settings import GatewaySettings
from ib_futures.ib.snapshots import collect_snapshots
from ib_gateway_sim.testing import connect_ib, free_port

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
TRADE_DATE = date(2026, 11, 24)
CFG = load_config()
ALL = select_instruments(CFG)


def settings(port: int, **kw) -> GatewaySettings:
    base = dict(
        port=port, connect_timeout=3, request_timeout=2, snapshot_timeout=1.5, disconnect_pause=0.0
    )
    base.update(kw)
    return GatewaySettings(**base)


def cycle(port: int, instruments=ALL, history=None, **kw):
    async def main():
        async with connect_gateway(settings(port, **kw), lease_dir=None) as s:
            return await run_cycle(
                s, instruments, SLOT, roll=RollRule(), trade_date=TRADE_DATE, history_source=history
            )

    return asyncio.run(main())


def lake_history_with_previous_close(symbols, ranges):
    """A stored history that already holds the previous close: no historical request needed."""
    points = {}
    for sym in symbols:
        base = 100.0
        points[sym] = [
            (datetime(2026, 11, 23, 20, 55, tzinfo=UTC), base),
            (datetime(2026, 11, 23, 21, 0, tzinfo=UTC), base),
            (datetime(2026, 11, 23, 21, 55, tzinfo=UTC), base),
            (datetime(2026, 11, 24, 14, 0, tzinfo=UTC), base),
            (datetime(2026, 11, 24, 14, 30, tzinfo=UTC), base),
        ]
    return points


def test_all_six_instruments_are_correct(ib_simulator):
    result = cycle(ib_simulator.port, history=lake_history_with_previous_close)
    snaps = {s.symbol: s for s in result.collection.snapshots}
    assert result.collection.failures == {}
    assert sorted(snaps) == ["ES", "IWM", "NQ", "QQQ", "RTY", "SPY"]
    assert snaps["ES"].local_symbol == "ESZ6" and snaps["ES"].expiry == date(2026, 12, 18)
    assert snaps["NQ"].local_symbol == "NQZ6" and snaps["RTY"].local_symbol == "RTYZ6"
    assert snaps["SPY"].expiry is None and snaps["SPY"].exchange == "SMART"
    for s in snaps.values():
        rec = s.to_record()
        assert rec["bucket_ts"] == "2026-11-24T15:00:00+00:00"
        assert rec["bid"] is not None and rec["ask"] is not None and rec["bid"] <= rec["ask"]
        assert rec["market_data_type"] == 1 and rec["con_id"] > 0
        assert s.quote_ts is not None and s.collected_ts >= s.quote_ts
        assert rec["change_1h"] is not None and rec["change_source"] == "lake"
    # steady state: the stored history had the previous close, so no historical request
    assert result.stats.historical_requests == 0
    assert ib_simulator.journal.entries(msg_id=20) == []  # no reqHistoricalData on the wire
    assert len(ib_simulator.journal.entries(msg_id=1)) == 6  # one reqMktData per instrument


def test_cold_start_makes_one_paced_history_request_per_instrument(ib_simulator):
    result = cycle(ib_simulator.port, instruments=select_instruments(CFG, ["ES", "SPY"]))
    assert result.stats.historical_requests == 2
    assert len(ib_simulator.journal.entries(msg_id=20)) == 2
    for s in result.collection.snapshots:
        assert s.change_source == "history" and s.change_daily is not None


def test_connection_refused_fails_fast_naming_the_gateway():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(GatewayError, match=f"127.0.0.1:{port}.*refused"):
        cycle(port)
    assert time.monotonic() - t0 < 2


def test_connection_dropped_mid_request_returns_nothing(ib_simulator):
    ib_simulator.faults.drop("snapshot", symbol="NQ")
    with pytest.raises(ConnectionError):
        cycle(ib_simulator.port, history=lake_history_with_previous_close)


def test_hung_snapshot_is_bounded_and_others_are_kept(ib_simulator):
    ib_simulator.faults.hang("snapshot", symbol="NQ")
    t0 = time.monotonic()
    result = cycle(ib_simulator.port, history=lake_history_with_previous_close)
    assert time.monotonic() - t0 < 1.5 + 4
    assert set(result.collection.failures) == {"NQ"}
    assert "no snapshot within 1.5s" in result.collection.failures["NQ"]
    assert len(result.collection.snapshots) == 5


def test_pacing_violation_on_history_leaves_metrics_empty_not_zero(ib_simulator):
    ib_simulator.faults.error("historical_data", 162, symbol="ES")
    result = cycle(ib_simulator.port, instruments=select_instruments(CFG, ["ES"]))
    (es,) = result.collection.snapshots
    assert es.price is not None
    assert (es.change_1h, es.change_4h, es.change_daily, es.change_overnight) == (None,) * 4
    assert es.change_source is None
    assert "162" in result.stats.history_failures["ES"]


def test_unknown_contract_200_fails_that_instrument(ib_simulator):
    ib_simulator.faults.error("contract_details", 200, symbol="RTY")
    result = cycle(ib_simulator.port, history=lake_history_with_previous_close)
    assert set(result.collection.failures) == {"RTY"}
    assert "200" in result.collection.failures["RTY"]
    assert len(result.collection.snapshots) == 5


@pytest.mark.parametrize(
    ("fallback", "collected"),
    [
        pytest.param(True, True, id="delayed-fallback"),
        pytest.param(False, False, id="no-fallback"),
    ],
)
def test_not_subscribed_354(simulator_factory, fallback, collected):
    sim = simulator_factory(not_permissioned=["ES"])
    result = cycle(
        sim.port,
        instruments=select_instruments(CFG, ["ES", "SPY"]),
        history=lake_history_with_previous_close,
        delayed_fallback=fallback,
    )
    snaps = {s.symbol: s for s in result.collection.snapshots}
    assert snaps["SPY"].market_data_type == 1
    if collected:
        assert snaps["ES"].market_data_type == 3 and snaps["ES"].price is not None
    else:
        assert "ES" not in snaps and "354" in result.collection.failures["ES"]


def test_stale_cached_ticker_after_10197_is_rejected(ib_simulator):
    async def main():
        async with connect_gateway(settings(ib_simulator.port)) as s:
            resolved, _ = await resolve_all(
                s, select_instruments(CFG, ["ES"]), TRADE_DATE, RollRule()
            )
            first = await collect_snapshots(s, list(resolved.values()), SLOT)
            ib_simulator.faults.stale_quote("ES")
            second = await collect_snapshots(s, list(resolved.values()), SLOT)
            # ib_async really did hand back the cached ticker with the old prices
            ticker = s.ib.ticker(resolved["ES"].contract)
            return first, second, ticker

    first, second, ticker = asyncio.run(main())
    assert len(first.snapshots) == 1
    assert ticker is not None and ticker.bid == first.snapshots[0].bid
    assert second.snapshots == []
    assert "10197" in second.failures["ES"]


def test_client_id_in_use_326_is_detected_at_once(ib_simulator):
    other = connect_ib(ib_simulator.port, client_id=150)
    try:
        t0 = time.monotonic()
        with pytest.raises(ClientIdInUse, match="326"):
            cycle(
                ib_simulator.port,
                instruments=select_instruments(CFG, ["SPY"]),
                client_id=150,
                connect_timeout=5,
            )
        assert time.monotonic() - t0 < 2  # not the 5 s connect timeout

        async def main():
            async with connect_gateway(
                settings(ib_simulator.port, client_id_range=(150, 151), connect_timeout=5)
            ) as s:
                return s.client_id

        ids = {asyncio.run(main()) for _ in range(4)}
        assert ids == {151}
    finally:
        other.disconnect()


def test_concurrent_sessions_never_share_a_client_id(ib_simulator, tmp_path):
    seen: list[int] = []
    barrier = threading.Barrier(4)

    def run():
        async def main():
            async with connect_gateway(
                settings(ib_simulator.port, client_id_range=(300, 303)), lease_dir=tmp_path
            ) as s:
                barrier.wait(timeout=10)
                seen.append(s.client_id)

        asyncio.run(main())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(seen) == [300, 301, 302, 303]


@pytest.mark.parametrize(
    ("codes", "kept"),
    [
        pytest.param([1100], False, id="1100-lost"),
        pytest.param([1100, 1102], True, id="1100-then-1102-maintained"),
        pytest.param([1101], False, id="1101-data-lost"),
    ],
)
def test_connectivity_notices_during_collection(ib_simulator, codes, kept):
    ib_simulator.faults.delay(1.0, "snapshot")

    def notices():
        for code in codes:
            time.sleep(0.3)
            ib_simulator.broadcast(code)

    threading.Thread(target=notices, daemon=True).start()
    result = cycle(
        ib_simulator.port,
        instruments=select_instruments(CFG, ["ES", "SPY"]),
        history=lake_history_with_previous_close,
        snapshot_timeout=3,
    )
    if kept:
        assert len(result.collection.snapshots) == 2 and not result.collection.failures
    else:
        assert result.collection.snapshots == []
        assert all(str(codes[-1]) in why for why in result.collection.failures.values())


@pytest.mark.parametrize(
    ("sim_start", "on", "expected"),
    [
        pytest.param("2026-12-09T15:00:00+00:00", date(2026, 12, 9), "ESZ6", id="day-before-roll"),
        pytest.param("2026-12-10T15:00:00+00:00", date(2026, 12, 10), "ESH7", id="roll-thursday"),
    ],
)
def test_front_month_from_gateway_details_both_sides_of_roll(ib_simulator, on, expected):
    async def main():
        async with connect_gateway(settings(ib_simulator.port)) as s:
            return await resolve_all(s, select_instruments(CFG, ["ES"]), on, RollRule())

    resolved, failed = asyncio.run(main())
    assert not failed
    assert resolved["ES"].local_symbol == expected
