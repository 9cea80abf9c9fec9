"""Smoke test of the benchmark scripts on a tiny size: they still run, and their parts are right.

No wrk, PostgreSQL or pygeoapi here (those run only in the benchmark itself); the growth
script runs end to end at 1 000 segments on the shipped data, and the comparison's request
set, ceiling app, wrk report reader and BENCHMARKS.md writer are checked on the real service.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import shapely

from benchmarks import ceiling_app, compare, growth, report, wrk
from geoservice import views
from geoservice.catalog import DEFAULT_DATA_DIR, load_catalog
from geoservice.vocabulary import DEFAULT_VIEW

ROOT = Path(__file__).resolve().parent.parent


def test_growth_generator_keeps_schema_and_count(tmp_path):
    source = orjson.loads((DEFAULT_DATA_DIR / "borders.geojson").read_bytes())["features"]
    info = growth.generate(DEFAULT_DATA_DIR, 1500, tmp_path)
    features = orjson.loads((tmp_path / "borders.geojson").read_bytes())["features"]
    assert info["segments"] == len(features) == 1500
    schemas = {frozenset(f["properties"]) for f in source}  # views' own lines carry more fields
    assert all(frozenset(f["properties"]) in schemas for f in features)
    ids = [f["properties"]["id"] for f in features]
    assert len(set(ids)) == len(ids)
    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    assert shapely.is_valid(geoms).all()
    x, y = shapely.get_coordinates(geoms).T
    assert (abs(x) <= 180).all() and (abs(y) <= 90).all()
    # the other layers come along, so the catalog loads as the service would load it
    catalog = load_catalog(tmp_path)
    assert len(catalog["borders"].features) == 1500
    assert len(catalog["countries"].features) == len(load_catalog()["countries"].features)


def tiny_run(module: str, out, *extra: str) -> subprocess.CompletedProcess:
    """A growth script at 1,000 segments, one run per query, its JSON to ``out``."""
    return subprocess.run(
        [sys.executable, "-m", module, "--sizes", "1000", "--repeat", "1", "--out", str(out)]
        + list(extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_growth_script_runs_on_a_tiny_size(tmp_path):
    out = tmp_path / "growth.json"
    proc = tiny_run("benchmarks.growth", out)
    assert proc.returncode == 0, proc.stderr
    doc = orjson.loads(out.read_bytes())
    (size,) = doc["sizes"]
    assert size["segments"] == size["features"] == 1000
    assert size["peak_rss_mb"] > 0 and size["startup_s"] > 0
    assert [b["target"] for b in size["bbox"]] == [10, 100]
    assert all(b["rows"] > 0 for b in size["bbox"])
    assert size["lengths"]["segments"] > 0 and size["lengths"]["total_km"] > 0
    assert "| 1,000 |" in proc.stdout


def test_growth_rejects_bad_sizes():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.growth", "--sizes", "ten"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("growth: error:") and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def service():
    from geoservice.app import create_app

    return create_app().test_client()


def test_request_set_targets_answer_on_the_service(service, catalog):
    requests = compare.request_set(catalog["borders"].features)
    assert [r.name for r in requests] == [
        "items_10",
        "items_100",
        "items_all",
        "bbox",
        "one_feature",
        "lengths",
    ]
    assert requests[-1].pygeoapi is None  # pygeoapi has no lengths endpoint
    for req in requests:
        resp = service.get(req.service)
        assert resp.status_code == 200, (req.service, resp.data[:300])
    everything = orjson.loads(service.get(requests[2].service).data)
    on_the_ground = views.view_mask(catalog["borders"], DEFAULT_VIEW)  # the items' default view
    assert len(everything["features"]) == int(on_the_ground.sum())
    fergana = orjson.loads(service.get(requests[3].service).data)
    assert 0 < len(fergana["features"]) < len(catalog["borders"].features)


def test_ceiling_returns_the_service_bytes(service, catalog, tmp_path):
    requests = compare.request_set(catalog["borders"].features)
    responses = {}
    for req in requests:
        resp = service.get(req.service)
        responses[req.service] = (resp.status_code, resp.content_type, resp.data)
    saved = tmp_path / "responses.bin"
    ceiling_app.save_responses(responses, saved)
    ceiling = ceiling_app.create_app(ceiling_app.load_responses(saved)).test_client()
    for target, (status, content_type, body) in responses.items():
        resp = ceiling.get(target)
        assert (resp.status_code, resp.content_type, resp.data) == (status, content_type, body)
    assert ceiling.get("/api/collections/borders/items?limit=11").status_code == 404


WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8000/api/collections/borders/items?limit=10
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.53ms    2.10ms  48.22ms   90.12%
    Req/Sec     1.52k   100.21     1.80k    70.00%
  Latency Distribution
     50%  850.00us
     75%   11.20ms
     90%   12.40ms
     99%    1.20s
  30312 requests in 10.01s, 7.46GB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 2
Requests/sec:   3028.17
Transfer/sec:    763.21MB
"""


