import asyncio
import random
import threading

import pytest

from ib_futures.core.pacing import (
    Booking,
    HistoricalPacer,
    InProcessLedger,
    PacingLimits,
    RequestKey,
    book,
    default_pacer,
    earliest_send,
)
from support.pacing import violations


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


# --------------------------------------------------------------------------- the pure rule

LIMITS = PacingLimits(min_gap_s=0.0, margin_s=0.0)


def at(t: float, k: RequestKey) -> Booking:
    return Booking.of(k, t)


def test_earliest_send_with_nothing_booked_is_now():
    assert earliest_send([], key(), 5.0, PacingLimits()) == 5.0


def test_earliest_send_identical_within_15s():
    events = [at(100.0, key())]
    assert earliest_send(events, key(), 105.0, LIMITS) == pytest.approx(115.0)
    assert earliest_send(events, key(end="other"), 105.0, LIMITS) == 105.0
    with_margin = PacingLimits(min_gap_s=0.0, margin_s=0.5)
    assert earliest_send(events, key(), 105.0, with_margin) == pytest.approx(115.5)


def test_earliest_send_same_contract_counts_bid_ask_twice():
    limits = PacingLimits(min_gap_s=0.0, margin_s=0.0, identical_gap_s=0.0)
    bid_ask = [at(10.0, key(end="a", what="BID_ASK")), at(10.5, key(end="b", what="BID_ASK"))]
    # 2 + 2 + 2 > 5: the third waits until the first is 2 s old
    assert earliest_send(bid_ask, key(end="c", what="BID_ASK"), 11.0, limits) == 12.0
    # another tick type is another group: TRADES goes at once
    assert earliest_send(bid_ask, key(end="c"), 11.0, limits) == 11.0
    trades = [at(10.0 + i / 10, key(end=str(i))) for i in range(4)]
    assert earliest_send(trades, key(end="x"), 11.0, limits) == 11.0  # the 5th fits
    full = [*trades, at(10.9, key(end="4"))]
    assert earliest_send(full, key(end="x"), 11.0, limits) == pytest.approx(12.0)  # the 6th


def test_earliest_send_sixty_per_window_and_fifo():
    limits = PacingLimits(min_gap_s=0.0, margin_s=0.0, same_contract_max=1000)
    events = [at(float(i), key(con_id=i)) for i in range(60)]
    assert earliest_send(events, key(con_id=999), 60.0, limits) == pytest.approx(600.0)
    # a booking in the future holds every later request behind it (first come, first served)
    future = [at(50.0, key(con_id=1))]
    assert earliest_send(future, key(con_id=2), 10.0, limits) == 50.0
    gap = PacingLimits(min_gap_s=2.0, margin_s=0.0)
    assert earliest_send(future, key(con_id=2), 10.0, gap) == 52.0


def test_earliest_send_ignores_order_and_bookings_beyond_the_horizon():
    rng = random.Random(7)
    limits = PacingLimits()
    pool = [key(con_id=c, what=w, end=e) for c in (1, 2) for w in ("TRADES", "BID_ASK") for e in "ab"]
    events: list[Booking] = []
    now = 0.0
    for _ in range(150):
        now += rng.uniform(0, 8)
        k = rng.choice(pool)
        events.append(book(events, k, now, limits))
    probe = rng.choice(pool)
    recent = [b for b in events if b.at >= now - limits.horizon_s]
    shuffled = events[:]
    rng.shuffle(shuffled)
    expected = earliest_send(events, probe, now, limits)
    assert earliest_send(recent, probe, now, limits) == expected
    assert earliest_send(shuffled, probe, now, limits) == expected


def test_book_sequences_never_violate_the_rules():
    rng = random.Random(11)
    limits = PacingLimits()
    pool = [key(con_id=c, what=w, end=e) for c in (1, 2, 3) for w in ("TRADES", "BID_ASK") for e in "abc"]
    events: list[Booking] = []
    booked: list[tuple[float, RequestKey]] = []
    now = 0.0
    for _ in range(200):
        now += rng.expovariate(1.0)
        k = rng.choice(pool)
        b = book(events, k, now, limits)
        assert b.at >= now and (not events or b.at >= events[-1].at)
        events.append(b)
        booked.append((b.at, k))
    assert violations(booked, limits) == []


def test_book_refuses_a_request_heavier_than_the_limits():
    # PacingLimits refuses a maximum below 2 itself; force one past it to reach book's check.
    limits = PacingLimits()
    object.__setattr__(limits, "same_contract_max", 1)
    with pytest.raises(ValueError, match="weight 2 exceeds"):
        book([], key(what="BID_ASK"), 0.0, limits)


def test_request_identity_and_contract_strings():
    assert key().identity == key().identity
    assert key().identity != key(end="x").identity
    assert key().contract == key(end="x").contract
    assert key(what="trades").contract == key(what="TRADES").contract
    assert key(what="trades").identity != key(what="TRADES").identity  # as dataclass equality
    assert RequestKey(1).identity != RequestKey("1").identity


def test_limits_horizon_and_validation():
    assert PacingLimits().horizon_s == 600.5
    assert PacingLimits(window_s=1, identical_gap_s=3, min_gap_s=4, margin_s=0).horizon_s == 4
    with pytest.raises(ValueError):
        PacingLimits(same_contract_max=1)
    with pytest.raises(ValueError):
        PacingLimits(margin_s=-0.1)


def test_pacer_uses_the_ledger_it_is_given():
    clock = FakeClock()
    ledger = InProcessLedger(clock)
    a, b = HistoricalPacer(ledger=ledger), HistoricalPacer(ledger=ledger)
    assert a.reserve(key(con_id=1)) == 0.0
    assert b.reserve(key(con_id=2)) == pytest.approx(2.0)  # the other pacer's booking counts
    assert a.booked() == b.booked() == 2
    assert HistoricalPacer(limits=LIMITS).limits is LIMITS
