"""IB's historical-data pacing rules, enforced with error 162.

IB answers 162 "Historical data request pacing violation" when a client (IB counts per
account, so the simulator counts gateway-wide, across client ids):

* repeats an identical request within 15 seconds,
* makes six or more requests for the same contract, exchange and tick type within 2 seconds,
* makes more than 60 requests within any ten-minute period.

A ``BID_ASK`` request counts twice in both counting rules (IB's "Historical Data Limitations":
it is served as two series, bid and ask), so 30 of them fill the ten-minute budget and the
third within 2 s for one contract is the sixth request. The identical-request rule is not a
count and is unaffected.

The windows run on **real monotonic time**, not the simulated clock: pacing protects IB's
servers from real request rates, and a test that freezes or jumps the simulated clock must not
switch pacing off or on by accident. Tests make pacing fast by configuring smaller limits
(``PacingLimits(identical_window=0.5, ...)``) or disabling it. Refused requests do not count.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

PACING_VIOLATION = "Historical data request pacing violation"


@dataclass(frozen=True)
class PacingLimits:
    """The three limits; IB's values are the defaults."""

    identical_window: float = 15.0
    same_contract_max: int = 5
    same_contract_window: float = 2.0
    max_requests: int = 60
    window: float = 600.0
    enabled: bool = True

    @classmethod
    def disabled(cls) -> PacingLimits:
        return cls(enabled=False)


class HistoricalPacer:
    """Records accepted historical requests and says when a new one breaks a limit."""

    def __init__(
        self, limits: PacingLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or PacingLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._identical: dict[Hashable, float] = {}
        self._per_contract: dict[Hashable, deque[float]] = {}
        self._all: deque[float] = deque()

    def admit(self, identical_key: Hashable, contract_key: Hashable, weight: int = 1) -> str | None:
        """Return None and record the request if allowed, else the reason it violates pacing.

        ``weight`` is how many requests this one counts as (2 for BID_ASK).
        """
        limits = self.limits
        if not limits.enabled:
            return None
        with self._lock:
            now = self._clock()
            last = self._identical.get(identical_key)
            if last is not None and now - last < limits.identical_window:
                return f"identical request within {limits.identical_window:g} s"
            recent = self._per_contract.setdefault(contract_key, deque())
            while recent and now - recent[0] >= limits.same_contract_window:
                recent.popleft()
            if len(recent) + weight > limits.same_contract_max:
                return f"more than {limits.same_contract_max} requests for one contract within {limits.same_contract_window:g} s"
            while self._all and now - self._all[0] >= limits.window:
                self._all.popleft()
            if len(self._all) + weight > limits.max_requests:
                return f"more than {limits.max_requests} requests within {limits.window:g} s"
            self._identical[identical_key] = now
            recent.extend([now] * weight)
            self._all.extend([now] * weight)
            return None

    def reset(self) -> None:
        with self._lock:
            self._identical.clear()
            self._per_contract.clear()
            self._all.clear()
