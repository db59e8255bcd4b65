"""The pacing ledger in a PostgreSQL table: Airflow workers on several hosts share it.

A reservation is one transaction that first takes ``pg_advisory_xact_lock`` on a key derived
from the ledger's name, so reservations of one ledger run one at a time whatever the
isolation level; PostgreSQL releases the lock at commit or rollback, also when the client
dies. The time is the database's ``clock_timestamp()``: one clock for every host, so skew
between worker clocks cannot let two hosts book too close together; each host only sleeps
the returned wait on its own clock.

The table (``ib_futures_history_pacing`` by default) is created on first use, in its own
transaction under a second advisory lock (concurrent ``CREATE TABLE IF NOT EXISTS`` can fail
on PostgreSQL's catalog).
The connection comes from a ``connect`` function returning a DB-API connection of psycopg 3
or psycopg2 (both speak ``%s`` parameters); it is opened per reservation and closed after.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from typing import Any

from ib_futures.core.pacing import Booking, PacingLimits, RequestKey, Reservation, book, within

DEFAULT_TABLE = "ib_futures_history_pacing"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def advisory_key(text: str) -> int:
    """A stable signed 64-bit lock key for ``text`` (the same in every process and host)."""
    digest = hashlib.sha256(f"ib_futures.history_pacing:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLedger:
    """Bookings in a PostgreSQL table (see the module docstring).

    :param connect: returns a new DB-API connection (psycopg or psycopg2), not in autocommit.
    :param name: the ledger's name (one per IB account); rows carry it.
    :param table: the table's name (created if missing).
    """

    def __init__(
        self, connect: Callable[[], Any], *, name: str = "default", table: str = DEFAULT_TABLE
    ) -> None:
        if not _IDENTIFIER.match(table):
            raise ValueError(f"table: expected a lower-case SQL identifier, got {table!r}")
        self._connect = connect
        self.name = name
        self.table = table
        self._ready = False

    def _ensure_table(self, conn: Any) -> None:
        """Create the table once, in a transaction of its own.

        Never inside a reservation: ``CREATE INDEX IF NOT EXISTS`` takes a share lock on the
        table even when the index exists, and queued behind it, reservations deadlock.
        """
        if self._ready:
            return
        with contextlib.closing(conn.cursor()) as cur:
            cur.execute("SELECT to_regclass(%s) IS NULL", (self.table,))
            if cur.fetchone()[0]:
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (advisory_key(f"ddl:{self.table}"),)
                )
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} (ledger text NOT NULL, "
                    "at double precision NOT NULL, identity text NOT NULL, "
                    "contract text NOT NULL, weight integer NOT NULL)"
                )
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_at ON {self.table} (ledger, at)"
                )
        conn.commit()
        self._ready = True

    def _recent(self, cur: Any, limits: PacingLimits) -> tuple[float, list[Booking]]:
        """Lock the ledger, prune it, read it; returns the database's now and the bookings."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(self.name),))
        # extract() gives numeric (a Decimal in Python) since PostgreSQL 14: cast to float.
        cur.execute("SELECT extract(epoch FROM clock_timestamp())::double precision")
        now = float(cur.fetchone()[0])
        cur.execute(
            f"DELETE FROM {self.table} WHERE ledger = %s AND at < %s",
            (self.name, now - limits.horizon_s),
        )
        cur.execute(
            f"SELECT at, identity, contract, weight FROM {self.table} "
            "WHERE ledger = %s ORDER BY at",
            (self.name,),
        )
        rows = cur.fetchall()
        return now, [Booking(float(at), ident, contract, int(w)) for at, ident, contract, w in rows]

    def _transaction(self, work: Callable[[Any], Any]) -> Any:
        conn = self._connect()
        try:
            self._ensure_table(conn)
            with contextlib.closing(conn.cursor()) as cur:
                result = work(cur)
            conn.commit()
            return result
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        def work(cur: Any) -> Reservation:
            now, events = self._recent(cur, limits)
            booking = book(events, key, now, limits)
            if not within(booking, now, max_wait):
                return Reservation(booking.at, now, booked=False)
            cur.execute(
                f"INSERT INTO {self.table} (ledger, at, identity, contract, weight) "
                "VALUES (%s, %s, %s, %s, %s)",
                (self.name, booking.at, booking.identity, booking.contract, booking.weight),
            )
            return Reservation(booking.at, now)

        result: Reservation = self._transaction(work)
        return result

    def booked(self, limits: PacingLimits) -> int:
        return int(self._transaction(lambda cur: len(self._recent(cur, limits)[1])))
