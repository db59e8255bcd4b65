"""One pair, one window: prices in, one flat result row out (plus chart series as JSON).

:func:`analyse_pair` is pure (a polars frame in, a JSON-serialisable dict out); :func:`run_pair`
adds the lake read. The row's keys are the columns of the ``futures_analysis`` table
(:mod:`ib_futures.analysis.results`). Figures that cannot be computed are ``None``, never 0, and
``status``/``reason`` say why.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ib_futures.analysis.basis import basis_stats
from ib_futures.analysis.config import ANALYSIS_VERSION, AnalysisConfig, pair_name
from ib_futures.analysis.correlation import (
    correlation_summary,
    daily_correlation,
    rolling_correlation,
)
from ib_futures.analysis.data_coverage import leg_coverage
from ib_futures.analysis.leadlag import lead_lag
from ib_futures.analysis.overnight import overnight_samples
from ib_futures.analysis.predictive import PredictiveResult, evaluate
from ib_futures.analysis.returns import align_pair, normalise_prices
from ib_futures.analysis.slots import etf_sessions, exchange_date
from ib_futures.analysis.stats import as_float
from ib_futures.analysis.summary import summarise

if TYPE_CHECKING:
    import polars as pl

OK = "ok"
INSUFFICIENT = "insufficient_data"
#: chart series stored in the row are thinned to at most this many points
MAX_SERIES_POINTS = 2000


def week_end_of(window_start: datetime, window_end: datetime) -> str:
    """The key of a weekly result: the trade date of the last NYSE session that opens inside
    the window (the Friday for a Saturday-morning run), else the New York date of the window's
    last instant."""
    sessions = [s for s in etf_sessions(window_start, window_end) if s.open >= window_start]
    if sessions:
        return sessions[-1].trade_date.isoformat()
    return exchange_date(window_end - timedelta(microseconds=1)).isoformat()


def daily_window_start(
    window_start: datetime, window_end: datetime, config: AnalysisConfig
) -> datetime:
    """Start of the history the daily (overnight) model uses: never later than the window's."""
    return min(window_start, window_end - timedelta(days=config.daily_lookback_days))


#: the daily model's first session needs the previous session's last slot: read this much more
#: (a weekend plus a holiday is at most four days between sessions)
PREVIOUS_SESSION_MARGIN = timedelta(days=5)


def read_window_start(
    window_start: datetime, window_end: datetime, config: AnalysisConfig
) -> datetime:
    """Where the prices handed to :func:`analyse_pair` should start."""
    return daily_window_start(window_start, window_end, config) - PREVIOUS_SESSION_MARGIN


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


