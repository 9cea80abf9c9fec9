"""OGC API - Features, Part 1: Core, rooted at ``/api``, in JSON and HTML.

Every feature is serialised to GeoJSON bytes once, at start-up (:func:`serve_layer`), with its
geodesic ``length_km`` / ``area_km2`` (WGS84) added to its properties; an items page is those
bytes joined. Query parameters are parsed and checked once (:mod:`geoservice.params`) before
any work; anything unknown or malformed is a 400 problem. Coordinates are CRS84 (lon, lat).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import orjson
import shapely
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from . import geodesy, params, views
from .catalog import LayerData
from .downloads import DOWNLOADS, Download, convert
from .errors import BadRequest, NotAcceptable, NotFound
from .layers import ALIASES, Layer
from .measure import GEOMETRY_TYPES
from .params import CRS84
from .state import state
from .store import FilterError, Query, Store
from .store.cql import (
    DATE_FIELDS,
    GEOMETRY,
    filter_queryables,
    parse_filter,
    parse_sortby,
    sortables,
)
from .userinput import shown
from .vocabulary import (
    DEFAULT_LANGUAGE,
    field_vocabulary,
)

bp = Blueprint("ogcapi", __name__, url_prefix="/api")

TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    # Part 3: Filtering, and CQL2 (OGC 19-079r2, 21-065r2).
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    # sortby, as OGC API - Records defines it (the Features sorting extension is a draft).
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]


#: Levels of detail of display geometry (``zoom=``): a request for Leaflet zoom z gets the
#: smallest level >= z; above the last level, the full geometry.
DETAIL_LEVELS: tuple[int, ...] = (3, 5, 7, 9, 11)

#: Simplification tolerance of display geometry, screen pixels at its level. Leaflet
#: simplifies what it draws by a pixel itself (``smoothFactor`` 1), so finer points are never
#: drawn; 0.75 keeps every shape within a pixel of the full one after the snapping.
DISPLAY_TOLERANCE_PX = 0.75


def vocabulary(layer: Layer, name: str) -> tuple[str, ...] | None:
    """The controlled values of a layer's field (:mod:`geoservice.vocabulary`), or None."""
    return field_vocabulary(layer.id, name)


LINE_TYPES = frozenset({"LineString", "MultiLineString"})
AREA_TYPES = frozenset({"Polygon", "MultiPolygon"})


# --- the served layers, built once ---------------------------------------------------------


