"""The store interface on both stores (file, PostGIS; the ``store`` fixture): the same answers
as the handlers' own selection, CQL2 (text and JSON) and sortby on the shipped data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from geoservice import views
from geoservice.ogcapi import ItemsQuery, select_rows, serve_layer
from geoservice.store import FileStore, FilterError, Query, SortKey
from geoservice.store.cql import filter_queryables, parse_filter, parse_sortby
from geoservice.vocabulary import DEFAULT_VIEW

BORDERS = filter_queryables(("countries", "status", "kind", "accuracy"))


@pytest.mark.parametrize(
    "parts",
    [
        {},
        {"bbox": (44.0, 38.5, 47.0, 41.5)},
        {"bbox": (170.0, -90.0, -170.0, 90.0)},
        {"interval": (dt.date(1995, 1, 1), None)},
        {"interval": (dt.date(2021, 6, 1), dt.date(2021, 6, 1))},
        {"filters": {"countries": ["ARM", "AZE"]}},
        {"filters": {"status": ["disputed", "settled"]}, "bbox": (40.0, 36.0, 50.0, 44.0)},
    ],
)
def test_store_selects_what_the_handlers_select(catalog, store, parts):
    served = serve_layer(catalog["borders"])
    expected = select_rows(served, ItemsQuery(**parts))
    result = store.query("borders", Query(**parts))
    assert result.matched == len(expected)
    assert [f["properties"]["id"] for f in result.features] == [
        catalog["borders"].features[i]["properties"]["id"] for i in expected
    ]


def test_paging_and_get(store, catalog):
    everything = store.query("borders", Query())
    page = store.query("borders", Query(limit=3, offset=2))
    assert page.matched == everything.matched > 5
    assert page.features == everything.features[2:5]
    fid = everything.features[4]["properties"]["id"]
    assert store.get("borders", fid) == everything.features[4]
    assert store.get("borders", "no-such-id") is None
    shown = views.view_mask(catalog["borders"], DEFAULT_VIEW)  # the query's default view
    in_file = [f for f, s in zip(catalog["borders"].features, shown) if s]
    assert everything.features == in_file  # the file's features, in the file's order


def test_rows_are_numpy_rows(catalog):
    rows = FileStore(catalog).rows("borders", Query(limit=2))
    assert isinstance(rows, np.ndarray) and list(rows) == [0, 1]


def ids(result) -> list[str]:
    return [f["properties"]["id"] for f in result.features]


def test_cql2_text_and_json_agree_and_match_the_data(store):
    text = parse_filter("status = 'disputed' AND kind <> 'line_of_contact'", None, BORDERS)
    as_json = parse_filter(
        '{"op": "and", "args": ['
        '{"op": "=", "args": [{"property": "status"}, "disputed"]},'
        '{"op": "<>", "args": [{"property": "kind"}, "line_of_contact"]}]}',
        "cql2-json",
        BORDERS,
    )
    a, b = store.query("borders", Query(cql=text)), store.query("borders", Query(cql=as_json))
    assert a.matched == b.matched > 0
    assert ids(a) == ids(b)
    for f in a.features:
        assert f["properties"]["status"] == "disputed"
        assert f["properties"]["kind"] != "line_of_contact"
    everything = store.query("borders", Query())
    assert a.matched < everything.matched


def test_cql2_spatial_filter_equals_the_bbox_query(store):
    box = (44.0, 38.5, 47.0, 41.5)
    node = parse_filter(f"S_INTERSECTS(geometry, {shapely.box(*box).wkt})", None, BORDERS)
    assert ids(store.query("borders", Query(cql=node))) == ids(
        store.query("borders", Query(bbox=box))
    )


def test_cql2_temporal_on_validity_dates(store, catalog):
    node = parse_filter("valid_from > '2020-11-10'", None, BORDERS)
    result = store.query("borders", Query(cql=node))
    borders = catalog["borders"]
    shown = views.view_mask(borders, DEFAULT_VIEW)  # the query's default view
    froms = [f["properties"].get("valid_from") for f in borders.features]
    assert result.matched == sum(
        1 for v, s in zip(froms, shown) if s and v is not None and v > "2020-11-10"
    )


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [
        ("status = ", None, "not valid cql2-text"),
        ("colour = 'red'", None, "colour: not queryable"),
        ("{not json", "cql2-json", "not valid cql2-json"),
        ("status = 'x'", "ecql", "filter-lang"),
        ("", None, "empty"),
    ],
)
def test_bad_filters_say_why(text, lang, words):
    with pytest.raises(FilterError, match=words):
        parse_filter(text, lang, BORDERS)


def test_sortby(store):
    keys = parse_sortby("-status,+id", (*BORDERS, "id"))
    assert keys == [SortKey("status", True), SortKey("id", False)]
    result = store.query("borders", Query(sortby=keys))
    pairs = [(f["properties"]["status"], f["properties"]["id"]) for f in result.features]
    statuses = [s for s, _ in pairs]
    assert statuses == sorted(statuses, reverse=True)
    for status in set(statuses):
        group = [i for s, i in pairs if s == status]
        assert group == sorted(group)
    assert result.matched == store.query("borders", Query()).matched
    with pytest.raises(FilterError, match="sortby='colour'"):
        parse_sortby("colour", BORDERS)
