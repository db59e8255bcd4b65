"""Backfill and gap repair, the pure part: which slots are missing, and the fewest IB requests
that fill them.

Given the expected slots of a range (``core.session.expected_slots``) minus the slots the lake
already holds and the slots recorded as unfillable, :func:`plan_requests` groups what is
missing into historical requests:

* per instrument and per contract: a futures slot is asked of the contract the roll rule
  names for its trade date (expired months too: the IB side asks with ``includeExpired``);
* per bar field: ``MIDPOINT`` (the price) and ``TRADES`` (the last trade), as the late-slot
  path (``ib.slot_history``) does;
* within one duration window (``backfill.request_window``, default ``1 W``: IB's step guide
  allows 5-minute bars up to one week, and a smaller window is the conservative choice a user
  can make). A group starts at its first missing slot and takes every later missing slot of
  the same contract that fits in the window, so the number of requests is the minimum the
  gaps need for that window (a greedy cover of points by intervals is optimal).

A request for slots ``s1 <= ... <= sn`` ends at ``sn + 5 min`` and reaches back to
``s1 - 5 min``: the bar ending at each slot (its close), or the bar starting there (a
session's first slot, its open), both lie inside.

:func:`validate_range` refuses bad input (a range in the future, an end before the start, an
unknown symbol, a range older than IB keeps) before anything is requested, naming the
parameter and the value. :func:`pacing_seconds` is the time IB's pacing needs for a plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.core.slot import SLOT

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.pacing import PacingLimits

#: the bar fields asked for each group, in order of preference for ``price``
BAR_FIELDS: tuple[str, ...] = ("MIDPOINT", "TRADES")
#: the duration windows a user may configure, and their length
REQUEST_WINDOWS: dict[str, timedelta] = {
    "1 D": timedelta(days=1),
    "2 D": timedelta(days=2),
    "3 D": timedelta(days=3),
    "4 D": timedelta(days=4),
    "5 D": timedelta(days=5),
    "1 W": timedelta(weeks=1),
}
DEFAULT_REQUEST_WINDOW = "1 W"


class BackfillInputError(ValueError):
    """A backfill parameter is refused; the message names the parameter and its value."""


@dataclass(frozen=True)
class RequestGroup:
    """Missing slots of one instrument and one contract that one request per bar field fills.

    ``contract`` is the futures month's local symbol (``ESZ6``) or the ETF's symbol.
    """

    symbol: str
    asset_class: str
    contract: str
    slots: tuple[datetime, ...]
    window: str = DEFAULT_REQUEST_WINDOW
    fields: tuple[str, ...] = BAR_FIELDS

    @property
    def end(self) -> datetime:
        """The requests' end: five minutes after the last slot (the bar starting there ends)."""
        return self.slots[-1] + SLOT

    @property
    def duration(self) -> str:
        """IB's ``durationStr``: seconds up to a day, else the configured window."""
        span = self.end - (self.slots[0] - SLOT)
        if span <= timedelta(days=1):
            return f"{int(span.total_seconds())} S"
        return self.window

    @property
    def requests(self) -> int:
        return len(self.fields)

    @property
    def trade_date(self) -> date:
        """A day inside the group (its first slot's ET date): resolves the contract."""
        from ib_futures.core.session import ET

        return self.slots[0].astimezone(ET).date()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (XCom, the task log): slots as ISO strings."""
        return {
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "contract": self.contract,
            "slots": [s.isoformat() for s in self.slots],
            "window": self.window,
            "fields": list(self.fields),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestGroup:
        return cls(
            symbol=str(data["symbol"]),
            asset_class=str(data["asset_class"]),
            contract=str(data["contract"]),
            slots=tuple(_parse_ts(s, "slots") for s in data["slots"]),
            window=str(data.get("window", DEFAULT_REQUEST_WINDOW)),
            fields=tuple(data.get("fields", BAR_FIELDS)),
        )


@dataclass
class Plan:
    """What a backfill will request: the groups, the slots they fill, and the pacing time."""

    groups: list[RequestGroup] = field(default_factory=list)
    expected: int = 0
    stored: int = 0
    unfillable: int = 0

    @property
    def missing(self) -> int:
        return sum(len(g.slots) for g in self.groups)

    @property
    def requests(self) -> int:
        return sum(g.requests for g in self.groups)

    def summary(self, limits: PacingLimits | None = None) -> dict[str, Any]:
        return {
            "expected_slots": self.expected,
            "stored_slots": self.stored,
            "known_unfillable": self.unfillable,
            "missing_slots": self.missing,
            "request_groups": len(self.groups),
            "historical_requests": self.requests,
            "pacing_seconds": round(pacing_seconds(self.requests, limits), 1),
        }


def _parse_ts(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            text = str(value).strip()
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise BackfillInputError(
                f"{name}={value!r} is not an ISO-8601 date or date-time"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_moment(value: Any, name: str) -> datetime:
    """``value`` (ISO-8601 string, date or datetime; naive means UTC) as aware UTC."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return _parse_ts(value, name)


