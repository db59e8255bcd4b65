"""The ground-truth log: every served quote and bar, kept across a killed simulator process;
no fresh quote while the market is closed; notices (1100/1101/1102) injected on a request."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest
from ib_async import IB, Future, Stock

from ib_gateway_sim import SimulatorProcess, SimulatorThread
from ib_gateway_sim.testing import connect_ib
from ib_gateway_sim.truth import read_truth


def served(ib: IB) -> tuple[float, float]:
    [es] = ib.qualifyContracts(Future("ES", "202612", "CME"))
    [ticker] = ib.reqTickers(es)
    bars = ib.reqHistoricalData(es, "", "900 S", "5 mins", "MIDPOINT", useRTH=False, timeout=5)
    assert bars
    return ticker.bid, bars[-1].close


def test_the_log_holds_what_was_served_and_survives_a_kill(tmp_path: Path) -> None:
    log = tmp_path / "truth" / "served.jsonl"
    first = SimulatorProcess(start="2026-11-24T15:00:00Z", seed=5, truth_log=log).start()
    try:
        ib = connect_ib(first.port, client_id=7, timeout=5, request_timeout=5)
        bid_before, bar_close = served(ib)
        ib.disconnect()
    finally:
        first.kill()  # SIGKILL: no clean shutdown, the lines must already be in the file
    with SimulatorProcess(start="2026-11-25T15:00:00Z", seed=5, truth_log=log) as second:
        ib = connect_ib(second.port, client_id=7, timeout=5, request_timeout=5)
        bid_after, _ = served(ib)
        ib.disconnect()
    quotes = list(read_truth(log, "quote"))
    assert [q["bid"] for q in quotes] == [bid_before, bid_after]
    assert [datetime.fromisoformat(q["sim_time"]).day for q in quotes] == [24, 25]
    assert {(q["symbol"], q["local_symbol"], q["data_type"]) for q in quotes} == {("ES", "ESZ6", 1)}
    bars = list(read_truth(log, "bar"))
    assert bars and all(b["what"] == "MIDPOINT" and b["bar_seconds"] == 300 for b in bars)
    assert bar_close in [b["close"] for b in bars if b["sim_time"].startswith("2026-11-24")]


def test_a_closed_market_is_served_no_fresh_quote(tmp_path: Path) -> None:
    log = tmp_path / "served.jsonl"
    # Thanksgiving 2026, 15:00 ET: Globex closed since 13:00 ET, NYSE closed all day.
    with SimulatorThread(start="2026-11-26T20:00:00Z", seed=5, frozen=True, truth_log=log) as sim:
        ib = connect_ib(sim.port)
        [es] = ib.qualifyContracts(Future("ES", "202612", "CME"))
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD", primaryExchange="ARCA"))
        tickers = ib.reqTickers(es, spy)
        ib.disconnect()
    assert all(math.isnan(t.bid) and math.isnan(t.ask) for t in tickers)
    quotes = list(read_truth(log, "quote"))
    assert {q["symbol"] for q in quotes} == {"ES", "SPY"}
    assert all("bid" not in q and "ask" not in q and "last" not in q for q in quotes)


def test_a_notice_arrives_with_the_request_and_the_request_is_answered(
    ib_simulator: SimulatorThread, ib_client: IB
) -> None:
    codes: list[int] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    ib_simulator.faults.notice(1100, "current_time")
    ib_simulator.faults.notice(1102, "current_time")
    assert ib_client.reqCurrentTime() is not None
    ib_client.sleep(0.2)
    assert codes == [1100, 1102]


def test_read_truth_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "served.jsonl"
    path.write_text('{"kind": "quote"}\nnot json\n{"kind": "bar"}\n')
    with pytest.raises(ValueError, match=r"served.jsonl:2"):
        list(read_truth(path))
    path.write_text('{"kind": "quote"}\n{"kind": "ba')  # cut short by a kill: skipped
    assert [r["kind"] for r in read_truth(path)] == ["quote"]


def test_client_peers_name_the_connected_sockets(ib_simulator: SimulatorThread, ib_client: IB) -> None:
    [(host, port)] = ib_simulator.client_peers()
    sock = ib_client.client.conn.transport.get_extra_info("sockname")  # type: ignore[union-attr]
    assert (host, port) == (sock[0], sock[1])
