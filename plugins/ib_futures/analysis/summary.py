"""The plain-language paragraph for one pair, written from its results row.

Every significance statement names its test, and a test that reports no p-value (too few
effective observations, docs/analysis.md "Inference") says so instead of a verdict.
"""

from __future__ import annotations

from typing import Any

#: how the summary names the tests (docs/analysis.md, "Inference")
HAC = "HAC t-test"
UNRELIABLE = "unreliable this week, too few effective observations"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100.0 * x:.1f} %"


def _p(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "p < 0.001" if x < 0.001 else f"p = {x:.3f}"


def _eff(n_eff: float | None) -> str:
    return "" if n_eff is None else f", {n_eff:.0f} effective observations"


def _tested(p: float | None, n_eff: float | None, test: str, min_eff: int | None) -> str:
    """``test, p = ..., N effective observations``, or why there is no p-value."""
    if p is None and n_eff is not None and min_eff is not None and n_eff < min_eff:
        return f"{test} {UNRELIABLE} ({n_eff:.0f} < {min_eff})"
    return f"{test}, {_p(p)}{_eff(n_eff)}"


def _predictive_sentence(
    row: dict[str, Any], prefix: str, what: str, alpha: float, min_eff: int | None
) -> str:
    if row[f"{prefix}_status"] != "ok":
        return f"{what}: not measured ({row[f'{prefix}_reason']})."

    def get(name: str) -> Any:
        return row.get(f"{prefix}_{name}")

    hp, icp, r2, r2p = get("hit_p"), get("ic_p"), get("r2_oos"), get("r2_oos_p")
    useful = all(p is not None and p < alpha for p in (hp, icp, r2p)) and (r2 or 0) > 0
    verdict = (
        "carries out-of-sample predictive value" if useful else "shows no reliable predictive value"
    )
    ic = get("ic")
    unreliable = get("n_eff") is not None and min_eff is not None and get("n_eff") < min_eff
    caveat = (
        f" Some of these tests are {UNRELIABLE} ({get('n_eff'):.0f} < {min_eff}): n/a above."
        if unreliable
        else ""
    )
    return (
        f"{what} {verdict}: over {get('n_oos')} out-of-sample predictions it called the "
        f"direction right {_pct(get('hit_rate'))} of the time against a base rate of "
        f"{_pct(get('base_rate'))} (Pesaran-Timmermann {HAC}, {_p(hp)}), information "
        f"coefficient {'n/a' if ic is None else f'{ic:.3f}'} ({HAC} on ranks, {_p(icp)}), "
        f"out-of-sample R^2 {'n/a' if r2 is None else f'{r2:.4f}'} (Clark-West {HAC}, "
        f"{_p(r2p)}).{caveat}"
    )


def _lead_sentence(row: dict[str, Any], alpha: float, min_eff: int | None) -> str:
    fut, etf = row["futures_symbol"], row["etf_symbol"]
    lag = row["xcorr_peak_lag"]
    if lag == 0:
        where = "at lag 0 (the same slot)"
    elif lag > 0:
        where = f"with {fut} leading by {lag} slot{'s' if lag != 1 else ''} ({5 * lag} minutes)"
    else:
        where = f"with {etf} leading by {-lag} slot{'s' if lag != -1 else ''} ({-5 * lag} minutes)"
    lead_p = row["lead_p_bonferroni"]
    if lead_p is None:
        lead_verdict = "no verdict"
    else:
        lead_verdict = "significant" if lead_p < alpha else "not significant"
    lags = 2 * row["xcorr_max_lag"] + 1
    return (
        f"Cross-correlation peaked {where} (r = {row['xcorr_peak_r']:.3f}; "
        f"{_tested(row['xcorr_peak_p_bonferroni'], row.get('xcorr_peak_n_eff'), HAC, min_eff)}"
        f", Bonferroni over {lags} lags); the strongest futures lead was {row['lead_lag']} "
        f"slot(s) at r = {row['lead_r']:.3f} ({lead_verdict}: "
        f"{_tested(lead_p, row.get('lead_n_eff'), HAC, min_eff)}, Bonferroni over "
        f"{row['xcorr_max_lag']} lags)."
    )


def _track_sentence(row: dict[str, Any], min_eff: int | None) -> str:
    lo, hi = row["pearson_ci_low"], row["pearson_ci_high"]
    interval = "no interval" if lo is None else f"95 % CI {lo:.3f} to {hi:.3f}"
    return (
        f"5-minute returns moved together with Pearson correlation {row['pearson_r']:.3f} "
        f"({interval}; {_tested(row['pearson_p'], row.get('pearson_n_eff'), HAC, min_eff)}), "
        f"Spearman {row['spearman_rho']:.3f} "
        f"({_tested(row['spearman_p'], row.get('spearman_n_eff'), HAC + ' on ranks', min_eff)}"
        f"); the rolling {row['rolling_window']}-slot correlation ranged from "
        f"{row['rolling_corr_min']:.2f} to {row['rolling_corr_max']:.2f}."
    )


def _min_effective(row: dict[str, Any]) -> int | None:
    """The threshold the row was computed with (its ``config_json``), if it records one."""
    import json

    try:
        value = json.loads(row.get("config_json") or "{}").get("min_effective_observations")
    except ValueError:
        return None
    return int(value) if value is not None else None


def summarise(row: dict[str, Any], alpha: float = 0.05) -> str:
    """One paragraph: tracking, lead, predictive value, data coverage, and how it was tested."""
    fut, etf = row["futures_symbol"], row["etf_symbol"]
    coverage = (
        f"Data: {fut} {row['fut_present']}/{row['fut_expected']} expected Globex slots "
        f"({row['fut_gap_count']} gaps), {etf} {row['etf_present']}/{row['etf_expected']} "
        f"regular-hours slots ({row['etf_gap_count']} gaps), {row['n_pairs']} paired returns."
    )
    head = f"{fut}/{etf}, week ending {row['week_end']}: "
    if row["status"] != "ok":
        return f"{head}insufficient data, no figures reported ({row['reason']}). {coverage}"
    min_eff = _min_effective(row)
    nxt = _predictive_sentence(
        row,
        "next_slot",
        f"The previous {row['next_slot_signal_slots']}-slot {fut} return",
        alpha,
        min_eff,
    )
    ovn = _predictive_sentence(
        row,
        "open_close",
        f"The overnight {fut} change (over {row['open_close_days']} sessions)",
        alpha,
        min_eff,
    )
    method = row.get("inference_method")
    how = (
        f"Tests: {method}; they allow volatility common to both legs and serial dependence."
        if method
        else ""
    )
    parts = [head + _track_sentence(row, min_eff), _lead_sentence(row, alpha, min_eff), nxt, ovn]
    return " ".join([*parts, coverage, how]).strip()
