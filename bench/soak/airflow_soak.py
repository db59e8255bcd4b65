"""The real-scheduler soak: ``./dev soak --airflow [--slots 100]``.

The e2e stack of the test suite (``tests/e2e/airflow_stack.py``: scheduler, dag-processor,
triggerer, api-server, LocalExecutor on PostgreSQL) runs ``futures_collection`` for
consecutive slots, triggered through the REST API with consecutive logical dates, the
simulator's clock frozen just after each run's slot (in this process, keeping its
ground-truth log). Faults on about one run in ``fault_every``; once each: the scheduler
SIGKILLed mid-run and started again, the task process talking to the gateway SIGKILLed, every
database connection of the stack terminated (``pg_terminate_backend``), and a run whose
snapshots all hang, so that its deadline (``alerts.deadline_minutes: 1``, the smallest the
configuration allows) fires. Then the gap repair (``ib_futures.backfill.repair_range``) and the
same audit as the fast-forward soak, plus: a deadline alert for exactly the runs that were not
done one minute after they were queued, and ``futures_freshness`` run as of just after the last
slot and as of 40 minutes later (collection stopped): its stale alert names exactly the
instruments the simulator's published schedule says missed more than
``alerts.freshness_max_missed_slots`` slots, and no alert when none did.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ib_gateway_sim import SimulatorThread

from .audit import AuditResult, audit

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "futures_collection"
FRESHNESS_DAG = "futures_freshness"
STALE = "futures data is stale"
FIRST_SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET, every market open
EVENTS = ("scheduler_kill", "db_drop", "task_kill", "hang_deadline")


@dataclass
class AirflowSoak:
    slots: list[datetime]
    runs: dict[datetime, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    faults: list[tuple[datetime, str]] = field(default_factory=list)
    alerts_deadline: list[dict[str, Any]] = field(default_factory=list)
    deadline_problems: list[str] = field(default_factory=list)
    #: freshness runs: checked_at -> {"state", "expected": stale symbols, "alerted": symbols}
    freshness: dict[str, dict[str, Any]] = field(default_factory=dict)
    freshness_problems: list[str] = field(default_factory=list)
    repair: dict[str, Any] = field(default_factory=dict)
    audit: AuditResult | None = None
    wall_s: float = 0.0


def _e2e() -> Any:
    """The test suite's e2e stack module, as pytest imports it (``e2e.airflow_stack``, with
    ``tests/`` on the path): not ``tests.e2e``, since ``tests`` may be the simulator's own
    test package (``simulator/tests``) once pytest has collected it."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    import e2e.airflow_stack

    return e2e.airflow_stack


def _stack(workdir: Path, port: int) -> Any:
    AirflowStack = _e2e().AirflowStack

    config = yaml.safe_load((ROOT / "include" / "config" / "futures_config.yaml").read_text())
    config["alerts"]["deadline_minutes"] = 1
    path = workdir / "futures_config.yaml"
    path.write_text(yaml.safe_dump(config))
    extra = {"snapshot_timeout": 5, "request_timeout": 5, "connect_timeout": 5}
    conn = {"conn_type": "ibkr", "host": "127.0.0.1", "port": port, "extra": extra}
    return AirflowStack(workdir, {
        "AIRFLOW_CONN_IB_DEFAULT": json.dumps(conn),
        "IB_FUTURES_LAKE_URI": str(workdir / "lake"),
        "IB_FUTURES_ALERT_JOURNAL": str(workdir / "alerts.jsonl"),
        "IB_FUTURES_CONFIG": str(path),
        "IB_FUTURES_LEASE_DIR": str(workdir / "leases"),
        # a task process killed outright is found by its missing heartbeat
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    })  # fmt: skip


