"""Trading-session schedules the simulator shapes quotes and bars to.

* CME Globex equity-index futures: trade date D runs from 18:00 ET on the previous calendar
  day to 17:00 ET on D, Monday to Friday; so the market is closed Fri 17:00 - Sun 18:00 ET and
  during the daily 17:00-18:00 ET maintenance halt (docs/ib-protocol.md section 3, "CME Globex hours").
* Regular trading hours (IB's ``liquidHours``): 09:30-16:00 ET (08:30-15:00 CT).
* US ETFs quote 04:00-20:00 ET (IB's ``tradingHours`` for ARCA/NASDAQ listings).

Holidays and early closes follow ``holidays.py``: CME's calendar for Globex, NYSE's for the
regular and extended hours (early closes at 13:00 and 17:00 ET). Regular hours serve as the
futures' ``liquidHours`` too. ``Schedule.weekdays()`` is the same schedule without a holiday
calendar: the price model's walks move on it, so that a holiday rule never changes a price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .holidays import (
    NYSE_EARLY_CLOSE,
    NYSE_EARLY_CLOSE_EXTENDED,
    REGULAR,
    DayRule,
    cme_equity_day,
    nyse_day,
)

EASTERN = ZoneInfo("America/New_York")
CENTRAL = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class Session:
    """One trading session: ``[start, end)`` in UTC-aware datetimes, labelled by trade date."""

    trade_date: date
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Schedule:
    """A weekday schedule: each Monday-Friday trade date has one session in Eastern time.

    ``start_day_offset`` -1 means the session opens on the previous calendar day (Globex).
    ``calendar`` closes trade dates or ends them early (at the rule's own time, else at
    ``early_close``); without one every weekday is a full session.
    """

    name: str
    open_time: time
    close_time: time
    start_day_offset: int = 0
    calendar: Callable[[date], DayRule] | None = None
    early_close: time | None = None

    def weekdays(self) -> Schedule:
        """This schedule with every weekday a full session (no holidays)."""
        return replace(self, calendar=None)

    def rule(self, trade_date: date) -> DayRule:
        return self.calendar(trade_date) if self.calendar is not None else REGULAR

    def session(self, trade_date: date) -> Session | None:
        if trade_date.weekday() >= 5:
            return None
        rule = self.rule(trade_date)
        if rule.closed:
            return None
        close = (rule.close or self.early_close or self.close_time) if rule.early else self.close_time
        opening_day = trade_date + timedelta(days=self.start_day_offset)
        start = datetime.combine(opening_day, self.open_time, EASTERN)
        end = datetime.combine(trade_date, close, EASTERN)
        return Session(trade_date, start, end)

    def session_at(self, moment: datetime) -> Session | None:
        """The session open at ``moment``, or None while the market is closed."""
        local_day = moment.astimezone(EASTERN).date()
        for offset in (0, 1):
            candidate = self.session(local_day + timedelta(days=offset))
            if candidate is not None and candidate.contains(moment):
                return candidate
        return None

    def is_open(self, moment: datetime) -> bool:
        return self.session_at(moment) is not None

    def last_completed(self, moment: datetime) -> Session:
        """The most recent session that ended at or before ``moment``."""
        day = moment.astimezone(EASTERN).date() + timedelta(days=1)
        for _ in range(10):
            candidate = self.session(day)
            if candidate is not None and candidate.end <= moment:
                return candidate
            day -= timedelta(days=1)
        raise AssertionError("no completed session within 10 days")  # pragma: no cover

    def current_or_last(self, moment: datetime) -> Session:
        """The open session at ``moment`` or, while closed, the one that ended last."""
        return self.session_at(moment) or self.last_completed(moment)

    def sessions_between(self, start: datetime, end: datetime) -> Iterator[Session]:
        """Sessions overlapping ``[start, end)``, oldest first."""
        day = start.astimezone(EASTERN).date() - timedelta(days=1)
        last_day = end.astimezone(EASTERN).date() + timedelta(days=1)
        while day <= last_day:
            candidate = self.session(day)
            if candidate is not None and candidate.start < end and candidate.end > start:
                yield candidate
            day += timedelta(days=1)

    def last_sessions(self, moment: datetime, count: int) -> list[Session]:
        """The ``count`` sessions ending with the one open at (or last before) ``moment``."""
        newest = self.current_or_last(moment)
        sessions = [newest]
        day = newest.trade_date
        while len(sessions) < count:
            day -= timedelta(days=1)
            candidate = self.session(day)
            if candidate is not None:
                sessions.append(candidate)
        return sessions[::-1]

    def hours_string(self, today: date, tz: ZoneInfo, days_back: int = 1, days: int = 7) -> str:
        """IB's ``tradingHours``/``liquidHours`` format in zone ``tz``.

        For example ``20261123:1700-20261124:1600;...;20261128:CLOSED`` (the format since TWS
        970; ``ContractDetails._parseSessions`` in ib_async reads it).
        """
        parts = []
        for index in range(-days_back, days):
            day = today + timedelta(days=index)
            sess = self.session(day)
            if sess is None:
                parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            start = sess.start.astimezone(tz)
            end = sess.end.astimezone(tz)
            parts.append(f"{start:%Y%m%d:%H%M}-{end:%Y%m%d:%H%M}")
        return ";".join(parts)


CME_GLOBEX = Schedule(
    "cme_globex", time(18, 0), time(17, 0), start_day_offset=-1, calendar=cme_equity_day
)
US_RTH = Schedule(
    "us_rth", time(9, 30), time(16, 0), calendar=nyse_day, early_close=NYSE_EARLY_CLOSE
)
US_EXTENDED = Schedule(
    "us_extended", time(4, 0), time(20, 0), calendar=nyse_day, early_close=NYSE_EARLY_CLOSE_EXTENDED
)
