"""DeltaWriteOperator / DeltaMaintenanceOperator inside Airflow (airflow.sdk).

``execute(context)`` with a minimal context for the details; one real ``dag.test()`` run (in a
subprocess with its own AIRFLOW_HOME) for XComArg resolution and templating.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from ib_futures.airflow.hooks.lake import DeltaLakeHook
from ib_futures.airflow.operators.base import as_bool
from ib_futures.airflow.operators.delta import DeltaMaintenanceOperator, DeltaWriteOperator
from ib_futures.core.config import FuturesConfig
from ib_futures.core.snapshot import Snapshot

SLOT = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)
INSTRUMENTS = {"ES": ("FUT", 6000.0), "NQ": ("FUT", 21000.0), "SPY": ("ETF", 600.0)}


def records(slot: datetime = SLOT) -> list[dict[str, Any]]:
    out = []
    for symbol, (asset_class, px) in INSTRUMENTS.items():
        fut = asset_class == "FUT"
        snap = Snapshot(
            symbol=symbol, asset_class=asset_class, bucket_ts=slot,  # type: ignore[arg-type]
            collected_ts=slot + timedelta(seconds=2), con_id=1 if fut else 2,
            local_symbol=f"{symbol}Z6" if fut else symbol, exchange="CME" if fut else "SMART",
            currency="USD", market_data_type=1, bid=px, ask=px + 0.25, last=px,
        )  # fmt: skip
        out.append(snap.to_record())
    return out


def context() -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="futures_collection", run_id="manual__1", task_id="write", try_number=1
    )
    return {"ti": ti}


@pytest.fixture(autouse=True)
def _no_lake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IB_FUTURES_LAKE_URI", raising=False)


def test_template_fields_and_cheap_import() -> None:
    assert {"snapshots", "lake_uri", "dry_run_flag", "on_invalid"} <= set(
        DeltaWriteOperator.template_fields
    )
    code = (
        "import sys; import ib_futures.airflow.operators.delta; "
        "print(any(m in sys.modules for m in ('polars', 'deltalake')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_write_operator_merges_and_returns_metrics(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    op = DeltaWriteOperator(task_id="write", snapshots=records(), lake_uri=lake)
    first = op.execute(context())  # type: ignore[arg-type]
    assert first["rows_valid"] == 3 and first["dry_run"] is False
    assert first["tables"]["futures_snapshots"]["rows_inserted"] == 2
    assert first["tables"]["spot_snapshots"]["rows_inserted"] == 1
    assert first["tables"]["snapshot_rejects"]["rows_in_batch"] == 0
    json.dumps(first)  # XCom-serialisable
    second = op.execute(context())  # type: ignore[arg-type]
    assert second["tables"]["futures_snapshots"]["rows_inserted"] == 0
    assert (
        second["tables"]["futures_snapshots"]["version"]
        == first["tables"]["futures_snapshots"]["version"]
    )
    history = pl.read_delta(f"{lake}/futures_snapshots")
    assert history.height == 2


def test_the_argument_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented precedence (docs/storage.md): argument > connection > environment >
    config. (Before the lake hook, IB_FUTURES_LAKE_URI beat an explicit argument.)"""
    monkeypatch.setenv("IB_FUTURES_LAKE_URI", str(tmp_path / "env-lake"))
    op = DeltaWriteOperator(
        task_id="write", snapshots=json.dumps(records()), lake_uri=str(tmp_path / "arg")
    )
    op.execute(context())  # type: ignore[arg-type]
    assert (tmp_path / "arg" / "futures_snapshots").is_dir()
    assert not (tmp_path / "env-lake").exists()


@pytest.mark.parametrize("flag", [True, "True", "true", "1"])
def test_dry_run_writes_nothing(tmp_path: Path, flag: object) -> None:
    lake = tmp_path / "lake"
    op = DeltaWriteOperator(task_id="write", snapshots=records(), lake_uri=str(lake), dry_run=flag)  # type: ignore[arg-type]
    result = op.execute(context())  # type: ignore[arg-type]
    assert result["dry_run"] is True and result["rows_valid"] == 3
    assert not lake.exists()


def test_bad_flags_are_named() -> None:
    with pytest.raises(ValueError, match="dry_run='maybe'"):
        as_bool("maybe", "dry_run")
    op = DeltaWriteOperator(task_id="w", snapshots=[], lake_uri="/tmp/x", on_invalid="ignore")
    with pytest.raises(ValueError, match="on_invalid='ignore'"):
        op.execute(context())  # type: ignore[arg-type]


