"""A lake with known gaps for the futures page's tests: every cell of the heat map is known.

Trade days 2026-11-02 (Mon) to 2026-11-20 (Fri), six instruments, every expected slot stored
live (``analysis.synthetic``), then:

* ES, 2026-11-04: three slots deleted -> ``missing``;
* NQ, 2026-11-05: twelve slots rewritten as history rows -> ``history``;
* RTY, 2026-11-06: one slot deleted and recorded in ``unfillable_slots`` -> ``unfillable``;
* SPY, 2026-11-09: the whole day deleted -> ``missing``;
* the weekends (07-08, 14-15) have no slot -> ``not_expected``.

One weekly report (ES/SPY, week ending 2026-11-20) is stored with its charts.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import polars as pl

START_DAY, END_DAY = date(2026, 11, 2), date(2026, 11, 20)
INSTRUMENTS = ("ES", "NQ", "RTY", "SPY", "QQQ", "IWM")
WEEKENDS = (date(2026, 11, 7), date(2026, 11, 8), date(2026, 11, 14), date(2026, 11, 15))
GAPS = {
    ("ES", date(2026, 11, 4)): "missing",
    ("NQ", date(2026, 11, 5)): "history",
    ("RTY", date(2026, 11, 6)): "unfillable",
    ("SPY", date(2026, 11, 9)): "missing",
}
REPORT_WEEK = "2026-11-20"


def expected_cells() -> dict[tuple[str, date], str]:
    """The state of every heat-map cell of the range."""
    out = {}
    for n in range((END_DAY - START_DAY).days + 1):
        day = START_DAY + timedelta(days=n)
        for symbol in INSTRUMENTS:
            state = "not_expected" if day in WEEKENDS else GAPS.get((symbol, day), "live")
            out[(symbol, day)] = state
    return out


def expected_counts() -> Counter[str]:
    return Counter(expected_cells().values())


def _ny_day(ts: pl.Expr, asset_class: str) -> pl.Expr:
    shift = "6h" if asset_class == "FUT" else "0h"
    return ts.dt.convert_time_zone("America/New_York").dt.offset_by(shift).dt.date()


def build_lake(lake: str) -> None:
    from ib_futures.analysis.synthetic import synthetic_snapshots, write_synthetic_lake

    frame = synthetic_snapshots(
        datetime(2026, 11, 1, 12, tzinfo=UTC), datetime(2026, 11, 21, 12, tzinfo=UTC), seed=3
    )
    day = pl.when(pl.col("asset_class") == "FUT").then(_ny_day(pl.col("bucket_ts"), "FUT"))
    frame = frame.with_columns(day.otherwise(_ny_day(pl.col("bucket_ts"), "ETF")).alias("_day"))
    frame = frame.filter(pl.col("_day").is_between(START_DAY, END_DAY))

    def on(symbol: str, d: date) -> pl.Expr:
        return (pl.col("symbol") == symbol) & (pl.col("_day") == d)

    es = frame.filter(on("ES", date(2026, 11, 4)))["bucket_ts"]
    rty = frame.filter(on("RTY", date(2026, 11, 6)))["bucket_ts"]
    nq = frame.filter(on("NQ", date(2026, 11, 5)))["bucket_ts"]
    dropped = (
        (on("ES", date(2026, 11, 4)) & pl.col("bucket_ts").is_in(es[10:13].implode()))
        | (on("RTY", date(2026, 11, 6)) & (pl.col("bucket_ts") == rty[40]))
        | on("SPY", date(2026, 11, 9))
    )
    history = on("NQ", date(2026, 11, 5)) & pl.col("bucket_ts").is_in(nq[100:112].implode())
    frame = frame.filter(~dropped).with_columns(
        pl.when(history).then(pl.lit("hist_midpoint_close")).otherwise(pl.col("price_source"))
        .alias("price_source")
    ).drop("_day")  # fmt: skip
    write_synthetic_lake(lake, frame)
    _unfillable(lake, rty[40])
    _report(lake)


def _unfillable(lake: str, slot: datetime) -> None:
    from deltalake import write_deltalake

    from ib_futures.lake.schemas import UNFILLABLE
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.tables import ensure_table

    row = {
        "symbol": "RTY", "asset_class": "FUT", "bucket_ts": slot, "bucket_date": slot.date(),
        "local_symbol": "RTYZ6", "reason": "no_bar", "ib_code": 162,
        "message": "HMDS query returned no data", "recorded_ts": datetime(2026, 11, 7, tzinfo=UTC),
        "source": "test",
    }  # fmt: skip
    table = ensure_table(table_uri(lake, UNFILLABLE.name), UNFILLABLE)
    frame = pl.DataFrame([row]).select(UNFILLABLE.column_names).cast(UNFILLABLE.polars_schema())
    write_deltalake(table, frame, mode="append")


def _report(lake: str) -> None:
    from ib_futures.analysis.config import AnalysisSettings
    from ib_futures.analysis.pipeline import analyse_pair
    from ib_futures.analysis.report import write_report
    from ib_futures.lake.readers import read_pair_window

    end = datetime(2026, 11, 21, tzinfo=UTC)
    frame = read_pair_window(lake, "ES", "SPY", end - timedelta(days=19), end)
    settings = AnalysisSettings(daily_lookback_days=14, min_train_days=5, min_oos_days=3)
    row = analyse_pair(frame, "ES", "SPY", end - timedelta(days=7), end, settings)
    write_report(lake, [{**row, "week_end": REPORT_WEEK}])
