"""Validation of snapshot records before anything is written.

Delta would silently cast a numeric string into a double column, and its CHECK constraint errors
name neither the row nor the rule; so every record is checked here first, against the same
:mod:`ib_futures.lake.schemas` the tables are created from, and every problem is reported with
its row index, symbol, slot and field. Pure: no I/O, no polars.

Rules (docs/storage.md "Validation"):

* every NOT NULL column present and non-null (non-empty for strings); unknown keys refused;
  a missing *nullable* key counts as ``None`` (so adding a column does not break older senders);
* types: strings are ``str``, longs/ints ``int`` (not bool), doubles finite ``int``/``float``,
  booleans ``bool``, dates ``YYYY-MM-DD``, timestamps ISO-8601 *with* an offset (stored UTC);
* the CHECK constraints of the tables (positive prices, bid <= ask unless crossed, sizes >= 0,
  market data type 1..4, bucket_date is the UTC date of bucket_ts) plus: ``asset_class`` routes
  to a table, ``bucket_ts`` is on a five-minute boundary, ``crossed`` agrees with bid > ask,
  ``change_source`` is ``lake``/``history``/None, ``price_source`` one of ``core.snapshot.PRICE_SOURCES`` or None;
* duplicate keys ``(symbol, bucket_ts)`` in one batch: identical records are collapsed to one;
  differing records for one key are all invalid (which one is right cannot be known).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ib_futures.core.slot import SLOT_MINUTES, is_slot
from ib_futures.core.snapshot import PRICE_SOURCES
from ib_futures.lake.schemas import TABLE_BY_ASSET_CLASS, Column, TableSpec

CHANGE_SOURCES = frozenset({"lake", "history"})
_INT32 = 2**31


@dataclass(frozen=True)
class Problem:
    """One failed rule: which row, which instrument and slot, which field, what is wrong."""

    row: int
    field: str
    message: str
    symbol: str | None = None
    bucket_ts: str | None = None

    def __str__(self) -> str:
        who = " ".join(x for x in (self.symbol, self.bucket_ts) if x)
        return f"row {self.row}{f' ({who})' if who else ''}: {self.field}: {self.message}"


class SnapshotValidationError(ValueError):
    """A batch with invalid records; nothing was written. ``problems`` lists every failure."""

    def __init__(self, problems: list[Problem], total: int, max_listed: int = 20) -> None:
        self.problems = problems
        rows = sorted({p.row for p in problems})
        lines = [str(p) for p in problems[:max_listed]]
        if len(problems) > max_listed:
            lines.append(f"... and {len(problems) - max_listed} more")
        super().__init__(
            f"{len(rows)} of {total} snapshot records invalid (rows {rows}); nothing written:\n  "
            + "\n  ".join(lines)
        )


@dataclass
class Rejected:
    """An invalid record as received, with its problems."""

    row: int
    record: Any
    problems: list[Problem]
    target_table: str | None = None


@dataclass
class ValidatedBatch:
    """Valid rows (typed Python values, keyed by table name) and the rejected records."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    row_index: dict[str, list[int]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates_dropped: int = 0
    total: int = 0

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.rejected for p in r.problems]

    def raise_if_invalid(self) -> None:
        if self.rejected:
            raise SnapshotValidationError(self.problems, self.total)


def _parse_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not an ISO-8601 timestamp string")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset (naive timestamps are refused)")
    return ts.astimezone(UTC)


def _parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a YYYY-MM-DD date")


