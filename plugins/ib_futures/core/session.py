"""Collect or skip: the market session at a slot, as a pure function of the slot.

A **slot** is an instant: an aware UTC datetime on a five-minute boundary (``core.slot``). A
run's slot is its data interval end, or ``dag_run.run_after`` floored to the slot when the run
has no logical date (:func:`~ib_futures.core.slot.slot_for_run`); never the wall clock, so a
retry or a backfill decides exactly as the live run did.

An instrument is collected at slot ``s`` when its market is open at that instant,
``open <= s < close``:

* **futures** (ES, NQ, RTY): CME Globex, from the ``session.futures_calendar`` calendar
  (default ``CME_Equity``): Sunday 18:00 ET to Friday 17:00 ET with the daily 17:00-18:00 ET
  maintenance halt, CME holiday closures and early closes. The 17:00 ET slot is in the halt
  (skipped), 18:00 ET collects.
* **ETFs** (SPY, QQQ, IWM): NYSE trading days, regular hours 09:30-16:00 ET (13:00 on early
  close days), or 04:00-20:00 ET (17:00 on early close days) with
  ``collection.etf_hours: extended``.
* ``session.ib_reset_windows`` (daily, local time) skip everything; ``session.extra_closures``
  close the named markets for one-off periods the calendar library does not know.

The calendar library is imported lazily by ``core.calendars`` and cached per year: the first
decision in a process costs ~0.3 s (imports), later ones tens of microseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ib_futures.core.calendars import MarketSession, Timeline, holiday_names, timeline
from ib_futures.core.slot import SLOT, slot_for, slot_for_run
from ib_futures.core.snapshot import AssetClass

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

__all__ = [
    "ET",
    "MarketSession",
    "SessionDecision",
    "decide",
    "expected_slots",
    "is_open",
    "last_closed_session",
    "market_status",
    "next_session",
    "previous_session",
    "session_at",
    "sessions_between",
    "slot_for",
    "slot_for_run",
    "trade_date",
]

ET = ZoneInfo("America/New_York")
_MARKETS: tuple[AssetClass, ...] = ("FUT", "ETF")
_HALT = (time(17), time(18))  # CME daily maintenance halt, ET (16:00-17:00 CT)
# Sessions are loaded by calendar year; a lookup also loads the neighbouring year when the
# instant lies within this margin of New Year, longer than any market closure.
_MARGIN = timedelta(days=12)


@functools.lru_cache(maxsize=1)
def _default_config() -> FuturesConfig:
    from ib_futures.core.config import FuturesConfig

    return FuturesConfig()


def _aware_utc(t: datetime, what: str = "slot") -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} {t.isoformat()} is naive; pass an aware datetime (UTC)")
    return t.astimezone(UTC)


def _calendar(market: AssetClass, cfg: FuturesConfig) -> str:
    return cfg.session.futures_calendar if market == "FUT" else cfg.session.etf_calendar


def _timeline(t: datetime, market: AssetClass, cfg: FuturesConfig) -> Timeline:
    return timeline(_calendar(market, cfg), market, (t - _MARGIN).year, (t + _MARGIN).year)


def _extended(market: AssetClass, cfg: FuturesConfig) -> bool:
    return market == "ETF" and cfg.collection.etf_hours == "extended"


# --------------------------------------------------------------------------- sessions


def session_at(
    t: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> MarketSession | None:
    """The session of ``asset_class`` open at ``t`` (collection hours of ``cfg``), or None.

    Only the calendar counts here; reset windows and extra closures are applied by
    :func:`market_status`.
    """
    cfg = cfg or _default_config()
    t = _aware_utc(t)
    s = _timeline(t, asset_class, cfg).at(t)
    return s if s is not None and s.contains(t, _extended(asset_class, cfg)) else None


def last_closed_session(
    t: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> MarketSession | None:
    """The last session whose (regular) close is at or before ``t``."""
    cfg = cfg or _default_config()
    t = _aware_utc(t)
    return _timeline(t, asset_class, cfg).last_closed(t)


def next_session(
    t: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> MarketSession | None:
    """The first session whose (regular) open is after ``t``."""
    cfg = cfg or _default_config()
    t = _aware_utc(t)
    return _timeline(t, asset_class, cfg).next_after(t)


def previous_session(s: MarketSession, cfg: FuturesConfig | None = None) -> MarketSession | None:
    """The session before ``s`` in the same market."""
    cfg = cfg or _default_config()
    return _timeline(s.close, s.market, cfg).previous(s)


def sessions_between(
    start: datetime, end: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> list[MarketSession]:
    """Sessions whose widest bounds overlap ``[start, end)``, in order."""
    cfg = cfg or _default_config()
    start, end = _aware_utc(start, "start"), _aware_utc(end, "end")
    first, last = (start - _MARGIN).year, (end + _MARGIN).year
    tl = timeline(_calendar(asset_class, cfg), asset_class, first, last)
    return [s for s in tl.sessions if s.pre_open < end and s.post_close > start]


def trade_date(
    t: datetime, asset_class: AssetClass = "FUT", cfg: FuturesConfig | None = None
) -> date:
    """The trade date ``t`` belongs to: that of the session open at ``t``, else of the next
    session (a Sunday-evening futures slot belongs to Monday's trade date)."""
    cfg = cfg or _default_config()
    t = _aware_utc(t)
    tl = _timeline(t, asset_class, cfg)
    s = tl.at(t) or tl.next_after(t)
    return s.trade_date if s is not None else t.astimezone(ET).date()


# --------------------------------------------------------------------------- reasons


def _hhmm(t: datetime) -> str:
    return t.astimezone(ET).strftime("%H:%M")


def _holiday(market: AssetClass, day: date, cfg: FuturesConfig) -> str:
    name = holiday_names(_calendar(market, cfg), day.year).get(day)
    exchange = "CME" if market == "FUT" else "NYSE"
    return f"{exchange} holiday {name}" if name else f"{exchange} closed (no session on {day})"


def _early(market: AssetClass, s: MarketSession, cfg: FuturesConfig, extended: bool) -> str:
    name = holiday_names(_calendar(market, cfg), s.trade_date.year).get(s.trade_date)
    exchange = "CME" if market == "FUT" else "NYSE"
    close = s.post_close if extended else s.close
    return f"{exchange} early close at {_hhmm(close)} ET" + (f" ({name})" if name else "")


def _futures_closed_reason(t: datetime, tl: Timeline, cfg: FuturesConfig) -> str:
    local = t.astimezone(ET)
    s = tl.at(t)
    if s is not None and s.open <= t < s.close:  # inside a session: an intraday break
        return "CME trading break"
    if _HALT[0] <= local.time() < _HALT[1]:
        after = local.date() + timedelta(days=1)
        if local.weekday() >= 4:
            return "CME weekend closure (Fri 17:00 - Sun 18:00 ET)"
        if after in tl.by_date:
            return "CME daily maintenance halt 17:00-18:00 ET"
        return _holiday("FUT", after, cfg)
    # Under the regular schedule, t belongs to trade date `nominal` (D-1 18:00 .. D 17:00 ET).
    nominal = local.date() + timedelta(days=1 if local.time() >= _HALT[1] else 0)
    if nominal.weekday() >= 5:
        return "CME weekend closure (Fri 17:00 - Sun 18:00 ET)"
    day = tl.by_date.get(nominal)
    if day is None:
        return _holiday("FUT", nominal, cfg)
    if t >= day.close:
        return _early("FUT", day, cfg, False)
    return f"CME closed until the session opens at {_hhmm(day.open)} ET"


def _etf_closed_reason(t: datetime, tl: Timeline, cfg: FuturesConfig, extended: bool) -> str:
    local = t.astimezone(ET)
    hours = "04:00-20:00 ET" if extended else "09:30-16:00 ET"
    if local.weekday() >= 5:
        return "NYSE weekend"
    day = tl.by_date.get(local.date())
    if day is None:
        return _holiday("ETF", local.date(), cfg)
    start, end = day.bounds(extended)
    if t < start:
        return f"NYSE not yet open ({'extended' if extended else 'regular'} hours {hours})"
    if day.early_close and t >= end:
        return _early("ETF", day, cfg, extended)
    return f"NYSE closed after {'extended' if extended else 'regular'} hours ({hours})"


def _window_reason(t: datetime, market: AssetClass, cfg: FuturesConfig) -> str | None:
    tz = cfg.session.tz
    local = t.astimezone(tz)
    for w in cfg.session.ib_reset_windows:
        if w.contains(local.time().replace(tzinfo=None)):
            return f"{w.describe()} ({cfg.session.timezone})"
    naive = local.replace(tzinfo=None)
    for c in cfg.session.extra_closures:
        if market in c.markets and c.start <= naive < c.end:
            return f"{c.reason} (session.extra_closures)"
    return None


def market_status(
    t: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None
) -> tuple[bool, str]:
    """``(open, reason)`` for one market at instant ``t``, all rules applied."""
    cfg = cfg or _default_config()
    t = _aware_utc(t)
    extended = _extended(asset_class, cfg)
    tl = _timeline(t, asset_class, cfg)
    s = tl.at(t)
    if s is not None and s.contains(t, extended):
        blocked = _window_reason(t, asset_class, cfg)
        if blocked is not None:
            return False, blocked
        if asset_class == "FUT":
            return True, "CME Globex open"
        return True, f"NYSE open ({'extended' if extended else 'regular'} hours)"
    if asset_class == "FUT":
        return False, _futures_closed_reason(t, tl, cfg)
    return False, _etf_closed_reason(t, tl, cfg, extended)


def is_open(t: datetime, asset_class: AssetClass, cfg: FuturesConfig | None = None) -> bool:
    """Whether ``asset_class``'s market is open (and not blocked) at instant ``t``."""
    return market_status(t, asset_class, cfg)[0]


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class SessionDecision:
    """The "collect or skip" decision for one slot.

    :param collect: at least one configured instrument's market is open.
    :param reason: one line for the log, e.g. ``skip: CME daily maintenance halt 17:00-18:00
        ET``.
    :param open_markets: ``{"FUT": bool, "ETF": bool}``.
    :param open_instruments: the configured symbols whose market is open, in config order.
    :param market_reasons: why each market is open or closed.
    """

    slot: datetime
    collect: bool
    reason: str
    open_markets: Mapping[AssetClass, bool]
    open_instruments: tuple[str, ...]
    market_reasons: Mapping[AssetClass, str] = field(default_factory=dict)

    def to_xcom(self) -> dict[str, Any]:
        """JSON-serialisable form, pushed to XCom by the branch operator."""
        return {
            "slot": self.slot.isoformat(),
            "collect": self.collect,
            "reason": self.reason,
            "open_markets": dict(self.open_markets),
            "open_instruments": list(self.open_instruments),
            "market_reasons": dict(self.market_reasons),
        }


def decide(
    slot_utc: datetime, cfg: FuturesConfig | None = None, instruments: Iterable[str] | None = None
) -> SessionDecision:
    """Collect or skip at ``slot_utc`` for ``instruments`` (default ``collection.instruments``)."""
    cfg = cfg or _default_config()
    slot = _aware_utc(slot_utc)
    symbols = list(instruments) if instruments is not None else list(cfg.collection.instruments)
    unknown = [sym for sym in symbols if sym not in cfg.instruments]
    if unknown:
        raise ValueError(
            f"unknown instrument(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(cfg.instruments)})"
        )
    classes = {sym: cfg.instruments[sym].asset_class for sym in symbols}
    wanted = [m for m in _MARKETS if m in classes.values()]
    status = {m: market_status(slot, m, cfg) for m in wanted}
    open_markets = {m: status[m][0] for m in _MARKETS if m in status}
    open_syms = tuple(s for s in symbols if open_markets.get(classes[s], False))
    reasons = {m: status[m][1] for m in wanted}
    if not open_syms:
        unique = list(dict.fromkeys(reasons[m] for m in wanted))
        reason = "skip: " + ("; ".join(unique) if unique else "no instruments configured")
    elif all(open_markets.values()):
        reason = "collect: " + "; ".join(reasons[m] for m in wanted)
    else:
        closed = [m for m in wanted if not open_markets[m]]
        reason = f"collect {', '.join(open_syms)}: " + "; ".join(
            [reasons[m] for m in wanted if open_markets[m]]
            + [f"{m} skipped: {reasons[m]}" for m in closed]
        )
    return SessionDecision(
        slot=slot,
        collect=bool(open_syms),
        reason=reason,
        open_markets=open_markets,
        open_instruments=open_syms,
        market_reasons=reasons,
    )


# --------------------------------------------------------------------------- slots


def expected_slots(
    start: datetime,
    end: datetime,
    asset_class: AssetClass,
    cfg: FuturesConfig | None = None,
) -> list[datetime]:
    """Slots in ``[start, end)`` at which ``asset_class`` should have been collected."""
    cfg = cfg or _default_config()
    start, end = _aware_utc(start, "start"), _aware_utc(end, "end")
    step = SLOT
    extended = _extended(asset_class, cfg)
    out: list[datetime] = []
    for s in sessions_between(start, end, asset_class, cfg):
        lo, hi = s.bounds(extended)
        t = slot_for(max(lo, start))
        if t < max(lo, start):
            t += step
        stop = min(hi, end)
        while t < stop:
            if s.contains(t, extended) and _window_reason(t, asset_class, cfg) is None:
                out.append(t)
            t += step
    return out
