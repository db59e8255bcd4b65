"""Weeks of five-minute returns with the volatility patterns real markets have, for calibration.

Each week has the slot structure of a real one (the week ending ``WINDOW_END``): futures returns
on every Globex slot after the first of a session, ETF returns on regular-hours slots from 09:35,
on one five-minute grid, exactly as :class:`ib_futures.analysis.returns.PairReturns` holds them.
The two legs are independent (the null) unless a lead is planted, but their volatility is one
and the same process (except in ``constant``):

* ``constant``: i.i.d. normal returns;
* ``intraday``: the U-shape, 2.5x at the open and close against midday, 0.5x outside regular
  hours (when only the future trades);
* ``regimes``: each trade date calm (0.6) or wild (1.8), a Markov chain that stays with
  probability 0.7 from day to day;
* ``garch``: GARCH(1,1) clustering (alpha 0.1, beta 0.85) driven by the future's shocks, with
  Student-t(5) shocks on both legs (finite fourth moment: beta^2 + 2 alpha beta + 9 alpha^2 < 1);
* ``autocorrelated``: the intraday U-shape, and both legs AR(1) with coefficient 0.4 (stale or
  smoothed quotes): serial dependence that the cross-products inherit.

Whole batches of weeks are drawn at once (weeks x grid slots) so a calibration of hundreds of
weeks costs a fraction of a second; a seed fixes every figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from ib_futures.analysis.slots import SLOT, etf_expected_slots, futures_expected_slots
from support.analysis_reference import WEEK, WINDOW_END

CASES = ("constant", "intraday", "regimes", "garch", "autocorrelated")
GARCH_ALPHA, GARCH_BETA, T_DOF = 0.1, 0.85, 5
REGIME_LEVELS, REGIME_STAY = (0.6, 1.8), 0.7
AR_COEF = 0.4


@dataclass(frozen=True)
class WeekShape:
    """Where returns exist on the grid of one week."""

    size: int  # grid slots
    fut_has_return: NDArray[np.bool_]  # grid slots with a futures return
    etf_idx: NDArray[np.int64]  # grid slots with an ETF return, in time order
    etf_day: NDArray[np.int64]  # their session date (days since 1970)
    minute_of_day: NDArray[np.int64]  # New York clock minute at which each slot ends
    trade_day: NDArray[np.int64]  # 0-based trade date of each slot (Globex evening: next day)


@cache
def week_shape() -> WeekShape:
    start = WINDOW_END - WEEK
    slot_us = int(SLOT.total_seconds() * 1e6)
    origin = int(start.timestamp() * 1e6) // slot_us * slot_us
    size = (int(WINDOW_END.timestamp() * 1e6) - origin) // slot_us + 1

    def positions(slots) -> NDArray[np.int64]:
        return ((slots.dt.epoch("us").to_numpy() - origin) // slot_us).astype(np.int64)

    fut_pos = positions(futures_expected_slots(start, WINDOW_END)["bucket_ts"])
    etf = etf_expected_slots(start, WINDOW_END)
    etf_pos = positions(etf["bucket_ts"])
    fut_on = np.zeros(size, bool)
    fut_on[fut_pos] = True
    fut_has_return = fut_on & np.r_[False, fut_on[:-1]]
    etf_on = np.zeros(size, bool)
    etf_on[etf_pos] = True
    etf_ret = etf_on & np.r_[False, etf_on[:-1]]
    day_of_pos = np.zeros(size, np.int64)
    day_of_pos[etf_pos] = etf["session_date"].cast(int).to_numpy()
    new_york = ZoneInfo("America/New_York")
    local = [(start + i * SLOT).astimezone(new_york) for i in range(size)]
    minute = np.array([t.hour * 60 + t.minute for t in local], np.int64)
    trade = np.array([(t + timedelta(hours=6)).toordinal() for t in local], np.int64)
    return WeekShape(
        size=size,
        fut_has_return=fut_has_return,
        etf_idx=np.flatnonzero(etf_ret).astype(np.int64),
        etf_day=day_of_pos[etf_ret],
        minute_of_day=minute,
        trade_day=trade - trade.min(),
    )


def _intraday(shape: WeekShape) -> NDArray[np.float64]:
    """2.5 at 09:30/16:00, 1 at 12:45, 0.5 outside regular hours."""
    m = shape.minute_of_day.astype(np.float64)
    regular = (m > 9 * 60 + 30) & (m <= 16 * 60)
    u = 1.0 + 1.5 * ((m - 765.0) / 195.0) ** 2
    return np.where(regular, u, 0.5)


def _regimes(rng: np.random.Generator, weeks: int, shape: WeekShape) -> NDArray[np.float64]:
    days = int(shape.trade_day.max()) + 1
    state = np.empty((weeks, days), np.int64)
    state[:, 0] = rng.integers(0, 2, weeks)
    for d in range(1, days):
        stay = rng.random(weeks) < REGIME_STAY
        state[:, d] = np.where(stay, state[:, d - 1], 1 - state[:, d - 1])
    return np.asarray(REGIME_LEVELS)[state][:, shape.trade_day]


def _student(rng: np.random.Generator, size: tuple[int, int]) -> NDArray[np.float64]:
    return rng.standard_t(T_DOF, size) / math.sqrt(T_DOF / (T_DOF - 2))


def _garch(shocks: NDArray[np.float64], burn_in: int = 300) -> NDArray[np.float64]:
    """Volatility of a unit-variance GARCH(1,1) driven by ``shocks`` (burn-in on their start)."""
    weeks, size = shocks.shape
    omega = 1.0 - GARCH_ALPHA - GARCH_BETA
    var = np.ones(weeks)
    out = np.empty((weeks, size))
    for i in range(-burn_in, size):
        eps = shocks[:, i % size] if i < 0 else shocks[:, i]
        if i >= 0:
            out[:, i] = var
        var = omega + (GARCH_ALPHA * eps * eps + GARCH_BETA) * var
    return np.sqrt(out)


def _ar1(rng: np.random.Generator, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit-variance AR(1) with coefficient AR_COEF driven by ``x`` along the grid, started in
    its stationary distribution."""
    from scipy.signal import lfilter

    before = AR_COEF * rng.standard_normal((x.shape[0], 1))
    out, _ = lfilter([math.sqrt(1.0 - AR_COEF**2)], [1.0, -AR_COEF], x, axis=1, zi=before)
    return np.asarray(out, np.float64)


