"""Breakaway and occupied areas of Georgia, Moldova and Ukraine, with their de facto lines.

Called from derive.py. Each held area is a Natural Earth 1:10m disputed-areas polygon (release
5.x) cut to its host's OSM-derived polygon, with slivers between Natural Earth's generalised
edge and the host's outer edge (international border or coast) up to ``snap_km`` wide given to
the area, so that the area meets the border exactly; cells from the record (upper Kodori,
Akhalgori, Bender, ...) are cut out or added. The de facto line is the exact common boundary of
the held area and the rest of the host. Points of view come from the record's ``views`` rows
and Natural Earth's FCLASS_* columns; each view-state becomes its own dated feature carrying
the list of views (``views``) it belongs to (see geoservice/views.py).
All geometry EPSG:4326 (lon, lat); distances in metres on the ground.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from pathlib import Path

import shapely
import shapely.ops
from shapely.geometry import Point, Polygon, shape

from geoservice import geodesy
from geoservice.vocabulary import PARTY_NAMES, VIEWS

HERE = Path(__file__).resolve().parent


_DERIVE = None

#: Each held area's states as :func:`features` derived them: (record entry, from, to, held
#: geometry, Natural Earth's classes of its line), for :func:`split_host_borders`.
HELD: list[tuple[dict, str, str, shapely.Geometry, dict]] = []

#: How far (degrees, about 5 m) a host's international border may lie from a held area's edge
#: and still run along it (the area takes the host's edge, so it is exact where the countries
#: layer is the host; the tolerance covers hosts read from the raw data set).
ALONG_DEG = 5e-5

#: Gaps shorter than this (km) in a border's run along one held area, where the area's edge
#: (Natural Earth's 1:10m polygon) leaves the host's border for a few hundred metres, belong to
#: the stretch along the area, not to the host's border between two pieces of it.
GAP_KM = 1.0


def _derive():
    """The derive module that called :func:`features` (its helpers and the record)."""
    return _DERIVE


# --- inputs ---------------------------------------------------------------------------------


def natural_earth(path: str) -> list[dict]:
    """Features of a Natural Earth GeoJSON file named relative to the checkout."""
    return json.loads((HERE.parent / path).read_text())["features"]


def ne_area(spec: dict, brk: str) -> tuple[shapely.Geometry, dict]:
    for f in natural_earth(spec["ne_areas"]):
        if f["properties"].get("BRK_A3") == brk:
            return shapely.make_valid(shape(f["geometry"])), f["properties"]
    raise SystemExit(f"breakaway: no Natural Earth area {brk}")


def ne_line(spec: dict, brk: str, name: str) -> tuple[shapely.Geometry, dict]:
    """A Natural Earth disputed-areas boundary line (by BRK_A3 and NAME) and its properties."""
    for f in natural_earth(spec["ne_lines"]):
        p = f["properties"]
        if p.get("BRK_A3") == brk and p.get("NAME") == name:
            return shape(f["geometry"]), p
    raise SystemExit(f"breakaway: no Natural Earth line {name!r} for {brk}")


@functools.cache
def source_host(code: str, bbox: tuple[float, float, float, float]) -> shapely.Geometry:
    """The host's polygon straight from the OSM-derived data set (when the countries layer
    does not cover the area yet)."""
    import pyogrio

    d = _derive()
    os.environ.setdefault("OGR_GEOJSON_MAX_OBJ_SIZE", "0")
    frame = pyogrio.read_dataframe(d.source_file(), bbox=bbox)
    geoms = [g for a3, g in zip(frame["A3"], frame.geometry.values) if a3 == code]
    if not geoms:
        raise SystemExit(f"breakaway: {code} not in the data set around {bbox}")
    geom = shapely.union_all(shapely.make_valid(geoms, method="structure", keep_collapsed=False))
    return d.polygons_only(shapely.set_precision(geom, d.PRECISION))


def host_polygon(
    code: str, area: shapely.Geometry, countries: dict
) -> tuple[shapely.Geometry, str]:
    """The host country polygon the area is cut to, and a note saying which one was used."""
    here = countries.get(code)
    if here is not None and here.intersection(area).area >= 0.95 * area.area:
        return here, "the countries layer"
    minx, miny, maxx, maxy = (round(v) for v in area.bounds)
    geom = source_host(code, (minx - 2, miny - 2, maxx + 2, maxy + 2))
    return geom, "the OSM-derived data set directly (the countries layer does not cover it yet)"


# --- geometry --------------------------------------------------------------------------------


def cell_geometry(cell: dict) -> shapely.Geometry:
    d = _derive()
    if "ring" in cell:
        return Polygon(cell["ring"])
    lon, lat, radius = cell["circle"]
    return d.buffer_m(Point(lon, lat), radius)


def cut_lines(lines: list, area: shapely.Geometry) -> list:
    """Natural Earth lines, each loose end that stops short inside the host's ``area``
    extended straight to the nearest point of its edge and 50 m past it (so that noding cuts
    the edge there). An end on another of the lines (a tripoint) stays where it is."""
    parts = [p for line in lines for p in shapely.get_parts(shapely.line_merge(line))]
    outer = area.boundary
    out = []
    for n, part in enumerate(parts):
        others = shapely.union_all([p for m, p in enumerate(parts) if m != n])
        coords = list(part.coords)
        for end in (0, -1):
            tip = Point(coords[end])
            if not area.contains(tip) or (not others.is_empty and tip.distance(others) < 1e-5):
                continue
            target = shapely.ops.nearest_points(tip, outer)[1]
            dx, dy = target.x - tip.x, target.y - tip.y
            step = max((dx * dx + dy * dy) ** 0.5, 1e-9)
            over = (target.x + dx / step * 5e-4, target.y + dy / step * 5e-4)
            coords.insert(0 if end == 0 else len(coords), over)
        out.append(shapely.LineString(coords))
    return out


def split_host(
    host: shapely.Geometry, entries: dict, extra: list, snap_m: float, fill: bool
) -> tuple[dict[str, shapely.Geometry], shapely.Geometry]:
    """Cut the host along the Natural Earth lines (snapped to its outer edge) and give each piece
    to the area whose Natural Earth polygon covers most of it. ``entries`` maps an area id to
    (polygon, line or None); a polygon without a line is cut along its own edge. Pockets of the
    rest enclosed by a held area (where Natural Earth's coast or border differs from the
    host's) go to that area. Works on the host with its holes filled (lakes and river channels
    are no edges, when ``fill``); returns the held geometry of each area id and that filled host (near the
    areas)."""
    d = _derive()
    boxes = shapely.union_all([shapely.envelope(p) for p, _ in entries.values()])
    window = d.polygons_only(host.intersection(shapely.buffer(boxes, 0.5)))
    # In the raw data set, holes (lakes, river channels) are no edges a line should snap to;
    # the countries layer has them filled already (derive.fill_gaps).
    filled = (
        shapely.union_all([Polygon(p.exterior) for p in shapely.get_parts(window)])
        if fill
        else window
    )
    outer = filled.boundary
    # An area with no line of its own is cut along its polygon's edge, less the stretches
    # within snap_m of the host's coast or border (there it takes the host's edge).
    near = shapely.make_valid(d.buffer_m(outer, snap_m))
    lines = [
        ln
        if ln is not None
        else shapely.MultiLineString(
            [
                p
                for p in shapely.get_parts(d.lines_only(poly.boundary.difference(near)))
                if geodesy.length_km(p) >= 0.5
            ]
        )
        for poly, ln in entries.values()
    ] + extra
    cuts = cut_lines(lines, filled)
    noded = shapely.get_parts(shapely.union_all([outer, *cuts]))
    pieces = [
        p
        for p in shapely.get_parts(shapely.polygonize(noded))
        if filled.contains(p.representative_point())
    ]
    held: dict[str, list] = {k: [] for k in entries}
    rest = []
    for p in pieces:
        cover = {k: p.intersection(poly).area for k, (poly, _) in entries.items()}
        best = max(cover, key=cover.get)
        (held[best] if cover[best] > 0.5 * p.area else rest).append(p)
    # Small pieces of the rest mostly edged by a held area (where Natural Earth's coast or
    # border runs inside the host's) go to the held area they share most edge with.
    rest.sort(key=lambda p: -p.area)
    limit = 0.05 * max(poly.area for poly, _ in entries.values())
    for p in rest[1:]:
        touching = {
            k: p.boundary.intersection(shapely.union_all(v)).length for k, v in held.items()
        }
        best = max(touching, key=touching.get)
        if p.area <= limit and touching[best] > 0.3 * p.boundary.length:
            held[best].append(p)
    return {k: d.polygons_only(shapely.union_all(v)) for k, v in held.items()}, filled


def common_line(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """The boundary of ``a`` that ``b`` shares (within 0.2 m), pieces under 50 m dropped."""
    d = _derive()
    shared = d.lines_only(shapely.intersection(a.boundary, shapely.buffer(b, 2e-6)))
    parts = [p for p in shapely.get_parts(shared) if geodesy.length_km(p) >= 0.05]
    return shapely.line_merge(shapely.MultiLineString(parts)) if parts else shared


# --- points of view ---------------------------------------------------------------------------


def view_state(entry: dict, view: str, day: str, ne_classes: dict[str, str]) -> tuple[str, str]:
    """(line class, the state the area belongs to) of an area in one view on one ISO day."""
    line = "de_facto"
    belongs = entry["entity"] if view == "on_the_ground" else entry["host"]
    for row in entry.get("views", []):
        if row["view"] not in ("*", view):
            continue
        if not (row.get("from", "") <= day and (not row.get("to") or day < row["to"])):
            continue
        if "line" in row:
            line = ne_classes[view] if row["line"] == "ne" else row["line"]
        if "belongs_to" in row:
            belongs = row["belongs_to"]
    return line, belongs


def intervals(entry: dict, start: str, end: str) -> list[tuple[str, str]]:
    """The state's validity cut at every date a view row starts or ends."""
    cuts = {start, end}
    for row in entry.get("views", []):
        cuts |= {row.get("from", ""), row.get("to", "")}
    days = sorted(c for c in cuts if c and start < c and (not end or c < end))
    edges = [start, *days, end]
    return list(itertools.pairwise(edges))


