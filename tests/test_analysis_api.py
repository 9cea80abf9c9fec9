"""/api/lengths and /api/overlaps on the shipped data: the engine's answers over HTTP, bad input
as problems (400/413/422), never a 500."""

from __future__ import annotations

import orjson
import pytest
import shapely

from geoservice import measure
from geoservice.app import create_app
from geoservice.settings import settings

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True

PROBLEM_KEYS = {"type", "title", "status", "detail"}

# A box around Lachin town and the original corridor route (lon/lat).
LACHIN_BOX = {
    "type": "Polygon",
    "coordinates": [
        [[46.40, 39.55], [46.70, 39.55], [46.70, 39.75], [46.40, 39.75], [46.40, 39.55]]
    ],
}


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


def ok_json(response):
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/json"
    return orjson.loads(response.data)


def assert_problem(response, status):
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, response.data[:500]
    assert response.mimetype == "application/problem+json"
    body = orjson.loads(response.data)
    assert PROBLEM_KEYS <= set(body) and body["status"] == response.status_code
    assert body["detail"]
    return body


# --- lengths -----------------------------------------------------------------------------------


def held_area_names(catalog, code: str) -> dict:
    """The names of the first area ``code`` holds, as the data has them."""
    for f in catalog["disputed_areas"].features:
        if f["properties"].get("held_by") == code and f["properties"]["area_kind"] == "held_area":
            return f["properties"]["names"]
    raise AssertionError(code)


def test_lengths_label_countries_entities_pairs_and_segments_in_lang(client, catalog):
    url = "/api/lengths?countries=GEO,RUS&as_of=2015-01-01"
    english = ok_json(client.get(url))
    russian = ok_json(client.get(url + "&lang=ru"))
    assert russian["labels"] == {"GEO": "Грузия", "RUS": "Россия"}
    segment_names = {f["id"]: f["properties"]["names"] for f in catalog["borders"].features}
    assert russian["segments"] and all(
        s["label"] == segment_names[s["id"]].get("ru", s["name"]) for s in russian["segments"]
    )
    # the same answer besides the labels; without lang none at all
    assert "labels" not in english and all("label" not in s for s in english["segments"])
    rest = {k: v for k, v in russian.items() if k not in ("labels", "segments")}
    assert rest == {k: v for k, v in english.items() if k != "segments"}
    assert [{k: v for k, v in s.items() if k != "label"} for s in russian["segments"]] == (
        english["segments"]
    )
    # a de facto entity is named from the areas it holds; a pair from its two sides
    for lang in ("ab", "ru"):
        got = ok_json(client.get(f"/api/lengths?countries=ABK&kind=all&lang={lang}"))
        name = held_area_names(catalog, "ABK")[lang]
        assert got["labels"]["ABK"] == name and name != "Abkhazia"
        pair = next(p for p in got["pairs"] if p["countries"] == ["ABK", "GEO"])
        assert pair["label"] == f"{name} – {got['labels']['GEO']}"
    # English where the data has no name in the language (no Ossetian name of Transnistria)
    os_ = ok_json(client.get("/api/lengths?kind=all&segments=false&lang=os"))
    assert os_["labels"]["PMR"] == "Transnistria (Pridnestrovian Moldavian Republic)"
    assert os_["labels"]["SOS"] == held_area_names(catalog, "SOS")["os"]


def test_lengths_and_overlaps_refuse_an_unknown_lang(client):
    assert_problem(client.get("/api/lengths?countries=GEO,RUS&lang=xx"), 400)
    assert_problem(client.get("/api/overlaps?a=borders&b=disputed_areas&lang=xx"), 400)
    assert_problem(client.post("/api/overlaps?lang=xx", json=LACHIN_BOX), 400)


def test_overlaps_label_features_and_codes_in_lang(client, catalog):
    url = "/api/overlaps?a=disputed_areas&b=borders&as_of=2015-01-01"
    english = client.get(url)
    russian = client.get(url + "&lang=ru")
    assert russian.headers["ETag"] != english.headers["ETag"]
    plain, labelled = ok_json(english), ok_json(russian)
    assert "labels" not in plain and all("label" not in h["a"] for h in plain["results"])
    assert labelled["count"] == plain["count"] > 0
    names = {f["id"]: f["properties"]["names"] for f in catalog["disputed_areas"].features}
    for hit in labelled["results"]:
        assert hit["a"]["label"] == names[hit["a"]["id"]].get("ru", hit["a"]["name"])
    assert labelled["labels"]["ABK"] == "Абхазия" and labelled["labels"]["GEO"] == "Грузия"
    again = ok_json(client.get(url + "&lang=ru"))  # from the answer cache, labels and all
    assert again == labelled
    body = ok_json(client.post("/api/overlaps?layers=disputed_areas&lang=hy", json=LACHIN_BOX))
    assert body["labels"]["AZE"] == "Ադրբեջան"
    assert all(h["b"]["label"] for h in body["results"])


