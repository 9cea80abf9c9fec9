"""OGC API - Features at /api on the shipped data: resources, filters, paging, formats, errors."""

from __future__ import annotations

import datetime as dt
import gzip
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import pytest
import shapely

from geoservice import timeline
from geoservice.app import create_app
from geoservice.layers import LAYERS
from geoservice.ogcapi import CONFORMANCE
from geoservice.views import in_view
from geoservice.vocabulary import DEFAULT_VIEW, STATUSES, VIEWS

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture(scope="module")
def app(catalog):
    return create_app({"CATALOG": catalog})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def get_json(client, url, status=200, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.data[:500])
    return orjson.loads(response.data)


def assert_problem(response, status):
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "application/problem+json"
    body = orjson.loads(response.data)
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["detail"] and "Traceback" not in body["detail"]
    return body


def local(href: str) -> str:
    """A link's path and query, for the test client."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def all_items(client, layer_id, **params):
    query = "&".join(f"{k}={v}" for k, v in {**params, "limit": 10000}.items())
    return get_json(client, f"/api/collections/{layer_id}/items?{query}")


def ids(doc):
    return [f["id"] for f in doc["features"]]


# --- landing, conformance, collections -----------------------------------------------------


def test_landing_links_resolve(client):
    doc = get_json(client, "/api")
    rels = {link["rel"] for link in doc["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= rels
    for link in doc["links"]:
        response = client.get(local(link["href"]))
        assert response.status_code == 200, link
        assert response.mimetype == link["type"].split(";")[0], link


def test_conformance_classes(client):
    doc = get_json(client, "/api/conformance")
    assert doc["conformsTo"] == CONFORMANCE
    for name in ("core", "geojson", "html", "oas30"):
        assert any(c.endswith(f"/conf/{name}") for c in doc["conformsTo"])


def test_collections_have_extents_of_the_data(client, catalog):
    doc = get_json(client, "/api/collections")
    assert [c["id"] for c in doc["collections"]] == list(LAYERS)
    for coll in doc["collections"]:
        data = catalog[coll["id"]]
        bbox = coll["extent"]["spatial"]["bbox"][0]
        assert bbox == pytest.approx(list(data.frame.total_bounds))
        start, end = coll["extent"]["temporal"]["interval"][0]
        starts, ends = list(data.frame["valid_from"]), list(data.frame["valid_to"])
        assert start == (None if None in starts else f"{min(starts)}T00:00:00Z")
        assert end == (None if None in ends else f"{max(ends)}T00:00:00Z")
        rels = {(link["rel"], link["type"]) for link in coll["links"]}
        assert ("items", "application/geo+json") in rels and ("items", "text/html") in rels


def test_collection_and_queryables(client):
    coll = get_json(client, "/api/collections/borders")
    assert coll["id"] == "borders" and coll["itemType"] == "feature"
    q = get_json(client, "/api/collections/borders/queryables")
    # What filter= and sortby= may name: the layer's queryables, id, name, dates, geometry.
    assert set(q["properties"]) == {
        *LAYERS["borders"].queryables,
        *("id", "name", "valid_from", "valid_to", "geometry"),
    }
    assert set(q["properties"]["status"]["enum"]) == set(STATUSES)
    assert "KGZ" in q["properties"]["countries"]["items"]["enum"]


# --- items: every feature, served as in the file with measures -----------------------------


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_items_are_the_file_features_with_geodesic_measures(client, catalog, layer_id):
    """Every view together serves every feature of the file, each with its measures."""
    data = catalog[layer_id]
    served_by_id = {}
    for view in VIEWS:
        doc = all_items(client, layer_id, view=view)
        assert doc["type"] == "FeatureCollection"
        assert doc["numberMatched"] == doc["numberReturned"]
        expected = [f["properties"]["id"] for f in data.features if in_view(f["properties"], view)]
        assert ids(doc) == expected
        served_by_id.update({f["id"]: f for f in doc["features"]})
    dt.datetime.strptime(doc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert len(served_by_id) == len(data.features)
    for row, original in enumerate(data.features):
        served = served_by_id[original["properties"]["id"]]
        assert served["geometry"] == original["geometry"]
        props = dict(served["properties"])
        length, area = props.pop("length_km", None), props.pop("area_km2", None)
        assert props == original["properties"]
        kind = original["geometry"]["type"]
        if kind in ("LineString", "MultiLineString"):
            assert length == pytest.approx(data.length_km[row], abs=1e-3) and length > 0
        if kind in ("Polygon", "MultiPolygon"):
            assert area == pytest.approx(data.area_km2[row], abs=1e-3) and area > 0


def test_kgz_tjk_border_length_from_served_properties(client):
    """The served length_km adds up to the real border (about 890 km, FACTS)."""
    doc = all_items(
        client, "borders", countries="KGZ,TJK", datetime="2022-09-01", kind="international"
    )
    total = sum(f["properties"]["length_km"] for f in doc["features"])
    assert 850 < total < 1000
    engine = get_json(client, "/api/lengths?countries=KGZ,TJK&as_of=2022-09-01")
    assert total == pytest.approx(engine["total_km"], abs=0.01)
    statuses = {f["properties"]["status"] for f in doc["features"]}
    assert statuses == {"settled", "disputed"}


def test_item_is_the_file_feature(client, catalog):
    data = catalog["corridor_routes"]
    for original in data.features:
        fid = original["properties"]["id"]
        doc = get_json(client, f"/api/collections/corridor_routes/items/{fid}")
        assert doc["id"] == fid and doc["geometry"] == original["geometry"]
        rels = {link["rel"] for link in doc["links"]}
        assert {"self", "alternate", "collection"} <= rels


# --- filters ---------------------------------------------------------------------------------


def expected_ids(data, keep, view=DEFAULT_VIEW):
    """Ids of the features a request in ``view`` (default: the default view) should return."""
    return [
        f["properties"]["id"]
        for f in data.features
        if keep(f["properties"]) and in_view(f["properties"], view)
    ]


@pytest.mark.parametrize(
    "value", ["2022-09-01", "2025-06-01", "1995-01-01", "2022-09-01T12:00:00Z"]
)
def test_datetime_instant(client, catalog, value):
    data = catalog["borders"]
    day = timeline.parse_date(value)
    want = expected_ids(
        data, lambda p: timeline.is_valid_on(p.get("valid_from"), p.get("valid_to"), day)
    )
    assert ids(all_items(client, "borders", datetime=value)) == want


@pytest.mark.parametrize(
    "value, start, end",
    [
        ("2020-01-01/2021-01-01", "2020-01-01", "2021-01-01"),
        ("../2000-01-01", None, "2000-01-01"),
        ("2024-06-01/..", "2024-06-01", None),
        ("../..", None, None),
    ],
)
def test_datetime_interval_with_open_ends(client, catalog, value, start, end):
    for layer_id in ("borders", "corridor_routes", "mission_areas", "control_areas"):
        data = catalog[layer_id]

        def meets(p):
            # [valid_from, valid_to) meets [start, end]
            before_end = end is None or p.get("valid_from") is None or p["valid_from"] <= end
            after_start = start is None or p.get("valid_to") is None or p["valid_to"] > start
            return before_end and after_start

        assert ids(all_items(client, layer_id, datetime=value)) == expected_ids(data, meets)


def test_lachin_corridor_dates(client):
    during = ids(all_items(client, "corridor_routes", corridor="lachin", datetime="2021-06-01"))
    after = ids(all_items(client, "corridor_routes", corridor="lachin", datetime="2023-01-01"))
    original = [i for i in during if "original" in i]
    assert original and not any("original" in i for i in after)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/api/collections/corridors", "/api/collections/corridor_routes"),
        (
            "/api/collections/corridors/items?corridor=lachin&limit=3",
            "/api/collections/corridor_routes/items?corridor=lachin&limit=3",
        ),
        (
            "/api/collections/corridors/items/lachin-original-band",
            "/api/collections/corridor_bands/items/lachin-original-band",
        ),
        (
            "/api/collections/peacekeeping_zones/items/RU-TR-JMC",
            "/api/collections/mission_posts/items/RU-TR-JMC",
        ),
        (
            "/api/collections/peacekeeping_zones/queryables",
            "/api/collections/mission_areas/queryables",
        ),
    ],
)
def test_old_collection_ids_redirect_to_their_successors(client, old, new):
    response = client.get(old)
    assert response.status_code == 308
    assert response.headers["Location"].endswith(new)
    followed = client.get(old, follow_redirects=True)
    assert followed.status_code == 200
    assert get_json(client, new) == orjson.loads(followed.data) or "items" in new
    listed = [c["id"] for c in get_json(client, "/api/collections")["collections"]]
    assert "corridors" not in listed and "peacekeeping_zones" not in listed


def test_property_filters(client, catalog):
    data = catalog["borders"]
    disputed = all_items(client, "borders", status="disputed")
    assert ids(disputed) == expected_ids(data, lambda p: p["status"] == "disputed")
    assert disputed["features"]
    kgz = all_items(client, "borders", countries="KGZ")
    assert ids(kgz) == expected_ids(data, lambda p: "KGZ" in p["countries"])
    pair = all_items(client, "borders", countries="KGZ,TJK", status="disputed")
    assert ids(pair) == expected_ids(
        data, lambda p: {"KGZ", "TJK"} <= set(p["countries"]) and p["status"] == "disputed"
    )
    either = all_items(client, "borders", kind="line_of_contact,de_facto")
    assert ids(either) == expected_ids(data, lambda p: p["kind"] in ("line_of_contact", "de_facto"))
    nothing = all_items(client, "borders", countries="KGZ,AZE")
    assert nothing["numberMatched"] == 0 and nothing["features"] == []


def test_bbox_matches_geometry_intersection(client, catalog):
    bbox = (45.5, 39.0, 47.0, 40.5)  # Karabakh
    for layer_id in LAYERS:
        data = catalog[layer_id]
        box = shapely.box(*bbox)
        want = [  # the features of the default view (on the ground) in the box
            f["properties"]["id"]
            for f, g in zip(data.features, data.frame.geometry)
            if g.intersects(box) and in_view(f["properties"], DEFAULT_VIEW)
        ]
        got = ids(all_items(client, layer_id, bbox=",".join(map(str, bbox))))
        assert got == want
    six = all_items(client, "borders", bbox="45.5,39,0,47,40.5,100")
    assert ids(six) == ids(all_items(client, "borders", bbox="45.5,39,47,40.5"))
    # Crossing the antimeridian is a valid box (nothing of this region in it).
    assert all_items(client, "borders", bbox="170,-10,-170,10")["numberMatched"] == 0


# --- paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_walking_next_links_returns_every_feature_once(client, catalog, layer_id):
    """Paging keeps the view: in Russia's view, every feature of that view once."""
    want = expected_ids(catalog[layer_id], lambda p: True, view="RUS")
    seen = []
    url = f"/api/collections/{layer_id}/items?limit=4&view=RUS"
    pages = 0
    while url:
        doc = get_json(client, url)
        assert doc["numberReturned"] == len(doc["features"]) <= 4
        assert doc["numberMatched"] == len(want)
        seen += ids(doc)
        nxt = [link for link in doc["links"] if link["rel"] == "next"]
        url = local(nxt[0]["href"]) if nxt else None
        pages += 1
        assert pages <= len(want) // 4 + 1  # no endless loop
    assert seen == want


