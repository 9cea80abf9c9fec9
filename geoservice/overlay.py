"""The planar step of the measurement engine: intersections in a local equal-area projection.

Geometries come in and go out in EPSG:4326 (lon, lat). Each pair is clipped to its common
extent (plus a margin), projected to a Lambert azimuthal equal-area projection on WGS84 centred
on that extent, intersected with straight edges, and projected back. Lengths and areas are then
measured on the ellipsoid by the caller (:mod:`geoservice.geodesy`); the error this step leaves
is stated and tested in :mod:`geoservice.measure`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

#: Projection centres are rounded to this many degrees so that transformers are reused;
#: a centre a few tens of km off changes nothing measurable.
CENTRE_STEP_DEG = 0.5
#: A user geometry with more vertices than this is clipped to each candidate feature's box
#: before the intersection (its own crossings are then noded once per box, not per feature).
CLIP_USER_VERTICES = 64


@lru_cache(maxsize=512)
def transformer(kind: str, lat0: float, lon0: float) -> Transformer:
    """A cached lon/lat (WGS84) -> local projection transformer (``kind``: "laea" or "aeqd"), metres.

    Built as a PROJ pipeline rather than from EPSG:4326, which gives the same numbers without a
    CRS database look-up (0.1 ms instead of 10-20 ms per new centre).
    """
    return Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj={kind} +lat_0={lat0} +lon_0={lon0} +ellps=WGS84"
    )


def _forward(tr: Transformer):
    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack((x, y))

    return apply


def _inverse(tr: Transformer):
    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
        return np.column_stack((x, y))

    return apply


def project(tr: Transformer, geometry):
    """Geometry (or array of them) from lon/lat to the projection of ``tr`` (metres)."""
    return shapely.transform(geometry, _forward(tr))


def unproject(tr: Transformer, geometry):
    """Geometry (or array of them) from the projection of ``tr`` back to lon/lat."""
    return shapely.transform(geometry, _inverse(tr))


def centre(bounds) -> tuple[float, float]:
    """(lat, lon) of the middle of a lon/lat box, rounded to :data:`CENTRE_STEP_DEG`."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    step = CENTRE_STEP_DEG
    lat0 = min(90.0, max(-90.0, round((miny + maxy) / 2 / step) * step))
    return lat0, round((minx + maxx) / 2 / step) * step


def laea_for(bounds) -> Transformer:
    """The equal-area transformer centred on a lon/lat box."""
    return transformer("laea", *centre(bounds))


def expand(bounds, rel: float = 0.01, margin_deg: float = 0.02) -> tuple:
    """A lon/lat box grown by a margin, so that edges bulging off their vertices' box stay in."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    grow = margin_deg + rel * max(maxx - minx, maxy - miny)
    return (minx - grow, miny - grow, maxx + grow, maxy + grow)


def part_boxes(geometry) -> np.ndarray:
    """The :func:`expand`-ed lon/lat box of each simple part of a geometry, as an (n, 4) array:
    what a layer's spatial index is asked for the features that may meet it."""
    boxes = shapely.bounds(simple_parts(geometry))
    grow = 0.02 + 0.01 * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return boxes + np.column_stack((-grow, -grow, grow, grow))


def clip(geometries: np.ndarray, rect: tuple) -> np.ndarray:
    """Clip geometries to a box (of their coordinates), keeping polygons valid. Points pass
    unclipped."""
    geometries = np.asarray(geometries, dtype=object)
    out = geometries.copy()
    shaped = shapely.get_dimensions(geometries) > 0
    if shaped.any():
        clipped = shapely.clip_by_rect(geometries[shaped], *rect)
        polygonal = shapely.get_dimensions(clipped) == 2
        bad = polygonal & ~shapely.is_valid(clipped)
        if bad.any():  # clip_by_rect is fast but may leave polygons invalid
            clipped[bad] = shapely.make_valid(clipped[bad])
        out[shaped] = clipped
    return out


def _repair(projected: np.ndarray) -> np.ndarray:
    """Polygons a projection left invalid (rings a rounding apart now touch) made valid again.

    GEOS may spend seconds on an invalid input before giving up, so this runs first."""
    projected = np.asarray(projected, dtype=object)
    polygonal = shapely.get_dimensions(projected) == 2
    if polygonal.any():
        bad = polygonal & ~shapely.is_valid(projected)
        if bad.any():
            projected = projected.copy()
            projected[bad] = shapely.make_valid(projected[bad])
    return projected


