"""Screenshots of the web map for docs/: desktop (1400x900) and phone (390x844) on four dates.

    python docs/screenshots.py      # serves the shipped data on a loopback port, Chromium

Writes docs/map-<date>-<desktop|phone>.png and prints the number of labels drawn in each.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from geoservice.app import create_app

DATES = [dt.date.today().isoformat(), "2021-06-01", "2020-10-15", "2015-01-01"]
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for name, (width, height) in SIZES.items():
                for date in DATES:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.route(
                        "**/*",
                        lambda r: r.continue_() if r.request.url.startswith(url) else r.abort(),
                    )
                    page.goto(f"{url}/?date={date}")
                    page.wait_for_selector(f'body[data-state=ready][data-drawn-date="{date}"]')
                    page.wait_for_timeout(1500)  # towns' labels arrive after the layers
                    tag = "today" if date == DATES[0] else date
                    page.screenshot(path=str(HERE / f"map-{tag}-{name}.png"))
                    labels = page.locator(".gs-label").count()
                    print(f"{name} {date}: {labels} labels")
                    page.close()
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
