"""reqHistoricalData: IB's duration and bar-size rules, session-shaped bars, msg 17 layout.

Choices (each mirrors IB where IB's behaviour is known, see docs/ib-protocol.md section 3):

* Bar sizes: IB's full list is *legal*; the simulator *serves* five-minute multiples up to
  8 hours and ``1 day``. A legal but unserved size (``1 min``) answers 162 saying so; an
  illegal string answers 321 ("Error validating request"), which ib_async logs as a warning,
  so such a request ends only at the client's timeout -- as with a real gateway.
* Durations: ``N S`` seconds, ``N D`` the last N trading sessions (the one open at the end time
  counts), ``N W`` 7N calendar days, ``N M`` 30N days, ``N Y`` 365N days. Step-size rule from
  IB's "historical data limitations" table: a duration up to 1 D allows bars of 1 min and up,
  up to 2 D 2 mins, 1 W 3 mins, 1 M 30 mins, beyond that 1 day; breaking it answers 162
  "Historical Market Data Service error message:Time length exceed max."
* End time: empty means now; ``YYYYMMDD HH:MM:SS UTC`` (what ib_async sends),
  ``YYYYMMDD-HH:MM:SS`` (UTC), ``YYYYMMDD HH:MM:SS <zone>``, a bare ``YYYYMMDD HH:MM:SS``
  (the bar time zone, IB's "TWS login zone") and ``YYYYMMDD`` (end of that day) are accepted;
  anything else answers 10314. A CONTFUT with an end time answers 10339.
* Bars exist only while the instrument's session is open: CME Globex (18:00-17:00 ET, no
  weekend, no daily halt) for futures, 04:00-20:00 ET for ETFs; ``useRTH=1`` narrows both to
  09:30-16:00 ET; holidays and early closes as in ``holidays.py`` (no bars on Christmas Day,
  none after 13:00 ET on Thanksgiving). Intraday bars align to the bar size from midnight
  US/Eastern, whatever the window's start (the bar holding the start is served whole), and are
  clipped to the session (a 1-hour RTH series starts with a 09:30 bar); the bar covering the end
  time is the still-forming partial bar. Daily bars are sessions labelled by trade date.
* whatToShow TRADES, MIDPOINT, BID, ASK and BID_ASK are served (``bars.py`` builds them); the
  other legal values answer 162.
* An empty window, or an expired month beyond its retention (``contracts.py``), answers 162
  "HMDS query returned no data: ESZ6@CME Trades".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .bars import Bar, aggregate, slot_bars
from .contracts import SimContract
from .prices import PriceModel
from .schedules import CME_GLOBEX, EASTERN, US_EXTENDED, US_RTH, Schedule, Session
from .walk import SLOT_SECONDS

#: Every bar size string IB accepts (TWS API docs, "Valid Bar Sizes").
LEGAL_BAR_SIZES: dict[str, int] = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600,
    "15 mins": 900, "20 mins": 1200, "30 mins": 1800, "1 hour": 3600, "2 hours": 7200,
    "3 hours": 10800, "4 hours": 14400, "8 hours": 28800, "1 day": 86400,
    "1 week": 604800, "1 month": 2592000,
}
SERVED_BAR_SIZES = {name for name, secs in LEGAL_BAR_SIZES.items() if secs % SLOT_SECONDS == 0 and secs <= 86400}

WHAT_TO_SHOW_SERVED = {"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK"}
WHAT_TO_SHOW_LEGAL = WHAT_TO_SHOW_SERVED | {
    "ADJUSTED_LAST", "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY",
    "FEE_RATE", "SCHEDULE", "AGGTRADES",
}

#: IB's step-size guide: (maximum duration in seconds, smallest bar in seconds).
STEP_RULES: list[tuple[int, int]] = [
    (60, 1), (120, 1), (1800, 1), (3600, 5), (14400, 10), (28800, 30),
    (86400, 60), (2 * 86400, 120), (7 * 86400, 180), (30 * 86400, 1800),
]

_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")
_END_UTC_DASH = re.compile(r"^(\d{8})-(\d{2}:\d{2}:\d{2})$")
_END_SPACED = re.compile(r"^(\d{8})\s+(\d{2}:\d{2}:\d{2})(?:\s+(\S+))?$")


class HistoricalError(Exception):
    """A request the gateway answers with an IB error instead of bars."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class HistoricalRequest:
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    is_contfut: bool = False


