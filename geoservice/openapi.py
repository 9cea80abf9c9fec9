"""The OpenAPI 3.0 document of the service, at ``/api/openapi`` (JSON, or HTML with ``f=html``).

Built from the layer list, so every collection gets its own paths with its own queryables and
feature schema. The server URL is the one the request came in on (``<host>/api``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from . import __version__
from .downloads import DOWNLOADS
from .layers import LAYERS, Layer
from .measure import GEOMETRY_TYPES
from .ogcapi import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    check_params,
    field_type,
    html_response,
    json_response,
    negotiate,
    vocabulary,
)
from .params import endpoint_params, queryable_params, table
from .vocabulary import ACCURACIES, KINDS, LANGUAGES, PARTY_NAMES, STATUSES

bp = Blueprint("openapi", __name__, url_prefix="/api")

PROBLEM = "application/problem+json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _params(endpoint: str, layer: Layer | None = None) -> list[dict]:
    """The parameters of an endpoint (:mod:`geoservice.params`): references to the shared ones,
    the layer's queryables in line."""
    shared = [{"$ref": f"#/components/parameters/{p.name}"} for p in endpoint_params(endpoint)]
    return shared + [p.openapi() for p in queryable_params(layer)] if layer else shared


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _errors(*codes: int) -> dict:
    """Problem responses for the given status codes (414 and 500 always listed: a request line
    over the HTTP server's limit is refused before it reaches the service, in its format)."""
    titles = {
        400: "Bad request",
        401: "No bearer token, or an unknown one (WWW-Authenticate: Bearer)",
        403: "The token may not write this collection",
        404: "Not found",
        412: "If-Match is not the feature's current ETag (read it again)",
        428: "If-Match is missing",
        413: "Payload too large",
        406: "Not acceptable",
        415: "Unsupported media type",
        422: "Unprocessable content (or over the work budget)",
        503: "Stopped at the time limit (Retry-After)",
        500: "Internal error",
    }
    responses = {
        str(code): {"description": titles[code], "content": {PROBLEM: {"schema": _ref("Problem")}}}
        for code in (*codes, 500)
    }
    responses["414"] = {
        "description": "URI too long (the HTTP server's limit on the request line)",
        "content": {PROBLEM: {"schema": _ref("Problem")}, HTML: {"schema": {"type": "string"}}},
    }
    return responses


def _ok(
    description: str,
    schema: dict,
    media_type: str = JSON,
    html: bool = True,
    downloads: bool = False,
) -> dict:
    content = {media_type: {"schema": schema}}
    if html:
        content[HTML] = {"schema": {"type": "string"}}
    if downloads:  # f=gpkg, f=fgb: the page as a file
        for download in DOWNLOADS.values():
            content[download.media_type] = {"schema": {"type": "string", "format": "binary"}}
    return {
        "200": {"description": description, "content": content},
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    }


def _property_schema(layer: Layer, name: str) -> dict:
    if vocabulary(layer, name):
        return _nullable({"type": "string", "enum": list(vocabulary(layer, name))})
    kind = field_type(layer, name)
    if kind == "array":
        return _nullable({"type": "array", "items": {"type": "string"}})
    if kind == "number":
        return _nullable({"type": "number"})
    return _nullable({"type": "string"})


#: ``names`` / ``names_sources``: {language code: name or source}, the languages of ``lang=``.
_NAMES = {
    "type": "object",
    "description": "By language code, one of: " + ", ".join(LANGUAGES),
    "additionalProperties": {"type": "string"},
}


#: ``labels`` of a lengths or overlaps answer in a language (``lang=``, not en).
_CODE_LABELS = {
    "description": "With lang (not en): code -> its name in that language (English where the "
    "data has none), for every country and entity code the answer names.",
    "type": "object",
    "additionalProperties": {"type": "string"},
}
_LABEL = {"description": "With lang (not en): the name in that language.", "type": "string"}


def properties_schema(layer: Layer) -> dict:
    """JSON schema of a feature's properties on ``layer`` (as served, with measures)."""
    props = {
        "id": {"type": "string"},
        "name": _nullable({"type": "string"}),
        "valid_from": _nullable({"type": "string", "format": "date"}),
        "valid_to": _nullable({"type": "string", "format": "date"}),
        "sources": _nullable({"type": "array", "items": {"type": "string"}}),
        "accuracy": _nullable({"type": "string", "enum": list(ACCURACIES)}),
        "notes": _nullable({"type": "string"}),
        "names": _NAMES,
        "names_sources": _NAMES,
        "label": {"type": "string"},
        "length_km": _nullable({"type": "number", "minimum": 0}),
        "area_km2": _nullable({"type": "number", "minimum": 0}),
    }
    for name in layer.fields:
        props[name] = _property_schema(layer, name)
    return {"type": "object", "required": ["id"], "properties": props}


