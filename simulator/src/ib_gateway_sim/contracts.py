"""The simulator's contract universe: ES/NQ/RTY quarterly chains and SPY/QQQ/IWM stocks.

Calendar rules (third-Friday expiry, H/M/U/Z codes, ``ESZ6`` local symbols) are in
``months.py``. This module adds what IB's contract-details answer carries (conIds, ticks,
multipliers, hours) and the matching rules IB applies to a partially specified request.

conIds are deterministic: futures ``600_000_000 + root_index * 1_000_000 + YYYYMM``
(``ESZ6`` = 601_202_612), stocks use their real IB conIds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from .months import ContractMonth, listed_months
from .schedules import CENTRAL, CME_GLOBEX, EASTERN, US_EXTENDED, US_RTH

SecType = Literal["FUT", "STK"]

#: IB's answer for an unknown or mismatching contract (error 200).
NO_SECURITY_DEFINITION = "No security definition has been found for the request"

#: How long HMDS keeps an expired future's bars after its last trade: IB says about two years
#: (docs/ib-protocol.md section 4). Beyond it a history request answers 162 "HMDS query
#: returned no data: ESU4@CME Trades".
DEFAULT_EXPIRED_RETENTION_DAYS = 730
#: How much longer an expired month stays in contract details (with ``includeExpired``) than
#: its bars stay in HMDS. The simulator's choice, not an observed IB figure: a client can only
#: meet IB's 162 for a contract beyond retention if it can still qualify that contract, and a
#: 200 ("no security definition") cannot tell "too old" from "mistyped". After this grace the
#: month is gone from contract details too (200).
EXPIRED_LISTING_GRACE_DAYS = 365
#: Quarterly months are about 91 days apart.
_DAYS_PER_QUARTER = 91
#: How many unexpired quarterly months are listed.
LISTED_MONTHS = 5
#: Last trade of the quarterly equity-index futures: 08:30 CT on the third Friday.
LAST_TRADE_TIME = time(8, 30)


@dataclass(frozen=True)
class InstrumentSpec:
    """Static facts of one root symbol (future) or one stock."""

    symbol: str
    sec_type: SecType
    long_name: str
    min_tick: float
    multiplier: str = ""
    exchange: str = "CME"
    primary_exchange: str = ""
    index: int = 0
    con_id: int = 0
    under_con_id: int = 0
    market_rule_ids: str = ""
    valid_exchanges: str = ""
    time_zone: str = "US/Central"

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"


FUTURES: dict[str, InstrumentSpec] = {
    "ES": InstrumentSpec(
        "ES", "FUT", "E-mini S&P 500", 0.25, "50", index=1, under_con_id=11004968,
        market_rule_ids="67,67", valid_exchanges="CME,QBALGO",
    ),
    "NQ": InstrumentSpec(
        "NQ", "FUT", "E-mini NASDAQ 100", 0.25, "20", index=2, under_con_id=11004958,
        market_rule_ids="67,67", valid_exchanges="CME,QBALGO",
    ),
    "RTY": InstrumentSpec(
        "RTY", "FUT", "E-mini Russell 2000 Index", 0.1, "50", index=3, under_con_id=416888,
        market_rule_ids="1245,1245", valid_exchanges="CME,QBALGO",
    ),
}

STOCKS: dict[str, InstrumentSpec] = {
    "SPY": InstrumentSpec(
        "SPY", "STK", "SPDR S&P 500 ETF TRUST", 0.01, exchange="SMART", primary_exchange="ARCA",
        con_id=756733, market_rule_ids="26,26", time_zone="US/Eastern",
        valid_exchanges="SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,IEX",
    ),
    "QQQ": InstrumentSpec(
        "QQQ", "STK", "INVESCO QQQ TRUST SERIES 1", 0.01, exchange="SMART",
        primary_exchange="NASDAQ", con_id=320227571, market_rule_ids="26,26",
        time_zone="US/Eastern",
        valid_exchanges="SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,IEX",
    ),
    "IWM": InstrumentSpec(
        "IWM", "STK", "ISHARES RUSSELL 2000 ETF", 0.01, exchange="SMART", primary_exchange="ARCA",
        con_id=9579970, market_rule_ids="26,26", time_zone="US/Eastern",
        valid_exchanges="SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,IEX",
    ),
}

#: Each ETF tracks one future root in the price model.
ETF_UNDERLYING: dict[str, str] = {"SPY": "ES", "QQQ": "NQ", "IWM": "RTY"}


@dataclass(frozen=True)
class SimContract:
    """One concrete listed instrument (a futures month or a stock)."""

    spec: InstrumentSpec
    con_id: int
    local_symbol: str
    month: ContractMonth | None = None

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def sec_type(self) -> SecType:
        return self.spec.sec_type

    @property
    def is_future(self) -> bool:
        return self.spec.is_future

    @property
    def expiry(self) -> date | None:
        return self.month.expiry if self.month else None

    @property
    def last_trade(self) -> datetime | None:
        """The last-trade instant (08:30 CT on the third Friday) for futures."""
        if self.month is None:
            return None
        return datetime.combine(self.month.expiry, LAST_TRADE_TIME, CENTRAL)

    def expired(self, now: datetime) -> bool:
        last = self.last_trade
        return last is not None and now >= last

    @property
    def description(self) -> str:
        """IB-style short description used in HMDS messages, e.g. ``ESZ6@CME``."""
        return f"{self.local_symbol}@{self.spec.exchange if self.is_future else 'SMART'}"


def future_con_id(month: ContractMonth) -> int:
    return 600_000_000 + FUTURES[month.root].index * 1_000_000 + month.year * 100 + month.month


def future_contract(month: ContractMonth) -> SimContract:
    return SimContract(FUTURES[month.root], future_con_id(month), month.local_symbol, month)


def stock_contract(symbol: str) -> SimContract:
    spec = STOCKS[symbol]
    return SimContract(spec, spec.con_id, symbol)


@dataclass
class ContractRequest:
    """The 12 contract fields IB requests carry, plus ``includeExpired``."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date_or_contract_month: str = ""
    strike: str = ""
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False

    def label(self) -> str:
        parts = [self.sec_type or "?", self.symbol or self.local_symbol or str(self.con_id)]
        if self.last_trade_date_or_contract_month:
            parts.append(self.last_trade_date_or_contract_month)
        if self.exchange:
            parts.append(self.exchange)
        return " ".join(parts)


