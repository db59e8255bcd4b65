"""The pacing ledger in a Redis sorted set: Airflow workers on several hosts share it.

One key per ledger (``<prefix><name>``), one member per booking, scored by its send time. A
reservation is an optimistic transaction: ``WATCH`` the key, read the server's ``TIME`` and
the recent bookings, compute the booking in Python (the rule stays in ``core.pacing``, not
copied into a Lua script), then ``MULTI``/``EXEC`` the prune and the append. If anyone
changed the key in between, ``EXEC`` fails and the reservation starts over, so no two
processes ever book from the same state. The time is the Redis server's: one clock for every
host. The key expires a while after its last booking, so an idle ledger leaves nothing.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from ib_futures.core.pacing import Booking, PacingLimits, RequestKey, Reservation, book, within

DEFAULT_PREFIX = "ib_futures:history_pacing:"


class LedgerContention(RuntimeError):
    """Other processes changed the ledger on every attempt to book."""


def _decode(member: bytes | str, score: float) -> Booking:
    text = member.decode() if isinstance(member, bytes) else member
    identity, contract, weight, _unique = json.loads(text)
    return Booking(float(score), identity, contract, int(weight))


class RedisLedger:
    """Bookings in a Redis sorted set (see the module docstring).

    :param connect: returns a redis-py client (``redis.Redis``); called once, lazily.
    :param name: the ledger's name (one per IB account).
    :param prefix: prepended to ``name`` to make the key.
    :param attempts: optimistic retries before :class:`LedgerContention`.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        name: str = "default",
        prefix: str = DEFAULT_PREFIX,
        attempts: int = 200,
    ) -> None:
        self._connect = connect
        self._client: Any = None
        self.key = f"{prefix}{name}"
        self.attempts = attempts

    @property
    def client(self) -> Any:
        # redis-py's pool notices a fork by pid and reconnects, so one client is kept.
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _recent(self, pipe: Any, limits: PacingLimits) -> tuple[float, list[Booking]]:
        """The server's now and the bookings within the horizon; ``pipe`` is the client, or
        a pipeline in its immediate (``WATCH``) mode."""
        seconds, micros = pipe.time()
        now = float(seconds) + float(micros) / 1e6
        rows = pipe.zrangebyscore(self.key, now - limits.horizon_s, "+inf", withscores=True)
        return now, [_decode(member, score) for member, score in rows]

    def _attempt(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None
    ) -> Reservation | None:
        from redis.exceptions import WatchError

        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                now, events = self._recent(pipe, limits)
                booking = book(events, key, now, limits)
                if not within(booking, now, max_wait):
                    pipe.unwatch()
                    return Reservation(booking.at, now, booked=False)
                member = json.dumps([key.identity, key.contract, key.weight, uuid.uuid4().hex])
                pipe.multi()
                pipe.zremrangebyscore(self.key, "-inf", f"({now - limits.horizon_s}")
                pipe.zadd(self.key, {member: booking.at})
                keep = booking.at - now + limits.horizon_s + 60.0
                pipe.pexpire(self.key, max(1, int(keep * 1000)))
                pipe.execute()
            except WatchError:
                return None
        return Reservation(booking.at, now)

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        for attempt in range(self.attempts):
            reservation = self._attempt(key, limits, max_wait)
            if reservation is not None:
                return reservation
            # A short random pause spreads the contenders out, so they stop colliding.
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
        raise LedgerContention(
            f"could not book on Redis key {self.key!r} after {self.attempts} attempts"
        )

    def booked(self, limits: PacingLimits) -> int:
        return len(self._recent(self.client, limits)[1])
