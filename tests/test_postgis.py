"""The PostGIS store against the file store on the shipped data: the engine's layer data, lengths
cross-checked with PostGIS's own geodesic ``ST_Length``, CQL2 evaluated in SQL (and safely),
the change counter that refreshes the engine's copy, and an idempotent load."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import psycopg
import pytest
import shapely

from geoservice import measure
from geoservice.layers import LAYERS
from geoservice.store import FileStore, FilterError, PostgisStore, Query
from geoservice.store.cql import filter_queryables, parse_filter
from geoservice.store.postgis import load_directory


@pytest.fixture(scope="module")
def pg(postgis_dsn):
    store = PostgisStore(postgis_dsn)
    yield store
    store.close()


@pytest.fixture(scope="module")
def files(catalog):
    return FileStore(catalog)


def ids(result) -> list[str]:
    return [f["properties"]["id"] for f in result.features]


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_layer_data_equals_the_file_store(pg, catalog, layer_id):
    data, expected = pg.layer_data(layer_id), catalog[layer_id]
    assert data.features == expected.features
    assert np.array_equal(data.length_km, expected.length_km)
    assert np.array_equal(data.area_km2, expected.area_km2)
    assert all(shapely.equals_exact(data.frame.geometry.values, expected.frame.geometry.values, 0))
    assert pg.layer_data(layer_id) is data  # cached while the table is unchanged


def test_lengths_match_st_length_on_geography_to_the_metre(pg, catalog):
    with pg.connection() as conn:
        rows = conn.execute(
            "SELECT id, ST_Length(geom::geography) / 1000 FROM geoservice.borders"
        ).fetchall()
    postgis_km = dict(rows)
    borders = catalog["borders"]
    ours = {f["properties"]["id"]: km for f, km in zip(borders.features, borders.length_km)}
    assert set(ours) == set(postgis_km)
    worst = max(abs(ours[i] - postgis_km[i]) for i in ours)
    assert worst < 0.001, f"largest difference {worst * 1000:.3f} m"
    assert sum(ours.values()) > 10_000  # real lengths, not a table of zeros


def test_the_engine_measures_the_same_on_both_stores(pg, catalog):
    for day in ("2000-01-01", "2021-06-01", "2025-06-01"):
        on_files = measure.border_lengths(catalog, as_of=day)
        on_postgis = measure.border_lengths(pg, as_of=day)
        assert on_postgis == on_files
        by_status = pg.lengths_by_status(dt.date.fromisoformat(day), "on_the_ground")
        for status, row in on_files["by_status"].items():
            assert by_status.get(status, 0.0) == pytest.approx(row["length_km"], abs=1e-3)
        pair = measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=day)
        in_sql = pg.lengths_by_status(dt.date.fromisoformat(day), "on_the_ground", pair="KGZ-TJK")
        assert in_sql == pytest.approx(
            {s: r["length_km"] for s, r in pair["by_status"].items() if r["length_km"]}, abs=1e-3
        )


def test_the_length_changes_follow_an_edit(postgis_dsn):
    store = PostgisStore(postgis_dsn)
    day = dt.date(2021, 6, 1)
    before = store.lengths_by_status(day, "on_the_ground", pair="KGZ-TJK")
    disputed = Query(filters={"status": ["disputed"]}, limit=1)
    count = store.query("borders", disputed).matched  # the count is cached until a change
    with store.connection() as conn:
        fid, km = conn.execute(
            "SELECT id, length_km FROM geoservice.borders WHERE status = 'disputed' "
            "AND props ->> 'countries' = '[\"KGZ\", \"TJK\"]' AND kind = 'international' "
            "AND (valid_from IS NULL OR valid_from <= %s) AND (valid_to IS NULL OR valid_to > %s) "
            "AND views IS NULL LIMIT 1",
            [day, day],
        ).fetchone()
        flip = (
            "UPDATE geoservice.borders SET props = jsonb_set(props, '{status}', %s) WHERE id = %s"
        )
        conn.execute(flip, ['"settled"', fid])
        try:
            after = store.lengths_by_status(day, "on_the_ground", pair="KGZ-TJK")
            assert store.query("borders", disputed).matched == count - 1
        finally:
            conn.execute(flip, ['"disputed"', fid])
    assert after["disputed"] == pytest.approx(before["disputed"] - km, abs=1e-6)
    assert after["settled"] == pytest.approx(before.get("settled", 0.0) + km, abs=1e-6)
    assert store.lengths_by_status(day, "on_the_ground", pair="KGZ-TJK") == pytest.approx(before)
    assert store.query("borders", disputed).matched == count
    store.close()


BORDERS = (*filter_queryables(LAYERS["borders"].queryables), "id")


def cql(text: str):
    """A filter in cql2-text, or in cql2-json when it starts with a brace."""
    return parse_filter(text, "cql2-json" if text.startswith("{") else None, BORDERS)


def array_op(op: str, name: str, values: list) -> str:
    return json.dumps({"op": op, "args": [{"property": name}, values]})


@pytest.mark.parametrize(
    "text",
    [
        "status = 'disputed' OR kind = 'de_facto'",
        "status IN ('settled', 'unresearched') AND NOT accuracy = 'approximate'",
        "id LIKE 'ARM-AZE%'",
        "valid_to IS NULL",
        "valid_from BETWEEN '1992-01-01' AND '2020-12-31'",
        "S_INTERSECTS(geometry, POLYGON((44 38.5, 47 38.5, 47 41.5, 44 41.5, 44 38.5)))",
        "BBOX(geometry, 68, 39, 72, 41)",
    ],
)
def test_cql2_in_sql_selects_what_geopandas_selects(pg, files, text):
    got = ids(pg.query("borders", Query(cql=cql(text), view="un")))
    assert got == ids(files.query("borders", Query(cql=cql(text), view="un")))
    assert got, "every filter here selects something"
    assert len(got) < pg.query("borders", Query(view="un")).matched


@pytest.mark.parametrize(
    ("op", "values", "test"),
    [
        ("a_contains", ["ARM"], lambda c: "ARM" in c),
        ("a_contains", ["ARM", "AZE"], lambda c: {"ARM", "AZE"} <= set(c)),
        ("a_overlaps", ["ARM", "GEO"], lambda c: bool({"ARM", "GEO"} & set(c))),
        ("a_containedby", ["ARM", "AZE", "GEO"], lambda c: set(c) <= {"ARM", "AZE", "GEO"}),
    ],
)
def test_cql2_array_operators(pg, op, values, test):
    # pygeofilter's GeoPandas backend has no array operators: checked against the features.
    got = ids(pg.query("borders", Query(cql=cql(array_op(op, "countries", values)))))
    everything = pg.query("borders", Query()).features
    assert got == [f["properties"]["id"] for f in everything if test(f["properties"]["countries"])]
    assert 0 < len(got) < len(everything)


@pytest.mark.parametrize(
    ("op", "name", "value"),
    [
        ("=", "status", "x'; DROP TABLE geoservice.borders; --"),
        ("=", "id", "a\\' OR 1=1 --"),
        ("like", "status", "%' OR '1'='1"),
    ],
)
def test_quotes_in_filter_values_stay_values(pg, op, name, value):
    text = json.dumps({"op": op, "args": [{"property": name}, value]})
    result = pg.query("borders", Query(cql=cql(text)))
    assert result.matched == 0
    assert pg.query("borders", Query()).matched > 0  # the table is still there


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("countries = 'ARM'", "countries is a array"),
        ("valid_from > 'yesterday-ish'", "cannot be evaluated"),
        (array_op("a_contains", "status", ["x"]), "must be a list"),
    ],
)
def test_filters_sql_cannot_answer_say_why(pg, text, words):
    with pytest.raises(FilterError, match=words):
        pg.query("borders", Query(cql=cql(text)))


def test_a_change_in_the_database_refreshes_the_engine(postgis_dsn, catalog):
    store = PostgisStore(postgis_dsn)
    before = store.layer_data("mission_posts")
    version = store.version("mission_posts")
    with psycopg.connect(postgis_dsn, autocommit=True) as conn:
        conn.execute("UPDATE geoservice.mission_posts SET seq = seq")  # a write, same data
    assert store.version("mission_posts") == version + 1
    after = store.layer_data("mission_posts")
    assert after is not before and after.features == before.features
    store.close()


def test_load_is_idempotent(postgis_dsn):
    store = PostgisStore(postgis_dsn)
    first = {lid: store.query(lid, Query()).matched for lid in store.layer_ids()}
    counts = load_directory(postgis_dsn)
    assert counts == {lid: len(store.layer_data(lid).features) for lid in LAYERS}
    assert {lid: store.query(lid, Query()).matched for lid in store.layer_ids()} == first
    with store.connection() as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'geoservice'"
        ).fetchone()[0]
        gist = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'geoservice' "
            "AND indexdef LIKE '%USING gist (geom)%'"
        ).fetchone()[0]
    # the layers, the layer list, meta, length changes, the revisions of edits
    assert tables == len(LAYERS) + 4
    assert gist == len(LAYERS)
    store.close()
