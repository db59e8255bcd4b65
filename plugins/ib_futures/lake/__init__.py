"""Delta Lake storage: table schemas, validated idempotent merges, maintenance and readers.

Pure layer: no Airflow imports. ``polars`` and ``deltalake`` are imported by the modules that
need them (``writer``, ``readers``, ``maintenance``); importing this package or
``ib_futures.lake.schemas`` / ``ib_futures.lake.storage`` stays cheap.

See docs/storage.md for the tables, their constraints and properties, and the maintenance plan.
"""
