"""futures_collection on Airflow with the CeleryExecutor, as docker-compose.yaml deploys it:
scheduler, dag-processor, api-server, triggerer and one Celery worker
(``airflow celery worker --concurrency 2``), Redis as the broker (database 11 only) and the
stack's own PostgreSQL database as metadata database and Celery result backend, collecting
from the IB Gateway simulator running in this process.

A run triggered through the REST API for a trading slot succeeds, its tasks were executed by
the Celery worker (the result backend recorded them), and its rows are in Delta. Everything is
torn down afterwards, also on failure: every process, the database, the broker database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ib_gateway_sim import SimulatorThread

from .celery_stack import CeleryStack
from .collection_checks import (
    DAG_ID,
    assert_slot_in_lake,
    trading_slot,
    trigger_and_expect_success,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def celery_executor_importable() -> None:
    """Fail at once, and say why, when the Celery provider cannot load its executor (the
    scheduler would die at start with a bare "could not be loaded")."""
    import importlib.metadata as md

    try:
        import airflow.providers.celery.executors.celery_executor  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"the CeleryExecutor cannot be imported ({exc}); installed: celery "
            f"{md.version('celery')}, apache-airflow-providers-celery "
            f"{md.version('apache-airflow-providers-celery')}. Provider 3.26.0 needs celery<5.7 "
            "(5.7.0 removed celery.backends.database.retry)."
        )


@pytest.fixture
def slot() -> datetime:
    return trading_slot(datetime.now(UTC))


@pytest.fixture
def celery_stack(tmp_path: Path, slot: datetime) -> Iterator[CeleryStack]:
    with SimulatorThread(start=slot - timedelta(minutes=1), seed=11) as sim:
        conn = {
            "conn_type": "ibkr",
            "host": "127.0.0.1",
            "port": sim.port,
            # One worker, one range (docs/deployment.md: a range per worker).
            "extra": {"client_id_range": "300-399"},
        }
        env = {
            "AIRFLOW_CONN_IB_DEFAULT": json.dumps(conn),
            "IB_FUTURES_LAKE_URI": str(tmp_path / "lake"),
            "IB_FUTURES_ALERT_JOURNAL": str(tmp_path / "alerts.jsonl"),
            "IB_FUTURES_LEASE_DIR": str(tmp_path / "leases"),
        }
        t0 = time.monotonic()
        with CeleryStack(tmp_path, env, concurrency=2) as stack:
            print(f"Celery stack up in {time.monotonic() - t0:.1f}s")
            # The gateway's clock where a scheduler meets it: just before the slot, so the
            # run is current (a live snapshot), however long the stack took to come up.
            sim.clock.set(slot - timedelta(seconds=5))
            yield stack


@pytest.mark.timeout(300, method="signal")
def test_celery_worker_runs_the_collection_into_delta(
    celery_stack: CeleryStack, slot: datetime, tmp_path: Path
) -> None:
    stack = celery_stack
    t0 = time.monotonic()
    with stack.report_on_failure():
        assert stack.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        run_id = trigger_and_expect_success(stack, slot, f"celery_{slot:%Y%m%dT%H%M}", timeout=150)
        print(f"run {run_id} succeeded {time.monotonic() - t0:.1f}s after the stack was up")

        # The worker executed the tasks: each one the executor sent left a Celery result.
        # (EmptyOperator tasks never reach an executor; Airflow marks them itself.)
        # The worker records a task's SUCCESS just after Airflow has its state: allow a moment.
        end = time.monotonic() + 30
        while set(results := stack.celery_results()) != {"SUCCESS"} and time.monotonic() < end:
            time.sleep(0.5)
        assert set(results) == {"SUCCESS"} and results["SUCCESS"] >= 3, results
        print(f"Celery result backend: {results}")
        tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
        executed = {t["task_id"]: t for t in tis["task_instances"] if t["task_id"] != "skip"}
        for task_id in ("market_session", "collect", "write"):
            assert executed[task_id]["queue"] == "default", executed[task_id]
        assert executed["collect"]["pool"] == "ib_gateway"

        assert_slot_in_lake(str(tmp_path / "lake"), slot)