@dataclass
class ServedLayer:
    """One layer as served: GeoJSON bytes per feature and an index per queryable."""

    data: LayerData
    feature_bytes: list[bytes]
    properties: list[dict]
    digest: str
    #: queryable -> value -> boolean mask over the features (array fields: "contains value").
    filters: dict[str, dict[str, np.ndarray]] = field(repr=False)
    #: detail level -> feature bytes with display geometry, built on first use.
    levels: dict[int, list[bytes]] = field(default_factory=dict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def layer(self) -> Layer:
        return self.data.layer

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """Bounding box of every feature (CRS84), None when there is none."""
        data = self.data
        return data.extent if data.features and all(math.isfinite(v) for v in data.extent) else None

    @property
    def temporal_extent(self) -> tuple[str | None, str | None]:
        return self.data.temporal_extent

    def values(self, name: str) -> list[str]:
        """The values a queryable takes in the data, sorted."""
        return sorted(self.filters[name])

    def row_of(self, feature: dict) -> int | None:
        """The row of a feature the store returned, when it is this layer's own copy."""
        row = self.data.index_by_id.get((feature.get("properties") or {}).get("id"))
        return row if row is not None and self.data.features[row] is feature else None

    def bytes_at(self, zoom: int | None) -> list[bytes]:
        """Feature bytes for display at Leaflet zoom ``zoom`` (None: the full geometry)."""
        level = detail_level(zoom)
        if level is None:
            return self.feature_bytes
        with self.lock:  # built once per level, even when requests arrive together
            if level not in self.levels:
                self.levels[level] = display_bytes(self, level)
            return self.levels[level]


#: PostGIS's GeometryType() names -> GeoJSON's.
GEOJSON_TYPES = {name.upper(): name for name in GEOMETRY_TYPES}


@dataclass
class StoreLayer:
    """One layer of a store that reads per request (PostGIS), as served: nothing of its rows in
    memory; pages, extents and queryable values come from the store's SQL (cached there per
    version), the digest from the layer's version."""

    store: Store
    layer: Layer
    digest: str
    #: queryable -> its values in the data, read on first use (when it has no vocabulary).
    _values: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        return self.store.summary(self.layer.id).extent

    @property
    def temporal_extent(self) -> tuple[str | None, str | None]:
        return self.store.summary(self.layer.id).temporal_extent

    def values(self, name: str) -> list[str]:
        if name not in self._values:
            self._values[name] = self.store.values(self.layer.id, name)
        return self._values[name]

    def row_of(self, feature: dict) -> None:
        """No row: each feature is serialised when asked for."""
        return

    def page(self, query: Query, zoom: int | None) -> tuple[int, list[bytes], ParsedOnUse]:
        """The matched count, and the page's feature bytes and served properties (with the
        stored geodesic ``length_km`` / ``area_km2``); display geometry (``zoom``) from SQL,
        polygons with their specks left out here as :func:`display_geometries` does. The
        features are joined from the database's JSON text (properties parsed only when read)."""
        level = detail_level(zoom)
        display = None if level is None else display_tolerance(level)
        matched, rows = self.store.served_rows(self.layer.id, query, display)
        if display is not None and rows and isinstance(rows[0][1], bytes | memoryview):
            geoms = display_geometries(shapely.from_wkb([bytes(r[1]) for r in rows]), level)
            shapes = [s.encode() for s in shapely.to_geojson(geoms)]
        else:
            shapes = [g.encode() for _, g, *_ in rows]
        out, props = [], []
        for (text, _, kind, length_km, area_km2, fid), shape in zip(rows, shapes):
            text = served_properties(self.layer, text, GEOJSON_TYPES.get(kind), length_km, area_km2)
            props.append(text)
            out.append(
                b'{"type":"Feature","id":'
                + orjson.dumps(fid)
                + b',"geometry":'
                + shape
                + b',"properties":'
                + text
                + b"}"
            )
        return matched, out, ParsedOnUse(props)


class ParsedOnUse(list):
    """JSON texts read as objects: ``[i]`` parses one (most pages never read them)."""

    def __getitem__(self, i):
        return orjson.loads(super().__getitem__(i))


def served_properties(layer: Layer, text: str, geom_type, length_km, area_km2) -> bytes:
    """Properties as JSON text plus the measures of :func:`with_measures`, spliced in before
    the closing brace (parsed and written again only if the text has a measure of its own)."""
    measures = orjson.dumps(with_measures(layer, {}, geom_type, length_km, area_km2))
    raw = text.encode()
    if measures == b"{}":
        return raw
    if b'"length_km"' in raw or b'"area_km2"' in raw:
        props = with_measures(layer, orjson.loads(raw), geom_type, length_km, area_km2)
        return orjson.dumps(props)
    return measures if raw.strip() == b"{}" else raw.rstrip()[:-1] + b"," + measures[1:]


#: A layer as the handlers serve it.
Served = ServedLayer | StoreLayer


def serve_store_layer(store: Store, layer_id: str) -> Served:
    """A layer as served: every feature serialised once (:func:`serve_layer`) when the store
    keeps the layer in memory, else a :class:`StoreLayer` that reads per request."""
    if store.in_memory:
        return serve_layer(store[layer_id])
    key = orjson.dumps([layer_id, str(store.version(layer_id)), id(store)])
    digest = hashlib.blake2b(key, digest_size=12).hexdigest()
    return StoreLayer(store, store.layer(layer_id), digest)


def detail_level(zoom: int | None) -> int | None:
    """The detail level serving Leaflet zoom ``zoom``; None for the full geometry."""
    if zoom is None:
        return None
    return next((level for level in DETAIL_LEVELS if level >= zoom), None)


def without_specks(geoms: np.ndarray, min_area: float) -> np.ndarray:
    """``geoms`` with the polygon parts and holes smaller than ``min_area`` (square degrees,
    EPSG:4326) left out, for display: at a level of detail, those of less than a square pixel
    (islets, slivers) draw as nothing. A feature's largest part always stays."""
    out = geoms.copy()
    for i in np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6))):
        parts = shapely.get_parts(geoms[i])
        areas = shapely.area(parts)
        largest = areas.argmax()
        kept = []
        for k, part in enumerate(parts):
            if k != largest and areas[k] < min_area:
                continue
            holes = [h for h in part.interiors if shapely.Polygon(h).area >= min_area]
            kept.append(
                part if len(holes) == len(part.interiors) else shapely.Polygon(part.exterior, holes)
            )
        if len(kept) < len(parts) or any(a is not b for a, b in zip(kept, parts)):
            out[i] = shapely.MultiPolygon(kept) if geoms[i].geom_type == "MultiPolygon" else kept[0]
    return out


