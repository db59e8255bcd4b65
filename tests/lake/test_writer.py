"""The writer: idempotent keyed merges, all-or-nothing batches, rejects, evolution, retries."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError

from ib_futures.lake import writer
from ib_futures.lake.schemas import FUTURES, REJECTS_TABLE, SPOT, Column
from ib_futures.lake.storage import table_uri
from ib_futures.lake.tables import ensure_table
from ib_futures.lake.validate import SnapshotValidationError, validate_snapshots
from ib_futures.lake.writer import merge_predicate, merge_rows, write_snapshots
from support.lake_records import make_batch, make_record

SLOT = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)


def _rows(lake: str, table: str) -> pl.DataFrame:
    return pl.read_delta(table_uri(lake, table))


def _versions(lake: str) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name in ("futures_snapshots", "spot_snapshots", REJECTS_TABLE):
        uri = table_uri(lake, name)
        out[name] = DeltaTable(uri).version() if DeltaTable.is_deltatable(uri) else None
    return out


def test_same_batch_twice_leaves_one_row_per_key_and_no_new_version(lake: str) -> None:
    records = make_batch(SLOT)
    first = write_snapshots(lake, records).as_dict()
    assert first["tables"]["futures_snapshots"]["rows_inserted"] == 3
    assert first["tables"]["spot_snapshots"]["rows_inserted"] == 3
    assert first["tables"]["futures_snapshots"]["method"] == "append"  # new keys, proven by stats
    before = _versions(lake)
    second = write_snapshots(lake, records).as_dict()
    assert second["tables"]["futures_snapshots"] == {
        "rows_in_batch": 3, "rows_inserted": 0, "rows_already_present": 3,
        "version": before["futures_snapshots"], "attempts": 1, "method": "merge",
        "duration_ms": second["tables"]["futures_snapshots"]["duration_ms"],
    }  # fmt: skip
    assert _versions(lake) == before  # a merge that changes nothing commits nothing
    fut = _rows(lake, "futures_snapshots")
    assert sorted(fut["symbol"].to_list()) == ["ES", "NQ", "RTY"]
    assert fut.schema["bucket_ts"] == pl.Datetime("us", "UTC")
    assert fut["bucket_ts"].unique().to_list() == [SLOT]
    assert _rows(lake, "spot_snapshots").height == 3


def test_a_later_write_of_the_same_slot_keeps_the_first_values(lake: str) -> None:
    write_snapshots(lake, make_batch(SLOT, ("ES",)))
    report = write_snapshots(lake, make_batch(SLOT, ("ES", "NQ"), step=5.0))
    assert report.tables["futures_snapshots"].rows_inserted == 1
    fut = _rows(lake, "futures_snapshots").sort("symbol")
    assert fut["price"].to_list() == [6000.0, 21005.0]


def test_table_is_created_with_schema_constraints_partitions_and_properties(lake: str) -> None:
    write_snapshots(lake, make_batch(SLOT, ("ES",)))
    dt = DeltaTable(table_uri(lake, "futures_snapshots"))
    assert dt.version() == 1  # version 0: create (with constraints), version 1: the write
    assert dt.metadata().partition_columns == ["bucket_date"]
    conf = dt.metadata().configuration
    for name, expr in FUTURES.constraints.items():
        assert conf[f"delta.constraints.{name}"] == expr
    assert conf["delta.enableExpiredLogCleanup"] == "false"
    assert conf["delta.checkpointInterval"] == "50"
    fields = {f.name: f for f in dt.schema().fields}
    assert fields["bucket_ts"].type.type == "timestamp" and not fields["bucket_ts"].nullable
    assert fields["bid"].nullable and not fields["crossed"].nullable
    assert dt.history(1)[0]["operation"] == "WRITE"  # a new slot is appended
    # its writer lane, versioned by the newest slot it wrote
    assert dt.transaction_version("ib_futures/futures_snapshots/ES") == int(SLOT.timestamp())
    assert dt.protocol().min_writer_version >= 3


def test_non_constraint_properties_are_known_delta_keys(tmp_path: Path) -> None:
    # create() with raise_if_key_not_exists=True rejects unknown keys: guards against typos
    props = {k: v for k, v in FUTURES.properties.items() if k != "delta.minWriterVersion"}
    DeltaTable.create(str(tmp_path / "t"), schema=FUTURES.delta_schema(), configuration=props)


def test_empty_batch_writes_no_commit(lake: str) -> None:
    report = write_snapshots(lake, [])
    assert not os.path.exists(lake)
    assert report.tables["futures_snapshots"].version is None
    write_snapshots(lake, make_batch(SLOT))
    before = _versions(lake)
    write_snapshots(lake, [])
    assert _versions(lake) == before


def test_invalid_batch_fails_naming_rows_and_fields_and_writes_nothing(lake: str) -> None:
    write_snapshots(lake, make_batch(SLOT))
    before = _versions(lake)
    records = make_batch(SLOT + timedelta(minutes=5))
    records[2]["bid"] = -1.0
    records[4]["volume"] = "n/a"
    with pytest.raises(SnapshotValidationError) as err:
        write_snapshots(lake, records)
    text = str(err.value)
    assert "2 of 6 snapshot records invalid (rows [2, 4])" in text
    assert "row 2 (RTY 2026-11-24T15:10:00+00:00): bid:" in text
    assert "row 4 (QQQ 2026-11-24T15:10:00+00:00): volume:" in text
    assert _versions(lake) == before
    assert _rows(lake, "futures_snapshots").height == 3


def test_reject_mode_writes_valid_rows_and_diverts_invalid_ones(lake: str) -> None:
    records = make_batch(SLOT)
    records[0]["ask"] = None
    records[0]["bid"] = 0.0
    records[5]["asset_class"] = "STK"
    report = write_snapshots(lake, records, on_invalid="reject", source="dag/run/task")
    assert report.rows_rejected == 2 and report.rows_valid == 4
    assert report.tables[REJECTS_TABLE].rows_inserted == 2
    rejects = _rows(lake, REJECTS_TABLE).sort("row_index")
    assert rejects["row_index"].to_list() == [0, 5]
    assert rejects["target_table"].to_list() == ["futures_snapshots", None]
    assert rejects["symbol"].to_list() == ["ES", "IWM"]
    assert rejects["source"].to_list() == ["dag/run/task"] * 2
    assert rejects["reasons"].to_list()[0] == [
        "bid: 0.0 is not a positive price (missing prices must be None)"
    ]
    assert json.loads(rejects["record_json"][1]) == records[5]
    assert _rows(lake, "futures_snapshots").height == 2
    assert _rows(lake, "spot_snapshots").height == 2
    # a retry of the same batch duplicates neither rows nor rejects
    again = write_snapshots(lake, records, on_invalid="reject")
    assert again.tables[REJECTS_TABLE].rows_inserted == 0
    assert _rows(lake, REJECTS_TABLE).height == 2


def test_dry_run_validates_without_touching_storage(lake: str) -> None:
    report = write_snapshots(lake, make_batch(SLOT), dry_run=True)
    assert report.dry_run and report.rows_valid == 6
    assert not os.path.exists(lake)
    bad = make_batch(SLOT)
    bad[0]["bid"] = "x"
    with pytest.raises(SnapshotValidationError):
        write_snapshots(lake, bad, dry_run=True)
    assert write_snapshots(lake, bad, dry_run=True, on_invalid="reject").rows_rejected == 1
    assert not os.path.exists(lake)


def test_unknown_on_invalid_is_refused(lake: str) -> None:
    with pytest.raises(ValueError, match="on_invalid='drop'"):
        write_snapshots(lake, make_batch(SLOT), on_invalid="drop")  # type: ignore[arg-type]


def test_constraint_violating_batch_is_rejected_whole_by_the_table(lake: str) -> None:
    """Another writer skipping validation still cannot store a bad row, nor half a batch."""
    write_snapshots(lake, make_batch(SLOT, ("ES",)))
    uri = table_uri(lake, "futures_snapshots")
    version = DeltaTable(uri).version()
    good = validate_snapshots(make_batch(SLOT + timedelta(minutes=5), ("ES", "NQ"))).rows
    rows = good["futures_snapshots"]
    rows[1] = dict(rows[1], bid=6002.0, ask=6001.0)  # crossed but not flagged
    with pytest.raises(DeltaError, match="failed validation check"):
        merge_rows(uri, FUTURES, rows, max_attempts=1)
    rows[1] = dict(rows[1], bid=-1.0, ask=6001.0)
    with pytest.raises(DeltaError, match="failed validation check"):
        merge_rows(uri, FUTURES, rows, max_attempts=1)
    rows[1] = dict(rows[1], bid=1.0, asset_class="ETF")  # wrong table
    with pytest.raises(DeltaError, match="failed validation check"):
        merge_rows(uri, FUTURES, rows, max_attempts=1)
    assert DeltaTable(uri).version() == version
    assert _rows(lake, "futures_snapshots").height == 1


def test_merge_predicate_carries_literal_partition_values() -> None:
    rows = validate_snapshots(
        make_batch(SLOT, ("ES",)) + make_batch(SLOT + timedelta(days=1), ("ES",))
    ).rows["futures_snapshots"]
    assert merge_predicate(FUTURES, rows) == (
        "t.bucket_date IN ('2026-11-24', '2026-11-25') "
        "AND t.symbol = s.symbol AND t.bucket_ts = s.bucket_ts"
    )


def test_write_retried_after_a_failure_never_duplicates_a_key(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit lands, then the attempt fails (as when a conflict or I/O error is reported
    after the fact): the retried merge must see the row and insert nothing."""
    real = writer._write_attempt
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> tuple[str, int]:
        calls["n"] += 1
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 1:
            raise CommitFailedError("injected failure after commit")
        return result

    monkeypatch.setattr(writer, "_write_attempt", flaky)
    report = write_snapshots(lake, make_batch(SLOT, ("ES", "NQ")))
    fut = report.tables["futures_snapshots"]
    # the first attempt appended (new keys); the retry sees that file and merges nothing in
    assert (fut.attempts, fut.method, fut.rows_inserted) == (2, "merge", 0)
    monkeypatch.setattr(writer, "_write_attempt", real)
    # and a task-level retry of the whole batch after a crash
    write_snapshots(lake, make_batch(SLOT, ("ES", "NQ", "RTY")))
    fut = _rows(lake, "futures_snapshots")
    assert fut.height == 3
    assert fut.select("symbol", "bucket_ts").is_unique().all()


