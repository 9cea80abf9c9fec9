"""What changed between two dates: features that began or ended, area changing hands, border
status changes and the events in between.

Areas are km² and lengths km, geodesic on the WGS84 ellipsoid (:mod:`geoservice.geodesy`).
"Who holds a place" on a date is, in the view ``on_the_ground``, the ``held_by`` of a disputed
area of a holding kind valid then (:data:`HOLDING_KINDS`), else the country whose polygon it
lies in; in any other view (:mod:`geoservice.views`) it is the ``belongs_to`` of the view's
held areas (whose the area is in that view), else the country. Features and border stretches
are those of the view. Set operations run on
the lon/lat coordinates (EPSG:4326), the same straight edges the data is drawn with.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from . import geodesy, timeline, views
from .measure import QueryError
from .vocabulary import DEFAULT_LANGUAGE, DEFAULT_VIEW

#: ``area_kind`` values that mean "held by ``held_by``" (not a reference outline or an enclave,
#: which the country polygons already give to their state).
HOLDING_KINDS: frozenset[str] = frozenset({"held_area", "occupied_district", "held_across_border"})

#: Layers whose features are listed as beginning or ending (the gazetteer has no history).
CHANGING_LAYERS: tuple[str, ...] = (
    "countries",
    "borders",
    "corridor_routes",
    "corridor_bands",
    "mission_areas",
    "mission_posts",
    "disputed_areas",
    "control_areas",
)

#: Pieces smaller than this (km²) are slivers of redrawn outlines, not land changing hands.
MIN_AREA_KM2 = 0.5


def _day(value, what: str) -> dt.date:
    if value is None:
        raise QueryError(f"give {what} as YYYY-MM-DD")
    try:
        return timeline.parse_date(value, what=what)
    except timeline.TimeError as exc:
        raise QueryError(str(exc)) from None


def _brief(layer, row: int, lang: str = DEFAULT_LANGUAGE) -> dict:
    props = layer.features[row]["properties"]
    out = {k: props.get(k) for k in ("id", "name", "valid_from", "valid_to")}
    if lang != DEFAULT_LANGUAGE:
        out["label"] = views.label(props, lang)
    out["layer"] = layer.id
    if layer.length_km[row] > 0:
        out["length_km"] = round(float(layer.length_km[row]), 3)
    if layer.area_km2[row] > 0:
        out["area_km2"] = round(float(layer.area_km2[row]), 3)
    return out


def began_and_ended(
    catalog, start: dt.date, end: dt.date, view: str = DEFAULT_VIEW, lang: str = DEFAULT_LANGUAGE
) -> dict:
    """Features of ``view`` valid on ``end`` but not ``start`` (began), the reverse (ended), and
    those that began and ended in between (came and went)."""
    began, ended, transient = [], [], []
    for lid in CHANGING_LAYERS:
        if lid not in catalog:
            continue
        layer = catalog[lid]
        mask = views.view_mask(layer, view)
        on_start, on_end = layer.valid(start) & mask, layer.valid(end) & mask
        between = layer.valid(start, end) & mask & ~on_start & ~on_end
        began += [_brief(layer, i, lang) for i in np.flatnonzero(on_end & ~on_start)]
        ended += [_brief(layer, i, lang) for i in np.flatnonzero(on_start & ~on_end)]
        transient += [_brief(layer, i, lang) for i in np.flatnonzero(between)]
    return {"began": began, "ended": ended, "came_and_went": transient}


def holdings(catalog, day: dt.date, view: str = DEFAULT_VIEW) -> dict[str, shapely.Geometry]:
    """Holder -> the area it holds on ``day`` (lon/lat). On the ground: the disputed areas of a
    holding kind and the day's control areas (who held each part of Nagorno-Karabakh and the
    districts), by ``held_by``; in another view, the view's held areas by ``belongs_to``."""
    out: dict[str, list] = {}
    column = "held_by" if view == DEFAULT_VIEW else "belongs_to"
    for lid in ("disputed_areas", "control_areas"):
        if lid not in catalog:
            continue
        layer = catalog[lid]
        frame = layer.frame
        if column not in frame:
            continue
        for i in np.flatnonzero(layer.valid(day) & views.view_mask(layer, view)):
            kind = frame["area_kind"].iloc[i] if "area_kind" in frame else "held_area"
            holder = frame[column].iloc[i]
            if kind in HOLDING_KINDS and isinstance(holder, str) and holder:
                out.setdefault(holder, []).append(frame.geometry.values[i])
    return {holder: shapely.make_valid(shapely.union_all(geoms)) for holder, geoms in out.items()}