def display_tolerance(level: int) -> tuple[float, int]:
    """The simplification tolerance (degrees) and the decimals of display geometry at Leaflet
    zoom ``level``: ``DISPLAY_TOLERANCE_PX`` screen pixels (a 256-px world, degrees of
    longitude), coordinates snapped to a tenth of a pixel."""
    pixel_deg = 360.0 / (256 * 2**level)
    return pixel_deg * DISPLAY_TOLERANCE_PX, max(0, math.ceil(-math.log10(pixel_deg / 10)))


def display_geometries(geoms: np.ndarray, level: int) -> np.ndarray:
    """``geoms`` simplified for Leaflet zoom ``level`` (:func:`display_tolerance`).

    Polygon parts and holes of less than a square pixel are left out (:func:`without_specks`);
    lines and the other rings keep their topology (``preserve_topology``), so enclaves of a
    pixel or more stay. A multi-part shape whose small parts collapse stays multi-part.
    """
    tolerance, decimals = display_tolerance(level)
    out = without_specks(geoms, (tolerance / DISPLAY_TOLERANCE_PX) ** 2)  # a square pixel
    out = shapely.simplify(out, tolerance, preserve_topology=True)
    # Snapped to the grid (not rounded): polygons stay valid, as in geodata/derive.py.
    out = shapely.set_precision(out, 10.0**-decimals)
    # The grid's values as the shortest decimals (46.75, not 46.750000000000014).
    out = shapely.transform(out, lambda xy: np.round(xy, decimals))
    # A multi-part shape whose small parts collapse stays multi-part: one type per collection.
    original = shapely.get_type_id(geoms)
    for multi, single, make in ((6, 3, shapely.multipolygons), (5, 1, shapely.multilinestrings)):
        collapsed = (original == multi) & (shapely.get_type_id(out) == single)
        if collapsed.any():
            out[collapsed] = make(out[collapsed][:, None])
    return out


def display_bytes(served: ServedLayer, level: int) -> list[bytes]:
    """Every feature with its geometry simplified for Leaflet zoom ``level``
    (:func:`display_geometries`). The properties (with ``length_km`` and ``area_km2`` of the
    full geometry) are unchanged: only the drawing is lighter."""
    geoms = display_geometries(served.data.frame.geometry.values, level)
    out = []
    for feature, props, geom in zip(served.data.features, served.properties, geoms):
        geometry = orjson.loads(shapely.to_geojson(geom)) if feature.get("geometry") else None
        out.append(
            orjson.dumps(
                {"type": "Feature", "id": props["id"], "geometry": geometry, "properties": props}
            )
        )
    return out


def measured_properties(data: LayerData, row: int) -> dict:
    """The properties a feature is served with: the file's, plus ``length_km`` (lines) and
    ``area_km2`` (polygons), geodesic on WGS84, rounded to the metre / 1000 m²."""
    geom_type = (data.features[row].get("geometry") or {}).get("type")
    props = data.features[row].get("properties") or {}
    return with_measures(data.layer, props, geom_type, data.length_km[row], data.area_km2[row])


def with_measures(layer: Layer, props: dict, geom_type: str | None, length_km, area_km2) -> dict:
    """``props`` plus the measures of the layer's geometry types (:func:`measured_properties`):
    ``length_km`` / ``area_km2`` rounded, None for a feature of the other dimension."""
    props = dict(props)
    layer_types = set(layer.geometry_types)
    if layer_types & LINE_TYPES:
        props["length_km"] = round(float(length_km), 3) if geom_type in LINE_TYPES else None
    if layer_types & AREA_TYPES:
        props["area_km2"] = round(float(area_km2), 3) if geom_type in AREA_TYPES else None
    return props


