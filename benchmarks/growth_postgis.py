"""Growth on PostGIS: the synthetic borders of :mod:`benchmarks.growth` in one throwaway cluster.

    python -m benchmarks.growth_postgis                          # 10k, 100k, 1M segments
    python -m benchmarks.growth_postgis --sizes 1000 --repeat 3  # the smoke test's size

For each size the data directory of :func:`benchmarks.growth.generate` (the real borders split
and copied around the globe, every segment with its feature's properties) is loaded with
``geoservice load`` (a fresh process, timed), then a fresh process measures the PostGIS store:

- start-up: :class:`~geoservice.store.PostgisStore` opened and a first items query answered,
  and that process's RSS (what each app server process holds: no layer in memory);
- ``bbox`` queries through :meth:`PostgisStore.query` (count + page of up to 10,000 features as
  GeoJSON dicts), boxes around the Fergana valley sized per data set to return about 10, 100,
  1,000 and 10,000 rows: the time should follow the answer, not the table;
- lengths of KGZ-TJK by status as of a date (:meth:`PostgisStore.lengths_by_status`, the
  table of length changes) and, for contrast, the same sum as one SQL scan of the segments;
- with ``--service-max`` (default 10,000,000) and below: ``create_app`` on the store (its
  seconds and RSS) and its handlers through Flask's test client (no HTTP server): lengths
  with and without segments, the bbox items pages;
- with ``--app``: the service itself, ``geoservice serve --store DSN`` in a fresh process: the
  seconds until it prints its URL and its RSS (sampled from /proc; stopped past
  ``--app-max-rss`` MB or ``--app-timeout`` s, and then reported as not started), then over
  HTTP ``/api/lengths`` of KGZ-TJK as of the date and the bbox items pages.

``--dsn DSN[,DSN…]`` measures databases already loaded (``geoservice load``) instead of
generating and loading one per size. ``--app`` also times ``import geoservice.app`` alone in a
fresh process (the part of the start-up that does not depend on the data), and
``/api/lengths`` with ``segments=false`` (the lengths alone: on PostGIS the table of length
changes, not the segments).

Medians of ``--repeat`` runs, in ms. Raw numbers: ``artifacts/benchmarks/growth-postgis.json``;
``--write`` updates BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from . import report
from .growth import AS_OF, BBOX_TARGETS, CENTRE, PAIR, _median_ms, _rss_mb, generate
from .servers import ROOT

ARTIFACTS = ROOT / "artifacts" / "benchmarks"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SECTION = "growth-postgis"


def _box_for(store, target: int) -> tuple[tuple[float, ...], int]:
    """A box around :data:`CENTRE` whose query matches about ``target`` rows (bisection on the
    store's matched count)."""
    from geoservice.store import Query

    lo, hi = 1e-5, 90.0
    best = None
    for _ in range(40):
        half = (lo * hi) ** 0.5
        box = (CENTRE[0] - half, CENTRE[1] - half, CENTRE[0] + half, CENTRE[1] + half)
        n = store.query("borders", Query(bbox=box, limit=0)).matched
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (box, n)
        if n < target:
            lo = half
        elif n > target:
            hi = half
        else:
            break
    return best


def measure(dsn: str, repeat: int, service: bool) -> dict:
    """Start-up, memory and query times of the PostGIS store (call in a fresh process)."""
    from geoservice.store import PostgisStore, Query

    t0 = time.perf_counter()
    store = PostgisStore(dsn)
    open_s = time.perf_counter() - t0
    first = store.query("borders", Query(limit=10))
    first_s = time.perf_counter() - t0 - open_s
    again_ms, _ = _median_ms(lambda: store.query("borders", Query(limit=10)), repeat)
    row: dict = {
        "startup_s": round(open_s, 3),
        "first_page_s": round(first_s, 3),
        "page_ms": round(again_ms, 2),
        "startup_rss_mb": _rss_mb(),
        "features": first.matched,
        "bbox": [],
    }
    with store.connection() as conn:
        row["rows"] = conn.execute("SELECT count(*) FROM geoservice.borders").fetchone()[0]
        row["table_mb"] = round(
            conn.execute("SELECT pg_total_relation_size('geoservice.borders')").fetchone()[0] / 1e6,
            1,
        )
    for target in BBOX_TARGETS:
        if target > row["features"] / 2:
            continue
        box, _ = _box_for(store, target)
        ms, result = _median_ms(
            lambda box=box: store.query("borders", Query(bbox=box, limit=10_000)), repeat
        )
        count_ms, _ = _median_ms(
            lambda box=box: store.query("borders", Query(bbox=box, limit=0)), repeat
        )
        row["bbox"].append(
            {
                "target": target,
                "rows": len(result.features),
                "ms": round(ms, 3),
                "count_ms": round(count_ms, 3),
                "box": [round(v, 5) for v in box],
            }
        )
    day = dt.date.fromisoformat(AS_OF)
    pair = "-".join(PAIR)
    ms, by_status = _median_ms(
        lambda: store.lengths_by_status(day, "on_the_ground", pair=pair), repeat
    )
    row["lengths"] = {"ms": round(ms, 3), "km": {k: round(v, 3) for k, v in by_status.items()}}
    scan = (
        "SELECT status, sum(length_km) FROM geoservice.borders WHERE kind = 'international' "
        "AND props -> 'countries' = %s::jsonb "
        "AND (valid_from IS NULL OR valid_from <= %s) AND (valid_to IS NULL OR valid_to > %s) "
        "AND (views IS NULL OR views ? 'on_the_ground') GROUP BY status"
    )
    with store.connection() as conn:
        ms, _ = _median_ms(
            lambda: conn.execute(scan, [orjson.dumps(PAIR).decode(), day, day]).fetchall(),
            repeat,
        )
    row["lengths_scan_ms"] = round(ms, 3)
    if service:
        from geoservice.app import create_app

        t1 = time.perf_counter()
        app = create_app({"STORE": dsn})
        row["service"] = {
            "startup_s": round(time.perf_counter() - t1, 2),
            "rss_mb": _rss_mb(),
        }
        row["service"].update(_handler_times(app.test_client(), row["bbox"], repeat))
    row["peak_rss_mb"] = _rss_mb()
    store.close()
    return row


def _handler_times(client, boxes: list[dict], repeat: int) -> dict:
    """Median ms of the app's own handlers (Flask's test client, no HTTP server): lengths of
    the pair as of the date, with and without segments, and the bbox items pages."""

    def get(url: str):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.data[:300])
        return answer

    lengths = f"/api/lengths?countries={','.join(PAIR)}&as_of={AS_OF}"
    out = {"lengths_ms": _median_ms(lambda: get(lengths), repeat)[0]}
    out["totals_ms"] = _median_ms(lambda: get(lengths + "&segments=false"), repeat)[0]
    out["bbox"] = []
    for b in boxes:
        url = "/api/collections/borders/items?limit=10000&bbox=" + ",".join(map(str, b["box"]))
        out["bbox"].append(
            {"rows": b["rows"], "ms": round(_median_ms(lambda u=url: get(u), repeat)[0], 2)}
        )
    out["rss_after_mb"] = _rss_mb()
    return out


