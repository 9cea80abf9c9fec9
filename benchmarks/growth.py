"""Growth: synthetic borders layers of 10k, 100k and 1M segments, and what queries cost on each.

    python -m benchmarks.growth                          # 10k, 100k, 1M segments
    python -m benchmarks.growth --sizes 1000 --repeat 3  # the smoke test's size

For each size, :func:`generate` writes a data directory to a temp dir (never committed): the
real borders split into shorter segments and, past what the real lines hold, copied with a
random shift (copy 0 stays in place) and a small jitter (about 10 m) of every vertex; every
segment keeps its feature's properties (same schema), with a new id. The other layers are
copied from the source data unchanged.

A fresh process then loads the directory with :func:`geoservice.catalog.load_catalog`
(start-up time: load plus the spatial index; peak RSS from ``getrusage``) and times:

- ``bbox`` queries (:meth:`LayerData.bbox_rows`) with boxes sized per data set so that each
  returns about 10, 100, 1 000 and 10 000 rows: at equal answer sizes the time should not grow
  with the data set (spatial index, no full scan);
- border lengths of KGZ-TJK as of a date (:func:`geoservice.measure.border_lengths`);
- an overlap of a small polygon around the Vorukh enclave with the borders layer
  (:func:`geoservice.measure.overlaps`).

Times are medians of ``--repeat`` runs, in milliseconds. Raw numbers go to
``artifacts/benchmarks/growth.json``; ``--write`` updates BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import shapely

from . import report
from .servers import ROOT

ARTIFACTS = ROOT / "artifacts" / "benchmarks"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
BBOX_TARGETS = (10, 100, 1_000, 10_000)
#: Where the bbox queries are centred: the Fergana valley (lon, lat).
CENTRE = (71.0, 40.3)
#: The overlap query: a small box around the Vorukh enclave (lon/lat).
VORUKH = (70.45, 39.75, 70.75, 39.95)
AS_OF = "2022-09-01"
PAIR = ["KGZ", "TJK"]
JITTER_DEG = 1e-4


# --- generation ----------------------------------------------------------------------------


def _parts(features: list[dict]) -> list[tuple[int, np.ndarray]]:
    """(feature index, vertex array) of every line part of the features."""
    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    out = []
    for i, geom in enumerate(geoms):
        for part in shapely.get_parts(geom):
            if part.geom_type == "LineString" and len(part.coords) >= 2:
                out.append((i, shapely.get_coordinates(part)))
    return out


def _pieces(parts: list[tuple[int, np.ndarray]], wanted: int) -> list[tuple[int, np.ndarray]]:
    """Split the parts into at most ``wanted`` pieces (at least one per part, at most one per
    segment), each part's share in proportion to its segments; the lines are kept whole."""
    segs = np.array([len(c) - 1 for _, c in parts])
    total = int(segs.sum())
    exact = segs * min(wanted, total) / total
    share = np.clip(np.floor(exact).astype(int), 1, segs)
    while share.sum() > max(wanted, len(parts)):  # the floor of one per part overshot
        share[np.argmax(share)] -= 1
    for i in np.argsort(share - exact):  # largest remainders first, up to ``wanted``
        if share.sum() >= min(wanted, total):
            break
        if share[i] < segs[i]:
            share[i] += 1
    out = []
    for (fi, coords), m in zip(parts, share):
        bounds = np.unique(np.round(np.linspace(0, len(coords) - 1, m + 1)).astype(int))
        for a, b in itertools.pairwise(bounds):
            out.append((fi, coords[a : b + 1]))
    return out


