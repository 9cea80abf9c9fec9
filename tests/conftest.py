"""Shared fixtures: the shipped catalog, loaded once per test session; a throwaway PostGIS
cluster holding the same data; ``store``, parametrised over both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from geoservice.catalog import load_catalog


@pytest.fixture(scope="session")
def shipped_catalog():
    """The shipped data set (geodata/), loaded as the service loads it."""
    return load_catalog()


@pytest.fixture(scope="session")
def catalog(request, shipped_catalog):
    """The shipped data as the engine reads it: the file catalog; in a module that sets
    ``ON_BOTH_STORES = True`` each test runs twice, the second time on the PostGIS store (a
    store is read as a catalog: ``store[layer_id]`` is the layer's data)."""
    if getattr(request, "param", "file") == "file":
        return shipped_catalog
    return request.getfixturevalue("postgis_store")


def pytest_generate_tests(metafunc):
    """``catalog`` over both stores in the modules that say ``ON_BOTH_STORES = True``."""
    if getattr(metafunc.module, "ON_BOTH_STORES", False) and "catalog" in metafunc.fixturenames:
        metafunc.parametrize("catalog", STORES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def postgis_store(postgis_dsn):
    """The PostGIS store on the throwaway cluster (one per session)."""
    from geoservice.store import PostgisStore

    store = PostgisStore(postgis_dsn)
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgis_dsn():
    """DSN of a throwaway PostgreSQL + PostGIS cluster on the loopback (a temp dir, stopped and
    removed at the end) with the shipped data loaded by ``geoservice load``'s function."""
    from benchmarks import pygeoapi_stack as stack
    from geoservice.store.postgis import load_directory

    if not (stack.PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed ({stack.PG_BIN / 'initdb'} missing)")
    with stack.cluster() as pg:
        load_directory(pg.dsn)
        yield pg.dsn


@pytest.fixture(scope="session")
def postgis_database(postgis_dsn):
    """A factory: ``postgis_database(data_dir)`` creates a fresh database on the throwaway
    cluster, loads ``data_dir`` into it (``geoservice load``'s function) and returns its DSN,
    so tests that write never touch the session's database the other tests read."""
    import uuid

    import psycopg

    from geoservice.store.postgis import load_directory

    def create(data_dir) -> str:
        name = f"edits_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgis_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        dsn = postgis_dsn.rsplit("/", 1)[0] + "/" + name  # postgresql://user@host:port/name
        load_directory(dsn, data_dir)
        return dsn

    return create


#: The stores the store, engine and API tests run against.
STORES = ("file", "postgis")


@pytest.fixture(scope="session", params=STORES)
def store(request, shipped_catalog):
    """Each store holding the shipped data: the file store (the session's catalog), PostGIS."""
    from geoservice.store import FileStore

    if request.param == "file":
        return FileStore(shipped_catalog)
    return request.getfixturevalue("postgis_store")


@contextmanager
def served(*args: str, env: dict | None = None):
    """Base URL (``http://127.0.0.1:PORT``) of ``geoservice serve ARGS`` run in a subprocess on
    a free loopback port; stopped (its own process group) when the block ends."""
    root = Path(__file__).resolve().parent.parent
    # The request log goes to a file: a pipe nobody reads could fill and block the server.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "geoservice", "serve", "--host", "127.0.0.1", "--port", "0"]
            + list(args),
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        try:
            line = proc.stdout.readline()  # "geoservice: serving http://127.0.0.1:PORT/ ..."
            if "http://" not in line:
                proc.wait(timeout=10)
                log.seek(0)
                raise RuntimeError(f"server did not start: {line!r} {log.read()[-2000:]}")
            yield "http://" + line.split("http://", 1)[1].split("/", 1)[0]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def serve():
    """:func:`served`, for tests that start a server of their own."""
    return served


@pytest.fixture(scope="session")
def api_server():
    """Base URL of ``geoservice serve`` with the shipped data (see :func:`served`)."""
    with served() as url:
        yield url
