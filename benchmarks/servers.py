"""Starting and stopping local servers for the benchmarks: loopback only, bounded waits.

Every server here binds 127.0.0.1 on a free port and is stopped by the process that started
it (its own process group), never by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def fetch(url: str, timeout: float = 30.0) -> tuple[int, str, bytes]:
    """GET ``url`` (loopback only): (status, content type, body bytes)."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"refusing a non-loopback address: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers 200, the process dies, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before {url} answered")
        try:
            status, _, body = fetch(url, timeout=5)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s ({last})")


def gunicorn_command(
    app: str, port: int, workers: int, worker_class: str, threads: int, python: str = sys.executable
) -> list[str]:
    """The gunicorn command line shared by all servers: the same settings for each."""
    cmd = [
        python,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    return cmd


@contextmanager
def running(
    cmd: list[str],
    ready_url: str,
    *,
    env: dict | None = None,
    cwd: Path = ROOT,
    log: Path | None = None,
    timeout: float = 120.0,
):
    """Run ``cmd`` in its own process group until the block ends; wait for ``ready_url``."""
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(ready_url, proc, timeout)
            yield proc
        finally:
            stop(proc)


def process_cpu() -> dict[int, tuple[str, int, float]]:
    """Every live process: pid -> (name, process group, CPU seconds used so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            fields = tail.split()  # after "(comm)": state ppid pgrp ... utime(11) stime(12)
            out[int(stat.parent.name)] = (
                head.split("(", 1)[1],
                int(fields[2]),
                (int(fields[11]) + int(fields[12])) / tick,
            )
        except (OSError, IndexError, ValueError):
            continue
    return out


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system, s) used so far by the live processes of process group ``pgid``."""
    return sum(cpu for _, group, cpu in process_cpu().values() if group == pgid)


def wait_idle(
    proc: subprocess.Popen, *, busy: float = 0.05, window: float = 0.5, timeout: float = 120.0
) -> float:
    """Wait until a server started by :func:`running` works off what a finished load left
    queued: its process group uses under ``busy`` of a core over ``window`` s. Returns the
    seconds waited (``timeout`` at most)."""
    start = time.monotonic()
    last = group_cpu_seconds(proc.pid)
    while time.monotonic() - start < timeout:
        time.sleep(window)
        now = group_cpu_seconds(proc.pid)
        if now - last < busy * window:
            break
        last = now
    return time.monotonic() - start


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop a process started by :func:`running` and its children (its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
    except ProcessLookupError:
        pass
