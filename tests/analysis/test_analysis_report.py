"""The weekly report: PNG files and a self-contained HTML page that embeds them."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import polars as pl
import pytest

from ib_futures.analysis.config import DEFAULT_PAIRS as PAIRS
from ib_futures.analysis.config import AnalysisSettings
from ib_futures.analysis.pipeline import analyse_pair
from ib_futures.analysis.report import write_report
from ib_futures.analysis.results import read_results, write_results
from ib_futures.analysis.synthetic import synthetic_snapshots
from ib_futures.lake.reports import read_report_file, report_weeks
from support.analysis_reference import WEEK, WINDOW_END

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def stored_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    lake = str(tmp_path_factory.mktemp("lake"))
    frame = synthetic_snapshots(WINDOW_END - 5 * WEEK, WINDOW_END, lead_slots=1, seed=8)
    config = AnalysisSettings(daily_lookback_days=35, min_train_days=10, min_oos_days=10)
    rows = [analyse_pair(frame, f, e, WINDOW_END - WEEK, WINDOW_END, config) for f, e in PAIRS]
    # one pair with too little data: the report must say so instead of drawing
    rows[2] = analyse_pair(frame.head(50), "RTY", "IWM", WINDOW_END - WEEK, WINDOW_END, config)
    write_results(lake, rows)
    return lake, read_results(lake, "2026-11-20").to_dicts()


def test_report_is_stored_in_the_lake_and_the_html_embeds_every_chart(stored_rows) -> None:
    lake, rows = stored_rows
    files = write_report(lake, rows)
    assert files.table == "weekly_reports" and files.week_end == "2026-11-20"
    assert sorted(files.charts) == sorted(
        f"{f}_{e}_{kind}.png"
        for f, e in PAIRS[:2]
        for kind in ("rolling_corr", "lead_lag", "predicted_vs_realised", "basis")
    )
    assert report_weeks(lake) == ["2026-11-20"]
    page = (read_report_file(lake, "2026-11-20") or b"").decode("utf-8")
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(files.charts) == 8
    stored = {read_report_file(lake, "2026-11-20", name) for name in files.charts}
    assert {base64.b64decode(b) for b in embedded} == stored
    assert all(png is not None and png.startswith(PNG_MAGIC) for png in stored)
    assert "<img" in page and "http" not in page.split("<body>")[1]  # nothing fetched
    for row in rows:
        assert row["pair"] in page
    assert (
        "insufficient_data" in page and "RTY/IWM, week ending 2026-11-20: insufficient data" in page
    )
    assert read_report_file(lake, "2026-11-13") is None


def test_rerendering_replaces_the_week_only(stored_rows) -> None:
    lake, rows = stored_rows
    first = write_report(lake, rows)
    other = [{**r, "week_end": "2026-11-27"} for r in rows]
    write_report(lake, other)
    second = write_report(lake, rows)
    assert second.version > first.version and first.charts == second.charts
    assert report_weeks(lake) == ["2026-11-20", "2026-11-27"]
    html = pl.scan_delta(f"{lake}/weekly_reports").filter(pl.col("name") == "report.html")
    assert html.collect().height == 2  # one page per week, never two for one week


def test_no_rows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_report(str(tmp_path), [])


def test_frame_rows_from_table_render(stored_rows) -> None:
    lake, _ = stored_rows
    rows = pl.DataFrame(read_results(lake)).to_dicts()
    assert write_report(lake, rows).html == "report.html"