def validate_range(
    start: Any,
    end: Any,
    symbols: Iterable[str] | str | None,
    cfg: FuturesConfig,
    now: datetime,
) -> tuple[datetime, datetime, list[str]]:
    """Check a backfill's parameters; ``(start, end, symbols)`` or :class:`BackfillInputError`.

    ``now`` is the gateway's present (or the worker's): the range must end by it, and start
    no earlier than ``backfill.max_age_days`` before it (IB keeps expired futures about two
    years; older slots cannot be asked for).
    """
    from ib_futures.core.instruments import select_instruments

    lo, hi = parse_moment(start, "start"), parse_moment(end, "end")
    if hi <= lo:
        raise BackfillInputError(f"end={hi.isoformat()} is not after start={lo.isoformat()}")
    if hi > now + SLOT:
        raise BackfillInputError(
            f"end={hi.isoformat()} is in the future (now {now.isoformat()}): history exists "
            "only for past slots"
        )
    oldest = now - timedelta(days=cfg.backfill.max_age_days)
    if lo < oldest:
        raise BackfillInputError(
            f"start={lo.isoformat()} is beyond IB's retention: the oldest slot asked for may be "
            f"{oldest.date().isoformat()} (backfill.max_age_days={cfg.backfill.max_age_days})"
        )
    try:
        chosen = [i.symbol for i in select_instruments(cfg, symbols)]
    except ValueError as exc:
        raise BackfillInputError(f"instruments={symbols!r}: {exc}") from None
    return lo, min(hi, now), chosen


def contract_for(symbol: str, asset_class: str, slot: datetime, cfg: FuturesConfig) -> str:
    """The contract asked for ``slot``: the roll rule's month for its trade date (futures)."""
    if asset_class != "FUT":
        return symbol
    from ib_futures.core.contracts import front_contract_month
    from ib_futures.core.session import trade_date

    return front_contract_month(symbol, trade_date(slot, "FUT", cfg), cfg.roll_rule()).local_symbol


def group_slots(
    symbol: str,
    asset_class: str,
    slots: Sequence[datetime],
    cfg: FuturesConfig,
    window: str = DEFAULT_REQUEST_WINDOW,
) -> list[RequestGroup]:
    """Greedy cover of one instrument's missing ``slots`` by request windows, per contract."""
    if window not in REQUEST_WINDOWS:
        raise BackfillInputError(
            f"backfill.request_window={window!r}; expected one of {', '.join(REQUEST_WINDOWS)}"
        )
    reach = REQUEST_WINDOWS[window] - 2 * SLOT  # the slots' span the window still covers
    by_contract: dict[str, list[datetime]] = {}
    for s in sorted(set(slots)):
        by_contract.setdefault(contract_for(symbol, asset_class, s, cfg), []).append(s)
    groups: list[RequestGroup] = []
    for contract, members in by_contract.items():
        current: list[datetime] = []
        for s in members:
            if current and s - current[0] > reach:
                groups.append(RequestGroup(symbol, asset_class, contract, tuple(current), window))
                current = []
            current.append(s)
        if current:
            groups.append(RequestGroup(symbol, asset_class, contract, tuple(current), window))
    return groups


def plan_requests(
    expected: Mapping[str, Sequence[datetime]],
    stored: Mapping[str, Iterable[datetime]],
    unfillable: Mapping[str, Iterable[datetime]],
    asset_classes: Mapping[str, str],
    cfg: FuturesConfig,
) -> Plan:
    """The groups that fill ``expected`` minus ``stored`` minus ``unfillable``, per symbol."""
    plan = Plan()
    for symbol, slots in expected.items():
        have = set(stored.get(symbol, ()))
        known = set(unfillable.get(symbol, ())) - have
        missing = [s for s in slots if s not in have and s not in known]
        plan.expected += len(slots)
        plan.stored += len(have.intersection(slots))
        plan.unfillable += len(known.intersection(slots))
        plan.groups += group_slots(
            symbol, asset_classes[symbol], missing, cfg, cfg.backfill.request_window
        )
    plan.groups.sort(key=lambda g: (g.slots[0], g.symbol))
    return plan


def pacing_seconds(requests: int, limits: PacingLimits | None = None) -> float:
    """The least time IB's pacing allows ``requests`` historical requests to take.

    The first ``max_requests`` go ``min_gap_s`` apart; every further ``max_requests`` wait
    for the ten-minute window (plus its margin) to pass.
    """
    from ib_futures.core.pacing import PacingLimits

    limits = limits or PacingLimits()
    if requests <= 0:
        return 0.0
    windows = math.ceil(requests / limits.max_requests) - 1
    in_last = requests - windows * limits.max_requests
    return windows * (limits.window_s + limits.margin_s) + (in_last - 1) * limits.min_gap_s


def window_has_room(booked: int, requests: int, limits: PacingLimits | None = None) -> bool:
    """Can ``requests`` more go out without waiting for IB's ten-minute window to pass?

    ``booked`` is what the shared ledger remembers (the window's bookings and any booked for
    later). When it says no, a backfill task would sit on its ``ib_gateway`` pool slot for up to
    the whole window; it gives the slot back instead and looks again later (the fetch task
    defers), so that live collection never waits behind a backfill.
    """
    from ib_futures.core.pacing import PacingLimits

    limits = limits or PacingLimits()
    return booked + requests <= limits.max_requests
