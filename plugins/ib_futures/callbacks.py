"""Stable import path of the alert callbacks (the code lives in ``ib_futures.airflow.callbacks``).

Airflow stores a Deadline Alert's callback as a dotted path in its ``deadline`` rows, so runs
created before the adapters moved still name ``ib_futures.callbacks.missed_collection_alert``;
this module keeps that path working. New code imports from ``ib_futures.airflow.callbacks``.
"""

from ib_futures.airflow.callbacks import missed_collection_alert, send_alert

__all__ = ["missed_collection_alert", "send_alert"]
