"""HTTP errors: one table from exception type to status, every error an RFC 7807 problem.

Handlers registered by :func:`register_error_handlers` turn any exception raised while serving a
request into ``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``.
Nothing reaches the client as a traceback; unexpected exceptions are logged and answered 500.
"""

from __future__ import annotations

import logging

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from .catalog import DataError
from .cost import AnalysisFailed, BudgetError, BusyError, DeadlineError
from .measure import LimitError, QueryError
from .store import ConflictError, EditError, FilterError, MissingError, ReadOnlyError
from .store.base import LayerTooLarge, StoreUnavailable
from .timeline import TimeError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ApiError(Exception):
    """A request the service refuses; ``status`` is the HTTP status code."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class BadRequest(ApiError):
    """A malformed or unknown query parameter or body (400)."""


class Unauthorized(ApiError):
    """A write without a bearer token, or with one the service does not know (401)."""

    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    """A known token that may not write to this collection (403)."""

    status = 403
    title = "Forbidden"


class PreconditionRequired(ApiError):
    """A write without ``If-Match`` (428): the feature's ETag must be sent back."""

    status = 428
    title = "Precondition required"


class NotFound(ApiError):
    """An unknown collection, feature or path (404)."""

    status = 404
    title = "Not found"


class PayloadTooLarge(ApiError):
    """A body or geometry over the service's size limits (413)."""

    status = 413
    title = "Payload too large"


class NotAcceptable(ApiError):
    """An ``Accept`` header that none of the resource's media types meets (406)."""

    status = 406
    title = "Not acceptable"


class UnsupportedMediaType(ApiError):
    """A body declared as a media type the endpoint does not read (415)."""

    status = 415
    title = "Unsupported media type"


class Unprocessable(ApiError):
    """Well-formed input that cannot be used, e.g. a body that is JSON but not GeoJSON (422)."""

    status = 422
    title = "Unprocessable content"


#: Exception type -> (HTTP status, title). The first matching entry (in order) wins.
STATUS_TABLE: list[tuple[type[Exception], int, str]] = [
    (TimeError, 400, "Bad datetime"),
    (FilterError, 400, "Bad filter"),
    (ReadOnlyError, 405, "Method not allowed"),
    (ConflictError, 412, "Precondition failed"),
    (MissingError, 404, "Not found"),
    (EditError, 422, "Unprocessable content"),
    (BudgetError, 422, "Over the work budget"),
    (DeadlineError, 503, "Stopped at the time limit"),
    (AnalysisFailed, 503, "Analysis failed"),
    (BusyError, 503, "Busy"),
    (LimitError, 413, "Payload too large"),
    (QueryError, 400, "Bad query"),
    (LayerTooLarge, 503, "Layer too large for in-memory analysis"),
    (StoreUnavailable, 503, "Store unavailable"),
    (DataError, 500, "Data not available"),
]


def problem(status: int, title: str, detail: str, **extra) -> Response:
    """A problem+json response (RFC 7807)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)


def handle_exception(exc: Exception) -> Response:
    """Map any exception to a problem response using :data:`STATUS_TABLE`."""
    if isinstance(exc, ApiError):
        response = problem(exc.status, exc.title, exc.detail)
        if exc.status == 401:  # RFC 6750: say how to authenticate
            response.headers["WWW-Authenticate"] = 'Bearer realm="geoservice"'
        return response
    if isinstance(exc, HTTPException):
        response = problem(exc.code or 500, exc.name, exc.description or exc.name)
        # Keep headers werkzeug attaches, e.g. ``Allow`` on 405.
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response
    for exc_type, status, title in STATUS_TABLE:
        if isinstance(exc, exc_type):
            if status >= 500:
                log.error("%s: %s", title, exc)
            response = problem(status, title, str(exc))
            if status == 503 and not isinstance(exc, LayerTooLarge):  # that one stays
                response.headers["Retry-After"] = "5"
            return response
    log.exception("unhandled error while serving a request")
    return problem(500, "Internal server error", "The service failed to answer; it is logged.")


def register_error_handlers(app: Flask) -> None:
    """Answer every error of ``app`` with a problem response."""
    app.register_error_handler(Exception, handle_exception)
