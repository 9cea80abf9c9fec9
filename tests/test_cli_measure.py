"""`geoservice length` and `geoservice overlap`: in-process with click's CliRunner, and a few
times end to end as a subprocess (stdin piped, a missing data directory)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from geoservice import measure
from geoservice.cli import cli

REPO = Path(__file__).resolve().parent.parent

# A box around Vorukh and the Isfara valley (KGZ-TJK, Batken/Sughd).
ISFARA = {
    "type": "Polygon",
    "coordinates": [[[70.3, 39.7], [70.9, 39.7], [70.9, 40.15], [70.3, 40.15], [70.3, 39.7]]],
}


def run(*args: str, stdin: str | None = None, env: dict | None = None):
    """``geoservice ARGS`` in-process (click's CliRunner): ``.returncode``, ``.stdout``,
    ``.stderr`` as a subprocess would give them."""
    result = CliRunner().invoke(cli, list(args), input=stdin, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback the user would have seen: the test must fail
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def run_subprocess(*args: str, stdin: str | None = None):
    """``python -m geoservice ARGS`` as a separate process, end to end."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "geoservice", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=120,
        check=False,
    )


def test_length_json_is_the_engine_result(catalog):
    done = run("length", "--countries", "KGZ,TJK", "--as-of", "2022-09-01", "--json")
    assert done.returncode == 0, done.stderr
    expected = measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=dt.date(2022, 9, 1))
    assert json.loads(done.stdout) == expected


def test_length_table_lists_pairs_statuses_and_segments(catalog):
    done = run("length", "--countries", "kgz,tjk", "--status", "disputed", "--as-of", "2022-09-01")
    assert done.returncode == 0, done.stderr
    expected = measure.border_lengths(
        catalog, ["KGZ", "TJK"], status="disputed", as_of=dt.date(2022, 9, 1)
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        "Border lengths as of 2022-09-01 (kind international, status disputed, view on_the_ground)"
    )
    assert lines[2].split() == ["pair", "disputed", "total"]
    total = f"{expected['total_km']:.1f}"
    assert lines[3].split() == ["KGZ-TJK", total, total]
    segment_rows = [line.split()[0] for line in lines[6:]]
    assert segment_rows == [s["id"] for s in expected["segments"]]
    assert expected["segments"] and all(s["status"] == "disputed" for s in expected["segments"])


