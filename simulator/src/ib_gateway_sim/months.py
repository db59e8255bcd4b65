"""Quarterly contract months of the CME E-mini equity-index futures, as the simulator lists them.

The simulator keeps these rules itself (it depends on nothing but the standard library):

* ES, NQ and RTY list the March, June, September and December cycle, month codes H, M, U, Z.
* A contract expires on the third Friday of its month (last trade 08:30 CT that morning; the
  instant is applied in ``contracts.py``).
* IB's local symbol carries a one-digit year: ``ESZ6`` is December 2026;
  ``lastTradeDateOrContractMonth`` in month form is ``202612``.

A collector using this simulator applies its own roll rule to the listed months; the project
that ships the simulator checks that these rules and its own agree (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

#: Quarterly month -> CME month code.
MONTH_CODES: dict[int, str] = {3: "H", 6: "M", 9: "U", 12: "Z"}
_FRIDAY = 4  # date.weekday()


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``year``-``month``: the quarterly expiry day."""
    first = date(year, month, 1)
    return first + timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14)


@dataclass(frozen=True, order=True)
class ContractMonth:
    """One quarterly contract of a futures root, e.g. ``ContractMonth("ES", 2026, 12)``."""

    root: str
    year: int
    month: int

    def __post_init__(self) -> None:
        if self.month not in MONTH_CODES:
            raise ValueError(f"{self.root}: {self.month} is not a quarterly month (3, 6, 9, 12)")

    @property
    def code(self) -> str:
        return MONTH_CODES[self.month]

    @property
    def expiry(self) -> date:
        return third_friday(self.year, self.month)

    @property
    def local_symbol(self) -> str:
        return f"{self.root}{self.code}{self.year % 10}"

    @property
    def contract_month(self) -> str:
        return f"{self.year:04d}{self.month:02d}"

    def shifted(self, quarters: int) -> ContractMonth:
        """The contract ``quarters`` quarterly months later (earlier when negative)."""
        index = self.year * 4 + self.month // 3 - 1 + quarters
        return ContractMonth(self.root, index // 4, (index % 4 + 1) * 3)


def first_unexpired(root: str, on: date) -> ContractMonth:
    """The nearest contract whose expiry day is ``on`` or later (the expiry day counts)."""
    candidate = ContractMonth(root, on.year, (on.month + 2) // 3 * 3)
    return candidate if candidate.expiry >= on else candidate.shifted(1)


def listed_months(root: str, on: date, count: int, expired_back: int = 0) -> list[ContractMonth]:
    """``expired_back`` expired contracts (oldest first), then ``count`` unexpired ones."""
    first = first_unexpired(root, on)
    return [first.shifted(k) for k in range(-expired_back, count)]
