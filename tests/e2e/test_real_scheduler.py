"""futures_collection on a real Airflow 3 deployment (scheduler, dag-processor, triggerer,
api-server; LocalExecutor on PostgreSQL), triggered through the REST API, collecting from the
IB Gateway simulator running in this process.

1. A run for a trading slot succeeds and its rows (one per instrument and slot) are in Delta.
2. With every market-data snapshot swallowed by the simulator, the run outlives its deadline
   (``alerts.deadline_minutes: 1``): the scheduler notices, the triggerer runs
   ``ib_futures.callbacks.missed_collection_alert`` and the alert journal gets a
   ``deadline_missed`` line for that run.

Each test brings up its own stack (~15 s), database and simulator, and tears all down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ib_futures.simulator.runner import SimulatorThread

from .airflow_stack import ROOT, AirflowStack, StackError

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


@pytest.fixture(scope="module")
def slot() -> datetime:
    return trading_slot(datetime.now(UTC))


def _stack(
    workdir: Path, sim_port: int, conn_extra: Mapping[str, Any], extra_env: Mapping[str, str]
) -> AirflowStack:
    conn = {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim_port, "extra": dict(conn_extra)}
    return AirflowStack(
        workdir,
        {
            "AIRFLOW_CONN_IB_DEFAULT": json.dumps(conn),
            "IB_FUTURES_LAKE_URI": str(workdir / "lake"),
            "IB_FUTURES_ALERT_JOURNAL": str(workdir / "alerts.jsonl"),
            **extra_env,
        },
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- test 1


@pytest.fixture
def healthy_stack(workdir: Path, slot: datetime) -> Iterator[AirflowStack]:
    with SimulatorThread(start=slot - timedelta(minutes=1), seed=7) as sim:
        with _stack(workdir, sim.port, {}, {}) as stack:
            yield stack


@pytest.mark.timeout(180, method="signal")
def test_rest_triggered_run_collects_into_delta(
    healthy_stack: AirflowStack, slot: datetime, workdir: Path
) -> None:
    from ib_futures.lake.readers import read_window
    from ib_futures.lake.schemas import FUTURES as FUTURES_SPEC
    from ib_futures.lake.schemas import SPOT as SPOT_SPEC

    stack = healthy_stack
    t0 = time.monotonic()
    with stack.report_on_failure():
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=f"e2e_collect_{slot:%Y%m%dT%H%M}")
        state = stack.wait_for_run(DAG_ID, run_id, timeout=120)
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

        lake = str(workdir / "lake")
        cols = ["symbol", "bucket_ts", "price", "market_data_type", "local_symbol"]
        window = (slot, slot + timedelta(minutes=5))
        for spec, symbols in ((FUTURES_SPEC, FUTURES), (SPOT_SPEC, ETFS)):
            frame = read_window(lake, spec, symbols, *window, cols)
            rows = frame.to_dicts()
            assert sorted(r["symbol"] for r in rows) == sorted(symbols), (spec.name, rows)
            for row in rows:
                assert row["bucket_ts"] == slot, row
                assert row["price"] is not None and row["price"] > 0, row
                assert row["market_data_type"] == 1, row
        # A successful run's deadline is pruned: no alert for it.
        assert [a for a in journal(workdir / "alerts.jsonl") if a.get("run_id") == run_id] == []


# --------------------------------------------------------------------------- test 2


@pytest.fixture
def hanging_stack(workdir: Path, slot: datetime) -> Iterator[AirflowStack]:
    config = yaml.safe_load((ROOT / "include" / "config" / "futures_config.yaml").read_text())
    config["alerts"]["deadline_minutes"] = 1  # the smallest the config model allows
    config_path = workdir / "futures_config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    with SimulatorThread(start=slot - timedelta(minutes=1), seed=7) as sim:
        sim.faults.hang("market_data")  # also swallows snapshots: no answer, ever
        extra = {"snapshot_timeout": 5, "request_timeout": 5, "connect_timeout": 5}
        with _stack(workdir, sim.port, extra, {"IB_FUTURES_CONFIG": str(config_path)}) as stack:
            yield stack


@pytest.mark.timeout(240, method="signal")
def test_hung_gateway_fires_the_deadline_alert(
    hanging_stack: AirflowStack, slot: datetime, workdir: Path
) -> None:
    stack = hanging_stack
    alerts = workdir / "alerts.jsonl"
    t0 = time.monotonic()
    with stack.report_on_failure():
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=f"e2e_hang_{slot:%Y%m%dT%H%M}")
        queued_at = datetime.fromisoformat(stack.run(DAG_ID, run_id)["queued_at"])

        # Deadline = queued_at + 1 min; the scheduler loop queues the callback, the triggerer
        # runs it. Collect fails after each 5 s snapshot timeout and retries after 20 s and
        # 40 s, so the run is still running (or failed) at the deadline.
        end = time.monotonic() + 150
        mine: list[dict[str, Any]] = []
        while not mine:
            mine = [a for a in journal(alerts) if a.get("run_id") == run_id]
            if time.monotonic() > end:
                raise StackError(
                    f"no deadline alert for {run_id} within 150 s; run "
                    f"{stack.run(DAG_ID, run_id)['state']}, tasks {stack.task_states(DAG_ID, run_id)}, "
                    f"journal {journal(alerts)}"
                )
            time.sleep(1.0)
        print(f"deadline alert journaled {time.monotonic() - t0:.1f}s after the stack was up")

        assert len(mine) == 1, mine
        alert = mine[0]
        assert alert["kind"] == "deadline_missed"
        assert alert["dag_id"] == DAG_ID
        assert alert["state"] in ("running", "failed"), alert
        assert datetime.fromisoformat(alert["logical_date"]) == slot
        deadline = datetime.fromisoformat(alert["deadline"])
        assert abs(deadline - (queued_at + timedelta(minutes=1))) < timedelta(seconds=2), (
            alert,
            queued_at,
        )
        assert datetime.fromisoformat(alert["at"]) >= deadline
        # The collect task was still trying (or had given up): the run did not succeed.
        assert stack.run(DAG_ID, run_id)["state"] in ("running", "failed")
        assert stack.task_states(DAG_ID, run_id)["collect"] in (
            "running",
            "up_for_retry",
            "failed",
        )
