"""futures_collection on a real Airflow 3 deployment (scheduler, dag-processor, triggerer,
api-server; LocalExecutor on PostgreSQL), triggered through the REST API, collecting from the
IB Gateway simulator running in this process.

1. A run for a trading slot succeeds and its rows (one per instrument and slot) are in Delta.
2. With every market-data snapshot swallowed by the simulator, the run outlives its deadline
   (``alerts.deadline_minutes: 1``): the scheduler notices, the triggerer runs
   ``ib_futures.callbacks.missed_collection_alert`` and the alert journal gets exactly one
   ``deadline_missed`` line naming that run; every component survives the callback, and the
   run ends failed once collect's retries (DAG default: 2, 20 s then 40 s) are used up.
3. A run that failed (the gateway down), cleared once the gateway is back with its clock two
   hours past the slot, stores IB's bar values for the slot (``price_source`` history), not the
   present quote.

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

from ib_gateway_sim import SimulatorThread

from .airflow_stack import ROOT, AirflowStack, StackError
from .collection_checks import (
    DAG_ID,
    assert_slot_in_lake,
    trading_slot,
    trigger_and_expect_success,
)

pytestmark = pytest.mark.e2e


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
    with (
        SimulatorThread(start=slot - timedelta(minutes=1), seed=7) as sim,
        _stack(workdir, sim.port, {}, {}) as stack,
    ):
        # The gateway's clock where a scheduler meets it: just before the slot, so the run is
        # current (a live snapshot), however long the stack took to come up.
        sim.clock.set(slot - timedelta(seconds=5))
        yield stack


@pytest.mark.timeout(180, method="signal")
def test_rest_triggered_run_collects_into_delta(
    healthy_stack: AirflowStack, slot: datetime, workdir: Path
) -> None:
    stack = healthy_stack
    t0 = time.monotonic()
    with stack.report_on_failure():
        run_id = trigger_and_expect_success(
            stack, slot, f"e2e_collect_{slot:%Y%m%dT%H%M}", timeout=120
        )
        print(f"run {run_id} succeeded {time.monotonic() - t0:.1f}s after the stack was up")

        assert_slot_in_lake(str(workdir / "lake"), slot)
        # A successful run's deadline is pruned: no alert for it.
        alerts = journal(workdir / "alerts.jsonl")
        assert [a for a in alerts if _same_instant(a.get("logical_date"), slot)] == []


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
            # Frozen just before the slot: every try is current (a live snapshot that hangs),
            # never late enough to be filled from history instead.
            sim.clock.freeze(slot - timedelta(seconds=5))
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
        # 40 s, so the run is still running (or failed) at the deadline. The alert is found by
        # the run's logical date (the only run of this stack), and then checked field by field.
        end = time.monotonic() + 120
        mine: list[dict[str, Any]] = []
        while not mine:
            mine = [a for a in journal(alerts) if _same_instant(a.get("logical_date"), slot)]
            if time.monotonic() > end:
                raise StackError(
                    f"no deadline alert for {run_id} within 120 s; run "
                    f"{stack.run(DAG_ID, run_id)['state']}, tasks "
                    f"{stack.task_states(DAG_ID, run_id)}, journal {journal(alerts)}"
                )
            time.sleep(1.0)
        print(f"deadline alert journaled {time.monotonic() - t0:.1f}s after the stack was up")

        assert len(mine) == 1, mine
        alert = mine[0]
        assert alert["kind"] == "deadline_missed"
        assert alert["dag_id"] == DAG_ID
        assert alert["state"] in ("running", "failed"), alert
        assert _same_instant(alert["queued_at"], queued_at), (alert, queued_at)
        deadline = datetime.fromisoformat(alert["deadline"])
        assert deadline == queued_at + timedelta(minutes=1), (alert, queued_at)
        assert datetime.fromisoformat(alert["at"]) >= deadline

        # Every try times out on the swallowed snapshots: the run ends failed, not hung (the
        # scheduler decides that; the triggerer is checked below).
        state = stack.wait_for_run(DAG_ID, run_id, timeout=120, check_alive=False)
        tasks = stack.task_states(DAG_ID, run_id)
        assert (state, tasks["collect"], tasks["collection_complete"]) == (
            "failed",
            "failed",
            "upstream_failed",
        ), tasks
        print(f"run {run_id} failed {time.monotonic() - t0:.1f}s after the stack was up")

        # What the alert path must also get right; collected so that every miss shows at once.
        problems = []
        expected = (run_id, f"futures collection missed its deadline: {DAG_ID} {run_id}")
        if (alert["run_id"], alert["subject"]) != expected:
            problems.append(
                f"the alert does not name its run: run_id={alert['run_id']!r}, subject="
                f"{alert['subject']!r} (callbacks.missed_collection_alert reads "
                "context['dag_run']['run_id'], but that dict is DAGRunResponse.model_dump(), "
                "whose key is 'dag_run_id')"
            )
        if dead := stack.dead_components():
            problems.append(
                f"components exited: {dead}. The triggerer dies after running the callback when "
                "missed_collection_alert returns a dict: Airflow stores the return value in the "
                "Text column callback.output ('can't adapt type dict'), rolls back, and a "
                "restarted triggerer runs the callback again (a crash loop with one duplicate "
                "alert per restart); the callback must return None or a str"
            )
        alerts_for_slot = [a for a in journal(alerts) if _same_instant(a.get("logical_date"), slot)]
        if len(alerts_for_slot) != 1:
            problems.append(f"{len(alerts_for_slot)} alerts for one missed deadline")
        assert not problems, "\n".join(problems)


def _same_instant(value: str | datetime | None, when: datetime) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value == when


# --------------------------------------------------------------------------- test 3


@pytest.fixture
def late_stack(workdir: Path, slot: datetime) -> Iterator[tuple[AirflowStack, Any]]:
    with (
        SimulatorThread(start=slot - timedelta(minutes=1), seed=7) as sim,
        # Airflow 3.3 cannot clear a run of a DAG with a Deadline Alert (`tasks clear` raises
        # TypeError in _recalculate_dagrun_queued_at_deadlines; docs/operations.md), so this
        # stack runs the DAG without its alert.
        _stack(workdir, sim.port, {"connect_timeout": 3}, {"IB_FUTURES_DEADLINES": "off"}) as stack,
    ):
        yield stack, sim


@pytest.mark.timeout(360, method="signal")
def test_a_cleared_run_two_hours_late_stores_history_values(
    late_stack: tuple[AirflowStack, Any], slot: datetime, workdir: Path
) -> None:
    from ib_futures.lake.readers import read_window
    from ib_futures.lake.schemas import FUTURES, SPOT

    stack, sim = late_stack
    with stack.report_on_failure():
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        sim.clock.set(slot - timedelta(seconds=5))
        sim.refuse_connections()  # the gateway is down for the live run: every try fails
        run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=f"e2e_late_{slot:%Y%m%dT%H%M}")
        assert stack.wait_for_run(DAG_ID, run_id, timeout=180) == "failed"

        sim.clock.set(slot + timedelta(hours=2))  # back, two hours of gateway time later
        sim.accept_connections()
        # `airflow tasks clear` as an operator would: the run goes back to queued
        stamp = slot.isoformat()
        stack.cli("tasks", "clear", DAG_ID, "--start-date", stamp, "--end-date", stamp, "--yes")
        assert stack.wait_for_run(DAG_ID, run_id, timeout=150) == "success"

    lake = str(workdir / "lake")
    cols = ["symbol", "bucket_ts", "price", "bid", "price_source"]
    for spec, n in ((FUTURES, 3), (SPOT, 3)):
        rows = read_window(lake, spec, ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"], slot,
                           slot + timedelta(minutes=5), cols).to_dicts()  # fmt: skip
        assert len(rows) == n, rows
        for row in rows:
            assert row["price_source"] == "hist_midpoint_close", row
            assert row["price"] is not None and row["bid"] is None, row
