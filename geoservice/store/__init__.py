"""Where the layers live: one interface (:mod:`.base`), the in-memory file store (:mod:`.file`)."""

from .base import (
    ConflictError,
    Edit,
    EditError,
    FilterError,
    MissingError,
    Query,
    QueryResult,
    ReadOnlyError,
    Revision,
    SortKey,
    Store,
)
from .file import FileStore

__all__ = [
    "ConflictError",
    "Edit",
    "EditError",
    "FileStore",
    "FilterError",
    "MissingError",
    "Query",
    "QueryResult",
    "ReadOnlyError",
    "Revision",
    "SortKey",
    "Store",
]
