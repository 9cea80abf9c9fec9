"""Bearer tokens for the write methods (OGC API - Features Part 4); reading stays open.

The operator configures tokens as hashes, never as the tokens themselves:
``GEOSERVICE_TOKENS="alice:<sha256 hex of alice's token>,bob:<hash>:borders+places"`` or one
``name:hash[:collections]`` a line in the file ``GEOSERVICE_TOKENS_FILE``. A token limited to
collections (``+``-separated) may write only those (else 403). ``geoservice token NAME`` prints
a new token and the line to configure.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import request

from .catalog import DataError
from .errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Token:
    """A configured token: who it is, the SHA-256 of the secret, the collections it may
    write (None: all)."""

    name: str
    digest: str
    collections: frozenset[str] | None = None


def digest(secret: str) -> str:
    """The SHA-256 (hex) a token is configured by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(name: str) -> tuple[str, str]:
    """A new random token for ``name`` and its configuration line ``name:hash``."""
    secret = secrets.token_urlsafe(32)
    return secret, f"{name}:{digest(secret)}"


def parse_tokens(text: str) -> list[Token]:
    """Tokens from ``name:hash[:a+b]`` entries separated by commas or lines."""
    tokens = []
    for entry in text.replace(",", "\n").splitlines():
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3) or len(parts[1]) != 64:
            raise DataError(f"token entry {parts[0]!r}: give name:sha256hex[:collections]")
        scope = frozenset(parts[2].split("+")) if len(parts) == 3 and parts[2] else None
        tokens.append(Token(parts[0], parts[1].lower(), scope))
    return tokens


def configured_tokens(environ=None) -> list[Token]:
    """The tokens of ``GEOSERVICE_TOKENS`` and ``GEOSERVICE_TOKENS_FILE`` (none: read-only)."""
    environ = os.environ if environ is None else environ
    text = environ.get("GEOSERVICE_TOKENS", "")
    path = environ.get("GEOSERVICE_TOKENS_FILE")
    if path:
        try:
            text += "\n" + Path(path).read_text()
        except OSError as exc:
            raise DataError(f"GEOSERVICE_TOKENS_FILE {path}: {exc.strerror}") from None
    return parse_tokens(text)


def authorise(tokens: list[Token], collection_id: str) -> Token:
    """The request's token, allowed to write ``collection_id``: else 401 or 403."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("writing needs a token: send Authorization: Bearer <token>")
    hashed = digest(secret.strip())
    token = next((t for t in tokens if hmac.compare_digest(t.digest, hashed)), None)
    if token is None:
        raise Unauthorized("the bearer token is not known to this service")
    if token.collections is not None and collection_id not in token.collections:
        raise Forbidden(
            f"token {token.name!r} may write {', '.join(sorted(token.collections))}, "
            f"not {collection_id}"
        )
    return token
