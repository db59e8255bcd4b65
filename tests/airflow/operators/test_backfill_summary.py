"""The repair's summary task: what stays missing or unfillable is logged and sent through the
configured notifier (here the alert journal, which every alert is appended to)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ib_futures.airflow.operators.backfill import BackfillSummaryOperator
from ib_futures.lake.schemas import UNFILLABLE
from ib_futures.lake.storage import table_uri
from ib_futures.lake.writer import merge_rows

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET


class FakeTI:
    """Just the XCom reads the summary makes."""

    def __init__(self, plan: dict[str, Any], batches: list, fetched: list[dict]) -> None:
        self.plan, self.batches, self.fetched = plan, batches, fetched

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: Any = None) -> Any:
        if task_ids == "plan":
            return self.plan if key == "plan" else self.batches
        return self.fetched[map_indexes]


def summary(lake: str, notify: bool, journal, monkeypatch) -> dict[str, Any]:
    monkeypatch.setenv("IB_FUTURES_ALERT_JOURNAL", str(journal))
    plan = {"start": SLOT.isoformat(), "end": (SLOT + timedelta(minutes=30)).isoformat(),
            "symbols": ["ES"], "dry_run": False}  # fmt: skip
    fetched = [{"historical_requests": 2, "slots_filled": 0, "slots_unfillable": 6}]
    op = BackfillSummaryOperator(task_id="summary", notify=notify, lake_uri=lake)
    return op.execute({"ti": FakeTI(plan, [[{}]], fetched)})  # type: ignore[arg-type]


def test_unfillable_slots_are_summarised_and_sent(tmp_path, monkeypatch):
    lake = str(tmp_path / "lake")
    rows = [{"symbol": "ES", "asset_class": "FUT", "bucket_ts": t, "bucket_date": t.date(),
             "local_symbol": "ESZ6", "reason": "no_permission", "ib_code": 354,
             "message": "not subscribed", "recorded_ts": SLOT, "source": "test"}
            for t in (SLOT + timedelta(minutes=5 * k) for k in range(6))]  # fmt: skip
    merge_rows(table_uri(lake, UNFILLABLE.name), UNFILLABLE, rows)
    journal = tmp_path / "alerts.jsonl"
    result = summary(lake, True, journal, monkeypatch)
    assert result["historical_requests"] == 2 and result["known_unfillable"] == 6
    assert result["unfillable_by_reason"] == {"no_permission": 6}
    (alert,) = [json.loads(line) for line in journal.read_text().splitlines()]
    assert alert["subject"] == "gap repair: 6 slots stay missing"
    assert alert["unfillable_by_reason"] == {"no_permission": 6}

    quiet = tmp_path / "quiet.jsonl"
    summary(lake, False, quiet, monkeypatch)  # the backfill's summary does not notify
    assert not quiet.exists()
