"""Coverage counts for the futures page: expected slots against what the lake holds.

Reads only what the page needs, pruned like every reader here (``bucket_date`` partitions of
the range, the instruments' symbols, three columns): ``symbol, bucket_ts, price_source`` of
both snapshot tables and ``symbol, bucket_ts`` of ``unfillable_slots``. The expected slots come
from the session calendar (``core.session.expected_slots``, once per market and range, cached
in-process since the calendar of a closed range never changes). The states and the trade-day
rule are ``ib_futures.core.coverage``'s; here polars joins and counts them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

import polars as pl

from ib_futures.core.coverage import DAY_PRECEDENCE, LIVE_SOURCES, STATES, TRADE_DAY_SHIFT, DayRange
from ib_futures.lake.readers import _scan, _window_filter, empty_frame, read_window
from ib_futures.lake.schemas import TABLE_BY_ASSET_CLASS, UNFILLABLE
from ib_futures.lake.storage import StorageOptions, table_uri
from ib_futures.lake.tables import open_table

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

NY = "America/New_York"
Instruments = Sequence[tuple[str, str]]  # (symbol, asset_class)


def utc_window(days: DayRange) -> tuple[datetime, datetime]:
    """A UTC window that holds every slot of the range's trade days (and a little more)."""
    lo = datetime.combine(days.start - timedelta(days=1), time(), UTC)
    hi = datetime.combine(days.end + timedelta(days=2), time(), UTC)
    return lo, hi


def _trade_day(asset_class: str) -> pl.Expr:
    shift = int(TRADE_DAY_SHIFT[asset_class].total_seconds())
    return (pl.col("bucket_ts").dt.convert_time_zone(NY).dt.offset_by(f"{shift}s").dt.date()).alias(
        "day"
    )


@functools.lru_cache(maxsize=64)
def _expected(lo: datetime, hi: datetime, asset_class: str, cfg_key: str) -> pl.DataFrame:
    # the vectorised calendar the weekly analysis uses (session by session, checked against
    # core.session.expected_slots in its tests), here with the collection's ETF hours
    from ib_futures.analysis.slots import collected_slots
    from ib_futures.core.config import FuturesConfig

    cfg = FuturesConfig.model_validate_json(cfg_key)
    return collected_slots(lo, hi, asset_class, cfg)  # type: ignore[arg-type]


def expected_frame(days: DayRange, asset_class: str, cfg: FuturesConfig) -> pl.DataFrame:
    """``bucket_ts, day``: the expected slots of ``asset_class`` whose trade day is in range.

    Cached per range, market and configuration: the calendar of given days never changes.
    """
    lo, hi = utc_window(days)
    frame = _expected(lo, hi, asset_class, cfg.model_dump_json())
    if days.due_until is not None:
        frame = frame.filter(pl.col("bucket_ts") < days.due_until)
    return frame.rename({"session_date": "day"}).filter(
        pl.col("day").is_between(days.start, days.end)
    )


def _stored(
    lake_uri: str, asset_class: str, symbols: list[str], days: DayRange,
    storage_options: StorageOptions | None,
) -> pl.DataFrame:  # fmt: skip
    lo, hi = utc_window(days)
    spec = TABLE_BY_ASSET_CLASS[asset_class]
    cols = ("symbol", "bucket_ts", "price_source")
    table = open_table(table_uri(lake_uri, spec.name), storage_options)
    if table is None:
        rows = empty_frame(spec, cols)
    else:  # read_window without its sort: the joins below do not need an order
        rows = _scan(table, cols).filter(_window_filter(symbols, lo, hi)).select(cols).collect()
    live = pl.col("price_source").is_null() | pl.col("price_source").is_in(
        [s for s in LIVE_SOURCES if s]
    )
    return rows.select(
        "symbol", "bucket_ts", pl.when(live).then(pl.lit("live")).otherwise(pl.lit("history"))
        .alias("stored"),
    )  # fmt: skip


def _unfillable(
    lake_uri: str, symbols: list[str], days: DayRange, storage_options: StorageOptions | None
) -> pl.DataFrame:
    lo, hi = utc_window(days)
    rows = read_window(lake_uri, UNFILLABLE, symbols, lo, hi, ("symbol", "bucket_ts"),
                       storage_options)  # fmt: skip
    return rows.with_columns(pl.lit(True).alias("unfillable"))


