"""The result row of :func:`~ib_futures.analysis.pipeline.analyse_pair`, one block of columns at a time.

Each ``*_columns`` function turns the prepared :class:`PairInputs` into one block of the flat
results row (the ``futures_analysis`` columns, :mod:`ib_futures.analysis.results`), in the
row's column order. The pipeline calls them in order and merges the dicts; a block that needs
enough paired returns is told so (``enough``) and then fills its figures with ``None``, never 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ib_futures.analysis.basis import basis_stats
from ib_futures.analysis.config import ANALYSIS_VERSION, AnalysisSettings, pair_name
from ib_futures.analysis.correlation import (
    correlation_summary,
    daily_correlation,
    rolling_correlation,
)
from ib_futures.analysis.leadlag import lead_lag
from ib_futures.analysis.overnight import overnight_samples
from ib_futures.analysis.predictive import PredictiveResult, evaluate
from ib_futures.analysis.stats import as_float

if TYPE_CHECKING:
    import polars as pl
    from numpy.typing import NDArray

    from ib_futures.analysis.data_coverage import LegCoverage
    from ib_futures.analysis.returns import FloatArray, IntArray, PairReturns

OK = "ok"
INSUFFICIENT = "insufficient_data"
#: chart series stored in the row are thinned to at most this many points
MAX_SERIES_POINTS = 2000


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.8g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    if isinstance(value, np.generic):
        return _round(value.item())
    return value


def to_json(value: Any) -> str:
    """Compact JSON with floats at 8 significant digits and NaN as null."""
    return json.dumps(_round(value), separators=(",", ":"))


def _thin(n: int) -> np.ndarray:
    """Indices of at most MAX_SERIES_POINTS evenly spread points of a series of length n."""
    if n <= MAX_SERIES_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_SERIES_POINTS).astype(np.int64))


def _iso(ts: np.ndarray) -> list[str]:
    """Naive-UTC datetime64 values as ISO strings with a ``Z``."""
    return [f"{s}Z" for s in np.datetime_as_string(ts, unit="s")]


@dataclass(frozen=True)
class PairInputs:
    """One pair's prepared data for one window: what every column block reads."""

    #: normalised snapshot rows of both legs (live rows only when ``cfg.live_only``)
    prices: pl.DataFrame
    futures_symbol: str
    etf_symbol: str
    window_start: datetime
    window_end: datetime
    #: start of the daily (overnight) model's history (:func:`pipeline.daily_window_start`)
    daily_start: datetime
    cfg: AnalysisSettings
    returns: PairReturns
    fut_cov: LegCoverage
    etf_cov: LegCoverage
    #: rows per symbol in the window that are not live (counted before ``live_only`` drops them)
    non_live: dict[str, int]
    #: same-slot paired returns (:meth:`PairReturns.paired`)
    fut: FloatArray
    etf: FloatArray
    ts: NDArray[np.datetime64]
    day: IntArray

    @property
    def n_pairs(self) -> int:
        return int(self.fut.size)

    def non_live_left_out(self, cov: LegCoverage) -> int:
        """The leg's non-live rows the analysis left out (none are when ``live_only`` is off)."""
        return int(self.non_live.get(cov.symbol, 0)) if self.cfg.live_only else 0


