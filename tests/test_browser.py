"""The web map in headless Chromium against a live server, with every non-loopback host blocked.

Needs Debian's ``chromium`` at /usr/bin/chromium (driven by the ``playwright`` package; no
browser download). Without it the tests skip, except under CI (``CI=true``), where they fail.
Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from geoservice import measure, timeline, views
from geoservice.app import create_app
from geoservice.catalog import load_catalog
from geoservice.layers import LAYERS
from geoservice.vocabulary import DEFAULT_KIND, DEFAULT_VIEW, SKETCHED_ACCURACIES
from geoservice.webmap import LAYER_ORDER, STYLES, area_label_text

pytestmark = [pytest.mark.browser, pytest.mark.server]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LOOPBACK = {"127.0.0.1", "localhost"}
XSS_NAME = "<script>alert(1)</script> Border of <b>bold</b> & co"
XSS_DAY = dt.date(2025, 6, 1)


def _require_browser():
    """Skip without Chromium or playwright, but fail under CI, where both must be present."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run under CI: {missing}")
    pytest.skip(f"browser test skipped: {missing}")


class LiveServer:
    """The real app served on a free loopback port in a background thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_server(catalog):
    _require_browser()
    server = LiveServer(create_app({"CATALOG": catalog}))
    yield server
    server.close()


class Page:
    """A browser page that blocks (and records) every request to a non-loopback host."""

    def __init__(self, browser, base_url, viewport=(1280, 800), bypass_csp=None):
        self.base_url = base_url
        # The page's own CSP forbids eval, which Playwright's wait_for_function polling uses:
        # most tests bypass it. Those with bypass_csp=False (and every test when
        # GEOSERVICE_TEST_CSP=1) run under the page's CSP and fail on any violation.
        if bypass_csp is None:
            bypass_csp = os.environ.get("GEOSERVICE_TEST_CSP") != "1"
        self.bypass_csp = bypass_csp
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, bypass_csp=bypass_csp
        )
        self.page = self.context.new_page()
        self.page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)

    def _console(self, message):
        if message.type == "error":
            self.console_errors.append(message.text)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self, query=""):
        self.page.goto(f"{self.base_url}/{query}")
        self.page.wait_for_selector("body[data-state=ready]", timeout=60_000)

    def wait_drawn(self, date: str):
        self.page.wait_for_selector(
            f'body[data-state=ready][data-drawn-date="{date}"]', timeout=60_000
        )
        # attached, not visible: on a phone the readout is folded away under "More"
        self.page.wait_for_selector(
            f'#gs-readout[data-date="{date}"]', state="attached", timeout=60_000
        )

    def set_date(self, date: str):
        self.page.fill("#gs-date", date)  # fires input and change, as typing a date does
        self.wait_drawn(date)

    def drawn(self) -> dict[str, list[str]]:
        """Feature ids per layer, as drawn in the DOM (one SVG path per feature)."""
        return self.page.evaluate(
            """() => {
                const out = {};
                document.querySelectorAll("path.gs-feature").forEach(p => {
                    const layer = p.getAttribute("data-layer");
                    (out[layer] = out[layer] || []).push(p.getAttribute("data-id"));
                });
                return out;
            }"""
        )

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def readout_km(self) -> dict[str, float]:
        return self.page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll(".gs-readout-item")]
                   .map(e => [e.dataset.status, parseFloat(e.dataset.km)]))"""
        )

    def screenshot(self, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))

    def csp_violations(self) -> list[str]:
        """CSP violations the page reported, and the console's CSP messages."""
        reported = self.page.evaluate("window.__csp || []")
        return reported + [m for m in self.console_errors if "Content Security Policy" in m]

    def close(self):
        if not self.bypass_csp:
            assert self.csp_violations() == []
        self.context.close()


@pytest.fixture
def page(browser, live_server):
    p = Page(browser, live_server.url)
    yield p
    p.close()


def expected_ids(catalog, day: str) -> dict[str, list[str]]:
    """Ids of the features of each layer valid on ``day``, from the catalog itself."""
    date = dt.date.fromisoformat(day)
    out = {}
    for layer_id in LAYER_ORDER:  # the gazetteer is labels, not paths
        layer = catalog[layer_id]
        # the map shows the default view (on_the_ground): views' own states are left out
        rows = (layer.valid(date) & views.view_mask(layer, DEFAULT_VIEW)).nonzero()[0]
        out[layer_id] = [layer.features[i]["properties"]["id"] for i in rows]
    return out


