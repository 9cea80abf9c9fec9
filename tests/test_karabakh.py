"""Nagorno-Karabakh: real lines, control as a coverage on every day, corridor states.

Measured on the WGS84 ellipsoid (geoservice.geodesy). ``pytest tests/test_karabakh.py -s``
prints the numbers (schematic shares, coverage on every change date).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import shapely
from shapely.geometry import Point

from geoservice import geodesy
from geoservice.layers import LAYERS
from geoservice.validate import check_control_coverage, coverage_report

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True

D = dt.date
ARTSAKH = "ART"


def valid(catalog, layer, day, **props):
    data = catalog[layer]
    mask = data.valid(day)
    return [
        (f["properties"], data.frame.geometry.iloc[i])
        for i, f in enumerate(data.features)
        if mask[i] and all(f["properties"].get(k) == v for k, v in props.items())
    ]


def by_id(catalog, layer, fid):
    data = catalog[layer]
    row = data.index_by_id[fid]
    return data.features[row]["properties"], data.frame.geometry.iloc[row]


def test_lines_of_contact_are_real_lines_and_schematic_share_is_measured(catalog):
    """Before this work both Karabakh lines (386 km) were 100% schematic."""
    data = catalog["borders"]
    km: dict[str, float] = {}
    for i, f in enumerate(data.features):
        p = f["properties"]
        if p["kind"] in ("line_of_contact", "de_facto"):
            km[p["accuracy"]] = km.get(p["accuracy"], 0.0) + float(data.length_km[i])
    total = sum(km.values())
    print(
        f"\nline_of_contact + de_facto: {total:.1f} km; "
        + ", ".join(f"{k} {v:.1f} km ({v / total:.1%})" for k, v in sorted(km.items()))
    )
    karabakh = [f["properties"] for f in data.features if f["properties"]["id"].startswith("NK-")]
    assert {p["accuracy"] for p in karabakh} == {"derived", "approximate"}
    for p in karabakh:
        if p["accuracy"] == "derived":
            assert "Natural Earth" in p["notes"] and any("Natural Earth" in s for s in p["sources"])
    short = sum(
        float(data.length_km[data.index_by_id[p["id"]]])
        for p in karabakh
        if p["accuracy"] == "approximate"
    )
    assert short < 0.05 * sum(float(data.length_km[data.index_by_id[p["id"]]]) for p in karabakh)


def test_1994_line_ends_on_the_osm_derived_borders(catalog):
    _, line = by_id(catalog, "borders", "NK-loc-1994")
    countries = catalog["countries"].frame.set_index("iso3").geometry
    parts = shapely.get_parts(line)  # one line (stored as a MultiLineString)
    assert len(parts) == 1
    start, end = Point(parts[0].coords[0]), Point(parts[0].coords[-1])
    # North-west end on the Armenian border (Kalbajar), south-east end on the Araks (Iran).
    assert geodesy.length_km(shapely.shortest_line(start, countries["ARM"])) < 0.01
    assert geodesy.length_km(shapely.shortest_line(end, countries["IRN"])) < 0.01


def test_areas_come_from_natural_earth_with_the_published_sizes(catalog):
    nkao_p, nkao = by_id(catalog, "disputed_areas", "NKAO")
    held94_p, held94 = by_id(catalog, "disputed_areas", "NK-held-1994")
    held20_p, held20 = by_id(catalog, "disputed_areas", "NK-held-2020")
    for p in (nkao_p, held94_p, held20_p):
        assert p["accuracy"] == "derived" and "Natural Earth" in p["notes"]
    km2 = {
        name: geodesy.area_km2(g) for name, g in (("nkao", nkao), ("94", held94), ("20", held20))
    }
    print(
        f"\nNKAO {km2['nkao']:.0f} km2, held 1994-2020 {km2['94']:.0f}, held 2020 {km2['20']:.0f}"
    )
    assert abs(km2["nkao"] - 4388) / 4388 < 0.03  # FACTS.md: 4,388 km2; 1:10m generalisation
    assert abs(km2["20"] - 3136) / 3136 < 0.03  # Natural Earth 5.x 'Artsakh' as published
    assert 11_000 < km2["94"] < 12_500  # NKAO + 7 districts (Aghdam, Fuzuli in part)
    # The 1994 area's outer edge is the OSM-derived border: no overlap with Armenia or Iran.
    countries = catalog["countries"].frame.set_index("iso3").geometry
    for code in ("ARM", "IRN"):
        assert geodesy.area_km2(held94.intersection(countries[code])) < 0.1
    assert geodesy.area_km2(held94.difference(countries["AZE"])) < 0.1
    # Shusha is cut out to the area's edge, not left as an island inside it.
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(held20))
    assert not held20.intersects(Point(46.7484, 39.7583))


def test_schematic_share_of_held_and_disputed_area(catalog):
    """Before: every Karabakh area (22,581 km2 summed over the features) was schematic."""
    for day in (D(2000, 1, 1), D(2021, 6, 1)):
        km2: dict[str, float] = {}
        for p, g in valid(catalog, "disputed_areas", day):
            if p["area_kind"] != "enclave":
                km2[p["accuracy"]] = km2.get(p["accuracy"], 0.0) + geodesy.area_km2(g)
        total = sum(km2.values())
        print(
            f"\ndisputed_areas (no enclaves) on {day}: {total:.0f} km2; "
            + ", ".join(f"{k} {v:.0f} km2 ({v / total:.1%})" for k, v in sorted(km2.items()))
        )
        karabakh = [p for p, _ in valid(catalog, "disputed_areas", day) if p["id"].startswith("NK")]
        assert karabakh and all(p["accuracy"] == "derived" for p in karabakh)


def test_control_is_a_coverage_on_every_change_date(catalog):
    features = catalog["control_areas"].features
    rows = coverage_report(features)
    print("\ncontrol_areas: date, gap km2, overlap km2, features")
    for row in rows:
        print(f"  {row[0]}  {row[1]:.4f}  {row[2]:.4f}  {row[3]}")
    assert rows[0][0] == "1991-12-26" and rows[-1][0] == dt.date.today().isoformat()
    assert len(rows) >= 20
    assert check_control_coverage(features) == []
    # The check can fail: drop one cell of the first war and a gap appears on its dates.
    dropped = [f for f in features if f["properties"]["id"] != "NK-control-kalbajar-rest-2"]
    problems = check_control_coverage(dropped)
    assert problems and "1993-04-03" in problems[0] and "belongs to no feature" in problems[0]


def test_control_matches_the_held_areas_between_the_wars_and_after_2020(catalog):
    def held(day):
        return shapely.union_all(
            [g for _, g in valid(catalog, "control_areas", day, held_by=ARTSAKH)]
        )

    _, held94 = by_id(catalog, "disputed_areas", "NK-held-1994")
    _, held20 = by_id(catalog, "disputed_areas", "NK-held-2020")
    _, held22 = by_id(catalog, "disputed_areas", "NK-held-2022")
    for day, area in ((D(2000, 1, 1), held94), (D(2021, 6, 1), held20), (D(2023, 1, 1), held22)):
        diff = geodesy.area_km2(shapely.symmetric_difference(held(day), area))
        # 2020-2022: the control cells add the sketched corridor band to the Armenian border.
        assert diff < (60 if day.year == 2021 else 1), (day, diff)
    assert held(D(2023, 9, 20)).is_empty
    # The war, day by day: the held area shrinks on each town's date, never grows.
    days = [D(2020, 9, 26), D(2020, 10, 9), D(2020, 10, 15), D(2020, 10, 17), D(2020, 10, 20)]
    days += [D(2020, 10, 25), D(2020, 11, 8), D(2020, 11, 20), D(2020, 11, 25), D(2020, 12, 1)]
    areas = [geodesy.area_km2(held(d)) for d in days]
    assert all(a > b + 10 for a, b in itertools.pairwise(areas)), areas
    # 1991-94: it grows on each capture.
    days = [D(1991, 12, 26), D(1992, 5, 9), D(1992, 5, 18), D(1993, 4, 3), D(1993, 7, 23)]
    days += [D(1993, 8, 23), D(1993, 8, 31), D(1993, 10, 30)]
    areas = [geodesy.area_km2(held(d)) for d in days]
    assert all(a + 10 < b for a, b in itertools.pairwise(areas)), areas


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (D(2021, 6, 1), "open"),
        (D(2022, 10, 1), "open"),
        (D(2022, 12, 12), "blocked"),
        (D(2023, 4, 23), "checkpoint"),
        (D(2023, 7, 1), "closed"),
        (D(2023, 9, 25), "checkpoint"),
    ],
)
def test_lachin_corridor_state_on_the_day(catalog, day, state):
    for layer in ("corridor_routes", "corridor_bands"):
        found = valid(catalog, layer, day, corridor="lachin")
        assert [p["state"] for p, _ in found] == [state], (layer, day)
    assert not valid(catalog, "corridor_routes", D(2023, 10, 1), corridor="lachin")


def test_nakhchivan_route_is_agreed_not_built_and_tripp_announced(catalog):
    route = valid(catalog, "corridor_routes", D(2021, 6, 1), corridor="nakhchivan")
    assert [p["state"] for p, _ in route] == ["agreed"]
    assert "not built" in route[0][0]["name"]
    assert not valid(catalog, "corridor_routes", D(2025, 8, 7), corridor="tripp")
    tripp = valid(catalog, "corridor_routes", D(2025, 8, 8), corridor="tripp")
    assert [p["state"] for p, _ in tripp] == ["announced"]


def test_one_geometry_type_per_collection(catalog):
    for layer_id in LAYERS:
        types = {f["geometry"]["type"] for f in catalog[layer_id].features}
        assert len(types) == 1, (layer_id, types)
        assert types <= set(LAYERS[layer_id].geometry_types)


def test_peacekeepers_area_holds_the_2020_area_and_the_corridor_not_shusha(catalog):
    zone = valid(catalog, "mission_areas", D(2021, 6, 1), mission="russian_peacekeeping_nk")
    _, held20 = by_id(catalog, "disputed_areas", "NK-held-2020")
    ((_, area),) = zone
    assert geodesy.area_km2(held20.difference(area)) < 0.1
    band = valid(catalog, "corridor_bands", D(2021, 6, 1), corridor="lachin")[0][1]
    assert geodesy.area_km2(band.difference(area)) < 0.1
    assert not area.intersects(Point(46.7484, 39.7583))  # Shusha