def test_paging_keeps_filters_and_prev_goes_back(client):
    first = get_json(client, "/api/collections/borders/items?status=disputed&limit=2")
    nxt = next(link for link in first["links"] if link["rel"] == "next")
    query = parse_qs(urlsplit(nxt["href"]).query)
    assert query["status"] == ["disputed"] and query["offset"] == ["2"]
    second = get_json(client, local(nxt["href"]))
    prev = next(link for link in second["links"] if link["rel"] == "prev")
    assert ids(get_json(client, local(prev["href"]))) == ids(first)
    assert not any(link["rel"] == "prev" for link in first["links"])


def test_default_limit_and_offset_past_the_end(client):
    doc = get_json(client, "/api/collections/borders/items")
    assert doc["numberReturned"] == min(100, doc["numberMatched"])
    past = get_json(client, "/api/collections/borders/items?offset=100000")
    assert past["numberReturned"] == 0 and past["features"] == []
    assert past["numberMatched"] == doc["numberMatched"]


# --- formats, caching, compression, CORS ------------------------------------------------------


HTML_PAGES = [
    "/api",
    "/api/conformance",
    "/api/collections",
    "/api/collections/borders",
    "/api/collections/borders/queryables",
    "/api/collections/borders/items",
    "/api/collections/corridor_routes/items/lachin-original-centreline",
    "/api/openapi",
]


