"""Idempotent snapshot writes: validate, route by asset class, merge on ``(symbol, bucket_ts)``.

Why each choice (measured figures in bench/README.md, "Delta Lake"):

* **Insert-only merge on the key.** A retry or re-run of a slot inserts nothing twice; the first
  write of a slot wins (it is the snapshot closest to the slot). A merge that inserts nothing
  writes no new table version.
* **File pruning.** ``streamed_exec=False`` plus literal ``bucket_date IN (...)`` values in the
  predicate: delta-rs 1.6 otherwise scans every file (~10x slower on a year of history).
* **Append when the statistics prove the keys new.** The usual write is a new slot: no file in
  the slot's partition has a ``(symbol, bucket_ts)`` range that could hold any key of the batch
  (per-file min/max from the table state, no data read). Then the rows are appended, which
  skips the merge's ~25 ms of DataFusion planning. Whenever a file *could* hold a key (a retry,
  a re-run, a compacted partition), the keyed merge decides.
* **Writer lanes make the append safe.** Every commit carries one Delta app transaction per
  symbol it writes (``ib_futures/<table>/<symbol>``). Two writers of the same symbol conflict
  even if both append (the Delta conflict rule for app transactions), so a snapshot that was
  stale by the time of the commit can never let a second row for a key in.
* **Conflicts.** Two writers committing at once: the loser gets ``CommitFailedError``; the write
  is re-planned against the new version and retried (``lake.retry``: jittered backoff). The retry sees
  the winner's file, so it merges, and the keyed merge can never insert a row the winner already
  wrote.
* **No per-commit log cleanup.** ``cleanup_expired_logs=False``; maintenance does it weekly.
* **All or nothing per batch.** Validation runs before any I/O. Futures and ETFs live in two
  tables (two commits, made side by side in two threads); if one fails, the error is raised
  after the other finished, and the task retry heals it, since both merges are idempotent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import polars as pl
from deltalake import (
    CommitProperties,
    DeltaTable,
    PostCommitHookProperties,
    Transaction,
    write_deltalake,
)

from ib_futures.lake.retry import DEFAULT_ATTEMPTS, commit_retrying
from ib_futures.lake.schemas import (
    REJECTS,
    SNAPSHOT_TABLES,
    TABLE_BY_ASSET_CLASS,
    TableSpec,
)
from ib_futures.lake.storage import StorageOptions, table_uri
from ib_futures.lake.tables import ensure_table
from ib_futures.lake.validate import Rejected, validate_snapshots

log = logging.getLogger(__name__)

OnInvalid = Literal["fail", "reject"]
ON_INVALID_CHOICES: tuple[str, ...] = ("fail", "reject")

#: string statistics this long or longer are not trusted to bound the column (writers may
#: truncate them to a prefix; delta-rs and Spark use 32 characters)
STRING_STATS_PREFIX = 32

#: post-commit hooks for every write: checkpoints as configured, no expired-log cleanup
WRITE_HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


@dataclass
class TableWrite:
    """What one table received from one batch."""

    table: str
    rows_in_batch: int = 0
    rows_inserted: int = 0
    version: int | None = None
    #: how the last attempt wrote: "append" (keys proven new), "merge", or None (nothing to do)
    method: str | None = None
    attempts: int = 0
    duration_ms: float = 0.0

    @property
    def rows_already_present(self) -> int:
        return self.rows_in_batch - self.rows_inserted

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("table")
        d["rows_already_present"] = self.rows_already_present
        d["duration_ms"] = round(self.duration_ms, 1)
        return d


@dataclass
class WriteReport:
    """The outcome of :func:`write_snapshots`; :meth:`as_dict` is what goes to XCom."""

    rows_received: int
    rows_valid: int
    rows_rejected: int
    duplicates_dropped: int
    dry_run: bool
    tables: dict[str, TableWrite] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_received": self.rows_received,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "duplicates_dropped": self.duplicates_dropped,
            "dry_run": self.dry_run,
            "tables": {name: t.as_dict() for name, t in self.tables.items()},
        }

    def summary_lines(self) -> list[str]:
        """One log line per table that received rows: what was inserted, and how."""
        return [
            f"{name}: {t.rows_in_batch} in batch, {t.rows_inserted} inserted, "
            f"{t.rows_already_present} already present, version {t.version}, "
            f"{t.attempts} attempt(s), by {t.method}"
            for name, t in self.tables.items()
            if t.rows_in_batch
        ]


def _sql_literal(value: Any) -> str:
    if isinstance(value, date | datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def merge_predicate(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> str:
    """Key equality plus the batch's literal partition values (lets delta-rs prune files)."""
    parts = []
    for col in spec.partition_by:
        values = sorted({r[col] for r in rows})
        parts.append(f"t.{col} IN ({', '.join(_sql_literal(v) for v in values)})")
    parts += [f"t.{k} = s.{k}" for k in spec.key]
    return " AND ".join(parts)


