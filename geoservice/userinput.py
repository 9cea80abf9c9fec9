"""Quoting a user's input in messages: short, escaped, never echoed raw. One place for it."""

from __future__ import annotations

#: Longest piece of a user's value a message repeats (characters).
SHOWN_CHARS = 40


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``value`` for a problem detail: its ``repr`` (quotes, escapes) cut to ``limit``
    characters with the full length said, so no message echoes long or raw input."""
    text = str(value)
    if len(text) > limit:
        return repr(text[:limit]) + f"… ({len(text)} characters)"
    return repr(text)