@dataclass(frozen=True)
class Duration:
    count: int
    unit: str

    def approx_seconds(self) -> int:
        per_unit = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
        return self.count * per_unit[self.unit]


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise HistoricalError(
            321, f"Error validating request.-'bP' : cause - Historical data query duration {text!r} is invalid."
        )
    return Duration(int(match.group(1)), match.group(2))


def parse_bar_size(text: str) -> int:
    normalised = " ".join(text.split())
    if normalised not in LEGAL_BAR_SIZES:
        raise HistoricalError(
            321,
            "Error validating request.-'bS' : cause - Historical data bar size setting is invalid. "
            "Legal ones are: " + ", ".join(LEGAL_BAR_SIZES),
        )
    if normalised not in SERVED_BAR_SIZES:
        raise HistoricalError(
            162,
            f"Historical Market Data Service error message:bar size {normalised!r} is not served "
            "by the simulator (five-minute multiples up to 8 hours and 1 day are)",
        )
    return LEGAL_BAR_SIZES[normalised]


def check_step(duration: Duration, bar_seconds: int) -> None:
    """Reject combinations outside IB's step-size table with 162 "Time length exceed max."."""
    span = duration.approx_seconds()
    smallest = 86400
    for limit, min_bar in STEP_RULES:
        if span <= limit:
            smallest = min_bar
            break
    if bar_seconds < smallest or (duration.unit == "S" and span > 86400):
        raise HistoricalError(162, "Historical Market Data Service error message:Time length exceed max.")


def parse_end(text: str, now: datetime, bar_zone: ZoneInfo) -> datetime:
    """Parse IB's endDateTime forms (see the module docstring); empty means ``now``."""
    text = text.strip()
    if not text:
        return now
    invalid = HistoricalError(10314, "End Date/Time: The date, time, or time-zone entered is invalid.")
    try:
        if match := _END_UTC_DASH.match(text):
            naive = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H:%M:%S")
            return naive.replace(tzinfo=UTC)
        if match := _END_SPACED.match(text):
            naive = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H:%M:%S")
            zone_name = match.group(3)
            zone = bar_zone if not zone_name else (UTC if zone_name.upper() in ("UTC", "GMT") else ZoneInfo(zone_name))
            return naive.replace(tzinfo=zone).astimezone(UTC)
        if re.fullmatch(r"\d{8}", text):
            day = datetime.strptime(text, "%Y%m%d")
            return day.replace(hour=23, minute=59, second=59, tzinfo=bar_zone).astimezone(UTC)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise invalid from exc
    raise invalid


def bar_schedule(contract: SimContract, use_rth: bool) -> Schedule:
    if use_rth:
        return US_RTH
    return CME_GLOBEX if contract.is_future else US_EXTENDED


def window_start(schedule: Schedule, end: datetime, duration: Duration) -> datetime:
    if duration.unit == "D":
        return schedule.last_sessions(end, duration.count)[0].start
    return end - timedelta(seconds=duration.approx_seconds())


def align_start(moment: datetime, bar_seconds: int) -> datetime:
    """The start of the bar-size bucket holding ``moment``, counted from midnight US/Eastern.

    IB's bars sit on the bar-size grid whatever the request's end time: a window starting at
    14:17:33 still gets the 14:15 five-minute bar, whole, not a bar stamped 14:17:33.
    """
    local = moment.astimezone(EASTERN)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (local - midnight).total_seconds()
    return (midnight + timedelta(seconds=offset - offset % bar_seconds)).astimezone(UTC)