@pytest.mark.parametrize("url", HTML_PAGES)
def test_every_resource_in_html_by_f_and_by_accept(client, url):
    by_f = client.get(url + ("&" if "?" in url else "?") + "f=html")
    by_accept = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    for response in (by_f, by_accept):
        assert response.status_code == 200 and response.mimetype == "text/html"
        assert b"<html" in response.data
    as_json = client.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == 200 and as_json.mimetype != "text/html"
    orjson.loads(as_json.data)


def test_html_pages_link_onward_and_map_with_local_leaflet(client):
    page = client.get("/api?f=html").data.decode()
    assert "/api/collections?f=html" in page
    page = client.get("/api/collections?f=html").data.decode()
    assert "/api/collections/borders?f=html" in page
    page = client.get("/api/collections/borders?f=html").data.decode()
    assert "/api/collections/borders/items?f=html" in page
    page = client.get("/api/collections/borders/items?f=html&limit=5").data.decode()
    assert "/api/collections/borders/items/" in page and 'rel="next"' in page
    for url in (
        "/api/collections/borders/items?f=html",
        "/api/collections/corridor_routes/items/lachin-original-centreline?f=html",
    ):
        page = client.get(url).data.decode()
        assert 'src="/static/leaflet/leaflet.js"' in page
        assert 'href="/static/leaflet/leaflet.css"' in page
        # the map is drawn by a script file from the package (no inline script, no CDN)
        assert "/static/webmap/apimap.js" in page and "https://" not in page.split("<body>")[0]
        assert 'type="application/json" id="geojson"' in page
    assert b"L.geoJSON" in client.get("/static/webmap/apimap.js").data
    for asset in ("leaflet.js", "leaflet.css"):
        assert client.get(f"/static/leaflet/{asset}").status_code == 200


