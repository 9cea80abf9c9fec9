"""Where the layers live: one interface (:mod:`.base`), the in-memory file store (:mod:`.file`)
and PostGIS (:mod:`.postgis`)."""

from __future__ import annotations

import os

from .base import FilterError, Query, QueryResult, SortKey, Store
from .file import FileStore
from .postgis import PostgisStore, is_dsn

#: The environment variable naming the store to serve: a data directory or a postgresql:// DSN.
STORE_ENV = "GEOSERVICE_STORE"


def open_store(target: str | os.PathLike | None = None) -> Store:
    """The store for ``target`` (else ``$GEOSERVICE_STORE``): PostGIS for a ``postgresql://``
    DSN, else the file store of a data directory (None: ``$GEOSERVICE_DATA`` or the shipped
    data). :class:`geoservice.catalog.DataError` with one line when it cannot be opened."""
    target = target or os.environ.get(STORE_ENV) or None
    if target is not None and is_dsn(str(target)):
        return PostgisStore(str(target))
    return FileStore.open(target)


__all__ = [
    "STORE_ENV",
    "FileStore",
    "FilterError",
    "PostgisStore",
    "Query",
    "QueryResult",
    "SortKey",
    "Store",
    "is_dsn",
    "open_store",
]
