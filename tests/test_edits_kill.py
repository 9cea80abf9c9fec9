"""Durability: the server is killed (SIGKILL) in the middle of 100 concurrent writes; after a
restart every acknowledged write is there and the data set passes ``geoservice validate``'s
structural checks."""

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

import orjson
import pytest
from test_edits import copy_data

from geoservice.auth import digest
from geoservice.validate import check_structure

pytestmark = pytest.mark.server

TOKEN = "kill-test-token"
ROOT = Path(__file__).resolve().parent.parent


def start(data_dir: Path, log) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "GEOSERVICE_DATA": str(data_dir),
        "GEOSERVICE_TOKENS": f"k:{digest(TOKEN)}",
    }
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


def request(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, response.headers, orjson.loads(response.read() or b"null")


def test_sigkill_during_100_concurrent_writes_loses_no_acknowledged_write(tmp_path):
    data_dir = copy_data(tmp_path / "data")
    with tempfile.TemporaryFile(mode="w+") as log:
        proc, base = start(data_dir, log)
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

        proc, base = start(data_dir, log)
        try:
            found = 0
            for fid, notes in acknowledged.items():
                feature = request("GET", f"{base}/api/collections/places/items/{fid}?f=json")[2]
                found += feature["properties"]["notes"] == notes
            history = request("GET", f"{base}/api/collections/places/items/{ids[0]}/history")[2]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    print(f"acknowledged writes found after the restart: {found} of {len(acknowledged)}")
    assert found == len(acknowledged)
    assert history["feature"] == ids[0]
    problems, _ = check_structure(data_dir)
    assert problems == []
