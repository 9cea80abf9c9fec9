"""WSGI entry point for production servers: ``gunicorn -w 4 -b 0.0.0.0:8000 geoservice.wsgi:app``.

The data directory comes from ``$GEOSERVICE_DATA`` (default: the shipped ``geodata/``), or the
PostGIS database from ``$GEOSERVICE_STORE=postgresql://…``. Each worker loads the catalog once
at import, and builds what the map's first load asks for (under ``--preload``, once for all
workers).
"""

from __future__ import annotations

from .app import create_app
from .webmap import warm_up

app = create_app()
warm_up(app)
