"""Handshake, startup sync, server version, current time and client-id handling."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from ib_async import IB

from ib_gateway_sim import SimulatorThread
from ib_gateway_sim.testing import connect_ib


def test_connect_completes_at_once_with_server_version_178(ib_simulator: SimulatorThread) -> None:
    started = time.monotonic()
    ib = connect_ib(ib_simulator.port, client_id=5)
    try:
        assert time.monotonic() - started < 0.5  # no startup request left to time out
        assert ib.client.serverVersion() == 178
        assert ib.managedAccounts() == ["DU1234567"]
        assert ib_simulator.client_ids == [5]
    finally:
        ib.disconnect()
    names = [e.name for e in ib_simulator.journal.entries()]
    assert names[:2] == ["handshake", "start_api"]
    for request in ("positions", "account_updates", "account_updates_multi", "executions"):
        assert request in names


def test_read_write_connect_answers_order_requests_too(ib_simulator: SimulatorThread) -> None:
    ib = IB()
    started = time.monotonic()
    ib.connect("127.0.0.1", ib_simulator.port, clientId=2, readonly=False, timeout=2)
    try:
        assert time.monotonic() - started < 0.5
    finally:
        ib.disconnect()
    names = {e.name for e in ib_simulator.journal.entries()}
    assert {"open_orders", "completed_orders"} <= names


def test_current_time_is_the_simulated_clock(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    ib_simulator.clock.freeze("2027-03-01T14:30:00Z")
    assert ib_client.reqCurrentTime() == datetime(2027, 3, 1, 14, 30, tzinfo=UTC)


def test_clock_advances_in_real_time_from_start(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(start="2026-11-28T12:00:00Z")
    first = sim.clock.now()
    time.sleep(0.05)
    assert sim.clock.now() > first
    assert first.date().isoformat() == "2026-11-28"
    sim.clock.advance(3600)
    assert (sim.clock.now() - first).total_seconds() >= 3600


def test_async_api_against_in_loop_simulator() -> None:
    from ib_gateway_sim import GatewaySimulator

    async def main() -> float:
        async with GatewaySimulator(start="2026-11-24T15:00:00Z") as sim:
            ib = IB()
            await ib.connectAsync("127.0.0.1", sim.port, clientId=3, readonly=True, timeout=2)
            try:
                now = await ib.reqCurrentTimeAsync()
                return now.timestamp()
            finally:
                ib.disconnect()

    assert asyncio.run(main()) >= datetime(2026, 11, 24, 15, tzinfo=UTC).timestamp()


def test_duplicate_client_id_gets_326_then_close(ib_simulator: SimulatorThread) -> None:
    first = connect_ib(ib_simulator.port, client_id=9)
    errors: list[int] = []
    second = IB()
    second.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    try:
        started = time.monotonic()
        # As with a real gateway, ib_async does not fail fast: it waits for its timeout.
        with pytest.raises(TimeoutError):
            second.connect("127.0.0.1", ib_simulator.port, clientId=9, readonly=True, timeout=1)
        assert time.monotonic() - started >= 0.9
        assert 326 in errors
        assert first.isConnected()
        assert ib_simulator.journal.entries("start_api")[-1].outcome == "error 326"
    finally:
        first.disconnect()
        second.disconnect()


def test_client_id_is_free_again_after_disconnect(ib_simulator: SimulatorThread) -> None:
    connect_ib(ib_simulator.port, client_id=4).disconnect()
    deadline = time.monotonic() + 2
    while ib_simulator.client_ids and time.monotonic() < deadline:
        time.sleep(0.01)
    ib = connect_ib(ib_simulator.port, client_id=4)
    assert ib.isConnected()
    ib.disconnect()


def test_client_whose_versions_exclude_178_is_refused(ib_simulator: SimulatorThread) -> None:
    ib = IB()
    ib.client.MinClientVersion, ib.client.MaxClientVersion = 100, 150
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    # ib_async logs the 503 and, as with 326, only gives up at its connect timeout.
    with pytest.raises(TimeoutError):
        ib.connect("127.0.0.1", ib_simulator.port, clientId=1, readonly=True, timeout=1)
    assert codes == [503]
    assert ib_simulator.journal.entries("handshake")[-1].outcome == "refused: version"
    assert not ib_simulator.client_ids


def test_subprocess_fixture_serves_ib_async(ib_simulator_process) -> None:  # type: ignore[no-untyped-def]
    ib = connect_ib(ib_simulator_process.port)
    try:
        assert ib.client.serverVersion() == 178
        assert ib.reqCurrentTime().year == 2026
    finally:
        ib.disconnect()