def coerce(col: Column, value: Any) -> Any:
    """``value`` as the Python type written to ``col``; ``ValueError`` saying why not."""
    t = col.type
    if t == "string":
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is {type(value).__name__}, expected a string")
        if not col.nullable and not value.strip():
            raise ValueError("empty string")
        return value
    if t in ("long", "integer"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is {type(value).__name__}, expected an integer")
        if t == "integer" and not -_INT32 <= value < _INT32:
            raise ValueError(f"{value} does not fit a 32-bit integer")
        return value
    if t == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is {type(value).__name__}, expected a number")
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not finite (missing values must be None)")
        return float(value)
    if t == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is {type(value).__name__}, expected true/false")
        return value
    if t == "date":
        return _parse_date(value)
    if t == "timestamp":
        return _parse_ts(value)
    raise ValueError(f"column type {t!r} is not validated here")


def _row_rules(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The table's CHECK constraints and the record's own consistency, on coerced values."""
    out: list[tuple[str, str]] = []
    for c in ("bid", "ask", "last", "price"):
        v = row.get(c)
        if v is not None and v <= 0:
            out.append((c, f"{v} is not a positive price (missing prices must be None)"))
    for c in ("bid_size", "ask_size", "last_size", "volume", "open_interest"):
        v = row.get(c)
        if v is not None and v < 0:
            out.append((c, f"{v} is negative"))
    bid, ask, crossed = row.get("bid"), row.get("ask"), row.get("crossed")
    is_crossed = bid is not None and ask is not None and bid > ask
    if isinstance(crossed, bool):
        if is_crossed and not crossed:
            out.append(("crossed", f"bid {bid} > ask {ask} but crossed is false"))
        elif crossed and not is_crossed:
            out.append(("crossed", f"crossed is true but bid {bid} / ask {ask} is not crossed"))
    mdt = row.get("market_data_type")
    if isinstance(mdt, int) and not 1 <= mdt <= 4:
        out.append(("market_data_type", f"{mdt} is not 1..4"))
    ts = row.get("bucket_ts")
    if isinstance(ts, datetime):
        if not is_slot(ts):
            out.append(
                ("bucket_ts", f"{ts.isoformat()} is not on a {SLOT_MINUTES}-minute boundary")
            )
        d = row.get("bucket_date")
        if isinstance(d, date) and d != ts.date():
            out.append(("bucket_date", f"{d} is not the UTC date of bucket_ts ({ts.date()})"))
    src = row.get("change_source")
    if src is not None and src not in CHANGE_SOURCES:
        out.append(("change_source", f"{src!r} is not one of {sorted(CHANGE_SOURCES)} or None"))
    origin = row.get("price_source")
    if origin is not None and origin not in PRICE_SOURCES:
        out.append(("price_source", f"{origin!r} is not one of {sorted(PRICE_SOURCES)} or None"))
    return out


def _check_record(
    index: int, record: Any, routes: Mapping[str, TableSpec]
) -> tuple[TableSpec | None, dict[str, Any], list[Problem]]:
    if not isinstance(record, Mapping):
        return (
            None,
            {},
            [Problem(index, "<record>", f"is {type(record).__name__}, expected a mapping")],
        )
    symbol = record.get("symbol") if isinstance(record.get("symbol"), str) else None
    raw_ts = record.get("bucket_ts")
    label = raw_ts if isinstance(raw_ts, str) else None
    problems: list[Problem] = []

    def problem(fld: str, msg: str) -> None:
        problems.append(Problem(index, fld, msg, symbol, label))

    asset_class = record.get("asset_class")
    spec = routes.get(asset_class) if isinstance(asset_class, str) else None
    if spec is None:
        problem("asset_class", f"{asset_class!r} is not one of {sorted(routes)}")
    shape = spec or next(iter(routes.values()))
    row: dict[str, Any] = {}
    for col in shape.columns:
        value = record.get(col.name)
        if value is None:
            if not col.nullable:
                problem(col.name, "missing" if col.name not in record else "is None (required)")
            row[col.name] = None
            continue
        try:
            row[col.name] = coerce(col, value)
        except ValueError as exc:
            problem(col.name, str(exc))
    unknown = sorted(str(k) for k in record if k not in set(shape.column_names))
    for name in unknown:
        problem(name, f"unknown field (not a column of {shape.name}; see docs/storage.md)")
    if isinstance(row.get("bucket_ts"), datetime):
        label = row["bucket_ts"].isoformat()
        problems[:] = [Problem(p.row, p.field, p.message, p.symbol, label) for p in problems]
    for fld, msg in _row_rules(row):
        problem(fld, msg)
    return spec, row, problems


def validate_snapshots(
    records: Iterable[Any], routes: Mapping[str, TableSpec] = TABLE_BY_ASSET_CLASS
) -> ValidatedBatch:
    """Check a batch of snapshot records and route the valid ones to their tables.

    :param records: the records as they came from XCom (``list[dict]``)
    :param routes: ``asset_class`` -> table spec
    :return: valid rows per table name (in batch order), rejected records with their problems
    """
    batch = ValidatedBatch()
    seen: dict[tuple[str, str, datetime], tuple[int, dict[str, Any]]] = {}
    conflicts: dict[tuple[str, str, datetime], list[int]] = {}
    checked: list[tuple[int, Any, TableSpec | None, dict[str, Any], list[Problem]]] = []
    for index, record in enumerate(records):
        spec, row, problems = _check_record(index, record, routes)
        batch.total += 1
        if not problems and spec is not None:
            key = (spec.name, row["symbol"], row["bucket_ts"])
            if key in seen:
                if seen[key][1] == row:
                    batch.duplicates_dropped += 1
                    continue
                conflicts.setdefault(key, [seen[key][0]]).append(index)
            else:
                seen[key] = (index, row)
        checked.append((index, record, spec, row, problems))

    conflict_rows = {i: key for key, rows in conflicts.items() for i in rows}
    for index, record, spec, row, problems in checked:
        if index in conflict_rows:
            _, sym, ts = conflict_rows[index]
            others = [i for i in conflicts[conflict_rows[index]] if i != index]
            problems = [
                Problem(
                    index,
                    "symbol,bucket_ts",
                    f"duplicate key ({sym}, {ts.isoformat()}) with different values in rows {others}",
                    sym,
                    ts.isoformat(),
                )
            ]
        if problems or spec is None:
            batch.rejected.append(Rejected(index, record, problems, spec.name if spec else None))
            continue
        batch.rows.setdefault(spec.name, []).append(row)
        batch.row_index.setdefault(spec.name, []).append(index)
    return batch
