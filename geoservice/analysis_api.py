"""Analysis endpoints on the measurement engine: ``/api/lengths`` and ``/api/overlaps``.

Lengths (km) and areas (km²) are geodesic on the WGS84 ellipsoid; geometries are GeoJSON in
EPSG:4326 (lon, lat). Bad queries are 400 problems, request bodies that are JSON but not usable
GeoJSON are 422, bodies or geometries over the limits 413.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import orjson
from flask import Blueprint, Response, current_app, request

from . import changes as changes_module
from . import cost, measure, views
from .errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from .ogcapi import check_params, json_response, require_json
from .settings import settings
from .state import state
from .userinput import shown

bp = Blueprint("analysis_api", __name__, url_prefix="/api")


def run(query, *args, catalog=None, **kwargs) -> dict:
    """Call the engine (on ``catalog``, default the app's); its QueryError is the caller's
    mistake: 400."""
    try:
        return query(catalog or state().catalog, *args, **kwargs)
    except measure.QueryError as exc:
        raise BadRequest(str(exc)) from None


def _overlaps(catalog, deadline: cost.Deadline, **kwargs) -> dict:
    """:func:`measure.overlaps` within the work budget (``max_work``, default the settings';
    None: the deadline alone), in the analysis process."""
    kwargs.setdefault("max_work", settings().max_work)
    return measure.overlaps(catalog, deadline=deadline, **kwargs)


def run_overlaps(seconds: float | None = None, process: str = "analysis", **kwargs) -> dict:
    """:func:`measure.overlaps` in the analysis ``process`` (:mod:`geoservice.cost`), before the
    deadline of ``seconds`` (default: the settings' ``analysis_seconds``); its QueryError is a
    400."""
    try:
        return cost.run_bounded(_overlaps, state().catalog, kwargs, seconds, process=process)
    except measure.QueryError as exc:
        raise BadRequest(str(exc)) from None


@bp.get("/lengths")
def lengths() -> Response:
    """Border lengths (km, WGS84) by status and country pair, valid on ``as_of`` (default today).

    ``kind`` defaults to ``international``; ``kind=all`` counts every kind of line;
    ``bbox=minLon,minLat,maxLon,maxLat`` counts only what lies inside that box (a map view).
    """
    args = check_params("lengths")
    require_json()
    result = run(
        measure.border_lengths,
        countries=args["countries"],
        status=args["status"],
        kind=None if args["kind"] == "all" else args["kind"],
        as_of=args["as_of"],
        bbox=args["bbox"],
        view=args["view"],
        segments=args["segments"],
        lang=args["lang"],
    )
    return json_response(result)


class AnswerCache:
    """Answers (JSON bytes) by key, least recently used dropped past ``limit`` bytes
    (default: the settings' ``overlap_cache_bytes``)."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self.size = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    @property
    def limit(self) -> int:
        return settings().overlap_cache_bytes if self._limit is None else self._limit

    def get(self, key: str) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self.lock:
            if key in self.items or len(value) > self.limit:
                return
            self.items[key] = value
            self.size += len(value)
            while self.size > self.limit:
                self.size -= len(self.items.popitem(last=False)[1])


_answers = AnswerCache()


def _overlap_key(a: str, b: str, as_of) -> str:
    """What a layer x layer answer depends on: the two layers' data, the features valid on the
    date (so every date between two changes shares one answer) and every other parameter."""
    day = measure._as_of(as_of)
    parts: list = []
    for lid in (a, b):
        served = state().served(lid)
        if served is None:
            return ""  # unknown layer: the engine says so
        valid = state().store[lid].valid(day)  # the engine reads the layer whole anyway
        parts += [lid, served.digest, hashlib.blake2b(valid.tobytes()).hexdigest()]
    skip = ("a", "b", "as_of", "include_geometry")
    others = sorted((k, v) for k, v in request.args.items(multi=True) if k not in skip)
    return hashlib.blake2b(orjson.dumps([parts, others]), digest_size=12).hexdigest()


@bp.get("/overlaps")
def overlaps_get() -> Response:
    """Overlaps of two layers (``a``, ``b``) on ``as_of``; ``include_geometry=true`` adds
    GeoJSON.

    Computed once per (layers, features valid on the date, view, parameters) in the analysis
    process within the layer-pair deadline, kept (the settings' ``overlap_cache_bytes``) and
    answered with an ETag (:mod:`geoservice.cost`)."""
    args = check_params("overlaps_get")
    require_json()
    a, b, as_of, view, lang = args["a"], args["b"], args["as_of"], args["view"], args["lang"]
    include_geometry = args["include_geometry"]
    key = _overlap_key(a, b, as_of)
    etag = f"{key}-{int(include_geometry)}" if key else ""
    if etag and request.if_none_match.contains_weak(etag):
        return _with_cache_headers(Response(status=304), etag)
    tail = _answers.get(etag) if etag else None
    if tail is None:
        # One computation (with geometry) gives both answers: with and without geometry. Its
        # cost is bounded by the data, not by the request, and paid once per set of valid
        # features: no work budget, the layer-pair deadline alone.
        result = run_overlaps(
            settings().layer_pair_seconds,
            "layer_pairs",
            a=a,
            b=b,
            as_of=as_of,
            include_geometry=True,
            view=view,
            max_work=None,
            lang=lang,
        )
        full = result["results"]
        # The answer's tail: the results, and with a language the labels of the codes.
        labels = b',"labels":' + orjson.dumps(result["labels"]) if "labels" in result else b""
        variants = {
            flag: b'"results":' + orjson.dumps(hits) + labels
            for flag, hits in ((1, full), (0, [_without_geometry(h) for h in full]))
        }
        if key:
            for flag, value in variants.items():
                _answers.put(f"{key}-{flag}", value)
        tail = variants[int(include_geometry)]
    head = {
        "as_of": measure._as_of(as_of).isoformat(),
        "view": view,
        "unit": {"length": "km", "area": "km2"},
        "a": a,
        "b": b,
    }
    count = tail.count(b'"relation":')
    body = orjson.dumps(head)[:-1] + b"," + tail + f',"count":{count}}}'.encode()
    return _with_cache_headers(json_response(body), etag)


def _without_geometry(hit: dict) -> dict:
    return {k: v for k, v in hit.items() if k != "geometry"}


def _with_cache_headers(response: Response, key: str) -> Response:
    if key:
        response.set_etag(key, weak=True)
        response.cache_control.public = True
        response.cache_control.max_age = current_app.config["CACHE_MAX_AGE"]
    return response


#: Media types a POST body may be declared as (GeoJSON is JSON).
JSON_BODY_TYPES = ("application/json", "application/geo+json")


def read_json_body() -> bytes:
    """The request body (JSON to be): 415 unless declared JSON, 413 over
    ``MAX_CONTENT_LENGTH`` (also when sent chunked, without a length), 400 when empty."""
    mimetype = request.mimetype
    if mimetype not in JSON_BODY_TYPES and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type {shown(request.content_type or '(none)')}: send the GeoJSON as "
            f"{' or '.join(JSON_BODY_TYPES)}"
        )
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body of {request.content_length} bytes; limit {limit} bytes")
    # Read one byte past the limit from the raw stream: a chunked body over it is a 413, not
    # a body cut at the limit and then "not JSON".
    stream = request.environ["wsgi.input"] if request.content_length is None else request.stream
    body = _read_at_most(stream, limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"body over the limit of {limit} bytes (sent chunked)")
    if not body.strip():
        raise BadRequest("empty body: send a GeoJSON geometry, Feature or FeatureCollection")
    return body


class NotJson(ValueError):
    """A body that is not JSON (400)."""


class UnusableGeometry(ValueError):
    """JSON that is no usable GeoJSON geometry (422)."""


def _priced_geometry(catalog, deadline: cost.Deadline, body: bytes, layers, as_of):
    """The body's geometry (shapely), once its overlap is priced within the budget (runs in the
    triage process: the parsing and the estimate never hold the serving threads)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotJson(f"body is not JSON: {exc}") from None
    try:
        geometry = measure.parse_user_geometry(doc)
    except measure.LimitError:
        raise  # over the size limits: 413 by the status table (errors.py)
    except measure.QueryError as exc:
        raise UnusableGeometry(str(exc)) from None
    measure.check_budget(catalog, geometry, layers, as_of)
    return geometry


def _read_at_most(stream, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(min(65536, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


@bp.post("/overlaps")
def overlaps_post() -> Response:
    """Overlaps of a GeoJSON body (geometry, Feature or FeatureCollection; EPSG:4326) with
    ``layers`` (comma list, default all) on ``as_of``; ``include_geometry=true`` adds GeoJSON.

    The work is estimated first and refused over the budget (422), then run within the
    deadline (:mod:`geoservice.cost`)."""
    args = check_params("overlaps_post")
    require_json()
    body = read_json_body()
    layers, as_of = args["layers"], args["as_of"]
    # Parsed and priced in the triage process: refused over budget before any analysis waits.
    try:
        geometry = cost.run_bounded(
            _priced_geometry,
            state().catalog,
            {"body": body, "layers": layers, "as_of": as_of},
            process="triage",
        )
    except NotJson as exc:
        raise BadRequest(str(exc)) from None
    except UnusableGeometry as exc:
        raise Unprocessable(str(exc)) from None
    except measure.LimitError:
        raise
    except measure.QueryError as exc:
        raise BadRequest(str(exc)) from None
    result = run_overlaps(
        geometry=geometry,
        layers=layers,
        as_of=as_of,
        include_geometry=args["include_geometry"],
        view=args["view"],
        lang=args["lang"],
    )
    return json_response(result)


@bp.get("/views")
def views_doc() -> Response:
    """The points of view (``view=``) and label languages (``lang=``) every query takes."""
    check_params("views")
    return json_response(views.describe())


@bp.get("/changes")
def changes() -> Response:
    """What changed from ``from`` to ``to`` (dates): features that began or ended, km² changing
    hands per side, border km changing status, the events in between (geodesic, WGS84)."""
    args = check_params("changes")
    result = run(
        changes_module.changes, args["from"], args["to"], view=args["view"], lang=args["lang"]
    )
    return json_response(result)
