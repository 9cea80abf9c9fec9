"""What every response carries, in one place: links from a trusted base URL, security headers
with a per-request CSP nonce, and ``Vary`` for what the answer depends on.

- **Base URL.** Links (``url_for(..., _external=True)``, the OpenAPI ``servers``) are built
  from ``GEOSERVICE_BASE_URL`` (e.g. ``https://borders.example.org``, may end in a path
  prefix) or, without it, from the address the server listens on (``SERVER_NAME`` and
  ``SERVER_PORT`` of the WSGI environ), never from the client's ``Host`` header.
- **Security headers.** ``Content-Security-Policy`` (scripts only from this origin or inline
  with this response's nonce; the nonce is added here to every ``<script`` tag of our own HTML,
  which includes folium's inline scripts; data reaches HTML escaped, so it has no tags to
  match), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
  ``frame-ancestors 'none'``, ``Referrer-Policy``.
"""

from __future__ import annotations

import os
import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

#: Environment variable with the public base URL of the service (scheme, host, optional path).
BASE_URL_ENV = "GEOSERVICE_BASE_URL"

#: Tile server of the optional online OpenStreetMap layer of the map (images only).
OSM_TILES = "https://tile.openstreetmap.org"

_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")


def content_security_policy(nonce: str) -> str:
    """The CSP of an HTML page whose inline scripts carry ``nonce``."""
    return "; ".join(
        [
            "default-src 'self'",
            # No inline event handlers anywhere: every handler is added by script (addEventListener).
            f"script-src 'self' 'nonce-{nonce}'",
            # Leaflet and folium position and style elements inline.
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: {OSM_TILES}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: The CSP of everything that is not HTML (JSON, problems, static files).
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


class TrustedHost:
    """WSGI middleware: the host, scheme and prefix of every request's links come from the
    configured base URL (or the listening address), whatever ``Host`` the client sent."""

    def __init__(self, app, base_url: str | None = None) -> None:
        self.app = app
        self.base = urlsplit(base_url.rstrip("/")) if base_url else None

    def __call__(self, environ, start_response):
        environ["geoservice.client_host"] = environ.get("HTTP_HOST", "")
        if self.base is not None:
            environ["HTTP_HOST"] = self.base.netloc
            environ["wsgi.url_scheme"] = self.base.scheme or "http"
            environ["SCRIPT_NAME"] = self.base.path
        else:
            name = environ.get("SERVER_NAME", "localhost")
            port = environ.get("SERVER_PORT", "80")
            if ":" in name and not name.startswith("["):
                name = f"[{name}]"
            default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
            environ["HTTP_HOST"] = name if port == default else f"{name}:{port}"
        return self.app(environ, start_response)


def csp_nonce() -> str:
    """This request's CSP nonce (templates may use it as ``csp_nonce()``)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def secure(response: Response) -> Response:
    """Add the security headers (and the nonce to our HTML's script tags) to a response."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html" and not response.direct_passthrough:
        nonce = csp_nonce()
        if "Content-Encoding" not in headers:
            body = response.get_data()
            response.set_data(_SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', body))
        headers["Content-Security-Policy"] = content_security_policy(nonce)
    else:
        headers.setdefault("Content-Security-Policy", DATA_CSP)
    if request.path.startswith("/api"):
        response.vary.add("Accept")  # JSON or HTML by Accept (f= wins when given)
    return response


def drop_date(response: Response) -> Response:
    """Leave the one Date header to the HTTP server (werkzeug's server added its own to the
    one flask-compress puts on compressed answers: two)."""
    response.headers.pop("Date", None)
    return response


def install(app: Flask) -> None:
    """Trusted links and security headers for ``app``. Call after ``Compress(app)``: Flask runs
    after-request hooks last-registered first, so the nonce goes in before compression."""
    app.wsgi_app = TrustedHost(app.wsgi_app, os.environ.get(BASE_URL_ENV) or None)
    app.after_request(secure)
    # Runs last (hooks run last-registered first): after compression, which adds a Date.
    app.after_request_funcs.setdefault(None, []).insert(0, drop_date)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
