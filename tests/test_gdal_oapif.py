"""GDAL's OAPIF driver (through pyogrio) reads every collection from a running server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request

import numpy as np
import pyogrio
import pytest
import shapely

from geoservice import views
from geoservice.layers import LAYERS
from geoservice.views import in_view
from geoservice.vocabulary import DEFAULT_VIEW

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def oapif(api_server):
    """The GDAL connection string of the live server's API."""
    return f"OAPIF:{api_server}/api"


def test_gdal_lists_every_collection(oapif):
    names = [name for name, _ in pyogrio.list_layers(oapif)]
    assert sorted(names) == sorted(LAYERS)


def default_view_rows(data) -> list[int]:
    """Rows of the features the API serves when no view is asked for (on the ground)."""
    return [i for i, f in enumerate(data.features) if in_view(f["properties"], DEFAULT_VIEW)]


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_gdal_reads_the_same_features_as_the_data_file(oapif, catalog, layer_id):
    frame = pyogrio.read_dataframe(oapif, layer=layer_id)
    data = catalog[layer_id]
    rows = default_view_rows(data)
    expected_ids = [data.features[i]["properties"]["id"] for i in rows]

    assert len(frame) == len(rows)
    assert list(frame["id"]) == expected_ids
    # Same names and the same shapes, to the precision of the JSON text.
    names = {f["properties"]["id"]: f["properties"].get("name") for f in data.features}
    assert [names[i] for i in frame["id"]] == list(frame["name"])
    served = np.asarray(frame.geometry.values, dtype=object)
    original = np.asarray(data.frame.geometry.values, dtype=object)[rows]
    assert shapely.equals_exact(served, original, tolerance=1e-9).all()
    # The geodesic measures the service adds come through as fields.
    if "length_km" in frame:
        lines = frame.geometry.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
        assert np.allclose(frame["length_km"][lines], data.length_km[rows][lines], atol=1e-3)
    if "area_km2" in frame:
        areas = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        assert np.allclose(frame["area_km2"][areas], data.area_km2[rows][areas], atol=1e-3)


@pytest.mark.parametrize("view", ["RUS", "UKR"])
def test_gdal_reads_one_point_of_view_from_a_query_parameter(api_server, catalog, view):
    """A GIS client asks for one view by putting ``?view=`` on the API URL."""
    frame = pyogrio.read_dataframe(f"OAPIF:{api_server}/api?view={view}", layer="borders")
    data = catalog["borders"]
    expected = [f["properties"]["id"] for f in data.features if in_view(f["properties"], view)]
    assert list(frame["id"]) == expected
    crimea = frame[frame["id"].str.startswith("UKR-crimea-line")]
    if view == "RUS":  # Russia's view: the isthmus line is an international border
        assert "international" in set(crimea["kind"])
    else:  # Ukraine's view: the line is not drawn at all
        assert crimea.empty


def test_gdal_spatial_filter_matches_the_spatial_index(oapif, catalog):
    """A bbox read (Kyrgyzstan-Tajikistan border area) returns the features the index finds."""
    bbox = (69.0, 39.0, 72.0, 41.0)
    frame = pyogrio.read_dataframe(oapif, layer="borders", bbox=bbox)
    data = catalog["borders"]
    expected = [data.features[i]["properties"]["id"] for i in data.bbox_rows(bbox)]
    assert sorted(frame["id"]) == sorted(expected)
    assert len(expected) > 0


@pytest.mark.parametrize("layer_id", ["borders", "disputed_areas"])
def test_gdal_paging_by_next_links_returns_every_feature_once(oapif, catalog, layer_id):
    """With a page size of 4 GDAL must follow ``next`` links page by page (as QGIS does)."""
    frame = pyogrio.read_dataframe(oapif, layer=layer_id, PAGE_SIZE=4)
    data = catalog[layer_id]
    expected = [data.features[i]["properties"]["id"] for i in default_view_rows(data)]
    assert len(expected) > 8
    assert list(frame["id"]) == expected


def test_ogrinfo_sees_one_geometry_type_and_every_feature_per_collection(api_server, catalog):
    """GDAL's ogrinfo (as QGIS would) gives each collection one geometry type, not "Unknown
    (any)", and the same feature count as the API's numberMatched."""
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (Debian's gdal-bin) is not installed")
    out = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", f"OAPIF:{api_server}/api"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    reported = {}
    for block in out.split("Layer name: ")[1:]:
        name = block.splitlines()[0].strip()
        geometry = re.search(r"^Geometry: (.+)$", block, re.MULTILINE).group(1)
        count = int(re.search(r"^Feature Count: (-?\d+)$", block, re.MULTILINE).group(1))
        reported[name] = (geometry, count)
    assert sorted(reported) == sorted(LAYERS)
    for layer_id, (geometry, count) in reported.items():
        types = {f["geometry"]["type"] for f in catalog[layer_id].features}
        assert len(types) == 1, (layer_id, types)
        assert geometry.replace(" ", "") == types.pop(), (layer_id, geometry)
        with urllib.request.urlopen(f"{api_server}/api/collections/{layer_id}/items?limit=1") as r:
            matched = json.load(r)["numberMatched"]
        # the API's default view is on_the_ground: views' own states are left out
        in_view = int(views.view_mask(catalog[layer_id], DEFAULT_VIEW).sum())
        assert count == matched == in_view, layer_id
