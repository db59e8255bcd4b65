"""``DeltaWriteOperator`` and ``DeltaMaintenanceOperator``: thin shells over ``ib_futures.lake``.

* :class:`DeltaWriteOperator` -> :func:`ib_futures.lake.writer.write_snapshots`
* :class:`DeltaMaintenanceOperator` -> :func:`ib_futures.lake.maintenance.maintain_lake`

The lake comes from :class:`~ib_futures.airflow.operators.base.LakeBaseOperator` (argument >
lake connection > ``IB_FUTURES_LAKE_URI`` > config). polars and deltalake are imported inside
``execute`` so that parsing a DAG file that uses these operators stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ib_futures.airflow.operators.base import (
    LakeBaseOperator,
    as_bool,
    as_int,
    lake_template_fields,
    task_source,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

SNAPSHOT_TABLE_NAMES: tuple[str, ...] = ("futures_snapshots", "spot_snapshots", "snapshot_rejects")


def _records(snapshots: Any) -> list[Any]:
    if snapshots is None:
        return []
    if isinstance(snapshots, str):
        snapshots = json.loads(snapshots) if snapshots.strip() else []
    if isinstance(snapshots, Mapping):
        return [snapshots]
    return list(snapshots)


class DeltaWriteOperator(LakeBaseOperator):
    """Validate snapshot records from XCom and merge them into the lake, idempotently.

    Records are routed by ``asset_class`` (``FUT`` -> ``futures_snapshots``, ``ETF`` ->
    ``spot_snapshots``) and merged on ``(symbol, bucket_ts)``: a retry or re-run of a slot
    inserts nothing twice. Tables are created on first write. See docs/storage.md. The lake
    arguments are :class:`~ib_futures.airflow.operators.base.LakeBaseOperator`'s.

    :param snapshots: the records, usually ``collect.output`` (templated; a list of dicts, a
        JSON string, or None/empty for "nothing to write": no commit is made).
    :param on_invalid: ``"fail"`` (default): one invalid record fails the task naming each
        row, symbol and field, and nothing is written; ``"reject"``: valid records are written,
        invalid ones go to ``snapshot_rejects`` with their reasons (templated; the collection
        DAG passes the config's ``storage.on_invalid``).
    :param dry_run: validate only, write nothing (templated, as the attribute ``dry_run_flag``;
        "True"/"False" strings are understood).
    :param max_attempts: attempts per table when concurrent commits conflict.
    :return: write metrics, pushed to XCom: ``{"rows_received", "rows_valid", "rows_rejected",
        "duplicates_dropped", "dry_run", "tables": {name: {"rows_in_batch", "rows_inserted",
        "rows_already_present", "version", "attempts", "method", "duration_ms"}}}``.
    """

    template_fields: Sequence[str] = lake_template_fields("snapshots", "on_invalid", "dry_run_flag")
    ui_color = "#e8f4e4"

    def __init__(self, *, snapshots: Any, on_invalid: str = "fail", dry_run: bool | str = False,
                 max_attempts: int = 8, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.snapshots, self.on_invalid, self.max_attempts = snapshots, on_invalid, max_attempts
        # BaseOperator already has a dry_run() method: the flag lives under another name.
        self.dry_run_flag = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.lake.writer import ON_INVALID_CHOICES, write_snapshots

        on_invalid = str(self.on_invalid).strip().lower()
        if on_invalid not in ON_INVALID_CHOICES:
            raise ValueError(f"on_invalid={self.on_invalid!r}; expected one of {ON_INVALID_CHOICES}")
        records, dry_run = _records(self.snapshots), as_bool(self.dry_run_flag, "dry_run")
        self.log.info("writing %d records (on_invalid=%s, dry_run=%s)", len(records), on_invalid, dry_run)
        report = write_snapshots(
            self.lake.uri,
            records,
            storage_options=self.lake.storage_options,
            on_invalid=on_invalid,  # type: ignore[arg-type]
            dry_run=dry_run,
            source=task_source(context),
            max_attempts=as_int(self.max_attempts, "max_attempts"),
        )
        for line in report.summary_lines():
            self.log.info("%s", line)
        return report.as_dict()


class DeltaMaintenanceOperator(LakeBaseOperator):
    """Compact (z-order), checkpoint, vacuum and clean the log of the lake's tables.

    Runs :func:`ib_futures.lake.maintenance.maintain_lake`; meant for the weekly DAG. Safe to
    run while collections write (commit conflicts are retried). Missing tables are skipped.

    :param tables: table names under the lake (templated); default: both snapshot tables and
        ``snapshot_rejects``.
    :param vacuum_retention_hours: unreferenced data files older than this are deleted
        (templated; default: the config's ``storage.retention.vacuum_retention_hours``).
    :param log_retention_hours: log entries older than this are deleted (templated; default:
        ``storage.retention.log_retention_hours``).
    :param checkpoint_interval: sets ``delta.checkpointInterval`` (templated; default:
        ``storage.retention.checkpoint_interval``).
    :return: per table, pushed to XCom: ``{name: {"exists", "version_before", "version_after",
        "files_before", "files_after", "partitions_optimized", "files_removed_by_vacuum",
        "properties_changed", "duration_ms"}}``.
    """

    template_fields: Sequence[str] = lake_template_fields(
        "tables", "vacuum_retention_hours", "log_retention_hours", "checkpoint_interval"
    )
    ui_color = "#f4efe4"

    def __init__(self, *, tables: Sequence[str] = SNAPSHOT_TABLE_NAMES,
                 vacuum_retention_hours: int | str | None = None,
                 log_retention_hours: int | str | None = None,
                 checkpoint_interval: int | str | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.tables, self.checkpoint_interval = tables, checkpoint_interval
        self.vacuum_retention_hours = vacuum_retention_hours
        self.log_retention_hours = log_retention_hours

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.lake.maintenance import maintain_lake

        retention = self.config.storage.retention

        def setting(value: Any, default: Any, name: str) -> Any:
            chosen = default if value in (None, "") else value
            return None if chosen is None else as_int(chosen, name)

        results = maintain_lake(
            self.lake.uri,
            [self.tables] if isinstance(self.tables, str) else list(self.tables),
            vacuum_retention_hours=setting(
                self.vacuum_retention_hours, retention.vacuum_retention_hours, "vacuum_retention_hours"
            ),
            log_retention_hours=setting(
                self.log_retention_hours, retention.log_retention_hours, "log_retention_hours"
            ),
            checkpoint_interval=setting(
                self.checkpoint_interval, retention.checkpoint_interval, "checkpoint_interval"
            ),
            storage_options=self.lake.storage_options,
        )
        for name, r in results.items():
            self.log.info("%s: %s", name, r.summary())
        return {name: r.as_dict() for name, r in results.items()}