def header_columns(inp: PairInputs, week_end: str, computed_at: datetime | None) -> dict[str, Any]:
    """Which pair, which window, when and with which settings; the number of paired returns."""
    return {
        "week_end": week_end,
        "pair": pair_name(inp.futures_symbol, inp.etf_symbol),
        "futures_symbol": inp.futures_symbol,
        "etf_symbol": inp.etf_symbol,
        "window_start": inp.window_start.astimezone(UTC).isoformat(),
        "window_end": inp.window_end.astimezone(UTC).isoformat(),
        "daily_window_start": inp.daily_start.astimezone(UTC).isoformat(),
        "computed_at": (computed_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "analysis_version": ANALYSIS_VERSION,
        "config_json": to_json(inp.cfg.tunables()),
        "n_pairs": inp.n_pairs,
    }


def coverage_columns(inp: PairInputs) -> dict[str, Any]:
    """Per leg (``fut_``/``etf_``): expected, present and missing slots, gaps; the gap list."""
    cols: dict[str, Any] = {}
    for prefix, cov in (("fut", inp.fut_cov), ("etf", inp.etf_cov)):
        cols.update(
            {
                f"{prefix}_non_live": inp.non_live_left_out(cov),
                f"{prefix}_expected": cov.expected,
                f"{prefix}_present": cov.present,
                f"{prefix}_missing": cov.missing,
                f"{prefix}_unexpected": cov.unexpected,
                f"{prefix}_returns": cov.returns,
                f"{prefix}_gap_count": cov.gap_count,
            }
        )
    cols["gaps_json"] = to_json(
        {inp.futures_symbol: inp.fut_cov.gaps, inp.etf_symbol: inp.etf_cov.gaps}
    )
    return cols


def basis_columns(inp: PairInputs) -> dict[str, Any]:
    """The futures/ETF basis: its level, spread and mean reversion, and the thinned series."""
    basis = basis_stats(inp.returns.futures, inp.returns.etf)
    keep = _thin(basis.bp.size)
    return {
        "basis_n": basis.n,
        "basis_ratio_mean": as_float(basis.ratio_mean),
        "basis_std_bp": as_float(basis.std_bp),
        "basis_min_bp": as_float(basis.min_bp),
        "basis_max_bp": as_float(basis.max_bp),
        "basis_ar1": as_float(basis.ar1),
        "basis_half_life_slots": as_float(basis.half_life_slots),
        "basis_contracts": ",".join(basis.contracts) or None,
        "basis_json": to_json({"at": _iso(basis.ts[keep]), "bp": basis.bp[keep].tolist()}),
    }


def _insufficiency_reasons(inp: PairInputs) -> list[str]:
    """Why the return statistics cannot be computed (empty when they can)."""
    cfg, fut_cov, etf_cov = inp.cfg, inp.fut_cov, inp.etf_cov
    reasons: list[str] = []
    if inp.n_pairs < cfg.min_observations:
        left_out = inp.non_live_left_out(fut_cov) + inp.non_live_left_out(etf_cov)
        reasons.append(
            f"{inp.n_pairs} paired 5-minute returns (need >= {cfg.min_observations}); "
            f"{inp.futures_symbol} {fut_cov.present}/{fut_cov.expected} slots, "
            f"{inp.etf_symbol} {etf_cov.present}/{etf_cov.expected} regular-hours slots present"
            + (f" ({left_out} delayed or frozen rows left out)" if left_out else "")
        )
    elif not (np.std(inp.fut) > 0.0 and np.std(inp.etf) > 0.0):
        reasons.append("returns have no variance (frozen or stale quotes?)")
    return reasons


def status_columns(inp: PairInputs) -> dict[str, Any]:
    """``status`` (``ok`` or ``insufficient_data``) and ``reason`` (None when ok)."""
    reasons = _insufficiency_reasons(inp)
    return {"status": INSUFFICIENT if reasons else OK, "reason": "; ".join(reasons) or None}


def correlation_columns(inp: PairInputs, enough: bool) -> dict[str, Any]:
    """Same-slot Pearson/Spearman with intervals, the rolling and the per-day correlation."""
    fut, etf, cfg = inp.fut, inp.etf, inp.cfg
    corr = correlation_summary(fut, etf, cfg.alpha) if enough else None
    rolling = rolling_correlation(fut, etf, cfg.rolling_window) if enough else np.empty(0)
    finite_roll = rolling[np.isfinite(rolling)]
    sel = np.flatnonzero(np.isfinite(rolling))
    sel = sel[_thin(sel.size)]
    daily = daily_correlation(fut, etf, inp.day) if enough else []
    return {
        "pearson_r": as_float(corr.pearson.r) if corr else None,
        "pearson_p": as_float(corr.pearson.p_value) if corr else None,
        "pearson_ci_low": as_float(corr.pearson.ci_low) if corr else None,
        "pearson_ci_high": as_float(corr.pearson.ci_high) if corr else None,
        "spearman_rho": as_float(corr.spearman.r) if corr else None,
        "spearman_p": as_float(corr.spearman.p_value) if corr else None,
        "spearman_ci_low": as_float(corr.spearman.ci_low) if corr else None,
        "spearman_ci_high": as_float(corr.spearman.ci_high) if corr else None,
        "rolling_window": cfg.rolling_window,
        "rolling_corr_min": as_float(np.min(finite_roll)) if finite_roll.size else None,
        "rolling_corr_median": as_float(np.median(finite_roll)) if finite_roll.size else None,
        "rolling_corr_max": as_float(np.max(finite_roll)) if finite_roll.size else None,
        "rolling_corr_json": (
            to_json({"at": _iso(inp.ts[sel]), "r": rolling[sel].tolist()}) if enough else None
        ),
        "daily_corr_json": (
            to_json([{"date": str(np.datetime64(d, "D")), "n": n, "r": r} for d, n, r in daily])
            if enough
            else None
        ),
    }


def lead_lag_columns(inp: PairInputs, enough: bool) -> dict[str, Any]:
    """Cross-correlation over +-``max_lag_slots``: its peak, the best futures lead, the profile."""
    cfg = inp.cfg
    ll = lead_lag(inp.returns, cfg.max_lag_slots, cfg.alpha) if enough else None
    if ll is None:
        profile_json = None
    else:
        profile_json = to_json(
            {
                "lag": [p.lag for p in ll.profile],
                "r": [p.r for p in ll.profile],
                "n": [p.n for p in ll.profile],
                "p": [p.p_value for p in ll.profile],
            }
        )
    return {
        "xcorr_max_lag": cfg.max_lag_slots,
        "xcorr_peak_lag": ll.peak.lag if ll else None,
        "xcorr_peak_r": as_float(ll.peak.r) if ll else None,
        "xcorr_peak_n": ll.peak.n if ll else None,
        "xcorr_peak_p": as_float(ll.peak.p_value) if ll else None,
        "xcorr_peak_p_bonferroni": as_float(ll.peak_p_bonferroni) if ll else None,
        "xcorr_band": as_float(ll.band) if ll else None,
        "xcorr_band_bonferroni": as_float(ll.band_bonferroni) if ll else None,
        "xcorr_significant": ll.significant if ll else None,
        "lead_lag": ll.lead.lag if ll else None,
        "lead_r": as_float(ll.lead.r) if ll else None,
        "lead_p": as_float(ll.lead.p_value) if ll else None,
        "lead_p_bonferroni": as_float(ll.lead_p_bonferroni) if ll else None,
        "lag_profile_json": profile_json,
    }


def _predictive_columns(prefix: str, res: PredictiveResult) -> dict[str, Any]:
    cols: dict[str, Any] = {
        f"{prefix}_status": res.status,
        f"{prefix}_reason": res.reason,
        f"{prefix}_n_samples": res.n_samples,
        f"{prefix}_n_oos": res.n_oos,
        f"{prefix}_folds": res.folds,
        f"{prefix}_hit_n": res.hit_n,
    }
    for name in (
        "hit_rate",
        "base_rate",
        "hit_p",
        "ic",
        "ic_p",
        "mz_slope",
        "mz_t",
        "mz_p",
        "mz_r2",
        "r2_oos",
        "model_slope",
    ):
        cols[f"{prefix}_{name}"] = as_float(getattr(res, name))
    return cols


def _oos_json(res: PredictiveResult, labels: list[str]) -> str | None:
    walk = res.walk
    if res.status != OK or walk is None:
        return None
    keep = _thin(walk.pred.size)
    return to_json(
        {
            "at": [labels[i] for i in walk.index[keep]],
            "pred": walk.pred[keep].tolist(),
            "real": walk.real[keep].tolist(),
        }
    )


def next_slot_columns(inp: PairInputs, enough: bool, reason: str | None) -> dict[str, Any]:
    """Predictive value of the previous slot(s) of futures for the ETF's next slot.

    :param reason: the row's ``reason``; without enough paired returns the model is not run and
        its status repeats it.
    """
    cfg, pr = inp.cfg, inp.returns
    signal = pr.futures_signal(cfg.signal_slots)
    labels = _iso(pr.etf_ts)
    if enough:
        next_slot = evaluate(
            signal,
            pr.etf_ret,
            pr.etf_day,
            min_train=cfg.min_train_pairs,
            min_oos=cfg.min_oos,
            what="next slot",
        )
    else:
        next_slot = PredictiveResult(INSUFFICIENT, reason, inp.n_pairs, 0, 0)
    # evaluate() drops samples without a signal or a return, and the walk's indices count the
    # rest: label exactly those
    ok = np.isfinite(signal) & np.isfinite(pr.etf_ret)
    return {
        "next_slot_signal_slots": cfg.signal_slots,
        **_predictive_columns("next_slot", next_slot),
        "next_slot_oos_json": _oos_json(next_slot, [labels[i] for i in np.flatnonzero(ok)]),
    }


def open_close_columns(inp: PairInputs) -> dict[str, Any]:
    """Predictive value of the overnight futures change for the ETF's open-to-close return.

    Runs on the daily history from ``daily_start``, whatever the window's status: the model has
    its own minimum number of days.
    """
    import polars as pl

    cfg = inp.cfg
    daily = overnight_samples(
        inp.prices, inp.futures_symbol, inp.etf_symbol, inp.daily_start, inp.window_end
    )
    usable = daily.drop_nulls(["overnight", "open_close"])
    open_close = evaluate(
        usable["overnight"].to_numpy().astype(np.float64),
        usable["open_close"].to_numpy().astype(np.float64),
        usable["session_date"].cast(pl.Int64).to_numpy().astype(np.int64),
        min_train=cfg.min_train_days,
        min_oos=cfg.min_oos_days,
        what="open to close",
    )
    return {
        "open_close_days": daily.height,
        **_predictive_columns("open_close", open_close),
        "open_close_oos_json": _oos_json(
            open_close, [d.isoformat() for d in usable["session_date"].to_list()]
        ),
    }
