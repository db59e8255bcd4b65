"""Readers for the collector (change metrics, freshness) and the weekly analysis.

Every reader prunes: a filter on the partition column ``bucket_date`` (polars skips the other
partitions' files before reading anything) plus the row predicate on ``symbol`` and
``bucket_ts``. Nothing here loads a whole table. Windows are half-open ``[start, end)`` in UTC;
``start``/``end`` may be aware datetimes, dates (midnight UTC) or ISO-8601 strings with an offset.
A table that does not exist yet reads as an empty frame with the documented columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from deltalake import DeltaTable

from ib_futures.lake.schemas import (
    FUTURES,
    SNAPSHOT_TABLES,
    SPECS_BY_NAME,
    SPOT,
    UNFILLABLE,
    TableSpec,
    polars_dtype,
)
from ib_futures.lake.storage import StorageOptions, table_uri
from ib_futures.lake.tables import open_table

#: columns of :func:`read_recent_history`: what change metrics and roll checks need
HISTORY_COLUMNS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "bucket_ts",
    "local_symbol",
    "price",
    "bid",
    "ask",
    "last",
    "open",
    "high",
    "low",
    "close",
    "crossed",
    "market_data_type",
)

#: columns of :func:`read_pair_window`
PAIR_COLUMNS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "bucket_ts",
    "bucket_date",
    "price",
    "bid",
    "ask",
    "last",
    "con_id",
    "local_symbol",
    "crossed",
    "market_data_type",
    "quote_ts",
    "price_source",
)

#: columns of :func:`latest_per_symbol`
LATEST_COLUMNS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "bucket_ts",
    "price",
    "local_symbol",
    "market_data_type",
    "quote_ts",
    "collected_ts",
    "price_source",
)

#: columns of :func:`read_unfillable`
UNFILLABLE_COLUMNS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "bucket_ts",
    "local_symbol",
    "reason",
    "ib_code",
    "message",
    "recorded_ts",
)

Moment = datetime | date | str


def as_utc(value: Moment, name: str = "timestamp") -> datetime:
    """An aware UTC datetime from a datetime, a date (midnight UTC) or an ISO string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not an ISO-8601 timestamp") from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name}={value.isoformat()} is naive; pass an aware (UTC) datetime")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"{name}={value!r} ({type(value).__name__}) is not a datetime, date or string")


def empty_frame(spec: TableSpec, columns: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={c: polars_dtype(spec.column(c)) for c in columns})


def _scan(table: DeltaTable, columns: Sequence[str] = ()) -> pl.LazyFrame:
    """The table, with any of ``columns`` it does not have yet as nulls: a table written before
    a nullable column was added (``price_source``) reads as if the column were null, which
    for ``price_source`` means live, the only kind of row there was."""
    scan = pl.scan_delta(table)
    have = set(table.schema().to_arrow().names)
    missing = [c for c in columns if c not in have]
    if missing:
        spec = SPECS_BY_NAME.get(table.metadata().name or "")
        dtypes = spec.polars_schema() if spec is not None else {}
        scan = scan.with_columns(pl.lit(None, dtype=dtypes.get(c)).alias(c) for c in missing)
    return scan


def _window_filter(symbols: Iterable[str], start: datetime, end: datetime) -> pl.Expr:
    last_day = (end - timedelta(microseconds=1)).date()
    return (
        pl.col("bucket_date").is_between(start.date(), last_day)
        & pl.col("symbol").is_in(list(symbols))
        & (pl.col("bucket_ts") >= start)
        & (pl.col("bucket_ts") < end)
    )


