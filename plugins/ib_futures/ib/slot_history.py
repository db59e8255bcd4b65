"""A past slot filled from IB's historical bars: what the market showed at that slot.

When no live snapshot can stand for a slot (the run is late by the gateway's clock:
``core.slot.snapshot_timing``), the collector takes IB's 5-minute bars instead of the present
quote. IB stamps a bar by its start (docs/ib-protocol.md section 4), so the bar that *ends* at
slot ``T`` is the one dated ``T - 5 min``:

* ``price`` = its MIDPOINT close (the mid just before ``T``), else its TRADES close;
* ``last`` = its TRADES close (the last trade before ``T``);
* a session's first slot (18:00 ET after the halt, Sunday's open) has no bar ending there:
  the *open* of the bar starting at ``T`` is taken, and ``price_source`` says so
  (``hist_midpoint_open``);
* bid, ask and their sizes, volume (IB filters historical volume), open interest and the
  session fields stay null: a bar cannot give them truthfully for the instant;
* ``market_data_type`` is 1: historical bars need a live subscription and are not delayed;
  ``price_source`` tells them from live snapshots.

Two paced requests per instrument (MIDPOINT and TRADES, three bars each). A slot IB cannot
give (no bar, beyond retention, no permission, 162 after the pacing) raises
:class:`~ib_futures.ib.history.HistoryUnavailable` naming the instrument, the contract, the slot
and IB's answer; the collector stores nothing for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ib_futures.core.slot import SLOT
from ib_futures.core.snapshot import Snapshot, clean_price
from ib_futures.ib.history import HistoryUnavailable, bar_start, request_bars
from ib_futures.ib.snapshots import CollectionResult

if TYPE_CHECKING:
    from ib_futures.core.pacing import HistoricalPacer
    from ib_futures.ib.contracts import ResolvedContract
    from ib_futures.ib.gateway import GatewayConnection

#: the bar fields asked for, in order of preference for ``price``
BAR_FIELDS: tuple[str, ...] = ("MIDPOINT", "TRADES")
#: three bars around the slot: the one ending there, the one starting there, one before
_DURATION = f"{3 * int(SLOT.total_seconds())} S"


@dataclass(frozen=True)
class BarValue:
    """One value IB's bars give for a slot: the ``close`` of the bar ending there, or the
    ``open`` of the bar starting there."""

    value: float
    point: str


def value_at_slot(bars: Sequence[Any], slot: datetime) -> BarValue | None:
    """The close of the bar ending at ``slot``, else the open of the bar starting there."""
    return value_in_index(bars_by_start(bars), slot)


def bars_by_start(bars: Sequence[Any]) -> dict[datetime, Any]:
    """IB's bars keyed by their start (UTC): built once for many slots."""
    return {bar_start(b): b for b in bars}


def value_in_index(by_start: dict[datetime, Any], slot: datetime) -> BarValue | None:
    """:func:`value_at_slot` over bars already keyed by their start."""
    ending = by_start.get(slot - SLOT)
    if ending is not None and (close := clean_price(ending.close)) is not None:
        return BarValue(close, "close")
    starting = by_start.get(slot)
    if starting is not None and (opened := clean_price(starting.open)) is not None:
        return BarValue(opened, "open")
    return None


async def _field_value(
    gateway: GatewayConnection,
    rc: ResolvedContract,
    slot: datetime,
    what: str,
    gateway_now: datetime,
    pacer: HistoricalPacer | None,
) -> BarValue | str:
    """The field's value at the slot, or why there is none."""
    # Bars ending after the gateway's present cannot be asked for; "now" is then the end.
    end = slot + SLOT if slot + SLOT <= gateway_now else None
    try:
        bars = await request_bars(
            gateway, rc, end, duration=_DURATION, what_to_show=what, pacer=pacer
        )
    except (HistoryUnavailable, TimeoutError) as exc:
        return str(exc) or f"{what} bars timed out"
    found = value_at_slot(bars, slot)
    return found if found is not None else f"no {what} bar ends or starts at the slot"


async def history_snapshot(
    gateway: GatewayConnection,
    rc: ResolvedContract,
    slot: datetime,
    gateway_now: datetime,
    collected_ts: datetime,
    pacer: HistoricalPacer | None = None,
) -> Snapshot:
    """The row for ``slot`` from IB's bars (see the module docstring)."""
    answers = await asyncio.gather(
        *(_field_value(gateway, rc, slot, what, gateway_now, pacer) for what in BAR_FIELDS)
    )
    values = {w: a for w, a in zip(BAR_FIELDS, answers, strict=True) if isinstance(a, BarValue)}
    if not values:
        why = "; ".join(str(a) for a in answers)
        raise HistoryUnavailable(
            f"{rc.symbol} ({rc.local_symbol}) slot {slot.isoformat()}: no historical value: {why}"
        )
    return snapshot_from_values(rc, slot, values, collected_ts)


def snapshot_from_values(
    rc: ResolvedContract, slot: datetime, values: dict[str, BarValue], collected_ts: datetime
) -> Snapshot:
    """The history row for ``slot`` from its bar values by field (at least one of
    ``MIDPOINT``, ``TRADES``); shared with the backfill (``ib.bulk_history``)."""
    mid, trades = values.get("MIDPOINT"), values.get("TRADES")
    primary_field, primary = ("midpoint", mid) if mid is not None else ("trades", trades)
    assert primary is not None
    return Snapshot(
        symbol=rc.symbol,
        asset_class=rc.asset_class,  # type: ignore[arg-type]
        bucket_ts=slot,
        collected_ts=collected_ts,
        con_id=rc.con_id,
        local_symbol=rc.local_symbol,
        exchange=rc.exchange,
        currency=rc.currency,
        market_data_type=1,
        expiry=rc.expiry,
        last=trades.value if trades is not None else None,
        midpoint=mid.value if mid is not None else None,
        price_source=f"hist_{primary_field}_{primary.point}",
    )


async def history_snapshots(
    gateway: GatewayConnection,
    resolved: Sequence[ResolvedContract],
    slot: datetime,
    gateway_now: datetime,
    pacer: HistoricalPacer | None = None,
) -> CollectionResult:
    """:func:`history_snapshot` for each contract (the pacer spaces the requests); the ones IB
    cannot give are failures naming why."""
    from datetime import UTC

    answers = await asyncio.gather(
        *(history_snapshot(gateway, rc, slot, gateway_now, datetime.now(UTC), pacer)
          for rc in resolved),
        return_exceptions=True,
    )  # fmt: skip
    result = CollectionResult()
    for rc, answer in zip(resolved, answers, strict=True):
        if isinstance(answer, Snapshot):
            result.snapshots.append(answer)
        elif isinstance(answer, ConnectionError):
            raise answer
        elif isinstance(answer, Exception):
            result.failures[rc.symbol] = str(answer) or repr(answer)
        else:
            raise answer
    return result
