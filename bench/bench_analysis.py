"""Benchmark: the weekly futures/ETF analysis over a lake holding one year of history.

    .venv/bin/python bench/bench_analysis.py [--days 365] [--repeat 5] [--lake DIR]

Builds (or reuses, with --lake) a lake of synthetic 5-minute snapshots for ES/SPY, NQ/QQQ and
RTY/IWM over ``--days`` days, one file per date partition as the weekly maintenance leaves it,
then times, for the three pairs:

* candidate: the analysis as the DAG runs it: ``run_pair`` (partition-pruned read of the pair's
  window plus the daily model's history, then the analysis), ``write_results`` and
  ``write_report``;
* baseline: load both snapshot tables whole into memory first, then the same analysis on
  the in-memory frames (the results and report steps are the same and are not repeated).

Scenarios: the weekly run (7-day window; the daily overnight model reads 182 days) and a run
with a 365-day window. "cold" is a fresh interpreter (imports and calendar loading included,
as in an Airflow task process); "warm" is the median of ``--repeat`` runs in one process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

END = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)  # Saturday 06:00 New York


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_lake(lake: str, days: int) -> int:
    from ib_futures.analysis.synthetic import synthetic_snapshots, write_synthetic_lake

    frame = synthetic_snapshots(END - timedelta(days=days), END, lead_slots=1, seed=42)
    write_synthetic_lake(lake, frame)
    return frame.height


def candidate(lake: str, lookback_days: int, report: bool) -> dict[str, float]:
    """The DAG's work for one week: analyse three pairs, write the rows, render the report."""
    from ib_futures.analysis.config import DEFAULT_PAIRS as PAIRS
    from ib_futures.analysis.config import AnalysisSettings
    from ib_futures.analysis.pipeline import run_pair

    t0 = time.perf_counter()
    cfg = AnalysisSettings()
    rows = [run_pair(lake, f, e, END - timedelta(days=lookback_days), END, cfg) for f, e in PAIRS]
    t1 = time.perf_counter()
    out = {"analyse": t1 - t0}
    if report:
        from ib_futures.analysis.report import write_report
        from ib_futures.analysis.results import read_results, write_results

        write_results(lake, rows)
        t2 = time.perf_counter()
        write_report(lake, read_results(lake, rows[0]["week_end"]).to_dicts())
        t3 = time.perf_counter()
        out.update({"results": t2 - t1, "report": t3 - t2})
    out["total"] = time.perf_counter() - t0
    return out


def baseline(lake: str, lookback_days: int) -> dict[str, float]:
    """Load both tables whole, then run the same analysis on the in-memory frames."""
    import polars as pl

    from ib_futures.analysis.config import DEFAULT_PAIRS as PAIRS
    from ib_futures.analysis.config import AnalysisSettings
    from ib_futures.analysis.pipeline import analyse_pair

    t0 = time.perf_counter()
    everything = pl.concat(
        [pl.read_delta(f"{lake}/futures_snapshots"), pl.read_delta(f"{lake}/spot_snapshots")]
    )
    t1 = time.perf_counter()
    cfg = AnalysisSettings()
    for f, e in PAIRS:
        pair = everything.filter(pl.col("symbol").is_in([f, e]))
        analyse_pair(pair, f, e, END - timedelta(days=lookback_days), END, cfg)
    t2 = time.perf_counter()
    return {"load": t1 - t0, "analyse": t2 - t1, "total": t2 - t0}


def cold(lake: str, which: str, lookback_days: int) -> dict[str, float]:
    """One run in a fresh interpreter, timed from before the first import."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--lake", lake, "--lookback", str(lookback_days)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm(lake: str, which: str, lookback_days: int, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat + 1):  # the first run warms imports and caches
        if which == "candidate":
            runs.append(candidate(lake, lookback_days, report=True))
        else:
            runs.append(baseline(lake, lookback_days))
    return {k: statistics.median(r[k] for r in runs[1:]) for k in runs[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365, help="days of history in the lake")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lake", help="existing lake to use (default: build one in a temp dir)")
    ap.add_argument("--child", choices=["candidate", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--lookback", type=int, default=7, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        t0 = time.perf_counter()
        if args.child == "candidate":
            res = candidate(args.lake, args.lookback, report=True)
        else:
            res = baseline(args.lake, args.lookback)
        res["process"] = time.perf_counter() - t0
        res["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(res))
        return 0

    tmp = None
    lake = args.lake
    if lake is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-analysis-")
        lake = tmp.name
        t = time.perf_counter()
        rows = build_lake(lake, args.days)
        print(f"lake: {rows} rows over {args.days} days built in {time.perf_counter() - t:.1f} s")

    print(
        "\n| scenario | run | read + analyse, 3 pairs: candidate (pruned reads) "
        "| baseline (whole tables first) | candidate incl. results + report |"
    )
    print("|---|---|---|---|---|")
    for lookback, label in ((7, "weekly run (7-day window)"), (365, "365-day window")):
        runs = {
            "cold process": (cold(lake, "candidate", lookback), cold(lake, "baseline", lookback)),
            f"warm, median of {args.repeat}": (
                warm(lake, "candidate", lookback, args.repeat),
                warm(lake, "baseline", lookback, args.repeat),
            ),
        }
        for run, (c, b) in runs.items():
            c_rss = f", peak RSS {c['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in c else ""
            b_rss = f", peak RSS {b['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in b else ""
            print(
                f"| {label} | {run} | {c['analyse']:.2f} s "
                f"| {b['total']:.2f} s (load {b['load']:.2f} + analyse {b['analyse']:.2f}{b_rss}) "
                f"| {c['total']:.2f} s (results {c['results']:.2f}, report {c['report']:.2f}"
                f"{c_rss}) |"
            )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
