#!/usr/bin/env bash
# The test command, for a fresh clone on a fresh machine with Python 3.11 and Debian's packages:
#   1. Debian's chromium (browser tests), PostgreSQL with PostGIS, gdal-bin and QGIS (qgis,
#      python3-qgis: tests/test_qgis.py), when missing;
#   2. a virtual environment in .venv/ with the locked Python packages
#      (requirements/constraints.txt) and this package with its test extras;
#   3. ruff check and ruff format --check;
#   4. pytest. Extra arguments go to pytest, e.g. `bash tests/run.sh -m "not browser"`.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(chromium postgresql postgresql-15-postgis-3 gdal-bin qgis python3-qgis)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    echo "tests/run.sh: installing Debian packages: ${missing[*]}"
    apt_log="$(mktemp)"
    if ! { $sudo_ apt-get update && DEBIAN_FRONTEND=noninteractive \
            $sudo_ apt-get install -y "${missing[@]}"; } >"$apt_log" 2>&1; then
        tail -n 40 "$apt_log"
        echo "tests/run.sh: apt-get failed (full log: $apt_log)" >&2
        exit 1
    fi
    grep -E "^(Get|Setting up)" "$apt_log" | tail -n 5 || true
fi

if [ ! -x .venv/bin/python ]; then
    echo "tests/run.sh: creating the virtual environment .venv/"
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
echo "tests/run.sh: installing the locked Python packages into .venv/"
.venv/bin/python -m pip install --disable-pip-version-check \
    -c requirements/constraints.txt -e '.[test]'

echo "tests/run.sh: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