def test_schema_evolution_adds_a_nullable_column(lake: str) -> None:
    write_snapshots(lake, make_batch(SLOT, ("ES",)))
    evolved = FUTURES.with_columns(Column("implied_vol", "double", True, "new in this test"))
    uri = table_uri(lake, "futures_snapshots")
    ensure_table(uri, evolved)  # one ADD COLUMNS commit
    assert "implied_vol" in [f.name for f in DeltaTable(uri).schema().fields]
    rows = validate_snapshots([make_record("NQ", SLOT, implied_vol=0.21)], {"FUT": evolved}).rows[
        "futures_snapshots"
    ]
    assert merge_rows(uri, evolved, rows).rows_inserted == 1
    # an older-shaped writer (spec without the column) still merges; the column stays null
    old_rows = validate_snapshots(make_batch(SLOT, ("RTY",))).rows["futures_snapshots"]
    assert merge_rows(uri, FUTURES, old_rows).rows_inserted == 1
    fut = _rows(lake, "futures_snapshots").sort("symbol")
    assert fut.select("symbol", "implied_vol").rows() == [("ES", None), ("NQ", 0.21), ("RTY", None)]


def test_evolution_refuses_a_not_null_column_or_a_type_change(lake: str) -> None:
    from ib_futures.lake.tables import SchemaConflictError

    write_snapshots(lake, make_batch(SLOT, ("SPY",)))
    uri = table_uri(lake, "spot_snapshots")
    with pytest.raises(SchemaConflictError, match="'venue' must be nullable"):
        ensure_table(uri, SPOT.with_columns(Column("venue", "string", nullable=False)))
    columns = tuple(Column(c.name, "string") if c.name == "volume" else c for c in SPOT.columns)
    changed = dataclasses.replace(SPOT, columns=columns)
    with pytest.raises(SchemaConflictError, match="'volume' is double in the table, string"):
        ensure_table(uri, changed)


