"""Tests that hold when volatility moves: every standard error here is a HAC long-run variance.

Why: five-minute returns of a future and of its ETF share their volatility (high at the open
and close, calm and wild days, clusters). Then, with no correlation at all, the cross-product
``x_t * y_t`` has a variance ``E[s_t^4] / E[s_t^2]^2`` times larger than the i.i.d. formulas
assume, and they call noise significant (docs/analysis.md, "Inference"). Each statistic is
therefore studentised by a heteroskedasticity- and autocorrelation-consistent (HAC) long-run
variance of its own influence series: Newey and West (1987), Bartlett kernel, bandwidth
``floor(4 (n/100)^(2/9))`` (Newey and West 1994), the cross-correlation tests of Dalla,
Giraitis and Phillips (2022) with a HAC instead of their white-noise variance.

Lags of the HAC count observations of the sample in time order (the j-th previous pair), so a
gap or the overnight break is one step; the products are close to uncorrelated across it.

Each result also carries ``n_eff``, the effective number of observations: the sample size at
which the classical i.i.d. formula would be as precise as the robust one. A test whose
``n_eff`` is below ``min_effective`` reports no p-value or interval (NaN): a handful of wild
slots decide it, and no asymptotic approximation is trustworthy then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ib_futures.core.config_sections import AnalysisSettings

FloatArray = NDArray[np.float64]
Alternative = Literal["two-sided", "greater"]

#: named in the result rows and in every significance statement of the summary
METHOD = "HAC (Newey-West, Bartlett kernel)"


@dataclass(frozen=True)
class InferenceOptions:
    """How sure a test must be, and when it is too unsure to report (the ``analysis`` settings
    ``alpha``, ``min_effective_observations`` and ``hac_bandwidth``)."""

    alpha: float = 0.05
    min_effective: float = 30.0
    #: fixed HAC bandwidth; None: the Newey-West (1994) rule for each sample size
    bandwidth: int | None = None

    @classmethod
    def from_settings(cls, cfg: AnalysisSettings) -> InferenceOptions:
        return cls(cfg.alpha, float(cfg.min_effective_observations), cfg.hac_bandwidth)


def bandwidth(n: int, fixed: int | None = None) -> int:
    """HAC lags for ``n`` observations: ``fixed``, else ``floor(4 (n/100)^(2/9))``."""
    lags = fixed if fixed is not None else int(4.0 * (n / 100.0) ** (2.0 / 9.0)) if n > 0 else 0
    return max(0, min(lags, n - 1))


def long_run_variance(u: FloatArray, lags: int) -> float:
    """Bartlett-weighted long-run variance per observation of a mean-zero series.

    ``(1/n) [sum u_t^2 + 2 sum_{j=1..L} (1 - j/(L+1)) sum_t u_t u_{t-j}]``; the Bartlett
    weights keep it non-negative (Newey and West 1987).
    """
    n = u.size
    if n == 0:
        return math.nan
    total = float(u @ u)
    for j in range(1, min(lags, n - 1) + 1):
        total += 2.0 * (1.0 - j / (lags + 1.0)) * float(u[j:] @ u[:-j])
    return total / n


def _p_value(t: float, alternative: Alternative) -> float:
    from scipy.special import ndtr

    if math.isnan(t):
        return math.nan
    return float(ndtr(-t)) if alternative == "greater" else float(2.0 * ndtr(-abs(t)))


def z_critical(alpha: float) -> float:
    """``z_{1 - alpha/2}``: the two-sided normal critical value."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - alpha / 2.0))


@dataclass(frozen=True)
class RobustCorrelation:
    """A correlation with its HAC test against 0 and its HAC interval.

    ``p_value`` and the interval are NaN when ``n_eff < min_effective`` (``reliable`` False).
    """

    r: float
    n: int
    se_null: float  # standard error of r under H0 (the test's)
    t_stat: float  # r / se_null
    p_value: float
    ci_low: float
    ci_high: float
    n_eff: float  # i.i.d. normal pairs that would pin r down as precisely (1 / se_z^2)
    lags: int
    reliable: bool

    def band(self, alpha: float) -> float:
        """|r| beyond which this correlation is significant at ``alpha`` (two-sided)."""
        return z_critical(alpha) * self.se_null


_NAN_CORRELATION = RobustCorrelation(
    math.nan, 0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0, False
)


