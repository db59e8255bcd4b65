"""``DeltaWriteOperator`` and ``DeltaMaintenanceOperator``: thin shells over ``ib_futures.lake``.

* :class:`DeltaWriteOperator` -> :func:`ib_futures.lake.writer.write_snapshots`
* :class:`DeltaMaintenanceOperator` -> :func:`ib_futures.lake.maintenance.maintain_lake`

Both resolve the lake URI (``IB_FUTURES_LAKE_URI`` overrides the ``lake_uri`` argument) and the
object-store options (an AWS-style Airflow connection, else the ``AWS_*`` environment; secrets
are masked in task logs). polars and deltalake are imported inside ``execute`` so that parsing a
DAG file that uses these operators stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

SNAPSHOT_TABLE_NAMES: tuple[str, ...] = ("futures_snapshots", "spot_snapshots", "snapshot_rejects")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", "", "none"})


def as_bool(value: Any, name: str) -> bool:
    """A templated flag: ``"{{ params.dry_run }}"`` renders to ``"True"``/``"False"``."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (true/false)")


def as_int(value: Any, name: str) -> int:
    """A templated integer (rendered templates are strings)."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not an integer")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not an integer") from None


def lake_storage_options(
    lake_uri: str, aws_conn_id: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    """Object-store options for ``lake_uri``: ``extra`` (non-secret, e.g. from the config),
    then the connection ``aws_conn_id`` (login = access key id, password = secret, extras
    ``endpoint_url``/``region_name``) or, without one, the ``AWS_*`` environment.
    ``None`` for a local lake. Secret values are registered with Airflow's log masker.
    """
    from ib_futures.lake.storage import (
        SECRET_KEYS,
        is_object_store,
        storage_options_from_connection,
        storage_options_from_env,
    )

    if not is_object_store(lake_uri):
        return None
    options = dict(extra or {})
    if aws_conn_id:
        conn = BaseHook.get_connection(aws_conn_id)
        found = storage_options_from_connection(conn.login, conn.password, conn.extra_dejson)
    else:
        found = storage_options_from_env(lake_uri) or {}
    options.update(found)
    secrets = [v for k, v in options.items() if k in SECRET_KEYS and v]
    if secrets:
        from airflow.sdk.log import mask_secret

        for value in secrets:
            mask_secret(value)
    return options


def _records(snapshots: Any) -> list[Any]:
    if snapshots is None:
        return []
    if isinstance(snapshots, str):
        snapshots = json.loads(snapshots) if snapshots.strip() else []
    if isinstance(snapshots, Mapping):
        return [snapshots]
    return list(snapshots)


def _source(context: Context) -> str | None:
    ti = context.get("ti")
    if ti is None:
        return None
    parts = [str(getattr(ti, a, "") or "") for a in ("dag_id", "run_id", "task_id")]
    return "/".join(parts) + f"#try{getattr(ti, 'try_number', '?')}"


class DeltaWriteOperator(BaseOperator):
    """Validate snapshot records from XCom and merge them into the lake, idempotently.

    Records are routed by ``asset_class`` (``FUT`` -> ``futures_snapshots``, ``ETF`` ->
    ``spot_snapshots``) and merged on ``(symbol, bucket_ts)``: a retry or re-run of a slot
    inserts nothing twice. Tables are created on first write. See docs/storage.md.

    :param snapshots: the records, usually ``collect.output`` (templated; a list of dicts, a
        JSON string, or None/empty for "nothing to write": no commit is made).
    :param lake_uri: lake root, a path or ``s3://bucket/prefix`` (templated);
        ``IB_FUTURES_LAKE_URI`` overrides it when set.
    :param aws_conn_id: Airflow connection with S3 credentials (login = access key id,
        password = secret access key, extras ``endpoint_url``, ``region_name``) (templated);
        None: the ``AWS_*`` environment. Not used for a local lake.
    :param storage_options: extra non-secret object-store options, e.g. ``{"AWS_REGION": ...}``
        (templated).
    :param on_invalid: ``"fail"`` (default): one invalid record fails the task with an error
        naming each row, symbol and field, and nothing is written; ``"reject"``: valid records
        are written and invalid ones go to ``snapshot_rejects`` with their reasons (templated).
    :param dry_run: validate only, write nothing (templated, as the attribute ``dry_run_flag``;
        ``"{{ params.dry_run }}"`` works: "True"/"False" strings are understood).
    :param max_attempts: attempts per table when concurrent commits conflict.
    :return: write metrics, pushed to XCom: ``{"rows_received", "rows_valid", "rows_rejected",
        "duplicates_dropped", "dry_run", "tables": {name: {"rows_in_batch", "rows_inserted",
        "rows_already_present", "version", "attempts", "duration_ms"}}}`` for
        ``futures_snapshots``, ``spot_snapshots`` and ``snapshot_rejects``.
    """

    template_fields: Sequence[str] = (
        "snapshots",
        "lake_uri",
        "aws_conn_id",
        "storage_options",
        "on_invalid",
        "dry_run_flag",
    )
    ui_color = "#e8f4e4"

    def __init__(
        self,
        *,
        snapshots: Any,
        lake_uri: str | None = None,
        aws_conn_id: str | None = None,
        storage_options: dict[str, str] | None = None,
        on_invalid: str = "fail",
        dry_run: bool | str = False,
        max_attempts: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshots = snapshots
        self.lake_uri = lake_uri
        self.aws_conn_id = aws_conn_id
        self.storage_options = storage_options
        self.on_invalid = on_invalid
        # BaseOperator already has a dry_run() method: the flag lives under another name.
        self.dry_run_flag = dry_run
        self.max_attempts = max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.lake.storage import resolve_lake_uri
        from ib_futures.lake.writer import ON_INVALID_CHOICES, write_snapshots

        on_invalid = str(self.on_invalid).strip().lower()
        if on_invalid not in ON_INVALID_CHOICES:
            raise ValueError(
                f"on_invalid={self.on_invalid!r}; expected one of {ON_INVALID_CHOICES}"
            )
        dry_run = as_bool(self.dry_run_flag, "dry_run")
        records = _records(self.snapshots)
        lake_uri = resolve_lake_uri(self.lake_uri)
        options = lake_storage_options(lake_uri, self.aws_conn_id, self.storage_options)
        self.log.info(
            "writing %d snapshot records to %s (on_invalid=%s, dry_run=%s)",
            len(records), lake_uri, on_invalid, dry_run,
        )  # fmt: skip
        report = write_snapshots(
            lake_uri,
            records,
            storage_options=options,
            on_invalid=on_invalid,  # type: ignore[arg-type]
            dry_run=dry_run,
            source=_source(context),
            max_attempts=as_int(self.max_attempts, "max_attempts"),
        )
        for name, t in report.tables.items():
            if t.rows_in_batch:
                self.log.info(
                    "%s: %d in batch, %d inserted, %d already present, version %s, %d attempt(s), "
                    "by %s",
                    name, t.rows_in_batch, t.rows_inserted, t.rows_already_present, t.version,
                    t.attempts, t.method,
                )  # fmt: skip
        return report.as_dict()


class DeltaMaintenanceOperator(BaseOperator):
    """Compact (z-order), checkpoint, vacuum and clean the log of the lake's tables.

    Runs :func:`ib_futures.lake.maintenance.maintain_lake`; meant for the weekly DAG. Safe to
    run while collections write (commit conflicts are retried). Missing tables are skipped.

    :param lake_uri: lake root (templated); ``IB_FUTURES_LAKE_URI`` overrides it when set.
    :param tables: table names under the lake (templated); default: both snapshot tables and
        ``snapshot_rejects``.
    :param vacuum_retention_hours: unreferenced data files older than this are deleted
        (templated; config ``storage.retention.vacuum_retention_hours``).
    :param log_retention_hours: log entries older than this are deleted (templated; config
        ``storage.retention.log_retention_hours``). Time travel reaches back the smaller of the two.
    :param checkpoint_interval: sets ``delta.checkpointInterval`` (templated; None: unchanged).
    :param aws_conn_id: as in :class:`DeltaWriteOperator` (templated).
    :param storage_options: as in :class:`DeltaWriteOperator` (templated).
    :return: per table, pushed to XCom: ``{name: {"exists", "version_before", "version_after",
        "files_before", "files_after", "partitions_optimized", "files_removed_by_vacuum",
        "properties_changed", "duration_ms"}}``.
    """

    template_fields: Sequence[str] = (
        "lake_uri",
        "tables",
        "vacuum_retention_hours",
        "log_retention_hours",
        "checkpoint_interval",
        "aws_conn_id",
        "storage_options",
    )
    ui_color = "#f4efe4"

    def __init__(
        self,
        *,
        lake_uri: str | None = None,
        tables: Sequence[str] = SNAPSHOT_TABLE_NAMES,
        vacuum_retention_hours: int | str = 168,
        log_retention_hours: int | str = 168,
        checkpoint_interval: int | str | None = None,
        aws_conn_id: str | None = None,
        storage_options: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_uri = lake_uri
        self.tables = tables
        self.vacuum_retention_hours = vacuum_retention_hours
        self.log_retention_hours = log_retention_hours
        self.checkpoint_interval = checkpoint_interval
        self.aws_conn_id = aws_conn_id
        self.storage_options = storage_options

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.lake.maintenance import maintain_lake
        from ib_futures.lake.storage import resolve_lake_uri

        tables = [self.tables] if isinstance(self.tables, str) else list(self.tables)
        lake_uri = resolve_lake_uri(self.lake_uri)
        interval = self.checkpoint_interval
        results = maintain_lake(
            lake_uri,
            tables,
            vacuum_retention_hours=as_int(self.vacuum_retention_hours, "vacuum_retention_hours"),
            log_retention_hours=as_int(self.log_retention_hours, "log_retention_hours"),
            checkpoint_interval=None if interval in (None, "") else as_int(interval, "interval"),
            storage_options=lake_storage_options(lake_uri, self.aws_conn_id, self.storage_options),
        )
        for name, r in results.items():
            self.log.info(
                "%s: %s", name,
                "absent, skipped" if not r.exists
                else f"files {r.files_before} -> {r.files_after}, version {r.version_before} -> "
                f"{r.version_after}, {r.files_removed_by_vacuum} files vacuumed",
            )  # fmt: skip
        return {name: r.as_dict() for name, r in results.items()}
