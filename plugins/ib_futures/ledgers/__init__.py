"""Where the historical pacing ledger lives, for processes that must share it.

``core.pacing`` holds the rule and the in-process ledger; this package holds the ledgers
several processes share (stdlib, psycopg/psycopg2 and redis-py, imported lazily; no Airflow):

* :class:`~.file_ledger.FileLedger`: an SQLite file on local disk; every process of one host.
* :class:`~.postgres_ledger.PostgresLedger`: a table in PostgreSQL; workers on several hosts.
* :class:`~.redis_ledger.RedisLedger`: a sorted set in Redis; workers on several hosts.

The Airflow adapter (``ib_futures.airflow.pacing``) turns ``collection.history_pacing`` and an
Airflow connection into one of these; :func:`make_pacer` is the part that needs no Airflow.
Which to use when: docs/operations.md, "Historical request pacing".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ib_futures.core.pacing import HistoricalPacer, PacingLimits, default_pacer

LedgerKind = Literal["process", "file", "postgres", "redis"]
LEDGER_KINDS: tuple[LedgerKind, ...] = ("process", "file", "postgres", "redis")


def make_pacer(
    kind: LedgerKind,
    *,
    name: str = "default",
    path: str | Path | None = None,
    connect: Callable[[], Any] | None = None,
    limits: PacingLimits | None = None,
) -> HistoricalPacer:
    """A pacer on the ledger ``kind``.

    :param name: the ledger's name; every process sending to one IB account uses the same.
    :param path: file ledger: a file, or a directory to hold ``history_pacing.sqlite3``;
        default :func:`~.file_ledger.default_ledger_path`.
    :param connect: postgres: returns a new DB-API connection; redis: returns a redis-py
        client. Called lazily, at the first reservation.
    :param limits: IB's limits by default (tests scale them down).
    """
    if kind not in LEDGER_KINDS:
        raise ValueError(f"unknown ledger {kind!r} (one of {', '.join(LEDGER_KINDS)})")
    if kind == "process":
        return default_pacer() if limits is None else HistoricalPacer(limits=limits)
    if kind == "file":
        from ib_futures.ledgers.file_ledger import FileLedger

        return HistoricalPacer(ledger=FileLedger(path, name=name), limits=limits)
    if connect is None:
        raise ValueError(f"the {kind} ledger needs a connect function")
    if kind == "postgres":
        from ib_futures.ledgers.postgres_ledger import PostgresLedger

        return HistoricalPacer(ledger=PostgresLedger(connect, name=name), limits=limits)
    from ib_futures.ledgers.redis_ledger import RedisLedger

    return HistoricalPacer(ledger=RedisLedger(connect, name=name), limits=limits)
