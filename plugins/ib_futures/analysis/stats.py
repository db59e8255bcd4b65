"""Statistical primitives on numpy arrays (scipy for distributions only).

Every function takes already-aligned, finite samples and returns plain floats; callers decide
what "too little data" means. Assumptions (i.i.d. pairs, normal sampling distribution of the
Fisher-z transform) are stated in docs/analysis.md: 5-minute returns are heavy-tailed and
mildly heteroscedastic, so intervals and p-values are approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: Fieller, Hartley and Pearson (1957): the Fisher-z variance of Spearman's rho is ~1.06/(n-3).
SPEARMAN_Z_VARIANCE = 1.06


def as_float(value: Any) -> float | None:
    """A finite float, or None for NaN/inf/None: figures are never silently 0."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


@dataclass(frozen=True)
class CorrelationEstimate:
    """A correlation with its sample size, two-sided p-value and Fisher-z interval."""

    r: float
    n: int
    p_value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class OLSFit:
    """Simple regression ``y = intercept + slope * x`` with the slope's t-statistic."""

    intercept: float
    slope: float
    slope_se: float
    t_stat: float
    p_value: float
    r2: float
    n: int


def _z_critical(alpha: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def pearson_r(x: FloatArray, y: FloatArray) -> float:
    """Pearson correlation; NaN when either side has no variance."""
    xd = x - x.mean()
    yd = y - y.mean()
    denom = math.sqrt(float(xd @ xd) * float(yd @ yd))
    return float(xd @ yd) / denom if denom > 0.0 else math.nan


def correlation_p_value(r: float, n: int) -> float:
    """Two-sided p-value of H0: rho = 0 from the t-statistic ``r * sqrt((n-2)/(1-r^2))``."""
    from scipy import stats

    if n < 3 or not math.isfinite(r):
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt((n - 2) / (1.0 - r * r))
    return float(2.0 * stats.t.sf(abs(t), n - 2))


def fisher_interval(
    r: float, n: int, alpha: float = 0.05, z_variance: float = 1.0
) -> tuple[float, float]:
    """``tanh(atanh(r) -/+ z_{1-alpha/2} * sqrt(z_variance / (n - 3)))``."""
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    r = max(min(r, 1.0 - 1e-15), -1.0 + 1e-15)
    z = math.atanh(r)
    half = _z_critical(alpha) * math.sqrt(z_variance / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def pearson(x: ArrayLike, y: ArrayLike, alpha: float = 0.05) -> CorrelationEstimate:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    r = pearson_r(xa, ya)
    lo, hi = fisher_interval(r, xa.size, alpha)
    return CorrelationEstimate(r, int(xa.size), correlation_p_value(r, xa.size), lo, hi)


def spearman(x: ArrayLike, y: ArrayLike, alpha: float = 0.05) -> CorrelationEstimate:
    """Spearman's rho (Pearson of average ranks); interval with the 1.06/(n-3) z-variance."""
    from scipy.stats import rankdata

    xa = rankdata(np.asarray(x, dtype=np.float64))
    ya = rankdata(np.asarray(y, dtype=np.float64))
    r = pearson_r(xa, ya)
    lo, hi = fisher_interval(r, xa.size, alpha, SPEARMAN_Z_VARIANCE)
    return CorrelationEstimate(r, int(xa.size), correlation_p_value(r, xa.size), lo, hi)


def ols(x: ArrayLike, y: ArrayLike) -> OLSFit:
    """Least squares of y on a constant and x; classical (homoscedastic) standard error."""
    from scipy import stats

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n = int(xa.size)
    xd = xa - xa.mean()
    sxx = float(xd @ xd)
    if n < 3 or sxx <= 0.0:
        nan = math.nan
        return OLSFit(float(ya.mean()) if n else nan, nan, nan, nan, nan, nan, n)
    slope = float(xd @ (ya - ya.mean())) / sxx
    intercept = float(ya.mean()) - slope * float(xa.mean())
    resid = ya - intercept - slope * xa
    sse = float(resid @ resid)
    yd = ya - ya.mean()
    sst = float(yd @ yd)
    se = math.sqrt(sse / (n - 2) / sxx)
    t = slope / se if se > 0.0 else math.copysign(math.inf, slope)
    p = float(2.0 * stats.t.sf(abs(t), n - 2)) if math.isfinite(t) else 0.0
    r2 = 1.0 - sse / sst if sst > 0.0 else math.nan
    return OLSFit(intercept, slope, se, t, p, r2, n)


def binomial_p_greater(hits: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value ``P(X >= hits | n, p0)``."""
    from scipy import stats

    if n <= 0 or not 0.0 <= p0 <= 1.0:
        return math.nan
    return float(stats.binomtest(hits, n, p0, alternative="greater").pvalue)
