"""Durability: the server is killed (SIGKILL) in the middle of 100 concurrent writes; after a
restart every acknowledged write is there and the data set passes ``geoservice validate``'s
structural checks. On both stores: the file store (journal + atomic rewrites) and PostGIS
(``geoservice serve --store postgresql://…`` on a fresh database; one transaction a write)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_edits import copy_data

from benchmarks.edits import call as request
from geoservice.auth import digest
from geoservice.store import PostgisStore
from geoservice.store.postgis_edits import dump_directory
from geoservice.validate import check_structure

pytestmark = pytest.mark.server

TOKEN = "kill-test-token"
ROOT = Path(__file__).resolve().parent.parent


def start(store: str, log) -> tuple[subprocess.Popen, str]:
    """``geoservice serve`` on ``store`` (a data directory or a DSN) taking writes."""
    env = {**os.environ, "GEOSERVICE_STORE": store, "GEOSERVICE_TOKENS": f"k:{digest(TOKEN)}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "geoservice", "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, "http://" + line.split("http://", 1)[1].split("/", 1)[0]


@pytest.fixture(params=["file", "postgis"])
def target(request, tmp_path) -> str:
    """What the server serves: a copy of the shipped data, or a fresh database loaded from it."""
    data_dir = copy_data(tmp_path / "data")
    if request.param == "file":
        return str(data_dir)
    return request.getfixturevalue("postgis_database")(data_dir)


def as_directory(target: str, tmp_path: Path) -> Path:
    """The data as a data directory (a database dumped as ``geoservice validate`` reads it)."""
    if not target.startswith("postgresql://"):
        return Path(target)
    store = PostgisStore(target)
    try:
        return dump_directory(store, tmp_path / "dumped")
    finally:
        store.close()


def test_sigkill_during_100_concurrent_writes_loses_no_acknowledged_write(target, tmp_path):
    with tempfile.TemporaryFile(mode="w+") as log:
        proc, base = start(target, log)
        killed = False
        try:
            page = request("GET", f"{base}/api/collections/places/items?limit=100&f=json")[2]
            ids = [f["id"] for f in page["features"]]
            assert len(ids) == 100
            etags = {
                fid: request("GET", f"{base}/api/collections/places/items/{fid}?f=json")[1]["ETag"]
                for fid in ids
            }
            acknowledged: dict[str, str] = {}
            lock = threading.Lock()

            def write(n_fid):
                n, fid = n_fid
                notes = f"kill test write {n}"
                try:
                    status, _, _ = request(
                        "PATCH",
                        f"{base}/api/collections/places/items/{fid}",
                        {"properties": {"notes": notes}, "source": f"test: write {n}"},
                        {"Authorization": f"Bearer {TOKEN}", "If-Match": etags[fid]},
                    )
                except (urllib.error.URLError, ConnectionError, OSError):
                    return  # cut off by the kill: not acknowledged
                if status == 200:
                    with lock:
                        acknowledged[fid] = notes
                        if len(acknowledged) == 30:  # mid-way: kill the server
                            os.killpg(proc.pid, signal.SIGKILL)

            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(write, enumerate(ids)))
            killed = True
            proc.wait(timeout=10)
        finally:
            if not killed:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        print(f"\nwrites sent: 100, acknowledged before the kill: {len(acknowledged)}")
        assert 30 <= len(acknowledged) < 100

        proc, base = start(target, log)
        try:
            stored, revisions = {}, {}
            for n, fid in enumerate(ids):
                feature = request("GET", f"{base}/api/collections/places/items/{fid}?f=json")[2]
                history = request("GET", f"{base}/api/collections/places/items/{fid}/history")[2]
                if feature["properties"].get("notes") == f"kill test write {n}":
                    stored[fid] = feature["properties"]["notes"]
                    revisions[fid] = history["revisions"][-1]
                else:  # never written: no revision either
                    assert history["revisions"] == [], fid
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    found = sum(stored.get(fid) == notes for fid, notes in acknowledged.items())
    print(
        f"acknowledged writes found after the restart: {found} of {len(acknowledged)}; "
        f"writes stored in all (some answers cut off by the kill): {len(stored)}"
    )
    assert found == len(acknowledged)
    # Each stored write has its revision (the feature after it, the token's name) ...
    for fid, revision in revisions.items():
        assert revision["after"]["properties"]["notes"] == stored[fid]
        assert revision["author"] == "k" and revision["action"] == "update"
    # ... numbered from 1 without gaps, one per stored write.
    assert sorted(r["number"] for r in revisions.values()) == list(range(1, len(stored) + 1))
    problems, _ = check_structure(as_directory(target, tmp_path))
    assert problems == []