def _feature_schema(layer: Layer) -> dict:
    return {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": _ref("Geometry"),
            "properties": properties_schema(layer),
            "links": {"type": "array", "items": _ref("Link")},
        },
    }


def _write_body(feature: str, description: str) -> dict:
    """The request body of a write: a feature (or a patch) with the citation and date."""
    schema = {
        "allOf": [
            _ref(feature),
            {
                "type": "object",
                "properties": {
                    "source": {
                        "type": "string",
                        "description": "The citation the change rests on (else a new entry "
                        "in properties.sources)",
                    },
                    "effective": {
                        "type": "string",
                        "pattern": "^\\d{4}-\\d{2}-\\d{2}$",
                        "description": "Close the current state on this date and open a new "
                        "state from it (earlier dates answer as before)",
                    },
                },
            },
        ]
    }
    return {
        "required": True,
        "description": description,
        "content": {GEOJSON: {"schema": schema}, JSON: {"schema": schema}},
    }


def _write_operations(layer: Layer, feature: str, feature_id: dict) -> tuple[dict, dict]:
    """Part 4 operations: POST on items; PUT, PATCH, DELETE on an item (bearer token)."""
    cid, tag = layer.id, ["Edits"]
    secured = {"security": [{"bearerAuth": []}], "tags": tag}
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": "The feature's ETag, as read",
        "schema": {"type": "string"},
    }
    stored = {"200": {"description": "The feature as stored", "headers": {}}}
    stored["200"]["content"] = {GEOJSON: {"schema": _ref(feature)}}
    errors = _errors(400, 401, 403, 404, 412, 413, 415, 422, 428)
    items = {
        "post": {
            **secured,
            "summary": f"{layer.title}: add a feature",
            "operationId": f"create_{cid}",
            "requestBody": _write_body(feature, "The new feature"),
            "responses": {
                "201": {
                    "description": "Created (Location, ETag)",
                    "content": {GEOJSON: {"schema": _ref(feature)}},
                },
                **_errors(400, 401, 403, 404, 413, 415, 422),
            },
        }
    }
    item = {
        "put": {
            **secured,
            "summary": f"{layer.title}: replace a feature",
            "operationId": f"replace_{cid}",
            "parameters": [feature_id, if_match],
            "requestBody": _write_body(feature, "The whole feature"),
            "responses": {**stored, **errors},
        },
        "patch": {
            **secured,
            "summary": f"{layer.title}: change some properties (JSON merge patch)",
            "operationId": f"update_{cid}",
            "parameters": [feature_id, if_match],
            "requestBody": _write_body(feature, "The properties to change (null removes)"),
            "responses": {**stored, **errors},
        },
        "delete": {
            **secured,
            "summary": f"{layer.title}: remove a feature (kept in its history)",
            "operationId": f"delete_{cid}",
            "parameters": [
                feature_id,
                if_match,
                {
                    "name": "X-Source",
                    "in": "header",
                    "required": True,
                    "description": "The citation the removal rests on",
                    "schema": {"type": "string", "minLength": 1},
                },
            ],
            "responses": {"204": {"description": "Removed"}, **errors},
        },
    }
    return items, item


