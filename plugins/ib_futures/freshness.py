"""Stable entry point of the freshness check: ``python -m ib_futures.freshness``.

Cron jobs and monitoring systems run this module by name, so it stays here. The verdict is
``ib_futures.core.freshness``, the lake read ``ib_futures.lake.freshness`` and the command
line ``ib_futures.airflow.freshness_cli`` (it finds the lake as every other component does).
"""

from __future__ import annotations

import sys

from ib_futures.core.freshness import FreshnessReport, SymbolFreshness, assess
from ib_futures.lake.freshness import check_lake

__all__ = ["FreshnessReport", "SymbolFreshness", "assess", "check_lake", "main"]


def main(argv: list[str] | None = None) -> int:
    from ib_futures.airflow.freshness_cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
