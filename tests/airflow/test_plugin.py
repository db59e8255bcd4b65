"""The Airflow plugin's FastAPI app: latest weekly report and freshness, via HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ib_futures.airflow.plugin import IBFuturesPlugin, app


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("IB_FUTURES_LAKE_URI", str(tmp_path / "lake"))
    return TestClient(app), tmp_path / "lake" / "reports" / "futures_analysis"


def test_plugin_declares_the_app_and_a_nav_link():
    assert IBFuturesPlugin.name == "ib_futures"
    assert IBFuturesPlugin.fastapi_apps[0]["url_prefix"] == "/ib-futures"
    assert IBFuturesPlugin.external_views[0]["href"] == "/ib-futures/report"


def test_latest_report_is_served_and_missing_ones_are_404(client):
    http, root = client
    assert http.get("/report").status_code == 404
    for week, body in (("2026-11-20", "old"), ("2026-11-27", "new")):
        (root / week).mkdir(parents=True)
        (root / week / "report.html").write_text(f"<html>{body}</html>")
    assert http.get("/report").text == "<html>new</html>"
    assert http.get("/report/2026-11-20").text == "<html>old</html>"
    assert http.get("/report/2026-11-13").status_code == 404
    assert http.get("/report/..%2F..%2Fetc").status_code in (400, 404)


def test_freshness_is_503_on_an_empty_lake(client):
    http, _ = client
    response = http.get("/freshness")
    assert response.status_code in (200, 503)  # 200 only when no slot was due (weekend)
    body = response.json()
    assert {"ok", "summary", "symbols"} <= set(body)
