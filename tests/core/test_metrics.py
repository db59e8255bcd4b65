from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ib_futures.core.config import FuturesConfig
from ib_futures.core.metrics import (
    ChangeMetrics,
    compute_changes,
    history_window,
    needs_history,
    references,
)
from ib_futures.core.session import expected_slots

ET = ZoneInfo("America/New_York")
CFG = FuturesConfig()
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def et(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ET).astimezone(UTC)


def price(t: datetime) -> float:
    """A distinct price per slot, so a ratio tells which reference slot was used."""
    return 1000.0 + (t - EPOCH).total_seconds() / 300.0


def history(asset_class, start: str, end: str, drop=()):
    """The lake as a collector would have filled it: every expected slot in [start, end)."""
    dropped = {et(d) for d in drop}
    return [
        (s, price(s))
        for s in expected_slots(et(start), et(end), asset_class, CFG)
        if s not in dropped
    ]


def ratio(now: str, ref: str) -> float:
    return price(et(now)) / price(et(ref)) - 1


def changes(now: str, asset_class, hist) -> ChangeMetrics:
    return compute_changes(et(now), asset_class, price(et(now)), hist, CFG)


def test_weekday_futures():
    h = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00")
    c = changes("2026-11-24 11:00", "FUT", h)
    assert c.change_1h == pytest.approx(ratio("2026-11-24 11:00", "2026-11-24 10:00"))
    assert c.change_4h == pytest.approx(ratio("2026-11-24 11:00", "2026-11-24 07:00"))
    # previous Globex session closed Mon 17:00 ET; its last slot is 16:55
    assert c.change_daily == pytest.approx(ratio("2026-11-24 11:00", "2026-11-23 16:55"))
    # overnight: futures at the 09:30 open vs futures at the 16:00 close
    assert c.change_overnight == pytest.approx(ratio("2026-11-24 09:30", "2026-11-23 16:00"))
    assert not needs_history(et("2026-11-24 11:00"), "FUT", h, CFG)


def test_weekday_etf():
    h = history("ETF", "2026-11-20 00:00", "2026-11-24 11:00")
    c = changes("2026-11-24 11:00", "ETF", h)
    assert c.change_1h == pytest.approx(ratio("2026-11-24 11:00", "2026-11-24 10:00"))
    assert c.change_4h is None  # 07:00 is before the NYSE open: no reference, not 0
    assert c.change_daily == pytest.approx(ratio("2026-11-24 11:00", "2026-11-23 15:55"))
    assert c.change_overnight == pytest.approx(ratio("2026-11-24 09:30", "2026-11-23 15:55"))


def test_etf_at_the_open_uses_the_current_price():
    h = history("ETF", "2026-11-20 00:00", "2026-11-24 09:30")
    c = changes("2026-11-24 09:30", "ETF", h)
    assert c.change_overnight == pytest.approx(ratio("2026-11-24 09:30", "2026-11-23 15:55"))
    assert c.change_overnight == c.change_daily


def test_across_the_halt():
    h = history("FUT", "2026-11-22 18:00", "2026-11-24 18:05")
    c = changes("2026-11-24 18:05", "FUT", h)
    assert c.change_1h == pytest.approx(ratio("2026-11-24 18:05", "2026-11-24 16:55"))
    assert c.change_4h == pytest.approx(ratio("2026-11-24 18:05", "2026-11-24 14:05"))
    assert c.change_daily == pytest.approx(ratio("2026-11-24 18:05", "2026-11-24 16:55"))
    # before the next NYSE open the overnight change runs from today's 16:00 close
    assert c.change_overnight == pytest.approx(ratio("2026-11-24 18:05", "2026-11-24 16:00"))
    # 18:30: one hour back is inside the halt, so there is no 1h reference
    h2 = history("FUT", "2026-11-22 18:00", "2026-11-24 18:30")
    assert changes("2026-11-24 18:30", "FUT", h2).change_1h is None


