"""Trustworthy market-data snapshots for many instruments over one gateway connection.

All instruments are requested at once (``reqMktData(snapshot=True)`` each, concurrently), so a
cycle costs about one snapshot latency, not six. Each answer is then checked before it may
become a row:

* **Stale quotes.** ib_async keeps one Ticker per contract; when a snapshot request fails (for
  example error 10197, "no market data during competing live session") it hands back the cached
  Ticker with the previous prices (docs/ib-protocol.md, section 2). A ticker whose newest tick is older than
  the request is rejected, as is any request that drew a non-warning error.
* **Missing values.** NaN, -1 and 0 are missing (``core.snapshot.clean_price``), never zero;
  a snapshot with no usable price at all is a failure, not a row of nulls.
* **Permissions.** Error 354 (not subscribed) with ``delayed_fallback`` re-requests those
  instruments as delayed data (type 3); the row records the market data type IB reported.
* **Connectivity.** A 1100 (IB lost) during the cycle invalidates answers completed after it,
  unless 1102 (restored, data maintained) came first; 1101 (data lost) invalidates them too.
* **Hangs.** Every request is bounded by ``snapshot_timeout`` and cancelled when it expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ib_futures.core.snapshot import Snapshot, clean_price, clean_size

if TYPE_CHECKING:
    from ib_async import Ticker

    from ib_futures.ib.contracts import ResolvedContract
    from ib_futures.ib.gateway import GatewayConnection

log = logging.getLogger(__name__)

NOT_SUBSCRIBED = 354
# ib_async's own warning set (wrapper.error) plus the delayed-data notice: these never
# invalidate an answer.
WARNING_CODES = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})


def is_warning(code: int) -> bool:
    return code in WARNING_CODES or 2100 <= code < 2200 or code in (1100, 1101, 1102)


@dataclass
class CollectionResult:
    """Good snapshots and the reason each failed instrument failed."""

    snapshots: list[Snapshot] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class _Answer:
    resolved: ResolvedContract
    ticker: Ticker | None
    requested_at: datetime
    completed_at: datetime | None
    error_codes: list[int]
    error: str | None = None


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _request(gateway: GatewayConnection, rc: ResolvedContract, clock: Clock) -> _Answer:
    ib = gateway.ib
    mark = len(gateway.errors.by_con_id.get(rc.con_id, []))
    requested_at = clock()
    try:
        tickers = await asyncio.wait_for(
            ib.reqTickersAsync(rc.contract), gateway.settings.snapshot_timeout
        )
    except TimeoutError:
        # ib_async leaves the request open; cancel it so the gateway frees the line.
        try:
            ib.cancelMktData(rc.contract)
        except Exception:  # pragma: no cover - the connection may already be gone
            pass
        return _Answer(
            rc,
            None,
            requested_at,
            None,
            [],
            f"no snapshot within {gateway.settings.snapshot_timeout:g}s",
        )
    codes = gateway.errors.codes_for(rc.con_id, mark)
    return _Answer(rc, tickers[0] if tickers else None, requested_at, clock(), codes)


def _connectivity_verdict(completed_at: datetime, events: list[tuple[datetime, int]]) -> str | None:
    lost: datetime | None = None
    for when, code in events:
        if when > completed_at:
            break
        if code == 1100:
            lost = when
        elif code == 1102 and lost is not None:
            lost = None
        elif code == 1101:
            return "IB reported 1101 (connectivity restored, market data lost) during the request"
    if lost is not None:
        return "IB reported 1100 (connectivity to IB lost) before the answer arrived"
    return None


def _to_snapshot(answer: _Answer, bucket_ts: datetime, clock: Clock) -> Snapshot:
    rc, t = answer.resolved, answer.ticker
    assert t is not None
    return Snapshot(
        symbol=rc.symbol,
        asset_class="FUT" if rc.asset_class == "FUT" else "ETF",
        bucket_ts=bucket_ts,
        collected_ts=clock(),
        con_id=rc.con_id,
        local_symbol=rc.local_symbol,
        exchange=rc.exchange,
        currency=rc.currency,
        expiry=rc.expiry,
        market_data_type=int(t.marketDataType or 1),
        quote_ts=t.time.astimezone(UTC) if t.time else None,
        last_trade_ts=(t.lastTimestamp or t.delayedLastTimestamp),
        bid=clean_price(t.bid),
        ask=clean_price(t.ask),
        last=clean_price(t.last),
        bid_size=clean_size(t.bidSize),
        ask_size=clean_size(t.askSize),
        last_size=clean_size(t.lastSize),
        volume=clean_size(t.volume),
        open_interest=clean_size(t.futuresOpenInterest),
        open=clean_price(t.open),
        high=clean_price(t.high),
        low=clean_price(t.low),
        close=clean_price(t.close),
    )


def _judge(
    answer: _Answer,
    gateway: GatewayConnection,
    events: list[tuple[datetime, int]],
    bucket_ts: datetime,
    clock: Clock,
) -> Snapshot | str:
    sym = answer.resolved.symbol
    if answer.error:
        return f"{sym}: {answer.error}"
    t = answer.ticker
    if t is None:
        return f"{sym}: the gateway returned no ticker"
    bad = [c for c in answer.error_codes if not is_warning(c)]
    if bad:
        msgs = [
            e.message
            for e in gateway.errors.by_con_id.get(answer.resolved.con_id, [])
            if e.code in bad
        ]
        return (
            f"{sym}: IB error {bad[-1]} ({msgs[-1] if msgs else 'request failed'}); quote discarded"
        )
    assert answer.completed_at is not None
    verdict = _connectivity_verdict(answer.completed_at, events)
    if verdict:
        return f"{sym}: {verdict}; quote discarded"
    if t.time is None or t.time < answer.requested_at:
        seen = "never" if t.time is None else t.time.isoformat()
        return (
            f"{sym}: no tick arrived for this request (newest tick {seen}, requested "
            f"{answer.requested_at.isoformat()}); stale or empty quote discarded"
        )
    snap = _to_snapshot(answer, bucket_ts, clock)
    if not snap.has_quote:
        return f"{sym}: no usable price (bid, ask and last all missing)"
    if snap.crossed:
        log.warning(
            "%s: crossed quote bid %s > ask %s (stored, flagged, no mid price)",
            sym,
            snap.bid,
            snap.ask,
        )
    return snap


async def collect_snapshots(
    gateway: GatewayConnection,
    contracts: list[ResolvedContract],
    bucket_ts: datetime,
    *,
    clock: Clock = _utc_now,
) -> CollectionResult:
    """Snapshot every contract concurrently and keep only trustworthy answers."""
    ib = gateway.ib
    events: list[tuple[datetime, int]] = []

    def on_error(req_id: int, code: int, message: str, contract: Any = None) -> None:
        if code in (1100, 1101, 1102):
            events.append((clock(), code))
            log.warning("IB connectivity notice %s during collection: %s", code, message)

    ib.errorEvent += on_error
    try:
        answers = list(await asyncio.gather(*(_request(gateway, rc, clock) for rc in contracts)))
        settings = gateway.settings
        retry = [a for a in answers if NOT_SUBSCRIBED in a.error_codes]
        if retry and settings.delayed_fallback and settings.market_data_type in (1, 2):
            log.warning(
                "live market data not subscribed for %s (354); retrying as delayed data",
                ", ".join(a.resolved.symbol for a in retry),
            )
            ib.reqMarketDataType(3 if settings.market_data_type == 1 else 4)
            again = await asyncio.gather(*(_request(gateway, a.resolved, clock) for a in retry))
            by_symbol = {a.resolved.symbol: a for a in again}
            answers = [by_symbol.get(a.resolved.symbol, a) for a in answers]
            ib.reqMarketDataType(settings.market_data_type)
        result = CollectionResult()
        for answer in answers:
            verdict = _judge(answer, gateway, events, bucket_ts, clock)
            if isinstance(verdict, Snapshot):
                result.snapshots.append(verdict)
            else:
                result.failures[answer.resolved.symbol] = verdict
        return result
    finally:
        ib.errorEvent -= on_error
