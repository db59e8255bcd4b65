"""The ground truth: a persisted JSON-lines log of every quote and bar the simulator served.

An audit compares a collector's store with this log, not with the collector's own account of
what it did. One line per served quote (a snapshot, or the first ticks and each change of a
stream) and one per served bar::

    {"kind": "quote", "sim_time": "2026-11-24T15:00:02+00:00", "symbol": "ES",
     "local_symbol": "ESZ6", "con_id": 495512563, "sec_type": "FUT", "data_type": 1,
     "request": "snapshot", "client_id": 101, "bid": 5871.25, "ask": 5871.5, "last": 5871.5,
     "close": 5860.0, "volume": 123456.0, "last_timestamp": "1795532400"}
    {"kind": "bar", "sim_time": "...", "symbol": "ES", "local_symbol": "ESZ6", "con_id": ...,
     "what": "MIDPOINT", "bar_start": "2026-11-24T14:55:00+00:00", "bar_seconds": 300,
     "open": ..., "high": ..., "low": ..., "close": ..., "volume": ...}

Price fields are the live tick ids' names (delayed ids are mapped back); a field the quote did
not carry is absent. Lines are appended and flushed one by one, so the log survives the
simulator being killed and started again on the same file (``--truth-log PATH``): the new
process appends after the old one's lines. Thread-safe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

#: tick id (live and delayed) -> field name in a quote line
TICK_FIELDS: dict[int, str] = {
    1: "bid", 2: "ask", 4: "last", 6: "high", 7: "low", 8: "volume", 9: "close", 14: "open",
    45: "last_timestamp", 66: "bid", 67: "ask", 68: "last", 72: "high", 73: "low",
    74: "volume", 75: "close", 76: "open", 88: "last_timestamp",
}  # fmt: skip


class TruthLog:
    """Appends ground-truth lines to ``path`` (created with its directory if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self.lines_written = 0

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True)
        with self._lock:
            if self._file is None:
                return
            self._file.write(line + "\n")
            # Flushed per line: a killed process leaves every served value in the file.
            self._file.flush()
            self.lines_written += 1

    def quote(
        self, *, sim_time: datetime, contract: Any, data_type: int, request: str,
        client_id: int | None, ticks: Iterable[Any],
    ) -> None:
        """One served quote; ``ticks`` are :class:`~.market_data.Tick` (``tick_type``, ``value``)."""
        record = _contract_fields("quote", sim_time, contract)
        record.update(data_type=data_type, request=request, client_id=client_id)
        for tick in ticks:
            name = TICK_FIELDS.get(tick.tick_type)
            if name is not None:
                record[name] = tick.value
        self._write(record)

    def bars(
        self, *, sim_time: datetime, contract: Any, what: str, bar_seconds: int,
        bars: Iterable[Any],
    ) -> None:
        """The bars of one historical answer, one line each (:class:`~.bars.Bar`)."""
        for bar in bars:
            record = _contract_fields("bar", sim_time, contract)
            record.update(
                what=what, bar_start=bar.start.isoformat(), bar_seconds=bar_seconds,
                open=bar.open, high=bar.high, low=bar.low, close=bar.close, volume=bar.volume,
            )  # fmt: skip
            self._write(record)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _contract_fields(kind: str, sim_time: datetime, contract: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "sim_time": sim_time.isoformat(),
        "symbol": contract.symbol,
        "local_symbol": contract.local_symbol,
        "con_id": contract.con_id,
        "sec_type": contract.sec_type,
    }


def read_truth(path: str | Path, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """The lines of a ground-truth log, oldest first (only ``kind`` lines when given).

    A last line cut short by a killed process is skipped; any other bad line raises
    ``ValueError`` naming the file and the line number.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        lines = fh.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                return
            raise ValueError(f"{path}:{number}: not a ground-truth line: {exc}") from exc
        if kind is None or record.get("kind") == kind:
            yield record
