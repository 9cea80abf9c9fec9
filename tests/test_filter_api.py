"""CQL2 ``filter`` and ``sortby`` over HTTP (OGC API - Features Part 3) on the shipped data:
the answers equal a plain test of each feature; what cannot be evaluated is a 400 naming it;
OWSLib's ``filter=`` and GDAL's ``-where`` get the server-side filtered answer."""

from __future__ import annotations

import json
import subprocess

import pytest
import shapely
import shapely.geometry

from geoservice.app import create_app
from geoservice.views import in_view
from geoservice.vocabulary import DEFAULT_VIEW


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


def shown_borders(catalog) -> list[dict]:
    """The borders the API serves by default (on the ground), in file order."""
    return [
        f["properties"] | {"_geometry": f["geometry"]}
        for f in catalog["borders"].features
        if in_view(f["properties"], DEFAULT_VIEW)
    ]


def items(client, **args) -> dict:
    response = client.get("/api/collections/borders/items", query_string={"limit": 10000, **args})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(doc: dict) -> list[str]:
    return [f["id"] for f in doc["features"]]


BOX = (44.0, 38.5, 47.0, 41.5)


@pytest.mark.parametrize(
    ("text", "test"),
    [
        ("status = 'disputed'", lambda p: p["status"] == "disputed"),
        (
            "status = 'disputed' AND kind <> 'line_of_contact'",
            lambda p: p["status"] == "disputed" and p["kind"] != "line_of_contact",
        ),
        ("name LIKE 'Armenia%'", lambda p: p["name"].startswith("Armenia")),
        ("valid_to IS NULL", lambda p: p.get("valid_to") is None),
        (
            "valid_from > DATE('2020-11-10')",
            lambda p: p.get("valid_from") is not None and p["valid_from"] > "2020-11-10",
        ),
        (
            "T_AFTER(valid_from, DATE('2020-11-10'))",
            lambda p: p.get("valid_from") is not None and p["valid_from"] > "2020-11-10",
        ),
        (
            "S_INTERSECTS(geometry, BBOX(44, 38.5, 47, 41.5))",
            lambda p: shapely.geometry.shape(p["_geometry"]).intersects(shapely.box(*BOX)),
        ),
        (
            f"S_WITHIN(geometry, {shapely.box(*BOX).wkt})",
            lambda p: shapely.geometry.shape(p["_geometry"]).within(shapely.box(*BOX)),
        ),
    ],
)
def test_cql2_text_filter_matches_each_feature(client, catalog, text, test):
    expected = [p["id"] for p in shown_borders(catalog) if test(p)]
    doc = items(client, filter=text)
    assert ids(doc) == expected
    assert doc["numberMatched"] == len(expected) > 0
    assert len(expected) < len(shown_borders(catalog))  # the filter did select


def test_cql2_json_equals_cql2_text(client):
    text = items(client, filter="status = 'settled' AND valid_from >= DATE('2000-01-01')")
    as_json = items(
        client,
        **{
            "filter-lang": "cql2-json",
            "filter": json.dumps(
                {
                    "op": "and",
                    "args": [
                        {"op": "=", "args": [{"property": "status"}, "settled"]},
                        {"op": ">=", "args": [{"property": "valid_from"}, {"date": "2000-01-01"}]},
                    ],
                }
            ),
        },
    )
    assert ids(text) == ids(as_json) and text["numberMatched"] > 0


def test_filter_combines_with_the_other_parameters(client):
    both = items(client, filter="status = 'disputed'", bbox="69,39,72,41", datetime="2020-01-01")
    alone = items(client, filter="status = 'disputed'")
    assert 0 < both["numberMatched"] < alone["numberMatched"]
    assert set(ids(both)) <= set(ids(alone))


def test_sortby_orders_and_keeps_the_set(client):
    plain = items(client)
    doc = items(client, sortby="+name,-valid_from")
    assert sorted(ids(doc)) == sorted(ids(plain))
    keys = [
        (f["properties"]["name"], f["properties"].get("valid_from") or "") for f in doc["features"]
    ]
    names = [k[0] for k in keys]
    assert names == sorted(names)
    for name in set(names):
        froms = [v for n, v in keys if n == name and v]
        assert froms == sorted(froms, reverse=True)
    # Paging follows the sort order.
    page = items(client, sortby="+name,-valid_from", limit=5, offset=5)
    assert ids(page) == ids(doc)[5:10]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"filter": "colour = 'red'"}, "colour: not queryable"),
        ({"filter": "status = "}, "not valid cql2-text"),
        ({"filter": "{", "filter-lang": "cql2-json"}, "not valid cql2-json"),
        ({"filter": "status = 'x'", "filter-lang": "ecql"}, "filter-lang"),
        ({"filter": "status = 'x'", "filter-crs": "EPSG:3857"}, "filter-crs"),
        ({"sortby": "-colour"}, "sortby='colour'"),
        ({"sortby": "geometry"}, "sortby='geometry'"),
        ({"filter": "T_DURING(valid_from, INTERVAL('2000-01-01', '2001-01-01'))"}, "filter"),
    ],
)
def test_bad_filters_are_400_problems_naming_the_fault(client, args, words):
    response = client.get("/api/collections/borders/items", query_string=args)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert words in response.get_json()["detail"]


def test_conformance_declares_filtering_and_sorting(client):
    classes = client.get("/api/conformance?f=json").get_json()["conformsTo"]
    for suffix in (
        "ogcapi-features-3/1.0/conf/filter",
        "ogcapi-features-3/1.0/conf/features-filter",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
        "cql2/1.0/conf/basic-cql2",
        "cql2/1.0/conf/basic-spatial-functions",
        "conf/sorting",
    ):
        assert any(c.endswith(suffix) for c in classes), suffix


# --- real clients on the live server ----------------------------------------------------------


@pytest.mark.server
def test_owslib_filter_and_sortby_get_the_server_side_answer(api_server, catalog):
    from owslib.ogcapi.features import Features

    api = Features(f"{api_server}/api")
    doc = api.collection_items(
        "borders", filter="status = 'disputed' AND kind = 'international'", limit=10000
    )
    expected = [
        p["id"]
        for p in shown_borders(catalog)
        if p["status"] == "disputed" and p["kind"] == "international"
    ]
    assert doc["numberMatched"] == len(expected) > 0
    assert [f["id"] for f in doc["features"]] == expected
    ordered = api.collection_items("borders", sortby=("name", "desc"), limit=10000)
    names = [f["properties"]["name"] for f in ordered["features"]]
    assert names == sorted(names, reverse=True)


@pytest.mark.server
def test_gdal_where_is_answered_by_the_server(api_server, catalog, tmp_path):
    """GDAL 3.6's OAPIF driver sends a ``-where`` equality as the queryable's parameter (GDAL
    3.6 does not send CQL2 ``filter``; the server does the selection) and a comparison on the
    collection's date field as ``datetime=2000-01-01T/..`` (a bare 'T', accepted): features
    valid at some time from that day on, which GDAL does not refine further."""
    out = tmp_path / "disputed.geojson"
    where = "status = 'disputed' AND valid_from > '2000-01-01'"
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(out),
            f"OAPIF:{api_server}/api",
            "borders",
            "-where",
            where,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    got = [f["properties"]["id"] for f in json.loads(out.read_text())["features"]]
    expected = [
        p["id"]
        for p in shown_borders(catalog)
        if p["status"] == "disputed" and (p.get("valid_to") or "9999") > "2000-01-01"
    ]
    assert sorted(got) == sorted(expected) and expected
    everything = [p["id"] for p in shown_borders(catalog)]
    assert len(expected) < len(everything)