def merge_rows(
    uri: str,
    spec: TableSpec,
    rows: Sequence[Mapping[str, Any]],
    *,
    storage_options: StorageOptions | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
    source: str | None = None,
) -> TableWrite:
    """Insert the rows whose key is not yet in the table; create/evolve the table first.

    ``rows`` must already be validated (typed values, unique keys). Retries on commit conflicts.
    """
    result = TableWrite(spec.name, rows_in_batch=len(rows))
    if not rows:
        return result
    started = time.perf_counter()
    frame = pl.DataFrame(list(rows), schema=spec.polars_schema(), orient="row")
    predicate = merge_predicate(spec, rows)
    commit = commit_properties(spec, rows, source)
    table: DeltaTable | None = None
    for attempt in commit_retrying(spec.name, max_attempts):
        with attempt:
            result.attempts = attempt.retry_state.attempt_number
            if table is None:
                table = ensure_table(uri, spec, storage_options)
            else:
                table.update_incremental()
            result.method, result.rows_inserted = _write_attempt(
                table, spec, frame, predicate, commit
            )
            result.version = table.version()
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def lane_app_id(spec: TableSpec, value: object) -> str:
    """The Delta app transaction id of one writer lane (see the module docstring)."""
    return f"ib_futures/{spec.name}/{value}"


def commit_properties(
    spec: TableSpec, rows: Sequence[Mapping[str, Any]], source: str | None
) -> CommitProperties:
    """Commit metadata: the source, and one app transaction per writer lane the batch writes.

    A lane's transaction version is the newest slot it writes, in epoch seconds, so
    ``DeltaTable.transaction_version("ib_futures/<table>/<symbol>")`` names the slot of that
    symbol's last commit (taken from the data, not a lookup: the table state is not queried).
    """
    newest: dict[str, int] = {}
    if spec.lane_column is not None:
        for r in rows:
            lane = str(r[spec.lane_column])
            stamps = [int(r[k].timestamp()) for k in spec.key if isinstance(r[k], datetime)]
            newest[lane] = max(newest.get(lane, 0), *stamps)
    txns = [Transaction(lane_app_id(spec, lane), v) for lane, v in sorted(newest.items())]
    return CommitProperties(
        custom_metadata={"ib_futures.source": source} if source else None,
        app_transactions=txns or None,
    )


def keys_provably_new(table: DeltaTable, spec: TableSpec, frame: pl.DataFrame) -> bool:
    """True when the table state proves no key of ``frame`` is stored (and appending is safe).

    Reads only the table's file list with its partition values and per-file min/max statistics:
    a file could hold a key unless its partition differs or a key column's value lies outside the
    file's [min, max]. Files without statistics count as "could". Also False when the spec has no
    writer lanes or the table's columns differ from the frame's (schema evolution: merge).
    """
    if spec.lane_column is None:
        return False
    if {f.name for f in table.schema().fields} != set(frame.columns):
        return False
    files = pl.DataFrame(table.get_add_actions(flatten=True))
    if files.is_empty():
        return True
    for col in spec.partition_by:
        if f"partition.{col}" not in files.columns:
            return False
        files = files.filter(
            pl.col(f"partition.{col}").is_in(frame.get_column(col).unique().to_list())
        )
    if files.is_empty():
        return True
    could_hold = files.join(frame.select(spec.key), how="cross")
    for k in spec.key:
        lo, hi = f"min.{k}", f"max.{k}"
        if lo not in files.columns or hi not in files.columns:
            continue  # no statistics for this column: it rules nothing out
        low, high, unknown = pl.col(lo), pl.col(hi), pl.col(lo).is_null() | pl.col(hi).is_null()
        if frame.schema[k].is_temporal():  # Delta JSON statistics keep milliseconds
            low, high = low - pl.duration(milliseconds=1), high + pl.duration(milliseconds=1)
        elif frame.schema[k] == pl.String:  # long strings' statistics may be truncated prefixes
            unknown = unknown | (pl.col(hi).str.len_chars() >= STRING_STATS_PREFIX)
        could_hold = could_hold.filter(unknown | pl.col(k).is_between(low, high))
    return could_hold.is_empty()


def _write_attempt(
    table: DeltaTable,
    spec: TableSpec,
    frame: pl.DataFrame,
    predicate: str,
    commit: CommitProperties,
) -> tuple[str, int]:
    """One write attempt (a seam for tests): ``(method, rows inserted)``."""
    if keys_provably_new(table, spec, frame):
        write_deltalake(
            table,
            frame.select([f.name for f in table.schema().fields]),
            mode="append",
            commit_properties=commit,
            post_commithook_properties=WRITE_HOOKS,
        )
        return "append", frame.height
    metrics = (
        table.merge(
            frame,
            predicate,
            source_alias="s",
            target_alias="t",
            streamed_exec=False,
            commit_properties=commit,
            post_commithook_properties=WRITE_HOOKS,
        )
        .when_not_matched_insert_all()
        .execute()
    )
    return "merge", int(metrics.get("num_target_rows_inserted", 0))


