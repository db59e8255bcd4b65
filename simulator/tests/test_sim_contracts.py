"""Contract details through the real ib_async client: chains, CONTFUT, ETFs, errors 200."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ib_async import IB, ContFuture, Contract, Future, Stock

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.contracts import ContractBook, ContractRequest


def test_es_front_month_qualifies_with_ib_fields(ib_client: IB) -> None:
    [es] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert es is not None
    assert (es.localSymbol, es.lastTradeDateOrContractMonth, es.multiplier) == ("ESZ6", "20261218", "50")
    assert (es.exchange, es.currency, es.tradingClass, es.conId) == ("CME", "USD", "ES", 601202612)
    [cd] = ib_client.reqContractDetails(es)
    assert cd.minTick == 0.25 and cd.lastTradeTime == "08:30" and cd.timeZoneId == "US/Central"
    assert cd.contractMonth == "202612" and cd.underSecType == "IND" and cd.realExpirationDate == "20261218"
    sessions = cd.tradingSessions()
    liquid = cd.liquidSessions()
    assert sessions and liquid
    # 17:00 CT to 16:00 CT next day (18:00-17:00 ET); liquid 08:30-15:00 CT.
    assert (sessions[0].start.hour, sessions[0].end.hour) == (17, 16)
    assert (liquid[0].start.hour, liquid[0].start.minute, liquid[0].end.hour) == (8, 30, 15)
    assert "CLOSED" in cd.tradingHours  # the weekend


@pytest.mark.parametrize(
    ("root", "multiplier", "tick", "local"),
    [("ES", "50", 0.25, "ESZ6"), ("NQ", "20", 0.25, "NQZ6"), ("RTY", "50", 0.1, "RTYZ6")],
)
def test_chain_lists_five_quarterly_months(ib_client: IB, root: str, multiplier: str, tick: float, local: str) -> None:
    details = ib_client.reqContractDetails(Future(root, exchange="CME"))
    assert len(details) == 5
    locals_ = [d.contract.localSymbol for d in details if d.contract]
    assert locals_ == [local, f"{root}H7", f"{root}M7", f"{root}U7", f"{root}Z7"]
    assert {d.contract.multiplier for d in details if d.contract} == {multiplier}
    assert {d.minTick for d in details} == {tick}
    # Without a month the request is ambiguous: qualifyContracts gives None.
    assert ib_client.qualifyContracts(Future(root, exchange="CME")) == [None]


def test_contfut_resolves_to_the_front_month(ib_client: IB) -> None:
    [cont] = ib_client.qualifyContracts(ContFuture("ES", "CME"))
    assert cont is not None and cont.secType == "CONTFUT"
    assert cont.conId == 601202612 and cont.localSymbol == "ESZ6"


def test_globex_and_unknown_symbols_answer_200(ib_client: IB) -> None:
    errors: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    assert ib_client.qualifyContracts(Future("ES", "202612", "GLOBEX")) == [None]
    assert ib_client.reqContractDetails(Future("ES", exchange="GLOBEX")) == []
    assert ib_client.qualifyContracts(Stock("NOPE", "SMART", "USD")) == [None]
    assert ib_client.qualifyContracts(Future("ES", "202601", "CME")) == [None]  # not listed (expired)
    assert errors == [200, 200, 200, 200]


def test_expired_contracts_only_with_include_expired(ib_client: IB) -> None:
    expired = Future("ES", "202609", "CME")
    assert ib_client.reqContractDetails(expired) == []
    expired.includeExpired = True
    [cd] = ib_client.reqContractDetails(expired)
    assert cd.contract is not None and cd.contract.localSymbol == "ESU6"
    chain = Contract(secType="FUT", symbol="ES", exchange="CME", includeExpired=True)
    listed = [d.contract.localSymbol for d in ib_client.reqContractDetails(chain) if d.contract]
    # Eight expired months within the two-year retention (ESZ4 on), four more whose bars are
    # gone but which contract details still list for a year (ESZ3-ESU4), then the five live.
    retained = ["ESZ4", "ESH5", "ESM5", "ESU5", "ESZ5", "ESH6", "ESM6", "ESU6"]
    assert listed == ["ESZ3", "ESH4", "ESM4", "ESU4", *retained, "ESZ6", "ESH7", "ESM7", "ESU7", "ESZ7"]
    assert len(listed) == 5 + 8 + 4


@pytest.mark.parametrize(("symbol", "primary", "con_id"), [("SPY", "ARCA", 756733), ("QQQ", "NASDAQ", 320227571), ("IWM", "ARCA", 9579970)])
def test_etfs_on_smart_with_primary_exchange(ib_client: IB, symbol: str, primary: str, con_id: int) -> None:
    [stk] = ib_client.qualifyContracts(Stock(symbol, "SMART", "USD"))
    assert stk is not None
    assert (stk.conId, stk.exchange, stk.primaryExchange, stk.localSymbol) == (con_id, "SMART", primary, symbol)
    [cd] = ib_client.reqContractDetails(Stock(symbol, "SMART", "USD", primaryExchange=primary))
    assert cd.minTick == 0.01 and cd.stockType == "ETF" and cd.timeZoneId == "US/Eastern"


def test_con_ids_are_stable_across_simulators(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for seed in (1, 2):
        sim: SimulatorThread = simulator_factory(seed=seed)
        ib = IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, readonly=True, timeout=2)
        try:
            details = ib.reqContractDetails(Future("NQ", exchange="CME"))
            ids.append([d.contract.conId for d in details if d.contract])
        finally:
            ib.disconnect()
    assert ids[0] == ids[1]


def test_chain_rolls_at_the_last_trade_instant() -> None:
    book = ContractBook()
    before = datetime(2026, 12, 18, 14, 29, tzinfo=UTC)  # 08:29 CT on expiry day
    after = datetime(2026, 12, 18, 14, 31, tzinfo=UTC)
    assert book.front_month("ES", before).local_symbol == "ESZ6"
    assert book.front_month("ES", after).local_symbol == "ESH7"
    assert len(book.chain("ES", after)) == 5
    req = ContractRequest(symbol="ES", sec_type="FUT", local_symbol="ESZ6", exchange="CME")
    assert not book.resolve(req, after).found
    req.include_expired = True
    assert book.resolve(req, after).contracts[0].local_symbol == "ESZ6"
