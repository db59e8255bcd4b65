"""IB historical-data pacing: when may the next historical request be sent?

IB answers error 162 ("Historical data request pacing violation") when a client makes
(docs/ib-protocol.md section 3, from IB's documentation):

* an identical request within 15 seconds,
* six or more requests for the same contract, exchange and tick type within 2 seconds,
* more than 60 requests in any 10-minute period;

and ``BID_ASK`` requests count twice. IB says these hard limits apply to bars of 30 seconds
or less and are "lifted" for bars of 1 minute and up, which are soft-throttled instead.

Conservative choices made here (the collector asks for 5-minute bars, rarely):

* All three hard limits are enforced for every bar size; a lifted limit costs nothing to keep.
* A global minimum gap (``min_gap_s``, default 2 s) between any two requests stands in for
  IB's undocumented soft throttle.
* Every window gets a safety margin (``margin_s``, default 0.5 s): IB measures on its side
  of the network, after our send.
* Reservations are first come, first served: a request never jumps ahead of one reserved
  earlier, so waits are predictable and the windows only ever look back.
* ``BID_ASK`` weighs 2 in the 60-per-10-minutes and the same-contract counts.

The module splits the RULE from the STORAGE. :func:`earliest_send` is the rule: a pure
function of the bookings of the recent past, a new request and "now". A
:class:`PacingLedger` stores the bookings and applies the rule atomically (read the recent
bookings, compute, append, in one critical section). IB counts per account, and Airflow runs
every task in its own process, so a deployment needs a ledger its processes share:
:class:`InProcessLedger` here serves one process (and the tests); the file, PostgreSQL and
Redis ledgers live in ``ib_futures.ledgers`` (docs/operations.md, "Historical request
pacing").
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Booking",
    "HistoricalPacer",
    "InProcessLedger",
    "PacingLedger",
    "PacingLimits",
    "RequestKey",
    "Reservation",
    "book",
    "default_pacer",
    "earliest_send",
]


@dataclass(frozen=True)
class RequestKey:
    """What makes two historical requests "identical" or "for the same contract".

    :param con_id: IB contract id (or any stable contract identifier).
    :param exchange: the exchange the request names.
    :param what_to_show: ``TRADES``, ``MIDPOINT``, ``BID_ASK``, ...
    :param bar_size: e.g. ``"5 mins"``.
    :param duration: e.g. ``"5 D"``.
    :param end: the end date-time string sent to IB (``""`` = now).
    :param use_rth: regular trading hours only.
    """

    con_id: int | str
    exchange: str = ""
    what_to_show: str = "TRADES"
    bar_size: str = ""
    duration: str = ""
    end: str = ""
    use_rth: bool = False

    @property
    def contract_key(self) -> tuple[int | str, str, str]:
        """Same contract + exchange + tick type (IB's 6-within-2-seconds rule)."""
        return (self.con_id, self.exchange.upper(), self.what_to_show.upper())

    @property
    def weight(self) -> int:
        """How many requests IB counts this as: 2 for ``BID_ASK``, else 1."""
        return 2 if self.what_to_show.upper() == "BID_ASK" else 1

    @property
    def identity(self) -> str:
        """Every field as one string: equal strings <=> identical requests (storable)."""
        fields = [self.con_id, self.exchange, self.what_to_show, self.bar_size]
        return json.dumps([*fields, self.duration, self.end, self.use_rth])

    @property
    def contract(self) -> str:
        """:attr:`contract_key` as one string (storable)."""
        return json.dumps(list(self.contract_key))


@dataclass(frozen=True)
class PacingLimits:
    """IB's limits (the defaults, docs/ib-protocol.md section 3) plus our gap and margin.

    ``same_contract_max`` is 5 because IB refuses "six or more" within the 2 s window.
    Tests scale every window down instead of waiting real minutes.
    """

    max_requests: int = 60
    window_s: float = 600.0
    identical_gap_s: float = 15.0
    same_contract_max: int = 5
    same_contract_window_s: float = 2.0
    min_gap_s: float = 2.0
    margin_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_requests < 2 or self.same_contract_max < 2:
            raise ValueError("max_requests and same_contract_max must be >= 2 (BID_ASK weighs 2)")
        intervals = (self.window_s, self.identical_gap_s, self.same_contract_window_s)
        if min(*intervals, self.min_gap_s, self.margin_s) < 0:
            raise ValueError("pacing intervals must be >= 0")

    @property
    def horizon_s(self) -> float:
        """How far back a booking can still delay a new one; older bookings may be pruned."""
        longest = max(self.window_s, self.identical_gap_s, self.same_contract_window_s)
        return max(longest, self.min_gap_s) + self.margin_s


@dataclass(frozen=True)
class Booking:
    """One booked request: its send time ``at`` on the ledger's clock, in seconds."""

    at: float
    identity: str
    contract: str
    weight: int

    @classmethod
    def of(cls, key: RequestKey, at: float) -> Booking:
        return cls(at, key.identity, key.contract, key.weight)


@dataclass(frozen=True)
class Reservation:
    """What a ledger booked: send at ``at``; ``now`` was the ledger's clock when it booked.
    ``booked`` is False when the turn lay beyond the caller's ``max_wait``: nothing was
    recorded, so a request given up leaves no reservation that would hold everyone else back."""

    at: float
    now: float
    booked: bool = True

    @property
    def wait(self) -> float:
        """Seconds to wait before sending (>= 0); valid on any clock that runs at real speed."""
        return max(0.0, self.at - self.now)


# --------------------------------------------------------------------------- the rule


def _window_ready(
    events: Sequence[tuple[float, int]], weight: int, limit: int, window: float, margin: float
) -> float:
    """Earliest instant at which ``weight`` more fits under ``limit`` per ``window``.

    ``events`` are (time, weight), oldest first; the oldest ones must leave the window
    (be more than ``window + margin`` old) until the rest plus ``weight`` fit. This looks only
    backwards, which is right because a new booking is never earlier than any booked one.
    """
    total = sum(w for _, w in events)
    ready = float("-inf")
    for t, w in events:
        if total + weight <= limit:
            break
        total -= w
        ready = t + window + margin
    return ready


def earliest_send(
    events: Iterable[Booking], key: RequestKey, now: float, limits: PacingLimits
) -> float:
    """The earliest send time (>= ``now``) for ``key`` after the bookings ``events``.

    Pure: the same bookings, request and ``now`` give the same answer, in any process.
    ``events`` need not be sorted and may include bookings older than the horizon.
    """
    booked = sorted(events, key=lambda b: b.at)
    at = now
    if booked:
        # FIFO (never before a booked request), and the global gap (soft-throttle stand-in).
        at = max(at, booked[-1].at + limits.min_gap_s)
    same = [b.at for b in booked if b.identity == key.identity]
    if same:
        at = max(at, same[-1] + limits.identical_gap_s + limits.margin_s)
    everything = [(b.at, b.weight) for b in booked]
    at = max(
        at,
        _window_ready(everything, key.weight, limits.max_requests, limits.window_s, limits.margin_s),
    )
    contract = [(b.at, b.weight) for b in booked if b.contract == key.contract]
    return max(
        at,
        _window_ready(
            contract,
            key.weight,
            limits.same_contract_max,
            limits.same_contract_window_s,
            limits.margin_s,
        ),
    )


def within(booking: Booking, now: float, max_wait: float | None) -> bool:
    """Whether ``booking`` may be recorded for a caller that waits at most ``max_wait`` s."""
    return max_wait is None or booking.at - now <= max_wait


def book(events: Iterable[Booking], key: RequestKey, now: float, limits: PacingLimits) -> Booking:
    """The booking a ledger appends for ``key``: :func:`earliest_send` as a :class:`Booking`."""
    if key.weight > min(limits.max_requests, limits.same_contract_max):
        raise ValueError(f"request weight {key.weight} exceeds the pacing limits")
    return Booking.of(key, earliest_send(events, key, now, limits))


# --------------------------------------------------------------------------- storage


class PacingLedger(Protocol):
    """Where bookings live. ``reserve`` must be atomic across everyone sharing the ledger:
    read the bookings of the last ``limits.horizon_s``, :func:`book`, append, in one step;
    with ``max_wait``, append only when the turn is at most that far away (:func:`within`)."""

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation: ...

    def booked(self, limits: PacingLimits) -> int:
        """Bookings still remembered (within the horizon, or in the future)."""
        ...


class InProcessLedger:
    """Bookings in memory, behind a lock: one process only (tests, a single worker)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: deque[Booking] = deque()  # booked send times, in order (FIFO)

    def _prune(self, now: float, limits: PacingLimits) -> None:
        while self._sent and self._sent[0].at < now - limits.horizon_s:
            self._sent.popleft()

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        with self._lock:
            now = self._clock()
            self._prune(now, limits)
            booking = book(self._sent, key, now, limits)
            if not within(booking, now, max_wait):
                return Reservation(booking.at, now, booked=False)
            self._sent.append(booking)
            return Reservation(booking.at, now)

    def booked(self, limits: PacingLimits) -> int:
        with self._lock:
            self._prune(self._clock(), limits)
            return len(self._sent)


# --------------------------------------------------------------------------- the pacer


class HistoricalPacer:
    """Books send times for historical requests so none violates IB's pacing rules.

    ``reserve(key)`` returns the seconds to wait before sending and records the request at
    that future instant in the ledger; ``acquire``/``acquire_async`` also do the waiting.

    :param clock: the in-process ledger's clock (ignored when ``ledger`` is given: a shared
        ledger keeps its own clock, which all its users read).
    :param ledger: where bookings live; default a new :class:`InProcessLedger`.
    :param limits: all limits at once; otherwise the keyword arguments build them.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        ledger: PacingLedger | None = None,
        limits: PacingLimits | None = None,
        max_requests: int = 60,
        window_s: float = 600.0,
        identical_gap_s: float = 15.0,
        same_contract_max: int = 5,
        same_contract_window_s: float = 2.0,
        min_gap_s: float = 2.0,
        margin_s: float = 0.5,
    ) -> None:
        self.limits = limits or PacingLimits(
            max_requests=max_requests,
            window_s=window_s,
            identical_gap_s=identical_gap_s,
            same_contract_max=same_contract_max,
            same_contract_window_s=same_contract_window_s,
            min_gap_s=min_gap_s,
            margin_s=margin_s,
        )
        self.ledger: PacingLedger = ledger if ledger is not None else InProcessLedger(clock)

    def reserve(self, key: RequestKey, max_wait: float | None = None) -> float:
        """Book ``key``; return the seconds to wait (>= 0) before sending it. With
        ``max_wait``, a turn further away than that is returned but not booked."""
        return self.ledger.reserve(key, self.limits, max_wait).wait

    def acquire(self, key: RequestKey, sleep: Callable[[float], object] = time.sleep) -> float:
        """Book ``key`` and block until it may be sent; returns the seconds waited."""
        wait = self.reserve(key)
        if wait > 0:
            sleep(wait)
        return wait

    async def acquire_async(self, key: RequestKey) -> float:
        """Book ``key`` and ``await`` until it may be sent (for ib_async code).

        The booking runs in a worker thread: a shared ledger may wait on a lock or the
        network, which must not stall the event loop.
        """
        wait = await asyncio.to_thread(self.reserve, key)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def booked(self) -> int:
        """Requests currently remembered (within the longest window)."""
        return self.ledger.booked(self.limits)


_default: HistoricalPacer | None = None
_default_lock = threading.Lock()


def default_pacer() -> HistoricalPacer:
    """The process-wide, in-process pacer for callers that pass none (tests, scripts)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HistoricalPacer()
        return _default