def feature_properties(layer: Layer, feature: dict) -> dict:
    """:func:`measured_properties` of a feature outside the served layer (another store's):
    ``length_km`` / ``area_km2`` measured here (geodesic, WGS84)."""
    props = dict(feature.get("properties") or {})
    if "length_km" in props or "area_km2" in props:
        return props
    layer_types = set(layer.geometry_types)
    geometry = feature.get("geometry")
    geom = shapely.from_geojson(orjson.dumps(geometry)) if geometry else None
    geom_type = (geometry or {}).get("type")
    if layer_types & LINE_TYPES:
        ok = geom is not None and geom_type in LINE_TYPES
        props["length_km"] = round(geodesy.length_km(geom), 3) if ok else None
    if layer_types & AREA_TYPES:
        ok = geom is not None and geom_type in AREA_TYPES
        props["area_km2"] = round(geodesy.area_km2(geom), 3) if ok else None
    return props


def feature_bytes_of(feature: dict, props: dict) -> bytes:
    """One served feature as GeoJSON bytes (``id`` at the top, the measured properties)."""
    return orjson.dumps(
        {
            "type": "Feature",
            "id": props["id"],
            "geometry": feature.get("geometry"),
            "properties": props,
        }
    )


def served_page(served: ServedLayer, result, zoom: int | None) -> tuple[list, list, range]:
    """Bytes and properties of a :class:`~geoservice.store.QueryResult`'s features, and the
    indexes to join: the served layer's cached bytes when the store answered with its rows
    (the file store), else each feature serialised here."""
    if result.rows is not None and result.data is served.data:
        return served.bytes_at(zoom), served.properties, result.rows
    props = [feature_properties(served.layer, f) for f in result.features]
    return (
        [feature_bytes_of(f, p) for f, p in zip(result.features, props)],
        props,
        range(len(props)),
    )


def page_of(served: Served, query: Query, zoom: int | None):
    """(matched count, feature bytes, served properties, indexes of the page to join)."""
    if isinstance(served, StoreLayer):
        matched, feature_bytes, props = served.page(query, zoom)
        return matched, feature_bytes, props, range(len(props))
    result = state().store.query(served.layer.id, query)
    return (result.matched, *served_page(served, result, zoom))


def field_type(layer: Layer, name: str) -> str:
    """JSON type of a property: the layer's own fields, else "string" (common fields)."""
    return layer.fields.get(name, "string")


def serve_layer(data: LayerData) -> ServedLayer:
    """Serialise every feature of a layer (orjson) and index its queryables."""
    properties = [measured_properties(data, i) for i in range(len(data.features))]
    feature_bytes = [feature_bytes_of(f, p) for f, p in zip(data.features, properties)]
    digest = hashlib.blake2b(b"\n".join(feature_bytes), digest_size=12).hexdigest()
    n = len(properties)
    filters: dict[str, dict[str, np.ndarray]] = {}
    for name in data.layer.queryables:
        index: dict[str, np.ndarray] = {}
        for row, props in enumerate(properties):
            value = props.get(name)
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                key = str(item)
                if key not in index:  # not setdefault: that allocates n bools per call
                    index[key] = np.zeros(n, dtype=bool)
                index[key][row] = True
        filters[name] = index
    return ServedLayer(data, feature_bytes, properties, digest, filters)


# --- request parsing -----------------------------------------------------------------------


def check_params(endpoint: str = "document") -> dict:
    """The query parameters of ``endpoint``, parsed by :func:`geoservice.params.parse` (400
    for anything unknown, repeated or malformed)."""
    return params.parse(endpoint)


def negotiate(json_type: str = JSON) -> str:
    """``"json"`` or ``"html"``: from ``f=``, else the ``Accept`` header (JSON by default)."""
    f = request.args.get("f")
    if f is not None:
        if f not in ("json", "html"):
            raise BadRequest(f"f={shown(f)}: must be 'json' or 'html'")
        return f
    if not request.accept_mimetypes:  # no Accept header: JSON
        return "json"
    best = request.accept_mimetypes.best_match([json_type, JSON, HTML])
    if best is None:
        raise NotAcceptable(
            f"Accept {shown(request.headers.get('Accept', ''))}: this resource is "
            f"{', '.join(dict.fromkeys([json_type, JSON, HTML]))} (or ask with f=json or f=html)"
        )
    return "html" if best == HTML else "json"


