"""Validation: types, required fields, the tables' rules, duplicate keys; clear messages."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from ib_futures.lake.schemas import FUTURES_TABLE, SNAPSHOT_COLUMNS, SPOT_TABLE
from ib_futures.lake.validate import SnapshotValidationError, validate_snapshots
from support.lake_records import make_batch, make_record

SLOT = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)


def test_columns_follow_the_record_contract() -> None:
    from ib_futures.core.snapshot import RECORD_KEYS

    assert tuple(c.name for c in SNAPSHOT_COLUMNS) == RECORD_KEYS


def test_collector_records_are_valid_and_routed_by_asset_class() -> None:
    from ib_futures.core.snapshot import Snapshot

    snap = Snapshot(
        symbol="ES", asset_class="FUT", bucket_ts=SLOT, collected_ts=SLOT, con_id=1,
        local_symbol="ESZ6", exchange="CME", currency="USD", market_data_type=3,
        bid=6000.0, ask=6000.25, last=None,
    )  # fmt: skip
    records = [snap.to_record(), *make_batch(SLOT, ("SPY", "NQ"))]
    batch = validate_snapshots(records)
    assert not batch.rejected
    assert [r["symbol"] for r in batch.rows[FUTURES_TABLE]] == ["ES", "NQ"]
    assert [r["symbol"] for r in batch.rows[SPOT_TABLE]] == ["SPY"]
    row = batch.rows[FUTURES_TABLE][0]
    assert row["bucket_ts"] == SLOT and row["bucket_ts"].tzinfo is UTC
    assert row["price"] == 6000.125


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        pytest.param("volume", "12", "'12' is str, expected a number", id="numeric-string"),
        pytest.param("con_id", True, "expected an integer", id="bool-as-int"),
        pytest.param("con_id", 1.0, "expected an integer", id="float-as-int"),
        pytest.param("bid", math.nan, "not finite", id="nan-price"),
        pytest.param("bid", -1.0, "not a positive price", id="ib-minus-one"),
        pytest.param("last", 0.0, "not a positive price", id="zero-price"),
        pytest.param("bid_size", -1.0, "negative", id="negative-size"),
        pytest.param("bucket_ts", "2026-11-24T15:05:00", "no UTC offset", id="naive-ts"),
        pytest.param("bucket_ts", "yesterday", "not an ISO-8601", id="garbage-ts"),
        pytest.param("bucket_ts", "2026-11-24T15:07:00+00:00", "5-minute boundary", id="off-slot"),
        pytest.param("bucket_date", "2026-11-25", "not the UTC date", id="wrong-date"),
        pytest.param("expiry", "12/18/2026", "YYYY-MM-DD", id="bad-date"),
        pytest.param("crossed", "no", "expected true/false", id="crossed-str"),
        pytest.param("market_data_type", 7, "not 1..4", id="mdt"),
        pytest.param("change_source", "guess", "not one of", id="change-source"),
        pytest.param("asset_class", "STK", "is not one of ['ETF', 'FUT']", id="asset-class"),
        pytest.param("symbol", None, "is None (required)", id="null-symbol"),
        pytest.param("local_symbol", " ", "empty string", id="blank-string"),
    ],
)
def test_an_invalid_field_is_named_with_row_and_symbol(
    field: str, value: object, needle: str
) -> None:
    records = make_batch(SLOT, ("ES", "NQ", "SPY"))
    records[1][field] = value
    with pytest.raises(SnapshotValidationError) as err:
        validate_snapshots(records).raise_if_invalid()
    problems = err.value.problems
    assert {p.row for p in problems} == {1}
    assert field in {p.field for p in problems}
    assert any(needle in p.message for p in problems), problems
    text = str(err.value)
    assert "row 1" in text and field in text and "nothing written" in text
    if field != "symbol":
        assert "(NQ " in text


def test_bid_above_ask_must_be_flagged_crossed() -> None:
    rec = make_record("ES", SLOT, bid=6001.0, ask=6000.0, price=6000.0)
    problems = validate_snapshots([rec]).problems
    assert [(p.field, p.row) for p in problems] == [("crossed", 0)]
    ok = make_record("ES", SLOT, bid=6001.0, ask=6000.0, price=6000.0, crossed=True)
    assert not validate_snapshots([ok]).rejected
    liar = make_record("ES", SLOT, crossed=True)
    assert validate_snapshots([liar]).problems[0].field == "crossed"


def test_missing_required_unknown_and_missing_nullable_fields() -> None:
    rec = make_record("ES", SLOT)
    del rec["con_id"]
    del rec["open_interest"]  # nullable: treated as None (older senders keep working)
    rec["implied_vol"] = 0.2
    problems = {p.field: p.message for p in validate_snapshots([rec]).problems}
    assert problems == {
        "con_id": "missing",
        "implied_vol": "unknown field (not a column of futures_snapshots; see docs/storage.md)",
    }
    del rec["implied_vol"]
    rec["con_id"] = 1
    batch = validate_snapshots([rec])
    assert batch.rows[FUTURES_TABLE][0]["open_interest"] is None


def test_non_mapping_record() -> None:
    problems = validate_snapshots([make_record("ES", SLOT), ["ES"]]).problems
    assert [(p.row, p.field) for p in problems] == [(1, "<record>")]


def test_identical_duplicates_collapse_and_conflicting_ones_are_rejected() -> None:
    es = make_record("ES", SLOT)
    batch = validate_snapshots([es, dict(es), make_record("NQ", SLOT)])
    assert batch.duplicates_dropped == 1 and not batch.rejected
    assert len(batch.rows[FUTURES_TABLE]) == 2

    other = make_record("ES", SLOT, price=6001.0, bid=6000.875, ask=6001.125, last=6001.0)
    batch = validate_snapshots([es, make_record("NQ", SLOT), other])
    assert sorted(r.row for r in batch.rejected) == [0, 2]
    assert [r["symbol"] for r in batch.rows[FUTURES_TABLE]] == ["NQ"]
    msg = str(batch.problems[0])
    assert "row 0 (ES 2026-11-24T15:05:00+00:00): symbol,bucket_ts: duplicate key" in msg
    assert "rows [2]" in msg


def test_same_symbol_and_slot_in_two_offsets_is_one_key() -> None:
    a = make_record("ES", SLOT)
    b = dict(a, bucket_ts="2026-11-24T10:05:00-05:00")
    batch = validate_snapshots([a, b])
    assert batch.duplicates_dropped == 1
