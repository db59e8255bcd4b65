"""One collection cycle: resolve, snapshot, add change metrics, over one gateway connection.

This is the whole job of ``IBFuturesOperator``, without Airflow: the operator only works out
the slot, opens the gateway connection through the hook and calls :func:`collect_slot`, which
takes the instruments whose market is open (``core.session.decide``, the decision the branch
made), collects them, logs each record and says which instruments failed and why.

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
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.core.contracts import RollRule
from ib_futures.ib.contracts import ResolvedContract, resolve_all
from ib_futures.ib.gateway import GatewayConnection
from ib_futures.ib.snapshots import CollectionResult, collect_snapshots

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.instruments import Instrument
    from ib_futures.core.pacing import HistoricalPacer
    from ib_futures.core.snapshot import Snapshot

log = logging.getLogger(__name__)

PricePoints = list[tuple[datetime, float]]
#: How long the change metrics' history request may wait for its pacing turn. The snapshot is
#: already taken: waiting longer (the budget spent by earlier cycles on a lake without the
#: previous close, or by a backfill) would let the task's execution timeout kill the cycle
#: and lose the slot's live quote for metrics it can do without (found by the soak, bench/README.md).
CHANGE_HISTORY_MAX_WAIT_S = 15.0
#: ``source(symbols, ranges)``: the stored ``(slot, price)`` points of ``symbols`` within the
#: inclusive ``(lo, hi)`` ranges (``lake.readers.stored_price_source`` reads them from the lake).
HistorySource = Callable[[Sequence[str], Sequence[tuple[datetime, datetime]]], dict[str, PricePoints]]
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
    #: the instruments the cycle set out to collect
    wanted: tuple[str, ...] = ()

    def records(self) -> list[dict[str, Any]]:
        """The snapshots as JSON records (the XCom contract, ``core.snapshot.RECORD_KEYS``)."""
        return [s.to_record() for s in self.collection.snapshots]

    def failure_summary(self, slot: datetime) -> str | None:
        """``None`` when every instrument was collected, else one line naming each failure."""
        failures = self.collection.failures
        if not failures:
            return None
        return (
            f"slot {slot.isoformat()}: {len(failures)} of {len(self.wanted) or len(failures)} "
            f"instruments not collected ({', '.join(sorted(failures))}); "
            f"{len(self.collection.snapshots)} good snapshots"
        )


async def _history_for(
    gateway: Any,
    rc: ResolvedContract,
    slot: datetime,
    stats: CycleStats,
    pacer: HistoricalPacer | None = None,
) -> PricePoints:
    from ib_futures.ib.history import HistoryUnavailable, recent_closes

    stats.historical_requests += 1
    try:
        return await recent_closes(gateway, rc, slot, pacer=pacer, max_wait=CHANGE_HISTORY_MAX_WAIT_S)
    except (HistoryUnavailable, TimeoutError) as exc:
        stats.history_failures[rc.symbol] = str(exc) or repr(exc)
        log.warning("change metrics for %s left empty: %s", rc.symbol, exc)
        return []


async def run_cycle(
    gateway: GatewayConnection,
    instruments: Sequence[Instrument],
    slot: datetime,
    *,
    roll: RollRule,
    trade_date: date,
    history_source: HistorySource | None = None,
    history_fallback: bool = True,
    cfg: FuturesConfig | None = None,
    from_bars_at: datetime | None = None,
    pacer: HistoricalPacer | None = None,
) -> CycleResult:
    """Collect ``instruments`` for ``slot`` (UTC) over ``gateway``; see the module docstring.

    ``cfg`` (a ``FuturesConfig``) gives the session calendars for the change metrics; the
    default configuration is used when it is None. ``from_bars_at`` (the gateway's present,
    when it is too late for a live snapshot to stand for the slot) fills the slot from IB's
    historical bars instead, with the contracts of the slot's date, expired ones included.
    ``pacer`` books historical requests (default: the in-process ``default_pacer()``).
    """
    from ib_futures.ib.slot_history import history_snapshots

    stats = CycleStats()
    wanted = tuple(i.symbol for i in instruments)
    late = from_bars_at is not None
    resolved, unresolved = await resolve_all(gateway, list(instruments), trade_date, roll, late)
    if from_bars_at is not None:
        collection = await history_snapshots(
            gateway, list(resolved.values()), slot, from_bars_at, pacer
        )
        stats.historical_requests += 2 * len(resolved)
    else:
        collection = await collect_snapshots(gateway, list(resolved.values()), slot)
    collection.failures.update(unresolved)
    if not collection.snapshots:
        return CycleResult(collection, stats, wanted)

    stored = _stored_history(history_source, collection.snapshots, slot, cfg)
    need = _lacking_previous_close(collection.snapshots, stored, slot, cfg)
    fetched: dict[str, PricePoints] = {}
    if need and history_fallback:
        fetched = await _fetch_history(gateway, resolved, need, slot, stats, pacer)

    for snap in collection.snapshots:
        _add_changes(snap, stored.get(snap.symbol, []), fetched.get(snap.symbol, []), slot, cfg)
        stats.change_sources[snap.symbol] = snap.change_source or "none"
    return CycleResult(collection, stats, wanted)


def _stored_history(
    history_source: HistorySource | None,
    snapshots: Sequence[Snapshot],
    slot: datetime,
    cfg: FuturesConfig | None,
) -> dict[str, PricePoints]:
    """The stored prices the change metrics of every snapshot look at (one read for all of
    them, only the short ranges around the reference instants); empty without a source or when
    the read fails."""
    import ib_futures.core.metrics as metrics

    if history_source is None:
        return {}
    classes = {s.asset_class for s in snapshots}
    ranges = metrics.merge_ranges(
        r for a in classes for r in metrics.history_ranges(slot, a, cfg)
    )
    try:
        return history_source([s.symbol for s in snapshots], ranges)
    except Exception as exc:  # the lake may not exist yet on the first run
        log.warning("no stored history for change metrics (%s); using IB history", exc)
        return {}


def _lacking_previous_close(
    snapshots: Sequence[Snapshot],
    stored: dict[str, PricePoints],
    slot: datetime,
    cfg: FuturesConfig | None,
) -> list[Snapshot]:
    """The snapshots whose stored history lacks the previous session close."""
    import ib_futures.core.metrics as metrics

    return [
        s
        for s in snapshots
        if metrics.needs_history(slot, s.asset_class, stored.get(s.symbol, []), cfg)
    ]


async def _fetch_history(
    gateway: GatewayConnection,
    resolved: dict[str, ResolvedContract],
    need: Sequence[Snapshot],
    slot: datetime,
    stats: CycleStats,
    pacer: HistoricalPacer | None = None,
) -> dict[str, PricePoints]:
    """IB bars for each snapshot in ``need``: one request per instrument, issued together (the
    history pacer spaces them); an instrument whose bars are unavailable gets no points."""
    lists = await asyncio.gather(
        *(_history_for(gateway, resolved[s.symbol], slot, stats, pacer) for s in need)
    )
    return {s.symbol: pts for s, pts in zip(need, lists, strict=True)}


def _add_changes(
    snap: Snapshot,
    stored: PricePoints,
    bars: PricePoints,
    slot: datetime,
    cfg: FuturesConfig | None,
) -> None:
    """Set the snapshot's change metrics and ``change_source`` from its stored prices, plus
    IB's bars when there are any ("history"); no source when no metric could be computed."""
    import ib_futures.core.metrics as metrics

    points = stored
    source = "lake"
    if bars:
        merged = dict(bars)
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


