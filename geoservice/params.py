"""The HTTP API's query parameters, defined once.

Each :class:`Param` has its OpenAPI schema, its description and its parser; each endpoint lists
its parameters in :data:`ENDPOINTS`. The handlers read their query strings with :func:`parse`
and :mod:`geoservice.openapi` documents them with :func:`openapi_parameters`, both from this
table, so that what is documented and what is accepted cannot drift apart. Coordinates are
CRS84 degrees (lon, lat); dates ``YYYY-MM-DD`` (or RFC 3339, of which the UTC date counts).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import request

from . import timeline, views
from .downloads import DOWNLOADS
from .errors import BadRequest
from .layers import ALIASES, LAYERS, Layer
from .settings import settings
from .store.cql import CQL2_TEXT, FILTER_LANGS
from .userinput import shown
from .vocabulary import (
    DEFAULT_KIND,
    DEFAULT_LANGUAGE,
    DEFAULT_VIEW,
    KINDS,
    LANGUAGES,
    PARTY_NAMES,
    STATUSES,
    VIEWS,
    field_vocabulary,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: An OGC datetime: an instant, or start/end with '..' (or nothing) for one open end (a date
#: may end in a bare 'T', as GDAL's OAPIF driver sends it).
_DAY_RE = r"(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_INSTANT = (
    _DAY_RE + r"(T(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))?)?"
)
DATETIME_PATTERN = rf"^({_INSTANT}|{_INSTANT}/({_INSTANT}|\.\.)?|(\.\.)?/{_INSTANT})$"
DAY_PATTERN = rf"^{_DAY_RE}$"


@dataclass(frozen=True)
class Param:
    """One query parameter: ``parse`` turns its text into a value or raises ``ValueError``
    (answered 400 with the message); ``schema`` is its OpenAPI 3.0 schema."""

    name: str
    description: str
    schema: dict
    parse: Callable[[str], Any]
    required: bool = False
    default: Any = None
    #: Its key in :func:`table` when two endpoints give one name different values (``f``).
    key: str | None = None
    #: Several values in one parameter, comma-separated (OpenAPI ``style: form``, ``explode:
    #: false``; what QGIS reads to send a filter expression's equalities as parameters).
    comma_separated: bool = False

    def openapi(self) -> dict:
        doc = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": self.schema,
        }
        if self.comma_separated or self.schema.get("type") == "array":
            doc.update(style="form", explode=False)
        return doc


# --- parsers: text -> value, ValueError with a readable message -----------------------------


def _enum(values: Iterable[str]) -> Callable[[str], str]:
    allowed = tuple(values)

    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"not one of: {', '.join(allowed)}")
        return text

    return parse


def _items(item: Callable[[str], Any]) -> Callable[[str], list]:
    """A comma-separated list of one or more values, none empty."""

    def parse(text: str) -> list:
        parts = [p.strip() for p in text.split(",")]
        if any(not p for p in parts):
            raise ValueError("an item is empty; give values separated by ','")
        return [item(p) for p in parts]

    return parse


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f"..{maximum}" if maximum is not None else " or more"
            raise ValueError(f"out of range ({minimum}{upper})")
        return value

    return parse


def _boolean(text: str) -> bool:
    value = text.lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError("must be true or false")


def _day(text: str) -> dt.date:
    try:
        return timeline.parse_date(text)
    except timeline.TimeError as exc:
        raise ValueError(str(exc)) from None


def _interval(text: str) -> tuple[dt.date | None, dt.date | None]:
    try:
        return timeline.parse_interval(text)
    except timeline.TimeError as exc:
        raise ValueError(f"{exc}; give an instant, or start/end with '..' for open ends") from None


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minLon,minLat,maxLon,maxLat`` (or 6 numbers with heights, ignored), CRS84 degrees;
    ``minLon > maxLon`` crosses the antimeridian."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise ValueError("give 4 numbers minLon,minLat,maxLon,maxLat (or 6)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError("not all parts are numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("numbers must be finite")
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise ValueError("longitudes must be within -180..180")
    # Latitudes: clipped at the poles, and a box given upside down is read the right way up
    # (the schema cannot say either, so the service accepts what it allows).
    miny, maxy = sorted(min(max(v, -90.0), 90.0) for v in (miny, maxy))
    return minx, miny, maxx, maxy


def _crs(text: str) -> str:
    if text.strip("<>") != CRS84:
        raise ValueError(f"only {CRS84} (lon, lat) is supported")
    return CRS84


#: EPSG:4326 as an OGC URI; filter-crs takes it besides CRS84 (the axis order is CRS84's).
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def _filter_crs(text: str) -> str:
    if text.strip("<>") not in (CRS84, EPSG4326):
        raise ValueError(f"only {CRS84} or {EPSG4326} is supported")
    return text.strip("<>")


def _view(text: str) -> str:
    try:
        return views.parse_view(text)
    except views.ViewError as exc:
        raise ValueError(str(exc)) from None


def _lang(text: str) -> str:
    try:
        return views.parse_lang(text)
    except views.ViewError as exc:
        raise ValueError(str(exc)) from None


def _layer(text: str) -> str:
    """A layer id (an old collection id: its first successor)."""
    layer_id = ALIASES.get(text, (text,))[0]
    if layer_id not in LAYERS:
        raise ValueError(f"unknown layer; one of: {', '.join(LAYERS)}")
    return layer_id


# --- the table --------------------------------------------------------------------------------

#: Country and de facto entity codes (``countries``, ``parties``), matched in capitals.
_PARTY = {"type": "string", "enum": sorted(PARTY_NAMES)}
_PARTY_FIELDS = frozenset({"countries", "parties"})


def _party(text: str) -> str:
    code = text.upper()
    if code not in PARTY_NAMES:
        raise ValueError(f"unknown code; known codes: {', '.join(sorted(PARTY_NAMES))}")
    return code


_DAY = {"type": "string", "format": "date", "pattern": DAY_PATTERN, "example": "2022-09-01"}
_LAYER_IDS = [*LAYERS, *ALIASES]
_BBOX_NUMBER = {"type": "number", "minimum": -180, "maximum": 180}


@functools.cache
def table() -> dict[str, Param]:
    """Every query parameter by name (limits from :func:`geoservice.settings.settings`)."""
    limits = settings()
    layer_enum = {"type": "string", "enum": _LAYER_IDS}
    params = [
        Param(
            "f",
            "Response format (else the Accept header decides; JSON by default).",
            {"type": "string", "enum": ["json", "html"]},
            _enum(("json", "html")),
        ),
        Param(
            "f",
            "Response format (else the Accept header decides; GeoJSON by default); "
            + ", ".join(f"{d.f}: the page as a {d.title} file" for d in DOWNLOADS.values())
            + " (list properties as JSON text fields).",
            {"type": "string", "enum": ["json", "html", *DOWNLOADS]},
            _enum(("json", "html", *DOWNLOADS)),
            key="f-items",
        ),
        Param(
            "bbox",
            "minLon,minLat,maxLon,maxLat in CRS84 degrees (or 6 numbers: with heights, "
            "ignored); minLon > maxLon crosses the antimeridian; latitudes are clipped at the "
            "poles, and minLat > maxLat is read as maxLat,minLat. "
            "Features whose geometry intersects the box.",
            {
                "type": "array",
                "minItems": 4,
                "maxItems": 6,
                "not": {"type": "array", "minItems": 5, "maxItems": 5},
                "items": _BBOX_NUMBER,
            },
            parse_bbox,
        ),
        Param(
            "bbox-crs",
            "CRS of bbox: only CRS84 (lon, lat).",
            {"type": "string", "enum": [CRS84]},
            _crs,
        ),
        Param(
            "crs",
            "CRS of the response: only CRS84 (lon, lat) is served.",
            {"type": "string", "enum": [CRS84]},
            _crs,
        ),
        Param(
            "datetime",
            "An instant (YYYY-MM-DD or RFC 3339) or an interval start/end with '..' for an "
            "open end; features valid at some time in it (valid_from <= end and "
            "valid_to > start).",
            {"type": "string", "pattern": DATETIME_PATTERN, "example": "2020-11-10/.."},
            _interval,
        ),
        Param(
            "limit",
            "Page size.",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": limits.max_limit,
                "default": limits.default_limit,
            },
            _integer(1, limits.max_limit),
            default=limits.default_limit,
        ),
        Param(
            "offset",
            "Features to skip (follow the 'next' link to page).",
            {"type": "integer", "minimum": 0, "default": 0},
            _integer(0),
            default=0,
        ),
        Param(
            "zoom",
            "Display geometry for this Leaflet zoom level: simplified to 0.75 pixel, without "
            "polygon parts under a square pixel, snapped to a tenth (lengths and areas stay those of the full geometry); "
            "omitted: the full geometry.",
            {"type": "integer", "minimum": 0, "maximum": limits.max_zoom},
            _integer(0, limits.max_zoom),
        ),
        Param(
            "view",
            "Point of view (see /api/views): whose lines and areas are shown, and how each "
            f"line is classed; default {DEFAULT_VIEW}.",
            {"type": "string", "enum": list(VIEWS), "default": DEFAULT_VIEW},
            _view,
            default=DEFAULT_VIEW,
        ),
        Param(
            "lang",
            f"Language of names and labels (falls back to English); default {DEFAULT_LANGUAGE}.",
            {"type": "string", "enum": list(LANGUAGES), "default": DEFAULT_LANGUAGE},
            _lang,
            default=DEFAULT_LANGUAGE,
        ),
        Param("as_of", "The day (YYYY-MM-DD); default today.", _DAY, _day),
        Param(
            "segments",
            "false: the lengths alone, without the lists of segments (on PostGIS without bbox: "
            "from the table of length changes, a few rows whatever the data's size).",
            {"type": "boolean", "default": True},
            _boolean,
            default=True,
        ),
        Param(
            "include_geometry",
            "true: add each intersection as GeoJSON.",
            {"type": "boolean", "default": False},
            _boolean,
            default=False,
        ),
        Param(
            "countries",
            "One ISO3 code (all its borders), a pair (that border) or more (the borders among "
            "them), comma-separated.",
            {"type": "array", "items": _PARTY, "minItems": 1},
            _items(_party),
        ),
        Param(
            "status",
            "Status of the line.",
            {"type": "string", "enum": list(STATUSES)},
            _enum(STATUSES),
        ),
        Param(
            "kind",
            f"Kind of line (default {DEFAULT_KIND}; 'all': every kind).",
            {"type": "string", "enum": [*KINDS, "all"], "default": DEFAULT_KIND},
            _enum((*KINDS, "all")),
            default=DEFAULT_KIND,
        ),
        Param("a", "The first layer.", layer_enum, _layer, required=True),
        Param("b", "The second layer.", layer_enum, _layer, required=True),
        Param(
            "layers",
            "Layers to test (default all), comma-separated.",
            {"type": "array", "items": layer_enum, "minItems": 1},
            _items(_layer),
        ),
        Param(
            "filter",
            "A CQL2 condition (OGC API - Features Part 3) on the queryables of the collection "
            "(see its /queryables): comparisons, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, "
            "S_INTERSECTS and the other basic spatial functions on geometry (CRS84), dates "
            "compared as DATE('YYYY-MM-DD'); e.g. status = 'disputed' AND valid_from > "
            "DATE('2020-01-01').",
            {"type": "string", "minLength": 1, "example": "valid_to IS NULL"},
            str,
        ),
        Param(
            "filter-lang",
            "The language of filter: cql2-text (default) or cql2-json.",
            {"type": "string", "enum": list(FILTER_LANGS), "default": CQL2_TEXT},
            _enum(FILTER_LANGS),
            default=CQL2_TEXT,
        ),
        Param(
            "filter-crs",
            "CRS of the coordinates in filter: only CRS84 (lon, lat) or EPSG:4326 (read as lon, "
            "lat as well).",
            {"type": "string", "enum": [CRS84, EPSG4326]},
            _filter_crs,
        ),
        Param(
            "sortby",
            "Sort order: properties separated by ',', each '+' (or nothing) for ascending or "
            "'-' for descending, e.g. +name,-valid_from; id, name, the queryables and the "
            "validity dates. Features without the property come last.",
            {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[+-]?[A-Za-z_]+$", "example": "+name"},
            },
            str,
        ),
        Param("from", "The first day (YYYY-MM-DD).", _DAY, _day, required=True),
        Param("to", "The last day (YYYY-MM-DD).", _DAY, _day, required=True),
    ]
    return {p.key or p.name: p for p in params}


#: Parameters every resource takes, so that a client can put them on the API's URL once
#: (``OAPIF:http://host/api?view=RUS``) and every request it makes carries them.
EVERYWHERE: tuple[str, ...] = ("view", "lang")

#: The parameters of each endpoint (besides :data:`EVERYWHERE`; items add the layer's
#: queryables, see :func:`queryable_params`).
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "document": ("f",),
    "item": ("f", "crs"),
    "items": (
        "f-items",
        "bbox",
        "bbox-crs",
        "crs",
        "datetime",
        "limit",
        "offset",
        "zoom",
        "filter",
        "filter-lang",
        "filter-crs",
        "sortby",
    ),
    "lengths": ("countries", "status", "kind", "as_of", "bbox", "segments"),
    "overlaps_get": ("a", "b", "as_of", "include_geometry"),
    "overlaps_post": ("layers", "as_of", "include_geometry"),
    "changes": ("from", "to"),
    "views": (),
}


def queryable_params(layer: Layer) -> list[Param]:
    """One parameter per queryable property of ``layer``: a scalar equals the value, a list
    field holds every given value (comma-separated)."""
    out = []
    for name in layer.queryables:
        values = field_vocabulary(layer.id, name)
        if name in _PARTY_FIELDS:
            item, parse = _PARTY, _items(_party)
        elif values:
            item, parse = {"type": "string", "enum": list(values)}, _items(_enum(values))
        else:
            item, parse = {"type": "string"}, _items(str)
        if layer.fields.get(name) == "array":
            schema = {"type": "array", "items": item, "minItems": 1}
            text = "Features whose list holds every given value (comma-separated)."
        else:
            schema = {
                "type": "string",
                "minLength": 1,
                **({"enum": item["enum"]} if "enum" in item else {}),
            }
            text = "Features whose value equals one of the given ones (comma-separated)."
        out.append(Param(name, text, schema, parse, comma_separated=True))
    return out


def endpoint_params(endpoint: str, layer: Layer | None = None) -> list[Param]:
    """The parameters of ``endpoint`` (:data:`ENDPOINTS`), with :data:`EVERYWHERE` and, for
    items, ``layer``'s queryables."""
    params = [table()[name] for name in (*ENDPOINTS[endpoint], *EVERYWHERE)]
    if layer is not None:
        params += queryable_params(layer)
    return params