def test_wrk_report_is_read_in_milliseconds():
    res = wrk.parse(WRK_OUTPUT)
    assert res.rps == 3028.17 and res.requests == 30312
    assert res.p50_ms == pytest.approx(0.85) and res.p99_ms == pytest.approx(1200.0)
    assert (res.read_errors, res.timeouts, res.non_2xx, res.errors) == (3, 7, 2, 12)
    with pytest.raises(ValueError):
        wrk.parse("wrk: connection refused")
    assert 'targets = {"/a?b=1", "/c"}' in wrk.rotation_script(["/a?b=1", "/c"])


def test_report_section_keeps_other_sections(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Measurement engine\nkept\n")
    report.update_section(path, "compare", "first\n")
    report.update_section(path, "compare", "second\n")
    text = path.read_text()
    assert "## Measurement engine\nkept" in text
    assert "second" in text and "first" not in text
    assert text.count("<!-- compare:start -->") == 1


def test_postgis_load_rows_keep_nulls_lists_and_geometry(catalog):
    import csv
    import io

    from benchmarks import pygeoapi_stack

    csv.field_size_limit(1 << 30)  # EWKB hex of a long border line

    features = catalog["borders"].features
    types = pygeoapi_stack._column_types(features)
    assert types["valid_from"] == types["valid_to"] == "date"
    assert types["countries"] == types["sources"] == "jsonb"
    assert types["reported_length_km"] == "double precision" and types["id"] == "text"
    columns = list(types)
    text = pygeoapi_stack.copy_text(features, columns, types).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(features)
    for feature, row in zip(features, rows):
        props = feature["properties"]
        for col, value in zip(columns, row):
            if props.get(col) is None:
                assert value == ""  # unquoted empty: NULL for COPY csv
            elif types[col] == "jsonb":
                assert orjson.loads(value) == props[col]
            else:
                assert value == str(props[col])
        geom = shapely.from_wkb(bytes.fromhex(row[-1]))
        assert shapely.get_srid(geom) == 4326
        assert geom.equals(shapely.from_geojson(orjson.dumps(feature["geometry"])))
    # COPY csv tells NULL (unquoted empty) from the empty string (quoted)
    line = {"type": "LineString", "coordinates": [[70.0, 40.0], [70.1, 40.1]]}
    two = [
        {"type": "Feature", "geometry": line, "properties": {"id": "a", "notes": ""}},
        {"type": "Feature", "geometry": line, "properties": {"id": "b", "notes": None}},
    ]
    first, second = pygeoapi_stack.copy_text(
        two, ["id", "notes"], {"id": "text", "notes": "text"}
    ).split()
    assert first.startswith(b'"a","",') and second.startswith(b'"b",,')


def test_growth_on_postgis_runs_on_a_tiny_size(tmp_path):
    from benchmarks import pygeoapi_stack

    if not (pygeoapi_stack.PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed ({pygeoapi_stack.PG_BIN / 'initdb'} missing)")
    out = tmp_path / "growth-postgis.json"
    proc = tiny_run("benchmarks.growth_postgis", out, "--app")
    assert proc.returncode == 0, proc.stderr
    (size,) = orjson.loads(out.read_bytes())["sizes"]
    # features: the matched count in the default view (segments of other views' states aside):
    # the pieces the generator cuts from the shipped borders whose feature is in that view
    from benchmarks import growth
    from geoservice.views import in_view

    shipped = orjson.loads((ROOT / "geodata" / "borders.geojson").read_bytes())["features"]
    pieces = growth._pieces(growth._parts(shipped), 1000)
    expected = sum(in_view(shipped[i]["properties"], "on_the_ground") for i, _ in pieces)
    assert size["segments"] == 1000 and size["features"] == expected < 1000
    assert [b["target"] for b in size["bbox"]] == [10, 100]
    assert all(b["rows"] > 0 for b in size["bbox"])
    assert size["lengths"]["km"] and size["lengths"]["ms"] > 0
    service = size["service"]  # create_app on the store, then its handlers in process
    assert service["startup_s"] > 0 and service["lengths_ms"] > 0 and service["totals_ms"] > 0
    assert [b["rows"] for b in service["bbox"]] == [b["rows"] for b in size["bbox"]]
    # the service itself: started, then lengths and the bbox pages over HTTP
    app = size["app"]
    assert "stopped" not in app and app["startup_s"] > 0 and app["rss_mb"] > 0
    assert app["totals_ms"] > 0 and app["import_s"] > 0
    assert app["lengths_ms"] > 0 and [b["rows"] for b in app["bbox"]] == [
        b["rows"] for b in size["bbox"]
    ]
    assert "| 1,000 |" in proc.stdout
