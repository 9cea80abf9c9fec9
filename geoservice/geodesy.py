"""Geodesic measures on the WGS84 ellipsoid (pyproj ``Geod``, i.e. GeographicLib).

Inputs are shapely geometries in EPSG:4326 with longitude, latitude order. Lengths come back in
kilometres, areas in square kilometres; both are exact on the ellipsoid to well under a metre
for the geodesic between each pair of vertices (GeographicLib's error is ~15 nm).
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")


def length_m(geometry: shapely.Geometry) -> float:
    """Geodesic length in metres of a (multi)line, or of a polygon's rings; 0 for points.

    The sum of the geodesics between consecutive vertices, computed for all edges at once
    (an answer cut into 100,000 pieces is measured in one call, not one per piece)."""
    if geometry is None or geometry.is_empty:
        return 0.0
    if shapely.get_dimensions(geometry) == 2:
        return float(WGS84.geometry_length(geometry))
    parts = shapely.get_parts(geometry)
    while len(parts) and np.any(shapely.get_type_id(parts) >= 4):
        parts = shapely.get_parts(parts)
    parts = parts[shapely.get_dimensions(parts) == 1] if len(parts) else parts
    if len(parts) == 0:
        return 0.0
    coords, index = shapely.get_coordinates(parts, return_index=True)
    edge = np.flatnonzero(index[1:] == index[:-1])
    if len(edge) == 0:
        return 0.0
    _, _, dist = WGS84.inv(
        coords[edge, 0], coords[edge, 1], coords[edge + 1, 0], coords[edge + 1, 1]
    )
    return float(np.sum(dist))


def length_km(geometry: shapely.Geometry) -> float:
    """Geodesic length in kilometres on the WGS84 ellipsoid."""
    return length_m(geometry) / 1000.0


def area_km2(geometry: shapely.Geometry) -> float:
    """Geodesic area in square kilometres on the WGS84 ellipsoid; 0 for lines and points.

    Orientation does not matter (the absolute value is taken per polygon).
    """
    if geometry is None or geometry.is_empty:
        return 0.0
    polygons = [
        part
        for part in shapely.get_parts(geometry)
        if part.geom_type in ("Polygon", "MultiPolygon")
    ]
    total = 0.0
    for poly in polygons:
        area, _ = WGS84.geometry_area_perimeter(shapely.geometry.polygon.orient(poly))
        total += abs(area)
    return total / 1e6


def lengths_km(geometries: np.ndarray) -> np.ndarray:
    """Geodesic length in km of each geometry of an array."""
    return np.array([length_km(g) for g in geometries], dtype=float)


def areas_km2(geometries: np.ndarray) -> np.ndarray:
    """Geodesic area in km² of each geometry of an array (0 for points and lines)."""
    geometries = np.asarray(geometries, dtype=object)
    areas = np.zeros(len(geometries), dtype=float)
    dims = shapely.get_dimensions(geometries)
    for i in np.flatnonzero(dims == 2):  # collections with a polygon count too
        areas[i] = area_km2(geometries[i])
    return areas