def slot_states(
    lake_uri: str,
    instruments: Instruments,
    days: DayRange,
    cfg: FuturesConfig,
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """One row per instrument and slot that is expected or stored, with its state.

    :return: columns ``symbol, bucket_ts, day, state`` (``core.coverage.STATES``)
    """
    frames = []
    unfillable = _unfillable(lake_uri, [s for s, _ in instruments], days, storage_options)
    for asset_class in dict.fromkeys(a for _, a in instruments):
        symbols = [s for s, a in instruments if a == asset_class]
        expected = expected_frame(days, asset_class, cfg)
        grid = pl.DataFrame({"symbol": symbols}).join(expected, how="cross")
        grid = grid.with_columns(pl.lit(True).alias("expected"))
        stored = _stored(lake_uri, asset_class, symbols, days, storage_options)
        both = grid.join(stored, on=["symbol", "bucket_ts"], how="full", coalesce=True)
        both = both.join(unfillable, on=["symbol", "bucket_ts"], how="left")
        # a stored slot the calendar did not expect still shows, on its trade date
        both = both.with_columns(pl.coalesce("day", _trade_day(asset_class)).alias("day"))
        both = both.filter(pl.col("day").is_between(days.start, days.end))
        frames.append(both.select("symbol", "bucket_ts", "day", _state_expr()))
    if not frames:
        return pl.DataFrame(schema={"symbol": pl.String, "bucket_ts": pl.Datetime("us", "UTC"),
                                    "day": pl.Date, "state": pl.String})  # fmt: skip
    return pl.concat(frames).sort("symbol", "bucket_ts")


def _state_expr() -> pl.Expr:
    """``core.coverage.slot_state`` as a polars expression."""
    return (
        pl.when(pl.col("stored").is_not_null()).then(pl.col("stored"))
        .when(pl.col("expected").is_null()).then(pl.lit("not_expected"))
        .when(pl.col("unfillable").fill_null(False)).then(pl.lit("unfillable"))
        .otherwise(pl.lit("missing"))
        .alias("state")
    )  # fmt: skip


COUNTED: tuple[str, ...] = tuple(s for s in STATES if s != "not_expected")


def cells(counts: pl.DataFrame, instruments: Instruments, days: DayRange) -> pl.DataFrame:
    """Every instrument x trade day of the range with its counts and the cell's state.

    :param counts: ``symbol, day`` and a count column per state of :data:`COUNTED`
    :return: columns ``symbol, day``, the counts, ``state`` (``not_expected``: nothing due)
    """
    all_days = pl.date_range(days.start, days.end, "1d", eager=True).alias("day")
    grid = pl.DataFrame({"symbol": [s for s, _ in instruments]}).join(
        all_days.to_frame(), how="cross"
    )
    out = grid.join(counts, on=["symbol", "day"], how="left").with_columns(
        pl.col(s).fill_null(0).cast(pl.Int64) for s in COUNTED
    )
    cell = pl.lit("not_expected")
    for state in reversed(DAY_PRECEDENCE):
        cell = pl.when(pl.col(state) > 0).then(pl.lit(state)).otherwise(cell)
    return out.select("symbol", "day", *COUNTED, cell.alias("state")).sort("symbol", "day")


def day_counts(states: pl.DataFrame, instruments: Instruments, days: DayRange) -> pl.DataFrame:
    """:func:`cells` from per-slot states (:func:`slot_states`)."""
    counts = states.group_by("symbol", "day").agg(
        (pl.col("state") == s).sum().alias(s) for s in COUNTED
    )
    return cells(counts, instruments, days)


def _class_counts(
    lake_uri: str, asset_class: str, symbols: list[str], days: DayRange, cfg: FuturesConfig,
    unfillable: pl.DataFrame, storage_options: StorageOptions | None,
) -> pl.DataFrame:  # fmt: skip
    expected = expected_frame(days, asset_class, cfg)
    due = expected.group_by("day").len("due")
    stored = _stored(lake_uri, asset_class, symbols, days, storage_options)
    # one join on the slot alone (no symbol x slot grid): cheap on a year of rows
    placed = stored.join(expected, on="bucket_ts", how="left")
    extra = placed.filter(pl.col("day").is_null()).with_columns(_trade_day(asset_class))
    placed = pl.concat([
        placed.filter(pl.col("day").is_not_null()).with_columns(pl.lit(True).alias("exp")),
        extra.with_columns(pl.lit(False).alias("exp")),
    ]).filter(pl.col("day").is_between(days.start, days.end))  # fmt: skip
    counts = placed.group_by("symbol", "day").agg(
        (pl.col("stored") == "live").sum().alias("live"),
        (pl.col("stored") == "history").sum().alias("history"),
        pl.col("exp").sum().alias("stored_due"),
    )
    known = (
        unfillable.filter(pl.col("symbol").is_in(symbols))
        .join(expected, on="bucket_ts", how="inner")
        .join(stored, on=["symbol", "bucket_ts"], how="anti")
        .group_by("symbol", "day").len("unfillable")
    )  # fmt: skip
    grid = pl.DataFrame({"symbol": symbols}).join(due, how="cross")
    return (
        grid.join(counts, on=["symbol", "day"], how="full", coalesce=True)
        .join(known, on=["symbol", "day"], how="left")
        .with_columns(
            pl.col(c).fill_null(0) for c in ("due", "live", "history", "stored_due", "unfillable")
        )
        .with_columns(
            (pl.col("due") - pl.col("stored_due") - pl.col("unfillable")).alias("missing")
        )
        .select("symbol", "day", *COUNTED)
    )


def coverage_cells(
    lake_uri: str,
    instruments: Instruments,
    days: DayRange,
    cfg: FuturesConfig,
    storage_options: StorageOptions | None = None,
) -> pl.DataFrame:
    """The heat map's cells (as :func:`cells`), counted without a per-slot grid.

    Gives what ``day_counts(slot_states(...))`` gives (tested), at a fraction of the cost on
    long ranges: the stored rows are joined to the calendar on the slot alone.
    """
    unfillable = _unfillable(lake_uri, [s for s, _ in instruments], days, storage_options)
    frames = [
        _class_counts(lake_uri, asset_class, [s for s, a in instruments if a == asset_class],
                      days, cfg, unfillable, storage_options)
        for asset_class in dict.fromkeys(a for _, a in instruments)
    ]  # fmt: skip
    counts = pl.concat(frames) if frames else pl.DataFrame(
        schema={"symbol": pl.String, "day": pl.Date, **{c: pl.Int64 for c in COUNTED}}
    )  # fmt: skip
    return cells(counts, instruments, days)