def test_monday_after_an_early_close_friday():
    fut = history("FUT", "2026-11-25 00:00", "2026-11-30 10:00")
    c = changes("2026-11-30 10:00", "FUT", fut)
    # Black Friday: CME closes equity futures at 12:15 CT (13:15 ET), last slot 13:10
    assert c.change_daily == pytest.approx(ratio("2026-11-30 10:00", "2026-11-27 13:10"))
    # overnight starts at the NYSE close (13:00 ET that day), a slot the future still trades
    assert c.change_overnight == pytest.approx(ratio("2026-11-30 09:30", "2026-11-27 13:00"))
    assert c.change_1h == pytest.approx(ratio("2026-11-30 10:00", "2026-11-30 09:00"))
    etf = history("ETF", "2026-11-25 00:00", "2026-11-30 10:00")
    e = changes("2026-11-30 10:00", "ETF", etf)
    assert e.change_daily == pytest.approx(ratio("2026-11-30 10:00", "2026-11-27 12:55"))
    assert e.change_4h is None


def test_holiday():
    # ETF the day after Thanksgiving: the previous NYSE trading day is Wednesday
    etf = history("ETF", "2026-11-20 00:00", "2026-11-27 11:00")
    e = changes("2026-11-27 11:00", "ETF", etf)
    assert e.change_daily == pytest.approx(ratio("2026-11-27 11:00", "2026-11-25 15:55"))
    assert e.change_overnight == pytest.approx(ratio("2026-11-27 09:30", "2026-11-25 15:55"))
    # futures on Thanksgiving morning: NYSE shut, so overnight runs from Wednesday's close
    fut = history("FUT", "2026-11-22 18:00", "2026-11-26 10:00")
    f = changes("2026-11-26 10:00", "FUT", fut)
    assert f.change_daily == pytest.approx(ratio("2026-11-26 10:00", "2026-11-25 16:55"))
    assert f.change_overnight == pytest.approx(ratio("2026-11-26 10:00", "2026-11-25 16:00"))


def test_missing_references_are_none_never_zero():
    assert changes("2026-11-24 11:00", "FUT", []) == ChangeMetrics(None, None, None, None)
    h = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00")
    assert compute_changes(et("2026-11-24 11:00"), "FUT", None, h, CFG) == ChangeMetrics()
    # drop the three slots of the 1h window -> only change_1h is missing
    gap = history(
        "FUT", "2026-11-22 18:00", "2026-11-24 11:00",
        drop=("2026-11-24 09:50", "2026-11-24 09:55", "2026-11-24 10:00"),
    )  # fmt: skip
    c = changes("2026-11-24 11:00", "FUT", gap)
    assert c.change_1h is None
    assert None not in (c.change_4h, c.change_daily, c.change_overnight)
    # one slot missing: the latest earlier slot within 15 minutes is used
    gap1 = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00", drop=("2026-11-24 10:00",))
    c1 = changes("2026-11-24 11:00", "FUT", gap1)
    assert c1.change_1h == pytest.approx(ratio("2026-11-24 11:00", "2026-11-24 09:55"))
    # zero/NaN/None prices in the history are not references
    bad = [(t, 0.0 if t == et("2026-11-24 10:00") else p) for t, p in h]
    assert changes("2026-11-24 11:00", "FUT", bad).change_1h == pytest.approx(
        ratio("2026-11-24 11:00", "2026-11-24 09:55")
    )


def test_same_price_is_a_real_zero():
    h = [(et("2026-11-24 10:00"), 5000.0)]
    c = compute_changes(et("2026-11-24 11:00"), "FUT", 5000.0, h, CFG)
    assert c.change_1h == 0.0


def test_needs_history_only_without_the_previous_close():
    now = et("2026-11-24 11:00")
    full = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00")
    assert not needs_history(now, "FUT", full, CFG)
    today_only = history("FUT", "2026-11-23 18:00", "2026-11-24 11:00")
    assert needs_history(now, "FUT", today_only, CFG)
    assert needs_history(now, "FUT", [], CFG)
    no_1h = [(t, p) for t, p in full if not et("2026-11-24 09:45") < t <= et("2026-11-24 10:00")]
    assert not needs_history(now, "FUT", no_1h, CFG)


