"""Quarterly equity-index futures months, expiries and the roll rule.

CME's E-mini equity-index futures (ES, NQ, RTY) list the March, June, September and December
cycle (month codes H, M, U, Z). They expire on the third Friday of the contract month (final
settlement at the 09:30 ET special opening quotation; last trade 08:30 CT that morning).
IB local symbols use a one-digit year: ``ESZ6`` is the December 2026 ES contract.

Two roll rules are supported (``RollRule``):

* ``second_thursday`` (default, the industry habit): roll on the Thursday eight days before
  expiry (the 2nd Thursday of the contract month), when volume migrates to the next contract.
  From that day on the next contract is the front month.
* ``days_before_expiry``: roll once fewer than ``days`` calendar days remain to expiry (the
  in-house collector used 7).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, TypeVar

MONTH_CODES: dict[int, str] = {3: "H", 6: "M", 9: "U", 12: "Z"}
"""Quarterly month -> CME month code."""

CODE_MONTHS: dict[str, int] = {code: month for month, code in MONTH_CODES.items()}


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``year``-``month`` (the quarterly expiry day)."""
    first_weekday, _ = calendar.monthrange(year, month)  # Monday == 0
    first_friday = 1 + (calendar.FRIDAY - first_weekday) % 7
    return date(year, month, first_friday + 14)


@dataclass(frozen=True, order=True)
class ContractMonth:
    """One quarterly contract of a futures root, e.g. ``ContractMonth("ES", 2026, 12)``."""

    root: str
    year: int
    month: int

    def __post_init__(self) -> None:
        if self.month not in MONTH_CODES:
            raise ValueError(
                f"{self.root}: month {self.month} is not a quarterly contract month (3, 6, 9, 12)"
            )

    @property
    def code(self) -> str:
        return MONTH_CODES[self.month]

    @property
    def expiry(self) -> date:
        """Last trading day: the third Friday of the contract month."""
        return third_friday(self.year, self.month)

    @property
    def local_symbol(self) -> str:
        """IB's local symbol, e.g. ``ESZ6`` (one-digit year)."""
        return f"{self.root}{self.code}{self.year % 10}"

    @property
    def contract_month(self) -> str:
        """IB's ``lastTradeDateOrContractMonth`` month form, e.g. ``202612``."""
        return f"{self.year:04d}{self.month:02d}"

    def next(self) -> ContractMonth:
        if self.month == 12:
            return ContractMonth(self.root, self.year + 1, 3)
        return ContractMonth(self.root, self.year, self.month + 3)

    def previous(self) -> ContractMonth:
        if self.month == 3:
            return ContractMonth(self.root, self.year - 1, 12)
        return ContractMonth(self.root, self.year, self.month - 3)


def first_unexpired(root: str, on: date) -> ContractMonth:
    """The nearest quarterly contract whose expiry day is on or after ``on``."""
    month = ((on.month - 1) // 3 + 1) * 3
    cm = ContractMonth(root, on.year, month)
    while cm.expiry < on:
        cm = cm.next()
    return cm


def listed_contract_months(
    root: str, on: date, count: int = 5, include_expired_back: int = 0
) -> list[ContractMonth]:
    """Contract months listed on ``on``: ``count`` unexpired ones, nearest first.

    ``include_expired_back`` prepends that many already expired contracts (oldest first), as
    IB returns them only when ``includeExpired`` is set.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    first = first_unexpired(root, on)
    expired: list[ContractMonth] = []
    cm = first
    for _ in range(include_expired_back):
        cm = cm.previous()
        expired.append(cm)
    out = list(reversed(expired))
    cm = first
    for _ in range(count):
        out.append(cm)
        cm = cm.next()
    return out


RollKind = Literal["second_thursday", "days_before_expiry"]


@dataclass(frozen=True)
class RollRule:
    """When the front month moves to the next contract. See the module docstring."""

    kind: RollKind = "second_thursday"
    days: int = 7

    def __post_init__(self) -> None:
        if self.kind not in ("second_thursday", "days_before_expiry"):
            raise ValueError(
                f"roll rule kind must be 'second_thursday' or 'days_before_expiry', got {self.kind!r}"
            )
        if self.kind == "days_before_expiry" and not 0 <= self.days <= 60:
            raise ValueError(f"roll rule days must be between 0 and 60, got {self.days}")

    def roll_date(self, expiry: date) -> date:
        """First day on which a contract expiring on ``expiry`` is no longer the front month."""
        if self.kind == "second_thursday":
            # Thursday eight days before a Friday expiry.
            return expiry - timedelta(days=8)
        # "fewer than N days remain": days remaining = expiry - today < N  <=>  today > expiry - N
        return expiry - timedelta(days=self.days - 1)

    def describe(self) -> str:
        if self.kind == "second_thursday":
            return "roll on the Thursday eight days before expiry"
        return f"roll when fewer than {self.days} days remain to expiry"


T = TypeVar("T")


def choose_front_month(
    candidates: Iterable[T], expiry_of: Callable[[T], date], on: date, rule: RollRule
) -> T:
    """The front month on ``on`` among ``candidates`` (e.g. IB contract details) under ``rule``.

    The front month is the candidate with the earliest expiry whose roll date is still ahead
    (``on < rule.roll_date(expiry)``). Raises ``LookupError`` if none qualifies.
    """
    live: Sequence[T] = sorted(
        (c for c in candidates if on < rule.roll_date(expiry_of(c))), key=expiry_of
    )
    if not live:
        raise LookupError(f"no contract is tradeable as front month on {on} ({rule.describe()})")
    return live[0]


def front_contract_month(root: str, on: date, rule: RollRule | None = None) -> ContractMonth:
    """The front quarterly contract of ``root`` on ``on`` from the calendar alone."""
    rule = rule or RollRule()
    return choose_front_month(
        listed_contract_months(root, on, count=3), lambda cm: cm.expiry, on, rule
    )
