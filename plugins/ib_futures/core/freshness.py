"""Is the newest stored slot as new as the session calendar expects? The pure verdict.

Deadline alerts only fire for runs that exist. When no run is created at all (the DAG is
paused, the scheduler is down, the ``ib_gateway`` pool is starved, a worker queue is dead)
nothing fires, so the freshness check looks at the data itself: for each instrument it counts
the slots the session calendar expected since the newest stored row; more than
``alerts.freshness_max_missed_slots`` of them is an alert. Slots the gap repair recorded as
unfillable (``unfillable_slots``: IB has no bar for them) are known gaps, counted apart
(``known_unfillable``) and not as missed; a stopped collection still leaves missed slots, so
the alert still fires. :func:`assess` decides from the newest slots (and the known-unfillable
ones) alone; ``ib_futures.lake.freshness.check_lake`` reads them from the lake.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.core.slot import SLOT

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

LOOKBACK = timedelta(days=7)


@dataclass
class SymbolFreshness:
    symbol: str
    newest_slot: str | None
    expected_latest: str | None
    missed_slots: int
    #: expected slots after the newest stored one that IB could not give (not missed)
    known_unfillable: int = 0


@dataclass
class FreshnessReport:
    checked_at: str
    max_missed_slots: int
    symbols: list[SymbolFreshness] = field(default_factory=list)

    @property
    def stale(self) -> list[SymbolFreshness]:
        return [s for s in self.symbols if s.missed_slots > self.max_missed_slots]

    @property
    def ok(self) -> bool:
        return not self.stale

    def summary(self) -> str:
        if self.ok:
            return f"fresh: every instrument within {self.max_missed_slots} missed slots"
        parts = [
            f"{s.symbol} missed {s.missed_slots} slots (newest {s.newest_slot or 'none'}, "
            f"expected {s.expected_latest})"
            for s in self.stale
        ]
        return "stale: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "summary": self.summary()}


def assess(
    at: datetime,
    newest: Mapping[str, datetime | None],
    asset_classes: Mapping[str, str],
    cfg: FuturesConfig,
    grace: timedelta = SLOT,
    unfillable: Mapping[str, Collection[datetime]] | None = None,
) -> FreshnessReport:
    """Pure verdict: compare each symbol's newest stored slot with the calendar's slots.

    Slots newer than ``at - grace`` are not yet due (the run for them may still be going).
    ``unfillable``: per symbol, slots recorded as unfillable; they are not counted as missed.
    """
    from ib_futures.core.session import expected_slots

    due_until = at - grace
    report = FreshnessReport(at.astimezone(UTC).isoformat(), cfg.alerts.freshness_max_missed_slots)
    for symbol, asset_class in asset_classes.items():
        last = newest.get(symbol)
        since = (last + timedelta(seconds=1)) if last is not None else due_until - LOOKBACK
        slots = expected_slots(since, due_until, asset_class, cfg)  # type: ignore[arg-type]
        known = set((unfillable or {}).get(symbol, ()))
        missed = [s for s in slots if s not in known]
        report.symbols.append(
            SymbolFreshness(
                symbol=symbol,
                newest_slot=None if last is None else last.astimezone(UTC).isoformat(),
                expected_latest=slots[-1].isoformat() if slots else None,
                missed_slots=len(missed),
                known_unfillable=len(slots) - len(missed),
            )
        )
    return report
