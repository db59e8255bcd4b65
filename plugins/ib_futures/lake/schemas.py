"""Table definitions, declared once: columns, NOT NULL, CHECK constraints, partitioning, properties.

Every other module (validation, writer, readers, maintenance, docs/storage.md) derives what it
needs from the :class:`TableSpec` objects here, so the Delta schema, the polars schema and the
validation rules cannot drift apart. The snapshot columns follow the record contract in
docs/architecture.md ("The snapshot record").

Cheap to import: ``deltalake`` and ``polars`` are imported inside the converters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    from deltalake import Schema

FUTURES_TABLE = "futures_snapshots"
SPOT_TABLE = "spot_snapshots"
REJECTS_TABLE = "snapshot_rejects"
UNFILLABLE_TABLE = "unfillable_slots"

#: Delta primitive types used here, and their polars equivalents (by name, resolved lazily).
DELTA_TYPES = ("string", "long", "integer", "double", "boolean", "date", "timestamp")


@dataclass(frozen=True)
class Column:
    """One column: Delta type (``timestamp`` is UTC-adjusted), nullability, a one-line meaning."""

    name: str
    type: str
    nullable: bool = True
    doc: str = ""
    #: element type when ``type == "array"`` (only used by the rejects table)
    element: str | None = None

    def __post_init__(self) -> None:
        if self.type not in DELTA_TYPES and self.type != "array":
            raise ValueError(f"column {self.name!r}: unsupported Delta type {self.type!r}")


@dataclass(frozen=True)
class TableSpec:
    """Everything that defines one Delta table of the lake."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    constraints: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    #: columns the weekly maintenance z-orders by (empty: plain compaction)
    z_order_by: tuple[str, ...] = ()
    #: key column (few distinct values) naming the table's writer lanes: every commit carries one
    #: Delta app transaction per value it writes, so two writers of the same value conflict even
    #: when both only append. Enables the writer's append path (lake/writer.py); None: merge only
    lane_column: str | None = None

    def __post_init__(self) -> None:
        if self.lane_column is not None and self.lane_column not in self.key:
            raise ValueError(f"{self.name}: lane_column {self.lane_column!r} is not a key column")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def configuration(self) -> dict[str, str]:
        """Table properties plus ``delta.constraints.<name>`` entries, as written at creation."""
        conf = dict(self.properties)
        conf.update({f"delta.constraints.{k}": v for k, v in self.constraints.items()})
        return conf

    def delta_schema(self) -> Schema:
        from deltalake import Field, Schema
        from deltalake.schema import ArrayType, PrimitiveType

        fields = []
        for c in self.columns:
            dtype: Any = (
                ArrayType(PrimitiveType(c.element or "string"), contains_null=False)
                if c.type == "array"
                else c.type
            )
            fields.append(Field(c.name, dtype, nullable=c.nullable))
        return Schema(fields)

    def polars_schema(self) -> pl.Schema:
        import polars as pl

        return pl.Schema({c.name: polars_dtype(c) for c in self.columns})

    def with_columns(self, *extra: Column) -> TableSpec:
        """A copy with more (nullable) columns: how a schema evolves (see docs/storage.md)."""
        return TableSpec(
            name=self.name,
            columns=self.columns + extra,
            key=self.key,
            partition_by=self.partition_by,
            constraints=self.constraints,
            properties=self.properties,
            description=self.description,
            z_order_by=self.z_order_by,
            lane_column=self.lane_column,
        )


def polars_dtype(col: Column) -> Any:
    """The polars dtype a column is read and written as (timestamps: ``Datetime('us', 'UTC')``)."""
    import polars as pl

    mapping: dict[str, Any] = {
        "string": pl.String,
        "long": pl.Int64,
        "integer": pl.Int32,
        "double": pl.Float64,
        "boolean": pl.Boolean,
        "date": pl.Date,
        "timestamp": pl.Datetime("us", "UTC"),
    }
    if col.type == "array":
        return pl.List(mapping[col.element or "string"])
    return mapping[col.type]


def _c(name: str, type_: str, nullable: bool = True, doc: str = "") -> Column:
    return Column(name=name, type=type_, nullable=nullable, doc=doc)


