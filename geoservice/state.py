"""What the blueprints share, taken from the running app (``current_app.extensions``).

The app factory (:mod:`geoservice.app`) puts a :class:`ServiceState` there; the blueprints read
it through :func:`state` and never import the app module, so there is no import cycle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import current_app

from .store import Store

#: The key of the shared state in ``app.extensions``.
EXTENSION = "geoservice"


class ServiceState:
    """The store, and each layer as served (``serve(store, layer_id)``: e.g. GeoJSON bytes per
    feature), built once per version of the layer (:meth:`Store.version`): a write to the store
    makes the next request rebuild that layer, so edits show at once. A store that keeps its
    layers in memory has them served at start-up; one that reads per request (PostGIS) reads
    nothing whole here."""

    def __init__(self, store: Store, serve: Callable[[Store, str], Any]):
        self.store = store
        self._serve = serve
        self._served: dict[str, tuple[str, Any]] = {}
        self._lock = threading.Lock()
        if store.in_memory:
            for layer_id in store.layer_ids():
                self.served(layer_id)

    @property
    def catalog(self) -> Store:
        """The store, as the measurement engine reads it (``store[layer_id]``: layer data)."""
        return self.store

    def served(self, layer_id: str) -> Any | None:
        """The served form of the layer's current version (None: no such layer)."""
        if layer_id not in self.store:
            return None
        version = self.store.version(layer_id)
        hit = self._served.get(layer_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        with self._lock:  # built once per version, even when requests arrive together
            hit = self._served.get(layer_id)
            if hit is None or hit[0] != version:
                hit = self._served[layer_id] = (version, self._serve(self.store, layer_id))
            return hit[1]

    @property
    def layers(self) -> dict[str, Any]:
        """Every layer's served form, current, by layer id (layer-list order)."""
        return {layer_id: self.served(layer_id) for layer_id in self.store.layer_ids()}


def state() -> ServiceState:
    """The running app's :class:`ServiceState`."""
    return current_app.extensions[EXTENSION]
