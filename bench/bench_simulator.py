"""Benchmark: one collector-shaped round trip through the real ib_async client and the simulator.

Each run connects (read-only, new client id), qualifies the six instruments (ES, NQ, RTY front
months, SPY, QQQ, IWM), takes six concurrent snapshots, requests one day of five-minute ES bars
and disconnects. Prints the median (and min/max) of each step over ``--runs`` runs.

    .venv/bin/python bench/bench_simulator.py [--runs 9] [--subprocess]

Pacing is disabled (``PacingLimits.disabled()`` / ``--no-pacing``): the runs repeat the same
history request within seconds, which IB (and the simulator by default) refuses with 162.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from ib_async import IB, Contract, Future, Stock

from ib_gateway_sim import PacingLimits, SimulatorProcess, SimulatorThread

START = "2026-11-24T15:00:00Z"  # Tuesday 10:00 ET, every market open


def instruments() -> list[Contract]:
    return [
        Future("ES", "202612", "CME"), Future("NQ", "202612", "CME"), Future("RTY", "202612", "CME"),
        Stock("SPY", "SMART", "USD", primaryExchange="ARCA"),
        Stock("QQQ", "SMART", "USD", primaryExchange="NASDAQ"),
        Stock("IWM", "SMART", "USD", primaryExchange="ARCA"),
    ]


def one_run(port: int, client_id: int, end: datetime | str) -> dict[str, float]:
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = fn()
        timings[name] = (time.perf_counter() - started) * 1000
        return result

    ib = IB()
    ib.RequestTimeout = 5
    total = time.perf_counter()
    timed("connect", lambda: ib.connect("127.0.0.1", port, clientId=client_id, readonly=True, timeout=5))
    try:
        contracts = timed("qualify 6", lambda: ib.qualifyContracts(*instruments()))
        tickers = timed("6 snapshots", lambda: ib.reqTickers(*contracts))  # type: ignore[misc]
        assert all(t.bid <= t.ask for t in tickers)  # type: ignore[attr-defined]
        es = contracts[0]  # type: ignore[index]
        bars = timed(
            "1 day of 5-min bars",
            lambda: ib.reqHistoricalData(es, end, "1 D", "5 mins", "TRADES", False, timeout=10),
        )
        assert len(bars) > 0  # type: ignore[arg-type]
    finally:
        ib.disconnect()
    timings["total"] = (time.perf_counter() - total) * 1000
    return timings


def report(label: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{label}: {len(runs)} runs (ms)")
    print(f"{'step':<22}{'median':>9}{'min':>9}{'max':>9}")
    for step in runs[0]:
        values = [r[step] for r in runs]
        print(f"{step:<22}{statistics.median(values):>9.1f}{min(values):>9.1f}{max(values):>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--subprocess", action="store_true", help="also bench the CLI subprocess")
    args = parser.parse_args()

    with SimulatorThread(start=START, seed=1, pacing=PacingLimits.disabled()) as sim:
        one_run(sim.port, 100, "")  # warm-up: imports, price-model caches
        report("in-process (SimulatorThread)", [one_run(sim.port, 101 + i, "") for i in range(args.runs)])

    if args.subprocess:
        with SimulatorProcess(start=START, seed=1, extra_args=["--no-pacing"]) as proc:
            one_run(proc.port, 200, "")
            runs = [one_run(proc.port, 201 + i, "") for i in range(args.runs)]
            report("subprocess (python -m ib_gateway_sim)", runs)


if __name__ == "__main__":
    main()
