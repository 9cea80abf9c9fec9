"""The Flask application factory: the OGC API, the analysis endpoints and the web map.

The catalog is loaded once, in :func:`create_app`; every feature is serialised to GeoJSON bytes
there too (see :mod:`geoservice.ogcapi`), so requests only select and join bytes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from flask_compress import Compress
from flask_cors import CORS

from . import analysis_api, cost, edits_api, headers, ogcapi, openapi, webmap
from .auth import configured_tokens, parse_tokens
from .catalog import Catalog, DataError, load_catalog
from .errors import register_error_handlers
from .resources import TEMPLATES_DIR
from .settings import settings
from .state import EXTENSION, ServiceState, state  # noqa: F401 (state: re-exported)
from .store import FileStore
from .store.base import Store

#: Defaults; ``create_app(config)`` overrides any of them.
DEFAULT_CONFIG: dict[str, Any] = {
    # Data directory (None: $GEOSERVICE_DATA, else the shipped geodata/).
    "DATA_DIR": None,
    # The store: a postgresql:// DSN (PostGIS) or a data directory; None: $GEOSERVICE_STORE,
    # else DATA_DIR.
    "STORE": None,
    # flask-compress: gzip (or br/zstd/deflate) when the client asks, for these types.
    "COMPRESS_MIMETYPES": [
        "application/json",
        "application/geo+json",
        "application/problem+json",
        "application/schema+json",
        "application/vnd.oai.openapi+json",
        "text/html",
        "text/css",
        "application/javascript",
    ],
    # Fast levels: on 1.3 MB of GeoJSON gzip 1 takes ~12 ms (level 6: ~70 ms) for 15 % more
    # bytes; brotli 1 ~9 ms. Coordinates compress about 3x either way.
    "COMPRESS_LEVEL": 1,
    "COMPRESS_BR_LEVEL": 1,
    "JSON_SORT_KEYS": False,
}


#: What CORS advertises everywhere; items add the write methods when edits are taken.
READ_METHODS = ["GET", "HEAD", "OPTIONS"]


def load_checked_catalog(path) -> Catalog:
    """The catalog of a data directory that passes the structural checks of ``geoservice
    validate`` (:func:`geoservice.validate.check_structure`: fields, vocabularies, dates, ids;
    not topology or geometry validity, which take longer than the load itself); else
    :class:`DataError` listing every problem, one per line (the service does not start)."""
    from .validate import check_structure

    problems, _ = check_structure(path, geometry=False)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise DataError(f"the data has {len(problems)} problem(s); not starting:\n{lines}")
    return load_catalog(path)


def configured_store(config, writable: bool = False) -> Store:
    """The store to serve: a :class:`Store` given as ``STORE`` or ``CATALOG``; else ``STORE``
    (else ``$GEOSERVICE_STORE``) when it is a ``postgresql://`` DSN, PostGIS; else the file
    store of ``CATALOG`` (a catalog) or of the data directory (``STORE`` or ``DATA_DIR``),
    checked (:func:`load_checked_catalog`); ``writable``: it takes edits."""
    from .store import STORE_ENV, PostgisStore, is_dsn

    for given in (config.get("STORE"), config.get("CATALOG")):
        if isinstance(given, Store):
            return given
    target = config.get("STORE") or os.environ.get(STORE_ENV) or None
    if target is not None and is_dsn(str(target)):
        return PostgisStore(str(target), writable=writable)
    catalog = config.get("CATALOG") or load_checked_catalog(target or config.get("DATA_DIR"))
    return FileStore(catalog, writable=writable)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: load the catalog (``DATA_DIR``), serialise it, register the blueprints."""
    # No app-level static folder: /static/... belongs to the web map blueprint.
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=None)
    limits = settings()
    app.config.update(
        DEFAULT_CONFIG,
        # Largest request body (bytes; larger: 413) and max-age of cacheable answers (s).
        MAX_CONTENT_LENGTH=limits.max_body_bytes,
        CACHE_MAX_AGE=limits.cache_max_age,
    )
    app.config.update(config or {})
    if not app.logger.handlers:
        logging.basicConfig(level=logging.INFO)

    tokens = app.config.get(edits_api.TOKENS)
    tokens = app.config[edits_api.TOKENS] = (
        configured_tokens() if tokens is None else parse_tokens(tokens)
    )
    store = configured_store(app.config, writable=bool(tokens))
    app.extensions[EXTENSION] = ServiceState(store, ogcapi.serve_store_layer)
    # The edge indexes the cost model counts crossings with: built here, before gunicorn's
    # --preload forks, so the workers share them and no request pays for them (a store that
    # reads per request builds a layer's on first use, when the engine reads the layer).
    if store.in_memory:
        for layer_id in store.layer_ids():
            cost.layer_edges(store[layer_id])

    register_error_handlers(app)
    writable = bool(tokens) and store.writable
    write = ["POST", "PUT", "PATCH", "DELETE"] if writable else []
    CORS(
        app,
        resources={
            # The write methods only where they exist (items, when the service takes edits).
            r"/api/collections/[^/]+/items.*": {"origins": "*", "methods": [*READ_METHODS, *write]},
            r"/api/overlaps": {"origins": "*", "methods": [*READ_METHODS, "POST"]},
            r"/api/*": {"origins": "*", "methods": READ_METHODS},
        },
        expose_headers=["ETag", "Link", "Location"],
    )
    Compress(app)
    headers.install(app)

    app.register_blueprint(ogcapi.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(analysis_api.bp)
    if writable:
        app.register_blueprint(edits_api.bp)
    # The map at / and Leaflet at /static/leaflet/, which the API's HTML pages use too.
    app.register_blueprint(webmap.bp)
    return app
