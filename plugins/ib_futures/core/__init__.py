"""Pure domain logic: no Airflow, no I/O. Every module here is cheap to import."""