def robust_correlation(
    x: FloatArray,
    y: FloatArray,
    opts: InferenceOptions,
    alternative: Alternative = "two-sided",
) -> RobustCorrelation:
    """Pearson correlation of paired samples (in time order) with HAC inference.

    * Test of H0 rho = 0: ``t = r / se``, ``se^2 = LRV(u - r) / n`` with ``u_t = xs_t ys_t``
      the product of the standardised samples: the t-statistic of the mean of the standardised
      cross-product with a robust variance (Dalla, Giraitis and Phillips 2022, with a HAC), valid
      under volatility common to both legs. Against N(0, 1).
    * Interval: the influence series of r is ``psi_t = u_t - r/2 (xs_t^2 + ys_t^2)`` (Devlin,
      Gnanadesikan and Kettenring 1975), ``var(r) ~ LRV(psi)/n``, equal to ``(1 - r^2)^2 / n``
      for i.i.d. normal pairs; on Fisher's z ``se_z = se_r / (1 - r^2)`` and the interval is
      ``tanh(atanh(r) -/+ z se_z)``. ``psi`` is used only here: evaluated at the sample r it
      shrinks exactly when r is large by chance, which makes it a poor test (too many
      rejections in calibration), but it is the right spread around a real correlation.
    """
    n = int(x.size)
    if n < 4:
        return _NAN_CORRELATION
    xd = x - x.mean()
    yd = y - y.mean()
    sx = math.sqrt(float(xd @ xd) / n)
    sy = math.sqrt(float(yd @ yd) / n)
    if not (sx > 0.0 and sy > 0.0):
        return _NAN_CORRELATION
    xs = xd / sx
    ys = yd / sy
    u = xs * ys
    r = min(max(float(u.sum()) / n, -1.0), 1.0)
    lags = bandwidth(n, opts.bandwidth)
    lrv_null = long_run_variance(u - r, lags)
    lrv_psi = long_run_variance(u - 0.5 * r * (xs * xs + ys * ys), lags)
    if abs(r) >= 1.0 or not (lrv_null > 0.0 and lrv_psi > 0.0):
        # an exact linear relation (or a degenerate sample): nothing left to test
        exact = abs(r) >= 1.0
        p = 0.0 if exact else math.nan
        t = math.copysign(math.inf, r) if exact else math.nan
        return RobustCorrelation(r, n, 0.0, t, p, r, r, math.inf, lags, exact)
    se_null = math.sqrt(lrv_null / n)
    se_z = math.sqrt(lrv_psi / n) / (1.0 - r * r)
    t = r / se_null
    n_eff = 1.0 / (se_z * se_z)
    if n_eff < opts.min_effective:
        return RobustCorrelation(r, n, se_null, t, math.nan, math.nan, math.nan, n_eff, lags, False)
    z = math.atanh(r)
    half = z_critical(opts.alpha) * se_z
    return RobustCorrelation(
        r,
        n,
        se_null,
        t,
        _p_value(t, alternative),
        math.tanh(z - half),
        math.tanh(z + half),
        n_eff,
        lags,
        True,
    )


def average_ranks(a: FloatArray) -> FloatArray:
    """1-based ranks, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return (upper - 0.5 * (counts - 1))[inverse].astype(np.float64)


def robust_spearman(
    x: FloatArray, y: FloatArray, opts: InferenceOptions, alternative: Alternative = "two-sided"
) -> RobustCorrelation:
    """Spearman's rho (Pearson of average ranks) with the same HAC inference on the ranks.

    Ranks cap the tails but not the common volatility: a wild day still fills the extreme
    ranks of both legs, so the rank cross-products need the robust variance too.
    """
    return robust_correlation(average_ranks(x), average_ranks(y), opts, alternative)


@dataclass(frozen=True)
class RobustSlope:
    """OLS ``y = intercept + slope x`` with a HAC (Newey-West) standard error of the slope."""

    intercept: float
    slope: float
    se: float
    t_stat: float
    p_value: float  # two-sided, H0: slope 0; NaN when not reliable
    r2: float
    n: int
    n_eff: float  # n * classical variance / HAC variance of the slope
    reliable: bool


def robust_regression(x: FloatArray, y: FloatArray, opts: InferenceOptions) -> RobustSlope:
    """Least squares with the Newey-West (1987) sandwich for the slope.

    By Frisch-Waugh the slope's variance is ``sum_t,s w_|t-s| g_t g_s / Sxx^2`` with
    ``g_t = (x_t - mean x) * residual_t``: the HAC long-run variance of ``g`` times n.
    """
    n = int(x.size)
    xd = x - x.mean()
    sxx = float(xd @ xd)
    if n < 4 or not sxx > 0.0:
        nan = math.nan
        return RobustSlope(float(y.mean()) if n else nan, nan, nan, nan, nan, nan, n, nan, False)
    yd = y - y.mean()
    slope = float(xd @ yd) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    resid = yd - slope * xd
    sse = float(resid @ resid)
    sst = float(yd @ yd)
    var_hac = n * long_run_variance(xd * resid, bandwidth(n, opts.bandwidth)) / (sxx * sxx)
    var_classical = sse / (n - 2) / sxx
    r2 = 1.0 - sse / sst if sst > 0.0 else math.nan
    if not var_hac > 0.0:  # a perfect fit
        return RobustSlope(intercept, slope, 0.0, math.inf, 0.0, r2, n, math.inf, True)
    se = math.sqrt(var_hac)
    t = slope / se
    n_eff = n * var_classical / var_hac
    reliable = n_eff >= opts.min_effective
    p = _p_value(t, "two-sided") if reliable else math.nan
    return RobustSlope(intercept, slope, se, t, p, r2, n, n_eff, reliable)


@dataclass(frozen=True)
class RobustMean:
    """The mean of a series with a HAC t-statistic against 0."""

    mean: float
    t_stat: float
    p_value: float  # NaN when not reliable
    n: int
    n_eff: float  # n * variance / long-run variance (autocorrelation alone lowers it)
    reliable: bool


def robust_mean(f: FloatArray, opts: InferenceOptions, alternative: Alternative) -> RobustMean:
    """HAC t-test of ``E f = 0`` (the Diebold-Mariano / Clark-West form)."""
    n = int(f.size)
    if n < 4:
        return RobustMean(math.nan, math.nan, math.nan, n, math.nan, False)
    mean = float(f.mean())
    u = f - mean
    var = float(u @ u) / n
    lrv = long_run_variance(u, bandwidth(n, opts.bandwidth))
    if not lrv > 0.0:
        return RobustMean(mean, math.nan, math.nan, n, math.nan, False)
    t = mean / math.sqrt(lrv / n)
    n_eff = n * var / lrv
    reliable = n_eff >= opts.min_effective
    p = _p_value(t, alternative) if reliable else math.nan
    return RobustMean(mean, t, p, n, n_eff, reliable)
