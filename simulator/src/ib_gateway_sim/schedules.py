"""Trading-session schedules the simulator shapes quotes and bars to.

* CME Globex equity-index futures: trade date D runs from 18:00 ET on the previous calendar
  day to 17:00 ET on D, Monday to Friday; so the market is closed Fri 17:00 - Sun 18:00 ET and
  during the daily 17:00-18:00 ET maintenance halt (DESIGN.md, "Domain facts").
* Regular trading hours (IB's ``liquidHours``): 09:30-16:00 ET (08:30-15:00 CT).
* US ETFs quote 04:00-20:00 ET (IB's ``tradingHours`` for ARCA/NASDAQ listings).

Holidays are deliberately not modelled: the simulator serves every weekday, so a test can pick
any weekday as its start without consulting a calendar. A collector keeps its own session
logic; the simulator only needs to be self-consistent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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
    """

    name: str
    open_time: time
    close_time: time
    start_day_offset: int = 0

    def session(self, trade_date: date) -> Session | None:
        if trade_date.weekday() >= 5:
            return None
        opening_day = trade_date + timedelta(days=self.start_day_offset)
        start = datetime.combine(opening_day, self.open_time, EASTERN)
        end = datetime.combine(trade_date, self.close_time, EASTERN)
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


CME_GLOBEX = Schedule("cme_globex", time(18, 0), time(17, 0), start_day_offset=-1)
US_RTH = Schedule("us_rth", time(9, 30), time(16, 0))
US_EXTENDED = Schedule("us_extended", time(4, 0), time(20, 0))
