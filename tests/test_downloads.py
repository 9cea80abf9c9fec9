"""Downloads of items pages: GeoPackage and FlatGeobuf (``f=gpkg``, ``f=fgb``), read back with
pyogrio and Debian's ogrinfo; list fields are JSON text that splits back into the citations."""

from __future__ import annotations

import json
import shutil
import subprocess

import pyogrio
import pytest

from geoservice.app import create_app
from geoservice.downloads import DOWNLOADS


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


def download(client, tmp_path, f: str, query: str):
    resp = client.get(f"/api/collections/borders/items?f={f}&{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    d = DOWNLOADS[f]
    assert resp.mimetype == d.media_type
    assert resp.headers["Content-Disposition"] == f'attachment; filename="borders{d.suffix}"'
    path = tmp_path / f"borders{d.suffix}"
    path.write_bytes(resp.data)
    return path


@pytest.mark.parametrize("f", list(DOWNLOADS))
def test_download_holds_the_page_with_lists_as_json(client, tmp_path, f):
    query = "countries=ARM,AZE&limit=500"
    page = client.get(f"/api/collections/borders/items?f=json&{query}").get_json()
    path = download(client, tmp_path, f, query)
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["id"]) == sorted(x["properties"]["id"] for x in page["features"])
    assert len(frame) == page["numberReturned"] > 0
    by_id = {x["properties"]["id"]: x["properties"] for x in page["features"]}
    for _, row in frame.iterrows():
        props = by_id[row["id"]]
        for name in ("sources", "countries", "parties"):
            value = row[name]
            # GDAL's JSON subtype: pyogrio may hand back the parsed list or the JSON text.
            parsed = value if isinstance(value, list) else json.loads(value)
            assert parsed == props[name]
    assert frame.crs.to_epsg() == 4326
    lengths = sorted(round(v, 3) for v in frame["length_km"])
    assert lengths == sorted(x["properties"]["length_km"] for x in page["features"])


def test_citations_with_commas_survive(client, tmp_path):
    path = download(client, tmp_path, "gpkg", "limit=500")
    frame = pyogrio.read_dataframe(path)
    with_commas = 0
    for value in frame["sources"]:
        sources = value if isinstance(value, list) else json.loads(value)
        with_commas += sum("," in s for s in sources)
    assert with_commas > 0  # the case GDAL's (n:a,b,...) list form could not split back


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) not installed")
def test_ogrinfo_sees_json_fields_in_the_geopackage(client, tmp_path):
    path = download(client, tmp_path, "gpkg", "limit=3")
    out = subprocess.run(
        ["ogrinfo", "-so", str(path), "borders"], capture_output=True, text=True, check=True
    )
    assert "sources: String(JSON)" in out.stdout
    assert "Feature Count: 3" in out.stdout


def test_download_respects_the_page_limit_and_is_linked(client, tmp_path):
    path = download(client, tmp_path, "fgb", "limit=2&offset=1")
    assert len(pyogrio.read_dataframe(path)) == 2
    page = client.get("/api/collections/borders/items?limit=2").get_json()
    types = {x["type"] for x in page["links"] if x["rel"] == "alternate"}
    assert {d.media_type for d in DOWNLOADS.values()} <= types
    doc = client.get("/api/openapi").get_json()
    op = doc["paths"]["/collections/borders/items"]["get"]
    assert {d.media_type for d in DOWNLOADS.values()} <= set(op["responses"]["200"]["content"])
    assert client.get("/api/collections/borders/items?f=shp").status_code == 400
