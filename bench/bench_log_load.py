"""What a long Delta log costs every write: table load time against ``_delta_log`` entries.

Every write opens its table, and delta-rs lists the whole local ``_delta_log`` directory to find
the newest version. This builds one small table per size with N commits (each a minimal commit
holding only its ``commitInfo``, written straight into the log, so a month of five-minute
commits takes a second instead of half an hour), checkpoints it at the end, as the
checkpoint interval does, and times ``DeltaTable(uri)``.

    ./dev bench log_load [--entries 100,2016,4032,8640] [--runs 15]

2016 entries: a week of five-minute commits on one table; 8640: 30 days.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import polars as pl
from deltalake import DeltaTable, write_deltalake


def build(uri: str, commits: int) -> None:
    write_deltalake(uri, pl.DataFrame({"k": [1]}), mode="append")
    log = os.path.join(uri, "_delta_log")
    now_ms = int(time.time() * 1000)
    for version in range(1, commits + 1):
        info = {
            "commitInfo": {"timestamp": now_ms, "operation": "WRITE", "operationParameters": {}}
        }
        with open(os.path.join(log, f"{version:020d}.json"), "w") as f:
            f.write(json.dumps(info) + "\n")
    DeltaTable(uri).create_checkpoint()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", default="100,2016,4032,8640")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-log-load-")
    try:
        print("| `_delta_log` entries | table load, median ms | min |")
        print("|---:|---:|---:|")
        for n in (int(x) for x in args.entries.split(",")):
            uri = os.path.join(root, f"t{n}")
            build(uri, n)
            assert DeltaTable(uri).version() == n
            entries = len(os.listdir(os.path.join(uri, "_delta_log")))
            ms = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                DeltaTable(uri)
                ms.append((time.perf_counter() - t0) * 1000)
            print(f"| {entries} | {statistics.median(ms):.1f} | {min(ms):.1f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
