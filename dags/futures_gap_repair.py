"""futures_gap_repair: after each CME session close, fill the last days' missing slots.

Kept cheap to parse: only airflow.sdk, the standard library and the package's thin operator
modules are imported here (no polars, deltalake or ib_async).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable

from ib_futures.airflow.operators.backfill import backfill_tasks
from ib_futures.core.config import load_config

CONFIG = load_config()

DOC = f"""
### futures_gap_repair

Every weekday at 17:20 America/New_York, after the CME session closed at 17:00, the same code as
`futures_backfill` repairs the missing slots of the last `repair.lookback_days`
({CONFIG.repair.lookback_days}) days. Slots IB cannot give (no bar, beyond retention, no
permission, no contract) are recorded in the lake table `unfillable_slots` with the reason, so
the next repair does not ask again and the freshness check counts them as known. When slots
stay missing or unfillable, the summary is sent through the configured notifier
(`alerts.notifier`).
"""

with DAG(
    dag_id="futures_gap_repair",
    description="Repair the last days' missing futures/ETF slots from IB history",
    schedule=CronTriggerTimetable("20 17 * * 1-5", timezone=CONFIG.session.timezone),
    start_date=pendulum.datetime(2026, 1, 1, tz=CONFIG.session.timezone),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    doc_md=DOC,
    tags=["ib-futures", "market-data", "backfill"],
    default_args={"owner": "market-data", "retries": 2, "retry_delay": timedelta(seconds=30)},
) as dag:
    backfill_tasks(notify=True)
