"""The file store: the in-memory catalog (:mod:`geoservice.catalog`) behind the store interface.

Masks over the layer's rows (numpy) for dates and property filters, the STRtree for bbox,
pygeofilter's GeoPandas backend for CQL2 on the layer's GeoDataFrame.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from pygeofilter.backends.geopandas.evaluate import to_filter

from .. import views
from ..catalog import Catalog, LayerData, layer_from_features, load_catalog
from ..layers import Layer
from .base import (
    Edit,
    FilterError,
    MissingError,
    Query,
    QueryResult,
    ReadOnlyError,
    Revision,
    SortKey,
)
from .cql import GEOMETRY
from .edits import Draft, EditingStore, Plan
from .journal import Journal, layer_revision, write_layer


class FileStore(EditingStore):
    """Every layer of one data directory, in memory (the embedded default).

    ``writable``: edits are taken (:meth:`create` ...), journalled in ``edits/journal.jsonl``
    and written to the layer files; another process writing to the same directory is seen
    at the next :meth:`version` (the journal grew) and its entries applied here too.
    """

    def __init__(self, catalog: Catalog, writable: bool = False):
        self.catalog = catalog
        #: (layer, property, value) -> boolean mask over the layer's rows, built on first use.
        self.masks: dict[tuple[str, str, str], np.ndarray] = {}
        self._versions = dict.fromkeys(catalog.layers, 0)
        self._lock = threading.RLock()
        self.revisions: list[Revision] = []
        self.journal = Journal(catalog.directory) if writable else None
        self._offset = 0  # bytes of the journal applied here
        self._etags: dict[int, tuple[dict, str]] = {}
        if self.journal is not None:
            self._recover()

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, writable: bool = False) -> FileStore:
        """Load a data directory (default: ``$GEOSERVICE_DATA``, else the shipped data)."""
        return cls(load_catalog(path), writable)

    def etag(self, feature: dict) -> str:
        """:meth:`Store.etag`, kept per feature object (edits store new objects, never change
        one in place), so a large feature (a country: megabytes) is hashed once."""
        hit = self._etags.get(id(feature))
        if hit is None or hit[0] is not feature:
            hit = self._etags[id(feature)] = (feature, super().etag(feature))
        return hit[1]

    # --- versions and edits ---------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self.journal is not None

    def version(self, layer_id: str) -> str:
        if self.journal is not None and self.journal.size() != self._offset:
            with self._lock:
                self._catch_up()
        return str(self._versions[layer_id])

    def history(self, layer_id: str, feature_id: str) -> list[Revision]:
        self.version(layer_id)
        return [
            r
            for r in self.revisions
            if r.layer_id == layer_id and (r.feature_id == feature_id or feature_id in r.opened)
        ]

    def _id_in_use(self, feature_id: str) -> bool:
        return any(feature_id in data.index_by_id for data in self.catalog.layers.values())

    def _write(self, layer_id: str, edit: Edit, plan: Callable[[Draft], Plan]) -> Revision:
        """Run ``plan`` on the layer under the writers' lock, journal it (fsync), rewrite the
        layer file (atomic), then show it."""
        if self.journal is None:
            raise ReadOnlyError("this data directory is served read-only")
        if layer_id not in self.catalog:
            raise MissingError(f"no collection {layer_id!r}")
        with self._lock, self.journal.locked():
            self._catch_up()
            planned = plan(_Draft(self, self.catalog[layer_id]))
            revision = planned.revision(len(self.revisions) + 1, layer_id, edit)
            entry = {**dataclasses.asdict(revision), "changes": planned.changes}
            self.journal.append(entry)
            self._offset = self.journal.size()
            features = self._apply(entry)
            write_layer(self._path(layer_id), features, revision.number)
            return revision

    def _path(self, layer_id: str) -> Path:
        return self.catalog.directory / f"{layer_id}.geojson"

    def _apply(self, entry: dict) -> list[dict]:
        """Apply a journal entry in memory (new layer data, a new version); the features."""
        layer_id = entry["layer_id"]
        data = self.catalog[layer_id]
        features = list(data.features)
        for fid, feature in entry["changes"].items():
            row = data.index_by_id.get(fid)
            if row is None and feature is not None:
                features.append(feature)
            elif row is not None:
                features[row] = feature
        features = [f for f in features if f is not None]
        self.catalog.layers[layer_id] = layer_from_features(data.layer, features)
        self.masks = {k: v for k, v in self.masks.items() if k[0] != layer_id}
        self._etags = {}  # rebuilt on demand: the old objects may go
        self._versions[layer_id] += 1
        fields = {f.name for f in dataclasses.fields(Revision)}
        self.revisions.append(Revision(**{k: v for k, v in entry.items() if k in fields}))
        return features

    def _catch_up(self) -> None:
        """Apply the journal entries other processes appended since the last look."""
        entries, self._offset = self.journal.read(self._offset)
        for entry in entries:
            self._apply(entry)

    def _recover(self) -> None:
        """At start-up: read the journal; any entry a layer file does not hold yet (a crash
        between the journal and the rename) is applied and the file rewritten."""
        entries, self._offset = self.journal.read(0)
        pending: dict[str, int] = {}
        for entry in entries:
            layer_id = entry["layer_id"]
            if entry["number"] > layer_revision(self._path(layer_id)):
                self._apply(entry)
                pending[layer_id] = entry["number"]
            else:  # already in the file (and so in memory): its history only
                fields = {f.name for f in dataclasses.fields(Revision)}
                self.revisions.append(Revision(**{k: v for k, v in entry.items() if k in fields}))
        for layer_id, number in pending.items():
            write_layer(self._path(layer_id), self.catalog[layer_id].features, number)

    def sources(self) -> dict:
        path = self.catalog.directory / "sources.json"
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def layer(self, layer_id: str) -> Layer:
        return self.catalog[layer_id].layer

    def layer_ids(self) -> list[str]:
        return list(self.catalog.layers)

    def layer_data(self, layer_id: str) -> LayerData:
        return self.catalog[layer_id]

    def as_catalog(self) -> Catalog:
        return self.catalog

    def get(self, layer_id: str, feature_id: str) -> dict | None:
        data = self.catalog[layer_id]
        row = data.index_by_id.get(feature_id)
        return None if row is None else data.features[row]

    def rows(self, layer_id: str, query: Query) -> np.ndarray:
        """Row numbers of the matching features, sorted and paged (see :meth:`query`)."""
        return self._select(self.catalog[layer_id], query)[1]

    def query(self, layer_id: str, query: Query) -> QueryResult:
        data = self.catalog[layer_id]
        matched, rows = self._select(data, query)
        return QueryResult(matched, [data.features[i] for i in rows], rows, data)

    def _select(self, data: LayerData, query: Query) -> tuple[int, np.ndarray]:
        rows = matching_rows(data, query, self.masks)
        if query.sortby:
            rows = sort_rows(data, rows, query.sortby)
        end = None if query.limit is None else query.offset + query.limit
        return len(rows), rows[query.offset : end]


class _Draft:
    """The file store's layer as an edit plan reads it (:class:`.edits.Draft`)."""

    def __init__(self, store: FileStore, data: LayerData):
        self.store, self.data, self.layer = store, data, data.layer

    def current(self, feature_id: str) -> dict | None:
        row = self.data.index_by_id.get(feature_id)
        return None if row is None else self.data.features[row]

    def in_use(self, feature_id: str) -> bool:
        return self.store._id_in_use(feature_id)


