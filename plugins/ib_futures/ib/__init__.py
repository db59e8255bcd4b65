"""The IB layer: short-lived, read-only gateway sessions through ``ib_async`` (no Airflow)."""
