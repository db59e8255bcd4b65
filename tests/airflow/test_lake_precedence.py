"""Every entry point into the lake finds it the same way: argument > lake connection >
``IB_FUTURES_LAKE_URI`` > the configuration's ``storage.lake_uri`` (``DeltaLakeHook``).

Four lakes are offered at once, one per source; each case removes the higher sources and checks
which lake the entry point really read or wrote.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ib_futures.core.snapshot import Snapshot

SOURCES = ("argument", "connection", "environment", "config")
SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET: every market open


class Lakes:
    """One lake directory per source, and the environment that offers them."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dirs = {s: root / f"{s}-lake" for s in SOURCES}
        self.monkeypatch = monkeypatch
        config = root / "futures_config.yaml"
        config.write_text(
            f"storage: {{lake_uri: {self.dirs['config']}}}\n"
            "collection: {history_fallback: false}\n"
        )
        monkeypatch.setenv("IB_FUTURES_CONFIG", str(config))

    def offer(self, highest: str) -> str | None:
        """Offer every source from ``highest`` down; return the argument (or None)."""
        rank = SOURCES.index(highest)
        conn = {"conn_type": "delta_lake", "extra": {"lake_uri": str(self.dirs["connection"])}}
        if rank <= 1:
            self.monkeypatch.setenv("AIRFLOW_CONN_DELTA_LAKE_DEFAULT", json.dumps(conn))
        else:
            self.monkeypatch.delenv("AIRFLOW_CONN_DELTA_LAKE_DEFAULT", raising=False)
        if rank <= 2:
            self.monkeypatch.setenv("IB_FUTURES_LAKE_URI", str(self.dirs["environment"]))
        else:
            self.monkeypatch.delenv("IB_FUTURES_LAKE_URI", raising=False)
        return str(self.dirs["argument"]) if rank == 0 else None

    def holding(self, table: str) -> list[str]:
        return [s for s, d in self.dirs.items() if (d / table / "_delta_log").is_dir()]


@pytest.fixture
def lakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lakes:
    return Lakes(tmp_path, monkeypatch)


def _context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=1, xcom_push=print)
    run = SimpleNamespace(logical_date=SLOT, run_after=SLOT)
    return {"ti": ti, "logical_date": SLOT, "data_interval_end": SLOT, "dag_run": run}


def _records(slot: datetime = SLOT) -> list[dict[str, Any]]:
    snap = Snapshot(
        symbol="ES", asset_class="FUT", bucket_ts=slot, collected_ts=slot + timedelta(seconds=2),
        con_id=1, local_symbol="ESZ6", exchange="CME", currency="USD", market_data_type=1,
        bid=6000.0, ask=6000.25, last=6000.0,
    )  # fmt: skip
    return [snap.to_record()]


def _write_everywhere(lakes: Lakes) -> None:
    from ib_futures.lake.writer import write_snapshots

    for d in lakes.dirs.values():
        write_snapshots(str(d), _records())


def probe_write(lakes: Lakes, argument: str | None) -> list[str]:
    from ib_futures.airflow.operators.delta import DeltaWriteOperator

    DeltaWriteOperator(task_id="write", snapshots=_records(), lake_uri=argument).execute(
        _context()  # type: ignore[arg-type]
    )
    return lakes.holding("futures_snapshots")


def probe_maintenance(lakes: Lakes, argument: str | None) -> list[str]:
    from deltalake import DeltaTable

    from ib_futures.airflow.operators.delta import DeltaMaintenanceOperator

    _write_everywhere(lakes)
    before = {s: DeltaTable(str(d / "futures_snapshots")).version() for s, d in lakes.dirs.items()}
    DeltaMaintenanceOperator(
        task_id="maintain", lake_uri=argument, tables=["futures_snapshots"], checkpoint_interval=7
    ).execute(_context())  # type: ignore[arg-type]
    after = {s: DeltaTable(str(d / "futures_snapshots")).version() for s, d in lakes.dirs.items()}
    return [s for s in SOURCES if after[s] != before[s]]


def probe_analysis(lakes: Lakes, argument: str | None) -> list[str]:
    from ib_futures.airflow.operators.analysis import (
        AnalysisResultsOperator,
        PairAnalysisOperator,
    )

    row = PairAnalysisOperator(task_id="a", pair=["ES", "SPY"], lake_uri=argument).execute(
        _context()  # type: ignore[arg-type]
    )
    assert row["status"] == "insufficient_data"  # empty lakes: the point is where it looked
    AnalysisResultsOperator(task_id="w", rows=[row], lake_uri=argument).execute(_context())  # type: ignore[arg-type]
    return lakes.holding("futures_analysis")


