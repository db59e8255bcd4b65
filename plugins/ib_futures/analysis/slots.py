"""Expected slots: ETF regular hours and futures Globex hours, from ``ib_futures.core.session``.

A slot is the UTC instant a collection run stands for (its data interval end), on the 5-minute
grid. The analysis expects exactly the slots the collector collects (``core.session``: a market
is collected at slot ``s`` when ``open <= s < close``), with one deliberate difference: ETFs are
studied in **regular hours only** (09:30 up to, not including, 16:00 New York time; 13:00 on
early-close days) even when ``collection.etf_hours`` is ``extended``. So:

* ETF slots of a session: 09:30, 09:35, ..., 15:55 (78 slots, 77 returns); the 09:30 slot is the
  session's opening price and the last slot (15:55, or 12:55) its closing reference;
* futures slots: CME Globex, Sunday 18:00 to Friday 17:00 New York time without the 17:00-18:00
  maintenance halt, holidays and early closes, and without the configured IB reset windows and
  extra closures (all as ``core.session`` decides).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from ib_futures.analysis.config import EXCHANGE_TZ
from ib_futures.core.slot import SLOT

if TYPE_CHECKING:
    import polars as pl

    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.session import MarketSession
    from ib_futures.core.snapshot import AssetClass


def _regular_hours(cfg: FuturesConfig | None) -> FuturesConfig:
    """``cfg`` (default: the built-in configuration) with ETFs in regular hours."""
    from ib_futures.core.config import FuturesConfig

    cfg = cfg or FuturesConfig()
    if cfg.collection.etf_hours == "regular":
        return cfg
    collection = cfg.collection.model_copy(update={"etf_hours": "regular"})
    return cfg.model_copy(update={"collection": collection})


def etf_sessions(
    start: datetime, end: datetime, cfg: FuturesConfig | None = None
) -> list[MarketSession]:
    """NYSE sessions overlapping ``[start, end)``, in order (``open``/``close``: regular hours)."""
    from ib_futures.core.session import sessions_between

    return [s for s in sessions_between(start, end, "ETF", cfg) if s.close > start and s.open < end]


def _needs_rule_check(cfg: FuturesConfig, sessions: list[MarketSession]) -> bool:
    """True when slots inside a session can still be closed (reset windows, extra closures,
    intraday breaks): then the per-slot rules of ``core.session`` decide."""
    return bool(
        cfg.session.ib_reset_windows
        or cfg.session.extra_closures
        or any(s.breaks for s in sessions)
    )


def _frame(
    start: datetime,
    end: datetime,
    market: AssetClass,
    cfg: FuturesConfig | None,
    regular_hours: bool = True,
) -> pl.DataFrame:
    """Slots ``open <= t < close`` of each session, clipped to ``[start, end)``.

    Built per session with ``pl.datetime_range`` (a year of Globex slots in milliseconds);
    when the configuration closes slots inside sessions, ``core.session.expected_slots`` (a
    per-slot loop, ~1 s a year) decides instead. Both give the same slots (tested).
    """
    import polars as pl

    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.session import expected_slots, sessions_between

    cfg = _regular_hours(cfg) if regular_hours else (cfg or FuturesConfig())
    ts = pl.Datetime("us", "UTC")
    schema = pl.Schema([("bucket_ts", ts), ("session_date", pl.Date())])
    sessions = sessions_between(start, end, market, cfg)
    if not sessions:
        return pl.DataFrame(schema=schema)
    bounds = pl.DataFrame(
        [(s.open, s.close - SLOT, s.trade_date) for s in sessions],
        schema={"first": ts, "last": ts, "session_date": pl.Date},
        orient="row",
        # open/close are on the 5-minute grid (calendar times are whole quarter hours)
    )
    slots = (
        bounds.select(
            pl.datetime_ranges("first", "last", interval=SLOT, closed="both").alias("bucket_ts"),
            "session_date",
        )
        .explode("bucket_ts")
        .filter((pl.col("bucket_ts") >= start) & (pl.col("bucket_ts") < end))
        .unique("bucket_ts", keep="first")
        .sort("bucket_ts")
        .cast(schema)  # type: ignore[arg-type]
    )
    if _needs_rule_check(cfg, sessions):
        allowed = pl.DataFrame(
            {"bucket_ts": expected_slots(start, end, market, cfg)}, schema={"bucket_ts": ts}
        )
        slots = slots.join(allowed, on="bucket_ts", how="semi")
    return slots


def etf_expected_slots(
    start: datetime, end: datetime, cfg: FuturesConfig | None = None
) -> pl.DataFrame:
    """ETF regular-hours slots in ``[start, end)``: ``bucket_ts``, ``session_date``."""
    return _frame(start, end, "ETF", cfg)


def futures_expected_slots(
    start: datetime, end: datetime, cfg: FuturesConfig | None = None
) -> pl.DataFrame:
    """Globex slots in ``[start, end)``: ``bucket_ts``, ``session_date`` (CME trade date)."""
    return _frame(start, end, "FUT", cfg)


def collected_slots(
    start: datetime, end: datetime, market: AssetClass, cfg: FuturesConfig | None = None
) -> pl.DataFrame:
    """The slots the collector collects in ``[start, end)`` (ETFs in the configured
    ``collection.etf_hours``): ``bucket_ts``, ``session_date``. The futures page's coverage."""
    return _frame(start, end, market, cfg, regular_hours=False)


def exchange_date(ts: datetime) -> date:
    """The New York calendar date of an aware instant."""
    from zoneinfo import ZoneInfo

    return ts.astimezone(ZoneInfo(EXCHANGE_TZ)).date()
