"""The main job on the embedded simulator: ``./dev demo`` (``python -m ib_futures.demo``).

Every step is a real DAG run with ``airflow dags test`` (SQLite metadata database in
``.demo/airflow``) against the IB Gateway simulator on a free local port, its clock set where a
scheduler would meet it:

1. ``futures_backfill`` fills the simulator's last week from IB's historical bars (the day-one
   load of a new user; ``price_source`` says which bar field);
2. ``futures_collection`` collects a few consecutive recent slots, the gateway's clock just
   before each slot: live snapshots; then the last slot again (nothing is written twice);
3. ``futures_analysis_weekly`` analyses the week.

It prints what was stored, where the report and its charts are, and the lead-lag peak found
for each pair next to the lag the simulator plants.
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
    started = time.monotonic()
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
    # 1. The last week from IB's history, the gateway's clock 5 s before the first live slot.
    live = slots[1:]
    rc = _backfill(SimulatorProcess, env, work, bin_dir, live[0] - timedelta(days=7), live[0])
    if rc:
        return rc
    # 2. Live runs: the gateway's clock 5 s before each slot; then a re-run of the last one.
    runs = [(s, s - timedelta(seconds=5), "slot, live") for s in live]
    runs.append((live[-1], live[-1] + timedelta(seconds=10), "re-run of"))
    for slot, clock, what in runs:
        rc = _dags_test(SimulatorProcess, env, work, bin_dir, slot, clock, what)
        if rc:
            return rc
    show_lake(lake_conn, slots)
    # 3. The weekly analysis of the week ending after the last live slot.
    rc = _analysis(env, work, bin_dir, live[-1] + timedelta(minutes=5))
    if rc:
        return rc
    rc = show_report(lake_conn, work)
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    return rc


def _backfill(
    simulator: Any, env: dict[str, str], work: Path, bin_dir: Path, start: datetime,
    end: datetime,
) -> int:
    """``airflow dags test futures_backfill`` for ``[start, end)`` against a simulator whose
    clock reads 5 s before ``end``."""
    conf = {"start": start.isoformat(), "end": end.isoformat()}
    with simulator(start=(end - timedelta(seconds=5)).isoformat(), seed=7) as sim:
        env = {**env, "AIRFLOW_CONN_IB_DEFAULT": json.dumps(
            {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim.port})}  # fmt: skip
        log = work / "dags-test-backfill.log"
        t0 = time.monotonic()
        cmd = [str(bin_dir / "airflow"), "dags", "test", "futures_backfill", "--conf",
               json.dumps(conf)]  # fmt: skip
        rc = _run(cmd, env, log)
    print(f"  airflow dags test futures_backfill --conf '{json.dumps(conf)}'  exit {rc} in "
          f"{time.monotonic() - t0:.1f}s; log {log}")  # fmt: skip
    for line in log.read_text().splitlines():
        if "backfill group" in line or "summary: " in line:
            print("    " + line.split("]", 1)[-1].split("[ib_futures")[0].split("[airflow")[0]
                  .strip()[:160])  # fmt: skip
    return rc


def _analysis(env: dict[str, str], work: Path, bin_dir: Path, at: datetime) -> int:
    """``airflow dags test futures_analysis_weekly <at>``: the week ending at ``at``."""
    log = work / "dags-test-analysis.log"
    t0 = time.monotonic()
    cmd = [str(bin_dir / "airflow"), "dags", "test", "futures_analysis_weekly", at.isoformat()]
    rc = _run(cmd, env, log)
    print(f"\n  airflow dags test futures_analysis_weekly {at.isoformat()}  exit {rc} in "
          f"{time.monotonic() - t0:.1f}s; log {log}")  # fmt: skip
    return rc


def show_report(lake_conn: str, work: Path) -> int:
    """Where the report is, and each pair's lead-lag peak against the simulator's planted lag.

    The report lives in the lake (table ``weekly_reports``, served by the Futures page); a copy
    of its files goes to ``<workdir>/report/<week>/`` so that it opens from disk too."""
    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.analysis.results import read_results
    from ib_futures.lake.reports import REPORTS_TABLE, read_report_files
    from ib_gateway_sim.prices import PriceModelConfig

    os.environ["AIRFLOW_CONN_DELTA_LAKE_DEFAULT"] = lake_conn
    location = DeltaLakeHook().location
    results = read_results(location.uri)
    if results.is_empty():
        print("no analysis results were written")
        return 1
    week: Any = results["week_end"].max()
    rows = results.filter(results["week_end"] == week).sort("pair")
    planted = PriceModelConfig(seed=7).etf_lag_slots
    files = read_report_files(location.uri, str(week), location.storage_options)
    copy = work / "report" / str(week)
    copy.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (copy / name).write_bytes(content)
    charts = sum(1 for n in files if n.endswith(".png"))
    print(f"\nWeekly report for the week ending {week}: in the lake table {REPORTS_TABLE} "
          f"({charts} charts); on the Futures page /plugin/futures; a copy in "
          f"{copy / 'report.html'}")  # fmt: skip
    print(f"  lead-lag peak per pair (the simulator plants ETF returns {planted} slot(s) "
          "behind the future):")
    good = True
    for row in rows.iter_rows(named=True):
        lag = row["xcorr_peak_lag"]
        ok = row["status"] == "ok" and lag == planted
        good &= ok
        print(f"    {row['pair']:8} status {row['status']:18} peak lag {lag} slot(s), "
              f"r = {row['xcorr_peak_r'] or float('nan'):.2f}; history share: futures "
              f"{row['fut_history_share'] or 0:.0%}, ETF {row['etf_history_share'] or 0:.0%}"
              f"  {'ok' if ok else 'UNEXPECTED'}")  # fmt: skip
    return 0 if good else 1


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
        if "in batch" in line and "inserted" in line:
            print("    " + line.split("]", 1)[-1].split("[airflow")[0].strip())
    return rc


def show_lake(lake_conn: str, slots: list[datetime]) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
