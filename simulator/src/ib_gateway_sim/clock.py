"""The simulated wall clock: starts at a chosen instant and advances in real time.

``--start`` lets a weekend developer be served a Tuesday session. Tests can ``set`` the clock,
``advance`` it, or ``freeze`` it so that quotes and bars are exactly reproducible. All methods
are thread-safe: the simulator runs on its own event-loop thread while tests poke the clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def parse_start(value: str | datetime | None) -> datetime:
    """Parse an ISO-8601 start (``2026-11-24T15:00:00Z``); naive times are taken as UTC."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class SimClock:
    """A clock reading ``start + (monotonic elapsed) * speed``, or a frozen instant."""

    def __init__(
        self, start: str | datetime | None = None, *, speed: float = 1.0, frozen: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self._anchor = parse_start(start)
        self._anchor_mono = time.monotonic()
        self._speed = speed
        self._frozen = frozen

    def now(self) -> datetime:
        """The current simulated time (UTC, tz-aware)."""
        with self._lock:
            return self._now_locked()

    def timestamp(self) -> float:
        return self.now().timestamp()

    def _now_locked(self) -> datetime:
        if self._frozen:
            return self._anchor
        elapsed = (time.monotonic() - self._anchor_mono) * self._speed
        return self._anchor + timedelta(seconds=elapsed)

    def set(self, moment: str | datetime) -> None:
        """Jump to ``moment``; the clock keeps running (or stays frozen) from there."""
        with self._lock:
            self._anchor = parse_start(moment)
            self._anchor_mono = time.monotonic()

    def advance(self, delta: float | timedelta) -> datetime:
        """Move the clock forward by ``delta`` (seconds or a timedelta) and return the new time."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._anchor = self._now_locked() + timedelta(seconds=seconds)
            self._anchor_mono = time.monotonic()
            return self._anchor

    def freeze(self, at: str | datetime | None = None) -> datetime:
        """Stop the clock (at ``at`` if given, else at the current time)."""
        with self._lock:
            self._anchor = parse_start(at) if at is not None else self._now_locked()
            self._anchor_mono = time.monotonic()
            self._frozen = True
            return self._anchor

    def resume(self) -> None:
        """Let a frozen clock run again in real time from where it stands."""
        with self._lock:
            self._anchor = self._now_locked()
            self._anchor_mono = time.monotonic()
            self._frozen = False

    @property
    def frozen(self) -> bool:
        return self._frozen
