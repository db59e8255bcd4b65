"""The Futures page's data on a lake of one and three years of six instruments, after maintenance.

Builds a lake of synthetic snapshots (``analysis.synthetic``: every expected slot of ES, NQ,
RTY, SPY, QQQ, IWM, 1 % of rows dropped as gaps) ending 2026-11-27, in weekly appends as the
collector's days accumulate, then runs the weekly maintenance (``maintain_lake``: compaction,
checkpoint, vacuum). Then, in a fresh process per lake, it times what the page asks for:

* ``coverage 4 weeks``: the heat map of the default range (the page's first request);
* ``coverage whole span``: the heat map over the whole lake (a year, three years);
* ``day``: the drill-down into one day; ``freshness`` and ``latest``;
* ``page``: what opening the page asks for: coverage of the default 4 weeks, freshness,
  latest quotes and the list of reports (the report itself is one stored HTML file).

``cold`` is the first call in the process (calendar built, tables opened for the first time),
``warm`` the median of the next five.

    ./dev bench page [--years 1 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

END = datetime(2026, 11, 28, tzinfo=UTC)  # a Saturday: the last trade day is Fri 2026-11-27
AT = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)


def build(lake: str, years: int) -> dict[str, float]:
    import polars as pl

    from ib_futures.analysis.synthetic import synthetic_snapshots, write_synthetic_lake
    from ib_futures.lake.maintenance import maintain_lake

    start = END - timedelta(days=365 * years)
    t0 = time.perf_counter()
    frame = synthetic_snapshots(start, END, seed=5, drop_fraction=0.01)
    week = frame.with_columns(
        ((pl.col("bucket_ts") - pl.lit(start)).dt.total_days() // 7).alias("_week")
    )
    for _, part in week.group_by("_week", maintain_order=True):
        write_synthetic_lake(lake, part.drop("_week"))
    t1 = time.perf_counter()
    maintain_lake(lake, vacuum_retention_hours=0, log_retention_hours=0)
    t2 = time.perf_counter()
    return {"rows": frame.height, "write_s": t1 - t0, "maintain_s": t2 - t1}


def measure(lake: str, years: int) -> dict[str, dict[str, float]]:
    """Runs in a fresh process: cold (first) and warm (median of 5) milliseconds."""
    from ib_futures.core.config import load_config
    from ib_futures.core.coverage import DayRange
    from ib_futures.lake import page_data
    from ib_futures.lake.reports import report_weeks

    cfg = load_config()
    last = date(2026, 11, 27)
    recent = DayRange(last - timedelta(days=27), last)
    whole = DayRange(last - timedelta(days=365 * years - 1), last)
    cases: dict[str, Callable[[], object]] = {
        "coverage 4 weeks": lambda: page_data.coverage(lake, cfg, recent),
        "coverage whole span": lambda: page_data.coverage(lake, cfg, whole),
        "day": lambda: page_data.day_slots(lake, cfg, "2026-11-25"),
        "freshness": lambda: page_data.freshness(lake, cfg, AT),
        "latest": lambda: page_data.latest_quotes(lake, cfg, AT),
        "page": lambda: (
            page_data.coverage(lake, cfg, recent),
            page_data.freshness(lake, cfg, AT),
            page_data.latest_quotes(lake, cfg, AT),
            report_weeks(lake),
        ),
    }
    out = {}
    for name, fn in cases.items():
        t0 = time.perf_counter()
        fn()
        cold = (time.perf_counter() - t0) * 1000
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - t0) * 1000)
        out[name] = {"cold_ms": cold, "warm_ms": statistics.median(runs)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--keep", help="build the lakes under this directory and keep them")
    parser.add_argument("--measure", nargs=2, metavar=("LAKE", "YEARS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]))))
        return 0
    base = Path(args.keep or tempfile.mkdtemp(prefix="bench-page-"))
    try:
        for years in args.years:
            lake = str(base / f"lake-{years}y")
            if not Path(lake, "futures_snapshots").exists():
                built = build(lake, years)
                print(f"{years} y: {built['rows']:,} rows written in {built['write_s']:.1f} s, "
                      f"maintenance {built['maintain_s']:.1f} s")  # fmt: skip
            done = subprocess.run(
                [sys.executable, __file__, "--measure", lake, str(years)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"\n{years} year(s) | cold ms | warm ms\n---|---:|---:")
            for name, f in figures.items():
                print(f"{name} | {f['cold_ms']:.0f} | {f['warm_ms']:.0f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
