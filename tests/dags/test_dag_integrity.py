"""DAG integrity for every file under dags/: imports cleanly, no deprecations, cheap to parse,
owners/retries/timeouts/tags set; futures_collection's tasks, edges, schedule and params."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
HEAVY = ("polars", "deltalake", "ib_async", "pandas", "pandas_market_calendars", "scipy",
         "matplotlib", "numpy")


@pytest.fixture(scope="module")
def bag():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # DeprecatedImportWarning is one
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS))
    return bag


def test_every_dag_file_imports_without_errors(bag):
    assert bag.import_errors == {}
    assert set(bag.dags) == {"futures_collection", "futures_freshness", "futures_analysis_weekly",
                             "futures_backfill", "futures_gap_repair"}  # fmt: skip


def test_parsing_the_dags_folder_imports_no_heavy_library():
    code = textwrap.dedent(f"""
        import json, sys, warnings
        warnings.simplefilter("error", FutureWarning)
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS)!r})
        print(json.dumps({{"errors": list(bag.import_errors),
                          "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"errors": [], "heavy": []}


def test_dag_files_leave_the_lake_to_the_worker(bag, monkeypatch):
    """No task carries a lake URI or storage options frozen at parse time: the lake hook
    resolves them in the worker (lake connection, environment, config)."""
    lake_tasks = [
        t for dag in bag.dags.values() for t in dag.tasks if "lake_uri" in t.template_fields
    ]
    assert {t.task_id for t in lake_tasks} >= {"collect", "write", "check_freshness",
                                              "maintain_tables", "analyse_pair", "report"}

    def given(task, name):  # a mapped task keeps its arguments in partial_kwargs
        return getattr(task, "partial_kwargs", {}).get(name, getattr(task, name, None))

    for task in lake_tasks:
        assert [given(task, n) for n in ("lake_uri", "storage_options", "aws_conn_id")] == [
            None, None, None
        ], task.task_id
    # and parsing under another IB_FUTURES_LAKE_URI gives the same DAGs
    monkeypatch.setenv("IB_FUTURES_LAKE_URI", "s3://elsewhere/lake")
    from airflow.dag_processing.dagbag import DagBag

    again = DagBag(dag_folder=str(DAGS))
    assert all(
        given(t, "lake_uri") is None for d in again.dags.values() for t in d.tasks
    )


@pytest.mark.parametrize("dag_id", ["futures_collection", "futures_freshness",
                                    "futures_analysis_weekly", "futures_backfill",
                                    "futures_gap_repair"])
def test_owner_retries_timeouts_tags_docs(bag, dag_id):
    dag = bag.dags[dag_id]
    assert dag.tags and "ib-futures" in dag.tags
    assert dag.doc_md
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.dagrun_timeout is not None
    for task in dag.tasks:
        assert task.owner not in (None, "", "airflow"), task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_collection_tasks_and_edges(bag):
    dag = bag.dags["futures_collection"]
    edges = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert edges == {
        "market_session": {"collect", "skip"},
        "skip": set(),
        "collect": {"write", "collection_complete"},
        "write": {"collection_complete"},
        "collection_complete": set(),
    }
    collect = dag.get_task("collect")
    assert collect.pool == "ib_gateway"
    assert collect.retries >= 1 and collect.retry_exponential_backoff
    # retries with backoff fit inside the five-minute slot, as do the timeouts
    assert collect.execution_timeout <= timedelta(minutes=2)
    assert collect.retry_delay + collect.max_retry_delay < timedelta(minutes=2)
    assert dag.dagrun_timeout < timedelta(minutes=5)
    assert dag.get_task("write").trigger_rule == "none_skipped"
    assert dag.render_template_as_native_obj is True
    assert set(dag.params) == {"instruments", "dry_run"}
    assert dag.params["instruments"] == ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
    assert dag.params["dry_run"] is False


@pytest.mark.parametrize("dag_id", ["futures_backfill", "futures_gap_repair"])
def test_collect_outranks_backfill_and_repair_in_the_ib_gateway_pool(bag, dag_id):
    """Live collection first: in the one-slot ib_gateway pool the scheduler hands a free slot
    to the highest priority; a fetch task holds it for one batch of groups at most."""
    collect = bag.dags["futures_collection"].get_task("collect")
    dag = bag.dags[dag_id]
    edges = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert edges == {"plan": {"fetch"}, "fetch": {"summary"}, "summary": set()}
    fetch = dag.get_task("fetch")
    assert fetch.pool == collect.pool == "ib_gateway"
    assert fetch.weight_rule == collect.weight_rule == "absolute"
    assert collect.priority_weight > fetch.priority_weight
    assert fetch.execution_timeout <= timedelta(minutes=15)
    assert dag.get_task("plan").pool != "ib_gateway"  # planning asks the gateway's clock only
    assert dag.get_task("summary").trigger_rule == "all_done"


def test_backfill_params_and_repair_schedule(bag):
    dag = bag.dags["futures_backfill"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual only
    assert set(dag.params) == {"start", "end", "instruments", "dry_run"}
    repair = bag.dags["futures_gap_repair"]
    fires = _fires(repair, pendulum.datetime(2026, 11, 20, 18, 0, tz="America/New_York"), 2)
    assert [f.strftime("%a %H:%M") for f in fires] == ["Mon 17:20", "Tue 17:20"]


def test_collection_deadline_alert_calls_the_package_callback(bag):
    dag = bag.dags["futures_collection"]
    (alert,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert alert.callback.path == "ib_futures.airflow.callbacks.missed_collection_alert"
    assert alert.interval == timedelta(minutes=10)


def test_the_callback_path_stored_by_earlier_runs_still_imports():
    """Deadline rows keep the dotted path they were created with."""
    import importlib

    from ib_futures.airflow.callbacks import missed_collection_alert

    old = importlib.import_module("ib_futures.callbacks").missed_collection_alert
    assert old is missed_collection_alert


def test_deadline_is_left_off_only_under_airflow_dags_test():
    from ib_futures.airflow.context import deadlines_enabled

    assert deadlines_enabled(["/x/bin/airflow", "dags", "test", "futures_collection"], {}) is False
    assert deadlines_enabled(["/x/bin/airflow", "scheduler"], {}) is True
    assert deadlines_enabled(["pytest"], {}) is True
    assert deadlines_enabled(["airflow", "scheduler"], {"IB_FUTURES_DEADLINES": "off"}) is False


def _fires(dag, start, count):
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    tt = decode_timetable(encode_timetable(dag.timetable))  # what the scheduler runs
    out, last = [], DataInterval(start, start)
    for _ in range(count):
        info = tt.next_dagrun_info(
            last_automated_data_interval=last,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
        )
        out.append(info.run_after.in_timezone("America/New_York"))
        last = info.data_interval
    return out


def test_schedule_covers_the_globex_week_in_new_york(bag):
    dag = bag.dags["futures_collection"]
    tz = "America/New_York"
    # Friday 16:50 ET: 16:55 is the last slot, then nothing until Sunday 18:00 ET
    fires = _fires(dag, pendulum.datetime(2026, 11, 20, 16, 50, tz=tz), 3)
    assert [f.strftime("%a %H:%M") for f in fires] == ["Fri 16:55", "Sun 18:00", "Sun 18:05"]
    # the daily halt is scheduled (and shows as skipped runs)
    fires = _fires(dag, pendulum.datetime(2026, 11, 24, 16, 55, tz=tz), 2)
    assert [f.strftime("%H:%M") for f in fires] == ["17:00", "17:05"]
    # daylight-saving change: still 18:00 local on the Sunday the clocks go back
    fires = _fires(dag, pendulum.datetime(2026, 11, 1, 17, 55, tz=tz), 1)
    assert fires[0].strftime("%a %H:%M") == "Sun 18:00"
