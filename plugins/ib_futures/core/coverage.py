"""Coverage: what the lake holds for each expected slot, as the futures page colours it. Pure.

Each instrument's five-minute slot is in exactly one state:

* ``live``: stored from a live snapshot (``price_source`` null or ``live``: rows written
  before the column existed are live, the only kind there was);
* ``history``: stored from an IB historical bar (``price_source`` names the bar field);
* ``unfillable``: expected, not stored, and recorded in ``unfillable_slots`` (IB could not
  give it: a known gap);
* ``missing``: expected by the session calendar (``core.session.expected_slots``), not stored,
  not known to be unfillable: a gap the repair should close;
* ``not_expected``: the market was closed (nothing to collect).

A *trading day* is the session's trade date: CME's Globex session that opens at 18:00 ET
belongs to the next day (so Sunday evening counts for Monday), ETFs trade within their ET day.
A day's cell takes the worst state any of its slots has (missing, unfillable, history, live),
and ``not_expected`` when the market had no slot that day. The lake layer
(``ib_futures.lake.coverage``) counts the states with pruned reads and uses these rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

STATES: tuple[str, ...] = ("live", "history", "unfillable", "missing", "not_expected")
#: a day's cell shows the first of these that has a slot that day
DAY_PRECEDENCE: tuple[str, ...] = ("missing", "unfillable", "history", "live")
LIVE_SOURCES = frozenset({None, "", "live"})

#: added to a slot's time in New York to get its trade date (Globex opens 18:00 ET, day before)
TRADE_DAY_SHIFT: Mapping[str, timedelta] = {"FUT": timedelta(hours=6), "ETF": timedelta(0)}

DEFAULT_RANGE_DAYS = 28
MAX_RANGE_DAYS = 3 * 366 + 7


def slot_state(expected: bool, stored: bool, price_source: str | None, unfillable: bool) -> str:
    """The state of one slot (see the module docstring)."""
    if stored:
        return "live" if price_source in LIVE_SOURCES else "history"
    if not expected:
        return "not_expected"
    return "unfillable" if unfillable else "missing"


def day_state(counts: Mapping[str, int]) -> str:
    """A day's cell from its slot counts by state."""
    for state in DAY_PRECEDENCE:
        if counts.get(state, 0) > 0:
            return state
    return "not_expected"


@dataclass(frozen=True)
class DayRange:
    """Trading days ``start`` to ``end``, both included.

    ``due_until``: slots at or after this instant are not due yet (their run may still be
    going), so they count as not expected rather than missing; None: every slot is due.
    """

    start: date
    end: date
    due_until: datetime | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_day(value: str | None, name: str) -> date | None:
    """``YYYY-MM-DD`` or None; :raises ValueError: naming ``name`` and the value."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


def day_range(
    start: str | None, end: str | None, today: date, max_days: int = MAX_RANGE_DAYS
) -> DayRange:
    """The selected range: default the last four weeks ending ``today``.

    :raises ValueError: a malformed date, ``end`` before ``start``, or more than ``max_days``;
        the message names the parameter.
    """
    last = parse_day(end, "end") or today
    first = parse_day(start, "start") or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if last < first:
        raise ValueError(f"end={last.isoformat()} is before start={first.isoformat()}")
    span = DayRange(first, last)
    if span.days > max_days:
        raise ValueError(
            f"start={first.isoformat()}..end={last.isoformat()} spans {span.days} days "
            f"(at most {max_days})"
        )
    return span
