#!/usr/bin/env bash
# The full recorded benchmark run (about 25 minutes on 2 cores), results into BENCHMARKS.md:
#   1. this service (file store and PostGIS store), the ceiling app and pygeoapi on the same
#      PostGIS side by side (10 s per request and server, 32 connections), plus 200 connections
#      for 60 s against this service; then the service and the ceiling again with gunicorn's
#      gthread workers (keep-alive);
#   2. growth: synthetic borders of 10k, 100k and 1M segments, in memory and on PostGIS;
#   3. scale-out: 1, 2 and 4 gunicorn workers on one PostGIS;
#   4. the measurement engine on the shipped data (benchmarks/bench_measure.py, prints only);
#   5. edits per second on each store (benchmarks/edits.py, JSON into artifacts/benchmarks/;
#      the figures in BENCHMARKS.md's "Edits on both stores" are copied from it by hand).
# Installs what is missing (apt-get: wrk, postgresql, postgis; pygeoapi into benchmarks/.cache/).
# Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m benchmarks.compare --soak --write "$@"
python -m benchmarks.compare --worker-class gthread --servers service,ceiling --write \
    --section compare-gthread --out artifacts/benchmarks/compare-gthread.json "$@"
python -m benchmarks.growth --write
python -m benchmarks.growth_postgis --write
python -m benchmarks.scaleout --write
python benchmarks/bench_measure.py
python -m benchmarks.edits --out artifacts/benchmarks/edits.json
