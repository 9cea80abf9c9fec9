"""What the blueprints share, taken from the running app (``current_app.extensions``).

The app factory (:mod:`geoservice.app`) puts a :class:`ServiceState` there; the blueprints read
it through :func:`state` and never import the app module, so there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from .catalog import Catalog

#: The key of the shared state in ``app.extensions``.
EXTENSION = "geoservice"


@dataclass
class ServiceState:
    """The catalog and the pre-serialised layers (by layer id)."""

    catalog: Catalog
    layers: dict[str, Any]


def state() -> ServiceState:
    """The running app's :class:`ServiceState`."""
    return current_app.extensions[EXTENSION]