async def collect_slot(
    gateway: GatewayConnection,
    cfg: FuturesConfig,
    slot: datetime,
    symbols: Sequence[str],
    history_source: HistorySource | None = None,
    pacer: HistoricalPacer | None = None,
) -> CycleResult:
    """Collect ``symbols`` for ``slot`` with the configuration's rules, and log the outcome.

    The contract month is the roll rule's for the slot's futures trading date; change metrics
    come from ``history_source`` (stored snapshots) and, when it lacks the previous close and
    ``collection.history_fallback`` is on, from IB's bars, booked through ``pacer`` (the
    ledger shared across task processes, ``collection.history_pacing``).
    """
    from ib_futures.core.instruments import select_instruments
    from ib_futures.core.session import trade_date
    from ib_futures.core.slot import snapshot_timing

    now = await gateway_clock(gateway)
    offset = now - datetime.now(now.tzinfo)  # the gateway's clock against the worker's
    timing = snapshot_timing(slot, now, cfg.collection.max_snapshot_delay_seconds)
    log.info("slot %s, gateway clock %s: %s", slot.isoformat(), now.isoformat(), _TIMING[timing])
    if timing == "early":
        ahead = f"slot {slot.isoformat()} is {(slot - now).total_seconds():.0f}s ahead of the "
        result = CycleResult(
            CollectionResult(failures={s: f"{s}: {ahead}gateway clock, nothing to collect yet"
                                       for s in symbols}), CycleStats(), tuple(symbols),
        )  # fmt: skip
    else:
        result = await run_cycle(
            gateway,
            select_instruments(cfg, list(symbols)),
            slot,
            roll=cfg.roll_rule(),
            trade_date=trade_date(slot, "FUT", cfg),
            history_source=history_source,
            history_fallback=cfg.collection.history_fallback,
            cfg=cfg,
            from_bars_at=now if timing == "history" else None,
            pacer=pacer,
        )
        _on_gateway_clock(result.collection.snapshots, offset)
    log_cycle(result)
    return result


