"""futures_freshness: alert when the stored snapshots fall behind the session calendar.

Catches what deadline alerts cannot: collection runs that were never created (the
futures_collection DAG paused, its pool starved, its queue dead). Runs in the default pool.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable

from ib_futures.airflow.operators.freshness import FreshnessCheckOperator
from ib_futures.core.config import load_config

CONFIG = load_config()

with DAG(
    dag_id="futures_freshness",
    description="Alert when the newest stored futures/ETF slot is older than the calendar expects",
    schedule=CronTriggerTimetable("7,22,37,52 * * * *", timezone=CONFIG.session.timezone),
    start_date=pendulum.datetime(2026, 1, 1, tz=CONFIG.session.timezone),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    doc_md=__doc__,
    tags=["ib-futures", "monitoring"],
    default_args={
        "owner": "market-data",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=5),
    },
) as dag:
    # The lake and the notifier (alerts.notifier) are read in the worker, not at parse time.
    FreshnessCheckOperator(task_id="check_freshness")
