"""futures_gap_repair and futures_backfill under `airflow dags test`, against the simulator
(in this process, so its request journal is countable) and real Delta tables:

* random slots and a whole day dropped from a stored week come back with the simulator's
  values, and a second repair makes no historical request;
* a backfill killed in the middle and started again ends with every slot once and asks only
  for what was not yet stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from ib_futures.backfill import plan_range, repair_range
from ib_futures.core.config import load_config
from ib_futures.core.pacing import HistoricalPacer
from ib_futures.ib.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: two instruments (a future and an ETF) keep the runs short; the code paths are the same
SYMBOLS = ["ES", "SPY"]
CONFIG_TEXT = "collection:\n  instruments: [ES, SPY]\n"
CLOSE = datetime(2026, 11, 24, 22, 20, tzinfo=UTC)  # Tuesday 17:20 ET, after the CME close
TABLES = ("futures_snapshots", "spot_snapshots")
VALUES = ["symbol", "bucket_ts", "local_symbol", "price", "last", "price_source"]


@pytest.fixture
def airflow_env(tmp_path):
    """A migrated Airflow home (SQLite) with this checkout's dags and plugins, and a lake."""
    lake = tmp_path / "lake"
    config = tmp_path / "futures_config.yaml"
    config.write_text(CONFIG_TEXT)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "IB_FUTURES_LAKE_URI": str(lake),
        "IB_FUTURES_CONFIG": str(config),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    airflow = [str(BIN / "airflow"), "db", "migrate"]
    subprocess.run(airflow, env=env, check=True, capture_output=True, timeout=180)
    return env, str(lake), load_config(config)


def with_gateway(env: dict[str, str], port: int) -> dict[str, str]:
    conn = {"conn_type": "ibkr", "host": "127.0.0.1", "port": port,
            "extra": {"connect_timeout": 5, "request_timeout": 30}}  # fmt: skip
    return {**env, "AIRFLOW_CONN_IB_DEFAULT": json.dumps(conn)}


def dags_test(env: dict[str, str], dag_id: str, conf: dict | None = None) -> str:
    cmd = [str(BIN / "airflow"), "dags", "test", dag_id]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "state=success" in out, out[-4000:]
    return out


def requests(sim) -> int:
    return len(sim.journal.entries("historical_data"))


def stored(lake: str) -> pl.DataFrame:
    frames = [pl.read_delta(f"{lake}/{t}").select(VALUES) for t in TABLES]
    return pl.concat(frames).sort("symbol", "bucket_ts")


def drop(lake: str, keys: pl.DataFrame) -> None:
    """Delete the ``(symbol, bucket_ts)`` keys from the snapshot tables, one commit each."""
    for table in TABLES:
        mine = keys.join(pl.read_delta(f"{lake}/{table}").select("symbol", "bucket_ts"),
                         on=["symbol", "bucket_ts"])  # fmt: skip
        terms = [f"(symbol = '{sym}' AND bucket_ts = '{ts.isoformat()}')"
                 for sym, ts in mine.iter_rows()]  # fmt: skip
        if terms:
            DeltaTable(f"{lake}/{table}").delete(" OR ".join(terms))


def test_the_repair_restores_exactly_the_dropped_slots_then_asks_nothing(
    simulator_factory, airflow_env
):
    env, lake, cfg = airflow_env
    sim = simulator_factory(start=CLOSE.isoformat())
    settings = GatewaySettings(host="127.0.0.1", port=sim.port, request_timeout=30)
    asyncio.run(repair_range(cfg, lake_uri=lake, gateway_connection=settings,
                             start="2026-11-17T00:00:00Z", pacer=HistoricalPacer(min_gap_s=0)))  # fmt: skip
    week = stored(lake)
    rng = random.Random(13)
    in_window = week.filter(pl.col("bucket_ts") >= datetime(2026, 11, 18, tzinfo=UTC))
    picked = in_window.sample(n=30, seed=rng.randint(0, 1000))
    whole_day = week.filter(pl.col("bucket_ts").dt.date() == datetime(2026, 11, 20).date())
    dropped = pl.concat([picked, whole_day]).unique(["symbol", "bucket_ts"])
    drop(lake, dropped.select("symbol", "bucket_ts"))
    assert stored(lake).height == week.height - dropped.height

    before = requests(sim)
    out = dags_test(with_gateway(env, sim.port), "futures_gap_repair")
    asked = requests(sim) - before
    assert stored(lake).equals(week)  # exactly the dropped slots, with the simulator's values
    # one request per bar field for each instrument's dropped slots (they fit in one window)
    assert asked == 2 * dropped["symbol"].n_unique(), out[-3000:]

    before = requests(sim)
    out = dags_test(with_gateway(env, sim.port), "futures_gap_repair")
    assert requests(sim) == before, out[-3000:]
    assert "'historical_requests': 0" in out and "'still_missing': 0" in out


def test_a_backfill_killed_mid_way_and_restarted_stores_every_slot_once(
    simulator_factory, airflow_env, tmp_path
):
    env, lake, cfg = airflow_env
    sim = simulator_factory(start=CLOSE.isoformat())
    env = with_gateway(env, sim.port)
    conf = {"start": "2026-11-09", "end": "2026-11-21", "instruments": SYMBOLS}
    log = tmp_path / "killed.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [str(BIN / "airflow"), "dags", "test", "futures_backfill", "--conf", json.dumps(conf)],
            env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while "batch done" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the worker dies in the middle of the backfill
        proc.wait()
    first = requests(sim)
    start, end = datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    left = plan_range(cfg, lake, start, end, conf["instruments"])
    assert 0 < left.requests < 2 * 4, "the kill should leave part of the work"

    out = dags_test(env, "futures_backfill", conf)
    assert requests(sim) - first == left.requests, out[-3000:]  # nothing stored asked again
    rows = pl.concat([pl.read_delta(f"{lake}/{t}").select("symbol", "bucket_ts") for t in TABLES])
    assert rows.is_unique().all()
    done = plan_range(cfg, lake, start, end, conf["instruments"])
    assert (done.missing, done.stored) == (0, rows.height) and done.expected == rows.height
