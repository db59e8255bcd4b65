"""The snapshot record: one instrument at one five-minute slot.

This is the XCom contract between the collector and the Delta writer (see
docs/architecture.md). Everything here is pure: the IB layer fills a :class:`Snapshot` from an
``ib_async`` Ticker, the Delta layer validates and stores :meth:`Snapshot.to_record` dicts.

IB's "no value" markers are NaN (ib_async's default), -1 (sizes and some prices IB sends as
unset) and 0 (ib_async drops 0-priced ticks but a frozen/closed market can still report 0):
all of them mean *missing* and become ``None``, never 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

AssetClass = Literal["FUT", "ETF"]

MARKET_DATA_TYPES: dict[int, str] = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed_frozen"}

#: Where a row's prices came from (the ``price_source`` column; docs/storage.md, "Provenance").
#: ``live``: a snapshot taken while the slot was current. ``hist_<field>_<point>``: IB's
#: historical 5-minute bars, ``whatToShow`` MIDPOINT or TRADES, the ``close`` of the bar that
#: ends at the slot, or the ``open`` of the bar that starts there (a session's first slot,
#: where no bar ends). ``price`` is the MIDPOINT value when there is one, else the TRADES one;
#: ``last`` is always the TRADES value. Null in rows written before the column existed: live.
LIVE = "live"
PRICE_SOURCES: frozenset[str] = frozenset(
    {LIVE, "hist_midpoint_close", "hist_trades_close", "hist_midpoint_open", "hist_trades_open"}
)


def clean_price(value: float | int | None) -> float | None:
    """A price from IB, or ``None`` when IB means "no value" (None, NaN, inf, <= 0)."""
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v <= 0:
        return None
    return v


def clean_size(value: float | int | None) -> float | None:
    """A size or volume from IB, or ``None`` for IB's unset markers (None, NaN, -1).

    A size of 0 is a real value for sizes (an empty book side), unlike prices.
    """
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v < 0:
        return None
    return v


def is_crossed(bid: float | None, ask: float | None) -> bool:
    """Bid above ask: a crossed (or bad) quote. Locked (bid == ask) is not crossed."""
    return bid is not None and ask is not None and bid > ask


def reference_price(bid: float | None, ask: float | None, last: float | None) -> float | None:
    """Mid when both sides are present and not crossed, else last trade, else ``None``."""
    if bid is not None and ask is not None and not is_crossed(bid, ask):
        return (bid + ask) / 2.0
    return last


def utc(ts: datetime) -> datetime:
    """``ts`` as an aware UTC datetime; naive datetimes are refused (never guess a zone)."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"naive datetime {ts.isoformat()} has no time zone; expected UTC")
    return ts.astimezone(UTC)


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else utc(ts).isoformat()


@dataclass
class Snapshot:
    """One instrument's quote for one slot, as stored (see docs/architecture.md)."""

    symbol: str
    asset_class: AssetClass
    bucket_ts: datetime
    collected_ts: datetime
    con_id: int
    local_symbol: str
    exchange: str
    currency: str
    market_data_type: int
    expiry: date | None = None
    quote_ts: datetime | None = None
    last_trade_ts: datetime | None = None
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    change_1h: float | None = None
    change_4h: float | None = None
    change_overnight: float | None = None
    change_daily: float | None = None
    change_source: str | None = None
    price_source: str | None = LIVE
    #: the mid IB's MIDPOINT bar gives for the slot (history rows; bid/ask stay null there)
    midpoint: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def crossed(self) -> bool:
        return is_crossed(self.bid, self.ask)

    @property
    def price(self) -> float | None:
        if self.midpoint is not None and self.bid is None and self.ask is None:
            return self.midpoint
        return reference_price(self.bid, self.ask, self.last)

    @property
    def has_quote(self) -> bool:
        """True when the snapshot carries at least one usable price."""
        return self.price is not None

    def to_record(self) -> dict[str, Any]:
        """The JSON-serialisable XCom record (keys and types as in docs/architecture.md)."""
        rec = asdict(self)
        rec.pop("extra")
        rec.pop("midpoint")
        bucket = utc(self.bucket_ts)
        rec.update(
            bucket_ts=bucket.isoformat(),
            bucket_date=bucket.date().isoformat(),
            collected_ts=_iso(self.collected_ts),
            quote_ts=_iso(self.quote_ts),
            last_trade_ts=_iso(self.last_trade_ts),
            expiry=None if self.expiry is None else self.expiry.isoformat(),
            price=self.price,
            crossed=self.crossed,
        )
        return rec


RECORD_KEYS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "bucket_ts",
    "bucket_date",
    "quote_ts",
    "last_trade_ts",
    "collected_ts",
    "con_id",
    "local_symbol",
    "expiry",
    "exchange",
    "currency",
    "bid",
    "ask",
    "last",
    "bid_size",
    "ask_size",
    "last_size",
    "volume",
    "open_interest",
    "open",
    "high",
    "low",
    "close",
    "price",
    "crossed",
    "market_data_type",
    "change_1h",
    "change_4h",
    "change_overnight",
    "change_daily",
    "change_source",
    "price_source",
)
"""Every key of a snapshot record, in the documented order."""