def build_bars(
    model: PriceModel,
    contract: SimContract,
    end: datetime,
    duration: Duration,
    bar_seconds: int,
    use_rth: bool,
    what: str,
) -> tuple[datetime, list[tuple[Bar, bool]]]:
    """Bars in the window ending at ``end``: ``(window_start, [(bar, is_daily), ...])``."""
    schedule = bar_schedule(contract, use_rth)
    start = window_start(schedule, end, duration)
    sessions: list[Session] = list(schedule.sessions_between(start, end))
    out: list[tuple[Bar, bool]] = []
    first = align_start(start, min(bar_seconds, 86400))
    for session in sessions:
        # Daily bars are whole sessions; intraday bars cover the window from the grid point
        # before its start, clipped to the session.
        lo = session.start if bar_seconds >= 86400 else max(first, session.start)
        hi = min(end, session.end)
        if lo >= hi:
            continue
        slots = slot_bars(model, contract, lo, hi, what)
        if not slots:
            continue
        if bar_seconds >= 86400:
            day = datetime.combine(session.trade_date, datetime.min.time(), UTC)
            out.append((aggregate(slots, day, what), True))
            continue
        groups: dict[tuple[date, int], list[Bar]] = {}
        for bar in slots:
            local = bar.start.astimezone(EASTERN)
            seconds = local.hour * 3600 + local.minute * 60
            groups.setdefault((local.date(), seconds // bar_seconds), []).append(bar)
        for key in sorted(groups):
            members = groups[key]
            out.append((aggregate(members, members[0].start, what), False))
    return start, out


def format_bar_date(bar: Bar, daily: bool, format_date: int, zone: ZoneInfo) -> str:
    """formatDate 1: ``YYYYMMDD HH:MM:SS <zone>`` (ib_async's parseIBDatetime reads the zone);
    formatDate 2: epoch seconds; daily bars are always ``YYYYMMDD`` (the trade date)."""
    if daily:
        return f"{bar.start:%Y%m%d}"
    if format_date == 2:
        return str(int(bar.start.timestamp()))
    return f"{bar.start.astimezone(zone):%Y%m%d %H:%M:%S} {zone.key}"


def format_stamp(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y%m%d %H:%M:%S} {zone.key}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def historical_message(
    req_id: int, start: datetime, end: datetime, bars: list[tuple[Bar, bool]], format_date: int,
    zone: ZoneInfo,
) -> list[object]:
    """historicalData (17) at server version 178: no version field, one message per request."""
    fields: list[object] = [17, req_id, format_stamp(start, zone), format_stamp(end, zone), len(bars)]
    for bar, daily in bars:
        fields += [
            format_bar_date(bar, daily, format_date, zone),
            repr(bar.open), repr(bar.high), repr(bar.low), repr(bar.close),
            _number(bar.volume), _number(bar.wap), bar.count,
        ]
    return fields


@dataclass(frozen=True)
class HistoricalPlan:
    """A validated request: what to build, ready for the pacing check."""

    what: str
    bar_seconds: int
    duration: Duration
    end: datetime

    @property
    def pacing_weight(self) -> int:
        """How many requests this one counts as: IB counts BID_ASK twice (it is two series)."""
        return 2 if self.what == "BID_ASK" else 1


def no_data(contract: SimContract, what: str) -> HistoricalError:
    """IB's answer for an empty window or a contract beyond retention, naming the contract."""
    return HistoricalError(
        162,
        "Historical Market Data Service error message:HMDS query returned no data: "
        f"{contract.description} {what.title()}",
    )


def plan_historical(
    contract: SimContract, request: HistoricalRequest, now: datetime, zone: ZoneInfo
) -> HistoricalPlan:
    """Validate ``request`` in IB's order; raises :class:`HistoricalError`."""
    what = request.what_to_show.upper()
    if what not in WHAT_TO_SHOW_LEGAL:
        raise HistoricalError(
            321, f"Error validating request.-'bW' : cause - Invalid whatToShow {request.what_to_show!r}"
        )
    bar_seconds = parse_bar_size(request.bar_size)
    duration = parse_duration(request.duration)
    if request.is_contfut and request.end.strip():
        raise HistoricalError(
            10339, "Setting end date/time for continuous future security type is not allowed."
        )
    check_step(duration, bar_seconds)
    if what not in WHAT_TO_SHOW_SERVED:
        raise HistoricalError(
            162, f"Historical Market Data Service error message:No data of type {what} is served by the simulator"
        )
    end = min(parse_end(request.end, now, zone), now)
    if contract.last_trade is not None:
        end = min(end, contract.last_trade)
    return HistoricalPlan(what, bar_seconds, duration, end)


def render_historical(
    model: PriceModel, contract: SimContract, plan: HistoricalPlan, request: HistoricalRequest,
    zone: ZoneInfo, req_id: int, *, retained: bool = True,
    served: Callable[[list[Bar]], None] | None = None,
) -> list[object]:
    """Build the bars of a validated request as one msg 17.

    162 "HMDS query returned no data" if the window is empty or the contract is no longer
    ``retained`` (an expired month beyond IB's retention: its bars are gone, not an error of
    the request). ``served`` is called with the bars answered (the ground-truth log).
    """
    if not retained:
        raise no_data(contract, plan.what)
    start, bars = build_bars(
        model, contract, plan.end, plan.duration, plan.bar_seconds, request.use_rth, plan.what
    )
    if not bars:
        raise no_data(contract, plan.what)
    if served is not None:
        served([bar for bar, _daily in bars])
    return historical_message(req_id, start, plan.end, bars, request.format_date, zone)