def require_json() -> None:
    """406 unless the ``Accept`` header (if any) takes JSON."""
    if request.accept_mimetypes and request.accept_mimetypes.best_match([JSON]) is None:
        raise NotAcceptable(
            f"Accept {shown(request.headers.get('Accept', ''))}: this resource is {JSON} only"
        )


@dataclass
class ItemsQuery:
    """A parsed items request: the store's :class:`~geoservice.store.Query` and how to show it."""

    query: Query
    zoom: int | None = None
    lang: str = DEFAULT_LANGUAGE


def parse_items_query(layer: Layer) -> ItemsQuery:
    """Check and parse the query string of an items request on ``layer`` (CQL2 ``filter`` and
    ``sortby`` checked against the layer's queryables: 400 naming what is wrong)."""
    args = params.parse("items", layer)
    query = Query(
        bbox=args["bbox"],
        interval=args["datetime"],
        limit=args["limit"],
        offset=args["offset"],
        view=args["view"],
        filters={name: args[name] for name in layer.queryables if args[name] is not None},
    )
    try:
        if args["filter"] is not None:
            query.cql = parse_filter(
                args["filter"], args["filter-lang"], filter_queryables(layer.queryables)
            )
        if args["sortby"] is not None:
            query.sortby = parse_sortby(args["sortby"], sortables(layer.queryables))
    except FilterError as exc:
        raise BadRequest(str(exc)) from None
    return ItemsQuery(query, zoom=args["zoom"], lang=args["lang"])


@bp.before_request
def redirect_old_collection_ids() -> Response | None:
    """An old collection id (:data:`geoservice.layers.ALIASES`) answers 308 Permanent Redirect
    to the same URL under the collection that now holds it (for one feature: the collection
    holding that feature), query string kept."""
    args = request.view_args or {}
    old = args.get("collection_id")
    if old not in ALIASES:
        return None
    targets = ALIASES[old]
    feature_id = args.get("feature_id")
    store = state().store
    target = next((t for t in targets if store.get(t, feature_id) is not None), targets[0])
    path = request.path.replace(f"/collections/{old}", f"/collections/{target}", 1)
    query = request.query_string.decode()
    return redirect(path + (f"?{query}" if query else ""), 308)


# --- helpers -------------------------------------------------------------------------------


def get_served(collection_id: str) -> Served:
    """The served layer of a collection id, or 404."""
    served = state().served(collection_id)
    if served is None:
        known = ", ".join(state().store.layer_ids())
        raise NotFound(f"no collection {shown(collection_id)}; collections: {known}")
    return served


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    """An OGC API link object."""
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def self_links(endpoint: str, fmt: str, json_type: str = JSON, **values) -> list[dict]:
    """``self`` and ``alternate`` links of a resource in JSON and HTML."""
    json_href = url_for(endpoint, _external=True, **values, f="json")
    html_href = url_for(endpoint, _external=True, **values, f="html")
    if fmt == "html":
        return [
            link(html_href, "self", HTML, "This page"),
            link(json_href, "alternate", json_type, "This document as JSON"),
        ]
    return [
        link(json_href, "self", json_type, "This document"),
        link(html_href, "alternate", HTML, "This document as HTML"),
    ]


def rfc3339(day: str | None) -> str | None:
    """An ISO date as an RFC 3339 instant at midnight UTC (None stays None)."""
    return f"{day}T00:00:00Z" if day else None


