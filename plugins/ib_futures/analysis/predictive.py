"""Out-of-sample predictive value of a futures signal for an ETF return.

Walk-forward with an expanding window, one fold per trading day: the model
``y = a + b * x`` is fitted by OLS on every sample of the *earlier* days only and predicts the
current day's samples. Nothing from the predicted day (or later) enters its fit, so look-ahead
cannot inflate the figures. All figures are computed on the pooled out-of-sample predictions:

* hit rate: share of predictions with the sign of the realised return (zeros on either side
  excluded), against the base rate ``q*p + (1-q)*(1-p)`` that predictions with the same share
  of "up" calls ``q`` would score if they were independent of outcomes with up-share ``p``.
  ``hit rate - base rate = 2 cov(up call, up move)`` exactly, so its test is the one-sided HAC
  test of that correlation: the Pesaran-Timmermann (1992) test with a variance that allows
  serial dependence (Pesaran and Timmermann 2009).
* information coefficient: Spearman correlation of the predicted and the realised move beyond
  the naive forecast (the running training mean, ``bench``), HAC test on the ranks.
* Mincer-Zarnowitz regression of the realised on the predicted move beyond the naive forecast:
  slope (1 = calibrated, 0 = useless), its HAC t-statistic in score form (H0: slope 0), R^2.
* out-of-sample R^2 (Campbell-Thompson): ``1 - SSE(model) / SSE(training mean)``; negative means
  the model predicts worse than the running historical mean. Tested one-sided with the
  Clark-West (2007) MSPE-adjusted statistic and a HAC variance: the plain difference of squared
  errors is biased against the larger model under the null, since it pays for estimating a
  slope that is zero.

Every p-value is NaN when its test has fewer effective observations than the settings ask for
(:mod:`.inference`); ``n_eff`` is the fewest of the four tests'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ib_futures.analysis.inference import (
    InferenceOptions,
    RobustCorrelation,
    RobustMean,
    RobustSlope,
    robust_correlation,
    robust_mean,
    robust_regression,
    robust_spearman,
)
from ib_futures.analysis.stats import FloatArray


@dataclass(frozen=True)
class WalkForward:
    """Pooled out-of-sample predictions in time order."""

    pred: FloatArray
    real: FloatArray
    bench: FloatArray  # the training mean of y when the prediction was made
    index: NDArray[np.int64]  # position of each prediction in the input arrays
    folds: int  # folds predicted
    final_slope: float  # slope of the last fitted model
    final_intercept: float


@dataclass(frozen=True)
class PredictiveResult:
    status: str  # "ok" or "insufficient_data"
    reason: str | None
    n_samples: int
    n_oos: int
    folds: int
    hit_n: int | None = None
    hit_rate: float | None = None
    base_rate: float | None = None
    hit_p: float | None = None
    ic: float | None = None
    ic_p: float | None = None
    mz_slope: float | None = None
    mz_t: float | None = None
    mz_p: float | None = None
    mz_r2: float | None = None
    r2_oos: float | None = None
    r2_oos_p: float | None = None
    #: the smallest effective number of observations among the four tests
    n_eff: float | None = None
    model_slope: float | None = None
    model_intercept: float | None = None
    walk: WalkForward | None = None


def walk_forward(
    x: FloatArray, y: FloatArray, fold: NDArray[np.int64], min_train: int
) -> WalkForward:
    """Expanding-window OLS, refitted before each fold (samples must be in time order).

    A fold is predicted only when at least ``min_train`` samples of earlier folds exist.
    Sums are accumulated fold by fold, so a year of 5-minute data costs one pass.
    """
    preds: list[FloatArray] = []
    benches: list[FloatArray] = []
    indices: list[NDArray[np.int64]] = []
    n = sx = sy = sxx = sxy = 0.0
    slope = intercept = math.nan
    folds = 0
    order = np.arange(x.size, dtype=np.int64)
    for value in np.unique(fold):  # np.unique sorts: folds in time order
        sel = fold == value
        if n >= min_train:
            var = sxx - sx * sx / n
            if var > 0.0:
                slope = (sxy - sx * sy / n) / var
                intercept = sy / n - slope * sx / n
                preds.append(intercept + slope * x[sel])
                benches.append(np.full(int(sel.sum()), sy / n))
                indices.append(order[sel])
                folds += 1
        xs, ys = x[sel], y[sel]
        n += xs.size
        sx += float(xs.sum())
        sy += float(ys.sum())
        sxx += float(xs @ xs)
        sxy += float(xs @ ys)
    if not preds:
        empty = np.empty(0)
        return WalkForward(empty, empty, empty, np.empty(0, np.int64), 0, slope, intercept)
    index = np.concatenate(indices)
    return WalkForward(
        np.concatenate(preds), y[index], np.concatenate(benches), index, folds, slope, intercept
    )


def _score(walk: WalkForward, opts: InferenceOptions) -> dict[str, Any]:
    """Hit rate, IC, Mincer-Zarnowitz and out-of-sample R^2 of the pooled predictions."""
    pred, real = walk.pred, walk.real
    used = (pred != 0.0) & (real != 0.0)
    hit_n = int(used.sum())
    up_call = (pred[used] > 0.0).astype(np.float64)
    up_move = (real[used] > 0.0).astype(np.float64)
    q = float(up_call.mean()) if hit_n else math.nan
    p = float(up_move.mean()) if hit_n else math.nan
    hits = int((up_call == up_move).sum())
    # one-sided: only calling the direction better than chance is skill
    hit = robust_correlation(up_call, up_move, opts, alternative="greater")
    # IC and Mincer-Zarnowitz on the forecast beyond the naive one (the running training mean
    # of y, the benchmark of R^2_oos): pooled over folds, the running mean drifts with the
    # outcomes it has absorbed, which correlates the raw predictions negatively with the
    # realised returns under no skill at all (the open-to-close model rejected 17 % of null
    # samples so). The model's skill is in the difference; both series lose the same level.
    excess_pred = pred - walk.bench
    excess_real = real - walk.bench
    ic = robust_spearman(excess_pred, excess_real, opts)
    mz = robust_regression(excess_pred, excess_real, opts)
    sse_model = float(((real - pred) ** 2).sum())
    sse_bench = float(((real - walk.bench) ** 2).sum())
    # Clark and West (2007): e_bench^2 - (e_model^2 - (bench - pred)^2), mean > 0 under skill
    cw = robust_mean(
        (real - walk.bench) ** 2 - (real - pred) ** 2 + (walk.bench - pred) ** 2,
        opts,
        alternative="greater",
    )
    tests: tuple[RobustCorrelation | RobustSlope | RobustMean, ...] = (hit, ic, mz, cw)
    effective = [t.n_eff for t in tests if not math.isnan(t.n_eff)]
    return {
        "hit_n": hit_n,
        "hit_rate": hits / hit_n if hit_n else math.nan,
        "base_rate": q * p + (1.0 - q) * (1.0 - p),
        "hit_p": hit.p_value,
        "ic": ic.r,
        "ic_p": ic.p_value,
        "mz_slope": mz.slope,
        "mz_t": mz.t_stat,
        "mz_p": mz.p_value,
        "mz_r2": mz.r2,
        "r2_oos": 1.0 - sse_model / sse_bench if sse_bench > 0.0 else math.nan,
        "r2_oos_p": cw.p_value,
        "n_eff": min(effective) if effective else math.nan,
    }


def evaluate(
    x: FloatArray,
    y: FloatArray,
    fold: NDArray[np.int64],
    *,
    min_train: int,
    min_oos: int,
    what: str,
    opts: InferenceOptions,
) -> PredictiveResult:
    """Walk forward and score; fewer than ``min_oos`` predictions -> "insufficient_data"."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, fold = x[ok], y[ok], fold[ok]
    walk = walk_forward(x, y, fold, min_train)
    n_oos = int(walk.pred.size)
    if n_oos < min_oos:
        return PredictiveResult(
            status="insufficient_data",
            reason=(
                f"{what}: {n_oos} out-of-sample predictions from {x.size} samples "
                f"({np.unique(fold).size} days); need >= {min_oos} predictions after "
                f">= {min_train} training samples"
            ),
            n_samples=int(x.size),
            n_oos=n_oos,
            folds=walk.folds,
            walk=walk,
        )
    return PredictiveResult(
        status="ok",
        reason=None,
        n_samples=int(x.size),
        n_oos=n_oos,
        folds=walk.folds,
        model_slope=walk.final_slope,
        model_intercept=walk.final_intercept,
        walk=walk,
        **_score(walk, opts),
    )