def ids_where(catalog, layer_id: str, key: str, value: str) -> set[str]:
    return {
        f["properties"]["id"]
        for f in catalog[layer_id].features
        if f["properties"].get(key) == value
    }


def assert_drawn_as_catalog(page: Page, catalog, day: str):
    expected = expected_ids(catalog, day)
    drawn = page.drawn()
    for layer_id, ids in expected.items():
        assert sorted(drawn.get(layer_id, [])) == sorted(ids), f"{layer_id} on {day}"
    date = dt.date.fromisoformat(day)
    sketched = sum(
        catalog[layer_id].features[i]["properties"].get("accuracy") in SKETCHED_ACCURACIES
        for layer_id in LAYER_ORDER
        for i in (
            catalog[layer_id].valid(date) & views.view_mask(catalog[layer_id], DEFAULT_VIEW)
        ).nonzero()[0]
    )
    assert page.count("path.gs-sketched") == sketched
    dashed = page.page.evaluate(
        """() => [...document.querySelectorAll("path.gs-sketched")]
                 .every(p => (p.getAttribute("stroke-dasharray") || "").length > 0)"""
    )
    assert dashed


def test_every_layer_drawn_offline_without_errors(page, catalog):
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    assert_drawn_as_catalog(page, catalog, "2021-06-01")
    drawn = page.drawn()
    for layer_id in LAYER_ORDER:
        if layer_id != "events":  # no event on that day
            assert drawn.get(layer_id), f"no {layer_id} drawn on 2021-06-01"
    assert page.count("path.gs-mission_posts.gs-point") > 0  # posts as circle markers
    assert page.blocked == [], "the page asked a host other than the loopback"
    assert page.console_errors == []
    assert page.page_errors == []
    assert page.page.title()


def expected_stroke(layer_id: str, props: dict) -> str:
    """The stroke colour the style table gives a feature (rules in order, later ones win)."""
    spec = STYLES[layer_id]
    colour = spec["style"].get("color")
    values = {**props, "kind": props.get("kind") or DEFAULT_KIND}
    for rule in spec["rules"]:
        if all(values.get(k) == v for k, v in rule["when"].items()):
            colour = rule["style"].get("color", colour)
    return colour


def test_borders_coloured_by_status_and_kind(page, catalog):
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    strokes = page.page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("path.gs-borders")]
                 .map(p => [p.getAttribute("data-id"), p.getAttribute("stroke")]))"""
    )
    borders = catalog["borders"]
    colours = set()
    for feature_id, stroke in strokes.items():
        props = borders.features[borders.index_by_id[feature_id]]["properties"]
        assert stroke == expected_stroke("borders", props), feature_id
        colours.add(stroke)
    assert len(colours) >= 3  # settled, disputed and the line of contact on that date


def test_date_change_removes_peacekeeping_zone_and_lachin_corridor(page, catalog):
    peacekeeping = ids_where(catalog, "mission_areas", "mission", "russian_peacekeeping_nk")
    lachin = ids_where(catalog, "corridor_routes", "corridor", "lachin")
    assert peacekeeping and lachin

    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    drawn = page.drawn()
    assert peacekeeping & set(drawn["mission_areas"])
    assert lachin & set(drawn["corridor_routes"])
    page.screenshot("map-2021-06-01.png")

    page.set_date("2024-07-01")
    drawn = page.drawn()
    assert not peacekeeping & set(drawn.get("mission_areas", []))
    assert not lachin & set(drawn.get("corridor_routes", []))
    assert_drawn_as_catalog(page, catalog, "2024-07-01")
    assert "date=2024-07-01" in page.page.url

    page.set_date("2025-06-01")
    assert_drawn_as_catalog(page, catalog, "2025-06-01")
    page.page.locator("#gs-date").blur()
    page.screenshot("map-2025-06-01.png")
    assert page.console_errors == [] and page.page_errors == [] and page.blocked == []


@pytest.mark.parametrize("day", ["2015-01-01", "2020-10-15", "2021-06-01"])
def test_summary_counts_every_area_held_against_its_country(page, catalog, day):
    """The heading's km² of land outside the recognised government's control: Karabakh's
    control cells (town by town) and every other held area (Abkhazia, South Ossetia,
    Transnistria, Crimea, Donbas), not the one or the other; pockets held by their own
    country (Cocieri, Debaltseve) are not counted."""
    page.open(f"?date={day}")
    page.wait_drawn(day)
    text = page.page.inner_text("#gs-summary")
    shown = int(re.sub(r"\D", "", text.split(" km² outside")[0].split("·")[-1]))
    on = dt.date.fromisoformat(day)

    def held(layer_id: str) -> list[dict]:
        """Properties of the layer's features on the day, on the ground, with ``area_km2``."""
        layer = catalog[layer_id]
        return [
            {**layer.features[i]["properties"], "area_km2": layer.area_km2[i]}
            for i in layer.valid(on).nonzero()[0]
            if not layer.features[i]["properties"].get("views")
            or "on_the_ground" in layer.features[i]["properties"]["views"]
        ]

    cells = held("control_areas")
    karabakh = sum(p["area_km2"] for p in cells if p["held_by"] not in p["countries"])
    others = sum(
        p["area_km2"]
        for p in held("disputed_areas")
        if p.get("area_kind") == "held_area"
        and p["held_by"] not in p["countries"]
        and p["countries"] != ["AZE"]
    )
    assert karabakh > 0 and others > 20_000  # both kinds, whatever the day
    assert shown == pytest.approx(karabakh + others, abs=1)


