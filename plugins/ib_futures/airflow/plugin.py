"""The Airflow plugin: the weekly report and the data's freshness, inside the Airflow UI.

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so it loads whether
the package is pip-installed or sits under ``plugins/``. It mounts a small FastAPI app on the
api-server under ``/ib-futures`` and adds a "Futures" entry to the UI's navigation:

* ``GET /ib-futures/report``: the newest weekly analysis report (self-contained HTML);
  ``/ib-futures/report/{week_end}`` one week's.
* ``GET /ib-futures/freshness``: the freshness check as JSON (newest stored slot per
  instrument against the session calendar), the same as ``python -m ib_futures.freshness``.

The lake is found as the tasks find it (``DeltaLakeHook``: lake connection, then
``IB_FUTURES_LAKE_URI``, then the configuration), so the api-server reads the lake the workers
write.

The handlers import the heavy parts (polars, deltalake) only when called.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse

WEEK = re.compile(r"^\d{4}-\d{2}-\d{2}$")

app = FastAPI(title="ib-futures", description="Weekly report and data freshness")


def _lake() -> tuple[Any, Any]:
    """The configuration and the lake, found as every task finds them (``DeltaLakeHook``)."""
    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.core.config import load_config

    cfg = load_config()
    return cfg, DeltaLakeHook(config=cfg).location


def _reports_root() -> Path:
    from ib_futures.analysis.report import report_directory

    cfg, lake = _lake()
    directory, _ = report_directory(lake.uri, "latest", str(cfg.report_dir()))
    return directory.parent


def latest_week(root: Path) -> str | None:
    weeks = sorted(
        p.name for p in root.glob("*") if WEEK.match(p.name) and (p / "report.html").is_file()
    )
    return weeks[-1] if weeks else None


@app.get("/report", response_class=HTMLResponse)
def latest_report() -> HTMLResponse:
    root = _reports_root()
    week = latest_week(root)
    if week is None:
        raise HTTPException(404, f"no weekly report under {root} yet (futures_analysis_weekly)")
    return HTMLResponse((root / week / "report.html").read_text(encoding="utf-8"))


@app.get("/report/{week_end}", response_class=HTMLResponse)
def weekly_report(week_end: str) -> HTMLResponse:
    if not WEEK.match(week_end):
        raise HTTPException(400, f"week_end must be YYYY-MM-DD, got {week_end!r}")
    page = _reports_root() / week_end / "report.html"
    if not page.is_file():
        raise HTTPException(404, f"no report for the week ending {week_end}")
    return HTMLResponse(page.read_text(encoding="utf-8"))


@app.get("/freshness")
def freshness() -> JSONResponse:
    from ib_futures.lake.freshness import check_lake

    cfg, lake = _lake()
    report = check_lake(cfg, datetime.now(UTC), lake.uri, lake.storage_options)
    body = {**report.as_dict(), "lake": lake.uri, "lake_source": lake.source}
    return JSONResponse(body, status_code=200 if report.ok else 503)


class IBFuturesPlugin(AirflowPlugin):
    """Weekly report and freshness endpoints, with a link in the UI's navigation."""

    name = "ib_futures"
    fastapi_apps: list[Any] = [
        {"app": app, "url_prefix": "/ib-futures", "name": "IB Futures"},
    ]
    external_views: list[Any] = [
        {
            "name": "Futures analysis report",
            "href": "/ib-futures/report",
            "destination": "nav",
            "category": "browse",
        },
    ]
