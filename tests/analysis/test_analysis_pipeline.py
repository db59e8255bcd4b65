"""The weekly analysis of one pair on synthetic data with known answers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas_market_calendars as mcal
import polars as pl
import pytest
from scipy import stats

from ib_futures.analysis.config import AnalysisSettings
from ib_futures.analysis.pipeline import analyse_pair
from ib_futures.analysis.synthetic import synthetic_snapshots
from support.analysis_reference import (
    WEEK,
    WINDOW_END,
    calendar_slots,
    correlation_test,
    leg_returns,
    paired,
    walk_forward,
)

ES_SPY = (("ES", "SPY"),)
NO_DAILY = AnalysisSettings(daily_lookback_days=7)


def _run(frame: pl.DataFrame, days: int = 7, config: AnalysisSettings = NO_DAILY) -> dict:
    return analyse_pair(frame, "ES", "SPY", WINDOW_END - timedelta(days=days), WINDOW_END, config)


@pytest.mark.parametrize(
    ("lead", "corr"),
    [
        pytest.param(0, 0.8, id="same-slot"),
        pytest.param(1, 0.8, id="lead-1"),
        pytest.param(3, 0.6, id="lead-3"),
        pytest.param(-2, 0.7, id="etf-leads-2"),
    ],
)
def test_planted_lead_and_correlation_are_recovered(lead: int, corr: float) -> None:
    # eight weeks (~3000 paired returns): the sampling error of r is ~0.01 at these levels
    start = WINDOW_END - 8 * WEEK
    frame = synthetic_snapshots(start, WINDOW_END, pairs=ES_SPY, lead_slots=lead, corr=corr, seed=7)
    row = _run(frame, days=56)
    assert row["status"] == "ok"
    assert row["xcorr_peak_lag"] == lead
    assert abs(row["xcorr_peak_r"] - corr) < 0.03
    assert row["xcorr_significant"] is True
    profile = json.loads(row["lag_profile_json"])
    assert profile["lag"] == list(range(-12, 13))
    if lead == 0:
        assert abs(row["pearson_r"] - corr) < 0.03
        assert row["pearson_ci_low"] < corr < row["pearson_ci_high"]
    if lead > 0:
        assert row["lead_lag"] == lead
        assert row["lead_p_bonferroni"] < 0.001


def test_previous_slot_predicts_next_slot_out_of_sample_when_futures_lead() -> None:
    frame = synthetic_snapshots(
        WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, lead_slots=1, corr=0.6, seed=3
    )
    row = _run(frame)
    assert row["next_slot_status"] == "ok"
    assert row["next_slot_hit_rate"] > row["next_slot_base_rate"] + 0.1
    assert row["next_slot_hit_p"] < 0.001
    assert row["next_slot_ic"] > 0.4 and row["next_slot_ic_p"] < 0.001
    assert row["next_slot_mz_t"] > 5 and row["next_slot_r2_oos"] > 0.2
    # only days after the first are predicted: nothing is fitted on the day it predicts
    assert row["next_slot_folds"] == 4 and row["next_slot_n_oos"] < row["n_pairs"]


def test_independent_random_walks_show_nothing_significant() -> None:
    start = WINDOW_END - 4 * WEEK
    frame = synthetic_snapshots(start, WINDOW_END, pairs=ES_SPY, link=False, seed=11)
    row = analyse_pair(
        frame, "ES", "SPY", start, WINDOW_END, AnalysisSettings(daily_lookback_days=28)
    )
    assert row["status"] == "ok"
    assert row["pearson_ci_low"] < 0.0 < row["pearson_ci_high"]
    assert row["pearson_p"] > 0.05 and row["spearman_p"] > 0.05
    assert row["xcorr_significant"] is False
    assert row["xcorr_peak_p_bonferroni"] > 0.05 and row["lead_p_bonferroni"] > 0.05
    assert abs(row["xcorr_peak_r"]) < row["xcorr_band_bonferroni"]
    assert row["next_slot_status"] == "ok"
    assert row["next_slot_hit_p"] > 0.05 and row["next_slot_ic_p"] > 0.05
    assert row["next_slot_r2_oos"] < 0.01


def test_figures_match_an_independent_numpy_scipy_computation() -> None:
    start = WINDOW_END - 2 * WEEK
    frame = synthetic_snapshots(
        start, WINDOW_END, pairs=ES_SPY, lead_slots=1, corr=0.5, seed=5, drop_fraction=0.03
    )
    config = AnalysisSettings(daily_lookback_days=14, min_observations=50)
    row = analyse_pair(frame, "ES", "SPY", start, WINDOW_END, config)

    _, fut = leg_returns(frame, "ES", calendar_slots("CME_Equity", start, WINDOW_END))
    etf_prices, etf = leg_returns(frame, "SPY", calendar_slots("XNYS", start, WINDOW_END))
    x, y = paired(fut, etf)
    n = x.size
    assert row["n_pairs"] == n
    assert row["fut_returns"] == len(fut) and row["etf_returns"] == len(etf)
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    assert row["spearman_rho"] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    # the HAC test and interval (docs/analysis.md, "Inference"), recomputed another way
    for name, ref in (
        ("pearson", correlation_test(x, y)),
        ("spearman", correlation_test(stats.rankdata(x), stats.rankdata(y))),
    ):
        assert row[f"{name}_p"] == pytest.approx(ref["p"], rel=1e-6), name
        assert row[f"{name}_ci_low"] == pytest.approx(ref["ci_low"], abs=1e-12), name
        assert row[f"{name}_ci_high"] == pytest.approx(ref["ci_high"], abs=1e-12), name
        assert row[f"{name}_n_eff"] == pytest.approx(ref["n_eff"], rel=1e-5), name

    profile = json.loads(row["lag_profile_json"])
    for lag, r, count, p in zip(
        profile["lag"], profile["r"], profile["n"], profile["p"], strict=True
    ):
        xl, yl = paired(fut, etf, lag)
        assert count == xl.size
        assert r == pytest.approx(np.corrcoef(xl, yl)[0, 1], abs=1e-7)
        assert p == pytest.approx(correlation_test(xl, yl)["p"], rel=1e-6, abs=1e-12), lag
    best = max(profile["lag"], key=lambda k: abs(np.corrcoef(*paired(fut, etf, k))[0, 1]))
    assert row["xcorr_peak_lag"] == best == 1
    assert row["xcorr_peak_p_bonferroni"] == pytest.approx(
        min(1.0, 25 * correlation_test(*paired(fut, etf, 1))["p"]), rel=1e-6, abs=1e-12
    )

    # the next-slot model: previous-slot futures return -> ETF return, walk-forward by day
    ts = sorted(t for t in etf if t - timedelta(minutes=5) in fut)
    xs = np.array([fut[t - timedelta(minutes=5)] for t in ts])
    ys = np.array([etf[t] for t in ts])
    ref = walk_forward(
        xs, ys, [(t - timedelta(hours=5)).date() for t in ts], config.min_train_pairs
    )
    assert row["next_slot_n_oos"] == ref["n_oos"]
    for key in (
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
        "r2_oos_p",
    ):
        assert row[f"next_slot_{key}"] == pytest.approx(ref[key], rel=1e-6, abs=1e-9), key

    # rolling correlation: the last window is the correlation of the last 39 pairs
    rolling = json.loads(row["rolling_corr_json"])
    assert rolling["r"][-1] == pytest.approx(np.corrcoef(x[-39:], y[-39:])[0, 1], abs=1e-7)
    assert len(etf_prices) == row["etf_present"]


def test_overnight_change_model_matches_reference() -> None:
    start = WINDOW_END - timedelta(days=120)
    frame = synthetic_snapshots(start, WINDOW_END, pairs=ES_SPY, lead_slots=2, corr=0.9, seed=2)
    config = AnalysisSettings(daily_lookback_days=120)
    row = _run(frame, config=config)
    sched = mcal.get_calendar("XNYS").schedule("2026-07-01", "2026-11-21")
    price = {
        (r["symbol"], r["bucket_ts"]): r["price"]
        for r in frame.select("symbol", "bucket_ts", "price").iter_rows(named=True)
    }
    xs, ys, days = [], [], []
    prev_last = None
    for day, s in sched.iterrows():
        opened = s.market_open.to_pydatetime()
        last = s.market_close.to_pydatetime() - timedelta(minutes=5)
        if prev_last is not None and opened >= start and ("ES", prev_last) in price:
            xs.append(math.log(price["ES", opened]) - math.log(price["ES", prev_last]))
            ys.append(math.log(price["SPY", last]) - math.log(price["SPY", opened]))
            days.append(day)
        prev_last = last
    ref = walk_forward(np.array(xs), np.array(ys), days, config.min_train_days)
    assert row["open_close_status"] == "ok"
    assert row["open_close_n_samples"] == len(xs)
    assert row["open_close_n_oos"] == ref["n_oos"] == len(xs) - config.min_train_days
    for key in ("hit_rate", "base_rate", "ic", "mz_slope", "r2_oos"):
        assert row[f"open_close_{key}"] == pytest.approx(ref[key], rel=1e-6, abs=1e-9), key


@pytest.mark.parametrize(
    "rows",
    [pytest.param(0, id="empty"), pytest.param(150, id="a-few-hours")],
)
def test_too_little_data_is_insufficient_never_zero(rows: int) -> None:
    frame = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, seed=1)
    frame = frame.sort("bucket_ts").head(rows)
    row = _run(frame)
    assert row["status"] == "insufficient_data"
    assert f"need >= {NO_DAILY.min_observations}" in row["reason"]
    assert f"/{row['etf_expected']} regular-hours slots present" in row["reason"]
    for key in (
        "pearson_r",
        "spearman_rho",
        "xcorr_peak_r",
        "xcorr_peak_lag",
        "lead_r",
        "next_slot_hit_rate",
        "next_slot_ic",
        "open_close_ic",
        "rolling_corr_min",
    ):
        assert row[key] is None, key
    assert row["next_slot_status"] == row["open_close_status"] == "insufficient_data"
    assert row["etf_expected"] == 5 * 78 and row["fut_expected"] == 5 * 276
    assert "insufficient data" in row["summary"]


def test_frozen_quotes_are_insufficient_not_a_correlation() -> None:
    frame = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, seed=1)
    frame = frame.with_columns(price=pl.lit(100.0))
    row = _run(frame)
    assert row["status"] == "insufficient_data" and "no variance" in row["reason"]
    assert row["pearson_r"] is None


def test_gaps_are_listed_and_no_return_spans_them() -> None:
    frame = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, lead_slots=0, seed=4)
    hole_start = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wednesday 10:00 New York
    hole_end = hole_start + timedelta(minutes=25)  # 5 slots: 10:00..10:20
    frame = frame.filter(
        ~(
            (pl.col("symbol") == "SPY")
            & pl.col("bucket_ts").is_between(hole_start, hole_end - timedelta(minutes=5))
        )
    )
    # a stray ETF quote outside regular hours is not used
    stray = (
        frame.filter(pl.col("symbol") == "SPY")
        .head(1)
        .with_columns(
            bucket_ts=pl.lit(datetime(2026, 11, 18, 23, 0, tzinfo=UTC)).cast(
                pl.Datetime("us", "UTC")
            )
        )
    )
    row = _run(pl.concat([frame, stray]))
    gaps = json.loads(row["gaps_json"])
    assert gaps["SPY"] == [
        {"start": "2026-11-18T15:00:00+00:00", "end": "2026-11-18T15:20:00+00:00", "slots": 5}
    ]
    assert gaps["ES"] == []
    assert row["etf_gap_count"] == 1 and row["etf_missing"] == 5 and row["etf_unexpected"] == 1
    # 5 sessions x 77 returns, minus the 5 missing slots' returns and the one after the hole
    assert row["etf_returns"] == 5 * 77 - 6
    assert row["n_pairs"] == row["etf_returns"]


def test_no_return_across_a_contract_roll() -> None:
    roll = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    base = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, seed=4)
    rolled = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, seed=4, roll_at=roll)
    a, b = _run(base), _run(rolled)
    assert b["fut_returns"] == a["fut_returns"] - 1
    assert b["n_pairs"] == a["n_pairs"] - 1
    assert b["basis_contracts"] == "495512563,495512564"
    # the +0.5 % jump at the roll shows neither in returns nor in the per-contract basis
    assert b["basis_max_bp"] < 60


def test_window_is_half_open_and_only_window_rows_count() -> None:
    frame = synthetic_snapshots(WINDOW_END - 2 * WEEK, WINDOW_END + WEEK, pairs=ES_SPY, seed=9)
    row = _run(frame)
    assert row["window_start"] == "2026-11-14T11:00:00+00:00"
    assert row["window_end"] == "2026-11-21T11:00:00+00:00"
    assert row["week_end"] == "2026-11-20"
    assert row["etf_present"] == row["etf_expected"] == 5 * 78


def test_delayed_quotes_are_left_out_and_counted() -> None:
    # a delayed ETF feed lags the live futures by minutes: used as is, it would show as a lead
    frame = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, lead_slots=0, seed=6)
    delayed_day = pl.col("bucket_ts").dt.date() == datetime(2026, 11, 18).date()
    frame = frame.with_columns(
        market_data_type=pl.when((pl.col("symbol") == "SPY") & delayed_day)
        .then(3)
        .otherwise(pl.col("market_data_type"))
        .cast(pl.Int32)
    )
    row = _run(frame)
    assert row["etf_non_live"] == 78 and row["fut_non_live"] == 0
    assert row["etf_present"] == 4 * 78 and row["etf_missing"] == 78
    kept = _run(frame, config=AnalysisSettings(daily_lookback_days=7, live_only=False))
    assert kept["etf_non_live"] == 0 and kept["etf_present"] == 5 * 78


def test_each_leg_reports_its_share_of_slots_from_history() -> None:
    """Backfilled rows are used like live ones; the row says how many of each leg's slots came
    from IB's historical bars."""
    frame = synthetic_snapshots(WINDOW_END - WEEK, WINDOW_END, pairs=ES_SPY, seed=7)
    es = frame.filter(pl.col("symbol") == "ES")["bucket_ts"].sort()
    first_half = es[: es.len() // 2]
    hist = pl.col("symbol").eq("ES") & pl.col("bucket_ts").is_in(first_half.implode())
    frame = frame.with_columns(
        price_source=pl.when(hist).then(pl.lit("hist_midpoint_close")).otherwise("price_source")
    )
    row = _run(frame)
    live = _run(frame.with_columns(price_source=pl.lit("live")))
    assert row["status"] == "ok" and row["etf_history_share"] == 0.0
    assert 0.4 < row["fut_history_share"] < 0.6
    assert live["fut_history_share"] == 0.0
    assert row["n_pairs"] == live["n_pairs"]  # history rows are used like live rows
