"""The backfill's pure planning: the fewest requests the gaps need (per contract, per bar
field, per duration window), and bad input refused naming the parameter and the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from ib_futures.core.backfill import (
    BackfillInputError,
    RequestGroup,
    group_slots,
    pacing_seconds,
    plan_requests,
    validate_range,
)
from ib_futures.core.config import FuturesConfig
from ib_futures.core.pacing import PacingLimits
from ib_futures.core.session import expected_slots
from ib_futures.core.slot import SLOT

CFG = FuturesConfig()
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_week_of_one_contract_is_one_request_per_field_and_covers_its_bars():
    slots = expected_slots(datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC),
                           "FUT", CFG)  # fmt: skip
    (group,) = group_slots("ES", "FUT", slots, CFG)
    assert (group.contract, group.duration, group.requests) == ("ESZ6", "1 W", 2)
    # the window reaches the bar ending at the first slot and the bar starting at the last
    assert group.end == slots[-1] + SLOT
    assert group.end - timedelta(weeks=1) <= slots[0] - SLOT


def test_slots_split_at_the_roll_and_at_the_window():
    # ESU6 -> ESZ6 rolls on Thursday 2026-09-10 (eight days before the 18th)
    slots = expected_slots(datetime(2026, 9, 7, tzinfo=UTC), datetime(2026, 9, 12, tzinfo=UTC),
                           "FUT", CFG)  # fmt: skip
    groups = group_slots("ES", "FUT", slots, CFG)
    assert [g.contract for g in groups] == ["ESU6", "ESZ6"]
    assert sum(len(g.slots) for g in groups) == len(slots)
    days = group_slots("ES", "FUT", slots, CFG.model_copy(), "1 D")
    assert all(g.slots[-1] - g.slots[0] <= timedelta(days=1) - 2 * SLOT for g in days)
    # greedy cover: no two consecutive groups of one contract could have been merged
    for a, b in pairwise(days):
        if a.contract == b.contract:
            assert b.slots[0] - a.slots[0] > timedelta(days=1) - 2 * SLOT


def test_the_plan_leaves_out_stored_and_unfillable_slots():
    slots = expected_slots(NOW - timedelta(days=1), NOW, "FUT", CFG)
    stored, unfillable = set(slots[:100]), {slots[100]}
    plan = plan_requests({"ES": slots}, {"ES": stored}, {"ES": unfillable}, {"ES": "FUT"}, CFG)
    planned = {s for g in plan.groups for s in g.slots}
    assert planned == set(slots) - stored - unfillable
    assert (plan.expected, plan.stored, plan.unfillable) == (len(slots), 100, 1)
    nothing = plan_requests({"ES": slots}, {"ES": set(slots)}, {}, {"ES": "FUT"}, CFG)
    assert nothing.groups == [] and nothing.requests == 0


def test_a_group_survives_its_json_form():
    slots = tuple(expected_slots(NOW - timedelta(hours=2), NOW, "FUT", CFG))
    group = RequestGroup("ES", "FUT", "ESZ6", slots)
    assert RequestGroup.from_dict(group.to_dict()) == group
    assert group.duration == f"{int((slots[-1] - slots[0] + 2 * SLOT).total_seconds())} S"


@pytest.mark.parametrize(
    ("start", "end", "symbols", "names"),
    [
        ("2026-11-20", "2026-11-19", None, ["end=2026-11-19", "start=2026-11-20"]),
        ("2026-11-20", "2026-12-24", None, ["end=2026-12-24", "future"]),
        ("2026-11-20", "2026-11-21", ["ES", "XYZ"], ["instruments=", "'XYZ'"]),
        ("2023-01-02", "2023-01-09", None, ["start=2023-01-02", "retention", "max_age_days"]),
        ("last week", "2026-11-21", None, ["start='last week'"]),
    ],
)
def test_bad_input_names_the_parameter_and_the_value(start, end, symbols, names):
    with pytest.raises(BackfillInputError) as err:
        validate_range(start, end, symbols, CFG, NOW)
    for name in names:
        assert name in str(err.value)


def test_good_input_is_clipped_to_now():
    lo, hi, chosen = validate_range("2026-11-20", NOW + timedelta(minutes=1), "ES,SPY", CFG, NOW)
    assert (lo, hi, chosen) == (datetime(2026, 11, 20, tzinfo=UTC), NOW, ["ES", "SPY"])


def test_pacing_seconds_is_ibs_bound():
    limits = PacingLimits()
    assert pacing_seconds(1, limits) == 0
    assert pacing_seconds(60, limits) == 59 * limits.min_gap_s
    assert pacing_seconds(61, limits) == limits.window_s + limits.margin_s
    assert pacing_seconds(600, limits) == pytest.approx(9 * 600.5 + 59 * 2)