def _intersection(pa, pb):
    """Intersection of two projected geometries, repairing the inputs if GEOS refuses them."""
    try:
        return shapely.intersection(pa, pb)
    except shapely.errors.GEOSException:
        return shapely.intersection(shapely.make_valid(pa), shapely.make_valid(pb))


def no_deadline() -> None:
    return None


def intersect_with(
    geometry, geoms: np.ndarray, bounds: np.ndarray, check: Callable[[], None] = no_deadline
) -> list:
    """Intersections (lon/lat) of one geometry with each of ``geoms``, in one projection.

    The projection is centred on ``geometry``'s extent, which bounds every intersection. Each
    pair is clipped to the common extent of its two boxes first (a small feature meets only
    the part of a large geometry near it), the user's geometry only when it has over
    :data:`CLIP_USER_VERTICES` vertices; ``check()`` runs before each pair (a deadline).
    """
    tr = laea_for(geometry.bounds)
    user_box = np.array(geometry.bounds, dtype=float)
    user_rect = expand(user_box)
    projected_user = project(tr, geometry)
    clip_user = shapely.get_num_coordinates(geometry) > CLIP_USER_VERTICES
    out: list = []
    for geom, box in zip(geoms, np.asarray(bounds, dtype=float)):
        check()
        lo, hi = np.maximum(user_box[:2], box[:2]), np.minimum(user_box[2:], box[2:])
        if (lo > hi + 1e-9).any():
            out.append(None)
            continue
        # Clip in the projection, where the straight edges are: a cut along a long user edge
        # then stays on the line the intersection uses. Small user geometries stay whole.
        outline = shapely.segmentize(shapely.box(*expand((*lo, *hi))), 0.05)
        rect = shapely.bounds(project(tr, outline))
        near = clip(np.array([geom], dtype=object), user_rect)[0]  # as before: the user's box
        pair = np.array([projected_user, project(tr, near)], dtype=object)
        pair = _repair(clip(pair, rect) if clip_user else pair)
        out.append(unproject(tr, _intersection(pair[0], pair[1])))
    return out


def intersect_pairs(
    ga: np.ndarray,
    gb: np.ndarray,
    ba: np.ndarray,
    bb: np.ndarray,
    check: Callable[[], None] = no_deadline,
) -> list:
    """Intersections (lon/lat) of ``ga[k]`` with ``gb[k]``; None where the boxes miss.

    Each pair is clipped to its common extent and intersected in the equal-area projection
    centred on that extent; ``check()`` runs before each pair (a deadline).
    """
    n = len(ga)
    out: list = [None] * n
    lo = np.maximum(ba[:, :2], bb[:, :2]) if n else None
    hi = np.minimum(ba[:, 2:], bb[:, 2:]) if n else None
    for k in range(n):
        check()
        if (lo[k] > hi[k] + 1e-9).any():
            continue
        common = (*lo[k], *hi[k])
        tr = transformer("laea", *centre(common))
        pair = _repair(project(tr, clip(np.array([ga[k], gb[k]], dtype=object), expand(common))))
        out[k] = unproject(tr, _intersection(pair[0], pair[1]))
    return out


def simple_parts(geometry) -> np.ndarray:
    """Non-empty points, linestrings and polygons of a geometry (or array), all nesting undone."""
    parts = shapely.get_parts(geometry)
    while len(parts) and np.any(shapely.get_type_id(parts) >= 4):  # multi-parts, collections
        parts = shapely.get_parts(parts)
    return parts[~shapely.is_empty(parts)] if len(parts) else parts


def split_by_dimension(geometry) -> tuple:
    """(points, lines, polygons) parts of a geometry, each a (possibly empty) geometry."""
    parts = simple_parts(geometry)
    dims = shapely.get_dimensions(parts) if len(parts) else np.array([], dtype=int)
    points = shapely.multipoints(parts[dims == 0]) if (dims == 0).any() else shapely.Point()
    lines = (
        shapely.multilinestrings(parts[dims == 1]) if (dims == 1).any() else shapely.LineString()
    )
    polys = shapely.multipolygons(parts[dims == 2]) if (dims == 2).any() else shapely.Polygon()
    return points, lines, polys


def point_list(points, decimals: int = 7) -> list[list[float]]:
    """Distinct [lon, lat] pairs of a (multi)point, rounded (7 decimals: ~1 cm)."""
    if points is None or points.is_empty:
        return []
    coords = np.round(shapely.get_coordinates(points), decimals)
    return [[float(x), float(y)] for x, y in np.unique(coords, axis=0)]
