"""A 6-row snapshot write into a year of history: the keyed merge against the old approach.

Builds one table holding a year of five-minute history for six instruments (252 trading days x
288 slots x 6 = 435,456 rows) with one bulk write, runs the weekly maintenance on it (compacted,
checkpointed: what a live table looks like), then times, side by side:

* ``merge``: :func:`ib_futures.lake.writer.merge_rows` (open the table, keyed insert-only merge
  with literal partition values and ``streamed_exec=False``), 6 rows per call;
* ``merge (default streamed_exec)``: the same merge with delta-rs 1.6's default
  ``streamed_exec=True`` and no partition literal, to show what the pruning buys;
* ``old``: the approach this project replaces: read the whole table, anti-join the batch on the
  key, append what is left (also a generous variant reading only the two key columns);
* ``write_snapshots``: the operator's whole path for one real batch (3 futures + 3 ETFs:
  validation, routing, two merges into ``futures_snapshots`` / ``spot_snapshots``, each holding
  half of the year).

Every call writes a new slot of the day in progress (its partition already holds the morning).
``--backlog-days N`` first appends N days of one-file-per-slot commits on top of the compacted
year: the state of a table just before its weekly maintenance (N=7: 2016 small files).

    .venv/bin/python bench/bench_lake_merge.py [--runs 30] [--backlog-days 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from deltalake import DeltaTable, write_deltalake

from ib_futures.lake.maintenance import maintain_table
from ib_futures.lake.schemas import FUTURES, SPOT, TableSpec
from ib_futures.lake.storage import table_uri
from ib_futures.lake.tables import create_table
from ib_futures.lake.validate import validate_snapshots
from ib_futures.lake.writer import merge_rows, write_snapshots

SYMBOLS = {"ES": 6000.0, "NQ": 21000.0, "RTY": 2300.0, "SPY": 600.0, "QQQ": 510.0, "IWM": 230.0}
ETFS = {"SPY", "QQQ", "IWM"}
LAST_DAY = date(2026, 11, 24)
SLOTS_PER_DAY = 288
DAYS = 252


def trading_days(n: int, last: date) -> list[date]:
    days: list[date] = []
    d = last
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return sorted(days)


def history(symbols: dict[str, float], asset_class: str, until: datetime) -> pl.DataFrame:
    """Synthetic rows in the record layout for every slot of the trading days before ``until``."""
    days = trading_days(DAYS, until.date())
    starts = pl.DataFrame({"bucket_date": days}).with_columns(
        pl.col("bucket_date").cast(pl.Datetime("us", "UTC")).alias("day_start")
    )
    slots = pl.DataFrame({"slot": list(range(SLOTS_PER_DAY))})
    syms = pl.DataFrame({"symbol": list(symbols), "base": list(symbols.values())})
    frame = (
        starts.join(slots, how="cross")
        .join(syms, how="cross")
        .with_columns(
            bucket_ts=pl.col("day_start") + pl.duration(minutes=pl.col("slot") * 5),
        )
        .filter(pl.col("bucket_ts") < until)
    )
    n = frame.height
    noise = (pl.int_range(0, n) % 97).cast(pl.Float64) / 100.0
    frame = frame.with_columns(price=pl.col("base") + noise)
    schema = FUTURES.polars_schema()
    exprs: dict[str, Any] = {
        "asset_class": pl.lit(asset_class),
        "quote_ts": pl.col("bucket_ts") - pl.duration(seconds=2),
        "last_trade_ts": pl.col("bucket_ts") - pl.duration(seconds=4),
        "collected_ts": pl.col("bucket_ts") + pl.duration(seconds=3),
        "con_id": pl.lit(495512563, pl.Int64),
        "local_symbol": pl.col("symbol") + (pl.lit("") if asset_class == "ETF" else pl.lit("Z6")),
        "expiry": pl.lit(None if asset_class == "ETF" else date(2026, 12, 18), pl.Date),
        "exchange": pl.lit("SMART" if asset_class == "ETF" else "CME"),
        "currency": pl.lit("USD"),
        "bid": pl.col("price") - 0.125,
        "ask": pl.col("price") + 0.125,
        "last": pl.col("price"),
        "crossed": pl.lit(False),
        "market_data_type": pl.lit(1, pl.Int32),
    }
    for name in ("bid_size", "ask_size", "last_size", "volume", "open", "high", "low", "close"):
        exprs[name] = pl.lit(10.0)
    return frame.with_columns(**exprs).select(
        [pl.col(c).cast(t) if c in frame.columns or c in exprs else pl.lit(None, t).alias(c)
         for c, t in schema.items()]
    )  # fmt: skip


def build(uri: str, spec: TableSpec, rows: pl.DataFrame) -> None:
    create_table(uri, spec)
    write_deltalake(uri, rows, mode="append")
    maintain_table(uri, vacuum_retention_hours=168, log_retention_hours=720)


def add_backlog(uri: str, until: datetime, days: int) -> int:
    """Append ``days`` x 288 slots, one small file and commit each (no compaction)."""
    n = 0
    for i in range(days * SLOTS_PER_DAY):
        slot = until + timedelta(minutes=5 * i)
        rows = validate_snapshots(batch(slot, SYMBOLS, etf=False)).rows[FUTURES.name]
        write_deltalake(
            uri, pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row"), mode="append"
        )
        n += len(rows)
    return n


def batch(slot: datetime, symbols: dict[str, float], etf: bool) -> list[dict[str, Any]]:
    out = []
    for sym, px in symbols.items():
        is_etf = etf and sym in ETFS
        out.append(
            {
                "symbol": sym, "asset_class": "ETF" if is_etf else "FUT",
                "bucket_ts": slot.isoformat(), "bucket_date": slot.date().isoformat(),
                "quote_ts": None, "last_trade_ts": None,
                "collected_ts": (slot + timedelta(seconds=3)).isoformat(), "con_id": 1,
                "local_symbol": sym if is_etf else f"{sym}Z6",
                "expiry": None if is_etf else "2026-12-18",
                "exchange": "SMART" if is_etf else "CME", "currency": "USD",
                "bid": px, "ask": px + 0.25, "last": px, "bid_size": 1.0, "ask_size": 1.0,
                "last_size": 1.0, "volume": 1.0, "open_interest": None, "open": px,
                "high": px, "low": px, "close": px, "price": px + 0.125, "crossed": False,
                "market_data_type": 1, "change_1h": None, "change_4h": None,
                "change_overnight": None, "change_daily": None, "change_source": None,
            }
        )  # fmt: skip
    return out


def old_approach(uri: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Read the whole table, anti-join on the key, append the rest (the replaced collector)."""
    new = pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row")
    existing = pl.read_delta(uri, columns=columns)
    fresh = new.join(existing, on=["symbol", "bucket_ts"], how="anti")
    if fresh.height:
        write_deltalake(uri, fresh, mode="append")


