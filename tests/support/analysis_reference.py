"""An independent re-computation of the analysis for the tests: plain Python dictionaries for
alignment, the exchange calendars straight from pandas_market_calendars, scipy for statistics.
Nothing here imports ib_futures.analysis beyond the synthetic data generator's output.

The HAC inference (docs/analysis.md, "Inference") is recomputed another way: long-run
variances as quadratic forms with the full Toeplitz matrix of Bartlett weights, the
correlation's interval by the delta method on the vector of five sample moments (their HAC
covariance matrix) instead of its closed-form influence series, the regression's
variance from the (X'X)^-1 sandwich, ranks and distributions from scipy.stats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas_market_calendars as mcal
import polars as pl
from scipy import stats
from scipy.linalg import toeplitz

FIVE = timedelta(minutes=5)

#: A Saturday 06:00 New York time (11:00 UTC) after a week without holidays.
WINDOW_END = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def calendar_slots(calendar: str, start: datetime, end: datetime) -> list[datetime]:
    """Slots open <= t < close of every session of ``calendar`` inside [start, end)."""
    sched = mcal.get_calendar(calendar).schedule(
        (start - timedelta(days=2)).date().isoformat(), (end + timedelta(days=2)).date().isoformat()
    )
    out: list[datetime] = []
    for _, row in sched.iterrows():
        t = row.market_open.to_pydatetime()
        close = row.market_close.to_pydatetime()
        while t < close:
            if start <= t < end:
                out.append(t)
            t += FIVE
    return sorted(set(out))


def leg_returns(
    frame: pl.DataFrame, symbol: str, slots: Iterable[datetime]
) -> tuple[dict[datetime, float], dict[datetime, float]]:
    """(prices on expected slots, returns between consecutive slots of the same contract)."""
    allowed = set(slots)
    prices: dict[datetime, tuple[float, int]] = {}
    for row in frame.filter(pl.col("symbol") == symbol).iter_rows(named=True):
        if row["bucket_ts"] in allowed and row["price"] is not None and row["price"] > 0:
            prices[row["bucket_ts"]] = (row["price"], row["con_id"])
    rets = {}
    for t, (p, con) in prices.items():
        prev = prices.get(t - FIVE)
        if prev is not None and prev[1] == con:
            rets[t] = math.log(p) - math.log(prev[0])
    return {t: v[0] for t, v in prices.items()}, rets


def paired(
    fut: dict[datetime, float], etf: dict[datetime, float], lag: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    ts = sorted(t for t in etf if t - lag * FIVE in fut)
    return np.array([fut[t - lag * FIVE] for t in ts]), np.array([etf[t] for t in ts])


def andrews_bandwidth(u: np.ndarray) -> float:
    """Andrews (1991) AR(1) plug-in for the Bartlett kernel, rho capped at +-0.97."""
    rho = float(np.clip(np.sum(u[1:] * u[:-1]) / np.sum(u * u), -0.97, 0.97))
    alpha = 4 * rho**2 / ((1 - rho) ** 2 * (1 + rho) ** 2)
    return min(1.1447 * (alpha * u.size) ** (1 / 3), u.size - 1.0)


def hac(u: np.ndarray) -> float:
    """u' W u / n with W[i, j] = max(0, 1 - |i - j| / S): the Bartlett long-run variance."""
    band = andrews_bandwidth(u)
    lag = np.arange(u.size, dtype=float)
    weights = np.where(lag < band, 1 - lag / band, 0.0) if band > 0 else (lag == 0) * 1.0
    return float(u @ toeplitz(weights) @ u) / u.size


def hac_matrix(h: np.ndarray, weights_of: np.ndarray) -> np.ndarray:
    """Long-run covariance of the centred columns of h, weights from the series weights_of."""
    band = andrews_bandwidth(weights_of)
    lag = np.arange(h.shape[0], dtype=float)
    weights = np.where(lag < band, 1 - lag / band, 0.0) if band > 0 else (lag == 0) * 1.0
    c = h - h.mean(axis=0)
    return c.T @ toeplitz(weights) @ c / h.shape[0]


