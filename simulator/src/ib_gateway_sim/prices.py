"""Deterministic, seeded price model shared by quotes and historical bars.

Every price is a pure function of ``(seed, instrument, time)``, so bars and quotes agree and any
past instant can be priced without simulating from the beginning:

* Each future root (ES, NQ, RTY) has an *index* log-price walk on the five-minute grid
  (288 UTC slots a day). A day's total return is one normal draw keyed by
  ``hash(seed, root, day)``; the slot returns inside the day are a Brownian bridge onto that
  total from an RNG keyed the same way. The level at a day's start is the sum of the daily
  totals since ``reference_date`` (one cheap draw per day, memoised), so pricing 2020 costs a few
  thousand draws once, not a simulation. Returns are zero in slots where CME is closed
  (weekend, daily halt), so closed markets do not move. Within a slot the log-price is linear.
  The walks ignore holidays (``Schedule.weekdays()``), so a holiday rule never changes a
  price; the index moves through a holiday and the first bar after it opens with the gap.
* A futures contract trades at ``index * exp(carry * years_to_expiry)``, so back months sit a
  little above the front month and every month moves with the index.
* Each ETF tracks its future: ``log ETF(t) = log(ratio * level0) + beta * index_log(t - lag)
  + idio_log(t)``, i.e. the ETF's slot return is ``beta`` times the future's return ``lag``
  slots earlier plus idiosyncratic noise whose size sets the correlation to ``etf_correlation``
  (``sigma_idio = beta * sigma_future * sqrt(1 / rho**2 - 1)``). This is the planted lead-lag
  signal the analysis tests look for; :meth:`PriceModel.planted_signal` states it.
* Bars add deterministic high/low excursions and volumes per slot; bid/ask are one tick apart
  around the mid.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from statistics import NormalDist

from .contracts import ETF_UNDERLYING, FUTURES, SimContract
from .schedules import CME_GLOBEX, US_EXTENDED, US_RTH, Schedule

SLOT_SECONDS = 300
SLOTS_PER_DAY = 86400 // SLOT_SECONDS
#: CME equity-index futures trade ~23 h x 252 days; per-slot vol is annual vol / sqrt of this.
CME_SLOTS_PER_YEAR = 252 * 23 * 12
_NORMAL = NormalDist()


def _hash_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int(struct.unpack(">Q", digest)[0])


def _hash_uniform(*parts: object) -> float:
    """A uniform in (0, 1) from a stable hash (Python's ``hash`` is salted per process)."""
    return (_hash_int(*parts) + 0.5) / 2.0**64


def _hash_normal(*parts: object) -> float:
    return _NORMAL.inv_cdf(_hash_uniform(*parts))


def floor_tick(value: float, tick: float) -> float:
    return round(math.floor(value / tick + 1e-9) * tick, 6)


def round_tick(value: float, tick: float) -> float:
    return round(round(value / tick) * tick, 6)


def _ask_tick(value: float, tick: float) -> float:
    return round(floor_tick(value, tick) + tick, 6)


def _mid_tick(value: float, tick: float) -> float:
    return round(floor_tick(value, tick) + tick / 2, 6)


#: How each whatToShow puts a raw price on the grid: trades at the rounded mid, bids one
#: tick below the ask, midpoints half-way (the same rule as the quotes).
BAR_ROUNDING: dict[str, Callable[[float, float], float]] = {
    "TRADES": round_tick, "BID": floor_tick, "ASK": _ask_tick, "MIDPOINT": _mid_tick,
}


@dataclass(frozen=True)
class PriceModelConfig:
    """Parameters of the price model; every field has a realistic default."""

    seed: int = 0
    reference_date: date = date(2026, 1, 1)
    index_levels: dict[str, float] = field(
        default_factory=lambda: {"ES": 6800.0, "NQ": 25000.0, "RTY": 2500.0}
    )
    annual_vol: dict[str, float] = field(
        default_factory=lambda: {"ES": 0.16, "NQ": 0.20, "RTY": 0.22}
    )
    #: Futures premium over the index per year to expiry (financing less dividends).
    carry_per_year: float = 0.012
    #: ETF price = ratio * index: SPY ~ ES/10 less dividends, QQQ ~ NQ/41, IWM ~ RTY/10.
    etf_ratio: dict[str, float] = field(
        default_factory=lambda: {"SPY": 0.0997, "QQQ": 1 / 41, "IWM": 0.0996}
    )
    #: Daily pull of the index level back toward ``index_levels`` (keeps levels realistic).
    index_reversion: float = 1 / 90
    #: Daily pull of each ETF's idiosyncratic deviation back to zero (keeps the basis tight).
    idio_reversion: float = 1 / 10
    etf_lag_slots: int = 1
    etf_correlation: float = 0.9
    etf_beta: float = 1.0
    #: Mean traded volume per five-minute slot in regular hours (contracts / shares).
    slot_volume: dict[str, float] = field(
        default_factory=lambda: {
            "ES": 12000, "NQ": 4500, "RTY": 1200, "SPY": 600000, "QQQ": 400000, "IWM": 250000,
        }
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.etf_correlation <= 1.0:
            raise ValueError("etf_correlation must be in (0, 1]")
        if self.etf_lag_slots < 0:
            raise ValueError("etf_lag_slots must be >= 0")


@dataclass(frozen=True)
class SlotDay:
    """One UTC day of a walk: slot returns, their prefix sums, excursions and volume draws."""

    returns: tuple[float, ...]
    prefix: tuple[float, ...]
    excursion_high: tuple[float, ...]
    excursion_low: tuple[float, ...]
    volume_noise: tuple[float, ...]


@dataclass(frozen=True)
class Bar:
    """One OHLC bar as the simulator serves it (prices already on the tick grid)."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


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
        rng = random.Random(_hash_int(self.seed, self.key, "slots", day))
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


class PriceModel:
    """Prices, quotes and five-minute bars for every simulator instrument."""

    def __init__(self, config: PriceModelConfig | None = None) -> None:
        self.config = config or PriceModelConfig()
        cfg = self.config
        self._index: dict[str, Walk] = {}
        self._idio: dict[str, Walk] = {}
        for root in FUTURES:
            sigma = cfg.annual_vol[root] / math.sqrt(CME_SLOTS_PER_YEAR)
            self._index[root] = Walk(
                root, cfg.seed, sigma, CME_GLOBEX.weekdays(), cfg.reference_date,
                cfg.index_reversion,
            )
        self._full_bar = lru_cache(maxsize=100_000)(
            lambda contract, start, what: self._make_bar(contract, start, None, what)
        )
        rho = cfg.etf_correlation
        for etf, root in ETF_UNDERLYING.items():
            sigma_f = self._index[root].sigma
            sigma_i = abs(cfg.etf_beta) * sigma_f * math.sqrt(max(0.0, 1.0 / rho**2 - 1.0))
            self._idio[etf] = Walk(
                f"{etf}.idio", cfg.seed, sigma_i, US_EXTENDED.weekdays(), cfg.reference_date,
                cfg.idio_reversion,
            )

    # -- the planted signal ------------------------------------------------------------------
    def planted_signal(self) -> dict[str, float]:
        """What the analysis should find: ETF returns follow futures by ``lag_slots`` slots."""
        return {
            "lag_slots": float(self.config.etf_lag_slots),
            "lag_minutes": float(self.config.etf_lag_slots * SLOT_SECONDS // 60),
            "correlation": self.config.etf_correlation,
            "beta": self.config.etf_beta,
        }

    # -- raw prices -------------------------------------------------------------------------
    def index_price(self, root: str, moment: datetime) -> float:
        return self.config.index_levels[root] * math.exp(self._index[root].log_at(moment))

    def raw_price(self, contract: SimContract, moment: datetime) -> float:
        """The unrounded mid price of ``contract`` at ``moment``."""
        cfg = self.config
        if contract.is_future:
            index = self.index_price(contract.symbol, moment)
            last = contract.last_trade
            assert last is not None
            years = max(0.0, (last - moment).total_seconds() / (365.25 * 86400))
            return index * math.exp(cfg.carry_per_year * years)
        root = ETF_UNDERLYING[contract.symbol]
        lagged = moment - timedelta(seconds=cfg.etf_lag_slots * SLOT_SECONDS)
        log_level = cfg.etf_beta * self._index[root].log_at(lagged)
        log_level += self._idio[contract.symbol].log_at(moment)
        base = cfg.etf_ratio[contract.symbol] * cfg.index_levels[root]
        return base * math.exp(log_level)

    def quote(self, contract: SimContract, moment: datetime) -> tuple[float, float, float]:
        """``(bid, ask, last)``: bid/ask one tick apart around the mid, last the rounded mid."""
        tick = contract.spec.min_tick
        mid = self.raw_price(contract, moment)
        bid = floor_tick(mid, tick)
        return bid, round(bid + tick, 6), round_tick(mid, tick)

    def sizes(self, contract: SimContract, moment: datetime) -> tuple[float, float, float]:
        """Deterministic ``(bid_size, ask_size, last_size)`` for a second."""
        second = int(moment.timestamp())
        scale = 1 if contract.is_future else 100

        def draw(kind: str) -> float:
            return float((1 + _hash_int(self.config.seed, contract.local_symbol, second, kind) % 60) * scale)

        return draw("bid"), draw("ask"), draw("last")

    # -- bars -------------------------------------------------------------------------------
    def _excursion_walk(self, contract: SimContract) -> Walk:
        return self._index[contract.symbol] if contract.is_future else self._idio[contract.symbol]

    def slot_volume(self, contract: SimContract, start: datetime) -> float:
        cfg = self.config
        root = contract.symbol
        walk = self._excursion_walk(contract)
        day = start.astimezone(UTC).date()
        slot = int((start - datetime.combine(day, datetime.min.time(), UTC)).total_seconds()) // SLOT_SECONDS
        noise = walk.day(day).volume_noise[slot]
        in_rth = US_RTH.is_open(start)
        profile = 1.0 if in_rth else (0.15 if contract.is_future else 0.03)
        volume = cfg.slot_volume[root] * profile * noise
        if contract.is_future and contract.month is not None:
            # Volume sits in the front month; back months trade a trickle.
            index = round(((contract.month.expiry - start.date()).days) / 91)
            volume *= 1.0 if index <= 0 else 0.02
        return float(round(volume))

    def slot_bar(
        self, contract: SimContract, start: datetime, until: datetime | None = None,
        what: str = "TRADES",
    ) -> Bar:
        """The bar of the five-minute slot starting at ``start``.

        ``until`` cuts the slot short (the still-forming bar at the request's end time); a
        partial bar has no excursions beyond its open and latest price. Complete bars are
        memoised: they are pure, and snapshots re-read a whole session of them for high/low.
        """
        end = start + timedelta(seconds=SLOT_SECONDS)
        if until is None or until >= end:
            return self._full_bar(contract, start.astimezone(UTC), what)
        return self._make_bar(contract, start, until, what)

    def _make_bar(
        self, contract: SimContract, start: datetime, until: datetime | None, what: str
    ) -> Bar:
        end = start + timedelta(seconds=SLOT_SECONDS)
        partial = until is not None and until < end
        close_at = until if partial and until is not None else end
        o = self.raw_price(contract, start)
        c = self.raw_price(contract, close_at)
        hi, lo = max(o, c), min(o, c)
        frac = (close_at - start).total_seconds() / SLOT_SECONDS
        if not partial:
            walk = self._excursion_walk(contract)
            day = start.astimezone(UTC).date()
            slot = int((start - datetime.combine(day, datetime.min.time(), UTC)).total_seconds()) // SLOT_SECONDS
            data = walk.day(day)
            hi *= math.exp(data.excursion_high[slot])
            lo *= math.exp(-data.excursion_low[slot])
        tick = contract.spec.min_tick
        rnd = BAR_ROUNDING.get(what, _mid_tick)
        ro, rc = rnd(o, tick), rnd(c, tick)
        rh = max(rnd(hi, tick), ro, rc)
        rl = min(rnd(lo, tick), ro, rc)
        if what != "TRADES":
            return Bar(start, ro, rh, rl, rc, -1.0, -1.0, -1)
        volume = float(round(self.slot_volume(contract, start) * frac))
        wap = round((rh + rl + rc) / 3, 6)
        count = int(volume // (3 if contract.is_future else 150)) if volume else 0
        return Bar(start, ro, rh, rl, rc, volume, wap, count)
