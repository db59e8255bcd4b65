"""Same-slot correlation of futures and ETF 5-minute returns: overall, rolling and per day.

The whole-window figures carry HAC tests and intervals (:mod:`.inference`); the rolling and
per-day correlations are descriptive and carry none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from ib_futures.analysis.inference import (
    InferenceOptions,
    RobustCorrelation,
    robust_correlation,
    robust_spearman,
)
from ib_futures.analysis.stats import FloatArray, pearson_r


@dataclass(frozen=True)
class CorrelationSummary:
    pearson: RobustCorrelation
    spearman: RobustCorrelation


def correlation_summary(
    fut: FloatArray, etf: FloatArray, opts: InferenceOptions
) -> CorrelationSummary:
    """Pearson and Spearman correlation of paired returns (time order), HAC tests and intervals."""
    return CorrelationSummary(robust_correlation(fut, etf, opts), robust_spearman(fut, etf, opts))


def rolling_correlation(fut: FloatArray, etf: FloatArray, window: int) -> FloatArray:
    """Pearson correlation over each run of ``window`` consecutive paired returns.

    Element ``i`` covers pairs ``i - window + 1 .. i`` (time order); the first ``window - 1``
    elements are NaN. The window counts paired returns, not clock time: gaps are skipped.
    """
    out = np.full(fut.size, np.nan)
    if fut.size < window:
        return out
    xs = sliding_window_view(fut, window)
    ys = sliding_window_view(etf, window)
    xd = xs - xs.mean(axis=1, keepdims=True)
    yd = ys - ys.mean(axis=1, keepdims=True)
    num = (xd * yd).sum(axis=1)
    den = np.sqrt((xd * xd).sum(axis=1) * (yd * yd).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[window - 1 :] = np.where(den > 0.0, num / den, np.nan)
    return out


def daily_correlation(
    fut: FloatArray, etf: FloatArray, day: NDArray[np.int64], min_n: int = 10
) -> list[tuple[int, int, float]]:
    """``(day, n, r)`` for each trading day with at least ``min_n`` paired returns."""
    out: list[tuple[int, int, float]] = []
    if day.size == 0:
        return out
    # the arrays are in time order, so each day is one contiguous run
    cuts = np.flatnonzero(np.diff(day)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, day.size], strict=True):
        if hi - lo >= min_n:
            out.append((int(day[lo]), int(hi - lo), pearson_r(fut[lo:hi], etf[lo:hi])))
    return out
