"""The web map page at ``/`` and Leaflet at ``/static/leaflet/`` (Flask test client, real app)."""

from __future__ import annotations

import itertools
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import colorspacious
import pytest
import xstatic.pkg.leaflet as xstatic_leaflet

from geoservice.app import create_app
from geoservice.layers import LAYERS
from geoservice.vocabulary import CORRIDOR_STATES, KINDS, SKETCHED_ACCURACIES, STATUSES
from geoservice.webmap import LAND, SEA, STYLES, legend_entries


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


#: Colour-vision deficiencies simulated (Machado, Oliveira and Fernandes 2009, severity 100,
#: as colorspacious implements them): protanopia, deuteranopia, tritanopia.
CVD_TYPES = ("protanomaly", "deuteranomaly", "tritanomaly")
#: Smallest CAM02-UCS distance between two status colours as a colour-blind reader sees them
#: (about 1 is a just-noticeable difference; 10 tells two thin lines apart on the map).
MIN_DELTA_E = 10.0


def _legend_styles() -> dict[str, dict[str, dict]]:
    """The status colours the legend shows, from the style table (geoservice/webmap.py):
    every line style by label, and every fill of the held areas, with the land and sea."""
    lines, fills = {}, {"land": {"color": LAND}, "sea": {"color": SEA}}
    for lid, spec in STYLES.items():
        for entry in ([spec] if "label" in spec else []) + spec["rules"]:
            style = {**spec["style"], **entry["style"]}
            if entry.get("shape", spec["shape"]) == "line":
                lines[entry["label"]] = style
            elif lid == "control_areas":
                fills[entry["label"]] = {"color": style["fillColor"]}
    return {"lines": lines, "fills": fills}


#: Drawn alike on purpose: the Karabakh cells Azerbaijan holds, on Azerbaijan's own land, are
#: a shade of the land (their outline tells them apart); the de facto holder's fill stands out.
ALIKE = {frozenset({LAND, STYLES["control_areas"]["style"]["fillColor"]})}


def _rgb(hex_colour: str) -> list[float]:
    return [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]


@pytest.mark.parametrize("cvd", CVD_TYPES)
def test_status_colours_stay_apart_for_colour_blind_readers(cvd):
    """Each pair of distinct status colours of the legend (lines; held-area fills) stays
    MIN_DELTA_E apart in CAM02-UCS through a protanopia, deuteranopia and tritanopia
    simulation; entries sharing a colour differ in their dash or their width."""
    space = {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}
    smallest = []
    for group, styles in _legend_styles().items():
        seen = {
            c: colorspacious.cspace_convert(_rgb(c), space, "sRGB1").clip(0, 1)
            for c in {s["color"] for s in styles.values()}
        }
        assert len(seen) >= 3, group
        for a, b in itertools.combinations(sorted(seen), 2):
            distance = colorspacious.deltaE(seen[a], seen[b], input_space="sRGB1")
            if frozenset({a, b}) in ALIKE:
                continue
            smallest.append((round(float(distance), 1), a, b))
            assert distance > MIN_DELTA_E, (cvd, group, a, b, distance)
        for (la, a), (lb, b) in itertools.combinations(styles.items(), 2):
            if a["color"] == b["color"]:
                assert (a.get("dashArray"), a.get("weight")) != (
                    b.get("dashArray"),
                    b.get("weight"),
                ), (la, lb)
    print(cvd, "smallest CAM02-UCS distance", min(smallest))
