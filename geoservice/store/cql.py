"""CQL2 (OGC API - Features Part 3) and ``sortby`` parsing, checked against a layer's queryables.

Both cql2-text and cql2-json are parsed with pygeofilter into one AST; attributes outside the
queryables are refused so a typo is a 400, not an empty answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import shapely
from lark.exceptions import LarkError
from pygeofilter import ast, values
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


#: CQL2's ``T_AFTER(property, DATE('…'))``: pygeofilter's text grammar reads the infix form
#: ``property T_AFTER DATE('…')``, to which it is rewritten.
TEMPORAL_CALL = re.compile(
    r"\bT_([A-Z]+)\s*\(\s*([A-Za-z_]\w*)\s*,\s*((?:DATE|TIMESTAMP)\s*\(\s*'[^']*'\s*\))\s*\)",
    re.IGNORECASE,
)


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
            node = parse_text(TEMPORAL_CALL.sub(r"\2 T_\1 \3", text))
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
    return normalise(node)


#: Temporal predicates on instants, as comparisons of ISO dates (``valid_from`` and
#: ``valid_to`` are ISO date strings, which order as the dates do).
INSTANT_PREDICATES = {
    ast.TimeAfter: ast.GreaterThan,
    ast.TimeBefore: ast.LessThan,
    ast.TimeEquals: ast.Equal,
}


def normalise(node):
    """The AST in the terms every store evaluates: DATE/TIMESTAMP literals as ISO dates (UTC
    day), T_AFTER/T_BEFORE/T_EQUALS on instants as comparisons, BBOX(...) as a polygon."""
    if isinstance(node, dt.datetime):
        return (
            node.astimezone(dt.UTC).date().isoformat() if node.tzinfo else node.date().isoformat()
        )
    if isinstance(node, dt.date):
        return node.isoformat()
    if isinstance(node, list | tuple):
        return type(node)(normalise(child) for child in node)
    if isinstance(node, ast.Function) and node.name.lower() == "bbox":
        try:
            minx, miny, maxx, maxy = (float(v) for v in node.arguments)
        except (TypeError, ValueError):
            raise FilterError("BBOX takes 4 numbers: minLon, minLat, maxLon, maxLat") from None
        return values.Geometry(json.loads(shapely.to_geojson(shapely.box(minx, miny, maxx, maxy))))
    if isinstance(node, ast.TemporalPredicate):
        if type(node) not in INSTANT_PREDICATES or isinstance(node.rhs, values.Interval):
            raise FilterError(
                f"filter: {node.op.value} is not supported; compare dates with <, >, =, "
                "BETWEEN, or use T_AFTER, T_BEFORE, T_EQUALS on a date"
            )
        return INSTANT_PREDICATES[type(node)](normalise(node.lhs), normalise(node.rhs))
    if dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        changes = {f.name: normalise(getattr(node, f.name)) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
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
