"""Side by side: this service, pygeoapi on PostGIS, and the ceiling, under the same load.

    python -m benchmarks.compare                 # 10 s per request and server, 32 connections
    python -m benchmarks.compare --soak --write  # plus 200 connections for 60 s; BENCHMARKS.md

Three servers in turn, each under gunicorn with the same settings (workers, worker class),
each loaded by wrk from a separate process on 127.0.0.1 with the same request set: items pages
of 10, 100 and all features, a bbox over the Fergana valley, one feature, and
``/api/lengths`` for one pair (pygeoapi has no such endpoint: n/a).

1. this service (``geoservice.wsgi:app``);
2. pygeoapi (its own venv) with its PostgreSQL provider on a throwaway PostGIS cluster, the
   borders layer in a table with a GiST index;
3. the ceiling (:mod:`benchmarks.ceiling_app`): the service's own response bytes, fetched
   first and served from memory.

Reports requests/s and p50/p99 latency (ms) per server and request, and the ratios
service/pygeoapi and service/ceiling of requests per second. Raw numbers go to
``artifacts/benchmarks/compare.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

from . import ceiling_app, report, wrk
from .servers import (
    HOST,
    ROOT,
    fetch,
    free_port,
    gunicorn_command,
    process_cpu,
    running,
    wait_idle,
)

#: Lon/lat box over the Fergana valley and the Batken/Sughd borders around it (EPSG:4326).
FERGANA_BBOX = (69.5, 39.7, 73.5, 41.6)
#: The pair asked of /api/lengths.
PAIR = ("KGZ", "TJK")
ARTIFACTS = ROOT / "artifacts" / "benchmarks"


@dataclass(frozen=True)
class Request:
    """One request type: its name, and its target on the service and on pygeoapi."""

    name: str
    label: str
    service: str
    pygeoapi: str | None  # None: pygeoapi has no equivalent


def pick_feature(features: list[dict]) -> str:
    """The id of the first segment of the benchmarked pair (else the first feature)."""
    for feature in features:
        if tuple(feature["properties"].get("countries") or ()) == PAIR:
            return feature["properties"]["id"]
    return features[0]["properties"]["id"]


def request_set(features: list[dict]) -> list[Request]:
    """The benchmarked requests for a borders layer of these features."""
    n = len(features)
    fid = quote(pick_feature(features), safe="")
    bbox = ",".join(f"{v:g}" for v in FERGANA_BBOX)
    items = "/api/collections/borders/items"
    pitems = "/collections/borders/items"
    return [
        Request("items_10", "items, page of 10", f"{items}?limit=10", f"{pitems}?f=json&limit=10"),
        Request(
            "items_100", "items, page of 100", f"{items}?limit=100", f"{pitems}?f=json&limit=100"
        ),
        Request("items_all", f"items, all {n}", f"{items}?limit={n}", f"{pitems}?f=json&limit={n}"),
        Request(
            "bbox",
            "bbox Fergana valley",
            f"{items}?bbox={bbox}&limit={n}",
            f"{pitems}?f=json&bbox={bbox}&limit={n}",
        ),
        Request("one_feature", "one feature", f"{items}/{fid}", f"{pitems}/{fid}?f=json"),
        Request(
            "lengths",
            f"/api/lengths {'-'.join(PAIR)}",
            f"/api/lengths?countries={','.join(PAIR)}",
            None,
        ),
    ]


def fetch_all(port: int, targets: list[str]) -> ceiling_app.Responses:
    """GET every target once from a server on 127.0.0.1:port; fail on anything but 200."""
    out: ceiling_app.Responses = {}
    for target in targets:
        status, content_type, body = fetch(f"http://{HOST}:{port}{target}")
        if status != 200:
            raise RuntimeError(f"{target}: HTTP {status}: {body[:300]!r}")
        out[target] = (status, content_type, body)
    return out


def count_features(body: bytes) -> int:
    """Features in a GeoJSON answer (1 for a single Feature)."""
    doc = orjson.loads(body)
    return len(doc["features"]) if doc.get("type") == "FeatureCollection" else 1


def load_requests(proc, port: int, requests: list[Request], attr: str, args) -> dict[str, dict]:
    """wrk each request's target for ``args.seconds`` s; results by request name.

    Before each run the server must be idle: requests a finished wrk left queued (a slow
    server can have dozens) are worked off first, or they would be charged to the next run.
    """
    results = {}
    warm = [getattr(r, attr) for r in requests if getattr(r, attr)]
    wrk.run(
        port, warm[0], seconds=2, connections=args.connections, timeout_s=args.timeout, mix=warm
    )  # warm-up
    for req in requests:
        target = getattr(req, attr)
        if target is None:
            continue
        waited = wait_idle(proc)
        res = wrk.run(
            port, target, seconds=args.seconds, connections=args.connections, timeout_s=args.timeout
        )
        results[req.name] = {**res.as_dict(), "idle_wait_s": round(waited, 1)}
        print(
            f"  {req.name:12s} {res.rps:9.1f} req/s  p50 {res.p50_ms:8.2f} ms  "
            f"p99 {res.p99_ms:8.2f} ms  errors {res.errors}  (waited {waited:.1f} s idle)",
            file=sys.stderr,
            flush=True,
        )
    wait_idle(proc)
    return results


def machine_state(window: float = 1.0) -> dict:
    """Load average and the processes (other than this one) busy over a ``window`` s sample,
    to say what else was running."""
    before = process_cpu()
    time.sleep(window)
    busy = []
    for pid, (name, _, cpu) in process_cpu().items():
        if pid != os.getpid() and pid in before:
            share = (cpu - before[pid][2]) / window
            if share >= 0.05:
                busy.append((share, f"{name} {share:.0%}"))
    return {"loadavg": os.getloadavg(), "busy": [b for _, b in sorted(busy, reverse=True)[:8]]}


def run(args) -> dict:
    """The whole comparison; returns the results document."""
    from geoservice.catalog import data_dir, read_feature_collection

    data = data_dir(args.data)
    features = read_feature_collection(data / "borders.geojson")
    requests = request_set(features)
    gconf = {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads}
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "before": machine_state(),
        },
        "settings": {
            "seconds": args.seconds,
            "connections": args.connections,
            "timeout_s": args.timeout,
            **gconf,
            "wrk_threads": 2,
            "features": len(features),
            "data": str(data),
        },
        "requests": [vars(r) for r in requests],
        "results": {},
    }
    tmp = Path(tempfile.mkdtemp(prefix="geoservice-bench-"))
    log(f"work dir (servers' logs; removed after a good run): {tmp}")
    env = {"GEOSERVICE_DATA": str(data)}
    with _postgis(args, data) as pg:
        _run_servers(args, doc, requests, features, data, tmp, env, gconf, pg)
    doc["machine"]["after"] = machine_state()
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure: the servers' logs are there
    return doc


@contextmanager
def _postgis(args, data: Path):
    """One throwaway PostGIS cluster for every server that reads a database (this service's
    PostGIS store and pygeoapi), holding the same data: ``geoservice load`` for the service,
    pygeoapi's ``borders`` table beside it. None when no such server runs."""
    if not args.servers & {"service_postgis", "pygeoapi"}:
        yield None
        return
    from geoservice.store.postgis import load_directory

    from . import pygeoapi_stack as stack

    stack.ensure_apt_packages()
    with stack.cluster() as pg:
        counts = load_directory(pg.dsn, data)
        rows = stack.load_borders(pg, data / "borders.geojson")
        log(
            f"PostGIS on {HOST}:{pg.port}: geoservice schema ({sum(counts.values())} features), "
            f"pygeoapi's table borders ({rows} rows), GiST indexes"
        )
        yield pg


