#!/usr/bin/env bash
# The full recorded benchmark run (about 11 minutes on 2 cores), results into BENCHMARKS.md:
#   1. this service, the ceiling app and pygeoapi on PostGIS side by side (10 s per request and
#      server, 32 connections), plus 200 connections for 60 s against this service; then the
#      service and the ceiling again with gunicorn's gthread workers (keep-alive);
#   2. growth: synthetic borders of 10k, 100k and 1M segments;
#   3. the measurement engine on the shipped data (benchmarks/bench_measure.py, prints only).
# Installs what is missing (apt-get: wrk, postgresql, postgis; pygeoapi into benchmarks/.cache/).
# Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m benchmarks.compare --soak --write "$@"
python -m benchmarks.compare --worker-class gthread --servers service,ceiling --write \
    --section compare-gthread --out artifacts/benchmarks/compare-gthread.json "$@"
python -m benchmarks.growth --write
python benchmarks/bench_measure.py
