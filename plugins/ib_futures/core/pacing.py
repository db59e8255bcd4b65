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

The pacer is pure (an injectable ``clock``) and thread-safe (one lock). It paces one
process: Airflow runs each task in its own process, so the DAG keeps requests rare instead
(one request per instrument, only when the lake lacks the previous close).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HistoricalPacer", "RequestKey", "default_pacer"]


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


class HistoricalPacer:
    """Books send times for historical requests so none violates IB's pacing rules.

    ``reserve(key)`` returns the seconds to wait before sending and records the request at
    that future instant; ``acquire``/``acquire_async`` also do the waiting.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_requests: int = 60,
        window_s: float = 600.0,
        identical_gap_s: float = 15.0,
        same_contract_max: int = 5,
        same_contract_window_s: float = 2.0,
        min_gap_s: float = 2.0,
        margin_s: float = 0.5,
    ) -> None:
        if max_requests < 2 or same_contract_max < 2:
            raise ValueError("max_requests and same_contract_max must be >= 2 (BID_ASK weighs 2)")
        if min(window_s, identical_gap_s, same_contract_window_s, min_gap_s, margin_s) < 0:
            raise ValueError("pacing intervals must be >= 0")
        self._clock = clock
        self.max_requests = max_requests
        self.window_s = window_s
        self.identical_gap_s = identical_gap_s
        self.same_contract_max = same_contract_max
        self.same_contract_window_s = same_contract_window_s
        self.min_gap_s = min_gap_s
        self.margin_s = margin_s
        self._lock = threading.Lock()
        self._sent: deque[tuple[float, RequestKey]] = deque()  # booked send times, in order

    # ----------------------------------------------------------------- bookkeeping

    def _prune(self, now: float) -> None:
        horizon = max(self.window_s, self.identical_gap_s, self.same_contract_window_s)
        while self._sent and self._sent[0][0] < now - horizon - self.margin_s:
            self._sent.popleft()

    @staticmethod
    def _window_ready(
        events: list[tuple[float, int]], weight: int, limit: int, window: float, margin: float
    ) -> float:
        """Earliest instant at which ``weight`` more fits under ``limit`` per ``window``.

        ``events`` are (time, weight), oldest first; the oldest ones must leave the window
        (be more than ``window + margin`` old) until the rest plus ``weight`` fit.
        """
        total = sum(w for _, w in events)
        ready = float("-inf")
        for t, w in events:
            if total + weight <= limit:
                break
            total -= w
            ready = t + window + margin
        return ready

    def _earliest(self, key: RequestKey, now: float) -> float:
        at = now
        if self._sent:
            last = self._sent[-1][0]
            at = max(at, last + self.min_gap_s, last)  # FIFO, and the global gap
        same = [t for t, k in self._sent if k == key]
        if same:
            at = max(at, same[-1] + self.identical_gap_s + self.margin_s)
        everything = [(t, k.weight) for t, k in self._sent]
        at = max(
            at,
            self._window_ready(
                everything, key.weight, self.max_requests, self.window_s, self.margin_s
            ),
        )
        contract = [(t, k.weight) for t, k in self._sent if k.contract_key == key.contract_key]
        at = max(
            at,
            self._window_ready(
                contract,
                key.weight,
                self.same_contract_max,
                self.same_contract_window_s,
                self.margin_s,
            ),
        )
        return at

    # ----------------------------------------------------------------- public API

    def reserve(self, key: RequestKey) -> float:
        """Book ``key``; return the seconds to wait (>= 0) before sending it."""
        if key.weight > min(self.max_requests, self.same_contract_max):
            raise ValueError(f"request weight {key.weight} exceeds the pacing limits")
        with self._lock:
            now = self._clock()
            self._prune(now)
            at = self._earliest(key, now)
            self._sent.append((at, key))
            return max(0.0, at - now)

    def acquire(self, key: RequestKey, sleep: Callable[[float], object] = time.sleep) -> float:
        """Book ``key`` and block until it may be sent; returns the seconds waited."""
        wait = self.reserve(key)
        if wait > 0:
            sleep(wait)
        return wait

    async def acquire_async(self, key: RequestKey) -> float:
        """Book ``key`` and ``await`` until it may be sent (for ib_async code)."""
        wait = self.reserve(key)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def booked(self) -> int:
        """Requests currently remembered (within the longest window)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._sent)


_default: HistoricalPacer | None = None
_default_lock = threading.Lock()


def default_pacer() -> HistoricalPacer:
    """The process-wide pacer every historical request should go through."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HistoricalPacer()
        return _default