def test_lengths_are_the_engines(client, catalog):
    got = ok_json(client.get("/api/lengths?countries=KGZ,TJK&as_of=2022-09-01"))
    assert got == measure.border_lengths(catalog, countries=["KGZ", "TJK"], as_of="2022-09-01")
    assert 850 < got["total_km"] < 1000
    split = got["by_status"]
    assert split["settled"]["length_km"] > 0 and split["disputed"]["length_km"] > 0


def test_kgz_tjk_fully_settled_after_the_2025_treaty(client):
    got = ok_json(client.get("/api/lengths?countries=KGZ,TJK&as_of=2025-06-01"))
    assert got["by_status"]["settled"]["share"] == 1.0
    assert got["by_status"]["disputed"]["length_km"] == 0


def test_lengths_filters(client, catalog):
    disputed = ok_json(
        client.get("/api/lengths?countries=ARM,AZE&status=disputed&as_of=2022-09-01")
    )
    assert 700 < disputed["total_km"] < 1100 and disputed["status"] == "disputed"
    every_kind = ok_json(client.get("/api/lengths?kind=all&as_of=2021-01-01"))
    assert every_kind["kind"] is None
    international = ok_json(client.get("/api/lengths?as_of=2021-01-01"))
    assert international["kind"] == "international"
    assert every_kind["total_km"] > international["total_km"]  # the line of contact counts


@pytest.mark.parametrize(
    "query",
    [
        "countries=XXX",
        "countries=",
        "status=bogus",
        "kind=border",
        "as_of=2022-13-01",
        "as_of=soon",
        "foo=1",
        "countries=KGZ&countries=TJK",
    ],
)
def test_bad_lengths_queries_are_400(client, query):
    assert_problem(client.get(f"/api/lengths?{query}"), 400)


# --- overlaps of two layers -------------------------------------------------------------------


def test_overlaps_of_two_layers_are_the_engines(client, catalog):
    url = "/api/overlaps?a=corridor_routes&b=mission_areas&as_of=2021-06-01"
    got = ok_json(client.get(url))
    assert got == measure.overlaps(catalog, "corridor_routes", "mission_areas", as_of="2021-06-01")
    pairs = {(r["a"]["id"], r["b"]["mission"]) for r in got["results"]}
    assert any("lachin" in a and m == "russian_peacekeeping_nk" for a, m in pairs)
    assert all("geometry" not in r for r in got["results"])
    with_geometry = ok_json(client.get(url + "&include_geometry=true"))
    for result in with_geometry["results"]:
        assert result["geometry"]["type"] in (
            "LineString",
            "MultiLineString",
            "Polygon",
            "MultiPolygon",
            "GeometryCollection",
            "Point",
            "MultiPoint",
        )
    # After the mission left (June 2024) nothing overlaps it.
    later = ok_json(client.get("/api/overlaps?a=corridor_routes&b=mission_areas&as_of=2024-09-01"))
    assert not any(r["b"].get("mission") == "russian_peacekeeping_nk" for r in later["results"])


@pytest.mark.parametrize(
    "query",
    [
        "",
        "a=corridor_routes",
        "b=corridor_routes",
        "a=nope&b=corridor_routes",
        "a=corridor_routes&b=",
        "a=corridor_routes&b=borders&as_of=x",
        "a=corridor_routes&b=borders&include_geometry=maybe",
        "a=corridor_routes&b=borders&layers=borders",
        "a=corridor_routes&b=borders&zzz=1",
    ],
)
def test_bad_overlap_queries_are_400(client, query):
    assert_problem(client.get(f"/api/overlaps?{query}"), 400)


# --- overlaps of a posted geometry -------------------------------------------------------------


def post(client, body, query="", **kwargs):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(
        f"/api/overlaps{query}",
        data=data,
        content_type=kwargs.pop("content_type", "application/geo+json"),
        **kwargs,
    )


def test_posted_geometry_feature_and_collection(client, catalog):
    query = "?layers=corridor_routes,mission_areas&as_of=2021-06-01"
    plain = ok_json(post(client, LACHIN_BOX, query))
    assert plain == measure.overlaps(
        catalog,
        geometry=LACHIN_BOX,
        layers=["corridor_routes", "mission_areas"],
        as_of="2021-06-01",
    )
    hit_ids = {r["b"]["id"] for r in plain["results"]}
    assert any("lachin-original" in i for i in hit_ids)
    feature = {"type": "Feature", "properties": {}, "geometry": LACHIN_BOX}
    collection = {"type": "FeatureCollection", "features": [feature]}
    for body in (feature, collection):
        assert ok_json(post(client, body, query))["results"] == plain["results"]
    # Plain JSON content type works too; geometry=true adds the intersections.
    detailed = ok_json(
        post(client, LACHIN_BOX, query + "&include_geometry=true", content_type="application/json")
    )
    assert all("geometry" in r for r in detailed["results"])
    every_layer = ok_json(post(client, LACHIN_BOX, "?as_of=2021-06-01"))
    assert set(every_layer["layers"]) >= {"borders", "corridor_routes", "countries"}