def probe_collect(lakes: Lakes, argument: str | None, port: int) -> list[str]:
    """The collector reads stored prices (change metrics) from the lake it resolved."""
    import ib_futures.lake.readers as readers
    from ib_futures.airflow.operators.collect import IBFuturesOperator

    read: list[str] = []
    real = readers.price_points
    lakes.monkeypatch.setattr(
        readers, "price_points", lambda uri, *a, **k: (read.append(uri), real(uri, *a, **k))[1]
    )
    lakes.monkeypatch.setenv(
        "AIRFLOW_CONN_IB_DEFAULT",
        json.dumps({"conn_type": "ibkr", "host": "127.0.0.1", "port": port}),
    )
    records = IBFuturesOperator(task_id="collect", instruments=["ES"], lake_uri=argument).execute(
        _context()  # type: ignore[arg-type]
    )
    assert [r["symbol"] for r in records] == ["ES"]
    return [s for s, d in lakes.dirs.items() if str(d) in read]


def probe_freshness_cli(lakes: Lakes, argument: str | None, capsys: Any) -> list[str]:
    from ib_futures.freshness import main

    _write_everywhere(lakes)
    main(["--at", SLOT.isoformat()] + (["--lake", argument] if argument else []))
    used = json.loads(capsys.readouterr().out)["lake"]
    return [s for s, d in lakes.dirs.items() if str(d) == used]


def probe_plugin(lakes: Lakes, argument: str | None) -> list[str]:
    # what every route of the Futures page reads (its HTTP side, behind Airflow's auth, is
    # tested against a real api-server in test_plugin.py)
    from ib_futures.airflow.plugin.routes import _lake

    assert argument is None  # a web request cannot choose the lake
    used = _lake()[1].uri
    return [s for s, d in lakes.dirs.items() if str(d) == used]


@pytest.mark.parametrize("highest", SOURCES)
def test_write(lakes: Lakes, highest: str) -> None:
    assert probe_write(lakes, lakes.offer(highest)) == [highest]


@pytest.mark.parametrize("highest", SOURCES)
def test_maintenance(lakes: Lakes, highest: str) -> None:
    assert probe_maintenance(lakes, lakes.offer(highest)) == [highest]


@pytest.mark.parametrize("highest", SOURCES)
def test_analysis(lakes: Lakes, highest: str) -> None:
    assert probe_analysis(lakes, lakes.offer(highest)) == [highest]


@pytest.mark.parametrize("highest", SOURCES)
def test_collect(lakes: Lakes, highest: str, ib_simulator: Any) -> None:
    assert probe_collect(lakes, lakes.offer(highest), ib_simulator.port) == [highest]


@pytest.mark.parametrize("highest", SOURCES)
def test_freshness_cli(lakes: Lakes, highest: str, capsys: Any) -> None:
    assert probe_freshness_cli(lakes, lakes.offer(highest), capsys) == [highest]


@pytest.mark.parametrize("highest", SOURCES[1:])
def test_plugin(lakes: Lakes, highest: str) -> None:
    assert probe_plugin(lakes, lakes.offer(highest)) == [highest]


def test_a_named_connection_that_does_not_exist_is_an_error(lakes: Lakes) -> None:
    from ib_futures.airflow.hooks.lake import DeltaLakeHook, LakeConnectionError

    lakes.offer("environment")
    with pytest.raises(LakeConnectionError, match="'warehouse' is not defined"):
        DeltaLakeHook("warehouse").location  # noqa: B018
    assert DeltaLakeHook().location.source == "environment"  # the default may be absent


def test_s3_credentials_from_the_lake_connection_are_masked(
    lakes: Lakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow.sdk.log

    from ib_futures.airflow.hooks.lake import DeltaLakeHook

    masked: list[object] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", lambda v, name=None: masked.append(v))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    conn = {
        "conn_type": "delta_lake", "login": "AKID", "password": "s3cr3t-value",
        "extra": {"lake_uri": "s3://bucket/lake/", "endpoint_url": "http://127.0.0.1:9",
                  "storage_options": {"AWS_REGION": "eu-west-1"}},
    }  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_DELTA_LAKE_DEFAULT", json.dumps(conn))
    monkeypatch.delenv("IB_FUTURES_LAKE_URI", raising=False)
    location = DeltaLakeHook().location
    assert (location.uri, location.source) == ("s3://bucket/lake", "connection delta_lake_default")
    assert location.storage_options == {
        "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",
    }  # fmt: skip
    assert "s3cr3t-value" in masked
    assert "s3cr3t-value" not in location.describe()

