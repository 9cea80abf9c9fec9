"""The PostGIS store: every layer in PostgreSQL + PostGIS, the queries answered in SQL.

One table per layer in schema ``geoservice`` (``geoservice.borders``, ...): ``id`` (primary
key), ``seq`` (the order of the data file), ``geom geometry(Geometry, 4326)`` with a GiST index,
``valid_from``/``valid_to`` dates, ``props`` (the feature's properties, jsonb), the geodesic
``length_km``/``area_km2`` (WGS84, computed with :mod:`geoservice.geodesy` when written), and one
generated column per queryable (btree, or GIN for lists). ``geoservice.layers`` lists the loaded
layers with a version that a statement trigger bumps on every change, so the in-memory copy the
measurement engine reads (:meth:`PostgisStore.layer_data`) is rebuilt after any write, by any
process.

bbox (``&&`` + ``ST_Intersects``; a box crossing the antimeridian as two), dates, views, property
filters, CQL2 (:mod:`.sqlfilter`, parameterised), ``sortby``, paging and the matched count are
SQL. Connections: one per thread and process (safe under gunicorn's ``--preload`` fork), made
within the settings' ``db_connect_timeout``, each statement answered within
``db_answer_timeout`` (else :class:`StoreUnavailable`, a 503), replaced when the server ended
them (a restart) or they failed.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import psycopg
import shapely
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from .. import geodesy
from ..catalog import Catalog, DataError, LayerData, boxes, data_dir, frame_from_features
from ..layers import LAYERS, Layer
from ..settings import settings
from .base import (
    FilterError,
    LayerSummary,
    LayerTooLarge,
    Query,
    QueryResult,
    SortKey,
    StoreUnavailable,
)
from .cql import DATE_FIELDS, GEOMETRY
from .postgis_edits import PostgisEdits, revisions_ddl
from .sqlfilter import Column, to_sql

SCHEMA = "geoservice"
#: DSN prefixes that select this store (``--store``, ``$GEOSERVICE_STORE``).
DSN_PREFIXES = ("postgresql://", "postgres://")
_SQL_TYPES = {"string": "text", "number": "double precision", "array": "jsonb"}
#: One feature by id, as GET answers it (a write's If-Match is checked against the same text).
FEATURE_SQL = "SELECT props::text, ST_AsGeoJSON(geom, 17) FROM {} WHERE id = %s"


def is_dsn(value: str | None) -> bool:
    """True if ``value`` names a PostgreSQL database (``postgresql://…``)."""
    return bool(value) and str(value).startswith(DSN_PREFIXES)


def field_kind(layer: Layer, name: str) -> str:
    """JSON type of a property of ``layer``: its own fields', else a common field's (string)."""
    if name in DATE_FIELDS:
        return "date"
    return layer.fields.get(name, "string")


def table(layer_id: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, layer_id)


def columns(layer: Layer) -> dict[str, Column]:
    """What a filter or sort key may name on ``layer``: id, dates, geometry, the queryables."""
    out = {
        "id": Column(sql.Identifier("id"), "string"),
        GEOMETRY: Column(sql.Identifier("geom"), "geometry"),
    }
    for name in DATE_FIELDS:
        out[name] = Column(sql.Identifier(name), "date")
    for name in layer.queryables:
        out[name] = Column(sql.Identifier(name), field_kind(layer, name))
    return out


def property_column(layer: Layer, name: str) -> Column:
    """A column for any property (queryables and dates have their own; others from ``props``)."""
    known = columns(layer)
    if name in known:
        return known[name]
    kind = field_kind(layer, name)
    op = "->" if kind == "array" else "->>"
    expr = sql.SQL("(props " + op + " {})").format(sql.Literal(name))
    if kind == "number":
        expr = sql.SQL("({}::double precision)").format(expr)
    return Column(expr, kind)


def create_table_sql(layer: Layer) -> tuple[sql.Composed, sql.Composed]:
    """DDL of a layer's table, and of its indexes and change trigger (run after a bulk COPY)."""
    generated = []
    indexes = [
        sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table(layer.id)),
        sql.SQL("CREATE INDEX ON {} (valid_from, valid_to)").format(table(layer.id)),
        sql.SQL("CREATE INDEX ON {} (seq)").format(table(layer.id)),
    ]
    for name in layer.queryables:
        kind = field_kind(layer, name)
        source = sql.SQL("props -> {}" if kind == "array" else "props ->> {}").format(
            sql.Literal(name)
        )
        if kind == "number":
            source = sql.SQL("({})::double precision").format(source)
        generated.append(
            sql.SQL("{} {} GENERATED ALWAYS AS ({}) STORED").format(
                sql.Identifier(name), sql.SQL(_SQL_TYPES[kind]), source
            )
        )
        method = sql.SQL("gin" if kind == "array" else "btree")
        indexes.append(
            sql.SQL("CREATE INDEX ON {} USING {} ({})").format(
                table(layer.id), method, sql.Identifier(name)
            )
        )
    create = sql.SQL(
        "CREATE TABLE {} ("
        "id text PRIMARY KEY, seq integer NOT NULL, "
        "geom geometry(Geometry, 4326) NOT NULL, valid_from date, valid_to date, "
        "length_km double precision NOT NULL, area_km2 double precision NOT NULL, "
        "props jsonb NOT NULL, "
        "views jsonb GENERATED ALWAYS AS "
        "(CASE jsonb_typeof(props -> 'views') WHEN 'array' THEN props -> 'views' END) STORED"
        "{})"
    ).format(table(layer.id), sql.SQL("").join(sql.SQL(", ") + g for g in generated))
    trigger = sql.SQL(
        "CREATE TRIGGER changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
        "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
    ).format(table(layer.id), sql.Identifier(SCHEMA, "bump_version"))
    return create, sql.SQL("; ").join([*indexes, trigger])


