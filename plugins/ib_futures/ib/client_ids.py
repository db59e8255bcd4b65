"""Client ids that cannot collide.

IB refuses a second API connection with a client id that is already connected (error 326),
and ib_async only notices after its connect timeout. Two tasks running at once (two DAG runs,
a retry overlapping a run, several workers) must therefore never pick the same id:

* On one host, an id is *leased* by holding an exclusive ``fcntl`` lock on a file named after
  the gateway and the id. The kernel drops the lock when the process exits, so a killed task
  never leaves a stale lease behind.
* Across hosts (several Celery workers), give each worker its own ``client_id_range`` (the
  ``ibkr`` connection extra, or the hook argument); if an id is nevertheless in use elsewhere,
  the connection sees 326 at once (see ``ib.gateway``) and leases the next free id.

The search starts at a random offset in the range so concurrent processes spread out.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class NoClientIdAvailable(RuntimeError):
    """Every client id in the configured range is leased by another task on this host."""


def default_lease_dir() -> Path:
    """``$IB_FUTURES_LEASE_DIR`` or a per-user folder under the system temp dir."""
    env = os.environ.get("IB_FUTURES_LEASE_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"ib-futures-client-ids-{os.getuid()}"


@dataclass
class ClientIdLease:
    """An exclusively held client id; release it (or exit the process) to free it."""

    client_id: int
    path: Path
    _handle: IO[str] | None

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _lock_path(lease_dir: Path, gateway: str, client_id: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", gateway)
    return lease_dir / f"{safe}-{client_id}.lock"


def try_lease(gateway: str, client_id: int, lease_dir: Path | None = None) -> ClientIdLease | None:
    """Lease ``client_id`` for ``gateway`` (``host:port``) if no other process holds it."""
    lease_dir = lease_dir or default_lease_dir()
    lease_dir.mkdir(parents=True, exist_ok=True)
    path = _lock_path(lease_dir, gateway, client_id)
    handle = open(path, "a+")  # noqa: SIM115 - held open for the lease's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return ClientIdLease(client_id, path, handle)


def candidate_ids(id_range: tuple[int, int], rng: random.Random | None = None) -> Iterator[int]:
    """Every id of the inclusive range once, starting at a random offset."""
    lo, hi = id_range
    size = hi - lo + 1
    start = (rng or random.SystemRandom()).randrange(size)
    for i in range(size):
        yield lo + (start + i) % size


def lease_client_id(
    gateway: str,
    id_range: tuple[int, int],
    *,
    exclude: set[int] | frozenset[int] = frozenset(),
    lease_dir: Path | None = None,
    rng: random.Random | None = None,
) -> ClientIdLease:
    """Lease the first free id of ``id_range`` (skipping ``exclude``, e.g. ids refused by 326)."""
    for cid in candidate_ids(id_range, rng):
        if cid in exclude:
            continue
        lease = try_lease(gateway, cid, lease_dir)
        if lease is not None:
            return lease
    raise NoClientIdAvailable(
        f"no free IB client id in range {id_range[0]}-{id_range[1]} for {gateway}: "
        f"{len(exclude)} refused by the gateway (326), the rest leased by other tasks on this host"
    )
