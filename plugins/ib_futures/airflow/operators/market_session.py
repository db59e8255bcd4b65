"""``MarketSessionBranchOperator``: collect or skip the run's slot.

The decision is :func:`ib_futures.core.session.decide`, a pure function of the slot; this
operator only works out the slot from the run (data interval end, or ``run_after`` for a run
without a logical date; never the wall clock, like ``BranchDateTimeOperator`` with
``use_task_logical_date=True``), logs the reason and branches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.core.config import FuturesConfig
    from ib_futures.core.session import SessionDecision

DECISION_XCOM_KEY = "session_decision"


def _ids(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class MarketSessionBranchOperator(BaseBranchOperator):
    """Follow ``collect_task_ids`` when a configured market is open at the run's slot, else
    ``skip_task_ids`` (the tasks not followed are skipped; a closed market is never a failure).

    The slot is the run's data interval end in UTC floored to the five-minute slot;
    a manual or REST run without a logical date uses ``dag_run.run_after``. A retry or a
    backfill of the same run therefore decides exactly as the live run did.

    Besides the branch (``return_value``), the decision is pushed to XCom under the key
    ``session_decision``: ``{"slot", "collect", "reason", "open_markets": {"FUT": bool,
    "ETF": bool}, "open_instruments": [...], "market_reasons": {...}}``, so the collector can
    collect only the instruments whose market is open.

    :param collect_task_ids: task id(s) to follow when at least one instrument's market is
        open (templated).
    :param skip_task_ids: task id(s) to follow otherwise (templated); may be empty, then every
        downstream task is skipped.
    :param instruments: symbols the decision is about (templated); default: the config's
        ``collection.instruments``.
    :param config: a :class:`~ib_futures.core.config.FuturesConfig` to use as is.
    :param config_path: path of ``futures_config.yaml`` (templated); default lookup as in
        :func:`~ib_futures.core.config.load_config`. Ignored when ``config`` is given.
    :return: the task ids followed, pushed to XCom.
    """

    template_fields: Sequence[str] = (
        "collect_task_ids",
        "skip_task_ids",
        "instruments",
        "config_path",
    )
    ui_color = "#f6e6c2"

    def __init__(self, *, collect_task_ids: str | Iterable[str],
                 skip_task_ids: str | Iterable[str] = (),
                 instruments: str | Iterable[str] | None = None,
                 config: FuturesConfig | None = None, config_path: str | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.collect_task_ids, self.skip_task_ids = collect_task_ids, skip_task_ids
        self.instruments, self.config, self.config_path = instruments, config, config_path

    def _config(self) -> FuturesConfig:
        if self.config is not None:
            return self.config
        from ib_futures.core.config import load_config

        return load_config(self.config_path)

    def decide(self, context: Context) -> SessionDecision:
        """The session decision for this run's slot (no side effects)."""
        from ib_futures.airflow.context import slot_from_context
        from ib_futures.core.instruments import select_instruments
        from ib_futures.core.session import decide

        cfg = self._config()
        slot = slot_from_context(context)
        symbols = [i.symbol for i in select_instruments(cfg, self.instruments)]
        return decide(slot, cfg, symbols)

    def choose_branch(self, context: Context) -> list[str]:
        decision = self.decide(context)
        self.log.info("slot %s: %s", decision.slot.isoformat(), decision.reason)
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=decision.to_xcom())
        return _ids(self.collect_task_ids if decision.collect else self.skip_task_ids)
