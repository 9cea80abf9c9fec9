"""geoservice.measure: border lengths, overlaps, buffers and user geometry.

The engine's logic is checked on a small data directory written here (geometry whose answers
are known independently); the figures the issue asks for are checked on the shipped data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geoservice import geodesy, measure, overlay
from geoservice.catalog import load_catalog
from geoservice.layers import LAYERS
from geoservice.settings import settings

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True

WGS84 = Geod(ellps="WGS84")


# --- a small data directory ------------------------------------------------------------------


def _feature(fid, geometry, **props):
    base = {
        "id": fid,
        "name": fid.replace("-", " "),
        "valid_from": None,
        "valid_to": None,
        "sources": ["test fixture"],
        "accuracy": "schematic",
        "notes": None,
    }
    return {"type": "Feature", "properties": {**base, **props}, "geometry": geometry}


def _line(*points):
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _border(fid, geometry, pair, status, kind="international", **props):
    return _feature(fid, geometry, countries=pair, status=status, kind=kind, parties=[], **props)


TOY_LAYERS = {
    "countries": [
        _feature("kgz", _box(70, 40, 71, 41), iso3="KGZ"),
        _feature("tjk", _box(70, 39, 71, 40), iso3="TJK"),
    ],
    "borders": [
        # the KGZ-TJK line along 40°N: half settled, half disputed until the 2025 treaty
        _border(
            "kgz-tjk-west",
            _line((70, 40), (70.5, 40)),
            ["KGZ", "TJK"],
            "settled",
            valid_to="2025-03-13",
        ),
        _border(
            "kgz-tjk-east",
            _line((70.5, 40), (71, 40)),
            ["KGZ", "TJK"],
            "disputed",
            valid_to="2025-03-13",
        ),
        _border(
            "kgz-tjk-treaty",
            _line((70, 40), (71, 40)),
            ["KGZ", "TJK"],
            "settled",
            valid_from="2025-03-13",
        ),
        _border("arm-aze-meridian", _line((45, 40), (45, 41)), ["ARM", "AZE"], "disputed"),
        _border(
            "arm-aze-contact",
            _line((46, 39.5), (46.5, 40)),
            ["ARM", "AZE"],
            "disputed",
            kind="line_of_contact",
        ),
        _border("kgz-uzb-1", _line((71, 40.5), (71, 41)), ["KGZ", "UZB"], "settled"),
    ],
    "corridor_routes": [
        # along the meridian 70.5°E, crossing the zone's parallel edges
        _feature("route", _line((70.5, 39.5), (70.5, 41.5)), corridor="x", part="centreline"),
        _feature(
            "old-route",
            _line((70.3, 39.5), (70.3, 41.5)),
            corridor="x",
            part="centreline",
            valid_to="2021-01-01",
        ),
    ],
    "mission_areas": [_feature("zone", _box(70.2, 40.2, 70.8, 40.8), mission="m")],
    "mission_posts": [
        _feature("post", {"type": "Point", "coordinates": [70.4, 40.4]}, mission="m"),
    ],
    "disputed_areas": [
        _feature("enclave", _box(70.4, 39.8, 70.6, 40.2), held_by="TJK"),
    ],
    "corridor_bands": [],
    "control_areas": [],
    "places": [],
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    directory = tmp_path_factory.mktemp("toydata")
    for layer_id in LAYERS:  # every layer the catalog loads; the toy fills some of them
        doc = {"type": "FeatureCollection", "features": TOY_LAYERS.get(layer_id, [])}
        (directory / f"{layer_id}.geojson").write_text(json.dumps(doc))
    return load_catalog(directory)


def _metres(lon1, lat1, lon2, lat2):
    return WGS84.inv(lon1, lat1, lon2, lat2)[2]


# --- border lengths --------------------------------------------------------------------------


def test_pair_lengths_split_by_status_as_of_a_date(toy):
    half = _metres(70, 40, 70.5, 40) / 1000
    result = measure.border_lengths(toy, ["kgz", "TJK"], as_of=dt.date(2022, 9, 1))
    assert result["as_of"] == "2022-09-01"
    assert result["countries"] == ["KGZ", "TJK"]
    assert "pairs" not in result  # one pair asked for
    assert result["by_status"]["settled"]["segments"] == ["kgz-tjk-west"]
    assert result["by_status"]["disputed"]["segments"] == ["kgz-tjk-east"]
    assert result["by_status"]["settled"]["length_km"] == pytest.approx(half, abs=1e-3)
    assert result["total_km"] == pytest.approx(2 * half, abs=2e-3)
    assert result["by_status"]["disputed"]["share"] == pytest.approx(0.5, abs=1e-4)
    after = measure.border_lengths(toy, ["KGZ", "TJK"], as_of="2025-03-13")
    assert after["by_status"]["settled"]["segments"] == ["kgz-tjk-treaty"]
    assert after["by_status"]["disputed"]["length_km"] == 0.0
    assert after["by_status"]["settled"]["share"] == 1.0


def test_all_pairs_grouped_with_kind_and_status_filters(toy):
    day = dt.date(2022, 9, 1)
    everything = measure.border_lengths(toy, as_of=day, kind=None)
    pairs = {"-".join(p["countries"]): p for p in everything["pairs"]}
    assert set(pairs) == {"ARM-AZE", "KGZ-TJK", "KGZ-UZB"}
    assert pairs["ARM-AZE"]["by_status"]["disputed"]["segments"] == [
        "arm-aze-meridian",
        "arm-aze-contact",
    ]
    assert everything["total_km"] == pytest.approx(
        sum(p["total_km"] for p in pairs.values()), abs=3e-3
    )
    international = measure.border_lengths(toy, as_of=day)
    assert "arm-aze-contact" not in [s["id"] for s in international["segments"]]
    meridian = _metres(45, 40, 45, 41) / 1000
    disputed = measure.border_lengths(toy, status="disputed", as_of=day)
    assert list(disputed["by_status"]) == ["disputed"]
    assert disputed["total_km"] == pytest.approx(
        meridian + _metres(70.5, 40, 71, 40) / 1000, abs=2e-3
    )
    # one country: all of its borders; three: the borders among them
    kgz = measure.border_lengths(toy, ["KGZ"], as_of=day)
    assert {"-".join(p["countries"]) for p in kgz["pairs"]} == {"KGZ-TJK", "KGZ-UZB"}
    trio = measure.border_lengths(toy, ["KGZ", "TJK", "ARM"], as_of=day)
    assert {s["id"] for s in trio["segments"]} == {"kgz-tjk-west", "kgz-tjk-east"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"countries": ["KGZ", "XYZ"]}, "unknown country code 'XYZ'"),
        ({"status": "contested"}, "unknown status 'contested'"),
        ({"kind": "maritime"}, "unknown kind 'maritime'"),
        ({"as_of": "2022-02-30"}, "not a valid calendar date"),
        ({"as_of": "yesterday"}, "YYYY-MM-DD"),
    ],
)
def test_border_lengths_rejects_unknown_values(toy, kwargs, message):
    with pytest.raises(measure.QueryError, match=message):
        measure.border_lengths(toy, **kwargs)
    assert issubclass(measure.QueryError, ValueError)


# --- overlaps between layers -----------------------------------------------------------------


def test_line_inside_polygon_length_and_share(toy):
    result = measure.overlaps(toy, "corridor_routes", "mission_areas", as_of=dt.date(2021, 6, 1))
    assert result["count"] == 1  # old-route expired; the post is not on the route
    hit = result["results"][0]
    assert (hit["a"]["id"], hit["b"]["id"], hit["relation"]) == ("route", "zone", "line_polygon")
    # The route runs along a meridian; the zone's edges cross it at 40.2°N and 40.8°N (give or
    # take the few metres the edges bow between vertices 51 km apart).
    expected = _metres(70.5, 40.2, 70.5, 40.8) / 1000
    assert hit["length_km"] == pytest.approx(expected, abs=0.05)
    assert hit["share_of_a"] == pytest.approx(expected / hit["a"]["length_km"], abs=1e-3)
    assert "share_of_b" not in hit
    earlier = measure.overlaps(toy, "corridor_routes", "mission_areas", as_of="2020-06-01")
    assert {h["a"]["id"] for h in earlier["results"]} == {"route", "old-route"}


def test_polygon_overlap_area_and_both_shares(toy):
    result = measure.overlaps(toy, "disputed_areas", "countries", as_of=dt.date(2022, 1, 1))
    hits = {h["b"]["id"]: h for h in result["results"]}
    assert set(hits) == {"kgz", "tjk"}
    enclave = geodesy.area_km2(shapely.box(70.4, 39.8, 70.6, 40.2))
    assert hits["kgz"]["area_km2"] + hits["tjk"]["area_km2"] == pytest.approx(enclave, rel=1e-4)
    assert hits["kgz"]["share_of_a"] + hits["tjk"]["share_of_a"] == pytest.approx(1, abs=2e-4)
    kgz_area = geodesy.area_km2(shapely.box(70, 40, 71, 41))
    assert hits["kgz"]["share_of_b"] == pytest.approx(hits["kgz"]["area_km2"] / kgz_area, abs=1e-4)
    assert hits["kgz"]["relation"] == "polygon_polygon"


def test_countries_that_only_touch_do_not_overlap(toy):
    result = measure.overlaps(toy, "countries", "countries", as_of=dt.date(2022, 1, 1))
    assert result["results"] == []  # the shared edge is a line, not an area; no self-pairs


def test_crossing_lines_give_points(toy):
    line = {"type": "LineString", "coordinates": [[69.8, 40.3], [70.7, 39.7]]}
    result = measure.overlaps(toy, "borders", geometry=line, as_of=dt.date(2022, 1, 1))
    hits = {h["b"]["id"]: h for h in result["results"]}
    assert set(hits) == {"kgz-tjk-west"}
    crossing = hits["kgz-tjk-west"]
    assert crossing["relation"] == "line_line"
    assert crossing["length_km"] == 0.0
    [[lon, lat]] = crossing["points"]
    assert lon == pytest.approx(70.25, abs=0.01) and lat == pytest.approx(40.0, abs=1e-3)


def test_include_geometry_returns_geojson_of_the_intersection(toy):
    result = measure.overlaps(
        toy, "corridor_routes", "mission_areas", as_of="2022-01-01", include_geometry=True
    )
    geometry = result["results"][0]["geometry"]
    shape = shapely.from_geojson(json.dumps(geometry))
    assert shape.geom_type in ("LineString", "MultiLineString")
    assert geodesy.length_km(shape) == pytest.approx(result["results"][0]["length_km"], abs=1e-3)
    assert (
        "geometry"
        not in measure.overlaps(toy, "corridor_routes", "mission_areas", as_of="2022-01-01")[
            "results"
        ][0]
    )


# --- overlaps with a user geometry -----------------------------------------------------------


AREA = {
    "type": "Polygon",
    "coordinates": [[[70.3, 39.5], [70.7, 39.5], [70.7, 40.6], [70.3, 40.6], [70.3, 39.5]]],
}


def test_user_polygon_against_every_layer(toy):
    result = measure.overlaps(
        toy,
        geometry={"type": "Feature", "geometry": AREA, "properties": {}},
        as_of=dt.date(2022, 9, 1),
    )
    assert result["layers"] == list(LAYERS)  # every layer, in the layer list's order
    by_id = {(h["b"]["layer"], h["b"]["id"]): h for h in result["results"]}
    assert set(by_id) == {
        ("countries", "kgz"),
        ("countries", "tjk"),
        ("borders", "kgz-tjk-west"),
        ("borders", "kgz-tjk-east"),
        ("corridor_routes", "route"),
        ("mission_areas", "zone"),
        ("mission_posts", "post"),
        ("disputed_areas", "enclave"),
    }
    user_area = geodesy.area_km2(shapely.from_geojson(json.dumps(AREA)))
    assert result["geometry"]["area_km2"] == pytest.approx(user_area, abs=1e-3)
    countries = by_id["countries", "kgz"]["area_km2"] + by_id["countries", "tjk"]["area_km2"]
    assert countries == pytest.approx(user_area, rel=1e-4)
    assert by_id["disputed_areas", "enclave"]["share_of_b"] == pytest.approx(1.0)
    assert by_id["mission_posts", "post"]["points"] == [[70.4, 40.4]]
    west = by_id["borders", "kgz-tjk-west"]
    assert west["relation"] == "polygon_line"
    assert west["length_km"] == pytest.approx(_metres(70.3, 40, 70.5, 40) / 1000, abs=0.01)
    assert west["share_of_b"] == pytest.approx(0.4, abs=1e-3)


def test_user_geometry_with_chosen_layers_and_dates(toy):
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": AREA}],
    }
    result = measure.overlaps(toy, geometry=fc, layers=["borders"], as_of="2025-06-01")
    assert [h["b"]["id"] for h in result["results"]] == ["kgz-tjk-treaty"]
    result = measure.overlaps(toy, "disputed_areas", geometry=json.dumps(AREA))
    assert result["layers"] == ["disputed_areas"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": "corridor_routes"}, "give two layers"),
        ({"a": "corridor_routes", "b": "roads"}, "unknown layer 'roads'"),
        ({"a": "corridor_routes", "b": "borders", "geometry": AREA}, "not both"),
        ({"geometry": AREA, "layers": ["borders", "rivers"]}, "unknown layer 'rivers'"),
        ({"a": "corridor_routes", "b": "borders", "layers": ["borders"]}, "goes with a geometry"),
        ({"a": "corridor_routes", "b": "borders", "as_of": "2022-9-1"}, "YYYY-MM-DD"),
    ],
)
def test_overlaps_rejects_bad_queries(toy, kwargs, message):
    with pytest.raises(measure.QueryError, match=message):
        measure.overlaps(toy, **kwargs)


# --- the planar step's error -----------------------------------------------------------------


def _densify(geometry, step_m=200.0):
    """The same shape with a vertex every ``step_m`` along each geodesic edge."""

    def ring(coords):
        out = [coords[0]]
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            n = int(_metres(x0, y0, x1, y1) // step_m)
            out += WGS84.npts(x0, y0, x1, y1, n) if n else []
            out.append((x1, y1))
        return out

    if geometry.geom_type == "LineString":
        return shapely.LineString(ring(list(geometry.coords)))
    return shapely.Polygon(ring(list(geometry.exterior.coords)))


QUAD = shapely.Polygon([(69, 39), (71.5, 39.2), (71.8, 41.5), (69.3, 41.2)])  # 200-260 km edges
LONG_LINE = shapely.LineString([(68.5, 40.7), (72.5, 39.6)])  # one 362 km edge
TRIANGLE = shapely.Polygon([(70, 38.5), (73, 40), (70.5, 42)])


def _inside(a, b):
    return overlay.intersect_with(a, np.array([b]), np.array([b.bounds]))[0]


def test_planar_step_error_against_geodesic_edges_is_as_stated():
    """Long edges are the worst case; the stated bounds are 0.01 % (length), 0.05 % (area)."""
    length = geodesy.length_m(_inside(LONG_LINE, QUAD))
    reference = geodesy.length_m(_inside(_densify(LONG_LINE), _densify(QUAD)))
    assert abs(length - reference) / reference < 1e-4
    area = geodesy.area_km2(_inside(TRIANGLE, QUAD))
    reference_area = geodesy.area_km2(_inside(_densify(TRIANGLE), _densify(QUAD)))
    assert abs(area - reference_area) / reference_area < 5e-4
    # ... where intersecting in lon/lat degrees is worse, by an order of magnitude for area
    lonlat = geodesy.area_km2(shapely.intersection(TRIANGLE, QUAD))
    assert abs(lonlat - reference_area) > 5 * abs(area - reference_area)


def test_original_vertices_survive_the_projection_round_trip():
    inner = shapely.Polygon([(70.1, 40.1), (70.9, 40.15), (70.6, 40.9)])
    result = _inside(inner, QUAD)
    # PROJ's inverse equal-area latitude is good to ~1e-8° (1 mm); longitude is exact
    got = np.unique(shapely.get_coordinates(result), axis=0)
    assert np.abs(got - np.unique(shapely.get_coordinates(inner), axis=0)).max() < 2e-8
    assert geodesy.area_km2(result) == pytest.approx(geodesy.area_km2(inner), rel=1e-7)


# --- user geometry ---------------------------------------------------------------------------


def test_parse_user_geometry_accepts_geometry_feature_and_collection():
    assert measure.parse_user_geometry(AREA).geom_type == "Polygon"
    assert measure.parse_user_geometry(json.dumps(AREA)).geom_type == "Polygon"
    two = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": None, "geometry": _box(70, 40, 71, 41)},
            {"type": "Feature", "properties": None, "geometry": _box(70.5, 40.5, 72, 41)},
        ],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }
    merged = measure.parse_user_geometry(two)
    assert merged.geom_type == "Polygon"  # overlapping polygons dissolved
    assert geodesy.area_km2(merged) < geodesy.area_km2(shapely.box(70, 40, 71, 41)) * 2
    lines = {"type": "MultiLineString", "coordinates": [[[70, 40, 900], [71, 40, 950]]]}
    assert measure.parse_user_geometry(lines).has_z is False


def _vertices(n):
    return {"type": "LineString", "coordinates": [[70 + i * 1e-5, 40] for i in range(n)]}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "must be an object"),
        ({"type": "Topology"}, "unsupported GeoJSON type 'Topology'"),
        ({"type": "Feature", "geometry": None}, "not a GeoJSON geometry"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection", "features": [{"type": "Point"}]}, "not a GeoJSON Feature"),
        ({"type": "Point", "coordinates": ["a", 1]}, "not valid GeoJSON"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}, "not valid GeoJSON"),
        ({"type": "Point", "coordinates": []}, "empty"),
        ({"type": "Point", "coordinates": [40.5, 200]}, "out of range"),
        ({"type": "Point", "coordinates": [float("nan"), 1]}, "not valid GeoJSON"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "not valid: Self-intersection",
        ),
        (
            {
                "type": "GeometryCollection",
                "geometries": [{"type": "Point", "coordinates": [70, 40]}, _box(70, 40, 71, 41)],
            },
            "mixed geometry dimensions",
        ),
        ({**AREA, "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}, "unsupported crs"),
        (_box(0, 0, 90, 10), "the limit is 60° each"),
        (_vertices(settings().max_vertices + 1), "too many vertices"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": _box(70, 40, 71, 41)}]
                * (settings().max_features + 1),
            },
            "too many features",
        ),
    ],
)
def test_parse_user_geometry_rejects_bad_input(obj, message):
    with pytest.raises(measure.QueryError, match=message):
        measure.parse_user_geometry(obj)


@pytest.mark.parametrize(
    "obj",
    [
        _box(0, 0, 90, 10),
        _vertices(settings().max_vertices + 1),
        "[" + " " * settings().max_geojson_bytes + "]",
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": None}] * (settings().max_features + 1),
        },
    ],
)
def test_size_limits_raise_limit_error(obj):
    with pytest.raises(measure.LimitError):
        measure.parse_user_geometry(obj)


def test_parse_user_geometry_takes_the_largest_allowed_input():
    assert len(measure.parse_user_geometry(_vertices(settings().max_vertices)).coords) == (
        settings().max_vertices
    )


# --- buffers ---------------------------------------------------------------------------------


def test_buffer_of_a_point_is_a_geodesic_circle():
    ring = measure.buffer_m(shapely.Point(70.5, 40.5), 10_000).exterior
    distances = [_metres(70.5, 40.5, x, y) for x, y in ring.coords]
    assert min(distances) == pytest.approx(10_000, abs=0.01)
    assert max(distances) == pytest.approx(10_000, abs=0.01)


def test_buffer_of_a_long_line_is_within_a_tenth_of_a_percent():
    line = shapely.LineString([(68.0, 40.0), (72.5, 41.0)])  # about 400 km
    dense = np.array(_densify(line, step_m=50).coords)
    boundary = np.array(measure.buffer_m(line, 10_000).exterior.coords)
    for x, y in boundary[::7]:
        nearest = WGS84.inv(
            np.full(len(dense), x), np.full(len(dense), y), dense[:, 0], dense[:, 1]
        )[2].min()
        assert nearest == pytest.approx(10_000, rel=1e-3)
    assert measure.buffer_m(line, 0).is_empty  # a line has no area


@pytest.mark.parametrize("metres", [-1, float("nan"), settings().max_buffer_m + 1, "ten"])
def test_buffer_rejects_bad_distances(metres):
    with pytest.raises(measure.QueryError, match="buffer distance"):
        measure.buffer_m(shapely.Point(70, 40), metres)


# --- the shipped data: the seed's figures ----------------------------------------------------


def test_kgz_tjk_settled_share_in_september_2022_matches_the_seed(catalog):
    result = measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=dt.date(2022, 9, 1))
    settled = result["by_status"]["settled"]["length_km"]
    disputed = result["by_status"]["disputed"]["length_km"]
    assert settled > 0 and disputed > 0
    assert settled / (settled + disputed) == pytest.approx(503 / 970, abs=0.05)
    later = measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=dt.date(2025, 6, 1))
    assert later["by_status"]["settled"]["share"] == 1.0
    assert later["total_km"] == pytest.approx(result["total_km"], rel=0.01)


def _corridor(catalog, corridor, part, day) -> dict[str, int]:
    """Row of each feature id of one corridor part valid on ``day`` (at least one)."""
    layer = catalog["corridor_routes"]
    rows = {
        f["properties"]["id"]: i
        for i, f in enumerate(layer.features)
        if f["properties"].get("corridor") == corridor
        and f["properties"].get("part") == part
        and layer.valid(day)[i]
    }
    assert rows, f"no {corridor} {part} valid on {day}"
    return rows


def test_lachin_corridor_lies_inside_the_peacekeeping_zone_in_june_2021(catalog):
    day = dt.date(2021, 6, 1)
    ids = _corridor(catalog, "lachin", "centreline", day)
    result = measure.overlaps(catalog, "corridor_routes", "mission_areas", as_of=day)
    # length inside a zone per centreline; where zones overlap, the largest one counts
    per_line: dict[str, float] = {}
    for hit in result["results"]:
        if hit["a"]["id"] in ids:
            per_line[hit["a"]["id"]] = max(per_line.get(hit["a"]["id"], 0.0), hit["length_km"])
    total = sum(float(catalog["corridor_routes"].length_km[i]) for i in ids.values())
    assert per_line, "the Lachin centreline meets no peacekeeping zone"
    assert sum(per_line.values()) / total > 0.9


def test_nakhchivan_route_runs_30_to_60_km_inside_armenia(catalog):
    day = dt.date(2021, 1, 1)
    ids = _corridor(catalog, "nakhchivan", "centreline", day)
    result = measure.overlaps(catalog, "corridor_routes", "countries", as_of=day)
    inside = sum(
        h["length_km"]
        for h in result["results"]
        if h["a"]["id"] in ids and h["b"].get("iso3") == "ARM"
    )
    assert 30 <= inside <= 60
