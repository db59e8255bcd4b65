"""Backfill and gap repair without Airflow: the stable entry point ``repair_range``.

The ``futures_backfill`` and ``futures_gap_repair`` DAGs, the demo, the benchmark and the soak
harness all run this code. The steps, each a function here:

1. :func:`plan_range`: the expected slots of the range (the session calendar), minus the slots
   the lake holds, minus the slots recorded as unfillable, grouped into IB requests
   (``core.backfill``): nothing stored or known unfillable is ever requested;
2. :func:`fill_groups`: per group, the slots still missing are read again (a resumed or
   concurrent run skips what another stored meanwhile), fetched through the shared pacer
   (``ib.bulk_history``), merged into the snapshot tables (insert-only on the key: nothing is
   inserted twice) and the slots IB cannot give recorded in ``unfillable_slots``; progress
   (slots filled, requests left, time left by the pacing budget) goes to the log;
3. a summary dict (JSON-serialisable: XCom, notifier, benchmark).

The work is committed group by group, so a run killed in the middle keeps what it stored and
a re-run asks only for the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.core.backfill import (
    BackfillInputError,
    Plan,
    RequestGroup,
    pacing_seconds,
    plan_requests,
    validate_range,
)
from ib_futures.core.slot import SLOT

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.pacing import HistoricalPacer, PacingLimits
    from ib_futures.ib.gateway import GatewayConnection
    from ib_futures.ib.settings import GatewaySettings
    from ib_futures.lake.storage import StorageOptions

__all__ = [
    "BackfillInputError",
    "describe",
    "fill_groups",
    "plan_for",
    "plan_range",
    "remaining",
    "repair_range",
    "repair_range_sync",
    "stored_keys",
]

log = logging.getLogger(__name__)


def stored_keys(
    lake_uri: str,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    storage_options: StorageOptions | None = None,
) -> tuple[dict[str, set[datetime]], dict[str, set[datetime]]]:
    """``(stored, unfillable)`` slots per symbol in ``[start, end)``, from the lake."""
    from ib_futures.lake.readers import read_unfillable, read_window
    from ib_futures.lake.schemas import SNAPSHOT_TABLES

    def by_symbol(frames: Iterable[Any]) -> dict[str, set[datetime]]:
        out: dict[str, set[datetime]] = {}
        for frame in frames:
            for sym, ts in frame.select("symbol", "bucket_ts").iter_rows():
                out.setdefault(sym, set()).add(ts.astimezone(UTC))
        return out

    cols = ("symbol", "bucket_ts")
    stored = by_symbol(
        read_window(lake_uri, spec, symbols, start, end, cols, storage_options)
        for spec in SNAPSHOT_TABLES
    )
    unfillable = by_symbol([read_unfillable(lake_uri, symbols, start, end, storage_options)])
    return stored, unfillable


def plan_range(
    cfg: FuturesConfig,
    lake_uri: str,
    start: datetime,
    end: datetime,
    symbols: Sequence[str],
    storage_options: StorageOptions | None = None,
) -> Plan:
    """The request groups that fill the missing slots of ``symbols`` in ``[start, end)``."""
    from ib_futures.core.instruments import select_instruments
    from ib_futures.core.session import expected_slots

    instruments = select_instruments(cfg, list(symbols))
    classes = {i.symbol: i.asset_class for i in instruments}
    expected = {i.symbol: expected_slots(start, end, i.asset_class, cfg) for i in instruments}
    stored, unfillable = stored_keys(lake_uri, list(classes), start, end, storage_options)
    return plan_requests(expected, stored, unfillable, classes, cfg)


def _still_missing(
    group: RequestGroup, lake_uri: str, storage_options: StorageOptions | None
) -> RequestGroup | None:
    """``group`` without the slots stored or recorded since it was planned (None: nothing left)."""
    from dataclasses import replace

    lo, hi = group.slots[0], group.slots[-1] + SLOT
    stored, unfillable = stored_keys(lake_uri, [group.symbol], lo, hi, storage_options)
    done = stored.get(group.symbol, set()) | unfillable.get(group.symbol, set())
    left = tuple(s for s in group.slots if s not in done)
    if not left:
        return None
    return group if len(left) == len(group.slots) else replace(group, slots=left)


def _store(
    cfg: FuturesConfig,
    result: Any,
    lake_uri: str,
    storage_options: StorageOptions | None,
    source: str | None,
) -> int:
    """Merge a group's rows and unfillable slots; the rows inserted."""
    from ib_futures.lake.schemas import UNFILLABLE
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.writer import merge_rows, write_snapshots

    inserted = 0
    if result.snapshots:
        report = write_snapshots(
            lake_uri,
            [s.to_record() for s in result.snapshots],
            storage_options=storage_options,
            on_invalid=cfg.storage.on_invalid,
            source=source,
        )
        inserted = sum(t.rows_inserted for n, t in report.tables.items() if n != "snapshot_rejects")
    if result.unfillable:
        now = datetime.now(UTC)
        rows = [u.to_row(now, source) for u in result.unfillable]
        merge_rows(
            table_uri(lake_uri, UNFILLABLE.name), UNFILLABLE, rows,
            storage_options=storage_options, source=source,
        )  # fmt: skip
    return inserted


