"""The ``futures_analysis`` Delta table: one row per pair per week, every figure a flat column.

Idempotent: writing a week's rows first removes that week's rows for the same pairs, in the
same commit (``write_deltalake(mode="overwrite", predicate=...)``, Delta's replaceWhere), so a
re-run or a backfill replaces rows and never duplicates them. The table is created on first
write from :data:`RESULTS` and gains new nullable columns the same way the snapshot tables do
(``ib_futures.lake.tables.ensure_table``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ib_futures.lake.schemas import Column, TableSpec

if TYPE_CHECKING:
    import polars as pl

RESULTS_TABLE = "futures_analysis"


def _c(name: str, type_: str, doc: str, nullable: bool = True) -> Column:
    return Column(name=name, type=type_, nullable=nullable, doc=doc)


def _predictive(prefix: str, what: str) -> tuple[Column, ...]:
    return (
        _c(f"{prefix}_status", "string", f"{what}: ok or insufficient_data", False),
        _c(f"{prefix}_reason", "string", f"{what}: why not measured"),
        _c(f"{prefix}_n_samples", "long", f"{what}: samples with signal and target"),
        _c(f"{prefix}_n_oos", "long", f"{what}: out-of-sample predictions"),
        _c(f"{prefix}_folds", "long", f"{what}: walk-forward folds (days) predicted"),
        _c(f"{prefix}_hit_n", "long", f"{what}: predictions scored for direction (no zeros)"),
        _c(f"{prefix}_hit_rate", "double", f"{what}: share with the right sign"),
        _c(f"{prefix}_base_rate", "double", f"{what}: hit rate expected without skill"),
        _c(f"{prefix}_hit_p", "double", f"{what}: one-sided HAC p of hit rate > base"),
        _c(f"{prefix}_ic", "double", f"{what}: Spearman(prediction, realised)"),
        _c(f"{prefix}_ic_p", "double", f"{what}: two-sided HAC p of the IC"),
        _c(f"{prefix}_mz_slope", "double", f"{what}: OLS slope of realised on predicted"),
        _c(f"{prefix}_mz_t", "double", f"{what}: HAC t-statistic of that slope"),
        _c(f"{prefix}_mz_p", "double", f"{what}: two-sided HAC p of that slope"),
        _c(f"{prefix}_mz_r2", "double", f"{what}: R^2 of realised on predicted"),
        _c(f"{prefix}_r2_oos", "double", f"{what}: 1 - SSE(model)/SSE(training mean)"),
        _c(f"{prefix}_r2_oos_p", "double", f"{what}: one-sided Clark-West HAC p of R^2 > 0"),
        _c(f"{prefix}_n_eff", "double", f"{what}: fewest effective observations of its tests"),
        _c(f"{prefix}_model_slope", "double", f"{what}: slope of the last fitted model"),
        _c(f"{prefix}_oos_json", "string", f"{what}: predictions {{at, pred, real}}"),
    )


RESULT_COLUMNS: tuple[Column, ...] = (
    _c("week_end", "date", "trade date of the last NYSE session in the window; key", False),
    _c("pair", "string", "e.g. ES/SPY; key", False),
    _c("futures_symbol", "string", "futures root symbol", False),
    _c("etf_symbol", "string", "ETF symbol", False),
    _c("window_start", "timestamp", "intraday window start (inclusive, UTC)", False),
    _c(
        "window_end", "timestamp", "window end (exclusive, UTC): the run's data interval end", False
    ),
    _c("daily_window_start", "timestamp", "start of the daily (overnight) model's history"),
    _c("computed_at", "timestamp", "when the row was computed (audit only)", False),
    _c("analysis_version", "integer", "version of the definitions in docs/analysis.md", False),
    _c("config_json", "string", "the AnalysisConfig used"),
    _c("status", "string", "ok or insufficient_data", False),
    _c("reason", "string", "why insufficient, with the counts"),
    _c("summary", "string", "plain-language paragraph"),
    _c("inference_method", "string", "how p-values and intervals were computed"),
    _c("unreliable", "string", "tests without a p-value: too few effective observations"),
    _c("n_pairs", "long", "same-slot paired 5-minute returns", False),
    *(
        # non_live came after the first rows: columns added later must be nullable
        _c(f"{leg}_{what}", "long", doc.format(leg=name), what == "non_live")
        for leg, name in (("fut", "futures"), ("etf", "ETF"))
        for what, doc in (
            ("non_live", "{leg} rows left out as delayed or frozen (market_data_type != 1)"),
            ("expected", "{leg} slots the calendar expects in the window"),
            ("present", "{leg} expected slots with a usable price"),
            ("missing", "{leg} expected slots without one"),
            ("unexpected", "{leg} rows outside the expected slots (not used)"),
            ("returns", "{leg} 5-minute returns (consecutive slots, same contract)"),
            ("gap_count", "{leg} runs of consecutive missing slots"),
        )
    ),
    _c("gaps_json", "string", "gaps per symbol [{start, end, slots}] (first 50 each)"),
    _c("fut_history_share", "double", "share of the futures slots used filled from IB history"),
    _c("etf_history_share", "double", "share of the ETF slots used filled from IB history"),
    _c("pearson_r", "double", "Pearson correlation of same-slot returns"),
    _c("pearson_p", "double", "two-sided HAC p (H0: no correlation)"),
    _c("pearson_ci_low", "double", "HAC Fisher-z 95 % interval, low"),
    _c("pearson_ci_high", "double", "HAC Fisher-z 95 % interval, high"),
    _c("pearson_n_eff", "double", "effective observations of the Pearson test"),
    _c("spearman_rho", "double", "Spearman correlation of same-slot returns"),
    _c("spearman_p", "double", "two-sided HAC p on ranks"),
    _c("spearman_ci_low", "double", "HAC Fisher-z interval on ranks, low"),
    _c("spearman_ci_high", "double", "HAC Fisher-z interval on ranks, high"),
    _c("spearman_n_eff", "double", "effective observations of the Spearman test"),
    _c("rolling_window", "long", "paired returns per rolling window", False),
    _c("rolling_corr_min", "double", "lowest rolling correlation"),
    _c("rolling_corr_median", "double", "median rolling correlation"),
    _c("rolling_corr_max", "double", "highest rolling correlation"),
    _c("rolling_corr_json", "string", "rolling correlation {at, r}"),
    _c("daily_corr_json", "string", "per-session correlation [{date, n, r}]"),
    _c("xcorr_max_lag", "long", "lags searched: -max..+max slots", False),
    _c("xcorr_peak_lag", "long", "lag of the largest |r| (positive: futures lead)"),
    _c("xcorr_peak_r", "double", "r at the peak lag"),
    _c("xcorr_peak_n", "long", "pairs at the peak lag"),
    _c("xcorr_peak_p", "double", "unadjusted two-sided HAC p at the peak"),
    _c("xcorr_peak_p_bonferroni", "double", "p x number of lags (capped at 1)"),
    _c("xcorr_peak_n_eff", "double", "effective observations at the peak lag"),
    _c("xcorr_band", "double", "unadjusted 95 % HAC band of r at the peak lag"),
    _c("xcorr_band_bonferroni", "double", "Bonferroni-adjusted HAC band at the peak lag"),
    _c("xcorr_significant", "boolean", "peak significant after Bonferroni"),
    _c("lead_lag", "long", "strongest positive lag (futures lead)"),
    _c("lead_r", "double", "r at that lag"),
    _c("lead_p", "double", "unadjusted HAC p at that lag"),
    _c("lead_p_bonferroni", "double", "p x max_lag (capped at 1)"),
    _c("lead_n_eff", "double", "effective observations at that lag"),
    _c("lag_profile_json", "string", "profile {lag, r, n, p, n_eff, band, band_bonferroni}"),
    _c("next_slot_signal_slots", "long", "slots in the futures signal"),
    *_predictive("next_slot", "previous-slot futures return -> ETF next slot"),
    _c("open_close_days", "long", "sessions in the daily model's history"),
    *_predictive("open_close", "overnight futures change -> ETF open-to-close"),
    _c("basis_n", "long", "slots with both prices"),
    _c("basis_ratio_mean", "double", "mean futures/ETF price ratio"),
    _c("basis_std_bp", "double", "std of the demeaned log basis, bp"),
    _c("basis_min_bp", "double", "min of the demeaned log basis, bp"),
    _c("basis_max_bp", "double", "max of the demeaned log basis, bp"),
    _c("basis_ar1", "double", "lag-1 autocorrelation of the basis"),
    _c("basis_half_life_slots", "double", "-ln 2 / ln ar1"),
    _c("basis_contracts", "string", "futures contracts (conIds/local symbols) seen"),
    _c("basis_json", "string", "demeaned basis {at, bp}"),
)

RESULTS = TableSpec(
    name=RESULTS_TABLE,
    columns=RESULT_COLUMNS,
    key=("week_end", "pair"),
    constraints=MappingProxyType({"status_known": "status IN ('ok', 'insufficient_data')"}),
    properties=MappingProxyType({"delta.minWriterVersion": "3"}),
    description="Weekly futures/ETF tracking, lead-lag and predictive-value results",
)


def _value(col: Column, value: Any) -> Any:
    if value is None:
        return None
    if col.type == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if col.type == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def rows_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Result rows (from :func:`~ib_futures.analysis.pipeline.analyse_pair`) in table layout."""
    import polars as pl

    unknown = {k for r in rows for k in r} - set(RESULTS.column_names)
    if unknown:
        raise ValueError(f"result rows carry columns the table does not declare: {sorted(unknown)}")
    data = {c.name: [_value(c, r.get(c.name)) for r in rows] for c in RESULT_COLUMNS}
    return pl.DataFrame(data, schema=RESULTS.polars_schema())


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def replace_predicate(rows: Iterable[Mapping[str, Any]]) -> str:
    """``(week_end = '...' AND pair = '...') OR ...`` for the rows' keys."""
    keys = sorted({(str(r["week_end"]), str(r["pair"])) for r in rows})
    return " OR ".join(f"(week_end = {_literal(w)} AND pair = {_literal(p)})" for w, p in keys)


