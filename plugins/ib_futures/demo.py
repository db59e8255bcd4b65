"""The main job on the embedded simulator: ``./dev demo`` (``python -m ib_futures.demo``).

Runs the real ``futures_collection`` DAG with ``airflow dags test`` (SQLite metadata database in
``.demo/airflow``) for a few consecutive recent trading slots, each against the IB Gateway
simulator on a free local port with its clock set just before the slot, as a scheduler would
meet a gateway: those rows are live snapshots. Then it runs the last slot again (nothing is
written twice), and last a run for the slot before the first one, met by a gateway clock
minutes later: too late for a live quote, that slot is filled from IB's historical bars
(``price_source``). It prints what was stored and where.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SIMULATOR_MISSING = (
    "the demo runs on the IB Gateway simulator, which is not installed: "
    "install ib-gateway-sim (./dev install) to run the demo"
)


def recent_trading_slots(count: int, now: datetime) -> list[datetime]:
    """The last ``count`` slots before ``now`` at which futures and ETFs were both open."""
    from ib_futures.core.config import load_config
    from ib_futures.core.session import expected_slots

    cfg = load_config()
    etf = set(expected_slots(now - timedelta(days=10), now, "ETF", cfg))
    both = [s for s in expected_slots(now - timedelta(days=10), now, "FUT", cfg) if s in etf]
    return both[-count:]


def _run(cmd: Sequence[str], env: dict[str, str], log: Path) -> int:
    with log.open("w") as fh:
        return subprocess.call(list(cmd), env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ib_futures.demo", description=__doc__)
    parser.add_argument("--slots", type=int, default=3, help="consecutive slots to collect")
    parser.add_argument("--workdir", default=str(ROOT / ".demo"))
    args = parser.parse_args(argv)

    # The simulator is a distribution of its own, not a dependency of the product: imported
    # here so that the package (and its DAGs) never need it.
    try:
        from ib_gateway_sim import SimulatorProcess
    except ImportError:
        print(SIMULATOR_MISSING, file=sys.stderr)
        return 2

    work = Path(args.workdir).resolve()
    airflow_home = work / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    # The lake goes to the tasks as a lake connection (the first source after an operator
    # argument, see docs/storage.md), the way a deployment would set it.
    lake = os.environ.get("IB_FUTURES_LAKE_URI") or str(work / "lake")
    lake_conn = json.dumps({"conn_type": "delta_lake", "extra": {"lake_uri": lake}})
    slots = recent_trading_slots(args.slots + 1, datetime.now(UTC))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_DELTA_LAKE_DEFAULT": lake_conn,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    print(f"ib-futures demo: Airflow home {airflow_home}, lake {lake}")
    rc = _run([str(bin_dir / "airflow"), "db", "migrate"], env, work / "db-migrate.log")
    if rc:
        print(f"airflow db migrate failed (exit {rc}); see {work / 'db-migrate.log'}")
        return rc
    # Each run meets a gateway whose clock stands where a scheduler would run it: 5 s before
    # its slot (live); last, the slot before them, minutes late (too late for a live quote).
    late, live = slots[0], slots[1:]
    runs = [(s, s - timedelta(seconds=5), "slot, live") for s in live]
    runs.append((live[-1], live[-1] + timedelta(seconds=10), "re-run of"))
    runs.append((late, live[-1] + timedelta(minutes=1), "late run of"))
    for slot, clock, what in runs:
        rc = _dags_test(SimulatorProcess, env, work, bin_dir, slot, clock, what)
        if rc:
            return rc
    return show_lake(lake_conn, slots)


def _dags_test(
    simulator: Any, env: dict[str, str], work: Path, bin_dir: Path, slot: datetime,
    clock: datetime, what: str,
) -> int:
    """``airflow dags test futures_collection <slot>`` against a simulator whose clock reads
    ``clock``; prints the write lines of the log."""
    with simulator(start=clock.isoformat(), seed=7) as sim:
        env = {**env, "AIRFLOW_CONN_IB_DEFAULT": json.dumps(
            {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim.port})}  # fmt: skip
        log = work / f"dags-test-{slot:%Y%m%dT%H%M}-{what.split()[0].rstrip(',')}.log"
        t0 = time.monotonic()
        rc = _run(
            [str(bin_dir / "airflow"), "dags", "test", "futures_collection", slot.isoformat()],
            env,
            log,
        )
    print(f"  airflow dags test futures_collection {slot.isoformat()}  ({what}; gateway clock "
          f"{clock:%H:%M:%S}) exit {rc} in {time.monotonic() - t0:.1f}s; log {log}")
    for line in log.read_text().splitlines():
        if ("in batch" in line and "inserted" in line) or "filled from IB history" in line:
            print("    " + line.split("]", 1)[-1].split("[airflow")[0].strip())
    return rc


def show_lake(lake_conn: str, slots: list[datetime]) -> int:
    """Print what the DAG runs stored, reading the lake through the same hook the tasks use."""
    import polars as pl

    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.lake.readers import read_window
    from ib_futures.lake.schemas import FUTURES, SPOT

    os.environ["AIRFLOW_CONN_DELTA_LAKE_DEFAULT"] = lake_conn
    lake = DeltaLakeHook().location.uri

    print(f"\nStored in {lake}:")
    cols = ["symbol", "local_symbol", "bucket_ts", "bid", "ask", "last", "price", "price_source",
            "change_1h"]
    for spec, symbols in ((FUTURES, ["ES", "NQ", "RTY"]), (SPOT, ["SPY", "QQQ", "IWM"])):
        table = spec.name
        frame = read_window(lake, spec, symbols, slots[0], slots[-1] + timedelta(seconds=1), cols)
        with pl.Config(tbl_rows=30, tbl_cols=12, tbl_width_chars=140):
            print(f"\n{table}: {frame.height} rows for {len(slots)} slots "
                  f"({lake}/{table})")
            print(frame.select(cols).sort("bucket_ts", "symbol"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
