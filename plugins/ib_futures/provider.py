"""Airflow provider registration: the ``ibkr`` connection type and its hook.

Airflow 3 registers custom connection types only through the ``apache_airflow_provider`` entry
point (``pyproject.toml``) pointing at :func:`get_provider_info`; ``package-name`` must equal the
distribution name.
"""

from __future__ import annotations

from typing import Any

from ib_futures import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "ib-futures",
        "name": "IB Futures",
        "description": "Interactive Brokers futures and ETF snapshots into Delta Lake.",
        "versions": [__version__],
        "connection-types": [
            {
                "hook-class-name": "ib_futures.hooks.ib.IBHook",
                "connection-type": "ibkr",
            }
        ],
    }