def correlation_test(
    x: np.ndarray, y: np.ndarray, greater: bool = False, alpha: float = 0.05
) -> dict[str, float]:
    """r, the HAC test of rho = 0 (score form) and the HAC Fisher-z interval."""
    n = x.size
    r = stats.pearsonr(x, y).statistic
    xs = (x - x.mean()) / x.std()
    ys = (y - y.mean()) / y.std()
    t = r / math.sqrt(hac(xs * ys - r) / n)
    p = stats.norm.sf(t) if greater else 2 * stats.norm.sf(abs(t))
    # delta method: r = (m_xy - m_x m_y) / sqrt((m_xx - m_x^2)(m_yy - m_y^2)) of the five means
    h = np.column_stack([x, y, x * x, y * y, x * y])
    m = h.mean(axis=0)
    vx, vy = m[2] - m[0] ** 2, m[3] - m[1] ** 2
    d = math.sqrt(vx * vy)
    grad = np.array(
        [-m[1] / d + r * m[0] / vx, -m[0] / d + r * m[1] / vy, -r / (2 * vx), -r / (2 * vy), 1 / d]
    )
    # the bandwidth is chosen on the same linear combination the implementation studentises
    influence = (h - m) @ grad
    omega = hac_matrix(h, influence)
    se_z = math.sqrt(grad @ omega @ grad / n) / (1 - r * r)
    half = stats.norm.ppf(1 - alpha / 2) * se_z
    z = math.atanh(r)
    return {
        "r": r,
        "p": p,
        "ci_low": math.tanh(z - half),
        "ci_high": math.tanh(z + half),
        "n_eff": 1 / se_z**2,
    }


def slope_test(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """OLS slope, and its HAC t under H0 (residuals y - mean y) from the sandwich."""
    X = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(X.T @ X / x.size)
    slope = (bread @ (X.T @ y / x.size))[1]
    influence = (X * (y - y.mean())[:, None]) @ bread[1]  # the slope row of the sandwich
    score = influence - influence.mean()
    t = slope / math.sqrt(hac(score) / x.size)
    return {"slope": slope, "t": t, "p": 2 * stats.norm.sf(abs(t))}


def walk_forward(
    x: np.ndarray, y: np.ndarray, day: Sequence[date], min_train: int
) -> dict[str, float]:
    """Expanding-window OLS per day with scipy.linregress, scored as documented."""
    days = sorted(set(day))
    day_arr = np.array([days.index(d) for d in day])
    preds, reals, bench = [], [], []
    for i, _ in enumerate(days):
        train = day_arr < i
        test = day_arr == i
        if train.sum() < min_train:
            continue
        fit = stats.linregress(x[train], y[train])
        preds.extend(fit.intercept + fit.slope * x[test])
        reals.extend(y[test])
        bench.extend([y[train].mean()] * int(test.sum()))
    p, r, b = np.array(preds), np.array(reals), np.array(bench)
    used = (p != 0) & (r != 0)
    hits = int((np.sign(p[used]) == np.sign(r[used])).sum())
    q, u = (p[used] > 0).mean(), (r[used] > 0).mean()
    base = q * u + (1 - q) * (1 - u)
    hit = correlation_test((p[used] > 0) * 1.0, (r[used] > 0) * 1.0, greater=True)
    ranks = (stats.rankdata(p - b), stats.rankdata(r - b))
    ic = correlation_test(*ranks)
    mz = stats.linregress(p - b, r - b)
    mz_test = slope_test(p - b, r - b)
    cw = (r - b) ** 2 - (r - p) ** 2 + (b - p) ** 2
    cw_t = cw.mean() / math.sqrt(hac(cw - cw.mean()) / cw.size)
    return {
        "n_oos": float(p.size),
        "hit_rate": hits / used.sum(),
        "base_rate": base,
        "hit_p": hit["p"],
        "ic": ic["r"],
        "ic_p": ic["p"],
        "mz_slope": mz.slope,
        "mz_t": mz_test["t"],
        "mz_p": mz_test["p"],
        "mz_r2": mz.rvalue**2,
        "r2_oos": 1 - ((r - p) ** 2).sum() / ((r - b) ** 2).sum(),
        "r2_oos_p": stats.norm.sf(cw_t),
    }
