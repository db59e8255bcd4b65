"""``IBFuturesOperator``: one collection cycle for the run's five-minute slot.

The work is done by ``ib_futures.ib.collector.run_cycle``; this operator only works out the
slot (from the run, never the wall clock), the instruments whose market is open in that slot,
and where stored history lives, then hands XCom the snapshot records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.core.config import FuturesConfig


class IncompleteCollectionError(RuntimeError):
    """Some instruments could not be collected; the good snapshots were still pushed to XCom."""


class IBFuturesOperator(BaseOperator):
    """Collect snapshots of futures and ETFs from an IB Gateway for the run's slot.

    The slot (``bucket_ts``) is the run's data interval end in UTC; a manual or REST run
    without a logical date uses its ``run_after`` floored to the collection interval. A retry
    or a re-run of the same slot therefore produces the same keys, and the Delta merge
    downstream inserts nothing twice.

    **When some instruments fail** (no quote, stale quote, IB error, timeout): the good
    snapshots are pushed to XCom (``return_value``) and the task then fails with
    :class:`IncompleteCollectionError`, naming each failed instrument and why. Airflow's
    retries re-collect the whole slot idempotently; after the last try the DAG's write tasks
    (``trigger_rule="all_done"``) still store the good rows, and the run is marked failed so
    the gap is visible. Set ``allow_partial=True`` to succeed with a warning instead.

    :param instruments: symbols to collect, e.g. ``["ES", "SPY"]`` (templated); default: the
        config's ``collection.instruments``. Unknown symbols fail the task before connecting.
    :param ib_conn_id: the ``ibkr`` connection (templated).
    :param lake_uri: where stored snapshots are read for change metrics (templated); default:
        ``IB_FUTURES_LAKE_URI`` or the config's ``storage.lake_uri``.
    :param config_path: path of ``futures_config.yaml``; default lookup as in ``load_config``.
    :param only_open_markets: leave out instruments whose market is closed in the slot (ETFs
        outside their hours); they are logged, not failed.
    :param allow_partial: succeed when some instruments fail (they are still logged).
    :return: a list of snapshot records (JSON dicts, keys as in docs/architecture.md), one per
        collected instrument, pushed to XCom.
    """

    template_fields: Sequence[str] = ("instruments", "ib_conn_id", "lake_uri")
    ui_color = "#d9ecf2"

    def __init__(
        self,
        *,
        instruments: list[str] | str | None = None,
        ib_conn_id: str = "ib_default",
        lake_uri: str | None = None,
        config_path: str | None = None,
        only_open_markets: bool = True,
        allow_partial: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.instruments = instruments
        self.ib_conn_id = ib_conn_id
        self.lake_uri = lake_uri
        self.config_path = config_path
        self.only_open_markets = only_open_markets
        self.allow_partial = allow_partial

    def _config(self) -> FuturesConfig:
        from ib_futures.core.config import load_config

        return load_config(self.config_path)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from ib_futures.airflow_support import slot_from_context
        from ib_futures.core import session as market_session
        from ib_futures.core.instruments import select_instruments
        from ib_futures.hooks.ib import IBHook
        from ib_futures.ib.collector import run_cycle

        cfg = self._config()
        slot = slot_from_context(context, cfg.collection.interval_minutes)
        wanted = select_instruments(cfg, self.instruments)
        if self.only_open_markets:
            open_now = [i for i in wanted if market_session.is_open(slot, i.asset_class, cfg)]
            closed = sorted({i.symbol for i in wanted} - {i.symbol for i in open_now})
            if closed:
                self.log.info("slot %s: market closed for %s; not collected", slot, closed)
            wanted = open_now
        if not wanted:
            self.log.info("slot %s: no instrument has an open market; nothing to collect", slot)
            return []

        lake_uri = self.lake_uri or cfg.lake_uri()
        self.log.info(
            "collecting %s for slot %s from connection %s",
            [i.symbol for i in wanted],
            slot.isoformat(),
            self.ib_conn_id,
        )
        hook = IBHook(
            self.ib_conn_id,
            defaults={
                "market_data_type": cfg.collection.market_data_type,
                "delayed_fallback": cfg.collection.delayed_fallback,
                "snapshot_timeout": cfg.collection.snapshot_timeout_seconds,
            },
        )
        result = hook.run(
            lambda session: run_cycle(
                session,
                wanted,
                slot,
                roll=cfg.roll_rule(),
                trade_date=market_session.trade_date(slot, "FUT", cfg),
                history_source=_lake_history(lake_uri, cfg.storage.storage_options or None),
                history_fallback=cfg.collection.history_fallback,
                cfg=cfg,
            )
        )
        records = [s.to_record() for s in result.collection.snapshots]
        for rec in records:
            self.log.info(
                "%s %s bid=%s ask=%s last=%s type=%s changes(1h=%s, 4h=%s, on=%s, d=%s; %s)",
                rec["symbol"],
                rec["local_symbol"],
                rec["bid"],
                rec["ask"],
                rec["last"],
                rec["market_data_type"],
                rec["change_1h"],
                rec["change_4h"],
                rec["change_overnight"],
                rec["change_daily"],
                rec["change_source"],
            )
        self.log.info("historical requests this cycle: %d", result.stats.historical_requests)
        failures = result.collection.failures
        if failures:
            for symbol, reason in sorted(failures.items()):
                self.log.error(
                    "not collected: %s", reason if symbol in reason else f"{symbol}: {reason}"
                )
            if not self.allow_partial:
                context["ti"].xcom_push(key="return_value", value=records)
                raise IncompleteCollectionError(
                    f"slot {slot.isoformat()}: {len(failures)} of {len(wanted)} instruments not "
                    f"collected ({', '.join(sorted(failures))}); {len(records)} good snapshots "
                    "were pushed to XCom"
                )
        return records


def _lake_history(lake_uri: str, storage_options: dict[str, str] | None) -> Any:
    """A history source reading stored snapshots (prices by slot) from the lake."""

    def source(symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, Any]:
        from ib_futures.lake.readers import price_history
        from ib_futures.lake.storage import storage_options_from_env

        options = {**(storage_options_from_env(lake_uri) or {}), **(storage_options or {})}
        return price_history(lake_uri, list(symbols), since, until, options or None)

    return source
