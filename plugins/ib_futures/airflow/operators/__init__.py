"""Airflow operators: thin shells over the pure layers (see docs/architecture.md)."""
