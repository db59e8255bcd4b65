"""Backfill and gap repair (``ib_futures.backfill.repair_range``) with the real ib_async client
against the simulator and real Delta tables: bad input refused before any historical request,
slots IB cannot give recorded and never asked again, and live collection not held up by a
backfill running beside it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from ib_futures.backfill import BackfillInputError, repair_range
from ib_futures.core.config import FuturesConfig
from ib_futures.core.pacing import HistoricalPacer
from ib_futures.ib.collector import collect_slot
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.settings import GatewaySettings
from ib_futures.lake.readers import read_unfillable

CFG = FuturesConfig()
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET


def settings(port: int) -> GatewaySettings:
    return GatewaySettings(host="127.0.0.1", port=port, request_timeout=10, snapshot_timeout=5)


def fast_pacer() -> HistoricalPacer:
    """IB's counting rules, without the 2 s soft gap (the simulator enforces the hard rules)."""
    return HistoricalPacer(min_gap_s=0.0, margin_s=0.05)


def historical(sim) -> int:
    return len(sim.journal.entries("historical_data"))


def repair(sim, lake, **kwargs):
    kwargs.setdefault("pacer", fast_pacer())
    return asyncio.run(
        repair_range(CFG, lake_uri=str(lake), gateway_connection=settings(sim.port), **kwargs)
    )


@pytest.mark.parametrize(
    ("start", "end", "symbols", "named"),
    [
        ("2026-11-23", "2026-11-20", None, "end=2026-11-20"),
        ("2026-11-23", "2026-11-30", None, "end=2026-11-30"),
        ("2026-11-23", "2026-11-24", ["ES", "ZZ"], "'ZZ'"),
        ("2024-05-01", "2024-05-03", None, "start=2024-05-01"),
    ],
)
def test_bad_input_is_refused_before_any_historical_request(
    simulator_factory, tmp_path, start, end, symbols, named
):
    sim = simulator_factory(start=NOW.isoformat())
    with pytest.raises(BackfillInputError, match=named):
        repair(sim, tmp_path / "lake", start=start, end=end, symbols=symbols)
    assert historical(sim) == 0
    assert not (tmp_path / "lake").exists()  # nothing written


def test_slots_ib_cannot_give_are_recorded_once_and_never_asked_again(simulator_factory, tmp_path):
    # ESU6 expired 2026-09-18; with ten days of retention IB no longer has its bars in November
    sim = simulator_factory(start=NOW.isoformat(), expired_retention_days=10)
    lake = tmp_path / "lake"
    span = {"start": "2026-08-25T13:00:00Z", "end": "2026-08-25T16:00:00Z"}
    first = repair(sim, lake, symbols=["ES", "SPY"], **span)
    assert first["still_missing"] == 0
    # ES: all 36 slots gone with ESU6; SPY: 09:30-12:00 EDT filled
    assert (first["slots_unfillable"], first["slots_filled"]) == (36, 30)
    assert set(first["unfillable_by_reason"]) <= {"beyond_retention", "no_contract"}
    known = read_unfillable(str(lake), ["ES", "SPY"], span["start"], span["end"])
    assert known["symbol"].unique().to_list() == ["ES"] and known.height == 36
    assert known["local_symbol"].unique().to_list() == ["ESU6"]

    asked = historical(sim)
    again = repair(sim, lake, symbols=["ES", "SPY"], **span)
    assert historical(sim) == asked  # nothing stored or known unfillable is asked again
    assert again["plan"]["historical_requests"] == 0
    assert again["plan"]["known_unfillable"] == 36


def test_dry_run_plans_and_requests_nothing(simulator_factory, tmp_path):
    sim = simulator_factory(start=NOW.isoformat())
    summary = repair(sim, tmp_path / "lake", start="2026-11-16", end="2026-11-24", dry_run=True,
                     pacer=HistoricalPacer())  # fmt: skip
    assert summary["plan"]["historical_requests"] == 24  # 6 instruments x 2 windows x 2 fields
    assert len(summary["groups"]) == 12
    assert summary["plan"]["pacing_seconds"] == 23 * 2.0  # IB's limits: 2 s apart
    assert historical(sim) == 0
    assert not (tmp_path / "lake").exists()


def test_live_collection_is_not_held_up_by_a_backfill_running_beside_it(
    simulator_factory, tmp_path
):
    """A month of backfill under IB's real pacing (about two minutes of requests) runs while a
    live slot comes due: the slot is collected live, at once, through the same pacing ledger."""
    slot = NOW
    sim = simulator_factory(start=(slot - timedelta(seconds=3)).isoformat())
    pacer = HistoricalPacer()  # IB's limits, shared by both
    lake = str(tmp_path / "lake")

    async def main() -> tuple[float, list[dict], int]:
        backfill = asyncio.create_task(repair_range(
            CFG, lake_uri=lake, gateway_connection=settings(sim.port), start="2026-10-20",
            end="2026-11-20", pacer=pacer,
        ))  # fmt: skip
        await asyncio.sleep(4)  # the backfill is requesting; the gateway's clock is past the slot
        assert not backfill.done()
        began = time.monotonic()
        async with connect_gateway(settings(sim.port)) as gateway:
            result = await collect_slot(gateway, CFG, slot, ["ES", "SPY"], pacer=pacer)
        took = time.monotonic() - began
        during = historical(sim)
        backfill.cancel()
        with pytest.raises(asyncio.CancelledError):
            await backfill
        return took, result.records(), during

    took, records, during = asyncio.run(main())
    assert during >= 2  # the backfill was under way
    assert sorted(r["symbol"] for r in records) == ["ES", "SPY"]
    assert {r["price_source"] for r in records} == {"live"}
    assert took < 10, f"live collection took {took:.1f}s beside the backfill"
    stored = pl.read_delta(f"{lake}/futures_snapshots") if (tmp_path / "lake").exists() else None
    assert stored is None or stored.filter(pl.col("bucket_ts") == slot).is_empty()
