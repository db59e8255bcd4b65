"""The shared pacing ledgers (file, PostgreSQL, Redis) on real stores.

The central test: several processes reserve at once, back to back, through one ledger, and
the send times they were given, merged, break none of IB's rules (checked by brute force in
``support.pacing.violations``, independently of ``core.pacing``). Nothing sleeps: bookings
lie in the future, so the real limits (60 per 10 minutes, ...) are tested in a second.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from ib_futures.core.pacing import PacingLimits, RequestKey
from ib_futures.ledgers import make_pacer
from ib_futures.ledgers.file_ledger import FILE_NAME, FileLedger, default_ledger_path, ledger_file
from support.pacing import pacer_from_spec, reserve_worker, run_processes, violations

PROCESSES = 4
PER_PROCESS = 15
POOL = [
    RequestKey(con_id, "CME", what, "5 mins", "1 D", end)
    for con_id in (1, 2)
    for what in ("TRADES", "MIDPOINT", "BID_ASK")
    for end in ("20261124 15:00:00 UTC", "20261124 14:00:00 UTC")
]
SMALL = PacingLimits(
    max_requests=4, window_s=0.3, identical_gap_s=0.2, same_contract_max=3,
    same_contract_window_s=0.1, min_gap_s=0.01, margin_s=0.0,
)  # fmt: skip


def keys_for(n: int) -> list[dict[str, Any]]:
    rng = random.Random(n)
    return [asdict(rng.choice(POOL)) for _ in range(PER_PROCESS)]


def reserve_concurrently(
    spec: dict[str, Any], limits: PacingLimits
) -> list[tuple[float, RequestKey, int]]:
    """(send time, request, process number) of every booking, in booking-time order."""
    args = [(spec, asdict(limits), keys_for(n)) for n in range(PROCESSES)]
    results = run_processes(reserve_worker, args)
    return sorted((at, RequestKey(**k), n) for n, got in enumerate(results) for at, k in got)


def switches(booked: list[tuple[float, RequestKey, int]]) -> int:
    """How often consecutive bookings come from different processes (0: no overlap)."""
    return sum(1 for a, b in itertools.pairwise(booked) if a[2] != b[2])


def test_concurrent_processes_book_within_every_rule(ledger_spec):
    limits = PacingLimits()  # IB's own, with the 2 s gap and the 0.5 s margin
    booked = reserve_concurrently(ledger_spec, limits)
    assert len(booked) == PROCESSES * PER_PROCESS
    assert violations([(at, key) for at, key, _ in booked], limits) == []
    # the processes really ran at the same time: their bookings interleave
    assert switches(booked) >= PROCESSES
    # the rules were exercised: weights beyond 60 pushed bookings past the 10-minute window
    assert booked[-1][0] - booked[0][0] > limits.window_s


def test_separate_ledgers_break_the_rules():
    """The negative control: a ledger per process (what ``process`` is) books the same
    instants in every process, so the checker above can see a race."""
    booked = reserve_concurrently({"kind": "process"}, PacingLimits())
    assert violations([(at, key) for at, key, _ in booked], PacingLimits()) != []


def test_one_ledger_paces_identical_requests_and_forgets_old_ones(ledger_spec):
    small = pacer_from_spec(ledger_spec, SMALL)
    small.reserve(POOL[1])
    small.reserve(POOL[2])
    assert small.booked() == 2
    time.sleep(SMALL.horizon_s + 0.05)
    small.reserve(POOL[3])  # prunes what lies beyond the horizon
    assert small.booked() == 1

    pacer = pacer_from_spec(ledger_spec, PacingLimits())
    first = pacer.ledger.reserve(POOL[0], pacer.limits)
    again = pacer.ledger.reserve(POOL[0], pacer.limits)
    assert first.wait < 2.0  # at most the global gap after POOL[3]
    assert again.at - first.at == pytest.approx(15.5)  # 15 s + 0.5 s margin
    assert again.wait == pytest.approx(again.at - again.now)
    assert pacer.booked() == 3


def test_a_failed_booking_leaves_the_ledger_usable(ledger_spec):
    pacer = pacer_from_spec(ledger_spec, SMALL)
    heavy = PacingLimits()
    object.__setattr__(heavy, "same_contract_max", 1)  # past PacingLimits' own check
    with pytest.raises(ValueError, match="exceeds"):
        pacer.ledger.reserve(POOL[-1], heavy)  # BID_ASK weighs 2
    assert pacer.reserve(POOL[0]) < 1.0
    assert pacer.booked() == 1


def test_ledgers_with_different_names_are_independent(ledger_spec):
    from ib_futures.ledgers import LEDGER_KINDS

    assert "file" in LEDGER_KINDS
    if ledger_spec["kind"] == "redis":
        import redis

        from ib_futures.core.pacing import HistoricalPacer
        from ib_futures.ledgers.redis_ledger import RedisLedger

        def pacer(name: str) -> HistoricalPacer:
            client = redis.Redis.from_url(ledger_spec["url"])
            ledger = RedisLedger(lambda: client, name=name, prefix=ledger_spec["prefix"])
            return HistoricalPacer(ledger=ledger)

        a, b = pacer("account-a"), pacer("account-b")
    else:
        kind = ledger_spec["kind"]
        extra: dict[str, Any] = {"path": ledger_spec.get("path")}
        if kind == "postgres":
            import functools

            import psycopg

            extra = {"connect": functools.partial(psycopg.connect, ledger_spec["dsn"])}
        a = make_pacer(kind, name="account-a", **extra)
        b = make_pacer(kind, name="account-b", **extra)
    assert a.reserve(POOL[0]) == 0.0
    assert b.reserve(POOL[0]) == 0.0  # another account: not identical for IB
    assert a.reserve(POOL[0]) > 15.0


# --------------------------------------------------------------------------- file specifics


def test_file_ledger_path_is_a_file_or_a_directory(tmp_path: Path):
    assert ledger_file(tmp_path) == tmp_path / FILE_NAME
    assert ledger_file(f"{tmp_path}/new/") == tmp_path / "new" / FILE_NAME
    assert ledger_file(tmp_path / "x.db") == tmp_path / "x.db"
    assert ledger_file(None) == default_ledger_path()


def test_file_ledger_default_path(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("IB_FUTURES_LEASE_DIR", str(tmp_path / "leases"))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / "leases" / FILE_NAME
    monkeypatch.delenv("IB_FUTURES_LEASE_DIR")
    assert default_ledger_path() == tmp_path / "ib-futures" / FILE_NAME
    monkeypatch.delenv("AIRFLOW_HOME")
    assert default_ledger_path().parent.name.startswith("ib-futures-pacing-")


def test_file_ledger_uses_its_clock_and_keeps_rows_in_sqlite(tmp_path: Path):
    now = [1000.0]
    ledger = FileLedger(tmp_path, clock=lambda: now[0])
    limits = PacingLimits()
    assert ledger.reserve(POOL[0], limits).wait == 0.0
    assert ledger.reserve(POOL[1], limits).wait == pytest.approx(2.0)
    now[0] += 700
    assert ledger.booked(limits) == 0  # pruned from the file
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM bookings").fetchone()[0] == 0


def test_file_ledger_waits_for_a_held_lock(tmp_path: Path):
    path = tmp_path / "held.sqlite3"
    FileLedger(path).booked(SMALL)  # creates the file
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        FileLedger(path, timeout=0.2).reserve(POOL[0], SMALL)
    holder.execute("ROLLBACK")
    holder.close()
    assert FileLedger(path, timeout=0.2).reserve(POOL[0], SMALL).wait == 0.0


def test_make_pacer_refuses_unknown_or_unconnected_ledgers():
    with pytest.raises(ValueError, match="needs a connect function"):
        make_pacer("postgres")
    with pytest.raises(ValueError, match="unknown ledger"):
        make_pacer("mysql")  # type: ignore[arg-type]
    assert make_pacer("process") is make_pacer("process")  # the process-wide default


def test_a_turn_beyond_max_wait_is_not_booked(ledger_spec):
    """A caller that gives up when its turn is further than ``max_wait`` leaves nothing booked
    (found by the real-scheduler soak: change-metric requests given up by one collect run after
    another had left an hour of reservations, and the gap repair queued behind all of them)."""
    limits = PacingLimits(max_requests=2, window_s=600.0, min_gap_s=0.0)
    pacer = pacer_from_spec(ledger_spec, limits)
    assert pacer.reserve(POOL[0]) == 0.0
    assert pacer.reserve(POOL[2]) == 0.0
    assert pacer.booked() == 2
    for key in POOL[4:8]:  # each would wait ~600 s: refused, not recorded
        assert pacer.reserve(key, max_wait=15.0) > 590.0
    assert pacer.booked() == 2
    assert pacer.ledger.reserve(POOL[4], limits, 15.0).booked is False
    # a caller that waits gets the same turn the refused ones were told, not one behind them
    assert 590.0 < pacer.reserve(POOL[4]) < 601.0
    assert pacer.booked() == 3
