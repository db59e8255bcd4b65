"""Expected slots of the analysis agree with the collector's session calendar (core.session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ib_futures.analysis.slots import etf_expected_slots, futures_expected_slots
from ib_futures.core.config import FuturesConfig
from ib_futures.core.session import expected_slots

# Thanksgiving week (holiday and early closes) and the change from daylight saving time
WINDOWS = [
    (datetime(2026, 11, 21, 11, tzinfo=UTC), datetime(2026, 11, 28, 11, tzinfo=UTC)),
    (datetime(2026, 10, 24, 10, tzinfo=UTC), datetime(2026, 11, 7, 11, tzinfo=UTC)),
]
RESET = FuturesConfig.model_validate(
    {
        "session": {
            "ib_reset_windows": [{"start": "23:45", "end": "00:45"}],
            "extra_closures": [
                {"start": "2026-11-24 10:00", "end": "2026-11-24 11:00", "markets": ["FUT"]}
            ],
        }
    }
)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
@pytest.mark.parametrize("cfg", [None, RESET], ids=["default", "reset-windows"])
def test_futures_slots_equal_core_session(start, end, cfg) -> None:
    ours = futures_expected_slots(start, end, cfg)["bucket_ts"].to_list()
    assert ours == expected_slots(start, end, "FUT", cfg)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_etf_slots_are_regular_hours_even_when_collection_is_extended(start, end) -> None:
    extended = FuturesConfig.model_validate({"collection": {"etf_hours": "extended"}})
    ours = etf_expected_slots(start, end, extended)
    assert ours["bucket_ts"].to_list() == expected_slots(start, end, "ETF", None)
    per_day = ours.group_by("session_date").len().sort("session_date")
    assert set(per_day["len"].to_list()) <= {78, 42}  # full day 09:30-15:55; early close 12:55


def test_thanksgiving_week_counts() -> None:
    start, end = WINDOWS[0]
    etf = etf_expected_slots(start, end)
    assert etf.height == 3 * 78 + 42
    first = etf["bucket_ts"][0]
    assert first == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    fut = futures_expected_slots(start, end)
    assert fut["bucket_ts"][0] == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # Sunday 18:00 ET
    assert datetime(2026, 11, 23, 22, 0, tzinfo=UTC) not in fut["bucket_ts"]  # 17:00 ET halt
    # Black Friday: CME's half-day close at 12:15 CT, so the last slot is 13:10 ET
    assert fut["bucket_ts"].to_list()[-1] == datetime(2026, 11, 27, 18, 10, tzinfo=UTC)
    assert fut["bucket_ts"].to_list()[-1] < end - timedelta(hours=16)