SNAPSHOT_COLUMNS: tuple[Column, ...] = (
    _c("symbol", "string", False, "root symbol: ES, NQ, RTY, SPY, QQQ, IWM"),
    _c("asset_class", "string", False, "FUT or ETF; decides the table"),
    _c("bucket_ts", "timestamp", False, "the five-minute slot (data interval end, UTC); key"),
    _c("bucket_date", "date", False, "UTC date of bucket_ts; the partition column"),
    _c("quote_ts", "timestamp", True, "newest tick time of the snapshot as IB delivered it"),
    _c("last_trade_ts", "timestamp", True, "IB's last-trade time"),
    _c("collected_ts", "timestamp", False, "when the collector finished (audit only)"),
    _c("con_id", "long", False, "IB conId of the contract used"),
    _c("local_symbol", "string", False, "e.g. ESZ6, SPY"),
    _c("expiry", "date", True, "futures last trade date; null for ETFs"),
    _c("exchange", "string", False, "CME for futures, SMART for ETFs"),
    _c("currency", "string", False, "USD"),
    _c("bid", "double", True, "best bid; null when IB has none"),
    _c("ask", "double", True, "best ask"),
    _c("last", "double", True, "last trade price"),
    _c("bid_size", "double"),
    _c("ask_size", "double"),
    _c("last_size", "double"),
    _c("volume", "double", True, "session volume"),
    _c("open_interest", "double", True, "futures open interest when IB gives it"),
    _c("open", "double", True, "session open"),
    _c("high", "double", True, "session high"),
    _c("low", "double", True, "session low"),
    _c("close", "double", True, "prior close"),
    _c("price", "double", True, "mid when bid/ask present and not crossed, else last"),
    _c("crossed", "boolean", False, "bid > ask (kept, flagged, excluded from price)"),
    _c("market_data_type", "integer", False, "1 live, 2 frozen, 3 delayed, 4 delayed-frozen"),
    _c("change_1h", "double", True, "fractional change over 1 hour"),
    _c("change_4h", "double", True, "fractional change over 4 hours"),
    _c("change_overnight", "double", True, "fractional change since the overnight reference"),
    _c("change_daily", "double", True, "fractional change against the prior close"),
    _c("change_source", "string", True, "lake or history: where the reference prices came from"),
    # Added after the first release: existing tables gain it on their next write (schema
    # evolution, docs/storage.md); null there means live, the only source of those rows.
    _c("price_source", "string", True, "live, or the IB bar field used: hist_midpoint_close, ..."),
)

_PRICE_COLUMNS = ("bid", "ask", "last", "price")
_SIZE_COLUMNS = ("bid_size", "ask_size", "last_size", "volume", "open_interest")

#: CHECK constraints shared by both snapshot tables. Validation (validate.py) enforces the same
#: rules first so errors name the row and field; these are the table's own guarantee against
#: any other writer. DataFusion SQL, evaluated per row on every append or merge.
SNAPSHOT_CONSTRAINTS: dict[str, str] = {
    **{f"{c}_positive": f"{c} IS NULL OR {c} > 0" for c in _PRICE_COLUMNS},
    "bid_le_ask_unless_crossed": "bid IS NULL OR ask IS NULL OR crossed OR bid <= ask",
    "sizes_non_negative": " AND ".join(f"({c} IS NULL OR {c} >= 0)" for c in _SIZE_COLUMNS),
    "market_data_type_known": "market_data_type BETWEEN 1 AND 4",
    "bucket_date_is_utc_date": "bucket_date = CAST(bucket_ts AS DATE)",
}

#: Table properties (see docs/storage.md "Table properties" for the reasoning).
SNAPSHOT_PROPERTIES: dict[str, str] = {
    # CHECK constraints need writer protocol 3. Declaring it (with the constraints) in the
    # configuration of version 0 makes the table exist with its constraints in one atomic
    # commit: no window in which a concurrent writer sees an unconstrained table.
    "delta.minWriterVersion": "3",
    # 288 commits a day per table: a checkpoint every 50 commits keeps the JSON replay on a
    # table load short (<= 49 small GETs on S3), and the checkpoint stays small because
    # maintenance compacts the table weekly.
    "delta.checkpointInterval": "50",
    # Versions (log entries) and unreferenced data files are kept 7 days: time travel reaches
    # back 7 days. A longer log would only keep history() of versions whose files are vacuumed,
    # and every table load lists the whole local _delta_log (bench log_load: 2.7 ms at 100
    # entries, 5-8 ms at 2,000-4,000, 14 ms at 8,600 = 30 days of five-minute commits).
    # Maintenance re-aligns both to the configured retention.
    "delta.logRetentionDuration": "interval 168 hours",
    "delta.deletedFileRetentionDuration": "interval 168 hours",
    # Expired-log cleanup lists the whole _delta_log on every commit; the weekly maintenance
    # does it instead (also for writers that do not pass PostCommitHookProperties).
    "delta.enableExpiredLogCleanup": "false",
    # File statistics only where queries filter: keeps every commit and checkpoint smaller.
    "delta.dataSkippingStatsColumns": "symbol,bucket_ts",
}

