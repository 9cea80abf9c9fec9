"""`geoservice load` and `geoservice serve --store` on the throwaway PostGIS cluster: the API
answers from the database; a bad or unreachable database is one line and exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from geoservice.cli import cli
from geoservice.layers import LAYERS


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def test_load_prints_the_rows_per_layer(postgis_dsn, catalog):
    result = CliRunner().invoke(cli, ["load", postgis_dsn])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t") for line in result.output.splitlines() if "\t" in line)
    assert lines == {lid: str(len(catalog[lid].features)) for lid in LAYERS}
    assert result.output.splitlines()[-1].startswith("ok: ")


@pytest.mark.parametrize(
    "args",
    [
        ["load", "postgresql://nobody@127.0.0.1:1/none"],
        ["serve", "--store", "postgresql://nobody@127.0.0.1:1/none"],
        ["serve", "--store", "postgresql://[unclosed"],
    ],
)
def test_an_unreachable_database_is_one_line(args):
    out = subprocess.run(
        [sys.executable, "-m", "geoservice", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geoservice: error: ")
    assert "database" in lines[0] and "Traceback" not in out.stderr


def test_serve_from_postgis_answers_as_from_the_files(postgis_dsn, api_server, serve):
    path = "/api/collections/borders/items?limit=500&bbox=44,38.5,47,41.5"
    expected = get_json(api_server + path)
    with serve(env={"GEOSERVICE_STORE": postgis_dsn}) as url:
        got = get_json(url + path)
        length = get_json(url + "/api/lengths?countries=ARM,AZE&as_of=2021-06-01")
    assert got["numberMatched"] == expected["numberMatched"] > 0
    assert got["features"] == expected["features"]
    assert length == get_json(api_server + "/api/lengths?countries=ARM,AZE&as_of=2021-06-01")
