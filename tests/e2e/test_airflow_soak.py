"""The real-scheduler soak, short (``./dev soak --airflow`` is the long run): four consecutive
futures_collection runs on the e2e stack, one with the scheduler SIGKILLed mid-run and started
again, one with every database connection terminated while collect runs, one with the task
process talking to the gateway SIGKILLed; then the gap repair and the audit against the
simulator's ground-truth log: nothing lost, duplicated or invented, and no deadline alert for a
run that finished within its minute (a hung run's alert is test_real_scheduler's); the freshness
check quiet just after the last run and alerting every instrument 40 minutes later."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from soak.airflow_soak import run_airflow_soak  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(420, method="signal")
def test_short_airflow_soak(tmp_path: Path) -> None:
    soak = run_airflow_soak(tmp_path, slots=4, events=("scheduler_kill", "db_drop", "task_kill"))
    result = soak.audit
    assert result is not None
    assert result.ok, (result.lost[:5], result.invented[:5], result.differs[:5], result.duplicated[:5])
    assert soak.deadline_problems == []
    assert soak.freshness_problems == [], soak.freshness
    # just after the last run nothing is stale; 40 minutes later every instrument is
    fresh, stopped = sorted(soak.freshness)
    assert soak.freshness[fresh]["alerted"] == [] and soak.freshness[fresh]["state"] == "success"
    assert soak.freshness[stopped]["alerted"] == ["ES", "IWM", "NQ", "QQQ", "RTY", "SPY"]
    assert set(soak.events) >= {"scheduler_kill", "db_drop", "task_kill"}, soak.events
    assert "[]" not in soak.events["task_kill"], soak.events  # a task process was killed
    assert result.rows_live > 0
