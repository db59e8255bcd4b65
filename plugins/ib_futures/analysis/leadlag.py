"""Lead-lag: cross-correlation of futures and ETF returns at lags of whole slots.

``r(k) = corr(f[t - k], e[t])`` over ETF slots ``t`` where both returns exist, with ``t - k``
measured in clock time (``5k`` minutes). Positive ``k``: the futures return ``k`` slots
*earlier* goes with the ETF return now, i.e. the future leads. The peak is the lag with the
largest ``|r|``; its p-value is Bonferroni-adjusted for the number of lags searched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ib_futures.analysis.returns import PairReturns
from ib_futures.analysis.stats import correlation_p_value, pearson_r


@dataclass(frozen=True)
class LagPoint:
    lag: int
    r: float
    n: int
    p_value: float


@dataclass(frozen=True)
class LeadLagResult:
    profile: tuple[LagPoint, ...]
    peak: LagPoint
    peak_p_bonferroni: float
    band: float  # 1.96 / sqrt(n) at the peak: the unadjusted 95 % band under no correlation
    band_bonferroni: float  # the same band at the Bonferroni-adjusted level
    lead: LagPoint  # the strongest positive lag (futures lead) ...
    lead_p_bonferroni: float  # ... adjusted for the max_lag positive lags searched
    significant: bool  # peak significant after Bonferroni at alpha


def _best(points: list[LagPoint]) -> LagPoint:
    finite = [p for p in points if math.isfinite(p.r)]
    if not finite:
        return points[0]
    # ties: prefer the smaller |lag| (the simpler explanation), then the positive side
    return max(finite, key=lambda p: (abs(p.r), -abs(p.lag), p.lag))


def lead_lag(returns: PairReturns, max_lag: int, alpha: float) -> LeadLagResult:
    from scipy import stats

    points: list[LagPoint] = []
    for lag in range(-max_lag, max_lag + 1):
        fut = returns.lagged_futures(lag)
        ok = np.isfinite(fut)
        n = int(ok.sum())
        r = pearson_r(fut[ok], returns.etf_ret[ok]) if n >= 3 else math.nan
        points.append(LagPoint(lag, r, n, correlation_p_value(r, n)))
    n_lags = len(points)
    peak = _best(points)
    lead = _best([p for p in points if p.lag > 0])
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    z_bonf = float(stats.norm.ppf(1.0 - alpha / (2.0 * n_lags)))
    root_n = math.sqrt(peak.n) if peak.n > 0 else math.nan
    peak_adj = min(1.0, peak.p_value * n_lags) if math.isfinite(peak.p_value) else math.nan
    lead_adj = min(1.0, lead.p_value * max_lag) if math.isfinite(lead.p_value) else math.nan
    return LeadLagResult(
        profile=tuple(points),
        peak=peak,
        peak_p_bonferroni=peak_adj,
        band=z / root_n,
        band_bonferroni=z_bonf / root_n,
        lead=lead,
        lead_p_bonferroni=lead_adj,
        significant=bool(math.isfinite(peak_adj) and peak_adj < alpha),
    )