@dataclass
class Resolution:
    """What a contract request resolves to.

    ``sec_type`` is what the answer reports (``CONTFUT`` keeps its type but carries the front
    contract); ``exchange`` is the exchange echoed back (``SMART`` stays ``SMART``).
    """

    contracts: list[SimContract] = field(default_factory=list)
    sec_type: str = ""
    exchange: str = ""

    @property
    def found(self) -> bool:
        return bool(self.contracts)


def _multiplier_matches(requested: str, actual: str) -> bool:
    if not requested:
        return True
    try:
        return float(requested) == float(actual or 0)
    except ValueError:
        return False


class ContractBook:
    """Resolves contract requests against the chains listed at a given simulated time.

    ``expired_retention_days``: how long an expired month's bars stay available (see
    :data:`DEFAULT_EXPIRED_RETENTION_DAYS`); the month stays in contract details
    :data:`EXPIRED_LISTING_GRACE_DAYS` longer.
    """

    def __init__(
        self, expired_retention_days: int = DEFAULT_EXPIRED_RETENTION_DAYS,
        listed: int = LISTED_MONTHS,
    ) -> None:
        if expired_retention_days < 0:
            raise ValueError("expired_retention_days must be >= 0")
        self.expired_retention_days = expired_retention_days
        self.listed = listed

    @property
    def listing_horizon(self) -> timedelta:
        """How long after its last trade an expired month is still listed."""
        return timedelta(days=self.expired_retention_days + EXPIRED_LISTING_GRACE_DAYS)

    def has_history(self, contract: SimContract, now: datetime) -> bool:
        """Whether HMDS still holds bars of ``contract`` at ``now`` (False beyond retention)."""
        last = contract.last_trade
        return last is None or now < last + timedelta(days=self.expired_retention_days)

    def chain(self, root: str, now: datetime, include_expired: bool = False) -> list[SimContract]:
        """Listed months of ``root`` at ``now``, nearest first (expired ones first if asked)."""
        today = now.astimezone(CENTRAL).date()
        back = self.listing_horizon.days // _DAYS_PER_QUARTER + 2 if include_expired else 0
        months = listed_months(root, today, self.listed + 1, expired_back=back)
        contracts = [future_contract(m) for m in months]
        # The month rule counts the expiry day itself as unexpired; IB delists at the 08:30 CT
        # last trade, so filter by the instant and keep exactly ``listed`` live months.
        live = [c for c in contracts if not c.expired(now)][: self.listed]
        if not include_expired:
            return live
        horizon = self.listing_horizon
        expired = [
            c for c in contracts
            if c.last_trade is not None and c.last_trade <= now < c.last_trade + horizon
        ]
        return expired + live

    def front_month(self, root: str, now: datetime) -> SimContract:
        """The unexpired contract with the nearest expiry (what CONTFUT resolves to).

        IB's own CONTFUT roll rule is undocumented; nearest expiry is the simple, stated choice.
        """
        return self.chain(root, now)[0]

    def by_con_id(self, con_id: int, now: datetime, include_expired: bool = True) -> SimContract | None:
        for spec in STOCKS.values():
            if spec.con_id == con_id:
                return stock_contract(spec.symbol)
        for root in FUTURES:
            for contract in self.chain(root, now, include_expired=True):
                if contract.con_id == con_id:
                    if contract.expired(now) and not include_expired:
                        return None
                    return contract
        return None

    def resolve(self, req: ContractRequest, now: datetime) -> Resolution:
        """Match a request the way IB does; an empty resolution means error 200."""
        sec_type = req.sec_type.upper()
        if req.currency and req.currency.upper() != "USD":
            return Resolution()
        if not sec_type and req.con_id:
            found = self.by_con_id(req.con_id, now, req.include_expired)
            if found is None:
                return Resolution()
            exchange = req.exchange or found.spec.exchange
            return Resolution([found], found.sec_type, exchange)
        if sec_type in ("FUT", "CONTFUT"):
            return self._resolve_future(req, sec_type, now)
        if sec_type == "STK":
            return self._resolve_stock(req)
        return Resolution()

    def _resolve_future(self, req: ContractRequest, sec_type: str, now: datetime) -> Resolution:
        # CME equity futures route to exchange "CME"; "GLOBEX" was retired by IB (error 200).
        if req.exchange.upper() not in ("", "CME"):
            return Resolution()
        root = req.symbol.upper()
        if not root and req.local_symbol:
            root = next((r for r in FUTURES if req.local_symbol.upper().startswith(r)), "")
        if not root and req.con_id:
            found = self.by_con_id(req.con_id, now)
            root = found.symbol if found is not None and found.is_future else ""
        if root not in FUTURES or not _multiplier_matches(req.multiplier, FUTURES[root].multiplier):
            return Resolution()
        if req.trading_class and req.trading_class.upper() != root:
            return Resolution()
        if sec_type == "CONTFUT":
            front = self.front_month(root, now)
            if req.con_id and req.con_id != front.con_id:
                return Resolution()
            return Resolution([front], "CONTFUT", "CME")
        candidates = self.chain(root, now, include_expired=req.include_expired)
        wanted = req.last_trade_date_or_contract_month
        matches = []
        for contract in candidates:
            assert contract.month is not None
            if req.con_id and req.con_id != contract.con_id:
                continue
            if req.local_symbol and req.local_symbol.upper() != contract.local_symbol:
                continue
            if wanted and wanted not in (
                contract.month.contract_month,
                f"{contract.month.expiry:%Y%m%d}",
            ):
                continue
            matches.append(contract)
        return Resolution(matches, "FUT", "CME")

    def _resolve_stock(self, req: ContractRequest) -> Resolution:
        symbol = (req.symbol or req.local_symbol).upper()
        spec = STOCKS.get(symbol)
        if spec is None:
            return Resolution()
        if req.con_id and req.con_id != spec.con_id:
            return Resolution()
        if req.local_symbol and req.local_symbol.upper() != symbol:
            return Resolution()
        if req.primary_exchange and req.primary_exchange.upper() != spec.primary_exchange:
            return Resolution()
        exchange = req.exchange.upper() or "SMART"
        if exchange not in ("SMART", spec.primary_exchange):
            return Resolution()
        return Resolution([stock_contract(symbol)], "STK", exchange)


