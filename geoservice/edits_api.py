"""Edits with history (OGC API - Features Part 4): POST, PUT, PATCH, DELETE on items.

Registered only when the service has tokens (:mod:`geoservice.auth`) and a writable store;
otherwise the items routes answer 405 to a write and CORS does not advertise the methods.
Every write needs ``If-Match`` with the feature's ETag (but POST), a bearer token, and cites a
source: a top-level ``"source"`` member of the body, or a new entry in ``properties.sources``.
A top-level ``"effective": "YYYY-MM-DD"`` closes the current state on that date and opens a
new one (earlier dates still answer as before). The store journals and writes each edit
(:class:`geoservice.store.Store`) and the map and the API show it at the next request.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request, url_for

from . import timeline
from .analysis_api import read_json_body
from .auth import authorise
from .errors import BadRequest, PreconditionRequired, Unprocessable
from .ogcapi import GEOJSON, get_served, json_response
from .state import state
from .store import Edit, MissingError, Revision

bp = Blueprint("edits_api", __name__, url_prefix="/api")

#: The config key of the configured tokens (:func:`geoservice.auth.configured_tokens`).
TOKENS = "TOKENS"


def _edit(collection_id: str, body: object, current: dict | None, need_match: bool) -> Edit:
    """Who writes (the token's name), the source cited, the effective date, ``If-Match``."""
    token = authorise(current_app.config[TOKENS], collection_id)
    if_match = None
    if need_match:
        header = request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired(
                "send If-Match with the feature's ETag (GET the feature, read its ETag)"
            )
        if_match = header.strip().removeprefix("W/").strip('"')
    doc = body if isinstance(body, dict) else {}
    source = doc.get("source")
    if source is None:
        old = set(((current or {}).get("properties") or {}).get("sources") or [])
        added = [s for s in (doc.get("properties") or {}).get("sources") or [] if s not in old]
        source = "; ".join(str(s) for s in added) or None
    if not isinstance(source, str) or not source.strip():
        raise Unprocessable(
            'cite the source of the change: a top-level "source" member, or a new entry in '
            "properties.sources"
        )
    on = None
    if doc.get("effective") is not None:
        try:
            on = timeline.parse_date(str(doc["effective"]), what="effective")
        except timeline.TimeError as exc:
            raise Unprocessable(str(exc)) from None
    return Edit(author=token.name, source=source.strip(), on=on, if_match=if_match)


def _json_body() -> object:
    """The request body as JSON (415/413/400 as :func:`read_json_body` says; 400 not JSON)."""
    try:
        return orjson.loads(read_json_body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None


def _current(collection_id: str, feature_id: str) -> dict:
    feature = state().store.get(collection_id, feature_id)
    if feature is None:
        raise MissingError(f"collection {collection_id} has no feature {feature_id!r}")
    return feature


def _answer(collection_id: str, revision: Revision, status: int) -> Response:
    """The feature as stored after the write (its ETag), with Location of any new state."""
    store = state().store
    fid = revision.opened[0] if revision.opened else revision.feature_id
    if revision.after is None:
        response = Response(status=204)
    else:
        feature = store.get(collection_id, revision.feature_id)
        response = json_response(orjson.dumps(feature), GEOJSON, crs=True)
        response.status_code = status
        response.set_etag(store.etag(feature))
    response.headers["Location"] = url_for(
        "ogcapi.item", collection_id=collection_id, feature_id=fid, _external=True
    )
    response.headers["X-Revision"] = str(revision.number)
    return response


@bp.post("/collections/<collection_id>/items")
def create(collection_id: str) -> Response:
    """Add a feature (201, Location, ETag)."""
    get_served(collection_id)
    body = _json_body()
    edit = _edit(collection_id, body, None, need_match=False)
    revision = state().store.create(collection_id, body, edit)
    return _answer(collection_id, revision, 201)


@bp.put("/collections/<collection_id>/items/<feature_id>")
def replace(collection_id: str, feature_id: str) -> Response:
    """Replace a feature whole (If-Match required)."""
    return _change(collection_id, feature_id, state().store.replace)


@bp.patch("/collections/<collection_id>/items/<feature_id>")
def update(collection_id: str, feature_id: str) -> Response:
    """Change some properties (JSON merge patch on ``properties``) or the geometry."""
    return _change(collection_id, feature_id, state().store.update)


def _change(collection_id: str, feature_id: str, write) -> Response:
    """PUT or PATCH: ``write(collection, id, body, edit)`` of the store."""
    get_served(collection_id)
    current = _current(collection_id, feature_id)
    body = _json_body()
    edit = _edit(collection_id, body, current, need_match=True)
    return _answer(collection_id, write(collection_id, feature_id, body, edit), 200)


@bp.delete("/collections/<collection_id>/items/<feature_id>")
def delete(collection_id: str, feature_id: str) -> Response:
    """Remove a feature (kept in its history; 204)."""
    get_served(collection_id)
    current = _current(collection_id, feature_id)
    body = {"source": request.headers.get("X-Source")} if request.headers.get("X-Source") else {}
    if request.content_length:
        body = _json_body()
    edit = _edit(collection_id, body, current, need_match=True)
    revision = state().store.delete(collection_id, feature_id, edit)
    return _answer(collection_id, revision, 204)
