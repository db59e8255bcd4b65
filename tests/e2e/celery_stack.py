"""The end-to-end harness (:mod:`.airflow_stack`) with the CeleryExecutor and one Celery worker.

::

    with CeleryStack(workdir, extra_env={...}) as stack:   # + broker db, worker, result backend
        ...                                                # the AirflowStack API as before
        stack.celery_results()                             # {'SUCCESS': 3}

* Broker: Redis ``127.0.0.1:6379``, database :data:`BROKER_DB` only. A run holds that database
  through a lease key (``SET NX`` with an expiry, so a killed run frees it by itself); another
  run waits for it. The database is flushed when the lease is taken and when the stack stops,
  never any other database.
* Result backend: the stack's own PostgreSQL database (``db+postgresql://``), created and
  dropped by :class:`AirflowStack`.
* The worker (``airflow celery worker --concurrency 2``) is one more component: its process
  group is terminated with the others in ``stop()``, and its log is ``logs/celery.log``.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .airflow_stack import AirflowStack, StackError

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
BROKER_DB = 11  # the default is 0; nothing else on these machines uses 11
LEASE_KEY = "ib-futures:e2e:celery:lease"
LEASE_SECONDS = 420  # longer than a run may take (pytest's timeout), so it outlives none


class CeleryStack(AirflowStack):
    """:class:`AirflowStack` with ``CeleryExecutor``, a Redis broker and a Celery worker.

    :param broker_db: Redis database number for the broker (flushed at start and stop).
    :param concurrency: worker processes of the Celery worker.
    :param lease_wait: seconds to wait for another run's hold on ``broker_db`` to end.
    """

    def __init__(
        self,
        workdir: Path,
        extra_env: Mapping[str, str] | None = None,
        *,
        broker_db: int = BROKER_DB,
        concurrency: int = 2,
        lease_wait: float = 240.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(workdir, extra_env, **kwargs)
        self.broker_db = broker_db
        self.concurrency = concurrency
        self.lease_wait = lease_wait
        self.worker_name = f"ibf-e2e-{secrets.token_hex(4)}@%h"
        self._lease_token = secrets.token_hex(16)
        self._leased = False
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{broker_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": (
                    f"db+postgresql://postgres@127.0.0.1:5432/{self.db_name}"
                ),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                **dict(extra_env or {}),
            }
        )

    # ------------------------------------------------------------------ broker database

    def _redis(self) -> Any:
        import redis

        return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.broker_db, socket_timeout=10)

    def _take_lease(self) -> None:
        client = self._redis()
        end = time.monotonic() + self.lease_wait
        while not client.set(LEASE_KEY, self._lease_token, nx=True, ex=LEASE_SECONDS):
            if time.monotonic() > end:
                raise StackError(
                    f"Redis db {self.broker_db} is held by another Celery test run "
                    f"(key {LEASE_KEY}, {client.ttl(LEASE_KEY)} s left)"
                )
            time.sleep(2.0)
        self._leased = True
        # Leftovers of a run that was killed: everything but our lease.
        stale = [k for k in client.scan_iter(count=500) if k != LEASE_KEY.encode()]
        if stale:
            client.delete(*stale)

    def _release_lease(self) -> None:
        if not self._leased:
            return
        client = self._redis()
        if client.get(LEASE_KEY) == self._lease_token.encode():
            client.flushdb()  # this database only
        self._leased = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 150.0) -> CeleryStack:
        deadline = time.monotonic() + timeout
        try:
            self._take_lease()
        except BaseException:
            self._release_lease()
            raise
        super().start(timeout)  # on failure it stops itself; stop() releases the lease
        try:
            self._spawn(
                (
                    "celery",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--celery-hostname",
                    self.worker_name,
                    "--skip-serve-logs",
                    "--without-gossip",
                    "--without-mingle",
                )
            )
            self._wait(self._worker_ready, "the Celery worker to be ready", deadline)
        except Exception as exc:
            report = self.log_tails()
            self.stop()
            raise StackError(f"Celery worker did not start: {exc}\n{report}") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def _worker_ready(self) -> bool:
        log = self.log_dir / "celery.log"
        return log.exists() and " ready." in log.read_text(errors="replace")

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            with contextlib.suppress(Exception):
                self._release_lease()

    # ------------------------------------------------------------------ inspection

    def celery_results(self) -> dict[str, int]:
        """Task states the Celery result backend recorded: the tasks the worker executed."""
        import psycopg

        dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={self.db_name}"
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute("SELECT status, count(*) FROM celery_taskmeta GROUP BY status")
            return {str(status): int(n) for status, n in rows.fetchall()}
