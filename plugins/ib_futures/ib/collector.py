"""One collection cycle: resolve, snapshot, add change metrics, in one gateway session.

This is the whole job of ``IBFuturesOperator``, without Airflow: the operator only works out
the slot and the instrument list, opens the session through the hook and hands XCom the
records.

Change metrics come from the lake's own history of stored snapshots (``history_source``), so
a steady-state cycle makes **no** historical request. Only when the stored history lacks the
previous session close (``core.metrics.needs_history``) does the cycle fetch bars, at most one
paced request per instrument, and feed them to the same computation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ib_futures.core.contracts import RollRule
from ib_futures.ib.contracts import ResolvedContract, resolve_all
from ib_futures.ib.snapshots import CollectionResult, collect_snapshots

log = logging.getLogger(__name__)

PricePoints = list[tuple[datetime, float]]
HistorySource = Callable[[Sequence[str], datetime, datetime], dict[str, PricePoints]]
"""``(symbols, since, until) -> {symbol: [(slot, price), ...]}`` from stored snapshots."""


@dataclass
class CycleStats:
    """What a cycle did, for logs, XCom metadata and benchmarks."""

    historical_requests: int = 0
    history_failures: dict[str, str] = field(default_factory=dict)
    change_sources: dict[str, str] = field(default_factory=dict)


@dataclass
class CycleResult:
    collection: CollectionResult
    stats: CycleStats


async def _history_for(
    session: Any, rc: ResolvedContract, slot: datetime, stats: CycleStats
) -> PricePoints:
    from ib_futures.ib.history import HistoryUnavailable, recent_closes

    stats.historical_requests += 1
    try:
        return await recent_closes(session, rc, slot)
    except (HistoryUnavailable, TimeoutError) as exc:
        stats.history_failures[rc.symbol] = str(exc) or repr(exc)
        log.warning("change metrics for %s left empty: %s", rc.symbol, exc)
        return []


async def run_cycle(
    session: Any,
    instruments: Sequence[Any],
    slot: datetime,
    *,
    roll: RollRule,
    trade_date: date,
    history_source: HistorySource | None = None,
    history_fallback: bool = True,
    cfg: Any = None,
) -> CycleResult:
    """Collect ``instruments`` for ``slot`` (UTC) in ``session``; see the module docstring.

    ``cfg`` (a ``FuturesConfig``) gives the session calendars for the change metrics; the
    default configuration is used when it is None.
    """
    import ib_futures.core.metrics as metrics

    stats = CycleStats()
    resolved, unresolved = await resolve_all(session, list(instruments), trade_date, roll)
    collection = await collect_snapshots(session, list(resolved.values()), slot)
    collection.failures.update(unresolved)
    if not collection.snapshots:
        return CycleResult(collection, stats)

    windows = {
        s.symbol: metrics.history_window(slot, s.asset_class, cfg) for s in collection.snapshots
    }
    stored: dict[str, PricePoints] = {}
    if history_source is not None:
        since = min(w[0] for w in windows.values())
        until = max(w[1] for w in windows.values())
        try:
            stored = history_source([s.symbol for s in collection.snapshots], since, until)
        except Exception as exc:  # the lake may not exist yet on the first run
            log.warning("no stored history for change metrics (%s); using IB history", exc)

    need = [
        s
        for s in collection.snapshots
        if metrics.needs_history(slot, s.asset_class, stored.get(s.symbol, []), cfg)
    ]
    fetched: dict[str, PricePoints] = {}
    if need and history_fallback:
        lists = await asyncio.gather(
            *(_history_for(session, resolved[s.symbol], slot, stats) for s in need)
        )
        fetched = {s.symbol: pts for s, pts in zip(need, lists, strict=True)}

    for snap in collection.snapshots:
        points = stored.get(snap.symbol, [])
        source = "lake"
        if fetched.get(snap.symbol):
            merged = dict(fetched[snap.symbol])
            merged.update(dict(points))  # stored snapshots win over bars for the same slot
            points = sorted(merged.items())
            source = "history"
        if not points:
            source = ""
        changes = metrics.compute_changes(slot, snap.asset_class, snap.price, points, cfg)
        snap.change_1h = changes.change_1h
        snap.change_4h = changes.change_4h
        snap.change_overnight = changes.change_overnight
        snap.change_daily = changes.change_daily
        have_any = any(
            v is not None
            for v in (snap.change_1h, snap.change_4h, snap.change_overnight, snap.change_daily)
        )
        snap.change_source = source if (source and have_any) else None
        stats.change_sources[snap.symbol] = snap.change_source or "none"
    return CycleResult(collection, stats)
