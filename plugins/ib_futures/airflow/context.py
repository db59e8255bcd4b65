"""Small adapters from an Airflow task context (and the Airflow CLI) to the pure core.

No heavy imports: DAG files import :func:`deadlines_enabled` at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def slot_from_context(context: Mapping[str, Any]) -> datetime:
    """The five-minute slot a task instance stands for, in UTC.

    The data interval end of the run when it has a logical date (a scheduled run, a backfill,
    a retry: all give the same slot). A manual or REST run without a logical date collects
    into the slot of its ``run_after`` (when it was asked to run). Never the wall clock at
    execution time. See ``core.slot.slot_for_run``.
    """
    from ib_futures.core.slot import slot_for_run

    dag_run = context.get("dag_run")
    logical = context.get("logical_date")
    if logical is None and dag_run is not None:
        logical = getattr(dag_run, "logical_date", None)
    end = context.get("data_interval_end") if logical is not None else None
    run_after = getattr(dag_run, "run_after", None) if dag_run is not None else None
    return slot_for_run(end, run_after)


def deadlines_enabled(
    argv: list[str] | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether DAG files should attach their Deadline Alerts.

    Works around apache/airflow#73428 (open in 3.3): ``airflow dags test`` on a DAG with
    ``deadline=`` runs it to the end and then exits 1 with ``StatementError ... 'dict' object
    has no attribute 'hex'``. Under ``dags test`` no deadline can fire anyway (the run has no
    ``queued_at``), so when the DAG file is parsed by ``airflow dags test`` the alert is left
    off and nothing is lost. ``IB_FUTURES_DEADLINES=off`` turns them off elsewhere too.
    """
    import os
    import sys

    env = os.environ if environ is None else environ
    if env.get("IB_FUTURES_DEADLINES", "on").strip().lower() in ("off", "0", "false", "no"):
        return False
    args = sys.argv if argv is None else argv
    words = [a for a in args[1:] if not a.startswith("-")]
    return not (os.path.basename(args[0]).startswith("airflow") and words[:2] == ["dags", "test"])
