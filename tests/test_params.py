"""One table of query parameters and one settings object: what the OpenAPI document says a
resource takes is what it accepts, and the limits come from the environment."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from geoservice import params
from geoservice.app import create_app
from geoservice.layers import LAYERS
from geoservice.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


@pytest.fixture(scope="module")
def document(client):
    return client.get("/api/openapi?f=json").get_json()


def _documented(document, path: str, method: str = "get") -> dict[str, dict]:
    """The parameters of one operation, ``$ref`` resolved: name -> parameter object."""
    out = {}
    for param in document["paths"][path][method]["parameters"]:
        if "$ref" in param:
            param = document["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        out[param["name"]] = param
    return out


def _sample(schema: dict) -> str:
    """A value the schema allows, as query text."""
    if "oneOf" in schema:
        return _sample(schema["oneOf"][0])
    if schema.get("type") == "array":
        return ",".join([_sample(schema["items"])] * schema.get("minItems", 1))
    if "enum" in schema:
        return str(schema["enum"][0])
    if "default" in schema:
        return str(schema["default"]).lower()
    if "example" in schema:
        return str(schema["example"])
    return {"integer": "1", "number": "1", "boolean": "true"}.get(schema.get("type"), "x")


PATHS = [
    ("/lengths", "get"),
    ("/changes", "get"),
    ("/views", "get"),
    ("/overlaps", "get"),
    ("/collections/borders/items", "get"),
    ("/collections/events/items", "get"),
    ("/collections/disputed_areas/items", "get"),
    ("/conformance", "get"),
]


@pytest.mark.parametrize(("path", "method"), PATHS)
def test_every_documented_parameter_is_accepted(client, document, path, method):
    """Each documented parameter, alone with the required ones, given a value its schema
    allows, is not refused as unknown or malformed."""
    documented = _documented(document, path, method)
    required = {n: _sample(p["schema"]) for n, p in documented.items() if p["required"]}
    if path == "/overlaps":
        required = {"a": "borders", "b": "disputed_areas"}
    if path == "/changes":
        required = {"from": "2020-09-26", "to": "2020-12-01"}
    for name, param in documented.items():
        query = {**required, name: required.get(name) or _sample(param["schema"])}
        response = client.get(f"/api{path}", query_string=query)
        assert response.status_code == 200, (name, query, response.get_json())


@pytest.mark.parametrize(("path", "method"), PATHS)
def test_undocumented_parameters_are_refused(client, document, path, method):
    documented = _documented(document, path, method)
    assert "colour" not in documented
    response = client.get(f"/api{path}", query_string={"colour": "red"})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert "unknown query parameter 'colour'" in detail
    # The message lists exactly what the document lists.
    listed = set(detail.split("this resource takes: ")[1].split(", "))
    assert listed == set(documented)


def test_the_drifts_of_round_one_are_gone(client, document):
    """bbox takes 6 numbers and says so; datetime= is refused and its pattern does not match
    the empty string; countries=, is refused by lengths and items alike; a Point's longitude
    may be up to 180."""
    bbox = document["components"]["parameters"]["bbox"]["schema"]
    assert (bbox["minItems"], bbox["maxItems"], bbox["not"]["minItems"]) == (4, 6, 5)
    assert client.get("/api/lengths", query_string={"bbox": "44,38,0,48,41"}).status_code == 400
    six = "44,38,0,48,41,0"
    assert (
        client.get("/api/collections/borders/items", query_string={"bbox": six}).status_code == 200
    )

    pattern = document["components"]["parameters"]["datetime"]["schema"]["pattern"]
    assert re.match(pattern, "") is None
    for text in (
        "2020-01-01",
        "2020-01-01/..",
        "../2020-01-01",
        "/2020-01-01",
        "2020-01-01T00:00:00Z",
    ):
        assert re.match(pattern, text), text
    assert client.get("/api/collections/borders/items?datetime=").status_code == 400
    # A start in year 0000 (RFC 3339 allows it; QGIS sends it for "up to") is an open start.
    counts = [
        client.get("/api/collections/borders/items", query_string={"datetime": text}).get_json()
        for text in ("0000-01-01T00:00:00Z/2022-09-01", "../2022-09-01")
    ]
    assert counts[0]["numberMatched"] == counts[1]["numberMatched"] > 0

    for path in ("/api/lengths", "/api/collections/borders/items"):
        response = client.get(path, query_string={"countries": ","})
        assert response.status_code == 400, path
        assert "empty" in response.get_json()["detail"]

    point = document["components"]["schemas"]["GeoJSONInput"]["anyOf"][0]
    assert point["properties"]["coordinates"]["items"]["maximum"] == 180
    response = client.post("/api/overlaps", json={"type": "Point", "coordinates": [170.0, 10.0]})
    assert response.status_code == 200


def test_codes_are_matched_in_capitals_everywhere(client):
    lower = client.get("/api/lengths", query_string={"countries": "arm,aze"}).get_json()
    upper = client.get("/api/lengths", query_string={"countries": "ARM,AZE"}).get_json()
    assert lower["total_km"] == upper["total_km"] > 0
    items = client.get("/api/collections/borders/items", query_string={"countries": "abk"})
    assert items.status_code == 200 and items.get_json()["numberMatched"] > 0


def test_every_layer_documents_its_queryables(document):
    for layer in LAYERS.values():
        documented = _documented(document, f"/collections/{layer.id}/items")
        assert set(layer.queryables) <= set(documented), layer.id
        assert set(params.EVERYWHERE) <= set(documented)


def test_settings_come_from_the_environment():
    made = Settings.from_environ({"GEOSERVICE_MAX_LIMIT": "50", "GEOSERVICE_DEFAULT_LIMIT": "20"})
    assert (made.max_limit, made.default_limit) == (50, 20)
    assert Settings.from_environ({}).max_limit == Settings().max_limit
    assert Settings.from_environ({"GEOSERVICE_MAX_LIMIT": "50"}).default_limit == 50
    for env, message in [
        ({"GEOSERVICE_MAX_LIMIT": "many"}, "not an integer"),
        ({"GEOSERVICE_MAX_EXTENT_DEG": "0"}, "out of range"),
        ({"GEOSERVICE_MAX_LIMIT": "10", "GEOSERVICE_DEFAULT_LIMIT": "20"}, "is above"),
    ]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_environ(env)


def test_a_limit_set_in_the_environment_is_parsed_and_documented(tmp_path):
    """In a fresh process with GEOSERVICE_MAX_LIMIT=50: limit=51 is refused, limit=50 is
    served, and the document's maximum is 50."""
    script = """
from geoservice.app import create_app
client = create_app().test_client()
doc = client.get("/api/openapi?f=json").get_json()
print(doc["components"]["parameters"]["limit"]["schema"]["maximum"])
print(client.get("/api/collections/places/items?limit=51").status_code)
print(client.get("/api/collections/places/items?limit=50").get_json()["numberReturned"])
"""
    env = {"GEOSERVICE_MAX_LIMIT": "50", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["50", "400", "50"]


def test_a_bad_setting_stops_the_command_line_with_one_line():
    env = {"GEOSERVICE_MAX_VERTICES": "-3", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "geoservice", "length", "--countries", "ARM,AZE"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "GEOSERVICE_MAX_VERTICES" in done.stderr


def test_the_readme_lists_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name, doc, default in Settings.documented():
        row = f"| `{name}` | {doc} | {default:g} |" if isinstance(default, float) else None
        assert (row or f"| `{name}` | {doc} | {default} |") in readme, name
