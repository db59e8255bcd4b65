"""The futures_analysis table: layout, idempotent re-runs, one row per pair per week."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from ib_futures.analysis.config import DEFAULT_PAIRS as PAIRS
from ib_futures.analysis.config import AnalysisSettings
from ib_futures.analysis.pipeline import analyse_pair, run_pair
from ib_futures.analysis.results import RESULTS, read_results, rows_frame, write_results
from ib_futures.analysis.synthetic import synthetic_snapshots, write_synthetic_lake
from support.analysis_reference import WEEK, WINDOW_END

CONFIG = AnalysisSettings(daily_lookback_days=7)


@pytest.fixture(scope="module")
def two_weeks() -> pl.DataFrame:
    return synthetic_snapshots(WINDOW_END - 2 * WEEK, WINDOW_END, lead_slots=1, seed=21)


def _week_rows(frame: pl.DataFrame, end=WINDOW_END) -> list[dict]:
    return [analyse_pair(frame, f, e, end - WEEK, end, CONFIG) for f, e in PAIRS]


def test_rows_fit_the_declared_table_layout(two_weeks: pl.DataFrame) -> None:
    frame = rows_frame(_week_rows(two_weeks))
    assert frame.schema == RESULTS.polars_schema()
    assert frame["week_end"].to_list() == [date(2026, 11, 20)] * 3
    assert frame.schema["window_end"] == pl.Datetime("us", "UTC")


def test_rerun_replaces_the_week_and_never_duplicates(
    two_weeks: pl.DataFrame, tmp_path: Path
) -> None:
    lake = str(tmp_path)
    rows = _week_rows(two_weeks)
    write_results(lake, rows)
    first = read_results(lake)
    # the same week again, one pair with changed figures: still three rows, the new figures
    changed = [dict(r) for r in rows]
    changed[0]["pearson_r"] = 0.5
    write_results(lake, changed)
    again = read_results(lake)
    assert again.height == 3
    assert again.filter(pl.col("pair") == "ES/SPY")["pearson_r"].item() == 0.5
    assert again.drop("pearson_r").equals(first.drop("pearson_r"))
    # a re-run of a single pair touches only that pair
    write_results(lake, rows[:1])
    assert read_results(lake).equals(first)
    # the previous week adds three rows
    write_results(lake, _week_rows(two_weeks, WINDOW_END - WEEK))
    all_rows = read_results(lake)
    assert all_rows.height == 6
    assert all_rows.select("week_end", "pair").is_duplicated().sum() == 0
    assert read_results(lake, week_end="2026-11-13").height == 3
    assert read_results(lake, "2026-11-20", pairs=["NQ/QQQ"])["pair"].to_list() == ["NQ/QQQ"]
    constraints = DeltaTable(f"{lake}/futures_analysis").metadata().configuration
    assert "delta.constraints.status_known" in constraints


def test_duplicate_keys_in_one_batch_are_refused(two_weeks: pl.DataFrame, tmp_path: Path) -> None:
    row = _week_rows(two_weeks)[0]
    with pytest.raises(ValueError, match="repeat"):
        write_results(str(tmp_path), [row, row])


def test_run_pair_reads_the_lake_and_matches_the_in_memory_analysis(
    two_weeks: pl.DataFrame, tmp_path: Path
) -> None:
    lake = str(tmp_path)
    write_synthetic_lake(lake, two_weeks)
    start = WINDOW_END - WEEK
    from_lake = run_pair(lake, "NQ", "QQQ", start, WINDOW_END, CONFIG)
    in_memory = analyse_pair(two_weeks, "NQ", "QQQ", start, WINDOW_END, CONFIG)
    volatile = {"computed_at", "summary"}
    assert {k: v for k, v in from_lake.items() if k not in volatile} == {
        k: v for k, v in in_memory.items() if k not in volatile
    }
    assert from_lake["status"] == "ok" and from_lake["n_pairs"] > 300


def test_an_empty_lake_gives_insufficient_data(tmp_path: Path) -> None:
    row = run_pair(str(tmp_path), "ES", "SPY", WINDOW_END - WEEK, WINDOW_END, CONFIG)
    assert row["status"] == "insufficient_data"
    assert row["n_pairs"] == 0 and row["etf_present"] == 0 and row["pearson_r"] is None
    assert row["window_start"] == (WINDOW_END - timedelta(days=7)).isoformat()


def test_a_table_from_an_older_layout_gains_the_new_columns(
    two_weeks: pl.DataFrame, tmp_path: Path
) -> None:
    from deltalake import write_deltalake

    from ib_futures.lake.schemas import TableSpec
    from ib_futures.lake.tables import ensure_table

    lake = str(tmp_path)
    old_columns = tuple(c for c in RESULTS.columns if not c.name.endswith("_non_live"))
    old_spec = TableSpec(name=RESULTS.name, columns=old_columns, key=RESULTS.key)
    old_rows = rows_frame(_week_rows(two_weeks, WINDOW_END - WEEK)).select(old_spec.column_names)
    write_deltalake(ensure_table(f"{lake}/futures_analysis", old_spec), old_rows, mode="append")

    write_results(lake, _week_rows(two_weeks))
    table = read_results(lake)
    assert table.height == 6
    old_week = table.filter(pl.col("week_end") == date(2026, 11, 13))
    assert old_week["etf_non_live"].null_count() == 3
    assert (
        table.filter(pl.col("week_end") == date(2026, 11, 20))["etf_non_live"].to_list() == [0] * 3
    )
