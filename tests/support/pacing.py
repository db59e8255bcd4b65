"""Helpers for the pacing-ledger tests: an independent checker, stores, and worker processes.

:func:`violations` checks booked send times against the limits by brute force, without
``core.pacing``'s own rule, so a bug in the rule cannot hide itself. The worker functions run
in spawned processes (``multiprocessing`` pickles them by name: this module is importable
there because pytest's ``pythonpath`` puts ``tests/`` on ``sys.path``, which spawn passes on).
Each process builds its ledger from a picklable *spec*: ``{"kind": "file", "path": ...}``,
``{"kind": "postgres", "dsn": ...}``, ``{"kind": "redis", "url": ..., "prefix": ...}`` or
``{"kind": "process"}`` (a ledger of its own: the negative control).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import queue
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from ib_futures.core.pacing import HistoricalPacer, PacingLimits, RequestKey

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
REDIS_URL = "redis://127.0.0.1:6379/0"
EPS = 1e-6

# --------------------------------------------------------------------------- the checker


def violations(
    booked: Sequence[tuple[float, RequestKey]], limits: PacingLimits, *, margin: bool = True
) -> list[str]:
    """Every way ``booked`` (send time, request) breaks ``limits``; empty when none does.

    With ``margin`` the windows are widened by ``limits.margin_s`` (what the pacer promises);
    without, they are IB's own (what the gateway enforces).
    """
    m = limits.margin_s if margin else 0.0
    events = sorted(booked, key=lambda e: e[0])
    found: list[str] = []
    for i, (t, key) in enumerate(events):
        earlier = events[:i]
        if i and t - earlier[-1][0] < limits.min_gap_s - EPS:
            found.append(f"gap {t - earlier[-1][0]:.3f}s before {t:.3f}")
        for u, other in earlier:
            if other.identity == key.identity and t - u < limits.identical_gap_s + m - EPS:
                found.append(f"identical {key} at {u:.3f} and {t:.3f}")
        window = [(u, o) for u, o in events[: i + 1] if t - u < limits.window_s + m - EPS]
        if sum(o.weight for _, o in window) > limits.max_requests:
            found.append(f"more than {limits.max_requests} in {limits.window_s}s ending {t:.3f}")
        same = [
            o for u, o in events[: i + 1]
            if o.contract == key.contract and t - u < limits.same_contract_window_s + m - EPS
        ]  # fmt: skip
        if sum(o.weight for o in same) > limits.same_contract_max:
            found.append(f"more than {limits.same_contract_max} for {key.contract} ending {t:.3f}")
    return found


def rate_violations(times: Sequence[float], limit: int, window: float) -> list[str]:
    """Windows of ``window`` seconds holding more than ``limit`` of ``times`` (counted as the
    simulator counts: an event leaves the window once ``window`` seconds old)."""
    ts = sorted(times)
    found: list[str] = []
    first = 0
    for last, t in enumerate(ts):
        while t - ts[first] >= window:
            first += 1
        if last - first + 1 > limit:
            found.append(f"{last - first + 1} within {window}s ending {t:.3f}")
    return found


# --------------------------------------------------------------------------- stores


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped after it; yields its DSN."""
    import psycopg

    name = f"ibf_pacing_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"host=127.0.0.1 port=5432 user=postgres dbname={name} connect_timeout=5"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    import redis

    prefix = f"ibf-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def pacer_from_spec(spec: dict[str, Any], limits: PacingLimits) -> HistoricalPacer:
    """The pacer a worker process uses, built from ``spec`` without Airflow."""
    from ib_futures.ledgers import make_pacer

    kind = spec["kind"]
    if kind == "process":
        return HistoricalPacer(limits=limits)
    if kind == "file":
        return make_pacer("file", path=spec["path"], limits=limits)
    if kind == "postgres":
        import psycopg

        connect = functools.partial(psycopg.connect, spec["dsn"])
        return make_pacer("postgres", connect=connect, limits=limits)
    if kind == "redis":
        import redis

        from ib_futures.ledgers.redis_ledger import RedisLedger

        ledger = RedisLedger(lambda: redis.Redis.from_url(spec["url"]), prefix=spec["prefix"])
        return HistoricalPacer(ledger=ledger, limits=limits)
    raise ValueError(kind)


