"""Real stores for the pacing-ledger tests, as pytest fixtures: a fresh PostgreSQL database
(127.0.0.1:5432, trust auth) and a fresh Redis key prefix (127.0.0.1:6379) per test, removed
afterwards. A test whose store is not running is skipped, naming the store. Import the
fixtures into a test module or conftest to use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.pacing import PG_ADMIN_DSN, REDIS_URL, pg_database, redis_prefix


def _postgres_up() -> str | None:
    try:
        import psycopg

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
