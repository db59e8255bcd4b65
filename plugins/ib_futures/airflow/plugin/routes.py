"""The plugin's FastAPI app (mounted at ``/ib-futures``): the page and the JSON behind it.

Airflow mounts plugin apps *without* authentication (``airflow/api_fastapi/app.py``,
``init_plugins``), so every route here depends on Airflow's own security dependencies
(``airflow.api_fastapi.core_api.security``): ``get_user`` reads the JWT from the
``Authorization: Bearer`` header, else from the UI's ``_token`` cookie (which the UI's frame
sends), and ``requires_access_dag`` asks the configured auth manager whether that user may read
the DAG. No token: 401; a user the auth manager does not let read ``futures_collection``
(the data) or ``futures_analysis_weekly`` (the reports): 403.

Routes (all GET):

* ``/``: the page (HTML; its script calls the routes below);
* ``/api/coverage?start=&end=&symbols=``: the heat map (default: the last 4 weeks);
* ``/api/coverage/day?day=&symbols=``: one trade day's slots;
* ``/api/freshness``, ``/api/latest``: the freshness verdict, the newest quote per instrument;
* ``/freshness``: the freshness verdict with 503 when stale (for probes, as before);
* ``/api/reports``: the weeks with a report; ``/report`` (newest) and ``/report/{week_end}``.

Bad input answers 400 with a message naming the parameter; never a server path.
The handlers are thin: ``ib_futures.lake.page_data`` computes, ``ib_futures.lake.reports``
holds the reports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

PREFIX = "/ib-futures"
COLLECTION_DAG = "futures_collection"
ANALYSIS_DAG = "futures_analysis_weekly"

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def requires_read(dag_id: str) -> Any:
    """Airflow's own ``get_user`` then ``requires_access_dag("GET", dag_id)``, as a dependency.

    The security module is imported on the first request, not when the plugin loads: every
    Airflow process loads plugins (workers, scheduler), and that import costs ~1 s.
    """

    async def dependency(request: Request, bearer: BearerDep) -> None:
        from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

        user = await get_user(request, None, bearer)  # 401 without a valid token
        check = requires_access_dag("GET", param_dag_id=dag_id)
        await run_in_threadpool(check, request, user)  # 403; reads the DAG's team (database)

    return Depends(dependency)


can_read_data = requires_read(COLLECTION_DAG)
can_read_reports = requires_read(ANALYSIS_DAG)

app = FastAPI(
    title="ib-futures",
    description="The Futures page: coverage, freshness, latest quotes, weekly reports",
    dependencies=[can_read_data],
    # no unauthenticated schema or docs pages: nothing of the app is served without a login
    openapi_url=None,
    docs_url=None,
    redoc_url=None,
)


def _lake() -> tuple[Any, Any]:
    """The configuration and the lake, found as every task finds them (``DeltaLakeHook``)."""
    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.core.config import load_config

    cfg = load_config()
    return cfg, DeltaLakeHook(config=cfg).location


def _bad_input(exc: ValueError) -> HTTPException:
    return HTTPException(400, str(exc))


@lru_cache(maxsize=1)
def _page() -> str:
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")


@app.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(_page())


@app.get("/api/coverage")
def coverage(start: str | None = None, end: str | None = None,
             symbols: str | None = None) -> dict[str, Any]:  # fmt: skip
    from ib_futures.lake.page_data import PageInputError, coverage, selected_range

    cfg, lake = _lake()
    try:
        days = selected_range(start, end, datetime.now(UTC).date())
        return coverage(lake.uri, cfg, days, symbols, lake.storage_options)
    except PageInputError as exc:
        raise _bad_input(exc) from None


@app.get("/api/coverage/day")
def coverage_day(day: str | None = None, symbols: str | None = None) -> dict[str, Any]:
    from ib_futures.lake.page_data import PageInputError, day_slots

    cfg, lake = _lake()
    try:
        return day_slots(lake.uri, cfg, day, symbols, lake.storage_options)
    except PageInputError as exc:
        raise _bad_input(exc) from None


@app.get("/api/freshness")
def freshness_data() -> dict[str, Any]:
    from ib_futures.lake.page_data import freshness

    cfg, lake = _lake()
    return freshness(lake.uri, cfg, datetime.now(UTC), lake.storage_options)


@app.get("/freshness")
def freshness_probe() -> JSONResponse:
    body = freshness_data()
    return JSONResponse(body, status_code=200 if body["ok"] else 503)


@app.get("/api/latest")
def latest() -> dict[str, Any]:
    from ib_futures.lake.page_data import latest_quotes

    cfg, lake = _lake()
    return latest_quotes(lake.uri, cfg, datetime.now(UTC), lake.storage_options)


@app.get("/api/reports", dependencies=[can_read_reports])
def reports() -> dict[str, Any]:
    from ib_futures.lake.reports import report_weeks

    _, lake = _lake()
    return {"weeks": report_weeks(lake.uri, lake.storage_options)}


def _report(week_end: str | None) -> HTMLResponse:
    from ib_futures.lake.reports import read_report_file, report_weeks

    _, lake = _lake()
    if week_end is None:
        weeks = report_weeks(lake.uri, lake.storage_options)
        if not weeks:
            raise HTTPException(404, "no weekly report yet (the futures_analysis_weekly DAG "
                                     "stores one each week)")  # fmt: skip
        week_end = weeks[-1]
    body = read_report_file(lake.uri, week_end, storage_options=lake.storage_options)
    if body is None:
        raise HTTPException(404, f"week_end={week_end}: no report for that week")
    return HTMLResponse(body.decode("utf-8"))


@app.get("/report", response_class=HTMLResponse, dependencies=[can_read_reports])
def latest_report() -> HTMLResponse:
    return _report(None)


@app.get("/report/{week_end}", response_class=HTMLResponse, dependencies=[can_read_reports])
def weekly_report(week_end: str) -> HTMLResponse:
    from ib_futures.core.coverage import parse_day

    try:
        parse_day(week_end, "week_end")
    except ValueError as exc:
        raise _bad_input(exc) from None
    return _report(week_end)