def _fut_rows(*batches: list[dict[str, object]]) -> list[dict[str, object]]:
    return validate_snapshots([r for b in batches for r in b]).rows["futures_snapshots"]


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FUTURES.polars_schema(), orient="row")


def test_statistics_prove_a_new_slot_new_and_a_stored_key_possibly_present(lake: str) -> None:
    uri = table_uri(lake, "futures_snapshots")
    morning = [SLOT + timedelta(minutes=5 * i) for i in (0, 1, 3)]  # slot 2 missed
    for slot in morning:
        merge_rows(uri, FUTURES, _fut_rows(make_batch(slot)))
    table = DeltaTable(uri)
    later = SLOT + timedelta(hours=1)
    assert writer.keys_provably_new(table, FUTURES, _frame(_fut_rows(make_batch(later))))
    # another day's partition: nothing there at all
    assert writer.keys_provably_new(
        table, FUTURES, _frame(_fut_rows(make_batch(SLOT + timedelta(days=1))))
    )
    # one stored key among new ones: the file of that slot could hold it
    mixed = _fut_rows(make_batch(later), make_batch(morning[1], ("NQ",)))
    assert not writer.keys_provably_new(table, FUTURES, _frame(mixed))
    # a symbol not written in that slot: ES/NQ/RTY files span ES..RTY, so "NQX" falls inside
    # (statistics are ranges, not sets), while "AAA" sorts before every stored symbol
    assert not writer.keys_provably_new(
        table, FUTURES, _frame(_fut_rows([make_record("NQX", morning[1])]))
    )
    assert writer.keys_provably_new(
        table, FUTURES, _frame(_fut_rows([make_record("AAA", morning[1])]))
    )
    # the missed slot lies between two files: provably new
    assert writer.keys_provably_new(
        table, FUTURES, _frame(_fut_rows(make_batch(SLOT + timedelta(minutes=10))))
    )
    # after compaction one file spans the whole morning: the missed slot is no longer provable
    table.optimize.compact()
    table = DeltaTable(uri)
    assert len(table.file_uris()) == 1
    gap = _fut_rows(make_batch(SLOT + timedelta(minutes=10)))
    assert not writer.keys_provably_new(table, FUTURES, _frame(gap))
    assert writer.keys_provably_new(table, FUTURES, _frame(_fut_rows(make_batch(later))))
    # and the write itself takes the merge path there, inserting every row once
    result = merge_rows(uri, FUTURES, gap)
    assert (result.method, result.rows_inserted) == ("merge", 3)


