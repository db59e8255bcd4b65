"""Contract resolution through the gateway: the front month from contract details.

Futures are asked for without a month (``Future("ES", exchange="CME")``): the gateway answers
with every listed contract month, and the front month is chosen by the configured roll rule
(``core.contracts.choose_front_month``) from the expiries the gateway reports, never from a
hard-coded month table. ETFs are qualified on SMART with their primary exchange (IB needs it to
disambiguate listings).

Notes from docs/ib-protocol.md: CME futures use exchange ``CME`` (``GLOBEX`` answers 200), and a
continuous future (CONTFUT) cannot be used for market data, so it is not used here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ib_futures.core.contracts import RollRule, choose_front_month

if TYPE_CHECKING:
    from ib_async import Contract, ContractDetails

    from ib_futures.ib.gateway import GatewayConnection


class InstrumentSpec(Protocol):
    """What resolution needs to know of an instrument (``core.instruments.Instrument``)."""

    symbol: str
    asset_class: str
    exchange: str
    currency: str

    @property
    def primary_exchange(self) -> str | None: ...


class ContractResolutionError(LookupError):
    """An instrument could not be resolved; the message names the symbol and IB's answer."""


@dataclass(frozen=True)
class ResolvedContract:
    """The contract actually used for an instrument, as recorded in every row."""

    symbol: str
    asset_class: str
    contract: Contract
    con_id: int
    local_symbol: str
    exchange: str
    currency: str
    expiry: date | None


def parse_ib_date(value: str) -> date:
    """IB's ``lastTradeDateOrContractMonth`` (``YYYYMMDD``; a trailing time is ignored)."""
    text = value.strip().split(" ")[0].split("-")[0]
    return datetime.strptime(text[:8], "%Y%m%d").date()


def _query_contract(inst: InstrumentSpec) -> Contract:
    from ib_async import Future, Stock

    if inst.asset_class == "FUT":
        return Future(symbol=inst.symbol, exchange=inst.exchange, currency=inst.currency)
    return Stock(
        inst.symbol, inst.exchange, inst.currency, primaryExchange=inst.primary_exchange or ""
    )


def _expiry_of(details: ContractDetails) -> date:
    assert details.contract is not None
    return parse_ib_date(details.contract.lastTradeDateOrContractMonth)


async def _details(
    gateway: GatewayConnection, inst: InstrumentSpec, include_expired: bool
) -> list[ContractDetails]:
    query = _query_contract(inst)
    query.includeExpired = include_expired
    result = await asyncio.wait_for(
        gateway.ib.reqContractDetailsAsync(query), gateway.settings.request_timeout
    )
    return list(result)


def _codes_text(gateway: GatewayConnection, since: int) -> str:
    events = gateway.errors.events[since:]
    return "; ".join(f"IB error {e.code}: {e.message}" for e in events if e.req_id != -1) or (
        "no contract details returned"
    )


async def resolve_one(
    gateway: GatewayConnection,
    inst: InstrumentSpec,
    on: date,
    roll: RollRule,
    include_expired: bool = False,
) -> ResolvedContract:
    """Resolve one instrument; raises :class:`ContractResolutionError` naming the symbol.

    ``include_expired`` (filling a past slot from history): expired months are listed too, and
    the month chosen must be the one the roll rule names for ``on`` (calendar alone); when IB no
    longer lists it (it keeps expired futures about two years), the error names that contract
    instead of a later month standing in for it.
    """
    mark = len(gateway.errors.events)
    try:
        details = await _details(gateway, inst, include_expired=include_expired)
    except TimeoutError as exc:
        raise ContractResolutionError(
            f"{inst.symbol}: contract details request timed out after "
            f"{gateway.settings.request_timeout:g}s"
        ) from exc
    if not details:
        raise ContractResolutionError(f"{inst.symbol}: {_codes_text(gateway, mark)}")
    if inst.asset_class == "FUT":
        futures = [d for d in details if d.contract and d.contract.secType == "FUT"]
        try:
            chosen = choose_front_month(futures, _expiry_of, on, roll)
        except LookupError as exc:
            raise ContractResolutionError(f"{inst.symbol}: {exc}") from exc
        contract = chosen.contract
        expiry: date | None = _expiry_of(chosen)
        if include_expired:
            _check_rolled_month(inst.symbol, on, roll, expiry)
            assert contract is not None
            contract.includeExpired = True  # reqHistoricalData sends the contract's flag
    else:
        if len(details) != 1:
            raise ContractResolutionError(
                f"{inst.symbol}: ambiguous, the gateway returned {len(details)} contracts "
                f"({', '.join(sorted({d.contract.primaryExchange for d in details if d.contract}))})"
            )
        contract = details[0].contract
        expiry = None
    assert contract is not None
    return ResolvedContract(
        symbol=inst.symbol,
        asset_class=inst.asset_class,
        contract=contract,
        con_id=int(contract.conId),
        local_symbol=contract.localSymbol or inst.symbol,
        exchange=contract.exchange or inst.exchange,
        currency=contract.currency or inst.currency,
        expiry=expiry,
    )


def _check_rolled_month(symbol: str, on: date, roll: RollRule, expiry: date | None) -> None:
    from ib_futures.core.contracts import front_contract_month

    wanted = front_contract_month(symbol, on, roll)
    if expiry != wanted.expiry:
        raise ContractResolutionError(
            f"{symbol}: the roll rule's contract for {on} is {wanted.local_symbol} "
            f"(expiry {wanted.expiry}), which IB does not list (IB keeps expired futures about "
            "two years after expiry)"
        )


async def resolve_all(
    gateway: GatewayConnection,
    instruments: list[Any],
    on: date,
    roll: RollRule,
    include_expired: bool = False,
) -> tuple[dict[str, ResolvedContract], dict[str, str]]:
    """Resolve every instrument concurrently: (resolved by symbol, failure reason by symbol)."""
    results = await asyncio.gather(
        *(resolve_one(gateway, inst, on, roll, include_expired) for inst in instruments),
        return_exceptions=True,
    )
    resolved: dict[str, ResolvedContract] = {}
    failed: dict[str, str] = {}
    for inst, res in zip(instruments, results, strict=True):
        if isinstance(res, ResolvedContract):
            resolved[inst.symbol] = res
        elif isinstance(res, ContractResolutionError):
            failed[inst.symbol] = str(res)
        elif isinstance(res, BaseException):
            if isinstance(res, ConnectionError):
                raise res
            failed[inst.symbol] = f"{inst.symbol}: contract resolution failed: {res!r}"
    return resolved, failed
