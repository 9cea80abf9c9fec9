"""The web map's weight: bytes transferred and time to a drawn map, in Chromium on the loopback.

Starts the service under gunicorn (gzip on, as in production) on a free loopback port, opens
``/?date=D`` in Debian's Chromium with an empty cache and counts every response's encoded
bytes (the Chrome DevTools protocol's ``encodedDataLength``: headers and compressed body) until
the page says it is drawn; then changes the date in the date field and counts again. Each run
is repeated and the median reported. Not a test: the figures go to BENCHMARKS.md.

    python -m benchmarks.page_load [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.servers import HOST, free_port, gunicorn_command, running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
#: (date opened, date changed to): a date inside the 2020 war and one after it.
DATES = ("2021-06-01", "2020-10-15")
VIEWPORT = {"width": 1400, "height": 900}


def measure_once(browser, url: str) -> dict:
    """One cold load and one date change: bytes, requests and milliseconds of each."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    counts = {"bytes": 0, "requests": 0}
    cdp.on(
        "Network.loadingFinished",
        lambda e: counts.update(
            bytes=counts["bytes"] + e["encodedDataLength"], requests=counts["requests"] + 1
        ),
    )
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(f"http://{HOST}:") else route.abort()
        ),
    )
    start = time.perf_counter()
    page.goto(f"{url}/?date={DATES[0]}")
    page.wait_for_selector(f'body[data-state=ready][data-drawn-date="{DATES[0]}"]', timeout=60_000)
    page.wait_for_selector(f'#gs-readout[data-date="{DATES[0]}"]', timeout=60_000)
    first_ms = (time.perf_counter() - start) * 1000
    page.wait_for_timeout(500)  # late requests (label data, tiles: none offline) are counted
    first = dict(counts, ms=round(first_ms))
    counts.update(bytes=0, requests=0)
    start = time.perf_counter()
    page.fill("#gs-date", DATES[1])
    page.wait_for_selector(f'body[data-state=ready][data-drawn-date="{DATES[1]}"]', timeout=60_000)
    page.wait_for_selector(f'#gs-readout[data-date="{DATES[1]}"]', timeout=60_000)
    change_ms = (time.perf_counter() - start) * 1000
    page.wait_for_timeout(500)
    change = dict(counts, ms=round(change_ms))
    context.close()
    return {"first_load": first, "date_change": change}


def summarise(runs: list[dict]) -> dict:
    """Median of each figure over the runs."""
    out = {}
    for phase in ("first_load", "date_change"):
        out[phase] = {
            key: statistics.median(run[phase][key] for run in runs)
            for key in ("bytes", "requests", "ms")
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://{HOST}:{port}"
    cmd = gunicorn_command("geoservice.wsgi:app", port, 2, "gthread", 4) + ["--preload"]
    with running(cmd, f"{url}/api/conformance"), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        measure_once(browser, url)  # warm the server's caches (lazy levels of detail)
        runs = [measure_once(browser, url) for _ in range(args.runs)]
        browser.close()
    result = {"dates": DATES, "viewport": VIEWPORT, "runs": runs, "median": summarise(runs)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for phase, fig in result["median"].items():
            print(
                f"{phase:12s} {fig['bytes'] / 1024:8.1f} KB  {fig['requests']:4.0f} requests  "
                f"{fig['ms']:6.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