_SETUP = f"""
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.layers (
    id text PRIMARY KEY, seq integer NOT NULL, version bigint NOT NULL DEFAULT 1,
    loaded_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE OR REPLACE FUNCTION {SCHEMA}.bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {SCHEMA}.layers SET version = version + 1 WHERE id = TG_TABLE_NAME;
    RETURN NULL;
END $$;
{revisions_ddl(SCHEMA)}"""


class AnsweringConnection(psycopg.Connection):
    """A connection whose every wait for the server ends after the settings'
    ``db_answer_timeout`` (seconds): then it is closed and the wait raises
    :class:`psycopg.OperationalError` (a frozen or cut-off database never hangs a worker)."""

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        limit = settings().db_answer_timeout if timeout is None else timeout
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:  # the only way psycopg says so
            self.close()  # mid-statement: unusable (a transaction is rolled back by the server)
            raise psycopg.OperationalError(
                f"no answer within {limit:g} s (GEOSERVICE_DB_ANSWER_TIMEOUT)"
            ) from None


def connect(dsn: str, connection_class: type = psycopg.Connection, **kw) -> psycopg.Connection:
    """A connection (``connection_class``) to ``dsn`` within the settings'
    ``db_connect_timeout`` (seconds), or :class:`StoreUnavailable` with one readable line."""
    try:
        return connection_class.connect(dsn, connect_timeout=settings().db_connect_timeout, **kw)
    except (psycopg.Error, psycopg.ProgrammingError) as exc:
        raise StoreUnavailable(f"cannot connect to the database {redacted(dsn)}: {oneline(exc)}")


def dropped(conn: psycopg.Connection) -> bool:
    """Whether the server ended this idle connection: it has something to read though nothing
    was asked (the server's last message or the end of the stream; one poll, no wait)."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return False  # a transaction under way (an outer block's): its own errors tell
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def oneline(exc: Exception) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def redacted(dsn: str) -> str:
    """The DSN with any password replaced by ``***`` (for messages)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unreadable DSN)"
    if "password" in info:
        info["password"] = "***"
    host = info.get("host", "")
    port = f":{info['port']}" if "port" in info else ""
    return f"{host}{port}/{info.get('dbname', '')}"


