"""The one retry policy for Delta commits that lose a race to a concurrent writer.

Delta's optimistic concurrency makes the loser of two simultaneous commits fail with
``CommitFailedError`` (delta-rs raises it for a version conflict and for a conflicting app
transaction, see ``writer.py``). Every writer of this package (snapshot merges, table creation
and evolution, maintenance, analysis results) retries such a commit the same way: re-read the
table state and try again after a jittered exponential wait, so writers that collided do not
collide again in lock step. Any other error is raised at once.
"""

from __future__ import annotations

import logging

from deltalake.exceptions import CommitFailedError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

#: attempts per commit, first try included
DEFAULT_ATTEMPTS = 8
#: waits grow from ~50 ms and are capped at 2 s: a 5-minute collection must not stall on them
_WAIT = wait_random_exponential(multiplier=0.05, max=2.0)


def commit_retrying(what: str, max_attempts: int = DEFAULT_ATTEMPTS) -> Retrying:
    """A ``tenacity.Retrying`` for one Delta commit; ``what`` names it in the log.

    Use as ``for attempt in commit_retrying("futures_snapshots"): with attempt: ...``; the
    body must re-read the table state (``update_incremental``) before it plans the commit.
    """
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts={max_attempts!r}: expected an integer >= 1")

    def before_sleep(state: RetryCallState) -> None:
        log.info("%s: commit conflict (attempt %d), retrying", what, state.attempt_number)

    return Retrying(
        retry=retry_if_exception_type(CommitFailedError),
        stop=stop_after_attempt(max_attempts),
        wait=_WAIT,
        reraise=True,
        before_sleep=before_sleep,
    )
