"""A year of backfill for the six instruments under IB's pacing, then clustered gaps.

Runs :func:`ib_futures.backfill.repair_range` (the code of ``futures_backfill`` and
``futures_gap_repair``) against the IB Gateway simulator in this process, with real Delta
tables on disk. IB's pacing is enforced on both sides on one scaled clock: every pacing window
(60 requests per 10 minutes, 15 s identical, 6 per contract in 2 s) and the client's 2 s gap
are divided by ``--scale`` (the client's 0.5 s safety margin is not: it covers the delay of a
send, which no clock scale shortens), in the simulator (which answers 162 on a
violation) and in the client's ledger alike, so the run takes minutes instead of hours and a
figure at scale S is the real figure divided by S.

Reported, side by side:

1. **The year**: historical requests made against the minimum the gaps need (the planner's
   per contract, per bar field, per duration window cover, which is minimal: a greedy cover of
   points by windows), 162 pacing errors drawn, wall time against the pacing bound at that
   scale (``core.backfill.pacing_seconds``), and the time to read the filled year back.
2. **Clustered gaps**: the same year again after deleting one hour, one day and three days of
   every instrument (the rest stored): requests scale with the gaps, not with the range.

    .venv/bin/python bench/bench_backfill.py [--days 365] [--scale 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from deltalake import DeltaTable

from ib_futures.backfill import plan_range, repair_range
from ib_futures.core.backfill import pacing_seconds
from ib_futures.core.config import FuturesConfig
from ib_futures.core.pacing import HistoricalPacer, PacingLimits
from ib_futures.ib.settings import GatewaySettings
from ib_futures.lake.readers import read_window
from ib_futures.lake.schemas import FUTURES, SPOT

END = datetime(2026, 11, 21, tzinfo=UTC)  # a Saturday: the year ends with a whole week
SYMBOLS = ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
GAPS = (  # (start, length): one hour, one day, three days, all instruments
    (datetime(2026, 3, 10, 15, 0, tzinfo=UTC), timedelta(hours=1)),
    (datetime(2026, 6, 17, 0, 0, tzinfo=UTC), timedelta(days=1)),
    (datetime(2026, 9, 22, 0, 0, tzinfo=UTC), timedelta(days=3)),
)


def scaled(scale: float) -> tuple[PacingLimits, Any]:
    from ib_gateway_sim.pacing import PacingLimits as SimLimits

    ib = PacingLimits()
    client = PacingLimits(
        window_s=ib.window_s / scale,
        identical_gap_s=ib.identical_gap_s / scale,
        same_contract_window_s=ib.same_contract_window_s / scale,
        min_gap_s=ib.min_gap_s / scale,
        # not scaled: the margin covers the send's delay (event loop, network), which a
        # scaled clock does not shorten
        margin_s=ib.margin_s,
    )
    sim = SimLimits(identical_window=15.0 / scale, same_contract_window=2.0 / scale,
                    window=600.0 / scale)  # fmt: skip
    return client, sim


def journal(sim: Any) -> tuple[int, int]:
    """(historical requests, 162 pacing violations) the simulator saw."""
    entries = sim.journal.entries("historical_data")
    # the simulator's journal holds the violated rule ("more than 60 requests within ...")
    rules = ("more than", "identical request")
    paced = [e for e in entries if e.outcome == "error 162" and e.detail.startswith(rules)]
    return len(entries), len(paced)


def run(sim: Any, cfg: FuturesConfig, lake: str, start: datetime, limits: PacingLimits) -> dict:
    settings = GatewaySettings(host="127.0.0.1", port=sim.port, request_timeout=60)
    before, paced_before = journal(sim)
    planned = plan_range(cfg, lake, start, END, SYMBOLS)
    began = time.monotonic()
    summary = asyncio.run(repair_range(
        cfg, lake_uri=lake, gateway_connection=settings, start=start, end=END,
        pacer=HistoricalPacer(limits=limits),
    ))  # fmt: skip
    wall = time.monotonic() - began
    after, paced_after = journal(sim)
    made = after - before
    bound = pacing_seconds(planned.requests, limits)
    return {
        "missing_slots": planned.missing,
        "minimum_requests": planned.requests,
        "requests_made": made,
        "requests_vs_minimum": round(made / planned.requests, 3) if planned.requests else None,
        "pacing_162": paced_after - paced_before,
        "wall_s": round(wall, 1),
        "pacing_bound_s": round(bound, 1),
        "wall_vs_bound": round(wall / bound, 3) if bound else None,
        "still_missing": summary["still_missing"],
        "slots_unfillable": summary["slots_unfillable"],
    }


def read_back(lake: str, start: datetime) -> dict:
    began = time.monotonic()
    rows = sum(
        read_window(lake, spec, SYMBOLS, start, END, ("symbol", "bucket_ts", "price")).height
        for spec in (FUTURES, SPOT)
    )
    return {"rows": rows, "read_back_s": round(time.monotonic() - began, 2)}


def punch_gaps(lake: str) -> int:
    """Delete the clustered gaps from both snapshot tables; the rows deleted."""
    deleted = 0
    for table in ("futures_snapshots", "spot_snapshots"):
        dt = DeltaTable(f"{lake}/{table}")
        terms = [f"(bucket_ts >= '{s.isoformat()}' AND bucket_ts < '{(s + n).isoformat()}')"
                 for s, n in GAPS]  # fmt: skip
        metrics = dt.delete(" OR ".join(terms))
        deleted += int(metrics.get("num_deleted_rows", 0))
    return deleted


def main(argv: list[str] | None = None) -> int:
    from ib_gateway_sim import SimulatorThread

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scale", type=float, default=12.0, help="IB's windows divided by this")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cfg = FuturesConfig()
    client, sim_limits = scaled(args.scale)
    work = args.workdir or tempfile.mkdtemp(prefix="bench-backfill-")
    lake = f"{work}/lake"
    shutil.rmtree(lake, ignore_errors=True)
    start = END - timedelta(days=args.days)
    out: dict[str, Any] = {"days": args.days, "scale": args.scale, "symbols": SYMBOLS}
    with SimulatorThread(start=(END + timedelta(hours=1)).isoformat(), seed=7,
                         pacing=sim_limits) as sim:  # fmt: skip
        out["year"] = run(sim, cfg, lake, start, client)
        out["year"].update(read_back(lake, start))
        out["year"]["rows_per_slot_once"] = bool(
            pl.read_delta(f"{lake}/futures_snapshots").select("symbol", "bucket_ts")
            .is_unique().all()
        )  # fmt: skip
        out["gaps"] = {"deleted_rows": punch_gaps(lake)}
        out["gaps"].update(run(sim, cfg, lake, start, client))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