def openapi_parameters(endpoint: str, layer: Layer | None = None) -> list[dict]:
    """The OpenAPI parameter objects of ``endpoint``."""
    return [p.openapi() for p in endpoint_params(endpoint, layer)]


def parse(endpoint: str, layer: Layer | None = None) -> dict[str, Any]:
    """The request's query parameters for ``endpoint``, parsed: name -> value (the default
    when absent). 400 for an unknown, repeated, empty, missing required or invalid one."""
    params = {p.name: p for p in endpoint_params(endpoint, layer)}
    for name in request.args:
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            raise BadRequest(f"unknown query parameter {shown(name)}; this resource takes: {known}")
        if len(request.args.getlist(name)) > 1:
            raise BadRequest(f"query parameter {shown(name)} given more than once")
    values: dict[str, Any] = {}
    for name, param in params.items():
        raw = request.args.get(name)
        if raw is None:
            if param.required:
                raise BadRequest(f"query parameter {name} is required: {param.description}")
            values[name] = param.default
            continue
        text = raw.strip()
        if not text:
            raise BadRequest(f"{name}= is empty")
        try:
            values[name] = param.parse(text)
        except ValueError as exc:
            detail = str(exc)  # the time parsers quote the value themselves
            raise BadRequest(
                detail if shown(text) in detail else f"{name}={shown(text)}: {detail}"
            ) from None
    return values