def test_etag_and_cache_control(client):
    url = "/api/collections/borders/items?limit=3"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert etag and "max-age" in first.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/api/collections/borders/items?limit=4")
    assert other.headers["ETag"] != etag
    html = client.get(url + "&f=html")
    assert html.headers["ETag"] != etag
    for url in (
        "/api/collections/borders",
        "/api/collections/borders/queryables",
        "/api/collections/borders/items/" + ids(orjson.loads(first.data))[0],
    ):
        response = client.get(url)
        assert response.headers.get("ETag") and response.headers.get("Cache-Control")


def test_gzip_when_asked(client):
    url = "/api/collections/borders/items?limit=50"
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.data) < len(plain.data) / 2
    a, b = orjson.loads(gzip.decompress(zipped.data)), orjson.loads(plain.data)
    assert ids(a) == ids(b)


def test_cors(client):
    origin = "http://qgis.example"
    response = client.get("/api/collections", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    pre = client.options(
        "/api/collections/borders/items",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 200 and pre.headers["Access-Control-Allow-Origin"] in ("*", origin)


def test_openapi_document_describes_every_collection(client):
    response = client.get("/api/openapi")
    assert response.mimetype == "application/vnd.oai.openapi+json"
    doc = orjson.loads(response.data)
    assert doc["openapi"].startswith("3.0")
    for layer_id in LAYERS:
        for suffix in ("", "/items", "/items/{featureId}", "/queryables"):
            assert f"/collections/{layer_id}{suffix}" in doc["paths"]
    assert {"/lengths", "/overlaps"} <= set(doc["paths"])
    assert "post" in doc["paths"]["/overlaps"]


# --- bad input: 400 / 404 with a problem body, never 500 --------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=10001",
        "limit=abc",
        "limit=",
        "limit=1.5",
        "offset=-1",
        "offset=x",
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=nan,0,1,1",
        "bbox=0,0,inf,1",
        "bbox=-181,0,1,1",
        "bbox=",
        "bbox=1,2,3,4,5",
        "datetime=2022-13-01",
        "datetime=yesterday",
        "datetime=2023-01-01/2022-01-01",
        "datetime=a/b/c",
        "datetime=",
        "datetime=2022-02-30",
        "status=bogus",
        "kind=border",
        "accuracy=perfect",
        "countries=",
        "status=",
        "foo=1",
        "limit=1&limit=2",
        "f=xml",
        "crs=EPSG:3857",
        "bbox-crs=EPSG:3857",
        "name=Foo",
    ],
)
def test_bad_items_queries_are_400(client, query):
    body = assert_problem(client.get(f"/api/collections/borders/items?{query}"), 400)
    assert query.split("=")[0].split("&")[0] in body["detail"] or "datetime" in body["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api?foo=1",
        "/api/conformance?limit=1",
        "/api/collections?bbox=1,2,3,4",
        "/api/collections/borders?x=1",
        "/api/collections/borders/queryables?f=pdf",
        "/api/collections/borders/items/KGZ-TJK-alay-1?limit=1",
        "/api/openapi?f=yaml",
    ],
)
def test_unknown_parameters_elsewhere_are_400(client, url):
    assert_problem(client.get(url), 400)


