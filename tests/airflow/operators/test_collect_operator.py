"""IBFuturesOperator against the simulator: XCom contract, partial failures, closed markets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from ib_futures.airflow.operators.collect import IBFuturesOperator, IncompleteCollectionError
from ib_futures.core.snapshot import RECORD_KEYS

OPEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET
EVENING = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # Tuesday 18:00 ET: futures only


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def context(slot: datetime | None, run_after: datetime | None = None) -> dict[str, Any]:
    return {
        "logical_date": slot,
        "data_interval_end": slot,
        "dag_run": SimpleNamespace(logical_date=slot, run_after=run_after or slot),
        "ti": FakeTI(),
    }


@pytest.fixture
def conn(monkeypatch, ib_simulator, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_IB_DEFAULT",
        json.dumps(
            {
                "conn_type": "ibkr",
                "host": "127.0.0.1",
                "port": ib_simulator.port,
                "extra": {"connect_timeout": 3, "request_timeout": 2, "snapshot_timeout": 1.5},
            }
        ),
    )
    monkeypatch.setenv("IB_FUTURES_LAKE_URI", str(tmp_path / "lake"))
    # History seeding is covered in tests/ib; here it would only add paced requests.
    cfg = tmp_path / "futures_config.yaml"
    cfg.write_text("collection:\n  history_fallback: false\n")
    monkeypatch.setenv("IB_FUTURES_CONFIG", str(cfg))
    return ib_simulator


def test_returns_one_json_record_per_instrument_for_the_run_slot(conn):
    op = IBFuturesOperator(task_id="collect")
    records = op.execute(context(OPEN))
    json.dumps(records)  # the XCom contract: plain JSON
    assert sorted(r["symbol"] for r in records) == ["ES", "IWM", "NQ", "QQQ", "RTY", "SPY"]
    for r in records:
        assert set(r) == set(RECORD_KEYS)
        assert r["bucket_ts"] == "2026-11-24T15:00:00+00:00" and r["bucket_date"] == "2026-11-24"
        assert r["bid"] <= r["ask"]


def test_manual_run_without_logical_date_collects_into_its_run_after_slot(conn):
    op = IBFuturesOperator(task_id="collect", instruments=["ES"])
    ctx = context(None, run_after=datetime(2026, 11, 24, 15, 3, 27, tzinfo=UTC))
    (rec,) = op.execute(ctx)
    assert rec["bucket_ts"] == "2026-11-24T15:00:00+00:00"


def test_subset_as_a_rendered_string_and_unknown_symbol(conn):
    assert [
        r["symbol"]
        for r in IBFuturesOperator(task_id="c", instruments="ES,SPY").execute(context(OPEN))
    ] == ["ES", "SPY"]
    with pytest.raises(ValueError, match="'XYZ'"):
        IBFuturesOperator(task_id="c", instruments=["ES", "XYZ"]).execute(context(OPEN))


def test_closed_etf_market_is_left_out_not_failed(conn):
    conn.clock.set(EVENING)  # the run is current by the gateway's clock
    records = IBFuturesOperator(task_id="c").execute(context(EVENING))
    assert sorted(r["symbol"] for r in records) == ["ES", "NQ", "RTY"]


def test_partial_failure_pushes_the_good_rows_then_fails(conn):
    conn.faults.hang("snapshot", symbol="QQQ")
    ctx = context(OPEN)
    with pytest.raises(
        IncompleteCollectionError, match=r"1 of 6 instruments not collected \(QQQ\)"
    ):
        IBFuturesOperator(task_id="c").execute(ctx)
    pushed = ctx["ti"].pushed["return_value"]
    assert sorted(r["symbol"] for r in pushed) == ["ES", "IWM", "NQ", "RTY", "SPY"]


def test_allow_partial_succeeds_with_the_good_rows(conn):
    conn.faults.error("contract_details", 200, symbol="RTY")
    records = IBFuturesOperator(task_id="c", allow_partial=True).execute(context(OPEN))
    assert "RTY" not in {r["symbol"] for r in records} and len(records) == 5
