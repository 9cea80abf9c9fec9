"""The database goes away and comes back, under a service serving from PostGIS (a cluster of
this module's own: the session's shared cluster is never stopped).

- While PostgreSQL is stopped every read the API and the map make, and every write, answers 503
  with a problem+json body (no traceback) within a bound, never a hang or a 500.
- Started again, the same service answers 200 without a restart (an idle connection the server
  ended is replaced before use), the data is as before (rows and their digest per layer) and
  ``geoservice validate postgresql://…`` passes.
- A crash (``pg_ctl stop -m immediate``) in the middle of a batch of writes leaves each write
  whole or absent: every acknowledged write is there with its revision, every revision matches
  the stored feature, the layer's version counts the writes stored, nothing else.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import orjson
import psycopg
import pytest
from test_edits import copy_data
from test_edits_kill import TOKEN, start

from benchmarks import pygeoapi_stack as stack
from geoservice.settings import settings
from geoservice.store.postgis import load_directory

pytestmark = pytest.mark.server

#: Longest any answer may take while the database is down, seconds: the store's connect timeout
#: (the settings' ``db_connect_timeout``) and a margin; a hung worker fails the test here.
BOUND = settings().db_connect_timeout + 5.0
PLACES = "/api/collections/places/items"
FEATURE = f"{PLACES}/AFG-andkhoy"
#: A few reads, for the phases where the database is up.
READS = [
    "/api/collections/borders/items?limit=5&f=json",
    f"{FEATURE}?f=json",
    "/api/lengths",
]
#: Everything the API and the map read: items, a feature, its history, lengths, overlaps, and
#: the map's page and data (layers at a display level, the towns, lengths in view, changes).
EVERY_READ = [
    *READS,
    f"{FEATURE}/history",
    "/api/collections?f=json",
    "/api/overlaps?a=borders&b=control_areas",
    "/",
    "/api/collections/borders/items?limit=10000&f=json&zoom=5",
    "/api/collections/places/items?limit=10000&f=json",
    "/api/lengths?as_of=2020-06-01&bbox=43,38,50,42",
    "/api/changes?from=2020-01-01&to=2021-01-01",
]


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    """A throwaway cluster of this module's own, loaded with a copy of the shipped data."""
    if not (stack.PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed ({stack.PG_BIN / 'initdb'} missing)")
    with stack.cluster() as cluster:
        load_directory(cluster.dsn, copy_data(tmp_path_factory.mktemp("data")))
        yield cluster


@pytest.fixture(scope="module")
def server(pg):
    """``geoservice serve`` on the module's database (one for the module's tests)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        service = Served("served", pg.dsn, log)
        try:
            yield service
        finally:
            service.close()


@pytest.fixture(params=["in-process", "served"])
def service(request, pg):
    """Each way of serving the module's database (see :class:`Served`)."""
    if request.param == "served":
        yield request.getfixturevalue("server")
        return
    with tempfile.TemporaryFile(mode="w+") as log:
        service = Served("in-process", pg.dsn, log)
        yield service
        service.close()


def layer_rows(dsn: str) -> dict[str, tuple[int, str]]:
    """Per layer: its row count and a digest of every row (id, properties, geometry), read in
    SQL behind the service's back."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for (layer_id,) in conn.execute("SELECT id FROM geoservice.layers ORDER BY seq"):
            out[layer_id] = conn.execute(
                "SELECT count(*), md5(string_agg(id || props::text || ST_AsEWKB(geom)::text, "
                f"',' ORDER BY seq)) FROM geoservice.{layer_id}"
            ).fetchone()
    return out


class Served:
    """One service on the database, asked with a client timeout: ``in-process`` (create_app and
    the Flask test client, always on one thread, as a server's worker thread keeps its
    connection) or ``served`` (``geoservice serve`` in a subprocess, over HTTP)."""

    def __init__(self, kind: str, dsn: str, log):
        self.kind, self.log = kind, log
        if kind == "in-process":
            from geoservice.app import create_app
            from geoservice.auth import digest

            app = create_app({"STORE": dsn, "TOKENS": f"k:{digest(TOKEN)}"})
            self.client = app.test_client()
            self.thread = ThreadPoolExecutor(max_workers=1)
            self.proc = None
        else:
            self.proc, self.base = start(dsn, log)

    def ask(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """(status, media type, headers, body text, seconds) of one request; fails the test if
        no answer comes within :data:`BOUND` seconds."""
        started = time.monotonic()
        if self.proc is None:
            future = self.thread.submit(
                self.client.open, path, method=method, json=body, headers=headers or {}
            )
            response = future.result(timeout=BOUND)
            answer = (response.status_code, response.mimetype, response.headers)
            text = response.get_data(as_text=True)
        else:
            data = orjson.dumps(body) if body is not None else None
            request = urllib.request.Request(
                self.base + path, data=data, method=method, headers=headers or {}
            )
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=BOUND) as response:
                    text = response.read().decode()
            except urllib.error.HTTPError as error:
                response, text = error, error.read().decode()
            media = response.headers.get("Content-Type", "").split(";")[0]
            answer = (response.status, media, response.headers)
        return (*answer, text, time.monotonic() - started)

    def logged_traceback(self) -> bool:
        """Whether the server's log holds a traceback (an unhandled error)."""
        self.log.seek(0)
        return "Traceback" in self.log.read()

    def close(self) -> None:
        if self.proc is None:
            self.thread.shutdown()
        else:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def places_rows(dsn: str, ids: list[str]) -> dict[str, dict]:
    """The stored properties of these places by id, read in SQL."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, props FROM geoservice.places WHERE id = ANY(%s)", [ids]
        ).fetchall()
    return dict(rows)


def write_headers(etag: str) -> dict:
    return {"Authorization": f"Bearer {TOKEN}", "If-Match": etag}


def all_answer(service: Served, paths: list[str], status: int = 200) -> float:
    """Every path answers ``status``; returns the slowest answer's seconds."""
    slowest = 0.0
    for path in paths:
        got, _, _, text, seconds = service.ask("GET", path)
        assert got == status, (path, text[:500])
        slowest = max(slowest, seconds)
    return slowest


def assert_unavailable(answer, what: str) -> None:
    """A 503 problem+json saying the store is unavailable, no traceback, Retry-After."""
    status, media, headers, text, _ = answer
    assert (status, media) == (503, "application/problem+json"), (what, status, text[:500])
    problem = orjson.loads(text)
    assert problem["status"] == 503 and problem["title"] == "Store unavailable", what
    assert "Traceback" not in text and 'File "' not in text, what
    assert headers.get("Retry-After"), what


def test_a_stopped_database_is_503_and_served_again_without_a_restart(pg, service):
    """Up: 200. Restarted while the service was idle: 200 at once. Stopped (in process ``-m
    fast``, served ``immediate``): every read and write 503 within the bound. Started: 200
    again, the same rows, and a write goes through."""
    kind = service.kind
    mode = "fast" if kind == "in-process" else "immediate"
    all_answer(service, READS)
    before = layer_rows(pg.dsn)
    feature = orjson.loads(service.ask("GET", f"{FEATURE}?f=json")[3])
    etag = service.ask("GET", f"{FEATURE}?f=json")[2]["ETag"]

    pg.stop(mode)  # the service's connections are ended while idle
    pg.start()
    print(f"\n{kind}: after a restart while idle, {all_answer(service, READS):.2f} s")

    pg.stop(mode)
    slowest = 0.0
    for path in EVERY_READ:
        answer = service.ask("GET", path)
        assert_unavailable(answer, path)
        slowest = max(slowest, answer[4])
    patch = {"properties": {"notes": "written while down"}, "source": "test: outage"}
    assert_unavailable(service.ask("PATCH", FEATURE, patch, write_headers(etag)), "PATCH")
    new = {**feature, "properties": {**feature["properties"], "id": "X-new"}}
    post = {**new, "source": "test: outage"}
    answer = service.ask("POST", PLACES, post, {"Authorization": f"Bearer {TOKEN}"})
    assert_unavailable(answer, "POST")
    print(f"{kind}: {len(EVERY_READ)} reads and 2 writes 503, slowest {slowest:.2f} s")

    pg.start()
    print(f"{kind}: started again, slowest read {all_answer(service, EVERY_READ):.2f} s")
    assert layer_rows(pg.dsn) == before
    print(f"{kind}: rows per layer as before: { {k: n for k, (n, _) in before.items()} }")
    history = orjson.loads(service.ask("GET", f"{FEATURE}/history")[3])["revisions"]
    assert "written while down" not in [r["after"]["properties"]["notes"] for r in history]
    patch["properties"]["notes"] = "written after the restart"
    status, _, headers, _, _ = service.ask("PATCH", FEATURE, patch, write_headers(etag))
    assert status == 200
    assert service.ask("GET", f"{FEATURE}?f=json")[2]["ETag"] == headers["ETag"]
    assert not service.logged_traceback()


@contextmanager
def frozen(pids: list[int]):
    """The processes stopped (SIGSTOP) for the block: the kernel still accepts connections and
    data, nobody answers."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_a_database_that_does_not_answer_is_503_after_the_timeouts(pg, monkeypatch):
    """Both timeouts 2 s. The postmaster frozen: a request that needs a new connection is 503
    after ``db_connect_timeout``. Every server process frozen: a write on an open connection is
    503 after ``db_answer_timeout`` (the connection closed), the next read after the connect
    timeout: no hung worker. Thawed: 200, and the write is absent."""
    monkeypatch.setenv("GEOSERVICE_DB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("GEOSERVICE_DB_ANSWER_TIMEOUT", "2")
    settings.cache_clear()
    with tempfile.TemporaryFile(mode="w+") as log:
        service = Served("in-process", pg.dsn, log)
    try:
        etag = service.ask("GET", f"{FEATURE}?f=json")[2]["ETag"]  # its thread's connection
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        with psycopg.connect(pg.dsn) as conn:
            backends = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            ).fetchall()
        with frozen([postmaster]), ThreadPoolExecutor(max_workers=1) as fresh:
            started = time.monotonic()  # a new thread: a new connection
            response = fresh.submit(service.client.get, READS[0]).result(timeout=BOUND)
            seconds = time.monotonic() - started
        text = response.get_data(as_text=True)
        answer = (response.status_code, response.mimetype, response.headers, text, seconds)
        assert_unavailable(answer, "a frozen postmaster")
        assert "timeout" in orjson.loads(text)["detail"] and seconds < 2 + 3
        print(f"\nfrozen postmaster: a new connection 503 after {seconds:.2f} s")

        patch = {"properties": {"notes": "written while frozen"}, "source": "test: frozen"}
        with frozen([postmaster, *(pid for (pid,) in backends)]):
            write = service.ask("PATCH", FEATURE, patch, write_headers(etag))
            read = service.ask("GET", READS[0])  # its connection closed by the write's timeout
        assert_unavailable(write, "write")
        assert "no answer within 2 s" in orjson.loads(write[3])["detail"]
        assert_unavailable(read, "read")
        assert "connection timeout" in orjson.loads(read[3])["detail"]
        assert read[4] < 2 + 3 and write[4] < 2 + 3
        print(f"frozen cluster: a write 503 after {write[4]:.2f} s, then a read {read[4]:.2f} s")
        assert service.ask("GET", READS[0])[0] == 200
        history = orjson.loads(service.ask("GET", f"{FEATURE}/history")[3])["revisions"]
        assert "written while frozen" not in [r["after"]["properties"]["notes"] for r in history]
        assert "written while frozen" != orjson.loads(service.ask("GET", FEATURE)[3])[
            "properties"
        ].get("notes")
    finally:
        service.close()
        monkeypatch.delenv("GEOSERVICE_DB_CONNECT_TIMEOUT")
        monkeypatch.delenv("GEOSERVICE_DB_ANSWER_TIMEOUT")
        settings.cache_clear()


def test_writes_cut_off_by_a_crash_are_whole_or_absent(pg, server):
    """100 PATCHes from 8 threads to the served service; PostgreSQL is stopped with ``-m
    immediate`` (a crash) once 20 are acknowledged. Each answer is 200 or 503; started again,
    the same server reads every acknowledged write, each with its revision; every new revision
    is the stored feature; the other features are as before; the places layer's version grew
    by the writes stored; ``geoservice validate`` passes."""
    from click.testing import CliRunner

    from geoservice.cli import cli

    with psycopg.connect(pg.dsn) as conn:
        version = conn.execute("SELECT version FROM geoservice.layers WHERE id = 'places'")
        version = version.fetchone()[0]
        last = conn.execute("SELECT coalesce(max(number), 0) FROM geoservice.revisions")
        last = last.fetchone()[0]
    page = orjson.loads(server.ask("GET", f"{PLACES}?limit=100&f=json")[3])
    ids = [f["id"] for f in page["features"]]
    before = places_rows(pg.dsn, ids)
    assert len(before) == 100
    pool = ThreadPoolExecutor(max_workers=8)
    etags = dict(
        zip(ids, pool.map(lambda fid: server.ask("GET", f"{PLACES}/{fid}")[2]["ETag"], ids))
    )
    answers: dict[str, int] = {}
    lock, enough = threading.Lock(), threading.Event()

    def write(n: int, fid: str) -> None:
        body = {"properties": {"notes": f"crash test {n}"}, "source": f"test: crash {n}"}
        status = server.ask("PATCH", f"{PLACES}/{fid}", body, write_headers(etags[fid]))[0]
        with lock:
            answers[fid] = status
            if sum(s == 200 for s in answers.values()) >= 20:
                enough.set()

    writes = threading.Thread(target=lambda: list(pool.map(write, range(100), ids)))
    writes.start()
    assert enough.wait(timeout=60)
    pg.stop("immediate")
    writes.join(timeout=BOUND * 4)
    assert not writes.is_alive()
    pg.start()
    counted = {s: list(answers.values()).count(s) for s in sorted(set(answers.values()))}
    print(f"\nanswers to 100 writes around the crash: {counted}")
    assert set(answers.values()) <= {200, 503} and len(answers) == 100
    assert counted.get(503, 0) > 0
    acknowledged = [fid for fid, s in answers.items() if s == 200]
    for fid in acknowledged:  # the same server, at once
        assert server.ask("GET", f"{PLACES}/{fid}?f=json")[0] == 200
    assert not server.logged_traceback()

    with psycopg.connect(pg.dsn) as conn:
        rows = conn.execute(
            "SELECT number, feature_id, after FROM geoservice.revisions WHERE number > %s "
            "ORDER BY number",
            [last],
        ).fetchall()
        now = conn.execute("SELECT version FROM geoservice.layers WHERE id = 'places'")
        now = now.fetchone()[0]
    stored = places_rows(pg.dsn, ids)
    revised = {fid: after["properties"] for _, fid, after in rows}
    assert [r[0] for r in rows] == list(range(last + 1, last + 1 + len(rows)))  # no gap
    assert len(revised) == len(rows)  # one revision a feature
    for n, fid in enumerate(ids):
        if fid in revised:  # written: the revision is the feature stored
            assert stored[fid]["notes"] == f"crash test {n}" and revised[fid] == stored[fid], fid
        else:  # not written: as before
            assert stored[fid] == before[fid], fid
    assert set(acknowledged) <= set(revised)
    assert now == version + len(rows)  # one version a stored write, none for a lost one
    print(
        f"after the start: {len(acknowledged)} acknowledged writes all stored; "
        f"{len(rows)} stored in all ({len(rows) - len(acknowledged)} answered 503 after the "
        f"commit), {100 - len(rows)} absent; places version +{now - version}"
    )
    result = CliRunner().invoke(cli, ["validate", pg.dsn])
    assert result.exit_code == 0, result.output
