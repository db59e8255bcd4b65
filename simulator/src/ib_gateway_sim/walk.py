"""The seeded log-price random walk the price model is built on (see ``prices.py``).

A walk lives on the five-minute grid (288 UTC slots a day) and is a pure function of
``(seed, key, time)``: a day's total return is one normal draw keyed by ``hash(seed, key, day)``,
the slot returns inside the day are a Brownian bridge onto that total, and the level at a day's
start is the (memoised) sum of the daily totals since the reference date. Returns are zero in
slots where the walk's schedule is closed, and within a slot the log-price is linear in time:
``bars.py`` relies on that to integrate a quote over a bar exactly (BID_ASK bars).
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from statistics import NormalDist

from .schedules import Schedule

SLOT_SECONDS = 300
SLOTS_PER_DAY = 86400 // SLOT_SECONDS
_NORMAL = NormalDist()


def hash_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int(struct.unpack(">Q", digest)[0])


def _hash_uniform(*parts: object) -> float:
    """A uniform in (0, 1) from a stable hash (Python's ``hash`` is salted per process)."""
    return (hash_int(*parts) + 0.5) / 2.0**64


def _hash_normal(*parts: object) -> float:
    return _NORMAL.inv_cdf(_hash_uniform(*parts))


@dataclass(frozen=True)
class SlotDay:
    """One UTC day of a walk: slot returns, their prefix sums, excursions and volume draws."""

    returns: tuple[float, ...]
    prefix: tuple[float, ...]
    excursion_high: tuple[float, ...]
    excursion_low: tuple[float, ...]
    volume_noise: tuple[float, ...]


def _open_mask(schedule: Schedule, day: date) -> tuple[bool, ...]:
    start = datetime.combine(day, datetime.min.time(), UTC)
    end = start + timedelta(days=1)
    mask = [False] * SLOTS_PER_DAY
    for sess in schedule.sessions_between(start, end):
        first = max(0, int((sess.start - start).total_seconds()) // SLOT_SECONDS)
        last = min(SLOTS_PER_DAY, -(-int((sess.end - start).total_seconds()) // SLOT_SECONDS))
        for j in range(first, last):
            mask[j] = True
    return tuple(mask)


open_mask = lru_cache(maxsize=1024)(_open_mask)


class Walk:
    """A seeded log-price random walk on the five-minute grid, moving only while open.

    ``reversion`` pulls the level back toward the reference by that fraction per trading day,
    folded into the day's total so the path stays continuous. It keeps ES near 6800 whatever
    year a test simulates, without changing five-minute statistics measurably.
    """

    def __init__(
        self, key: str, seed: int, sigma: float, schedule: Schedule, reference: date,
        reversion: float = 0.0,
    ) -> None:
        self.key = key
        self.reversion = reversion
        self.seed = seed
        self.sigma = sigma
        self.schedule = schedule
        self.reference = reference
        self._day_start: dict[date, float] = {reference: 0.0}
        self._lock = threading.Lock()
        self.day = lru_cache(maxsize=512)(self._day)

    def _shock(self, day: date) -> float:
        n_open = sum(open_mask(self.schedule, day))
        if n_open == 0:
            return 0.0
        return _hash_normal(self.seed, self.key, "day", day) * self.sigma * math.sqrt(n_open)

    def day_start(self, day: date) -> float:
        """Cumulative log return from ``reference`` to 00:00 UTC of ``day`` (memoised).

        Forward from the reference: ``C(d+1) = (1 - k) C(d) + shock(d)``; backward (before the
        reference) the same AR(1) runs in reverse time, ``C(d) = (1 - k) C(d+1) - shock(d)``,
        because inverting a mean-reverting recursion would explode. Closed days do not move.
        """
        known = self._day_start
        if day in known:
            return known[day]
        with self._lock:  # tests may price from their own thread while the server runs
            return self._extend_to(day)

    def _extend_to(self, day: date) -> float:
        known = self._day_start
        if day in known:
            return known[day]
        step = timedelta(days=1)
        keep = 1.0 - self.reversion
        if day > self.reference:
            cursor = max(d for d in known if d <= day)
            value = known[cursor]
            while cursor < day:
                shock = self._shock(cursor)
                if shock:
                    value = keep * value + shock
                cursor += step
                known[cursor] = value
        else:
            cursor = min(d for d in known if d >= day)
            value = known[cursor]
            while cursor > day:
                cursor -= step
                shock = self._shock(cursor)
                if shock:
                    value = keep * value - shock
                known[cursor] = value
        return known[day]

    def _day(self, day: date) -> SlotDay:
        mask = open_mask(self.schedule, day)
        rng = random.Random(hash_int(self.seed, self.key, "slots", day))
        draws = [rng.gauss(0.0, self.sigma) if is_open else 0.0 for is_open in mask]
        n_open = sum(mask)
        # Brownian bridge: shift the open slots so they sum to the day's total draw.
        total = self.day_start(day + timedelta(days=1)) - self.day_start(day)
        shift = (total - sum(draws)) / n_open if n_open else 0.0
        returns = tuple(d + shift if is_open else 0.0 for d, is_open in zip(draws, mask, strict=True))
        prefix = [0.0]
        for r in returns:
            prefix.append(prefix[-1] + r)
        high = tuple(abs(rng.gauss(0.0, self.sigma * 0.5)) for _ in mask)
        low = tuple(abs(rng.gauss(0.0, self.sigma * 0.5)) for _ in mask)
        noise = tuple(0.6 + 0.8 * rng.random() for _ in mask)
        return SlotDay(returns, tuple(prefix), high, low, noise)

    def log_at(self, moment: datetime) -> float:
        moment = moment.astimezone(UTC)
        day = moment.date()
        seconds = (moment - datetime.combine(day, datetime.min.time(), UTC)).total_seconds()
        slot = min(int(seconds // SLOT_SECONDS), SLOTS_PER_DAY - 1)
        frac = (seconds - slot * SLOT_SECONDS) / SLOT_SECONDS
        data = self.day(day)
        return self.day_start(day) + data.prefix[slot] + frac * data.returns[slot]
