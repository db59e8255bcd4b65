"""One simulated week of five-minute commits, then the weekly maintenance: files and read times.

Writes ``--slots`` consecutive five-minute slots (default 2016 = 7 x 288) of six instruments
through :func:`ib_futures.lake.writer.write_snapshots` (the operator's path: validation, two
tables, one commit per table per slot), then measures, before and after
:func:`ib_futures.lake.maintenance.maintain_lake`:

* active data files (the log's view) and parquet files on disk, log entries;
* a full scan of ``futures_snapshots`` (``pl.scan_delta(...).collect()``), one pair-day read
  (:func:`read_pair_window`), the freshness read (:func:`latest_per_symbol`);
* the latency of further writes.

Maintenance runs with the production retention (168 h files and log): the log stops
referencing the small files at once, while they stay on disk until a later vacuum; a final
``vacuum`` with zero retention shows what the disk looks like a week later.

    .venv/bin/python bench/bench_lake_week.py [--slots 2016] [--checkpoint-interval N]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from deltalake import DeltaTable

from ib_futures.lake.maintenance import maintain_lake
from ib_futures.lake.readers import latest_per_symbol, read_pair_window
from ib_futures.lake.storage import table_uri
from ib_futures.lake.writer import write_snapshots

START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday
SYMBOLS = {"ES": 6000.0, "NQ": 21000.0, "RTY": 2300.0, "SPY": 600.0, "QQQ": 510.0, "IWM": 230.0}
ETFS = {"SPY", "QQQ", "IWM"}


def batch(slot: datetime, step: int) -> list[dict[str, Any]]:
    out = []
    for sym, base in SYMBOLS.items():
        px = base + (step % 50) * 0.25
        etf = sym in ETFS
        out.append(
            {
                "symbol": sym, "asset_class": "ETF" if etf else "FUT",
                "bucket_ts": slot.isoformat(), "bucket_date": slot.date().isoformat(),
                "quote_ts": (slot - timedelta(seconds=2)).isoformat(), "last_trade_ts": None,
                "collected_ts": (slot + timedelta(seconds=3)).isoformat(), "con_id": 1,
                "local_symbol": sym if etf else f"{sym}Z6",
                "expiry": None if etf else "2026-12-18",
                "exchange": "SMART" if etf else "CME", "currency": "USD",
                "bid": px, "ask": px + 0.25, "last": px, "bid_size": 3.0, "ask_size": 4.0,
                "last_size": 1.0, "volume": 1000.0 + step, "open_interest": None, "open": base,
                "high": base + 20, "low": base - 20, "close": base, "price": px + 0.125,
                "crossed": False, "market_data_type": 1, "change_1h": 0.001, "change_4h": None,
                "change_overnight": None, "change_daily": None, "change_source": "lake",
            }
        )  # fmt: skip
    return out


def median_ms(fn: Callable[[], object], runs: int = 5) -> float:
    fn()  # warm
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def measure(lake: str) -> dict[str, float]:
    fut = table_uri(lake, "futures_snapshots")
    day = START + timedelta(days=3)
    return {
        "active files (futures)": len(DeltaTable(fut).file_uris()),
        "parquet files on disk (futures)": len(glob.glob(os.path.join(fut, "bucket_date=*", "*"))),
        "log entries (futures _delta_log)": len(os.listdir(os.path.join(fut, "_delta_log"))),
        "full scan futures_snapshots, ms": median_ms(lambda: pl.scan_delta(fut).collect()),
        "read_pair_window ES/SPY one day, ms": median_ms(
            lambda: read_pair_window(lake, "ES", "SPY", day, day + timedelta(days=1))
        ),
        "latest_per_symbol (6 symbols), ms": median_ms(lambda: latest_per_symbol(lake)),
    }


def create_tables(lake: str, checkpoint_interval: int | None) -> None:
    """The tables, from one slot before the week, with the checkpoint interval if given."""
    write_snapshots(lake, batch(START - timedelta(minutes=5), 0))
    if checkpoint_interval:
        for name in ("futures_snapshots", "spot_snapshots"):
            DeltaTable(table_uri(lake, name)).alter.set_table_properties(
                {"delta.checkpointInterval": str(checkpoint_interval)}
            )


def write_slots(lake: str, first: int, count: int) -> list[float]:
    """Write slots ``first .. first + count - 1`` (one call each); each call's latency, ms."""
    latencies = []
    for i in range(first, first + count):
        slot = START + timedelta(minutes=5 * i)
        t = time.perf_counter()
        write_snapshots(lake, batch(slot, i))
        latencies.append((time.perf_counter() - t) * 1000)
    return latencies


def write_week(lake: str, slots: int) -> None:
    """The simulated week: every slot written in turn; the total and the early/late latency."""
    t0 = time.perf_counter()
    latencies = write_slots(lake, 0, slots)
    total = time.perf_counter() - t0
    n = min(100, len(latencies) // 2)
    print(f"{slots} slots x 6 rows written in {total:.1f} s")
    print(
        f"write_snapshots latency, median of first {n}: {statistics.median(latencies[:n]):.1f} ms,"
        f" last {n}: {statistics.median(latencies[-n:]):.1f} ms"
    )


def run_maintenance(lake: str) -> tuple[dict[str, float], dict[str, float]]:
    """Measure, run the weekly maintenance, measure again: ``(before, after)``."""
    before = measure(lake)
    t = time.perf_counter()
    results = maintain_lake(lake)
    maint_s = time.perf_counter() - t
    after = measure(lake)
    fut = results["futures_snapshots"]
    print(
        f"maintain_lake (3 tables, production retention): {maint_s:.2f} s; futures: "
        f"{fut.partitions_optimized} partitions z-ordered, files {fut.files_before} -> "
        f"{fut.files_after}"
    )
    return before, after


def vacuum_now(lake: str) -> float:
    """Vacuum both snapshot tables with zero retention (the disk a week later); seconds."""
    vac_t = time.perf_counter()
    for name in ("futures_snapshots", "spot_snapshots"):
        DeltaTable(table_uri(lake, name)).vacuum(
            retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True
        )
    return time.perf_counter() - vac_t


def print_table(before: dict[str, float], after: dict[str, float], later: dict[str, float]) -> None:
    """The three measurements side by side, as a markdown table (bench/README.md)."""
    print("| measure | before maintenance | after maintenance | after a later vacuum |")
    print("|---|---:|---:|---:|")
    for key in before:
        fmt = "{:.0f}" if "files" in key or "entries" in key else "{:.1f}"
        print(
            f"| {key} | {fmt.format(before[key])} | {fmt.format(after[key])} | {fmt.format(later[key])} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slots", type=int, default=2016)
    parser.add_argument("--checkpoint-interval", type=int, default=None)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-lake-week-")
    lake = f"{root}/lake"
    try:
        create_tables(lake, args.checkpoint_interval)
        write_week(lake, args.slots)
        before, after = run_maintenance(lake)
        vac_s = vacuum_now(lake)
        later = measure(lake)
        post = write_slots(lake, args.slots, 20)
        print(f"vacuum with zero retention (a week later): {vac_s:.2f} s")
        print(
            f"write_snapshots latency after maintenance, median of 20: {statistics.median(post):.1f} ms\n"
        )
        print_table(before, after, later)
        rows = pl.scan_delta(table_uri(lake, "futures_snapshots")).select(pl.len()).collect().item()
        # the slot before the week, the week, the 20 after maintenance; three futures each
        assert rows == 3 * (args.slots + 1 + 20), rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
