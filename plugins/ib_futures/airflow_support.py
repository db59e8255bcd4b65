"""Small adapters from an Airflow task context to the pure core (no heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


def floor_to_interval(ts: datetime, minutes: int) -> datetime:
    """``ts`` in UTC floored to a multiple of ``minutes`` past the hour (seconds dropped)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} has no time zone")
    ts = ts.astimezone(UTC)
    return ts.replace(second=0, microsecond=0) - timedelta(minutes=ts.minute % minutes)


def slot_from_context(context: Mapping[str, Any], interval_minutes: int = 5) -> datetime:
    """The five-minute slot a task instance stands for, in UTC.

    The data interval end of the run when there is one (a scheduled run, a backfill, a retry:
    all give the same slot). A manual or REST run without a logical date has no meaningful
    interval of its own: its ``run_after`` (when it was asked to run) floored to the interval
    is the slot it collects into. Never the wall clock at execution time.
    """
    end = context.get("data_interval_end")
    dag_run = context.get("dag_run")
    logical = context.get("logical_date")
    if logical is None and dag_run is not None:
        logical = getattr(dag_run, "logical_date", None)
    if end is None or logical is None:
        run_after = getattr(dag_run, "run_after", None) if dag_run is not None else None
        if run_after is not None:
            end = run_after
    if end is None:
        raise ValueError("the task context has neither a data interval end nor a run_after")
    return floor_to_interval(end, interval_minutes)
