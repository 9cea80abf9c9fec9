"""``geoservice validate`` passes on the shipped data and catches what broken copies get wrong."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from geoservice.catalog import DEFAULT_DATA_DIR
from geoservice.cli import cli
from geoservice.validate import validate_directory


def run_validate(path: Path | None = None):
    """``geoservice validate [path]`` run in-process; ``.exit_code``, ``.stdout``, ``.stderr``."""
    return CliRunner().invoke(cli, ["validate"] + ([str(path)] if path else []))


@pytest.fixture(scope="module")
def shipped_problems():
    return validate_directory(DEFAULT_DATA_DIR)


def test_shipped_data_passes(shipped_problems):
    assert shipped_problems == []


def test_cli_passes_on_shipped_data():
    """End to end, as a subprocess: the result on stdout, nothing on stderr, exit 0."""
    args = [sys.executable, "-m", "geoservice", "validate"]
    result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "ok: no problems found\n"
    assert result.stderr == ""


@pytest.fixture()
def broken(tmp_path):
    """A copy of the shipped data and a function that edits one layer's features."""
    copy = tmp_path / "geodata"
    copy.mkdir()
    for f in DEFAULT_DATA_DIR.glob("*.geojson"):
        shutil.copy(f, copy / f.name)

    def edit(layer: str, change) -> Path:
        path = copy / f"{layer}.geojson"
        doc = json.loads(path.read_text())
        change(doc["features"])
        path.write_text(json.dumps(doc))
        return copy

    return edit


def props(features, fid):
    return next(f["properties"] for f in features if f["properties"]["id"] == fid)


@pytest.mark.parametrize(
    ("layer", "change", "expected"),
    [
        (
            "corridor_bands",
            lambda fs: props(fs, "lachin-original-band").update(accuracy="guessed"),
            "lachin-original-band: accuracy 'guessed' is not one of",
        ),
        (
            "corridor_bands",
            lambda fs: props(fs, "lachin-original-band").update(sources=[]),
            "lachin-original-band: sources must be a non-empty list",
        ),
        (
            "mission_areas",
            lambda fs: props(fs, "EUMA").update(valid_from="2023-02-20", valid_to="2020-01-01"),
            "EUMA: valid_from 2023-02-20 is not before valid_to 2020-01-01",
        ),
        (
            "mission_areas",
            lambda fs: props(fs, "EUMA").update(valid_from="20 Feb 2023"),
            "EUMA: valid_from '20 Feb 2023' is not a date",
        ),
        (
            "borders",
            lambda fs: props(fs, "ARM-GEO-1").update(status="frozen"),
            "ARM-GEO-1: status 'frozen' is not one of settled, disputed",
        ),
        (
            "borders",
            lambda fs: props(fs, "ARM-GEO-1").update(countries=["GEO", "ARM"]),
            "ARM-GEO-1: countries must be two ISO3 codes, sorted",
        ),
        (
            "borders",
            lambda fs: props(fs, "ARM-GEO-1").pop("notes"),
            "ARM-GEO-1: missing field 'notes'",
        ),
        (
            "disputed_areas",
            lambda fs: fs[0].update(
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                }
            ),
            "invalid geometry: Self-intersection",
        ),
        (
            "disputed_areas",
            lambda fs: fs[0].update(
                geometry={"type": "LineString", "coordinates": [[45, 40], [46, 40]]}
            ),
            "geometry type LineString not allowed here",
        ),
        (
            "disputed_areas",
            lambda fs: fs[0].update(
                geometry={
                    "type": "Polygon",
                    "coordinates": [
                        [[4.5e6, 4.4e6], [4.6e6, 4.4e6], [4.6e6, 4.5e6], [4.5e6, 4.4e6]]
                    ],
                }
            ),
            "coordinates outside lon -180..180",
        ),
        (
            "corridor_routes",
            lambda fs: fs.append(json.loads(json.dumps(fs[0]))),
            "id also used in corridor_routes.geojson",
        ),
    ],
)
def test_broken_copy_is_reported(broken, layer, change, expected):
    path = broken(layer, change)
    result = run_validate(path)
    assert result.exit_code == 1
    assert expected in result.stderr, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_gap_in_a_pair_is_reported(broken):
    path = broken(
        "borders",
        lambda fs: fs.remove(
            next(f for f in fs if f["properties"]["id"] == "KGZ-TJK-leilek-1-disputed")
        ),
    )
    result = run_validate(path)
    assert result.exit_code == 1
    assert "KGZ-TJK on" in result.stderr and "has no segment" in result.stderr, result.stderr


def test_an_ended_stretch_is_exempt_only_after_it_ended(broken):
    """The ring around Barak is no border from 2023-01-27 (the shipped data passes, though the
    country polygons still draw it); a hole in its dates before then is still a gap."""

    def late_start(fs):
        props(fs, "KGZ-UZB-barak-1-settled")["valid_from"] = "2020-01-01"

    result = run_validate(broken("borders", late_start))
    assert result.exit_code == 1
    assert "KGZ-UZB on 2017-10-05: 5.7" in result.stderr, result.stderr
    assert "has no segment" in result.stderr and "2023-01-27" not in result.stderr


def test_overlapping_segments_are_reported(broken):
    def overlap(fs):
        twin = json.loads(json.dumps(next(f for f in fs if f["properties"]["id"] == "ARM-GEO-1")))
        twin["properties"]["id"] = "ARM-GEO-2"
        fs.append(twin)

    result = run_validate(broken("borders", overlap))
    assert result.exit_code == 1
    assert "ARM-GEO" in result.stderr and "segments overlap by" in result.stderr, result.stderr


def test_missing_directory_is_one_line(tmp_path):
    result = run_validate(tmp_path / "nowhere")
    assert result.exit_code == 2  # a usage error, not a data problem
    assert result.stderr == f"geoservice: error: {tmp_path / 'nowhere'}: no such data directory\n"
    assert result.stdout == ""


def test_unreadable_file_is_reported(broken):
    path = broken("corridor_routes", lambda fs: None)
    (path / "corridor_routes.geojson").write_text("{not json")
    result = run_validate(path)
    assert result.exit_code == 1
    assert "corridor_routes.geojson: not valid JSON" in result.stderr
