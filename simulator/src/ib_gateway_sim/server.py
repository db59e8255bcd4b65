"""The IB Gateway simulator: an asyncio TCP server speaking the TWS API at server version 178.

``GatewaySimulator`` owns the shared state (simulated clock, price model, contract book, fault
plan, pacing, journal) and one :class:`~.client_connection.ClientConnection` per client
connection. Its control methods (``broadcast``, ``disconnect_all``, ``refuse_connections``, ...) may be called from the
simulator's own event loop or from any other thread (tests driving a ``SimulatorThread``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from .client_connection import ClientConnection
from .clock import SimClock
from .contracts import DEFAULT_EXPIRED_RETENTION_DAYS, ContractBook
from .faults import FaultPlan, error_message
from .journal import Journal
from .pacing import HistoricalPacer, PacingLimits
from .prices import PriceModel, PriceModelConfig
from .scenario import Scenario, ScheduledEvent
from .truth import TruthLog

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_ACCOUNT = "DU1234567"


class GatewaySimulator:
    """An in-process IB Gateway double. ``await start()``, read ``port``, ``await stop()``.

    :param host: interface to bind (tests and the demo use 127.0.0.1 only).
    :param port: TCP port; 0 picks a free one (read :attr:`port` after start).
    :param start: simulated start time (ISO-8601 or datetime; default now). The clock then
        runs in real time; ``frozen=True`` stops it there.
    :param seed: price-model seed; same seed, same prices.
    :param not_permissioned: symbols without a live subscription (354 on type 1).
    :param pacing: historical pacing limits (IB's by default).
    :param price_config: full price-model parameters (overrides ``seed``).
    :param scenario: faults and timed events to load at start (see :mod:`.scenario`).
    :param expired_retention_days: how long after its last trade an expired future's bars
        stay available (IB: about two years); beyond it history answers 162 "HMDS query
        returned no data" naming the contract, which contract details still list for a year.
    :param truth_log: a JSON-lines file to append every served quote and bar to (the ground
        truth, :mod:`.truth`); None keeps none.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        start: str | datetime | None = None,
        seed: int = 0,
        *,
        frozen: bool = False,
        clock: SimClock | None = None,
        not_permissioned: Iterable[str] = (),
        pacing: PacingLimits | None = None,
        price_config: PriceModelConfig | None = None,
        accounts: Iterable[str] = (DEFAULT_ACCOUNT,),
        bar_timezone: str = "US/Eastern",
        stream_interval: float = 0.5,
        scenario: Scenario | None = None,
        expired_retention_days: int = DEFAULT_EXPIRED_RETENTION_DAYS,
        truth_log: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.clock = clock or SimClock(start, frozen=frozen)
        self.model = PriceModel(price_config or PriceModelConfig(seed=seed))
        self.book = ContractBook(expired_retention_days)
        self.faults = FaultPlan()
        self.journal = Journal()
        self.truth = TruthLog(truth_log) if truth_log is not None else None
        self.pacer = HistoricalPacer(pacing)
        self.accounts = list(accounts)
        self.bar_zone = ZoneInfo(bar_timezone)
        self.stream_interval = stream_interval
        self.next_order_id = 1
        self.scenario = scenario
        self._not_permissioned = {s.upper() for s in not_permissioned}
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sessions: set[ClientConnection] = set()
        self._clients: dict[int, ClientConnection] = {}
        self._next_session = 0
        self._background: set[asyncio.Task[None]] = set()
        if scenario is not None:
            scenario.apply(self)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> GatewaySimulator:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await self._listen()
        if self.scenario is not None:
            for event in self.scenario.events:
                self._track(asyncio.ensure_future(self._run_event(event)))
        log.info("IB Gateway simulator listening on %s:%s", self.host, self.port)
        return self

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self._sessions):
            session.close()
        await asyncio.sleep(0)
        if self.truth is not None:
            self.truth.close()

    async def __aenter__(self) -> GatewaySimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(100)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._on_connect, sock=sock)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_session += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Answers are several small frames (details then end marker); without NODELAY,
            # Nagle holds the second until the client's delayed ACK, ~40 ms per request.
            # asyncio only sets it for sockets created with proto=IPPROTO_TCP.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = ClientConnection(self, reader, writer, self._next_session)
        self._sessions.add(session)
        await session.run()

    # -- client registry (used by sessions) --------------------------------------------------
    def client_id_in_use(self, client_id: int, asking: ClientConnection) -> bool:
        other = self._clients.get(client_id)
        return other is not None and other is not asking and not other.closed

    def register_client(self, client_id: int, session: ClientConnection) -> None:
        self._clients[client_id] = session

    def _forget(self, session: ClientConnection) -> None:
        self._sessions.discard(session)
        if session.client_id is not None and self._clients.get(session.client_id) is session:
            del self._clients[session.client_id]

    def client_peers(self) -> list[tuple[str, int]]:
        """``(host, port)`` of each connected client's socket: which process holds a connection
        (e.g. to kill the one talking to the gateway)."""
        peers = []
        for session in list(self._sessions):
            peer = session.writer.get_extra_info("peername")
            if not session.closed and peer is not None:
                peers.append((str(peer[0]), int(peer[1])))
        return peers

    @property
    def client_ids(self) -> list[int]:
        """Client ids of the connections currently up."""
        return sorted(self._clients)

    # -- permissions -------------------------------------------------------------------------
    def is_permissioned(self, symbol: str) -> bool:
        return symbol.upper() not in self._not_permissioned

    def set_permissioned(self, symbol: str, permitted: bool = True) -> None:
        """Grant or revoke the live subscription of ``symbol`` (a root or ETF symbol)."""
        if permitted:
            self._not_permissioned.discard(symbol.upper())
        else:
            self._not_permissioned.add(symbol.upper())

    # -- control (thread-safe) ---------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the simulator's loop, waiting for it when called from another thread."""
        loop = self._loop
        if loop is None or self._loop_thread == threading.get_ident() or not loop.is_running():
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def broadcast(self, code: int, message: str | None = None) -> int:
        """Send a notice (1100, 1101, 1102, 2103, ...) to every connected client; returns count."""

        def send() -> int:
            count = 0
            for session in list(self._sessions):
                if session.started and not session.closed:
                    session.error(-1, code, message or error_message(code))
                    count += 1
            return count

        return self._call(send)

    def disconnect_all(self) -> int:
        """Drop every client connection (a gateway restart as clients see it)."""

        def drop() -> int:
            sessions = list(self._sessions)
            for session in sessions:
                session.close()
            return len(sessions)

        return self._call(drop)

    def disconnect_client(self, client_id: int) -> bool:
        def drop() -> bool:
            session = self._clients.get(client_id)
            if session is None:
                return False
            session.close()
            return True

        return self._call(drop)

    def refuse_connections(self) -> None:
        """Stop listening: new connections get ConnectionRefusedError (the gateway is down).

        Connected clients stay connected; combine with :meth:`disconnect_all` for a restart.
        """

        def close() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None

        self._call(close)

    def accept_connections(self) -> None:
        """Listen again on the same port after :meth:`refuse_connections`."""
        loop = self._loop
        if loop is None:
            return
        if self._loop_thread == threading.get_ident():
            self._track(asyncio.ensure_future(self._relisten()))
            return
        asyncio.run_coroutine_threadsafe(self._relisten(), loop).result(timeout=10)

    async def _relisten(self) -> None:
        if self._server is None:
            await self._listen()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def _run_event(self, event: ScheduledEvent) -> None:
        await asyncio.sleep(event.at)
        event.fire(self)