FUTURES = TableSpec(
    name=FUTURES_TABLE,
    columns=SNAPSHOT_COLUMNS,
    key=("symbol", "bucket_ts"),
    partition_by=("bucket_date",),
    constraints=MappingProxyType(
        {**SNAPSHOT_CONSTRAINTS, "asset_class_is_fut": "asset_class = 'FUT'"}
    ),
    properties=MappingProxyType(SNAPSHOT_PROPERTIES),
    description="CME index futures (front month), one row per symbol per five-minute slot",
    z_order_by=("symbol", "bucket_ts"),
    lane_column="symbol",
)

SPOT = TableSpec(
    name=SPOT_TABLE,
    columns=SNAPSHOT_COLUMNS,
    key=("symbol", "bucket_ts"),
    partition_by=("bucket_date",),
    constraints=MappingProxyType(
        {**SNAPSHOT_CONSTRAINTS, "asset_class_is_etf": "asset_class = 'ETF'"}
    ),
    properties=MappingProxyType(SNAPSHOT_PROPERTIES),
    description="Spot ETF references, one row per symbol per five-minute slot",
    z_order_by=("symbol", "bucket_ts"),
    lane_column="symbol",
)

#: Which table a record goes to, by its ``asset_class``.
TABLE_BY_ASSET_CLASS: Mapping[str, TableSpec] = MappingProxyType({"FUT": FUTURES, "ETF": SPOT})

REJECTS = TableSpec(
    name=REJECTS_TABLE,
    columns=(
        _c("record_sha256", "string", False, "sha256 of the raw record's canonical JSON; key"),
        _c("rejected_ts", "timestamp", False, "when the writer rejected it (UTC)"),
        _c("row_index", "long", False, "position of the record in its batch"),
        _c("target_table", "string", True, "where it would have gone, when asset_class was valid"),
        _c("symbol", "string", True, "the record's symbol, when it was a string"),
        _c("bucket_ts", "string", True, "the record's bucket_ts as given (unparsed)"),
        Column("reasons", "array", False, "one 'field: problem' entry per failed rule", "string"),
        _c("record_json", "string", False, "the raw record as JSON"),
        _c("source", "string", True, "who sent it, e.g. dag_id/run_id/task_id"),
    ),
    key=("record_sha256",),
    properties=MappingProxyType(
        {k: v for k, v in SNAPSHOT_PROPERTIES.items() if k != "delta.dataSkippingStatsColumns"}
    ),
    description="Snapshot records the writer refused, with the reasons (on_invalid='reject')",
)

#: Why IB could not give a slot (``unfillable_slots.reason``).
UNFILLABLE_REASONS: tuple[str, ...] = (
    "no_bar",  # IB answered, but no bar covers the slot (no trading then, a data gap at IB)
    "beyond_retention",  # older than IB keeps (head timestamp, expired-contract retention)
    "no_permission",  # no market-data subscription for the historical request
    "no_contract",  # the contract for the slot cannot be resolved (expired and gone)
)

UNFILLABLE = TableSpec(
    name=UNFILLABLE_TABLE,
    columns=(
        _c("symbol", "string", False, "root symbol of the expected slot"),
        _c("asset_class", "string", False, "FUT or ETF"),
        _c("bucket_ts", "timestamp", False, "the expected five-minute slot (UTC); key"),
        _c("bucket_date", "date", False, "UTC date of bucket_ts; the partition column"),
        _c("local_symbol", "string", True, "the contract asked for, e.g. ESZ6; null if unresolved"),
        _c("reason", "string", False, "why IB could not give it: " + ", ".join(UNFILLABLE_REASONS)),
        _c("ib_code", "integer", True, "IB's error code, when IB answered with one"),
        _c("message", "string", True, "IB's answer or the repair's explanation"),
        _c("recorded_ts", "timestamp", False, "when the repair recorded it (UTC)"),
        _c("source", "string", True, "who recorded it, e.g. dag_id/run_id/task_id"),
    ),
    key=("symbol", "bucket_ts"),
    partition_by=("bucket_date",),
    constraints=MappingProxyType(
        {
            "reason_known": "reason IN ("
            + ", ".join(f"'{r}'" for r in UNFILLABLE_REASONS)
            + ")",
            "bucket_date_is_utc_date": "bucket_date = CAST(bucket_ts AS DATE)",
        }
    ),
    properties=MappingProxyType(SNAPSHOT_PROPERTIES),
    description="Expected slots IB could not give, with the reason: known gaps, not silent holes",
    z_order_by=("symbol", "bucket_ts"),
    lane_column="symbol",
)

SNAPSHOT_TABLES: tuple[TableSpec, ...] = (FUTURES, SPOT)
ALL_TABLES: tuple[TableSpec, ...] = (FUTURES, SPOT, REJECTS, UNFILLABLE)
SPECS_BY_NAME: Mapping[str, TableSpec] = MappingProxyType({s.name: s for s in ALL_TABLES})
