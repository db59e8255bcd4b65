"""Screenshot of the Futures page on a lake (docs/futures_page.png is the demo's lake).

    ./dev demo
    .venv/bin/python tests/support/screenshot_page.py .demo/lake docs/futures_page.png

Starts a throwaway api-server (``support.api_server``: FAB, SQLite) on the lake, logs in
through the UI with Debian's chromium, opens Browse -> Futures and saves a full-page shot.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.api_server import PASSWORD, ApiServer

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main(lake: str, out: str) -> int:
    from playwright.sync_api import sync_playwright

    server = ApiServer(Path(tempfile.mkdtemp(prefix="page-shot-")),
                       {"IB_FUTURES_LAKE_URI": str(Path(lake).resolve())})  # fmt: skip
    server.prepare()
    server.start()
    try:
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url + "/auth/login/")
            page.fill("input[name=username]", "desk")
            page.fill("input[name=password]", PASSWORD)
            page.click("[type=submit]")
            page.wait_for_url(lambda url: "/auth/login" not in url)
            page.goto(server.url + "/plugin/futures")
            frame = page.frame_locator("iframe[src$='/ib-futures/']")
            frame.locator("#heatmap td.cell").first.wait_for(timeout=120_000)
            frame.locator("#latest tr >> nth=1").wait_for(timeout=60_000)
            frame.locator("#freshness tr >> nth=1").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=out, full_page=True)
            browser.close()
    finally:
        server.stop()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
