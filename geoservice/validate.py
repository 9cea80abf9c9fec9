"""Check a data directory: geometry, CRS, fields, vocabularies, dates and border topology.

Each problem is one readable line, ``<file>: <feature id>: <what is wrong>``. The topology check
takes every pair's international segments valid on each date where anything about that pair
changes, and requires that they do not overlap and together equal the common boundary of the two
country polygons, both within :data:`TOPOLOGY_TOLERANCE_M` metres; the line of a stretch that
ended (no state valid after its last ``valid_to``: the ring of an enclave that ceased to exist)
is no border from then on, though the undated country polygons still draw it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import shapely

from . import geodesy
from .catalog import DataError, data_dir, read_feature_collection
from .layers import LAYERS, Layer
from .timeline import TimeError, is_valid_on, parse_date
from .views import in_view
from .vocabulary import (
    COMMON_FIELDS,
    CONTROL_HOLDERS,
    PARTY_NAMES,
    VIEWS,
    field_vocabulary,
)

#: How far the border segments may stray from the countries' common boundary, in metres.
TOPOLOGY_TOLERANCE_M = 50.0
#: The same as a buffer in degrees: 50 m is at most 0.00045° of latitude, and 0.00045° of
#: longitude is under 50 m everywhere north of the equator's 10° band, so this is conservative.
_TOLERANCE_DEG = 0.00045

_CRS84 = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "EPSG:4326",
}
_LIST_FIELDS = ("sources",)


def validate_directory(path: str | Path | None = None) -> list[str]:
    """All problems found in a data directory (default: the shipped ``geodata/``): the
    structural checks of :func:`check_structure`, then border topology and control coverage.
    Never raises: a check that fails is itself reported as a problem line."""
    problems, layers = check_structure(path)
    if "borders" in layers and "countries" in layers and not problems:
        problems += _guarded(
            "border topology", check_border_topology, layers["borders"], layers["countries"]
        )
    if "control_areas" in layers and not problems:
        problems += _guarded("control coverage", check_control_coverage, layers["control_areas"])
    return problems


def validate_database(dsn: str) -> list[str]:
    """:func:`validate_directory` of a PostGIS database (``geoservice load``, then edits):
    every layer dumped as a data directory first. DataError if it cannot be read."""
    import tempfile

    from .store.postgis import PostgisStore
    from .store.postgis_edits import dump_directory

    store = PostgisStore(dsn)
    try:
        with tempfile.TemporaryDirectory(prefix="geoservice-validate-") as tmp:
            return validate_directory(dump_directory(store, Path(tmp)))
    finally:
        store.close()


def check_structure(
    path: str | Path | None = None, geometry: bool = True
) -> tuple[list[str], dict[str, list[dict]]]:
    """Files, CRS, fields, vocabularies, dates, unique ids and (``geometry``) each geometry's
    type and validity. Returns the problems (one line each) and the features read, by layer.

    The service runs it at start-up with ``geometry=False`` (the geometry checks would double
    the start-up time; unreadable geometry still stops the load)."""
    directory = data_dir(path)
    if not directory.is_dir():
        return [f"{directory}: no such data directory"], {}
    problems: list[str] = []
    layers: dict[str, list[dict]] = {}
    for layer in LAYERS.values():
        file = directory / f"{layer.id}.geojson"
        try:
            features = read_feature_collection(file)
        except DataError as exc:
            problems.append(str(exc))
            continue
        problems += _guarded(file.name, _check_crs, file)
        problems += _guarded(file.name, _check_layer, file.name, layer, features, geometry)
        layers[layer.id] = features
    ids: dict = {}
    for layer_id, features in layers.items():
        for n, f in enumerate(features):
            fid = (f.get("properties") or {}).get("id") if isinstance(f, dict) else None
            if not isinstance(fid, str):
                continue  # reported by the field checks
            if fid in ids:
                where = ids[fid]
                problems.append(f"{layer_id}.geojson: {fid}: id also used in {where}")
            ids[fid] = f"{layer_id}.geojson feature #{n}"
    return problems, layers


def _guarded(what: str, check, *args) -> list[str]:
    """``check(*args)``, or one problem line if the check itself fails on this data."""
    try:
        return check(*args)
    except Exception as exc:  # noqa: BLE001 - bad data must give a line, never a traceback
        return [f"{what}: the check could not run on this data ({type(exc).__name__}: {exc})"]


def _check_crs(file: Path) -> list[str]:
    doc = orjson.loads(file.read_bytes())
    crs = doc.get("crs")
    if crs is None:
        return []
    name = ((crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None) or ""
    if name not in _CRS84:
        return [f"{file.name}: CRS {name or crs!r} is not EPSG:4326 / CRS84"]
    return []


def _check_layer(file: str, layer: Layer, features: list[dict], geometry: bool = True) -> list[str]:
    problems = []
    for n, f in enumerate(features):
        props = f.get("properties") if isinstance(f, dict) else None
        if not isinstance(props, dict):
            problems.append(f"{file}: feature #{n}: no properties")
            continue
        fid = props.get("id") or f"feature #{n}"
        problems += [f"{file}: {fid}: {p}" for p in check_feature(layer, f, props, geometry)]
    return problems


def check_feature(layer: Layer, f: dict, props: dict, geometry: bool = True) -> list[str]:
    """The problems of one feature of ``layer`` (fields, vocabularies, dates, geometry)."""
    problems = []
    for name in COMMON_FIELDS:
        if name not in props:
            problems.append(f"missing field {name!r}")
    for name in ("id", "name"):
        if name in props and not (isinstance(props[name], str) and props[name].strip()):
            problems.append(f"{name} must be a non-empty string")
    sources = props.get("sources")
    if "sources" in props and not (
        isinstance(sources, list) and sources and all(isinstance(s, str) and s for s in sources)
    ):
        problems.append("sources must be a non-empty list of citations")
    problems += _check_vocabularies(layer, props)
    problems += _check_dates(props)
    if geometry:
        problems += _check_geometry(layer, f.get("geometry"))
    elif not isinstance(f.get("geometry"), dict):
        problems.append("no geometry")
    if layer.id == "borders":
        problems += _check_border_fields(props)
    views = props.get("views")
    if views is not None and not (
        isinstance(views, list) and views and all(v in VIEWS for v in views)
    ):
        problems.append(f"views must be a non-empty list of {', '.join(VIEWS)}")
    if layer.id == "events":
        problems += _check_event_fields(props)
    if layer.id == "control_areas" and props.get("held_by") not in CONTROL_HOLDERS:
        problems.append(
            f"held_by {props.get('held_by')!r} is not one of {', '.join(CONTROL_HOLDERS)}"
        )
    return problems


def _check_vocabularies(layer: Layer, props: dict) -> list[str]:
    """Every field with a controlled vocabulary (:mod:`geoservice.vocabulary`) holds one of its
    values: ``accuracy`` when present, the layer's own vocabulary fields always."""
    problems = []
    for name in ("accuracy", *layer.fields):
        allowed = field_vocabulary(layer.id, name)
        if allowed is None or (name == "accuracy" and name not in props):
            continue
        if props.get(name) not in allowed:
            problems.append(f"{name} {props.get(name)!r} is not one of {', '.join(allowed)}")
    return problems


