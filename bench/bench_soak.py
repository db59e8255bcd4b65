"""The fast-forward soak: ``./dev soak [--days 35] [--seed 7]`` (also ``./dev bench soak``).

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
from soak.plan import DEFAULT_START
from soak.report import figures
from soak.run import run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev soak", description=__doc__)
    parser.add_argument("--days", type=float, default=35, help="simulated days (default 35)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default=DEFAULT_START.isoformat(), help="ISO-8601 UTC start")
    parser.add_argument("--fault-every", type=int, default=20, help="about one fault per N slots")
    parser.add_argument("--outage-hours", type=float, default=4.0)
    parser.add_argument("--workdir", help="lake and ground-truth log (default: a temporary dir)")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
