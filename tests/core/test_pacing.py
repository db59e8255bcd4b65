import asyncio
import threading

import pytest

from ib_futures.core.pacing import HistoricalPacer, RequestKey, default_pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def key(con_id: int = 1, what: str = "TRADES", end: str = "", duration: str = "1 D") -> RequestKey:
    return RequestKey(con_id, "CME", what, "5 mins", duration, end)


def bare(clock: FakeClock, **kw) -> HistoricalPacer:
    """A pacer with only the rule under test (no global gap, no margin)."""
    return HistoricalPacer(clock, **{"min_gap_s": 0.0, "margin_s": 0.0, **kw})


def test_first_request_goes_at_once():
    clock = FakeClock()
    assert HistoricalPacer(clock).reserve(key()) == 0.0


def test_identical_request_waits_15s():
    clock = FakeClock()
    p = bare(clock)
    assert p.reserve(key()) == 0.0
    clock.now += 5
    assert p.reserve(key()) == pytest.approx(10.0)
    # a different request (other end time) for the same contract is not identical
    p2 = bare(FakeClock())
    p2.reserve(key(end="a"))
    assert p2.reserve(key(end="b")) == 0.0


def test_six_for_one_contract_within_2s_is_prevented():
    clock = FakeClock()
    p = bare(clock, identical_gap_s=0.0)
    waits = [p.reserve(key(end=str(i))) for i in range(5)]
    assert waits == [0.0] * 5
    assert p.reserve(key(end="5")) == pytest.approx(2.0)  # the 6th waits for the 1st to age
    # another contract is not held up by it
    assert p.reserve(key(con_id=2)) >= 2.0  # FIFO: never jumps ahead of a booked request


def test_sixty_per_ten_minutes():
    clock = FakeClock()
    p = bare(clock, same_contract_max=1000)
    for i in range(60):
        assert p.reserve(key(con_id=i)) == 0.0
    assert p.reserve(key(con_id=99)) == pytest.approx(600.0)
    clock.now += 600
    assert p.reserve(key(con_id=100)) == pytest.approx(0.0)


def test_bid_ask_counts_twice():
    clock = FakeClock()
    p = bare(clock, same_contract_max=1000)
    for i in range(30):
        p.reserve(key(con_id=i, what="BID_ASK"))
    assert p.reserve(key(con_id=99)) == pytest.approx(600.0)
    assert key(what="bid_ask").weight == 2 and key().weight == 1
    clock2 = FakeClock()
    p2 = bare(clock2, identical_gap_s=0.0)
    for i in range(2):
        p2.reserve(key(what="BID_ASK", end=str(i)))
    assert p2.reserve(key(what="BID_ASK", end="x")) == pytest.approx(2.0)  # 2+2+2 > 5


def test_default_gap_and_margin_are_conservative():
    clock = FakeClock()
    p = HistoricalPacer(clock)
    assert p.reserve(key(con_id=1)) == 0.0
    assert p.reserve(key(con_id=2)) == pytest.approx(2.0)
    assert p.reserve(key(con_id=1)) == pytest.approx(15.5)  # identical: 15 s + 0.5 s margin


def test_acquire_sleeps_and_waits_add_up():
    clock = FakeClock()
    p = HistoricalPacer(clock)
    waited = [p.acquire(key(con_id=i), sleep=clock.sleep) for i in range(3)]
    assert waited == [0.0, pytest.approx(2.0), pytest.approx(2.0)]
    assert clock.now == pytest.approx(1004.0)


def test_acquire_async():
    p = HistoricalPacer(FakeClock(), min_gap_s=0.01)
    waits = asyncio.run(_two(p))
    assert waits[0] == 0.0 and waits[1] == pytest.approx(0.01)


async def _two(p: HistoricalPacer) -> list[float]:
    return [await p.acquire_async(key(con_id=1)), await p.acquire_async(key(con_id=2))]


def test_old_requests_are_forgotten():
    clock = FakeClock()
    p = HistoricalPacer(clock)
    for i in range(3):
        p.acquire(key(con_id=i), sleep=clock.sleep)
    clock.now += 700
    assert p.booked() == 0


def test_thread_safe_reservations_never_violate_the_window():
    clock = FakeClock()
    p = bare(clock, same_contract_max=1000, identical_gap_s=0.0)
    booked: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(50):
            w = p.reserve(key(con_id=n * 100 + i))
            with lock:
                booked.append(clock.now + w)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked.sort()
    assert len(booked) == 200
    for i in range(len(booked) - 60):
        assert booked[i + 60] - booked[i] >= 600.0


def test_invalid_settings():
    with pytest.raises(ValueError):
        HistoricalPacer(max_requests=1)
    with pytest.raises(ValueError):
        HistoricalPacer(min_gap_s=-1)


def test_default_pacer_is_one_instance():
    assert default_pacer() is default_pacer()
