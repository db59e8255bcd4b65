"""Historical bars, paced.

The collector needs history only to seed the change metrics when the lake does not yet hold
the previous session (a new deployment, a long outage). Then it asks once per instrument for
five days of five-minute TRADES bars ending at the slot (IB's step guide: "1 W" allows bars of
3 mins and up), never four requests per symbol per snapshot as the in-house collector did.

Every request books its send time with a pacer (``core.pacing``) so that IB's historical
limits (error 162: identical request within 15 s, 6 for one contract within 2 s, 60 per
10 minutes; docs/ib-protocol.md section 3) are respected. IB counts per account, so the
caller passes a pacer whose ledger every process of the deployment shares (the Airflow
operators build it from ``collection.history_pacing``); without one, the process-wide
in-process pacer (``default_pacer()``) paces this process only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ib_futures.core.pacing import HistoricalPacer, RequestKey
    from ib_futures.ib.contracts import ResolvedContract
    from ib_futures.ib.gateway import GatewayConnection

log = logging.getLogger(__name__)

BAR_SIZES = {"5 mins": timedelta(minutes=5), "1 hour": timedelta(hours=1), "1 day": timedelta(days=1)}


class HistoryUnavailable(RuntimeError):
    """IB returned no bars; the message names the instrument and IB's error."""


def ib_end_datetime(end: datetime) -> str:
    """IB's endDateTime in UTC form (``YYYYMMDD HH:MM:SS UTC``), as ib_async sends it."""
    return end.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


async def wait_for_turn(
    key: RequestKey, rc: ResolvedContract, pacer: HistoricalPacer | None = None,
    max_wait: float | None = None,
) -> None:
    """Book ``key`` with ``pacer`` (default: ``default_pacer()``) and sleep until it may go.

    Raises :class:`HistoryUnavailable` when the ledger fails: unbooked means unsent, since a
    request outside the shared ledger could draw 162s for every process of the account
    (docs/operations.md, "Historical request pacing"); and when the turn is more than
    ``max_wait`` seconds away (then nothing is booked: a request given up must not hold the
    account's budget for everyone else).
    """
    from ib_futures.core.pacing import default_pacer

    pacer = pacer if pacer is not None else default_pacer()
    try:
        # Booked in a worker thread: a shared ledger may wait on a lock or the network.
        wait = await asyncio.to_thread(pacer.reserve, key, max_wait)
    except Exception as exc:
        raise HistoryUnavailable(
            f"{rc.symbol} ({rc.local_symbol}): historical bars not requested: the pacing "
            f"ledger failed: {type(exc).__name__}: {exc}"
        ) from exc
    if max_wait is not None and wait > max_wait:
        raise HistoryUnavailable(
            f"{rc.symbol} ({rc.local_symbol}): historical bars not requested: the pacing "
            f"budget is spent for {wait:.0f}s, longer than the {max_wait:g}s this request may wait"
        )
    if wait > 0:
        log.info("pacing historical request for %s: waiting %.1fs", rc.symbol, wait)
        await asyncio.sleep(wait)


async def request_bars(
    gateway: GatewayConnection,
    rc: ResolvedContract,
    end: datetime | None,
    *,
    duration: str,
    bar_size: str = "5 mins",
    what_to_show: str = "TRADES",
    pacer: HistoricalPacer | None = None,
    max_wait: float | None = None,
) -> list[Any]:
    """One paced ``reqHistoricalData`` for ``rc`` ending at ``end`` (UTC; None: the gateway's
    present): IB's bars, oldest first, each stamped by its start (docs/ib-protocol.md
    section 4).

    Expired futures months are asked for with ``includeExpired`` (their contract says so).
    An empty answer raises :class:`HistoryUnavailable` naming the instrument, the contract and
    IB's errors for the request (162 means several things: read its text).
    """
    from ib_futures.core.pacing import RequestKey

    key = RequestKey(
        con_id=rc.con_id,
        exchange=rc.exchange,
        what_to_show=what_to_show,
        bar_size=bar_size,
        duration=duration,
        end=ib_end_datetime(end) if end is not None else "",
    )
    await wait_for_turn(key, rc, pacer, max_wait)
    mark = len(gateway.errors.by_con_id.get(rc.con_id, []))
    bars = await gateway.ib.reqHistoricalDataAsync(
        rc.contract,
        endDateTime=key.end,
        durationStr=duration,
        barSizeSetting=bar_size,
        whatToShow=what_to_show,
        useRTH=False,
        formatDate=2,
        timeout=gateway.settings.request_timeout,
    )
    if not bars:
        events = gateway.errors.by_con_id.get(rc.con_id, [])[mark:]
        why = "; ".join(f"IB error {e.code}: {e.message}" for e in events) or "no bars returned"
        raise HistoryUnavailable(
            f"{rc.symbol} ({rc.local_symbol}): historical {what_to_show} bars: {why}"
        )
    return list(bars)


def bar_start(bar: Any) -> datetime:
    """A bar's start as an aware UTC datetime (daily bars come back as dates)."""
    start = bar.date
    if not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return start.astimezone(UTC)


async def recent_closes(
    gateway: GatewayConnection,
    rc: ResolvedContract,
    end: datetime,
    *,
    duration: str = "5 D",
    bar_size: str = "5 mins",
    what_to_show: str = "TRADES",
    pacer: HistoricalPacer | None = None,
    max_wait: float | None = None,
) -> list[tuple[datetime, float]]:
    """``(bar end, close)`` pairs for ``rc`` up to ``end`` (UTC), oldest first.

    A bar stamped ``t`` covers ``[t, t + bar)``; its close is the last price before ``t + bar``,
    which is what a snapshot at slot ``t + bar`` would have seen.
    """
    bars = await request_bars(
        gateway, rc, end, duration=duration, bar_size=bar_size, what_to_show=what_to_show,
        pacer=pacer, max_wait=max_wait,
    )  # fmt: skip
    step = BAR_SIZES.get(bar_size, timedelta(minutes=5))
    out: list[tuple[datetime, float]] = []
    for bar in bars:
        stamp = bar_start(bar) + step
        if stamp <= end and bar.close and bar.close > 0:
            out.append((stamp, float(bar.close)))
    return out