def simulate(
    case: str, weeks: int, seed: int, *, lead: int = 0, corr: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(futures grid returns, ETF returns)`` of ``weeks`` weeks: shapes (weeks, grid size),
    NaN where the future has no return, and (weeks, ETF returns) in ``week_shape().etf_idx``
    order. With ``corr``, the ETF's standardised shock at ``t`` is ``corr`` times the future's at
    ``t - lead`` plus independent noise: a planted lead of ``lead`` slots."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}")
    shape = week_shape()
    rng = np.random.default_rng(seed)
    dims = (weeks, shape.size)
    heavy = case == "garch"
    eps = _student(rng, dims) if heavy else rng.standard_normal(dims)
    eta = _student(rng, dims) if heavy else rng.standard_normal(dims)
    vol = {
        "constant": lambda: np.ones(dims),
        "intraday": lambda: np.broadcast_to(_intraday(shape), dims),
        "autocorrelated": lambda: np.broadcast_to(_intraday(shape), dims),
        "regimes": lambda: _regimes(rng, weeks, shape),
        "garch": lambda: _garch(eps),
    }[case]()
    if case == "autocorrelated":
        eps, eta = _ar1(rng, eps), _ar1(rng, eta)
    etf_shock = eta
    if corr:
        lagged = np.roll(eps, lead, axis=1)  # the grid starts a day before the first ETF slot
        etf_shock = corr * lagged + math.sqrt(1.0 - corr * corr) * eta
    fut = np.where(shape.fut_has_return, vol * eps, np.nan)
    etf = (vol * etf_shock)[:, shape.etf_idx]
    return fut, etf


def simulate_days(
    sessions: int, samples: int, seed: int, stay: float = 0.9
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(overnight futures change, ETF open-to-close)`` for ``samples`` histories of
    ``sessions`` days, independent, sharing calm/wild regimes that persist for weeks."""
    rng = np.random.default_rng(seed)
    state = np.empty((samples, sessions), np.int64)
    state[:, 0] = rng.integers(0, 2, samples)
    for d in range(1, sessions):
        keep = rng.random(samples) < stay
        state[:, d] = np.where(keep, state[:, d - 1], 1 - state[:, d - 1])
    vol = np.asarray(REGIME_LEVELS)[state]
    dims = (samples, sessions)
    return vol * _student(rng, dims), vol * _student(rng, dims)