def grouped(
    entry: dict, start: str, end: str, ne_classes: dict, pick: int
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(from, to, value, views) for one state: views grouped by their line class (``pick`` 0)
    or owner (``pick`` 1), consecutive intervals with the same grouping merged."""
    out: list[list] = []
    for a, b in intervals(entry, start, end):
        groups: dict[str, list[str]] = {}
        for view in VIEWS:
            groups.setdefault(view_state(entry, view, a, ne_classes)[pick], []).append(view)
        for value, views in groups.items():
            prev = next((g for g in out if g[1] == a and g[2] == value and g[3] == views), None)
            if prev:
                prev[1] = b
            else:
                out.append([a, b, value, views])
    return [(a, b, v, tuple(views)) for a, b, v, views in out]


def ne_view_classes(spec: dict, entry: dict) -> dict[str, str]:
    """Each view's class of the area's line in Natural Earth (views with an FCLASS column)."""
    if "ne_line" not in entry:
        return {}
    props = ne_line(spec, entry["ne_area"], entry["ne_line"])[1]
    return {
        view: spec["ne_classes"].get(props.get(column), "not_drawn")
        for view, column in spec["ne_columns"].items()
    }


# --- features ---------------------------------------------------------------------------------


def features(countries: dict, derive) -> dict[str, list[dict]]:
    """Features for the ``disputed_areas`` and ``borders`` layers; ``derive`` is the calling
    derive module (helpers, record, data set)."""
    global _DERIVE
    _DERIVE = d = derive
    HELD.clear()
    record = d.RECORD
    spec = record["breakaway"]
    snap_m = spec["snap_km"] * 1000
    cells = {c["id"]: c for c in record.get("cell", [])}
    areas: list[dict] = []
    lines: list[dict] = []
    last: dict[str, tuple] = {}  # each area's latest de facto line and the rest of its host
    prepared = {}
    for code in dict.fromkeys(e["host"] for e in record["held_area"]):
        entries = [e for e in record["held_area"] if e["host"] == code]
        polys = {e["id"]: ne_area(spec, e["ne_area"]) for e in entries}
        host, host_note = host_polygon(
            code, shapely.union_all([p for p, _ in polys.values()]), countries
        )
        extra = [ne_line(spec, x["brk"], x["name"])[0] for x in spec.get("extra_cut_lines", [])]
        extra = [x for x in extra if host.intersects(x)]
        cuts = {
            e["id"]: ne_line(spec, e["ne_area"], e["ne_line"])[0] for e in entries if "ne_line" in e
        }
        held, filled = split_host(
            host,
            {k: (polys[k][0], cuts.get(k)) for k in polys},
            extra,
            snap_m,
            fill=host is not countries.get(code),
        )
        for e in entries:
            prepared[e["id"]] = (*polys[e["id"]], host, host_note, held[e["id"]], filled)
    for entry in record["held_area"]:
        _ne, ne_props, host, host_note, base, filled = prepared[entry["id"]]
        others = [p[4] for k, p in prepared.items() if k != entry["id"] and p[2] is host]
        classes = ne_view_classes(spec, entry)
        geo_note = (
            f"Natural Earth 1:10m v5 disputed area {entry['ne_area']} ({ne_props.get('NAME_EN')}),"
            f" cut to the host's polygon from {host_note} along Natural Earth's line, which is"
            f" snapped to the host's border or coast within {spec['snap_km']:g} km of it."
        )
        names = dict(entry.get("names", {}))
        names_sources = dict.fromkeys(names, "record")
        for lang in ("ru", "uk", "tr"):  # Natural Earth v5's where the record has none
            if lang not in names and ne_props.get(f"NAME_{lang.upper()}"):
                names[lang] = ne_props[f"NAME_{lang.upper()}"]
                names_sources[lang] = f"Natural Earth 5.x disputed areas, {entry['ne_area']}"
        for state in entry["states"]:
            geom = base
            used = []
            for cid in state.get("minus", []):
                geom = d.polygons_only(geom.difference(cell_geometry(cells[cid])))
                used.append(cells[cid])
            for cid in state.get("plus", []):
                add = d.polygons_only(cell_geometry(cells[cid]).intersection(filled))
                geom = d.polygons_only(shapely.union_all([geom, add]))
                used.append(cells[cid])
            # a state may name itself, say how far it can be trusted and carry a note of the
            # record's [breakaway] (the Donbas areas after 24 February 2022: front_lines)
            accuracy = state.get("accuracy") or ("approximate" if used else "derived")
            cell_note = "".join(f" Cell '{c['name']}': {c['notes']}" for c in used)
            if state.get("note"):
                cell_note += " " + spec[f"{state['note']}_note"]
            start, end = state["valid_from"], state.get("valid_to", "")
            HELD.append((entry, start, end, d.polygons_only(geom.intersection(host)), classes))
            sources = d.cite(entry["sources"]) + d.cite(["ne_v5_areas"]) + [d.DATASET["citation"]]
            for a, b, owner, views in grouped(entry, start, end, classes, 1):
                tag = "held" if "on_the_ground" in views else f"in-{owner.lower()}"
                areas.append(
                    d.feature(
                        d.polygons_only(geom.intersection(host)),
                        id=f"{entry['id']}-{a}-{tag}",
                        name=state.get("name", entry["name"]),
                        names=names,
                        names_sources=names_sources,
                        valid_from=a or None,
                        valid_to=b or None,
                        sources=sources,
                        accuracy=accuracy,
                        notes=f"{entry['notes']} {geo_note}{cell_note}",
                        countries=[entry["host"]],
                        held_by=entry["entity"],
                        belongs_to=owner,
                        area_kind="held_area",
                        views=list(views),
                    )
                )
            rest = d.polygons_only(filled.difference(shapely.union_all([geom, *others])))
            line = common_line(geom, rest)
            last[entry["id"]] = (line, d.polygons_only(rest.intersection(host)))
            if line.is_empty:
                raise SystemExit(f"breakaway: {entry['id']}: no de facto line")
            line_sources = d.cite(entry["sources"]) + d.cite(
                ["ne_v5_lines"] if "ne_line" in entry else ["ne_v5_areas"]
            )
            for a, b, cls, views in grouped(entry, start, end, classes, 0):
                if cls == "not_drawn":
                    continue
                lines.append(
                    d.feature(
                        line,
                        id=f"{entry['id']}-line-{a}-{cls.replace('_', '-')}",
                        name=entry["line_name"],
                        names=entry.get("line_names", {}),
                        compose_names=entry.get("line_names_composed", []),
                        valid_from=a or None,
                        valid_to=b or None,
                        sources=line_sources + [d.DATASET["citation"]],
                        accuracy=accuracy,
                        notes=(
                            f"Boundary between {entry['name']} and the rest of"
                            f" {entry['host']}, as {cls.replace('_', ' ')} line in the views"
                            f" listed. {geo_note}{cell_note}"
                            + (
                                f" Classes in the views of the UN majority, Russia and Ukraine"
                                f" from Natural Earth's line '{entry['ne_line']}'"
                                " (FCLASS_ISO, FCLASS_RU, FCLASS_UA), dated from the record."
                                if "ne_line" in entry
                                else ""
                            )
                        ),
                        countries=sorted([entry["entity"], entry["host"]]),
                        status="settled" if cls == "international" else "disputed",
                        kind="de_facto" if cls == "de_facto" else "international",
                        parties=[entry["entity"]] if cls == "de_facto" else [],
                        reported_length_km=entry.get("reported_length_km"),
                        reported_length_source=(
                            d.SOURCES.get(entry["reported_length_source"])
                            if entry.get("reported_length_source")
                            else None
                        ),
                        stretch=f"{entry['id']}-line",
                        views=list(views),
                    )
                )
        areas += cell_features(entry, cells, d.polygons_only(base.intersection(host)))
    return {
        "disputed_areas": areas,
        "borders": lines,
        "mission_areas": [band_feature(m, last) for m in record.get("mission_band", [])],
    }


def band_feature(spec: dict, last: dict) -> dict:
    """A mission's patrol area: the host's side of the listed de facto lines, ``depth_m`` deep
    (the host less every held area listed)."""
    d = _derive()
    line = shapely.union_all([last[k][0] for k in spec["along"]])
    side = shapely.intersection_all([last[k][1] for k in spec["along"]])
    geom = d.polygons_only(shapely.make_valid(d.buffer_m(line, spec["depth_m"])).intersection(side))
    props = d.common(spec, geometry_source=True)
    props.update(
        names=spec.get("names", {}),
        mission=spec["mission"],
        countries=spec["countries"],
    )
    return d.feature(geom, **props)


def cell_features(entry: dict, cells: dict, base: shapely.Geometry) -> list[dict]:
    """The host's own pockets inside a held area (upper Kodori, Akhalgori, ...), dated."""
    d = _derive()
    out = []
    for cell in cells.values():
        if cell["area"] != entry["id"]:
            continue
        for n, held in enumerate(cell["held"]):
            if held["held_by"] == entry["entity"]:
                continue  # part of the held area itself
            geom = d.polygons_only(cell_geometry(cell).intersection(base))
            out.append(
                d.feature(
                    geom,
                    id=f"{cell['id']}-{held['valid_from']}",
                    name=cell["name"],
                    names=cell.get("names", {}),
                    valid_from=held["valid_from"] or None,
                    valid_to=held["valid_to"] or None,
                    sources=d.cite(cell["sources"]),
                    accuracy="approximate",
                    notes=f"{held.get('notes', '')} {cell['notes']}".strip(),
                    countries=[entry["host"]],
                    held_by=held["held_by"],
                    belongs_to=entry["host"],
                    area_kind="held_area",
                )
            )
    return out


def line_lengths(features: list[dict]) -> dict[str, float]:
    """Geodesic km of each de facto line feature (for the derive log)."""
    return {
        f["id"]: round(geodesy.length_km(shape(f["geometry"])), 1)
        for f in features
        if f["properties"]["kind"] == "de_facto"
    }


# --- the host's international borders along a held area ---------------------------------------


def _atoms(zones: list[shapely.Geometry]) -> list[tuple[shapely.Geometry, list[int]]]:
    """The union of ``zones`` cut into pieces each inside the same zones: (piece, zone indexes)."""
    atoms = [(shapely.union_all(zones), [])]
    for n, zone in enumerate(zones):
        nxt = []
        for geom, inside in atoms:
            for part, here in ((geom.intersection(zone), True), (geom.difference(zone), False)):
                if not part.is_empty and part.area > 0:
                    nxt.append((part, inside + [n] if here else inside))
        atoms = nxt
    return [(g, inside) for g, inside in atoms if inside]


def _periods(spans: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Overlapping or touching [from, to) ISO-day spans ("" is open) merged, in order."""
    out: list[list[str]] = []
    for a, b in sorted(spans):
        if out and (not out[-1][1] or a <= out[-1][1]):
            if out[-1][1] and (not b or b > out[-1][1]):
                out[-1][1] = b
            continue
        out.append([a, b])
    return [(a, b) for a, b in out]


def control_held(entity: dict, control: list[dict]) -> list[tuple]:
    """Held zones (as :data:`HELD`) of the ``control_areas`` cells the record's ``entity``
    (``[karabakh.entity]``: code, host, its ``belongs_to`` per view) held, one per cell and
    period, for :func:`split_host_borders`."""
    table = entity["belongs_to"]
    entry = {
        "entity": entity["entity"],
        "host": entity["host"],
        "name": entity["along"],
        "views": [{"view": v, "belongs_to": table.get(v, table["other"])} for v in VIEWS],
    }
    return [
        (entry, p["valid_from"], p.get("valid_to") or "", shape(f["geometry"]), {})
        for f in control
        if (p := f["properties"])["held_by"] == entity["entity"]
    ]


def _close_gaps(zone: shapely.Geometry, outside, inside) -> shapely.Geometry:
    """``zone`` (polygon, EPSG:4326) with the pieces of a line ``outside`` it (as split by
    ``split_by_area``) that are shorter than :data:`GAP_KM` and touch the line's run
    ``inside`` it at both ends."""
    gaps = [
        g
        for g in shapely.get_parts(outside)
        if geodesy.length_km(g) < GAP_KM
        and all(
            shapely.distance(shapely.Point(xy), inside) < 1e-9 for xy in (g.coords[0], g.coords[-1])
        )
    ]
    if not gaps:
        return zone
    return shapely.union_all([zone, *(shapely.buffer(g, ALONG_DEG, quad_segs=2) for g in gaps)])


def split_host_borders(borders: list[dict], extra: list[tuple] = ()) -> list[dict]:
    """The host's international borders cut where they run along a held area (Georgia-Russia
    along Abkhazia and South Ossetia, Moldova-Ukraine along Transnistria, Russia-Ukraine along
    the Donbas areas): each stretch its own feature, dated by who held it, with the class of
    each view (the pair is the state the area belongs to in that view and the neighbour:
    Abkhazia-Russia on the ground and, from 2008-08-26, in Russia's view; Georgia-Russia in
    Georgia's and the UN majority's, with ``held_by`` saying the host does not control it).
    ``extra``: more held zones as :data:`HELD` (Karabakh's control cells, :func:`control_held`;
    the Armenia-Azerbaijan border along the districts held 1992-2020); a view in which the area
    belongs to no state (``undetermined``) keeps the host's border. Returns the borders layer's
    features with the split ones in place of their parents."""
    d = _derive()
    held_zones = [*HELD, *extra]
    out = []
    for f in borders:
        p = f["properties"]
        host_sides = [
            h
            for h in held_zones
            if h[0]["host"] in p["countries"]
            and p["kind"] == "international"
            and "views" not in p
            and h[0]["entity"] not in p["countries"]
        ]
        line = shape(f["geometry"])
        along = [
            (h, shapely.buffer(h[3], ALONG_DEG, quad_segs=2))
            for h in host_sides
            if line.intersects(h[3]) and line.distance(h[3]) < ALONG_DEG
        ]
        split = [(h, zone, *d.split_by_area(line, zone)) for h, zone in along]
        along = [
            (h, _close_gaps(zone, outside, inside))
            for h, zone, outside, inside in split
            if geodesy.length_km(inside) >= 0.05
        ]
        if not along:
            out.append(f)
            continue
        zones = [zone for _, zone in along]
        # whole segments by their midpoints, so that every piece keeps the line's vertices
        rest = d.split_by_area(line, shapely.union_all(zones))[0]
        if not rest.is_empty:
            out.append(d.feature(rest, **p))
        for n, (zone, inside) in enumerate(_atoms(zones), start=1):
            piece = d.split_by_area(line, zone)[1]
            if piece.is_empty:
                continue
            held = [along[i][0] for i in inside]
            entry = held[0][0]
            neighbour = next(c for c in p["countries"] if c != entry["host"])
            stretch = f"{p['stretch']}-{entry['entity'].lower()}-{n}"
            spans = _periods([(h[1], h[2]) for h in held])
            edges = [p.get("valid_from") or "", *[x for span in spans for x in span]]
            edges.append(p.get("valid_to") or "")
            common_props = dict(p, stretch=stretch)
            common_props["notes"] = (
                f"The stretch of the {p['name']} along {entry['name']} (within "
                f"{ALONG_DEG * 1e5:.0f} m of the held area's edge), apart from the rest of the "
                f"border where the area is held. {p['notes']}"
            ).strip()
            # before, between and after the held spans: the host's border as it was
            for a, b in zip(edges[0::2], edges[1::2]):
                if a != b and (not b or not a or a < b):
                    out.append(
                        d.feature(
                            piece,
                            **dict(
                                common_props,
                                id=f"{stretch}-{a or 'start'}",
                                valid_from=a or None,
                                valid_to=b or None,
                            ),
                        )
                    )
            for a, b in spans:
                by_pair: dict[tuple, list] = {}  # views whose owners give the same pair, merged
                for x, y, owner, views in grouped(entry, a, b, held[0][4], 1):
                    state = owner if owner in PARTY_NAMES else entry["host"]
                    by_pair.setdefault((x, y, *sorted([state, neighbour])), []).extend(views)
                for (x, y, *pair), views in by_pair.items():
                    if pair[0] == pair[1]:
                        continue  # the view gives the area to the neighbour: no border there
                    tag = "-".join(c.lower() for c in pair)
                    out.append(
                        d.feature(
                            piece,
                            **dict(
                                common_props,
                                id=f"{stretch}-{x}-{tag}",
                                name=f"{PARTY_NAMES[pair[0]]}-{PARTY_NAMES[pair[1]]}"
                                f" border (along {entry['name']})",
                                names={},
                                countries=pair,
                                valid_from=x or None,
                                valid_to=y or None,
                                held_by=entry["entity"],
                                views=sorted(views, key=VIEWS.index),
                            ),
                        )
                    )
    return out
