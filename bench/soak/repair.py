"""The daily gap repair, as one call: every expected slot in a window that is neither stored
nor recorded unfillable is asked of IB's history; what IB cannot give is recorded in
``unfillable_slots`` with its reason, and alerted.

:func:`repair` is the product's repair, ``ib_futures.backfill.repair_range`` (what the
``futures_gap_repair`` DAG runs), with the alert its summary task sends: when slots of the
window stay missing or unfillable, every unfillable slot of the window is in the alert.
:func:`repair_by_slot` is the harness's own, slot by slot through the collector's history
path (``--repair by-slot``): a cross-check of the product's grouping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ib_futures.core.config import FuturesConfig
from ib_futures.core.session import expected_slots
from ib_futures.ib.collector import collect_slot
from ib_futures.ib.gateway import connect_gateway
from ib_futures.lake.readers import read_unfillable
from ib_futures.lake.schemas import UNFILLABLE, UNFILLABLE_TABLE
from ib_futures.lake.storage import table_uri
from ib_futures.lake.writer import merge_rows, write_snapshots

from .tasks import Gateway

Alert = Callable[[str, datetime, str], None]
TABLES = {"FUT": "futures_snapshots", "ETF": "spot_snapshots"}


@dataclass
class RepairOutcome:
    start: datetime
    end: datetime
    missing: int = 0
    filled: int = 0
    unfillable: list[tuple[str, datetime, str]] = field(default_factory=list)
    error: str | None = None


def stored_keys(lake: str, table: str, start: datetime, end: datetime) -> set[tuple[str, datetime]]:
    try:
        frame = pl.read_delta(table_uri(lake, table), columns=["symbol", "bucket_ts"])
    except Exception:  # no table yet
        return set()
    frame = frame.filter((pl.col("bucket_ts") >= start) & (pl.col("bucket_ts") < end))
    return {(s, t.astimezone(UTC)) for s, t in frame.iter_rows()}


def missing_slots(cfg: FuturesConfig, lake: str, start: datetime, end: datetime) -> dict[datetime, list[str]]:
    """Expected (slot -> symbols) neither stored nor recorded unfillable."""
    symbols = list(cfg.collection.instruments)
    recorded = read_unfillable(lake, symbols, start, end)
    done = {(s, t.astimezone(UTC)) for s, t in recorded.select("symbol", "bucket_ts").iter_rows()}
    out: dict[datetime, list[str]] = {}
    for asset, table in TABLES.items():
        done |= stored_keys(lake, table, start, end)
        mine = [s for s in symbols if cfg.instruments[s].asset_class == asset]
        for slot in expected_slots(start, end, asset, cfg):  # type: ignore[arg-type]
            for symbol in mine:
                if (symbol, slot) not in done:
                    out.setdefault(slot, []).append(symbol)
    return dict(sorted(out.items()))


def _reason(message: str) -> str:
    text = message.lower()
    if "permission" in text:
        return "no_permission"
    if "retention" in text or "expired" in text:
        return "beyond_retention"
    if "resolve" in text or "no security definition" in text:
        return "no_contract"
    return "no_bar"


async def _fill(gw: Gateway, cfg: FuturesConfig, lake: str, todo: dict[datetime, list[str]],
                outcome: RepairOutcome) -> list[dict[str, Any]]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    async with connect_gateway(gw.settings, lease_dir=gw.lease_dir) as gateway:
        for slot, symbols in todo.items():
            result = await collect_slot(gateway, cfg, slot, symbols, None, gw.pacer)
            records = result.records()
            if records:
                write_snapshots(lake, records, on_invalid=cfg.storage.on_invalid, source="soak/repair")
                outcome.filled += len(records)
            for symbol, message in result.collection.failures.items():
                rows.append(_unfillable_row(cfg, symbol, slot, message))
    return rows


def _unfillable_row(cfg: FuturesConfig, symbol: str, slot: datetime, message: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "asset_class": cfg.instruments[symbol].asset_class, "bucket_ts": slot,
        "bucket_date": slot.date(), "local_symbol": None, "reason": _reason(message),
        "ib_code": 162 if "162" in message else None, "message": message[:500],
        "recorded_ts": datetime.now(UTC), "source": "soak/repair",
    }  # fmt: skip


def repair_by_slot(gw: Gateway, cfg: FuturesConfig, lake: str, start: datetime, end: datetime,
                   alert: Alert) -> RepairOutcome:  # fmt: skip
    outcome = RepairOutcome(start, end)
    todo = missing_slots(cfg, lake, start, end)
    outcome.missing = sum(len(v) for v in todo.values())
    if not todo:
        return outcome
    try:
        rows = asyncio.run(_fill(gw, cfg, lake, todo, outcome))
    except Exception as exc:  # the gateway is down: the next repair covers the window again
        outcome.error = f"{type(exc).__name__}: {exc}"
        return outcome
    if rows:
        merge_rows(table_uri(lake, UNFILLABLE_TABLE), UNFILLABLE, rows, source="soak/repair")
        for row in rows:
            outcome.unfillable.append((row["symbol"], row["bucket_ts"], row["reason"]))
            alert(row["symbol"], row["bucket_ts"], row["reason"])
    return outcome


async def _product_repair(gw: Gateway, cfg: FuturesConfig, lake: str, start: datetime,
                          end: datetime) -> dict[str, Any]:  # fmt: skip
    from ib_futures.backfill import repair_range

    async with connect_gateway(gw.settings, lease_dir=gw.lease_dir) as gateway:
        return await repair_range(cfg, lake_uri=lake, gateway_connection=gateway, start=start,
                                  end=end, pacer=gw.pacer, source="soak/gap_repair")  # fmt: skip


def repair(gw: Gateway, cfg: FuturesConfig, lake: str, start: datetime, end: datetime,
           alert: Alert, *, by_slot: bool = False) -> RepairOutcome:  # fmt: skip
    """The daily gap repair of ``[start, end)`` (see the module docstring)."""
    if by_slot:
        return repair_by_slot(gw, cfg, lake, start, end, alert)
    outcome = RepairOutcome(start, end)
    if end <= start:
        return outcome
    try:
        summary = asyncio.run(_product_repair(gw, cfg, lake, start, end))
    except Exception as exc:  # the gateway is down: the next repair covers the window again
        outcome.error = f"{type(exc).__name__}: {exc}"
        return outcome
    outcome.missing = int(summary.get("plan", {}).get("missing_slots", 0) or 0)
    outcome.filled = int(summary.get("slots_filled", 0) or 0)
    if summary.get("still_missing", 0) + summary.get("known_unfillable", 0):
        known = read_unfillable(lake, list(cfg.collection.instruments), start, end)
        for row in known.iter_rows(named=True):
            slot = row["bucket_ts"].astimezone(UTC)
            outcome.unfillable.append((row["symbol"], slot, row["reason"]))
            alert(row["symbol"], slot, row["reason"])
    return outcome