def test_summary_says_where_the_data_only_sketches_the_held_areas(page, catalog):
    """After 24 February 2022 the Donbas areas are what was held before that day (no front
    line is in the data): the heading says so; it counts the de facto lines of the day."""
    for day, sketched in (("2021-06-01", False), ("2024-01-01", True)):
        page.open(f"?date={day}")
        page.wait_drawn(day)
        text = page.page.inner_text("#gs-summary")
        assert ("sketched, not surveyed" in text) is sketched, text
        if sketched:
            assert "'DNR' before 24 February 2022" in text and "'LNR'" in text, text
        layer = catalog["borders"]
        on = dt.date.fromisoformat(day)
        de_facto = sum(
            1
            for i in layer.valid(on).nonzero()[0]
            if layer.features[i]["properties"]["kind"] == "de_facto"
            and "on_the_ground"
            in (layer.features[i]["properties"].get("views") or ["on_the_ground"])
        )
        assert f"{de_facto} de facto line" in text, text


@pytest.mark.parametrize("day", ["2021-06-01", "2022-09-01", "2025-06-01"])
def test_readout_follows_the_view_and_a_clicked_pair(page, catalog, day):
    page.open(f"?date={day}#9/39.9/70.6")  # the Fergana valley's southern rim
    page.wait_drawn(day)
    page.page.wait_for_selector("#gs-readout[data-bbox]")
    page.page.wait_for_load_state("networkidle")
    raw, shown = page.page.evaluate(
        """() => [document.getElementById("gs-readout").dataset.bbox,
                  Object.fromEntries([...document.querySelectorAll(".gs-readout-item")]
                    .map(e => [e.dataset.status, parseFloat(e.dataset.km)]))]"""
    )
    box = tuple(float(v) for v in raw.split(","))
    answer = measure.border_lengths(catalog, as_of=dt.date.fromisoformat(day), bbox=box)
    for status, entry in answer["by_status"].items():
        assert shown[status] == pytest.approx(entry["length_km"], abs=0.05)
    assert "in view" in page.page.inner_text("#gs-readout")
    # a click on a Kyrgyz-Tajik segment: the readout shows that pair
    borders = catalog["borders"]
    row = next(
        i
        for i in borders.valid(dt.date.fromisoformat(day)).nonzero()[0]
        if borders.features[i]["properties"]["countries"] == ["KGZ", "TJK"]
    )
    click_feature(page, borders.features[row]["properties"]["id"])
    page.page.wait_for_selector('#gs-readout[data-pair="KGZ,TJK"]')
    pair = measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=dt.date.fromisoformat(day))
    shown = page.readout_km()
    for status, entry in pair["by_status"].items():
        assert shown[status] == pytest.approx(entry["length_km"], abs=0.05)
    assert "Kyrgyzstan" in page.page.inner_text("#gs-readout")


