"""Schemathesis with every check and every phase (stateful included) against the production
command.

    python -m benchmarks.schemathesis_all [--max-examples 10] [--seed 1]

Starts gunicorn as the README runs it (``--preload -k gthread``, 2 workers) on the loopback and
runs ``st run --checks all --phases examples,coverage,fuzzing,stateful`` with the project's
``schemathesis.toml``; prints schemathesis's summary and exits with its status. Not part of the
tests (it takes several minutes on two cores); the figures go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .servers import HOST, ROOT, free_port, gunicorn_command, running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    port = free_port()
    base = f"http://{HOST}:{port}"
    st = Path(sys.executable).with_name("st")
    cmd = gunicorn_command("geoservice.wsgi:app", port, 2, "gthread", 4) + ["--preload"]
    with running(cmd, f"{base}/api"):
        done = subprocess.run(
            [
                str(st),
                "run",
                f"{base}/api/openapi",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "-n",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                "2",
                "--request-timeout",
                "60",
                "--continue-on-failure",
            ],
            cwd=ROOT,
            check=False,
        )
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
