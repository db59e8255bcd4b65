"""Freshness of the stored data: is the newest stored slot as new as the calendar expects?

Deadline alerts only fire for runs that exist. When no run is created at all (the DAG is
paused, the scheduler is down, the ``ib_gateway`` pool is starved, a worker queue is dead)
nothing fires, so this check looks at the data itself: for each instrument it counts the
slots the session calendar expected since the newest stored row; more than
``alerts.freshness_max_missed_slots`` of them is an alert.

Run it from the ``futures_freshness`` DAG, or from outside Airflow (cron, a monitoring
system) so that a dead scheduler is caught too::

    python -m ib_futures.freshness [--at ISO-8601] [--lake URI]   # exit 1 when stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

LOOKBACK = timedelta(days=7)


@dataclass
class SymbolFreshness:
    symbol: str
    newest_slot: str | None
    expected_latest: str | None
    missed_slots: int


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
    grace: timedelta = timedelta(minutes=5),
) -> FreshnessReport:
    """Pure verdict: compare each symbol's newest stored slot with the calendar's slots.

    Slots newer than ``at - grace`` are not yet due (the run for them may still be going).
    """
    from ib_futures.core.session import expected_slots

    due_until = at - grace
    report = FreshnessReport(at.astimezone(UTC).isoformat(), cfg.alerts.freshness_max_missed_slots)
    for symbol, asset_class in asset_classes.items():
        last = newest.get(symbol)
        since = (last + timedelta(seconds=1)) if last is not None else due_until - LOOKBACK
        slots = expected_slots(since, due_until, asset_class, cfg)  # type: ignore[arg-type]
        report.symbols.append(
            SymbolFreshness(
                symbol=symbol,
                newest_slot=None if last is None else last.astimezone(UTC).isoformat(),
                expected_latest=slots[-1].isoformat() if slots else None,
                missed_slots=len(slots),
            )
        )
    return report


def check_lake(
    cfg: FuturesConfig,
    at: datetime,
    *,
    lake_uri: str | None = None,
    symbols: Sequence[str] | None = None,
    storage_options: dict[str, str] | None = None,
) -> FreshnessReport:
    """Read the newest stored slot per symbol from the lake and :func:`assess` it."""
    from ib_futures.core.instruments import select_instruments
    from ib_futures.lake.readers import latest_per_symbol

    instruments = select_instruments(cfg, list(symbols) if symbols else None)
    latest = latest_per_symbol(
        lake_uri or cfg.lake_uri(),
        [i.symbol for i in instruments],
        storage_options or cfg.storage.storage_options or None,
    )
    newest = dict(zip(latest["symbol"].to_list(), latest["bucket_ts"].to_list(), strict=True))
    return assess(at, newest, {i.symbol: i.asset_class for i in instruments}, cfg)


def main(argv: Sequence[str] | None = None) -> int:
    from ib_futures.core.config import load_config

    parser = argparse.ArgumentParser(prog="python -m ib_futures.freshness")
    parser.add_argument("--at", help="check as of this ISO-8601 time (default: now)")
    parser.add_argument("--lake", help="lake URI (default: IB_FUTURES_LAKE_URI or the config)")
    parser.add_argument("--config", help="path of futures_config.yaml")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    if at.tzinfo is None:
        parser.error(f"--at {args.at!r}: give a time zone, e.g. 2026-11-24T15:00:00Z")
    report = check_lake(cfg, at, lake_uri=args.lake)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
