"""Stores for the ledger tests: a fresh PostgreSQL database and a fresh Redis key prefix per
test (127.0.0.1:5432 with trust auth, 127.0.0.1:6379), removed afterwards. A test that needs
a store that is not running is skipped, naming the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.pacing import REDIS_URL, pg_database, redis_prefix


def _postgres_up() -> str | None:
    try:
        import psycopg

        from support.pacing import PG_ADMIN_DSN

        psycopg.connect(PG_ADMIN_DSN).close()
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc}"
    return None


def _redis_up() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis at 127.0.0.1:6379 not reachable: {exc}"
    return None


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    why = _postgres_up()
    if why:
        pytest.skip(why)
    yield from pg_database()


@pytest.fixture
def redis_key_prefix() -> Iterator[str]:
    why = _redis_up()
    if why:
        pytest.skip(why)
    yield from redis_prefix()


@pytest.fixture(params=["file", "postgres", "redis"])
def ledger_spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A picklable description of a shared ledger (see support.pacing.pacer_from_spec)."""
    kind = request.param
    if kind == "file":
        return {"kind": "file", "path": str(tmp_path / "ledger" / "pacing.sqlite3")}
    if kind == "postgres":
        return {"kind": "postgres", "dsn": request.getfixturevalue("pg_dsn")}
    return {
        "kind": "redis", "url": REDIS_URL, "prefix": request.getfixturevalue("redis_key_prefix")
    }
