"""What every end-to-end collection test triggers and checks, whatever the executor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

DAG_ID = "futures_collection"
FUTURES = ["ES", "NQ", "RTY"]
ETFS = ["SPY", "QQQ", "IWM"]
SUCCESSFUL_RUN = {
    "market_session": "success",
    "skip": "skipped",
    "collect": "success",
    "write": "success",
    "collection_complete": "success",
}


def trading_slot(now: datetime) -> datetime:
    """The most recent 15:00 UTC slot at which futures and ETFs were both open."""
    from ib_futures.demo import recent_trading_slots

    slots = [s for s in recent_trading_slots(10_000, now) if (s.hour, s.minute) == (15, 0)]
    assert slots, f"no trading day with a 15:00 UTC slot in the ten days before {now}"
    return slots[-1]


def trigger_and_expect_success(stack: Any, slot: datetime, run_id: str, timeout: float) -> str:
    """Unpause, trigger through the REST API for ``slot`` and wait for a successful run."""
    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    run_id = stack.trigger(DAG_ID, logical_date=slot, run_id=run_id)
    state = stack.wait_for_run(DAG_ID, run_id, timeout=timeout)
    assert (state, stack.task_states(DAG_ID, run_id)) == ("success", SUCCESSFUL_RUN)
    return str(run_id)


def assert_slot_in_lake(lake: str, slot: datetime) -> None:
    """One live, priced row per instrument at ``slot`` in each snapshot table."""
    from ib_futures.lake.readers import read_window
    from ib_futures.lake.schemas import FUTURES as FUTURES_SPEC
    from ib_futures.lake.schemas import SPOT as SPOT_SPEC

    cols = ["symbol", "bucket_ts", "price", "market_data_type", "local_symbol"]
    for spec, symbols in ((FUTURES_SPEC, FUTURES), (SPOT_SPEC, ETFS)):
        rows = read_window(lake, spec, symbols, slot, slot + timedelta(minutes=5), cols).to_dicts()
        assert sorted(r["symbol"] for r in rows) == sorted(symbols), (spec.name, rows)
        for row in rows:
            assert row["bucket_ts"] == slot, row
            assert row["price"] is not None and row["price"] > 0, row
            assert row["market_data_type"] == 1, row