def now_stamp() -> str:
    """The current UTC time, RFC 3339, to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_response(body: bytes | dict | list, mimetype: str = JSON, crs: bool = False) -> Response:
    """A JSON response of bytes (as they are) or of a dict/list (orjson); ``crs``: features,
    so say their CRS in ``Content-Crs`` (OGC API - Features Part 2)."""
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    response = Response(body, mimetype=mimetype)
    if crs:
        response.headers["Content-Crs"] = f"<{CRS84}>"
    return response


def document_response(doc: dict, fmt: str, template: str) -> Response:
    """A document built with :func:`self_links`: as JSON, or as HTML linking its JSON twin."""
    if fmt == "html":
        return html_response(template, doc=doc, json_url=doc["links"][1]["href"])
    return json_response(doc)


def html_response(template: str, **context) -> Response:
    """An HTML page from ``templates/``."""
    return Response(render_template(template, **context), mimetype=HTML)


def embedded_json(data: bytes) -> Markup:
    """JSON bytes made safe inside a ``<script type="application/json">`` element: ``<``, ``>``
    and ``&`` (which JSON has only inside strings) as ``\\u`` escapes, so no ``</script>`` or
    ``<!--`` in the data can end or bend the element."""
    safe = data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return Markup(safe.decode())


def layer_etag(served: Served, fmt: str) -> str:
    """A weak ETag for a layer response: the layer's data, the request's path, query, format."""
    args = sorted(request.args.items(multi=True))
    key = orjson.dumps([served.digest, request.path, args, fmt])
    return hashlib.blake2b(key, digest_size=12).hexdigest()


def cached(served: Served, fmt: str, build, strong: str | None = None) -> Response:
    """Answer 304 when ``If-None-Match`` matches, else ``build()``; add ETag, Cache-Control.

    ``strong``: the ETag to send as it is (a feature's, which ``If-Match`` of a write takes);
    else a weak one of the layer's data and the request."""
    etag = strong or layer_etag(served, fmt)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = build()
    response.set_etag(etag, weak=strong is None)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["CACHE_MAX_AGE"]
    response.vary.add("Accept")
    return response


def collection_doc(served: Served) -> dict:
    """The collection description: id, title, extents (CRS84, Gregorian), links."""
    layer = served.layer
    cid = layer.id
    items_json = url_for("ogcapi.items", collection_id=cid, _external=True, f="json")
    items_html = url_for("ogcapi.items", collection_id=cid, _external=True, f="html")
    queryables = url_for("ogcapi.queryables", collection_id=cid, _external=True, f="json")
    extent: dict = {}
    bbox = served.extent
    if bbox is not None:
        extent["spatial"] = {"bbox": [list(bbox)], "crs": CRS84}
    start, end = served.temporal_extent
    extent["temporal"] = {"interval": [[rfc3339(start), rfc3339(end)]], "trs": TRS_GREGORIAN}
    return {
        "id": cid,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "extent": extent,
        "links": [
            link(
                url_for("ogcapi.collection", collection_id=cid, _external=True, f="json"),
                "self",
                JSON,
                layer.title,
            ),
            link(
                url_for("ogcapi.collection", collection_id=cid, _external=True, f="html"),
                "alternate",
                HTML,
                f"{layer.title} as HTML",
            ),
            link(items_json, "items", GEOJSON, f"{layer.title}: features"),
            link(items_html, "items", HTML, f"{layer.title}: features as HTML"),
            link(
                queryables,
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "Properties to filter on",
            ),
        ],
    }


def queryables_doc(served: Served) -> dict:
    """A JSON Schema of the collection's queryables, with the values the data holds."""
    layer = served.layer
    props: dict[str, dict] = {
        "id": {"title": "id", "description": "The feature's id (filter, sortby)", "type": "string"},
        "name": {"title": "name", "description": "English name (filter, sortby)", "type": "string"},
    }
    for name in layer.queryables:
        allowed = list(vocabulary(layer, name) or served.values(name))
        if field_type(layer, name) == "array":
            props[name] = {
                "title": name,
                "description": f"{name}=A,B matches features whose list holds every value",
                "type": "array",
                "items": {"type": "string", "enum": allowed},
            }
        else:
            props[name] = {
                "title": name,
                "description": f"{name}=A,B matches features whose value is any of them",
                "type": "string",
                "enum": allowed,
            }
    for name in DATE_FIELDS:
        props[name] = {
            "title": name,
            "description": f"{name} (ISO date; null: open) for CQL2 comparisons and sortby",
            "type": ["string", "null"],
            "format": "date",
        }
    props[GEOMETRY] = {
        "title": GEOMETRY,
        "description": "The geometry (CRS84), for S_INTERSECTS and the other spatial functions",
        "format": "geometry-any",
        "x-ogc-role": "primary-geometry",
    }
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url_for("ogcapi.queryables", collection_id=layer.id, _external=True),
        "type": "object",
        "title": f"{layer.title}: queryables",
        "properties": props,
        "additionalProperties": False,
    }


# --- endpoints ---------------------------------------------------------------------------


