"""Daily samples for the overnight model: futures change before the open -> ETF open-to-close.

For each NYSE trading day ``d`` with first regular-hours slot ``open_d`` (09:30) and last
regular-hours slot ``last_d`` (15:55, or 12:55 on early-close days; the collector collects
``open <= slot < close``, so no 16:00 snapshot exists):

* ``overnight`` = ``ln F(open_d) - ln F(last_{d-1})``: the futures' log change from the
  previous session's last ETF slot to this session's first. Known at the open, so it may be
  used to predict the session.
* ``open_close`` = ``ln E(last_d) - ln E(open_d)``: the ETF's log return over the session.

A day counts only when all four prices exist and both futures prices come from the same
contract (no roll inside the overnight change).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ib_futures.analysis.slots import SLOT, etf_sessions

if TYPE_CHECKING:
    import polars as pl


def overnight_samples(
    prices: pl.DataFrame, futures_symbol: str, etf_symbol: str, start: datetime, end: datetime
) -> pl.DataFrame:
    """``session_date, overnight, open_close`` for the sessions inside ``[start, end)``.

    :param prices: output of :func:`ib_futures.analysis.returns.normalise_prices`.
    """
    import polars as pl

    sessions = etf_sessions(start - timedelta(days=10), end)
    rows = [
        (s.trade_date, s.open, s.close - SLOT, sessions[i - 1].close - SLOT)
        for i, s in enumerate(sessions)
        if i > 0 and s.open >= start and s.close <= end
    ]
    ts = pl.Datetime("us", "UTC")
    frame = pl.DataFrame(
        rows,
        schema={"session_date": pl.Date, "open_ts": ts, "close_ts": ts, "prev_close_ts": ts},
        orient="row",
    )

    def leg(symbol: str, at: str, name: str) -> pl.DataFrame:
        return (
            prices.filter(pl.col("symbol") == symbol)
            .unique("bucket_ts", keep="last")
            .select(
                pl.col("bucket_ts").alias(at),
                pl.col("price").alias(name),
                pl.col("contract").fill_null("").alias(f"{name}_contract"),
            )
        )

    joined = (
        frame.join(leg(futures_symbol, "open_ts", "f_open"), on="open_ts", how="left")
        .join(leg(futures_symbol, "prev_close_ts", "f_prev"), on="prev_close_ts", how="left")
        .join(leg(etf_symbol, "open_ts", "e_open"), on="open_ts", how="left")
        .join(leg(etf_symbol, "close_ts", "e_close"), on="close_ts", how="left")
        .sort("session_date")
    )
    same = pl.col("f_open_contract") == pl.col("f_prev_contract")
    return joined.select(
        "session_date",
        pl.when(same)
        .then(pl.col("f_open").log() - pl.col("f_prev").log())
        .otherwise(None)
        .alias("overnight"),
        (pl.col("e_close").log() - pl.col("e_open").log()).alias("open_close"),
    )
