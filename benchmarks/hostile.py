"""The hostile request bodies of issue 14, generated deterministically (seeded), EPSG:4326.

Shared by the hostile-request table in ``tests/test_hostile.py`` and the mixed-load benchmark
(:mod:`benchmarks.hostile_load`), so both send the same bytes:

- ``segments(n)``: a MultiLineString of ``n`` long random segments over the region (each
  segment 2 vertices, ends anywhere in a 30° x 18° box), the body that took 44 s (1,000), over
  150 s (2,000) and 4.2 GB (5,000) before budgets;
- ``zigzag(n)``: one LineString of ``n`` vertices zigzagging across the Fergana valley borders
  (99k vertices took 36 s and answered 5.3 MB);
- ``small_polygons(n)``: a FeatureCollection of ``n`` small squares (about 2 km) spread over
  the region (1,000 took over 120 s);
- ``antimeridian_square()``: a 1° square across 180°, written with longitudes 179.5 and -179.5.
"""

from __future__ import annotations

import numpy as np
import orjson

#: The box the random bodies fall in (lon/lat): the former Soviet south, Caucasus to Tian Shan.
REGION = (42.0, 36.0, 72.0, 54.0)
#: The Fergana valley box the zigzag crosses back and forth (lon/lat).
FERGANA = (69.0, 39.8, 72.5, 41.2)


def segments(n: int, seed: int = 14) -> dict:
    """A MultiLineString of ``n`` two-vertex segments with random ends in :data:`REGION`."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = REGION
    ends = rng.uniform((minx, miny), (maxx, maxy), size=(n, 2, 2)).round(5)
    return {"type": "MultiLineString", "coordinates": ends.tolist()}


def zigzag(n: int) -> dict:
    """One LineString of ``n`` vertices sweeping west to east, alternately top and bottom of
    :data:`FERGANA` (every edge crosses the valley's borders)."""
    minx, miny, maxx, maxy = FERGANA
    x = np.linspace(minx, maxx, n)
    y = np.where(np.arange(n) % 2 == 0, miny, maxy)
    return {"type": "LineString", "coordinates": np.column_stack((x, y)).round(6).tolist()}


def small_polygons(n: int, size_deg: float = 0.02, seed: int = 14) -> dict:
    """A FeatureCollection of ``n`` squares of ``size_deg`` degrees at random places in
    :data:`REGION` (they may overlap; the service dissolves them)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = REGION
    corners = rng.uniform((minx, miny), (maxx - size_deg, maxy - size_deg), size=(n, 2))
    features = []
    for k, (x, y) in enumerate(corners.round(5).tolist()):
        ring = [[x, y], [x + size_deg, y], [x + size_deg, y + size_deg], [x, y + size_deg]]
        features.append(
            {
                "type": "Feature",
                "id": k,
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def antimeridian_square() -> dict:
    """A 1° x 1° square across the antimeridian (lon 179.5 to -179.5, lat 60 to 61)."""
    ring = [[179.5, 60.0], [-179.5, 60.0], [-179.5, 61.0], [179.5, 61.0], [179.5, 60.0]]
    return {"type": "Polygon", "coordinates": [ring]}


def body(doc: dict) -> bytes:
    """GeoJSON bytes of a body."""
    return orjson.dumps(doc)
