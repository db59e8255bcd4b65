"""Expected slots: ETF regular hours (NYSE calendar) and futures Globex hours (CME calendar).

A slot is the UTC time a collection run stands for (its data interval end), on the 5-minute
grid. Conventions (docs/analysis.md):

* ETF regular-hours slots of a trading day run from the open to the close *inclusive*
  (09:30, 09:35, ..., 16:00 New York time; 13:00 on early-close days): 79 slots, 78 returns.
  The 09:30 slot is the session's opening price and the 16:00 slot its close.
* Futures slots follow CME Globex equity hours, Sunday 18:00 to Friday 17:00 New York time with
  the daily 17:00-18:00 maintenance halt and the exchange's holiday schedule: every slot ``t``
  with ``open <= t < close`` of a Globex session.

The calendars come from pandas_market_calendars ("XNYS" and "CME_Equity"), imported lazily.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from ib_futures.analysis.config import EXCHANGE_TZ, SLOT_MINUTES

if TYPE_CHECKING:
    import polars as pl

SLOT = timedelta(minutes=SLOT_MINUTES)


@lru_cache(maxsize=64)
def _sessions(
    calendar: str, first: date, last: date
) -> tuple[tuple[date, datetime, datetime], ...]:
    import pandas_market_calendars as mcal

    schedule = mcal.get_calendar(calendar).schedule(first.isoformat(), last.isoformat())
    return tuple(
        (
            idx.date(),
            row.market_open.to_pydatetime(),
            row.market_close.to_pydatetime(),
        )
        for idx, row in schedule.iterrows()
    )


def etf_sessions(start: datetime, end: datetime) -> list[tuple[date, datetime, datetime]]:
    """NYSE regular sessions ``(trading date, open UTC, close UTC)`` that touch ``[start, end)``."""
    first = (start - timedelta(days=1)).date()
    last = (end + timedelta(days=1)).date()
    return [s for s in _sessions("XNYS", first, last) if s[2] >= start and s[1] < end]


def futures_sessions(start: datetime, end: datetime) -> list[tuple[date, datetime, datetime]]:
    """CME Globex equity sessions ``(trade date, open UTC, close UTC)`` touching ``[start, end)``."""
    first = (start - timedelta(days=1)).date()
    last = (end + timedelta(days=2)).date()
    return [s for s in _sessions("CME_Equity", first, last) if s[2] > start and s[1] < end]


def _slot_frame(
    sessions: list[tuple[date, datetime, datetime]],
    start: datetime,
    end: datetime,
    *,
    include_close: bool,
) -> pl.DataFrame:
    import polars as pl

    frames = [
        pl.DataFrame(
            {
                "bucket_ts": pl.datetime_range(
                    opened,
                    closed,
                    SLOT,
                    closed="both" if include_close else "left",
                    time_unit="us",
                    time_zone="UTC",
                    eager=True,
                ),
            }
        ).with_columns(session_date=pl.lit(day))
        for day, opened, closed in sessions
    ]
    schema = pl.Schema([("bucket_ts", pl.Datetime("us", "UTC")), ("session_date", pl.Date())])
    if not frames:
        return pl.DataFrame(schema=schema)
    out = pl.concat(frames).cast(schema)
    return out.filter((pl.col("bucket_ts") >= start) & (pl.col("bucket_ts") < end)).unique(
        "bucket_ts", keep="first", maintain_order=True
    )


def etf_expected_slots(start: datetime, end: datetime) -> pl.DataFrame:
    """ETF regular-hours slots in ``[start, end)``: columns ``bucket_ts``, ``session_date``."""
    return _slot_frame(etf_sessions(start, end), start, end, include_close=True)


def futures_expected_slots(start: datetime, end: datetime) -> pl.DataFrame:
    """Globex slots in ``[start, end)``: columns ``bucket_ts``, ``session_date`` (CME trade date)."""
    return _slot_frame(futures_sessions(start, end), start, end, include_close=False)


def exchange_date(ts: datetime) -> date:
    """The New York calendar date of a UTC instant."""
    from zoneinfo import ZoneInfo

    return ts.astimezone(ZoneInfo(EXCHANGE_TZ)).date()
