"""futures_analysis_weekly: integrity, schedule, cheap parsing, and one real `airflow dags test`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ib-futures-dag-airflow-"))

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "futures_analysis_weekly.py"
DAG_ID = "futures_analysis_weekly"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dag():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # deprecated Airflow imports warn so
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_tasks_and_their_order(dag) -> None:
    assert {t.task_id for t in dag.tasks} == {
        "maintain_tables",
        "analyse_pair",
        "write_results",
        "report",
    }
    assert dag.get_task("maintain_tables").downstream_task_ids == {"analyse_pair"}
    assert dag.get_task("analyse_pair").downstream_task_ids == {"write_results"}
    assert dag.get_task("write_results").downstream_task_ids == {"report"}
    mapped = dag.get_task("analyse_pair")
    assert mapped.expand_input.value["pair"] == [["ES", "SPY"], ["NQ", "QQQ"], ["RTY", "IWM"]]
    assert type(dag.get_task("maintain_tables")).__name__ == "DeltaMaintenanceOperator"


def test_owner_retries_timeouts_tags_and_docs(dag) -> None:
    assert dag.tags >= {"ib-futures", "analysis"}
    assert dag.doc_md and "futures_analysis" in dag.doc_md
    assert dag.dagrun_timeout is not None and not dag.catchup and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "quant-research", task.task_id
        assert task.retries >= 1, task.task_id
        assert task.execution_timeout is not None, task.task_id
    assert dag.params["lookback_days"] == 7


def test_weekly_after_the_friday_close_in_new_york(dag) -> None:
    import pendulum
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import TimeRestriction

    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "0 6 * * 6"
    assert str(dag.timetable.timezone) == "America/New_York"
    tt = decode_timetable(encode_timetable(dag.timetable))  # what the scheduler runs
    friday_night = pendulum.datetime(2026, 11, 27, 22, 0, tz="America/New_York")
    info = tt.infer_manual_data_interval(run_after=friday_night)
    assert info.end - info.start == timedelta(days=7)

    nxt = tt.next_dagrun_info(
        last_automated_data_interval=info,
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert nxt is not None and nxt.data_interval is not None
    assert nxt.run_after == pendulum.datetime(2026, 11, 28, 6, 0, tz="America/New_York")
    assert nxt.data_interval.end - nxt.data_interval.start == timedelta(days=7)


def test_parsing_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAG_FILE)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "heavy = ['polars', 'deltalake', 'ib_async', 'numpy', 'scipy', 'matplotlib',\n"
        "         'pandas', 'pandas_market_calendars']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_airflow_dags_test_writes_results_and_report(tmp_path: Path) -> None:
    """The issue's acceptance check, as a user would run it (one process, SQLite)."""
    lake = tmp_path / "lake"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "IB_FUTURES_LAKE_URI": str(lake),
    }
    fill = [
        sys.executable, "-m", "ib_futures.analysis.synthetic", str(lake),
        "--start", "2026-09-01T00:00:00+00:00", "--end", "2026-11-28T12:00:00+00:00",
    ]  # fmt: skip
    subprocess.run(fill, env=env, check=True, capture_output=True, timeout=60)
    subprocess.run(
        [BIN / "airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=120
    )
    run = subprocess.run(
        [BIN / "airflow", "dags", "test", DAG_ID, "2026-11-28"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert "state=success" in log
    assert "ES/SPY, week ending 2026-11-27: 5-minute returns moved together" in log

    import polars as pl

    results = pl.read_delta(str(lake / "futures_analysis"))
    assert sorted(results["pair"].to_list()) == ["ES/SPY", "NQ/QQQ", "RTY/IWM"]
    assert set(results["status"]) == {"ok"}
    assert (results["xcorr_peak_lag"] == 1).all()  # the synthetic lake plants a 1-slot lead
    reports = pl.read_delta(str(lake / "weekly_reports"))  # where the Futures page reads them
    assert set(reports["week_end"]) == {"2026-11-27"}
    assert sorted(reports["name"].to_list()).count("report.html") == 1
    assert sum(n.endswith(".png") for n in reports["name"]) == 12
    assert "report of 2026-11-27 stored in" in log
