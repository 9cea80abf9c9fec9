"""The file store: the in-memory catalog (:mod:`geoservice.catalog`) behind the store interface.

Masks over the layer's rows (numpy) for dates and property filters, the STRtree for bbox,
pygeofilter's GeoPandas backend for CQL2 on the layer's GeoDataFrame.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
from pygeofilter.backends.geopandas.evaluate import to_filter

from .. import views
from ..catalog import Catalog, LayerData, load_catalog
from ..layers import Layer
from .base import FilterError, Query, QueryResult, SortKey, Store
from .cql import GEOMETRY


class FileStore(Store):
    """Every layer of one data directory, in memory (the embedded default)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        #: (layer, property, value) -> boolean mask over the layer's rows, built on first use.
        self.masks: dict[tuple[str, str, str], np.ndarray] = {}

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> FileStore:
        """Load a data directory (default: ``$GEOSERVICE_DATA``, else the shipped data)."""
        return cls(load_catalog(path))

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
        return QueryResult(matched, [data.features[i] for i in rows])

    def _select(self, data: LayerData, query: Query) -> tuple[int, np.ndarray]:
        rows = matching_rows(data, query, self.masks)
        if query.sortby:
            rows = sort_rows(data, rows, query.sortby)
        end = None if query.limit is None else query.offset + query.limit
        return len(rows), rows[query.offset : end]


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
