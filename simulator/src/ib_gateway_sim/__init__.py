"""IB Gateway simulator speaking the real TWS API wire protocol (server version 178).

The real ``ib_async`` client connects to it: handshake and startup sync, contract details for
the ES/NQ/RTY quarterly chains and SPY/QQQ/IWM, snapshot and streaming quotes, historical bars
from one seeded price model, IB's pacing and error behaviours, fault injection and a request
journal. Entry points:

* ``python -m ib_gateway_sim --host 127.0.0.1 --port 4002 [--start ISO] [--seed N]
  [--scenario FILE]`` (console script ``ib-gateway-sim``)
* :class:`GatewaySimulator` (asyncio), :class:`SimulatorThread` (sync code),
  :class:`SimulatorProcess` (subprocess), pytest fixtures in :mod:`.testing` (registered
  through the ``pytest11`` entry point when the distribution is installed).

Only the standard library is used at run time (PyYAML for YAML scenarios, the ``yaml``
extra; ib_async only in the tests and the ``ib_client`` fixture, the ``test`` extra).
"""

from .clock import SimClock
from .faults import FaultPlan, FaultRule
from .journal import Journal, JournalEntry
from .pacing import PacingLimits
from .prices import PriceModel, PriceModelConfig
from .protocol import SERVER_VERSION
from .runner import SimulatorProcess, SimulatorThread
from .scenario import Scenario, load_scenario
from .server import GatewaySimulator

__all__ = [
    "SERVER_VERSION",
    "FaultPlan",
    "FaultRule",
    "GatewaySimulator",
    "Journal",
    "JournalEntry",
    "PacingLimits",
    "PriceModel",
    "PriceModelConfig",
    "Scenario",
    "SimClock",
    "SimulatorProcess",
    "SimulatorThread",
    "load_scenario",
]