def load_directory(dsn: str, path: str | os.PathLike | None = None) -> dict[str, int]:
    """Load every layer of a data directory into the database ``dsn``, in one transaction.

    Each layer's table is dropped and re-created, so loading twice gives the same tables
    (idempotent); readers see the old data until the commit. Returns rows per layer. The data
    must pass the structural checks the service starts with (``geoservice validate`` without
    the geometry checks); lengths and areas are measured here as the file store measures them.
    """
    from ..validate import check_structure

    with connect(dsn) as conn:  # an unreachable database fails before the slow checks
        problems, layers = check_structure(path, geometry=False)
        if problems:
            lines = "\n".join(f"  {p}" for p in problems)
            raise DataError(f"the data has {len(problems)} problem(s); not loading:\n{lines}")
        directory = data_dir(path)
        try:
            with conn.transaction():
                conn.execute(_SETUP)
                counts = {}
                for seq, (layer_id, features) in enumerate(layers.items()):
                    counts[layer_id] = write_layer(conn, LAYERS[layer_id], features, seq)
                sources = directory / "sources.json"
                conn.execute(
                    f"INSERT INTO {SCHEMA}.meta VALUES ('sources', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [Jsonb(orjson.loads(sources.read_bytes()) if sources.exists() else {})],
                )
        except psycopg.Error as exc:
            raise DataError(f"loading failed: {oneline(exc)}") from None
    return counts


#: Matched counts kept per store (then the cache starts again).
MAX_COUNTS = 4096
#: Features measured and copied per batch (bounds the memory of a large load).
BATCH = 20_000


def measured_rows(layer_id: str, features: list[dict]) -> list[tuple]:
    """A layer table's values per feature but ``seq``: (id, geometry as EWKB with SRID 4326,
    valid_from, valid_to, geodesic length in km and area in km² on WGS84, properties), as the
    file store measures them."""
    try:
        geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    except (KeyError, TypeError, shapely.errors.GEOSException) as exc:
        raise DataError(f"{layer_id}: a feature has no readable geometry ({exc})") from None
    lengths, areas = geodesy.lengths_km(geoms), geodesy.areas_km2(geoms)
    wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), include_srid=True)
    return [
        (
            f["properties"]["id"],
            wkb[i],
            _date(f["properties"].get("valid_from")),
            _date(f["properties"].get("valid_to")),
            float(lengths[i]),
            float(areas[i]),
            Jsonb(f["properties"]),
        )
        for i, f in enumerate(features)
    ]


def write_layer(conn: psycopg.Connection, layer: Layer, features: list[dict], seq: int) -> int:
    """(Re-)create one layer's table and fill it with COPY (binary), measuring each feature's
    geodesic length and area (WGS84) as the file store does. Returns the row count."""
    create, indexes = create_table_sql(layer)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table(layer.id)))
    conn.execute(create)
    copy = sql.SQL(
        "COPY {} (id, seq, geom, valid_from, valid_to, length_km, area_km2, props) "
        "FROM STDIN (FORMAT BINARY)"
    ).format(table(layer.id))
    with conn.cursor() as cur, cur.copy(copy) as out:
        out.set_types(["text", "int4", "bytea", "date", "date", "float8", "float8", "jsonb"])
        for start in range(0, len(features), BATCH):
            for i, row in enumerate(measured_rows(layer.id, features[start : start + BATCH])):
                out.write_row((row[0], start + i, *row[1:]))
    conn.execute(indexes)
    if layer.id == "borders":
        conn.execute(_BORDER_LENGTHS)
    conn.execute(sql.SQL("ANALYZE {}").format(table(layer.id)))
    conn.execute(
        f"INSERT INTO {SCHEMA}.layers (id, seq) VALUES (%s, %s) "
        "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
        f"version = {SCHEMA}.layers.version + 1, loaded_at = now()",
        (layer.id, seq),
    )
    return len(features)


