"""Where the analysis gets its prices: one pair, one time window, from the lake.

The storage layer's :func:`ib_futures.lake.readers.read_pair_window` reads the pair (it prunes by
date partition and predicate instead of loading whole tables); the rows are then normalised to
what the analysis needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ib_futures.analysis.returns import normalise_prices

if TYPE_CHECKING:
    import polars as pl


def load_pair_prices(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    start: datetime,
    end: datetime,
    storage_options: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Normalised prices (``symbol, bucket_ts, price, contract, market_data_type``) of a pair
    over ``[start, end)``; empty when the tables do not exist yet."""
    from ib_futures.lake.readers import read_pair_window

    frame = read_pair_window(
        lake_uri, futures_symbol, etf_symbol, start, end, storage_options=storage_options
    )
    return normalise_prices(frame)