def write_results(
    lake_uri: str,
    rows: Sequence[Mapping[str, Any]],
    storage_options: dict[str, str] | None = None,
    max_attempts: int = 8,
) -> int:
    """Replace the rows' (week_end, pair) keys with ``rows`` in one commit; return the version."""
    from deltalake import write_deltalake

    from ib_futures.lake.retry import commit_retrying
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.tables import ensure_table

    if not rows:
        raise ValueError("no result rows to write")
    frame = rows_frame(rows)
    if frame.select(RESULTS.key).is_duplicated().any():
        raise ValueError("result rows repeat a (week_end, pair) key")
    uri = table_uri(lake_uri, RESULTS_TABLE)
    predicate = replace_predicate(rows)
    for attempt in commit_retrying(RESULTS_TABLE, max_attempts):
        with attempt:
            table = ensure_table(uri, RESULTS, storage_options)
            write_deltalake(table, frame, mode="overwrite", predicate=predicate)
            table.update_incremental()
            return int(table.version())
    raise AssertionError("unreachable")  # pragma: no cover


def store_week(
    lake_uri: str,
    rows: Sequence[Mapping[str, Any]],
    storage_options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """:func:`write_results`, and what was written: ``{"table", "version", "week_end",
    "weeks", "pairs", "statuses"}`` (the weekly DAG's XCom)."""
    from ib_futures.lake.storage import table_uri

    version = write_results(lake_uri, rows, storage_options=storage_options)
    weeks = sorted({str(r["week_end"]) for r in rows})
    return {
        "table": table_uri(lake_uri, RESULTS_TABLE),
        "version": version,
        "week_end": weeks[-1],
        "weeks": weeks,
        "pairs": [r["pair"] for r in rows],
        "statuses": {r["pair"]: r["status"] for r in rows},
    }


def read_results(
    lake_uri: str,
    week_end: date | str | None = None,
    pairs: Iterable[str] | None = None,
    storage_options: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Rows of the table (one week's when ``week_end`` is given), sorted by week and pair."""
    import polars as pl

    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.tables import open_table

    table = open_table(table_uri(lake_uri, RESULTS_TABLE), storage_options)
    if table is None:
        return pl.DataFrame(schema=RESULTS.polars_schema())
    scan = pl.scan_delta(table)
    if week_end is not None:
        day = date.fromisoformat(week_end) if isinstance(week_end, str) else week_end
        scan = scan.filter(pl.col("week_end") == day)
    if pairs is not None:
        scan = scan.filter(pl.col("pair").is_in(list(pairs)))
    return scan.sort("week_end", "pair").collect()