def value_mask(data: LayerData, name: str, value: str) -> np.ndarray:
    """Rows whose scalar ``name`` equals ``value``, or whose list ``name`` holds it."""
    column = data.frame[name] if name in data.frame else [None] * len(data.features)
    if data.layer.fields.get(name) == "array":
        hits = (isinstance(v, list) and value in v for v in column)
    else:
        hits = (v == value for v in column)
    return np.fromiter(hits, bool, len(data.features))


def matching_rows(data: LayerData, query: Query, masks: dict | None = None) -> np.ndarray:
    """Sorted row numbers of the features matching every part of ``query`` (before paging).

    ``masks`` caches :func:`value_mask` by (layer, property, value) across queries.
    """
    masks = {} if masks is None else masks
    mask = views.view_mask(data, query.view).copy()
    if query.interval is not None:
        start, end = query.interval
        # LayerData.valid reads a missing end as "the instant start": an open end is date.max.
        mask &= data.valid(start, end or dt.date.max)
    for name, values in query.filters.items():
        hits = []
        for value in values:
            key = (data.id, name, value)
            if key not in masks:
                masks[key] = value_mask(data, name, value)
            hits.append(masks[key])
        if data.layer.fields.get(name) == "array":  # holds every value
            mask &= np.logical_and.reduce(hits)
        else:  # equals any value
            mask &= np.logical_or.reduce(hits)
    if query.cql is not None:
        mask &= cql_mask(data, query.cql)
    rows = np.flatnonzero(mask)
    if query.bbox is not None:
        rows = np.intersect1d(rows, data.bbox_rows(query.bbox), assume_unique=True)
    return rows


def cql_mask(data: LayerData, node) -> np.ndarray:
    """Boolean mask of the rows a parsed CQL2 expression selects (pygeofilter on GeoPandas)."""
    frame = data.frame
    mapping = {name: name for name in frame.columns}
    mapping[GEOMETRY] = frame.geometry.name
    try:
        result = to_filter(frame, node, mapping, {})
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as exc:
        raise FilterError(f"filter cannot be evaluated: {exc}") from None
    result = np.asarray(result, dtype=object)
    if result.shape != (len(data.features),):
        raise FilterError("filter is not a condition on each feature")
    return np.array([missing(v) is False and bool(v) for v in result], dtype=bool)


def sort_rows(data: LayerData, rows: np.ndarray, keys: list[SortKey]) -> np.ndarray:
    """``rows`` ordered by the keys (stable; missing values last in either direction)."""
    ordered = list(rows)
    for key in reversed(keys):
        column = data.frame.get(key.name)

        def value(i, column=column):
            v = None if column is None else column.iloc[i]
            return (missing(v), sort_value(v))

        present = [i for i in ordered if not value(i)[0]]
        absent = [i for i in ordered if value(i)[0]]
        present.sort(key=lambda i: value(i)[1], reverse=key.descending)
        ordered = present + absent
    return np.asarray(ordered, dtype=np.int64)


def sort_value(v):
    """A comparable form of a property value (lists by their text)."""
    if isinstance(v, list | tuple):
        return ",".join(map(str, v))
    return v if v is not None else ""


def missing(v) -> bool:
    """True for None and NaN (a property absent from some features)."""
    return v is None or (isinstance(v, float) and pd.isna(v))
