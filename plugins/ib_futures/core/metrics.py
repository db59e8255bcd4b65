"""Change metrics of a snapshot, from the instrument's own price history.

Pure functions of the slot, the current price and a price history ``[(slot_utc, price), ...]``
(the stored snapshots of the lake, or IB's historical bars stamped with their *end* instant,
which is what a snapshot at that slot would have seen). Every metric is a fractional change
``P_now / P_ref - 1`` (``0.0123`` = +1.23 %), and ``None`` when the reference price is missing
(never 0); all four are ``None`` when the snapshot itself has no price. Let ``tol`` = 15
minutes (three slots) and ``now`` = the slot.

* ``change_1h``: ``P_ref`` = the price at the latest stored slot ``s`` with
  ``now - 1h - tol < s <= now - 1h``.
* ``change_4h``: the same with 4 h.
* ``change_daily``: ``P_ref`` = the previous session's last price.
  Futures: ``D`` = the close of the most recent CME Globex session that closed at or before
  ``now`` (17:00 ET, or the early close; the halt, weekends and holidays are thereby skipped).
  ETFs: ``D`` = the regular close (16:00 ET, or the early close) of the NYSE trading day before
  the current one (the current one being the latest whose 04:00 ET pre-market has begun).
  ``P_ref`` = the price at the last slot ``s`` with ``D - tol < s <= D``.
* ``change_overnight``: ``C`` = the most recent NYSE regular close at or before ``now``;
  ``O`` = the first regular open (09:30 ET) after ``C``. Overnight =
  ``(P(O) if now >= O else P_now) / P(C) - 1``, where ``P(C)`` is the price at the last slot in
  ``(C - tol, C]`` and ``P(O)`` the price at the first slot in ``[O, O + tol)`` (the current
  price when the current slot is that first slot). For both asset classes the NYSE session
  defines overnight: for a future it is the move of the future while the cash market was shut.

History points after ``now`` are ignored, so a re-run of an old slot computes what the live
run computed. :func:`history_window` says how far back the references can lie (enough for a
Monday after a long weekend), :func:`history_ranges` the few short ranges inside it that the
metrics actually read (what the collector reads from the lake). :func:`needs_history` is True
only when the history lacks a previous-close reference, so a collector with a populated lake
makes no historical request.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ib_futures.core import session as market_session
from ib_futures.core.snapshot import AssetClass

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

__all__ = [
    "TOLERANCE",
    "ChangeMetrics",
    "References",
    "compute_changes",
    "history_ranges",
    "history_window",
    "needs_history",
    "references",
]

TOLERANCE = timedelta(minutes=15)
"""How far a reference slot may lie from its target instant (three five-minute slots)."""

PricePoint = tuple[datetime, float | None]


@dataclass(frozen=True)
class ChangeMetrics:
    """The four change metrics of one snapshot (fractions; ``None`` = reference missing)."""

    change_1h: float | None = None
    change_4h: float | None = None
    change_overnight: float | None = None
    change_daily: float | None = None

    def as_record(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True)
class References:
    """The instants the reference prices are taken at, for one slot."""

    hour_1: datetime
    hour_4: datetime
    daily_close: datetime | None
    overnight_close: datetime | None
    overnight_open: datetime | None


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"slot {t.isoformat()} is naive; pass an aware datetime (UTC)")
    return t.astimezone(UTC)


def references(
    slot: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> References:
    """The reference instants of ``slot`` (see the module docstring)."""
    now = _utc(slot)
    daily: datetime | None = None
    if asset_class == "FUT":
        last = market_session.last_closed_session(now, "FUT", cfg)
        daily = last.close if last is not None else None
    else:
        current = _current_etf_day(now, cfg)
        prev = market_session.previous_session(current, cfg) if current is not None else None
        daily = prev.close if prev is not None else None
    closed = market_session.last_closed_session(now, "ETF", cfg)
    c = closed.close if closed is not None else None
    following = market_session.next_session(c, "ETF", cfg) if c is not None else None
    o = following.open if following is not None else None
    return References(
        hour_1=now - timedelta(hours=1),
        hour_4=now - timedelta(hours=4),
        daily_close=daily,
        overnight_close=c,
        overnight_open=o,
    )


def _current_etf_day(
    now: datetime, cfg: FuturesConfig | None
) -> market_session.MarketSession | None:
    """The latest NYSE session whose pre-market (04:00 ET) has begun by ``now``."""
    around = market_session.sessions_between(
        now - timedelta(days=10), now + timedelta(days=1), "ETF", cfg
    )
    begun = [s for s in around if s.pre_open <= now]
    return begun[-1] if begun else None


class _History:
    """Sorted usable points (positive prices, not after ``now``)."""

    def __init__(self, points: Iterable[PricePoint], now: datetime) -> None:
        clean: dict[datetime, float] = {}
        for ts, price in points:
            t = _utc(ts)
            if t <= now and price is not None and price == price and price > 0:
                clean[t] = float(price)
        self.slots = sorted(clean)
        self.prices = [clean[t] for t in self.slots]

    def last_in(self, lo: datetime, hi: datetime) -> float | None:
        """Price at the latest slot ``s`` with ``lo < s <= hi``."""
        i = bisect_right(self.slots, hi) - 1
        if i >= 0 and self.slots[i] > lo:
            return self.prices[i]
        return None

    def first_in(self, lo: datetime, hi: datetime) -> float | None:
        """Price at the earliest slot ``s`` with ``lo <= s < hi``."""
        i = bisect_left(self.slots, lo)
        if i < len(self.slots) and self.slots[i] < hi:
            return self.prices[i]
        return None

    def at_close(self, close: datetime | None) -> float | None:
        return None if close is None else self.last_in(close - TOLERANCE, close)


def _change(now: float | None, ref: float | None) -> float | None:
    if now is None or ref is None or now != now or now <= 0 or ref <= 0:
        return None
    return now / ref - 1.0


def compute_changes(
    slot: datetime,
    asset_class: AssetClass,
    price_now: float | None,
    history: Iterable[PricePoint],
    cfg: FuturesConfig | None = None,
) -> ChangeMetrics:
    """The four change metrics at ``slot`` for a snapshot priced ``price_now``."""
    now = _utc(slot)
    if price_now is None or not price_now > 0:  # also NaN
        return ChangeMetrics()
    refs = references(now, asset_class, cfg)
    h = _History(history, now)
    overnight: float | None = None
    p_close = h.at_close(refs.overnight_close)
    o = refs.overnight_open
    if o is not None and now >= o:
        p_open = h.first_in(o, min(o + TOLERANCE, now))
        if p_open is None and now < o + TOLERANCE:
            p_open = price_now  # the current slot is the first one at or after the open
        overnight = _change(p_open, p_close)
    else:
        overnight = _change(price_now, p_close)
    return ChangeMetrics(
        change_1h=_change(price_now, h.last_in(refs.hour_1 - TOLERANCE, refs.hour_1)),
        change_4h=_change(price_now, h.last_in(refs.hour_4 - TOLERANCE, refs.hour_4)),
        change_overnight=overnight,
        change_daily=_change(price_now, h.at_close(refs.daily_close)),
    )


def history_window(
    slot: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> tuple[datetime, datetime]:
    """``(since, until)``: every reference price of ``slot`` lies at a slot ``s`` with
    ``since <= s <= until`` (``until`` is the slot itself). Read this range from the lake."""
    now = _utc(slot)
    refs = references(now, asset_class, cfg)
    candidates = [refs.hour_4, refs.daily_close, refs.overnight_close]
    earliest = min(t for t in candidates if t is not None)
    return earliest - TOLERANCE, now


def needs_history(
    slot: datetime,
    asset_class: AssetClass,
    history: Iterable[PricePoint],
    cfg: FuturesConfig | None = None,
) -> bool:
    """True when ``history`` lacks a previous-close reference (the daily close or the
    overnight close): only then should the collector ask IB for bars."""
    now = _utc(slot)
    refs = references(now, asset_class, cfg)
    h = _History(history, now)
    for close in (refs.daily_close, refs.overnight_close):
        if close is not None and h.at_close(close) is None:
            return True
    return False


def history_ranges(
    slot: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> list[tuple[datetime, datetime]]:
    """Inclusive ``(lo, hi)`` ranges holding every history point :func:`compute_changes` and
    :func:`needs_history` look at for ``slot``: a tolerance before each reference instant (the
    overnight open: a tolerance after it), merged where they overlap. History restricted to
    these ranges gives the same metrics as the whole :func:`history_window`, at a fraction of
    the read: a few slots per reference instead of the hours between them."""
    now = _utc(slot)
    refs = references(now, asset_class, cfg)
    ranges = [
        (t - TOLERANCE, t)
        for t in (refs.hour_1, refs.hour_4, refs.daily_close, refs.overnight_close)
        if t is not None and t - TOLERANCE <= now
    ]
    if refs.overnight_open is not None and refs.overnight_open <= now:
        ranges.append((refs.overnight_open, min(refs.overnight_open + TOLERANCE, now)))
    return merge_ranges((lo, min(hi, now)) for lo, hi in ranges)


def merge_ranges(ranges: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted inclusive ranges with the overlapping or touching ones joined."""
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
