from datetime import date

import pytest

from ib_futures.core.contracts import (
    ContractMonth,
    RollRule,
    choose_front_month,
    front_contract_month,
    listed_contract_months,
    third_friday,
)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        pytest.param(2026, 12, date(2026, 12, 18), id="dec-2026"),
        pytest.param(2027, 3, date(2027, 3, 19), id="mar-2027"),
        pytest.param(2026, 5, date(2026, 5, 15), id="friday-on-1st"),
        pytest.param(2025, 8, date(2025, 8, 15), id="friday-on-1st-2025"),
    ],
)
def test_third_friday(year, month, expected):
    assert third_friday(year, month) == expected
    assert expected.weekday() == 4


def test_contract_month_names():
    cm = ContractMonth("ES", 2026, 12)
    assert cm.local_symbol == "ESZ6"
    assert cm.contract_month == "202612"
    assert cm.next() == ContractMonth("ES", 2027, 3)
    assert cm.next().local_symbol == "ESH7"
    assert ContractMonth("RTY", 2027, 3).previous() == ContractMonth("RTY", 2026, 12)


def test_non_quarterly_month_is_refused_with_its_value():
    with pytest.raises(ValueError, match="month 5"):
        ContractMonth("ES", 2026, 5)


def test_listed_months_start_at_first_unexpired():
    months = listed_contract_months("NQ", date(2026, 12, 18), count=3, include_expired_back=1)
    assert [m.local_symbol for m in months] == ["NQU6", "NQZ6", "NQH7", "NQM7"]
    months = listed_contract_months("NQ", date(2026, 12, 19), count=2)
    assert [m.local_symbol for m in months] == ["NQH7", "NQM7"]


@pytest.mark.parametrize(
    ("on", "rule", "expected"),
    [
        pytest.param(date(2026, 12, 9), RollRule(), "ESZ6", id="day-before-second-thursday"),
        pytest.param(date(2026, 12, 10), RollRule(), "ESH7", id="second-thursday-rolls"),
        pytest.param(
            date(2026, 12, 11), RollRule("days_before_expiry", 7), "ESZ6", id="7-days-left"
        ),
        pytest.param(
            date(2026, 12, 12), RollRule("days_before_expiry", 7), "ESH7", id="6-days-left"
        ),
    ],
)
def test_roll_rules_both_sides(on, rule, expected):
    assert front_contract_month("ES", on, rule).local_symbol == expected


def test_choose_front_month_from_details_and_missing():
    cands = [("A", date(2027, 3, 19)), ("B", date(2026, 12, 18))]
    assert choose_front_month(cands, lambda c: c[1], date(2026, 11, 24), RollRule())[0] == "B"
    with pytest.raises(LookupError, match="no contract"):
        choose_front_month(cands[1:], lambda c: c[1], date(2026, 12, 17), RollRule())


def test_bad_roll_rule_names_value():
    with pytest.raises(ValueError, match="'weekly'"):
        RollRule("weekly")  # type: ignore[arg-type]
