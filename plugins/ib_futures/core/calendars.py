"""Exchange calendars from ``pandas_market_calendars``, turned into plain session records.

This is the only module that touches the calendar library; ``core.session`` and
``core.metrics`` work on :class:`MarketSession` tuples. The library (and pandas with it) is
imported inside functions, and every schedule is computed once per calendar and year
(``lru_cache``), so after the first call a lookup is a bisect over a tuple.

Why ``pandas_market_calendars`` and its ``CME_Equity`` calendar (measured figures and the
comparison with ``exchange_calendars``' CMES/XNYS are in docs/session.md): it models the
equity-index Globex session as trade date D = D-1 17:00 CT to D 16:00 CT, so the daily
16:00-17:00 CT (17:00-18:00 ET) halt and the weekend fall out of the schedule; it carries the
CME holiday closures (New Year, Good Friday, Christmas), the 12:00 CT holiday early closes
(MLK, Presidents, Memorial, Juneteenth, July 4th, Labor Day, Thanksgiving) and the Good Friday
08:15 CT early close; its NYSE calendar carries the pre-market (04:00) and after-hours (20:00,
17:00 on early-close days) times.

One correction (:func:`_cme_half_day_closes`): on the half days (the day after Thanksgiving,
July 3 and December 24, when NYSE closes at 13:00 ET) the library closes equity-index futures at
12:00 CT, while CME's published holiday schedules close them at 12:15 CT (e.g. the Thanksgiving
2026 and Christmas 2026 notices); the three slots between are real trading.
"""

from __future__ import annotations

import functools
import re
import warnings
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ib_futures.core.snapshot import AssetClass

__all__ = ["MarketSession", "Timeline", "holiday_names", "timeline", "year_sessions"]


@dataclass(frozen=True)
class MarketSession:
    """One trading session of one market; all instants are aware UTC datetimes.

    For futures ``open``/``close`` are the Globex session (trade date ``trade_date``, opening
    the evening before) and ``pre_open``/``post_close`` equal them. For ETFs ``open``/``close``
    are the regular hours (09:30-16:00 ET, or the early close) and ``pre_open``/``post_close``
    the extended hours (04:00-20:00 ET). ``breaks`` lists intraday pauses (none since 2021).
    """

    market: AssetClass
    trade_date: date
    open: datetime
    close: datetime
    pre_open: datetime
    post_close: datetime
    early_close: bool
    breaks: tuple[tuple[datetime, datetime], ...] = ()

    def bounds(self, extended: bool = False) -> tuple[datetime, datetime]:
        """``[start, end)`` of collection: regular hours, or extended hours when asked."""
        return (self.pre_open, self.post_close) if extended else (self.open, self.close)

    def contains(self, t: datetime, extended: bool = False) -> bool:
        start, end = self.bounds(extended)
        if not start <= t < end:
            return False
        return not any(b0 <= t < b1 for b0, b1 in self.breaks)


def _utc(ts: Any) -> datetime:
    out: datetime = ts.to_pydatetime().astimezone(UTC)
    return out


@functools.lru_cache(maxsize=32)
def year_sessions(calendar: str, market: AssetClass, year: int) -> tuple[MarketSession, ...]:
    """The sessions of ``calendar`` whose trade date lies in ``year``, in order."""
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar(calendar)
    with warnings.catch_warnings():
        # the library's own pandas deprecations (Series.dt.weekday) are not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if market == "ETF":
            sched = cal.schedule(f"{year}-01-01", f"{year}-12-31", start="pre", end="post")
        else:
            sched = cal.schedule(f"{year}-01-01", f"{year}-12-31")
    regular_close = cal.close_time  # local (calendar time zone) regular close
    out: list[MarketSession] = []
    for day, row in zip(sched.index, sched.itertuples(index=False), strict=True):
        fields = row._asdict()
        open_ = _utc(fields["market_open"])
        close = _utc(fields["market_close"])
        pre = _utc(fields["pre"]) if "pre" in fields else open_
        post = _utc(fields["post"]) if "post" in fields else close
        breaks: tuple[tuple[datetime, datetime], ...] = ()
        if "break_start" in fields and "break_end" in fields:
            b0, b1 = fields["break_start"], fields["break_end"]
            if b0 == b0 and b1 == b1 and b1 > b0:  # NaT != NaT
                breaks = ((_utc(b0), _utc(b1)),)
        local_close = fields["market_close"].tz_convert(cal.tz).time()
        out.append(
            MarketSession(
                market=market,
                trade_date=day.date(),
                open=open_,
                close=close,
                pre_open=pre,
                post_close=post,
                early_close=local_close < regular_close.replace(tzinfo=None),
                breaks=breaks,
            )
        )
    if market == "FUT":
        out = _cme_half_day_closes(out, year)
    return tuple(out)


