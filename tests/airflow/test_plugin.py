"""The Futures page against a real ``airflow api-server``: auth, data, bad input, a real browser.

One api-server for the module (FAB auth manager, SQLite; ``support.api_server``), reading a
lake whose every heat-map cell is known (``support.page_lake``). Users: ``desk`` (Op: reads
the DAGs) and ``outsider`` (may open the UI, reads no DAG).

The browser is Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it)
driven by playwright's Python package; no test tool downloads a browser. A missing browser
fails these tests. The screenshot goes to ``$IB_FUTURES_ARTIFACTS`` (default ``.artifacts/``).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from ib_futures.airflow.plugin import PAGE_ROUTE, IBFuturesPlugin
from ib_futures.airflow.plugin.routes import app
from support.api_server import PASSWORD, ApiServer
from support.page_lake import END_DAY, REPORT_WEEK, START_DAY, build_lake, expected_cells

# a real api-server and a browser: the end-to-end tests (CI runs them once, on the default Python)
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
RANGE = {"start": START_DAY.isoformat(), "end": END_DAY.isoformat()}
#: every route of the app, with a query that would succeed for a reader
ROUTES = [
    "/ib-futures/",
    f"/ib-futures/api/coverage?start={RANGE['start']}&end={RANGE['end']}",
    "/ib-futures/api/coverage/day?day=2026-11-04",
    "/ib-futures/api/freshness",
    "/ib-futures/freshness",
    "/ib-futures/api/latest",
    "/ib-futures/api/reports",
    "/ib-futures/report",
    f"/ib-futures/report/{REPORT_WEEK}",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    work = tmp_path_factory.mktemp("futures-page")
    lake = work / "lake"
    build_lake(str(lake))
    api = ApiServer(work, {"IB_FUTURES_LAKE_URI": str(lake)})
    try:
        api.prepare()
        api.start()
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def tokens(server: ApiServer) -> dict[str, str]:
    return {user: server.token(user) for user in ("desk", "outsider")}


def get(server: ApiServer, path: str, token: str | None = None, **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server.url + path, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


def test_plugin_declares_the_app_and_a_page_inside_the_ui() -> None:
    assert IBFuturesPlugin.fastapi_apps[0]["url_prefix"] == "/ib-futures"
    view = IBFuturesPlugin.external_views[0]
    assert view["href"] == "/ib-futures/" and view["url_route"] == PAGE_ROUTE
    served = {r.path for r in app.routes}  # type: ignore[attr-defined]
    assert {p.split("?")[0].removeprefix("/ib-futures") for p in ROUTES} >= {
        "/", "/api/coverage", "/api/coverage/day", "/api/freshness", "/freshness", "/api/latest",
        "/api/reports", "/report",
    }  # fmt: skip
    assert "/openapi.json" not in served and "/docs" not in served


def test_anonymous_gets_401_and_a_forged_token_is_refused(server: ApiServer) -> None:
    for path in ROUTES:
        assert get(server, path).status_code == 401, path
        assert get(server, path, "not-a-jwt").status_code in (401, 403), path
    assert get(server, "/ib-futures/openapi.json").status_code in (401, 404)
    traversal = get(server, "/ib-futures/report/..%2F..%2Fetc%2Fpasswd")
    assert traversal.status_code in (401, 404) and "root:" not in traversal.text


def test_a_user_without_the_futures_dags_gets_403(server: ApiServer, tokens) -> None:
    for path in ROUTES:
        response = get(server, path, tokens["outsider"])
        assert response.status_code == 403, (path, response.text)
        assert "ES" not in response.text


def test_the_ui_cookie_authenticates_like_the_bearer_header(server: ApiServer, tokens) -> None:
    for path in ROUTES:
        assert get(server, path, cookies={"_token": tokens["desk"]}).status_code in (200, 503)
    assert get(server, ROUTES[1], cookies={"_token": tokens["outsider"]}).status_code == 403


def test_coverage_shows_every_known_gap(server: ApiServer, tokens) -> None:
    body = get(server, ROUTES[1], tokens["desk"]).json()
    cells = {(c["symbol"], date.fromisoformat(c["day"])): c["state"] for c in body["cells"]}
    assert cells == expected_cells()
    assert body["instruments"] == ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
    es = next(c for c in body["cells"] if c["symbol"] == "ES" and c["day"] == "2026-11-04")
    assert es["missing"] == 3 and es["live"] > 200
    default = get(server, "/ib-futures/api/coverage", tokens["desk"]).json()
    assert len(default["days"]) == 28  # the last four weeks


def test_drill_down_to_one_day(server: ApiServer, tokens) -> None:
    body = get(server, "/ib-futures/api/coverage/day?day=2026-11-06&symbols=RTY",
               tokens["desk"]).json()  # fmt: skip
    states = Counter(s["state"] for s in body["slots"])
    assert states["unfillable"] == 1 and states["missing"] == 0 and states["live"] > 200
    assert all(s["symbol"] == "RTY" for s in body["slots"])


def test_latest_freshness_and_reports(server: ApiServer, tokens) -> None:
    latest = get(server, "/ib-futures/api/latest", tokens["desk"]).json()["quotes"]
    assert [q["symbol"] for q in latest] == ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
    assert latest[0]["contract"] == "ESZ6" and latest[0]["provenance"] == "live"
    assert latest[0]["market_data_type"] == "live" and latest[0]["age_seconds"] > 0
    fresh = get(server, "/ib-futures/api/freshness", tokens["desk"]).json()
    assert not fresh["ok"] and {s["symbol"] for s in fresh["symbols"]} >= {"ES", "SPY"}
    assert get(server, "/ib-futures/freshness", tokens["desk"]).status_code == 503
    assert get(server, "/ib-futures/api/reports", tokens["desk"]).json() == {"weeks": [REPORT_WEEK]}
    page = get(server, f"/ib-futures/report/{REPORT_WEEK}", tokens["desk"]).text
    assert page.count('src="data:image/png;base64,') >= 3


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/ib-futures/api/coverage?start=2026-13-01", 400, "start='2026-13-01'"),
        ("/ib-futures/api/coverage?start=2026-11-20&end=2026-11-02", 400, "end=2026-11-02"),
        ("/ib-futures/api/coverage?start=2020-01-01&end=2026-11-02", 400, "start=2020-01-01"),
        ("/ib-futures/api/coverage?symbols=ES,XX", 400, "symbols='ES,XX'"),
        ("/ib-futures/api/coverage/day", 400, "day is required"),
        ("/ib-futures/api/coverage/day?day=yesterday", 400, "day='yesterday'"),
        ("/ib-futures/report/2026-11-13", 404, "week_end=2026-11-13"),
        ("/ib-futures/report/not-a-week", 400, "week_end='not-a-week'"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_parameter(server, tokens, path, status, names) -> None:
    response = get(server, path, tokens["desk"])
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert names in detail and str(server.home.parent) not in detail and "/tmp" not in detail


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def artifacts() -> Path:
    where = Path(os.environ.get("IB_FUTURES_ARTIFACTS") or ROOT / ".artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_the_page_in_a_browser_after_logging_in(server: ApiServer, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100})  # type: ignore[attr-defined]
    page.goto(server.url + "/auth/login/")
    page.fill("input[name=username]", "desk")
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
    page.goto(f"{server.url}/plugin/{PAGE_ROUTE}")  # the UI, with the page in its frame
    frame = page.frame_locator("iframe[src$='/ib-futures/']")
    frame.locator("#heatmap td.cell").first.wait_for(timeout=60_000)
    frame.locator("#start").fill(RANGE["start"])
    frame.locator("#end").fill(RANGE["end"])
    frame.locator("#range button").click()
    expected = expected_cells()
    expect(frame.locator("#heatmap td.cell")).to_have_count(len(expected), timeout=60_000)
    for state, n in Counter(expected.values()).items():
        expect(frame.locator(f"#heatmap td.cell.{state}")).to_have_count(n)
    frame.locator("#freshness tr >> nth=6").wait_for(timeout=60_000)
    assert frame.locator("#freshness tr").count() == 7  # header + six instruments
    assert frame.locator("#latest tr").count() == 7
    frame.locator("td.cell[data-day='2026-11-06'] >> nth=2").click()  # RTY's unfillable day
    frame.locator("#day-slots td.slot.unfillable").wait_for(timeout=30_000)
    report = frame.frame_locator("#report")
    images = report.locator("img")
    images.first.wait_for(timeout=60_000)
    assert images.count() >= 3
    loaded = images.evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
    assert loaded, "the report's charts did not load"
    page.screenshot(path=str(artifacts() / "futures_page.png"), full_page=True)
    page.close()


def test_anonymous_browser_is_refused(server: ApiServer, browser) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    response = page.goto(server.url + "/ib-futures/")
    assert response is not None and response.status == 401
    assert "Futures" not in page.content()
    context.close()
