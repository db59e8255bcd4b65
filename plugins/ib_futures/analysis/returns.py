"""5-minute log returns aligned by slot.

A return at slot ``t`` is ``ln(price_t) - ln(price_{t-5min})`` and exists only when both slots
are present, both are expected trading slots of the instrument (ETF: regular hours; futures:
Globex hours), and both quotes come from the same contract. So no return spans a gap, the
overnight break, the 17:00-18:00 maintenance halt or a contract roll. Futures and ETF returns
are then aligned on a common 5-minute grid over the window, so a lag of ``k`` slots always
means ``5k`` minutes of clock time, never "k rows back".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ib_futures.analysis.slots import SLOT, etf_expected_slots, futures_expected_slots

if TYPE_CHECKING:
    import polars as pl

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_SLOT_US = int(SLOT.total_seconds() * 1_000_000)


def normalise_prices(frame: pl.DataFrame) -> pl.DataFrame:
    """Snapshot rows (record layout) -> ``symbol, bucket_ts, price, contract, market_data_type,
    from_history`` (``price_source`` is one of IB's bars; null and ``live`` are live).

    ``price`` is the record's reference price (mid, else last); missing or non-positive prices
    are dropped, never treated as 0. ``contract`` is the conId (else local symbol) so that a
    return never spans a roll; it is null when the input does not carry one.
    """
    import polars as pl

    contract: pl.Expr
    if "con_id" in frame.columns:
        contract = pl.col("con_id").cast(pl.String)
    elif "local_symbol" in frame.columns:
        contract = pl.col("local_symbol").cast(pl.String)
    else:
        contract = pl.lit(None, dtype=pl.String)
    data_type = (
        pl.col("market_data_type").cast(pl.Int32)
        if "market_data_type" in frame.columns
        else pl.lit(None, dtype=pl.Int32)
    )
    from_history = (
        pl.col("price_source").cast(pl.String).str.starts_with("hist").fill_null(False)
        if "price_source" in frame.columns
        else pl.lit(False)
    )
    return (
        frame.lazy()
        .select(
            pl.col("symbol").cast(pl.String),
            pl.col("bucket_ts").cast(pl.Datetime("us", "UTC")),
            pl.col("price").cast(pl.Float64),
            contract.alias("contract"),
            data_type.alias("market_data_type"),
            from_history.alias("from_history"),
        )
        .filter(pl.col("price").is_not_null() & (pl.col("price") > 0.0))
        .filter(pl.col("price").is_finite())
        .collect()
    )


def slot_returns(prices: pl.DataFrame, symbol: str, expected: pl.DataFrame) -> pl.DataFrame:
    """One symbol's prices on its expected slots with the 5-minute log return ``ret``.

    :param prices: output of :func:`normalise_prices`.
    :param expected: the symbol's expected slots (``bucket_ts``, ``session_date``).
    :return: ``bucket_ts, session_date, price, contract, ret`` sorted by ``bucket_ts``; ``ret``
        is null on the first slot after any gap or contract change.
    """
    import polars as pl

    rows = (
        prices.filter(pl.col("symbol") == symbol)
        .select("bucket_ts", "price", "contract")
        .sort("bucket_ts")
        .unique("bucket_ts", keep="last", maintain_order=True)
        .join(expected, on="bucket_ts", how="inner")
        .sort("bucket_ts")  # a join does not promise order; shift needs it
    )
    consecutive = (pl.col("bucket_ts") - pl.col("bucket_ts").shift(1)) == pl.duration(
        minutes=int(SLOT.total_seconds() // 60)
    )
    same_contract = pl.col("contract").fill_null("") == pl.col("contract").shift(1).fill_null("")
    log_p = pl.col("price").log()
    return rows.with_columns(
        ret=pl.when(consecutive & same_contract).then(log_p - log_p.shift(1)).otherwise(None)
    ).select("bucket_ts", "session_date", "price", "contract", "ret")


def lagged_on_grid(grid: FloatArray, at: IntArray, lag: int) -> FloatArray:
    """``grid[at - lag]``, NaN where that falls outside the grid."""
    idx = at - lag
    out = np.full(idx.size, np.nan)
    ok = (idx >= 0) & (idx < grid.size)
    out[ok] = grid[idx[ok]]
    return out


@dataclass(frozen=True)
class PairReturns:
    """Futures and ETF returns of one pair on a common 5-minute grid over ``[start, end)``.

    ``fut_grid[i]`` is the futures return at slot ``grid_start + 5min * i`` (NaN where none);
    ``etf_idx``/``etf_ret`` list the ETF returns with their grid index, in time order.
    """

    futures_symbol: str
    etf_symbol: str
    start: datetime
    end: datetime
    futures: pl.DataFrame
    etf: pl.DataFrame
    futures_expected: pl.DataFrame
    etf_expected: pl.DataFrame
    fut_grid: FloatArray
    fut_price_grid: FloatArray
    etf_idx: IntArray
    etf_ret: FloatArray
    etf_day: IntArray
    etf_ts: NDArray[np.datetime64]

    def lagged_futures(self, lag: int) -> FloatArray:
        """Futures return ``lag`` slots before each ETF return (NaN outside the grid or missing)."""
        return lagged_on_grid(self.fut_grid, self.etf_idx, lag)

    def futures_signal(self, slots: int) -> FloatArray:
        """Futures log change over the ``slots`` slots ending one slot before each ETF return."""
        total = np.zeros(self.etf_idx.size)
        for lag in range(1, slots + 1):
            total = total + self.lagged_futures(lag)
        return total

    def paired(self) -> tuple[FloatArray, FloatArray, NDArray[np.datetime64], IntArray]:
        """Same-slot ``(futures, etf, slot, day)`` returns where both exist."""
        fut = self.lagged_futures(0)
        ok = np.isfinite(fut)
        return fut[ok], self.etf_ret[ok], self.etf_ts[ok], self.etf_day[ok]


def _grid_index(ts: pl.Series, origin_us: int) -> IntArray:
    return ((ts.dt.epoch("us").to_numpy() - origin_us) // _SLOT_US).astype(np.int64)


def align_pair(
    prices: pl.DataFrame,
    futures_symbol: str,
    etf_symbol: str,
    start: datetime,
    end: datetime,
) -> PairReturns:
    """Returns of both legs over ``[start, end)`` (``prices`` from :func:`normalise_prices`)."""
    import polars as pl

    window = prices.filter((pl.col("bucket_ts") >= start) & (pl.col("bucket_ts") < end))
    fut_expected = futures_expected_slots(start, end)
    etf_expected = etf_expected_slots(start, end)
    fut = slot_returns(window, futures_symbol, fut_expected)
    etf = slot_returns(window, etf_symbol, etf_expected)

    origin_us = int(start.timestamp() * 1_000_000) // _SLOT_US * _SLOT_US
    size = int((int(end.timestamp() * 1_000_000) - origin_us) // _SLOT_US) + 1
    fut_grid = np.full(size, np.nan)
    fut_price_grid = np.full(size, np.nan)
    if fut.height:
        idx = _grid_index(fut["bucket_ts"], origin_us)
        fut_grid[idx] = fut["ret"].fill_null(np.nan).to_numpy()
        fut_price_grid[idx] = fut["price"].to_numpy()

    etf_valid = etf.filter(pl.col("ret").is_not_null())
    return PairReturns(
        futures_symbol=futures_symbol,
        etf_symbol=etf_symbol,
        start=start,
        end=end,
        futures=fut,
        etf=etf,
        futures_expected=fut_expected,
        etf_expected=etf_expected,
        fut_grid=fut_grid,
        fut_price_grid=fut_price_grid,
        etf_idx=_grid_index(etf_valid["bucket_ts"], origin_us),
        etf_ret=etf_valid["ret"].to_numpy().astype(np.float64),
        etf_day=etf_valid["session_date"].cast(pl.Int64).to_numpy().astype(np.int64),
        etf_ts=etf_valid["bucket_ts"].dt.replace_time_zone(None).to_numpy(),
    )
