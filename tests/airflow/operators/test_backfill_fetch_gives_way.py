"""A backfill fetch task never sits on the ``ib_gateway`` pool slot waiting for IB's ten-minute
window: when the shared ledger has no room for its requests it defers (a deferred task holds
no pool slot), so the next live ``collect`` gets the slot; with room, it fetches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred

import ib_futures.airflow.pacing as pacing_adapter
from ib_futures.airflow.operators.backfill import WINDOW_RECHECK, BackfillFetchOperator
from ib_futures.core.backfill import RequestGroup, window_has_room
from ib_futures.core.pacing import HistoricalPacer, PacingLimits, RequestKey

SLOT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET


def test_window_room_counts_what_is_booked_and_what_the_batch_needs():
    limits = PacingLimits()
    assert window_has_room(58, 2, limits)
    assert not window_has_room(59, 2, limits)
    assert not window_has_room(0, 61, limits)


def _pacer_with(bookings: int) -> HistoricalPacer:
    pacer = HistoricalPacer(limits=PacingLimits(min_gap_s=0.0, identical_gap_s=0.0))
    for i in range(bookings):
        pacer.reserve(RequestKey(con_id=i, exchange="CME", what_to_show="TRADES", end=str(i)))
    return pacer


def test_a_full_window_defers_the_task_off_the_pool(tmp_path, monkeypatch):
    group = RequestGroup("ES", "FUT", "ESZ6", tuple(SLOT + timedelta(minutes=5 * k)
                                                    for k in range(3)))  # fmt: skip
    pacer = _pacer_with(59)
    monkeypatch.setattr(pacing_adapter, "history_pacer", lambda cfg: pacer)
    op = BackfillFetchOperator(task_id="fetch", groups=[group.to_dict()],
                               lake_uri=str(tmp_path / "lake"))  # fmt: skip
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})  # type: ignore[arg-type]
    assert deferred.value.method_name == "execute"
    moment = deferred.value.trigger.moment
    assert timedelta(0) < moment - datetime.now(UTC) <= WINDOW_RECHECK
    assert pacer.booked() == 59  # nothing was booked, nothing requested
