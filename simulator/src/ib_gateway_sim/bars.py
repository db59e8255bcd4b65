"""How the price path becomes bars: one five-minute slot per whatToShow, then longer bars.

Every bar is built from the path the live quotes read (``PriceModel.raw_price``) with the
quotes' own rounding, so a bar and a snapshot taken at its end agree to the tick: the close of
the TRADES bar dated T - 5 min is the snapshot's ``last`` at T, the MIDPOINT close its
``(bid + ask) / 2``, and the open of the bar dated T the quote at T (docs/ib-protocol.md
section 4).

* TRADES: a trade prints at the rounded mid (the quotes' ``last``); open and close are the
  trades at the bar's start and end, high/low add the slot's excursions, volume, wap and count
  come from the slot's volume draw.
* BID, ASK, MIDPOINT: the bid, ask and mid at the bar's start and end (bid one tick below the
  ask, mid half-way), extremes with the same excursions; volume, wap and count are -1, as IB
  sends them.
* BID_ASK, IB's definition: open = time-averaged bid over the bar, high = max ask, low = min
  bid, close = time-averaged ask; volume, wap and count -1. Within a slot the log price is
  linear in time (``walk.py``), so the bid is a step function that steps where the path
  crosses a tick; the average is integrated exactly from those crossing times rather than
  sampled, which would cost hundreds of price evaluations per bar.

Longer bars aggregate the slots of one bar-size bucket: open of the first, close of the last,
extremes of all, volumes summed; BID_ASK opens and closes are averaged weighted by time, since
an average of averages must weigh each by how long it lasted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .walk import SLOT_SECONDS

if TYPE_CHECKING:
    from .contracts import SimContract
    from .prices import PriceModel

#: Absorbs float error at an exact tick (6800.0 / 0.25 must floor to 27200, not 27199).
_TICK_EPSILON = 1e-9


def tick_index(value: float, tick: float) -> int:
    return math.floor(value / tick + _TICK_EPSILON)


def floor_tick(value: float, tick: float) -> float:
    return round(tick_index(value, tick) * tick, 6)


def round_tick(value: float, tick: float) -> float:
    return round(round(value / tick) * tick, 6)


def ask_tick(value: float, tick: float) -> float:
    return round(floor_tick(value, tick) + tick, 6)


def mid_tick(value: float, tick: float) -> float:
    return round(floor_tick(value, tick) + tick / 2, 6)


#: How each whatToShow puts a raw price on the grid: trades at the rounded mid, bids one
#: tick below the ask, midpoints half-way (the same rule as the quotes).
BAR_ROUNDING: dict[str, Callable[[float, float], float]] = {
    "TRADES": round_tick, "BID": floor_tick, "ASK": ask_tick, "MIDPOINT": mid_tick,
}


@dataclass(frozen=True)
class Bar:
    """One OHLC bar as the simulator serves it.

    Prices are on the tick grid except BID_ASK's averages. ``seconds`` is how much time the bar
    covers (less than its size for the still-forming bar); BID_ASK aggregation weighs by it.
    """

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int
    seconds: float = SLOT_SECONDS


def time_average_bid(start_price: float, end_price: float, tick: float) -> float:
    """Mean of ``floor_tick(p(t))`` while ``log p`` runs linearly from start to end price."""
    first, last = tick_index(start_price, tick), tick_index(end_price, tick)
    if first == last:
        return first * tick
    step = 1 if last > first else -1
    log_span = math.log(end_price / start_price)
    total = previous = 0.0
    for index in range(first, last, step):
        # Rising, the bid leaves ``index`` when the path reaches the next tick up; falling,
        # when the path drops below ``index`` itself.
        boundary = (index + 1 if step > 0 else index) * tick
        at = min(1.0, max(previous, math.log(boundary / start_price) / log_span))
        total += (at - previous) * index
        previous = at
    total += (1.0 - previous) * last
    return total * tick


def _bid_ask_bar(
    start: datetime, prices: tuple[float, float, float, float], tick: float, seconds: float
) -> Bar:
    opening, closing, high, low = prices
    bid = time_average_bid(opening, closing, tick)
    # The ask is always one tick above the bid (``PriceModel.quote``): its average is too.
    max_ask = max(ask_tick(high, tick), ask_tick(opening, tick), ask_tick(closing, tick))
    min_bid = min(floor_tick(low, tick), floor_tick(opening, tick), floor_tick(closing, tick))
    return Bar(start, round(bid, 6), max_ask, min_bid, round(bid + tick, 6), -1.0, -1.0, -1, seconds)


def make_slot_bar(
    model: PriceModel, contract: SimContract, start: datetime, until: datetime | None, what: str
) -> Bar:
    """The bar of the slot starting at ``start``, cut at ``until`` if that falls inside it.

    A cut (still-forming) bar has no excursions beyond its open and latest price.
    """
    end = start + timedelta(seconds=SLOT_SECONDS)
    partial = until is not None and until < end
    close_at = until if partial and until is not None else end
    o = model.raw_price(contract, start)
    c = model.raw_price(contract, close_at)
    hi, lo = max(o, c), min(o, c)
    seconds = (close_at - start).total_seconds()
    if not partial:
        up, down = model.excursions(contract, start)
        hi *= math.exp(up)
        lo *= math.exp(-down)
    tick = contract.spec.min_tick
    if what == "BID_ASK":
        return _bid_ask_bar(start, (o, c, hi, lo), tick, seconds)
    rnd = BAR_ROUNDING.get(what, mid_tick)
    ro, rc = rnd(o, tick), rnd(c, tick)
    rh = max(rnd(hi, tick), ro, rc)
    rl = min(rnd(lo, tick), ro, rc)
    if what != "TRADES":
        return Bar(start, ro, rh, rl, rc, -1.0, -1.0, -1, seconds)
    volume = float(round(model.slot_volume(contract, start) * (seconds / SLOT_SECONDS)))
    wap = round((rh + rl + rc) / 3, 6)
    count = int(volume // (3 if contract.is_future else 150)) if volume else 0
    return Bar(start, ro, rh, rl, rc, volume, wap, count, seconds)


def aggregate(bars: list[Bar], start: datetime, what: str) -> Bar:
    """One bar from consecutive slot bars (see the module docstring)."""
    high = max(b.high for b in bars)
    low = min(b.low for b in bars)
    seconds = sum(b.seconds for b in bars)
    if what == "BID_ASK":
        bid = sum(b.open * b.seconds for b in bars) / seconds
        ask = sum(b.close * b.seconds for b in bars) / seconds
        return Bar(start, round(bid, 6), high, low, round(ask, 6), -1.0, -1.0, -1, seconds)
    if bars[0].volume < 0:
        return Bar(start, bars[0].open, high, low, bars[-1].close, -1.0, -1.0, -1, seconds)
    volume = sum(b.volume for b in bars)
    wap = sum(b.wap * b.volume for b in bars) / volume if volume else bars[-1].close
    return Bar(start, bars[0].open, high, low, bars[-1].close, volume, round(wap, 6),
               sum(b.count for b in bars), seconds)


def slot_bars(
    model: PriceModel, contract: SimContract, start: datetime, end: datetime, what: str
) -> list[Bar]:
    """The slot bars from ``start`` (on the slot grid) to ``end``, the last one cut at ``end``."""
    step = timedelta(seconds=SLOT_SECONDS)
    bars = []
    cursor = start
    while cursor < end:
        until = end if end < cursor + step else None
        bars.append(model.slot_bar(contract, cursor, until=until, what=what))
        cursor += step
    return bars
