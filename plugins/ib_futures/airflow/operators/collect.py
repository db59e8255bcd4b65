"""``IBFuturesOperator``: one collection cycle for the run's slot -> ``ib.collector.collect_slot``.

The operator works out the slot (from the run, never the wall clock) and the instruments
whose market is open in it (``core.session.decide``, the decision the branch made), opens the
gateway through :class:`~ib_futures.airflow.hooks.ib.IBHook`, and hands XCom the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ib_futures.airflow.operators.base import LakeBaseOperator, lake_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.airflow.hooks.ib import IBHook


class IncompleteCollectionError(RuntimeError):
    """Some instruments could not be collected; the good snapshots were still pushed to XCom."""


class IBFuturesOperator(LakeBaseOperator):
    """Collect snapshots of futures and ETFs from an IB Gateway for the run's slot.

    The slot (``bucket_ts``) is the run's data interval end in UTC; a manual or REST run
    without a logical date uses its ``run_after`` floored to the slot. A retry or a re-run of
    the same slot therefore produces the same keys, and the merge downstream inserts nothing
    twice. Stored snapshots in the lake (see :class:`LakeBaseOperator` for its arguments) feed
    the change metrics.

    **When some instruments fail** (no quote, stale quote, IB error, timeout): the good
    snapshots are pushed to XCom (``return_value``) and the task then fails with
    :class:`IncompleteCollectionError`, naming each failed instrument and why. Airflow's
    retries re-collect the whole slot idempotently; after the last try the DAG's ``write``
    task (``trigger_rule="none_skipped"``: it runs after a failed ``collect``) still stores the
    good rows, and the run is marked failed so the gap is visible. Set ``allow_partial=True``
    to succeed with a warning instead.

    :param instruments: symbols to collect, e.g. ``["ES", "SPY"]`` (templated); default: the
        config's ``collection.instruments``. Unknown symbols fail the task before connecting.
    :param ib_conn_id: the ``ibkr`` connection (templated).
    :param only_open_markets: leave out instruments whose market is closed in the slot (ETFs
        outside their hours); they are logged, not failed.
    :param allow_partial: succeed when some instruments fail (they are still logged).
    :return: a list of snapshot records (JSON dicts, keys as in docs/storage.md), one per
        collected instrument, pushed to XCom.
    """

    template_fields: Sequence[str] = lake_template_fields("instruments", "ib_conn_id")
    ui_color = "#d9ecf2"

    def __init__(self, *, instruments: list[str] | str | None = None, ib_conn_id: str = "ib_default",
                 only_open_markets: bool = True, allow_partial: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.instruments, self.ib_conn_id = instruments, ib_conn_id
        self.only_open_markets, self.allow_partial = only_open_markets, allow_partial

    @cached_property
    def ib_hook(self) -> IBHook:
        from ib_futures.airflow.hooks.ib import IBHook

        collection = self.config.collection
        return IBHook(
            self.ib_conn_id,
            defaults={
                "market_data_type": collection.market_data_type,
                "delayed_fallback": collection.delayed_fallback,
                "snapshot_timeout": collection.snapshot_timeout_seconds,
            },
        )

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from ib_futures.airflow.context import slot_from_context
        from ib_futures.airflow.pacing import history_pacer
        from ib_futures.core.instruments import select_instruments
        from ib_futures.core.session import decide
        from ib_futures.ib.collector import collect_slot
        from ib_futures.lake.readers import stored_price_source

        cfg, slot = self.config, slot_from_context(context)
        wanted = [i.symbol for i in select_instruments(cfg, self.instruments)]
        decision = decide(slot, cfg, wanted)
        symbols = list(decision.open_instruments) if self.only_open_markets else wanted
        self.log.info("slot %s: %s; collecting %s", slot.isoformat(), decision.reason, symbols)
        if not symbols:
            return []
        history = stored_price_source(self.lake.uri, self.lake.storage_options)
        pacer = history_pacer(cfg)  # one ledger for every task process (history_pacing)
        result = self.ib_hook.run(lambda gw: collect_slot(gw, cfg, slot, symbols, history, pacer))
        records = result.records()
        failed = result.failure_summary(slot)
        if failed and not self.allow_partial:
            context["ti"].xcom_push(key="return_value", value=records)
            raise IncompleteCollectionError(f"{failed} were pushed to XCom")
        return records
