"""A real ``airflow api-server`` with the plugin, the FAB auth manager and two users.

For the futures page's tests (HTTP and browser). SQLite metadata database in a temporary
``AIRFLOW_HOME``; only the api-server runs (the page reads the lake, not task results). The
FAB auth manager (apache-airflow-providers-fab) is the one that can deny a DAG: the default
SimpleAuthManager lets every user read every DAG.

Users (password :data:`PASSWORD`):

* ``desk``: FAB's ``Op`` role, which reads every DAG and the plugins list (the UI needs
  ``can_read`` on ``Plugins`` to show a plugin's page);
* ``outsider``: the role ``Outsider``, which may open the UI and list the plugins but read no DAG:
  not the futures DAGs the page depends on (``futures_collection``, ``futures_analysis_weekly``).

The server is one process group, ended in :meth:`ApiServer.stop` (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
PASSWORD = "page-test-password"
USERS = {"desk": "Op", "outsider": "Outsider"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_USERS_SCRIPT = """
import ast, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
users, password = ast.literal_eval(sys.argv[1]), sys.argv[2]
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    outsider = sm.find_role("Outsider") or sm.add_role("Outsider")
    for resource in ("Website", "Plugins"):
        sm.add_permission_to_role(outsider, sm.create_permission("can_read", resource))
    for name, role in users.items():
        if not sm.find_user(name):
            user = sm.add_user(name, name, "test", f"{name}@example.org", sm.find_role(role), password)
            assert user, name
"""


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 (free port) with the FAB auth manager."""

    def __init__(self, workdir: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.home = workdir / "airflow"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "api-server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__AUTH_MANAGER=FAB,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home}/airflow.db",
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API_AUTH__JWT_SECRET="page-test-jwt-secret-0123456789abcdef",
            AIRFLOW__CORE__FERNET_KEY="",
            PYTHONWARNINGS="ignore",
        )
        env.update(extra_env or {})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done.stdout

    def prepare(self) -> None:
        """Migrate the database, create the ``Outsider`` role and the users."""
        self.cli("db", "migrate")
        # one process for the role and the users (each ``airflow`` CLI call costs ~3 s)
        done = subprocess.run(
            [sys.executable, "-c", _USERS_SCRIPT, repr(USERS), PASSWORD],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"creating the users failed: {done.stderr[-3000:]}")

    def start(self, timeout: float = 90.0) -> ApiServer:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"api-server exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v2/version", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"api-server not up in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def token(self, user: str) -> str:
        """A JWT for ``user`` from the auth manager's token endpoint."""
        response = httpx.post(
            f"{self.url}/auth/token", json={"username": user, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return str(body["access_token"])
