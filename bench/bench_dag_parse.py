"""Benchmark: parse time of the dags folder against a trivial one-task DAG file, side by side.

Airflow's dag-processor parses each file in a fresh child process, so every parse pays for
the imports a DAG file makes. Each sample is a fresh interpreter that imports Airflow first
(not counted, the same for both) and then times ``DagBag(dag_folder=...)``. The two variants
alternate so machine noise hits both alike. Target: ours within 1.2x of the trivial file.

Also times one ``airflow dags test futures_collection <slot>`` against the simulator (wall
clock of the whole command, steady state: the second run of a slot), with ``--dags-test``.

    .venv/bin/python bench/bench_dag_parse.py [--runs 15] [--dags-test]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TRIVIAL = """
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="trivial", schedule=None, start_date=datetime(2026, 1, 1)):
    EmptyOperator(task_id="only")
"""

PROBE = """
import json, sys, time
t00 = time.perf_counter()
import airflow.sdk  # imported before timing: both variants need it
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
took = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
t1 = time.perf_counter()
DagBag(dag_folder=sys.argv[1])  # again, modules already imported (a warm parser)
warm = time.perf_counter() - t1
print(json.dumps({"seconds": took, "warm": warm, "with_airflow": t1 - t00,
                  "dags": len(bag.dags)}))
"""


def sample(folder: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def parse_benchmark(runs: int) -> None:
    home = tempfile.mkdtemp(prefix="ibf-bench-home-")
    env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    trivial_dir = Path(tempfile.mkdtemp(prefix="ibf-bench-trivial-"))
    (trivial_dir / "trivial.py").write_text(TRIVIAL)
    ours_dir = ROOT / "dags"
    sample(ours_dir, env), sample(trivial_dir, env)  # warm the OS caches
    ours, trivial = [], []
    for _ in range(runs):
        ours.append(sample(ours_dir, env))
        trivial.append(sample(trivial_dir, env))
    print(f"{runs} fresh processes each; median (min-max) ms")
    for key, label in (
        ("seconds", "parse, first in the process (Airflow already imported)"),
        ("warm", "parse again in the same process (modules imported)"),
        ("with_airflow", "import Airflow + first parse"),
    ):
        o = [r[key] * 1000 for r in ours]
        t = [r[key] * 1000 for r in trivial]
        mo, mt = statistics.median(o), statistics.median(t)
        print(f"  {label}:")
        print(f"    dags/ (3 DAG files)  {mo:8.1f} ({min(o):.1f}-{max(o):.1f})")
        print(
            f"    trivial one-task DAG {mt:8.1f} ({min(t):.1f}-{max(t):.1f})   ratio {mo / mt:.2f}x"
        )


def dags_test_benchmark() -> None:
    from datetime import UTC, datetime, timedelta

    from ib_gateway_sim import SimulatorProcess

    slot = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    home = Path(tempfile.mkdtemp(prefix="ibf-bench-dagstest-"))
    bindir = Path(sys.executable).parent
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "IB_FUTURES_LAKE_URI": str(home / "lake"),
    }
    subprocess.run(
        [str(bindir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True
    )
    with SimulatorProcess(start=(slot - timedelta(minutes=1)).isoformat()) as sim:
        env["AIRFLOW_CONN_IB_DEFAULT"] = json.dumps(
            {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim.port}
        )
        bin_airflow = str(bindir / "airflow")

        def run(label: str, when: datetime) -> None:
            t0 = time.perf_counter()
            subprocess.run([bin_airflow, "dags", "test", "futures_collection", when.isoformat()],
                           env=env, check=True, capture_output=True)
            print(f"airflow dags test futures_collection {when:%H:%M}Z, {label}: "
                  f"{time.perf_counter() - t0:.1f} s")

        run("empty lake (history seeded: 6 paced requests)", slot)
        seed_previous_session(str(home / "lake"), slot)
        run("steady state (the lake holds the previous session)", slot + timedelta(minutes=5))


def seed_previous_session(lake: str, slot) -> None:
    """Copy the slot's rows to the previous session's closing slots, so that the next run finds
    every change-metric reference in the lake, as it does after the first day."""
    from datetime import timedelta

    import polars as pl

    from ib_futures.lake.writer import write_snapshots

    records = []
    for table in ("futures_snapshots", "spot_snapshots"):
        for rec in pl.read_delta(f"{lake}/{table}").to_dicts():
            for back in (timedelta(hours=17, minutes=5), timedelta(hours=18, minutes=5),
                         timedelta(minutes=30), timedelta(hours=1), timedelta(hours=4)):
                ts = rec["bucket_ts"] - back
                records.append({**rec, "bucket_ts": ts.isoformat(),
                                "bucket_date": ts.date().isoformat(),
                                "quote_ts": None, "last_trade_ts": None,
                                "collected_ts": rec["collected_ts"].isoformat(),
                                "expiry": rec["expiry"].isoformat() if rec["expiry"] else None})
    write_snapshots(lake, records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--dags-test", action="store_true")
    args = parser.parse_args()
    parse_benchmark(args.runs)
    if args.dags_test:
        dags_test_benchmark()


if __name__ == "__main__":
    main()