async def fill_groups(
    cfg: FuturesConfig,
    gateway: GatewayConnection,
    groups: Sequence[RequestGroup],
    *,
    lake_uri: str,
    storage_options: StorageOptions | None = None,
    pacer: HistoricalPacer | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Fetch and store ``groups`` one after the other; a summary of what happened."""
    from ib_futures.ib.bulk_history import fetch_group

    limits = pacer.limits if pacer is not None else None
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[str] = []
    left = sum(g.requests for g in groups)
    started = time.monotonic()
    for i, planned in enumerate(groups, 1):
        left -= planned.requests
        group = await asyncio.to_thread(_still_missing, planned, lake_uri, storage_options)
        if group is None:
            totals["groups_skipped"] += 1
            continue
        result = await fetch_group(gateway, group, cfg, pacer)
        inserted = await asyncio.to_thread(_store, cfg, result, lake_uri, storage_options, source)
        totals.update(requests=result.requests, slots_filled=len(result.snapshots),
                      rows_inserted=inserted, unfillable=len(result.unfillable),
                      failed=len(result.failed))  # fmt: skip
        reasons.update(u.reason for u in result.unfillable)
        failures += sorted(set(result.failed.values()))[:3]
        log.info(
            "backfill group %d/%d %s %s (%d slots): %d filled, %d unfillable, %d failed; "
            "%d requests left, about %.0fs left by the pacing budget",
            i, len(groups), group.symbol, group.contract, len(group.slots), len(result.snapshots),
            len(result.unfillable), len(result.failed), left, pacing_seconds(left, limits),
        )  # fmt: skip
    return {
        "historical_requests": totals["requests"],
        "slots_filled": totals["slots_filled"],
        "rows_inserted": totals["rows_inserted"],
        "slots_unfillable": totals["unfillable"],
        "unfillable_reasons": dict(reasons),
        "slots_failed": totals["failed"],
        "failures": failures[:10],
        "groups_skipped": totals["groups_skipped"],
        "fetch_seconds": round(time.monotonic() - started, 2),
    }


async def _gateway_now(gateway: GatewayConnection) -> datetime:
    from ib_futures.ib.collector import gateway_clock

    return (await gateway_clock(gateway)).astimezone(UTC)


async def repair_range(
    cfg: FuturesConfig,
    *,
    lake_uri: str,
    storage_options: StorageOptions | None = None,
    gateway_connection: GatewaySettings | GatewayConnection,
    start: Any = None,
    end: Any = None,
    symbols: Sequence[str] | str | None = None,
    pacer: HistoricalPacer | None = None,
    dry_run: bool = False,
    source: str | None = None,
) -> dict[str, Any]:
    """Fill the missing slots of ``[start, end)`` from IB history; a JSON summary. **async**.

    :param cfg: the configuration (calendar, roll rule, instruments, ``backfill.*``)
    :param lake_uri: the lake root, already resolved (``lake.storage.resolve_lake``)
    :param storage_options: object-store options for the lake
    :param gateway_connection: ``GatewaySettings`` (a connection is opened and closed here) or
        an open ``GatewayConnection`` (used as it is, left open)
    :param start: first slot (ISO-8601 string, date or aware datetime; naive means UTC);
        None: ``repair.lookback_days`` before the gateway's present (the gap repair)
    :param end: end of the range, exclusive; None or later: the gateway's present
    :param symbols: instruments (default: ``collection.instruments``)
    :param pacer: the shared historical pacer (default: the in-process ``default_pacer()``)
    :param dry_run: plan only: the summary lists the groups and the pacing time; nothing is
        requested or written (the gateway is asked only for its clock)
    :param source: stored with the commits, e.g. ``dag_id/run_id/task_id``
    :raises BackfillInputError: bad input, before any historical request (names the parameter)
    :return: ``{"start", "end", "symbols", "dry_run", "plan": {...}, "groups": [...]}`` plus,
        unless ``dry_run``, the counts of :func:`fill_groups` and ``still_missing``
    """
    from ib_futures.ib.gateway import GatewayConnection, connect_gateway

    if isinstance(gateway_connection, GatewayConnection):
        return await _repair(cfg, gateway_connection, lake_uri, storage_options, start, end,
                             symbols, pacer, dry_run, source)  # fmt: skip
    async with connect_gateway(gateway_connection) as gateway:
        return await _repair(cfg, gateway, lake_uri, storage_options, start, end, symbols,
                             pacer, dry_run, source)  # fmt: skip


async def plan_for(
    cfg: FuturesConfig,
    gateway: GatewayConnection,
    lake_uri: str,
    storage_options: StorageOptions | None,
    start: Any,
    end: Any,
    symbols: Sequence[str] | str | None,
    limits: PacingLimits | None = None,
) -> tuple[dict[str, Any], Plan]:
    """Validate against the gateway's clock and plan: ``(summary, plan)``; no history asked.

    ``start=None`` means ``repair.lookback_days`` before the gateway's present, ``end=None``
    the present.
    """
    now = await _gateway_now(gateway)
    if start is None:
        start = now - timedelta(days=cfg.repair.lookback_days)
    lo, hi, chosen = validate_range(start, now if end is None else end, symbols, cfg, now)
    # a slot is asked for once the bar starting there is complete (a session's first slot)
    hi = max(lo, min(hi, now - SLOT))
    plan = await asyncio.to_thread(plan_range, cfg, lake_uri, lo, hi, chosen, storage_options)
    summary: dict[str, Any] = {
        "start": lo.isoformat(), "end": hi.isoformat(), "symbols": chosen,
        "gateway_now": now.isoformat(), "plan": plan.summary(limits),
    }  # fmt: skip
    log.info("backfill %s .. %s %s: %s", lo.isoformat(), hi.isoformat(), chosen, summary["plan"])
    return summary, plan


async def _repair(
    cfg: FuturesConfig, gateway: GatewayConnection, lake_uri: str,
    storage_options: StorageOptions | None, start: Any, end: Any,
    symbols: Sequence[str] | str | None, pacer: HistoricalPacer | None, dry_run: bool,
    source: str | None,
) -> dict[str, Any]:  # fmt: skip
    limits = pacer.limits if pacer is not None else None
    summary, plan = await plan_for(
        cfg, gateway, lake_uri, storage_options, start, end, symbols, limits
    )
    summary["dry_run"] = dry_run
    if dry_run:
        summary["groups"] = [describe(g) for g in plan.groups]
        return summary
    summary.update(await fill_groups(cfg, gateway, plan.groups, lake_uri=lake_uri,
                                     storage_options=storage_options, pacer=pacer, source=source))  # fmt: skip
    lo, hi = datetime.fromisoformat(summary["start"]), datetime.fromisoformat(summary["end"])
    summary.update(await asyncio.to_thread(
        remaining, cfg, lake_uri, lo, hi, summary["symbols"], storage_options))  # fmt: skip
    return summary


def remaining(
    cfg: FuturesConfig,
    lake_uri: str,
    start: datetime,
    end: datetime,
    symbols: Sequence[str],
    storage_options: StorageOptions | None = None,
) -> dict[str, Any]:
    """What is left in ``[start, end)``: missing slots, and the known-unfillable by reason."""
    from ib_futures.lake.readers import read_unfillable

    if end <= start:
        return {"still_missing": 0, "known_unfillable": 0, "unfillable_by_reason": {}}
    after = plan_range(cfg, lake_uri, start, end, symbols, storage_options)
    known = read_unfillable(lake_uri, symbols, start, end, storage_options)
    return {
        "still_missing": after.missing,
        "still_missing_by_symbol": dict(Counter(g.symbol for g in after.groups for _ in g.slots)),
        "known_unfillable": after.unfillable,
        "unfillable_by_reason": dict(Counter(known["reason"].to_list())),
    }


def describe(group: RequestGroup) -> dict[str, Any]:
    return {
        "symbol": group.symbol, "contract": group.contract, "fields": list(group.fields),
        "end": group.end.isoformat(), "duration": group.duration, "slots": len(group.slots),
    }  # fmt: skip


def repair_range_sync(cfg: FuturesConfig, **kwargs: Any) -> dict[str, Any]:
    """:func:`repair_range` for synchronous callers (runs its own event loop)."""
    return asyncio.run(repair_range(cfg, **kwargs))