@pytest.mark.parametrize(
    "url",
    [
        "/api/collections/nope",
        "/api/collections/nope/items",
        "/api/collections/nope/queryables",
        "/api/collections/borders/items/no-such-feature",
        "/api/collections/nope/items/x",
        "/api/nothing",
        "/nothing/at/all",
    ],
)
def test_unknown_things_are_404(client, url):
    assert_problem(client.get(url), 404)


def test_wrong_method_is_405_problem(client):
    response = client.post("/api/collections")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unexpected_errors_are_logged_500_problems_without_traceback(catalog, caplog):
    app = create_app({"CATALOG": catalog})

    def broken():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/api/broken", "broken", broken)
    response = app.test_client().get("/api/broken")
    body = assert_problem(response, 500)
    assert "secret" not in body["detail"] and b"Traceback" not in response.data
    assert "secret internal detail" in caplog.text


def test_error_table_maps_library_errors_to_400(catalog):
    from geoservice.measure import QueryError
    from geoservice.timeline import TimeError

    app = create_app({"CATALOG": catalog})

    def query_error():
        raise QueryError("unknown layer 'x'")

    def time_error():
        raise TimeError("date 'x' is not a date")

    app.add_url_rule("/api/query-error", "query_error", query_error)
    app.add_url_rule("/api/time-error", "time_error", time_error)
    client = app.test_client()
    assert assert_problem(client.get("/api/query-error"), 400)["detail"] == "unknown layer 'x'"
    assert assert_problem(client.get("/api/time-error"), 400)["title"] == "Bad datetime"


# --- the serve command -------------------------------------------------------------------------


