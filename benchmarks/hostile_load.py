"""Normal requests beside hostile ones, under the README's production command.

    python -m benchmarks.hostile_load [--seconds 60] [--write]

gunicorn as the README runs it (``--preload -w 4 -k gthread --threads 4 --timeout 30``) on
127.0.0.1; for ``--seconds``: 8 client threads POST the worst *accepted* bodies of
:mod:`benchmarks.hostile` in turn (150 long random segments, a 1,000-vertex zigzag, 1,000 small
polygons) plus the worst refused one (1,000 segments), while wrk sends normal requests on 32
connections (conformance, an items page, one feature, a pair's lengths, a cached layer x
layer overlap). Reports wrk's p50/p99 of the normal requests, the statuses and times of the
hostile ones, and the largest resident memory of a worker (sampled every 0.5 s).
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from pathlib import Path

import orjson

from . import hostile, report, wrk
from .servers import HOST, ROOT, free_port, running

PRODUCTION = ["--preload", "-w", "4", "-k", "gthread", "--threads", "4", "--timeout", "30"]
NORMAL = [
    "/api/conformance",
    "/api/collections/borders/items?limit=10",
    "/api/collections/countries/items/KGZ",
    "/api/lengths?countries=KGZ,TJK",
    "/api/overlaps?a=borders&b=disputed_areas",
]
HOSTILE = {
    "150 segments": hostile.body(hostile.segments(150)),
    "1,000-vertex zigzag": hostile.body(hostile.zigzag(1000)),
    "1,000 small polygons": hostile.body(hostile.small_polygons(1000)),
    "1,000 segments (refused)": hostile.body(hostile.segments(1000)),
}


def worker_rss_mb(master: int) -> float:
    """Largest resident set (MB) among the children of ``master`` (the gunicorn workers)."""
    best = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master):
            best = max(best, int(fields.get("VmRSS", "0 kB").split()[0]) / 1024)
    return best


def hostile_client(port: int, stop: float, results: list, index: int) -> None:
    names = list(HOSTILE)
    k = index
    while time.monotonic() < stop:
        name = names[k % len(names)]
        k += 1
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start = time.perf_counter()
        try:
            conn.request(
                "POST",
                "/api/overlaps",
                body=HOSTILE[name],
                headers={"Content-Type": "application/json"},
            )
            status = conn.getresponse().status
        except OSError as exc:
            status = f"error {exc.__class__.__name__}"
        results.append((name, status, time.perf_counter() - start))
        conn.close()


def run(seconds: int) -> dict:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "geoservice.wsgi:app", "-b", f"{HOST}:{port}"]
    with running([*cmd, *PRODUCTION], f"http://{HOST}:{port}/api", cwd=ROOT) as proc:
        for target in NORMAL:  # warm the caches (layer x layer overlap) in every worker
            for _ in range(8):
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                conn.request("GET", target)
                conn.getresponse().read()
        stop = time.monotonic() + seconds
        results: list = []
        clients = [
            threading.Thread(target=hostile_client, args=(port, stop, results, i)) for i in range(8)
        ]
        for c in clients:
            c.start()
        memory = [0.0]

        def sample():
            while time.monotonic() < stop + 2:
                memory[0] = max(memory[0], worker_rss_mb(proc.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        normal = wrk.run(port, NORMAL[0], seconds=seconds, connections=32, mix=NORMAL)
        for c in clients:
            c.join()
        sampler.join()
    by_body: dict = {}
    for name, status, secs in results:
        entry = by_body.setdefault(name, {"statuses": {}, "max_s": 0.0, "n": 0})
        entry["statuses"][str(status)] = entry["statuses"].get(str(status), 0) + 1
        entry["max_s"] = round(max(entry["max_s"], secs), 2)
        entry["n"] += 1
    return {
        "seconds": seconds,
        "command": "gunicorn geoservice.wsgi:app " + " ".join(PRODUCTION),
        "normal": normal.as_dict(),
        "hostile": by_body,
        "worker_rss_max_mb": round(memory[0], 1),
    }


def markdown(result: dict) -> str:
    n = result["normal"]
    lines = [
        f"Command: `{result['command']}`, {result['seconds']} s, 2 cores.",
        "",
        "| load | requests | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
        (
            f"| 32 connections, normal requests (wrk) | {n['requests']} | {n['p50_ms']:.1f} "
            f"| {n['p99_ms']:.1f} | {n['errors']} |"
        ),
        "",
        "| hostile body (8 clients in turn) | requests | statuses | slowest s |",
        "|---|---|---|---|",
    ]
    for name, e in result["hostile"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(e["statuses"].items()))
        lines.append(f"| {name} | {e['n']} | {statuses} | {e['max_s']} |")
    lines += ["", f"Largest worker resident memory: {result['worker_rss_max_mb']} MB."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--write", action="store_true", help="record the figures in BENCHMARKS.md")
    args = ap.parse_args(argv)
    result = run(args.seconds)
    out = ROOT / "artifacts" / "benchmarks" / "hostile_load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    text = markdown(result)
    print(text)
    if args.write:
        report.update_section(report.BENCHMARKS_MD, "hostile-load", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
