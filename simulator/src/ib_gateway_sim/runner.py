"""Ways to run the simulator from synchronous code: a background thread or a subprocess.

``SimulatorThread`` runs a :class:`GatewaySimulator` on its own event loop in a daemon thread,
so ib_async's synchronous API can be used in the calling thread::

    with SimulatorThread(start="2026-11-24T15:00:00Z", seed=1) as sim:
        ib.connect("127.0.0.1", sim.port, clientId=1)

``SimulatorProcess`` launches ``python -m ib_gateway_sim`` and reads the port it prints.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .server import GatewaySimulator

READY_PATTERN = re.compile(r"listening on (?P<host>[\d.]+):(?P<port>\d+)")


class SimulatorThread:
    """A :class:`GatewaySimulator` served from a background thread; ``port`` once started.

    Keyword arguments go to :class:`GatewaySimulator`. Attribute access falls through to the
    simulator (``sim.clock``, ``sim.faults``, ``sim.journal``, ``sim.broadcast(1100)``...).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        self.simulator = GatewaySimulator(host, port, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def host(self) -> str:
        return self.simulator.host

    def __getattr__(self, name: str) -> Any:
        if name == "simulator":  # not yet set during __init__
            raise AttributeError(name)
        return getattr(self.simulator, name)

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        self._thread = threading.Thread(target=self._run, name="ib-gateway-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulator thread did not start")
        if self._error is not None:
            raise RuntimeError("simulator failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.simulator.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.simulator.stop())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SimulatorProcess:
    """``python -m ib_gateway_sim`` in a subprocess on a free port.

    The CLI prints ``... listening on HOST:PORT`` once it accepts connections; ``start`` waits
    for that line. ``stop`` terminates the process (and kills it if it does not exit).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        start: str | datetime | None = None,
        seed: int | None = None,
        scenario: str | Path | None = None,
        extra_args: list[str] | None = None,
        python: str = sys.executable,
        expired_retention_days: int | None = None,
        truth_log: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        args = [python, "-m", "ib_gateway_sim", "--host", host, "--port", str(port)]
        if start is not None:
            args += ["--start", start.isoformat() if isinstance(start, datetime) else start]
        if seed is not None:
            args += ["--seed", str(seed)]
        if scenario is not None:
            args += ["--scenario", str(scenario)]
        if expired_retention_days is not None:
            args += ["--expired-retention-days", str(expired_retention_days)]
        if truth_log is not None:
            args += ["--truth-log", str(truth_log)]
        self.args = args + list(extra_args or [])
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 20.0) -> SimulatorProcess:
        env = dict(os.environ)
        # The child imports this very copy of the package, installed or not (e.g. a source
        # checkout on sys.path only through the parent's PYTHONPATH or a test runner).
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        found = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                match = READY_PATTERN.search(line)
                if match and not found.is_set():
                    self.port = int(match.group("port"))
                    found.set()

        threading.Thread(target=pump, name="simulator-stdout", daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            raise TimeoutError("simulator process did not report its port:\n" + "\n".join(self.output))
        return self

    def kill(self) -> None:
        """SIGKILL the process (a crash: no clean shutdown), and forget it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
