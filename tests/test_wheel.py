"""The built wheel is complete: installed outside the checkout, it serves the map and the API.

Builds the wheel, installs it with the locked versions into a fresh virtual environment in a
temporary folder (pip's cache makes this fast after the first run), starts
``geoservice serve --port 0`` there with a working directory outside the checkout, and fetches
``/``, ``/api`` and an items page.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.server


def run(*args: str, cwd: Path) -> None:
    proc = subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """The ``geoservice`` command of a fresh virtual environment holding only the wheel."""
    work = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(work), str(ROOT), cwd=work)
    (wheel,) = work.glob("geoservice-*.whl")
    run(sys.executable, "-m", "venv", str(work / "venv"), cwd=work)
    pip = [str(work / "venv/bin/python"), "-m", "pip", "install", "--disable-pip-version-check"]
    run(*pip, "-c", str(ROOT / "requirements/constraints.txt"), str(wheel), cwd=work)
    return work / "venv/bin/geoservice"


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_the_installed_wheel_serves_the_map_and_the_api(installed_wheel, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GEOSERVICE_DATA"}
    proc = subprocess.Popen(
        [str(installed_wheel), "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,  # nowhere near the checkout
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert "http://" in line, proc.stderr.read() if proc.poll() is not None else line
        base = "http://" + line.split("http://", 1)[1].split("/", 1)[0]

        status, ctype, body = get(f"{base}/")
        assert status == 200 and ctype.startswith("text/html")
        assert b"leaflet" in body.lower()

        status, ctype, body = get(f"{base}/api?f=json")
        assert status == 200
        links = orjson.loads(body)["links"]
        assert any(link["rel"] == "data" for link in links)
        status, ctype, body = get(f"{base}/api?f=html")
        assert status == 200 and ctype.startswith("text/html")

        status, ctype, body = get(f"{base}/api/collections/borders/items?limit=5&f=json")
        page = orjson.loads(body)
        assert status == 200 and page["numberReturned"] == 5
        assert all(f["properties"]["countries"] for f in page["features"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_the_installed_package_finds_its_data_and_templates_inside_itself(
    installed_wheel, tmp_path
):
    python = installed_wheel.parent / "python"
    code = "from geoservice import resources as r; print(r.DATA_DIR); print(r.TEMPLATES_DIR)"
    proc = subprocess.run(
        [str(python), "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True
    )
    data_dir, templates_dir = (Path(p) for p in proc.stdout.split())
    venv = installed_wheel.parent.parent
    assert data_dir.is_relative_to(venv) and templates_dir.is_relative_to(venv)
    assert (data_dir / "borders.geojson").is_file()
    assert (templates_dir / "ogc_landing.html").is_file()
