"""The seeded schedule of one soak: which slot meets which fault, the nightly reset, the outage.

Everything is drawn from one ``random.Random(seed)``, so a seed gives the same soak.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
SLOT = timedelta(minutes=5)

#: Every fault the simulator can inject (sim.faults.*, connection-level methods, notices).
FAULT_KINDS: tuple[str, ...] = (
    "refuse", "drop", "hang", "error_162", "error_200", "error_354", "error_10197",
    "client_id_326", "notice_1100", "notice_1101", "notice_1102", "stale_quote", "latency",
)  # fmt: skip

#: Thanksgiving 2026, 07:00 ET: the default 37 days from here take in its early close, the
#: day after, the December roll (Thursday Dec 10) and expiry (Dec 18), Christmas, New Year's
#: Day 2027 (closed) and the Friday after (to Saturday Jan 2, 07:00 ET).
DEFAULT_START = datetime(2026, 11, 26, 12, tzinfo=UTC)
DEFAULT_DAYS = 37
#: IB's nightly reset as the soak plays it: the gateway refuses connections 23:50-00:00 ET.
RESET_START, RESET_MINUTES = time(23, 50), 10


@dataclass
class SoakPlan:
    start: datetime
    days: float
    seed: int
    fault_every: int = 20
    outage_hours: float = 4.0
    faults: dict[datetime, str] = field(default_factory=dict)
    restart_at: datetime | None = None
    outage: tuple[datetime, datetime] | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def slots(self) -> list[datetime]:
        out, t = [], self.start
        while t < self.end:
            out.append(t)
            t += SLOT
        return out

    def in_reset(self, moment: datetime) -> bool:
        local = moment.astimezone(EASTERN)
        opens = datetime.combine(local.date(), RESET_START, EASTERN)
        return opens <= local < opens + timedelta(minutes=RESET_MINUTES)

    def in_outage(self, moment: datetime) -> bool:
        return self.outage is not None and self.outage[0] <= moment < self.outage[1]


def make_plan(
    start: datetime, days: float, seed: int, collect_slots: list[datetime], *,
    fault_every: int = 20, outage_hours: float = 4.0,
) -> SoakPlan:
    """Faults on about one in ``fault_every`` of ``collect_slots`` (kinds in turn from a seeded
    shuffle, so every kind occurs), the restart a third of the way in, the outage at two thirds."""
    rng = random.Random(seed)
    plan = SoakPlan(start, days, seed, fault_every, outage_hours)
    kinds: list[str] = []
    for slot in collect_slots:
        if rng.random() < 1 / fault_every:
            if not kinds:
                kinds = list(FAULT_KINDS)
                rng.shuffle(kinds)
            plan.faults[slot] = kinds.pop()
    if collect_slots:
        plan.restart_at = collect_slots[len(collect_slots) // 3]
        begin = collect_slots[2 * len(collect_slots) // 3]
        plan.outage = (begin, begin + timedelta(hours=outage_hours))
    return plan


def trade_dates(plan: SoakPlan) -> list[date]:
    """The ET dates the soak covers (one repair each)."""
    first = plan.start.astimezone(EASTERN).date()
    last = plan.end.astimezone(EASTERN).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
