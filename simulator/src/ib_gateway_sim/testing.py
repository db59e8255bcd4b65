"""pytest fixtures for the IB Gateway simulator.

Installing the distribution registers this module as a pytest plugin (the ``pytest11`` entry
point ``ib_gateway_sim``), so the fixtures exist in every test session of that environment;
``-p no:ib_gateway_sim`` turns them off. ``ib_async`` is imported only by ``ib_client`` and
:func:`connect_ib`, so the plugin loads where ib_async is not installed.

Fixtures:

* ``sim_start`` / ``sim_seed``: the simulated start and price seed (override them in a
  conftest or test module; default Tuesday 2026-11-24 10:00 ET, seed 42 -- every market open,
  ESZ6 the front month).
* ``sim_expired_retention_days``: how long an expired future keeps its bars (default 730, IB's
  about two years); override it like ``sim_start`` to test requests beyond retention.
* ``ib_simulator``: a :class:`SimulatorThread` on a free port (in-process, own event loop).
* ``ib_simulator_process``: the CLI in a subprocess on a free port (:class:`SimulatorProcess`).
* ``simulator_factory``: ``simulator_factory(**kwargs)`` starts more simulators; all are
  stopped at teardown.
* ``ib_client``: a connected ``ib_async.IB`` (read-only, client id 1, ``RequestTimeout=2``)
  talking to ``ib_simulator``; disconnected at teardown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .contracts import DEFAULT_EXPIRED_RETENTION_DAYS
from .runner import SimulatorProcess, SimulatorThread

if TYPE_CHECKING:
    from ib_async import IB

#: Tuesday 2026-11-24 10:00 ET: CME and US equities open, ESZ6 the front month.
DEFAULT_START = "2026-11-24T15:00:00+00:00"
DEFAULT_SEED = 42


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (for tests that need a port before starting)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect_ib(port: int, client_id: int = 1, timeout: float = 2.0, request_timeout: float = 2.0) -> IB:
    """A read-only ib_async client connected to a simulator on ``port``."""
    from ib_async import IB

    ib = IB()
    ib.RequestTimeout = request_timeout
    ib.connect("127.0.0.1", port, clientId=client_id, readonly=True, timeout=timeout)
    return ib


@pytest.fixture
def sim_start() -> str:
    return DEFAULT_START


@pytest.fixture
def sim_seed() -> int:
    return DEFAULT_SEED


@pytest.fixture
def sim_expired_retention_days() -> int:
    return DEFAULT_EXPIRED_RETENTION_DAYS


@pytest.fixture
def ib_simulator(sim_start: str, sim_seed: int, sim_expired_retention_days: int) -> Iterator[SimulatorThread]:
    with SimulatorThread(
        start=sim_start, seed=sim_seed, expired_retention_days=sim_expired_retention_days
    ) as sim:
        yield sim


@pytest.fixture
def simulator_factory(
    sim_start: str, sim_seed: int, sim_expired_retention_days: int
) -> Iterator[Callable[..., SimulatorThread]]:
    started: list[SimulatorThread] = []

    def make(**kwargs: Any) -> SimulatorThread:
        kwargs.setdefault("start", sim_start)
        kwargs.setdefault("seed", sim_seed)
        kwargs.setdefault("expired_retention_days", sim_expired_retention_days)
        sim = SimulatorThread(**kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def ib_simulator_process(
    sim_start: str, sim_seed: int, sim_expired_retention_days: int
) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(
        start=sim_start, seed=sim_seed, expired_retention_days=sim_expired_retention_days
    ) as proc:
        yield proc


@pytest.fixture
def ib_client(ib_simulator: SimulatorThread) -> Iterator[IB]:
    ib = connect_ib(ib_simulator.port)
    try:
        yield ib
    finally:
        ib.disconnect()
