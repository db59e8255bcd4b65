"""futures_analysis_weekly: does each future track and lead its ETF, and does it predict it?

Kept cheap to parse: only airflow.sdk, pendulum, datetime, the configuration model and the
package's thin operator modules are imported here (no polars, deltalake, numpy or ib_async).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from ib_futures.airflow.operators.analysis import (
    AnalysisReportOperator,
    AnalysisResultsOperator,
    PairAnalysisOperator,
)
from ib_futures.airflow.operators.delta import DeltaMaintenanceOperator
from ib_futures.core.config import load_config

CONFIG = load_config()
SETTINGS = CONFIG.analysis
TZ = CONFIG.session.timezone

DOC = """
### futures_analysis_weekly

Saturday 06:00 America/New_York, after the Friday close. The window is the run's data interval:
the seven days (param `lookback_days`) ending at the data interval end, never "now", so a
re-run or a backfill of a week computes the same figures.

* **maintain_tables** compacts, checkpoints and vacuums the lake's tables (a week of 5-minute
  merges leaves thousands of small files).
* **analyse_pair** (mapped, one per pair: ES/SPY, NQ/QQQ, RTY/IWM) works on 5-minute log
  returns aligned by slot (never across a gap, the overnight break, the 17:00-18:00 halt or a
  roll; ETFs in regular hours only): Pearson/Spearman correlation with Fisher-z intervals and a
  rolling correlation; cross-correlation at lags -12..+12 slots (positive: the future leads)
  with Bonferroni-adjusted significance; walk-forward out-of-sample predictive value of the
  previous slot's futures return for the ETF's next slot and of the overnight futures change
  for the ETF's open-to-close return (hit rate against base rate, IC, slope t, R^2); basis and
  coverage (slots expected by the calendars against slots present, gaps). Too little data gives
  `status = insufficient_data` with the counts, never a zero.
* **write_results** replaces the week's rows in the Delta table `futures_analysis`.
* **report** renders `report.html` (charts inlined) and the PNGs and stores them in the lake's
  `weekly_reports` table (local or `s3://` alike), where the Futures page shows them; logs one
  plain-language paragraph per pair.

Definitions of every figure: `docs/analysis.md`.
"""

with DAG(
    dag_id="futures_analysis_weekly",
    description="Weekly futures/ETF tracking, lead-lag and predictive-value study",
    # interval=7 days: the data interval is the week ending at the trigger (the timetable's
    # default interval is zero, start == end); the tasks still derive the window from its end.
    schedule=CronTriggerTimetable("0 6 * * 6", timezone=TZ, interval=timedelta(days=7)),
    start_date=pendulum.datetime(2026, 1, 3, tz=TZ),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    render_template_as_native_obj=True,
    doc_md=DOC,
    tags=["ib-futures", "analysis", "weekly"],
    params={
        "lookback_days": Param(
            SETTINGS.lookback_days,
            type="integer",
            minimum=1,
            maximum=366,
            description="Days of data ending at the data interval end.",
        ),
    },
    default_args={
        "owner": "quant-research",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": timedelta(minutes=20),
    },
) as dag:
    # Every task finds the lake in the worker (DeltaLakeHook: lake connection
    # delta_lake_default, else IB_FUTURES_LAKE_URI, else the config); retention and the analysis
    # settings come from the config there too.
    maintain = DeltaMaintenanceOperator(
        task_id="maintain_tables",
        tables=["futures_snapshots", "spot_snapshots", "snapshot_rejects", "futures_analysis"],
        execution_timeout=timedelta(minutes=45),
    )
    analyse = PairAnalysisOperator.partial(
        task_id="analyse_pair",
        lookback_days="{{ params.lookback_days }}",
        map_index_template="{{ task.pair | join('/') }}",
        execution_timeout=timedelta(minutes=15),
    ).expand(pair=[list(p) for p in SETTINGS.pair_tuples()])
    results = AnalysisResultsOperator(
        task_id="write_results",
        rows=analyse.output,
        execution_timeout=timedelta(minutes=10),
    )
    report = AnalysisReportOperator(
        task_id="report",
        week_end="{{ ti.xcom_pull(task_ids='write_results')['week_end'] }}",
        execution_timeout=timedelta(minutes=10),
    )

    maintain >> analyse >> results >> report