def test_overlap_of_two_layers(catalog):
    done = run("overlap", "corridor_routes", "mission_areas", "--as-of", "2021-06-01", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == measure.overlaps(
        catalog, "corridor_routes", "mission_areas", as_of=dt.date(2021, 6, 1)
    )
    assert any(h["a"].get("corridor") == "lachin" for h in result["results"])
    table = run("overlap", "corridor_routes", "mission_areas", "--as-of", "2021-06-01")
    assert table.returncode == 0, table.stderr
    for hit in result["results"]:
        assert f"{hit['a']['layer']}/{hit['a']['id']}" in table.stdout


def test_overlap_of_a_geojson_file_with_chosen_layers(catalog, tmp_path):
    path = tmp_path / "my_area.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "Isfara"}, "geometry": ISFARA}
                ],
            }
        )
    )
    done = run(
        "overlap",
        "--geometry",
        str(path),
        "--layers",
        "borders,disputed_areas",
        "--as-of",
        "2022-09-01",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == measure.overlaps(
        catalog, geometry=ISFARA, layers=["borders", "disputed_areas"], as_of=dt.date(2022, 9, 1)
    )
    assert {h["b"]["layer"] for h in result["results"]} <= {"borders", "disputed_areas"}
    assert any(h["b"].get("countries") == ["KGZ", "TJK"] for h in result["results"])
    piped = run_subprocess(
        "overlap",
        "--geometry",
        "-",
        "--layers",
        "borders",
        "--as-of",
        "2022-09-01",
        stdin=json.dumps(ISFARA),
    )
    assert piped.returncode == 0, piped.stderr
    assert "your Polygon x borders" in piped.stdout.splitlines()[0]


BAD = [
    (["length", "--countries", "KGZ,XYZ"], "unknown country code 'XYZ'"),
    (["length", "--status", "contested"], "unknown status 'contested'"),
    (["length", "--kind", "maritime"], "unknown kind 'maritime'"),
    (["length", "--as-of", "2022-02-30"], "not a valid calendar date"),
    (["length", "--as-of"], "requires an argument"),
    (["length", "--colour"], "No such option"),
    (["overlap"], "give two layers"),
    (["overlap", "corridor_routes", "roads"], "unknown layer 'roads'"),
    (["overlap", "corridor_routes", "borders", "countries"], "at most two layers"),
    (["overlap", "--geometry", "/no/such/file.geojson"], "No such file or directory"),
    (["overlap", "--geometry", "{dir}"], "cannot read"),
    (["overlap", "--geometry", "{notjson}"], "not valid JSON"),
    (["overlap", "--geometry", "{bowtie}"], "polygon is not valid: Self-intersection"),
    (["overlap", "--geometry", "{area}", "corridor_routes", "borders"], "not both"),
    (["overlap", "--geometry", "{area}", "--layers", "roads"], "unknown layer 'roads'"),
    (["length", "--lang", "xx"], "unknown lang 'xx'"),
    (["overlap", "corridor_routes", "mission_areas", "--lang", "klingon"], "unknown lang"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_gives_one_line_on_stderr_and_nonzero_exit(tmp_path, args, message):
    files = {
        "dir": tmp_path,
        "notjson": tmp_path / "broken.geojson",
        "bowtie": tmp_path / "bowtie.geojson",
        "area": tmp_path / "area.geojson",
    }
    files["notjson"].write_text('{"type": "Polygon", "coordinates": [[[70')
    files["bowtie"].write_text(
        json.dumps(
            {"type": "Polygon", "coordinates": [[[70, 40], [71, 41], [71, 40], [70, 41], [70, 40]]]}
        )
    )
    files["area"].write_text(json.dumps(ISFARA))
    done = run(*(a.format(**files) for a in args))
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("geoservice: error: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr


def test_missing_data_directory_is_one_line_too(tmp_path):
    done = run("length", env={"GEOSERVICE_DATA": str(tmp_path / "nowhere")})
    assert done.returncode == 1  # the configured data is missing: a data problem
    assert done.returncode != 0
    missing = tmp_path / "nowhere"
    assert done.stderr.splitlines() == [f"geoservice: error: {missing}: no such data directory"]


def test_length_and_overlap_print_labels_in_the_language_asked_for(catalog):
    done = run("length", "--countries", "GEO,RUS", "--lang", "ru", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == measure.border_lengths(catalog, ["GEO", "RUS"], lang="ru")
    assert result["labels"] == {"GEO": "Грузия", "RUS": "Россия"}
    table = run("length", "--countries", "ABK", "--kind", "all", "--lang", "ab").stdout
    assert "Аҧсны" in table.splitlines()[3]  # the pair row names the entity (its areas' name)
    english = run("length", "--countries", "GEO,RUS").stdout
    assert "Грузия" not in english and "name" not in english.splitlines()[2]
    args = ("overlap", "disputed_areas", "borders", "--as-of", "2015-01-01", "--lang", "ru")
    hits = run(*args)
    assert hits.returncode == 0, hits.stderr
    assert "disputed_areas/GEO-abkhazia-2008-08-26-held (Абхазия)" in hits.stdout
    for hit in json.loads(run(*args, "--json").stdout)["results"]:
        assert f"{hit['b']['layer']}/{hit['b']['id']} ({hit['b']['label']})" in hits.stdout


def test_lang_as_a_subprocess():
    done = run_subprocess("length", "--countries", "GEO,RUS", "--lang", "ru")
    assert done.returncode == 0, done.stderr
    assert "Грузия – Россия" in done.stdout
    bad = run_subprocess("overlap", "corridor_routes", "mission_areas", "--lang", "xx")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geoservice: error: unknown lang 'xx'; one of")
