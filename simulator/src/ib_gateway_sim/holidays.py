"""US exchange holidays and early closes, by rule: which trade dates the simulator serves.

Two calendars, both answering "what happens on trade date D" with a :class:`DayRule`:

* :func:`nyse_day` (the ETFs' regular and extended hours): closed on New Year's Day, Martin
  Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from
  2022), Independence Day, Labor Day, Thanksgiving and Christmas; early close (13:00 ET, 17:00 ET
  for extended hours) on July 3 and December 24 when they fall Monday to Thursday and on the
  day after Thanksgiving.
* :func:`cme_equity_day` (the E-mini Globex session, trade date D = D-1 18:00 ET to D 17:00
  ET): closed only on New Year's Day and Christmas; on the other US holidays the session ends
  at 13:00 ET (12:00 CT); on the half days (the day after Thanksgiving, July 3 and December 24,
  Monday to Thursday) at 13:15 ET (12:15 CT), as CME's holiday schedules publish; on Good
  Friday at 09:15 ET (08:15 CT). The next session opens at 18:00 ET as usual.

Observed dates: a holiday on a Saturday is observed the Friday before, on a Sunday the Monday
after, except New Year's Day on a Saturday, which is not observed at all (it would fall in the
old year). One-off closures (national days of mourning) are listed in ``ONE_OFF_CLOSURES``.

For 2025-2027 the exchanges' published calendars (``published.py``, a table) decide; the
rules cover the other years and are tested to give that table. These are the current rules; years before 2022 (no Juneteenth then) or exchange decisions
announced later are not modelled. The ib-futures project tests that they agree with its own
exchange calendars on the weeks its tests use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, time, timedelta

_MON, _THU, _FRI, _SAT, _SUN = 0, 3, 4, 5, 6

#: Exchange-wide closures that no rule predicts.
ONE_OFF_CLOSURES: dict[date, str] = {
    date(2025, 1, 9): "National Day of Mourning (President Carter)",
}

NYSE_EARLY_CLOSE = time(13, 0)
NYSE_EARLY_CLOSE_EXTENDED = time(17, 0)
CME_HOLIDAY_CLOSE = time(13, 0)  # 12:00 CT
CME_HALF_DAY_CLOSE = time(13, 15)  # 12:15 CT: the day after Thanksgiving, July 3, December 24
CME_GOOD_FRIDAY_CLOSE = time(9, 15)  # 08:15 CT


@dataclass(frozen=True)
class DayRule:
    """What a calendar says about one trade date.

    ``closed``: no session at all. ``early``: the session ends early, at ``close`` (ET) when
    given, else at the schedule's own early close (NYSE regular and extended hours differ).
    """

    closed: bool = False
    early: bool = False
    close: time | None = None
    name: str = ""


REGULAR = DayRule()


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the Meeus/Jones/Butcher computus)."""
    golden = year % 19
    century, rest = divmod(year, 100)
    leap_c, leap_c_rest = divmod(century, 4)
    moon_corr = (century - (century + 8) // 25 + 1) // 3
    epact = (19 * golden + century - leap_c - moon_corr + 15) % 30
    leap_y, leap_y_rest = divmod(rest, 4)
    to_sunday = (32 + 2 * leap_c_rest + 2 * leap_y - epact - leap_y_rest) % 7
    late = (golden + 11 * epact + 22 * to_sunday) // 451
    month, day = divmod(epact + to_sunday - 7 * late + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of the month; ``n = -1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def observed(day: date) -> date:
    """Saturday holidays are observed on Friday, Sunday holidays on Monday."""
    if day.weekday() == _SAT:
        return day - timedelta(days=1)
    if day.weekday() == _SUN:
        return day + timedelta(days=1)
    return day


@functools.lru_cache(maxsize=64)
def us_holidays(year: int) -> dict[date, str]:
    """The exchange holidays of ``year`` on their observed dates."""
    days = {
        nth_weekday(year, 1, _MON, 3): "Martin Luther King Jr. Day",
        nth_weekday(year, 2, _MON, 3): "Washington's Birthday",
        easter_sunday(year) - timedelta(days=2): "Good Friday",
        nth_weekday(year, 5, _MON, -1): "Memorial Day",
        observed(date(year, 7, 4)): "Independence Day",
        nth_weekday(year, 9, _MON, 1): "Labor Day",
        nth_weekday(year, 11, _THU, 4): "Thanksgiving",
        observed(date(year, 12, 25)): "Christmas",
    }
    if year >= 2022:
        days[observed(date(year, 6, 19))] = "Juneteenth"
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SAT:
        days[observed(new_year)] = "New Year's Day"
    return days


def _short_days(year: int) -> dict[date, str]:
    """The half days around holidays (both exchanges close early on them)."""
    days = {nth_weekday(year, 11, _THU, 4) + timedelta(days=1): "day after Thanksgiving"}
    eves = {date(year, 7, 3): "Independence Day eve", date(year, 12, 24): "Christmas Eve"}
    for day, name in eves.items():
        if _MON <= day.weekday() <= _THU:
            days[day] = name
    return days


def nyse_day(day: date) -> DayRule:
    """What NYSE publishes for ``day``: the published table for 2025-2027, else the rules."""
    from .published import NYSE_PUBLISHED, PUBLISHED_YEARS

    if day.year in PUBLISHED_YEARS:
        return NYSE_PUBLISHED.get(day, REGULAR)
    return nyse_rule(day)


def nyse_rule(day: date) -> DayRule:
    """The NYSE rule for ``day`` (see the module docstring)."""
    if day in ONE_OFF_CLOSURES:
        return DayRule(closed=True, name=ONE_OFF_CLOSURES[day])
    if name := us_holidays(day.year).get(day):
        return DayRule(closed=True, name=name)
    if name := _short_days(day.year).get(day):
        return DayRule(early=True, name=name)
    return REGULAR


def cme_equity_day(day: date) -> DayRule:
    """What CME publishes for trade date ``day``: the table for 2025-2027, else the rules."""
    from .published import CME_EQUITY_PUBLISHED, PUBLISHED_YEARS

    if day.year in PUBLISHED_YEARS:
        return CME_EQUITY_PUBLISHED.get(day, REGULAR)
    return cme_equity_rule(day)


def cme_equity_rule(day: date) -> DayRule:
    """The CME Globex equity-index rule for trade date ``day`` (see the module docstring)."""
    if day in ONE_OFF_CLOSURES:
        return DayRule(closed=True, name=ONE_OFF_CLOSURES[day])
    if name := _short_days(day.year).get(day):
        return DayRule(early=True, close=CME_HALF_DAY_CLOSE, name=name)
    name = us_holidays(day.year).get(day)
    if name is None:
        return REGULAR
    if name in ("New Year's Day", "Christmas"):
        return DayRule(closed=True, name=name)
    if name == "Good Friday":
        return DayRule(early=True, close=CME_GOOD_FRIDAY_CLOSE, name=name)
    return DayRule(early=True, close=CME_HOLIDAY_CLOSE, name=name)
