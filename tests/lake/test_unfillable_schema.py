"""The ``unfillable_slots`` table: its reasons are a closed list the table itself enforces."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from deltalake.exceptions import DeltaError

from ib_futures.lake.readers import UNFILLABLE_COLUMNS, read_unfillable
from ib_futures.lake.schemas import UNFILLABLE, UNFILLABLE_REASONS
from ib_futures.lake.storage import table_uri
from ib_futures.lake.tables import ensure_table

SLOT = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def _row(reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "symbol": ["ES"],
            "asset_class": ["FUT"],
            "bucket_ts": [SLOT],
            "bucket_date": [SLOT.date()],
            "local_symbol": ["ESH6"],
            "reason": [reason],
            "ib_code": [162],
            "message": ["HMDS query returned no data"],
            "recorded_ts": [SLOT],
            "source": ["test"],
        },
        schema=UNFILLABLE.polars_schema(),
    )


def test_reader_on_a_lake_without_the_table_is_empty_with_the_columns(tmp_path):
    frame = read_unfillable(str(tmp_path), ["ES"], "2026-01-01T00:00:00+00:00", SLOT.date())
    assert frame.is_empty()
    assert tuple(frame.columns) == UNFILLABLE_COLUMNS


def test_the_table_refuses_an_unknown_reason_and_keeps_known_ones(tmp_path):
    uri = table_uri(str(tmp_path), UNFILLABLE.name)
    ensure_table(uri, UNFILLABLE)
    with pytest.raises(DeltaError, match="failed validation"):
        _row("gateway was down").write_delta(uri, mode="append")
    _row(UNFILLABLE_REASONS[0]).write_delta(uri, mode="append")
    stored = read_unfillable(str(tmp_path), ["ES", "NQ"], SLOT, "2026-01-03T00:00:00+00:00")
    assert stored.select("symbol", "bucket_ts", "reason", "ib_code").rows() == [
        ("ES", SLOT, "no_bar", 162)
    ]
