"""The result row of :func:`~ib_futures.analysis.pipeline.analyse_pair`, one block of columns at a time.

Each ``*_columns`` function turns the prepared :class:`PairInputs` into one block of the flat
results row (the ``futures_analysis`` columns, :mod:`ib_futures.analysis.results`), in the
row's column order. The pipeline calls them in order and merges the dicts; a block that needs
enough paired returns is told so (``enough``) and then fills its figures with ``None``, never 0.
The predictive models' blocks are in :mod:`.predictive_columns`.
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
from ib_futures.analysis.inference import METHOD, InferenceOptions
from ib_futures.analysis.leadlag import lead_lag
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


def thin_index(n: int) -> np.ndarray:
    """Indices of at most MAX_SERIES_POINTS evenly spread points of a series of length n."""
    if n <= MAX_SERIES_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_SERIES_POINTS).astype(np.int64))


def iso_utc(ts: np.ndarray) -> list[str]:
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

    @property
    def opts(self) -> InferenceOptions:
        return InferenceOptions.from_settings(self.cfg)

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
    for prefix, symbol, leg in (
        ("fut", inp.futures_symbol, inp.returns.futures),
        ("etf", inp.etf_symbol, inp.returns.etf),
    ):
        cols[f"{prefix}_history_share"] = history_share(inp.prices, symbol, leg)
    return cols


def history_share(prices: pl.DataFrame, symbol: str, leg: pl.DataFrame) -> float | None:
    """Share of the leg's slots used (expected slots with a price) whose row came from IB's
    historical bars (``price_source`` hist_*); None when the leg has no slot."""
    import polars as pl

    if leg.is_empty() or "from_history" not in prices.columns:
        return None if leg.is_empty() else 0.0
    used = prices.filter(pl.col("symbol") == symbol).join(
        leg.select("bucket_ts").unique(), on="bucket_ts", how="semi"
    )
    return float(used["from_history"].mean()) if used.height else None  # type: ignore[arg-type]


def basis_columns(inp: PairInputs) -> dict[str, Any]:
    """The futures/ETF basis: its level, spread and mean reversion, and the thinned series."""
    basis = basis_stats(inp.returns.futures, inp.returns.etf)
    keep = thin_index(basis.bp.size)
    return {
        "basis_n": basis.n,
        "basis_ratio_mean": as_float(basis.ratio_mean),
        "basis_std_bp": as_float(basis.std_bp),
        "basis_min_bp": as_float(basis.min_bp),
        "basis_max_bp": as_float(basis.max_bp),
        "basis_ar1": as_float(basis.ar1),
        "basis_half_life_slots": as_float(basis.half_life_slots),
        "basis_contracts": ",".join(basis.contracts) or None,
        "basis_json": to_json({"at": iso_utc(basis.ts[keep]), "bp": basis.bp[keep].tolist()}),
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
    """Same-slot Pearson/Spearman with HAC tests and intervals, the rolling and per-day
    correlation."""
    fut, etf, cfg = inp.fut, inp.etf, inp.cfg
    corr = correlation_summary(fut, etf, inp.opts) if enough else None
    rolling = rolling_correlation(fut, etf, cfg.rolling_window) if enough else np.empty(0)
    finite_roll = rolling[np.isfinite(rolling)]
    sel = np.flatnonzero(np.isfinite(rolling))
    sel = sel[thin_index(sel.size)]
    daily = daily_correlation(fut, etf, inp.day) if enough else []
    cols: dict[str, Any] = {}
    for name in ("pearson", "spearman"):
        est = getattr(corr, name) if corr else None
        cols.update(
            {
                f"{name}_{'r' if name == 'pearson' else 'rho'}": as_float(est.r) if est else None,
                f"{name}_p": as_float(est.p_value) if est else None,
                f"{name}_ci_low": as_float(est.ci_low) if est else None,
                f"{name}_ci_high": as_float(est.ci_high) if est else None,
                f"{name}_n_eff": as_float(est.n_eff) if est else None,
            }
        )
    return {
        **cols,
        "rolling_window": cfg.rolling_window,
        "rolling_corr_min": as_float(np.min(finite_roll)) if finite_roll.size else None,
        "rolling_corr_median": as_float(np.median(finite_roll)) if finite_roll.size else None,
        "rolling_corr_max": as_float(np.max(finite_roll)) if finite_roll.size else None,
        "rolling_corr_json": (
            to_json({"at": iso_utc(inp.ts[sel]), "r": rolling[sel].tolist()}) if enough else None
        ),
        "daily_corr_json": (
            to_json([{"date": str(np.datetime64(d, "D")), "n": n, "r": r} for d, n, r in daily])
            if enough
            else None
        ),
    }


def lead_lag_columns(inp: PairInputs, enough: bool) -> dict[str, Any]:
    """Cross-correlation over +-``max_lag_slots``: its peak, the best futures lead, the profile
    (with each lag's HAC p-value, effective observations and bands)."""
    cfg = inp.cfg
    ll = lead_lag(inp.returns, cfg.max_lag_slots, inp.opts) if enough else None
    if ll is None:
        profile_json = None
    else:
        profile_json = to_json(
            {
                "lag": [p.lag for p in ll.profile],
                "r": [p.r for p in ll.profile],
                "n": [p.n for p in ll.profile],
                "p": [p.p_value for p in ll.profile],
                "n_eff": [p.n_eff for p in ll.profile],
                "band": [p.band(ll.z) for p in ll.profile],
                "band_bonferroni": [p.band(ll.z_bonferroni) for p in ll.profile],
            }
        )
    return {
        "xcorr_max_lag": cfg.max_lag_slots,
        "xcorr_peak_lag": ll.peak.lag if ll else None,
        "xcorr_peak_r": as_float(ll.peak.r) if ll else None,
        "xcorr_peak_n": ll.peak.n if ll else None,
        "xcorr_peak_p": as_float(ll.peak.p_value) if ll else None,
        "xcorr_peak_p_bonferroni": as_float(ll.peak_p_bonferroni) if ll else None,
        "xcorr_peak_n_eff": as_float(ll.peak.n_eff) if ll else None,
        "xcorr_band": as_float(ll.band) if ll else None,
        "xcorr_band_bonferroni": as_float(ll.band_bonferroni) if ll else None,
        "xcorr_significant": ll.significant if ll else None,
        "lead_lag": ll.lead.lag if ll else None,
        "lead_r": as_float(ll.lead.r) if ll else None,
        "lead_p": as_float(ll.lead.p_value) if ll else None,
        "lead_p_bonferroni": as_float(ll.lead_p_bonferroni) if ll else None,
        "lead_n_eff": as_float(ll.lead.n_eff) if ll else None,
        "lag_profile_json": profile_json,
    }


#: the tests whose effective observations the row records, as the summary names them
_RELIABILITY = (
    ("same-slot Pearson test", "pearson_n_eff"),
    ("same-slot Spearman test", "spearman_n_eff"),
    ("lead-lag peak test", "xcorr_peak_n_eff"),
    ("strongest-lead test", "lead_n_eff"),
    ("next-slot model tests", "next_slot_n_eff"),
    ("open-to-close model tests", "open_close_n_eff"),
)


def inference_columns(inp: PairInputs, row: dict[str, Any]) -> dict[str, Any]:
    """How the row's tests were made, and which of them report no p-value because their
    robust variance leaves too few effective observations (docs/analysis.md, "Inference")."""
    least = inp.cfg.min_effective_observations
    notes = [
        f"{label}: {row[key]:.0f} effective observations (need >= {least})"
        for label, key in _RELIABILITY
        if row.get(key) is not None and row[key] < least
    ]
    lags = inp.cfg.hac_bandwidth
    how = METHOD if lags is None else f"HAC (Newey-West, Bartlett kernel, {lags} lags)"
    return {
        "inference_method": f"{how}; Bonferroni across lags",
        "unreliable": "; ".join(notes) or None,
    }
