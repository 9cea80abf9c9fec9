"""CQL2 to parameterised SQL for the PostGIS store: pygeofilter's AST in, psycopg ``sql`` out.

pygeofilter's own SQL backend writes literals into the SQL text (``f"'{value}'"``), so a quote in
a filter value would change the statement; here every literal is a named placeholder bound by
the server, and attribute names reach SQL only through the layer's column map (identifiers from
the layer list, never from the request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import orjson
from psycopg import sql
from psycopg.types.json import Jsonb
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle

from .base import FilterError

_COMPARISON = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
_ARITHMETIC = {
    ast.ArithmeticOp.ADD: "+",
    ast.ArithmeticOp.SUB: "-",
    ast.ArithmeticOp.MUL: "*",
    ast.ArithmeticOp.DIV: "/",
}
_SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: "ST_Intersects",
    ast.SpatialComparisonOp.DISJOINT: "ST_Disjoint",
    ast.SpatialComparisonOp.CONTAINS: "ST_Contains",
    ast.SpatialComparisonOp.WITHIN: "ST_Within",
    ast.SpatialComparisonOp.TOUCHES: "ST_Touches",
    ast.SpatialComparisonOp.CROSSES: "ST_Crosses",
    ast.SpatialComparisonOp.OVERLAPS: "ST_Overlaps",
    ast.SpatialComparisonOp.EQUALS: "ST_Equals",
}
_ARRAY = {
    ast.ArrayComparisonOp.AEQUALS: "=",
    ast.ArrayComparisonOp.ACONTAINS: "@>",
    ast.ArrayComparisonOp.ACONTAINEDBY: "<@",
}
_ENVELOPE = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4326)")


class Column:
    """A column a filter may name: its SQL expression and JSON type (string, number, array,
    date, geometry)."""

    def __init__(self, expr: sql.Composable, kind: str):
        self.expr = expr
        self.kind = kind


class SQLFilter(Evaluator):
    """Evaluates a pygeofilter AST to a ``sql.Composed`` condition; literals land in ``params``
    (placeholder name -> value) for the server to bind."""

    def __init__(self, columns: Mapping[str, Column]):
        self.columns = columns
        self.params: dict[str, object] = {}

    def bind(self, value) -> sql.Placeholder:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def column(self, node) -> Column:
        if not isinstance(node, ast.Attribute):
            raise FilterError("the left side of this operator must be a property name")
        try:
            return self.columns[node.name]
        except KeyError:
            raise FilterError(f"filter names {node.name}: not queryable here") from None

    @handle(ast.Not)
    def not_(self, node, sub):
        return sql.SQL("(NOT {})").format(sub)

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        return sql.SQL("({} " + node.op.value + " {})").format(lhs, rhs)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        self._scalar(node.lhs)
        return sql.SQL("({} " + _COMPARISON[node.op] + " {})").format(lhs, rhs)

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        self._scalar(node.lhs)
        word = "NOT BETWEEN" if node.not_ else "BETWEEN"
        return sql.SQL("({} " + word + " {} AND {})").format(lhs, low, high)

    @handle(ast.Like)
    def like(self, node, lhs):
        self._scalar(node.lhs)
        pattern = node.pattern
        if node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%")
        if node.singlechar != "_":
            pattern = pattern.replace(node.singlechar, "_")
        word = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        return sql.SQL("({}::text " + word + " {} ESCAPE {})").format(
            lhs, self.bind(pattern), self.bind(node.escapechar or "\\")
        )

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        self._scalar(node.lhs)
        word = "NOT IN" if node.not_ else "IN"
        return sql.SQL("({} " + word + " ({}))").format(lhs, sql.SQL(", ").join(options))

    @handle(ast.IsNull)
    def null(self, node, lhs):
        return sql.SQL("({} IS " + ("NOT " if node.not_ else "") + "NULL)").format(lhs)

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs, rhs):
        if self.column(node.lhs).kind != "date":
            raise FilterError(f"{node.op.value}: the property must be valid_from or valid_to")
        start, end = _interval(node.rhs)
        first, last = self.bind(start), self.bind(end)
        op = node.op
        if op == ast.TemporalComparisonOp.AFTER:
            return sql.SQL("({} > {})").format(lhs, last)
        if op == ast.TemporalComparisonOp.BEFORE:
            return sql.SQL("({} < {})").format(lhs, first)
        if op == ast.TemporalComparisonOp.DURING:
            return sql.SQL("({} > {} AND {} < {})").format(lhs, first, lhs, last)
        if op == ast.TemporalComparisonOp.TEQUALS:
            return sql.SQL("({} = {} AND {} = {})").format(lhs, first, lhs, last)
        if op == ast.TemporalComparisonOp.DISJOINT:
            return sql.SQL("(NOT ({} BETWEEN {} AND {}))").format(lhs, first, last)
        raise FilterError(f"temporal operator {op.value} is not supported on dates")

    @handle(ast.ArrayPredicate, subclasses=True)
    def array(self, node, lhs, rhs):
        if self.column(node.lhs).kind != "array":
            raise FilterError(f"{node.op.value}: the property must be a list")
        items = node.rhs if isinstance(node.rhs, list | tuple) else [node.rhs]
        if any(isinstance(v, ast.Node) for v in items):
            raise FilterError(f"{node.op.value}: the values must be literals")
        bound = self.bind(Jsonb(list(items)))
        if node.op == ast.ArrayComparisonOp.AOVERLAPS:
            return sql.SQL(
                "(EXISTS (SELECT 1 FROM jsonb_array_elements({}) v WHERE {} @> v))"
            ).format(bound, lhs)
        return sql.SQL("({} " + _ARRAY[node.op] + " {})").format(lhs, bound)

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs, rhs):
        if self.column(node.lhs).kind != "geometry":
            raise FilterError(f"{node.op.name}: the property must be geometry")
        return sql.SQL(_SPATIAL[node.op] + "({}, {})").format(lhs, rhs)

    @handle(ast.BBox)
    def bbox(self, node, lhs):
        if self.column(node.lhs).kind != "geometry":
            raise FilterError("BBOX: the property must be geometry")
        box = [self.bind(float(v)) for v in (node.minx, node.miny, node.maxx, node.maxy)]
        return sql.SQL("ST_Intersects({}, {})").format(lhs, _ENVELOPE.format(*box))

    @handle(ast.Attribute)
    def attribute(self, node):
        return self.column(node).expr

    @handle(ast.Arithmetic, subclasses=True)
    def arithmetic(self, node, lhs, rhs):
        return sql.SQL("({} " + _ARITHMETIC[node.op] + " {})").format(lhs, rhs)

    @handle(ast.Function)
    def function(self, node, *arguments):
        raise FilterError(f"function {node.name}() is not supported")

    @handle(*values.LITERALS)
    def literal(self, node):
        return self.bind(node)

    @handle(values.Interval)
    def interval(self, node, *parts):
        raise FilterError("an interval is only allowed in a temporal operator")

    @handle(values.Geometry)
    def geometry(self, node):
        text = orjson.dumps(node.geometry).decode()
        return sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}), 4326)").format(self.bind(text))

    @handle(values.Envelope)
    def envelope(self, node):
        box = [self.bind(float(v)) for v in (node.x1, node.y1, node.x2, node.y2)]
        return _ENVELOPE.format(*box)

    def _scalar(self, node) -> None:
        if isinstance(node, ast.Attribute) and self.column(node).kind in ("array", "geometry"):
            kind = self.column(node).kind
            hint = "A_CONTAINS" if kind == "array" else "S_INTERSECTS"
            raise FilterError(f"{node.name} is a {kind}: compare it with {hint}")


def _interval(value) -> tuple:
    """(start, end) of a temporal literal: an instant, or an interval (open ends as extremes)."""
    if isinstance(value, values.Interval):
        start = value.start if value.start not in (None, "..") else dt.date.min
        end = value.end if value.end not in (None, "..") else dt.date.max
        if isinstance(start, dt.timedelta) or isinstance(end, dt.timedelta):
            raise FilterError("an interval given by a duration is not supported")
        return start, end
    if isinstance(value, dt.date):
        return value, value
    raise FilterError("a temporal operator needs a DATE, TIMESTAMP or INTERVAL")


def to_sql(node: ast.Node, columns: Mapping[str, Column]) -> tuple[sql.Composable, dict]:
    """The SQL condition for a parsed CQL2 filter and its bound values."""
    evaluator = SQLFilter(columns)
    try:
        condition = evaluator.evaluate(node)
    except NotImplementedError as exc:
        raise FilterError(f"filter cannot be evaluated: {exc}") from None
    if not isinstance(condition, sql.Composable):
        raise FilterError("filter is not a condition on each feature")
    return condition, evaluator.params