#: CME's close of equity-index futures on the half days, in Chicago time (12:15 CT)
CME_HALF_DAY_CLOSE = time(12, 15)


def _cme_half_day_closes(sessions: list[MarketSession], year: int) -> list[MarketSession]:
    """Sessions with the half days' close moved from the library's 12:00 CT to 12:15 CT.

    The half days are NYSE's early closes (the day after Thanksgiving, July 3, December 24);
    CME's other 12:00 CT holiday closes (MLK Day, ...) are right as they are.
    """
    import pandas_market_calendars as mcal

    nyse = mcal.get_calendar("NYSE")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the library's own pandas calls
        warnings.simplefilter("ignore", FutureWarning)
        sched = nyse.schedule(f"{year}-01-01", f"{year}-12-31")
        half_days = {ts.date() for ts in nyse.early_closes(sched).index}
    chicago = ZoneInfo("America/Chicago")
    out = []
    for s in sessions:
        if s.trade_date in half_days and s.early_close:
            local = datetime.combine(s.trade_date, CME_HALF_DAY_CLOSE, chicago).astimezone(UTC)
            s = replace(s, close=local, post_close=local)
        out.append(s)
    return out


@dataclass(frozen=True)
class Timeline:
    """Consecutive sessions of one market with bisectable starts and closes."""

    sessions: tuple[MarketSession, ...]
    starts: tuple[datetime, ...]  # pre_open (the widest bound)
    closes: tuple[datetime, ...]  # regular close
    by_date: dict[date, MarketSession]

    def at(self, t: datetime) -> MarketSession | None:
        """The session whose widest bounds ``[pre_open, post_close)`` contain ``t``."""
        i = bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.sessions[i].post_close:
            return self.sessions[i]
        return None

    def last_closed(self, t: datetime) -> MarketSession | None:
        """The last session whose regular close is at or before ``t``."""
        i = bisect_right(self.closes, t) - 1
        return self.sessions[i] if i >= 0 else None

    def next_after(self, t: datetime) -> MarketSession | None:
        """The first session whose regular open is after ``t``."""
        i = bisect_right(self.starts, t)
        while i < len(self.sessions):
            if self.sessions[i].open > t:
                return self.sessions[i]
            i += 1
        return None

    def previous(self, s: MarketSession) -> MarketSession | None:
        i = self.sessions.index(s)
        return self.sessions[i - 1] if i > 0 else None


@functools.lru_cache(maxsize=32)
def timeline(calendar: str, market: AssetClass, first_year: int, last_year: int) -> Timeline:
    """Sessions with trade dates from ``first_year`` through ``last_year``."""
    sessions: list[MarketSession] = []
    for y in range(first_year, last_year + 1):
        sessions.extend(year_sessions(calendar, market, y))
    return Timeline(
        sessions=tuple(sessions),
        starts=tuple(s.pre_open for s in sessions),
        closes=tuple(s.close for s in sessions),
        by_date={s.trade_date: s for s in sessions},
    )


_NAME_FIXES = {
    "new years day": "New Year's Day",
    "july 4th": "Independence Day",
    "mondays, tuesdays, wednesdays, and thursdays before christmas": "Christmas Eve",
    "black friday": "day after Thanksgiving",
}


def clean_holiday_name(name: str, day: date) -> str:
    """The library's rule names made readable (``Good Friday 1908+`` -> ``Good Friday``)."""
    text = re.sub(r"\s+(Starting at \d{4}|\d{4}\+|After \d{4}|Before \d{4})$", "", name.strip())
    if "thanksgiving" in text.lower():
        # CME Globex Equity names its Thanksgiving-Thursday rule "ThanksgivingFriday".
        return "Thanksgiving" if day.weekday() == 3 else "day after Thanksgiving"
    return _NAME_FIXES.get(text.lower(), text)


@functools.lru_cache(maxsize=32)
def holiday_names(calendar: str, year: int) -> dict[date, str]:
    """Names of the holiday closures and special (early) closes of ``calendar`` in ``year``."""
    import pandas as pd
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar(calendar)
    start, end = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31")
    out: dict[date, str] = {}
    for d in cal.adhoc_holidays or []:
        ts = pd.Timestamp(d)
        if start <= ts.tz_localize(None) <= end:
            out[ts.date()] = "special closure (national day of mourning)"
    sources: list[Any] = [cal.regular_holidays] + [hc for _, hc in cal.special_closes]
    for hc in sources:
        if not hasattr(hc, "holidays"):
            continue
        named = hc.holidays(start, end, return_name=True)
        for ts, name in named.items():
            out.setdefault(ts.date(), clean_holiday_name(str(name), ts.date()))
    return out
