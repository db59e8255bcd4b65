"""The audit: the lake against the simulator's ground-truth log and its published calendar.

Independent of the collector's bookkeeping: what is expected comes from the simulator's own
schedules (``ib_gateway_sim.schedules``: its table of the exchanges' published holidays and
early closes), what was served from its log (``ib_gateway_sim.truth``), what is stored from
the Delta tables read whole.

* **duplicated**: a (symbol, slot) key stored more than once;
* **invented**: a row on a slot the published schedule does not expect, or a live row whose
  bid/ask/last no quote served for that instrument in that slot carries;
* **differs**: a history row whose price (or last) is not the served bar's value for the slot;
* **lost**: an expected slot neither stored nor recorded unfillable, or a served fresh quote
  (the collector saw it) for an expected slot that left no row and no unfillable record;
* **unalerted**: an unfillable slot without its alert, or without a valid reason;
* **maintenance**: row counts that changed across a maintenance, files per partition after.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ib_futures.lake.readers import read_unfillable
from ib_futures.lake.schemas import UNFILLABLE_REASONS
from ib_futures.lake.storage import table_uri
from ib_gateway_sim.schedules import CME_GLOBEX, US_EXTENDED, US_RTH
from ib_gateway_sim.truth import read_truth

SLOT = timedelta(minutes=5)
TABLES = {"FUT": "futures_snapshots", "ETF": "spot_snapshots"}
HIST = {"hist_midpoint_close": ("MIDPOINT", -1, "close"), "hist_trades_close": ("TRADES", -1, "close"),
        "hist_midpoint_open": ("MIDPOINT", 0, "open"), "hist_trades_open": ("TRADES", 0, "open")}  # fmt: skip


def floor_slot(moment: datetime) -> datetime:
    return moment - timedelta(minutes=moment.minute % 5, seconds=moment.second,
                              microseconds=moment.microsecond)  # fmt: skip


@dataclass
class AuditResult:
    rows_live: int = 0
    rows_history: int = 0
    expected: int = 0
    unfillable: int = 0
    alerted: int = 0
    duplicated: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unalerted: list[str] = field(default_factory=list)
    maintenance: list[str] = field(default_factory=list)
    max_files_per_partition: int = 0

    @property
    def ok(self) -> bool:
        return not (self.duplicated or self.invented or self.differs or self.lost
                    or self.unalerted or self.maintenance)  # fmt: skip


def expected_keys(symbols: dict[str, str], start: datetime, end: datetime,
                  etf_hours: str = "regular") -> set[tuple[str, datetime]]:  # fmt: skip
    """(symbol, slot) the published schedule expects in ``[start, end)``."""
    etf = US_EXTENDED if etf_hours == "extended" else US_RTH
    out, t = set(), start
    while t < end:
        for symbol, asset in symbols.items():
            if (CME_GLOBEX if asset == "FUT" else etf).is_open(t):
                out.add((symbol, t))
        t += SLOT
    return out


def _truth(path: Path) -> tuple[dict[tuple[str, datetime], list[tuple[Any, ...]]], dict[tuple[Any, ...], float]]:
    quotes: dict[tuple[str, datetime], list[tuple[Any, ...]]] = defaultdict(list)
    bars: dict[tuple[Any, ...], float] = {}
    for line in read_truth(path):
        if line["kind"] == "quote" and "bid" in line and line["data_type"] in (1, 3):
            slot = floor_slot(datetime.fromisoformat(line["sim_time"]))
            quotes[(line["symbol"], slot)].append((line.get("bid"), line.get("ask"), line.get("last")))
        elif line["kind"] == "bar" and line["bar_seconds"] == 300:
            start = datetime.fromisoformat(line["bar_start"]).astimezone(UTC)
            for point in ("open", "close"):
                bars[(line["local_symbol"], line["what"], start, point)] = line[point]
    return quotes, bars


def _rows(lake: str) -> pl.DataFrame:
    frames = []
    for table in TABLES.values():
        try:
            frames.append(pl.read_delta(table_uri(lake, table)).select(
                "symbol", "bucket_ts", "local_symbol", "bid", "ask", "last", "price", "price_source"))
        except Exception:
            continue
    return pl.concat(frames) if frames else pl.DataFrame()


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-9


def _check_row(row: dict[str, Any], quotes: Any, bars: Any, result: AuditResult) -> None:
    key = f"{row['symbol']} {row['bucket_ts']:%Y-%m-%d %H:%M}"
    slot = row["bucket_ts"]
    source = row["price_source"] or "live"
    if source == "live":
        result.rows_live += 1
        served = quotes.get((row["symbol"], slot), [])
        if not any(_same(row["bid"], q[0]) and _same(row["ask"], q[1]) for q in served):
            result.invented.append(f"{key}: live bid/ask {row['bid']}/{row['ask']} never served")
        return
    result.rows_history += 1
    what, offset, point = HIST[source]
    bar = bars.get((row["local_symbol"], what, slot + offset * SLOT, point))
    if bar is None or not _same(row["price"], bar):
        result.differs.append(f"{key}: {source} price {row['price']}, served bar {bar}")


def audit(lake: str, truth_log: Path, symbols: dict[str, str], start: datetime, end: datetime,
          alerts: list[tuple[str, datetime, str]], maintenance: list[dict[str, Any]],
          etf_hours: str = "regular") -> AuditResult:  # fmt: skip
    result = AuditResult()
    quotes, bars = _truth(truth_log)
    rows = _rows(lake).with_columns(pl.col("bucket_ts").dt.convert_time_zone("UTC"))
    expected = expected_keys(symbols, start, end, etf_hours)
    result.expected = len(expected)
    stored: set[tuple[str, datetime]] = set()
    for row in rows.iter_rows(named=True):
        key = (row["symbol"], row["bucket_ts"].astimezone(UTC))
        row["bucket_ts"] = key[1]
        if key in stored:
            result.duplicated.append(f"{key[0]} {key[1]:%Y-%m-%d %H:%M}")
        stored.add(key)
        if key not in expected:
            result.invented.append(f"{key[0]} {key[1]:%Y-%m-%d %H:%M}: slot not in the published schedule")
        _check_row(row, quotes, bars, result)
    unfillable = read_unfillable(lake, list(symbols), start, end)
    alerted = {(s, t.astimezone(UTC)) for s, t, _ in alerts}
    recorded = set()
    for row in unfillable.iter_rows(named=True):
        key = (row["symbol"], row["bucket_ts"].astimezone(UTC))
        recorded.add(key)
        if row["reason"] not in UNFILLABLE_REASONS or key not in alerted:
            result.unalerted.append(f"{key[0]} {key[1]:%Y-%m-%d %H:%M}: reason {row['reason']!r}")
    result.unfillable, result.alerted = len(recorded), len(recorded & alerted)
    for symbol, slot in sorted(expected - stored - recorded):
        seen = " (a fresh quote was served)" if quotes.get((symbol, slot)) else ""
        result.lost.append(f"{symbol} {slot:%Y-%m-%d %H:%M}{seen}")
    for m in maintenance:
        if m["before"] != m["after"]:
            result.maintenance.append(f"{m['slot']}: rows {m['before']} -> {m['after']}")
        for files in m["files"].values():
            result.max_files_per_partition = max([result.max_files_per_partition, *files.values()])
    return result
