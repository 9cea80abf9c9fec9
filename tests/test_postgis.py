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


# --- the service on PostGIS reads per request, never a layer whole (issue 13 at scale) -------

#: Lengths queries of every shape: all, a pair, a country, three countries, every kind, a
#: status, a point of view, boxes (one clipping the Fergana valley's borders, one across the
#: antimeridian).
LENGTH_QUERIES = [
    {},
    {"countries": ["KGZ", "TJK"]},
    {"countries": ["KGZ"]},
    {"countries": ["ARM", "AZE", "GEO"]},
    {"kind": None},
    {"status": "disputed"},
    {"view": "RUS"},
    {"countries": ["KGZ", "TJK"], "bbox": (70.5, 39.8, 71.2, 40.3)},
    {"bbox": (40.0, 38.0, 50.0, 43.0)},
    {"bbox": (170.0, 40.0, -170.0, 75.0)},
]


def assert_close(got, want, path="answer"):
    """Equal structure; km within a metre (lengths summed in another order may round apart)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for key in want:
            assert_close(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for n, (a, b) in enumerate(zip(got, want)):
            assert_close(a, b, f"{path}[{n}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, abs=1e-3), path
    else:
        assert got == want, path


@pytest.fixture(scope="module")
def sql_only(postgis_dsn):
    """A PostGIS store of its own, to show which layers were read whole (``_data``)."""
    store = PostgisStore(postgis_dsn)
    yield store
    store.close()


@pytest.mark.parametrize("day", ["2000-01-01", "2021-06-01", "2025-06-01"])
@pytest.mark.parametrize("query", LENGTH_QUERIES, ids=str)
def test_lengths_in_sql_agree_with_the_engine_to_the_metre(sql_only, catalog, query, day):
    on_files = measure.border_lengths(catalog, as_of=day, **query)
    in_sql = measure.border_lengths(sql_only, as_of=day, **query)
    assert_close(in_sql, on_files)
    if query.get("countries") == ["KGZ", "TJK"]:
        assert on_files["segments"]  # the box holds real segments, some clipped
    totals = measure.border_lengths(sql_only, as_of=day, segments=False, **query)
    assert_close(totals, measure.border_lengths(catalog, as_of=day, segments=False, **query))
    assert "segments" not in totals
    assert not any("segments" in row for row in totals["by_status"].values())
    assert not sql_only._data  # the borders were never read whole


def test_the_service_reads_no_layer_whole(postgis_dsn, catalog, monkeypatch):
    from geoservice.app import create_app
    from geoservice.settings import settings

    store = PostgisStore(postgis_dsn)
    client = create_app({"STORE": store}).test_client()
    on_files = create_app({"CATALOG": catalog}).test_client()
    some = catalog["borders"].features[3]["properties"]["id"]
    urls = [
        "/api/collections",
        *(f"/api/collections/{lid}" for lid in LAYERS),
        *(f"/api/collections/{lid}/queryables" for lid in LAYERS),
        "/api/collections/borders/items?bbox=69,39,72,41.5&datetime=2021-06-01&limit=50",
        "/api/collections/borders/items?zoom=5&countries=KGZ&sortby=-status&offset=3",
        "/api/collections/countries/items?zoom=3&limit=5",
        f"/api/collections/borders/items/{some}",
        "/api/lengths?countries=KGZ,TJK&as_of=2022-09-01",
        "/api/lengths?countries=ARM,AZE&as_of=2021-06-01&segments=false",
    ]
    for url in urls:
        answer, expected = client.get(url), on_files.get(url)
        assert answer.status_code == 200, (url, answer.data[:300])
        got, want = json.loads(answer.data), json.loads(expected.data)
        for doc in (got, want):
            doc.pop("timeStamp", None)
            doc.pop("links", None)
            for item in doc.get("collections", ()):
                item.pop("links")
        assert_close(got, want, url)
    assert not store._data  # extents, pages, lengths: all SQL
    monkeypatch.setenv("GEOSERVICE_MAX_MEMORY_ROWS", "10")
    settings.cache_clear()
    try:
        answer = client.get("/api/overlaps?a=borders&b=countries&as_of=2021-06-01")
    finally:
        monkeypatch.delenv("GEOSERVICE_MAX_MEMORY_ROWS")
        settings.cache_clear()
    assert answer.status_code == 503, answer.data[:300]
    assert answer.mimetype == "application/problem+json"
    problem = json.loads(answer.data)
    assert problem["title"] == "Layer too large for in-memory analysis"
    assert "too large for in-memory analysis on this store" in problem["detail"]
    assert "Retry-After" not in answer.headers  # asking again will not help
    assert not store._data
    store.close()