def _run_servers(args, doc, requests, features, data, tmp, env, gconf, pg) -> None:

    # 1. this service; its answers become the ceiling's.
    port = free_port()
    cmd = gunicorn_command("geoservice.wsgi:app", port, **gconf)
    log(f"service on {HOST}:{port} ({' '.join(cmd[3:])})")
    with running(
        cmd, f"http://{HOST}:{port}{requests[0].service}", env=env, log=tmp / "service.log"
    ) as proc:
        responses = fetch_all(port, [r.service for r in requests])
        doc["bytes"] = {r.name: len(responses[r.service][2]) for r in requests}
        if "service" in args.servers:
            doc["results"]["service"] = load_requests(proc, port, requests, "service", args)
        if args.soak:
            log(f"soak: {args.soak_connections} connections, {args.soak_seconds} s, all requests")
            res = wrk.run(
                port,
                requests[0].service,
                seconds=args.soak_seconds,
                connections=args.soak_connections,
                timeout_s=args.soak_timeout,
                mix=[r.service for r in requests],
            )
            doc["soak"] = {
                "connections": args.soak_connections,
                "seconds": args.soak_seconds,
                "timeout_s": args.soak_timeout,
                **res.as_dict(),
            }
            log(f"  soak {res.rps:.1f} req/s p99 {res.p99_ms:.1f} ms errors {res.errors}")

    # 1b. this service on its PostGIS store (the same cluster as pygeoapi), the same answers.
    if "service_postgis" in args.servers:
        port = free_port()
        cmd = gunicorn_command("geoservice.wsgi:app", port, **gconf)
        log(f"service on PostGIS on {HOST}:{port}")
        with running(
            cmd,
            f"http://{HOST}:{port}{requests[0].service}",
            env={"GEOSERVICE_STORE": pg.dsn},
            log=tmp / "service-postgis.log",
        ) as proc:
            again = fetch_all(port, [r.service for r in requests])
            doc["postgis_same_features"] = {
                r.name: count_features(again[r.service][2])
                == count_features(responses[r.service][2])
                for r in requests
                if r.name != "lengths"
            }
            doc["results"]["service_postgis"] = load_requests(proc, port, requests, "service", args)

    # 2. the ceiling: the same bytes from memory.
    if "ceiling" in args.servers:
        saved = tmp / "responses.bin"
        ceiling_app.save_responses(responses, saved)
        port = free_port()
        cmd = gunicorn_command("benchmarks.ceiling_app:app", port, **gconf)
        log(f"ceiling on {HOST}:{port}")
        with running(
            cmd,
            f"http://{HOST}:{port}{requests[0].service}",
            env={"CEILING_RESPONSES": str(saved)},
            log=tmp / "ceiling.log",
        ) as proc:
            again = fetch_all(port, [r.service for r in requests])
            if again != responses:
                raise RuntimeError("the ceiling app does not return the service's bytes")
            doc["results"]["ceiling"] = load_requests(proc, port, requests, "service", args)

    # 3. pygeoapi on PostGIS.
    if "pygeoapi" in args.servers:
        from . import pygeoapi_stack as stack

        python = stack.ensure_pygeoapi()
        doc["settings"]["pygeoapi"] = stack.pygeoapi_version()
        port = free_port()
        extent = tuple(float(v) for v in _extent(features))
        config, openapi = stack.write_config(tmp, pg, port, max(len(features), 10), extent)
        cmd = gunicorn_command("pygeoapi.flask_app:APP", port, python=str(python), **gconf)
        log(f"pygeoapi on {HOST}:{port}")
        with running(
            cmd,
            f"http://{HOST}:{port}{requests[0].pygeoapi}",
            env=stack.server_env(config, openapi),
            log=tmp / "pygeoapi.log",
        ) as proc:
            theirs = fetch_all(port, [r.pygeoapi for r in requests if r.pygeoapi])
            doc["features_returned"] = {
                r.name: {
                    "service": count_features(responses[r.service][2]),
                    "pygeoapi": count_features(theirs[r.pygeoapi][2]),
                    "pygeoapi_bytes": len(theirs[r.pygeoapi][2]),
                }
                for r in requests
                if r.pygeoapi
            }
            for name, counts in doc["features_returned"].items():
                if counts["service"] != counts["pygeoapi"]:
                    log(
                        f"warning: {name}: service returns {counts['service']} features, "
                        f"pygeoapi {counts['pygeoapi']}"
                    )
            doc["results"]["pygeoapi"] = load_requests(proc, port, requests, "pygeoapi", args)


