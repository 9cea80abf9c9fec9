"""Markdown for BENCHMARKS.md: tables from the results documents, and section replacement.

Each script owns one section between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``;
everything outside the markers (other people's sections, prose) is kept as it is.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"

SERVERS = ("service", "service_postgis", "pygeoapi", "ceiling")
#: Column titles of the servers in the side-by-side table.
TITLES = {
    "service": "service (files)",
    "service_postgis": "service (PostGIS)",
    "pygeoapi": "pygeoapi (PostGIS)",
    "ceiling": "ceiling",
}


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or not b.get("rps"):
        return "n/a"
    return f"{a['rps'] / b['rps']:.2f}"


def compare_markdown(doc: dict, command: str) -> str:
    """The side-by-side table (req/s, p50, p99 per server; ratios) and the soak line."""
    s = doc["settings"]
    res = doc["results"]
    threads = f", {s['threads']} threads" if s["worker_class"] == "gthread" else ""
    lines = [
        (
            f"Run {doc['date']}, {doc['machine']['cpus']} cores, Python {doc['machine']['python']}"
            f"{', pygeoapi ' + s['pygeoapi'] if s.get('pygeoapi') else ''}; gunicorn "
            f"{s['workers']} workers ({s['worker_class']}{threads}) for each server; wrk "
            f"{s['wrk_threads']} threads, {s['connections']} connections, {s['seconds']} s per "
            f"request and server, --timeout {s.get('timeout_s', 2)} s; {s['features']} border "
            "features."
        ),
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    # Servers in the run (the files service and pygeoapi always have columns, as before).
    servers = [x for x in SERVERS if x in res or x in ("service", "pygeoapi", "ceiling")]
    ratios = [("service", "pygeoapi"), ("service", "ceiling")]
    if "service_postgis" in res:
        ratios.insert(1, ("service_postgis", "pygeoapi"))
    head = ["request", "bytes"]
    for server in servers:
        head += [f"{TITLES[server]} req/s", "p50 ms", "p99 ms"]
    head += [f"{a}/{b}" for a, b in ratios]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "--:|" * (len(head) - 1)]
    errors = []
    for req in doc["requests"]:
        name = req["name"]
        cells = [req["label"], f"{doc.get('bytes', {}).get(name, 0):,}"]
        for server in servers:
            r = res.get(server, {}).get(name)
            cells += [_num(r and r["rps"]), _num(r and r["p50_ms"], 2), _num(r and r["p99_ms"], 2)]
            if r and r["errors"]:
                errors.append(f"{server} {name}: {r['errors']} errors")
        cells += [_ratio(res.get(a, {}).get(name), res.get(b, {}).get(name)) for a, b in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Errors in these runs: " + ("; ".join(errors) if errors else "none") + ".")
    goals = _goals(doc)
    if goals:
        lines += ["", *goals]
    soak = doc.get("soak")
    if soak:
        lines += [
            "",
            (
                f"Soak (this service, all six requests in turn): {soak['connections']} "
                f"connections for {soak['seconds']} s, wrk --timeout {soak['timeout_s']} "
                f"s: {soak['requests']:,} requests, {soak['rps']:,.1f} req/s, p50 "
                f"{soak['p50_ms']:.1f} ms, p99 {soak['p99_ms']:.1f} ms, "
                f"**{soak['errors']} errors** (connect {soak['connect_errors']}, read "
                f"{soak['read_errors']}, write {soak['write_errors']}, timeout "
                f"{soak['timeouts']}, non-2xx {soak['non_2xx']})."
            ),
        ]
    fr = doc.get("features_returned")
    if fr:
        same = all(v["service"] == v["pygeoapi"] for v in fr.values())
        lines += [
            "",
            "Features returned, service/pygeoapi: "
            + ", ".join(f"{k} {v['service']}/{v['pygeoapi']}" for k, v in fr.items())
            + (" (the same)" if same else " (they differ)")
            + "; pygeoapi's bytes: "
            + ", ".join(f"{k} {v.get('pygeoapi_bytes', 0):,}" for k, v in fr.items())
            + ".",
        ]
    before, after = doc["machine"]["before"], doc["machine"].get("after", {})
    lines += [
        "",
        "Load average (1, 5, 15 min) before the run: "
        + ", ".join(f"{v:.2f}" for v in before["loadavg"])
        + (", after: " + ", ".join(f"{v:.2f}" for v in after["loadavg"]) if after else "")
        + ". Busy processes just before (share of a core over 1 s): "
        + (", ".join(before["busy"]) or "none")
        + ".",
    ]
    if "elapsed_s" in doc:
        lines.append(f"Whole run: {doc['elapsed_s']:.0f} s.")
    return "\n".join(lines) + "\n"


def _goals(doc: dict) -> list[str]:
    """The issue's goals checked on this run: >= 50% of the ceiling on every request type,
    p99 < 50 ms for pages up to 100 features (and the other small answers)."""
    res = doc["results"]
    service, ceiling = res.get("service", {}), res.get("ceiling", {})
    out = []
    if service and ceiling:
        shares = {
            name: service[name]["rps"] / ceiling[name]["rps"]
            for name in service
            if ceiling.get(name, {}).get("rps")
        }
        low = {k: v for k, v in shares.items() if v < 0.5}
        out.append(
            "Goal >= 50% of the ceiling on every request type: "
            + (
                "met"
                if not low
                else "not met for " + ", ".join(f"{k} ({v:.0%})" for k, v in low.items())
            )
            + "."
        )
    small = [n for n in ("items_10", "items_100") if n in service]
    if small:
        over = {n: service[n]["p99_ms"] for n in small if service[n]["p99_ms"] >= 50}
        out.append(
            f"Goal p99 < 50 ms at {doc['settings']['connections']} connections for pages "
            "up to 100 features: "
            + (
                "met"
                if not over
                else "not met: " + ", ".join(f"{k} p99 {v:.1f} ms" for k, v in over.items())
            )
            + "."
        )
    return out


def growth_markdown(doc: dict, command: str) -> str:
    """Tables of start-up, memory and query times per synthetic size."""
    lines = [
        (
            f"Run {doc['date']}, {doc['machine']['cpus']} cores, Python "
            f"{doc['machine']['python']}; each size loaded in a fresh process with `load_catalog` "
            f"(other layers from geodata/); query times are the median of {doc['repeat']} runs; "
            "load average (1, 5, 15 min) at the start: "
            + ", ".join(f"{v:.2f}" for v in doc["machine"]["loadavg"])
            + "."
        ),
        "",
        f"Reproduce: `{command}`",
        "",
        (
            "| segments | file MB | catalog start-up s | RSS MB | service start-up s (+) "
            "| peak RSS MB | lengths as of "
            f"{doc['as_of']} ms (segments summed) | overlap ms (hits) | `/api/lengths` ms |"
        ),
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in doc["sizes"]:
        svc = row.get("service", {})
        lines.append(
            f"| {row['segments']:,} | {row['file_mb']:,.1f} | {row['startup_s']:.1f} "
            f"| {row['catalog_rss_mb']:,.0f} | {_num(svc.get('startup_s'))} "
            f"| {row['peak_rss_mb']:,.0f} | {_timed(row.get('lengths'), 'segments')} "
            f"| {_timed(row.get('overlap'), 'hits')} "
            f"| {_num(svc.get('lengths', {}).get('ms'), 2)} |"
        )
    lines += [
        "",
        "Where the catalog start-up goes (s): "
        + "; ".join(
            f"{row['segments']:,}: " + ", ".join(f"{k} {v:.1f}" for k, v in row["steps_s"].items())
            for row in doc["sizes"]
        )
        + ". The service start-up (+) is `create_app` on the loaded "
        "catalog (every feature serialised once).",
    ]
    targets = doc["bbox_targets"]
    lines += [
        "",
        (
            "bbox queries, median ms (rows returned), boxes around the Fergana valley "
            "sized per data set so that each returns about the same number of rows; "
            "`bbox_rows` is the catalog's STRtree query, `service` the whole items "
            "request through the Flask test client (`limit=10000`):"
        ),
        "",
        "| segments | query | " + " | ".join(f"~{t:,} rows" for t in targets) + " |",
        "|--:|---|" + "--:|" * len(targets),
    ]
    for row in doc["sizes"]:
        by_target = {b["target"]: b for b in row["bbox"]}
        cells = [
            f"{by_target[t]['ms']:.3f} ({by_target[t]['rows']:,})" if t in by_target else "-"
            for t in targets
        ]
        lines.append(f"| {row['segments']:,} | `bbox_rows` | " + " | ".join(cells) + " |")
        svc = {b["target"]: b for b in row.get("service", {}).get("bbox", [])}
        if svc:
            cells = [f"{svc[t]['ms']:.2f}" if t in svc else "-" for t in targets]
            lines.append(f"| {row['segments']:,} | service | " + " | ".join(cells) + " |")
    if doc.get("notes"):
        lines += [""] + [f"- {note}" for note in doc["notes"]]
    return "\n".join(lines) + "\n"


def _timed(entry: dict | None, count_key: str) -> str:
    if not entry:
        return "n/a"
    if "error" in entry:
        return f"n/a ({entry['error']})"
    return f"{entry['ms']:.2f} ({entry[count_key]:,})"


def update_section(path: Path, name: str, body: str) -> None:
    """Replace the text between this section's markers in ``path`` (append it if absent)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + f"\n\n{block}\n"
    path.write_text(text)


def publish(
    doc: dict,
    name: str,
    argv: list[str] | None,
    out: Path,
    write: bool,
    section: str | None = None,
    markdown=None,
) -> None:
    """Save the raw numbers to ``out``, print the markdown (``name``: ``compare`` or
    ``growth``, else ``markdown(doc, command)`` of the script ``benchmarks.<name>``), and with
    ``write`` put it into BENCHMARKS.md as ``section`` (default name)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    module = name.replace("-", "_")
    command = " ".join(
        [f"python -m benchmarks.{module}", *(argv if argv is not None else sys.argv[1:])]
    )
    if markdown is None:
        markdown = {"compare": compare_markdown, "growth": growth_markdown}[name]
    text = markdown(doc, command)
    print(text)
    if write:
        update_section(BENCHMARKS_MD, section or name, text)