def _holder_at(piece, holders: dict[str, shapely.Geometry], countries) -> list[tuple[str, object]]:
    """Split ``piece`` by who holds it: the holders' areas first, the rest by country polygon."""
    parts = []
    rest = piece
    for holder, area in holders.items():
        inter = shapely.intersection(rest, area)
        if not inter.is_empty:
            parts.append((holder, inter))
            rest = shapely.difference(rest, area)
    if not rest.is_empty:
        frame = countries.frame
        for i in countries.bbox_rows(rest.bounds):
            inter = shapely.intersection(rest, frame.geometry.values[i])
            if not inter.is_empty:
                parts.append((frame["iso3"].iloc[i] or frame["id"].iloc[i], inter))
    return parts


def area_changes(catalog, start: dt.date, end: dt.date, view: str = DEFAULT_VIEW) -> dict:
    """km² that changed hands between the two dates in ``view``: transfers (from, to) and
    totals per side."""
    before, after = holdings(catalog, start, view), holdings(catalog, end, view)
    countries = catalog["countries"]
    transfers: dict[tuple[str, str], float] = {}
    for holder in sorted(set(before) | set(after)):
        lost = shapely.difference(
            before.get(holder, shapely.Polygon()), after.get(holder, shapely.Polygon())
        )
        if lost.is_empty:
            continue
        others = {h: a for h, a in after.items() if h != holder}
        for taker, piece in _holder_at(lost, others, countries):
            km2 = geodesy.area_km2(piece)
            if taker != holder and km2 >= MIN_AREA_KM2:
                transfers[(holder, taker)] = transfers.get((holder, taker), 0.0) + km2
    for holder in sorted(after):
        gained = shapely.difference(after[holder], before.get(holder, shapely.Polygon()))
        if gained.is_empty:
            continue
        others = {h: a for h, a in before.items() if h != holder}
        for giver, piece in _holder_at(gained, others, countries):
            km2 = geodesy.area_km2(piece)
            if giver != holder and km2 >= MIN_AREA_KM2 and (giver, holder) not in transfers:
                transfers[(giver, holder)] = km2
    sides: dict[str, dict[str, float]] = {}
    for (giver, taker), km2 in transfers.items():
        sides.setdefault(giver, {"gained_km2": 0.0, "lost_km2": 0.0})["lost_km2"] += km2
        sides.setdefault(taker, {"gained_km2": 0.0, "lost_km2": 0.0})["gained_km2"] += km2
    return {
        "transfers": [
            {"from": giver, "to": taker, "area_km2": round(km2, 1)}
            for (giver, taker), km2 in sorted(transfers.items(), key=lambda kv: -kv[1])
        ],
        "by_side": {
            side: {
                "gained_km2": round(v["gained_km2"], 1),
                "lost_km2": round(v["lost_km2"], 1),
                "net_km2": round(v["gained_km2"] - v["lost_km2"], 1),
            }
            for side, v in sorted(sides.items())
        },
    }