def test_slider_moves_the_date(page, catalog):
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    days = (dt.date(2024, 7, 1) - dt.date(1970, 1, 1)).days
    page.page.evaluate(
        """days => { const s = document.getElementById("gs-slider");
                     s.value = String(days); s.dispatchEvent(new Event("change")); }""",
        days,
    )
    page.wait_drawn("2024-07-01")
    assert page.page.input_value("#gs-date") == "2024-07-01"
    assert_drawn_as_catalog(page, catalog, "2024-07-01")


def test_default_date_is_today(page):
    page.open()
    today = page.page.evaluate(
        """() => { const d = new Date(); const p = n => String(n).padStart(2, "0");
                   return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()); }"""
    )
    page.wait_drawn(today)
    assert page.page.input_value("#gs-date") == today
    assert page.console_errors == []


def test_link_reproduces_date_and_view(browser, live_server):
    first = Page(browser, live_server.url)
    first.open("?date=2022-09-01#9/39.9/70.6")
    first.wait_drawn("2022-09-01")
    link = first.page.url
    assert "date=2022-09-01" in link and link.endswith("#9/39.9000/70.6000")
    first.close()

    second = Page(browser, live_server.url)
    second.page.goto(link)
    second.wait_drawn("2022-09-01")
    assert second.page.input_value("#gs-date") == "2022-09-01"
    assert second.page.url == link
    second.close()


def click_feature(page: Page, feature_id: str):
    """Open a feature's popup the way a click on its drawn path does."""
    page.page.evaluate(
        """id => { const el = [...document.querySelectorAll("path.gs-feature")]
                              .find(p => p.getAttribute("data-id") === id);
                   el.dispatchEvent(new MouseEvent("click", {bubbles: true})); }""",
        feature_id,
    )
    page.page.wait_for_selector(".leaflet-popup-content .gs-popup", timeout=10_000)


def test_popup_shows_name_status_dates_length_accuracy_sources(page, catalog):
    page.open("?date=2022-09-01")
    page.wait_drawn("2022-09-01")
    borders = catalog["borders"]
    row = next(
        i
        for i in borders.valid(dt.date(2022, 9, 1)).nonzero()[0]
        if borders.features[i]["properties"].get("sources")
    )
    props = borders.features[row]["properties"]
    click_feature(page, props["id"])
    text = page.page.inner_text(".leaflet-popup-content")
    assert props["name"] in text
    assert props["status"] in text
    assert props["accuracy"] in text
    shown = re.search(r"Length\s*([\d,.]+) km \(geodesic, WGS84\)", text)
    assert shown and float(shown.group(1).replace(",", "")) == pytest.approx(
        borders.length_km[row], abs=0.06
    )
    for source in props["sources"]:
        assert source in text
    for bound in ("valid_from", "valid_to"):
        if props[bound]:
            assert props[bound] in text


def test_phone_sized_screen(browser, live_server):
    phone = Page(browser, live_server.url, viewport=(375, 667))
    phone.open("?date=2021-06-01")
    phone.wait_drawn("2021-06-01")
    box = phone.page.locator("#gs-controls").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert box["y"] + box["height"] <= 667
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 375
    assert phone.page.locator("#gs-legend").get_attribute("open") is None  # folded on phones
    phone.page.click("#gs-legend summary")
    legend = phone.page.locator("#gs-legend").bounding_box()
    assert legend["x"] + legend["width"] <= 375
    overlap = not (
        legend["y"] + legend["height"] <= box["y"] or box["y"] + box["height"] <= legend["y"]
    )
    assert not overlap, "the open legend covers the date panel"
    phone.screenshot("map-phone-2021-06-01.png")
    assert phone.console_errors == [] and phone.page_errors == []
    phone.close()


