"""Readers: windows, columns and types, pruning by partition, freshness helpers."""

from __future__ import annotations

import glob
import os
import shutil
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from ib_futures.lake.readers import (
    PAIR_COLUMNS,
    latest_per_symbol,
    newest_bucket_ts,
    price_history,
    price_points,
    read_pair_window,
    read_recent_history,
)
from ib_futures.lake.storage import table_uri
from ib_futures.lake.writer import write_snapshots
from support.lake_records import make_batch

DAY1 = datetime(2026, 11, 23, 23, 40, tzinfo=UTC)


@pytest.fixture(scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Four days, 8 slots each (23:40 .. 00:15 UTC, so each run spans a date boundary)."""
    lake = str(tmp_path_factory.mktemp("readers") / "lake")
    for d in range(4):
        for i in range(8):
            slot = DAY1 + timedelta(days=d, minutes=5 * i)
            write_snapshots(lake, make_batch(slot, step=d + i / 10))
    return lake


@pytest.fixture
def filled(_built: str, lake: str) -> str:
    """A private copy of the module's lake (some tests change it)."""
    shutil.copytree(_built, lake)
    return lake


def test_read_pair_window_half_open_both_symbols(filled: str) -> None:
    start = DAY1 + timedelta(days=1)
    end = start + timedelta(minutes=20)
    frame = read_pair_window(filled, "ES", "SPY", start, end)
    assert frame.columns == list(PAIR_COLUMNS)
    assert frame.schema["bucket_ts"] == pl.Datetime("us", "UTC")
    assert frame.schema["price"] == pl.Float64
    assert frame.height == 8  # 4 slots x 2 symbols; `end` itself excluded
    assert frame["bucket_ts"].min() == start and frame["bucket_ts"].max() < end
    assert frame.group_by("symbol").len().sort("symbol").rows() == [("ES", 4), ("SPY", 4)]
    assert frame.filter(pl.col("symbol") == "ES")["asset_class"].unique().to_list() == ["FUT"]
    # dates and ISO strings are accepted too; naive datetimes are refused
    whole_day = read_pair_window(
        filled, "NQ", "QQQ", date(2026, 11, 24), "2026-11-25T00:00:00+00:00"
    )
    assert whole_day.height == 2 * (4 + 4)
    with pytest.raises(ValueError, match="naive"):
        read_pair_window(filled, "ES", "SPY", datetime(2026, 11, 24), end)
    with pytest.raises(ValueError, match="empty window"):
        read_pair_window(filled, "ES", "SPY", end, start)


def test_readers_prune_by_partition(filled: str) -> None:
    """Delete the data files of every other date: a window on one date must not notice."""
    for table in ("futures_snapshots", "spot_snapshots"):
        for path in glob.glob(os.path.join(table_uri(filled, table), "bucket_date=*", "*.parquet")):
            if "bucket_date=2026-11-25" not in path:
                os.remove(path)
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    frame = read_pair_window(filled, "RTY", "IWM", start, start + timedelta(hours=1))
    assert frame.height == 2 * 4
    hist = read_recent_history(filled, ["ES", "SPY"], start, start + timedelta(days=1))
    assert hist.height == 2 * 8  # 00:00-00:15 and 23:40-23:55
    with pytest.raises(Exception):  # noqa: B017 - a full scan does hit the missing files
        pl.read_delta(table_uri(filled, "futures_snapshots"))


def test_read_recent_history_both_tables(filled: str) -> None:
    since = DAY1 + timedelta(days=3)
    hist = read_recent_history(filled, ["ES", "QQQ", "XYZ"], since, since + timedelta(minutes=10))
    assert hist.rows_by_key("symbol", named=False, unique=False).keys() == {"ES", "QQQ"}
    assert hist.height == 4
    for col in ("price", "local_symbol", "close", "open", "market_data_type"):
        assert col in hist.columns


def test_price_history_for_the_collector(filled: str) -> None:
    until = DAY1 + timedelta(days=2, minutes=10)
    points = price_history(filled, ["ES", "SPY", "XYZ"], until - timedelta(minutes=10), until)
    assert [ts for ts, _ in points["ES"]] == [until - timedelta(minutes=m) for m in (10, 5, 0)]
    assert points["XYZ"] == []
    assert points["SPY"][0][1] == pytest.approx(600.0 + 2 + 0.0)


def test_price_points_read_only_the_files_of_their_ranges(filled: str) -> None:
    """The collector's read: two short ranges on two days, from both tables. Every data file
    whose slots lie outside the ranges is deleted first: the read skips them by their
    statistics (a read of the whole span between the ranges does hit them)."""
    from deltalake import DeltaTable

    a = DAY1 + timedelta(days=1, minutes=10)  # 2026-11-24 23:50
    b = DAY1 + timedelta(days=2, minutes=25)  # 2026-11-26 00:05
    ranges = [(a - timedelta(minutes=5), a), (b, b + timedelta(minutes=5))]
    for table in ("futures_snapshots", "spot_snapshots"):
        uri = table_uri(filled, table)
        adds = pl.DataFrame(DeltaTable(uri).get_add_actions(flatten=True))
        for path, lo, hi in adds.select("path", "min.bucket_ts", "max.bucket_ts").iter_rows():
            if not any(x - timedelta(minutes=1) <= lo and hi <= y + timedelta(minutes=1)
                       for x, y in ranges):  # fmt: skip
                os.remove(os.path.join(uri, path))
    points = price_points(filled, ["ES", "SPY", "XYZ"], ranges)
    want = [a - timedelta(minutes=5), a, b, b + timedelta(minutes=5)]
    assert [ts for ts, _ in points["ES"]] == want
    assert [ts for ts, _ in points["SPY"]] == want
    assert points["XYZ"] == []
    with pytest.raises(Exception):  # noqa: B017 - the span between the ranges has no files left
        price_history(filled, ["ES"], ranges[0][0], ranges[1][1])


def test_latest_per_symbol_and_newest_bucket_ts(filled: str) -> None:
    newest = DAY1 + timedelta(days=3, minutes=35)
    latest = latest_per_symbol(filled)
    assert latest["symbol"].to_list() == ["ES", "IWM", "NQ", "QQQ", "RTY", "SPY"]
    assert latest["bucket_ts"].unique().to_list() == [newest]
    assert newest_bucket_ts(filled) == newest
    # a symbol that stopped a day earlier is found in an older partition
    write_snapshots(filled, make_batch(newest + timedelta(days=1), ("ES",)))
    latest = latest_per_symbol(filled, ["ES", "NQ", "GONE"])
    assert dict(latest.select("symbol", "bucket_ts").iter_rows()) == {
        "ES": newest + timedelta(days=1),
        "NQ": newest,
    }
    assert newest_bucket_ts(filled, ["NQ", "SPY"]) == newest


def test_missing_tables_read_as_empty_frames(lake: str) -> None:
    start = datetime(2026, 11, 24, tzinfo=UTC)
    frame = read_pair_window(lake, "ES", "SPY", start, start + timedelta(days=1))
    assert frame.is_empty() and frame.columns == list(PAIR_COLUMNS)
    assert frame.schema["bucket_ts"] == pl.Datetime("us", "UTC")
    assert latest_per_symbol(lake).is_empty()
    assert newest_bucket_ts(lake) is None
    assert price_history(lake, ["ES"], start, start + timedelta(hours=1)) == {"ES": []}