def analyse_pair(
    prices: pl.DataFrame,
    futures_symbol: str,
    etf_symbol: str,
    window_start: datetime,
    window_end: datetime,
    config: AnalysisConfig | None = None,
    *,
    computed_at: datetime | None = None,
) -> dict[str, Any]:
    """All figures for one pair over ``[window_start, window_end)``.

    :param prices: snapshot rows of both legs (record layout, or already normalised) covering
        at least ``[read_window_start(...), window_end)``; extra rows are ignored.
    :return: one flat, JSON-serialisable results row (see docs/analysis.md for every key).
    """
    import polars as pl

    cfg = config or AnalysisConfig()
    if window_end <= window_start:
        raise ValueError(f"empty window [{window_start}, {window_end})")
    if "contract" not in prices.columns or "market_data_type" not in prices.columns:
        prices = normalise_prices(prices)
    daily_start = daily_window_start(window_start, window_end, cfg)
    in_window_expr = (pl.col("bucket_ts") >= window_start) & (pl.col("bucket_ts") < window_end)
    live = pl.col("market_data_type").is_null() | (pl.col("market_data_type") == 1)
    non_live = dict(prices.filter(in_window_expr & ~live).group_by("symbol").len().iter_rows())
    if cfg.live_only:
        prices = prices.filter(live)
    pr = align_pair(prices, futures_symbol, etf_symbol, window_start, window_end)

    in_window = prices.filter(in_window_expr)
    fut_cov = leg_coverage(
        futures_symbol,
        in_window.filter(pl.col("symbol") == futures_symbol),
        pr.futures_expected,
        pr.futures,
    )
    etf_cov = leg_coverage(
        etf_symbol, in_window.filter(pl.col("symbol") == etf_symbol), pr.etf_expected, pr.etf
    )
    fut, etf, ts, day = pr.paired()
    n_pairs = int(fut.size)

    row: dict[str, Any] = {
        "week_end": week_end_of(window_start, window_end),
        "pair": pair_name(futures_symbol, etf_symbol),
        "futures_symbol": futures_symbol,
        "etf_symbol": etf_symbol,
        "window_start": window_start.astimezone(UTC).isoformat(),
        "window_end": window_end.astimezone(UTC).isoformat(),
        "daily_window_start": daily_start.astimezone(UTC).isoformat(),
        "computed_at": (computed_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "analysis_version": ANALYSIS_VERSION,
        "config_json": to_json(cfg.as_dict()),
        "n_pairs": n_pairs,
    }
    for prefix, cov in (("fut", fut_cov), ("etf", etf_cov)):
        row.update(
            {
                f"{prefix}_non_live": int(non_live.get(cov.symbol, 0)) if cfg.live_only else 0,
                f"{prefix}_expected": cov.expected,
                f"{prefix}_present": cov.present,
                f"{prefix}_missing": cov.missing,
                f"{prefix}_unexpected": cov.unexpected,
                f"{prefix}_returns": cov.returns,
                f"{prefix}_gap_count": cov.gap_count,
            }
        )
    row["gaps_json"] = to_json({futures_symbol: fut_cov.gaps, etf_symbol: etf_cov.gaps})

    basis = basis_stats(pr.futures, pr.etf)
    keep = _thin(basis.bp.size)
    row.update(
        {
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
    )

    reasons: list[str] = []
    if n_pairs < cfg.min_pairs:
        reasons.append(
            f"{n_pairs} paired 5-minute returns (need >= {cfg.min_pairs}); "
            f"{futures_symbol} {fut_cov.present}/{fut_cov.expected} slots, "
            f"{etf_symbol} {etf_cov.present}/{etf_cov.expected} regular-hours slots present"
            + (
                f" ({row['fut_non_live'] + row['etf_non_live']} delayed or frozen rows left out)"
                if row["fut_non_live"] + row["etf_non_live"]
                else ""
            )
        )
    elif not (np.std(fut) > 0.0 and np.std(etf) > 0.0):
        reasons.append("returns have no variance (frozen or stale quotes?)")
    row["status"] = INSUFFICIENT if reasons else OK
    row["reason"] = "; ".join(reasons) or None
    enough = not reasons

    # -- same-slot correlation --------------------------------------------------------------
    corr = correlation_summary(fut, etf, cfg.alpha) if enough else None
    rolling = rolling_correlation(fut, etf, cfg.rolling_window) if enough else np.empty(0)
    finite_roll = rolling[np.isfinite(rolling)]
    row.update(
        {
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
        }
    )
    sel = np.flatnonzero(np.isfinite(rolling))
    sel = sel[_thin(sel.size)]
    row["rolling_corr_json"] = (
        to_json({"at": _iso(ts[sel]), "r": rolling[sel].tolist()}) if enough else None
    )
    row["daily_corr_json"] = (
        to_json(
            [
                {"date": str(np.datetime64(d, "D")), "n": n, "r": r}
                for d, n, r in daily_correlation(fut, etf, day)
            ]
        )
        if enough
        else None
    )

    # -- lead-lag ---------------------------------------------------------------------------
    ll = lead_lag(pr, cfg.max_lag, cfg.alpha) if enough else None
    row.update(
        {
            "xcorr_max_lag": cfg.max_lag,
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
            "lag_profile_json": to_json(
                {
                    "lag": [p.lag for p in ll.profile],
                    "r": [p.r for p in ll.profile],
                    "n": [p.n for p in ll.profile],
                    "p": [p.p_value for p in ll.profile],
                }
            )
            if ll
            else None,
        }
    )

    # -- predictive value: previous slot(s) -> ETF next slot ---------------------------------
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
        next_slot = PredictiveResult(INSUFFICIENT, row["reason"], n_pairs, 0, 0)
    ok = np.isfinite(signal) & np.isfinite(pr.etf_ret)
    row["next_slot_signal_slots"] = cfg.signal_slots
    row.update(_predictive_columns("next_slot", next_slot))
    row["next_slot_oos_json"] = _oos_json(next_slot, [labels[i] for i in np.flatnonzero(ok)])

    # -- predictive value: overnight futures change -> ETF open-to-close ---------------------
    daily = overnight_samples(prices, futures_symbol, etf_symbol, daily_start, window_end)
    usable = daily.drop_nulls(["overnight", "open_close"])
    open_close = evaluate(
        usable["overnight"].to_numpy().astype(np.float64),
        usable["open_close"].to_numpy().astype(np.float64),
        usable["session_date"].cast(pl.Int64).to_numpy().astype(np.int64),
        min_train=cfg.min_train_days,
        min_oos=cfg.min_oos_days,
        what="open to close",
    )
    row["open_close_days"] = daily.height
    row.update(_predictive_columns("open_close", open_close))
    row["open_close_oos_json"] = _oos_json(
        open_close, [d.isoformat() for d in usable["session_date"].to_list()]
    )

    row["summary"] = summarise(row)
    return row


def run_pair(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    window_start: datetime,
    window_end: datetime,
    config: AnalysisConfig | None = None,
    storage_options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Read the pair's prices for the window (and the daily model's history) and analyse."""
    from ib_futures.analysis.source import load_pair_prices

    cfg = config or AnalysisConfig()
    prices = load_pair_prices(
        lake_uri,
        futures_symbol,
        etf_symbol,
        read_window_start(window_start, window_end, cfg),
        window_end,
        storage_options=storage_options,
    )
    return analyse_pair(prices, futures_symbol, etf_symbol, window_start, window_end, cfg)
