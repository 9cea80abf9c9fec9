"""Analysis endpoints on the measurement engine: ``/api/lengths`` and ``/api/overlaps``.

Lengths (km) and areas (km²) are geodesic on the WGS84 ellipsoid; geometries are GeoJSON in
EPSG:4326 (lon, lat). Bad queries are 400 problems, request bodies that are JSON but not usable
GeoJSON are 422, bodies or geometries over the limits 413.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request

from . import measure, views
from .app import state
from .errors import BadRequest, PayloadTooLarge, Unprocessable
from .ogcapi import check_params, json_response
from .vocabulary import DEFAULT_KIND

bp = Blueprint("analysis_api", __name__, url_prefix="/api")

#: Words in a QueryError about a user geometry that mean "too big" rather than "invalid".
_TOO_LARGE = ("too many", "too large", "spans more than")


def parse_bool(name: str) -> bool:
    """A ``true``/``false`` query parameter (default false)."""
    raw = request.args.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name}={raw!r}: must be true or false")


def optional(name: str) -> str | None:
    """A query parameter, None when absent; an empty value is a 400."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.strip():
        raise BadRequest(f"{name}= is empty")
    return raw.strip()


def run(query, *args, **kwargs) -> dict:
    """Call the engine; its QueryError is the caller's mistake: 400."""
    try:
        return query(state().catalog, *args, **kwargs)
    except measure.QueryError as exc:
        raise BadRequest(str(exc)) from None


@bp.get("/lengths")
def lengths() -> Response:
    """Border lengths (km, WGS84) by status and country pair, valid on ``as_of`` (default today).

    ``kind`` defaults to ``international``; ``kind=all`` counts every kind of line.
    """
    check_params({"countries", "status", "kind", "as_of", "view"})
    kind = optional("kind") or DEFAULT_KIND
    result = run(
        measure.border_lengths,
        countries=optional("countries"),
        status=optional("status"),
        kind=None if kind == "all" else kind,
        as_of=optional("as_of"),
        view=optional("view"),
    )
    return json_response(result)


@bp.get("/views")
def views_doc() -> Response:
    """The points of view (``view=``) and label languages (``lang=``) every query takes."""
    check_params(set())
    return json_response(views.describe())


@bp.get("/overlaps")
def overlaps_get() -> Response:
    """Overlaps of two layers (``a``, ``b``) on ``as_of``; ``geometry=true`` adds GeoJSON."""
    check_params({"a", "b", "as_of", "geometry", "view"})
    a, b = optional("a"), optional("b")
    if a is None or b is None:
        raise BadRequest("give two layers: a=<layer>&b=<layer> (or POST a GeoJSON geometry)")
    result = run(
        measure.overlaps,
        a=a,
        b=b,
        as_of=optional("as_of"),
        include_geometry=parse_bool("geometry"),
        view=optional("view"),
    )
    return json_response(result)


@bp.post("/overlaps")
def overlaps_post() -> Response:
    """Overlaps of a GeoJSON body (geometry, Feature or FeatureCollection; EPSG:4326) with
    ``layers`` (comma list, default all) on ``as_of``; ``geometry=true`` adds GeoJSON."""
    check_params({"layers", "as_of", "geometry", "view"})
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body of {request.content_length} bytes; limit {limit} bytes")
    body = request.get_data(cache=False)
    if not body.strip():
        raise BadRequest("empty body: send a GeoJSON geometry, Feature or FeatureCollection")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    try:
        geometry = measure.parse_user_geometry(doc)
    except measure.QueryError as exc:
        message = str(exc)
        if any(words in message for words in _TOO_LARGE):
            raise PayloadTooLarge(message) from None
        raise Unprocessable(message) from None
    layers = optional("layers")
    result = run(
        measure.overlaps,
        geometry=geometry,
        layers=layers.split(",") if layers else None,
        as_of=optional("as_of"),
        include_geometry=parse_bool("geometry"),
        view=optional("view"),
    )
    return json_response(result)