def generate(source: Path, segments: int, out: Path, seed: int = 6) -> dict:
    """Write a data directory with a borders layer of exactly ``segments`` features."""
    rng = np.random.default_rng(seed)
    features = orjson.loads((source / "borders.geojson").read_bytes())["features"]
    pieces = _pieces(_parts(features), segments)
    allc = np.concatenate([c for _, c in pieces])
    lo, hi = allc.min(axis=0), allc.max(axis=0)
    copies = -(-segments // len(pieces))
    out.mkdir(parents=True, exist_ok=True)
    for other in source.glob("*.geojson"):
        if other.name != "borders.geojson":
            shutil.copyfile(other, out / other.name)
    written = 0
    with open(out / "borders.geojson", "wb") as fh:
        fh.write(b'{"type":"FeatureCollection","features":[\n')
        for copy in range(copies):
            if copy == 0:
                shift = np.zeros(2)
            else:  # anywhere on the globe that keeps the whole copy in range
                shift = np.array(
                    [rng.uniform(-180 - lo[0], 180 - hi[0]), rng.uniform(-80 - lo[1], 80 - hi[1])]
                )
            for j, (fi, coords) in enumerate(pieces):
                if written == segments:
                    break
                source_feature = features[fi]
                xy = coords + shift + rng.uniform(-JITTER_DEG, JITTER_DEG, coords.shape)
                xy[:, 0] = np.clip(xy[:, 0], -180, 180)
                props = dict(source_feature["properties"])
                props["id"] = f"{props['id']}~{copy}.{j}"
                feature = {
                    "type": "Feature",
                    "id": props["id"],
                    "geometry": {"type": "LineString", "coordinates": xy.tolist()},
                    "properties": props,
                }
                fh.write((b",\n" if written else b"") + orjson.dumps(feature))
                written += 1
        fh.write(b"\n]}\n")
    return {
        "segments": written,
        "copies": copies,
        "pieces_per_copy": len(pieces),
        "file_mb": (out / "borders.geojson").stat().st_size / 1e6,
    }


# --- measurement (runs in a fresh process per size) ------------------------------------------


def _median_ms(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), result


def _box_for(layer, target: int) -> tuple[tuple[float, ...], int]:
    """A box around :data:`CENTRE` whose query returns about ``target`` rows (bisection)."""
    lo, hi = 1e-5, 90.0
    best = None
    for _ in range(40):
        half = (lo * hi) ** 0.5
        box = (CENTRE[0] - half, CENTRE[1] - half, CENTRE[0] + half, CENTRE[1] + half)
        n = len(layer.bbox_rows(box))
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (box, n)
        if n < target:
            lo = half
        elif n > target:
            hi = half
        else:
            break
    return best


def _rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextmanager
def _timing(module, names: list[str], into: dict[str, float]):
    """Add the seconds spent in ``module.<name>`` for each name to ``into`` while in the block."""
    saved = {name: getattr(module, name) for name in names}

    def wrap(name, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                into[name] = into.get(name, 0.0) + time.perf_counter() - t0

        return timed

    for name, fn in saved.items():
        setattr(module, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(module, name, fn)


def measure(directory: Path, repeat: int) -> dict:
    """Start-up, memory and query times on one data directory (call in a fresh process)."""
    from geoservice import catalog as catalog_module
    from geoservice.catalog import load_catalog

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    with (
        _timing(catalog_module, ["read_feature_collection", "frame_from_features"], steps),
        _timing(catalog_module.geodesy, ["lengths_km", "areas_km2"], steps),
    ):
        catalog = load_catalog(directory)
    borders = catalog["borders"]
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    borders.tree  # noqa: B018 - built at start-up, not at the first query
    borders.index_by_id  # noqa: B018
    steps["tree_and_ids"] = time.perf_counter() - t1
    startup_s = time.perf_counter() - t0
    row: dict = {
        "load_s": round(load_s, 2),
        "startup_s": round(startup_s, 2),
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "catalog_rss_mb": _rss_mb(),
        "features": len(borders.features),
        "bbox": [],
    }
    n = len(borders.features)
    for target in BBOX_TARGETS:
        if target > n / 2:
            continue
        box, _ = _box_for(borders, target)
        ms, rows = _median_ms(lambda box=box: borders.bbox_rows(box), repeat)
        row["bbox"].append(
            {
                "target": target,
                "rows": len(rows),
                "ms": round(ms, 4),
                "box": [round(v, 5) for v in box],
            }
        )
    try:
        from geoservice import measure as engine
    except ImportError as exc:  # the engine not there yet
        row["lengths"] = row["overlap"] = {"error": f"geoservice.measure: {exc}"}
    else:
        t1 = time.perf_counter()
        engine.border_lengths(catalog, countries=PAIR, as_of=AS_OF)
        row["lengths_first_ms"] = round((time.perf_counter() - t1) * 1e3, 2)
        ms, res = _median_ms(
            lambda: engine.border_lengths(catalog, countries=PAIR, as_of=AS_OF), repeat
        )
        row["lengths"] = {
            "ms": round(ms, 3),
            "segments": len(res["segments"]),
            "total_km": res["total_km"],
        }
        vorukh = shapely.box(*VORUKH)
        ms, res = _median_ms(
            lambda: engine.overlaps(catalog, geometry=vorukh, layers=["borders"], as_of=AS_OF),
            repeat,
        )
        row["overlap"] = {"ms": round(ms, 3), "hits": res["count"]}
        t2 = time.perf_counter()
        borders.valid(dt.date.fromisoformat(AS_OF))
        row["valid_mask_ms"] = round((time.perf_counter() - t2) * 1e3, 2)
    row.update(_measure_service(catalog, row["bbox"], repeat))
    row["peak_rss_mb"] = _rss_mb()
    return row


def _measure_service(catalog, boxes: list[dict], repeat: int) -> dict:
    """The service on this catalog (Flask test client, no HTTP server): start-up, its
    memory, and the same bbox boxes and lengths as full requests."""
    try:
        from geoservice.app import create_app
    except ImportError as exc:
        return {"service": {"error": f"geoservice.app: {exc}"}}
    t0 = time.perf_counter()
    client = create_app({"CATALOG": catalog}).test_client()
    out: dict = {
        "service": {
            "startup_s": round(time.perf_counter() - t0, 2),
            "rss_mb": _rss_mb(),
            "bbox": [],
        }
    }
    for b in boxes:
        target = f"/api/collections/borders/items?bbox={','.join(map(str, b['box']))}&limit=10000"

        def get(target=target):
            resp = client.get(target)
            if resp.status_code != 200:
                raise RuntimeError(f"{target}: HTTP {resp.status_code}: {resp.data[:200]!r}")
            return resp

        ms, resp = _median_ms(get, repeat)
        out["service"]["bbox"].append(
            {"target": b["target"], "ms": round(ms, 3), "bytes": len(resp.data)}
        )
    lengths = f"/api/lengths?countries={','.join(PAIR)}&as_of={AS_OF}"
    ms, resp = _median_ms(lambda: client.get(lengths), repeat)
    out["service"]["lengths"] = {"ms": round(ms, 3), "status": resp.status_code}
    return out


def measure_in_child(directory: Path, repeat: int, timeout: float) -> dict:
    """Run :func:`measure` in a fresh interpreter so that start-up and peak RSS are its own."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.growth",
        "--measure",
        str(directory),
        "--repeat",
        str(repeat),
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, check=False)
    if out.returncode:
        raise RuntimeError(f"measuring {directory} failed: {out.stderr.decode()[-2000:]}")
    return orjson.loads(out.stdout)


# --- the run -------------------------------------------------------------------------------


def notes_for(sizes: list[dict]) -> list[str]:
    """Plain statements read off the numbers (growth factors between the smallest and largest)."""
    if len(sizes) < 2:
        return []
    a, b = sizes[0], sizes[-1]
    factor = b["segments"] / a["segments"]
    notes = [
        (
            f"From {a['segments']:,} to {b['segments']:,} segments (x{factor:,.0f}): "
            f"start-up x{b['startup_s'] / max(a['startup_s'], 1e-3):,.1f}, peak RSS "
            f"x{b['peak_rss_mb'] / max(a['peak_rss_mb'], 1e-3):,.1f}."
        )
    ]
    same = [(x, y) for x in a["bbox"] for y in b["bbox"] if x["target"] == y["target"]]
    for x, y in same:
        notes.append(
            f"bbox at ~{x['target']:,} rows: {x['ms']:.3f} ms -> {y['ms']:.3f} ms "
            f"(x{y['ms'] / max(x['ms'], 1e-6):.1f}) while the data grew x{factor:,.0f}."
        )
    if "ms" in a.get("lengths", {}) and "ms" in b.get("lengths", {}):
        la, lb = a["lengths"], b["lengths"]
        notes.append(
            f"lengths: {la['ms']:.2f} ms for {la['segments']:,} segments summed -> "
            f"{lb['ms']:.2f} ms for {lb['segments']:,}; of which the validity mask over "
            f"the whole layer: {a.get('valid_mask_ms', 0):.2f} -> "
            f"{b.get('valid_mask_ms', 0):.2f} ms."
        )
    return notes


def run(args) -> dict:
    from geoservice.catalog import data_dir

    source = data_dir(args.data)
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": os.getloadavg(),
        },
        "source": str(source),
        "repeat": args.repeat,
        "as_of": AS_OF,
        "bbox_targets": [t for t in BBOX_TARGETS if t <= max(args.sizes) / 2],
        "sizes": [],
    }
    for size in args.sizes:
        tmp = Path(tempfile.mkdtemp(prefix=f"geoservice-growth-{size}-"))
        try:
            t0 = time.perf_counter()
            gen = generate(source, size, tmp)
            gen["generate_s"] = round(time.perf_counter() - t0, 2)
            log(
                f"{size:,} segments: {gen['file_mb']:.1f} MB in {gen['generate_s']:.1f} s "
                f"({gen['copies']} copies of {gen['pieces_per_copy']:,} pieces)"
            )
            row = {**gen, **measure_in_child(tmp, args.repeat, args.timeout)}
            doc["sizes"].append(row)
            log(
                f"  start-up {row['startup_s']:.1f} s, peak RSS {row['peak_rss_mb']:,.0f} MB, "
                f"bbox {[b['ms'] for b in row['bbox']]} ms, lengths {row.get('lengths')}, "
                f"overlap {row.get('overlap')}"
            )
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    doc["notes"] = notes_for(doc["sizes"])
    return doc


def log(msg: str) -> None:
    print(f"[growth] {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.growth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated segment counts"
    )
    p.add_argument("--repeat", type=int, default=7, help="runs per timed query (median)")
    p.add_argument("--data", help="source data directory (default: geodata/)")
    p.add_argument("--timeout", type=float, default=900, help="limit per size (s)")
    p.add_argument("--keep", action="store_true", help="keep the generated directories")
    p.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    p.add_argument(
        "--out",
        type=Path,
        default=ARTIFACTS / "growth.json",
        help="where the raw numbers go (JSON)",
    )
    p.add_argument("--measure", metavar="DIR", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.measure:
        sys.stdout.buffer.write(orjson.dumps(measure(Path(args.measure), args.repeat)))
        return 0
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"growth: error: --sizes must be integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        print("growth: error: sizes and --repeat must be >= 1", file=sys.stderr)
        return 2
    doc = run(args)
    report.publish(doc, "growth", argv, args.out, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
