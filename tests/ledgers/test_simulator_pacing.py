"""Two processes request history from the simulator at once, through one shared ledger.

The simulator enforces IB's pacing with error 162 (``ib_gateway_sim.pacing``), counted across
all its clients as IB counts per account. Its limits are scaled down (seconds instead of
minutes) and the pacer gets the same ones, so a run takes seconds. Every request goes through
the product's ``ib.history.recent_closes`` on the real ib_async client, issued all at once
per process as the collector does. With a shared ledger, no request draws a 162 and the
combined rate stays within the limits; with a ledger per process (the negative control) the
simulator refuses some.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from ib_futures.core.pacing import PacingLimits
from ib_gateway_sim import PacingLimits as SimulatorLimits
from support.pacing import REDIS_URL, history_worker, rate_violations, run_processes

SIMULATOR = SimulatorLimits(
    identical_window=1.0, same_contract_max=3, same_contract_window=0.6, max_requests=6, window=2.0
)
PACER = PacingLimits(
    max_requests=SIMULATOR.max_requests,
    window_s=SIMULATOR.window,
    identical_gap_s=SIMULATOR.identical_window,
    same_contract_max=SIMULATOR.same_contract_max,
    same_contract_window_s=SIMULATOR.same_contract_window,
    min_gap_s=0.0,  # only IB's rules space these requests, so the test shows they suffice
    margin_s=0.25,  # send and receive latency between the booking and the simulator's count
)
# Each process asks for ES TRADES at four end times (same contract: at most 3 per 0.6 s),
# twice the same request (identical: 1 s apart), and NQ/ES in other tick types; the other
# process asks the very same, so identical requests cross processes. 16 in all: at most 6
# per 2 s keeps the run above 4 s.
PLAN = [
    ("ES", "TRADES", 0), ("ES", "TRADES", 5), ("ES", "TRADES", 10), ("ES", "TRADES", 15),
    ("ES", "TRADES", 0), ("ES", "MIDPOINT", 0), ("NQ", "TRADES", 0), ("NQ", "MIDPOINT", 0),
]  # fmt: skip


def history_at_once(sim: Any, spec: dict[str, Any]) -> list[list[str]]:
    args = [(spec, sim.port, asdict(PACER), PLAN) for _ in range(2)]
    return run_processes(history_worker, args, timeout=90)


def historical_entries(sim: Any) -> list[Any]:
    return sim.journal.entries("historical_data")


@pytest.mark.parametrize("kind", ["file", "postgres", "redis"])
def test_two_processes_sharing_a_ledger_never_draw_a_162(simulator_factory, request, tmp_path, kind):
    spec: dict[str, Any] = {"kind": "file", "path": str(tmp_path / "pacing.sqlite3")}
    if kind == "postgres":
        spec = {"kind": "postgres", "dsn": request.getfixturevalue("pg_dsn")}
    elif kind == "redis":
        prefix = request.getfixturevalue("redis_key_prefix")
        spec = {"kind": "redis", "url": REDIS_URL, "prefix": prefix}
    sim = simulator_factory(pacing=SIMULATOR)
    outcomes = history_at_once(sim, spec)
    assert outcomes == [["ok"] * len(PLAN)] * 2
    entries = historical_entries(sim)
    assert len(entries) == 2 * len(PLAN)
    assert {e.outcome for e in entries} == {"answered"}
    # The combined rate, as the simulator received the requests, stays within the limit
    # (the journal's wall clock: every request of both processes, whatever its contract).
    times = [e.wall_time for e in entries]
    assert rate_violations(times, SIMULATOR.max_requests, SIMULATOR.window) == []
    # and pacing did hold requests back: 16 requests at 6 per 2 s span more than 4 s
    assert max(times) - min(times) > 2 * SIMULATOR.window


def test_a_ledger_per_process_draws_162s(simulator_factory):
    sim = simulator_factory(pacing=SIMULATOR)
    outcomes = history_at_once(sim, {"kind": "process"})
    refused = [o for per_process in outcomes for o in per_process if o != "ok"]
    assert refused and all("162" in o for o in refused)
    assert any(e.outcome == "error 162" for e in historical_entries(sim))
