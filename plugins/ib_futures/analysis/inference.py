"""Tests that hold when volatility moves: every standard error here is a HAC long-run variance.

Why: five-minute returns of a future and of its ETF share their volatility (high at the open
and close, calm and wild days, clusters). Then, with no correlation at all, the cross-product
``x_t * y_t`` has a variance ``E[s_t^4] / E[s_t^2]^2`` times larger than the i.i.d. formulas
assume, and they call noise significant (docs/analysis.md, "Inference"). Each statistic is
therefore studentised by a heteroskedasticity- and autocorrelation-consistent (HAC) long-run
variance of its own score series: the Bartlett kernel of Newey and West (1987) with the
automatic bandwidth of Andrews (1991), as Dalla, Giraitis and Phillips (2022) studentise
cross-correlations (they assume uncorrelated legs; the HAC also covers autocorrelated ones).

Tests use the variance under their null hypothesis (the score, or LM, form): evaluated at the
estimate instead, the variance shrinks exactly when the estimate is large by chance, and the
calibration weeks rejected too often. Intervals use the variance at the estimate.

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
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from ib_futures.analysis.stats import dot

if TYPE_CHECKING:
    from ib_futures.core.config_sections import AnalysisSettings

FloatArray = NDArray[np.float64]
Alternative = Literal["two-sided", "greater"]

#: named in the result rows and in every significance statement of the summary
METHOD = "HAC (Bartlett kernel, Andrews automatic bandwidth)"

#: Andrews (1991, eq. 6.4) for the Bartlett kernel: S = 1.1447 (alpha(1) n)^(1/3)
_ANDREWS_BARTLETT = 1.1447
#: the AR(1) coefficient of the plug-in is capped, as is usual, so a near-unit root in a week
#: of data cannot ask for a bandwidth longer than the sample
_MAX_RHO = 0.97


@dataclass(frozen=True)
class InferenceOptions:
    """How sure a test must be, and when it is too unsure to report (the ``analysis`` settings
    ``alpha``, ``min_effective_observations`` and ``hac_bandwidth``)."""

    alpha: float = 0.05
    min_effective: float = 30.0
    #: fixed number of HAC lags (Newey-West); None: Andrews' automatic bandwidth per test
    bandwidth: int | None = None

    @classmethod
    def from_settings(cls, cfg: AnalysisSettings) -> InferenceOptions:
        return cls(cfg.alpha, float(cfg.min_effective_observations), cfg.hac_bandwidth)


def bartlett_bandwidth(u: FloatArray, fixed: int | None = None) -> float:
    """The Bartlett bandwidth ``S`` for a mean-zero series: lag ``j`` gets weight ``1 - j/S``.

    ``fixed`` lags ``L`` give ``S = L + 1`` (Newey and West 1987). Otherwise Andrews' (1991)
    AR(1) plug-in: ``alpha = 4 rho^2 / ((1 - rho)^2 (1 + rho)^2)`` with ``rho`` the lag-1
    autocorrelation of ``u``, ``S = 1.1447 (alpha n)^(1/3)``: scores without autocorrelation
    (as under most nulls here) get almost no lags, and so no extra noise in their variance.
    """
    n = int(u.size)
    if fixed is not None:
        return float(max(0, min(fixed, n - 1)) + 1)
    denom = dot(u, u)
    if n < 3 or not denom > 0.0:
        return 0.0
    rho = min(max(dot(u[1:], u[:-1]) / denom, -_MAX_RHO), _MAX_RHO)
    alpha = 4.0 * rho * rho / ((1.0 - rho) ** 2 * (1.0 + rho) ** 2)
    return min(_ANDREWS_BARTLETT * (alpha * n) ** (1.0 / 3.0), float(n - 1))


def long_run_variance(u: FloatArray, fixed: int | None = None) -> float:
    """Bartlett-weighted long-run variance per observation of a mean-zero series.

    ``(1/n) [sum u_t^2 + 2 sum_{0<j<S} (1 - j/S) sum_t u_t u_{t-j}]`` with ``S`` from
    :func:`bartlett_bandwidth`; the Bartlett weights keep it non-negative (Newey and West 1987).
    """
    n = u.size
    if n == 0:
        return math.nan
    band = bartlett_bandwidth(u, fixed)
    total = dot(u, u)
    for j in range(1, min(math.ceil(band), n)):
        total += 2.0 * (1.0 - j / band) * dot(u[j:], u[:-j])
    return total / n


def _p_value(t: float, alternative: Alternative) -> float:
    """Normal tail probability of ``t``. The standard library's erfc and NormalDist are exact
    to double precision here, and leaving scipy out of the analysis saves its import (~0.3 s,
    scipy.stats ~0.8 s) in every cold task process."""
    if math.isnan(t):
        return math.nan
    if alternative == "greater":
        return 0.5 * math.erfc(t / math.sqrt(2.0))
    return math.erfc(abs(t) / math.sqrt(2.0))


def z_critical(alpha: float) -> float:
    """``z_{1 - alpha/2}``: the two-sided normal critical value."""
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


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
    reliable: bool

    def band(self, alpha: float) -> float:
        """|r| beyond which this correlation is significant at ``alpha`` (two-sided)."""
        return z_critical(alpha) * self.se_null


_NAN_CORRELATION = RobustCorrelation(
    math.nan, 0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, False
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
    sx = math.sqrt(dot(xd, xd) / n)
    sy = math.sqrt(dot(yd, yd) / n)
    if not (sx > 0.0 and sy > 0.0):
        return _NAN_CORRELATION
    xs = xd / sx
    ys = yd / sy
    u = xs * ys
    r = min(max(float(u.sum()) / n, -1.0), 1.0)
    lrv_null = long_run_variance(u - r, opts.bandwidth)
    lrv_psi = long_run_variance(u - 0.5 * r * (xs * xs + ys * ys), opts.bandwidth)
    exact = 1.0 - abs(r) < 1e-12
    if exact or not (lrv_null > 0.0 and lrv_psi > 0.0):
        # an exact linear relation (or a degenerate sample): nothing left to test
        p = 0.0 if exact else math.nan
        t = math.copysign(math.inf, r) if exact else math.nan
        return RobustCorrelation(r, n, 0.0, t, p, r, r, math.inf, exact)
    se_null = math.sqrt(lrv_null / n)
    se_z = math.sqrt(lrv_psi / n) / (1.0 - r * r)
    t = r / se_null
    n_eff = 1.0 / (se_z * se_z)
    if n_eff < opts.min_effective:
        return RobustCorrelation(r, n, se_null, t, math.nan, math.nan, math.nan, n_eff, False)
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
    """OLS ``y = intercept + slope x`` with a HAC t-test of ``slope = 0``."""

    intercept: float
    slope: float
    t_stat: float
    p_value: float  # two-sided, H0: slope 0; NaN when not reliable
    r2: float
    n: int
    n_eff: float  # n * classical variance / HAC variance of the slope, under H0
    reliable: bool


def robust_regression(x: FloatArray, y: FloatArray, opts: InferenceOptions) -> RobustSlope:
    """Least squares, and the slope's HAC t-test in the score (LM) form.

    By Frisch-Waugh the slope's variance is the long-run variance of ``(x_t - mean x) u_t``
    times ``n / Sxx^2``; under H0 (slope 0) the residual ``u_t`` is ``y_t - mean y``
    (Newey and West 1987 with the null imposed). The residuals of the fit would understate the
    variance in small samples where a few large predictions carry the fit.
    """
    n = int(x.size)
    xd = x - x.mean()
    sxx = dot(xd, xd)
    nan = math.nan
    if n < 4 or not sxx > 0.0:
        return RobustSlope(float(y.mean()) if n else nan, nan, nan, nan, nan, n, nan, False)
    yd = y - y.mean()
    sst = dot(yd, yd)
    slope = dot(xd, yd) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    resid = yd - slope * xd
    r2 = 1.0 - dot(resid, resid) / sst if sst > 0.0 else nan
    score = xd * yd
    lrv = long_run_variance(score - score.mean(), opts.bandwidth)
    if not lrv > 0.0:
        return RobustSlope(intercept, slope, nan, nan, r2, n, nan, False)
    t = slope * sxx / math.sqrt(n * lrv)
    # classical variance of the slope under H0: var(y) / Sxx
    n_eff = n * (sst / (n - 1)) * sxx / (n * lrv)
    reliable = n_eff >= opts.min_effective
    p = _p_value(t, "two-sided") if reliable else nan
    return RobustSlope(intercept, slope, t, p, r2, n, n_eff, reliable)


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
    var = dot(u, u) / n
    lrv = long_run_variance(u, opts.bandwidth)
    if not lrv > 0.0:
        return RobustMean(mean, math.nan, math.nan, n, math.nan, False)
    t = mean / math.sqrt(lrv / n)
    n_eff = n * var / lrv
    reliable = n_eff >= opts.min_effective
    p = _p_value(t, alternative) if reliable else math.nan
    return RobustMean(mean, t, p, n, n_eff, reliable)
