"""Each fault of the plan, put into the running simulator before a slot's first try.

Rules that fire a limited number of times (``times``) wear off by themselves; connection-level
faults (refused connections, a client holding the collector's client id) are undone by the
returned ``undo`` after the first try, so the DAG's retries meet a healthy gateway.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ib_gateway_sim import SimulatorThread

Undo = Callable[[], None]


def _nothing() -> None:
    return None


def inject(
    kind: str, sim: SimulatorThread, symbols: list[str], rng: random.Random, *,
    latency_s: float, blocker: Callable[[], Any],
) -> tuple[str, Undo]:
    """Put fault ``kind`` into ``sim``; returns (what was done, undo after the first try)."""
    symbol = rng.choice(symbols)
    faults = sim.faults
    if kind == "refuse":
        sim.refuse_connections()
        return "connections refused for the first try", sim.accept_connections
    if kind == "drop":
        faults.drop("snapshot", times=1)
        return "connection dropped at the first snapshot request", _nothing
    if kind == "hang":
        faults.hang("snapshot", symbol=symbol, times=1)
        return f"{symbol} snapshot swallowed once", _nothing
    if kind.startswith("error_") and kind != "error_162":
        code = int(kind.removeprefix("error_"))
        request = "contract_details" if code == 200 else "snapshot"
        faults.error(request, code, symbol=symbol, times=1)
        return f"{symbol} {request} answered {code} once", _nothing
    if kind == "error_162":
        # Pacing/no data on the next historical requests: the late path or the repair meets it.
        faults.error("historical_data", 162, times=2)
        return "next 2 historical requests answered 162", _nothing
    if kind == "client_id_326":
        held = blocker()
        return "a client holds client id 100 (326 for the collector)", held.disconnect
    if kind.startswith("notice_"):
        code = int(kind.removeprefix("notice_"))
        faults.notice(code, "snapshot", times=1)
        return f"notice {code} sent with the first snapshot request", _nothing
    if kind == "stale_quote":
        faults.stale_quote(None, times=len(symbols))
        return "every snapshot of the first try stale (10197, cached ticker)", _nothing
    if kind == "latency":
        faults.delay(latency_s, "snapshot", symbol=symbol, times=1)
        return f"{symbol} snapshot delayed {latency_s:g}s (beyond its timeout)", _nothing
    raise ValueError(f"unknown fault kind {kind!r}")