def details_fields(
    req_id: int, contract: SimContract, sec_type: str, exchange: str, now: datetime
) -> list[object]:
    """The fields of one contractDetails message (id 10) at server version 178.

    Layout per docs/ib-protocol.md section 2: no version field (>= 164), then minSize,
    sizeIncrement and suggestedSizeIncrement at the end.
    """
    spec = contract.spec
    if contract.is_future:
        assert contract.month is not None
        today = now.astimezone(CENTRAL).date()
        last_times = f"{contract.month.expiry:%Y%m%d} {LAST_TRADE_TIME:%H:%M} US/Central"
        trading_hours = CME_GLOBEX.hours_string(today, CENTRAL)
        liquid_hours = US_RTH.hours_string(today, CENTRAL)
        contract_month = contract.month.contract_month
        real_expiration = f"{contract.month.expiry:%Y%m%d}"
        under_symbol, under_sec_type, stock_type = spec.symbol, "IND", ""
        industry = category = subcategory = ""
    else:
        today = now.astimezone(EASTERN).date()
        last_times = ""
        trading_hours = US_EXTENDED.hours_string(today, EASTERN)
        liquid_hours = US_RTH.hours_string(today, EASTERN)
        contract_month = real_expiration = ""
        under_symbol, under_sec_type, stock_type = "", "", "ETF"
        industry, category, subcategory = "Funds", "Equity Fund", "Growth-Large Cap"
    return [
        10, req_id, spec.symbol, sec_type, last_times, 0, "", exchange, "USD",
        contract.local_symbol, spec.symbol, spec.symbol, contract.con_id, spec.min_tick,
        spec.multiplier, "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,LMT,MKT,STP,STPLMT,TRAIL",
        spec.valid_exchanges, 1, spec.under_con_id, spec.long_name,
        spec.primary_exchange, contract_month, industry, category, subcategory,
        spec.time_zone, trading_hours, liquid_hours, "", "", 0,
        1, under_symbol, under_sec_type, spec.market_rule_ids, real_expiration, stock_type,
        1, 1, 1,
    ]
