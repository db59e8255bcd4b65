"""The same code against an S3-compatible server (moto on 127.0.0.1): write, merge, read, maintain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from deltalake import DeltaTable

from ib_futures.lake.maintenance import maintain_lake
from ib_futures.lake.readers import latest_per_symbol, read_pair_window
from ib_futures.lake.storage import storage_options_from_env, table_uri
from ib_futures.lake.writer import write_snapshots
from support.lake_records import make_batch

SLOT = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)


def test_s3_round_trip(s3_lake: str, s3_server: dict[str, str]) -> None:
    opts = dict(s3_server)
    first = write_snapshots(s3_lake, make_batch(SLOT), storage_options=opts)
    assert first.tables["futures_snapshots"].rows_inserted == 3
    again = write_snapshots(
        s3_lake, make_batch(SLOT) + make_batch(SLOT + timedelta(minutes=5)), storage_options=opts
    )
    assert again.tables["futures_snapshots"].rows_inserted == 3
    assert again.tables["spot_snapshots"].rows_already_present == 3
    pair = read_pair_window(s3_lake, "ES", "SPY", SLOT, SLOT + timedelta(hours=1), opts)
    assert pair.height == 4
    assert pair.select("symbol", "bucket_ts").is_unique().all()
    assert latest_per_symbol(s3_lake, ["NQ"], opts)["bucket_ts"].to_list() == [
        SLOT + timedelta(minutes=5)
    ]
    results = maintain_lake(
        s3_lake, vacuum_retention_hours=0, log_retention_hours=0, storage_options=opts
    )
    assert results["futures_snapshots"].files_after == 1
    assert not results["snapshot_rejects"].exists
    uri = table_uri(s3_lake, "futures_snapshots")
    assert pl.read_delta(uri, storage_options=opts).height == 6
    assert DeltaTable(uri, storage_options=opts).version() >= 3


def test_s3_credentials_from_the_environment(
    s3_lake: str, s3_server: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.setenv(key, s3_server[key])
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server["AWS_ENDPOINT_URL"])
    opts = storage_options_from_env(s3_lake)
    assert opts is not None and opts["AWS_ALLOW_HTTP"] == "true"
    report = write_snapshots(s3_lake, make_batch(SLOT, ("RTY",)), storage_options=opts)
    assert report.tables["futures_snapshots"].rows_inserted == 1


def test_wrong_credentials_fail_without_leaking_the_secret(
    s3_lake: str, s3_server: dict[str, str]
) -> None:
    bad = dict(s3_server, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_SECRET_ACCESS_KEY="s3cr3t-x")
    bad["max_retries"] = "0"  # an unreachable store: fail fast
    with pytest.raises(Exception) as err:
        write_snapshots(s3_lake, make_batch(SLOT, ("ES",)), storage_options=bad)
    assert "s3cr3t-x" not in str(err.value)
