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
            },
            ("countries", "status", "kind", "accuracy"),
        ),
        Layer(
            "corridors",
            "Corridors and routes",
            "The Lachin corridor (original and new route, centreline and 5 km band) and the "
            "Nakhchivan route through Armenia's Syunik province.",
            ("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
            {"corridor": "string", "part": "string", "countries": "array"},
            ("corridor", "part", "accuracy"),
        ),
        Layer(
            "peacekeeping_zones",
            "Peacekeeping and monitoring missions",
            "Areas of responsibility and posts of peacekeeping and monitoring missions.",
            ("Polygon", "MultiPolygon", "Point"),
            {"mission": "string", "countries": "array", "troops": "number"},
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
    )
}
