"""The basis: futures against ETF at the same regular-hours slot.

``b_t = ln F_t - ln E_t``. Its level mixes the index multiple (ES is ~10x SPY), carry and
dividends, so only its variation is read: the basis is demeaned per futures contract (a roll
shifts the level) and expressed in basis points. ``ar1`` is the lag-1 autocorrelation of the
demeaned basis over consecutive slots and ``half_life_slots = -ln 2 / ln ar1`` how fast a
dislocation decays (reported only for 0 < ar1 < 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ib_futures.analysis.slots import SLOT
from ib_futures.analysis.stats import FloatArray, pearson_r

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class BasisResult:
    n: int
    ratio_mean: float  # mean of F / E
    std_bp: float
    min_bp: float
    max_bp: float
    ar1: float
    half_life_slots: float
    contracts: tuple[str, ...]
    ts: NDArray[np.datetime64]  # naive UTC, for the chart
    bp: FloatArray


def basis_stats(futures: pl.DataFrame, etf: pl.DataFrame) -> BasisResult:
    """:param futures/etf: the legs from :class:`~ib_futures.analysis.returns.PairReturns`."""
    import polars as pl

    both = (
        etf.select("bucket_ts", pl.col("price").alias("e"))
        .join(futures.select("bucket_ts", pl.col("price").alias("f"), "contract"), on="bucket_ts")
        .sort("bucket_ts")
        .with_columns(b=pl.col("f").log() - pl.col("e").log())
        .with_columns(
            bp=(pl.col("b") - pl.col("b").mean().over(pl.col("contract").fill_null(""))) * 1e4
        )
    )
    n = both.height
    nan = math.nan
    if n < 2:
        empty_ts = np.empty(0, dtype="datetime64[us]")
        return BasisResult(n, nan, nan, nan, nan, nan, nan, (), empty_ts, np.empty(0))
    bp = both["bp"].to_numpy().astype(np.float64)
    step = both["bucket_ts"].diff() == SLOT
    same = both["contract"].fill_null("") == both["contract"].shift(1).fill_null("")
    consecutive = (step & same).fill_null(False).to_numpy()
    ar1 = (
        pearson_r(bp[:-1][consecutive[1:]], bp[1:][consecutive[1:]])
        if consecutive.sum() > 2
        else nan
    )
    half_life = -math.log(2.0) / math.log(ar1) if 0.0 < ar1 < 1.0 else nan
    contracts = tuple(sorted(c for c in both["contract"].unique().to_list() if c is not None))
    return BasisResult(
        n=n,
        ratio_mean=float((both["f"] / both["e"]).mean()),  # type: ignore[arg-type]
        std_bp=float(np.std(bp, ddof=1)),
        min_bp=float(np.min(bp)),
        max_bp=float(np.max(bp)),
        ar1=ar1,
        half_life_slots=half_life,
        contracts=contracts,
        ts=both["bucket_ts"].dt.replace_time_zone(None).to_numpy(),
        bp=bp,
    )
