"""CQL2 (OGC API - Features Part 3) and ``sortby`` parsing, checked against a layer's queryables.

Both cql2-text and cql2-json are parsed with pygeofilter into one AST; attributes outside the
queryables are refused so a typo is a 400, not an empty answer.
"""

from __future__ import annotations

import json

from lark.exceptions import LarkError
from pygeofilter import ast
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from .base import FilterError, SortKey

CQL2_TEXT = "cql2-text"
CQL2_JSON = "cql2-json"
FILTER_LANGS = (CQL2_TEXT, CQL2_JSON)

#: The geometry queryable (OGC API - Features Part 3 names it ``geometry``).
GEOMETRY = "geometry"
#: Validity dates, for the temporal operators (ISO dates, ``valid_to`` null while in force).
DATE_FIELDS = ("valid_from", "valid_to")


#: Properties every feature has that a filter or a sort may name besides the layer's queryables.
COMMON_FIELDS = ("id", "name")


def filter_queryables(queryables: tuple[str, ...]) -> tuple[str, ...]:
    """The names a CQL2 filter may use on a layer (what its queryables resource publishes):
    ``id``, ``name``, its queryables, the validity dates and ``geometry``."""
    return (*COMMON_FIELDS, *queryables, *DATE_FIELDS, GEOMETRY)


def sortables(queryables: tuple[str, ...]) -> tuple[str, ...]:
    """The names ``sortby`` may use: the filterable properties but ``geometry``."""
    return tuple(n for n in filter_queryables(queryables) if n != GEOMETRY)


def attributes(node) -> set[str]:
    """Every attribute name an AST refers to."""
    found: set[str] = set()
    if isinstance(node, ast.Attribute):
        found.add(node.name)
    elif isinstance(node, ast.Node):
        for child in node.get_sub_nodes():
            found |= attributes(child)
    elif isinstance(node, list | tuple):
        for child in node:
            found |= attributes(child)
    return found


def parse_filter(text: str, lang: str | None, allowed: tuple[str, ...]) -> ast.Node:
    """Parse a ``filter`` in ``lang`` (default cql2-text); FilterError with a readable reason."""
    lang = lang or CQL2_TEXT
    if lang not in FILTER_LANGS:
        raise FilterError(f"filter-lang={lang!r} is not one of: {', '.join(FILTER_LANGS)}")
    if not text.strip():
        raise FilterError("filter= is empty")
    try:
        if lang == CQL2_JSON:
            node = parse_json(json.loads(text))
        else:
            node = parse_text(text)
    except (LarkError, ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FilterError(f"filter is not valid {lang}: {reason}") from None
    if not isinstance(node, ast.Node) or isinstance(node, ast.Attribute):
        raise FilterError(f"filter is not a {lang} condition")
    unknown = sorted(attributes(node) - set(allowed))
    if unknown:
        raise FilterError(
            f"filter names {', '.join(unknown)}: not queryable here; use {', '.join(allowed)}"
        )
    return node


def parse_sortby(raw: str, allowed: tuple[str, ...]) -> list[SortKey]:
    """``sortby=+a,-b`` (``+`` or nothing ascending, ``-`` descending) as sort keys."""
    keys = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in allowed:
            raise FilterError(f"sortby={name!r} is not one of: {', '.join(allowed)}")
        keys.append(SortKey(name, descending))
    if not keys:
        raise FilterError("sortby= is empty")
    return keys
