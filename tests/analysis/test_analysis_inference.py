"""The HAC primitives of the weekly analysis, and a week that a few slots decide."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from ib_futures.analysis.config import AnalysisSettings
from ib_futures.analysis.inference import (
    InferenceOptions,
    average_ranks,
    bartlett_bandwidth,
    long_run_variance,
    robust_correlation,
    robust_mean,
    robust_regression,
)
from ib_futures.analysis.pipeline import analyse_pair
from ib_futures.analysis.synthetic import synthetic_snapshots
from support.analysis_reference import WEEK, WINDOW_END

OPTS = InferenceOptions()


def test_on_iid_pairs_the_robust_test_agrees_with_the_textbook_one() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    y = 0.05 * x + rng.standard_normal(4000)
    est = robust_correlation(x, y, OPTS)
    classical = stats.pearsonr(x, y)
    assert est.r == pytest.approx(classical.statistic, abs=1e-12)
    assert est.t_stat == pytest.approx(classical.statistic * math.sqrt(4000), rel=0.05)
    assert est.n_eff == pytest.approx(4000, rel=0.1)
    ci = classical.confidence_interval()
    assert est.ci_low == pytest.approx(ci.low, abs=0.005)
    assert est.ci_high == pytest.approx(ci.high, abs=0.005)
    assert est.reliable and est.band(0.05) == pytest.approx(1.96 / math.sqrt(4000), rel=0.05)


def test_common_volatility_widens_the_band() -> None:
    # independent legs, one volatility: calm half and a wild half at 3x
    rng = np.random.default_rng(2)
    vol = np.repeat([1.0, 3.0], 500)
    x, y = vol * rng.standard_normal(1000), vol * rng.standard_normal(1000)
    est = robust_correlation(x, y, OPTS)
    # E[s^4] / E[s^2]^2 = 41 / 25: the i.i.d. band is too narrow by a factor ~1.28
    assert est.band(0.05) / (1.96 / math.sqrt(1000)) == pytest.approx(math.sqrt(41 / 25), rel=0.1)
    assert est.n_eff == pytest.approx(1000 * 25 / 41, rel=0.15)


def test_a_few_wild_slots_leave_no_p_value() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(400), rng.standard_normal(400)
    x[[50, 150, 250]] = y[[50, 150, 250]] = 60.0  # three common jumps decide r
    est = robust_correlation(x, y, OPTS)
    assert est.r > 0.9 and est.n_eff < 30 and not est.reliable
    assert math.isnan(est.p_value) and math.isnan(est.ci_low)
    # asked for anyway, the studentised statistic is no more than ~sqrt(3): three products
    # carry both the sum and its variance, so r = 0.96 is not called significant
    relaxed = robust_correlation(x, y, InferenceOptions(min_effective=2))
    assert relaxed.reliable and relaxed.p_value > 0.05


def test_the_slope_test_is_the_correlation_test_in_score_form() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(300) * np.linspace(0.5, 2.0, 300)
    y = 0.1 * x + rng.standard_normal(300)
    slope = robust_regression(x, y, OPTS)
    assert slope.slope == pytest.approx(stats.linregress(x, y).slope, rel=1e-12)
    assert slope.t_stat == pytest.approx(robust_correlation(x, y, OPTS).t_stat, rel=1e-12)


def test_fixed_bandwidth_is_newey_west() -> None:
    rng = np.random.default_rng(5)
    u = rng.standard_normal(200)
    u -= u.mean()
    expected = sum(
        (1.0 - abs(j) / 4.0) * float(u[abs(j) :] @ u[: u.size - abs(j)]) for j in range(-3, 4)
    )
    assert bartlett_bandwidth(u, fixed=3) == 4.0
    assert long_run_variance(u, fixed=3) == pytest.approx(expected / 200, rel=1e-12)


def test_automatic_bandwidth_grows_with_autocorrelation() -> None:
    rng = np.random.default_rng(6)
    e = rng.standard_normal(2000)
    ar = np.empty_like(e)
    ar[0] = e[0]
    for i in range(1, e.size):
        ar[i] = 0.5 * ar[i - 1] + e[i]
    assert bartlett_bandwidth(e - e.mean()) < 2.0 < bartlett_bandwidth(ar - ar.mean())
    # the long-run variance of an AR(1) is var / (1 - rho)^2 * (1 - rho^2) = 3 var here
    ratio = long_run_variance(ar - ar.mean()) / float(np.var(ar))
    assert 2.0 < ratio < 3.5
    assert robust_mean(ar - ar.mean() + 0.01, OPTS, "greater").n_eff < 1000


def test_average_ranks_are_scipys() -> None:
    a = np.array([3.0, 1.0, 2.0, 3.0, 3.0, -1.0, 2.0])
    assert average_ranks(a).tolist() == stats.rankdata(a).tolist()


def test_an_exact_linear_relation_is_certain() -> None:
    x = np.arange(10.0)
    est = robust_correlation(x, 2.0 * x + 1.0, OPTS)
    assert est.r == 1.0 and est.p_value == 0.0 and est.reliable


def test_a_week_decided_by_three_slots_says_so_instead_of_a_p_value() -> None:
    frame = synthetic_snapshots(
        WINDOW_END - WEEK, WINDOW_END, pairs=(("ES", "SPY"),), link=False, seed=12
    )
    for k in range(3):  # both legs jump 3 % together, three times on Wednesday
        at = datetime(2026, 11, 18, 15, 0, tzinfo=UTC) + timedelta(minutes=35 * k)
        jump = pl.when(pl.col("bucket_ts") >= at).then(pl.col("price") * math.exp(0.03))
        frame = frame.with_columns(price=jump.otherwise(pl.col("price")))
    config = AnalysisSettings(daily_lookback_days=7)
    row = analyse_pair(frame, "ES", "SPY", WINDOW_END - WEEK, WINDOW_END, config)
    assert row["status"] == "ok" and row["pearson_r"] > 0.9
    assert row["pearson_n_eff"] < config.min_effective_observations
    assert row["pearson_p"] is None and row["pearson_ci_low"] is None
    assert row["xcorr_significant"] is None and row["xcorr_peak_p_bonferroni"] is None
    assert "same-slot Pearson test: 13 effective observations" in row["unreliable"]
    assert "unreliable this week, too few effective observations (13 < 30)" in row["summary"]
    # the ranks are not decided by three slots: Spearman keeps its p-value
    assert row["spearman_p"] is not None and row["spearman_n_eff"] > 300
    assert row["inference_method"].startswith("HAC (Bartlett kernel, Andrews")
