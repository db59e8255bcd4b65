"""futures_collection end to end with `airflow dags test` against the simulator (a subprocess
started from its CLI), real Delta tables on disk: trading slot, re-run, dry run, and the
maintenance, weekend and holiday slots that must skip. Every run must exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ib_gateway_sim import SimulatorProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRADING = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET


def migrated_airflow(home, lake) -> dict[str, str]:
    """The environment of an Airflow home with a migrated SQLite database, this checkout's
    dags/ and plugins/, and ``lake`` as the lake; for ``airflow dags test`` subprocesses."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "IB_FUTURES_LAKE_URI": str(lake),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    lake = home / "lake"
    env = migrated_airflow(home, lake)
    # The gateway's clock a few seconds before the slot, as a scheduler meets it: the first run
    # is live (docs/storage.md, "Provenance").
    with SimulatorProcess(start=(TRADING - timedelta(seconds=5)).isoformat(), seed=3) as sim:
        env["AIRFLOW_CONN_IB_DEFAULT"] = json.dumps(
            {
                "conn_type": "ibkr",
                "host": "127.0.0.1",
                "port": sim.port,
                "extra": {"connect_timeout": 5, "snapshot_timeout": 5},
            }
        )
        yield env, str(lake)


def dags_test(env, slot: datetime, conf: dict | None = None) -> str:
    cmd = [str(BIN / "airflow"), "dags", "test", "futures_collection", slot.isoformat()]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def rows(lake: str) -> dict[str, list[tuple[str, str]]]:
    import polars as pl

    out = {}
    for table in ("futures_snapshots", "spot_snapshots"):
        path = Path(lake) / table
        if not path.exists():
            out[table] = []
            continue
        frame = pl.read_delta(str(path)).select("symbol", "bucket_ts").sort("symbol", "bucket_ts")
        out[table] = [(s, t.isoformat()) for s, t in frame.iter_rows()]
    return out


def test_trading_slot_then_rerun_then_skips(stack):
    env, lake = stack
    out = dags_test(env, TRADING)
    assert "collect: CME Globex open; NYSE open" in out
    stored = rows(lake)
    slot = TRADING.isoformat()
    assert stored["futures_snapshots"] == [(s, slot) for s in ("ES", "NQ", "RTY")]
    assert stored["spot_snapshots"] == [(s, slot) for s in ("IWM", "QQQ", "SPY")]

    out = dags_test(env, TRADING)  # the same slot again: the merge inserts nothing
    assert "futures_snapshots: 3 in batch, 0 inserted, 3 already present" in out
    assert rows(lake) == stored

    # A dry run of a slot not stored yet (the one before: filled from IB's bars, as the gateway's
    # clock is past it): validated, nothing written.
    out = dags_test(
        env, TRADING - timedelta(minutes=5), {"dry_run": True, "instruments": ["ES", "SPY"]}
    )
    assert "dry_run=True" in out and "filled from IB history" in out
    assert rows(lake) == stored

    for slot, reason in [
        (datetime(2026, 11, 24, 22, 0, tzinfo=UTC), "maintenance"),  # Tue 17:00 ET halt
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), "weekend"),  # Saturday
        (datetime(2026, 12, 25, 15, 0, tzinfo=UTC), "Christmas"),  # CME and NYSE closed
    ]:
        out = dags_test(env, slot)
        assert "skip:" in out, reason
        assert "Marking run" in out and "successful" in out, reason
        assert rows(lake) == stored, reason


