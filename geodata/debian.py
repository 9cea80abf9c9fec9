"""Fetch files of a Debian package into geodata/.cache with ``apt-get download`` (Debian's
client; run ``apt-get update`` once first) and ``dpkg-deb``, and read gettext catalogs."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import npm


def fetch_members(package: str, version: str, members: dict[str, Path]) -> dict[str, Path]:
    """Each ``target`` (in the cache) of ``members`` (``member -> target``; members are paths
    in the installed package, e.g. ``usr/share/...``), from ``package=version``; one download
    for all that are missing."""
    missing = {m: t for m, t in members.items() if not t.exists()}
    if missing:
        folder = next(iter(missing.values())).parent
        folder.mkdir(parents=True, exist_ok=True)
        got = subprocess.run(
            ["apt-get", "download", f"{package}={version}"],
            check=False,
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if got.returncode:
            last = (got.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(
                f"derive: apt-get download {package}={version} failed ({last}); "
                "run apt-get update first"
            )
        deb = next(folder.glob(f"{package}_*.deb"))
        tarball = folder / f"{package}.tar"
        with open(tarball, "wb") as out:
            subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=out, check=True)
        deb.unlink()
        npm.extract(tarball, "./", missing)
    return members


def read_mo(path: Path) -> dict[str, str]:
    """A gettext ``.mo`` catalog as {msgid: msgstr} (UTF-8; the header entry left out)."""
    data = path.read_bytes()
    order = "<" if data[:4] == b"\xde\x12\x04\x95" else ">"
    count, ids_at, strs_at = struct.unpack(f"{order}3I", data[8:20])
    out = {}
    for i in range(count):
        n, at = struct.unpack(f"{order}2I", data[ids_at + 8 * i : ids_at + 8 * i + 8])
        m, st = struct.unpack(f"{order}2I", data[strs_at + 8 * i : strs_at + 8 * i + 8])
        if n:
            out[data[at : at + n].decode()] = data[st : st + m].decode()
    return out
