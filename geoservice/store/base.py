"""The store interface: what the API, the measurement engine and the map ask of the data.

Modelled on pygeoapi's ``BaseProvider`` (``query`` with bbox, datetime, properties, sortby,
limit/offset returning the matched count and the features; ``get`` by id) and tipg's
``Collection`` (one object per collection, its queryables and extents). Coordinates are
lon/lat on WGS84 (EPSG:4326); dates are ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from pygeofilter import ast

from ..catalog import Catalog, DataError, LayerData
from ..layers import Layer
from ..vocabulary import DEFAULT_VIEW


class FilterError(ValueError):
    """A filter or sort order the store cannot evaluate (the API answers 400 with its text)."""


class StoreUnavailable(DataError):
    """The store cannot be reached (a database down or unreachable): 503, or one line and exit
    status 1 on the command line."""


@dataclass(frozen=True)
class SortKey:
    """One ``sortby`` key: a property name, ascending unless ``descending``."""

    name: str
    descending: bool = False


@dataclass
class Query:
    """One items query. Every part is optional; all given parts must hold (AND).

    ``bbox``: (min lon, min lat, max lon, max lat), min lon > max lon crosses the antimeridian.
    ``interval``: features valid at some time in [start, end] (None: open end; end omitted as
    ``(start, start)`` for an instant). ``filters``: property -> values, a scalar property equal
    to any value, an array property holding every value. ``cql``: a parsed CQL2 expression.
    ``sortby``: keys in order (else file order). ``limit`` None: every matched feature.
    ``view``: the point of view (:mod:`geoservice.views`) whose features are shown.
    """

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[dt.date | None, dt.date | None] | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    cql: ast.Node | None = None
    sortby: list[SortKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    view: str = DEFAULT_VIEW


@dataclass
class QueryResult:
    """The answer to a :class:`Query`: how many features matched, and the requested page."""

    matched: int
    features: list[dict]


class Store(ABC):
    """One data source holding every layer of :data:`geoservice.layers.LAYERS`."""

    @abstractmethod
    def layer(self, layer_id: str) -> Layer:
        """The layer's definition (KeyError if the store has no such layer)."""

    @abstractmethod
    def layer_ids(self) -> list[str]:
        """The ids of the layers the store holds, in layer-list order."""

    @abstractmethod
    def query(self, layer_id: str, query: Query) -> QueryResult:
        """The features of a layer matching ``query``, sorted and paged, with the matched count."""

    @abstractmethod
    def get(self, layer_id: str, feature_id: str) -> dict | None:
        """One feature (GeoJSON dict) by its ``id`` property, or None."""

    @abstractmethod
    def layer_data(self, layer_id: str) -> LayerData:
        """The layer in memory as the measurement engine reads it (geometries, lengths, dates)."""

    @abstractmethod
    def as_catalog(self) -> Catalog:
        """Every layer in memory as a :class:`~geoservice.catalog.Catalog` (for the parts of
        the service that still take one)."""

    def __getitem__(self, layer_id: str) -> LayerData:
        """``store[layer_id]``: :meth:`layer_data`, so the engine takes a store as a catalog."""
        return self.layer_data(layer_id)

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self.layer_ids()

    def close(self) -> None:
        """Release connections (nothing to do for the file store)."""