def _event_slots(n: int, events: tuple[str, ...] = EVENTS) -> dict[int, str]:
    """Which run meets which event: spread over the soak, never the first run."""
    if n < len(events) + 1:
        raise ValueError(f"--slots must be at least {len(events) + 1}, got {n}")
    step = max(1, (n - 1) // len(events))
    return {1 + i * step: e for i, e in enumerate(events)}


def _gateway_task_pids(sim: SimulatorThread) -> list[int]:
    """Processes holding a connection to the gateway (the collect task), by the client
    sockets' ports the simulator sees."""
    import psutil

    ports = {port for _host, port in sim.client_peers()}
    return sorted({c.pid for c in psutil.net_connections("tcp")
                   if c.pid and c.pid != os.getpid() and c.laddr and c.laddr.port in ports})  # fmt: skip


def _drop_db_connections(db_name: str) -> None:
    _pg_admin = _e2e()._pg_admin

    _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}'"
              " AND pid <> pg_backend_pid()")  # fmt: skip


def _wait_task(stack: Any, run_id: str, task: str, state: str, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if stack.task_states(DAG_ID, run_id).get(task) == state:
                return True
        except Exception:
            pass
        time.sleep(0.3)
    return False


def _event(name: str, stack: Any, sim: SimulatorThread, run_id: str) -> str:
    if name == "scheduler_kill":
        _wait_task(stack, run_id, "market_session", "success")
        os.killpg(stack.processes["scheduler"].pid, signal.SIGKILL)
        time.sleep(2)
        stack.restart("scheduler")
        return "scheduler SIGKILLed after market_session, started again"
    if name == "db_drop":
        _wait_task(stack, run_id, "collect", "running")
        _drop_db_connections(stack.db_name)
        return "every database connection of the stack terminated while collect ran"
    if name == "task_kill":
        pids: list[int] = []
        end = time.monotonic() + 60
        while not pids and time.monotonic() < end:
            pids = _gateway_task_pids(sim)
            time.sleep(0.1)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return f"task process(es) {pids} holding the gateway connection SIGKILLed"
    return "every snapshot of the run hangs (deadline 1 min)"


def _fault(sim: SimulatorThread, rng: random.Random) -> str:
    kind = rng.choice(["hang", "error_10197", "error_200", "drop", "latency", "notice_1101"])
    symbol = rng.choice(["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"])
    if kind == "hang":
        sim.faults.hang("snapshot", symbol=symbol, times=1)
    elif kind == "error_10197":
        sim.faults.stale_quote(symbol, times=1)
    elif kind == "error_200":
        sim.faults.error("contract_details", 200, symbol=symbol, times=1)
    elif kind == "drop":
        sim.faults.drop("snapshot", times=1)
    elif kind == "latency":
        sim.faults.delay(8.0, "snapshot", symbol=symbol, times=1)
    else:
        sim.faults.notice(1101, "snapshot", times=1)
    return f"{kind} {symbol}"


def _run_one(soak: AirflowSoak, stack: Any, sim: SimulatorThread, slot: datetime,
             event: str | None, fault: str | None) -> None:  # fmt: skip
    sim.faults.clear()
    sim.clock.freeze(slot + timedelta(seconds=2))
    if event == "hang_deadline":
        sim.faults.hang("market_data")
    elif event == "task_kill":
        sim.faults.delay(3.0, "snapshot")  # holds the connection while the task is found
    run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=f"soak_{slot:%Y%m%dT%H%M}")
    if event is not None:
        soak.events[event] = _event(event, stack, sim, run_id)
    try:
        state = stack.wait_for_run(DAG_ID, run_id, timeout=400, check_alive=False)
    except Exception as exc:
        state = f"not finished: {str(exc)[:200]}"
    for name in stack.dead_components():
        stack.restart(name)
        soak.events[f"restarted dead {name}"] = slot.isoformat()
    info = stack.run(DAG_ID, run_id)
    soak.runs[slot] = {"run_id": run_id, "state": state, "queued_at": info.get("queued_at"),
                       "end_date": info.get("end_date"), "event": event, "fault": fault,
                       "tasks": stack.task_states(DAG_ID, run_id)}  # fmt: skip


