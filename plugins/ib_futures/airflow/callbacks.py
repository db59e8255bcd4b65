"""Missed-collection alerts: the Deadline Alert callback and the alert sink.

Airflow 3 removed SLAs; a ``DeadlineAlert`` on each ``futures_collection`` run fires when the
run has not finished a few minutes after it was queued. Its callback must be a top-level
coroutine in an importable module (not a DAG file): the triggerer imports it by dotted path
(``AsyncCallback``) and calls it with the alert's kwargs plus ``context={"dag_run": ...,
"deadline": ...}``.

Every alert is logged and, when configured, appended as one JSON line to an alert journal
(``journal`` kwarg or ``IB_FUTURES_ALERT_JOURNAL``) and sent through an Airflow notifier
(``smtp`` via the SMTP provider, or ``slack`` via the Slack provider, each with its own
Airflow connection). The freshness check (``FreshnessCheckOperator``) sends through the same
sink.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

log = logging.getLogger("ib_futures.alerts")


def _notifier(
    kind: str, conn_id: str | None, to: str | None, channel: str | None, subject: str, body: str
) -> Any:
    if kind == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        if not to:
            raise ValueError("alerts.notifier.to: an e-mail address is required for smtp")
        return SmtpNotifier(
            to=to,
            smtp_conn_id=conn_id or "smtp_default",
            subject=subject,
            html_content=f"<pre>{body}</pre>",
        )
    if kind == "slack":
        try:
            from airflow.providers.slack.notifications.slack import SlackNotifier
        except ImportError as exc:  # pragma: no cover - optional provider
            raise ValueError(
                "alerts.notifier.kind 'slack' needs apache-airflow-providers-slack installed"
            ) from exc
        return SlackNotifier(
            slack_conn_id=conn_id or "slack_api_default",
            channel=channel or "#alerts",
            text=f"{subject}\n{body}",
        )
    raise ValueError(f"alerts.notifier.kind: expected none, smtp or slack, got {kind!r}")


def notify_settings(
    cfg: FuturesConfig,
    notifier: str | None = None,
    conn_id: str | None = None,
    to: Sequence[str] | str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """:func:`send_alert`'s notifier arguments: those given, else the config's
    ``alerts.notifier`` (``to`` as one comma-separated string)."""
    configured = cfg.alerts.notifier
    recipients = to if to is not None else list(configured.to)
    if not isinstance(recipients, str):
        recipients = ",".join(recipients)
    return {
        "notifier": notifier or configured.kind,
        "conn_id": conn_id or configured.conn_id,
        "to": recipients or None,
        "channel": channel or configured.channel,
    }


def send_alert(
    subject: str,
    details: Mapping[str, Any],
    *,
    notifier: str | None = None,
    conn_id: str | None = None,
    to: str | None = None,
    channel: str | None = None,
    journal: str | None = None,
) -> dict[str, Any]:
    """Log an alert, journal it, and notify; returns the alert record. Never raises on notify."""
    record = {"at": datetime.now(UTC).isoformat(), "subject": subject, **dict(details)}
    log.error("ALERT %s: %s", subject, json.dumps(dict(details), default=str, sort_keys=True))
    journal = journal or os.environ.get("IB_FUTURES_ALERT_JOURNAL")
    if journal:
        path = Path(journal)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str, sort_keys=True) + "\n")
    if notifier and notifier != "none":
        body = json.dumps(dict(details), default=str, indent=2, sort_keys=True)
        try:
            _notifier(notifier, conn_id, to, channel, subject, body).notify(dict(details))
            record["notified"] = notifier
        except Exception as exc:  # an alert path must not hide the alert itself
            log.exception("could not send the %s notification for %r: %s", notifier, subject, exc)
            record["notify_error"] = repr(exc)
    return record


async def missed_collection_alert(
    context: Mapping[str, Any] | None = None,
    *,
    notifier: str | None = None,
    conn_id: str | None = None,
    to: str | None = None,
    channel: str | None = None,
    journal: str | None = None,
) -> str:
    """Deadline Alert callback (runs in the triggerer): a collection run missed its deadline.

    Returns the alert record as a JSON string: Airflow stores the callback's return value in
    a text column, and a dict there makes the triggerer fail (and re-run the callback).
    """
    context = context or {}
    dag_run = dict(context.get("dag_run") or {})
    deadline = dict(context.get("deadline") or {})
    details = {
        "dag_id": dag_run.get("dag_id"),
        # Airflow hands the callback the run as the REST API shows it: ``dag_run_id``.
        "run_id": dag_run.get("dag_run_id") or dag_run.get("run_id"),
        "logical_date": dag_run.get("logical_date"),
        "run_after": dag_run.get("run_after"),
        "queued_at": dag_run.get("queued_at"),
        "state": dag_run.get("state"),
        "deadline": deadline.get("deadline_time") or deadline.get("deadline"),
        "kind": "deadline_missed",
    }
    subject = f"futures collection missed its deadline: {details['dag_id']} {details['run_id']}"
    record = await asyncio.to_thread(
        send_alert,
        subject,
        details,
        notifier=notifier,
        conn_id=conn_id,
        to=to,
        channel=channel,
        journal=journal,
    )
    return json.dumps(record, default=str, sort_keys=True)