def test_empty_or_missing_snapshots_make_no_commit(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for snaps in (None, [], ""):
        op = DeltaWriteOperator(task_id="write", snapshots=snaps, lake_uri=str(lake))
        assert op.execute(context())["rows_received"] == 0  # type: ignore[arg-type]
    assert not lake.exists()


def test_invalid_batch_fails_or_is_diverted(tmp_path: Path) -> None:
    from ib_futures.lake.validate import SnapshotValidationError

    lake = str(tmp_path / "lake")
    bad = records()
    bad[1]["ask"] = -1.0
    op = DeltaWriteOperator(task_id="write", snapshots=bad, lake_uri=lake)
    with pytest.raises(
        SnapshotValidationError, match=r"row 1 \(NQ 2026-11-24T15:05:00\+00:00\): ask"
    ):
        op.execute(context())  # type: ignore[arg-type]
    assert not os.path.exists(lake)
    op = DeltaWriteOperator(task_id="write", snapshots=bad, lake_uri=lake, on_invalid="reject")
    result = op.execute(context())  # type: ignore[arg-type]
    assert result["rows_rejected"] == 1
    rejects = pl.read_delta(f"{lake}/snapshot_rejects")
    assert rejects["source"].to_list() == ["futures_collection/manual__1/write#try1"]


def test_s3_credentials_from_an_airflow_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3 = pytest.importorskip("boto3")
    from support.lake_records import moto_server

    masked: list[object] = []
    import airflow.sdk.log

    monkeypatch.setattr(airflow.sdk.log, "mask_secret", lambda v, name=None: masked.append(v))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with moto_server() as endpoint:
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="AKIDLAKE",
            aws_secret_access_key="lake-secret-value", region_name="us-east-1",
        ).create_bucket(Bucket="airflow-lake")  # fmt: skip
        conn = {
            "conn_type": "aws",
            "login": "AKIDLAKE",
            "password": "lake-secret-value",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LAKE_S3", json.dumps(conn))
        options = lake_options("s3://airflow-lake/p", "lake_s3")
        assert options == {
            "AWS_ACCESS_KEY_ID": "AKIDLAKE",
            "AWS_SECRET_ACCESS_KEY": "lake-secret-value",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        assert "lake-secret-value" in masked  # Airflow masks it too; we make sure
        write = DeltaWriteOperator(
            task_id="write",
            snapshots=records(),
            lake_uri="s3://airflow-lake/p",
            aws_conn_id="lake_s3",
        )
        assert write.execute(context())["tables"]["spot_snapshots"]["rows_inserted"] == 1  # type: ignore[arg-type]
        maint = DeltaMaintenanceOperator(
            task_id="maint", lake_uri="s3://airflow-lake/p", aws_conn_id="lake_s3",
            vacuum_retention_hours="0", log_retention_hours="0",
        )  # fmt: skip
        result = maint.execute(context())  # type: ignore[arg-type]
        assert result["futures_snapshots"]["files_after"] == 1
    assert lake_options(str(tmp_path), "lake_s3") is None  # local lake: no options


def lake_options(lake_uri: str, aws_conn_id: str) -> dict[str, str] | None:
    hook = DeltaLakeHook(lake_uri=lake_uri, aws_conn_id=aws_conn_id, config=FuturesConfig())
    return hook.location.storage_options


def test_maintenance_operator(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    for i in range(6):
        DeltaWriteOperator(
            task_id="w", snapshots=records(SLOT + timedelta(minutes=5 * i)), lake_uri=lake
        ).execute(
            context()  # type: ignore[arg-type]
        )
    op = DeltaMaintenanceOperator(
        task_id="maintain", lake_uri=lake, vacuum_retention_hours="0", log_retention_hours="24",
        checkpoint_interval="100",
    )  # fmt: skip
    result = op.execute(context())  # type: ignore[arg-type]
    fut = result["futures_snapshots"]
    assert (fut["files_before"], fut["files_after"], fut["files_removed_by_vacuum"]) == (6, 1, 6)
    assert fut["properties_changed"]["delta.checkpointInterval"] == "100"
    assert result["snapshot_rejects"]["exists"] is False
    assert pl.read_delta(f"{lake}/futures_snapshots").height == 12
    json.dumps(result)


DAG_FILE = textwrap.dedent(
    """
    from datetime import datetime, timezone

    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Param

    from ib_futures.airflow.operators.delta import DeltaWriteOperator

    def collect():
        import json, os
        return json.loads(os.environ["TEST_RECORDS"])

    with DAG("delta_write_test", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
             params={"dry_run": Param(False, type="boolean")}) as dag:
        collected = PythonOperator(task_id="collect", python_callable=collect)
        DeltaWriteOperator(task_id="write", snapshots=collected.output,
                           dry_run="{{ params.dry_run }}", lake_uri="{{ var.value.get('x', '') }}")
    """
)

RUNNER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from airflow.utils import db
    db.resetdb()
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    dag = DagBag(dag_folder=sys.argv[1]).dags["delta_write_test"]
    out = {}
    for dry in (True, False, False):
        dr = dag.test(logical_date=None, run_conf={"dry_run": dry})
        with create_session() as s:
            row = s.query(XComModel).filter_by(dag_id=dag.dag_id, run_id=dr.run_id,
                                               task_id="write", key="return_value").one()
            out.setdefault("runs", []).append({"state": str(dr.state), "xcom": row.value})
    print("RESULT " + json.dumps(out, default=str))
    """
)


def test_real_dag_run_resolves_xcomarg_and_templates(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "delta_write_dag.py").write_text(DAG_FILE, encoding="utf-8")
    lake = tmp_path / "lake"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "IB_FUTURES_LAKE_URI": str(lake),
        "TEST_RECORDS": json.dumps(records()),
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(dags)],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    runs = json.loads(lines[-1][len("RESULT ") :])["runs"]
    assert [r["state"] for r in runs] == ["success"] * 3
    dry, first, again = (r["xcom"] for r in runs)
    assert dry["dry_run"] is True and dry["rows_valid"] == 3
    assert first["tables"]["futures_snapshots"]["rows_inserted"] == 2
    assert again["tables"]["futures_snapshots"]["rows_inserted"] == 0
    assert pl.read_delta(str(lake / "futures_snapshots")).height == 2
