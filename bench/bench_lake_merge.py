"""A 6-row snapshot write into a year of history: our write against the old approach.

Builds one table holding a year of five-minute history for six instruments (252 trading days x
288 slots x 6 = 435,456 rows, valued like collected data) with one bulk write, runs the weekly
maintenance on it (compacted, checkpointed: what a live table looks like), then times, side by
side (interleaved, slot by slot):

* ``ours``: :func:`ib_futures.lake.writer.merge_rows`: open the table, check the file
  statistics, append when they prove the keys new (with the writer-lane transactions), else the
  keyed insert-only merge with literal partition values and ``streamed_exec=False``;
* ``merge (default streamed_exec)``: a keyed merge with delta-rs 1.6's defaults
  (``streamed_exec=True``, no partition literal), to show what the pruning buys;
* ``old``: the approach this project replaces: read the whole table, anti-join the batch on the
  key, append what is left (also a generous variant reading only the two key columns);
* ``floor``: open the table and append, with no de-duplication at all: the least any write
  pays, the old approach included, so ``old / floor`` bounds the ratio any write could reach;
* ``write_snapshots``: the operator's whole path for one real batch (3 futures + 3 ETFs:
  validation, routing, two writes into ``futures_snapshots`` / ``spot_snapshots``, each holding
  half of the year);
* a re-run of slots already written (the merge path: inserts nothing, commits nothing).

Every call writes a new slot of the day in progress (its partition already holds the morning).
``--years N`` builds N years of history; ``--backlog-days N`` first appends N days of
one-file-per-slot commits on top of the compacted history: the state of a table just before
its weekly maintenance (N=7: 2016 small files).

    .venv/bin/python bench/bench_lake_merge.py [--runs 30] [--years 1] [--backlog-days 0]
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

import numpy as np
import polars as pl
from deltalake import DeltaTable, write_deltalake

from ib_futures.lake.maintenance import maintain_table
from ib_futures.lake.schemas import FUTURES, SPOT, TableSpec
from ib_futures.lake.storage import table_uri
from ib_futures.lake.tables import create_table
from ib_futures.lake.validate import validate_snapshots
from ib_futures.lake.writer import WRITE_HOOKS, merge_rows, write_snapshots

SYMBOLS = {"ES": 6000.0, "NQ": 21000.0, "RTY": 2300.0, "SPY": 600.0, "QQQ": 510.0, "IWM": 230.0}
ETFS = {"SPY", "QQQ", "IWM"}
LAST_DAY = date(2026, 11, 24)
SLOTS_PER_DAY = 288
KEY_COLUMNS = ["symbol", "bucket_ts"]

OURS = "ours: merge_rows (stats-proven append, else pruned merge)"
DEFAULT = "keyed merge, delta-rs defaults (streamed_exec=True)"
OLD = "old (read whole table, anti-join, append)"
OLD_KEYS = "old, generous (read only the key columns)"
FLOOR = "floor: open + append, no de-duplication (unsafe)"
WRITE = "write_snapshots, 3 FUT + 3 ETF (2 tables)"
RERUN = "re-run of the same slots (nothing to insert)"
DAYS = 252


def trading_days(n: int, last: date) -> list[date]:
    days: list[date] = []
    d = last
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return sorted(days)


def history(
    symbols: dict[str, float], asset_class: str, until: datetime, days: int = DAYS, seed: int = 7
) -> pl.DataFrame:
    """Rows in the record layout for every slot of the ``days`` trading days before ``until``.

    Values are shaped like collected data, so the old approach's whole-table read decodes what a
    real year holds: a random-walk price on the tick grid per symbol, a one- or two-tick spread,
    varying sizes, volume and open interest, sub-second quote and collection times, and all four
    change metrics filled in (seeded, so every run builds the same table).
    """
    # One generator for the quotes and then the other columns, drawn in this order: the same
    # seed builds the same table.
    rng = np.random.default_rng(seed)
    frame = slot_grid(symbols, until, days)
    bid, ask = quotes(frame, asset_class, rng)
    exprs = record_columns(frame.height, asset_class, bid, ask, rng)
    schema = FUTURES.polars_schema()
    frame = frame.with_columns(**{k: v for k, v in exprs.items() if v is not None})
    return frame.select(
        [pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
         for c, t in schema.items()]
    )  # fmt: skip


def slot_grid(symbols: dict[str, float], until: datetime, days: int) -> pl.DataFrame:
    """``symbol``, ``base`` price, ``bucket_date`` and ``bucket_ts`` of every slot before ``until``."""
    starts = pl.DataFrame({"bucket_date": trading_days(days, until.date())}).with_columns(
        pl.col("bucket_date").cast(pl.Datetime("us", "UTC")).alias("day_start")
    )
    slots = pl.DataFrame({"slot": list(range(SLOTS_PER_DAY))})
    syms = pl.DataFrame({"symbol": list(symbols), "base": list(symbols.values())})
    return (
        syms.join(starts, how="cross")
        .join(slots, how="cross")
        .with_columns(bucket_ts=pl.col("day_start") + pl.duration(minutes=pl.col("slot") * 5))
        .filter(pl.col("bucket_ts") < until)
        .sort("symbol", "bucket_ts")
    )


def tick_size(asset_class: str) -> float:
    """The price grid: a cent for ETFs, a quarter point for the index futures."""
    return 0.01 if asset_class == "ETF" else 0.25


def quotes(
    frame: pl.DataFrame, asset_class: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(bid, ask)`` per row of ``frame``: a random walk per symbol from its base, on the tick
    grid, and a one- or two-tick spread."""
    tick = tick_size(asset_class)
    per_symbol = frame.group_by("symbol", maintain_order=True).len()["len"].to_list()
    walk = np.concatenate([np.cumsum(rng.normal(0.0, 0.0008, k)) for k in per_symbol])
    bid = np.round(frame["base"].to_numpy() * np.exp(walk) / tick) * tick
    ask = bid + tick * rng.integers(1, 3, frame.height)
    return bid, ask


