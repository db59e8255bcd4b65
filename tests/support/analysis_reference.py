"""An independent re-computation of the analysis for the tests: plain Python dictionaries for
alignment, the exchange calendars straight from pandas_market_calendars, scipy for statistics.
Nothing here imports ib_futures.analysis beyond the synthetic data generator's output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas_market_calendars as mcal
import polars as pl
from scipy import stats

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
    mz = stats.linregress(p, r)
    return {
        "n_oos": float(p.size),
        "hit_rate": hits / used.sum(),
        "base_rate": base,
        "hit_p": stats.binomtest(hits, int(used.sum()), base, alternative="greater").pvalue,
        "ic": stats.spearmanr(p, r).statistic,
        "mz_slope": mz.slope,
        "mz_t": mz.slope / mz.stderr,
        "mz_r2": mz.rvalue**2,
        "r2_oos": 1 - ((r - p) ** 2).sum() / ((r - b) ** 2).sum(),
    }
