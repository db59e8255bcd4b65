"""The weekly DAG's operators, executed with a minimal context (no scheduler, no database)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from ib_futures.airflow.operators.analysis import (
    AnalysisReportOperator,
    AnalysisResultsOperator,
    PairAnalysisOperator,
    analysis_window,
)
from ib_futures.analysis.config import DEFAULT_PAIRS as PAIRS
from ib_futures.analysis.synthetic import synthetic_snapshots, write_synthetic_lake
from ib_futures.lake.reports import read_report_file
from support.analysis_reference import WEEK, WINDOW_END


def test_window_comes_from_the_data_interval_end_never_the_clock() -> None:
    assert analysis_window({"data_interval_end": WINDOW_END}, 7) == (WINDOW_END - WEEK, WINDOW_END)
    manual = {"data_interval_end": None, "dag_run": SimpleNamespace(run_after=WINDOW_END)}
    assert analysis_window(manual, 14) == (WINDOW_END - 2 * WEEK, WINDOW_END)
    with pytest.raises(ValueError):
        analysis_window({}, 7)
    with pytest.raises(ValueError):
        analysis_window({"data_interval_end": WINDOW_END}, 0)


def test_operators_analyse_write_and_report(tmp_path: Path, monkeypatch) -> None:
    lake = str(tmp_path / "lake")
    monkeypatch.delenv("IB_FUTURES_LAKE_URI", raising=False)
    write_synthetic_lake(
        lake, synthetic_snapshots(WINDOW_END - 2 * WEEK, WINDOW_END, lead_slots=2, seed=31)
    )
    context = {"data_interval_end": WINDOW_END}
    rows = [
        PairAnalysisOperator(
            task_id=f"analyse_{f}",
            pair=[f, e],
            lake_uri=lake,
            lookback_days="7",  # rendered templates arrive as strings
            analysis_overrides={"daily_lookback_days": 7},
        ).execute(context)  # type: ignore[arg-type]
        for f, e in PAIRS
    ]
    assert [r["xcorr_peak_lag"] for r in rows] == [2, 2, 2]
    assert rows[0]["window_start"] == (WINDOW_END - timedelta(days=7)).isoformat()

    written = AnalysisResultsOperator(task_id="write", rows=rows, lake_uri=lake).execute(context)  # type: ignore[arg-type]
    assert written["week_end"] == "2026-11-20" and written["pairs"] == [
        "ES/SPY",
        "NQ/QQQ",
        "RTY/IWM",
    ]
    again = AnalysisResultsOperator(task_id="write", rows=rows, lake_uri=lake).execute(context)  # type: ignore[arg-type]
    assert again["version"] > written["version"]

    report = AnalysisReportOperator(task_id="report", week_end="2026-11-20", lake_uri=lake).execute(
        context  # type: ignore[arg-type]
    )
    assert report["table"] == "weekly_reports" and len(report["charts"]) == 12
    html = read_report_file(lake, "2026-11-20", report["html"])
    assert html is not None and html.count(b"data:image/png;base64,") == 12
    with pytest.raises(ValueError, match="no rows"):
        AnalysisReportOperator(task_id="r2", week_end="2020-01-03", lake_uri=lake).execute(context)  # type: ignore[arg-type]
