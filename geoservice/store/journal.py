"""Durable files for the file store's edits: atomic rewrites and an append-only journal.

A layer file is rewritten whole into a temporary file in the same directory, fsynced, renamed
over the old one and the directory fsynced, so a crash leaves the old file or the new one,
never a mix. Each write is first appended to ``edits/journal.jsonl`` (one JSON object a line)
and fsynced; on start-up entries that a layer file does not yet hold are applied again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson

#: The directory of the journal and the writers' lock, inside the data directory.
EDITS_DIR = "edits"
#: The member of a layer file holding the number of the last journal entry it includes.
REVISION_MEMBER = "geoservice:revision"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync of the directory."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_layer(path: Path, features: list[dict], revision: int) -> None:
    """A layer file (GeoJSON FeatureCollection, CRS84) holding journal entries up to
    ``revision``."""
    doc = {"type": "FeatureCollection", REVISION_MEMBER: revision, "features": features}
    write_atomic(path, orjson.dumps(doc))


def layer_revision(path: Path) -> int:
    """The last journal entry a layer file includes (0: none, as derived)."""
    with path.open("rb") as f:
        head = f.read(200)
    key = f'"{REVISION_MEMBER}":'.encode()
    at = head.find(key)
    if at < 0:
        return 0
    digits = head[at + len(key) :].split(b",", 1)[0].strip()
    return int(digits) if digits.isdigit() else 0


class Journal:
    """The append-only journal of one data directory, and the lock writers take."""

    def __init__(self, directory: Path):
        self.dir = directory / EDITS_DIR
        self.path = self.dir / "journal.jsonl"
        self.lock_path = self.dir / ".lock"

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held by one writer at a time, across processes (``flock``)."""
        self.dir.mkdir(exist_ok=True)
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, entry: dict) -> None:
        """Append one entry and fsync it (the write is durable when this returns)."""
        self.dir.mkdir(exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, orjson.dumps(entry) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.dir)

    def read(self, offset: int = 0) -> tuple[list[dict], int]:
        """The complete entries from byte ``offset`` on, and the offset after the last one
        (a torn last line, from a crash while appending, is left out: never acknowledged)."""
        try:
            with self.path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        entries = []
        end = offset
        for line in data.split(b"\n")[:-1]:  # the part after the last newline is torn
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                break
            end += len(line) + 1
        return entries, end
