"""Fault injection through the real ib_async client, and what ib_async then does
(docs/ib-protocol.md, "Error behaviours observed")."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ib_async import IB, Future, RequestError, Stock

from ib_gateway_sim import GatewaySimulator, SimulatorThread, load_scenario
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]


def es(ib: IB) -> Future:
    [contract] = ib.qualifyContracts(Future("ES", "202612", "CME"))
    assert isinstance(contract, Future)
    return contract


def errors_of(ib: IB) -> list[int]:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    return codes


def test_refused_connections_then_accepted_again(ib_simulator: SimulatorThread) -> None:
    ib_simulator.refuse_connections()
    with pytest.raises(ConnectionRefusedError):
        IB().connect("127.0.0.1", ib_simulator.port, clientId=1, readonly=True, timeout=2)
    ib_simulator.accept_connections()
    ib = connect_ib(ib_simulator.port)
    assert ib.isConnected()
    ib.disconnect()


def test_connection_dropped_mid_request(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    disconnected: list[bool] = []
    ib_client.disconnectedEvent += lambda: disconnected.append(True)
    ib_simulator.faults.drop("historical_data")
    with pytest.raises(ConnectionError, match="Socket disconnect"):
        ib_client.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", False, timeout=5)
    assert disconnected and not ib_client.isConnected()
    with pytest.raises(ConnectionError, match="Not connected"):
        ib_client.reqCurrentTime()
    assert ib_simulator.journal.entries("historical_data")[-1].outcome == "dropped"
    ib_client.connect("127.0.0.1", ib_simulator.port, clientId=1, readonly=True, timeout=2)
    assert len(ib_client.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", False, timeout=5)) > 0


def test_connection_dropped_while_idle(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    assert ib_simulator.disconnect_all() == 1
    with pytest.raises(ConnectionError):
        ib_client.sleep(0.5)
    assert not ib_client.isConnected()


def test_hung_historical_request_times_out_and_is_cancelled(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    ib_simulator.faults.hang("historical_data", symbol="ES")
    started = time.monotonic()
    bars = ib_client.reqHistoricalData(contract, "", "1 D", "5 mins", "TRADES", False, timeout=0.5)
    assert len(bars) == 0 and 0.45 < time.monotonic() - started < 1.5
    ib_client.sleep(0.1)
    assert ib_simulator.journal.entries("historical_data")[-1].outcome == "hung"
    assert ib_simulator.journal.entries("cancel_historical_data")
    assert ib_client.isConnected()


def test_hung_snapshot_and_qualify_raise_timeout(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    ib_client.RequestTimeout = 0.5
    ib_simulator.faults.hang("snapshot")
    with pytest.raises(TimeoutError):
        ib_client.reqTickers(contract)
    ib_simulator.faults.hang("contract_details", symbol="NQ")
    with pytest.raises(TimeoutError):
        ib_client.qualifyContracts(Future("NQ", "202612", "CME"))
    assert ib_client.isConnected()


def test_latency_per_snapshot(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contracts = ib_client.qualifyContracts(
        Future("ES", "202612", "CME"), Future("NQ", "202612", "CME"), Stock("SPY", "SMART", "USD")
    )
    ib_simulator.faults.delay(0.25, "snapshot")
    started = time.monotonic()
    tickers = ib_client.reqTickers(*contracts)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.6  # concurrent snapshots each wait 250 ms
    assert all(t.bid > 0 for t in tickers)
    started = time.monotonic()
    ib_client.reqCurrentTime()
    assert time.monotonic() - started < 0.1  # other requests are not delayed
    assert ib_simulator.journal.entries("snapshot")[0].detail == "delayed 0.25s"


def test_injected_162_on_history(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    codes = errors_of(ib_client)
    ib_simulator.faults.error("historical_data", 162, times=2)
    assert len(ib_client.reqHistoricalData(contract, "", "1 D", "1 hour", "TRADES", False, timeout=5)) == 0
    ib_client.RaiseRequestErrors = True
    with pytest.raises(RequestError) as raised:
        ib_client.reqHistoricalData(contract, "", "2 D", "1 hour", "TRADES", False, timeout=5)
    assert raised.value.code == 162 and codes == [162, 162]


def test_injected_200_and_354(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    codes = errors_of(ib_client)
    ib_simulator.faults.error("contract_details", 200, symbol="RTY", times=1)
    assert ib_client.qualifyContracts(Future("RTY", "202612", "CME")) == [None]
    ib_simulator.faults.error("snapshot", 354, symbol="SPY")
    es_contract = es(ib_client)
    [spy] = ib_client.qualifyContracts(Stock("SPY", "SMART", "USD"))
    es_ticker, spy_ticker = ib_client.reqTickers(es_contract, spy)  # type: ignore[arg-type]
    assert es_ticker.bid > 0 and math.isnan(spy_ticker.bid)
    assert codes == [200, 354]


def test_stale_quote_via_10197_returns_the_cached_ticker(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    ib_simulator.clock.freeze("2026-11-24T15:00:00Z")
    [first] = ib_client.reqTickers(contract)
    first_bid, first_time = first.bid, first.time
    ib_simulator.clock.set("2026-11-24T16:00:00Z")
    ib_simulator.faults.stale_quote("ES")
    codes = errors_of(ib_client)
    started_at = time.time()
    [second] = ib_client.reqTickers(contract)
    assert second is first  # ib_async keeps one Ticker per contract
    assert second.bid == first_bid and second.time == first_time
    assert second.time is not None and second.time.timestamp() < started_at  # detectably stale
    assert codes == [10197]


def test_farm_broken_notice_on_a_snapshot_leaves_it_unanswered(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    contract = es(ib_client)
    ib_client.RequestTimeout = 0.5
    codes = errors_of(ib_client)
    ib_simulator.faults.error("snapshot", 2103)
    with pytest.raises(TimeoutError):  # 2103 is a warning to ib_async: nothing ends the request
        ib_client.reqTickers(contract)
    assert codes == [2103]


@pytest.mark.parametrize("code", [1100, 1101, 1102])
def test_connectivity_notices(ib_client: IB, ib_simulator: SimulatorThread, code: int) -> None:
    codes = errors_of(ib_client)
    assert ib_simulator.broadcast(code) == 1
    ib_client.sleep(0.2)
    assert codes == [code] and ib_client.isConnected()
    summaries = ib_simulator.journal.entries("account_summary")
    # ib_async asks for the account summary by itself after 1102 only.
    assert bool(summaries) == (code == 1102)


def test_connect_hang_makes_connect_time_out(ib_simulator: SimulatorThread) -> None:
    ib_simulator.faults.hang("connect", times=1)
    with pytest.raises(TimeoutError):
        IB().connect("127.0.0.1", ib_simulator.port, clientId=1, readonly=True, timeout=0.5)
    ib_simulator.disconnect_all()
    ib = connect_ib(ib_simulator.port, client_id=2)
    assert ib.isConnected()
    ib.disconnect()


def test_journal_records_decoded_requests(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    ib_client.reqHistoricalData(es(ib_client), "", "1 D", "1 hour", "MIDPOINT", True, timeout=5)
    [entry] = ib_simulator.journal.entries("historical_data", client_id=1, symbol="ES")
    assert entry.msg_id == 20 and entry.req_id is not None and entry.outcome == "answered"
    assert "1 hour" in entry.fields and "MIDPOINT" in entry.fields
    assert entry.sim_time.year == 2026 and entry.wall_time > 0


def test_scenario_file_loads_faults_and_timed_events(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({
        "not_permissioned": ["QQQ"],
        "pacing": {"identical_window": 0.1},
        "price": {"etf_lag_slots": 2, "etf_correlation": 0.8},
        "faults": [{"action": "error", "request": "snapshot", "symbol": "SPY", "code": 10197}],
        "events": [{"at": 0.2, "action": "broadcast", "code": 1100}],
    }))
    scenario = load_scenario(path)
    with SimulatorThread(start="2026-11-24T15:00:00Z", scenario=scenario,
                         price_config=scenario.price_config(0)) as sim:
        assert not sim.is_permissioned("QQQ") and sim.pacer.limits.identical_window == 0.1
        assert sim.model.planted_signal()["lag_slots"] == 2
        ib = connect_ib(sim.port)
        codes = errors_of(ib)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            ib.reqTickers(spy)  # type: ignore[arg-type]
            ib.sleep(0.4)
        finally:
            ib.disconnect()
        assert codes == [10197, 1100]


def test_scenario_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("faults:\n  - {action: explode}\n")
    with pytest.raises(ValueError, match="unknown fault action"):
        load_scenario(path)
    path.write_text("colour: blue\n")
    with pytest.raises(ValueError, match="unknown scenario keys"):
        load_scenario(path)


def test_scenario_from_the_cli(tmp_path: Path) -> None:
    from ib_gateway_sim import SimulatorProcess

    path = tmp_path / "scenario.yaml"
    path.write_text(
        "start: '2026-11-24T15:00:00Z'\n"
        "faults:\n  - {action: delay, request: snapshot, seconds: 0.25}\n"
        "events:\n  - {at: 0.5, action: refuse_connections}\n"
    )
    with SimulatorProcess(scenario=path) as proc:
        ib = connect_ib(proc.port)
        try:
            assert ib.reqCurrentTime().year == 2026
            started = time.monotonic()
            ib.reqTickers(es(ib))
            assert time.monotonic() - started >= 0.25
            ib.sleep(0.5)
        finally:
            ib.disconnect()
        with pytest.raises(ConnectionRefusedError):
            IB().connect("127.0.0.1", proc.port, clientId=2, readonly=True, timeout=2)


def test_async_control_from_the_simulator_loop() -> None:
    import asyncio

    async def main() -> list[int]:
        async with GatewaySimulator(start="2026-11-24T15:00:00Z") as sim:
            ib = IB()
            await ib.connectAsync("127.0.0.1", sim.port, clientId=1, readonly=True, timeout=2)
            codes = errors_of(ib)
            sim.broadcast(1102)
            sim.refuse_connections()
            await asyncio.sleep(0.2)
            with pytest.raises(ConnectionRefusedError):
                await IB().connectAsync("127.0.0.1", sim.port, clientId=2, timeout=1)
            sim.accept_connections()
            await asyncio.sleep(0.05)
            other = IB()
            await other.connectAsync("127.0.0.1", sim.port, clientId=2, readonly=True, timeout=2)
            other.disconnect()
            ib.disconnect()
            return codes

    assert asyncio.run(main()) == [1102]
