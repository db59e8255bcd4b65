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
    """Read the newest stored slot per symbol from the lake and :func:`assess` it."""
    from ib_futures.core.instruments import select_instruments
    from ib_futures.lake.readers import latest_per_symbol

    instruments = select_instruments(cfg, list(symbols) if symbols else None)
    latest = latest_per_symbol(lake_uri, [i.symbol for i in instruments], storage_options)
    newest = dict(zip(latest["symbol"].to_list(), latest["bucket_ts"].to_list(), strict=True))
    return assess(at, newest, {i.symbol: i.asset_class for i in instruments}, cfg)