def _collection_paths(layer: Layer, writable: bool = False) -> dict:
    cid = layer.id
    feature = f"{cid.title().replace('_', '')}Feature"
    tag = ["Collections"]
    feature_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    items_writes, item_writes = (
        _write_operations(layer, feature, feature_id) if writable else ({}, {})
    )
    return {
        f"/collections/{cid}": {
            "get": {
                "summary": f"{layer.title}: description and extents",
                "tags": tag,
                "operationId": f"describe_{cid}",
                "parameters": _params("document"),
                "responses": {**_ok("The collection", _ref("Collection")), **_errors(400)},
            }
        },
        f"/collections/{cid}/queryables": {
            "get": {
                "summary": f"{layer.title}: properties to filter on",
                "tags": tag,
                "operationId": f"queryables_{cid}",
                "parameters": _params("document"),
                "responses": {
                    **_ok("JSON Schema of the queryables", _ref("Queryables"), SCHEMA_JSON),
                    **_errors(400),
                },
            }
        },
        f"/collections/{cid}/items": {
            "get": {
                "summary": f"{layer.title}: features",
                "tags": tag,
                "operationId": f"items_{cid}",
                "parameters": _params("items", layer),
                "responses": {
                    **_ok(
                        "A page of features",
                        {
                            "allOf": [
                                _ref("FeatureCollection"),
                                {
                                    "type": "object",
                                    "properties": {
                                        "features": {"type": "array", "items": _ref(feature)}
                                    },
                                },
                            ],
                        },
                        GEOJSON,
                        downloads=True,
                    ),
                    **_errors(400),
                },
            },
            **items_writes,
        },
        f"/collections/{cid}/items/{{featureId}}/history": {
            "get": {
                "summary": f"{layer.title}: a feature's revisions (who, when, source, "
                "before and after)",
                "tags": tag,
                "operationId": f"history_{cid}",
                "parameters": [*_params("views"), feature_id],
                "responses": {
                    **_ok("The revisions, oldest first", _ref("History"), html=False),
                    **_errors(400, 404, 406),
                },
            }
        },
        f"/collections/{cid}/items/{{featureId}}": {
            **item_writes,
            "get": {
                "summary": f"{layer.title}: one feature",
                "tags": tag,
                "operationId": f"item_{cid}",
                "parameters": [
                    *_params("item"),
                    {
                        "name": "featureId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {**_ok("The feature", _ref(feature), GEOJSON), **_errors(400, 404)},
            },
        },
    }


def _components() -> dict:
    link = {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": _ref("Link")}
    schemas = {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
            },
        },
        "Link": link,
        "LandingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": links,
            },
        },
        "Conformance": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {
                "conformsTo": {"type": "array", "items": {"type": "string"}},
                "links": links,
            },
        },
        "Collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string", "enum": list(LAYERS)},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "itemType": {"type": "string"},
                "crs": {"type": "array", "items": {"type": "string"}},
                "extent": {
                    "type": "object",
                    "properties": {
                        "spatial": {
                            "type": "object",
                            "properties": {
                                "bbox": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "minItems": 4,
                                        "maxItems": 6,
                                        "items": {"type": "number"},
                                    },
                                },
                                "crs": {"type": "string"},
                            },
                        },
                        "temporal": {
                            "type": "object",
                            "properties": {
                                "interval": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "minItems": 2,
                                        "maxItems": 2,
                                        "items": _nullable(
                                            {"type": "string", "format": "date-time"}
                                        ),
                                    },
                                },
                                "trs": {"type": "string"},
                            },
                        },
                    },
                },
                "links": links,
            },
        },
        "Collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {"type": "array", "items": _ref("Collection")},
            },
        },
        "Queryables": {
            "type": "object",
            "required": ["type", "properties"],
            "properties": {"type": {"type": "string"}, "properties": {"type": "object"}},
        },
        "Geometry": _nullable(
            {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string", "enum": list(GEOMETRY_TYPES)},
                    "coordinates": {"type": "array"},
                    "geometries": {"type": "array"},
                },
            }
        ),
        "GeoJSONInput": {
            "description": "A GeoJSON geometry, Feature or FeatureCollection (EPSG:4326).",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["type", "coordinates"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Point"]},
                        "coordinates": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 3,
                            "description": "[lon, lat] or [lon, lat, height]: longitude "
                            "-180..180, latitude -90..90 (a height is ignored)",
                            "items": {"type": "number", "minimum": -180, "maximum": 180},
                        },
                    },
                },
                {
                    "type": "object",
                    "required": ["type", "coordinates"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "enum": [
                                t
                                for t in GEOMETRY_TYPES
                                if t not in ("Point", "GeometryCollection")
                            ],
                        },
                        "coordinates": {"type": "array", "minItems": 1},
                    },
                },
                {
                    "type": "object",
                    "required": ["type", "geometries"],
                    "properties": {
                        "type": {"type": "string", "enum": ["GeometryCollection"]},
                        "geometries": {"type": "array", "minItems": 1},
                    },
                },
                {
                    "type": "object",
                    "required": ["type", "geometry"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "geometry": {"type": "object"},
                    },
                },
                {
                    "type": "object",
                    "required": ["type", "features"],
                    "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                        "features": {"type": "array", "minItems": 1},
                    },
                },
            ],
        },
        "FeatureCollection": {
            "type": "object",
            "required": [
                "type",
                "features",
                "numberMatched",
                "numberReturned",
                "timeStamp",
                "links",
            ],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
                "timeStamp": {"type": "string", "format": "date-time"},
                "links": links,
            },
        },
        "StatusSplit": {
            "type": "object",
            "required": ["length_km", "share"],
            "properties": {
                "length_km": {"type": "number", "minimum": 0},
                "share": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
                "segments": {
                    "description": "The segments' ids (left out with segments=false).",
                    "type": "array",
                    "items": {"type": "string"},
                },
            },
        },
        "Lengths": {
            "type": "object",
            "required": ["as_of", "unit", "total_km", "by_status"],
            "properties": {
                "as_of": {"type": "string", "format": "date"},
                "countries": _nullable(
                    {"type": "array", "items": {"type": "string", "enum": sorted(PARTY_NAMES)}}
                ),
                "status": _nullable({"type": "string", "enum": list(STATUSES)}),
                "kind": _nullable({"type": "string", "enum": list(KINDS)}),
                "unit": {"type": "string", "enum": ["km"]},
                "total_km": {"type": "number", "minimum": 0},
                "by_status": {"type": "object", "additionalProperties": _ref("StatusSplit")},
                "pairs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["countries", "total_km", "by_status"],
                        "properties": {
                            "countries": {
                                "type": "array",
                                "items": {"type": "string", "enum": sorted(PARTY_NAMES)},
                            },
                            "label": _LABEL,
                            "total_km": {"type": "number", "minimum": 0},
                            "by_status": {
                                "type": "object",
                                "additionalProperties": _ref("StatusSplit"),
                            },
                        },
                    },
                },
                "segments": {
                    "description": "Each counted segment (left out with segments=false).",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "length_km"],
                        "properties": {
                            "id": {"type": "string"},
                            "label": _LABEL,
                            "length_km": {"type": "number", "minimum": 0},
                        },
                    },
                },
                "labels": _CODE_LABELS,
            },
        },
        "OverlapResult": {
            "type": "object",
            "required": ["a", "b", "relation"],
            "properties": {
                "a": {"type": "object"},
                "b": {"type": "object"},
                "relation": {"type": "string"},
                "length_km": {"type": "number", "minimum": 0},
                "area_km2": {"type": "number", "minimum": 0},
                "share_of_a": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
                "share_of_b": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
                "points": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                },
                "geometry": _ref("Geometry"),
            },
        },
        "Overlaps": {
            "type": "object",
            "required": ["as_of", "results", "count"],
            "properties": {
                "as_of": {"type": "string", "format": "date"},
                "results": {"type": "array", "items": _ref("OverlapResult")},
                "labels": _CODE_LABELS,
                "count": {"type": "integer", "minimum": 0},
            },
        },
    }
    for layer in LAYERS.values():
        schemas[f"{layer.id.title().replace('_', '')}Feature"] = _feature_schema(layer)
    parameters = {name: param.openapi() for name, param in table().items()}
    schemas["History"] = {
        "type": "object",
        "required": ["collection", "feature", "revisions"],
        "properties": {
            "collection": {"type": "string"},
            "feature": {"type": "string"},
            "revisions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "action", "author", "source", "at"],
                    "properties": {
                        "number": {"type": "integer"},
                        "layer_id": {"type": "string"},
                        "feature_id": {"type": "string"},
                        "action": {
                            "type": "string",
                            "enum": ["create", "replace", "update", "delete"],
                        },
                        "author": {"type": "string"},
                        "source": {"type": "string"},
                        "at": {"type": "string", "format": "date-time"},
                        "before": {"type": "object", "nullable": True},
                        "after": {"type": "object", "nullable": True},
                        "opened": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }
    security = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    return {"schemas": schemas, "parameters": parameters, "securitySchemes": security}


def build_document(server_url: str, writable: bool = False) -> dict:
    """The OpenAPI 3.0 document, with ``server_url`` (ending in ``/api``) as its server;
    ``writable``: with the write operations (OGC API - Features Part 4)."""
    plain = _params("document")
    paths = {
        "/": {
            "get": {
                "summary": "Landing page",
                "tags": ["Capabilities"],
                "operationId": "landing",
                "parameters": plain,
                "responses": {**_ok("The landing page", _ref("LandingPage")), **_errors(400)},
            }
        },
        "/conformance": {
            "get": {
                "summary": "Conformance classes",
                "tags": ["Capabilities"],
                "operationId": "conformance",
                "parameters": plain,
                "responses": {**_ok("Conformance classes", _ref("Conformance")), **_errors(400)},
            }
        },
        "/collections": {
            "get": {
                "summary": "All collections",
                "tags": ["Capabilities"],
                "operationId": "collections",
                "parameters": plain,
                "responses": {**_ok("The collections", _ref("Collections")), **_errors(400)},
            }
        },
        "/openapi": {
            "get": {
                "summary": "This document",
                "tags": ["Capabilities"],
                "operationId": "openapi",
                "parameters": plain,
                "responses": {
                    **_ok("The OpenAPI document", {"type": "object"}, OPENAPI_JSON),
                    **_errors(400),
                },
            }
        },
    }
    for layer in LAYERS.values():
        paths.update(_collection_paths(layer, writable))
    paths["/lengths"] = {
        "get": {
            "summary": "Border lengths (km, WGS84 geodesic) by status and country pair",
            "tags": ["Analysis"],
            "operationId": "lengths",
            "parameters": _params("lengths"),
            "responses": {
                "200": {"description": "Lengths", "content": {JSON: {"schema": _ref("Lengths")}}},
                **_errors(400),
            },
        }
    }
    paths["/views"] = {
        "get": {
            "summary": "The points of view (view=) and label languages (lang=) every query takes",
            "tags": ["Capabilities"],
            "operationId": "views",
            "parameters": _params("views"),
            "responses": {
                "200": {"description": "Views", "content": {JSON: {"schema": {"type": "object"}}}},
                **_errors(400),
            },
        }
    }
    paths["/changes"] = {
        "get": {
            "summary": "What changed between two dates (km² changing hands, border status, "
            "features that began or ended, events)",
            "tags": ["Analysis"],
            "operationId": "changes",
            "parameters": _params("changes"),
            "responses": {
                "200": {
                    "description": "Changes",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                **_errors(400),
            },
        }
    }
    paths["/overlaps"] = {
        "get": {
            "summary": "Overlaps between two layers on a day",
            "tags": ["Analysis"],
            "operationId": "overlaps_layers",
            "parameters": _params("overlaps_get"),
            "responses": {
                "200": {"description": "Overlaps", "content": {JSON: {"schema": _ref("Overlaps")}}},
                **_errors(400, 406, 422, 503),
            },
        },
        "post": {
            "summary": "Overlaps of a GeoJSON geometry with layers on a day",
            "tags": ["Analysis"],
            "operationId": "overlaps_geometry",
            "parameters": _params("overlaps_post"),
            "requestBody": {
                "required": True,
                "description": "A GeoJSON geometry, Feature or FeatureCollection in EPSG:4326 "
                "(lon, lat); at most 100,000 vertices and 2 MiB.",
                "content": {
                    GEOJSON: {"schema": _ref("GeoJSONInput")},
                    JSON: {"schema": _ref("GeoJSONInput")},
                },
            },
            "responses": {
                "200": {"description": "Overlaps", "content": {JSON: {"schema": _ref("Overlaps")}}},
                **_errors(400, 406, 413, 415, 422, 503),
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "geoservice: border disputes in the former Soviet space",
            "version": __version__,
            "description": "OGC API - Features (Part 1: Core) for every layer, plus geodesic "
            "border lengths and overlaps. Coordinates CRS84 (lon, lat); lengths km and areas "
            "km² on the WGS84 ellipsoid.",
            "license": {"name": "MIT (code); data: see README"},
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": "Capabilities"}, {"name": "Collections"}, {"name": "Analysis"}],
        "paths": paths,
        "components": _components(),
    }


@bp.get("/openapi")
def document() -> Response:
    """The OpenAPI document (JSON), or a readable list of its operations (HTML)."""
    check_params()
    fmt = negotiate(OPENAPI_JSON)
    writable = "edits_api" in current_app.blueprints
    doc = build_document(url_for("ogcapi.landing", _external=True).rstrip("/"), writable)
    if fmt == "html":
        return html_response("ogc_openapi.html", doc=doc, json_url=request.base_url + "?f=json")
    return json_response(doc, OPENAPI_JSON)
