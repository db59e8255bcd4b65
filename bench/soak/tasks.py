"""One slot as the futures_collection tasks run it, with the DAG's retry policy.

``market_session`` is ``core.session.decide``; ``collect`` is ``ib.collector.collect_slot``
over ``ib.gateway.connect_gateway`` (what ``IBFuturesOperator`` runs through its hook); ``write``
is ``lake.writer.write_snapshots`` with the config's ``on_invalid``, fed the records of the last
try (``trigger_rule=none_skipped``: it runs after a failed collect too).

Waits: the simulator's clock is frozen at each try's instant and moved by the DAG's retry
delays (20 s, then 40 s: ``retry_delay`` with ``retry_exponential_backoff=2``, at most 60 s),
that is on the simulated clock. Timeouts are real waits, scaled: every gateway timeout is
divided by ``scale`` (15 s -> 1 s at the default 15), and the real time a try takes moves
the simulated clock by ``scale`` times as much, so a hung try costs its full 15 s of gateway
time and a slot retried twice after hangs is met late (filled from IB's bars).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ib_futures.core.config import FuturesConfig
from ib_futures.core.pacing import HistoricalPacer
from ib_futures.core.session import decide
from ib_futures.ib.collector import collect_slot
from ib_futures.ib.gateway import connect_gateway
from ib_futures.ib.settings import GatewaySettings
from ib_futures.lake.readers import stored_price_source
from ib_futures.lake.writer import write_snapshots

#: futures_collection's default_args (dags/futures_collection.py)
RETRIES = 2
RETRY_DELAY = timedelta(seconds=20)
RETRY_BACKOFF = 2.0
MAX_RETRY_DELAY = timedelta(seconds=60)
EXECUTION_TIMEOUT = timedelta(minutes=2)
#: when the scheduler's try starts after the slot
START_LAG = timedelta(seconds=2)


def retry_delay(try_number: int) -> timedelta:
    """The wait before try ``try_number + 1`` (Airflow's exponential backoff, capped)."""
    return min(RETRY_DELAY * RETRY_BACKOFF ** (try_number - 1), MAX_RETRY_DELAY)


@dataclass
class Gateway:
    """The soak's view of the gateway: settings, the simulator's clock, the history pacer."""

    settings: GatewaySettings
    freeze: Callable[[datetime], Any]
    pacer: HistoricalPacer
    lease_dir: Path
    scale: float


@dataclass
class SlotOutcome:
    slot: datetime
    symbols: tuple[str, ...]
    tries: int = 0
    errors: list[str] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # symbol -> price_source
    last_clock: datetime | None = None


async def _collect(gw: Gateway, cfg: FuturesConfig, lake: str, slot: datetime,
                   symbols: list[str]) -> Any:  # fmt: skip
    history = stored_price_source(lake)
    async with connect_gateway(gw.settings, lease_dir=gw.lease_dir) as gateway:
        return await collect_slot(gateway, cfg, slot, symbols, history, gw.pacer)


def run_try(gw: Gateway, cfg: FuturesConfig, lake: str, slot: datetime,
            symbols: list[str]) -> tuple[list[dict[str, Any]] | None, str | None]:  # fmt: skip
    """One try of ``collect``: (records pushed to XCom or None, the failure or None)."""
    timeout = EXECUTION_TIMEOUT.total_seconds() / gw.scale
    try:
        result = asyncio.run(asyncio.wait_for(_collect(gw, cfg, lake, slot, symbols), timeout))
    except Exception as exc:  # the task fails; Airflow retries it
        return None, f"{type(exc).__name__}: {exc}"
    return result.records(), result.failure_summary(slot)


def run_slot(
    gw: Gateway, cfg: FuturesConfig, lake: str, slot: datetime,
    after_first_try: Callable[[], None] | None = None,
) -> SlotOutcome | None:
    """The DAG run of ``slot``: None when the branch skips it, else what happened."""
    decision = decide(slot, cfg)
    if not decision.collect:
        return None
    symbols = list(decision.open_instruments)
    outcome = SlotOutcome(slot, tuple(symbols))
    clock = slot + START_LAG
    records: list[dict[str, Any]] | None = None
    for try_number in range(1, RETRIES + 2):
        gw.freeze(clock)
        started = time.monotonic()
        records, error = run_try(gw, cfg, lake, slot, symbols)
        clock += timedelta(seconds=(time.monotonic() - started) * gw.scale)
        outcome.tries = try_number
        if after_first_try is not None:
            after_first_try()
            after_first_try = None
        if error is None:
            break
        outcome.errors.append(error)
        clock += retry_delay(try_number)
    outcome.last_clock = clock
    if records:
        write_snapshots(lake, records, on_invalid=cfg.storage.on_invalid, source=f"soak/{slot:%Y%m%dT%H%M}")
        outcome.stored = {r["symbol"]: r.get("price_source") or "live" for r in records}
    return outcome
