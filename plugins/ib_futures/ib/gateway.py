"""A short-lived, read-only connection to an IB Gateway (or TWS).

ib_async is designed for long-lived connections; a collector that connects for a few seconds
every five minutes has to get the edges right (ib_async docs, "connect/disconnect"):

* ``readonly=True`` so the startup sync does not download orders, and nothing can trade;
* a client id no concurrent task uses (``ib.client_ids``), and a 326 rejection noticed at once
  instead of after ib_async's connect timeout (docs/ib-protocol.md: "connect() does not fail fast");
* errors are collected per request id from ``errorEvent`` (ib_async turns most errors into
  empty results unless ``RaiseRequestErrors`` is set);
* a short pause before ``disconnect()`` so the last messages are flushed, and a disconnect in
  every case, including cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ib_futures.ib.client_ids import ClientIdLease, lease_client_id, try_lease
from ib_futures.ib.settings import GatewaySettings

if TYPE_CHECKING:
    from ib_async import IB, Contract

log = logging.getLogger(__name__)

CLIENT_ID_IN_USE = 326
CONNECTIVITY_CODES = {
    1100: "connectivity between IB and the gateway lost",
    1101: "connectivity restored, data lost (resubscribe)",
    1102: "connectivity restored, data maintained",
}


class GatewayError(ConnectionError):
    """The gateway could not be reached or the connection broke; the message says which."""


class ClientIdInUse(GatewayError):
    """The gateway refused the client id (error 326)."""


@dataclass(frozen=True)
class IBErrorEvent:
    req_id: int
    code: int
    message: str
    con_id: int | None


@dataclass
class ErrorLog:
    """Errors and notices seen during a connection, by request id and by contract."""

    events: list[IBErrorEvent] = field(default_factory=list)
    by_con_id: dict[int, list[IBErrorEvent]] = field(default_factory=lambda: defaultdict(list))

    def record(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        con_id = getattr(contract, "conId", None) or None
        event = IBErrorEvent(req_id, code, message, con_id)
        self.events.append(event)
        if con_id is not None:
            self.by_con_id[con_id].append(event)

    def codes_for(self, con_id: int, since: int = 0) -> list[int]:
        return [e.code for e in self.by_con_id.get(con_id, [])[since:]]

    def connectivity(self) -> list[IBErrorEvent]:
        return [e for e in self.events if e.code in CONNECTIVITY_CODES]


@dataclass
class GatewayConnection:
    """An open gateway connection: the ib_async ``IB`` object, the leased client id and the error log."""

    ib: IB
    settings: GatewaySettings
    client_id: int
    errors: ErrorLog

    @property
    def server_version(self) -> int:
        return int(self.ib.client.serverVersion())


async def _connect_once(ib: IB, settings: GatewaySettings, client_id: int) -> None:
    """Connect with ``client_id``; raise :class:`ClientIdInUse` as soon as 326 arrives."""
    loop = asyncio.get_running_loop()
    refused: asyncio.Future[int] = loop.create_future()

    def on_error(req_id: int, code: int, message: str, contract: Any = None) -> None:
        if code == CLIENT_ID_IN_USE and not refused.done():
            refused.set_result(code)

    def on_disconnect() -> None:
        if not refused.done():
            refused.set_result(0)

    ib.errorEvent += on_error
    ib.disconnectedEvent += on_disconnect
    connect = asyncio.ensure_future(
        ib.connectAsync(
            settings.host,
            settings.port,
            clientId=client_id,
            timeout=settings.connect_timeout,
            readonly=True,
            account=settings.account,
        )
    )
    try:
        done, _ = await asyncio.wait({connect, refused}, return_when=asyncio.FIRST_COMPLETED)
        if connect in done:
            connect.result()  # re-raise connect errors (refused, timeout)
            return
        connect.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connect
        ib.disconnect()
        if refused.result() == CLIENT_ID_IN_USE:
            raise ClientIdInUse(
                f"IB gateway {settings.address} refused client id {client_id} (error 326: "
                "already in use by another API connection)"
            )
        raise GatewayError(
            f"IB gateway {settings.address} closed the connection during the handshake "
            f"(client id {client_id})"
        )
    finally:
        ib.errorEvent -= on_error
        ib.disconnectedEvent -= on_disconnect
        if not refused.done():
            refused.cancel()


def _describe_connect_error(settings: GatewaySettings, exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"IB gateway {settings.address} refused the connection: is IB Gateway/TWS "
            "running with the API enabled on that port?"
        )
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return (
            f"IB gateway {settings.address} did not complete the API handshake within "
            f"{settings.connect_timeout:g}s"
        )
    return f"IB gateway {settings.address}: connection failed: {exc!r}"


@contextlib.asynccontextmanager
async def connect_gateway(
    settings: GatewaySettings,
    *,
    lease_dir: Path | None = None,
    max_id_attempts: int = 5,
) -> AsyncIterator[GatewayConnection]:
    """Open a read-only gateway connection, yield it, and always close it.

    Raises :class:`GatewayError` (a ``ConnectionError``) with a message naming the gateway
    when it cannot be reached, and :class:`ClientIdInUse` when every tried id is refused.
    """
    from ib_async import IB

    refused: set[int] = set()
    # The lease stays here, not in a helper, so the ``finally`` below releases whatever is
    # held at any point, after the disconnect.
    lease: ClientIdLease | None = None
    ib = IB()
    # Requests made through the sync API would otherwise wait forever for a swallowed answer.
    ib.RequestTimeout = settings.request_timeout
    errors = ErrorLog()
    ib.errorEvent += errors.record
    try:
        for _attempt in range(max_id_attempts if settings.client_id is None else 1):
            lease = _lease_client_id(settings, refused, lease_dir)
            try:
                await _connect_with(ib, settings, lease.client_id)
                break
            except ClientIdInUse:
                _release_refused(lease, refused, settings)
                lease = None
                if settings.client_id is not None:
                    raise
        else:
            raise ClientIdInUse(
                f"IB gateway {settings.address} refused client ids {sorted(refused)} (326)"
            )
        assert lease is not None
        log.info(
            "connected to IB gateway %s as client id %s (server version %s)",
            settings.address,
            lease.client_id,
            ib.client.serverVersion(),
        )
        ib.reqMarketDataType(settings.market_data_type)
        yield GatewayConnection(ib, settings, lease.client_id, errors)
    finally:
        await _close(ib, settings, errors, lease)


def _lease_client_id(
    settings: GatewaySettings, refused: set[int], lease_dir: Path | None
) -> ClientIdLease:
    """The configured client id, or a free id of the range that no gateway refused yet."""
    if settings.client_id is not None:
        lease = try_lease(settings.address, settings.client_id, lease_dir)
        if lease is None:
            raise ClientIdInUse(
                f"client id {settings.client_id} for {settings.address} is in use by "
                "another task on this host; configure a client_id_range instead"
            )
        return lease
    return lease_client_id(
        settings.address, settings.client_id_range, exclude=refused, lease_dir=lease_dir
    )


async def _connect_with(ib: IB, settings: GatewaySettings, client_id: int) -> None:
    """:func:`_connect_once`, with socket errors and timeouts as :class:`GatewayError`."""
    try:
        await _connect_once(ib, settings, client_id)
    except GatewayError:
        raise  # GatewayError is a ConnectionError, hence an OSError: keep its own message
    except (OSError, TimeoutError) as exc:
        raise GatewayError(_describe_connect_error(settings, exc)) from exc


def _release_refused(lease: ClientIdLease, refused: set[int], settings: GatewaySettings) -> None:
    """Note a client id the gateway refused (326), so the next attempt skips it; release it."""
    refused.add(lease.client_id)
    log.warning(
        "client id %s refused by %s (326); trying another",
        lease.client_id,
        settings.address,
    )
    lease.release()


async def _close(
    ib: IB, settings: GatewaySettings, errors: ErrorLog, lease: ClientIdLease | None
) -> None:
    """Let the last messages flush, then disconnect and release the lease, even if cancelled."""
    try:
        if ib.isConnected():
            await asyncio.sleep(settings.disconnect_pause)
    finally:
        ib.disconnect()
        ib.errorEvent -= errors.record
        if lease is not None:
            lease.release()


async def gateway_time(settings: GatewaySettings) -> Any:
    """The gateway's current time (``reqCurrentTime``), bounded by the request timeout."""
    async with connect_gateway(settings) as gateway:
        return await asyncio.wait_for(gateway.ib.reqCurrentTimeAsync(), settings.request_timeout)
