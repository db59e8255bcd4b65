"""Freshness check (pure verdict, lake check, CLI) and the deadline callback's alert sink."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ib_futures.callbacks import missed_collection_alert, send_alert
from ib_futures.core.config import load_config
from ib_futures.freshness import assess, check_lake, main

sys.path.insert(0, str(Path(__file__).parent / "lake"))
from support.lake_records import make_record

CFG = load_config()
TUE_10 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET
FRI_1655 = datetime(2026, 11, 20, 21, 55, tzinfo=UTC)  # Friday 16:55 ET, last futures slot


def test_assess_counts_expected_slots_after_the_newest_row():
    classes = {"ES": "FUT", "SPY": "ETF"}
    fresh = assess(TUE_10 + timedelta(minutes=10), {"ES": TUE_10, "SPY": TUE_10}, classes, CFG)
    assert fresh.ok and [s.missed_slots for s in fresh.symbols] == [0, 0]  # 15:05 not yet due
    stale = assess(TUE_10 + timedelta(minutes=40), {"ES": TUE_10, "SPY": None}, classes, CFG)
    assert not stale.ok
    by = {s.symbol: s for s in stale.symbols}
    assert by["ES"].missed_slots == 6 and by["SPY"].missed_slots > 6
    assert "ES missed 6 slots" in stale.summary()


def test_weekend_and_halt_expect_nothing():
    saturday = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    assert assess(saturday, {"ES": FRI_1655}, {"ES": "FUT"}, CFG).ok
    halt_end = datetime(2026, 11, 24, 22, 55, tzinfo=UTC)  # 17:55 ET, newest 16:55 ET
    report = assess(halt_end, {"ES": datetime(2026, 11, 24, 21, 55, tzinfo=UTC)}, {"ES": "FUT"},
                    CFG)
    assert report.ok and report.symbols[0].missed_slots == 0


def test_check_lake_and_cli_exit_codes(tmp_path, capsys):
    from ib_futures.lake.writer import write_snapshots

    lake = str(tmp_path / "lake")
    write_snapshots(lake, [make_record(s, TUE_10) for s in ("ES", "NQ", "RTY", "SPY", "QQQ",
                                                           "IWM")])
    assert check_lake(CFG, TUE_10 + timedelta(minutes=15), lake_uri=lake).ok
    late = TUE_10 + timedelta(hours=1)
    report = check_lake(CFG, late, lake_uri=lake)
    assert not report.ok and len(report.stale) == 6
    assert main(["--at", late.isoformat(), "--lake", lake]) == 1
    out = capsys.readouterr().out
    # Airflow announces its unit-test configuration on stdout on first import (test mode only)
    assert json.loads(out[out.index("{\n") :])["ok"] is False
    assert main(["--at", (TUE_10 + timedelta(minutes=5)).isoformat(), "--lake", lake]) == 0


def test_deadline_callback_logs_journals_and_survives_a_failing_notifier(tmp_path, caplog):
    journal = tmp_path / "alerts.jsonl"
    context = {"dag_run": {"dag_id": "futures_collection", "dag_run_id": "scheduled__x",
                           "logical_date": TUE_10.isoformat(), "state": "running"},
               "deadline": {"deadline_time": (TUE_10 + timedelta(minutes=10)).isoformat()}}
    with caplog.at_level(logging.ERROR, logger="ib_futures.alerts"):
        output = asyncio.run(missed_collection_alert(
            context=context, journal=str(journal), notifier="smtp", conn_id="no_such_smtp",
            to="desk@example.com"))
    assert "missed its deadline" in caplog.text
    line = json.loads(journal.read_text().splitlines()[0])
    assert line["kind"] == "deadline_missed" and line["run_id"] == "scheduled__x"
    assert isinstance(output, str)  # Airflow stores the callback's output in a text column
    record = json.loads(output)
    assert record["run_id"] == "scheduled__x"
    assert "notify_error" in record  # no SMTP connection: logged, the alert itself stands


def test_unknown_notifier_kind_is_named():
    record = send_alert("x", {}, notifier="pager")
    assert "pager" in record["notify_error"]


def test_slots_recorded_unfillable_are_known_gaps_not_missed(tmp_path):
    """IB had no bar for 10:05-10:30 ET: the repair recorded them; freshness counts them apart.
    Collection stopping afterwards still alerts."""
    from ib_futures.lake.schemas import UNFILLABLE
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.writer import merge_rows, write_snapshots

    lake = str(tmp_path / "lake")
    write_snapshots(lake, [make_record("ES", TUE_10)])
    gaps = [TUE_10 + timedelta(minutes=5 * k) for k in range(1, 7)]
    rows = [{"symbol": "ES", "asset_class": "FUT", "bucket_ts": t, "bucket_date": t.date(),
             "local_symbol": "ESZ6", "reason": "no_bar", "ib_code": None, "message": "no bar",
             "recorded_ts": TUE_10, "source": "test"} for t in gaps]  # fmt: skip
    merge_rows(table_uri(lake, UNFILLABLE.name), UNFILLABLE, rows)
    at = TUE_10 + timedelta(minutes=40)  # due: 10:05 to 10:30 ET
    (es,) = check_lake(CFG, at, lake_uri=lake, symbols=["ES"]).symbols
    assert (es.missed_slots, es.known_unfillable) == (0, 6)
    (es,) = check_lake(CFG, at + timedelta(minutes=30), lake_uri=lake, symbols=["ES"]).symbols
    assert (es.missed_slots, es.known_unfillable) == (6, 6)
    assert not check_lake(CFG, at + timedelta(minutes=30), lake_uri=lake, symbols=["ES"]).ok
