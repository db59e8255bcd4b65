"""A journal of every request the simulator received, for assertions in tests.

Each entry records the message id and name, the raw decoded fields, the client id, the request
id and symbol where the request has them, the simulated and wall-clock times, and the outcome
(``answered``, ``error 162``, ``hung``, ``dropped``, ...). Thread-safe: the simulator writes from
its event-loop thread while tests read from theirs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class JournalEntry:
    seq: int
    sim_time: datetime
    wall_time: float
    session_id: int
    client_id: int | None
    msg_id: int
    name: str
    fields: tuple[str, ...]
    req_id: int | None = None
    symbol: str | None = None
    outcome: str = "received"
    detail: str = ""


@dataclass
class Journal:
    """Append-only request log with simple filters."""

    _entries: list[JournalEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, *, sim_time: datetime, session_id: int, client_id: int | None, msg_id: int,
        name: str, fields: list[str] | tuple[str, ...], outcome: str = "received",
    ) -> JournalEntry:
        with self._lock:
            entry = JournalEntry(
                len(self._entries) + 1, sim_time, time.time(), session_id, client_id, msg_id,
                name, tuple(fields), outcome=outcome,
            )
            self._entries.append(entry)
            return entry

    def entries(
        self, name: str | None = None, *, client_id: int | None = None, msg_id: int | None = None,
        symbol: str | None = None,
    ) -> list[JournalEntry]:
        """Entries matching every filter given, oldest first (a copy)."""
        with self._lock:
            return [
                e for e in self._entries
                if (name is None or e.name == name)
                and (client_id is None or e.client_id == client_id)
                and (msg_id is None or e.msg_id == msg_id)
                and (symbol is None or e.symbol == symbol)
            ]

    def names(self) -> list[str]:
        with self._lock:
            return [e.name for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
