"""``collection.history_pacing`` + an Airflow connection -> a pacer on the right ledger.

Connections come from ``AIRFLOW_CONN_*`` environment variables, as a task sees them; the
PostgreSQL and Redis ledgers are then used for real (a fresh database / key prefix).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ib_futures.airflow.pacing import (
    PacingConnectionError,
    history_pacer,
    postgres_params,
    redis_client,
)
from ib_futures.core.config import parse_config
from ib_futures.core.pacing import InProcessLedger, RequestKey, default_pacer
from ib_futures.ledgers.file_ledger import FILE_NAME, FileLedger, default_ledger_path
from ib_futures.ledgers.postgres_ledger import PostgresLedger
from ib_futures.ledgers.redis_ledger import RedisLedger
from support.pacing import REDIS_URL
from support.stores import pg_dsn, redis_key_prefix  # noqa: F401 (fixtures)

KEY = RequestKey(1, "CME", "TRADES", "5 mins", "1 D", "20261124 15:00:00 UTC")


def config(**pacing):
    return parse_config({"collection": {"history_pacing": pacing}})


def set_conn(monkeypatch, conn_id: str, **conn) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_process_ledger_is_the_process_wide_pacer():
    assert history_pacer(config(ledger="process")) is default_pacer()
    assert isinstance(default_pacer().ledger, InProcessLedger)


def test_file_ledger_default_path_and_relative_paths(tmp_path: Path):
    default = history_pacer(config())
    assert isinstance(default.ledger, FileLedger)
    assert default.ledger.path == default_ledger_path()

    cfg_file = tmp_path / "futures_config.yaml"
    cfg_file.write_text("collection:\n  history_pacing: {ledger: file, path: state/}\n")
    from ib_futures.core.config import load_config

    pacer = history_pacer(load_config(cfg_file))
    assert isinstance(pacer.ledger, FileLedger)
    assert pacer.ledger.path == tmp_path / "state" / FILE_NAME  # a directory: trailing slash
    pacer.reserve(KEY)
    assert (tmp_path / "state" / FILE_NAME).is_file()
    named = history_pacer(config(path=str(tmp_path / "p.db"), name="acct-2"))
    assert isinstance(named.ledger, FileLedger)
    assert (named.ledger.path, named.ledger.name) == (tmp_path / "p.db", "acct-2")


def test_postgres_ledger_through_an_airflow_connection(monkeypatch, request):
    dsn = request.getfixturevalue("pg_dsn")
    dbname = dict(p.split("=") for p in dsn.split())["dbname"]
    set_conn(monkeypatch, "pacing_pg", conn_type="postgres", host="127.0.0.1", port=5432,
             login="postgres", schema=dbname, extra={"sslmode": "disable"})  # fmt: skip
    pacer = history_pacer(config(ledger="postgres", conn_id="pacing_pg"))
    assert isinstance(pacer.ledger, PostgresLedger)
    assert pacer.reserve(KEY) == 0.0
    assert pacer.reserve(KEY) == pytest.approx(15.5, abs=0.2)
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT ledger, weight FROM ib_futures_history_pacing").fetchall()
    assert rows == [("default", 1), ("default", 1)]


def test_redis_ledger_through_an_airflow_connection(monkeypatch, request):
    prefix = request.getfixturevalue("redis_key_prefix")
    set_conn(monkeypatch, "pacing_redis", conn_type="redis", host="127.0.0.1", port=6379,
             extra={"db": 0})  # fmt: skip
    name = prefix.rstrip(":").replace("ibf-test:", "ibf-test.")
    pacer = history_pacer(config(ledger="redis", conn_id="pacing_redis", name=name))
    assert isinstance(pacer.ledger, RedisLedger)
    assert pacer.reserve(KEY) == 0.0
    assert pacer.booked() == 1
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        key = f"ib_futures:history_pacing:{name}"
        assert client.zcard(key) == 1
        assert 0 < client.pttl(key) <= (600.5 + 60) * 1000  # an idle ledger expires
    finally:
        client.delete(key)
        client.close()


def test_a_connection_of_the_wrong_type_is_named(monkeypatch):
    set_conn(monkeypatch, "not_pg", conn_type="mysql", host="db")
    pacer = history_pacer(config(ledger="postgres", conn_id="not_pg"))  # looked up lazily
    with pytest.raises(PacingConnectionError) as info:
        pacer.reserve(KEY)
    assert str(info.value) == (
        "collection.history_pacing.conn_id: connection 'not_pg' is of type 'mysql'; the "
        "postgres ledger needs a connection of type postgres"
    )
    set_conn(monkeypatch, "pg_for_redis", conn_type="postgres", host="db")
    with pytest.raises(PacingConnectionError, match="the redis ledger needs a connection of type redis"):
        history_pacer(config(ledger="redis", conn_id="pg_for_redis")).reserve(KEY)


def test_connection_fields_map_to_the_clients():
    from airflow.sdk import Connection

    pg = Connection(conn_id="p", conn_type="postgres", host="db.internal", port=6543,
                    login="ibf", password="s3cret", schema="pacing",
                    extra=json.dumps({"sslmode": "require", "cursor": "dictcursor"}))  # fmt: skip
    assert postgres_params(pg) == {
        "host": "db.internal", "port": 6543, "dbname": "pacing", "user": "ibf",
        "password": "s3cret", "connect_timeout": 10,
        "application_name": "ib_futures history pacing", "sslmode": "require",
    }  # fmt: skip
    rd = Connection(conn_id="r", conn_type="redis", host="cache", port=6380, password="pw",
                    extra=json.dumps({"db": 3, "ssl": "true"}))  # fmt: skip
    client = redis_client(rd)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "cache", 6380, 3, "pw"
    )
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
