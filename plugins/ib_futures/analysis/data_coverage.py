"""Data coverage: slots the calendars expect against slots present, and the gaps.

A slot is *present* for a leg when a row with a usable price exists for it. A *gap* is a run of
consecutive expected slots of one session (a run never spans a session boundary) that are
all missing. Rows outside the expected slots are counted as ``unexpected``
(e.g. ETF quotes outside regular hours) and are not used by the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

#: Gaps listed per leg in the results row; the count covers all of them.
MAX_GAPS_LISTED = 50


@dataclass(frozen=True)
class LegCoverage:
    symbol: str
    expected: int
    present: int
    unexpected: int
    returns: int
    gap_count: int
    gaps: tuple[dict[str, Any], ...]  # {"start", "end" (ISO UTC), "slots"}

    @property
    def missing(self) -> int:
        return self.expected - self.present

    @property
    def ratio(self) -> float | None:
        return self.present / self.expected if self.expected else None


def leg_coverage(
    symbol: str, rows_in_window: pl.DataFrame, expected: pl.DataFrame, leg: pl.DataFrame
) -> LegCoverage:
    """:param rows_in_window: the symbol's usable rows in the window (any time of day).
    :param expected: expected slots; :param leg: the symbol's rows on expected slots with ``ret``.
    """
    import polars as pl

    present_ts = leg.select("bucket_ts").unique()
    unexpected = (
        rows_in_window.select("bucket_ts")
        .unique()
        .join(expected.select("bucket_ts"), on="bucket_ts", how="anti")
    )
    flagged = (
        expected.select("bucket_ts", "session_date")
        .sort("bucket_ts")
        .join(present_ts.with_columns(here=pl.lit(True)), on="bucket_ts", how="left")
        .sort("bucket_ts")
        .with_columns(missing=pl.col("here").is_null())
        .with_columns(
            run=(
                (pl.col("missing") != pl.col("missing").shift(1))
                | (pl.col("session_date") != pl.col("session_date").shift(1))
            )
            .fill_null(True)
            .cum_sum()
        )
    )
    runs = (
        flagged.filter(pl.col("missing"))
        .group_by("run")
        .agg(
            start=pl.col("bucket_ts").min(),
            end=pl.col("bucket_ts").max(),
            slots=pl.len(),
        )
        .sort("start")
    )
    gaps = tuple(
        {"start": r["start"].isoformat(), "end": r["end"].isoformat(), "slots": int(r["slots"])}
        for r in runs.head(MAX_GAPS_LISTED).iter_rows(named=True)
    )
    return LegCoverage(
        symbol=symbol,
        expected=expected.height,
        present=present_ts.height,
        unexpected=unexpected.height,
        returns=int(leg["ret"].is_not_null().sum()),
        gap_count=runs.height,
        gaps=gaps,
    )