@bp.get("/")
@bp.get("")
def landing() -> Response:
    """Landing page: what the service is and where everything is."""
    check_params()
    fmt = negotiate()
    doc = {
        "title": "geoservice: border disputes in the former Soviet space",
        "description": "Border segments, corridors, peacekeeping zones and disputed areas, "
        "dated and sourced; OGC API - Features with geodesic lengths and overlaps.",
        "links": [
            *self_links("ogcapi.landing", fmt),
            link(
                url_for("openapi.document", _external=True, f="json"),
                "service-desc",
                OPENAPI_JSON,
                "The OpenAPI 3.0 definition",
            ),
            link(
                url_for("openapi.document", _external=True, f="html"),
                "service-doc",
                HTML,
                "The API documentation",
            ),
            link(
                url_for("ogcapi.conformance", _external=True, f="json"),
                "conformance",
                JSON,
                "Conformance classes",
            ),
            link(
                url_for("ogcapi.collections", _external=True, f="json"), "data", JSON, "Collections"
            ),
            link(
                url_for("ogcapi.collections", _external=True, f="html"),
                "data",
                HTML,
                "Collections as HTML",
            ),
            link(
                url_for("analysis_api.lengths", _external=True, countries="KGZ,TJK"),
                "related",
                JSON,
                "Border lengths by status, e.g. Kyrgyzstan-Tajikistan",
            ),
            link(
                url_for(
                    "analysis_api.overlaps_get",
                    _external=True,
                    a="corridor_routes",
                    b="mission_areas",
                ),
                "related",
                JSON,
                "Overlaps between two layers, e.g. corridor routes and mission areas",
            ),
        ],
    }
    return document_response(doc, fmt, "ogc_landing.html")


@bp.get("/conformance")
def conformance() -> Response:
    """The conformance classes the API implements."""
    check_params()
    fmt = negotiate()
    doc = {"conformsTo": CONFORMANCE, "links": self_links("ogcapi.conformance", fmt)}
    return document_response(doc, fmt, "ogc_conformance.html")


@bp.get("/collections")
def collections() -> Response:
    """All collections with their extents."""
    check_params()
    fmt = negotiate()
    doc = {
        "links": self_links("ogcapi.collections", fmt),
        "collections": [collection_doc(served) for served in state().layers.values()],
    }
    return document_response(doc, fmt, "ogc_collections.html")


@bp.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One collection's description."""
    served = get_served(collection_id)
    check_params()
    fmt = negotiate()

    def build() -> Response:
        doc = collection_doc(served)
        if fmt == "html":
            json_url = url_for(
                "ogcapi.collection", collection_id=collection_id, _external=True, f="json"
            )
            return html_response(
                "ogc_collection.html", doc=doc, json_url=json_url, queryables=queryables_doc(served)
            )
        return json_response(doc)

    return cached(served, fmt, build)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str) -> Response:
    """The properties items requests can filter on (JSON Schema)."""
    served = get_served(collection_id)
    check_params()
    fmt = negotiate(SCHEMA_JSON)

    def build() -> Response:
        doc = queryables_doc(served)
        if fmt == "html":
            json_url = url_for(
                "ogcapi.queryables", collection_id=collection_id, _external=True, f="json"
            )
            return html_response(
                "ogc_queryables.html", doc=doc, json_url=json_url, collection=served.layer
            )
        return json_response(doc, SCHEMA_JSON)

    return cached(served, fmt, build)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    """Features of a collection: bbox, datetime, property filters, limit/offset paging."""
    served = get_served(collection_id)
    query = parse_items_query(served.layer)
    download = DOWNLOADS.get(request.args.get("f", ""))
    if download is not None:
        return cached(served, download.f, lambda: _download_response(served, query, download))
    fmt = negotiate(GEOJSON)
    return cached(served, fmt, lambda: _items_response(served, query, fmt))