def record_columns(
    n: int, asset_class: str, bid: np.ndarray, ask: np.ndarray, rng: np.random.Generator
) -> dict[str, Any]:
    """Every other record column for ``n`` grid rows: literals, per-row series, expressions
    over the grid's columns; None (open interest of ETFs) is left null."""
    tick = tick_size(asset_class)

    def ints(lo: int, hi: int) -> pl.Series:
        return pl.Series(rng.integers(lo, hi, n).astype(np.float64))

    def micros(lo: int, hi: int) -> pl.Expr:
        return pl.duration(microseconds=pl.lit(pl.Series(rng.integers(lo, hi, n))))

    # a dict literal evaluates in order: keep the order of the draws
    return {
        "asset_class": pl.lit(asset_class),
        "quote_ts": pl.col("bucket_ts") - micros(0, 5_000_000),
        "last_trade_ts": pl.col("bucket_ts") - micros(0, 20_000_000),
        "collected_ts": pl.col("bucket_ts") + micros(500_000, 4_000_000),
        "con_id": pl.lit(495512563, pl.Int64),
        "local_symbol": pl.col("symbol") + (pl.lit("") if asset_class == "ETF" else pl.lit("Z6")),
        "expiry": pl.lit(None if asset_class == "ETF" else date(2026, 12, 18), pl.Date),
        "exchange": pl.lit("SMART" if asset_class == "ETF" else "CME"),
        "currency": pl.lit("USD"),
        "bid": pl.Series(bid),
        "ask": pl.Series(ask),
        "last": pl.Series(bid + tick * rng.integers(0, 2, n)),
        "bid_size": ints(1, 400),
        "ask_size": ints(1, 400),
        "last_size": ints(1, 50),
        "volume": ints(1_000, 2_000_000),
        "open_interest": None if asset_class == "ETF" else ints(1_000_000, 2_500_000),
        "open": pl.col("base"),
        "high": pl.Series(bid) * 1.01,
        "low": pl.Series(bid) * 0.99,
        "close": pl.col("base"),
        "price": pl.Series((bid + ask) / 2),
        "crossed": pl.lit(False),
        "market_data_type": pl.lit(1, pl.Int32),
        "change_1h": pl.Series(rng.normal(0.0, 0.003, n)),
        "change_4h": pl.Series(rng.normal(0.0, 0.006, n)),
        "change_overnight": pl.Series(rng.normal(0.0, 0.008, n)),
        "change_daily": pl.Series(rng.normal(0.0, 0.01, n)),
        "change_source": pl.lit("lake"),
    }


def build(uri: str, spec: TableSpec, rows: pl.DataFrame) -> None:
    create_table(uri, spec)
    write_deltalake(uri, rows, mode="append")
    maintain_table(uri, vacuum_retention_hours=168, log_retention_hours=168)


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


def floor_append(uri: str, rows: list[dict[str, Any]]) -> None:
    """The least any write costs: open the table, append the rows; no de-duplication at all.

    Not safe (a re-run appends the slot again); timed only as the lower bound every approach
    pays, the old one included, so ``old / floor`` is the largest ratio any write could reach.
    """
    frame = pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row")
    write_deltalake(DeltaTable(uri), frame, mode="append", post_commithook_properties=WRITE_HOOKS)