#: The borders' length changes: +km on the day a state starts (-infinity: an open start), -km
#: on the day it ends, per pair (``ARM-AZE``), status, kind and views; the km valid on a day are
#: the sum up to that day. Rebuilt in one statement after a load, then kept by row triggers.
_BORDER_LENGTHS = f"""
DROP TABLE IF EXISTS {SCHEMA}.border_length_changes;
CREATE TABLE {SCHEMA}.border_length_changes (
    day date NOT NULL, countries text NOT NULL, status text NOT NULL, kind text NOT NULL,
    views jsonb, km double precision NOT NULL,
    UNIQUE NULLS NOT DISTINCT (day, countries, status, kind, views));
CREATE OR REPLACE FUNCTION {SCHEMA}.border_length_rows(r {SCHEMA}.borders)
RETURNS TABLE (day date, countries text, status text, kind text, views jsonb,
               km double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.day,
           array_to_string(ARRAY(SELECT jsonb_array_elements_text(r.props -> 'countries')), '-'),
           coalesce(r.status, ''), coalesce(r.kind, ''), r.views, e.km
    FROM (VALUES (coalesce(r.valid_from, '-infinity'::date), r.length_km),
                 (r.valid_to, -r.length_km)) AS e(day, km)
    WHERE e.day IS NOT NULL
$$;
CREATE OR REPLACE FUNCTION {SCHEMA}.border_length_change(r {SCHEMA}.borders,
                                                        sign double precision)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO {SCHEMA}.border_length_changes AS c
    SELECT day, countries, status, kind, views, sign * km FROM {SCHEMA}.border_length_rows(r)
    ON CONFLICT (day, countries, status, kind, views) DO UPDATE SET km = c.km + excluded.km
$$;
CREATE OR REPLACE FUNCTION {SCHEMA}.border_lengths_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM {SCHEMA}.border_length_change(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM {SCHEMA}.border_length_change(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
INSERT INTO {SCHEMA}.border_length_changes
SELECT l.day, l.countries, l.status, l.kind, l.views, sum(l.km)
FROM {SCHEMA}.borders b, LATERAL {SCHEMA}.border_length_rows(b) l
GROUP BY 1, 2, 3, 4, 5;
CREATE TRIGGER length_changes AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.borders
FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.border_lengths_changed();
"""


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


