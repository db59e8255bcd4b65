import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ib_futures.core.config import FuturesConfig, parse_config
from ib_futures.core.session import (
    decide,
    expected_slots,
    is_open,
    market_status,
    slot_for,
    slot_for_run,
    trade_date,
)
from ib_futures.core.slot import is_slot

ET = ZoneInfo("America/New_York")
CFG = FuturesConfig()


def et(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ET)


# (ET wall time, futures open?, ETF open?, reason fragment when skipped)
TABLE = [
    pytest.param("2026-11-24 10:00", True, True, None, id="weekday-trading"),
    pytest.param("2026-11-24 09:25", True, False, None, id="before-nyse-open"),
    pytest.param("2026-11-24 09:30", True, True, None, id="nyse-open-slot"),
    pytest.param("2026-11-24 15:55", True, True, None, id="last-nyse-slot"),
    pytest.param("2026-11-24 16:00", True, False, None, id="nyse-close-slot"),
    pytest.param("2026-11-24 16:55", True, False, None, id="last-slot-before-halt"),
    pytest.param(
        "2026-11-24 17:00", False, False, "CME daily maintenance halt 17:00-18:00 ET", id="halt"
    ),
    pytest.param(
        "2026-11-24 17:55", False, False, "CME daily maintenance halt 17:00-18:00 ET", id="halt-end"
    ),
    pytest.param("2026-11-24 18:00", True, False, None, id="reopen-18"),
    pytest.param("2026-11-20 16:55", True, False, None, id="friday-1655"),
    pytest.param("2026-11-20 17:00", False, False, "CME weekend closure", id="friday-1700"),
    pytest.param("2026-11-21 12:00", False, False, "CME weekend closure", id="saturday"),
    pytest.param("2026-11-22 17:55", False, False, "CME weekend closure", id="sunday-1755"),
    pytest.param("2026-11-22 18:00", True, False, None, id="sunday-1800"),
    # Thanksgiving 2026: CME trades until the 12:00 CT halt, NYSE is closed.
    pytest.param("2026-11-26 10:00", True, False, None, id="thanksgiving-morning"),
    pytest.param(
        "2026-11-26 13:00", False, False, "CME early close at 13:00 ET (Thanksgiving)",
        id="thanksgiving-halt",
    ),
    pytest.param("2026-11-26 18:00", True, False, None, id="thanksgiving-evening"),
    # Day after: CME publishes a 12:15 CT (13:15 ET) close for equity futures on the half
    # days (the library says 12:00 CT); NYSE closes at 13:00 ET.
    pytest.param("2026-11-27 12:55", True, True, None, id="black-friday-1255"),
    pytest.param("2026-11-27 13:00", True, False, None, id="black-friday-1300"),
    pytest.param("2026-11-27 13:10", True, False, None, id="black-friday-1310"),
    pytest.param(
        "2026-11-27 13:15", False, False, "early close at 13:15 ET (day after Thanksgiving)",
        id="black-friday-1315",
    ),
    pytest.param("2026-12-24 13:10", True, False, None, id="christmas-eve-1310"),
    pytest.param(
        "2026-12-24 13:15", False, False, "CME early close at 13:15 ET (Christmas Eve)",
        id="christmas-eve-1315",
    ),
    pytest.param(
        "2026-12-24 14:00", False, False, "CME early close at 13:15 ET (Christmas Eve)",
        id="christmas-eve",
    ),
    pytest.param("2025-07-03 13:10", True, False, None, id="july-3-2025-1310"),
    pytest.param(
        "2025-07-03 13:15", False, False, "CME early close at 13:15 ET", id="july-3-2025-1315"
    ),
    pytest.param("2026-12-24 18:00", False, False, "CME holiday Christmas", id="christmas-eve-night"),
    pytest.param("2026-12-25 10:00", False, False, "CME holiday Christmas", id="christmas"),
    pytest.param("2026-12-27 18:00", True, False, None, id="sunday-after-christmas"),
    pytest.param(
        "2026-12-31 17:30", False, False, "CME holiday New Year's Day", id="new-years-eve-halt"
    ),
    pytest.param("2027-01-01 10:00", False, False, "CME holiday New Year's Day", id="new-year"),
    pytest.param("2027-01-03 18:00", True, False, None, id="first-session-2027"),
    # Good Friday 2027: NYSE closed; CME_Equity has an 08:15 CT (09:15 ET) early close.
    pytest.param("2027-03-26 09:10", True, False, None, id="good-friday-early"),
    pytest.param(
        "2027-03-26 10:00", False, False, "CME early close at 09:15 ET (Good Friday)",
        id="good-friday",
    ),
    pytest.param("2027-03-28 18:00", True, False, None, id="easter-sunday-evening"),
    # DST: 2027-03-14 (spring forward) and 2026-11-01 (fall back) are Sundays.
    pytest.param("2027-03-14 18:00", True, False, None, id="dst-spring-sunday-open"),
    pytest.param("2027-03-15 16:55", True, False, None, id="dst-spring-monday"),
    pytest.param("2027-03-15 17:00", False, False, "maintenance halt", id="dst-spring-halt"),
    pytest.param("2026-11-01 18:00", True, False, None, id="dst-fall-sunday-open"),
    pytest.param("2026-11-02 09:30", True, True, None, id="dst-fall-monday-open"),
    pytest.param("2026-06-19 10:00", True, False, None, id="juneteenth"),
    pytest.param("2026-06-19 13:00", False, False, "early close at 13:00 ET (Juneteenth)", id="juneteenth-close"),
]  # fmt: skip