def _on_gateway_clock(snapshots: Sequence[Snapshot], offset: timedelta) -> None:
    """Express live quote times on the gateway's clock, as the slot is: ib_async stamps a tick
    with the worker's clock when it arrives. ``reqCurrentTime`` has whole-second resolution,
    so offsets within two seconds are left alone."""
    if abs(offset) <= timedelta(seconds=2):
        return
    for snap in snapshots:
        if snap.quote_ts is not None and snap.price_source == "live":
            snap.quote_ts = snap.quote_ts + offset


_TIMING = {
    "live": "current, live snapshot",
    "history": "too late for a live snapshot, filled from IB's historical bars",
    "early": "not yet begun by the gateway's clock",
}


async def gateway_clock(gateway: GatewayConnection) -> datetime:
    """The gateway's own time (``reqCurrentTime``): a real gateway and the simulator decide
    alike, whatever the worker's clock says."""
    from datetime import UTC

    now = await asyncio.wait_for(
        gateway.ib.reqCurrentTimeAsync(), gateway.settings.request_timeout
    )
    return now.astimezone(UTC)


def log_cycle(result: CycleResult, logger: logging.Logger = log) -> None:
    """One line per record (prices, type, change metrics), the history count, each failure."""
    for rec in result.records():
        logger.info(
            "%s %s bid=%s ask=%s last=%s type=%s changes(1h=%s, 4h=%s, on=%s, d=%s; %s)",
            rec["symbol"], rec["local_symbol"], rec["bid"], rec["ask"], rec["last"],
            rec["market_data_type"], rec["change_1h"], rec["change_4h"],
            rec["change_overnight"], rec["change_daily"], rec["change_source"],
        )  # fmt: skip
        if rec["price_source"] != "live":
            logger.info("%s filled from IB history: price=%s (%s)", rec["symbol"], rec["price"],
                        rec["price_source"])
    logger.info("historical requests this cycle: %d", result.stats.historical_requests)
    for symbol, reason in sorted(result.collection.failures.items()):
        logger.error("not collected: %s", reason if symbol in reason else f"{symbol}: {reason}")