def _extent(features: list[dict]) -> tuple:
    import shapely

    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    return shapely.total_bounds(geoms)


def log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=int, default=10, help="wrk duration per request (s)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--timeout", type=int, default=10, help="wrk --timeout (s)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (each server)")
    p.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument(
        "--servers",
        default="service,service_postgis,ceiling,pygeoapi",
        help="comma-separated subset of service,service_postgis,ceiling,pygeoapi",
    )
    p.add_argument("--soak", action="store_true", help="also 200 connections for 60 s")
    p.add_argument("--soak-seconds", type=int, default=60)
    p.add_argument("--soak-connections", type=int, default=200)
    p.add_argument("--soak-timeout", type=int, default=10, help="wrk --timeout in the soak (s)")
    p.add_argument("--data", help="data directory (default: geodata/ or $GEOSERVICE_DATA)")
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    p.add_argument(
        "--section",
        default="compare",
        help="which marked section of BENCHMARKS.md --write replaces",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ARTIFACTS / "compare.json",
        help="where the raw numbers go (JSON)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.servers = {s.strip() for s in args.servers.split(",") if s.strip()}
    unknown = args.servers - {"service", "service_postgis", "ceiling", "pygeoapi"}
    if unknown:
        print(f"compare: error: unknown server(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    if args.seconds < 1 or args.connections < 1 or args.workers < 1:
        print(
            "compare: error: --seconds, --connections and --workers must be >= 1", file=sys.stderr
        )
        return 2
    started = time.monotonic()
    doc = run(args)
    doc["elapsed_s"] = round(time.monotonic() - started, 1)
    report.publish(doc, "compare", argv, args.out, args.write, args.section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
