"""Where the layers live: one interface (:mod:`.base`), the in-memory file store (:mod:`.file`)."""

from .base import FilterError, Query, QueryResult, SortKey, Store
from .file import FileStore

__all__ = ["FileStore", "FilterError", "Query", "QueryResult", "SortKey", "Store"]