def test_phone_date_panel_folds_and_credits_stay_visible(browser, live_server):
    """On a 390x844 phone the date panel is a compact strip (More opens compare and lengths)
    and the OSM and Natural Earth credits show in full, uncovered."""
    phone = Page(browser, live_server.url, viewport=(390, 844))
    phone.open("?date=2021-06-01")
    phone.wait_drawn("2021-06-01")
    panel = phone.page.locator("#gs-controls").bounding_box()
    assert panel["height"] <= 844 / 8, panel  # folded: the date, its buttons, the slider
    assert not phone.page.locator("#gs-readout").is_visible()
    credits = phone.page.locator(".leaflet-control-attribution")
    text = credits.inner_text()
    assert "OpenStreetMap" in text and "Natural Earth" in text
    box = credits.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    for selector in ("#gs-controls", "#gs-search", "#gs-heading", "#gs-legend"):
        other = phone.page.locator(selector).bounding_box()
        apart = (
            other["y"] + other["height"] <= box["y"]
            or box["y"] + box["height"] <= other["y"]
            or other["x"] + other["width"] <= box["x"]
            or box["x"] + box["width"] <= other["x"]
        )
        assert apart, f"{selector} covers the credits"
    phone.page.click("#gs-more")
    assert phone.page.locator("#gs-readout").is_visible()
    assert phone.page.get_attribute("#gs-more", "aria-expanded") == "true"
    opened = phone.page.locator("#gs-controls").bounding_box()
    assert opened["y"] + opened["height"] <= 844 and opened["height"] > panel["height"]
    phone.close()


def test_online_basemap_fails_harmlessly(page, catalog):
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    page.page.hover(".leaflet-control-layers")
    # Leaflet's layer control redraws its inputs when a layer is added, so the element clicked
    # may be replaced: click, then wait for the (new) input to be checked.
    page.page.get_by_label("OpenStreetMap (online)").dispatch_event("click")
    page.page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-control-layers-selector')]"
        ".some(e => e.checked && e.parentElement.textContent.includes('OpenStreetMap'))"
    )
    page.page.wait_for_function(
        "document.getElementById('gs-status').textContent.includes('basemap')"
    )
    assert page.blocked  # tiles were asked for and refused
    assert page.page_errors == []
    assert_drawn_as_catalog(page, catalog, "2021-06-01")


XSS_IMG = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
#: Fields left as they are: ids and dates (they must parse), vocabularies (they pick styles).
KEEP = {
    "id",
    "valid_from",
    "valid_to",
    "date",
    "end_date",
    "status",
    "kind",
    "accuracy",
    "area_kind",
    "part",
    "corridor",
    "mission",
    "iso3",
    "country",
}


def poison(props: dict) -> None:
    """Markup in every text field (strings and lists of strings) of a feature's properties."""
    for key, value in props.items():
        if key in KEEP:
            continue
        if isinstance(value, str) or value is None:
            props[key] = f"{XSS_NAME} {XSS_IMG} {key}"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            props[key] = [*value, XSS_IMG, "<script>window.__xss=1</script>"]


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory, catalog):
    """An app on a copy of the data where one feature of every layer (valid on XSS_DAY where
    one is) has markup in every text field."""
    _require_browser()
    data = tmp_path_factory.mktemp("geodata")
    for name in catalog.directory.iterdir():
        if name.suffix in (".geojson", ".json"):
            shutil.copy(name, data / name.name)
    victims = {}
    for layer_id in LAYERS:
        path = data / f"{layer_id}.geojson"
        doc = json.loads(path.read_text())
        valid = [
            f
            for f in doc["features"]
            if timeline.is_valid_on(
                f["properties"].get("valid_from"), f["properties"].get("valid_to"), XSS_DAY
            )
        ]
        victim = (valid or doc["features"])[0]
        poison(victim["properties"])
        victims[layer_id] = victim["properties"]["id"]
        path.write_text(json.dumps(doc))
    server = LiveServer(create_app({"CATALOG": load_catalog(data)}))
    yield server, victims
    server.close()


def hover_and_click_everything(page: Page, selector: str) -> None:
    """Hover and click every drawn path (tooltips and popups open), then wait a little."""
    page.page.evaluate(
        """selector => { for (const p of [...document.querySelectorAll(selector)].slice(0, 80)) {
                 for (const type of ["mouseover", "mousemove", "click"]) {
                   const r = p.getBoundingClientRect();
                   p.dispatchEvent(new MouseEvent(type, {bubbles: true,
                     clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));
                 } } }""",
        selector,
    )
    page.page.wait_for_timeout(300)


def assert_no_script_ran(page: Page, url: str) -> None:
    assert page.page.evaluate("window.__xss === undefined"), f"script from data ran on {url}"
    assert page.dialogs == [], url
    assert page.page_errors == [], url


