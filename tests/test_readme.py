"""The README is executable: its Python example and its command-line examples run as written.

The Python block runs in-process, from the checkout's root (it reads ``examples/``); each
indented line that starts with ``geoservice `` in the command-line section runs as a
subprocess of the installed entry point. The two set-up commands are exercised by CI itself.
"""

from __future__ import annotations

import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from geoservice import geodesy

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
COMMANDS = re.findall(
    r"^    (geoservice (?:length|overlap|validate|changes)\b.*)$", README, re.MULTILINE
)


def test_the_readme_has_examples():
    assert len(PYTHON_BLOCKS) >= 1
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_python_example_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    script = tmp_path / "example.py"
    script.write_text(block)
    names = runpy.run_path(str(script))
    # The example's answers are the engine's real answers on the shipped data.
    kgz_tjk = names["kgz_tjk"]
    assert 900 < kgz_tjk["total_km"] < 1_050
    assert 0 < kgz_tjk["by_status"]["settled"]["length_km"] < kgz_tjk["total_km"]
    assert names["inside"]["results"], "the area around Vorukh meets borders or areas"
    ring_km2 = geodesy.areas_km2([names["ring"]])[0]  # geodesic, WGS84
    assert abs(ring_km2 - 314.16) < 1.0  # pi x (10 km)², to within a third of a percent


@pytest.mark.parametrize("command", COMMANDS)
def test_command_example_runs(command):
    args = shlex.split(command)
    proc = subprocess.run(
        [sys.executable, "-m", "geoservice", *args[1:]],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if "--json" in args:
        assert orjson.loads(proc.stdout)
    elif args[1] != "validate":
        assert proc.stdout.strip()
