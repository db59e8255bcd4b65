"""The exchanges' published holiday calendars for 2025-2027, as a table.

Copied from the exchanges' own pages (NYSE "Holidays & Trading Hours"; CME Group "Holiday
Calendar", equity-index Globex), not computed: :mod:`.holidays` answers from this table for
the years it covers and from its rules outside them, and the simulator's tests check that
the rules give this very table. So a client whose calendar is wrong (a library's rule, a
missed half day) is caught by an audit against what the simulator served.

Each row: date, NYSE, CME equity Globex. ``closed``; ``early`` (NYSE 13:00 ET, 17:00 ET for
extended hours); ``HH:MM`` (the Globex session ends then, ET); ``-`` (a regular day).
"""

from __future__ import annotations

from datetime import date, time

from .holidays import DayRule

PUBLISHED_YEARS = range(2025, 2028)

_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("2025-01-01", "closed", "closed", "New Year's Day"),
    ("2025-01-09", "closed", "closed", "National Day of Mourning (President Carter)"),
    ("2025-01-20", "closed", "13:00", "Martin Luther King Jr. Day"),
    ("2025-02-17", "closed", "13:00", "Washington's Birthday"),
    ("2025-04-18", "closed", "09:15", "Good Friday"),
    ("2025-05-26", "closed", "13:00", "Memorial Day"),
    ("2025-06-19", "closed", "13:00", "Juneteenth"),
    ("2025-07-03", "early", "13:15", "Independence Day eve"),
    ("2025-07-04", "closed", "13:00", "Independence Day"),
    ("2025-09-01", "closed", "13:00", "Labor Day"),
    ("2025-11-27", "closed", "13:00", "Thanksgiving"),
    ("2025-11-28", "early", "13:15", "day after Thanksgiving"),
    ("2025-12-24", "early", "13:15", "Christmas Eve"),
    ("2025-12-25", "closed", "closed", "Christmas"),
    ("2026-01-01", "closed", "closed", "New Year's Day"),
    ("2026-01-19", "closed", "13:00", "Martin Luther King Jr. Day"),
    ("2026-02-16", "closed", "13:00", "Washington's Birthday"),
    ("2026-04-03", "closed", "09:15", "Good Friday"),
    ("2026-05-25", "closed", "13:00", "Memorial Day"),
    ("2026-06-19", "closed", "13:00", "Juneteenth"),
    ("2026-07-03", "closed", "13:00", "Independence Day"),
    ("2026-09-07", "closed", "13:00", "Labor Day"),
    ("2026-11-26", "closed", "13:00", "Thanksgiving"),
    ("2026-11-27", "early", "13:15", "day after Thanksgiving"),
    ("2026-12-24", "early", "13:15", "Christmas Eve"),
    ("2026-12-25", "closed", "closed", "Christmas"),
    ("2027-01-01", "closed", "closed", "New Year's Day"),
    ("2027-01-18", "closed", "13:00", "Martin Luther King Jr. Day"),
    ("2027-02-15", "closed", "13:00", "Washington's Birthday"),
    ("2027-03-26", "closed", "09:15", "Good Friday"),
    ("2027-05-31", "closed", "13:00", "Memorial Day"),
    ("2027-06-18", "closed", "13:00", "Juneteenth"),
    ("2027-07-05", "closed", "13:00", "Independence Day"),
    ("2027-09-06", "closed", "13:00", "Labor Day"),
    ("2027-11-25", "closed", "13:00", "Thanksgiving"),
    ("2027-11-26", "early", "13:15", "day after Thanksgiving"),
    ("2027-12-24", "closed", "closed", "Christmas"),
)


def _rule(code: str, name: str) -> DayRule:
    if code == "closed":
        return DayRule(closed=True, name=name)
    if code == "early":
        return DayRule(early=True, name=name)
    hours, minutes = code.split(":")
    return DayRule(early=True, close=time(int(hours), int(minutes)), name=name)


NYSE_PUBLISHED: dict[date, DayRule] = {
    date.fromisoformat(day): _rule(nyse, name) for day, nyse, _cme, name in _ROWS
}
CME_EQUITY_PUBLISHED: dict[date, DayRule] = {
    date.fromisoformat(day): _rule(cme, name) for day, _nyse, cme, name in _ROWS
}