def test_failed_instrument_keeps_the_good_rows_and_fails_the_run(tmp_path):
    """The documented failure policy, in real Airflow: collect fails on every try (QQQ is
    unknown to the gateway), the retries happen, then write stores the five good rows from the
    last try's XCom and the run fails, so the gap is visible (and `dags test` exits 1)."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                "faults": [
                    {"action": "error", "request": "contract_details", "symbol": "QQQ", "code": 200}
                ]
            }
        )
    )
    lake = tmp_path / "lake"
    env = migrated_airflow(tmp_path, lake)
    start = (TRADING - timedelta(seconds=5)).isoformat()
    with SimulatorProcess(start=start, seed=3, scenario=scenario) as sim:
        env["AIRFLOW_CONN_IB_DEFAULT"] = json.dumps(
            {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim.port}
        )
        proc = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", "futures_collection", TRADING.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert out.count("1 of 6 instruments not collected (QQQ)") == 3  # first try + 2 retries
    assert "spot_snapshots: 2 in batch, 2 inserted" in out
    assert "Marking run" in out and "failed" in out
    stored = rows(str(lake))
    assert [s for s, _ in stored["futures_snapshots"]] == ["ES", "NQ", "RTY"]
    assert [s for s, _ in stored["spot_snapshots"]] == ["IWM", "SPY"]


def bars_at(port: int, slot: datetime) -> dict[str, tuple[float, float]]:
    """The simulator's own 5-minute bars ending at ``slot``: ``{symbol: (MIDPOINT close,
    TRADES close)}``, asked for with the real ib_async client."""
    from ib_async import Future, Stock

    from ib_gateway_sim.testing import connect_ib

    ib = connect_ib(port, client_id=77, request_timeout=10)
    try:
        out = {}
        futs = ib.reqContractDetails(Future("ES", exchange="CME"))
        es = min((d.contract for d in futs), key=lambda c: c.lastTradeDateOrContractMonth)
        (spy,) = ib.qualifyContracts(Stock("SPY", "SMART", "USD", primaryExchange="ARCA"))
        end = slot.strftime("%Y%m%d %H:%M:%S UTC")
        for sym, contract in (("ES", es), ("SPY", spy)):
            closes = []
            for what in ("MIDPOINT", "TRADES"):
                bars = ib.reqHistoricalData(contract, end, "600 S", "5 mins", what, False, 2)
                (bar,) = [b for b in bars if b.date == slot - timedelta(minutes=5)]
                closes.append(bar.close)
            out[sym] = (closes[0], closes[1])
        return out
    finally:
        ib.disconnect()


@pytest.mark.parametrize(
    ("gateway_late", "provenance"),
    [
        pytest.param(timedelta(hours=2), "hist_midpoint_close", id="two-hours-late"),
        pytest.param(timedelta(seconds=30), "live", id="thirty-seconds-late"),
    ],
)
def test_a_late_run_stores_the_bar_of_its_slot_not_the_present_quote(
    tmp_path, gateway_late, provenance
):
    """`airflow dags test` for a slot the gateway's clock is long past stores IB's bar values
    at that slot with history provenance; 30 s after the slot it stores the live quote."""
    import polars as pl

    lake = tmp_path / "lake"
    env = migrated_airflow(tmp_path, lake)
    with SimulatorProcess(start=(TRADING + gateway_late).isoformat(), seed=3) as sim:
        env["AIRFLOW_CONN_IB_DEFAULT"] = json.dumps(
            {"conn_type": "ibkr", "host": "127.0.0.1", "port": sim.port}
        )
        dags_test(env, TRADING, {"instruments": ["ES", "SPY"]})
        bars = bars_at(sim.port, TRADING)
    stored = {
        r["symbol"]: r
        for t in ("futures_snapshots", "spot_snapshots")
        for r in pl.read_delta(str(lake / t)).to_dicts()
    }
    assert sorted(stored) == ["ES", "SPY"]
    for sym, (mid, last) in bars.items():
        row = stored[sym]
        assert row["bucket_ts"] == TRADING and row["price_source"] == provenance
        if provenance == "live":
            assert row["bid"] is not None and row["quote_ts"] >= TRADING
        else:
            assert (row["price"], row["last"]) == (mid, last)
            assert row["bid"] is None and row["ask"] is None and row["volume"] is None
