"""``FreshnessCheckOperator``: alert when the newest stored slot is older than expected.

A thin shell over :func:`ib_futures.lake.freshness.check_lake` (the verdict itself is the
pure :func:`ib_futures.core.freshness.assess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ib_futures.airflow.operators.base import LakeBaseOperator, lake_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context


class StaleDataError(RuntimeError):
    """More slots were missed than ``alerts.freshness_max_missed_slots`` allows."""


class FreshnessCheckOperator(LakeBaseOperator):
    """Check the lake's newest slot per instrument against the session calendar.

    The check is made as of the run's slot (so a re-run of an old run judges the same
    moment). When data is stale it sends an alert through
    :func:`ib_futures.airflow.callbacks.send_alert` (log, journal, notifier) and fails the
    task, so the problem is visible in the UI as well. The lake arguments are
    :class:`~ib_futures.airflow.operators.base.LakeBaseOperator`'s.

    :param notifier: ``none``, ``smtp`` or ``slack`` (default: ``alerts.notifier.kind``);
        ``conn_id``, ``to`` and ``channel`` as for the deadline callback (default: the
        config's ``alerts.notifier``).
    :return: the freshness report (a dict) pushed to XCom.
    """

    template_fields: Sequence[str] = lake_template_fields()

    def __init__(self, *, notifier: str | None = None, conn_id: str | None = None,
                 to: Sequence[str] | str | None = None, channel: str | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.notifier, self.conn_id, self.to, self.channel = notifier, conn_id, to, channel

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.airflow.callbacks import notify_settings, send_alert
        from ib_futures.airflow.context import slot_from_context
        from ib_futures.lake.freshness import check_lake

        at = slot_from_context(context)
        report = check_lake(self.config, at, self.lake.uri, self.lake.storage_options)
        self.log.info("freshness at %s: %s", at.isoformat(), report.summary())
        if not report.ok:
            settings = notify_settings(
                self.config, self.notifier, self.conn_id, self.to, self.channel
            )
            send_alert("futures data is stale", report.as_dict(), **settings)
            raise StaleDataError(report.summary())
        return report.as_dict()