def border_status_changes(
    catalog, start: dt.date, end: dt.date, view: str = DEFAULT_VIEW, lang: str = DEFAULT_LANGUAGE
) -> dict:
    """Border stretches of ``view`` whose status differs between the dates, and km by
    (from, to) status."""
    borders = catalog["borders"]
    frame = borders.frame
    stretch = frame["stretch"] if "stretch" in frame else frame["id"]
    mask = views.view_mask(borders, view)

    def states(day):
        rows = np.flatnonzero(borders.valid(day) & mask)
        return {stretch.iloc[i]: i for i in rows if stretch.iloc[i]}

    first, last = states(start), states(end)
    changed = []
    totals: dict[str, float] = {}
    for key in sorted(first.keys() & last.keys()):
        a, b = first[key], last[key]
        was, now = frame["status"].iloc[a], frame["status"].iloc[b]
        if was == now:
            continue
        km = float(borders.length_km[b])
        label = f"{was}->{now}"
        totals[label] = totals.get(label, 0.0) + km
        changed.append(
            {
                "stretch": key,
                "name": frame["name"].iloc[b],
                **(
                    {"label": views.label(borders.features[b]["properties"], lang)}
                    if lang != DEFAULT_LANGUAGE
                    else {}
                ),
                "countries": list(frame["countries"].iloc[b]),
                "from_status": was,
                "to_status": now,
                "length_km": round(km, 3),
                "ids": [frame["id"].iloc[a], frame["id"].iloc[b]],
            }
        )
    return {"km_by_change": {k: round(v, 3) for k, v in totals.items()}, "stretches": changed}


def events_between(
    catalog, start: dt.date, end: dt.date, lang: str = DEFAULT_LANGUAGE
) -> list[dict]:
    """Events that took place (at least one day) in ``[start, end]``, in date order."""
    if "events" not in catalog:
        return []
    layer = catalog["events"]
    rows = np.flatnonzero(layer.valid(start, end))
    keys = ("id", "name", "date", "end_date", "kind", "parties", "place", "casualties")
    out = [{k: layer.features[i]["properties"].get(k) for k in keys} for i in rows]
    if lang != DEFAULT_LANGUAGE:
        for event, i in zip(out, rows):
            event["label"] = views.label(layer.features[i]["properties"], lang)
    return sorted(out, key=lambda e: (e["date"], e["id"]))


def changes(catalog, start, end, view: str | None = None, lang: str | None = None) -> dict:
    """Everything that changed from ``start`` to ``end`` (dates, ``start`` <= ``end``) in
    ``view`` (default on_the_ground); with ``lang``, each feature and event gets ``label``."""
    day1, day2 = _day(start, "from"), _day(end, "to")
    if day1 > day2:
        raise QueryError(f"from {day1} is after to {day2}")
    try:
        view, lang = views.parse_view(view), views.parse_lang(lang)
    except views.ViewError as exc:
        raise QueryError(str(exc)) from None
    result = {
        "from": day1.isoformat(),
        "to": day2.isoformat(),
        "view": view,
        "units": {"area": "km2", "length": "km"},
        "features": began_and_ended(catalog, day1, day2, view, lang),
        "areas": area_changes(catalog, day1, day2, view),
        "borders": border_status_changes(catalog, day1, day2, view, lang),
        "events": events_between(catalog, day1, day2, lang),
    }
    if lang != DEFAULT_LANGUAGE:  # the codes of the transfers and sides, named in ``lang``
        areas = result["areas"]
        rows = [*areas["transfers"], *({"from": side} for side in areas["by_side"])]
        result["labels"] = views.code_labels(
            views.party_labels(catalog, lang), rows, ("from", "to")
        )
    return result


def format_changes(result: dict) -> str:
    """A plain-text report of :func:`changes`."""
    lines = [f"Changes from {result['from']} to {result['to']} ({result['view']})", ""]
    lines.append("Area changing hands (km², geodesic):")
    named = result.get("labels", {})

    def side(code: str) -> str:
        return f"{code} ({named[code]})" if code in named else code

    lines += [
        f"  {side(t['from'])} -> {side(t['to'])}: {t['area_km2']:,.1f}"
        for t in result["areas"]["transfers"]
    ] or ["  none"]
    lines.append("Border km changing status:")
    lines += [
        f"  {label}: {km:,.1f} km" for label, km in result["borders"]["km_by_change"].items()
    ] or ["  none"]
    feats = result["features"]
    for key in ("began", "ended", "came_and_went"):
        lines.append(f"Features that {key.replace('_', ' ')}: {len(feats[key])}")
        lines += [f"  [{f['layer']}] {f.get('label') or f['name']}" for f in feats[key]]
    lines.append(f"Events in between: {len(result['events'])}")
    lines += [f"  {e['date']} {e['kind']}: {e.get('label') or e['name']}" for e in result["events"]]
    return "\n".join(lines)