def test_markup_in_data_renders_as_text_on_the_map(browser, broken_server):
    server, victims = broken_server
    page = Page(browser, server.url)
    page.open(f"?date={XSS_DAY}")
    page.wait_drawn(XSS_DAY.isoformat())
    click_feature(page, victims["borders"])
    popup = page.page.locator(".leaflet-popup-content")
    assert popup.locator("h3").inner_text().startswith(XSS_NAME)
    assert XSS_IMG in popup.inner_text()
    assert popup.locator("script, b, img").count() == 0
    hover_and_click_everything(page, "path.gs-feature")
    page.page.fill("#gs-search-input", "Border of")
    page.page.press("#gs-search-input", "Enter")
    page.page.wait_for_timeout(300)
    assert page.page.locator(".gs-label img, .gs-label script, #gs-summary img").count() == 0
    assert_no_script_ran(page, "/")
    page.close()


def test_markup_in_data_runs_on_no_api_page(browser, broken_server):
    server, victims = broken_server
    urls = ["/api?f=html", "/api/collections?f=html", "/api/conformance?f=html"]
    for layer_id, victim in victims.items():
        urls += [
            f"/api/collections/{layer_id}?f=html",
            f"/api/collections/{layer_id}/queryables?f=html",
            f"/api/collections/{layer_id}/items?f=html&limit=50",
            f"/api/collections/{layer_id}/items/{victim}?f=html",
        ]
    page = Page(browser, server.url)
    for url in urls:
        # The features are embedded in the page and drawn by its scripts before "load"; only
        # the (non-interactive) country background arrives later.
        page.page.goto(server.url + url, wait_until="load")
        hover_and_click_everything(page, "#map path.leaflet-interactive")
        assert page.page.locator("table img, table script, .leaflet-tooltip img").count() == 0, url
        assert_no_script_ran(page, url)
    page.close()


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        _require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        _require_browser()


# --- reading the map -----------------------------------------------------------------------


def labels_drawn(page: Page) -> int:
    page.page.wait_for_function("document.querySelector('.gs-label-pane').dataset.count")
    return page.count(".gs-label")


