"""geoservice.geodesy against published geodesic values on WGS84 (to 1 mm) and known areas."""

from __future__ import annotations

import math

import pytest
import shapely

from geoservice import geodesy

# Published values: meridian arcs on WGS84 (as in the issue); GeographicLib's documented inverse
# examples (JFK -> LHR, Wellington -> Salamanca); half the meridian (pole to pole).
PUBLISHED_M = [
    ((0.0, 0.0), (0.0, 1.0), 110_574.389),
    ((0.0, 89.0), (0.0, 90.0), 111_693.865),
    ((-73.8, 40.6), (-0.5, 51.6), 5_551_759.400319),
    ((174.81, -41.32), (-5.50, 40.96), 19_959_679.267354),
    ((0.0, 90.0), (0.0, -90.0), 20_003_931.458625),
]


@pytest.mark.parametrize(("start", "end", "metres"), PUBLISHED_M)
def test_geodesic_length_matches_published_values_to_a_millimetre(start, end, metres):
    assert geodesy.length_m(shapely.LineString([start, end])) == pytest.approx(metres, abs=1e-3)


def test_length_of_a_line_is_the_sum_of_its_geodesic_legs():
    legs = [((0.0, 0.0), (0.0, 1.0)), ((0.0, 1.0), (0.0, 89.0)), ((0.0, 89.0), (0.0, 90.0))]
    whole = geodesy.length_m(shapely.LineString([(0, 0), (0, 1), (0, 89), (0, 90)]))
    parts = sum(geodesy.length_m(shapely.LineString(leg)) for leg in legs)
    assert whole == pytest.approx(parts, abs=1e-6)
    # a quarter meridian, 10,001,965.729 m on WGS84
    assert whole == pytest.approx(10_001_965.729, abs=1e-3)
    assert geodesy.length_km(shapely.LineString([(0, 0), (0, 1)])) == pytest.approx(110.574389)


def test_multiline_length_and_degenerate_inputs():
    multi = shapely.MultiLineString([[(0, 0), (0, 1)], [(0, 89), (0, 90)]])
    assert geodesy.length_m(multi) == pytest.approx(110_574.389 + 111_693.865, abs=2e-3)
    assert geodesy.length_m(shapely.Point(1, 2)) == 0.0
    assert geodesy.length_m(shapely.LineString()) == 0.0
    assert geodesy.length_m(None) == 0.0


def _wgs84_area_km2() -> float:
    """Surface of the WGS84 ellipsoid from its closed form: 2πa²(1 + (1-e²)/e · atanh e)."""
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    return 2 * math.pi * a * a * (1 + (1 - e2) / e * math.atanh(e)) / 1e6


def _zone_km2(lat1: float, lat2: float, dlon: float) -> float:
    """Area between two parallels over ``dlon`` degrees of longitude on WGS84 (closed form)."""
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    e = math.sqrt(e2)

    def q(lat: float) -> float:
        s = math.sin(math.radians(lat))
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    return a * a * (1 - e2) / 2 * (q(lat2) - q(lat1)) * math.radians(dlon) / 1e6


def test_area_of_an_octant_is_an_eighth_of_the_ellipsoid():
    # Equator and meridians are geodesics, so this triangle is exactly one octant.
    octant = shapely.Polygon([(0, 0), (90, 0), (0, 90)])
    assert _wgs84_area_km2() == pytest.approx(510_065_621.724, abs=1e-3)
    assert geodesy.area_km2(octant) == pytest.approx(_wgs84_area_km2() / 8, rel=1e-12)


def test_area_of_the_antarctica_polygon_from_the_pyproj_documentation():
    lats = [
        -72.9,
        -71.9,
        -74.9,
        -74.3,
        -77.5,
        -77.4,
        -71.7,
        -65.9,
        -65.7,
        -66.6,
        -66.9,
        -69.8,
        -70.0,
        -71.0,
        -77.3,
        -77.9,
        -74.7,
    ]
    lons = [-74, -102, -102, -131, -163, 163, 172, 140, 113, 88, 59, 25, -4, -14, -33, -46, -61]
    # Documented: 13376856682207.406 m² (pyproj Geod.polygon_area_perimeter example).
    area = geodesy.area_km2(shapely.Polygon(list(zip(lons, lats))))
    assert area * 1e6 == pytest.approx(13_376_856_682_207.406, abs=1.0)


def test_area_ignores_orientation_subtracts_holes_and_is_zero_for_lines():
    shell = [(70, 40), (71, 40), (71, 41), (70, 41)]
    hole = [(70.25, 40.25), (70.75, 40.25), (70.75, 40.75), (70.25, 40.75)]
    ccw = geodesy.area_km2(shapely.Polygon(shell))
    cw = geodesy.area_km2(shapely.Polygon(shell[::-1]))
    assert ccw == pytest.approx(cw, rel=1e-12)
    # The cell bounded by parallels has the closed-form area below; the geodesic top and bottom
    # edges each bow ~43 m poleward, which nearly cancels (well under 1 km² here).
    assert ccw == pytest.approx(_zone_km2(40, 41, 1.0), abs=1.0)
    holed = geodesy.area_km2(shapely.Polygon(shell, [hole]))
    assert holed == pytest.approx(ccw - geodesy.area_km2(shapely.Polygon(hole)), rel=1e-9)
    assert geodesy.area_km2(shapely.LineString(shell)) == 0.0
