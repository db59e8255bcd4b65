"""core.slot: the slot length, and when a live snapshot may stand for a slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ib_futures.core.slot import SLOT, SNAPSHOT_SKEW, is_slot, slot_for, snapshot_timing

T = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("gateway_offset", "expected"),
    [
        pytest.param(-SNAPSHOT_SKEW - timedelta(seconds=1), "early", id="before-the-skew"),
        pytest.param(-SNAPSHOT_SKEW, "live", id="skew-edge"),
        pytest.param(timedelta(seconds=-3), "live", id="worker-clock-slightly-ahead"),
        pytest.param(timedelta(0), "live", id="on-the-slot"),
        pytest.param(timedelta(seconds=75), "live", id="max-delay-edge"),
        pytest.param(timedelta(seconds=75, microseconds=1), "history", id="just-too-late"),
        pytest.param(timedelta(hours=2), "history", id="two-hours-late"),
        pytest.param(timedelta(days=400), "history", id="a-year-late"),
    ],
)
def test_snapshot_timing(gateway_offset: timedelta, expected: str) -> None:
    assert snapshot_timing(T, T + gateway_offset, 75) == expected


def test_timing_is_judged_in_utc_and_refuses_naive_times() -> None:
    tokyo = (T + timedelta(seconds=30)).astimezone(datetime.now().astimezone().tzinfo)
    assert snapshot_timing(T, tokyo, 75) == "live"
    with pytest.raises(ValueError, match="timezone-aware"):
        snapshot_timing(T, datetime(2026, 11, 24, 15, 0), 75)


def test_slot_grid() -> None:
    assert timedelta(minutes=5) == SLOT
    assert slot_for(T + timedelta(minutes=4, seconds=59)) == T
    assert is_slot(T) and not is_slot(T + timedelta(seconds=1))
