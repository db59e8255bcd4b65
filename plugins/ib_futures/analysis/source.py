"""Where the analysis gets its prices: one pair, one time window, from the lake.

The storage layer's ``ib_futures.lake.readers.read_pair_window`` is the reader (it prunes by
partition and predicate instead of loading whole tables). Until that module is present, a
local equivalent over ``pl.scan_delta`` stands in with the same signature.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.analysis.returns import normalise_prices

if TYPE_CHECKING:
    import polars as pl

FUTURES_TABLE = "futures_snapshots"
SPOT_TABLE = "spot_snapshots"
_COLUMNS = ("symbol", "asset_class", "bucket_ts", "bucket_date", "price", "con_id", "local_symbol")


def scan_pair_window(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    start: datetime,
    end: datetime,
    storage_options: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Both legs' snapshot rows with ``start <= bucket_ts < end`` (partition-pruned scan)."""
    import polars as pl

    frames = []
    for table, symbol in ((FUTURES_TABLE, futures_symbol), (SPOT_TABLE, etf_symbol)):
        scan = pl.scan_delta(f"{lake_uri.rstrip('/')}/{table}", storage_options=storage_options)
        names = scan.collect_schema().names()
        frames.append(
            scan.filter(
                (pl.col("bucket_date") >= (start - timedelta(days=1)).date())
                & (pl.col("bucket_date") <= end.date())
                & (pl.col("symbol") == symbol)
                & (pl.col("bucket_ts") >= start)
                & (pl.col("bucket_ts") < end)
            )
            .select([c for c in _COLUMNS if c in names])
            .collect()
        )
    return pl.concat(frames, how="diagonal_relaxed")


def _reader() -> Callable[..., Any]:
    try:
        from ib_futures.lake.readers import read_pair_window
    except ImportError:
        return scan_pair_window
    return read_pair_window  # type: ignore[no-any-return]


def load_pair_prices(
    lake_uri: str,
    futures_symbol: str,
    etf_symbol: str,
    start: datetime,
    end: datetime,
    storage_options: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Normalised prices (``symbol, bucket_ts, price, contract``) of a pair over ``[start, end)``."""
    frame = _reader()(
        lake_uri, futures_symbol, etf_symbol, start, end, storage_options=storage_options
    )
    return normalise_prices(frame)
