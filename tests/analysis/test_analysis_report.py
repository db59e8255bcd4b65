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
from ib_futures.analysis.report import report_directory, write_report
from ib_futures.analysis.results import read_results, write_results
from ib_futures.analysis.synthetic import synthetic_snapshots
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


def test_report_files_exist_and_the_html_embeds_every_chart(stored_rows) -> None:
    lake, rows = stored_rows
    files = write_report(lake, rows)
    directory = Path(lake) / "reports" / "futures_analysis" / "2026-11-20"
    assert Path(files.directory) == directory.resolve() and not files.local_fallback
    names = sorted(Path(p).name for p in files.charts)
    assert names == sorted(
        f"{f}_{e}_{kind}.png"
        for f, e in PAIRS[:2]
        for kind in ("rolling_corr", "lead_lag", "predicted_vs_realised", "basis")
    )
    page = Path(files.html).read_text(encoding="utf-8")
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(files.charts) == 8
    on_disk = {Path(p).read_bytes() for p in files.charts}
    assert {base64.b64decode(b) for b in embedded} == on_disk
    assert all(png.startswith(PNG_MAGIC) for png in on_disk)
    assert "<img" in page and "http" not in page.split("<body>")[1]  # nothing fetched
    for row in rows:
        assert row["pair"] in page
    assert (
        "insufficient_data" in page and "RTY/IWM, week ending 2026-11-20: insufficient data" in page
    )


def test_object_store_lake_reports_to_a_local_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IB_FUTURES_REPORT_DIR", str(tmp_path / "env"))
    where, fallback = report_directory("s3://bucket/lake", "2026-11-20")
    assert fallback and where == (tmp_path / "env" / "futures_analysis" / "2026-11-20")
    where, _ = report_directory("s3://bucket/lake", "2026-11-20", str(tmp_path / "cfg"))
    assert where == tmp_path / "cfg" / "futures_analysis" / "2026-11-20"
    where, fallback = report_directory(str(tmp_path / "lake"), "2026-11-20", "ignored")
    assert (
        not fallback and where == tmp_path / "lake" / "reports" / "futures_analysis" / "2026-11-20"
    )


def test_rerendering_overwrites_in_place(stored_rows) -> None:
    lake, rows = stored_rows
    first = write_report(lake, rows)
    second = write_report(lake, rows)
    assert first.charts == second.charts and first.html == second.html


def test_no_rows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_report(str(tmp_path), [])


def test_frame_rows_from_table_render(stored_rows) -> None:
    lake, _ = stored_rows
    rows = pl.DataFrame(read_results(lake)).to_dicts()
    assert write_report(lake, rows).html.endswith("report.html")