def test_serve_on_a_busy_port_is_one_line_and_exit_2():
    import socket

    from click.testing import CliRunner

    from geoservice.cli import cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"geoservice: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_serve_with_a_missing_data_dir_is_one_line(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "nothing"
    proc = subprocess.run(
        [sys.executable, "-m", "geoservice", "serve", "--data", str(missing)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"geoservice: error: {missing}: no such data directory"


def within_distance(b, a, d: float) -> bool:
    """Whether every point of ``b`` (densified to d/4) lies within ``d`` of ``a`` (same units,
    here degrees): inside ``a``, or near one of its edges. As ``b.within(a.buffer(d))``, without
    buffering large polygons."""
    xy = shapely.get_coordinates(shapely.segmentize(b, d / 4))
    if a.geom_type.endswith("Polygon"):
        shapely.prepare(a)
        xy = xy[~shapely.contains_xy(a, xy[:, 0], xy[:, 1])]
    if not len(xy):
        return True
    parts = shapely.get_parts(shapely.boundary(a) if a.geom_type.endswith("Polygon") else a)
    targets = [
        shapely.linestrings(np.stack([c[:-1], c[1:]], axis=1)) if len(c) > 1 else [part]
        for part, c in ((part, shapely.get_coordinates(part)) for part in parts)
    ]
    points = shapely.points(xy)
    tree = shapely.STRtree(np.concatenate(targets))
    near = tree.query(points, predicate="dwithin", distance=d)
    return len(np.unique(near[0])) == len(points)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_zoom_gives_lighter_display_geometry_with_the_same_features(client, catalog, layer_id):
    full = all_items(client, layer_id, datetime="2021-06-01")
    light = all_items(client, layer_id, datetime="2021-06-01", zoom=5)
    assert ids(light) == ids(full)
    for a, b in zip(full["features"], light["features"]):
        assert a["properties"] == b["properties"]  # lengths and areas of the full geometry
        if a["geometry"] is None:
            continue
        shape_a, shape_b = (
            shapely.geometry.shape(a["geometry"]),
            shapely.geometry.shape(b["geometry"]),
        )
        assert shape_b.geom_type == shape_a.geom_type
        assert shape_b.is_valid
        # within a screen pixel at zoom 5 (0.044 degrees): 0.75 pixel of simplification,
        # the snapping, and topology kept where narrow parts meet; sub-pixel islands drop out
        assert within_distance(shape_b, shape_a, 0.044)  # within one screen pixel at zoom 5
        if shape_a.area > 0:
            # moving the outline by at most 0.75 pixel (0.033 degrees at zoom 5) changes the
            # area by at most outline length x that distance (and the dropped specks)
            assert abs(shape_b.area - shape_a.area) <= max(
                0.03 * shape_a.area, 0.033 * shape_a.length
            )
    # The features, not the document: its links carry the longer query string.
    assert len(orjson.dumps(light["features"])) <= len(orjson.dumps(full["features"]))


def test_zoom_above_the_last_level_is_the_full_geometry(client):
    full = all_items(client, "borders")
    assert all_items(client, "borders", zoom=18)["features"] == full["features"]


@pytest.mark.parametrize("bad", ["-1", "25", "five", "5.5"])
def test_bad_zoom_is_a_400(client, bad):
    assert_problem(client.get(f"/api/collections/borders/items?zoom={bad}"), 400)


def test_no_module_imports_the_app_module_but_its_entry_points():
    """The blueprints take the shared state from the running app (geoservice.state), so the
    app module is imported only by the entry points (command line, WSGI): no import cycle."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "geoservice"
    importers = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "app":
                importers.add(path.name)
    assert importers <= {"cli.py", "wsgi.py"}, importers


def test_a_bbox_past_the_poles_or_upside_down_is_read_as_the_schema_allows(client):
    """Latitudes are clipped at the poles and an upside-down box is turned the right way up:
    the same features as the box it means."""
    url = "/api/collections/borders/items"
    means = client.get(url, query_string={"bbox": "40,38,50,90"}).get_json()
    for text in ("40,38,50,95", "40,95,50,38", "40,90,50,38"):
        got = client.get(url, query_string={"bbox": text}).get_json()
        assert [f["id"] for f in got["features"]] == [f["id"] for f in means["features"]], text
    assert means["numberMatched"] > 0
