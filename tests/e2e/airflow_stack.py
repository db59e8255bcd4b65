"""A real Airflow 3 deployment for end-to-end tests: scheduler, dag-processor, triggerer and
api-server as subprocesses on their own PostgreSQL database, driven through the REST API.

::

    with AirflowStack(workdir, extra_env={...}) as stack:   # migrate, pool, start, log in
        stack.wait_for_dag("futures_collection")
        stack.unpause("futures_collection")
        run_id = stack.trigger("futures_collection", logical_date=slot)
        state = stack.wait_for_run("futures_collection", run_id, timeout=120)

Everything is torn down in ``stop()`` (also on errors in ``start()``): every component's
process group is terminated (then killed), any process still carrying this stack's
``AIRFLOW_HOME`` in its environment is killed by pid, and the database is dropped.
Component logs are files under ``workdir/logs``; :meth:`log_tails` collects their ends
(and the task logs) for failure reports.

Only ``127.0.0.1`` is bound: the api-server on a fresh free port; the log servers of the
scheduler and triggerer are not started (``--skip-serve-logs``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
COMPONENTS: tuple[tuple[str, ...], ...] = (
    ("api-server", "--host", "127.0.0.1"),
    ("dag-processor",),
    ("triggerer", "--skip-serve-logs"),
    ("scheduler", "--skip-serve-logs"),
)
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
_ENV_PREFIXES = ("AIRFLOW", "_AIRFLOW", "IB_FUTURES_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # generated identifiers only


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"<unreadable: {exc}>"
    return "\n".join(text[-lines:])


class StackError(RuntimeError):
    """The stack did not come up or a wait ran out; the message carries the log tails."""


class AirflowStack:
    """Airflow (LocalExecutor, PostgreSQL, SimpleAuthManager) in ``workdir``.

    :param workdir: an empty temporary directory; ``AIRFLOW_HOME`` is ``workdir/airflow``.
    :param extra_env: more environment for every component (connections, project settings).
    :param dags_folder: DAG files; default the checkout's ``dags/``.
    :param plugins_folder: default the checkout's ``plugins/``.
    """

    def __init__(
        self,
        workdir: Path,
        extra_env: Mapping[str, str] | None = None,
        *,
        dags_folder: Path = ROOT / "dags",
        plugins_folder: Path = ROOT / "plugins",
    ) -> None:
        self.workdir = Path(workdir)
        self.home = self.workdir / "airflow"
        self.log_dir = self.workdir / "logs"
        self.db_name = f"ibf_e2e_{secrets.token_hex(6)}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._db_created = False
        self._client: httpx.Client | None = None
        self._token: str | None = None
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
        self.env: dict[str, str] = {
            **inherited,
            "PATH": f"{BIN}{os.pathsep}{inherited.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.db_name}"
            ),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # Runs only when asked for through the API: no cron runs racing the test's runs.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **dict(extra_env or {}),
        }

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 150.0) -> AirflowStack:
        """Create the database, migrate, add the pool, start the components, log in."""
        deadline = time.monotonic() + timeout
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            _pg_admin(f'CREATE DATABASE "{self.db_name}"')
            self._db_created = True
            self.cli("db", "migrate", timeout=max(10.0, deadline - time.monotonic()))
            for argv in COMPONENTS:
                self._spawn(argv)
            self.cli("pools", "set", "ib_gateway", "1", "IB Gateway API sessions", timeout=60)
            self._wait(self._api_up, "the api-server to answer /api/v2/version", deadline)
            self._login()
        except Exception as exc:
            report = self.log_tails()
            self.stop()
            raise StackError(f"Airflow stack did not start: {exc}\n{report}") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate every component (process groups), leftovers by pid, drop the database."""
        if self._client is not None:
            self._client.close()
            self._client = None
        # All at once (the scheduler and api-server each take ~5 s to shut down cleanly).
        _terminate_groups(list(self.processes.values()), grace=15.0)
        self.processes.clear()
        _kill_leftovers(str(self.home))
        if self._db_created:
            with contextlib.suppress(Exception):
                _pg_admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._db_created = False

    def cli(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``airflow ARGS`` with the stack's environment; its output, or StackError."""
        log = self.log_dir / f"cli-{'-'.join(a for a in args[:2])}.log"
        with log.open("ab") as fh:
            proc = subprocess.run(
                [AIRFLOW, *args],
                env=self.env,
                cwd=self.workdir,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
                check=False,
            )
        if proc.returncode:
            raise StackError(
                f"airflow {' '.join(args)} exited {proc.returncode}:\n{_tail(log, 40)}"
            )
        return log.read_text(errors="replace")

    def _spawn(self, argv: Sequence[str]) -> None:
        name = argv[0]
        with (self.log_dir / f"{name}.log").open("ab") as fh:
            self.processes[name] = subprocess.Popen(
                [AIRFLOW, *argv],
                env=self.env,
                cwd=self.workdir,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stop() ends it and its children
            )

    def restart(self, name: str) -> None:
        """Start component ``name`` again (after it exited); its log file is appended to."""
        _terminate_groups([self.processes.pop(name)], grace=5.0)
        argv = next(c for c in COMPONENTS if c[0] == name)
        self._spawn(argv)

    def dead_components(self) -> dict[str, int]:
        """Components that have exited, with their exit codes."""
        return {n: rc for n, p in self.processes.items() if (rc := p.poll()) is not None}

    def _check_alive(self) -> None:
        for name, rc in self.dead_components().items():
            raise StackError(f"airflow {name} exited with {rc}")

    def _wait(
        self,
        probe: Callable[[], bool],
        what: str,
        deadline: float,
        every: float = 0.5,
        check_alive: bool = True,
    ) -> None:
        while True:
            if check_alive:
                self._check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if probe():
                    return
            if time.monotonic() > deadline:
                raise StackError(f"timed out waiting for {what}")
            time.sleep(every)

    # ------------------------------------------------------------------ REST API

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=30.0)
        return self._client

    def _api_up(self) -> bool:
        return self.client.get("/api/v2/version").status_code == 200

    def admin_password(self) -> str:
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return str(json.loads(path.read_text())["admin"])

    def _login(self) -> None:
        resp = self.client.post(
            "/auth/token", json={"username": "admin", "password": self.admin_password()}
        )
        resp.raise_for_status()
        self._token = resp.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {self._token}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call under ``/api/v2``; the decoded JSON, or StackError on an HTTP error."""
        resp = self.client.request(method, f"/api/v2{path}", **kwargs)
        if resp.status_code >= 400:
            raise StackError(f"{method} /api/v2{path}: {resp.status_code} {resp.text[:2000]}")
        return resp.json() if resp.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the dag-processor has serialized ``dag_id``; its DAG record."""
        found: dict[str, Any] = {}

        def probe() -> bool:
            resp = self.client.get(f"/api/v2/dags/{dag_id}/details")
            if resp.status_code == 200:
                found.update(resp.json())
                return True
            return False

        try:
            self._wait(probe, f"DAG {dag_id} to be serialized", time.monotonic() + timeout, 1.0)
        except StackError as exc:
            errors = self.client.get("/api/v2/importErrors").text[:4000]
            raise StackError(f"{exc}; import errors: {errors}") from None
        return found

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(
        self,
        dag_id: str,
        *,
        logical_date: datetime | None = None,
        run_id: str | None = None,
        conf: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a manual run through ``POST /dags/{dag_id}/dagRuns``; its run id."""
        body: dict[str, Any] = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": dict(conf or {}),
        }
        if run_id:
            body["dag_run_id"] = run_id
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        data = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in data["task_instances"]}

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float,
        states: frozenset[str] = TERMINAL_RUN_STATES,
        check_alive: bool = True,
    ) -> str:
        """Poll the run until its state is one of ``states``; that state (StackError on timeout
        or, with ``check_alive``, when a component has exited)."""
        seen: list[str] = []

        def probe() -> bool:
            seen.append(str(self.run(dag_id, run_id)["state"]))
            return seen[-1] in states

        try:
            what = f"run {run_id} to reach {sorted(states)}"
            self._wait(probe, what, time.monotonic() + timeout, 1.0, check_alive)
        except StackError as exc:
            tis = self.task_states(dag_id, run_id)
            raise StackError(f"{exc}; last state {seen[-1:]}, tasks {tis}") from None
        return seen[-1]

    # ------------------------------------------------------------------ diagnostics

    def log_tails(self, lines: int = 60) -> str:
        """The end of every component log, CLI log and task log, for a failure report."""
        parts = []
        paths = sorted(self.log_dir.glob("*.log")) + sorted((self.home / "logs").rglob("*.log"))
        for path in paths:
            parts.append(f"----- {path} -----\n{_tail(path, lines)}")
        return "\n".join(parts) or "(no logs)"

    @contextlib.contextmanager
    def report_on_failure(self, lines: int = 60) -> Iterator[None]:
        """Print :meth:`log_tails` when the block raises (pytest shows it with the failure)."""
        try:
            yield
        except BaseException:
            print(f"\n===== Airflow logs ({self.workdir}) =====\n{self.log_tails(lines)}")
            raise


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _terminate_groups(procs: Sequence[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM the process groups of ``procs`` (each its own session), wait up to ``grace`` s
    for the leaders and their children, then SIGKILL what is left."""
    pgids = [p.pid for p in procs]  # start_new_session=True: group id == the leader's pid
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, end - time.monotonic()))
    # Children may outlive the leader (task runners, parsing processes): give them a moment.
    while any(_group_alive(g) for g in pgids) and time.monotonic() < end + 3.0:
        time.sleep(0.2)
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_leftovers(airflow_home: str) -> list[int]:
    """SIGKILL, by pid, processes whose environment has this stack's ``AIRFLOW_HOME``."""
    marker = f"AIRFLOW_HOME={airflow_home}".encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in env:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed
