"""Running Debian's wrk against a loopback URL and reading its report.

Each run is bounded (``-d`` seconds, ``--timeout``), targets 127.0.0.1 only and stops by
itself. Latencies come back in milliseconds.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .servers import HOST

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_LAT = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_SOCK = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and error counts."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx: int = 0

    @property
    def errors(self) -> int:
        """Every failed request: socket errors, timeouts and non-2xx/3xx answers."""
        return (
            self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.non_2xx
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "errors": self.errors}


def parse(text: str) -> WrkResult:
    """Read wrk's report (run with ``--latency``)."""
    lat = {int(p): float(v) * _UNITS_MS[u] for p, v, u in _LAT.findall(text)}
    rps = _RPS.search(text)
    total = _TOTAL.search(text)
    if not (rps and total and 50 in lat and 99 in lat):
        raise ValueError(f"cannot read wrk's report:\n{text}")
    sock = _SOCK.search(text)
    non2xx = _NON2XX.search(text)
    connect, read, write, timeout = (int(v) for v in sock.groups()) if sock else (0, 0, 0, 0)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=lat[50],
        p99_ms=lat[99],
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1e3,
        connect_errors=connect,
        read_errors=read,
        write_errors=write,
        timeouts=timeout,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
    )


def rotation_script(targets: list[str]) -> str:
    """A wrk Lua script that sends ``targets`` in turn (for a mixed load)."""
    items = ", ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in targets)
    return (
        f"local targets = {{{items}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #targets + 1\n"
        '  return wrk.format("GET", targets[i])\nend\n'
    )


def run(
    port: int,
    target: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 2,
    timeout_s: int = 5,
    mix: list[str] | None = None,
) -> WrkResult:
    """wrk for ``seconds`` s with ``connections`` connections on http://127.0.0.1:port."""
    url = f"http://{HOST}:{port}{target}"
    cmd = [
        "wrk",
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{int(seconds)}s",
        "--timeout",
        f"{int(timeout_s)}s",
        "--latency",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        if mix:
            script = Path(tmp) / "mix.lua"
            script.write_text(rotation_script(mix))
            cmd += ["-s", str(script)]
        out = subprocess.run(
            [*cmd, url],
            capture_output=True,
            text=True,
            timeout=seconds + timeout_s + 60,
            check=False,
        )
    if out.returncode:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
    return parse(out.stdout)
