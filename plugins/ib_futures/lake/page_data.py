"""What the futures page shows, as JSON-ready dicts: coverage, freshness, latest quotes.

No Airflow here: the plugin's routes (``ib_futures.airflow.plugin``) authenticate, parse the
query and call these; ``bench/bench_page.py`` times them on a year and three years of data.
Every read is pruned (``lake.readers``, ``lake.coverage``). Bad input raises
:class:`PageInputError` naming the parameter, which the routes answer with a 400.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from ib_futures.core.coverage import STATES, DayRange, day_range, parse_day
from ib_futures.core.slot import SLOT
from ib_futures.lake.coverage import coverage_cells, slot_states
from ib_futures.lake.storage import StorageOptions

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.instruments import Instrument

MARKET_DATA_TYPES = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}


class PageInputError(ValueError):
    """A query parameter the page cannot use; the message names it and its value."""


def instruments(cfg: FuturesConfig, symbols: str | None = None) -> list[Instrument]:
    """The collected instruments, or those named in ``symbols`` (``"ES,SPY"``)."""
    from ib_futures.core.instruments import select_instruments

    try:
        return select_instruments(cfg, symbols or None)
    except ValueError as exc:
        raise PageInputError(f"symbols={symbols!r}: {exc}") from None


def selected_range(start: str | None, end: str | None, today: date) -> DayRange:
    try:
        return day_range(start, end, today)
    except ValueError as exc:
        raise PageInputError(str(exc)) from None


def _due(days: DayRange, at: datetime | None) -> DayRange:
    """Slots newer than one slot before ``at`` (default now) are not due yet, as in freshness."""
    return replace(days, due_until=(at or datetime.now(UTC)) - SLOT)


def coverage(
    lake_uri: str,
    cfg: FuturesConfig,
    days: DayRange,
    symbols: str | None = None,
    storage_options: StorageOptions | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The heat map: one cell per instrument and trade day, with the slot counts by state."""
    days = _due(days, at)
    chosen = instruments(cfg, symbols)
    pairs = [(i.symbol, i.asset_class) for i in chosen]
    cells = coverage_cells(lake_uri, pairs, days, cfg, storage_options)
    order = {s: n for n, (s, _) in enumerate(pairs)}
    rows = cells.with_columns(pl.col("day").cast(pl.String)).to_dicts()
    rows.sort(key=lambda r: (order[r["symbol"]], r["day"]))
    return {
        "start": days.start.isoformat(),
        "end": days.end.isoformat(),
        "days": [(days.start + timedelta(days=n)).isoformat() for n in range(days.days)],
        "instruments": [s for s, _ in pairs],
        "states": list(STATES),
        "cells": rows,
    }


def day_slots(
    lake_uri: str,
    cfg: FuturesConfig,
    day: str | None,
    symbols: str | None = None,
    storage_options: StorageOptions | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The drill-down: every expected or stored slot of one trade day, with its state."""
    try:
        which = parse_day(day, "day")
    except ValueError as exc:
        raise PageInputError(str(exc)) from None
    if which is None:
        raise PageInputError("day is required (YYYY-MM-DD)")
    chosen = instruments(cfg, symbols)
    pairs = [(i.symbol, i.asset_class) for i in chosen]
    states = slot_states(lake_uri, pairs, _due(DayRange(which, which), at), cfg, storage_options)
    slots = states.select(
        "symbol", pl.col("bucket_ts").dt.strftime("%Y-%m-%dT%H:%MZ").alias("slot"), "state"
    ).to_dicts()
    return {"day": which.isoformat(), "instruments": [s for s, _ in pairs], "slots": slots}


def freshness(
    lake_uri: str, cfg: FuturesConfig, at: datetime, storage_options: StorageOptions | None = None
) -> dict[str, Any]:
    """The freshness check's verdict (``lake.freshness.check_lake``), as its CLI prints it."""
    from ib_futures.lake.freshness import check_lake

    return check_lake(cfg, at, lake_uri, storage_options).as_dict()


def latest_quotes(
    lake_uri: str, cfg: FuturesConfig, at: datetime, storage_options: StorageOptions | None = None
) -> dict[str, Any]:
    """The newest stored row per instrument: contract, price, market data type, provenance, age."""
    from ib_futures.lake.readers import latest_per_symbol

    chosen = instruments(cfg)
    latest = latest_per_symbol(lake_uri, [i.symbol for i in chosen], storage_options)
    found = {r["symbol"]: r for r in latest.to_dicts()}
    quotes: list[dict[str, Any]] = []
    for inst in chosen:
        row = found.get(inst.symbol)
        if row is None:
            quotes.append({"symbol": inst.symbol, "slot": None})
            continue
        slot: datetime = row["bucket_ts"]
        source = row.get("price_source")
        quotes.append(
            {
                "symbol": inst.symbol,
                "contract": row["local_symbol"],
                "slot": slot.astimezone(UTC).isoformat(),
                "price": row["price"],
                "market_data_type": MARKET_DATA_TYPES.get(row["market_data_type"], "unknown"),
                "provenance": "live" if source in (None, "", "live") else f"history ({source})",
                "age_seconds": round((at - slot).total_seconds()),
            }
        )
    return {"checked_at": at.astimezone(UTC).isoformat(), "quotes": quotes}
