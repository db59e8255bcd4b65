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

from ib_futures.simulator.runner import SimulatorThread

from .celery_stack import CeleryStack

pytestmark = pytest.mark.e2e

DAG_ID = "futures_collection"
FUTURES = ["ES", "NQ", "RTY"]
ETFS = ["SPY", "QQQ", "IWM"]


def trading_slot(now: datetime) -> datetime:
    """The most recent 15:00 UTC slot at which futures and ETFs were both open."""
    from ib_futures.demo import recent_trading_slots

    slots = [s for s in recent_trading_slots(10_000, now) if (s.hour, s.minute) == (15, 0)]
    assert slots, f"no trading day with a 15:00 UTC slot in the ten days before {now}"
    return slots[-1]


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
            yield stack


@pytest.mark.timeout(300, method="signal")
def test_celery_worker_runs_the_collection_into_delta(
    celery_stack: CeleryStack, slot: datetime, tmp_path: Path
) -> None:
    from ib_futures.lake.readers import read_window
    from ib_futures.lake.schemas import FUTURES as FUTURES_SPEC
    from ib_futures.lake.schemas import SPOT as SPOT_SPEC

    stack = celery_stack
    t0 = time.monotonic()
    with stack.report_on_failure():
        assert stack.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=f"celery_{slot:%Y%m%dT%H%M}")
        state = stack.wait_for_run(DAG_ID, run_id, timeout=150)
        tasks = stack.task_states(DAG_ID, run_id)
        assert (state, tasks) == (
            "success",
            {
                "market_session": "success",
                "skip": "skipped",
                "collect": "success",
                "write": "success",
                "collection_complete": "success",
            },
        )
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

        lake = str(tmp_path / "lake")
        cols = ["symbol", "bucket_ts", "price", "market_data_type"]
        for spec, symbols in ((FUTURES_SPEC, FUTURES), (SPOT_SPEC, ETFS)):
            rows = read_window(
                lake, spec, symbols, slot, slot + timedelta(minutes=5), cols
            ).to_dicts()
            assert sorted(r["symbol"] for r in rows) == sorted(symbols), (spec.name, rows)
            for row in rows:
                assert row["bucket_ts"] == slot, row
                assert row["price"] is not None and row["price"] > 0, row
                assert row["market_data_type"] == 1, row
