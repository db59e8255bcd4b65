"""A spent pacing budget does not hold the live snapshot hostage (found by the real-scheduler
soak: on a lake without the previous close every cycle asked IB for bars, and after ten cycles
the eleventh waited 225 s for its turn, past the task's two-minute execution timeout, so the
slot's live quote was lost). The change metrics' request gives up after
``CHANGE_HISTORY_MAX_WAIT_S``; the snapshot is kept with empty change metrics, and the turn it
gave up is not booked (the 100-run soak found an hour of such reservations in front of the gap
repair)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime

from ib_futures.core.config import load_config
from ib_futures.core.contracts import RollRule
from ib_futures.core.instruments import select_instruments
from ib_futures.core.pacing import HistoricalPacer
from ib_futures.ib.collector import CHANGE_HISTORY_MAX_WAIT_S, run_cycle
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.settings import GatewaySettings

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
CFG = load_config()


def cycle(port: int, pacer: HistoricalPacer, symbols: list[str]):
    settings = GatewaySettings(port=port, connect_timeout=3, request_timeout=2,
                               snapshot_timeout=1.5, disconnect_pause=0.0)  # fmt: skip

    async def main():
        async with connect_gateway(settings, lease_dir=None) as gw:
            return await run_cycle(gw, select_instruments(CFG, symbols), SLOT, roll=RollRule(),
                                   trade_date=date(2026, 11, 24), pacer=pacer)  # fmt: skip

    return asyncio.run(main())


def test_a_spent_pacing_budget_leaves_metrics_empty_and_keeps_the_snapshot(ib_simulator) -> None:
    # Two requests per 10 minutes: the first cycle spends the budget, the second would wait ~10 min.
    pacer = HistoricalPacer(max_requests=2, same_contract_max=2, min_gap_s=0.0)
    first = cycle(ib_simulator.port, pacer, ["ES", "NQ"])
    assert all(s.change_source == "history" for s in first.collection.snapshots)
    started = time.monotonic()
    second = cycle(ib_simulator.port, pacer, ["ES"])
    assert time.monotonic() - started < CHANGE_HISTORY_MAX_WAIT_S
    (es,) = second.collection.snapshots
    assert es.price is not None and es.price_source == "live"
    assert (es.change_1h, es.change_4h, es.change_daily, es.change_overnight) == (None,) * 4
    assert "pacing budget is spent" in second.stats.history_failures["ES"]
    assert len(ib_simulator.journal.entries(msg_id=20)) == 2  # the third was never sent
    assert pacer.booked() == 2  # and left no reservation holding the budget for others
