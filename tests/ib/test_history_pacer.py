"""``ib.history`` books every historical request with the pacer it is given (the simulator,
the real ib_async client), and a ledger that fails means no request, not an unpaced one."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime

import pytest

from ib_futures.core.config import load_config
from ib_futures.core.contracts import RollRule
from ib_futures.core.instruments import select_instruments
from ib_futures.core.pacing import (
    HistoricalPacer,
    InProcessLedger,
    PacingLimits,
    RequestKey,
    Reservation,
)
from ib_futures.ib.collector import run_cycle
from ib_futures.ib.contracts import resolve_all
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.history import HistoryUnavailable, recent_closes
from ib_futures.ib.settings import GatewaySettings

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
CFG = load_config()


class RecordingLedger(InProcessLedger):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[RequestKey] = []

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        self.keys.append(key)
        return super().reserve(key, limits, max_wait)


class BrokenLedger(InProcessLedger):
    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        raise sqlite3.OperationalError("unable to open database file")


def settings(port: int) -> GatewaySettings:
    return GatewaySettings(port=port, client_id=7, connect_timeout=3, request_timeout=3,
                           disconnect_pause=0.0)  # fmt: skip


def closes(port: int, pacer: HistoricalPacer) -> list[tuple[datetime, float]]:
    async def main() -> list[tuple[datetime, float]]:
        async with connect_gateway(settings(port), lease_dir=None) as gw:
            instruments = select_instruments(CFG, ["ES"])
            resolved, _ = await resolve_all(gw, instruments, date(2026, 11, 24), RollRule())
            return await recent_closes(gw, resolved["ES"], SLOT, duration="1 D", pacer=pacer)

    return asyncio.run(main())


def test_recent_closes_books_with_the_pacer_given(ib_simulator):
    ledger = RecordingLedger()
    bars = closes(ib_simulator.port, HistoricalPacer(ledger=ledger))
    assert bars and bars[-1][0] == SLOT
    (key,) = ledger.keys
    assert (key.exchange, key.what_to_show, key.bar_size, key.duration, key.end) == (
        "CME", "TRADES", "5 mins", "1 D", "20261124 15:00:00 UTC"
    )


def test_a_failing_ledger_sends_nothing(ib_simulator):
    with pytest.raises(HistoryUnavailable) as info:
        closes(ib_simulator.port, HistoricalPacer(ledger=BrokenLedger()))
    assert str(info.value) == (
        "ES (ESZ6): historical bars not requested: the pacing ledger failed: "
        "OperationalError: unable to open database file"
    )
    assert ib_simulator.journal.entries("historical_data") == []


def test_the_cycle_passes_its_pacer_to_every_history_request(ib_simulator):
    ledger = RecordingLedger()

    async def main():
        async with connect_gateway(settings(ib_simulator.port), lease_dir=None) as gw:
            return await run_cycle(
                gw, select_instruments(CFG, ["ES", "NQ"]), SLOT, roll=RollRule(),
                trade_date=date(2026, 11, 24), pacer=HistoricalPacer(ledger=ledger),
            )  # fmt: skip

    result = asyncio.run(main())
    assert result.stats.historical_requests == 2
    assert len(ledger.keys) == 2  # an empty lake: one request per instrument, both booked
    assert {s.change_source for s in result.collection.snapshots} == {"history"}
