"""The ``futures_backfill`` and ``futures_gap_repair`` tasks: thin shells over
:mod:`ib_futures.backfill` (the same code the soak harness and the demo call directly).

* :class:`BackfillPlanOperator` (``plan``): validates the parameters against the gateway's
  clock (the gateway is asked for its time only), plans the request groups and returns them
  in batches, one batch per mapped ``fetch`` task; the plan's summary goes to XCom ``plan``.
  ``dry_run``: logs the groups and the pacing time and returns no batch (no fetch runs).
* :class:`BackfillFetchOperator` (``fetch``, mapped): fetches one batch through the shared
  pacer and merges it. It runs in the ``ib_gateway`` pool at the lowest priority, and a batch
  is ``backfill.groups_per_task`` groups (default one: two requests), and a fetch task starts
  them only while IB's ten-minute window has room for them (otherwise it defers for
  :data:`WINDOW_RECHECK`, which gives the pool slot back), so it holds the slot for those
  requests' short pacing gaps only; ``collect`` outranks it for the next free slot.
* :class:`BackfillSummaryOperator` (``summary``): what is left of the range, from the lake
  (missing, known unfillable by reason), plus what the fetch tasks reported; pushed to XCom,
  logged, and with ``notify=True`` (the gap repair) sent through the configured notifier
  when anything stays missing or unfillable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ib_futures.airflow.operators.base import LakeBaseOperator, as_bool, lake_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.airflow.hooks.ib import IBHook


#: how long a fetch task waits, deferred and off the pool, before looking at the window again
WINDOW_RECHECK = timedelta(seconds=60)


class _GatewayMixin(LakeBaseOperator):
    def __init__(self, *, ib_conn_id: str = "ib_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ib_conn_id = ib_conn_id

    @cached_property
    def ib_hook(self) -> IBHook:
        from ib_futures.airflow.hooks.ib import IBHook

        # a week of 5-minute bars takes IB longer than a quote: a longer default timeout
        return IBHook(self.ib_conn_id, defaults={"request_timeout": 60.0})


class BackfillPlanOperator(_GatewayMixin):
    """Plan a backfill of ``[start, end)`` (ISO-8601; ``start=None``: the last
    ``repair.lookback_days``; ``end=None``: now) for ``instruments`` (default: the collected
    ones). Bad input fails the task before any historical request, naming the parameter.

    :return: the batches of request groups (JSON), one per ``fetch`` task; none on a dry run
    """

    template_fields: Sequence[str] = lake_template_fields(
        "start", "end", "instruments", "dry_run_flag", "ib_conn_id"
    )

    def __init__(self, *, start: str | None = None, end: str | None = None,
                 instruments: list[str] | str | None = None, dry_run: Any = False,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        # BaseOperator already has a dry_run() method: the flag lives under another name
        self.start, self.end, self.instruments = start, end, instruments
        self.dry_run_flag = dry_run

    def execute(self, context: Context) -> list[list[dict[str, Any]]]:
        from ib_futures.airflow.pacing import history_pacer
        from ib_futures.backfill import describe, plan_for

        cfg, lake = self.config, self.lake
        start, end = self.start or None, self.end or None
        limits = history_pacer(cfg).limits
        summary, plan = self.ib_hook.run(lambda gw: plan_for(
            cfg, gw, lake.uri, lake.storage_options, start, end, self.instruments or None, limits
        ))  # fmt: skip
        dry = as_bool(self.dry_run_flag, "dry_run")
        summary["dry_run"] = dry
        context["ti"].xcom_push(key="plan", value=summary)
        for g in plan.groups:
            self.log.info("%s %s", "would request" if dry else "to request", describe(g))
        if dry:
            self.log.info("dry run: %s; nothing requested", summary["plan"])
            return []
        size = cfg.backfill.groups_per_task
        dicts = [g.to_dict() for g in plan.groups]
        left = plan.requests
        for d, g in zip(dicts, plan.groups, strict=True):
            left -= g.requests
            d["run_requests_left"] = left  # for the fetch task's progress line
        return [dicts[i : i + size] for i in range(0, len(dicts), size)]


class BackfillFetchOperator(_GatewayMixin):
    """Fetch and store one batch of request groups (``groups``: JSON, mapped).

    :return: the batch's counts (requests, slots filled, rows inserted, unfillable, failed)
    """

    template_fields: Sequence[str] = lake_template_fields("groups", "ib_conn_id")

    def __init__(self, *, groups: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups

    def execute(self, context: Context, event: Any = None) -> dict[str, Any]:
        from ib_futures.airflow.operators.base import task_source
        from ib_futures.airflow.pacing import history_pacer
        from ib_futures.backfill import fill_groups
        from ib_futures.core.backfill import RequestGroup, pacing_seconds, window_has_room

        cfg, lake, source = self.config, self.lake, task_source(context)
        groups = [RequestGroup.from_dict(g) for g in self.groups]
        pacer = history_pacer(cfg)
        booked, needed = pacer.booked(), sum(g.requests for g in groups)
        if not window_has_room(booked, needed, pacer.limits):
            self._give_way(booked, needed, pacer.limits.max_requests)
        result = self.ib_hook.run(lambda gw: fill_groups(
            cfg, gw, groups, lake_uri=lake.uri, storage_options=lake.storage_options,
            pacer=pacer, source=source,
        ))  # fmt: skip
        self.log.info("batch done: %s", result)
        if self.groups:
            left = int(self.groups[-1].get("run_requests_left", 0))
            self.log.info(
                "run progress: %d historical requests left after this batch, about %.0fs by "
                "the pacing budget", left, pacing_seconds(left, pacer.limits),
            )  # fmt: skip
        return result

    def _give_way(self, booked: int, needed: int, max_requests: int) -> None:
        """Defer (off the ``ib_gateway`` pool) while IB's window is full; ``execute`` again."""
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.log.info(
            "IB's ten-minute window is full (%d of %d booked, this batch needs %d): giving the "
            "ib_gateway pool slot back for %ds", booked, max_requests, needed,
            WINDOW_RECHECK.total_seconds(),
        )  # fmt: skip
        self.defer(trigger=TimeDeltaTrigger(WINDOW_RECHECK), method_name="execute")


