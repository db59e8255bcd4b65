"""The report's charts for one pair, drawn from its results row (matplotlib, Agg, no pyplot).

Each function returns PNG bytes or None when the row has no data for that chart.
:class:`matplotlib.figure.Figure` is used directly (no pyplot state machine), which renders with
the Agg canvas and is safe in a worker without a display.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ib_futures.analysis.config import EXCHANGE_TZ

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_NY = ZoneInfo(EXCHANGE_TZ)


def _figure(width: float = 8.0, height: float = 3.6) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _load(row: Mapping[str, Any], key: str) -> Any:
    raw = row.get(key)
    return json.loads(raw) if raw else None


def _day_ticks(ax: Axes, stamps: list[str], max_labels: int = 10) -> None:
    """Sequential x axis (gaps removed) labelled at the first point of each New York date;
    over long windows only every n-th date is labelled and no separators are drawn."""
    starts: list[tuple[int, date]] = []
    last = None
    for i, s in enumerate(stamps):
        day = datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(_NY).date()
        if day != last:
            starts.append((i, day))
            last = day
    stride = max(1, math.ceil(len(starts) / max_labels))
    shown = starts[::stride]
    if stride == 1:
        for i, _ in starts:
            ax.axvline(i, color="0.85", linewidth=0.8, zorder=0)
    fmt = "%a %m-%d" if stride == 1 else "%Y-%m-%d"
    ax.set_xticks(
        [i for i, _ in shown],
        [d.strftime(fmt) for _, d in shown],
        fontsize=8,
        rotation=0 if stride == 1 else 30,
    )


def rolling_chart(row: Mapping[str, Any]) -> bytes | None:
    data = _load(row, "rolling_corr_json")
    if not data or not data["r"]:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    x = list(range(len(data["r"])))
    ax.plot(x, [float("nan") if v is None else v for v in data["r"]], color="tab:blue", lw=1.2)
    if row.get("pearson_r") is not None:
        ax.axhline(row["pearson_r"], color="tab:red", ls="--", lw=1, label="whole window")
        ax.legend(loc="lower left", fontsize=8)
    _day_ticks(ax, data["at"])
    ax.set_ylabel("Pearson r")
    ax.set_title(
        f"{row['pair']}: rolling correlation of 5-minute returns "
        f"({row['rolling_window']} paired slots per window)",
        fontsize=10,
    )
    return _png(fig)


def lead_lag_chart(row: Mapping[str, Any]) -> bytes | None:
    data = _load(row, "lag_profile_json")
    if not data:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    r = [float("nan") if v is None else v for v in data["r"]]
    peak = row.get("xcorr_peak_lag")
    colors = ["tab:red" if lag == peak else "tab:blue" for lag in data["lag"]]
    ax.bar(data["lag"], r, color=colors, width=0.7)
    for key, style, label in (
        ("band", ":", "95 % HAC band (unadjusted)"),
        ("band_bonferroni", "--", "95 % HAC band (Bonferroni)"),
    ):
        # each lag has its own robust band (its own variance); rows before analysis_version 3
        # only stored one band, drawn flat
        per_lag = data.get(key)
        if per_lag is not None:
            band = [float("nan") if v is None else v for v in per_lag]
            ax.step(data["lag"], band, where="mid", color="0.4", ls=style, lw=1, label=label)
            ax.step(data["lag"], [-b for b in band], where="mid", color="0.4", ls=style, lw=1)
        elif row.get(f"xcorr_{key}") is not None:
            flat = row[f"xcorr_{key}"]
            ax.axhline(flat, color="0.4", ls=style, lw=1, label=label)
            ax.axhline(-flat, color="0.4", ls=style, lw=1)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xlabel("lag k in slots (r = corr(futures[t-k], ETF[t]); k > 0: futures lead)")
    ax.set_ylabel("r")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{row['pair']}: cross-correlation, peak at lag {peak}", fontsize=10)
    return _png(fig)


def predicted_chart(row: Mapping[str, Any]) -> bytes | None:
    panels = [
        (p, _load(row, f"{p}_oos_json"), title)
        for p, title in (
            ("next_slot", "next slot (previous-slot futures return)"),
            ("open_close", "open to close (overnight futures change)"),
        )
    ]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig = _figure(4.2 * len(panels), 3.8)
    for i, (prefix, data, title) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i)
        pred = [1e4 * v for v in data["pred"]]
        real = [1e4 * v for v in data["real"]]
        ax.scatter(pred, real, s=6, alpha=0.5, color="tab:blue")
        lo, hi = min(pred), max(pred)
        slope, mz_r2 = row.get(f"{prefix}_mz_slope"), row.get(f"{prefix}_mz_r2")
        if slope is not None and hi > lo:
            mean_p, mean_r = sum(pred) / len(pred), sum(real) / len(real)
            icpt = mean_r - slope * mean_p
            ax.plot(
                [lo, hi],
                [icpt + slope * lo, icpt + slope * hi],
                color="tab:red",
                lw=1.2,
                label=f"realised on predicted: slope {slope:.2f}, R^2 {mz_r2:.3f}",
            )
            ax.legend(loc="upper left", fontsize=7)
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.axvline(0.0, color="0.6", lw=0.6)
        ax.set_xlabel("predicted (bp)")
        ax.set_ylabel("realised ETF return (bp)")
        ax.set_title(f"{title}\n{row[f'{prefix}_n_oos']} out-of-sample predictions", fontsize=9)
    fig.suptitle(f"{row['pair']}: predicted against realised (walk-forward)", fontsize=10)
    return _png(fig)


def basis_chart(row: Mapping[str, Any]) -> bytes | None:
    data = _load(row, "basis_json")
    if not data or len(data["bp"]) < 2:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(range(len(data["bp"])), data["bp"], color="tab:green", lw=1)
    ax.axhline(0.0, color="black", lw=0.6)
    _day_ticks(ax, data["at"])
    ax.set_ylabel("bp")
    ax.set_title(
        f"{row['pair']}: basis ln(F) - ln(ETF), demeaned per contract (regular hours)", fontsize=10
    )
    return _png(fig)


#: file suffix -> chart function, in report order
CHARTS = (
    ("rolling_corr", rolling_chart),
    ("lead_lag", lead_lag_chart),
    ("predicted_vs_realised", predicted_chart),
    ("basis", basis_chart),
)
