"""Edits on the PostGIS store: each write one transaction.

The write takes the database's writers' lock (a transaction-level advisory lock, so revision
numbers count from 1 without gaps across every process and host), locks the feature row
(``SELECT … FOR UPDATE``), checks ``If-Match`` against the ETag computed from the row exactly
as a GET computes it, writes the rows (geodesic length and area measured as the load measures
them), and adds a row to ``geoservice.revisions``; the layer's statement trigger bumps its
version in ``geoservice.layers``, so every worker and app server sees the edit at its next
request. A crash before the commit leaves nothing; after it, everything. What a write means
(cleaning, the dated split, the merge patch) is :mod:`.edits`, shared with the file store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..catalog import DataError
from ..layers import Layer
from .base import Edit, EditError, MissingError, ReadOnlyError, Revision
from .edits import Draft, EditingStore, Plan

#: The key of the writers' advisory lock (any constant; one writer at a time per database).
WRITE_LOCK = 0x6765_6F65_6469_7473  # "geoedits"


def revisions_ddl(schema: str) -> str:
    """DDL of the revisions table (``geoservice load`` runs it; kept across loads)."""
    return f"""
CREATE TABLE IF NOT EXISTS {schema}.revisions (
    number bigint PRIMARY KEY, layer text NOT NULL, feature_id text NOT NULL,
    action text NOT NULL, author text NOT NULL, source text NOT NULL,
    at timestamptz NOT NULL, before jsonb, after jsonb, opened jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS revisions_feature ON {schema}.revisions (layer, feature_id);
CREATE INDEX IF NOT EXISTS revisions_opened ON {schema}.revisions USING gin (opened);
"""


class _Draft:
    """A layer inside a write transaction, as an edit plan reads it (:class:`.edits.Draft`)."""

    def __init__(self, conn: psycopg.Connection, layer: Layer, layer_ids: list[str]):
        self.conn, self.layer, self.layer_ids = conn, layer, layer_ids
        #: Ids read (and locked) that exist: a change to them is an UPDATE.
        self.existing: set[str] = set()

    def current(self, feature_id: str) -> dict | None:
        """The feature as GET reads it, its row locked until the commit."""
        from .postgis import FEATURE_SQL, feature, table

        statement = sql.SQL(FEATURE_SQL + " FOR UPDATE").format(table(self.layer.id))
        row = self.conn.execute(statement, [feature_id]).fetchone()
        if row is None:
            return None
        self.existing.add(feature_id)
        return feature(*row)

    def in_use(self, feature_id: str) -> bool:
        from .postgis import table

        tests = sql.SQL(" OR ").join(
            sql.SQL("EXISTS (SELECT 1 FROM {} WHERE id = %(id)s)").format(table(layer_id))
            for layer_id in self.layer_ids
        )
        row = self.conn.execute(sql.SQL("SELECT ") + tests, {"id": feature_id}).fetchone()
        return bool(row[0])


class PostgisEdits(EditingStore):
    """The write half of :class:`~.postgis.PostgisStore` (writable when the operator
    configures tokens, as for the file store)."""

    _writable = False

    @property
    def writable(self) -> bool:
        return self._writable

    def _prepare_writes(self) -> None:
        """Take writes: the revisions table must exist (created here for a database loaded
        before it existed; a role without DDL rights only needs it to be there)."""
        from .postgis import SCHEMA, oneline

        with self.connection() as conn:
            found = conn.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.revisions"]).fetchone()
            if found[0] is None:
                try:
                    conn.execute(revisions_ddl(SCHEMA))
                except psycopg.Error as exc:
                    raise DataError(
                        f"the database has no {SCHEMA}.revisions table for edits and cannot "
                        f"create it ({oneline(exc)}); load it again with geoservice load"
                    ) from None
        self._writable = True

    def _write(self, layer_id: str, edit: Edit, plan: Callable[[Draft], Plan]) -> Revision:
        from .postgis import oneline

        if not self._writable:
            raise ReadOnlyError("this database is served read-only")
        if layer_id not in self.layer_ids():
            raise MissingError(f"no collection {layer_id!r}")
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            draft = _Draft(conn, self.layer(layer_id), self.layer_ids())
            planned = plan(draft)
            try:
                return self._store(conn, draft, planned, edit)
            except (psycopg.IntegrityError, psycopg.DataError) as exc:
                raise EditError(f"the database refused the edit: {oneline(exc)}") from None

    def _store(self, conn: psycopg.Connection, draft: _Draft, planned: Plan, edit: Edit):
        """The planned rows and the revision row, in the caller's transaction."""
        from .postgis import SCHEMA

        layer_id = draft.layer.id
        for fid, new in planned.changes.items():
            _store_row(conn, layer_id, fid, new, fid in draft.existing)
        if planned.after is not None:  # as GET will answer it
            planned.after = draft.current(planned.feature_id)
        number = conn.execute(f"SELECT coalesce(max(number), 0) + 1 FROM {SCHEMA}.revisions")
        revision = planned.revision(number.fetchone()[0], layer_id, edit)
        conn.execute(
            f"INSERT INTO {SCHEMA}.revisions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                revision.number,
                layer_id,
                revision.feature_id,
                revision.action,
                revision.author,
                revision.source,
                revision.at,
                _jsonb(revision.before),
                _jsonb(revision.after),
                Jsonb(revision.opened),
            ],
        )
        return revision

    def history(self, layer_id: str, feature_id: str) -> list[Revision]:
        """The revisions naming the feature (written, or opened by a dated change)."""
        from .postgis import SCHEMA

        self.layer(layer_id)
        statement = (
            "SELECT number, layer, feature_id, action, author, source, at, before, after, "
            f"opened FROM {SCHEMA}.revisions WHERE layer = %(layer)s "
            "AND (feature_id = %(id)s OR opened ? %(id)s) ORDER BY number"
        )
        with self.connection() as conn:
            try:
                rows = conn.execute(statement, {"layer": layer_id, "id": feature_id}).fetchall()
            except psycopg.errors.UndefinedTable:  # loaded before edits existed: none
                return []
        return [
            Revision(*row[:6], at=_rfc3339(row[6]), before=row[7], after=row[8], opened=row[9])
            for row in rows
        ]


