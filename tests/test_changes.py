"""What changed between two dates (geoservice.changes), over HTTP and on the command line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import orjson
import pytest
import shapely

from geoservice import geodesy
from geoservice.app import create_app
from geoservice.changes import changes, holdings

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


def test_the_2020_war_moves_land_from_artsakh_to_azerbaijan(catalog):
    result = changes(catalog, "2020-09-26", "2020-12-01")
    artsakh = "ART"
    result_day = dt.date(2020, 9, 26)
    before = holdings(catalog, result_day)
    after = holdings(catalog, dt.date(2020, 12, 1))
    lost = geodesy.area_km2(shapely.difference(before[artsakh], after[artsakh]))
    retaken = {(t["from"], t["to"]): t["area_km2"] for t in result["areas"]["transfers"]}
    assert retaken[(artsakh, "AZE")] == pytest.approx(lost, rel=0.01)
    assert 5000 < retaken[(artsakh, "AZE")] < 11000  # most of the seven districts
    side = result["areas"]["by_side"]
    assert side["AZE"]["gained_km2"] == pytest.approx(retaken[(artsakh, "AZE")], abs=0.2)
    assert side[artsakh]["net_km2"] < 0
    names = [e["name"] for e in result["events"]]
    assert any("Shusha" in n for n in names) and any("Kalbajar" in n for n in names)
    ended = {f["id"] for f in result["features"]["ended"]}
    assert "NK-loc-1994" in ended
    assert result_day.isoformat() == result["from"]


def test_the_2025_treaty_settles_the_kyrgyz_tajik_stretches(catalog):
    result = changes(catalog, "2025-01-01", "2025-06-01")
    km = result["borders"]["km_by_change"]["disputed->settled"]
    assert km >= 467 * 0.98  # the three stretches, at least the 467 km the record places
    assert all(
        "KGZ" in s["countries"] or "ARM" in s["countries"] for s in result["borders"]["stretches"]
    )


def test_changes_over_http_and_problems(client, catalog):
    response = client.get("/api/changes?from=2020-09-26&to=2020-12-01")
    assert response.status_code == 200
    assert response.get_json() == orjson.loads(
        orjson.dumps(changes(catalog, "2020-09-26", "2020-12-01"))
    )
    for bad in (
        "from=2020-12-01&to=2020-09-26",
        "from=2020-13-01&to=2021-01-01",
        "to=2021-01-01",
        "from=2020-01-01&to=2021-01-01&view=mars",
        "from=2020-01-01&to=2021-01-01&x=1",
    ):
        response = client.get(f"/api/changes?{bad}")
        assert response.status_code == 400, bad
        assert response.mimetype == "application/problem+json"


def test_changes_on_the_command_line():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "geoservice",
            "changes",
            "--from",
            "2020-09-26",
            "--to",
            "2020-12-01",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "ART -> AZE" in out.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "geoservice",
            "changes",
            "--from",
            "2020-12-01",
            "--to",
            "2020-01-01",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_changes_name_the_sides_in_the_language_asked(client):
    """With ``lang`` the codes of the transfers and sides are named from the data (Russia's view
    of 2008: Georgia to Abkhazia and South Ossetia); without it the answer has no labels."""
    url = "/api/changes?from=2008-01-01&to=2009-01-01&view=RUS"
    english = client.get(url).get_json()
    assert "labels" not in english
    russian = client.get(url + "&lang=ru").get_json()
    assert russian["labels"]["GEO"] == "Грузия"
    assert russian["labels"]["ABK"] == "Абхазия" and "SOS" in russian["labels"]
    coded = {t["from"] for t in russian["areas"]["transfers"]}
    coded |= {t["to"] for t in russian["areas"]["transfers"]} | set(russian["areas"]["by_side"])
    assert set(russian["labels"]) == coded
    assert russian["areas"] == english["areas"]  # the same figures, only named
