"""futures_collection: ES, NQ, RTY and SPY, QQQ, IWM snapshots every five minutes into Delta Lake.

Kept cheap to parse: only airflow.sdk, the standard library and the package's thin operator
modules are imported here (no polars, deltalake or ib_async).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import (
    DAG,
    AsyncCallback,
    DeadlineAlert,
    DeadlineReference,
    MultipleCronTriggerTimetable,
    Param,
    TriggerRule,
)

from ib_futures.airflow.context import deadlines_enabled
from ib_futures.airflow.operators.collect import IBFuturesOperator
from ib_futures.airflow.operators.delta import DeltaWriteOperator
from ib_futures.airflow.operators.market_session import MarketSessionBranchOperator
from ib_futures.core.config import load_config
from ib_futures.core.slot import SLOT_MINUTES

CONFIG = load_config()
ALERTS = CONFIG.alerts
NOTIFY = {
    "notifier": ALERTS.notifier.kind,
    "conn_id": ALERTS.notifier.conn_id,
    "to": ",".join(ALERTS.notifier.to) or None,
    "channel": ALERTS.notifier.channel,
}

DOC = """
### futures_collection

Every five minutes across the CME Globex week (Sunday 18:00 to Friday 17:00 America/New_York),
one snapshot per instrument goes into the Delta tables `futures_snapshots` (ES, NQ, RTY front
month) and `spot_snapshots` (SPY, QQQ, IWM).

* **market_session** decides from the run's slot (never the wall clock): the CME daily halt
  (17:00-18:00 ET), holidays and early closes, and any configured IB reset window skip the
  slot through **skip**, with the reason in the log.
* **collect** asks the IB Gateway (`ib_default`, pool `ib_gateway`) for all instruments at once.
* **write** merges the snapshots on `(symbol, bucket_ts)`: a retry or a re-run inserts nothing
  twice. The trigger parameter `dry_run` validates without writing.
* **collection_complete** fails the run when an instrument could not be collected, after the
  good rows were written.
* A deadline alert fires when a run has not finished within the configured minutes of being
  queued; the `futures_freshness` DAG alerts when the newest stored slot is older than the
  session calendar expects (which also catches runs that were never created).

**[Open the Futures page](/plugin/futures)**: coverage of every expected slot (live, from
history, unfillable, missing), freshness, the latest quotes and the weekly reports.
"""

with DAG(
    dag_id="futures_collection",
    description="CME index futures and ETF snapshots from IB into Delta Lake every 5 minutes",
    schedule=MultipleCronTriggerTimetable(
        f"*/{SLOT_MINUTES} 18-23 * * 0",  # Sunday from the 18:00 ET open
        f"*/{SLOT_MINUTES} * * * 1-4",  # Monday-Thursday; the 17:00-18:00 halt runs and skips
        f"*/{SLOT_MINUTES} 0-16 * * 5",  # Friday until the 17:00 ET close
        timezone=CONFIG.session.timezone,
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz=CONFIG.session.timezone),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=4, seconds=30),
    render_template_as_native_obj=True,
    doc_md=DOC,
    tags=["ib-futures", "market-data", "collection"],
    params={
        "instruments": Param(
            list(CONFIG.collection.instruments),
            type="array",
            items={"type": "string", "enum": sorted(CONFIG.instruments)},
            description="Symbols to collect (a subset of the configured instruments).",
        ),
        "dry_run": Param(
            False, type="boolean", description="Collect and validate, but write nothing."
        ),
    },
    default_args={
        "owner": "market-data",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=60),
        "execution_timeout": timedelta(minutes=2),
    },
    # Left off under `airflow dags test` only (see airflow_support.deadlines_enabled).
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=ALERTS.deadline_minutes),
        callback=AsyncCallback(
            "ib_futures.airflow.callbacks.missed_collection_alert", kwargs=NOTIFY
        ),
    )
    if deadlines_enabled()
    else None,
) as dag:
    market_session = MarketSessionBranchOperator(
        task_id="market_session",
        collect_task_ids=["collect"],
        skip_task_ids=["skip"],
        retries=0,
    )
    skip = EmptyOperator(task_id="skip")
    collect = IBFuturesOperator(
        task_id="collect",
        instruments="{{ params.instruments }}",
        ib_conn_id="ib_default",
        pool="ib_gateway",
        # outranks the backfill and repair tasks (priority 1) for the pool's slot
        priority_weight=100,
        weight_rule="absolute",
    )
    # The lake (and its credentials) is resolved by the tasks in the worker: lake connection
    # delta_lake_default, else IB_FUTURES_LAKE_URI, else the config (DeltaLakeHook).
    write = DeltaWriteOperator(
        task_id="write",
        snapshots=collect.output,
        on_invalid=CONFIG.storage.on_invalid,
        dry_run="{{ params.dry_run }}",
        trigger_rule=TriggerRule.NONE_SKIPPED,
    )
    collection_complete = EmptyOperator(task_id="collection_complete", retries=0)

    market_session >> [collect, skip]
    collect >> write >> collection_complete
    collect >> collection_complete
