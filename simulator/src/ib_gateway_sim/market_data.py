"""Top-of-book ticks for reqMktData, shaped to each instrument's session.

What a request gets (decided here, documented in the README's simulator section):

* Market open: bid/ask with sizes (tickPrice 1/2), last with its size (4), session volume
  (tickSize 8), session open/high/low (14/6/7), the previous session's close (9) and the last
  trade time (tickString 45, epoch seconds).
* Market closed (CME: Fri 17:00 - Sun 18:00 ET and the daily 17:00-18:00 ET halt; ETFs: no
  quotes outside 04:00-20:00 ET and no trades outside 09:30-16:00 ET; holidays and early
  closes as in ``holidays.py``): **no fresh quote**. Only
  the close of the session that just ended (tick 9) and ``lastTimestamp`` = that session's end,
  so a client sees NaN bid/ask/last and an old trade time. Between 16:00 and 20:00 ET (and from
  04:00 to 09:30) an ETF still quotes bid/ask, but its last trade stays the 16:00 close.
* Frozen types (2/4) while closed replay bid/ask/last as they stood at the close.
* Delayed data (type 3/4) is the same computation ten (CME) or fifteen (US equities) minutes
  in the past, reported with IB's delayed tick ids (66..76, 88).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .contracts import SimContract
from .prices import SLOT_SECONDS, PriceModel, round_tick
from .schedules import CME_GLOBEX, US_EXTENDED, US_RTH, Schedule, Session
from .walk import hash_int

TickKind = Literal["price", "size", "string"]

BID, ASK, LAST, HIGH, LOW, VOLUME, CLOSE, OPEN, LAST_TIMESTAMP = 1, 2, 4, 6, 7, 8, 9, 14, 45
#: Live tick id -> delayed tick id (IB's tick-types table: 66 delayed bid ... 88 delayed time).
DELAYED_TICK = {1: 66, 2: 67, 4: 68, 6: 72, 7: 73, 8: 74, 9: 75, 14: 76, 45: 88}
#: IB's delay for unsubscribed data: about 10 minutes for CME, 15 minutes for US equities.
DELAY_FUTURES = timedelta(minutes=10)
DELAY_EQUITIES = timedelta(minutes=15)


@dataclass(frozen=True)
class Tick:
    kind: TickKind
    tick_type: int
    value: float | str
    size: float = 0.0

    def message(self, req_id: int) -> list[object]:
        """Encode as tickPrice (1), tickSize (2) or tickString (46), version 6."""
        if self.kind == "price":
            return [1, 6, req_id, self.tick_type, self.value, _size(self.size), 0]
        if self.kind == "size":
            return [2, 6, req_id, self.tick_type, _size(float(self.value))]
        return [46, 6, req_id, self.tick_type, self.value]


def _size(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def quote_schedule(contract: SimContract) -> Schedule:
    return CME_GLOBEX if contract.is_future else US_EXTENDED


def trade_schedule(contract: SimContract) -> Schedule:
    return CME_GLOBEX if contract.is_future else US_RTH


def delay_for(contract: SimContract) -> timedelta:
    return DELAY_FUTURES if contract.is_future else DELAY_EQUITIES


def market_open(contract: SimContract, moment: datetime) -> bool:
    """Whether ``contract`` quotes fresh prices at ``moment``."""
    return quote_schedule(contract).is_open(moment)


def session_stats(
    model: PriceModel, contract: SimContract, session: Session, until: datetime
) -> tuple[float, float, float, float]:
    """``(open, high, low, volume)`` of ``session`` up to ``until``, from the five-minute bars.

    Built from the same bars reqHistoricalData serves, so a snapshot's high/low never
    disagrees with the bars.
    """
    step = timedelta(seconds=SLOT_SECONDS)
    cursor = session.start
    end = min(until, session.end)
    first = model.slot_bar(contract, cursor, until=end if end < cursor + step else None)
    high, low, volume = first.high, first.low, 0.0
    while cursor < end:
        bar = model.slot_bar(contract, cursor, until=end if end < cursor + step else None)
        high, low, volume = max(high, bar.high), min(low, bar.low), volume + bar.volume
        cursor += step
    return first.open, high, low, volume


def last_trade_time(model: PriceModel, contract: SimContract, moment: datetime, floor: datetime) -> int:
    """Epoch second of the latest trade: up to two seconds before ``moment``, not before ``floor``."""
    second = int(moment.timestamp())
    lag = hash_int(model.config.seed, contract.local_symbol, "trade", second) % 3
    return max(int(floor.timestamp()), second - lag)


def compute_ticks(
    model: PriceModel, contract: SimContract, moment: datetime, *, frozen: bool = False
) -> list[Tick]:
    """The live tick set for ``contract`` at ``moment`` (see the module docstring)."""
    ticks: list[Tick] = []
    tick = contract.spec.min_tick
    quotes = quote_schedule(contract)
    trades = trade_schedule(contract)
    trading = trades.session_at(moment)
    completed = trades.last_completed(moment)
    if quotes.is_open(moment):
        bid, ask, _ = model.quote(contract, moment)
        bid_size, ask_size, _ = model.sizes(contract, moment)
        ticks += [Tick("price", BID, bid, bid_size), Tick("price", ASK, ask, ask_size)]
    elif frozen:
        at = completed.end - timedelta(seconds=1)
        bid, ask, _ = model.quote(contract, at)
        bid_size, ask_size, _ = model.sizes(contract, at)
        ticks += [Tick("price", BID, bid, bid_size), Tick("price", ASK, ask, ask_size)]
    if trading is not None:
        _, _, last = model.quote(contract, moment)
        _, _, last_size = model.sizes(contract, moment)
        opening, high, low, volume = session_stats(model, contract, trading, moment)
        close = round_tick(model.raw_price(contract, completed.end), tick)
        ticks += [
            Tick("price", LAST, last, last_size),
            Tick("size", VOLUME, volume),
            Tick("price", HIGH, high),
            Tick("price", LOW, low),
            Tick("price", CLOSE, close),
            Tick("price", OPEN, opening),
            Tick("string", LAST_TIMESTAMP, str(last_trade_time(model, contract, moment, trading.start))),
        ]
    else:
        close = round_tick(model.raw_price(contract, completed.end), tick)
        if frozen:
            ticks.append(Tick("price", LAST, close, 1.0))
        ticks += [
            Tick("price", CLOSE, close),
            Tick("string", LAST_TIMESTAMP, str(int(completed.end.timestamp()))),
        ]
    return ticks


def delayed(ticks: list[Tick]) -> list[Tick]:
    """Relabel live ticks with IB's delayed tick ids."""
    return [Tick(t.kind, DELAYED_TICK.get(t.tick_type, t.tick_type), t.value, t.size) for t in ticks]


def ticks_for(
    model: PriceModel, contract: SimContract, moment: datetime, data_type: int
) -> list[Tick]:
    """Ticks for the effective market data type (1 live, 2 frozen, 3 delayed, 4 both)."""
    is_delayed = data_type in (3, 4)
    at = moment - delay_for(contract) if is_delayed else moment
    ticks = compute_ticks(model, contract, at, frozen=data_type in (2, 4))
    return delayed(ticks) if is_delayed else ticks


def reported_type(contract: SimContract, moment: datetime, data_type: int) -> int:
    """What marketDataType (58) reports: frozen types only while the market is closed."""
    if data_type == 2 and market_open(contract, moment):
        return 1
    if data_type == 4 and market_open(contract, moment - delay_for(contract)):
        return 3
    return data_type