def test_opening_view_includes_moldova_to_kyrgyzstan_with_labels(browser, live_server, catalog):
    page = Page(browser, live_server.url, viewport=(1400, 900))
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    page.page.wait_for_selector("html[data-gs-places]", state="attached")  # towns come last
    bounds = page.page.evaluate(
        "(() => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const b = m.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )
    assert bounds[0] <= 26.7 and bounds[2] >= 80.2  # Moldova's west, Kyrgyzstan's east
    labels = page.page.locator(".gs-label").all_inner_texts()
    for name in ("MOLDOVA", "KYRGYZSTAN", "ARMENIA", "AZERBAIJAN"):
        assert any(name in text.upper() for text in labels), name
    opening = labels_drawn(page)
    # every breakaway entity and held area of the day has its label (not pockets of the host)
    areas = catalog["disputed_areas"]
    day = dt.date(2021, 6, 1)
    rows = (areas.valid(day) & views.view_mask(areas, DEFAULT_VIEW)).nonzero()[0]
    held = {
        area_label_text(p, "en")
        for p in (areas.features[i]["properties"] for i in rows)
        if p["area_kind"] == "held_area" and p["held_by"] not in p["countries"]
    }
    assert {"Abkhazia", "South Ossetia", "Transnistria", "Crimea"} <= held
    assert held <= set(page.page.locator(".gs-label-area").all_inner_texts())
    page.page.goto(live_server.url + "/?date=2021-06-01#8/39.8/46.7")
    page.wait_drawn("2021-06-01")
    page.page.wait_for_selector("html[data-gs-places]", state="attached")
    page.page.wait_for_function(MAP_AT_REST, polling="raf", timeout=5000)
    karabakh = labels_drawn(page)
    texts = page.page.locator(".gs-label").all_inner_texts()
    assert any("Stepanakert / Khankendi" in t for t in texts)  # both names of a contested town
    assert 8 <= opening <= 150 and 5 <= karabakh <= 150
    # decluttered: no two labels overlap
    boxes = page.page.evaluate(
        "[...document.querySelectorAll('.gs-label')].map(e => {"
        " const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_x = min(a[2], b[2]) - max(a[0], b[0])
            overlap_y = min(a[3], b[3]) - max(a[1], b[1])
            assert overlap_x <= 2 or overlap_y <= 2, (a, b)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "labels.json").write_text(
        json.dumps({"opening": opening, "karabakh_z8": karabakh})
    )
    page.close()


def test_heading_writes_the_date_out(page):
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    heading = page.page.inner_text("#gs-heading")
    assert "1 June 2021" in heading and "km of international border disputed" in heading
    # the view: the heading's selector, on the default view
    shown = page.page.evaluate("document.querySelector('#gs-view').selectedOptions[0].textContent")
    assert shown.lower().startswith("on the ground")


#: True once the map has not moved for two animation frames and no popup is shown (open or
#: fading out).
MAP_AT_REST = """() => {
    const pane = document.querySelector(".leaflet-map-pane");
    const now = pane.style.transform;
    const still = window.__gsLastTransform === now;
    window.__gsLastTransform = now;
    return still && !document.querySelector(".leaflet-popup")
        && !document.querySelector(".leaflet-pan-anim, .leaflet-zoom-anim");
}"""


@pytest.mark.parametrize(
    "day,feature_id,view",
    [
        ("2021-06-01", "NK-loc-2020", "#9/39.8/46.8"),
        ("2000-01-01", "GEO-abkhazia-line-1993-09-30-de-facto", "#9/42.55/41.95"),
        # the Isfara valley near Vorukh: other lines' hit areas lie within 8 px (nearest wins)
        ("2022-09-01", None, "#9/39.95/70.6"),
    ],
)
def test_dashed_lines_take_nine_clicks_in_ten(browser, live_server, catalog, day, feature_id, view):
    """Real mouse clicks at ten points along a dashed line open that line's popup."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = Page(browser, live_server.url, viewport=(1400, 900))
    for _ in [0]:
        page.page.goto(f"{live_server.url}/?date={day}{view}")
        page.wait_drawn(day)
        if feature_id is None:  # the Isfara valley's disputed stretch
            feature_id = next(i for i in page.drawn()["borders"] if i.startswith("KGZ-TJK-isfara"))
        name = catalog["borders"].features[catalog["borders"].index_by_id[feature_id]][
            "properties"
        ]["name"]
        hits = 0
        for k in range(1, 11):
            # the k-th of ten points along the drawn line, measured again before each click once
            # the map has stopped moving (an open popup may have panned it) and the last popup
            # has gone
            page.page.wait_for_function(MAP_AT_REST, polling="raf", timeout=5000)
            x, y = page.page.evaluate(
                """([id, k]) => { const p = [...document.querySelectorAll("path.gs-feature")]
                         .find(e => e.getAttribute("data-id") === id);
                       const q = p.getPointAtLength(p.getTotalLength() * k / 11);
                       const m = p.getScreenCTM(); return [q.x * m.a + m.e, q.y * m.d + m.f]; }""",
                [feature_id, k],
            )
            page.page.mouse.click(x + 2, y + 3)  # a little off the line, as a hand clicks
            try:  # a popup opens, or the click fell through (a miss)
                page.page.wait_for_selector(".leaflet-popup-content h3", timeout=2000)
            except PlaywrightTimeout:
                pass
            titles = page.page.locator(".leaflet-popup-content h3").all_inner_texts()
            hits += titles == [name]
            page.page.evaluate("document.querySelector('.leaflet-popup-close-button')?.click()")
        print(f"{feature_id}: {hits} of 10")
        assert hits >= 9, f"{feature_id}: {hits} of 10 clicks opened its popup"
    page.close()


def test_slider_ticks_play_and_keyboard(page, catalog):
    page.open("?date=2020-09-26")
    page.wait_drawn("2020-09-26")
    ticks = int(page.page.get_attribute("#gs-slider", "data-ticks"))
    assert ticks >= len(catalog["events"].features) // 2
    page.page.focus("#gs-slider")
    page.page.keyboard.press("PageUp")
    page.wait_drawn("2020-09-27")  # the second war began: an event and a change in the data
    page.page.keyboard.press("PageDown")
    page.page.wait_for_function("document.getElementById('gs-date').value < '2020-09-27'")
    page.page.click("#gs-play")
    page.page.wait_for_function("document.getElementById('gs-date').value > '2020-09-27'")
    page.page.click("#gs-play")  # pause
    drawn = page.drawn()
    assert drawn.get("events") or drawn.get("borders")


def test_compare_mode_shows_what_changed(page):
    page.open("?date=2020-12-01")
    page.wait_drawn("2020-12-01")
    page.page.fill("#gs-compare-date", "2020-09-26")
    page.page.check("#gs-compare")
    page.page.wait_for_selector('#gs-changes[data-from="2020-09-26"]')
    text = page.page.inner_text("#gs-changes")
    assert "Azerbaijan" in text and "km²" in text
    assert page.count("path.gs-began") > 0  # what is new since 26 September is highlighted


def test_api_items_page_fits_a_phone(browser, live_server):
    phone = Page(browser, live_server.url, viewport=(390, 844))
    phone.page.goto(live_server.url + "/api/collections/borders/items?f=html&datetime=2021-06-01")
    phone.page.wait_for_load_state("networkidle")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    strokes = phone.page.evaluate(
        "[...new Set([...document.querySelectorAll('#map path.gs-borders')]"
        ".map(p => p.getAttribute('stroke')))]"
    )
    assert len(strokes) >= 2  # styled by status, not all one colour
    assert phone.page.locator("a[href='/']").count() >= 1  # back to the map
    assert phone.page_errors == []
    phone.close()


@pytest.mark.parametrize(
    "query,place_id",
    [("Shusha", "AZE-shusha"), ("Lachin", "AZE-lachin"), ("Vorukh", "TJK-vorukh")],
)
def test_search_flies_to_a_place_under_the_pages_csp(
    browser, live_server, catalog, query, place_id
):
    """Typing a town and pressing Enter flies the map there and shows its label; the page runs
    under its own CSP (no bypass): no violation, handlers added by script only."""
    page = Page(browser, live_server.url, viewport=(1400, 900), bypass_csp=False)
    page.open("?date=2021-06-01")
    page.wait_drawn("2021-06-01")
    page.page.wait_for_selector("#gs-search-list option", state="attached")  # towns loaded
    places = catalog["places"]
    lon, lat = places.features[places.index_by_id[place_id]]["geometry"]["coordinates"]
    page.page.fill("#gs-search-input", query)
    page.page.press("#gs-search-input", "Enter")
    page.page.wait_for_selector("#gs-search[data-found]", timeout=20_000)
    found = page.page.get_attribute("#gs-search", "data-found")
    assert found.startswith(query)
    view = page.page.evaluate(
        "(() => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const c = m.getCenter(); return [c.lng, c.lat, m.getZoom()]; })()"
    )
    assert abs(view[0] - lon) < 0.05 and abs(view[1] - lat) < 0.05, view
    assert view[2] >= 9
    labels = page.page.locator(".gs-label-town").all_inner_texts()
    assert any(text.startswith(query) for text in labels), labels
    assert page.csp_violations() == [] and page.page_errors == []
    page.close()


def test_view_selector_reloads_the_layers_in_that_view_with_the_keyboard(
    browser, live_server, catalog
):
    p = Page(browser, live_server.url)
    requests: list[str] = []
    p.page.on("request", lambda r: requests.append(r.url))
    p.open("?date=2015-01-01")
    p.wait_drawn("2015-01-01")
    assert p.page.input_value("#gs-view") == DEFAULT_VIEW
    p.page.focus("#gs-view")
    with p.page.expect_navigation():
        p.page.keyboard.press("End")  # the last view: the Government of Ukraine's
    p.wait_drawn("2015-01-01")
    assert "view=UKR" in p.page.url and p.page.input_value("#gs-view") == "UKR"
    shown = p.page.evaluate("document.querySelector('#gs-view').selectedOptions[0].textContent")
    assert shown == "Government of Ukraine"  # the heading's selector shows the view drawn
    p.screenshot("view-selector-ukr.png")
    items = [u for u in requests if "/items?" in u and "view=UKR" in u]
    assert len(items) >= len(LAYER_ORDER) - 1
    date = dt.date(2015, 1, 1)
    drawn = p.drawn()
    for layer_id in ("borders", "disputed_areas"):
        layer = catalog[layer_id]
        rows = (layer.valid(date) & views.view_mask(layer, "UKR")).nonzero()[0]
        want = sorted(layer.features[i]["properties"]["id"] for i in rows)
        assert sorted(drawn.get(layer_id, [])) == want, layer_id
    assert not any(i.startswith("UKR-crimea-line") for i in drawn["borders"])  # not drawn
    assert not p.page_errors and not p.console_errors
    p.close()