def read_window(
    lake_uri: str,
    spec: TableSpec,
    symbols: Iterable[str],
    start: Moment,
    end: Moment,
    columns: Sequence[str],
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """Rows of one table for ``symbols`` with ``start <= bucket_ts < end``, sorted."""
    lo, hi = as_utc(start, "start"), as_utc(end, "end")
    if hi <= lo:
        raise ValueError(f"empty window: end {hi.isoformat()} is not after start {lo.isoformat()}")
    symbols = list(symbols)
    table = open_table(table_uri(lake_uri, spec.name), storage_options)
    if table is None or not symbols:
        return empty_frame(spec, columns)
    return (
        _scan(table, columns)
        .filter(_window_filter(symbols, lo, hi))
        .select(columns)
        .sort("bucket_ts", "symbol")
        .collect()
    )


def read_recent_history(
    lake_uri: str,
    symbols: Iterable[str],
    since: Moment,
    until: Moment,
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """Recent rows of futures and ETFs for change metrics: ``since <= bucket_ts < until``.

    :return: columns :data:`HISTORY_COLUMNS`, sorted by ``bucket_ts``, ``symbol``
    """
    symbols = list(symbols)
    frames = [
        read_window(lake_uri, spec, symbols, since, until, HISTORY_COLUMNS, storage_options)
        for spec in SNAPSHOT_TABLES
    ]
    return pl.concat(frames).sort("bucket_ts", "symbol")


def price_history(
    lake_uri: str,
    symbols: Iterable[str],
    since: Moment,
    until: Moment,
    storage_options: StorageOptions | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """``{symbol: [(bucket_ts, price), ...]}`` with ``since <= bucket_ts <= until`` (inclusive).

    Rows without a price are left out. Every requested symbol is a key (maybe with an empty list).
    """
    lo, hi = as_utc(since, "since"), as_utc(until, "until")
    return price_points(lake_uri, symbols, [(lo, hi)], storage_options)


def price_points(
    lake_uri: str,
    symbols: Iterable[str],
    ranges: Sequence[tuple[datetime, datetime]],
    storage_options: StorageOptions | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """``{symbol: [(bucket_ts, price), ...]}`` sorted, for ``lo <= bucket_ts <= hi`` in any of
    the inclusive ``ranges``, from both snapshot tables.

    The collector's history source for change metrics (``ib_futures.ib.collector``): only the
    day partitions the ranges touch are listed, and the files whose ``bucket_ts`` statistics
    miss every range are skipped, so a read costs the few slots around each reference instant
    (``core.metrics.history_ranges``), not the hours between them. Rows without a price are left
    out; every requested symbol is a key (maybe with an empty list).
    """
    symbols = list(symbols)
    out: dict[str, list[tuple[datetime, float]]] = {s: [] for s in symbols}
    spans = [(as_utc(lo, "range start"), as_utc(hi, "range end")) for lo, hi in ranges]
    if not symbols or not spans:
        return out
    days = sorted({lo.date() + timedelta(days=i) for lo, hi in spans
                   for i in range((hi.date() - lo.date()).days + 1)})  # fmt: skip
    in_range = pl.any_horizontal([pl.col("bucket_ts").is_between(lo, hi) for lo, hi in spans])
    frames = []
    for spec in SNAPSHOT_TABLES:
        table = open_table(table_uri(lake_uri, spec.name), storage_options)
        if table is None:
            continue
        frames.append(
            _scan(table, ("symbol", "bucket_ts", "price"))
            .filter(pl.col("bucket_date").is_in(days) & pl.col("symbol").is_in(symbols))
            .filter(in_range & pl.col("price").is_not_null())
            .select("symbol", "bucket_ts", "price")
            .collect()
        )
    if not frames:
        return out
    for sym, ts, price in pl.concat(frames).sort("bucket_ts", "symbol").iter_rows():
        out.setdefault(sym, []).append((ts, price))
    return out


def stored_price_source(
    lake_uri: str, storage_options: StorageOptions | None = None
) -> Callable[
    [Sequence[str], Sequence[tuple[datetime, datetime]]], dict[str, list[tuple[datetime, float]]]
]:
    """:func:`price_points` bound to one lake: the collector's ``HistorySource``."""

    def source(
        symbols: Sequence[str], ranges: Sequence[tuple[datetime, datetime]]
    ) -> dict[str, list[tuple[datetime, float]]]:
        return price_points(lake_uri, list(symbols), ranges, storage_options)

    return source


def read_pair_window(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    start: Moment,
    end: Moment,
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """One futures/ETF pair's rows in ``[start, end)`` (both symbols, long format).

    :return: columns :data:`PAIR_COLUMNS` (symbol, asset_class, bucket_ts UTC, bucket_date, price,
        bid, ask, last, con_id, local_symbol, crossed, market_data_type, quote_ts), sorted by
        bucket_ts, symbol
    """
    fut = read_window(
        lake_uri, FUTURES, [futures_symbol], start, end, PAIR_COLUMNS, storage_options
    )
    etf = read_window(lake_uri, SPOT, [etf_symbol], start, end, PAIR_COLUMNS, storage_options)
    return pl.concat([fut, etf]).sort("bucket_ts", "symbol")


def _partition_dates(table: DeltaTable, spec: TableSpec) -> list[date]:
    col = spec.partition_by[0]
    values = {p[col] for p in table.partitions() if p.get(col)}
    return sorted((date.fromisoformat(v) for v in values), reverse=True)


def latest_per_symbol(
    lake_uri: str,
    symbols: Iterable[str] | None = None,
    storage_options: StorageOptions | None = None,
    max_partitions: int = 14,
) -> pl.DataFrame:
    """The newest row of each symbol (both tables), for freshness checks.

    Reads the newest ``max_partitions`` date partitions of each table in one pruned read
    (``symbols=None``: every symbol of the newest partition of each table). A symbol with no
    row in that span is absent.

    :return: columns :data:`LATEST_COLUMNS`, one row per symbol found, sorted by symbol
    """
    wanted = None if symbols is None else sorted(set(symbols))
    frames: list[pl.DataFrame] = []
    for spec in SNAPSHOT_TABLES:
        table = open_table(table_uri(lake_uri, spec.name), storage_options)
        if table is None:
            continue
        # one pruned read of the newest partitions (a walk of one read per day would, for a
        # symbol the table does not hold, cost max_partitions reads)
        days = _partition_dates(table, spec)[: 1 if wanted is None else max_partitions]
        if not days:
            continue
        cond = pl.col("bucket_date").is_in(days)
        if wanted is not None:
            cond = cond & pl.col("symbol").is_in(wanted)
        newest = (
            _scan(table, LATEST_COLUMNS)
            .filter(cond)
            .select(LATEST_COLUMNS)
            .filter(pl.col("bucket_ts") == pl.col("bucket_ts").max().over("symbol"))
            .collect()
        )
        if newest.height:
            frames.append(newest)
    if not frames:
        return empty_frame(FUTURES, LATEST_COLUMNS)
    return pl.concat(frames).sort("symbol")


def newest_bucket_ts(
    lake_uri: str,
    symbols: Iterable[str] | None = None,
    storage_options: StorageOptions | None = None,
) -> datetime | None:
    """The newest ``bucket_ts`` written for any of ``symbols`` (all when None), or None."""
    latest = latest_per_symbol(lake_uri, symbols, storage_options)
    if latest.is_empty():
        return None
    value: Any = latest["bucket_ts"].max()
    return value if isinstance(value, datetime) else None


def read_unfillable(
    lake_uri: str,
    symbols: Iterable[str],
    start: Moment,
    end: Moment,
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """Expected slots recorded as unfillable (IB could not give them) in ``[start, end)``.

    :return: columns :data:`UNFILLABLE_COLUMNS`, sorted by bucket_ts, symbol; empty (with those
        columns) before the first repair recorded one
    """
    return read_window(
        lake_uri, UNFILLABLE, symbols, start, end, UNFILLABLE_COLUMNS, storage_options
    )