def _repair(workdir: Path, sim: SimulatorThread, end: datetime, start: datetime) -> dict[str, Any]:
    from ib_futures.backfill import repair_range
    from ib_futures.core.config import load_config
    from ib_futures.ib.settings import GatewaySettings

    sim.faults.clear()
    sim.clock.freeze(end + timedelta(minutes=15))
    from ib_futures.ledgers import make_pacer

    settings = GatewaySettings(port=sim.port, client_id_range=(900, 950))
    # The tasks' ledger (IB_FUTURES_LEASE_DIR): the repair waits for the turns they left.
    pacer = make_pacer("file", name="default", path=f"{workdir / 'leases'}{os.sep}")
    return asyncio.run(repair_range(load_config(), lake_uri=str(workdir / "lake"),
                                    gateway_connection=settings, start=start, end=end,
                                    pacer=pacer))  # fmt: skip


def _deadline_check(soak: AirflowSoak, journal: Path) -> None:
    alerts = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
    soak.alerts_deadline = [a for a in alerts if a.get("kind") == "deadline_missed"]
    fired = {datetime.fromisoformat(a["logical_date"]).astimezone(UTC) for a in soak.alerts_deadline}
    for slot, run in soak.runs.items():
        queued, ended = run["queued_at"], run["end_date"]
        late = ended is None or (datetime.fromisoformat(ended) - datetime.fromisoformat(queued)
                                 > timedelta(minutes=1))  # fmt: skip
        if late != (slot in fired):
            soak.deadline_problems.append(
                f"{run['run_id']}: {'late' if late else 'on time'} ({queued} -> {ended}), "
                f"alert {'fired' if slot in fired else 'not fired'}")  # fmt: skip


def _freshness_runs(stack: Any, last_slot: datetime) -> dict[datetime, str]:
    """Trigger ``futures_freshness`` as of just after the last run (nothing due is missing) and
    as of 40 minutes later (collection stopped: six slots missed where the market is open)."""
    stack.wait_for_dag(FRESHNESS_DAG)
    stack.unpause(FRESHNESS_DAG)
    runs = {}
    for at in (last_slot + timedelta(minutes=5), last_slot + timedelta(minutes=40)):
        run_id = stack.trigger(FRESHNESS_DAG, logical_date=at, run_id=f"soak_fresh_{at:%Y%m%dT%H%M}")
        runs[at] = stack.wait_for_run(FRESHNESS_DAG, run_id, timeout=300, check_alive=False)
    return runs


def _expected_stale(lake: str, symbols: Mapping[str, str], at: datetime, etf_hours: str,
                    max_missed: int) -> list[str]:  # fmt: skip
    """The symbols a freshness check as of ``at`` should call stale, from the lake and the
    simulator's published schedule (not the product's calendar): more than ``max_missed``
    expected slots after the newest stored one, up to the slot before ``at``."""
    from ib_futures.core.freshness import LOOKBACK

    from .audit import _rows, expected_keys

    rows = _rows(lake)
    stale = []
    for symbol, asset in symbols.items():
        mine: list[datetime] = (
            rows.filter(rows["symbol"] == symbol)["bucket_ts"].to_list() if rows.height else []
        )
        newest = max(mine).astimezone(UTC) if mine else None
        since = newest + timedelta(minutes=5) if newest else at - timedelta(minutes=5) - LOOKBACK
        due = expected_keys({symbol: asset}, since, at - timedelta(minutes=5), etf_hours)
        if len(due) > max_missed:
            stale.append(symbol)
    return sorted(stale)


