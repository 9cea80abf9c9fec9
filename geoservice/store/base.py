"""The store interface: what the API, the measurement engine and the map ask of the data.

Modelled on pygeoapi's ``BaseProvider`` (``query`` with bbox, datetime, properties, sortby,
limit/offset returning the matched count and the features; ``get`` by id) and tipg's
``Collection`` (one object per collection, its queryables and extents). Coordinates are
lon/lat on WGS84 (EPSG:4326); dates are ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import orjson
from pygeofilter import ast

from ..catalog import Catalog, DataError, LayerData
from ..layers import Layer
from ..vocabulary import DEFAULT_VIEW


class FilterError(ValueError):
    """A filter or sort order the store cannot evaluate (the API answers 400 with its text)."""


class StoreUnavailable(DataError):
    """The store cannot be reached (a database down or unreachable): 503, or one line and exit
    status 1 on the command line."""


class LayerTooLarge(StoreUnavailable):
    """A layer with more rows than a store that reads per query (PostGIS) builds in memory for
    the measurement engine (the settings' ``max_memory_rows``): 503 with this text."""


class ReadOnlyError(Exception):
    """A write to a store (or layer) that takes none (the API answers 405)."""


class EditError(ValueError):
    """An edit the store refuses: not a feature of the layer, bad values (the API: 422)."""


class ConflictError(Exception):
    """A write whose ``if_match`` is not the feature's current ETag (the API: 412)."""


class MissingError(KeyError):
    """A write to a feature id the layer does not hold (the API: 404)."""


@dataclass(frozen=True)
class Edit:
    """Who writes, and on what authority: stored with every revision.

    ``author``: the token's name; ``source``: the citation the change rests on (a treaty, an
    article); ``on``: the date the change takes effect (a status change on a date closes the
    old state's ``valid_to`` there and opens a new state; None: a correction in place);
    ``if_match``: the feature's ETag the writer last read (required for replace/update/delete).
    """

    author: str
    source: str
    on: dt.date | None = None
    if_match: str | None = None


@dataclass
class Revision:
    """One stored write: ``before``/``after`` are the whole features (None when created or
    deleted); ``at`` is RFC 3339 UTC; ``number`` counts the store's writes from 1."""

    number: int
    layer_id: str
    feature_id: str
    action: str  # "create", "replace", "update", "delete"
    author: str
    source: str
    at: str
    before: dict | None
    after: dict | None
    #: Ids of features the write opened besides ``feature_id`` (a new dated state).
    opened: list[str] = field(default_factory=list)


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


@dataclass(frozen=True)
class LayerSummary:
    """What a collection's description says of a layer, without its rows: the matched count,
    the bounding box (min lon, min lat, max lon, max lat; None when empty) and the earliest
    ``valid_from`` / latest ``valid_to`` (ISO dates; None where any is open)."""

    count: int
    extent: tuple[float, float, float, float] | None
    temporal_extent: tuple[str | None, str | None]


@dataclass
class QueryResult:
    """The answer to a :class:`Query`: how many features matched, and the requested page.

    A store that keeps the layer in memory may add ``rows``, the page's row numbers in ``data``
    (:meth:`Store.layer_data` at the time of the query), so callers can use per-row caches.
    """

    matched: int
    features: list[dict]
    rows: np.ndarray | None = None
    data: LayerData | None = None


class Store(ABC):
    """One data source holding every layer of :data:`geoservice.layers.LAYERS`."""

    #: True: every layer lives in memory (:meth:`layer_data` costs nothing), so the service
    #: serves each layer from it; False (PostGIS): pages, counts and extents are read per
    #: request, and a layer is read whole only when the measurement engine needs it.
    in_memory: bool = True

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

    def sources(self) -> dict:
        """The seed articles' titles, authors and dates by file name (the map's source list)."""
        return {}

    def version(self, layer_id: str) -> str:
        """A token that changes with every write to the layer (caches are keyed by it)."""
        return "0"

    def warm(self) -> tuple:
        """Every layer the engine may read, in memory in this process (an analysis process
        forked after shares it); returns the layers' versions, a token of that data."""
        return tuple(self.version(layer_id) for layer_id in self.layer_ids())

    def etag(self, feature: dict) -> str:
        """The ETag of a feature as stored (strong; what ``If-Match`` must carry)."""
        body = orjson.dumps(feature, option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(body, digest_size=12).hexdigest()

    # --- writes (OGC API - Features Part 4). Read-only stores keep these defaults. ---------

    @property
    def writable(self) -> bool:
        """Whether :meth:`create`, :meth:`replace`, :meth:`update`, :meth:`delete` work."""
        return False

    def create(self, layer_id: str, feature: dict, edit: Edit) -> Revision:
        """Add a feature (its ``properties.id`` must be new); returns the stored revision."""
        raise ReadOnlyError("this store is read-only")

    def replace(self, layer_id: str, feature_id: str, feature: dict, edit: Edit) -> Revision:
        """Replace a feature whole (PUT); with ``edit.on``: close it there, open the new one."""
        raise ReadOnlyError("this store is read-only")

    def update(self, layer_id: str, feature_id: str, patch: dict, edit: Edit) -> Revision:
        """Merge ``patch`` (a partial feature, RFC 7396 on ``properties``; PATCH)."""
        raise ReadOnlyError("this store is read-only")

    def delete(self, layer_id: str, feature_id: str, edit: Edit) -> Revision:
        """Remove a feature (kept in its history)."""
        raise ReadOnlyError("this store is read-only")

    def history(self, layer_id: str, feature_id: str) -> list[Revision]:
        """The revisions of one feature, oldest first (empty when never edited)."""
        return []

    def __getitem__(self, layer_id: str) -> LayerData:
        """``store[layer_id]``: :meth:`layer_data`, so the engine takes a store as a catalog."""
        return self.layer_data(layer_id)

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self.layer_ids()

    def close(self) -> None:
        """Release connections (nothing to do for the file store)."""
