"""One client connection: handshake, startup sync, request dispatch and fault gating.

The handshake and the startup answers follow docs/ib-protocol.md section 1: ``API\\0`` plus
``v157..178``; the server replies ``178`` and a connection time; after ``startApi`` (71) it
sends managedAccounts (15), nextValidId (9) and the farm notices 2104/2106/2158. Every request
ib_async's ``IB.connectAsync`` makes is answered so ``connect()`` returns at once.

Bad input never crashes the server: garbage or a bad handshake closes this socket, an unknown
message id answers 505 and closes, an oversized frame answers 507 and closes, a malformed known
request answers 320 and the connection carries on. Other clients are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from .contracts import FUTURES, ContractRequest, Resolution, SimContract, details_fields
from .faults import error_message
from .handlers import RequestHandlers
from .journal import JournalEntry
from .protocol import (
    API_SIGN,
    SERVER_VERSION,
    Fields,
    FrameReader,
    FrameTooLarge,
    ProtocolError,
    decode_payload,
    encode_message,
    parse_version_range,
)

if TYPE_CHECKING:
    from .server import GatewaySimulator

log = logging.getLogger(__name__)

#: Client -> gateway message ids the simulator answers, by name (journal and fault kinds).
REQUEST_NAMES: dict[int, str] = {
    1: "market_data", 2: "cancel_market_data", 5: "open_orders", 6: "account_updates",
    7: "executions", 8: "ids", 9: "contract_details", 15: "auto_open_orders",
    17: "managed_accounts", 20: "historical_data", 25: "cancel_historical_data",
    49: "current_time", 59: "market_data_type", 61: "positions", 62: "account_summary",
    63: "cancel_account_summary", 64: "cancel_positions", 71: "start_api",
    76: "account_updates_multi", 77: "cancel_account_updates_multi", 87: "head_timestamp",
    90: "cancel_head_timestamp", 99: "completed_orders",
}
#: Ids the official API defines (1..110); those not served answer 321 instead of 505.
KNOWN_IB_IDS = range(1, 111)
HANDSHAKE_TIMEOUT = 10.0
MAX_HANDSHAKE_LENGTH = 4096


class ClientConnection:
    """Serves one TCP connection until it closes."""

    def __init__(
        self, sim: GatewaySimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        session_id: int,
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.session_id = session_id
        self.client_id: int | None = None
        self.started = False
        self.closed = False
        self.market_data_type = 1
        self.tasks: set[asyncio.Task[None]] = set()
        self.handlers = RequestHandlers(self)

    # -- output ------------------------------------------------------------------------------
    def send(self, fields: list[object]) -> None:
        if self.closed:
            return
        try:
            self.writer.write(encode_message(fields))
        except (ConnectionError, RuntimeError):  # transport already gone
            self.close()

    def error(self, req_id: int, code: int, message: str | None = None) -> None:
        """Error (4) at version 2 with advancedOrderRejectJson (server version >= 166)."""
        self.send([4, 2, req_id, code, message if message is not None else error_message(code), ""])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        try:
            self.writer.close()
        except RuntimeError:  # loop already closed at shutdown
            pass
        self.sim._forget(self)

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def now(self) -> datetime:
        return self.sim.clock.now()

    def record(self, msg_id: int, name: str, fields: list[str], outcome: str = "received") -> JournalEntry:
        return self.sim.journal.record(
            sim_time=self.now(), session_id=self.session_id, client_id=self.client_id,
            msg_id=msg_id, name=name, fields=fields, outcome=outcome,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if await self._handshake():
                await self._read_loop()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one client take the server down
            log.exception("session %s failed", self.session_id)
        finally:
            self.close()

    async def _handshake(self) -> bool:
        prefix = await asyncio.wait_for(self.reader.readexactly(4), HANDSHAKE_TIMEOUT)
        if prefix != API_SIGN:
            self.record(-1, "garbage", [prefix.hex()], outcome="closed")
            return False
        header = await asyncio.wait_for(self.reader.readexactly(4), HANDSHAKE_TIMEOUT)
        (length,) = struct.unpack(">I", header)
        if length > MAX_HANDSHAKE_LENGTH:
            self.record(-1, "bad_handshake", [f"length {length}"], outcome="closed")
            return False
        payload = await asyncio.wait_for(self.reader.readexactly(length), HANDSHAKE_TIMEOUT)
        try:
            versions = parse_version_range(payload)
        except ProtocolError as exc:
            self.record(-1, "bad_handshake", [str(exc)], outcome="closed")
            return False
        entry = self.record(0, "handshake", [payload.decode("ascii", "replace")])
        if not versions.accepts(SERVER_VERSION):
            # Real TWS drops such clients; say why first so the client's log explains it.
            message = (
                f"Unsupported API client version range v{versions.min_version}.."
                f"{versions.max_version}: this gateway speaks server version {SERVER_VERSION}."
            )
            self.error(-1, 503, message)
            entry.outcome = "refused: version"
            await self._flush()
            return False
        when = self.now().astimezone(self.sim.bar_zone)
        self.send([SERVER_VERSION, f"{when:%Y%m%d %H:%M:%S} {self.sim.bar_zone.key}"])
        entry.outcome = "answered"
        return True

    async def _flush(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), 1.0)
        except (ConnectionError, TimeoutError):
            pass

    async def _read_loop(self) -> None:
        frames = FrameReader()
        while not self.closed:
            data = await self.reader.read(65536)
            if not data:
                return
            frames.feed(data)
            try:
                for payload in frames.frames():
                    self._on_message(decode_payload(payload))
                    if self.closed:
                        return
            except FrameTooLarge as exc:
                self.record(-1, "oversized_frame", [str(exc)], outcome="closed")
                self.error(-1, 507, f"Bad Message Length {exc}")
                await self._flush()
                return

    # -- dispatch ----------------------------------------------------------------------------
    def _on_message(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (IndexError, ValueError):
            msg_id = -1
        name = REQUEST_NAMES.get(msg_id)
        if name is None:
            if msg_id in KNOWN_IB_IDS:
                self.record(msg_id, "unsupported", fields, outcome="error 321")
                self.error(
                    -1, 321,
                    f"Error validating request.-'sim' : cause - message id {msg_id} is not "
                    "supported by the IB Gateway simulator",
                )
                return
            self.record(msg_id, "unknown", fields, outcome="closed")
            self.error(-1, 505, "Fatal Error: Unknown message id.")
            self.spawn(self._close_soon())
            return
        entry = self.record(msg_id, name, fields[1:])
        if msg_id == 71:
            self.handlers.start_api(Fields(fields[1:]), entry)
            return
        handler: Callable[[Fields, JournalEntry], Awaitable[None]] = getattr(self.handlers, name)
        self.spawn(self._dispatch(handler, Fields(fields[1:]), entry))

    async def _dispatch(
        self, handler: Callable[[Fields, JournalEntry], Awaitable[None]], fields: Fields,
        entry: JournalEntry,
    ) -> None:
        # Outcomes are set before anything is sent: a test reading the journal right after
        # its client got the answer must see the final outcome.
        entry.outcome = "answered"
        try:
            await handler(fields, entry)
        except (ValueError, IndexError) as exc:
            entry.outcome = "error 320"
            self.error(entry.req_id if entry.req_id is not None else -1, 320,
                       f"Error reading request: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("handler %s failed", entry.name)
            entry.outcome = "error 320"
            self.error(-1, 320, f"Server error when reading an API client request: {exc}")

    async def _close_soon(self) -> None:
        await self._flush()
        self.close()

    async def gate(self, kind: str, symbol: str | None, entry: JournalEntry) -> bool:
        """Apply fault rules to a request; False means it must not be answered normally."""
        decision = self.sim.faults.decide(kind, symbol, self.client_id)
        for code, message in decision.notices:
            self.error(-1, code, message)
        if decision.delay > 0:
            entry.detail = f"delayed {decision.delay:g}s"
            entry.outcome = "delaying"
            await asyncio.sleep(decision.delay)
            entry.outcome = "answered"
        if decision.action is None:
            return True
        if decision.action == "hang":
            entry.outcome = "hung"
        elif decision.action == "drop":
            entry.outcome = "dropped"
            self.close()
        elif decision.action == "error":
            assert decision.code is not None
            entry.outcome = f"error {decision.code}"
            self.error(entry.req_id if entry.req_id is not None else -1, decision.code, decision.message)
        return False

    # -- contract helpers --------------------------------------------------------------------
    @staticmethod
    def read_contract(fields: Fields) -> ContractRequest:
        return ContractRequest(
            con_id=fields.read_int(), symbol=fields.read_str(), sec_type=fields.read_str(),
            last_trade_date_or_contract_month=fields.read_str(), strike=fields.read_str(),
            right=fields.read_str(), multiplier=fields.read_str(), exchange=fields.read_str(),
            primary_exchange=fields.read_str(), currency=fields.read_str(),
            local_symbol=fields.read_str(), trading_class=fields.read_str(),
        )

    def symbol_of(self, req: ContractRequest) -> str | None:
        """The root or stock symbol a request is about (for fault matching and the journal)."""
        if req.symbol:
            return req.symbol.upper()
        if req.local_symbol:
            local = req.local_symbol.upper()
            return next((root for root in FUTURES if local.startswith(root)), local)
        if req.con_id:
            found = self.sim.book.by_con_id(req.con_id, self.now())
            return found.symbol if found else None
        return None

    def resolve_single(self, req: ContractRequest, req_id: int, entry: JournalEntry) -> tuple[SimContract, Resolution] | None:
        """Resolve to exactly one contract or answer 200 (unknown or ambiguous)."""
        res = self.sim.book.resolve(req, self.now())
        if len(res.contracts) == 1:
            return res.contracts[0], res
        entry.outcome = "error 200"
        if not res.contracts:
            self.error(req_id, 200, error_message(200))
        else:
            self.error(req_id, 200, f"The contract description specified for {req.symbol} is ambiguous.")
        return None

    def contract_details(self, req_id: int, res: Resolution) -> None:
        now = self.now()
        for contract in res.contracts:
            self.send(details_fields(req_id, contract, res.sec_type, res.exchange, now))
        self.send([52, 1, req_id])
