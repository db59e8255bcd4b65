"""Opening, creating and evolving the lake's tables.

A table is created on first write from its :class:`~ib_futures.lake.schemas.TableSpec`, schema,
partitioning, properties *and* CHECK constraints in version 0 (one atomic commit), so two writers
creating it at once cannot leave a half-made table: the loser of the race for version 0 simply
opens the winner's table. On every open, columns the spec declares but the table lacks are added
(nullable only; one ``ADD COLUMNS`` commit) and missing constraints are added: that is the schema
evolution path (docs/storage.md "Schema evolution").
"""

from __future__ import annotations

import logging

from deltalake import DeltaTable, Field
from deltalake.exceptions import DeltaError, TableNotFoundError

from ib_futures.lake.retry import DEFAULT_ATTEMPTS, commit_retrying
from ib_futures.lake.schemas import TableSpec
from ib_futures.lake.storage import StorageOptions

log = logging.getLogger(__name__)


class SchemaConflictError(RuntimeError):
    """The table on storage cannot hold what the spec declares (type change, new NOT NULL)."""


def open_table(uri: str, storage_options: StorageOptions | None = None) -> DeltaTable | None:
    """The table at ``uri``, or ``None`` when there is none yet."""
    try:
        return DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return None


def create_table(
    uri: str, spec: TableSpec, storage_options: StorageOptions | None = None
) -> DeltaTable:
    """Create the table (version 0 carries constraints and properties); tolerate a racing creator."""
    try:
        DeltaTable.create(
            uri,
            schema=spec.delta_schema(),
            mode="ignore",
            partition_by=list(spec.partition_by) or None,
            name=spec.name,
            description=spec.description,
            configuration=spec.configuration(),
            storage_options=storage_options,
            # delta.constraints.* are not "known keys" to the kernel's property parser, but are
            # honoured by the writer once minWriterVersion >= 3 (set in the spec's properties).
            raise_if_key_not_exists=False,
        )
    except DeltaError:
        # Another writer committed version 0 between our check and our commit.
        if open_table(uri, storage_options) is None:
            raise
        log.info("table %s was created concurrently; using it", spec.name)
    table = open_table(uri, storage_options)
    if table is None:  # pragma: no cover - storage lost the table we just created
        raise DeltaError(f"table {spec.name} at {uri} vanished right after creation")
    log.info("created table %s (version %s)", spec.name, table.version())
    return table


def _type_name(t: object) -> str:
    inner = getattr(t, "type", None)
    return inner if isinstance(inner, str) else str(t)


def _evolve(table: DeltaTable, spec: TableSpec) -> bool:
    """Add declared columns/constraints the table lacks. True when a commit was made."""
    existing = {f.name: f for f in table.schema().fields}
    wanted = spec.delta_schema()
    missing: list[Field] = []
    for f in wanted.fields:
        have = existing.get(f.name)
        if have is None:
            if not f.nullable:
                raise SchemaConflictError(
                    f"{spec.name}: new column {f.name!r} must be nullable (existing rows have no value)"
                )
            missing.append(f)
        elif have.type != f.type:
            raise SchemaConflictError(
                f"{spec.name}: column {f.name!r} is {_type_name(have.type)} in the table, "
                f"{_type_name(f.type)} in the spec"
            )
    changed = False
    if missing:
        log.info("%s: adding columns %s", spec.name, [f.name for f in missing])
        table.alter.add_columns(missing)
        changed = True
    conf = table.metadata().configuration
    for name, expr in spec.constraints.items():
        if f"delta.constraints.{name}" not in conf:
            log.info("%s: adding constraint %s: %s", spec.name, name, expr)
            table.alter.add_constraint({name: expr})
            changed = True
    return changed


def ensure_table(
    uri: str,
    spec: TableSpec,
    storage_options: StorageOptions | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> DeltaTable:
    """Open the table, creating it on first use and evolving it to ``spec``; return it."""
    for attempt in commit_retrying(f"{spec.name}: create or evolve", max_attempts):
        with attempt:
            table = open_table(uri, storage_options) or create_table(uri, spec, storage_options)
            if _evolve(table, spec):
                table = DeltaTable(uri, storage_options=storage_options)
            return table
    raise AssertionError("unreachable")  # pragma: no cover
