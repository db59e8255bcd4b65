"""The weekly report: PNG charts and one self-contained HTML page (charts inlined as base64).

Rendered in memory and stored in the lake (``ib_futures.lake.reports``: the ``weekly_reports``
table), so every component that reaches the lake (the api-server's futures page included) reads
it, whatever the lake is: a local path or ``s3://``.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ib_futures.analysis.charts import CHARTS
from ib_futures.lake.reports import HTML_NAME, REPORTS_TABLE
from ib_futures.lake.storage import StorageOptions

log = logging.getLogger(__name__)


@dataclass
class ReportFiles:
    """What :func:`write_report` stored: the table, the week and its file names."""

    table: str
    week_end: str
    version: int
    html: str = HTML_NAME
    charts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "week_end": self.week_end,
            "version": self.version,
            "html": self.html,
            "charts": list(self.charts),
        }


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("n_pairs", "paired 5-minute returns", "d"),
    ("pearson_r", "Pearson r", ".3f"),
    ("pearson_ci_low", "  95 % CI low", ".3f"),
    ("pearson_ci_high", "  95 % CI high", ".3f"),
    ("pearson_p", "  p (HAC)", ".2g"),
    ("pearson_n_eff", "  effective observations", ".0f"),
    ("spearman_rho", "Spearman rho", ".3f"),
    ("xcorr_peak_lag", "cross-correlation peak lag (slots, + = futures lead)", "d"),
    ("xcorr_peak_r", "  r at peak", ".3f"),
    ("xcorr_peak_p_bonferroni", "  p at peak (HAC, Bonferroni)", ".2g"),
    ("lead_lag", "strongest futures-lead lag", "d"),
    ("lead_r", "  r", ".3f"),
    ("lead_p_bonferroni", "  p (HAC, Bonferroni)", ".2g"),
    ("next_slot_n_oos", "next slot: out-of-sample predictions", "d"),
    ("next_slot_hit_rate", "  hit rate", ".3f"),
    ("next_slot_base_rate", "  base rate", ".3f"),
    ("next_slot_hit_p", "  p (Pesaran-Timmermann, HAC)", ".2g"),
    ("next_slot_ic", "  information coefficient", ".3f"),
    ("next_slot_ic_p", "  p (HAC on ranks)", ".2g"),
    ("next_slot_mz_slope", "  slope realised on predicted", ".3f"),
    ("next_slot_mz_t", "  t (HAC)", ".2f"),
    ("next_slot_r2_oos", "  out-of-sample R^2", ".4f"),
    ("next_slot_r2_oos_p", "  p (Clark-West, HAC)", ".2g"),
    ("open_close_n_oos", "open to close: out-of-sample days", "d"),
    ("open_close_hit_rate", "  hit rate", ".3f"),
    ("open_close_base_rate", "  base rate", ".3f"),
    ("open_close_hit_p", "  p (Pesaran-Timmermann, HAC)", ".2g"),
    ("open_close_ic", "  information coefficient", ".3f"),
    ("open_close_ic_p", "  p (HAC on ranks)", ".2g"),
    ("open_close_r2_oos", "  out-of-sample R^2", ".4f"),
    ("open_close_r2_oos_p", "  p (Clark-West, HAC)", ".2g"),
    ("basis_std_bp", "basis std (bp)", ".2f"),
    ("basis_half_life_slots", "basis half-life (slots)", ".2f"),
    ("fut_present", "futures slots present", "d"),
    ("fut_expected", "futures slots expected", "d"),
    ("etf_present", "ETF slots present", "d"),
    ("etf_expected", "ETF slots expected", "d"),
    ("inference_method", "tests", "s"),
    ("unreliable", "no p-value (too few effective observations)", "s"),
)


def _cell(row: Mapping[str, Any], key: str, spec: str) -> str:
    # a computed row without unreliable tests says "none"; rows before analysis_version 3 "n/a"
    if key == "unreliable" and row.get(key) is None and row.get("inference_method"):
        return "none"
    return _fmt(row.get(key), spec)


def _section(row: Mapping[str, Any], images: list[tuple[str, bytes]]) -> str:
    cells = "\n".join(
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(_cell(row, key, spec))}</td></tr>"
        for key, label, spec in _FIGURES
    )
    imgs = "\n".join(
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}">'
        for name, png in images
    )
    status = html.escape(str(row["status"]))
    reason = f" ({html.escape(str(row['reason']))})" if row.get("reason") else ""
    return (
        f"<section><h2>{html.escape(str(row['pair']))} "
        f'<span class="status {status}">{status}</span></h2>'
        f"<p>{html.escape(str(row.get('summary') or ''))}</p>"
        f"<p class=meta>status: {status}{reason}</p>"
        f"<table>{cells}</table>\n{imgs}</section>"
    )


_CSS = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td{border-bottom:1px solid #ddd;padding:2px 8px}"
    "img{max-width:100%;display:block;margin:1em 0}.status{font-size:60%;padding:2px 6px;"
    "border-radius:4px;background:#dfd}.insufficient_data{background:#fdd}.meta{color:#666}"
)


def render_report(rows: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """The report of ``rows`` (one week): ``{file name: bytes}``, the HTML page first."""
    if not rows:
        raise ValueError("no result rows to report")
    charts: dict[str, bytes] = {}
    sections = []
    for row in sorted(rows, key=lambda r: str(r["pair"])):
        images: list[tuple[str, bytes]] = []
        for suffix, draw in CHARTS:
            png = draw(row)
            if png is None:
                continue
            charts[f"{row['futures_symbol']}_{row['etf_symbol']}_{suffix}.png"] = png
            images.append((suffix, png))
        sections.append(_section(row, images))
    first = rows[0]
    title = f"Futures against ETFs, week ending {first['week_end']}"
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class=meta>Window {html.escape(str(first['window_start']))} to "
        f"{html.escape(str(first['window_end']))} (UTC, end exclusive). Returns are 5-minute log "
        "returns between consecutive slots, ETFs in regular hours only; predictive figures are "
        "walk-forward out of sample. Definitions: docs/analysis.md.</p>"
        + "\n".join(sections)
        + "</body></html>"
    )
    return {HTML_NAME: page.encode("utf-8"), **charts}


def write_report(
    lake_uri: str,
    rows: Sequence[Mapping[str, Any]],
    storage_options: StorageOptions | None = None,
) -> ReportFiles:
    """Render one week's report and store it in the lake's ``weekly_reports`` table."""
    from ib_futures.lake.reports import store_report

    files = render_report(rows)
    week_end = str(rows[0]["week_end"])
    version = store_report(lake_uri, week_end, files, storage_options)
    charts = [name for name in files if name != HTML_NAME]
    return ReportFiles(REPORTS_TABLE, week_end, version, HTML_NAME, charts)


def write_weekly_report(
    lake_uri: str,
    week_end: str,
    pairs: Sequence[str] | None = None,
    *,
    storage_options: StorageOptions | None = None,
) -> ReportFiles:
    """Read one week's rows from ``futures_analysis`` and :func:`write_report` them.

    :raises ValueError: when the table holds no row for that week (and pairs).
    """
    from ib_futures.analysis.results import read_results

    rows = read_results(lake_uri, week_end, pairs, storage_options=storage_options).to_dicts()
    if not rows:
        raise ValueError(f"futures_analysis has no rows for week_end={week_end}")
    for row in rows:
        log.info("%s", row["summary"])
    return write_report(lake_uri, rows, storage_options)
