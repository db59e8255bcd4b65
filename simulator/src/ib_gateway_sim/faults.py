"""Fault injection: rules that make the simulator misbehave the way a real gateway does.

A :class:`FaultRule` matches requests by kind (``snapshot``, ``market_data`` -- which also
matches snapshots --, ``historical_data``, ``contract_details``, ``current_time``, ... or ``*``
for every request after the handshake), optionally by symbol (root or ETF symbol) and client id,
and then does one thing:

* ``error``: answer with an IB error code instead of data (162, 200, 354, 10197, 2103, ...);
  10197 on a snapshot is the "stale quote" case: ib_async then returns its cached Ticker.
* ``hang``: swallow the request (no answer ever).
* ``drop``: close the client's socket as the request arrives.
* ``delay``: add latency (seconds) before the request is answered; combines with the others.
* ``notice``: send the client IB notice ``code`` (1100, 1101, 1102: connectivity lost or
  restored) as the request arrives, then answer it; combines with the others.

``times`` limits how often a rule fires (None = always). Connection-level faults (refusing
connections, broadcasting 1100/1101/1102, dropping every client) are methods of the simulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

FaultAction = Literal["error", "hang", "drop", "delay", "notice"]
FAULT_ACTIONS: tuple[str, ...] = ("error", "hang", "drop", "delay", "notice")

#: IB's texts for the codes tests inject (TWS API "Message Codes").
ERROR_MESSAGES: dict[int, str] = {
    162: "Historical data request pacing violation",
    200: "No security definition has been found for the request",
    354: "Requested market data is not subscribed.",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10197: "No market data during competing live session",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2107: "HMDS data farm connection is inactive but should be available upon demand.ushmds",
    2108: "Market data farm connection is inactive but should be available upon demand.usfarm",
    2158: "Sec-def data farm connection is OK:secdefnj",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
}


def error_message(code: int) -> str:
    return ERROR_MESSAGES.get(code, f"Simulated error {code}")


@dataclass
class FaultRule:
    action: FaultAction
    request: str = "*"
    symbol: str | None = None
    client_id: int | None = None
    code: int | None = None
    message: str | None = None
    seconds: float = 0.0
    times: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; use one of {FAULT_ACTIONS}")
        if self.action in ("error", "notice") and self.code is None:
            raise ValueError(f"an {self.action!r} fault needs a code")
        if self.symbol:
            self.symbol = self.symbol.upper()

    def matches(self, kind: str, symbol: str | None, client_id: int | None) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.request not in ("*", kind) and not (
            self.request == "market_data" and kind == "snapshot"
        ):
            return False
        if self.symbol and self.symbol != (symbol or "").upper():
            return False
        return self.client_id is None or self.client_id == client_id


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait ``delay`` seconds, then ``action`` (None = serve)."""

    delay: float = 0.0
    action: FaultAction | None = None
    code: int | None = None
    message: str = ""
    #: notices (code, message) to send before answering
    notices: tuple[tuple[int, str], ...] = ()


@dataclass
class FaultPlan:
    """The active rules; thread-safe so tests can change them while the simulator runs."""

    rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def error(
        self, request: str, code: int, message: str | None = None, *, symbol: str | None = None,
        times: int | None = None, client_id: int | None = None,
    ) -> FaultRule:
        """Answer matching requests with IB error ``code`` (IB's text unless ``message``)."""
        return self.add(FaultRule("error", request, symbol, client_id, code, message, times=times))

    def hang(
        self, request: str = "*", *, symbol: str | None = None, times: int | None = None,
        client_id: int | None = None,
    ) -> FaultRule:
        """Swallow matching requests: no answer is ever sent."""
        return self.add(FaultRule("hang", request, symbol, client_id, times=times))

    def drop(
        self, request: str = "*", *, symbol: str | None = None, times: int | None = 1,
        client_id: int | None = None,
    ) -> FaultRule:
        """Close the client's connection when a matching request arrives."""
        return self.add(FaultRule("drop", request, symbol, client_id, times=times))

    def delay(
        self, seconds: float, request: str = "*", *, symbol: str | None = None,
        times: int | None = None, client_id: int | None = None,
    ) -> FaultRule:
        """Add ``seconds`` of latency before matching requests are answered."""
        return self.add(FaultRule("delay", request, symbol, client_id, seconds=seconds, times=times))

    def notice(
        self, code: int, request: str = "*", *, symbol: str | None = None, times: int | None = 1,
        client_id: int | None = None,
    ) -> FaultRule:
        """Send IB notice ``code`` (e.g. 1100) to the client as a matching request arrives."""
        return self.add(FaultRule("notice", request, symbol, client_id, code, times=times))

    def stale_quote(self, symbol: str | None = None, *, times: int | None = 1) -> FaultRule:
        """Answer snapshots with 10197 so ib_async hands back its cached (stale) Ticker."""
        return self.error("snapshot", 10197, symbol=symbol, times=times)

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def decide(self, kind: str, symbol: str | None, client_id: int | None) -> Decision:
        """Consume the rules matching one request and combine them into a decision."""
        delay = 0.0
        notices: list[tuple[int, str]] = []
        with self._lock:
            for rule in self.rules:
                if not rule.matches(kind, symbol, client_id):
                    continue
                rule.fired += 1
                if rule.action == "delay":
                    delay += rule.seconds
                    continue
                code = rule.code
                message = rule.message or (error_message(code) if code is not None else "")
                if rule.action == "notice":
                    assert code is not None
                    notices.append((code, message))
                    continue
                return Decision(delay, rule.action, code, message, tuple(notices))
        return Decision(delay, notices=tuple(notices))
