"""``python -m ib_futures.freshness``: the freshness check from cron or a monitoring system.

Run outside the scheduler so that a dead scheduler is caught too. The lake is found like
everywhere else (``DeltaLakeHook``): ``--lake`` > the lake connection (``--lake-conn-id``,
default ``delta_lake_default`` when defined, e.g. as ``AIRFLOW_CONN_DELTA_LAKE_DEFAULT``) >
``IB_FUTURES_LAKE_URI`` > the configuration. Exit status 1 when stale, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime


def main(argv: Sequence[str] | None = None) -> int:
    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.core.config import load_config
    from ib_futures.lake.freshness import check_lake

    parser = argparse.ArgumentParser(prog="python -m ib_futures.freshness")
    parser.add_argument("--at", help="check as of this ISO-8601 time (default: now)")
    parser.add_argument("--lake", help="lake URI (beats the connection, environment, config)")
    parser.add_argument("--lake-conn-id", help="the delta_lake connection (default: "
                        "delta_lake_default when it exists)")
    parser.add_argument("--config", help="path of futures_config.yaml")
    args = parser.parse_args(argv)
    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    except ValueError:
        parser.error(f"--at {args.at!r} is not an ISO-8601 time")
    if at.tzinfo is None:
        parser.error(f"--at {args.at!r}: give a time zone, e.g. 2026-11-24T15:00:00Z")
    cfg = load_config(args.config)
    lake = DeltaLakeHook(args.lake_conn_id, lake_uri=args.lake, config=cfg).location
    report = check_lake(cfg, at, lake.uri, lake.storage_options)
    print(json.dumps({**report.as_dict(), "lake": lake.uri, "lake_source": lake.source}, indent=2))
    return 0 if report.ok else 1
