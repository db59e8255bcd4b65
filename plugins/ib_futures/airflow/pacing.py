"""``collection.history_pacing`` -> a ready :class:`~ib_futures.core.pacing.HistoricalPacer`.

The thin Airflow side of the pacing ledger: for the ``postgres`` and ``redis`` ledgers it
turns the Airflow connection named by ``conn_id`` into a store client; the ledgers
themselves (``ib_futures.ledgers``) never import Airflow. The connection is looked up at the
first reservation, not when the pacer is built, so a collection that needs no history makes
no lookup. Why a ledger and not Variables or the metadata database: docs/operations.md,
"Historical request pacing".
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.pacing import HistoricalPacer

CONN_KEY = "collection.history_pacing.conn_id"
POSTGRES_TYPES = ("postgres", "postgresql")
REDIS_TYPES = ("redis",)
#: connection extras passed to libpq as they are (the rest of the postgres form is ignored)
LIBPQ_EXTRAS = (
    "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options",
    "application_name", "target_session_attrs",
)  # fmt: skip
#: connection extras passed to redis-py as they are
REDIS_EXTRAS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")


class PacingConnectionError(ValueError):
    """The connection named by ``collection.history_pacing.conn_id`` does not fit the ledger."""


def _checked(conn: Any, types: tuple[str, ...], ledger: str) -> Any:
    if (conn.conn_type or "").lower() not in types:
        raise PacingConnectionError(
            f"{CONN_KEY}: connection {conn.conn_id!r} is of type {conn.conn_type!r}; the "
            f"{ledger} ledger needs a connection of type {types[0]}"
        )
    return conn


def postgres_params(conn: Any) -> dict[str, Any]:
    """libpq keyword arguments from a ``postgres`` connection (``schema`` is the database)."""
    _checked(conn, POSTGRES_TYPES, "postgres")
    extra = conn.extra_dejson or {}
    params: dict[str, Any] = {
        "host": conn.host or "localhost",
        "port": conn.port or 5432,
        "dbname": conn.schema or None,
        "user": conn.login or None,
        "password": conn.password or None,
        "connect_timeout": 10,
        "application_name": "ib_futures history pacing",
    }
    params.update({k: extra[k] for k in LIBPQ_EXTRAS if k in extra})
    return {k: v for k, v in params.items() if v is not None}


def postgres_connect(params: dict[str, Any]) -> Callable[[], Any]:
    """A function opening a new DB-API connection: psycopg 3 if installed, else psycopg2
    (Airflow's postgres extra installs psycopg2; either speaks ``%s`` parameters)."""
    try:
        import psycopg

        return functools.partial(psycopg.connect, **params)
    except ImportError:
        import psycopg2

        return functools.partial(psycopg2.connect, **params)


def redis_client(conn: Any) -> Any:
    """A redis-py client from a ``redis`` connection (extras: ``db``, ``ssl``, ``ssl_*``)."""
    import redis

    _checked(conn, REDIS_TYPES, "redis")
    extra = conn.extra_dejson or {}
    ssl = extra.get("ssl", False)
    options = {k: extra[k] for k in REDIS_EXTRAS if k in extra}
    return redis.Redis(
        host=conn.host or "localhost",
        port=int(conn.port or 6379),
        db=int(extra.get("db", 0)),
        username=conn.login or None,
        password=conn.password or None,
        ssl=ssl is True or str(ssl).lower() in ("true", "1", "yes"),
        socket_timeout=10,
        socket_connect_timeout=10,
        **options,
    )


def _store_connect(ledger: str, conn_id: str) -> Callable[[], Any]:
    """The ledger's ``connect``: resolves the Airflow connection once, on first call."""

    @functools.cache
    def resolved() -> Any:
        conn = BaseHook.get_connection(conn_id)
        if ledger == "postgres":
            return postgres_connect(postgres_params(conn))
        return redis_client(conn)

    if ledger == "postgres":
        return lambda: resolved()()
    return resolved


def history_pacer(cfg: FuturesConfig) -> HistoricalPacer:
    """The pacer every historical request of this task books through."""
    from ib_futures.ledgers import make_pacer

    settings = cfg.collection.history_pacing
    if settings.ledger == "process":
        return make_pacer("process")
    if settings.ledger == "file":
        path: str | Path | None = None
        if settings.path is not None:
            path = cfg.resolve_path(settings.path)
            if settings.path.endswith(("/", os.sep)):
                path = f"{path}{os.sep}"  # a directory, even before it exists
        return make_pacer("file", name=settings.name, path=path)
    assert settings.conn_id is not None  # the config model requires it for these ledgers
    connect = _store_connect(settings.ledger, settings.conn_id)
    return make_pacer(settings.ledger, name=settings.name, connect=connect)
