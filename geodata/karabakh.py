"""Nagorno-Karabakh from real lines, and who controlled each part of it on every day.

Called from derive.py. Real lines (Natural Earth, public domain, in the shared folder, see
places.naturalearth_dir): the NKAO boundary ("Former USSR oblast in 1991", 4.0.0 lines), the
1994-2020 line of contact ("Ceasefire Line 1994", 4.0.0 lines) and area held (4.0.0 disputed
area B38 "Nagorno-Karabakh"), the 2020-2023 line ("Ceasefire Line 2020", 5.x lines) and area
held with the Lachin corridor (5.x disputed area B38 "Artsakh"). Where they meet the
OSM-derived borders (Armenia, Iran) they are snapped to them: the 1994 area is Azerbaijan cut
along the 1994 line, so its outer edge is the OSM-derived border.

Control (layer ``control_areas``): the study area is the NKAO together with every part of the
seven districts held at any time (the 1994 area); on every date from ``[karabakh]
start`` each of its points is in exactly one feature, held by the de facto authorities or by
Azerbaijan. What changed hands on a town's date is the town's cell: the district cells are the
Voronoi cells of the seven district towns (outside the NKAO), the NKAO cells those of its towns
(inside it), computed in a plane scaled by cos(latitude) and clipped to the areas above, so
their inner edges are ``approximate``. Dates and sources are in record/karabakh.toml.

All coordinates EPSG:4326 (lon, lat); areas geodesic (geoservice.geodesy).
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import shapely
import shapely.ops
from shapely.geometry import LineString, Point

from geoservice import geodesy

ARTSAKH = "ART"  # the de facto authorities (record: [karabakh.entity])
AZE = "AZE"


def _ne(path: str) -> list[dict]:
    from places import naturalearth_dir

    return orjson.loads((naturalearth_dir() / path).read_bytes())["features"]


def _lines(path: str, name: str) -> list[shapely.Geometry]:
    key = "name" if path.startswith("v4") else "NAME"
    out = []
    for f in _ne(path):
        geom = shapely.from_geojson(orjson.dumps(f["geometry"]))
        if f["properties"][key] == name and 44 < geom.bounds[0] < 48.5 and geom.bounds[1] > 38:
            out.append(geom)
    return out


def _area(path: str) -> shapely.Geometry:
    for f in _ne(path):
        if f["properties"].get("BRK_A3") == "B38":
            return shapely.from_geojson(orjson.dumps(f["geometry"]))
    raise SystemExit(f"karabakh: no B38 in {path}")


def close_ring(parts: list[shapely.Geometry], max_gap_deg: float = 0.003) -> shapely.Geometry:
    """Polygon enclosed by line pieces whose ends miss each other by up to ``max_gap_deg``."""
    merged = list(shapely.get_parts(shapely.line_merge(shapely.union_all(parts))))
    while len(merged) > 1 or not merged[0].is_closed:
        line = merged.pop(0)
        end = Point(line.coords[-1])
        candidates = [(Point(m.coords[0]).distance(end), i, False) for i, m in enumerate(merged)]
        candidates += [(Point(m.coords[-1]).distance(end), i, True) for i, m in enumerate(merged)]
        candidates.append((Point(line.coords[0]).distance(end), -1, False))
        gap, i, flip = min(candidates)
        if gap > max_gap_deg:
            raise SystemExit(f"karabakh: ring has a gap of {gap:.4f} degrees")
        if i == -1:
            merged.insert(0, LineString([*line.coords, line.coords[0]]))
            continue
        other = merged.pop(i)
        coords = list(other.coords)[::-1] if flip else list(other.coords)
        merged.insert(0, LineString([*line.coords, *coords]))
    return shapely.Polygon(merged[0].coords)


def _extend(line: LineString, deg: float) -> LineString:
    """The line with each end pushed ``deg`` further along its last segment."""
    xy = np.asarray(line.coords)

    def push(a, b):
        d = b - a
        return b + d / np.hypot(*d) * deg

    return LineString([push(xy[1], xy[0]), *xy, push(xy[-2], xy[-1])])


def _polygons(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.make_valid(shapely.union_all(parts)) if parts else shapely.Polygon()


def voronoi_cells(
    points: dict[str, Point], within: shapely.Geometry
) -> dict[str, shapely.Geometry]:
    """Voronoi cell of each named point, clipped to ``within`` (distances with x * cos(lat))."""
    lat = within.centroid.y
    k = math.cos(math.radians(lat))

    def squash(g):
        return shapely.transform(g, lambda xy: xy * [k, 1.0])

    def unsquash(g):
        return shapely.transform(g, lambda xy: xy / [k, 1.0])

    names = list(points)
    seeds = shapely.multipoints([squash(points[n]) for n in names])
    envelope = shapely.buffer(squash(within).envelope, 1.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=envelope, ordered=True))
    return {n: _polygons(unsquash(c).intersection(within)) for n, c in zip(names, cells)}


def _buffer_m(point: Point, metres: float) -> shapely.Geometry:
    from geoservice import overlay

    tr = overlay.transformer("aeqd", round(point.y, 2), round(point.x, 2))
    return overlay.unproject(tr, shapely.buffer(overlay.project(tr, point), metres))


class Karabakh:
    """The real lines and areas, snapped to the OSM-derived country polygons."""

    def __init__(
        self,
        record: dict,
        countries: dict[str, shapely.Geometry],
        places: dict,
        corridor_band: shapely.Geometry,
    ):
        self.record = record
        self.spec = record["karabakh"]
        self.towns = record["control_town"]
        self.countries = countries
        self.places = places
        aze = min(
            shapely.get_parts(countries["AZE"]), key=lambda p: p.distance(Point(49.87, 40.41))
        )
        self.aze = aze
        # NKAO: the 4.0.0 reference line closed into a ring (its pieces miss by ~150 m).
        self.nkao = _polygons(
            close_ring(_lines(self.spec["lines_v4"], "Former USSR oblast in 1991"))
        )
        self.nkao = _polygons(self.nkao.intersection(aze))
        # 1994 line: merged, pushed past its ends and cut at Azerbaijan's (OSM-derived) edge.
        loc = shapely.line_merge(
            shapely.union_all(_lines(self.spec["lines_v4"], "Ceasefire Line 1994"))
        )
        loc = max(shapely.get_parts(loc), key=lambda g: g.length)
        cut = shapely.intersection(_extend(loc, 0.05), aze)
        self.loc_1994 = max(shapely.get_parts(cut), key=lambda g: g.length)
        b38_v4 = _area(self.spec["areas_v4"])
        pieces = shapely.get_parts(shapely.ops.split(aze, self.loc_1994))
        self.held_1994 = _polygons(
            shapely.union_all([p for p in pieces if p.intersection(b38_v4).area > 0.5 * p.area])
        )
        # 2020 area (5.x): held area with the original Lachin corridor. Natural Earth's line
        # puts Shusha town inside; FACTS.md (and the statement) put it outside: cut out.
        v5 = _polygons(_area(self.spec["areas_v5"]).intersection(self.held_1994))
        shusha = self.place(self.spec["shusha_place"])
        # The town and a band of the same width to the nearest edge of the area (Natural
        # Earth's line runs about 4 km south of the town): Shusha joins Azerbaijan's side.
        edge = shapely.ops.nearest_points(shusha, v5.boundary)[1]
        reach = shapely.convex_hull(
            shapely.union(
                _buffer_m(shusha, self.spec["shusha_cut_m"]),
                _buffer_m(edge, self.spec["shusha_cut_m"]),
            )
        )
        self.shusha_cut = _polygons(shapely.intersection(v5, reach))
        held_2020 = _polygons(v5.difference(self.shusha_cut))
        outside = shapely.get_parts(held_2020.difference(self.nkao))
        lachin = self.place(self.spec["lachin_place"])
        corridor = [p for p in outside if p.distance(lachin) < 0.05 and p.area > 1e-3]
        self.corridor_2020 = _polygons(shapely.union_all(corridor))
        # For control: Natural Earth's corridor and the 5 km band of the sketched road to the
        # Armenian border (the statement's corridor), outside the 2020 area and the NKAO.
        self.corridor_control = _polygons(
            shapely.union_all([self.corridor_2020, corridor_band])
            .intersection(self.held_1994)
            .difference(self.nkao)
            .difference(held_2020.difference(self.corridor_2020))
            .difference(self.shusha_cut)
        )
        self.held_2020 = held_2020
        self.core_2022 = _polygons(held_2020.difference(self.corridor_2020))
        self.loc_2020 = shapely.line_merge(
            shapely.union_all(_lines(self.spec["lines_v5"], "Ceasefire Line 2020"))
        )
        self.study = _polygons(shapely.union_all([self.nkao, self.held_1994]))

    def place(self, pid: str) -> Point:
        return Point(self.places[pid]["geometry"]["coordinates"])

    # --- control, as a coverage --------------------------------------------------------------

    def control_features(self, cite) -> list[dict]:
        """One feature per piece of the study area and period of one holder (see module doc)."""
        spec = self.spec
        start = spec["start"]
        by_group: dict[str, dict[str, Point]] = {"nkao": {}, "district": {}}
        for t in self.towns:
            by_group[t["group"]][t["place"]] = self.place(t["place"])
        town = {t["place"]: t for t in self.towns}
        cells = voronoi_cells(by_group["nkao"], _polygons(self.nkao.intersection(self.study)))
        cells |= voronoi_cells(by_group["district"], _polygons(self.study.difference(self.nkao)))
        zones = {
            "core": self.core_2022,
            "corridor": self.corridor_control,
            "shusha": self.shusha_cut,
        }
        rest = _polygons(self.held_1994.difference(shapely.union_all(list(zones.values()))))
        zones["rest"] = rest
        zones["never"] = _polygons(self.study.difference(self.held_1994))
        pieces: dict[tuple, list] = {}
        for pid, cell in cells.items():
            t = town[pid]
            for zone, area in zones.items():
                geom = _polygons(cell.intersection(area))
                if geom.is_empty or geodesy.area_km2(geom) < 0.01:
                    continue
                steps = self._timeline(t, zone, start)
                label = self._label(t, zone)
                pieces.setdefault((label, tuple(steps)), []).append((geom, t, zone))
        out = []
        for (label, steps), members in sorted(pieces.items()):
            geom = _polygons(shapely.union_all([g for g, _, _ in members]))
            t, zone = members[0][1], members[0][2]
            for n, (frm, to, side, why) in enumerate(steps):
                base = f"NK-control-{label}"
                out.append(
                    {
                        "geometry": geom,
                        "id": f"{base}-{n + 1}",
                        "name": f"{self._title(t, zone)}: held by "
                        + ("the de facto authorities" if side == ARTSAKH else "Azerbaijan"),
                        **self._names(t, zone, side),
                        "valid_from": frm,
                        "valid_to": to,
                        "held_by": side,
                        "countries": ["AZE"],
                        "area_kind": "control",
                        "accuracy": "approximate",
                        "sources": cite(t.get("sources", []) + spec["sources"]),
                        "notes": why + " " + self._geometry_note(zone),
                    }
                )
        return out

    def _timeline(self, t: dict, zone: str, start: str) -> list[tuple]:
        """(from, to, holder, why) steps of a piece, from ``start`` to open end."""
        spec = self.spec
        if zone == "never":
            return [(start, None, AZE, spec["never_note"])]
        steps = []
        first = t.get("taken_1991_94")
        if first:
            steps.append((start, first, AZE, f"Taken by Armenian forces {t['taken_note']}."))
        frm = first or start
        if zone == "core":
            end, why = spec["end_2023"], spec["end_2023_note"]
        elif zone == "corridor":
            end, why = spec["corridor_handover"], spec["corridor_handover_note"]
        elif zone == "shusha":
            end = next(x for x in self.towns if x["place"] == spec["shusha_place"])["lost_2020"]
            why = spec["shusha_cut_note"]
        else:
            end, why = t["lost_2020"], t["lost_note"]
        held_why = "Held by the de facto authorities" + (
            f" from {first}" if first else f" from {start} (NKAO)"
        )
        steps.append((frm, end, ARTSAKH, held_why + "."))
        steps.append((end, None, AZE, why))
        return steps

    def _label(self, t: dict, zone: str) -> str:
        return f"{t['place'].split('-', 1)[1]}-{zone}"

    def _title(self, t: dict, zone: str) -> str:
        name = self.places[t["place"]]["properties"]["name"]
        what = {
            "core": "area held 2020-2023",
            "corridor": "Lachin corridor (original route)",
            "shusha": "Shusha (cut out of the 2020 area)",
            "rest": "area lost in 2020",
            "never": "not held by the de facto authorities after 1994",
        }[zone]
        return f"{name} cell, {what}"

    def _names(self, t: dict, zone: str, side: str) -> dict[str, dict[str, str]]:
        """``names`` and ``names_sources`` of a piece in each language of the record's
        ``titles`` (editors' translation) that the town has a name in."""
        town = self.places[t["place"]]["properties"]["names"]
        names = {
            lang: words["cell"].format(
                town=town[lang],
                zone=words[zone],
                holder=words["artsakh" if side == ARTSAKH else "aze"],
            )
            for lang, words in self.spec.get("titles", {}).items()
            if town.get(lang)
        }
        return {"names": names, "names_sources": dict.fromkeys(names, "translation (editors)")}

    def _geometry_note(self, zone: str) -> str:
        return self.spec["geometry_notes"][zone]

    # --- lines and areas ---------------------------------------------------------------------

    def line_features(self, cite) -> list[dict]:
        """Lines of contact (borders layer, kind line_of_contact) from Natural Earth."""
        cut_edge = shapely.buffer(self.shusha_cut, 1e-6)
        loc_2020 = shapely.line_merge(shapely.difference(self.loc_2020, cut_edge))
        arc = shapely.line_merge(
            shapely.intersection(self.shusha_cut.boundary, shapely.buffer(self.held_2020, 1e-6))
        )
        out = []
        for entry in self.record["karabakh_line"]:
            geom = {"1994": self.loc_1994, "2020": loc_2020, "2020-shusha": arc}[entry["geometry"]]
            out.append(dict(entry, geometry=geom, sources=cite(entry["sources"])))
        return out

    def area_features(self, cite) -> list[dict]:
        """Former oblast and held areas (disputed_areas layer) from Natural Earth."""
        geoms = {
            "nkao": self.nkao,
            "held_1994": self.held_1994,
            "held_2020": self.held_2020,
            "core_2022": self.core_2022,
        }
        return [
            dict(e, geometry=geoms[e["geometry"]], sources=cite(e["sources"]))
            for e in self.record["karabakh_area"]
        ]

    def mission_area(self, name: str, band: shapely.Geometry) -> shapely.Geometry:
        """The peacekeepers' area: the held area of the period with the corridor band."""
        held = {"held_2020": self.held_2020, "core_2022": self.core_2022}[name]
        return _polygons(shapely.union_all([held, band]).intersection(self.aze))