def test_tables_without_writer_lanes_or_with_other_columns_always_merge(lake: str) -> None:
    uri = table_uri(lake, "futures_snapshots")
    rows = _fut_rows(make_batch(SLOT))
    assert merge_rows(uri, dataclasses.replace(FUTURES, lane_column=None), rows).method == "merge"
    later = _fut_rows(make_batch(SLOT + timedelta(hours=1)))
    evolved = FUTURES.with_columns(Column("implied_vol", "double", True, "new in this test"))
    ensure_table(uri, evolved)
    # an older-shaped writer: the table has a column its rows lack, so it merges (filling null)
    assert not writer.keys_provably_new(DeltaTable(uri), FUTURES, _frame(later))
    assert merge_rows(uri, FUTURES, later).method == "merge"
    with pytest.raises(ValueError, match="lane_column 'exchange' is not a key column"):
        dataclasses.replace(FUTURES, lane_column="exchange")


def test_an_append_from_a_stale_table_state_conflicts_and_never_duplicates(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer B's statistics say "new" from a state read before writer A committed the same
    keys; A's and B's commits share the symbols' writer lanes, so B's append must conflict,
    and its retry (fresh state: A's file is there) merges nothing in."""
    uri = table_uri(lake, "futures_snapshots")
    merge_rows(uri, FUTURES, _fut_rows(make_batch(SLOT - timedelta(minutes=5))))
    stale = DeltaTable(uri)
    slot = _fut_rows(make_batch(SLOT))
    a = merge_rows(uri, FUTURES, slot[:2])  # A writes ES and NQ of the slot
    assert (a.method, a.rows_inserted) == ("append", 2)
    assert writer.keys_provably_new(stale, FUTURES, _frame(slot))  # what B believes
    monkeypatch.setattr(writer, "ensure_table", lambda *args, **kwargs: stale)
    b = merge_rows(uri, FUTURES, slot)  # B writes ES, NQ and RTY of the same slot
    assert (b.attempts, b.method, b.rows_inserted) == (2, "merge", 1)
    fut = _rows(lake, "futures_snapshots")
    assert fut.height == 6
    assert fut.select("symbol", "bucket_ts").is_unique().all()


def test_other_symbols_of_the_same_slot_do_not_conflict(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = table_uri(lake, "futures_snapshots")
    merge_rows(uri, FUTURES, _fut_rows(make_batch(SLOT - timedelta(minutes=5))))
    stale = DeltaTable(uri)
    merge_rows(uri, FUTURES, _fut_rows(make_batch(SLOT, ("ES",))))
    monkeypatch.setattr(writer, "ensure_table", lambda *args, **kwargs: stale)
    b = merge_rows(uri, FUTURES, _fut_rows(make_batch(SLOT, ("NQ", "RTY"))))
    assert (b.attempts, b.method, b.rows_inserted) == (1, "append", 2)
    assert _rows(lake, "futures_snapshots").height == 6