def _jsonb(value: dict | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _rfc3339(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _store_row(
    conn: psycopg.Connection, layer_id: str, fid: str, new: dict | None, exists: bool
) -> None:
    """Write one feature's row (None: delete it), measured as :func:`.postgis.write_layer`
    measures (:func:`.postgis.measured_rows`: geodesic km and km² on WGS84)."""
    from .postgis import measured_rows, table

    if new is None:
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table(layer_id)), [fid])
        return
    (row,) = measured_rows(layer_id, [new])
    names = ("id", "geom", "valid_from", "valid_to", "length_km", "area_km2", "props")
    values = {**dict(zip(names, row)), "id": fid}
    if exists:
        statement = (
            "UPDATE {} SET geom = ST_GeomFromEWKB(%(geom)s), valid_from = %(valid_from)s::date, "
            "valid_to = %(valid_to)s::date, length_km = %(length_km)s, "
            "area_km2 = %(area_km2)s, props = %(props)s WHERE id = %(id)s"
        )
    else:  # appended after the layer's last row, as the file store appends it
        statement = (
            "INSERT INTO {0} (id, seq, geom, valid_from, valid_to, length_km, area_km2, props) "
            "SELECT %(id)s, coalesce(max(seq), -1) + 1, ST_GeomFromEWKB(%(geom)s), "
            "%(valid_from)s::date, %(valid_to)s::date, %(length_km)s, %(area_km2)s, "
            "%(props)s FROM {0}"
        )
    conn.execute(sql.SQL(statement).format(table(layer_id)), values)


def dump_directory(store, directory: Path) -> Path:
    """Every layer of ``store`` as a data directory (``<layer>.geojson`` in file order and
    ``sources.json``), for ``geoservice validate`` of a database."""
    directory.mkdir(parents=True, exist_ok=True)
    for layer_id in store.layer_ids():
        features = store.layer_data(layer_id).features
        doc = {"type": "FeatureCollection", "features": features}
        (directory / f"{layer_id}.geojson").write_bytes(orjson.dumps(doc))
    (directory / "sources.json").write_bytes(orjson.dumps(store.sources()))
    return directory
