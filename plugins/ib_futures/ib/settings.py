"""Connection settings for one gateway session, validated once.

The Airflow hook builds these from the ``ibkr`` connection (host, port, extras) with hook
arguments overriding extras; tests and the demo build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ib_futures.core.snapshot import MARKET_DATA_TYPES

MARKET_DATA_TYPE_CODES: dict[str, int] = {name: code for code, name in MARKET_DATA_TYPES.items()}

DEFAULT_CLIENT_ID_RANGE = (100, 899)


class SettingsError(ValueError):
    """A connection setting is invalid; the message names the setting and the value."""


def parse_market_data_type(value: str | int) -> int:
    """``"live"``/``1`` ... ``"delayed_frozen"``/``4`` -> IB's market data type code."""
    if isinstance(value, bool):
        raise SettingsError(
            f"market_data_type: expected one of {list(MARKET_DATA_TYPE_CODES)}, got {value!r}"
        )
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        code = int(value)
        if code in MARKET_DATA_TYPES:
            return code
    elif isinstance(value, str) and value.strip().lower() in MARKET_DATA_TYPE_CODES:
        return MARKET_DATA_TYPE_CODES[value.strip().lower()]
    raise SettingsError(
        f"market_data_type: expected one of {list(MARKET_DATA_TYPE_CODES)} or 1-4, got {value!r}"
    )


@dataclass(frozen=True)
class GatewaySettings:
    """Everything needed to open one read-only session with an IB Gateway or TWS.

    :param client_id: a fixed client id; ``None`` leases one from ``client_id_range``.
    :param client_id_range: inclusive range of ids this deployment may use; leases never
        overlap on one host, and a 326 rejection (id used elsewhere) moves on to the next id.
    :param market_data_type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.
    :param delayed_fallback: when live data is refused (354), retry those instruments delayed.
    :param connect_timeout: seconds for TCP connect + API handshake + startup sync.
    :param request_timeout: seconds any single request (details, snapshot, time) may take.
    :param snapshot_timeout: seconds a market-data snapshot may take (IB: up to 11 s).
    :param disconnect_pause: seconds to wait before disconnecting; ib_async recommends a
        short pause so the last messages are flushed on short-lived connections.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int | None = None
    client_id_range: tuple[int, int] = DEFAULT_CLIENT_ID_RANGE
    market_data_type: int = 1
    delayed_fallback: bool = True
    connect_timeout: float = 10.0
    request_timeout: float = 15.0
    snapshot_timeout: float = 15.0
    disconnect_pause: float = 0.1
    account: str = ""
    readonly: bool = True

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("host: must not be empty")
        if not 0 < int(self.port) < 65536:
            raise SettingsError(f"port: expected 1-65535, got {self.port!r}")
        lo, hi = self.client_id_range
        if not 0 <= lo <= hi <= 2**31 - 1:
            raise SettingsError(
                f"client_id_range: expected 0 <= low <= high, got {self.client_id_range!r}"
            )
        if self.client_id is not None and self.client_id < 0:
            raise SettingsError(f"client_id: expected >= 0, got {self.client_id!r}")
        if self.market_data_type not in MARKET_DATA_TYPES:
            raise SettingsError(f"market_data_type: expected 1-4, got {self.market_data_type!r}")
        for name in ("connect_timeout", "request_timeout", "snapshot_timeout"):
            value = getattr(self, name)
            if not 0 < value <= 600:
                raise SettingsError(f"{name}: expected seconds in (0, 600], got {value!r}")
        if not 0 <= self.disconnect_pause <= 5:
            raise SettingsError(
                f"disconnect_pause: expected 0-5 seconds, got {self.disconnect_pause!r}"
            )
        if not self.readonly:
            # The collector never trades; a read-write session would also make ib_async
            # download open and completed orders at startup.
            raise SettingsError(
                "readonly: sessions are always read-only; readonly=False is refused"
            )

    def with_overrides(self, **overrides: Any) -> GatewaySettings:
        """A copy with the given fields replaced; ``None`` values mean "not given"."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
