"""The Airflow plugin: the "Futures" page inside the Airflow UI, and its authenticated API.

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so it loads whether
the package is pip-installed or sits under ``plugins/``. It mounts a FastAPI app on the
api-server under ``/ib-futures`` (:mod:`.routes`, every route behind Airflow's own auth manager)
and an external view with a ``url_route``: the UI shows ``/ib-futures/`` in its frame at
``/plugin/futures``, with a "Futures" entry in the navigation. docs/ui.md tells why an external
view (server-rendered page) rather than a React app plugin.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from ib_futures.airflow.plugin.routes import PREFIX, app

#: where the UI shows the page (``/plugin/<url_route>``): the DAG's doc_md links here
PAGE_ROUTE = "futures"


class IBFuturesPlugin(AirflowPlugin):
    """The Futures page (coverage, freshness, latest quotes, weekly reports) and its API."""

    name = "ib_futures"
    fastapi_apps: list[Any] = [
        {"app": app, "url_prefix": PREFIX, "name": "IB Futures"},
    ]
    external_views: list[Any] = [
        {
            "name": "Futures",
            "href": f"{PREFIX}/",
            "url_route": PAGE_ROUTE,
            "destination": "nav",
            "category": "browse",
        },
    ]


__all__ = ["PAGE_ROUTE", "IBFuturesPlugin", "app"]