# --------------------------------------------------------------------------- processes


def run_processes(target: Callable[..., Any], args_per_process: Sequence[tuple[Any, ...]],
                  timeout: float = 120.0) -> list[Any]:  # fmt: skip
    """Run ``target(barrier, results, *args)`` in one spawned process per args tuple, all
    released together by a barrier; return what each put on ``results``, in process order."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_per_process))
    results = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(barrier, results, n, *args), daemon=True)
        for n, args in enumerate(args_per_process)
    ]
    for p in procs:
        p.start()
    out: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(out) < len(procs):
            n, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(value, BaseException):
                raise AssertionError(f"worker {n} failed") from value
            out[n] = value
    except queue.Empty:
        raise AssertionError(f"workers timed out; got {sorted(out)}") from None
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    return [out[n] for n in range(len(procs))]


def reserve_worker(barrier: Any, results: Any, n: int, spec: dict[str, Any],
                   limits: dict[str, Any], keys: list[dict[str, Any]]) -> None:  # fmt: skip
    """Reserve every key, without waiting for the send times; report (send time, key).

    A pause of up to 3 ms between reservations lets the other processes in: SQLite's lock is
    not fair, and a process that just committed would otherwise often take it straight back.
    """
    try:
        pacer = pacer_from_spec(spec, PacingLimits(**limits))
        requests = [RequestKey(**k) for k in keys]
        rng = random.Random(n)
        barrier.wait(timeout=60)
        booked = []
        for key in requests:
            reservation = pacer.ledger.reserve(key, pacer.limits)
            booked.append((reservation.at, asdict(key)))
            time.sleep(rng.uniform(0, 0.003))
        results.put((n, booked))
    except BaseException as exc:
        results.put((n, exc))


def history_worker(barrier: Any, results: Any, n: int, spec: dict[str, Any], port: int,
                   limits: dict[str, Any], plan: list[tuple[str, str, int]]) -> None:  # fmt: skip
    """Connect to the simulator as client ``50 + n``, then request history for each
    ``(symbol, what_to_show, minutes before the slot)`` of ``plan`` through the product's
    ``recent_closes``; report each outcome ("ok" or the error) in order."""
    try:
        pacer = pacer_from_spec(spec, PacingLimits(**limits))
        results.put((n, asyncio.run(_history(barrier, port, 50 + n, pacer, plan))))
    except BaseException as exc:
        results.put((n, exc))


async def _history(barrier: Any, port: int, client_id: int, pacer: HistoricalPacer,
                   plan: list[tuple[str, str, int]]) -> list[str]:  # fmt: skip
    from datetime import UTC, date, datetime, timedelta

    from ib_futures.core.config import load_config
    from ib_futures.core.contracts import RollRule
    from ib_futures.core.instruments import select_instruments
    from ib_futures.ib.contracts import resolve_all
    from ib_futures.ib.gateway import connect_gateway
    from ib_futures.ib.history import HistoryUnavailable, recent_closes
    from ib_futures.ib.settings import GatewaySettings

    slot = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    settings = GatewaySettings(port=port, client_id=client_id, connect_timeout=5,
                               request_timeout=5, disconnect_pause=0.0)  # fmt: skip
    symbols = sorted({symbol for symbol, _, _ in plan})
    instruments = select_instruments(load_config(), symbols)
    async with connect_gateway(settings, lease_dir=None) as gw:
        resolved, failed = await resolve_all(gw, instruments, date(2026, 11, 24), RollRule())
        assert not failed, failed
        await asyncio.to_thread(barrier.wait, 60)

        async def one(symbol: str, what: str, minutes: int) -> str:
            end = slot - timedelta(minutes=minutes)
            try:
                await recent_closes(gw, resolved[symbol], end, duration="1 D",
                                    what_to_show=what, pacer=pacer)  # fmt: skip
                return "ok"
            except (HistoryUnavailable, TimeoutError) as exc:
                return str(exc) or repr(exc)

        # All at once, as the collector's gather does: the pacer alone spaces them.
        return list(await asyncio.gather(*(one(*step) for step in plan)))