@pytest.mark.parametrize(
    "body, status",
    [
        (b"", 400),
        (b"not json", 400),
        (b"{", 400),
        # orjson >= 3.9 stops at depth 1024 (400); older versions parse it (then 422).
        pytest.param(b"[" * 5000 + b"]" * 5000, (400, 422), id="deeply-nested-array"),
        (b"[1, 2, 3]", 422),
        (b'"Polygon"', 422),
        (b'{"type": "Banana"}', 422),
        (b'{"type": "Feature", "geometry": null}', 422),
        (b'{"type": "Polygon", "coordinates": "x"}', 422),
        (b'{"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}', 422),
        (b'{"type": "Point", "coordinates": [500, 95]}', 422),
        (b'{"type": "Point", "coordinates": [1e400, 0]}', 400),
        (b'{"type": "FeatureCollection", "features": []}', 422),
    ],
)
def test_bad_bodies(client, body, status):
    assert_problem(post(client, body), status)


def test_too_many_vertices_is_413(client):
    line = {
        "type": "LineString",
        "coordinates": [[46.0 + i * 1e-6, 39.5] for i in range(settings().max_vertices + 1)],
    }
    body = orjson.dumps(line)
    assert len(body) < 2 * 1024 * 1024  # under the byte limit: the vertex limit answers
    assert_problem(post(client, body), 413)


def test_huge_extent_is_413(client):
    big = {"type": "Polygon", "coordinates": [[[0, 0], [120, 0], [120, 60], [0, 60], [0, 0]]]}
    assert_problem(post(client, big), 413)


def test_body_over_the_size_limit_is_413(client):
    body = b" " * (2 * 1024 * 1024 + 1)
    assert_problem(post(client, body), 413)


@pytest.mark.parametrize(
    "query",
    [
        "?layers=nope",
        "?layers=",
        "?as_of=2022-02-30",
        "?b=borders",
        "?include_geometry=2",
        "?a=borders",
    ],
)
def test_bad_post_queries_are_400(client, query):
    assert_problem(post(client, LACHIN_BOX, query), 400)


def test_lengths_in_a_map_view_count_only_what_lies_inside(client, catalog):
    """The readout of the map: lengths by status of the borders inside the visible box."""
    view = "69.0,39.3,71.5,40.6"  # the Fergana valley's southern rim (Batken - Sughd)
    inside = client.get(f"/api/lengths?bbox={view}&as_of=2021-06-01").get_json()
    whole = client.get("/api/lengths?as_of=2021-06-01").get_json()
    assert inside["bbox"] == [69.0, 39.3, 71.5, 40.6]
    assert 0 < inside["total_km"] < whole["total_km"]
    assert inside["by_status"]["disputed"]["length_km"] > 0
    box = shapely.box(69.0, 39.3, 71.5, 40.6)
    borders = catalog["borders"]
    for segment in inside["segments"]:
        row = borders.index_by_id[segment["id"]]
        assert borders.frame.geometry.values[row].intersects(box)
        assert segment["length_km"] <= borders.length_km[row] + 0.001  # rounded to the metre
    assert client.get("/api/lengths?bbox=1,2,3").status_code == 400


def test_lengths_in_a_box_across_the_antimeridian_are_its_two_halves(client):
    """minLon > maxLon crosses the antimeridian (OGC API): the lengths are those of the box's
    two halves (a box found by schemathesis answered 500 before), and a flat box has none."""

    def km(bbox: str) -> float:
        response = client.get(f"/api/lengths?bbox={bbox}&as_of=2021-06-01")
        assert response.status_code == 200, response.data
        return response.get_json()["total_km"]

    across = km("45,38,-170,42")
    east, west = km("45,38,180,42"), km("-180,38,-170,42")
    assert across > 0 and abs(across - (east + west)) < 0.01
    assert km("44,38,44,42") == 0  # a box of no width


def test_every_engine_error_maps_to_its_status_in_one_table(client):
    """The exception types carry their HTTP status in errors.STATUS_TABLE, not in messages."""
    from geoservice.errors import handle_exception
    from geoservice.timeline import TimeError

    with client.application.test_request_context():
        assert handle_exception(measure.LimitError("too big")).status_code == 413
        assert handle_exception(measure.QueryError("bad")).status_code == 400
        assert handle_exception(TimeError("bad date")).status_code == 400
