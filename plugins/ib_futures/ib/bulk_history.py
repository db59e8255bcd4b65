"""Many missing slots from one paced request per bar field: a backfill's request group.

The late-slot path (``ib.slot_history``) asks two requests for ONE slot. A backfill asks the
same two requests (``MIDPOINT`` and ``TRADES`` 5-minute bars of the slot's contract, expired
months with ``includeExpired``) for a whole :class:`~ib_futures.core.backfill.RequestGroup`:
every slot of one contract within one duration window, and takes each slot's value from the
bars exactly as the late-slot path does (:func:`~ib_futures.ib.slot_history.value_at_slot`), so
a backfilled row equals the row a late run would have stored.

What IB cannot give is told apart from what failed for now:

* **unfillable** (recorded in the lake's ``unfillable_slots``, never asked again): no bar at
  the slot although IB answered for the window (``no_bar``), HMDS holds nothing for the
  contract (162 "no data": ``beyond_retention`` when the month expired, else ``no_bar``), no
  market-data permission (354 and friends: ``no_permission``), the contract cannot be resolved
  (``no_contract``);
* **failed** (left missing; the next repair tries again): timeouts, pacing violations, a lost
  connection, a ledger failure.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ib_futures.core.slot import SLOT
from ib_futures.ib.history import HistoryUnavailable, request_bars

if TYPE_CHECKING:
    from ib_futures.core.backfill import RequestGroup
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.pacing import HistoricalPacer
    from ib_futures.core.snapshot import Snapshot
    from ib_futures.ib.contracts import ResolvedContract
    from ib_futures.ib.gateway import GatewayConnection

log = logging.getLogger(__name__)

_CODE = re.compile(r"IB error (\d+): ([^;]*)")
#: IB codes meaning "no permission for this data"
PERMISSION_CODES = {354, 10090, 10167, 10168, 10197}
#: tries of one request refused for pacing (162 "pacing violation")
PACING_ATTEMPTS = 2
TRANSIENT_TEXT = ("pacing violation", "timed out", "ledger failed", "connection")


@dataclass(frozen=True)
class Unfillable:
    """One slot IB cannot give, and why (a row of ``unfillable_slots``)."""

    symbol: str
    asset_class: str
    bucket_ts: datetime
    local_symbol: str | None
    reason: str
    ib_code: int | None
    message: str

    def to_row(self, recorded_ts: datetime, source: str | None) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "bucket_ts": self.bucket_ts,
            "bucket_date": self.bucket_ts.date(),
            "local_symbol": self.local_symbol,
            "reason": self.reason,
            "ib_code": self.ib_code,
            "message": self.message[:500],
            "recorded_ts": recorded_ts,
            "source": source,
        }


@dataclass
class GroupResult:
    """What one group gave: rows, slots IB cannot give, slots that failed for now."""

    snapshots: list[Snapshot] = field(default_factory=list)
    unfillable: list[Unfillable] = field(default_factory=list)
    failed: dict[datetime, str] = field(default_factory=dict)
    requests: int = 0


def classify(message: str, expired: bool) -> tuple[str, int | None] | None:
    """``(reason, IB code)`` when ``message`` says IB cannot give the data; None if transient."""
    low = message.lower()
    if any(t in low for t in TRANSIENT_TEXT):
        return None
    codes = [(int(c), text) for c, text in _CODE.findall(message)]
    code = codes[0][0] if codes else None
    if any(c in PERMISSION_CODES for c, _ in codes) or "permission" in low or "subscri" in low:
        return "no_permission", code
    if code == 200:
        return "no_contract", code
    if code == 162 or "no data" in low or "no bars" in low:
        return ("beyond_retention" if expired else "no_bar"), code
    return None


async def _resolve(
    gateway: GatewayConnection, group: RequestGroup, cfg: FuturesConfig
) -> ResolvedContract:
    from ib_futures.core.instruments import select_instruments
    from ib_futures.core.session import trade_date
    from ib_futures.ib.contracts import resolve_one

    (inst,) = select_instruments(cfg, [group.symbol])
    spec: Any = inst
    on = trade_date(group.slots[0], "FUT", cfg)
    expired = group.asset_class == "FUT"
    return await resolve_one(gateway, spec, on, cfg.roll_rule(), include_expired=expired)


def _mark(result: GroupResult, group: RequestGroup, why: str, local: str | None) -> None:
    """All the group's slots as unfillable (IB said so) or failed (for now)."""
    expired = group.asset_class == "FUT" and _expired(group)
    verdict = classify(why, expired)
    for s in group.slots:
        if verdict is None:
            result.failed[s] = why
        else:
            result.unfillable.append(
                Unfillable(group.symbol, group.asset_class, s, local, verdict[0], verdict[1], why)
            )


def _expired(group: RequestGroup) -> bool:
    from ib_futures.core.contracts import third_friday

    code = group.contract[len(group.symbol) :]
    months = "FGHJKMNQUVXZ"
    if len(code) < 2 or code[0] not in months or not code[1:].isdigit():
        return False
    year = 2020 + int(code[1:]) % 10
    expiry = third_friday(year, months.index(code[0]) + 1)
    return expiry < datetime.now(UTC).date()


async def fetch_group(
    gateway: GatewayConnection,
    group: RequestGroup,
    cfg: FuturesConfig,
    pacer: HistoricalPacer | None = None,
) -> GroupResult:
    """The rows of ``group``'s slots from one paced request per bar field."""
    from ib_futures.ib.contracts import ContractResolutionError
    from ib_futures.ib.slot_history import (
        BarValue,
        bars_by_start,
        snapshot_from_values,
        value_in_index,
    )

    result = GroupResult()
    try:
        rc = await _resolve(gateway, group, cfg)
    except ContractResolutionError as exc:
        why = str(exc)
        verdict = None if "timed out" in why else ("no_contract", None)
        for s in group.slots:
            if verdict is None:
                result.failed[s] = why
            else:
                result.unfillable.append(
                    Unfillable(
                        group.symbol, group.asset_class, s, group.contract, "no_contract", None, why
                    )
                )
        return result  # fmt: skip
    bars: dict[str, list[Any]] = {}
    errors: list[str] = []
    for what in group.fields:
        for attempt in range(1, PACING_ATTEMPTS + 1):
            result.requests += 1
            try:
                bars[what] = await request_bars(
                    gateway, rc, group.end, duration=group.duration, what_to_show=what,
                    pacer=pacer,
                )  # fmt: skip
                break
            except (HistoryUnavailable, TimeoutError) as exc:
                why = str(exc) or f"{what} bars timed out"
                # a pacing violation (another client of the account, a late send) is booked
                # again once: half a group must not be stored for a passing refusal
                if "pacing violation" not in why.lower() or attempt == PACING_ATTEMPTS:
                    errors.append(why)
                    break
                log.warning("%s; asking again through the pacer", why)
    if not bars:
        _mark(result, group, "; ".join(errors), rc.local_symbol)
        return result
    now = datetime.now(UTC)
    indexed = {what: bars_by_start(series) for what, series in bars.items()}
    for s in group.slots:
        values: dict[str, BarValue] = {}
        for what, index in indexed.items():
            found = value_in_index(index, s)
            if found is not None:
                values[what] = found
        if values:
            result.snapshots.append(snapshot_from_values(rc, s, values, now))
        else:
            result.unfillable.append(Unfillable(
                group.symbol, group.asset_class, s, rc.local_symbol, "no_bar", None,
                f"no {'/'.join(bars)} bar ends at {s.isoformat()} or starts there "
                f"(window ending {(s + SLOT).isoformat()})"))  # fmt: skip
    return result
