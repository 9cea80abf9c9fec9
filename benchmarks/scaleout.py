"""Scale-out: 1, 2 and 4 gunicorn processes of this service on one PostGIS database.

    python -m benchmarks.scaleout                    # 1, 2, 4 workers, 10 s of load each
    python -m benchmarks.scaleout --workers 1 --seconds 2   # the smoke test

One throwaway cluster holds the data (``geoservice load``); for each worker count a gunicorn
``geoservice.wsgi:app`` with ``GEOSERVICE_STORE=postgresql://…`` (stateless app servers in front
of one database, simulated as processes on this machine) is started, timed to its first answer,
and loaded by wrk with a mix of requests in turn (items pages of 10 and 100, a bbox, one feature,
``/api/lengths``). Reports requests/s, p50/p99 and the RSS of each worker. On a 2-core machine
that also runs PostgreSQL and wrk, 4 processes cannot beat 2: the point is that they share the
database without errors and what each costs. Raw numbers: ``artifacts/benchmarks/scaleout.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import report, wrk
from .compare import FERGANA_BBOX, PAIR, pick_feature
from .servers import HOST, ROOT, free_port, gunicorn_command, running, wait_idle

ARTIFACTS = ROOT / "artifacts" / "benchmarks"
SECTION = "scaleout"


def targets(features: list[dict]) -> list[str]:
    """The mixed request set (sent in turn)."""
    items = "/api/collections/borders/items"
    bbox = ",".join(f"{v:g}" for v in FERGANA_BBOX)
    return [
        f"{items}?limit=10",
        f"{items}?limit=100",
        f"{items}?bbox={bbox}&limit=1000",
        f"{items}/{pick_feature(features)}",
        f"/api/lengths?countries={','.join(PAIR)}",
    ]


def worker_rss_mb(master_pid: int) -> list[float]:
    """RSS (MB) of each child of the gunicorn master."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == master_pid:
            out.append(round(int(fields["VmRSS"].split()[0]) / 1024, 1))
    return sorted(out)


def run(args) -> dict:
    from geoservice.catalog import data_dir, read_feature_collection
    from geoservice.store.postgis import load_directory

    from . import pygeoapi_stack as stack

    data = data_dir(args.data)
    features = read_feature_collection(data / "borders.geojson")
    mix = targets(features)
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": os.getloadavg(),
        },
        "settings": {
            "seconds": args.seconds,
            "connections": args.connections,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "targets": mix,
            "features": len(features),
        },
        "runs": [],
    }
    stack.ensure_apt_packages()
    with stack.cluster() as pg, tempfile.TemporaryDirectory() as tmp:
        load_directory(pg.dsn, data)
        for workers in args.workers:
            port = free_port()
            cmd = gunicorn_command(
                "geoservice.wsgi:app", port, workers, args.worker_class, args.threads
            )
            t0 = time.monotonic()
            with running(
                cmd,
                f"http://{HOST}:{port}{mix[0]}",
                env={"GEOSERVICE_STORE": pg.dsn},
                log=Path(tmp) / f"w{workers}.log",
            ) as proc:
                ready_s = time.monotonic() - t0
                wrk.run(port, mix[0], seconds=2, connections=args.connections, mix=mix)  # warm
                wait_idle(proc)
                res = wrk.run(
                    port,
                    mix[0],
                    seconds=args.seconds,
                    connections=args.connections,
                    timeout_s=args.timeout,
                    mix=mix,
                )
                rss = worker_rss_mb(proc.pid)
            doc["runs"].append(
                {"workers": workers, "ready_s": round(ready_s, 1), "rss_mb": rss, **res.as_dict()}
            )
            log(
                f"{workers} worker(s): ready in {ready_s:.1f} s, {res.rps:.1f} req/s, p50 "
                f"{res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms, errors {res.errors}, RSS {rss}"
            )
    return doc


def markdown(doc: dict, command: str) -> str:
    s = doc["settings"]
    lines = [
        f"Run {doc['date']}, {doc['machine']['cpus']} cores, Python {doc['machine']['python']}; "
        f"gunicorn ({s['worker_class']}) on one throwaway PostGIS cluster (loopback, "
        f"{s['features']} border features); wrk 2 threads, {s['connections']} connections, "
        f"{s['seconds']} s per worker count, the requests in turn: "
        + ", ".join(f"`{t}`" for t in s["targets"])
        + "; load average at the start: "
        + ", ".join(f"{v:.2f}" for v in doc["machine"]["loadavg"])
        + ".",
        "",
        f"Reproduce: `{command}`",
        "",
        "| workers | ready s | RSS per worker MB | req/s | p50 ms | p99 ms | errors |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in doc["runs"]:
        lines.append(
            f"| {r['workers']} | {r['ready_s']:.1f} | "
            + ", ".join(f"{v:,.0f}" for v in r["rss_mb"])
            + f" | {r['rps']:,.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |"
        )
    return "\n".join(lines) + "\n"


def log(msg: str) -> None:
    print(f"[scaleout] {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scaleout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--timeout", type=int, default=10, help="wrk --timeout (s)")
    p.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--data", help="data directory (default: geodata/)")
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    p.add_argument("--out", type=Path, default=ARTIFACTS / "scaleout.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        print(f"scaleout: error: --workers must be integers: {args.workers!r}", file=sys.stderr)
        return 2
    if not args.workers or min(args.workers) < 1 or args.seconds < 1:
        print("scaleout: error: --workers and --seconds must be >= 1", file=sys.stderr)
        return 2
    doc = run(args)
    report.publish(doc, SECTION, argv, args.out, args.write, markdown=markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
