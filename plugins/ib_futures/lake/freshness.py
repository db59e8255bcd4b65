"""The freshness check against the lake: newest stored slot per instrument, then the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ib_futures.core.freshness import FreshnessReport, assess

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.lake.storage import StorageOptions


def check_lake(
    cfg: FuturesConfig,
    at: datetime,
    lake_uri: str,
    storage_options: StorageOptions | None = None,
    symbols: Sequence[str] | None = None,
) -> FreshnessReport:
    """Read the newest stored slot per symbol and the slots recorded as unfillable since, from
    the lake, and :func:`assess` them."""
    from ib_futures.core.freshness import LOOKBACK
    from ib_futures.core.instruments import select_instruments
    from ib_futures.lake.readers import latest_per_symbol, read_unfillable

    instruments = select_instruments(cfg, list(symbols) if symbols else None)
    names = [i.symbol for i in instruments]
    latest = latest_per_symbol(lake_uri, names, storage_options)
    newest = dict(zip(latest["symbol"].to_list(), latest["bucket_ts"].to_list(), strict=True))
    since = min([*newest.values(), at - LOOKBACK]) if len(newest) == len(names) else at - LOOKBACK
    known: dict[str, set[datetime]] = {}
    if since < at:
        rows = read_unfillable(lake_uri, names, since, at, storage_options)
        for sym, ts in rows.select("symbol", "bucket_ts").iter_rows():
            known.setdefault(sym, set()).add(ts)
    classes = {i.symbol: i.asset_class for i in instruments}
    return assess(at, newest, classes, cfg, unfillable=known)