class PostgisStore(PostgisEdits):
    """Every layer of one PostgreSQL database (loaded with :func:`load_directory`);
    ``writable``: it takes edits (:mod:`.postgis_edits`)."""

    in_memory = False

    def __init__(self, dsn: str, writable: bool = False):
        self.dsn = dsn
        self._local = threading.local()
        self._lock = threading.Lock()
        #: layer id -> (version, LayerData) of the engine's in-memory copy.
        self._data: dict[str, tuple[int, LayerData]] = {}
        #: (layer, version, condition, values) -> matched count: a count over a large table is
        #: the slow half of a page; it is the same until the layer changes.
        self._counts: dict[tuple, int] = {}
        #: (layer, version, what) -> a summary of the layer computed in SQL (extents, values).
        self._summaries: dict[tuple, object] = {}
        with self.connection() as conn:
            try:
                rows = conn.execute(f"SELECT id FROM {SCHEMA}.layers ORDER BY seq").fetchall()
            except psycopg.errors.UndefinedTable:
                rows = []
        self._ids = [r[0] for r in rows if r[0] in LAYERS]
        if not self._ids:
            raise DataError(
                f"the database {redacted(dsn)} holds no geoservice layers; "
                "load them with: geoservice load DSN"
            )
        if writable:
            self._prepare_writes()

    @classmethod
    def open(cls, dsn: str, writable: bool = False) -> PostgisStore:
        return cls(dsn, writable)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """This thread's connection (autocommit; a new one after a fork, a broken link, or
        when the server ended it while it was idle, e.g. a database restart)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._local.pid != os.getpid() or dropped(conn):
            if conn is not None and self._local.pid == os.getpid():
                conn.close()
            conn = connect(self.dsn, AnsweringConnection, autocommit=True)
            self._local.conn, self._local.pid = conn, os.getpid()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise StoreUnavailable(f"the database {redacted(self.dsn)}: {oneline(exc)}") from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local = threading.local()

    # -- the interface ---------------------------------------------------------------------
    def layer(self, layer_id: str) -> Layer:
        if layer_id not in self._ids:
            raise KeyError(layer_id)
        return LAYERS[layer_id]

    def layer_ids(self) -> list[str]:
        return list(self._ids)

    def query(self, layer_id: str, query: Query) -> QueryResult:
        matched, rows = self._page(
            layer_id, query, sql.SQL("props::text, ST_AsGeoJSON(geom, 17)"), {}
        )
        return QueryResult(matched, [feature(p, g) for p, g in rows])

    def _page(
        self, layer_id: str, query: Query, select: sql.Composable, extra: dict
    ) -> tuple[int, list[tuple]]:
        """The matched count (cached per layer version) and the page's rows of ``select``
        (``extra``: the values its placeholders name)."""
        layer = self.layer(layer_id)
        where, params = where_clause(layer, query)
        count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table(layer_id), where)
        page = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}{}").format(
            select, table(layer_id), where, order_by(layer, query.sortby), paging(query, params)
        )
        version = self.version(layer_id)
        with self.connection() as conn:
            key = (layer_id, version, where.as_string(conn), _params_key(params))
            try:
                matched = self._counts.get(key)
                if matched is None:
                    matched = conn.execute(count, params).fetchone()[0]
                    if len(self._counts) >= MAX_COUNTS:
                        self._counts.clear()
                    self._counts[key] = matched
                rows = []
                if matched > query.offset:
                    rows = conn.execute(page, {**params, **extra}).fetchall()
            except (psycopg.errors.DataError, psycopg.errors.SyntaxErrorOrAccessRuleViolation) as e:
                raise FilterError(f"filter cannot be evaluated: {e.diag.message_primary}") from None
        return matched, rows

    def get(self, layer_id: str, feature_id: str) -> dict | None:
        statement = sql.SQL(FEATURE_SQL)
        with self.connection() as conn:
            row = conn.execute(statement.format(table(self.layer(layer_id).id)), [feature_id])
            row = row.fetchone()
        return None if row is None else feature(*row)

    def version(self, layer_id: str) -> int:
        """The layer's change counter (bumped by every write to its table)."""
        with self.connection() as conn:
            row = conn.execute(f"SELECT version FROM {SCHEMA}.layers WHERE id = %s", [layer_id])
            return row.fetchone()[0]

    def warm(self) -> tuple:
        """Every layer within ``max_memory_rows`` read into memory if not already at its
        current version (one query for the versions); a larger layer stays in the database
        (the engine's use of it is refused there). Returns the versions."""
        with self.connection() as conn:
            versions = dict(conn.execute(f"SELECT id, version FROM {SCHEMA}.layers").fetchall())
        for layer_id in self._ids:
            cached = self._data.get(layer_id)
            if cached is None or cached[0] != versions[layer_id]:
                try:
                    self.layer_data(layer_id)
                except LayerTooLarge:
                    pass
        return tuple(versions[layer_id] for layer_id in self._ids)

    def layer_data(self, layer_id: str) -> LayerData:
        """The layer in memory for the engine, built from the database on first use and again
        after any change (the version check is one indexed row); :class:`LayerTooLarge` past
        the settings' ``max_memory_rows`` (read whole, it would exhaust a worker's memory)."""
        layer = self.layer(layer_id)
        version = self.version(layer_id)
        cached = self._data.get(layer_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            cached = self._data.get(layer_id)
            if cached is not None and cached[0] == version:
                return cached[1]
            rows, limit = self.summary(layer_id).count, settings().max_memory_rows
            if rows > limit:
                raise LayerTooLarge(
                    f"layer {layer_id} is too large for in-memory analysis on this store: "
                    f"{rows:,} rows, the limit is {limit:,} (GEOSERVICE_MAX_MEMORY_ROWS); "
                    "its items, lengths and extents are answered in SQL"
                )
            data = self._read_layer(layer)
            self._data[layer_id] = (version, data)
            return data

    def _read_layer(self, layer: Layer) -> LayerData:
        statement = sql.SQL(
            "SELECT props::text, ST_AsBinary(geom), length_km, area_km2 FROM {} ORDER BY seq"
        ).format(table(layer.id))
        with self.connection() as conn:
            rows = conn.execute(statement).fetchall()
        geoms = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else np.array([])
        shapes = shapely.to_geojson(geoms) if rows else []
        features = [feature(r[0], g) for r, g in zip(rows, shapes)]
        return LayerData(
            layer=layer,
            features=features,
            frame=frame_from_features(features, geoms),
            length_km=np.array([r[2] for r in rows], dtype=float),
            area_km2=np.array([r[3] for r in rows], dtype=float),
        )

    def sources(self) -> dict:
        """The seed articles' table, loaded with the data (``meta``)."""
        with self.connection() as conn:
            row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'sources'")
            row = row.fetchone()
        return row[0] if row else {}

    def as_catalog(self) -> Catalog:
        """Every layer in memory (:meth:`layer_data`) as a catalog, with the sources table."""
        layers = {lid: self.layer_data(lid) for lid in self._ids}
        return Catalog(Path("."), layers, sources=self.sources())

    # -- beyond the interface: aggregates in SQL ------------------------------------------------
    def lengths_by_status(
        self,
        day: dt.date,
        view: str,
        kind: str | None = "international",
        pair: str | None = None,
    ) -> dict[str, float]:
        """km of ``borders`` valid on ``day`` in ``view`` per status (geodesic, WGS84; of one
        ``pair`` such as ``ARM-AZE`` if given): the sum of the length changes up to ``day``
        (``geoservice.border_length_changes``), the engine's own lengths, without reading the
        segments."""
        rows = self._length_sums(["status"], day, view, kind, None, pair)
        return {status: km for status, km in rows}

    # -- served without reading a layer whole: summaries, pages, border lengths -------------
    def _cached(self, layer_id: str, what: str, compute):
        """``compute(conn)`` once per layer version (a summary of the layer in SQL)."""
        key = (layer_id, self.version(layer_id), what)
        hit = self._summaries.get(key)
        if hit is None:
            with self.connection() as conn:
                hit = compute(conn)
            if len(self._summaries) >= MAX_COUNTS:
                self._summaries.clear()
            self._summaries[key] = hit
        return hit

    def _shared(self, conn, layer_id: str, what: str, statement) -> list:
        """The rows of ``statement`` (a scan of the layer), kept in ``meta`` under
        ``<what>:<layer>`` with the layer's version, so every process computes them once per
        version (a read-only role only loses that)."""
        key, version = f"{what}:{layer_id}", self.version(layer_id)
        stored = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", [key]).fetchone()
        if stored is not None and stored[0].get("version") == version and "rows" in stored[0]:
            return stored[0]["rows"]
        rows = [list(r) for r in conn.execute(statement).fetchall()]
        try:
            conn.execute(
                f"INSERT INTO {SCHEMA}.meta VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, Jsonb({"version": version, "rows": rows})],
            )
        except psycopg.errors.InsufficientPrivilege:
            pass
        return rows

    def summary(self, layer_id: str) -> LayerSummary:
        """The layer's row count, exact bounding box (CRS84) and temporal extent, in SQL: once
        per layer version for every process (:meth:`_shared`; a full scan, about 2 s at a
        million rows), then from memory."""
        statement = sql.SQL(
            "SELECT count(*), min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
            "max(ST_YMax(geom)), bool_or(valid_from IS NULL), min(valid_from)::text, "
            "bool_or(valid_to IS NULL), max(valid_to)::text FROM {}"
        ).format(table(self.layer(layer_id).id))

        def compute(conn) -> LayerSummary:
            (row,) = self._shared(conn, layer_id, "summary", statement)
            n, x0, y0, x1, y1, open_start, start, open_end, end = row
            return LayerSummary(
                count=n,
                extent=(x0, y0, x1, y1) if n else None,
                temporal_extent=(None if open_start else start, None if open_end else end),
            )

        return self._cached(layer_id, "summary", compute)

    def values(self, layer_id: str, name: str) -> list[str]:
        """The distinct values of a queryable (each item of a list property), sorted; once per
        layer version for every process (:meth:`_shared`)."""
        column = property_column(self.layer(layer_id), name)
        if column.kind == "array":
            expr = sql.SQL(
                "jsonb_array_elements_text(CASE jsonb_typeof({0}) WHEN 'array' THEN {0} END)"
            ).format(column.expr)
            statement = sql.SQL("SELECT DISTINCT v FROM {}, {} AS v").format(table(layer_id), expr)
        else:
            statement = sql.SQL("SELECT DISTINCT {0}::text FROM {1} WHERE {0} IS NOT NULL").format(
                column.expr, table(layer_id)
            )

        def compute(conn) -> list[str]:
            rows = self._shared(conn, layer_id, f"values:{name}", statement)
            return sorted(r[0] for r in rows if r[0] is not None)

        return self._cached(layer_id, f"values:{name}", compute)

    def served_rows(
        self, layer_id: str, query: Query, display: tuple[float, int] | None = None
    ) -> tuple[int, list[tuple]]:
        """The matched count and the page as served: (properties as JSON text, geometry,
        geometry type, length_km, area_km2, id) per feature. The geometry is GeoJSON text, or
        with ``display`` = (tolerance in degrees, decimals) simplified in SQL
        (``ST_SimplifyPreserveTopology``, then ``ST_ReducePrecision`` to that grid: what the
        file store does with shapely); polygons then come as WKB, for the caller to drop the
        specks before simplifying (see :func:`geoservice.ogcapi.display_geometries`)."""
        polygons = bool(set(self.layer(layer_id).geometry_types) & {"Polygon", "MultiPolygon"})
        extra: dict = {}
        if display is None:
            geometry = sql.SQL("ST_AsGeoJSON(geom, 17)")
        elif polygons:
            geometry = sql.SQL("ST_AsBinary(geom)")
        else:
            tolerance, decimals = display
            extra = {"tol": tolerance, "grid": 10.0**-decimals, "digits": decimals}
            geometry = sql.SQL(
                "ST_AsGeoJSON((SELECT CASE WHEN GeometryType(geom) LIKE 'MULTI%%' "
                "THEN ST_Multi(g) ELSE g END FROM (SELECT ST_ReducePrecision("
                "ST_SimplifyPreserveTopology(geom, %(tol)s), %(grid)s) AS g) AS d), %(digits)s)"
            )
        select = sql.SQL("props::text, {}, GeometryType(geom), length_km, area_km2, id").format(
            geometry
        )
        return self._page(layer_id, query, select, extra)

    def length_totals(
        self, day: dt.date, view: str, status: str | None, kind: str | None
    ) -> list[tuple[str, str, float]]:
        """km of ``borders`` valid on ``day`` in ``view`` per (country pair ``A-B`` as listed,
        status), of one ``status`` and ``kind`` if given (geodesic, WGS84): sums of the length
        changes up to ``day`` (:meth:`lengths_by_status`), without reading the segments."""
        return self._length_sums(["countries", "status"], day, view, kind, status, None)

    def _length_sums(self, group: list[str], day, view, kind, status, pair) -> list[tuple]:
        """The sums of the length changes up to ``day`` (km) by the ``group`` columns, of one
        ``kind``, ``status`` and ``pair`` if given; sums that cancel out left out."""
        columns = sql.SQL(", ").join(map(sql.Identifier, group))
        statement = sql.SQL(
            "SELECT {0}, sum(km) FROM {1}.border_length_changes WHERE day <= %(day)s AND {2} "
            "AND (%(kind)s::text IS NULL OR kind = %(kind)s) "
            "AND (%(status)s::text IS NULL OR status = %(status)s) "
            "AND (%(pair)s::text IS NULL OR countries = %(pair)s) GROUP BY {0}"
        ).format(columns, sql.Identifier(SCHEMA), _in_view())
        params = {"day": day, "view": view, "kind": kind, "status": status, "pair": pair}
        with self.connection() as conn:
            rows = conn.execute(statement, params).fetchall()
        return [(*r[:-1], float(r[-1])) for r in rows if abs(r[-1]) > 1e-9]

    def border_segments(
        self, query: Query, codes: list[str] | None, lang: str = "en"
    ) -> list[tuple]:
        """The borders a lengths query counts, in layer order: (id, name, sorted pair as
        ``A-B``, status, kind, accuracy, length_km, WKB or None, name in ``lang`` or None).
        ``query``: the date, view,
        status, kind and bbox; ``codes``: one country (its borders) or more (those between any
        two of them). The WKB is given only with a bbox, for the segments not wholly in it."""
        layer = self.layer("borders")
        where, params = where_clause(layer, query)
        if codes is not None and len(codes) > 2:  # any two of them (two: the filter holds both)
            params["codes"] = list(codes)
            where = sql.SQL(
                "{} AND (SELECT count(DISTINCT c) FROM "
                "jsonb_array_elements_text(countries) AS c WHERE c = ANY(%(codes)s)) "
                ">= 2"
            ).format(where)
        inside = sql.SQL("NULL")
        if query.bbox is not None:
            envelopes = [  # exact bounds (box3d), as the engine compares them
                sql.SQL(
                    "(ST_XMin(geom) >= {} AND ST_YMin(geom) >= {} AND ST_XMax(geom) <= {} "
                    "AND ST_YMax(geom) <= {})"
                ).format(*(sql.Literal(float(v)) for v in box))
                for box in boxes(tuple(float(v) for v in query.bbox))
            ]
            inside = sql.SQL("CASE WHEN {} THEN NULL ELSE ST_AsBinary(geom) END").format(
                sql.SQL(" OR ").join(envelopes)
            )
        statement = sql.SQL(
            "SELECT id, props ->> 'name', array_to_string(ARRAY(SELECT c FROM "
            "jsonb_array_elements_text(props -> 'countries') AS c ORDER BY c COLLATE \"C\"), '-'), "
            "status, kind, accuracy, length_km, {}, props -> 'names' ->> %(lang)s "
            "FROM {} WHERE {} ORDER BY seq"
        ).format(inside, table("borders"), where)
        params["lang"] = lang
        with self.connection() as conn:
            return conn.execute(statement, params).fetchall()


def _params_key(params: dict) -> str:
    """The bound values of a condition as a hashable text (paging aside)."""
    values = ((k, getattr(v, "obj", v)) for k, v in params.items() if k not in ("limit", "offset"))
    return repr(sorted(values, key=lambda kv: kv[0]))


def feature(props: str, geometry: str) -> dict:
    """A GeoJSON feature from its properties and geometry as JSON text (the file's layout)."""
    properties = orjson.loads(props)
    return {
        "type": "Feature",
        "id": properties.get("id"),
        "geometry": orjson.loads(geometry),
        "properties": properties,
    }


def _in_view() -> sql.SQL:
    return sql.SQL("(views IS NULL OR views ? %(view)s)")


def where_clause(layer: Layer, query: Query) -> tuple[sql.Composable, dict]:
    """The SQL condition of every part of ``query`` (AND) and its bound values."""
    parts: list[sql.Composable] = [_in_view()]
    params: dict[str, object] = {"view": query.view}
    if query.interval is not None:
        start, end = query.interval
        if end is not None and end != dt.date.max:
            parts.append(sql.SQL("(valid_from IS NULL OR valid_from <= %(end)s)"))
            params["end"] = end
        if start is not None:
            parts.append(sql.SQL("(valid_to IS NULL OR valid_to > %(start)s)"))
            params["start"] = start
    for n, (name, wanted) in enumerate(query.filters.items()):
        column = property_column(layer, name)
        key = f"p{n}"
        if column.kind == "array":  # holds every value
            parts.append(sql.SQL("({} @> %({})s)").format(column.expr, sql.SQL(key)))
            params[key] = Jsonb(list(wanted))
        else:  # equals any value
            parts.append(sql.SQL("({}::text = ANY(%({})s))").format(column.expr, sql.SQL(key)))
            params[key] = list(wanted)
    if query.cql is not None:
        condition, bound = to_sql(query.cql, columns(layer))
        parts.append(condition)
        params.update(bound)
    if query.bbox is not None:
        parts.append(_bbox(query.bbox, params))
    return sql.SQL(" AND ").join(parts), params


def _bbox(bbox: tuple[float, float, float, float], params: dict) -> sql.Composable:
    """``&&`` (the GiST index) and ``ST_Intersects`` with the box; across the antimeridian (min
    lon > max lon) the union of the two boxes either side, as the file store does it."""
    tests = []
    for n, box in enumerate(boxes(tuple(float(v) for v in bbox))):
        names = [f"b{n}{k}" for k in "xyXY"]
        params.update(zip(names, (float(v) for v in box)))
        envelope = sql.SQL("ST_MakeEnvelope({}, 4326)").format(
            sql.SQL(", ").join(sql.Placeholder(k) for k in names)
        )
        tests.append(sql.SQL("(geom && {0} AND ST_Intersects(geom, {0}))").format(envelope))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(tests))


def order_by(layer: Layer, keys: list[SortKey]) -> sql.Composable:
    """ORDER BY of the sort keys (missing values last either way), then the file order."""
    terms = []
    for key in keys:
        column = property_column(layer, key.name)
        if column.kind == "geometry":
            raise FilterError("sortby=geometry: features cannot be sorted by geometry")
        expr = column.expr
        if column.kind == "array":  # lists sort by their text, as the file store does
            expr = sql.SQL("array_to_string(ARRAY(SELECT jsonb_array_elements_text({})), ',')")
            expr = expr.format(column.expr)
        if column.kind in ("array", "string"):
            expr = sql.SQL('{} COLLATE "C"').format(expr)  # code point order, as Python's
        direction = "DESC" if key.descending else "ASC"
        terms.append(sql.SQL("{} " + direction + " NULLS LAST").format(expr))
    terms.append(sql.SQL("seq"))
    return sql.SQL(", ").join(terms)


def paging(query: Query, params: dict) -> sql.Composable:
    params["offset"] = int(query.offset)
    if query.limit is None:
        return sql.SQL(" OFFSET %(offset)s")
    params["limit"] = int(query.limit)
    return sql.SQL(" LIMIT %(limit)s OFFSET %(offset)s")
