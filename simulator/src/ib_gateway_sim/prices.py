"""Deterministic, seeded price model shared by quotes and historical bars.

Every price is a pure function of ``(seed, instrument, time)``, so bars and quotes agree and any
past instant can be priced without simulating from the beginning:

* Each future root (ES, NQ, RTY) has an *index* log-price walk (``walk.py``) on the
  five-minute grid (288 UTC slots a day). A day's total return is one normal draw keyed by
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
* Bid/ask are one tick apart around the mid, last is the rounded mid. Bars (``bars.py``) are
  built from the same path with the same rounding, plus deterministic high/low excursions and
  volumes per slot, so a snapshot at T and the close of the bar ending at T agree to the tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from .bars import Bar, floor_tick, make_slot_bar, round_tick
from .contracts import ETF_UNDERLYING, FUTURES, SimContract
from .schedules import CME_GLOBEX, US_EXTENDED, US_RTH
from .walk import SLOT_SECONDS, SLOTS_PER_DAY, Walk, hash_int

__all__ = [
    "CME_SLOTS_PER_YEAR", "SLOTS_PER_DAY", "SLOT_SECONDS", "Bar", "PriceModel", "PriceModelConfig",
    "floor_tick", "round_tick",
]

#: CME equity-index futures trade ~23 h x 252 days; per-slot vol is annual vol / sqrt of this.
CME_SLOTS_PER_YEAR = 252 * 23 * 12


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
            lambda contract, start, what: make_slot_bar(self, contract, start, None, what)
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
            return float((1 + hash_int(self.config.seed, contract.local_symbol, second, kind) % 60) * scale)

        return draw("bid"), draw("ask"), draw("last")

    # -- bars -------------------------------------------------------------------------------
    def _excursion_walk(self, contract: SimContract) -> Walk:
        return self._index[contract.symbol] if contract.is_future else self._idio[contract.symbol]

    def excursions(self, contract: SimContract, start: datetime) -> tuple[float, float]:
        """Log distances of the slot's high above and low below its open-close range.

        They widen bars only: the quotes follow the path between the slot's ends, so a bar's
        extremes are deterministic draws rather than points of that path.
        """
        day = start.astimezone(UTC).date()
        slot = int((start - datetime.combine(day, datetime.min.time(), UTC)).total_seconds()) // SLOT_SECONDS
        data = self._excursion_walk(contract).day(day)
        return data.excursion_high[slot], data.excursion_low[slot]

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
        """The bar of the five-minute slot starting at ``start`` (built by ``bars.py``).

        ``until`` cuts the slot short (the still-forming bar at the request's end time).
        Complete bars are memoised: they are pure, and snapshots re-read a whole session of
        them for high/low.
        """
        end = start + timedelta(seconds=SLOT_SECONDS)
        if until is None or until >= end:
            return self._full_bar(contract, start.astimezone(UTC), what)
        return make_slot_bar(self, contract, start, until, what)
