"""``IBHook``: the ``ibkr`` connection to an IB Gateway or TWS.

The hook turns an Airflow connection (host, port and extras; see ``provider.IBKR_CONN_FIELDS``)
into :class:`~ib_futures.ib.settings.GatewaySettings` and opens short-lived, read-only connections
with them (``ib_futures.ib.gateway``). Hook arguments override connection extras; ``None``
means "not given".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from ib_futures.airflow.provider import (
    CONN_TYPE,
    IBKR_CONN_FIELDS,
    IBKR_UI_FIELD_BEHAVIOUR,
    ui_field_behaviour,
)

if TYPE_CHECKING:
    from ib_futures.ib.gateway import GatewayConnection
    from ib_futures.ib.settings import GatewaySettings

T = TypeVar("T")

CONNECTION_SETTINGS = tuple(IBKR_CONN_FIELDS)
"""Connection extras (and hook arguments) that become :class:`GatewaySettings` fields."""


def _parse_range(value: Any) -> tuple[int, int]:
    from ib_futures.ib.settings import SettingsError

    try:
        if isinstance(value, list | tuple) and len(value) == 2:
            lo, hi = int(value[0]), int(value[1])
        else:
            lo_s, hi_s = str(value).replace(" ", "").split("-", 1)
            lo, hi = int(lo_s), int(hi_s)
    except (TypeError, ValueError):
        raise SettingsError(
            f"client_id_range: expected 'LOW-HIGH' such as '100-899', got {value!r}"
        ) from None
    return lo, hi


def _as_bool(key: str, value: Any) -> bool:
    from ib_futures.ib.settings import SettingsError

    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise SettingsError(f"{key}: expected true or false, got {value!r}")


def _as_number(key: str, value: Any, kind: type = float) -> Any:
    from ib_futures.ib.settings import SettingsError

    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key}: expected a number, got {value!r}") from None


class IBHook(BaseHook):
    """Interact with an Interactive Brokers Gateway or TWS through ``ib_async``.

    Every connection is read-only, uses a client id no concurrent task holds, and is always
    closed (after a short pause, as ib_async recommends for short connections).

    :param ib_conn_id: the ``ibkr`` connection id (default ``ib_default``).
    :param client_id: fixed client id; overrides the connection extra.
    :param client_id_range: ``(low, high)`` range to lease ids from; overrides the extra.
    :param market_data_type: ``live``/``frozen``/``delayed``/``delayed_frozen`` or 1-4.
    :param delayed_fallback: retry as delayed data on error 354.
    :param connect_timeout: seconds for connect and startup sync.
    :param request_timeout: seconds for one request (contract details, current time).
    :param snapshot_timeout: seconds for one market-data snapshot.
    :param defaults: values used only when neither an argument nor a connection extra gives
        them (the operator passes the config's ``collection`` settings here), so the order is
        argument > connection extra > config > built-in default.
    """

    conn_name_attr = "ib_conn_id"
    default_conn_name = "ib_default"
    conn_type = CONN_TYPE
    hook_name = "Interactive Brokers (IB Gateway / TWS)"

    def __init__(
        self,
        ib_conn_id: str = default_conn_name,
        *,
        client_id: int | None = None,
        client_id_range: tuple[int, int] | None = None,
        market_data_type: str | int | None = None,
        delayed_fallback: bool | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        snapshot_timeout: float | None = None,
        defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ib_conn_id = ib_conn_id
        self._defaults = {k: v for k, v in (defaults or {}).items() if v is not None}
        self._overrides: dict[str, Any] = {
            "client_id": client_id,
            "client_id_range": client_id_range,
            "market_data_type": market_data_type,
            "delayed_fallback": delayed_fallback,
            "connect_timeout": connect_timeout,
            "request_timeout": request_timeout,
            "snapshot_timeout": snapshot_timeout,
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled connection form fields (declared in provider info)."""
        return ui_field_behaviour(IBKR_UI_FIELD_BEHAVIOUR)

    @cached_property
    def settings(self) -> GatewaySettings:
        """Settings from the connection (read once), with hook arguments applied."""
        from ib_futures.ib.settings import GatewaySettings, SettingsError, parse_market_data_type

        conn = self.get_connection(self.ib_conn_id)
        extra = conn.extra_dejson or {}
        merged: dict[str, Any] = {}
        for key in CONNECTION_SETTINGS:
            value = self._overrides.get(key)
            if value is None:
                value = extra.get(key)
            if value is None:
                value = self._defaults.get(key)
            if value is None or value == "":
                continue
            merged[key] = value
        unknown = sorted(set(extra) - set(CONNECTION_SETTINGS))
        if unknown:
            self.log.warning("connection %s: ignoring unknown extras %s", self.ib_conn_id, unknown)
        try:
            kwargs: dict[str, Any] = {
                "host": conn.host or "127.0.0.1",
                "port": _as_number("port", conn.port or 4002, int),
            }
            if "client_id" in merged:
                kwargs["client_id"] = _as_number("client_id", merged["client_id"], int)
            if "client_id_range" in merged:
                kwargs["client_id_range"] = _parse_range(merged["client_id_range"])
            if "market_data_type" in merged:
                kwargs["market_data_type"] = parse_market_data_type(merged["market_data_type"])
            if "delayed_fallback" in merged:
                kwargs["delayed_fallback"] = _as_bool(
                    "delayed_fallback", merged["delayed_fallback"]
                )
            for key in ("connect_timeout", "request_timeout", "snapshot_timeout"):
                if key in merged:
                    kwargs[key] = _as_number(key, merged[key])
            if "account" in merged:
                kwargs["account"] = str(merged["account"])
            return GatewaySettings(**kwargs)
        except SettingsError as exc:
            raise SettingsError(f"connection {self.ib_conn_id!r} ({CONN_TYPE}): {exc}") from None

    def get_conn(self) -> GatewaySettings:
        """The validated gateway settings; connections are opened per call by :meth:`run`."""
        return self.settings

    def run(self, work: Callable[[GatewayConnection], Awaitable[T]]) -> T:
        """Open a connection, run ``await work(gateway)`` in it, always close it, return the result."""
        from ib_futures.ib.gateway import connect_gateway

        async def main() -> T:
            async with connect_gateway(self.settings) as gateway:
                return await work(gateway)

        return asyncio.run(main())

    def test_connection(self) -> tuple[bool, str]:
        """Ask the gateway for its current time; ``(ok, message)`` within the timeouts."""
        from ib_futures.ib.gateway import GatewayError

        started = time.monotonic()
        try:
            settings = self.settings

            async def ask(gateway: GatewayConnection) -> Any:
                return await asyncio.wait_for(
                    gateway.ib.reqCurrentTimeAsync(), settings.request_timeout
                )

            gateway_now = self.run(ask)
        except TimeoutError:
            return False, (
                f"IB gateway {self.settings.address} connected but did not answer "
                f"reqCurrentTime within {self.settings.request_timeout:g}s"
            )
        except (GatewayError, OSError, ValueError) as exc:
            return False, str(exc)
        except Exception as exc:
            return False, f"IB gateway test failed: {exc!r}"
        took = time.monotonic() - started
        return True, (
            f"Connected to IB gateway {self.settings.address}; gateway time "
            f"{gateway_now:%Y-%m-%d %H:%M:%S %Z} ({took:.2f}s)"
        )
