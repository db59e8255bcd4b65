"""The ledger tests' stores: ``pg_dsn`` and ``redis_key_prefix`` (support.stores), and
``ledger_spec``, each shared ledger in turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.pacing import REDIS_URL
from support.stores import pg_dsn, redis_key_prefix

__all__ = ["ledger_spec", "pg_dsn", "redis_key_prefix"]


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