def default_merge(uri: str, rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row")
    DeltaTable(uri).merge(
        frame, "t.symbol = s.symbol AND t.bucket_ts = s.bucket_ts", source_alias="s",
        target_alias="t",
    ).when_not_matched_insert_all().execute()  # fmt: skip


def timed(fn: Callable[[datetime], None], slots: list[datetime]) -> list[float]:
    out = []
    for slot in slots:
        t0 = time.perf_counter()
        fn(slot)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backlog-days", type=int, default=0)
    parser.add_argument("--keep", help="build the lake in this directory and keep it")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="bench-lake-merge-")
    until = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 12, 0, tzinfo=UTC)
    try:
        t0 = time.perf_counter()
        one = f"{root}/one/{FUTURES.name}"
        rows = history(SYMBOLS, "FUT", until)
        build(one, FUTURES, rows)
        lake = f"{root}/lake"
        build(
            table_uri(lake, FUTURES.name),
            FUTURES,
            history({k: v for k, v in SYMBOLS.items() if k not in ETFS}, "FUT", until),
        )
        build(
            table_uri(lake, SPOT.name),
            SPOT,
            history({k: v for k, v in SYMBOLS.items() if k in ETFS}, "ETF", until),
        )
        backlog = add_backlog(one, until, args.backlog_days)
        for name in ("old", "old-keys", "default"):
            shutil.copytree(f"{root}/one", f"{root}/{name}")
        build_s = time.perf_counter() - t0
        files = len(DeltaTable(one).file_uris())
        print(
            f"built in {build_s:.1f} s: {rows.height + backlog} rows, {files} files, "
            f"{DAYS} date partitions (+{args.backlog_days} backlog days)"
        )
        start = until + timedelta(days=args.backlog_days)

        def slots(offset: int) -> list[datetime]:
            return [start + timedelta(minutes=5 * (offset + i)) for i in range(args.runs)]

        def typed(slot: datetime) -> list[dict[str, Any]]:
            return validate_snapshots(batch(slot, SYMBOLS, etf=False)).rows[FUTURES.name]

        def ours(slot: datetime) -> None:
            merge_rows(one, FUTURES, typed(slot))

        results = {
            "merge (ours: pruned, streamed_exec=False)": timed(ours, slots(0)),
            "merge (delta-rs default streamed_exec=True)": timed(
                lambda s: default_merge(f"{root}/default/{FUTURES.name}", typed(s)),
                slots(0),
            ),
            "old (read whole table, anti-join, append)": timed(
                lambda s: old_approach(f"{root}/old/{FUTURES.name}", typed(s)),
                slots(0),
            ),
            "old, generous (read only the key columns)": timed(
                lambda s: old_approach(
                    f"{root}/old-keys/{FUTURES.name}", typed(s), ["symbol", "bucket_ts"]
                ),
                slots(0),
            ),
            "write_snapshots, 3 FUT + 3 ETF (2 tables)": timed(
                lambda s: write_snapshots(lake, batch(s, SYMBOLS, etf=True)) and None, slots(0)
            ),
            "re-run of the same slots (nothing to insert)": timed(ours, slots(0)),
        }
        for name in ("one", "old", "old-keys", "default"):
            count = pl.scan_delta(f"{root}/{name}/{FUTURES.name}").select(pl.len()).collect().item()
            assert count == rows.height + backlog + 6 * args.runs, (name, count)
        print(f"\n{args.runs} runs each, milliseconds\n")
        print("| approach | median | p90 | min |")
        print("|---|---:|---:|---:|")
        for name, ms in results.items():
            ms_sorted = sorted(ms)
            p90 = ms_sorted[int(0.9 * (len(ms) - 1))]
            print(f"| {name} | {statistics.median(ms):.1f} | {p90:.1f} | {min(ms):.1f} |")
        ours_ms = statistics.median(results["merge (ours: pruned, streamed_exec=False)"])
        old_ms = statistics.median(results["old (read whole table, anti-join, append)"])
        print(f"\nold / ours (medians): {old_ms / ours_ms:.0f}x")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
