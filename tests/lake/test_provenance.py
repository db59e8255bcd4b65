"""price_source: added to existing tables by schema evolution, read as live where it is null,
and the analysis can leave history rows out (docs/storage.md, "Provenance")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from deltalake import write_deltalake

from ib_futures.analysis.returns import normalise_prices
from ib_futures.lake.readers import read_pair_window
from ib_futures.lake.schemas import FUTURES
from ib_futures.lake.storage import table_uri
from ib_futures.lake.tables import ensure_table
from ib_futures.lake.validate import validate_snapshots
from ib_futures.lake.writer import write_snapshots
from support.lake_records import make_record

T = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_table_from_before_the_column_reads_as_live_and_gains_it_on_the_next_write(
    tmp_path: Path,
) -> None:
    lake = str(tmp_path / "lake")
    old = replace(FUTURES, columns=tuple(c for c in FUTURES.columns if c.name != "price_source"))
    table = ensure_table(table_uri(lake, FUTURES.name), old)
    (typed,) = validate_snapshots([make_record("ES", T)]).rows[FUTURES.name]
    typed = {k: v for k, v in typed.items() if k != "price_source"}
    write_deltalake(table, pl.DataFrame([typed], schema=old.polars_schema()), mode="append")

    before = read_pair_window(lake, "ES", "SPY", T, T + timedelta(minutes=5))
    assert before["price_source"].to_list() == [None]  # null: live, the only kind there was

    later = make_record("ES", T + timedelta(minutes=5), price_source="hist_midpoint_close")
    write_snapshots(lake, [later])
    stored = pl.read_delta(table_uri(lake, FUTURES.name)).sort("bucket_ts")
    assert stored["price_source"].to_list() == [None, "hist_midpoint_close"]


def test_the_analysis_can_leave_history_rows_out(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    records = [
        make_record("ES", T),
        make_record("ES", T + timedelta(minutes=5), price_source="hist_trades_close"),
        make_record("SPY", T, price_source="live"),
    ]
    write_snapshots(lake, records)
    frame = normalise_prices(read_pair_window(lake, "ES", "SPY", T, T + timedelta(minutes=10)))
    assert frame.sort("bucket_ts", "symbol")["from_history"].to_list() == [False, False, True]
