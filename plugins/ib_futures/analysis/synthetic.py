"""Synthetic snapshot rows in the record layout, with a planted lead and correlation.

For tests, the benchmark and demo lakes; never used by the analysis itself. The futures log
price is a Gaussian random walk on the 5-minute grid (sampled only on Globex slots). With
``link=True`` the ETF's log price at a regular-hours slot ``t`` is the futures' log price at
``t - lead_slots`` slots, scaled down by the index multiple, plus i.i.d. noise ``u_t``, so

    e_t = f_{t - lead} + u_t - u_{t-1},   corr(f_{t - lead}, e_t) = s / sqrt(s^2 + 2 s_u^2)

and the noise scale is chosen to give the requested correlation. ``link=False`` gives an
independent ETF random walk (the null case).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from ib_futures.analysis.slots import SLOT, etf_expected_slots, futures_expected_slots
from ib_futures.core.instruments import DEFAULT_PAIRS as PAIRS
from ib_futures.core.snapshot import RECORD_KEYS

if TYPE_CHECKING:
    import polars as pl

#: (futures price, ETF price, con_id) to start from, per pair
START_LEVELS: dict[str, tuple[float, float, int]] = {
    "ES": (6800.0, 680.0, 495512563),
    "NQ": (25000.0, 610.0, 563947738),
    "RTY": (2450.0, 243.0, 568550526),
}
ETF_CON_IDS = {"SPY": 756733, "QQQ": 320227571, "IWM": 9579970}
SLOT_VOL = 0.0008  # ~0.08 % per 5 minutes


def noise_scale(corr: float, slot_vol: float = SLOT_VOL) -> float:
    """Std of ``u`` that gives ``corr(f_{t-lead}, e_t) == corr``."""
    if not 0.0 < corr <= 1.0:
        raise ValueError("corr must be in (0, 1]")
    return slot_vol * math.sqrt((1.0 / corr**2 - 1.0) / 2.0)


def synthetic_snapshots(
    start: datetime,
    end: datetime,
    *,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
    lead_slots: int = 0,
    corr: float = 0.9,
    link: bool = True,
    seed: int = 0,
    drop_fraction: float = 0.0,
    roll_at: datetime | None = None,
) -> pl.DataFrame:
    """Snapshot rows of every pair's two legs over ``[start, end)`` on their expected slots.

    :param drop_fraction: share of rows removed at random (to make gaps).
    :param roll_at: futures contract changes at this slot (new conId, price +0.5 %).
    """
    import polars as pl

    rng = np.random.default_rng(seed)
    fut_slots = futures_expected_slots(start, end)["bucket_ts"]
    etf_slots = etf_expected_slots(start, end)["bucket_ts"]
    slot_us = int(SLOT.total_seconds() * 1e6)
    margin = max(lead_slots, 0) + 1
    origin = int(start.timestamp() * 1e6) // slot_us * slot_us - margin * slot_us
    size = (int(end.timestamp() * 1e6) - origin) // slot_us + 2
    f_idx = (fut_slots.dt.epoch("us").to_numpy() - origin) // slot_us
    e_idx = (etf_slots.dt.epoch("us").to_numpy() - origin) // slot_us
    roll_idx = None if roll_at is None else (int(roll_at.timestamp() * 1e6) - origin) // slot_us

    frames = []
    for fut, etf in pairs:
        f0, e0, con_id = START_LEVELS.get(fut, (1000.0, 100.0, 1))
        logf = math.log(f0) + np.cumsum(rng.normal(0.0, SLOT_VOL, size))
        if link:
            u = rng.normal(0.0, noise_scale(corr), e_idx.size)
            loge = logf[e_idx - lead_slots] - math.log(f0 / e0) + u
        else:
            loge = math.log(e0) + np.cumsum(rng.normal(0.0, SLOT_VOL, e_idx.size))
        fut_price = np.exp(logf[f_idx])
        fut_con = np.full(f_idx.size, con_id, dtype=np.int64)
        if roll_idx is not None:
            after = f_idx >= roll_idx
            fut_price[after] *= 1.005
            fut_con[after] = con_id + 1
        frames.append(_legs(fut, "FUT", fut_slots, fut_price, fut_con))
        frames.append(
            _legs(etf, "ETF", etf_slots, np.exp(loge), np.full(e_idx.size, ETF_CON_IDS.get(etf, 2)))
        )
    out = pl.concat(frames)
    if drop_fraction > 0.0:
        out = out.filter(pl.Series(rng.random(out.height) >= drop_fraction))
    return out


def _legs(
    symbol: str, asset_class: str, slots: pl.Series, price: np.ndarray, con_id: np.ndarray
) -> pl.DataFrame:
    import polars as pl

    n = price.size
    half_spread = 0.25 if asset_class == "FUT" else 0.005
    ts = pl.Datetime("us", "UTC")
    null_f = pl.lit(None, dtype=pl.Float64)
    frame = pl.DataFrame(
        {"bucket_ts": slots.cast(ts), "price": price, "con_id": con_id}
    ).with_columns(
        symbol=pl.lit(symbol),
        asset_class=pl.lit(asset_class),
        bucket_date=pl.col("bucket_ts").dt.date(),
        quote_ts=pl.col("bucket_ts") - pl.duration(seconds=1),
        last_trade_ts=pl.col("bucket_ts") - pl.duration(seconds=2),
        collected_ts=pl.col("bucket_ts") + pl.duration(seconds=3),
        local_symbol=pl.lit(symbol) if asset_class == "ETF" else pl.lit(f"{symbol}Z6"),
        expiry=pl.lit(None, dtype=pl.Date),
        exchange=pl.lit("CME" if asset_class == "FUT" else "SMART"),
        currency=pl.lit("USD"),
        bid=pl.col("price") - half_spread,
        ask=pl.col("price") + half_spread,
        last=pl.col("price"),
        bid_size=pl.lit(10.0),
        ask_size=pl.lit(12.0),
        last_size=pl.lit(1.0),
        volume=pl.lit(1000.0) + pl.int_range(n).cast(pl.Float64),
        open_interest=null_f,
        open=null_f,
        high=null_f,
        low=null_f,
        close=null_f,
        crossed=pl.lit(False),
        market_data_type=pl.lit(1, dtype=pl.Int32),
        change_1h=null_f,
        change_4h=null_f,
        change_overnight=null_f,
        change_daily=null_f,
        change_source=pl.lit(None, dtype=pl.String),
        price_source=pl.lit("live"),
    )
    return frame.select(RECORD_COLUMNS)


RECORD_COLUMNS = RECORD_KEYS  # the snapshot record's keys, in the documented order


def write_synthetic_lake(lake_uri: str, frame: pl.DataFrame) -> None:
    """Append rows to ``futures_snapshots`` / ``spot_snapshots`` (created from the lake's table
    specs, with their constraints) for demos, tests and the benchmark. Not idempotent: it is a
    fixture, not the collector's merge writer."""
    import polars as pl
    from deltalake import write_deltalake

    from ib_futures.lake.schemas import TABLE_BY_ASSET_CLASS
    from ib_futures.lake.storage import table_uri
    from ib_futures.lake.tables import ensure_table

    for asset_class, spec in TABLE_BY_ASSET_CLASS.items():
        part = frame.filter(pl.col("asset_class") == asset_class)
        if part.is_empty():
            continue
        table = ensure_table(table_uri(lake_uri, spec.name), spec)
        write_deltalake(
            table, part.select(spec.column_names).cast(spec.polars_schema()), mode="append"
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m ib_futures.analysis.synthetic LAKE --start ISO --end ISO [--lead K]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Fill a lake with synthetic snapshot rows.")
    parser.add_argument("lake", help="lake root (local path)")
    parser.add_argument("--start", required=True, help="ISO-8601 with offset, inclusive")
    parser.add_argument("--end", required=True, help="ISO-8601 with offset, exclusive")
    parser.add_argument("--lead", type=int, default=1, help="planted futures lead in slots")
    parser.add_argument("--corr", type=float, default=0.8, help="planted correlation at the lead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drop", type=float, default=0.01, help="share of rows dropped (gaps)")
    args = parser.parse_args(argv)
    frame = synthetic_snapshots(
        datetime.fromisoformat(args.start),
        datetime.fromisoformat(args.end),
        lead_slots=args.lead,
        corr=args.corr,
        seed=args.seed,
        drop_fraction=args.drop,
    )
    write_synthetic_lake(args.lake, frame)
    print(f"wrote {frame.height} rows to {args.lake}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