class BackfillSummaryOperator(LakeBaseOperator):
    """Summarise the range the ``plan`` task planned; alert (``notify``) when slots stay
    missing or unfillable. The lake arguments are :class:`LakeBaseOperator`'s.

    :return: the summary (XCom)
    """

    template_fields: Sequence[str] = lake_template_fields()

    def __init__(self, *, plan_task_id: str = "plan", fetch_task_id: str = "fetch",
                 notify: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.plan_task_id, self.fetch_task_id, self.notify = plan_task_id, fetch_task_id, notify

    def execute(self, context: Context) -> dict[str, Any]:
        from datetime import datetime

        from ib_futures.airflow.callbacks import notify_settings, send_alert
        from ib_futures.backfill import remaining

        ti = context["ti"]
        planned = ti.xcom_pull(task_ids=self.plan_task_id, key="plan")
        if not planned:
            raise RuntimeError(f"no plan in XCom of task {self.plan_task_id!r}")
        lo, hi = datetime.fromisoformat(planned["start"]), datetime.fromisoformat(planned["end"])
        summary = {**planned, **_fetched(ti, self.plan_task_id, self.fetch_task_id)}
        summary.update(remaining(self.config, self.lake.uri, lo, hi, planned["symbols"],
                                 self.lake.storage_options))  # fmt: skip
        self.log.info("summary: %s", summary)
        left = summary["still_missing"] + summary["known_unfillable"]
        if self.notify and left and not planned.get("dry_run"):
            send_alert(f"gap repair: {left} slots stay missing", summary,
                       **notify_settings(self.config))  # fmt: skip
        return summary


def _fetched(ti: Any, plan_task_id: str, task_id: str) -> dict[str, Any]:
    """The fetch tasks' counts added up (a fetch task that did not finish counts nothing)."""
    batches = ti.xcom_pull(task_ids=plan_task_id, key="return_value") or []
    parts: list[dict[str, Any]] = []
    for index in range(len(batches)):
        try:
            pulled = ti.xcom_pull(task_ids=task_id, map_indexes=index)
        except Exception:  # that fetch task failed: no result
            pulled = None
        if isinstance(pulled, dict):
            parts.append(pulled)
    keys = ("historical_requests", "slots_filled", "rows_inserted", "slots_unfillable",
            "slots_failed")  # fmt: skip
    counts = {k: sum(int(p.get(k, 0)) for p in parts) for k in keys}
    return counts | {"fetch_tasks": len(batches), "fetch_tasks_done": len(parts)}


#: fetch tasks rank below ``collect`` (priority 100, absolute) in the ``ib_gateway`` pool
FETCH_PRIORITY = 1


def backfill_tasks(*, notify: bool = False, **plan_kwargs: Any) -> tuple[Any, Any, Any]:
    """``plan >> fetch (mapped over plan's batches) >> summary``, inside the current DAG: the
    task layout both ``futures_backfill`` and ``futures_gap_repair`` use. ``plan_kwargs`` go
    to :class:`BackfillPlanOperator` (the backfill's templated Params); ``notify`` to the
    summary (the repair alerts when slots stay missing)."""
    from airflow.sdk import TriggerRule

    plan = BackfillPlanOperator(
        task_id="plan", retries=0, execution_timeout=timedelta(minutes=5), **plan_kwargs
    )
    fetch = BackfillFetchOperator.partial(
        task_id="fetch",
        pool="ib_gateway",
        priority_weight=FETCH_PRIORITY,
        weight_rule="absolute",
        execution_timeout=timedelta(minutes=15),
        max_active_tis_per_dag=1,
    ).expand(groups=plan.output)
    summary = BackfillSummaryOperator(
        task_id="summary",
        notify=notify,
        trigger_rule=TriggerRule.ALL_DONE,
        retries=0,
        execution_timeout=timedelta(minutes=5),
    )
    plan >> fetch >> summary
    return plan, fetch, summary
