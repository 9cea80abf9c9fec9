"""QGIS's OAPIF provider (Debian's qgis and python3-qgis, offscreen) reads every collection of a
running server: one geometry type each, the API's feature count, and filter expressions that
the server evaluates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from geoservice.layers import LAYERS

pytestmark = pytest.mark.server

SCRIPT = Path(__file__).with_name("qgis_oapif.py")
#: Subset strings (QGIS filter expressions) and the same filters as the API's query parameters.
#: QGIS sends a date comparison as ``datetime=``; an equality on a queryable it sends as
#: ``name=value`` where its version reads those parameters from the OpenAPI document (newer than
#: Debian 12's 3.22, which filters such expressions itself, on every feature it downloads).
SUBSETS = [
    ("borders", "\"valid_from\" <= '2022-09-01'", {"datetime": "../2022-09-01"}),
    ("borders", "\"status\" = 'disputed'", {"status": "disputed"}),
    ("countries", "\"iso3\" = 'ARM'", {"iso3": "ARM"}),
]


def system_python_with_qgis() -> str | None:
    """The system python3 when it can import Debian's python3-qgis, else None."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    probe = subprocess.run(
        [python, "-c", "import qgis.core"], capture_output=True, timeout=60, check=False
    )
    return python if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def qgis_report(api_server):
    """What QGIS read from the live server: per collection, and per subset string."""
    python = system_python_with_qgis()
    if python is None:
        pytest.skip("QGIS is not installed (Debian: apt-get install qgis python3-qgis)")
    out = subprocess.run(
        [python, str(SCRIPT), api_server, json.dumps([s[:2] for s in SUBSETS])],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    layers = {r["layer"]: r for r in lines if "subset" not in r}
    subsets = {(r["layer"], r["subset"]): r for r in lines if "subset" in r}
    return layers, subsets


def items(api_server: str, layer_id: str, **filters: str) -> dict:
    """The API's items answer for the collection (default view), with ``name=value`` filters."""
    query = urllib.parse.urlencode({"limit": 10000, **filters})
    with urllib.request.urlopen(f"{api_server}/api/collections/{layer_id}/items?{query}") as r:
        return json.load(r)


def matched(api_server: str, layer_id: str, **filters: str) -> int:
    """The API's numberMatched for the collection, with ``name=value`` filters."""
    return items(api_server, layer_id, **filters)["numberMatched"]


def test_qgis_reads_every_collection_with_one_geometry_type(qgis_report, api_server):
    """Each collection is a valid QGIS layer of the one geometry type its features have, with
    every feature the API matches, read and counted."""
    layers, _ = qgis_report
    assert sorted(layers) == sorted(LAYERS)
    for layer_id, row in layers.items():
        assert row["valid"], layer_id
        answer = items(api_server, layer_id)
        types = {f["geometry"]["type"] for f in answer["features"]}
        assert len(types) == 1, (layer_id, types)
        assert row["geometry"] == types.pop(), (layer_id, row["geometry"])
        assert 0 < answer["numberMatched"] == len(answer["features"]), layer_id
        assert row["count"] == row["feature_count"] == answer["numberMatched"], (layer_id, row)


def sent_to_server(url: str, filters: dict[str, str]) -> bool:
    """Whether an items URL carries the filter (as parameters, or in a CQL2 ``filter``)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    (name, value), *_ = filters.items()
    if name == "datetime":  # QGIS writes an open start as 0000-01-01T00:00:00Z
        return query.get(name, [""])[0].endswith("/" + value.split("/")[1])
    cql = query.get("filter", [""])[0]
    return query.get(name) == [value] or (name in cql and value in cql)


@pytest.mark.parametrize(("layer_id", "subset", "filters"), SUBSETS)
def test_qgis_filter_expression_gets_the_servers_filtered_answer(
    qgis_report, api_server, layer_id, subset, filters
):
    """Under a subset string QGIS reads exactly the features the API matches for the same
    filter; a date comparison goes to the server as ``datetime=`` (QGIS 3.22 on)."""
    _, subsets = qgis_report
    row = subsets[(layer_id, subset)]
    assert row["valid"], row
    expected = matched(api_server, layer_id, **filters)
    assert 0 < expected < matched(api_server, layer_id)
    assert row["count"] == expected, row
    assert row["urls"], row
    # What QGIS sent for the features (the first request of 10 reads the schema).
    pages = [url for url in row["urls"] if "limit=10&" not in url and not url.endswith("=10")]
    if "datetime" in filters:
        assert pages and all(sent_to_server(url, filters) for url in pages), pages
