"""``FreshnessCheckOperator``: alert when the newest stored slot is older than expected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class StaleDataError(RuntimeError):
    """More slots were missed than ``alerts.freshness_max_missed_slots`` allows."""


class FreshnessCheckOperator(BaseOperator):
    """Check the lake's newest slot per instrument against the session calendar.

    The check is ``ib_futures.freshness.check_lake`` as of the run's data interval end (so a
    re-run of an old run judges the same moment). When data is stale it sends an alert through
    ``ib_futures.callbacks.send_alert`` (log, journal, notifier) and fails the task, so the
    problem is visible in the UI as well.

    :param lake_uri: lake root (templated); default: ``IB_FUTURES_LAKE_URI`` or the config.
    :param notifier: ``none``, ``smtp`` or ``slack``; ``conn_id``, ``to`` and ``channel`` as
        for the deadline callback.
    :param config_path: path of ``futures_config.yaml``.
    :return: the freshness report (a dict) pushed to XCom.
    """

    template_fields: Sequence[str] = ("lake_uri",)

    def __init__(
        self,
        *,
        lake_uri: str | None = None,
        notifier: str | None = None,
        conn_id: str | None = None,
        to: Sequence[str] | str | None = None,
        channel: str | None = None,
        config_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_uri = lake_uri
        self.notifier = notifier
        self.conn_id = conn_id
        self.to = to
        self.channel = channel
        self.config_path = config_path

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.airflow_support import slot_from_context
        from ib_futures.callbacks import send_alert
        from ib_futures.core.config import load_config
        from ib_futures.freshness import check_lake

        cfg = load_config(self.config_path)
        at = slot_from_context(context, cfg.collection.interval_minutes)
        report = check_lake(cfg, at, lake_uri=self.lake_uri)
        result = report.as_dict()
        self.log.info("freshness at %s: %s", at.isoformat(), report.summary())
        if not report.ok:
            to = self.to if isinstance(self.to, str) or self.to is None else ",".join(self.to)
            send_alert(
                "futures data is stale",
                result,
                notifier=self.notifier,
                conn_id=self.conn_id,
                to=to,
                channel=self.channel,
            )
            raise StaleDataError(report.summary())
        return result
