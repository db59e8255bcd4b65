"""The fast-forward loop: every slot of the period, the daily repair, the weekly maintenance.

The simulator runs in this process (a ``SimulatorThread`` with a frozen clock the loop sets
for each try) and appends what it serves to its ground-truth log. Its restart stops it and
starts a new one on the same port and log; the outage and the nightly reset refuse
connections. See ``tasks`` for how waits are simulated.
"""

from __future__ import annotations

import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from ib_futures.core.config import FuturesConfig, load_config
from ib_futures.core.pacing import HistoricalPacer, PacingLimits
from ib_futures.core.session import decide
from ib_futures.ib.settings import GatewaySettings
from ib_futures.lake.maintenance import files_per_partition, maintain_lake
from ib_futures.lake.storage import table_uri
from ib_gateway_sim import PacingLimits as SimPacingLimits
from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.testing import connect_ib

from .faults import inject
from .plan import EASTERN, SoakPlan, make_plan
from .repair import RepairOutcome, repair
from .tasks import Gateway, SlotOutcome, run_slot

SNAPSHOT_TABLES = ("futures_snapshots", "spot_snapshots")
#: filled from history before the first slot (the audit covers it too)
PREFILL = timedelta(days=4)
REPAIR_AT = dtime(18, 30)  # ET, daily: after the CME close and the halt
MAINTAIN_AT = (5, dtime(12, 0))  # Saturday noon ET