@pytest.mark.parametrize(("when", "fut", "etf", "reason"), TABLE)
def test_slot_table(when, fut, etf, reason):
    slot = et(when)
    assert is_open(slot, "FUT", CFG) is fut
    assert is_open(slot, "ETF", CFG) is etf
    d = decide(slot, CFG)
    assert d.collect is (fut or etf)
    assert d.open_markets == {"FUT": fut, "ETF": etf}
    assert d.open_instruments == tuple(
        s for s, ok in (("ES", fut), ("NQ", fut), ("RTY", fut), ("SPY", etf), ("QQQ", etf), ("IWM", etf)) if ok
    )  # fmt: skip
    if reason is not None:
        assert d.reason.startswith("skip: ")
        assert reason in d.reason


def test_utc_and_et_inputs_decide_alike():
    for text in ("2026-11-24 17:00", "2026-11-24 18:00", "2027-03-14 18:00", "2026-11-01 18:00"):
        local = et(text)
        as_utc = local.astimezone(UTC)
        as_offset = local.astimezone(timezone(timedelta(hours=2)))
        assert decide(local, CFG) == decide(as_utc, CFG) == decide(as_offset, CFG)


def test_dst_shifts_the_utc_halt():
    # 17:00 ET is 21:00 UTC in summer and 22:00 UTC in winter.
    assert not is_open(datetime(2026, 7, 14, 21, 0, tzinfo=UTC), "FUT", CFG)
    assert is_open(datetime(2026, 7, 14, 22, 0, tzinfo=UTC), "FUT", CFG)
    assert is_open(datetime(2026, 12, 15, 21, 0, tzinfo=UTC), "FUT", CFG)
    assert not is_open(datetime(2026, 12, 15, 22, 0, tzinfo=UTC), "FUT", CFG)


def test_naive_slot_is_refused():
    with pytest.raises(ValueError, match="naive"):
        decide(datetime(2026, 11, 24, 15, 0), CFG)


def test_reasons_for_single_market_configs():
    fut_only = parse_config({"collection": {"instruments": ["ES", "NQ"]}})
    d = decide(et("2026-11-24 17:00"), fut_only)
    assert d.reason == "skip: CME daily maintenance halt 17:00-18:00 ET"
    assert d.open_markets == {"FUT": False}
    assert decide(et("2026-11-26 14:00"), fut_only).reason == (
        "skip: CME early close at 13:00 ET (Thanksgiving)"
    )
    etf_only = parse_config({"collection": {"instruments": ["SPY"]}})
    assert decide(et("2026-11-26 10:00"), etf_only).reason == "skip: NYSE holiday Thanksgiving"
    assert decide(et("2026-11-24 18:00"), etf_only).collect is False


def test_partial_collect_reason_names_the_skipped_market():
    d = decide(et("2026-11-24 18:00"), CFG)
    assert d.reason.startswith("collect ES, NQ, RTY: CME Globex open; ETF skipped: NYSE closed")


def test_instruments_argument_narrows_the_decision():
    d = decide(et("2026-11-24 18:00"), CFG, ["SPY"])
    assert not d.collect and d.open_instruments == ()


def test_unknown_instrument_is_named():
    with pytest.raises(ValueError, match=r"unknown instrument\(s\) 'XYZ'"):
        decide(et("2026-11-24 10:00"), CFG, ["ES", "XYZ"])


def test_reset_window_crossing_midnight():
    cfg = parse_config({"session": {"ib_reset_windows": [{"start": "23:45", "end": "00:45"}]}})
    for text, expected in [
        ("2026-11-24 23:40", True),
        ("2026-11-24 23:45", False),
        ("2026-11-25 00:00", False),
        ("2026-11-25 00:40", False),
        ("2026-11-25 00:45", True),
    ]:
        d = decide(et(text), cfg)
        assert d.collect is expected, text
    assert decide(et("2026-11-25 00:00"), cfg).reason.startswith(
        "skip: IB server reset 23:45-00:45 (America/New_York); NYSE"
    )


