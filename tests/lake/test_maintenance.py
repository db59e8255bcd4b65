"""Maintenance: fewer files, every row kept, time travel within the retention, logs cleaned."""

from __future__ import annotations

import glob
import os
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from deltalake import DeltaTable

from ib_futures.lake.maintenance import files_per_partition, maintain_lake, maintain_table
from ib_futures.lake.storage import table_uri
from ib_futures.lake.writer import write_snapshots
from support.lake_records import make_batch

START = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # two UTC dates: 22:00 .. 02:55


def _fill(lake: str, n: int = 60) -> None:
    for i in range(n):
        write_snapshots(lake, make_batch(START + timedelta(minutes=5 * i), ("ES", "NQ", "SPY")))


def _parquet_on_disk(uri: str) -> int:
    return len(glob.glob(os.path.join(uri, "bucket_date=*", "*.parquet")))


def test_maintenance_shrinks_files_and_keeps_every_row(lake: str) -> None:
    _fill(lake)
    uri = table_uri(lake, "futures_snapshots")
    before = pl.read_delta(uri).sort("symbol", "bucket_ts")
    assert _parquet_on_disk(uri) == 60
    results = maintain_lake(lake, vacuum_retention_hours=0, log_retention_hours=0)
    fut = results["futures_snapshots"]
    assert (fut.files_before, fut.files_after) == (60, 2)  # one file per date partition
    assert fut.partitions_optimized == 2 and fut.files_removed_by_vacuum == 60
    assert _parquet_on_disk(uri) == 2
    after = pl.read_delta(uri).sort("symbol", "bucket_ts")
    assert after.equals(before)
    assert after.select("symbol", "bucket_ts").is_unique().all()
    assert not results["snapshot_rejects"].exists
    # log cleanup: old commits are gone, the table loads from the checkpoint
    logs = sorted(os.listdir(os.path.join(uri, "_delta_log")))
    assert not any(name.startswith("00000000000000000000.") for name in logs)
    assert any(name.endswith(".checkpoint.parquet") for name in logs)
    conf = DeltaTable(uri).metadata().configuration
    assert conf["delta.logRetentionDuration"] == "interval 0 hours"
    # a second run has nothing left to compact or vacuum
    again = maintain_table(uri, vacuum_retention_hours=0, log_retention_hours=0)
    assert again.partitions_optimized == 0 and again.files_removed_by_vacuum == 0
    assert again.properties_changed == {}


def test_time_travel_survives_maintenance_within_the_retention(lake: str) -> None:
    _fill(lake, 12)
    uri = table_uri(lake, "spot_snapshots")
    old_version = DeltaTable(uri).version() - 5
    old_rows = pl.read_delta(uri, version=old_version).height
    result = maintain_table(uri, vacuum_retention_hours=168, log_retention_hours=720)
    assert result.files_after == 1 and result.files_removed_by_vacuum == 0
    assert pl.read_delta(uri, version=old_version).height == old_rows == 7
    assert pl.read_delta(uri).height == 12


def test_maintenance_runs_while_a_writer_commits(lake: str) -> None:
    """Compaction and a writer racing: both land (conflicts retried), nothing lost."""
    import threading

    _fill(lake, 20)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(20, 40):
                write_snapshots(
                    lake, make_batch(START + timedelta(minutes=5 * i), ("ES", "NQ", "SPY"))
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    maintain_lake(lake, vacuum_retention_hours=168)
    t.join()
    assert not errors
    fut = pl.read_delta(table_uri(lake, "futures_snapshots"))
    assert fut.height == 80 and fut.select("symbol", "bucket_ts").is_unique().all()


def test_files_per_partition_and_arguments(lake: str) -> None:
    _fill(lake, 3)
    uri = table_uri(lake, "futures_snapshots")
    assert files_per_partition(DeltaTable(uri)) == {"2026-11-23": 3}
    with pytest.raises(ValueError, match="vacuum_retention_hours=-1"):
        maintain_table(uri, vacuum_retention_hours=-1)
    with pytest.raises(ValueError, match="checkpoint_interval=0"):
        maintain_table(uri, checkpoint_interval=0)
    result = maintain_table(uri, checkpoint_interval=100)
    assert result.properties_changed["delta.checkpointInterval"] == "100"
