"""Coverage from the lake: known gaps, the two counting paths agree, pruned reads on S3 too."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

import polars as pl
import pytest

from ib_futures.core.config import load_config
from ib_futures.core.coverage import DayRange
from ib_futures.lake.coverage import coverage_cells, day_counts, slot_states
from ib_futures.lake.page_data import PageInputError, coverage, day_slots, latest_quotes
from support.page_lake import END_DAY, START_DAY, build_lake, expected_cells

ALL = [("ES", "FUT"), ("NQ", "FUT"), ("RTY", "FUT"), ("SPY", "ETF"), ("QQQ", "ETF"), ("IWM", "ETF")]


@pytest.fixture(scope="module")
def known_lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    lake = str(tmp_path_factory.mktemp("coverage") / "lake")
    build_lake(lake)
    return lake


def test_every_cell_has_its_known_state(known_lake) -> None:
    body = coverage(known_lake, load_config(), DayRange(START_DAY, END_DAY))
    got = {(c["symbol"], date.fromisoformat(c["day"])): c["state"] for c in body["cells"]}
    assert got == expected_cells()
    assert len(body["days"]) == 19 and body["instruments"] == [s for s, _ in ALL]


def test_the_fast_count_equals_the_per_slot_states(known_lake) -> None:
    cfg, days = load_config(), DayRange(date(2026, 11, 1), date(2026, 11, 22))
    fast = coverage_cells(known_lake, ALL, days, cfg)
    slow = day_counts(slot_states(known_lake, ALL, days, cfg), ALL, days)
    assert fast.equals(slow.select(fast.columns))
    # a Globex day: 23 hours of slots less the 17:00 ET halt hour = 276
    es = fast.filter((pl.col("symbol") == "ES") & (pl.col("day") == date(2026, 11, 3)))
    assert es.row(0, named=True)["live"] == 276


def test_drill_down_of_one_day(known_lake) -> None:
    body = day_slots(known_lake, load_config(), "2026-11-04", "ES")
    states = Counter(s["state"] for s in body["slots"])
    assert states == Counter({"live": 273, "missing": 3})
    assert body["slots"][0]["slot"] == "2026-11-03T23:00Z"  # 18:00 ET the evening before


def test_unknown_symbols_and_bad_days_name_the_parameter(known_lake) -> None:
    with pytest.raises(PageInputError, match="symbols='ES,ZZ'"):
        coverage(known_lake, load_config(), DayRange(START_DAY, END_DAY), "ES,ZZ")
    with pytest.raises(PageInputError, match="day='2026-02-30'"):
        day_slots(known_lake, load_config(), "2026-02-30")


def test_latest_quotes_carry_provenance_and_age(known_lake) -> None:
    from datetime import UTC, datetime

    quotes = latest_quotes(known_lake, load_config(), datetime(2026, 11, 21, tzinfo=UTC))["quotes"]
    es = quotes[0]
    assert es["contract"] == "ESZ6" and es["provenance"] == "live" and es["age_seconds"] == 7500


def test_an_s3_lake_reads_alike(known_lake, s3_server) -> None:
    from deltalake import write_deltalake

    from ib_futures.lake.schemas import FUTURES
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.tables import ensure_table

    lake = f"s3://ib-lake/coverage-{uuid.uuid4().hex}"
    frame = pl.read_delta(f"{known_lake}/futures_snapshots").filter(
        pl.col("bucket_date").is_between(date(2026, 11, 3), date(2026, 11, 5))
    )
    table = ensure_table(table_uri(lake, FUTURES.name), FUTURES, s3_server)
    write_deltalake(table, frame.select(FUTURES.column_names), mode="append")
    one_day = DayRange(date(2026, 11, 4), date(2026, 11, 4))
    cells = coverage_cells(lake, [("ES", "FUT")], one_day, load_config(), s3_server)
    assert cells.row(0, named=True)["missing"] == 3


def test_slots_not_yet_due_are_not_missing(known_lake) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 9, 15, 0, tzinfo=UTC)  # 10:00 ET: SPY's day (deleted) just began
    body = coverage(known_lake, load_config(), DayRange(date(2026, 11, 9), date(2026, 11, 9)),
                    "SPY", at=at)  # fmt: skip
    (cell,) = body["cells"]
    assert cell["missing"] == 5 and cell["state"] == "missing"  # 14:30..14:50 UTC, not 14:55
    later = day_slots(known_lake, load_config(), "2026-11-09", "SPY", at=at)["slots"]
    assert Counter(s["state"] for s in later) == Counter({"missing": 5})


def test_the_polars_state_is_core_slot_state() -> None:
    from itertools import product

    from ib_futures.core.coverage import slot_state
    from ib_futures.lake.coverage import _state_expr

    cases = list(product([True, None], [None, "live", "history"], [True, None]))
    frame = pl.DataFrame(cases, schema=["expected", "stored", "unfillable"], orient="row")
    got = frame.select(_state_expr())["state"].to_list()
    want = [
        slot_state(bool(e), s is not None, None if s == "live" else s, bool(u))
        for e, s, u in cases
    ]
    assert got == want
