"""IB's historical pacing rules (error 162), unit-level and through ib_async."""

from __future__ import annotations

from collections.abc import Callable

from ib_async import IB, Contract, Future, Stock

from ib_gateway_sim import PacingLimits, SimulatorThread
from ib_gateway_sim.pacing import HistoricalPacer
from ib_gateway_sim.testing import connect_ib

Factory = Callable[..., SimulatorThread]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_identical_request_within_15_seconds() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    assert pacer.admit("q", "c") is None
    clock.now = 14.9
    assert pacer.admit("q", "c") is not None
    clock.now = 15.0
    assert pacer.admit("q", "c") is None


def test_six_requests_for_one_contract_within_2_seconds() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(5):
        clock.now = i * 0.1
        assert pacer.admit(f"q{i}", "es") is None
    assert pacer.admit("q5", "es") is not None  # the sixth
    assert pacer.admit("q5", "nq") is None  # another contract is fine
    clock.now = 2.05
    assert pacer.admit("q6", "es") is None


def test_more_than_60_in_ten_minutes() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(60):
        clock.now = i * 3.0
        assert pacer.admit(i, i) is None
    assert pacer.admit("one more", "x") is not None
    clock.now = 600.0  # the first request leaves the window
    assert pacer.admit("one more", "x") is None


def test_disabled_pacing_admits_everything() -> None:
    pacer = HistoricalPacer(PacingLimits.disabled())
    assert all(pacer.admit("same", "same") is None for _ in range(100))


def test_identical_request_through_ib_async_gets_162(ib_client: IB, ib_simulator: SimulatorThread) -> None:
    codes: list[tuple[int, str]] = []
    ib_client.errorEvent += lambda req_id, code, msg, contract: codes.append((code, msg))
    [es] = ib_client.qualifyContracts(Future("ES", "202612", "CME"))
    assert es is not None
    first = ib_client.reqHistoricalData(es, "", "1 D", "1 hour", "TRADES", False, timeout=5)
    second = ib_client.reqHistoricalData(es, "", "1 D", "1 hour", "TRADES", False, timeout=5)
    assert len(first) > 0 and len(second) == 0
    assert codes == [(162, "Historical data request pacing violation")]
    entry = ib_simulator.journal.entries("historical_data")[-1]
    assert entry.outcome == "error 162" and "identical" in entry.detail


def _history(ib: IB, contract: Contract, duration: str) -> int:
    return len(ib.reqHistoricalData(contract, "", duration, "1 hour", "TRADES", False, timeout=5))


def test_small_limits_make_pacing_testable_fast(simulator_factory: Factory) -> None:
    """Small limits on a clock the test moves, so a loaded machine cannot stretch a window."""
    per_contract = PacingLimits(identical_window=0, same_contract_max=2, same_contract_window=5)
    overall = PacingLimits(identical_window=0, same_contract_max=100, max_requests=3, window=5)
    windowed = PacingLimits(identical_window=0, same_contract_max=1, same_contract_window=0.3)
    for limits, expected in ((per_contract, [1, 1, 0, 1]), (overall, [1, 1, 1, 0]), (windowed, [1, 0, 1, 0])):
        now = [0.0]
        sim = simulator_factory(pacing=limits)
        sim.simulator.pacer = HistoricalPacer(limits, clock=lambda now=now: now[0])
        ib = connect_ib(sim.port)
        try:
            es, spy = ib.qualifyContracts(Future("ES", "202612", "CME"), Stock("SPY", "SMART", "USD"))
            assert es is not None and spy is not None
            if limits is windowed:
                got = [_history(ib, es, "1 D"), _history(ib, es, "2 D")]
                now[0] += 0.35
                got += [_history(ib, es, "3 D"), _history(ib, es, "4 D")]
            else:
                got = [_history(ib, es, "1 D"), _history(ib, es, "2 D"), _history(ib, es, "3 D"), _history(ib, spy, "1 D")]
        finally:
            ib.disconnect()
        assert [1 if n else 0 for n in got] == expected, limits


def test_bid_ask_counts_twice_in_ten_minutes() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(30):
        clock.now = i * 3.0
        assert pacer.admit(("ba", i), i, weight=2) is None
    assert pacer.admit("trades", "x") is not None  # 30 BID_ASK are 60 requests
    clock.now = 600.0  # the first BID_ASK leaves the window: both of its counts
    assert pacer.admit("trades", "x") is None  # 59
    assert pacer.admit("bid_ask", "y", weight=2) is not None  # 59 + 2 > 60
    assert pacer.admit("trades 2", "y") is None  # 60: room for one, not for a BID_ASK
    assert pacer.admit("trades 3", "z") is not None


def test_bid_ask_counts_twice_for_one_contract() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    assert pacer.admit("ba 1", "es", weight=2) is None
    assert pacer.admit("ba 2", "es", weight=2) is None
    assert pacer.admit("ba 3", "es", weight=2) is not None  # the fifth and sixth
    assert pacer.admit("trades", "es") is None  # the fifth
    assert pacer.admit("trades 2", "es") is not None
    clock.now = 2.0
    assert pacer.admit("ba 3", "es", weight=2) is None


def test_bid_ask_counts_twice_through_ib_async(simulator_factory: Factory) -> None:
    sim = simulator_factory(pacing=PacingLimits(identical_window=0, same_contract_max=100, max_requests=3, window=60))
    ib = connect_ib(sim.port)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    try:
        [es] = ib.qualifyContracts(Future("ES", "202612", "CME"))
        assert es is not None

        def ask(what: str) -> int:
            return len(ib.reqHistoricalData(es, "", "1 D", "1 hour", what, False, timeout=5))

        got = [ask("BID_ASK"), ask("TRADES"), ask("TRADES"), ask("BID_ASK")]
    finally:
        ib.disconnect()
    assert [1 if n else 0 for n in got] == [1, 1, 0, 0]
    assert codes == [162, 162]
    details = [e.detail for e in sim.journal.entries("historical_data")[-2:]]
    assert all("more than 3 requests" in d for d in details)