def test_extended_etf_hours():
    cfg = parse_config({"collection": {"etf_hours": "extended"}})
    assert is_open(et("2026-11-24 04:00"), "ETF", cfg)
    assert is_open(et("2026-11-24 19:55"), "ETF", cfg)
    assert not is_open(et("2026-11-24 20:00"), "ETF", cfg)
    assert not is_open(et("2026-11-24 03:55"), "ETF", cfg)
    # early close day: after-hours end at 17:00 ET
    assert is_open(et("2026-11-27 16:55"), "ETF", cfg)
    assert not is_open(et("2026-11-27 17:00"), "ETF", cfg)


def test_extra_closure():
    cfg = parse_config(
        {
            "session": {
                "extra_closures": [
                    {"start": "2027-03-25 18:00", "end": "2027-03-29", "markets": ["FUT"],
                     "reason": "CME Good Friday closure"}
                ]
            }
        }
    )  # fmt: skip
    ok, why = market_status(et("2027-03-26 08:00"), "FUT", cfg)
    assert not ok and why == "CME Good Friday closure (session.extra_closures)"
    assert is_open(et("2027-03-25 17:00") - timedelta(minutes=5), "FUT", cfg)


def test_trade_date():
    assert trade_date(et("2026-11-22 18:00")) == date(2026, 11, 23)  # Sunday evening -> Monday
    assert trade_date(et("2026-11-24 10:00")) == date(2026, 11, 24)
    assert trade_date(et("2026-11-24 17:30")) == date(2026, 11, 25)  # halt -> next session
    assert trade_date(et("2026-11-21 12:00")) == date(2026, 11, 23)  # Saturday -> Monday
    assert trade_date(et("2026-11-24 20:00"), "ETF") == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(datetime(2026, 11, 24, 15, 3, 27, tzinfo=UTC), datetime(2026, 11, 24, 15, 0, tzinfo=UTC), id="floor"),
        pytest.param(datetime(2026, 11, 24, 15, 5, tzinfo=UTC), datetime(2026, 11, 24, 15, 5, tzinfo=UTC), id="aligned"),
        pytest.param(et("2026-11-24 10:09:59"), datetime(2026, 11, 24, 15, 5, tzinfo=UTC), id="et-input"),
    ],
)  # fmt: skip
def test_slot_for(instant, expected):
    assert slot_for(instant) == expected
    assert slot_for(instant).tzinfo == UTC


def test_slot_for_run():
    end = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)
    after = datetime(2026, 11, 24, 15, 7, 12, tzinfo=UTC)
    assert slot_for_run(end, after) == end
    assert slot_for_run(None, after) == end
    # the slot length is core.slot's, not a parameter: a run cannot ask for another one
    with pytest.raises(TypeError):
        slot_for_run(None, after, 15)  # type: ignore[call-arg]
    assert is_slot(slot_for_run(None, after)) and not is_slot(after)
    with pytest.raises(ValueError):
        slot_for_run(None, None)


def test_expected_slots_for_a_thanksgiving_week():
    start, end = et("2026-11-22 00:00"), et("2026-11-29 00:00")
    fut = expected_slots(start, end, "FUT", CFG)
    etf = expected_slots(start, end, "ETF", CFG)
    # Globex: Sun 18:00 - Wed 17:00 with halts = 3 x 23 h; Wed 18:00 - Thu 13:00 = 19 h;
    # Thu 18:00 - Fri 13:15 (CME's half-day close, 12:15 CT) = 19.25 h.  Twelve slots an hour.
    assert len(fut) == int((3 * 23 + 19 + 19.25) * 12)
    # NYSE: Mon-Wed 6.5 h, Thu closed, Fri 3.5 h.
    assert len(etf) == int((3 * 6.5 + 3.5) * 12)
    assert et("2026-11-24 17:00").astimezone(UTC) not in fut
    assert fut[0] == et("2026-11-22 18:00").astimezone(UTC)
    assert all(s.tzinfo == UTC and s.minute % 5 == 0 for s in fut + etf)
    assert all(is_open(s, "ETF", CFG) for s in etf)


def test_expected_slots_half_open_and_unaligned_start():
    slots = expected_slots(et("2026-11-24 10:02"), et("2026-11-24 10:15"), "ETF", CFG)
    assert [s.astimezone(ET).strftime("%H:%M") for s in slots] == ["10:05", "10:10"]


def test_decisions_are_fast_after_warm_up():
    decide(et("2026-11-24 10:00"), CFG)
    t0 = time.perf_counter()
    for i in range(200):
        decide(et("2026-11-24 10:00") + timedelta(minutes=5 * i), CFG)
    assert (time.perf_counter() - t0) / 200 < 0.005
