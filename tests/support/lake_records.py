"""Snapshot records as the collector sends them (docs/architecture.md), and test workers.

A plain module (not a conftest) so that multiprocessing children can import it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

INSTRUMENTS: dict[str, tuple[str, float]] = {
    "ES": ("FUT", 6000.0),
    "NQ": ("FUT", 21000.0),
    "RTY": ("FUT", 2300.0),
    "SPY": ("ETF", 600.0),
    "QQQ": ("ETF", 510.0),
    "IWM": ("ETF", 230.0),
}


def make_record(
    symbol: str, slot: datetime, price: float | None = None, **over: Any
) -> dict[str, Any]:
    asset_class, base = INSTRUMENTS.get(symbol, ("FUT", 100.0))
    mid = base if price is None else price
    fut = asset_class == "FUT"
    slot = slot.astimezone(UTC)
    rec: dict[str, Any] = {
        "symbol": symbol,
        "asset_class": asset_class,
        "bucket_ts": slot.isoformat(),
        "bucket_date": slot.date().isoformat(),
        "quote_ts": (slot - timedelta(seconds=2)).isoformat(),
        "last_trade_ts": (slot - timedelta(seconds=5)).isoformat(),
        "collected_ts": (slot + timedelta(seconds=3)).isoformat(),
        "con_id": 495512563 if fut else 756733,
        "local_symbol": f"{symbol}Z6" if fut else symbol,
        "expiry": "2026-12-18" if fut else None,
        "exchange": "CME" if fut else "SMART",
        "currency": "USD",
        "bid": mid - 0.125,
        "ask": mid + 0.125,
        "last": mid,
        "bid_size": 10.0,
        "ask_size": 12.0,
        "last_size": 1.0,
        "volume": 123456.0,
        "open_interest": 2_000_000.0 if fut else None,
        "open": base,
        "high": base * 1.01,
        "low": base * 0.99,
        "close": base,
        "price": mid,
        "crossed": False,
        "market_data_type": 1,
        "change_1h": 0.001,
        "change_4h": None,
        "change_overnight": None,
        "change_daily": -0.002,
        "change_source": "lake",
    }
    rec.update(over)
    return rec


def make_batch(
    slot: datetime, symbols: tuple[str, ...] = tuple(INSTRUMENTS), step: float = 0.0
) -> list[dict[str, Any]]:
    """One record per symbol for one slot (prices shifted by ``step``)."""
    return [make_record(s, slot, INSTRUMENTS[s][1] + step) for s in symbols]


def write_slots_worker(
    lake_uri: str, start_iso: str, offsets: list[int], barrier: Any, out: Any
) -> None:
    """Child process: wait for the others, then merge one slot per commit, in the given order."""
    from ib_futures.lake.writer import write_snapshots

    start = datetime.fromisoformat(start_iso)
    barrier.wait()
    attempts = 0
    inserted = 0
    for i in offsets:
        report = write_snapshots(lake_uri, make_batch(start + timedelta(minutes=5 * i)))
        attempts += sum(t.attempts for t in report.tables.values())
        inserted += sum(t.rows_inserted for t in report.tables.values())
    out.put((attempts, inserted))


_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes our stdin
server.stop()
"""


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """``moto.server.ThreadedMotoServer`` on 127.0.0.1 in a child process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
