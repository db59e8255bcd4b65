"""Weekly table maintenance: compaction (z-order), checkpoint, vacuum, expired-log cleanup.

A week of five-minute merges leaves ~2000 tiny files and commits per table; reads slow down
roughly tenfold until they are compacted (bench/README.md "Delta Lake"). The order matters:

1. align ``delta.deletedFileRetentionDuration`` / ``delta.logRetentionDuration`` (and
   ``delta.checkpointInterval`` when given) with the arguments (one ``SET TBLPROPERTIES`` commit,
   only when they differ), so vacuum's retention check and the log cleanup agree with the config;
2. z-order (by ``symbol``, ``bucket_ts``) only the partitions holding more than one file: a
   compacted day is never rewritten again;
3. checkpoint at the new version (table loads then start from it);
4. vacuum data files no longer referenced and older than the retention (``full``: also orphans
   a failed write may have left);
5. delete log entries older than the log retention (writers never do it; see writer.py).

Time travel therefore reaches back ``min(vacuum_retention_hours, log_retention_hours)``. Every step
that commits retries on commit conflicts, so it can run while the collector writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from deltalake import DeltaTable

from ib_futures.lake.retry import commit_retrying
from ib_futures.lake.schemas import ALL_TABLES, SPECS_BY_NAME
from ib_futures.lake.storage import StorageOptions, table_uri
from ib_futures.lake.tables import open_table

log = logging.getLogger(__name__)

DEFAULT_TABLES: tuple[str, ...] = tuple(s.name for s in ALL_TABLES)


@dataclass
class MaintenanceResult:
    """What maintenance did to one table; :meth:`as_dict` goes to XCom."""

    table: str
    exists: bool = True
    version_before: int | None = None
    version_after: int | None = None
    files_before: int = 0
    files_after: int = 0
    partitions_optimized: int = 0
    files_removed_by_vacuum: int = 0
    properties_changed: dict[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_ms"] = round(self.duration_ms, 1)
        return d

    def summary(self) -> str:
        """One line for the task log."""
        if not self.exists:
            return "absent, skipped"
        return (
            f"files {self.files_before} -> {self.files_after}, version {self.version_before} -> "
            f"{self.version_after}, {self.files_removed_by_vacuum} files vacuumed"
        )


def _hours(value: int | float, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name}={value!r}: expected a non-negative number of hours")
    return int(value)


def align_properties(
    table: DeltaTable,
    vacuum_retention_hours: int,
    log_retention_hours: int,
    checkpoint_interval: int | None = None,
) -> dict[str, str]:
    """Set retention (and checkpoint interval) properties when they differ; return the changes."""
    wanted = {
        "delta.deletedFileRetentionDuration": f"interval {vacuum_retention_hours} hours",
        "delta.logRetentionDuration": f"interval {log_retention_hours} hours",
    }
    if checkpoint_interval is not None:
        if isinstance(checkpoint_interval, bool) or int(checkpoint_interval) < 1:
            raise ValueError(f"checkpoint_interval={checkpoint_interval!r}: expected >= 1")
        wanted["delta.checkpointInterval"] = str(int(checkpoint_interval))
    current = table.metadata().configuration
    changes = {k: v for k, v in wanted.items() if current.get(k) != v}
    if changes:
        for attempt in commit_retrying(f"{table.table_uri}: properties"):
            with attempt:
                table.update_incremental()
                table.alter.set_table_properties(changes)
    return changes


def files_per_partition(table: DeltaTable) -> dict[str, int]:
    """Active data files per partition value (``""`` for an unpartitioned table)."""
    cols = table.metadata().partition_columns
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    if actions.is_empty():
        return {}
    if not cols:
        return {"": actions.height}
    key = pl.col(f"partition.{cols[0]}").cast(pl.String)
    counts = actions.group_by(key.alias("p")).len()
    return dict(zip(counts["p"].to_list(), counts["len"].to_list(), strict=True))


def optimize_table(
    table: DeltaTable, z_order_by: Sequence[str] = (), min_files: int = 2
) -> dict[str, Any]:
    """Z-order (or compact) the partitions that hold at least ``min_files`` files."""
    cols = table.metadata().partition_columns
    dirty = sorted(p for p, n in files_per_partition(table).items() if n >= min_files)
    if not dirty:
        return {"partitionsOptimized": 0, "numFilesAdded": 0, "numFilesRemoved": 0}
    filters: Any = [(cols[0], "in", dirty)] if cols else None
    for attempt in commit_retrying(f"{table.table_uri}: optimize"):
        with attempt:
            table.update_incremental()
            if z_order_by:
                return table.optimize.z_order(list(z_order_by), partition_filters=filters)
            return table.optimize.compact(partition_filters=filters)
    raise AssertionError("unreachable")  # pragma: no cover


def vacuum_table(table: DeltaTable, retention_hours: int, dry_run: bool = False) -> list[str]:
    """Delete unreferenced data files older than ``retention_hours`` (``full`` listing)."""
    for attempt in commit_retrying(f"{table.table_uri}: vacuum"):
        with attempt:
            table.update_incremental()
            return table.vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=True,
                full=True,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def maintain_table(
    uri: str,
    *,
    vacuum_retention_hours: int = 168,
    log_retention_hours: int = 168,
    checkpoint_interval: int | None = None,
    z_order_by: Sequence[str] | None = None,
    storage_options: StorageOptions | None = None,
) -> MaintenanceResult:
    """Run the whole sequence (module docstring) on the table at ``uri``.

    :param vacuum_retention_hours: keep unreferenced data files this long
    :param log_retention_hours: keep log entries (hence versions) this long
    :param checkpoint_interval: set ``delta.checkpointInterval`` (None: leave as is)
    :param z_order_by: z-order columns; None: the spec's when the table is known, else compact
    """
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    retention = _hours(vacuum_retention_hours, "vacuum_retention_hours")
    log_retention = _hours(log_retention_hours, "log_retention_hours")
    result = MaintenanceResult(name)
    started = time.perf_counter()
    table = open_table(uri, storage_options)
    if table is None:
        result.exists = False
        return result
    if z_order_by is None:
        spec = SPECS_BY_NAME.get(name)
        z_order_by = spec.z_order_by if spec else ()
    result.version_before = table.version()
    result.files_before = len(table.file_uris())
    result.properties_changed = align_properties(
        table, retention, log_retention, checkpoint_interval
    )
    metrics = optimize_table(table, z_order_by)
    result.partitions_optimized = int(metrics.get("partitionsOptimized", 0))
    table.update_incremental()
    table.create_checkpoint()
    result.files_removed_by_vacuum = len(vacuum_table(table, retention))
    table.update_incremental()
    table.cleanup_metadata()
    result.version_after = table.version()
    result.files_after = len(table.file_uris())
    result.duration_ms = (time.perf_counter() - started) * 1000
    log.info("maintenance %s: %s", name, result.as_dict())
    return result


def maintain_lake(
    lake_uri: str,
    tables: Iterable[str] = DEFAULT_TABLES,
    *,
    vacuum_retention_hours: int = 168,
    log_retention_hours: int = 168,
    checkpoint_interval: int | None = None,
    storage_options: StorageOptions | None = None,
) -> dict[str, MaintenanceResult]:
    """:func:`maintain_table` for each table under the lake (missing tables are skipped)."""
    return {
        name: maintain_table(
            table_uri(lake_uri, name),
            vacuum_retention_hours=vacuum_retention_hours,
            log_retention_hours=log_retention_hours,
            checkpoint_interval=checkpoint_interval,
            storage_options=storage_options,
        )
        for name in tables
    }
