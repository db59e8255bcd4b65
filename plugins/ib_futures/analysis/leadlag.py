"""Lead-lag: cross-correlation of futures and ETF returns at lags of whole slots.

``r(k) = corr(f[t - k], e[t])`` over ETF slots ``t`` where both returns exist, with ``t - k``
measured in clock time (``5k`` minutes). Positive ``k``: the futures return ``k`` slots
*earlier* goes with the ETF return now, i.e. the future leads. The peak is the lag with the
largest ``|r|``. Every lag is tested with the HAC test of :mod:`.inference` (the legs share their
volatility, so i.i.d. bands would be too narrow), and the peak and the strongest lead are
Bonferroni-adjusted for the lags searched, which keeps the family-wise level whatever the
dependence between lags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ib_futures.analysis.inference import InferenceOptions, robust_correlation
from ib_futures.analysis.returns import FloatArray, IntArray, PairReturns, lagged_on_grid


@dataclass(frozen=True)
class LagPoint:
    lag: int
    r: float
    n: int
    p_value: float  # HAC, unadjusted; NaN when unreliable
    n_eff: float
    se_null: float  # standard error of r under no correlation (HAC)

    def band(self, z: float) -> float:
        """The |r| beyond which this lag is significant at the critical value ``z``."""
        return z * self.se_null


@dataclass(frozen=True)
class LeadLagResult:
    profile: tuple[LagPoint, ...]
    peak: LagPoint
    peak_p_bonferroni: float
    band: float  # the peak lag's unadjusted 95 % band: z_{1-alpha/2} * its HAC standard error
    band_bonferroni: float  # the same at the Bonferroni-adjusted level
    z: float  # critical values of the bands
    z_bonferroni: float
    lead: LagPoint  # the strongest positive lag (futures lead) ...
    lead_p_bonferroni: float  # ... adjusted for the max_lag positive lags searched
    significant: bool | None  # peak significant after Bonferroni at alpha; None: unreliable


def _best(points: list[LagPoint]) -> LagPoint:
    finite = [p for p in points if math.isfinite(p.r)]
    if not finite:
        return points[0]
    # ties: prefer the smaller |lag| (the simpler explanation), then the positive side
    return max(finite, key=lambda p: (abs(p.r), -abs(p.lag), p.lag))


def _adjusted(p: float, tests: int) -> float:
    return min(1.0, p * tests) if math.isfinite(p) else math.nan


def lag_profile(
    fut_grid: FloatArray,
    etf_idx: IntArray,
    etf_ret: FloatArray,
    max_lag: int,
    opts: InferenceOptions,
) -> list[LagPoint]:
    """One :class:`LagPoint` per lag ``-max_lag..max_lag`` (futures on a 5-minute grid, ETF
    returns at grid positions ``etf_idx``)."""
    points: list[LagPoint] = []
    for lag in range(-max_lag, max_lag + 1):
        fut = lagged_on_grid(fut_grid, etf_idx, lag)
        ok = np.isfinite(fut)
        est = robust_correlation(fut[ok], etf_ret[ok], opts)
        points.append(LagPoint(lag, est.r, est.n, est.p_value, est.n_eff, est.se_null))
    return points


def lead_lag_arrays(
    fut_grid: FloatArray,
    etf_idx: IntArray,
    etf_ret: FloatArray,
    max_lag: int,
    opts: InferenceOptions,
) -> LeadLagResult:
    """:func:`lead_lag` on the arrays of :class:`PairReturns` (or any week of the same shape)."""
    from ib_futures.analysis.inference import z_critical

    points = lag_profile(fut_grid, etf_idx, etf_ret, max_lag, opts)
    n_lags = len(points)
    peak = _best(points)
    lead = _best([p for p in points if p.lag > 0])
    peak_adj = _adjusted(peak.p_value, n_lags)
    z = z_critical(opts.alpha)
    z_bonf = z_critical(opts.alpha / n_lags)
    return LeadLagResult(
        profile=tuple(points),
        peak=peak,
        peak_p_bonferroni=peak_adj,
        band=peak.band(z),
        band_bonferroni=peak.band(z_bonf),
        z=z,
        z_bonferroni=z_bonf,
        lead=lead,
        lead_p_bonferroni=_adjusted(lead.p_value, max_lag),
        significant=bool(peak_adj < opts.alpha) if math.isfinite(peak_adj) else None,
    )


def lead_lag(returns: PairReturns, max_lag: int, opts: InferenceOptions) -> LeadLagResult:
    """The cross-correlation profile of one pair's returns, its peak and its strongest lead."""
    return lead_lag_arrays(returns.fut_grid, returns.etf_idx, returns.etf_ret, max_lag, opts)
