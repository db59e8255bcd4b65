"""Benchmark: one collection cycle of six instruments with a 250 ms snapshot latency.

Ours (``ib_futures.ib.collector.run_cycle``: every instrument requested at once, change metrics
from the stored history) side by side with a sequential baseline (resolve and snapshot one
instrument at a time, as a hand-written loop would) in the same process, against the same
simulator, each in a fresh read-only gateway connection. The simulator delays every snapshot by 250 ms.
Also counts the historical requests on the wire in steady state (the stored history holds the
previous session close): the target is zero.

    .venv/bin/python bench/bench_collect.py [--runs 7] [--latency 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, date, datetime

from ib_futures.core.config import load_config
from ib_futures.core.instruments import select_instruments
from ib_futures.ib.collector import run_cycle
from ib_futures.ib.contracts import resolve_one
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.settings import GatewaySettings
from ib_futures.ib.snapshots import collect_snapshots
from ib_gateway_sim import SimulatorThread

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET
TRADE_DATE = date(2026, 11, 24)


def stored_history(symbols, ranges):
    """Steady state: the lake already holds the previous close and the last hours."""
    stamps = [
        datetime(2026, 11, 23, 20, 55, tzinfo=UTC),
        datetime(2026, 11, 23, 21, 55, tzinfo=UTC),
        datetime(2026, 11, 24, 11, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 14, 30, tzinfo=UTC),
    ]
    return {s: [(t, 100.0) for t in stamps] for s in symbols}


async def ours(settings: GatewaySettings, instruments) -> tuple[float, int, int]:
    cfg = load_config()
    t0 = time.perf_counter()
    async with connect_gateway(settings) as gateway:
        result = await run_cycle(
            gateway,
            instruments,
            SLOT,
            roll=cfg.roll_rule(),
            trade_date=TRADE_DATE,
            history_source=stored_history,
        )
    return (
        time.perf_counter() - t0,
        len(result.collection.snapshots),
        result.stats.historical_requests,
    )


async def sequential(settings: GatewaySettings, instruments) -> tuple[float, int, int]:
    cfg = load_config()
    t0 = time.perf_counter()
    got = 0
    async with connect_gateway(settings) as gateway:
        for inst in instruments:
            rc = await resolve_one(gateway, inst, TRADE_DATE, cfg.roll_rule())
            got += len((await collect_snapshots(gateway, [rc], SLOT)).snapshots)
    return time.perf_counter() - t0, got, 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.25)
    args = parser.parse_args()
    instruments = select_instruments(load_config())
    with SimulatorThread(start=SLOT.isoformat(), seed=1) as sim:
        sim.faults.delay(args.latency, "snapshot")
        settings = GatewaySettings(port=sim.port, disconnect_pause=0.0)
        asyncio.run(ours(settings, instruments))  # warm-up (imports, memoised bars)
        rows = {"ours (concurrent)": [], "baseline (sequential)": []}
        hist_on_wire = 0
        for _ in range(args.runs):
            before = len(sim.journal.entries(msg_id=20))
            t, n, _h = asyncio.run(ours(settings, instruments))
            hist_on_wire += len(sim.journal.entries(msg_id=20)) - before
            assert n == 6, n
            rows["ours (concurrent)"].append(t)
            t, n, _h = asyncio.run(sequential(settings, instruments))
            assert n == 6, n
            rows["baseline (sequential)"].append(t)
    print(f"six instruments, snapshot latency {args.latency * 1000:.0f} ms, {args.runs} runs")
    print(f"{'variant':24} {'median ms':>10} {'min':>8} {'max':>8} {'x latency':>10}")
    med = {}
    for name, times in rows.items():
        med[name] = statistics.median(times)
        print(
            f"{name:24} {med[name] * 1000:10.0f} {min(times) * 1000:8.0f} "
            f"{max(times) * 1000:8.0f} {med[name] / args.latency:10.2f}"
        )
    speedup = med["baseline (sequential)"] / med["ours (concurrent)"]
    print(
        f"speed-up {speedup:.1f}x; historical requests on the wire in steady state: {hist_on_wire}"
    )


if __name__ == "__main__":
    main()
