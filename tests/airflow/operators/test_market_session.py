"""MarketSessionBranchOperator: the branch follows the run's slot, never the wall clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ib_futures.airflow.operators.market_session import (
    DECISION_XCOM_KEY,
    MarketSessionBranchOperator,
)
from ib_futures.core.config import FuturesConfig, parse_config

HALT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # Tuesday 17:00 ET
OPEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET
EVENING = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # Tuesday 18:00 ET: futures only
THANKSGIVING = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 15:00 ET, after CME's early close


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}
        self.map_index = -1

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def context(
    logical: datetime | None, run_after: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """A task context as Airflow builds it: a manual run without a logical date has no data
    interval, only ``dag_run.run_after``."""
    if end is None and logical is not None:
        end = logical
    dag_run = SimpleNamespace(logical_date=logical, run_after=run_after or logical)
    return {
        "logical_date": logical,
        "data_interval_start": end,
        "data_interval_end": end,
        "dag_run": dag_run,
        "ti": FakeTI(),
    }


def operator(cfg: FuturesConfig | None = None, **kw: Any) -> MarketSessionBranchOperator:
    return MarketSessionBranchOperator(
        task_id="market_session",
        collect_task_ids=kw.pop("collect_task_ids", ["collect"]),
        skip_task_ids=kw.pop("skip_task_ids", ["skip"]),
        config=cfg or FuturesConfig(),
        **kw,
    )


@pytest.mark.parametrize(
    ("slot", "branch", "reason"),
    [
        pytest.param(OPEN, ["collect"], "collect: CME Globex open; NYSE open", id="open"),
        pytest.param(HALT, ["skip"], "skip: CME daily maintenance halt 17:00-18:00 ET", id="halt"),
        pytest.param(EVENING, ["collect"], "collect ES, NQ, RTY: CME Globex open", id="futures-only"),
        pytest.param(THANKSGIVING, ["skip"], "CME early close at 13:00 ET (Thanksgiving)", id="holiday"),
    ],
)  # fmt: skip
def test_branch_and_decision_follow_the_slot(slot, branch, reason, capsys):
    ctx = context(slot)
    assert operator().choose_branch(ctx) == branch
    decision = ctx["ti"].pushed[DECISION_XCOM_KEY]
    assert decision["slot"] == slot.isoformat()
    assert decision["collect"] is (branch == ["collect"])
    assert reason in decision["reason"]
    assert reason in capsys.readouterr().out  # the task log (structlog writes to stdout)
    json.dumps(decision)  # XCom-serialisable


def test_decision_lists_the_open_instruments():
    ctx = context(EVENING)
    operator().choose_branch(ctx)
    d = ctx["ti"].pushed[DECISION_XCOM_KEY]
    assert d["open_instruments"] == ["ES", "NQ", "RTY"]
    assert d["open_markets"] == {"FUT": True, "ETF": False}


def test_manual_run_without_logical_date_uses_run_after():
    ctx = context(None, run_after=datetime(2026, 11, 24, 22, 3, 41, tzinfo=UTC))
    assert operator().choose_branch(ctx) == ["skip"]
    assert ctx["ti"].pushed[DECISION_XCOM_KEY]["slot"] == HALT.isoformat()


def test_retry_decides_as_the_live_run():
    """The wall clock plays no part: the same run context decides the same way whenever it
    is run (a retry, a clear, a backfill)."""
    first = operator().decide(context(HALT))
    second = operator().decide(context(HALT))
    assert first == second and not first.collect


def test_instruments_argument_narrows_the_decision():
    ctx = context(EVENING)
    assert operator(instruments=["SPY", "QQQ"]).choose_branch(ctx) == ["skip"]
    assert ctx["ti"].pushed[DECISION_XCOM_KEY]["reason"].startswith("skip: NYSE closed")


def test_reset_window_from_config():
    cfg = parse_config({"session": {"ib_reset_windows": [{"start": "09:55", "end": "10:05"}]}})
    ctx = context(OPEN)
    assert operator(cfg).choose_branch(ctx) == ["skip"]
    assert "IB server reset 09:55-10:05" in ctx["ti"].pushed[DECISION_XCOM_KEY]["reason"]


def test_single_task_ids_and_empty_skip_branch():
    assert operator(collect_task_ids="collect").choose_branch(context(OPEN)) == ["collect"]
    assert operator(skip_task_ids=()).choose_branch(context(HALT)) == []


def test_config_path_is_loaded(tmp_path):
    path = tmp_path / "futures_config.yaml"
    path.write_text("collection:\n  instruments: [SPY]\n", encoding="utf-8")
    op = MarketSessionBranchOperator(
        task_id="market_session",
        collect_task_ids=["collect"],
        skip_task_ids=["skip"],
        config_path=str(path),
    )
    assert op.choose_branch(context(EVENING)) == ["skip"]


def test_template_fields():
    assert set(MarketSessionBranchOperator.template_fields) == {
        "collect_task_ids",
        "skip_task_ids",
        "instruments",
        "config_path",
    }


DAG_FILE = textwrap.dedent(
    """
    from datetime import datetime, timezone

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from ib_futures.airflow.operators.market_session import MarketSessionBranchOperator

    with DAG("session_branch_test", schedule=None,
             start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
        MarketSessionBranchOperator(
            task_id="market_session", collect_task_ids=["collect"], skip_task_ids=["skip"]
        ) >> [EmptyOperator(task_id="collect"), EmptyOperator(task_id="skip")]
    """
)

RUNNER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from airflow.utils import db
    db.resetdb()
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    dag = DagBag(dag_folder=sys.argv[1]).dags["session_branch_test"]
    out = {}
    for ld in sys.argv[2:]:
        dr = dag.test(logical_date=datetime.fromisoformat(ld))
        states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
        with create_session() as s:
            row = s.query(XComModel).filter_by(
                dag_id=dag.dag_id, run_id=dr.run_id, task_id="market_session",
                key="session_decision").one()
            out[ld] = {"states": states, "decision": row.value}
    print("RESULT " + json.dumps(out, default=str))
    """
)


def test_real_dag_run_skips_instead_of_failing(tmp_path: Path):
    """``dag.test()`` in a fresh AIRFLOW_HOME (a subprocess, so other tests' Airflow
    settings do not leak in): the halt run skips ``collect``, the open run skips ``skip``."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "session_branch_dag.py").write_text(DAG_FILE, encoding="utf-8")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(dags), HALT.isoformat(), OPEN.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    halt, open_ = result[HALT.isoformat()], result[OPEN.isoformat()]
    assert halt["states"] == {"market_session": "success", "collect": "skipped", "skip": "success"}
    assert halt["decision"]["reason"].startswith("skip: CME daily maintenance halt")
    assert open_["states"] == {"market_session": "success", "collect": "success", "skip": "skipped"}
    assert open_["decision"]["open_instruments"] == ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