def _freshness_check(soak: AirflowSoak, runs: dict[datetime, str], workdir: Path) -> None:
    """Every freshness run's verdict against the independent one: an alert naming exactly the
    stale symbols when some are, none when none is."""
    from ib_futures.core.config import load_config

    cfg = load_config()
    symbols = {s: cfg.instruments[s].asset_class for s in cfg.collection.instruments}
    journal = workdir / "alerts.jsonl"
    alerts = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
    by_time: dict[datetime, set[str]] = {}
    for a in alerts:
        if a.get("subject") == STALE:
            at = datetime.fromisoformat(a["checked_at"]).astimezone(UTC)
            stale = {s["symbol"] for s in a["symbols"] if s["missed_slots"] > a["max_missed_slots"]}
            by_time.setdefault(at, set()).update(stale)
    for at, state in runs.items():
        expected = _expected_stale(str(workdir / "lake"), symbols, at, cfg.collection.etf_hours,
                                   cfg.alerts.freshness_max_missed_slots)  # fmt: skip
        alerted = sorted(by_time.pop(at, set()))
        soak.freshness[at.isoformat()] = {"state": state, "expected": expected, "alerted": alerted}
        if alerted != expected:
            soak.freshness_problems.append(f"freshness at {at:%H:%M}: stale {expected}, alerted {alerted}")
        if state != ("failed" if expected else "success"):
            soak.freshness_problems.append(f"freshness at {at:%H:%M}: run {state}")
    for at, stale in by_time.items():  # scheduled runs at the real time: the soak's lake is days old
        if at < datetime.now(UTC) - timedelta(hours=1):
            soak.freshness_problems.append(f"unexpected stale alert at {at:%Y-%m-%d %H:%M}: {sorted(stale)}")


def run_airflow_soak(workdir: Path, slots: int = 100, seed: int = 7, fault_every: int = 20,
                     first_slot: datetime = FIRST_SLOT,
                     events: tuple[str, ...] = EVENTS) -> AirflowSoak:  # fmt: skip
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    chosen = [first_slot + timedelta(minutes=5 * i) for i in range(slots)]
    soak, rng, planned = AirflowSoak(chosen), random.Random(seed), _event_slots(slots, events)
    truth = workdir / "served.jsonl"
    with SimulatorThread(start=first_slot, seed=seed, frozen=True, truth_log=truth) as sim:
        with _stack(workdir, sim.port) as stack:
            stack.wait_for_dag(DAG_ID)
            stack.unpause(DAG_ID)
            for i, slot in enumerate(chosen):
                event = planned.get(i)
                fault = _fault(sim, rng) if event is None and rng.random() < 1 / fault_every else None
                if fault:
                    soak.faults.append((slot, fault))
                _run_one(soak, stack, sim, slot, event, fault)
                print(f"airflow soak: {slot:%H:%M} {soak.runs[slot]['state']} "
                      f"{event or fault or ''}", flush=True)  # fmt: skip
            time.sleep(5)  # let a last deadline callback land
            freshness_runs = _freshness_runs(stack, chosen[-1])
        _freshness_check(soak, freshness_runs, workdir)
        end = chosen[-1] + timedelta(minutes=5)
        soak.repair = _repair(workdir, sim, end, chosen[0])
    _deadline_check(soak, workdir / "alerts.jsonl")
    soak.audit = _audit(workdir, truth, chosen[0], end, soak.repair)
    soak.wall_s = time.monotonic() - started
    return soak


def _audit(workdir: Path, truth: Path, start: datetime, end: datetime,
           repair: dict[str, Any]) -> AuditResult:  # fmt: skip
    from ib_futures.core.config import load_config
    from ib_futures.lake.readers import read_unfillable

    cfg = load_config()
    symbols = {s: cfg.instruments[s].asset_class for s in cfg.collection.instruments}
    lake = str(workdir / "lake")
    alerts = []
    if repair.get("still_missing", 0) + repair.get("known_unfillable", 0):  # the summary alerts
        known = read_unfillable(lake, list(symbols), start, end)
        alerts = [(r["symbol"], r["bucket_ts"], r["reason"]) for r in known.iter_rows(named=True)]
    return audit(lake, truth, symbols, start, end, alerts, [], cfg.collection.etf_hours)
