"""The plain-language paragraph for one pair, written from its results row."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100.0 * x:.1f} %"


def _p(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "p < 0.001" if x < 0.001 else f"p = {x:.3f}"


def _predictive_sentence(row: dict[str, Any], prefix: str, what: str, alpha: float) -> str:
    if row[f"{prefix}_status"] != "ok":
        return f"{what}: not measured ({row[f'{prefix}_reason']})."
    hit, base, hp = row[f"{prefix}_hit_rate"], row[f"{prefix}_base_rate"], row[f"{prefix}_hit_p"]
    ic, icp, r2 = row[f"{prefix}_ic"], row[f"{prefix}_ic_p"], row[f"{prefix}_r2_oos"]
    useful = hp is not None and hp < alpha and icp is not None and icp < alpha and (r2 or 0) > 0
    verdict = (
        "carries out-of-sample predictive value" if useful else "shows no reliable predictive value"
    )
    return (
        f"{what} {verdict}: over {row[f'{prefix}_n_oos']} out-of-sample predictions it called the "
        f"direction right {_pct(hit)} of the time against a base rate of {_pct(base)} "
        f"({_p(hp)}), information coefficient {ic:.3f} ({_p(icp)}), out-of-sample R^2 "
        f"{'n/a' if r2 is None else f'{r2:.4f}'}."
    )


def summarise(row: dict[str, Any], alpha: float = 0.05) -> str:
    """One paragraph: tracking, lead, predictive value, data coverage."""
    fut, etf = row["futures_symbol"], row["etf_symbol"]
    coverage = (
        f"Data: {fut} {row['fut_present']}/{row['fut_expected']} expected Globex slots "
        f"({row['fut_gap_count']} gaps), {etf} {row['etf_present']}/{row['etf_expected']} "
        f"regular-hours slots ({row['etf_gap_count']} gaps), {row['n_pairs']} paired returns."
    )
    head = f"{fut}/{etf}, week ending {row['week_end']}: "
    if row["status"] != "ok":
        return f"{head}insufficient data, no figures reported ({row['reason']}). {coverage}"
    track = (
        f"5-minute returns moved together with Pearson correlation {row['pearson_r']:.3f} "
        f"(95 % CI {row['pearson_ci_low']:.3f} to {row['pearson_ci_high']:.3f}, "
        f"Spearman {row['spearman_rho']:.3f}); the rolling {row['rolling_window']}-slot "
        f"correlation ranged from {row['rolling_corr_min']:.2f} to {row['rolling_corr_max']:.2f}."
    )
    lag = row["xcorr_peak_lag"]
    if lag == 0:
        where = "at lag 0 (the same slot)"
    elif lag > 0:
        where = f"with {fut} leading by {lag} slot{'s' if lag != 1 else ''} ({5 * lag} minutes)"
    else:
        where = f"with {etf} leading by {-lag} slot{'s' if lag != -1 else ''} ({-5 * lag} minutes)"
    lead_sig = row["lead_p_bonferroni"] is not None and row["lead_p_bonferroni"] < alpha
    lead = (
        f"Cross-correlation peaked {where} (r = {row['xcorr_peak_r']:.3f}, Bonferroni "
        f"{_p(row['xcorr_peak_p_bonferroni'])}); the strongest futures lead was "
        f"{row['lead_lag']} slot(s) at r = {row['lead_r']:.3f} "
        f"({'significant' if lead_sig else 'not significant'} after Bonferroni, "
        f"{_p(row['lead_p_bonferroni'])})."
    )
    nxt = _predictive_sentence(
        row, "next_slot", f"The previous {row['next_slot_signal_slots']}-slot {fut} return", alpha
    )
    ovn = _predictive_sentence(
        row,
        "open_close",
        f"The overnight {fut} change (over {row['open_close_days']} sessions)",
        alpha,
    )
    return " ".join([head + track, lead, nxt, ovn, coverage])
