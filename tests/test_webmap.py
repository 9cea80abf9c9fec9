"""The web map page at ``/`` and Leaflet at ``/static/leaflet/`` (Flask test client, real app)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import xstatic.pkg.leaflet as xstatic_leaflet

from geoservice.app import create_app
from geoservice.layers import LAYERS
from geoservice.vocabulary import CORRIDOR_STATES, KINDS, SKETCHED_ACCURACIES, STATUSES
from geoservice.webmap import STYLES, legend_entries


class PageParser(HTMLParser):
    """Collects the page's script/stylesheet URLs, the config JSON and the legend's labels."""

    def __init__(self) -> None:
        super().__init__()
        self.resources: list[str] = []
        self.config_text = ""
        self._in_config = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.resources.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.resources.append(attrs["href"])
        if tag in ("img", "iframe") and attrs.get("src"):
            self.resources.append(attrs["src"])
        self._in_config = tag == "script" and attrs.get("id") == "gs-config"

    def handle_endtag(self, tag):
        self._in_config = False

    def handle_data(self, data):
        if self._in_config:
            self.config_text += data


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


@pytest.fixture(scope="module")
def page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    parser = PageParser()
    parser.feed(response.get_data(as_text=True))
    return response.get_data(as_text=True), parser


def test_page_loads_only_local_resources_and_they_are_served(client, page):
    html, parser = page
    assert "/static/leaflet/leaflet.js" in parser.resources
    assert "/static/leaflet/leaflet.css" in parser.resources
    for url in parser.resources:
        if url.startswith("data:"):
            continue  # inline (the empty favicon)
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"page loads {url} from another host"
        assert client.get(url).status_code == 200, url
    # folium's defaults (jQuery, Bootstrap, awesome-markers) are dropped, not just re-pointed.
    lowered = html.lower()
    for name in ("jquery", "bootstrap", "awesome", "cdn."):
        assert name not in lowered


def test_leaflet_is_the_packaged_copy(client):
    base = Path(xstatic_leaflet.BASE_DIR)
    for name in ("leaflet.js", "leaflet.css", "images/layers.png", "images/marker-icon.png"):
        response = client.get(f"/static/leaflet/{name}")
        assert response.status_code == 200, name
        assert response.data == (base / name).read_bytes()
    assert client.get("/static/leaflet/no-such-file.js").status_code == 404
    assert client.get("/static/leaflet/../__init__.py").status_code == 404


def test_style_table_in_page_covers_every_vocabulary_value(page):
    _, parser = page
    config = json.loads(parser.config_text)
    assert config["layers"][0] == "countries"  # the base layer is drawn first (bottom)
    # the gazetteer: labels; CSTO membership: a dated table (points at capitals), API only
    assert set(config["layers"]) == set(LAYERS) - {"places", "csto_members"}
    styles = config["styles"]
    assert set(styles["sketched"]["accuracies"]) == set(SKETCHED_ACCURACIES)
    assert styles["sketched"]["style"]["dashArray"]
    rules = styles["layers"]["borders"]["rules"]
    assert {r["when"]["status"] for r in rules if "status" in r["when"]} == set(STATUSES)
    assert {r["when"]["kind"] for r in rules} == set(KINDS)
    # Each status and kind gets a colour of its own.
    colours = [r["style"]["color"] for r in rules]
    assert len(set(colours)) == len(colours)
    assert {r["when"]["state"] for r in styles["layers"]["corridor_routes"]["rules"]} == set(
        CORRIDOR_STATES
    ) - {"open"}
    assert styles["layers"]["mission_posts"]["shape"] == "point"


def test_legend_explains_every_style(page):
    html, parser = page
    config = json.loads(parser.config_text)
    labels = [label for _, rows in legend_entries() for _, label in rows]
    for spec in config["styles"]["layers"].values():
        for rule in spec["rules"]:
            assert rule["label"] in labels
        for key in ("label", "point_label"):
            if key in spec:
                assert spec[key] in labels
    assert any("dashed" in label.lower() for label in labels)
    for label in labels:
        assert label in html
    for layer_id in config["layers"]:
        assert LAYERS[layer_id].title in html


def test_date_in_url_is_passed_to_the_page(client):
    response = client.get("/?date=2021-06-01")
    parser = PageParser()
    parser.feed(response.get_data(as_text=True))
    assert json.loads(parser.config_text)["date"] == "2021-06-01"
    assert 'value="2021-06-01"' in response.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["2021-13-01", "yesterday", "2021-06-01<script>"])
def test_bad_date_is_a_400_problem(client, bad):
    response = client.get("/", query_string={"date": bad})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400 and body["title"] and body["detail"]


def test_api_answers_the_urls_the_page_asks(client, page):
    """The contract between the page script and the API: the exact URL shapes it fetches."""
    _, parser = page
    config = json.loads(parser.config_text)
    for layer_id in config["layers"]:
        url = config["itemsUrl"].replace("{id}", layer_id)
        response = client.get(f"{url}?limit=10000&f=json&zoom=5")
        assert response.status_code == 200, layer_id
        collection = response.get_json()
        assert collection["type"] == "FeatureCollection"
        for feature in collection["features"]:
            props = feature["properties"]
            assert "name" in props and "accuracy" in props and "sources" in props
            if feature["geometry"]["type"] != "Point":
                assert "length_km" in props or "area_km2" in props
    response = client.get(f"{config['lengthsUrl']}?bbox=26.6,37,80.3,48.6&as_of=2021-06-01")
    assert response.status_code == 200
    by_status = response.get_json()["by_status"]
    for status in config["statuses"]:
        assert by_status[status]["length_km"] >= 0


def test_favicon_and_links_between_map_and_api(client):
    for url in ("/favicon.ico", "/favicon.svg"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    landing = client.get("/api?f=html").get_data(as_text=True)
    assert 'href="/"' in landing
    assert 'href="/api?f=html"' in client.get("/").get_data(as_text=True)


def test_bad_language_is_a_400(client):
    assert client.get("/?lang=xx").status_code == 400
    assert client.get("/?lang=hy").status_code == 200


# Machado, Oliveira and Fernandes (2009), severity 1.0: linear RGB -> what a deuteranope sees.
DEUTERANOPIA = (
    (0.367322, 0.860646, -0.227968),
    (0.280085, 0.672501, 0.047413),
    (-0.011820, 0.042940, 0.968881),
)


def _simulate(hex_colour: str) -> tuple[float, ...]:
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    rgb = [linear(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5)]
    out = [max(0.0, min(1.0, sum(m * v for m, v in zip(row, rgb)))) for row in DEUTERANOPIA]
    return tuple(
        255 * (1.055 * c ** (1 / 2.4) - 0.055 if c > 0.0031308 else 12.92 * c) for c in out
    )


def test_line_colours_stay_apart_for_deuteranopes():
    """The line colours a reader must tell apart, seen through a deuteranopia simulation."""
    rules = STYLES["borders"]["rules"]
    colours = {r["label"]: r["style"]["color"] for r in rules}
    colours["corridor"] = STYLES["corridor_routes"]["style"]["color"]
    colours["peacekeeping"] = STYLES["mission_areas"]["style"]["color"]
    seen = {k: _simulate(v) for k, v in colours.items()}
    names = sorted(seen)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            distance = sum((x - y) ** 2 for x, y in zip(seen[a], seen[b])) ** 0.5
            assert distance > 40, (a, b, distance)
