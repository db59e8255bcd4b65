"""futures_backfill: fill the missing slots of a date range from IB's historical bars.

Kept cheap to parse: only airflow.sdk, the standard library and the package's thin operator
modules are imported here (no polars, deltalake or ib_async).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from ib_futures.airflow.operators.backfill import backfill_tasks
from ib_futures.core.config import load_config

CONFIG = load_config()

DOC = """
### futures_backfill (manual)

Fills the expected slots missing from the lake over `[start, end)` from IB's 5-minute
historical bars, e.g. a year before the first collection, or after an outage. Use it instead of
`airflow backfill create futures_collection` (a past collection run cannot take a live quote).

* **plan** checks the parameters (a range in the future, an end before the start, an unknown
  symbol or a start older than IB keeps are refused, naming the parameter), works out the
  missing slots from the session calendar (stored and known-unfillable slots are left out) and
  groups them into requests: per contract (the roll rule's month, expired ones included), per
  bar field (MIDPOINT, TRADES), within `backfill.request_window`. `dry_run` stops here and logs
  the requests and the time IB's pacing needs.
* **fetch** (one mapped task per batch of `backfill.groups_per_task` groups, pool `ib_gateway`
  at the lowest priority, so live collection goes first) requests through the shared pacing
  ledger and merges the rows; slots IB cannot give go to `unfillable_slots`.
* **summary** reports what is left (XCom `return_value`).

Stopped half-way, a new run (or clearing the failed tasks) asks only for what is still missing.
"""

with DAG(
    dag_id="futures_backfill",
    description="Fill missing futures/ETF slots of a range from IB historical bars",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(days=2),  # a year under IB's pacing: about 1 h 45 min
    render_template_as_native_obj=True,
    doc_md=DOC,
    tags=["ib-futures", "market-data", "backfill"],
    params={
        "start": Param(
            "",
            type="string",
            description="First slot, ISO-8601 (e.g. 2026-11-02 or "
            "2026-11-02T14:30:00Z); UTC when no offset is given; empty: repair.lookback_days ago.",
        ),
        "end": Param("", type="string", description="End of the range (exclusive); empty: now."),
        "instruments": Param(
            list(CONFIG.collection.instruments),
            type="array",
            items={"type": "string"},
            description="Symbols to fill (unknown ones are refused).",
        ),
        "dry_run": Param(False, type="boolean", description="Plan and log only; request nothing."),
    },
    default_args={
        "owner": "market-data",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    },
) as dag:
    backfill_tasks(
        start="{{ params.start }}",
        end="{{ params.end }}",
        instruments="{{ params.instruments }}",
        dry_run="{{ params.dry_run }}",
    )