def _download_response(served: Served, query: ItemsQuery, download: Download) -> Response:
    """The page (at most ``limit`` features, as in GeoJSON) as a GeoPackage or FlatGeobuf file."""
    _, feature_bytes, _, page = page_of(served, query.query, query.zoom)
    collection = b'{"type":"FeatureCollection","features":['
    collection += b",".join(feature_bytes[i] for i in page) + b"]}"
    cid = served.layer.id
    response = Response(convert(collection, cid, download), mimetype=download.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{cid}{download.suffix}"'
    return response


def _page_url(collection_id: str, offset: int, fmt: str) -> str:
    args = request.args.to_dict()
    args["offset"] = str(offset)
    args["f"] = fmt
    return url_for("ogcapi.items", collection_id=collection_id, _external=True, **args)


def _items_response(served: Served, items_query: ItemsQuery, fmt: str) -> Response:
    cid = served.layer.id
    query = items_query.query
    matched, feature_bytes, properties, page = page_of(served, query, items_query.zoom)
    json_type = GEOJSON if fmt == "json" else HTML
    links = [
        link(_page_url(cid, query.offset, fmt), "self", json_type, "This page"),
        link(
            _page_url(cid, query.offset, "html" if fmt == "json" else "json"),
            "alternate",
            HTML if fmt == "json" else GEOJSON,
            "This page in the other format",
        ),
        *(
            link(_page_url(cid, query.offset, d.f), "alternate", d.media_type, f"As {d.title}")
            for d in DOWNLOADS.values()
        ),
        link(
            url_for("ogcapi.collection", collection_id=cid, _external=True, f="json"),
            "collection",
            JSON,
            served.layer.title,
        ),
    ]
    if query.offset + query.limit < matched:
        links.append(
            link(_page_url(cid, query.offset + query.limit, fmt), "next", json_type, "Next page")
        )
    if query.offset > 0:
        prev_offset = max(0, min(query.offset, matched) - query.limit)
        links.append(link(_page_url(cid, prev_offset, fmt), "prev", json_type, "Previous page"))
    if items_query.lang == DEFAULT_LANGUAGE:
        features = b",".join(feature_bytes[i] for i in page)
    else:  # the label in the language asked for, in ``label`` (``name`` stays English)
        features = b",".join(
            feature_bytes[i][:-2]
            + b',"label":'
            + orjson.dumps(views.label(properties[i], items_query.lang))
            + b"}}"
            for i in page
        )
    head = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(page),
        "timeStamp": now_stamp(),
        "links": links,
    }
    body = orjson.dumps(head)[:-1] + b',"features":[' + features + b"]}"
    if fmt == "html":
        return html_response(
            "ogc_items.html",
            collection=served.layer,
            doc=head,
            properties=[properties[i] for i in page],
            columns=["id", "name", "valid_from", "valid_to", *served.layer.queryables],
            geojson=embedded_json(body),
            json_url=links[1]["href"],
            offset=query.offset,
        )
    return json_response(body, GEOJSON, crs=True)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str) -> Response:
    """One feature."""
    served = get_served(collection_id)
    check_params("item")
    fmt = negotiate(GEOJSON)
    feature = state().store.get(collection_id, feature_id)
    if feature is None:
        raise NotFound(f"collection {shown(collection_id)} has no feature {shown(feature_id)}")
    row = served.row_of(feature)

    def build() -> Response:
        values = {"collection_id": collection_id, "feature_id": feature_id}
        links = [
            *self_links("ogcapi.item", fmt, GEOJSON, **values),
            link(
                url_for("ogcapi.collection", collection_id=collection_id, _external=True, f="json"),
                "collection",
                JSON,
                served.layer.title,
            ),
        ]
        if row is None:  # not the served copy (another store): serialise it here
            props = feature_properties(served.layer, feature)
            own = feature_bytes_of(feature, props)
        else:
            props, own = served.properties[row], served.feature_bytes[row]
        body = own[:-1] + b',"links":' + orjson.dumps(links) + b"}"
        if fmt == "html":
            return html_response(
                "ogc_item.html",
                collection=served.layer,
                feature_id=feature_id,
                properties=props,
                geojson=embedded_json(body),
                json_url=links[1]["href"],
            )
        return json_response(body, GEOJSON, crs=True)

    strong = state().store.etag(feature) if fmt == "json" else None
    return cached(served, fmt, build, strong)


@bp.get("/collections/<collection_id>/items/<feature_id>/history")
def history(collection_id: str, feature_id: str) -> Response:
    """The revisions of a feature, oldest first: who, when, the source cited, the feature
    before and after (and the ids of states a dated change opened)."""
    get_served(collection_id)
    check_params("views")
    require_json()
    store = state().store
    revisions = store.history(collection_id, feature_id)
    if not revisions and store.get(collection_id, feature_id) is None:
        raise NotFound(f"collection {shown(collection_id)} has no feature {shown(feature_id)}")
    doc = {
        "collection": collection_id,
        "feature": feature_id,
        "revisions": [dataclasses.asdict(r) for r in revisions],
    }
    return json_response(doc)
