"""The slot: the five-minute instant a row stands for, and how a run finds its slot.

The slot length is fixed, and this module is its one source of truth. Everything that counts
or aligns slots imports it from here: the session calendar's expected slots, the DAG's cron
cadence, row validation, the IB historical bar size that fills missed slots, and the weekly
analysis (whose defaults, such as a 39-slot rolling window for half a trading day, are
calibrated on five-minute returns). ``collection.interval_minutes`` is accepted only with
this value, so a configuration cannot silently disagree with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: minutes per slot
SLOT_MINUTES = 5
#: one slot as a duration
SLOT = timedelta(minutes=SLOT_MINUTES)
#: IB's ``barSizeSetting`` for bars of one slot
SLOT_BAR_SIZE = f"{SLOT_MINUTES} mins"


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}={value!r} must be timezone-aware")
    return value.astimezone(UTC)


def slot_for(instant: datetime) -> datetime:
    """``instant`` in UTC floored to the slot (``10:03:27`` -> ``10:00:00``)."""
    t = _aware_utc(instant, "instant")
    step = SLOT_MINUTES * 60
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def slot_for_run(data_interval_end: datetime | None, run_after: datetime | None) -> datetime:
    """A run's slot: its data interval end, else (a manual or REST run without a logical
    date) ``run_after``; either floored to the slot. Never the wall clock, so a retry or a
    backfill of a run has the slot the live run had."""
    instant = data_interval_end if data_interval_end is not None else run_after
    if instant is None:
        raise ValueError("a run needs a data interval end or run_after to have a slot")
    return slot_for(instant)


def is_slot(value: datetime) -> bool:
    """Whether ``value`` lies exactly on a slot boundary."""
    return not (value.second or value.microsecond or value.minute % SLOT_MINUTES)


#: How far before its slot a snapshot still counts as the slot's. The scheduler starts a run at
#: its slot, but the worker's clock and the gateway's are only as close as NTP keeps them (a
#: second or two), and a manual run may be started a moment early; 20 s covers that, while a
#: quote taken earlier than this would be the market of another moment.
SNAPSHOT_SKEW = timedelta(seconds=20)

#: ``live``: take a snapshot; ``history``: fill from the bar that ends at the slot; ``early``:
#: the slot has not come yet by the gateway's clock, nothing can be collected for it.
SnapshotTiming = str


def snapshot_timing(slot: datetime, gateway_now: datetime, max_delay_s: float) -> SnapshotTiming:
    """Whether a live snapshot may stand for ``slot`` when the gateway's clock reads
    ``gateway_now``: from :data:`SNAPSHOT_SKEW` before the slot to ``max_delay_s`` after it.

    Later than that the slot is filled from IB's history (a live quote would be the market of
    another moment stamped with this slot's key); earlier, it is ``early``.
    """
    slot, now = _aware_utc(slot, "slot"), _aware_utc(gateway_now, "gateway_now")
    if now < slot - SNAPSHOT_SKEW:
        return "early"
    if now <= slot + timedelta(seconds=max_delay_s):
        return "live"
    return "history"
