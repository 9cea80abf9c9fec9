"""The ceiling: a minimal Flask app that answers with this service's own precomputed bytes.

Nothing on this stack (gunicorn + Flask + the same response sizes) can answer faster, so the
service's requests per second divided by this app's is the share of the ceiling it reaches.

``$CEILING_RESPONSES`` names a file written by :func:`save_responses`: for each request target
(path and query string) the status, content type and body the service returned. gunicorn:
``CEILING_RESPONSES=/tmp/x.bin gunicorn benchmarks.ceiling_app:app``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from flask import Flask, Response, request

Responses = dict[str, tuple[int, str, bytes]]


def save_responses(responses: Responses, path: Path) -> None:
    """Write the precomputed responses (target -> (status, content type, body))."""
    path.write_bytes(pickle.dumps(responses, protocol=pickle.HIGHEST_PROTOCOL))


def load_responses(path: Path) -> Responses:
    """Read what :func:`save_responses` wrote (a file this benchmark made itself)."""
    return pickle.loads(path.read_bytes())


def target_of(path: str, query: bytes) -> str:
    """The request target as the benchmark wrote it: path plus ``?query`` when there is one."""
    return f"{path}?{query.decode('latin-1')}" if query else path


def create_app(responses: Responses) -> Flask:
    """A Flask app that serves ``responses`` from memory, 404 for anything else."""
    app = Flask(__name__)
    table = dict(responses)

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def answer(path: str) -> Response:
        hit = table.get(target_of(request.path, request.query_string))
        if hit is None:
            return Response(b'{"status":404}', status=404, content_type="application/json")
        status, content_type, body = hit
        return Response(body, status=status, content_type=content_type)

    return app


def _from_env() -> Flask | None:
    path = os.environ.get("CEILING_RESPONSES")
    return create_app(load_responses(Path(path))) if path else None


app = _from_env()