def test_history_after_the_slot_is_ignored():
    h = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00")
    later = [(et("2026-11-24 10:00") + timedelta(hours=2), 1.0)]
    assert changes("2026-11-24 10:00", "FUT", h + later) == changes("2026-11-24 10:00", "FUT", h)


def test_bar_end_stamps_at_the_close_are_used():
    # IB bars are stamped with their end: the bar 16:55-17:00 gives a price at 17:00 itself
    h = history("FUT", "2026-11-22 18:00", "2026-11-24 11:00")
    close = et("2026-11-23 17:00")
    c = compute_changes(et("2026-11-24 11:00"), "FUT", 110.0, [*h, (close, 100.0)], CFG)
    assert c.change_daily == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("now", "asset_class", "since"),
    [
        pytest.param("2026-11-24 11:00", "FUT", "2026-11-23 15:45", id="weekday"),
        pytest.param("2026-11-30 10:00", "FUT", "2026-11-27 12:45", id="monday-after-early-close"),
        pytest.param("2027-01-04 09:30", "ETF", "2026-12-31 15:45", id="monday-after-new-year"),
        pytest.param("2027-03-29 10:00", "ETF", "2027-03-25 15:45", id="monday-after-good-friday"),
        pytest.param("2026-11-22 18:00", "FUT", "2026-11-20 15:45", id="sunday-open"),
    ],
)
def test_history_window_covers_every_reference(now, asset_class, since):
    lo, hi = history_window(et(now), asset_class, CFG)
    assert (lo, hi) == (et(since), et(now))
    r = references(et(now), asset_class, CFG)
    for t in (r.hour_4, r.daily_close, r.overnight_close):
        assert t is not None and lo <= t - timedelta(minutes=15) and t <= hi
    assert r.overnight_open is not None and (r.overnight_open > hi or lo <= r.overnight_open)


@pytest.mark.parametrize(
    ("now", "asset_class"),
    [
        ("2026-11-24 11:00", "FUT"),
        ("2026-11-24 09:30", "ETF"),
        ("2026-11-24 09:40", "FUT"),
        ("2026-11-24 04:05", "ETF"),
        ("2026-11-30 10:00", "FUT"),
        ("2026-11-27 12:55", "ETF"),
        ("2027-01-04 09:35", "ETF"),
        ("2026-11-22 18:00", "FUT"),
        ("2026-11-23 02:10", "FUT"),
    ],
)
@pytest.mark.parametrize("seed", range(4))
def test_history_ranges_give_the_same_metrics_as_the_whole_window(now, asset_class, seed):
    """The collector reads only ``history_ranges`` from the lake: the metrics (and whether IB
    history is needed) are the same as from the whole window, with random gaps in the history
    (a quarter of the slots missing) so that the tolerance lookbacks are exercised."""
    import random

    from ib_futures.core.metrics import history_ranges

    rng = random.Random(seed)
    slot = et(now)
    lo, hi = history_window(slot, asset_class, CFG)
    whole = [
        (s, price(s))
        for s in expected_slots(lo - timedelta(hours=2), hi + timedelta(minutes=5), asset_class, CFG)
        if seed == 0 or rng.random() > 0.25
    ]
    ranges = history_ranges(slot, asset_class, CFG)
    assert ranges == sorted(ranges) and all(a <= b <= slot for a, b in ranges)
    part = [(t, p) for t, p in whole if any(a <= t <= b for a, b in ranges)]
    assert len(part) < len(whole) / 3
    assert compute_changes(slot, asset_class, 2000.0, part, CFG) == compute_changes(
        slot, asset_class, 2000.0, whole, CFG
    )
    assert needs_history(slot, asset_class, part, CFG) == needs_history(slot, asset_class, whole, CFG)
