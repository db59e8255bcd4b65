"""The fast-forward soak: ``./dev soak [--days 37] [--seed 7]`` (also ``./dev bench soak``).

Every slot of a simulated period runs the futures_collection tasks' code against the IB
Gateway simulator (faults about one slot in 20, the nightly reset, one gateway restart, one
outage of several hours), the daily gap repair and the weekly maintenance; then the lake is
audited against the simulator's ground-truth log. Exit status 0 when lost = duplicated =
invented = 0 and every missing slot was repaired or recorded and alerted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak.audit import audit
from soak.plan import DEFAULT_DAYS, DEFAULT_START
from soak.report import figures
from soak.run import run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev soak", description=__doc__)
    parser.add_argument("--days", type=float, default=DEFAULT_DAYS,
                        help=f"simulated days (default {DEFAULT_DAYS}: Thanksgiving to after New Year)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default=DEFAULT_START.isoformat(), help="ISO-8601 UTC start")
    parser.add_argument("--fault-every", type=int, default=20, help="about one fault per N slots")
    parser.add_argument("--outage-hours", type=float, default=4.0)
    parser.add_argument("--workdir", help="lake and ground-truth log (default: a temporary dir)")
    parser.add_argument("--airflow", action="store_true",
                        help="the real-scheduler soak on the e2e stack (PostgreSQL on 127.0.0.1)")
    parser.add_argument("--slots", type=int, default=100, help="--airflow: runs (default 100)")
    args = parser.parse_args(argv)
    if args.airflow:
        return airflow_main(args)
    if args.days <= 0:
        parser.error(f"--days must be positive, got {args.days}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ib-futures-soak-"))
    run = run_soak(workdir, args.days, args.seed, datetime.fromisoformat(args.start),
                   fault_every=args.fault_every, outage_hours=args.outage_hours)  # fmt: skip
    from ib_futures.core.config import load_config

    cfg = load_config()
    symbols = {s: cfg.instruments[s].asset_class for s in cfg.collection.instruments}
    result = audit(run.lake, run.truth_log, symbols, run.audit_start, run.plan.end, run.alerts,
                   run.maintenance, cfg.collection.etf_hours)  # fmt: skip
    report = figures(run, result)
    print(report["markdown"])
    (workdir / "soak.json").write_text(json.dumps(report["data"], indent=2, default=str))
    print(f"workdir {workdir}")
    return 0 if result.ok else 1


def airflow_main(args: argparse.Namespace) -> int:
    from soak.airflow_soak import run_airflow_soak

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ib-futures-airflow-soak-"))
    soak = run_airflow_soak(workdir, args.slots, args.seed, args.fault_every)
    result = soak.audit
    assert result is not None
    states: dict[str, int] = {}
    for run in soak.runs.values():
        states[run["state"]] = states.get(run["state"], 0) + 1
    data = {
        "slots": len(soak.slots), "run_states": states, "events": soak.events,
        "faults": [f"{s:%H:%M} {f}" for s, f in soak.faults],
        "deadline_alerts": len(soak.alerts_deadline), "deadline_problems": soak.deadline_problems,
        "freshness": soak.freshness, "freshness_problems": soak.freshness_problems,
        "repair": {k: soak.repair.get(k) for k in ("slots_filled", "still_missing", "known_unfillable")},
        "rows_live": result.rows_live, "rows_history": result.rows_history,
        "unfillable": result.unfillable, "alerted": result.alerted, "lost": len(result.lost),
        "duplicated": len(result.duplicated), "invented": len(result.invented),
        "differs": len(result.differs), "examples": result.lost[:3] + result.invented[:3]
        + result.differs[:3] + result.duplicated[:3], "wall_s": round(soak.wall_s, 1),
    }  # fmt: skip
    print(json.dumps(data, indent=2, default=str))
    (workdir / "airflow-soak.json").write_text(json.dumps(data, indent=2, default=str))
    ok = result.ok and not soak.deadline_problems and not soak.freshness_problems
    print(f"workdir {workdir}\nAIRFLOW SOAK {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
