"""The pacing ledger in an SQLite file: every process of one host shares it.

A reservation is one ``BEGIN IMMEDIATE`` transaction: SQLite takes the database's write lock
at ``BEGIN``, so no other process reads the bookings between our read and our append (a
plain ``BEGIN`` would let two processes read the same state and book the same instant).
Other processes wait for the lock (``timeout``), they are not refused.

Times are wall-clock ``time.time()``: processes share no monotonic clock, and on one host
they all read the same wall clock. A step of that clock (NTP) can only make a booking later
(a booking is never before the last one), never too early by more than the step.

SQLite's locking is unreliable on network file systems (NFS, SMB): keep the file on a local
disk, and use the PostgreSQL or Redis ledger across hosts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ib_futures.core.pacing import Booking, PacingLimits, RequestKey, Reservation, book, within

FILE_NAME = "history_pacing.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bookings (ledger TEXT NOT NULL, at REAL NOT NULL, "
    "identity TEXT NOT NULL, contract TEXT NOT NULL, weight INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS bookings_at ON bookings (ledger, at)",
)


def default_ledger_path() -> Path:
    """The first of: the client-id lease folder ``$IB_FUTURES_LEASE_DIR`` (host-wide IB
    state, which the compose stack shares between its worker containers); ``$AIRFLOW_HOME/
    ib-futures/`` (every task of a deployment sees one home, and a test session's throw-away
    home keeps concurrent sessions apart); a per-user folder under the system temp dir."""
    lease_dir = os.environ.get("IB_FUTURES_LEASE_DIR")
    if lease_dir:
        return Path(lease_dir).expanduser() / FILE_NAME
    home = os.environ.get("AIRFLOW_HOME")
    if home:
        return Path(home).expanduser() / "ib-futures" / FILE_NAME
    return Path(tempfile.gettempdir()) / f"ib-futures-pacing-{os.getuid()}" / FILE_NAME


def ledger_file(path: str | Path | None) -> Path:
    """The SQLite file for ``path``: a directory (existing, or written with a trailing
    slash) holds :data:`FILE_NAME`; anything else is the file itself."""
    if path is None:
        return default_ledger_path()
    text = str(path)
    p = Path(text).expanduser()
    if p.is_dir() or text.endswith(("/", os.sep)):
        return p / FILE_NAME
    return p


class FileLedger:
    """Bookings in an SQLite file (see the module docstring).

    :param path: the file, or a directory for it (:func:`ledger_file`).
    :param name: the ledger's name inside the file (one per IB account).
    :param timeout: seconds to wait for another process's reservation to finish.
    :param clock: wall-clock seconds (injectable for tests).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        name: str = "default",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = ledger_file(path)
        self.name = name
        self.timeout = timeout
        self._clock = clock

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``: committed on success, else rolled back.

        A fresh connection per reservation: reservations are rare, and a connection never
        crosses a fork (Airflow's task runner forks).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    conn.execute(statement)
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _recent(self, conn: sqlite3.Connection, now: float, limits: PacingLimits) -> list[Booking]:
        conn.execute(
            "DELETE FROM bookings WHERE ledger = ? AND at < ?", (self.name, now - limits.horizon_s)
        )
        rows = conn.execute(
            "SELECT at, identity, contract, weight FROM bookings WHERE ledger = ? ORDER BY at",
            (self.name,),
        ).fetchall()
        return [Booking(float(at), identity, contract, int(w)) for at, identity, contract, w in rows]

    def reserve(
        self, key: RequestKey, limits: PacingLimits, max_wait: float | None = None
    ) -> Reservation:
        with self._locked() as conn:
            now = self._clock()
            booking = book(self._recent(conn, now, limits), key, now, limits)
            if not within(booking, now, max_wait):
                return Reservation(booking.at, now, booked=False)
            conn.execute(
                "INSERT INTO bookings (ledger, at, identity, contract, weight) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.name, booking.at, booking.identity, booking.contract, booking.weight),
            )
        return Reservation(booking.at, now)

    def booked(self, limits: PacingLimits) -> int:
        with self._locked() as conn:
            return len(self._recent(conn, self._clock(), limits))