def default_merge(uri: str, rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row")
    DeltaTable(uri).merge(
        frame, "t.symbol = s.symbol AND t.bucket_ts = s.bucket_ts", source_alias="s",
        target_alias="t",
    ).when_not_matched_insert_all().execute()  # fmt: skip


def interleaved(
    approaches: dict[str, Callable[[datetime], None]], slots: list[datetime]
) -> dict[str, list[float]]:
    """Time every approach once per slot, round-robin with a rotating start, milliseconds.

    Side by side in the same loop, so load from other processes on the machine falls on all of
    them alike instead of on whichever ran during a busy minute.
    """
    names = list(approaches)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i, slot in enumerate(slots):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t0 = time.perf_counter()
            approaches[name](slot)
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


#: copies of the one-table history, one per approach that writes its own table
COPIES = ("old", "old-keys", "default", "floor")


def copy_table(root: str, name: str) -> str:
    """The futures table of one copy (or of ``one``, the table ``ours`` writes)."""
    return f"{root}/{name}/{FUTURES.name}"


def build_lakes(root: str, until: datetime, days: int, backlog_days: int) -> int:
    """Build the one-table history, its copies and the two-table lake; rows per one table.

    Prints the build time and the size of the table the approaches write into.
    """
    t0 = time.perf_counter()
    one = copy_table(root, "one")
    rows = history(SYMBOLS, "FUT", until, days)
    build(one, FUTURES, rows)
    lake = f"{root}/lake"
    build(
        table_uri(lake, FUTURES.name),
        FUTURES,
        history({k: v for k, v in SYMBOLS.items() if k not in ETFS}, "FUT", until, days),
    )
    build(
        table_uri(lake, SPOT.name),
        SPOT,
        history({k: v for k, v in SYMBOLS.items() if k in ETFS}, "ETF", until, days),
    )
    backlog = add_backlog(one, until, backlog_days)
    for name in COPIES:
        shutil.copytree(f"{root}/one", f"{root}/{name}")
    build_s = time.perf_counter() - t0
    files = len(DeltaTable(one).file_uris())
    print(
        f"built in {build_s:.1f} s: {rows.height + backlog} rows, {files} files, "
        f"{days} date partitions (+{backlog_days} backlog days)"
    )
    return rows.height + backlog


def time_approaches(root: str, slots: list[datetime]) -> dict[str, list[float]]:
    """Every approach writes each slot once, interleaved; then ``ours`` re-runs them all."""
    one, lake = copy_table(root, "one"), f"{root}/lake"

    def typed(slot: datetime) -> list[dict[str, Any]]:
        return validate_snapshots(batch(slot, SYMBOLS, etf=False)).rows[FUTURES.name]

    def ours(slot: datetime) -> None:
        merge_rows(one, FUTURES, typed(slot))

    def table(name: str) -> str:
        return copy_table(root, name)

    results = interleaved(
        {
            OURS: ours,
            DEFAULT: lambda s: default_merge(table("default"), typed(s)),
            OLD: lambda s: old_approach(table("old"), typed(s)),
            OLD_KEYS: lambda s: old_approach(table("old-keys"), typed(s), KEY_COLUMNS),
            FLOOR: lambda s: floor_append(table("floor"), typed(s)),
            WRITE: lambda s: write_snapshots(lake, batch(s, SYMBOLS, etf=True)) and None,
        },
        slots,
    )
    # after every slot was written once: re-running them must insert nothing
    results[RERUN] = interleaved({RERUN: ours}, slots)[RERUN]
    return results


def print_results(results: dict[str, list[float]], runs: int) -> None:
    """Median, p90 and min per approach, and the two ratios bench/README.md quotes."""
    print(f"\n{runs} runs each, interleaved, milliseconds\n")
    print("| approach | median | p90 | min |")
    print("|---|---:|---:|---:|")
    for name, ms in results.items():
        ms_sorted = sorted(ms)
        p90 = ms_sorted[int(0.9 * (len(ms) - 1))]
        print(f"| {name} | {statistics.median(ms):.1f} | {p90:.1f} | {min(ms):.1f} |")
    median = {name: statistics.median(ms) for name, ms in results.items()}
    print(f"\nold / ours (medians): {median[OLD] / median[OURS]:.1f}x")
    print(
        f"old / floor (medians): {median[OLD] / median[FLOOR]:.1f}x: the largest ratio any "
        "write could reach on this table"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--years", type=int, default=1, help="years of history (252 days each)")
    parser.add_argument("--backlog-days", type=int, default=0)
    parser.add_argument("--keep", help="build the lake in this directory and keep it")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="bench-lake-merge-")
    until = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 12, 0, tzinfo=UTC)
    days = DAYS * args.years
    try:
        history_rows = build_lakes(root, until, days, args.backlog_days)
        start = until + timedelta(days=args.backlog_days)
        slots = [start + timedelta(minutes=5 * i) for i in range(args.runs)]
        results = time_approaches(root, slots)
        for name in ("one", *COPIES):
            count = pl.scan_delta(copy_table(root, name)).select(pl.len()).collect().item()
            assert count == history_rows + 6 * args.runs, (name, count)
        print_results(results, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