@dataclass
class SoakRun:
    plan: SoakPlan
    workdir: Path
    lake: str
    truth_log: Path
    outcomes: list[SlotOutcome] = field(default_factory=list)
    fault_log: list[dict[str, Any]] = field(default_factory=list)
    repairs: list[RepairOutcome] = field(default_factory=list)
    maintenance: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, datetime, str]] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    slots_total: int = 0
    wall_s: float = 0.0
    events: Counter[str] = field(default_factory=Counter)

    @property
    def audit_start(self) -> datetime:
        """The audit covers the prefilled days too."""
        return self.plan.start - PREFILL


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class Soak:
    def __init__(self, workdir: Path, days: float, seed: int, start: datetime, *,
                 fault_every: int = 20, outage_hours: float = 4.0, scale: float = 15.0) -> None:  # fmt: skip
        self.cfg: FuturesConfig = load_config()
        slots = [start + timedelta(minutes=5 * i) for i in range(int(days * 288))]
        collect = [s for s in slots if decide(s, self.cfg).collect]
        self.plan = make_plan(start, days, seed, collect, fault_every=fault_every,
                              outage_hours=outage_hours)  # fmt: skip
        self.rng = random.Random(seed + 1)
        workdir.mkdir(parents=True, exist_ok=True)
        self.run = SoakRun(self.plan, workdir, str(workdir / "lake"), workdir / "served.jsonl")
        self.scale = scale
        self.sim = self._start_sim(0)
        timeout = 15.0 / scale
        settings = GatewaySettings(
            port=self.sim.port, client_id_range=(100, 101), connect_timeout=timeout,
            request_timeout=timeout, snapshot_timeout=timeout, disconnect_pause=0.0,
        )  # fmt: skip
        # Pacing is off on both sides: five simulated minutes pass in well under a real second,
        # so IB's real-time windows cannot be kept to scale (tests/ib/test_history_pacer.py and
        # tests/ledgers cover the pacer against the simulator's enforcement).
        limits = PacingLimits(max_requests=10**6, window_s=0, identical_gap_s=0,
                              same_contract_max=10**6, same_contract_window_s=0, min_gap_s=0,
                              margin_s=0)  # fmt: skip
        self.gw = Gateway(settings, self._freeze, HistoricalPacer(limits=limits),
                          workdir / "leases", scale)  # fmt: skip
        self.repaired_until = start

    def _start_sim(self, port: int) -> SimulatorThread:
        pacing = SimPacingLimits.disabled()
        return SimulatorThread(
            port=port, start=self.plan.start, seed=self.plan.seed, frozen=True, pacing=pacing,
            truth_log=self.run.truth_log,
        ).start()  # fmt: skip

    def _freeze(self, moment: datetime) -> None:
        self.sim.clock.freeze(moment)

    def _restart(self) -> None:
        port = self.sim.port
        self.sim.stop()
        self.sim = self._start_sim(port)
        self.run.events["gateway restart"] += 1

    def _gateway_state(self, slot: datetime) -> None:
        down = self.plan.in_outage(slot) or self.plan.in_reset(slot)
        if down and self.sim.listening:
            self.sim.disconnect_all()
            self.sim.refuse_connections()
            self.run.events["outage" if self.plan.in_outage(slot) else "nightly reset"] += 1
        elif not down and not self.sim.listening:
            self.sim.accept_connections()

    def _blocker(self) -> Any:
        return connect_ib(self.sim.port, client_id=100, timeout=2)

    def step(self, slot: datetime) -> None:
        if slot == self.plan.restart_at:
            self._restart()
        self._gateway_state(slot)
        kind = self.plan.faults.get(slot)
        undo = None
        record: dict[str, Any] | None = None
        if kind is not None and self.sim.listening:
            symbols = list(decide(slot, self.cfg).open_instruments)
            what, undo = inject(kind, self.sim, symbols, self.rng, latency_s=2 * 15.0 / self.scale,
                                blocker=self._blocker)  # fmt: skip
            record = {"slot": slot, "kind": kind, "what": what}
        outcome = run_slot(self.gw, self.cfg, self.run.lake, slot, undo)
        if kind is not None and not self.sim.listening:
            record = {"slot": slot, "kind": kind, "what": "not injected: gateway down"}
        if outcome is not None:
            self.run.outcomes.append(outcome)
        if record is not None:
            record["outcome"] = outcome
            self.run.fault_log.append(record)
        self.sim.faults.clear()
        self._daily(slot)

    def _daily(self, slot: datetime) -> None:
        local = slot.astimezone(EASTERN)
        if local.time() == REPAIR_AT:
            self._repair(slot - timedelta(minutes=10))
        if (local.weekday(), local.time()) == MAINTAIN_AT:
            self._maintain(slot)
        if local.time() == dtime(0, 0):
            # The simulator's request journal (a test tool kept in memory) would otherwise grow
            # with every request and hide what the collector's memory does.
            self.sim.journal.clear()
            self.run.rss_mb.append(_rss_mb())
            print(f"soak: {local:%a %Y-%m-%d} ET, {len(self.run.outcomes)} slots collected, "
                  f"{len(self.run.fault_log)} faults, rss {self.run.rss_mb[-1]:.0f} MB",
                  flush=True)  # fmt: skip

    def _repair(self, until: datetime) -> None:
        if not self.sim.listening:
            return
        self.gw.freeze(until + timedelta(minutes=10, seconds=30))

        def alert(symbol: str, slot: datetime, reason: str) -> None:
            self.run.alerts.append((symbol, slot, reason))

        outcome = repair(self.gw, self.cfg, self.run.lake, self.repaired_until, until, alert)
        self.run.repairs.append(outcome)
        if outcome.error is None:
            self.repaired_until = until

    def prefill(self) -> None:
        """Fill the days before the first slot from IB's bars, as a deployment's first
        backfill does: the change metrics then find the previous close in the lake instead of
        asking IB for a day of bars every slot."""
        self.repaired_until = self.plan.start - PREFILL
        self._repair(self.plan.start)

    def _maintain(self, slot: datetime) -> None:
        import polars as pl

        def counts() -> dict[str, int]:
            return {t: pl.scan_delta(table_uri(self.run.lake, t)).select(pl.len()).collect().item()
                    for t in SNAPSHOT_TABLES}  # fmt: skip

        before = counts()
        retention = self.cfg.storage.retention
        maintain_lake(self.run.lake, SNAPSHOT_TABLES, vacuum_retention_hours=retention.vacuum_retention_hours,
                      log_retention_hours=retention.log_retention_hours)
        from deltalake import DeltaTable

        files = {t: files_per_partition(DeltaTable(table_uri(self.run.lake, t))) for t in SNAPSHOT_TABLES}
        self.run.maintenance.append({"slot": slot, "before": before, "after": counts(), "files": files})

    def close(self) -> None:
        self.sim.stop()


def run_soak(workdir: Path, days: float = 37, seed: int = 7, start: datetime | None = None,
             **kwargs: Any) -> SoakRun:  # fmt: skip
    """The whole soak; the audit is separate (``audit.audit``)."""
    from .plan import DEFAULT_START

    started = time.monotonic()
    soak = Soak(workdir, days, seed, start or DEFAULT_START, **kwargs)
    try:
        soak.prefill()
        slots = soak.plan.slots()
        for slot in slots:
            soak.step(slot)
        soak.sim.accept_connections()
        soak._repair(soak.plan.end)
        soak.run.slots_total = len(slots)
    finally:
        soak.close()
    soak.run.wall_s = time.monotonic() - started
    return soak.run
