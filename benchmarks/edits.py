"""Edits per second on each store, over HTTP, under gunicorn (several workers).

For each store (a copy of the data directory; a fresh PostGIS database on a throwaway cluster
with ``fsync`` on, so a commit waits for the disk as the file store's journal does): gunicorn
with ``--workers`` gthread workers and a write token; the ETags of ``--edits`` gazetteer
features read first (not timed); then one PATCH (``properties.notes``, a cited source) per
feature from ``--clients`` concurrent clients, timed; then every feature read back from any
worker: all the writes must be there. Then the same number of PATCHes in this process through
the store interface (no HTTP; what a write costs the store itself).

    python -m benchmarks.edits --edits 200 --clients 8 --workers 2 --out edits.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from .servers import HOST, free_port, gunicorn_command, running

TOKEN = "benchmark-edit-token"


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    """(status, headers, JSON body) of one request to the loopback server."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"refusing a non-loopback address: {url}")
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, response.headers, orjson.loads(response.read() or b"null")


def measure(store: str, args, log_path: Path) -> dict:
    """Start gunicorn on ``store``, PATCH ``args.edits`` features, read them back."""
    from geoservice.auth import digest

    port = free_port()
    base = f"http://{HOST}:{port}"
    cmd = gunicorn_command("geoservice.wsgi:app", port, args.workers, "gthread", args.threads)
    env = {"GEOSERVICE_STORE": store, "GEOSERVICE_TOKENS": f"bench:{digest(TOKEN)}"}
    with running(cmd, f"{base}/api/collections/places?f=json", env=env, log=log_path):
        items = call("GET", f"{base}/api/collections/places/items?limit={args.edits}&f=json")[2]
        ids = [f["id"] for f in items["features"]]
        etags = {
            fid: call("GET", f"{base}/api/collections/places/items/{fid}?f=json")[1]["ETag"]
            for fid in ids
        }

        def write(n_fid):
            n, fid = n_fid
            t0 = time.perf_counter()
            status = call(
                "PATCH",
                f"{base}/api/collections/places/items/{fid}",
                {"properties": {"notes": f"benchmark edit {n}"}, "source": "benchmark"},
                {"Authorization": f"Bearer {TOKEN}", "If-Match": etags[fid]},
            )[0]
            return status, time.perf_counter() - t0

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(write, enumerate(ids)))
        seconds = time.perf_counter() - t0
        found = sum(
            call("GET", f"{base}/api/collections/places/items/{fid}?f=json")[2]["properties"].get(
                "notes"
            )
            == f"benchmark edit {n}"
            for n, fid in enumerate(ids)
        )
    latencies = sorted(s for _, s in results)
    return {
        "edits": len(ids),
        "ok": sum(status == 200 for status, _ in results),
        "found": found,
        "seconds": round(seconds, 2),
        "edits_per_s": round(len(ids) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
    }


def in_process(store, edits: int) -> dict:
    """``edits`` sequential PATCHes through the store interface itself (no HTTP, no served
    layer rebuilt): what one write costs the store."""
    from geoservice.store import Edit

    ids = [f["properties"]["id"] for f in store.layer_data("places").features[:edits]]
    t0 = time.perf_counter()
    for n, fid in enumerate(ids):
        etag = store.etag(store.get("places", fid))
        patch = {"properties": {"notes": f"in-process edit {n}"}}
        store.update("places", fid, patch, Edit("bench", "benchmark", None, etag))
    seconds = time.perf_counter() - t0
    return {
        "edits": len(ids),
        "ms_per_edit": round(seconds / len(ids) * 1000, 1),
        "edits_per_s": round(len(ids) / seconds, 1),
    }


def run(args) -> dict:
    from geoservice.catalog import data_dir
    from geoservice.store import FileStore, PostgisStore
    from geoservice.store.postgis import load_directory

    from . import pygeoapi_stack as stack

    source = data_dir(args.data)
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "settings": {k: getattr(args, k) for k in ("edits", "clients", "workers", "threads")},
        "stores": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "data"
        copy.mkdir()
        for path in source.iterdir():
            if path.suffix in (".geojson", ".json"):
                shutil.copy(path, copy / path.name)
        doc["stores"]["file"] = measure(str(copy), args, Path(tmp) / "file.log")
        doc["stores"]["file"]["in_process"] = in_process(FileStore.open(copy, True), args.edits)
        log(f"file store: {doc['stores']['file']}")
        stack.ensure_apt_packages()
        with stack.cluster() as pg:
            pg.psql("ALTER SYSTEM SET fsync = on")  # the cluster starts without; commits wait
            pg.psql("SELECT pg_reload_conf()")
            load_directory(pg.dsn, source)
            doc["stores"]["postgis"] = measure(pg.dsn, args, Path(tmp) / "postgis.log")
            store = PostgisStore(pg.dsn, writable=True)
            doc["stores"]["postgis"]["in_process"] = in_process(store, args.edits)
            store.close()
            log(f"PostGIS: {doc['stores']['postgis']}")
    return doc


def log(msg: str) -> None:
    print(f"[edits] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data directory (default: the shipped geodata/)")
    parser.add_argument("--edits", type=int, default=200, help="PATCHes, one per feature")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args(argv)
    doc = run(args)
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