def _proc_rss_mb(pid: int) -> float:
    """Current resident set size of a process (MB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(int(kb) / 1024, 1)


def _get_ms(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as answer:
        answer.read()
    return (time.perf_counter() - t0) * 1000


def measure_app(dsn: str, repeat: int, boxes: list[dict], timeout: float, max_rss: float) -> dict:
    """``geoservice serve --store DSN`` in a fresh process: seconds until it serves, its RSS
    (MB; stopped past ``max_rss`` or ``timeout``), then lengths and bbox pages over HTTP (ms)."""
    cmd = [sys.executable, "-m", "geoservice", "serve", "--store", dsn]
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
        reader.start()
        peak, stopped = 0.0, None
        try:
            while reader.is_alive():
                peak = max(peak, _proc_rss_mb(proc.pid))
                elapsed = time.perf_counter() - t0
                if peak > max_rss:
                    stopped = (
                        f"stopped at {peak:,.0f} MB after {elapsed:.0f} s (limit {max_rss:,.0f} MB)"
                    )
                elif elapsed > timeout:
                    stopped = (
                        f"stopped after {elapsed:.0f} s at {peak:,.0f} MB (limit {timeout:.0f} s)"
                    )
                if stopped:
                    break
                reader.join(0.2)
            row: dict = {"startup_s": round(time.perf_counter() - t0, 2)}
            if stopped or not first or "http://" not in first[0]:
                log.seek(0)
                row["stopped"] = stopped or f"did not start: {log.read().decode()[-500:]}"
                row["rss_mb"] = peak
                return row
            base = "http://" + first[0].split("http://", 1)[1].split("/", 1)[0]
            row["rss_mb"] = max(peak, _proc_rss_mb(proc.pid))
            lengths = f"{base}/api/lengths?countries={','.join(PAIR)}&as_of={AS_OF}"
            row["first_lengths_ms"] = round(_get_ms(lengths), 1)
            row["lengths_ms"], _ = _median_ms(lambda: _get_ms(lengths), repeat)
            totals = lengths + "&segments=false"
            row["totals_ms"], _ = _median_ms(lambda: _get_ms(totals), repeat)
            row["bbox"] = []
            for b in boxes:
                url = f"{base}/api/collections/borders/items?limit=10000&bbox=" + ",".join(
                    map(str, b["box"])
                )
                ms, _ = _median_ms(lambda url=url: _get_ms(url), repeat)
                row["bbox"].append({"target": b["target"], "rows": b["rows"], "ms": round(ms, 2)})
            row["served_rss_mb"] = _proc_rss_mb(proc.pid)
            return row
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def import_seconds() -> float:
    """Seconds to ``import geoservice.app`` in a fresh process (the same at every size)."""
    code = (
        "import time; t = time.perf_counter(); import geoservice.app; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True)
    return round(float(out.stdout), 2)


def _child(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, timeout=timeout, check=False
    )
    if out.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {out.stderr.decode()[-2000:]}")
    return out


def _measure_size(dsn: str, args, gen: dict) -> dict:
    """The store measured in a fresh process, then (``--app``) the service on it."""
    cmd = ["benchmarks.growth_postgis", "--measure", dsn, "--repeat", str(args.repeat)]
    service = gen.get("segments", 0) <= args.service_max
    if service:
        cmd.append("--service")
    row = {**gen, **orjson.loads(_child(cmd, args.timeout).stdout)}
    row.setdefault("segments", row["rows"])
    if args.app:
        row["app"] = measure_app(dsn, args.repeat, row["bbox"], args.app_timeout, args.app_max_rss)
        row["app"]["import_s"] = import_seconds()
    log(
        f"  start-up {row['startup_s']} s, RSS {row['startup_rss_mb']} MB, bbox "
        f"{[(b['rows'], b['ms']) for b in row['bbox']]}, lengths {row['lengths']['ms']} "
        f"ms (scan {row['lengths_scan_ms']} ms), service {row.get('service')}, "
        f"app {row.get('app')}"
    )
    return row


def run(args) -> dict:
    from geoservice.catalog import data_dir

    from . import pygeoapi_stack as stack

    source = data_dir(args.data)
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": os.getloadavg(),
        },
        "repeat": args.repeat,
        "as_of": AS_OF,
        "sizes": [],
    }
    if args.dsn:
        for dsn in args.dsn.split(","):
            doc["sizes"].append(_measure_size(dsn, args, {"load_s": None}))
        return doc
    stack.ensure_apt_packages()
    with stack.cluster() as pg:
        for size in args.sizes:
            tmp = Path(tempfile.mkdtemp(prefix=f"geoservice-growth-pg-{size}-"))
            try:
                t0 = time.perf_counter()
                gen = generate(source, size, tmp)
                gen["generate_s"] = round(time.perf_counter() - t0, 1)
                t0 = time.perf_counter()
                _child(["geoservice", "load", pg.dsn, str(tmp)], args.timeout)
                gen["load_s"] = round(time.perf_counter() - t0, 1)
                log(
                    f"{size:,} segments: generated in {gen['generate_s']} s, loaded in "
                    f"{gen['load_s']} s"
                )
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            doc["sizes"].append(_measure_size(pg.dsn, args, gen))
    return doc


def markdown(doc: dict, command: str) -> str:
    """The tables of a run."""
    lines = [
        f"Run {doc['date']}, {doc['machine']['cpus']} cores, Python {doc['machine']['python']}; "
        f"one throwaway PostgreSQL 15 + PostGIS 3 cluster on the loopback (fsync off); each size "
        f"loaded with `geoservice load` (a fresh process), measured in another fresh process; "
        f"medians of {doc['repeat']} runs; load average at the start: "
        + ", ".join(f"{v:.2f}" for v in doc["machine"]["loadavg"])
        + ".",
        "",
        f"Reproduce: `{command}`",
        "",
        (
            "| segments | load s | table + indexes MB | store start-up s | RSS MB | first page "
            f"of 10 s (then ms) | lengths as of {doc['as_of']} ms (one SQL scan instead) | "
            "app start-up s, RSS MB |"
        ),
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in doc["sizes"]:
        svc = row.get("service")
        lines.append(
            f"| {row['segments']:,} | "
            + ("-" if row["load_s"] is None else f"{row['load_s']:.1f}")
            + f" | {row['table_mb']:,.0f} | "
            f"{row['startup_s']:.2f} | {row['startup_rss_mb']:,.0f} | "
            f"{row['first_page_s']:.2f} ({row['page_ms']:.2f}) | "
            f"{row['lengths']['ms']:.2f} ({row['lengths_scan_ms']:.1f}) | "
            + (f"{svc['startup_s']:.1f} s, {svc['rss_mb']:,.0f} MB" if svc else "not run")
            + " |"
        )
    targets = sorted({b["target"] for row in doc["sizes"] for b in row["bbox"]})
    lines += [
        "",
        (
            "bbox through `PostgisStore.query`, median ms (rows returned; count-only query "
            "after the semicolon), boxes around the Fergana valley sized per data set:"
        ),
        "",
        "| segments | " + " | ".join(f"~{t:,} rows" for t in targets) + " |",
        "|--:|" + "--:|" * len(targets),
    ]
    for row in doc["sizes"]:
        by_target = {b["target"]: b for b in row["bbox"]}
        cells = [
            f"{b['ms']:.2f} ({b['rows']:,}; {b['count_ms']:.2f})" if b else "-"
            for b in (by_target.get(t) for t in targets)
        ]
        lines.append(f"| {row['segments']:,} | " + " | ".join(cells) + " |")
    services = [row for row in doc["sizes"] if "bbox" in row.get("service", {})]
    if services:
        lines += [
            "",
            (
                "The app in process (`create_app` on the store, then its handlers through "
                "Flask's test client, no HTTP server): seconds and RSS after `create_app`, "
                "RSS after the requests, median ms:"
            ),
            "",
            (
                "| segments | `create_app` s | RSS MB (after the requests) | `/api/lengths` ms | "
                "`segments=false` ms | bbox pages ms (rows) |"
            ),
            "|--:|--:|--:|--:|--:|---|",
        ]
        for row in services:
            svc = row["service"]
            bbox = ", ".join(f"{b['ms']:.1f} ({b['rows']:,})" for b in svc["bbox"])
            lines.append(
                f"| {row['segments']:,} | {svc['startup_s']:.2f} | {svc['rss_mb']:,.0f} "
                f"({svc['rss_after_mb']:,.0f}) | {svc['lengths_ms']:.1f} | "
                f"{svc['totals_ms']:.1f} | {bbox} |"
            )
    apps = [row for row in doc["sizes"] if "app" in row]
    if apps:
        lines += [
            "",
            (
                "The service, `geoservice serve --store DSN` in a fresh process: seconds until it "
                "prints its URL, its RSS then (MB), and over HTTP the median ms of "
                f"`/api/lengths` of {'-'.join(PAIR)} as of {doc['as_of']} (the first request in "
                "brackets) and of the bbox items pages above:"
            ),
            "",
            (
                "| segments | start-up s (of which `import geoservice.app`) | RSS MB (after the "
                "requests) | `/api/lengths` ms | `segments=false` ms | bbox pages ms (rows) |"
            ),
            "|--:|--:|--:|--:|--:|---|",
        ]
        for row in apps:
            app = row["app"]
            if "stopped" in app:
                cells = [f"{app['startup_s']:.1f}", f"{app['rss_mb']:,.0f}", app["stopped"]]
                cells += ["-", "-"]
            else:
                bbox = ", ".join(f"{b['ms']:.1f} ({b['rows']:,})" for b in app["bbox"])
                imports = app.get("import_s")
                cells = [
                    f"{app['startup_s']:.1f}" + (f" ({imports:.1f})" if imports else ""),
                    f"{app['rss_mb']:,.0f} ({app['served_rss_mb']:,.0f})",
                    f"{app['lengths_ms']:.1f} ({app['first_lengths_ms']:.0f})",
                    f"{app['totals_ms']:.1f}" if "totals_ms" in app else "-",
                    bbox,
                ]
            lines.append(f"| {row['segments']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def log(msg: str) -> None:
    print(f"[growth-postgis] {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.growth_postgis",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    p.add_argument("--repeat", type=int, default=7, help="runs per timed query (median)")
    p.add_argument("--data", help="source data directory (default: geodata/)")
    p.add_argument("--timeout", type=float, default=900, help="limit per step (s)")
    p.add_argument(
        "--service-max",
        type=int,
        default=10_000_000,
        help="largest size at which create_app and its handlers are timed in process",
    )
    p.add_argument("--app", action="store_true", help="also time `geoservice serve --store`")
    p.add_argument("--app-timeout", type=float, default=300, help="start-up limit of --app (s)")
    p.add_argument("--app-max-rss", type=float, default=4000, help="RSS limit of --app (MB)")
    p.add_argument(
        "--dsn", help="measure these loaded databases (comma-separated) instead of generating sizes"
    )
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    p.add_argument("--out", type=Path, default=ARTIFACTS / "growth-postgis.json")
    p.add_argument("--measure", metavar="DSN", help=argparse.SUPPRESS)
    p.add_argument("--service", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.measure:
        sys.stdout.buffer.write(orjson.dumps(measure(args.measure, args.repeat, args.service)))
        return 0
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"growth_postgis: error: --sizes must be integers: {args.sizes!r}", file=sys.stderr)
        return 2
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        print("growth_postgis: error: sizes and --repeat must be >= 1", file=sys.stderr)
        return 2
    doc = run(args)
    report.publish(doc, SECTION, argv, args.out, args.write, markdown=markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