def _check_dates(props: dict) -> list[str]:
    days = {}
    for name in ("valid_from", "valid_to"):
        value = props.get(name)
        if value is None:
            continue
        try:
            days[name] = parse_date(value, what=name) if isinstance(value, str) else None
            if days[name] is None:
                raise TimeError(f"{name} {value!r} is not an ISO date string")
        except TimeError as exc:
            return [str(exc)]
    if len(days) == 2 and days["valid_from"] >= days["valid_to"]:
        return [f"valid_from {props['valid_from']} is not before valid_to {props['valid_to']}"]
    return []


def _check_geometry(layer: Layer, geometry) -> list[str]:
    if not isinstance(geometry, dict):
        return ["no geometry"]
    try:
        geom = shapely.from_geojson(orjson.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError) as exc:
        return [f"geometry cannot be read: {exc}"]
    problems = []
    if geom.geom_type not in layer.geometry_types:
        problems.append(
            f"geometry type {geom.geom_type} not allowed here ({', '.join(layer.geometry_types)})"
        )
    if geom.is_empty:
        return problems + ["geometry is empty"]
    if not geom.is_valid:
        problems.append(f"invalid geometry: {shapely.is_valid_reason(geom)}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        problems.append("coordinates outside lon -180..180 / lat -90..90 (not EPSG:4326?)")
    return problems


def _check_event_fields(props: dict) -> list[str]:
    problems = []
    if props.get("date") != props.get("valid_from"):
        problems.append("date must equal valid_from (the first day of the event)")
    if not (isinstance(props.get("description"), str) and props["description"].strip()):
        problems.append("description must be a non-empty string")
    if not isinstance(props.get("parties"), list):
        problems.append("parties must be a list")
    return problems


def _check_border_fields(props: dict) -> list[str]:
    problems = []
    countries = props.get("countries")
    if not (isinstance(countries, list) and len(countries) == 2 and countries == sorted(countries)):
        problems.append("countries must be two ISO3 codes, sorted")
    elif any(c not in PARTY_NAMES for c in countries):
        problems.append(f"unknown country code in {countries}")
    parties = props.get("parties", [])
    if not isinstance(parties, list):
        problems.append("parties must be a list")
    elif props.get("kind") in ("line_of_contact", "de_facto") and not parties:
        problems.append("a line of contact or de facto line must name its parties")
    reported = props.get("reported_length_km")
    if reported is not None:
        if not isinstance(reported, (int, float)) or reported <= 0:
            problems.append("reported_length_km must be a positive number")
        elif not props.get("reported_length_source"):
            problems.append("reported_length_km needs reported_length_source")
    return problems


#: The view whose international borders are the country polygons' common boundaries.
DE_JURE_VIEW = "un"


def check_border_topology(borders: list[dict], countries: list[dict]) -> list[str]:
    """Each pair's international segments, on every date they change, tile the common boundary
    of the two country polygons, in the UN majority's view (the de jure pairs the polygons
    are: on the ground, Georgia-Russia gives way to Abkhazia-Russia where Abkhazia holds the
    Georgian side, and the de facto entities have no country polygon)."""
    polygons = {
        f["properties"]["iso3"]: shapely.from_geojson(orjson.dumps(f["geometry"]))
        for f in countries
    }
    by_pair: dict[tuple[str, str], list[tuple[dict, shapely.Geometry]]] = {}
    for f in borders:
        p = f["properties"]
        if p.get("kind") == "international" and in_view(p, DE_JURE_VIEW):
            geom = shapely.from_geojson(orjson.dumps(f["geometry"]))
            by_pair.setdefault(tuple(p["countries"]), []).append((p, geom))
    problems = []
    for pair, segments in sorted(by_pair.items()):
        missing = [c for c in pair if c not in polygons]
        if missing:
            problems.append(f"borders.geojson: {'-'.join(pair)}: no country polygon for {missing}")
            continue
        common = shapely.line_merge(
            shapely.intersection(polygons[pair[0]].boundary, polygons[pair[1]].boundary)
        )
        for day in _change_days(segments):
            problems += [
                f"borders.geojson: {'-'.join(pair)} on {day}: {p}"
                for p in _tiling_problems(segments, common, day)
            ]
    return problems


#: Gap or overlap a control coverage may have on a date (km², geodesic): rounding to 1e-5°.
COVERAGE_TOLERANCE_KM2 = 0.05


def check_control_coverage(features: list[dict]) -> list[str]:
    """Control as a coverage: on every date where a feature starts or ends, and today, the
    features valid that day cover the layer's whole area (the union of all its features)
    exactly once: gaps and overlaps (geodesic km²) under :data:`COVERAGE_TOLERANCE_KM2`.
    """
    problems = []
    for day, gap, overlap, _ in coverage_report(features):
        if overlap > COVERAGE_TOLERANCE_KM2:
            problems.append(
                f"control_areas.geojson on {day}: features overlap by {overlap:.3f} km2"
            )
        if gap > COVERAGE_TOLERANCE_KM2:
            problems.append(f"control_areas.geojson on {day}: {gap:.3f} km2 belongs to no feature")
    return problems


def coverage_report(features: list[dict]) -> list[tuple[str, float, float, int]]:
    """(date, gap km², overlap km², features valid) on each change date of a coverage layer
    and today, from the first ``valid_from`` on."""
    items = [(f["properties"], shapely.from_geojson(orjson.dumps(f["geometry"]))) for f in features]
    if not items:
        return []
    whole_km2 = geodesy.area_km2(shapely.union_all([g for _, g in items]))
    days = sorted(set(_change_days(items)[1:]) | {dt.date.today()})
    rows = []
    for day in days:
        valid = [g for p, g in items if is_valid_on(p.get("valid_from"), p.get("valid_to"), day)]
        union = shapely.union_all(valid) if valid else shapely.Polygon()
        overlap = sum(geodesy.area_km2(g) for g in valid) - geodesy.area_km2(union)
        rows.append((day.isoformat(), whole_km2 - geodesy.area_km2(union), overlap, len(valid)))
    return rows


def _change_days(segments) -> list[dt.date]:
    """One date in each interval where the pair's set of valid segments is constant."""
    edges = {p.get(k) for p, _ in segments for k in ("valid_from", "valid_to")} - {None}
    days = sorted(dt.date.fromisoformat(d) for d in edges)
    probes = [days[0] - dt.timedelta(days=1)] if days else [dt.date.today()]
    return probes + days


def _ended_lines(segments, day: dt.date) -> list[shapely.Geometry]:
    """Lines of the stretches that ended on or before ``day``: every state has a ``valid_to``,
    the last of them on or before ``day``."""
    by_stretch: dict[str, list[tuple[dict, shapely.Geometry]]] = {}
    for p, g in segments:
        by_stretch.setdefault(p.get("stretch") or p["id"], []).append((p, g))
    out = []
    for states in by_stretch.values():
        ends = [p.get("valid_to") for p, _ in states]
        if all(ends) and max(dt.date.fromisoformat(e) for e in ends) <= day:
            out += [g for _, g in states]
    return out


def _tiling_problems(segments, common: shapely.Geometry, day: dt.date) -> list[str]:
    valid = [
        (p, g) for p, g in segments if is_valid_on(p.get("valid_from"), p.get("valid_to"), day)
    ]
    if not valid:
        return []  # a pair may have no segment before its record starts
    gone = _ended_lines(segments, day)
    if gone:  # no border any more, though the undated country polygons still draw it
        common = shapely.difference(common, shapely.buffer(shapely.union_all(gone), _TOLERANCE_DEG))
    geoms = [g for _, g in valid]
    union = shapely.union_all(geoms)
    problems = []
    overlap_km = sum(geodesy.length_km(g) for g in geoms) - geodesy.length_km(union)
    if overlap_km * 1000 > TOPOLOGY_TOLERANCE_M:
        ids = ", ".join(p["id"] for p, _ in valid)
        problems.append(f"segments overlap by {overlap_km:.3f} km ({ids})")
    gap = shapely.difference(common, shapely.buffer(union, _TOLERANCE_DEG))
    gap_km = geodesy.length_km(gap)
    if gap_km * 1000 > TOPOLOGY_TOLERANCE_M:
        x, y = shapely.get_coordinates(gap)[0]
        problems.append(
            f"{gap_km:.3f} km of the common boundary has no segment (e.g. at {x:.5f} {y:.5f})"
        )
    stray = shapely.difference(union, shapely.buffer(common, _TOLERANCE_DEG))
    stray_km = geodesy.length_km(stray)
    if stray_km * 1000 > TOPOLOGY_TOLERANCE_M:
        x, y = shapely.get_coordinates(stray)[0]
        problems.append(
            f"{stray_km:.3f} km of segments lie off the common boundary (e.g. at {x:.5f} {y:.5f})"
        )
    return problems
