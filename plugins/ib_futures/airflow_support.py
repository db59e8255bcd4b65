"""Small adapters from an Airflow task context to the pure core (no heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def slot_from_context(context: Mapping[str, Any], interval_minutes: int = 5) -> datetime:
    """The five-minute slot a task instance stands for, in UTC.

    The data interval end of the run when it has a logical date (a scheduled run, a backfill,
    a retry: all give the same slot). A manual or REST run without a logical date collects
    into the slot of its ``run_after`` (when it was asked to run). Never the wall clock at
    execution time. See ``core.session.slot_for_run``.
    """
    from ib_futures.core.session import slot_for_run

    dag_run = context.get("dag_run")
    logical = context.get("logical_date")
    if logical is None and dag_run is not None:
        logical = getattr(dag_run, "logical_date", None)
    end = context.get("data_interval_end") if logical is not None else None
    run_after = getattr(dag_run, "run_after", None) if dag_run is not None else None
    return slot_for_run(end, run_after, interval_minutes)