def reject_rows(
    rejected: Iterable[Rejected], source: str | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows for the ``snapshot_rejects`` table: the raw record as JSON and the reasons."""
    now = now or datetime.now(UTC)
    out: dict[str, dict[str, Any]] = {}
    for r in rejected:
        raw = json.dumps(r.record, sort_keys=True, default=str)
        digest = hashlib.sha256(raw.encode()).hexdigest()
        rec = r.record if isinstance(r.record, Mapping) else {}
        symbol, bucket = rec.get("symbol"), rec.get("bucket_ts")
        out.setdefault(
            digest,
            {
                "record_sha256": digest,
                "rejected_ts": now,
                "row_index": r.row,
                "target_table": r.target_table,
                "symbol": symbol if isinstance(symbol, str) else None,
                "bucket_ts": bucket
                if isinstance(bucket, str)
                else (None if bucket is None else str(bucket)),
                "reasons": [f"{p.field}: {p.message}" for p in r.problems],
                "record_json": raw,
                "source": source,
            },
        )
    return list(out.values())


def write_snapshots(
    lake_uri: str,
    records: Iterable[Any],
    *,
    storage_options: StorageOptions | None = None,
    on_invalid: OnInvalid = "fail",
    dry_run: bool = False,
    source: str | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> WriteReport:
    """Validate snapshot records and merge them into ``futures_snapshots`` / ``spot_snapshots``.

    :param lake_uri: lake root (local path or ``s3://bucket/prefix``), already resolved
    :param records: snapshot records (docs/architecture.md); routed by ``asset_class``
    :param storage_options: object-store options (see :mod:`ib_futures.lake.storage`)
    :param on_invalid: ``"fail"``: any invalid record raises
        :class:`~ib_futures.lake.validate.SnapshotValidationError` and nothing is written;
        ``"reject"``: valid records are written, invalid ones go to ``snapshot_rejects``
    :param dry_run: validate only; no table is opened or written
    :param source: free text stored with commits and rejects (e.g. ``dag_id/run_id/task_id``)
    :param max_attempts: attempts per table on commit conflicts
    :return: a :class:`WriteReport` (rows inserted and table version per table)
    """
    if on_invalid not in ON_INVALID_CHOICES:
        raise ValueError(f"on_invalid={on_invalid!r}; expected one of {ON_INVALID_CHOICES}")
    batch = validate_snapshots(records, TABLE_BY_ASSET_CLASS)
    if on_invalid == "fail":
        batch.raise_if_invalid()
    report = WriteReport(
        rows_received=batch.total,
        rows_valid=sum(len(v) for v in batch.rows.values()),
        rows_rejected=len(batch.rejected),
        duplicates_dropped=batch.duplicates_dropped,
        dry_run=dry_run,
    )
    for spec in SNAPSHOT_TABLES:
        report.tables[spec.name] = TableWrite(
            spec.name, rows_in_batch=len(batch.rows.get(spec.name, []))
        )
    rejects = reject_rows(batch.rejected, source)
    report.tables[REJECTS.name] = TableWrite(REJECTS.name, rows_in_batch=len(rejects))
    if batch.rejected:
        log.warning(
            "%d invalid records %s:\n  %s",
            len(batch.rejected),
            "(dry run)" if dry_run else "diverted to " + REJECTS.name,
            "\n  ".join(str(p) for p in batch.problems[:50]),
        )
    if dry_run:
        return report
    jobs: list[tuple[TableSpec, list[dict[str, Any]]]] = [
        (spec, batch.rows[spec.name]) for spec in SNAPSHOT_TABLES if batch.rows.get(spec.name)
    ]
    if rejects:
        jobs.append((REJECTS, rejects))
    # on an error nothing is reported: the error is raised once every table has finished
    report.tables.update(_merge_side_by_side(lake_uri, jobs, storage_options, max_attempts, source))
    return report


def _merge_side_by_side(
    lake_uri: str,
    jobs: list[tuple[TableSpec, list[dict[str, Any]]]],
    storage_options: StorageOptions | None,
    max_attempts: int,
    source: str | None,
) -> dict[str, TableWrite]:
    """Merge the jobs into their tables at once: what each table got, else the first error."""

    def run(spec: TableSpec, rows: list[dict[str, Any]]) -> TableWrite:
        return merge_rows(
            table_uri(lake_uri, spec.name),
            spec,
            rows,
            storage_options=storage_options,
            max_attempts=max_attempts,
            source=source,
        )

    # The tables are independent and delta-rs releases the GIL: merge them side by side.
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [pool.submit(run, spec, rows) for spec, rows in jobs]
        errors = [f.exception() for f in futures]
    first_error = next((e for e in errors if e is not None), None)
    if first_error is not None:
        raise first_error
    return {spec.name: future.result() for (spec, _), future in zip(jobs, futures, strict=True)}
