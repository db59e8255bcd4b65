"""One pair, one window: prices in, one flat result row out (plus chart series as JSON).

:func:`analyse_pair` is pure (a polars frame in, a JSON-serialisable dict out); :func:`run_pair`
adds the lake read. The row's keys are the columns of the ``futures_analysis`` table
(:mod:`ib_futures.analysis.results`). Figures that cannot be computed are ``None``, never 0, and
``status``/``reason`` say why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.analysis.columns import (
    INSUFFICIENT,
    MAX_SERIES_POINTS,
    OK,
    PairInputs,
    basis_columns,
    correlation_columns,
    coverage_columns,
    header_columns,
    inference_columns,
    lead_lag_columns,
    status_columns,
    to_json,
)
from ib_futures.analysis.config import AnalysisSettings
from ib_futures.analysis.data_coverage import leg_coverage
from ib_futures.analysis.predictive_columns import next_slot_columns, open_close_columns
from ib_futures.analysis.returns import align_pair, normalise_prices
from ib_futures.analysis.slots import etf_sessions, exchange_date
from ib_futures.analysis.summary import summarise

if TYPE_CHECKING:
    import polars as pl

# The status constants, the series cap and to_json moved to .columns with the column blocks;
# they stay importable from here.
__all__ = [
    "INSUFFICIENT",
    "MAX_SERIES_POINTS",
    "OK",
    "PREVIOUS_SESSION_MARGIN",
    "analyse_pair",
    "daily_window_start",
    "read_window_start",
    "run_pair",
    "to_json",
    "week_end_of",
]


def week_end_of(window_start: datetime, window_end: datetime) -> str:
    """The key of a weekly result: the trade date of the last NYSE session that opens inside
    the window (the Friday for a Saturday-morning run), else the New York date of the window's
    last instant."""
    sessions = [s for s in etf_sessions(window_start, window_end) if s.open >= window_start]
    if sessions:
        return sessions[-1].trade_date.isoformat()
    return exchange_date(window_end - timedelta(microseconds=1)).isoformat()


def daily_window_start(
    window_start: datetime, window_end: datetime, config: AnalysisSettings
) -> datetime:
    """Start of the history the daily (overnight) model uses: never later than the window's."""
    return min(window_start, window_end - timedelta(days=config.daily_lookback_days))


#: the daily model's first session needs the previous session's last slot: read this much more
#: (a weekend plus a holiday is at most four days between sessions)
PREVIOUS_SESSION_MARGIN = timedelta(days=5)


def read_window_start(
    window_start: datetime, window_end: datetime, config: AnalysisSettings
) -> datetime:
    """Where the prices handed to :func:`analyse_pair` should start."""
    return daily_window_start(window_start, window_end, config) - PREVIOUS_SESSION_MARGIN


def _prepare_inputs(
    prices: pl.DataFrame,
    futures_symbol: str,
    etf_symbol: str,
    window_start: datetime,
    window_end: datetime,
    cfg: AnalysisSettings,
) -> PairInputs:
    """Normalise and filter the prices, align the pair's returns, measure each leg's coverage."""
    import polars as pl

    if "contract" not in prices.columns or "market_data_type" not in prices.columns:
        prices = normalise_prices(prices)
    in_window_expr = (pl.col("bucket_ts") >= window_start) & (pl.col("bucket_ts") < window_end)
    live = pl.col("market_data_type").is_null() | (pl.col("market_data_type") == 1)
    # counted before live_only drops them, so the row can say how many rows were left out
    non_live = dict(prices.filter(in_window_expr & ~live).group_by("symbol").len().iter_rows())
    if cfg.live_only:
        prices = prices.filter(live)
    if not cfg.include_history and "from_history" in prices.columns:
        prices = prices.filter(~pl.col("from_history"))
    pr = align_pair(prices, futures_symbol, etf_symbol, window_start, window_end)

    in_window = prices.filter(in_window_expr)
    fut_cov = leg_coverage(
        futures_symbol,
        in_window.filter(pl.col("symbol") == futures_symbol),
        pr.futures_expected,
        pr.futures,
    )
    etf_cov = leg_coverage(
        etf_symbol, in_window.filter(pl.col("symbol") == etf_symbol), pr.etf_expected, pr.etf
    )
    fut, etf, ts, day = pr.paired()
    return PairInputs(
        prices=prices,
        futures_symbol=futures_symbol,
        etf_symbol=etf_symbol,
        window_start=window_start,
        window_end=window_end,
        daily_start=daily_window_start(window_start, window_end, cfg),
        cfg=cfg,
        returns=pr,
        fut_cov=fut_cov,
        etf_cov=etf_cov,
        non_live=non_live,
        fut=fut,
        etf=etf,
        ts=ts,
        day=day,
    )


def analyse_pair(
    prices: pl.DataFrame,
    futures_symbol: str,
    etf_symbol: str,
    window_start: datetime,
    window_end: datetime,
    config: AnalysisSettings | None = None,
    *,
    computed_at: datetime | None = None,
) -> dict[str, Any]:
    """All figures for one pair over ``[window_start, window_end)``.

    :param prices: snapshot rows of both legs (record layout, or already normalised) covering
        at least ``[read_window_start(...), window_end)``; extra rows are ignored.
    :return: one flat, JSON-serialisable results row (see docs/analysis.md for every key).
    """
    cfg = config or AnalysisSettings()
    if window_end <= window_start:
        raise ValueError(f"empty window [{window_start}, {window_end})")
    inputs = _prepare_inputs(prices, futures_symbol, etf_symbol, window_start, window_end, cfg)

    # The blocks are merged in order: the order of the row's keys is the order of the columns.
    row = header_columns(inputs, week_end_of(window_start, window_end), computed_at)
    row.update(coverage_columns(inputs))
    row.update(basis_columns(inputs))
    row.update(status_columns(inputs))
    # Return statistics need enough paired returns with some variance; else they stay None.
    enough = row["status"] == OK
    row.update(correlation_columns(inputs, enough))
    row.update(lead_lag_columns(inputs, enough))
    row.update(next_slot_columns(inputs, enough, row["reason"]))
    # The overnight model reads its own, longer daily history: it runs whatever the status.
    row.update(open_close_columns(inputs))
    row.update(inference_columns(inputs, row))

    row["summary"] = summarise(row, cfg.alpha)
    return row


def run_pair(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    window_start: datetime,
    window_end: datetime,
    config: AnalysisSettings | None = None,
    storage_options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Read the pair's prices for the window (and the daily model's history) and analyse."""
    from ib_futures.analysis.source import load_pair_prices

    cfg = config or AnalysisSettings()
    prices = load_pair_prices(
        lake_uri,
        futures_symbol,
        etf_symbol,
        read_window_start(window_start, window_end, cfg),
        window_end,
        storage_options=storage_options,
    )
    return analyse_pair(prices, futures_symbol, etf_symbol, window_start, window_end, cfg)
