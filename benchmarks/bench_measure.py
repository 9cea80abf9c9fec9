"""Benchmark of the measurement engine on the shipped data (geodata/), after warm-up.

Run: ``python benchmarks/bench_measure.py [--repeat N]``. Prints one line per case with the
median and best wall time in ms; the goals are <5 ms for all border lengths as of a date and
<50 ms for one user polygon overlapped with every layer. Figures go to BENCHMARKS.md
("Measurement engine").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geoservice import measure, overlay
from geoservice.catalog import load_catalog

# Two user areas: ~50 x 50 km around Vorukh and the Isfara valley (KGZ-TJK); ~130 x 155 km over
# Syunik, Lachin and Nagorno-Karabakh (every layer has features there).
ISFARA = {
    "type": "Polygon",
    "coordinates": [[[70.3, 39.7], [70.9, 39.7], [70.9, 40.15], [70.3, 40.15], [70.3, 39.7]]],
}
SYUNIK_KARABAKH = {
    "type": "Polygon",
    "coordinates": [[[45.5, 38.8], [47.0, 38.8], [47.0, 40.2], [45.5, 40.2], [45.5, 38.8]]],
}


def timed(function, repeat: int) -> tuple[float, float]:
    """(median, best) wall time in ms over ``repeat`` calls, after two warm-up calls."""
    function()
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    catalog = load_catalog()
    load_ms = (time.perf_counter() - start) * 1e3
    day = dt.date(2022, 9, 1)
    cases = [
        (
            "border_lengths, all pairs, as of 2022-09-01",
            5.0,
            lambda: measure.border_lengths(catalog, as_of=day),
        ),
        (
            "border_lengths, KGZ-TJK, as of 2022-09-01",
            5.0,
            lambda: measure.border_lengths(catalog, ["KGZ", "TJK"], as_of=day),
        ),
        (
            "overlaps, Isfara polygon x every layer",
            50.0,
            lambda: measure.overlaps(catalog, geometry=ISFARA, as_of=day),
        ),
        (
            "overlaps, Syunik-Karabakh polygon x every layer, 2021-06-01",
            50.0,
            lambda: measure.overlaps(catalog, geometry=SYUNIK_KARABAKH, as_of=dt.date(2021, 6, 1)),
        ),
        (
            "overlaps, Isfara polygon x every layer, cold (no cached projection)",
            50.0,
            lambda: (
                overlay.transformer.cache_clear(),
                measure.overlaps(catalog, geometry=ISFARA, as_of=day),
            ),
        ),
        (
            "overlaps, corridors x peacekeeping_zones, 2021-06-01",
            None,
            lambda: measure.overlaps(
                catalog, "corridors", "peacekeeping_zones", as_of=dt.date(2021, 6, 1)
            ),
        ),
    ]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; catalog load {load_ms:.0f} ms")
    for name, goal, function in cases:
        repeat = args.repeat if goal == 5.0 else max(10, args.repeat // 10)
        median, best = timed(function, repeat)
        verdict = "" if goal is None else ("  ok" if median < goal else f"  OVER goal {goal} ms")
        print(f"{name}: median {median:.2f} ms, best {best:.2f} ms (n={repeat}){verdict}")


if __name__ == "__main__":
    main()
