"""The time filter: which features are valid on a date or during an interval. One place for it.

A feature is valid on the half-open interval ``[valid_from, valid_to)`` of ISO dates; a null
``valid_from`` means "since before the record starts", a null ``valid_to`` "still valid". So the
day a treaty is signed is the first day of the new status and no longer a day of the old one,
and exactly one of two successive states of a segment is valid on any date.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class TimeError(ValueError):
    """A date, datetime or interval that cannot be understood."""


def parse_date(text: str | dt.date | None, *, what: str = "date") -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (or an RFC 3339 date-time, of which the UTC date is kept)."""
    if text is None or isinstance(text, dt.date):
        return text
    text = str(text).strip()
    try:
        if _DATE.match(text):
            return dt.date.fromisoformat(text)
        if _DATETIME.match(text):
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return stamp.astimezone(dt.timezone.utc).date()
    except ValueError as exc:
        raise TimeError(f"{what} {text!r} is not a valid calendar date: {exc}") from None
    raise TimeError(f"{what} {text!r} is not a date of the form YYYY-MM-DD")


def parse_interval(text: str) -> tuple[dt.date | None, dt.date | None]:
    """Parse an OGC API ``datetime`` value: an instant, or ``start/end`` with ``..`` open ends.

    Returns ``(start, end)``, both inclusive; an instant gives ``(d, d)``.
    """
    text = (text or "").strip()
    if not text:
        raise TimeError("datetime is empty")
    if "/" not in text:
        day = parse_date(text, what="datetime")
        return day, day
    parts = text.split("/")
    if len(parts) != 2:
        raise TimeError(f"datetime {text!r} has more than one '/'")
    start, end = (None if p in ("..", "") else parse_date(p, what="datetime") for p in parts)
    if start and end and start > end:
        raise TimeError(f"datetime {text!r} ends before it starts")
    return start, end


def valid_mask(
    valid_from: pd.Series, valid_to: pd.Series, start: dt.date | None, end: dt.date | None = None
) -> np.ndarray:
    """Boolean mask of features whose ``[valid_from, valid_to)`` meets ``[start, end]``.

    ``valid_from``/``valid_to`` hold ISO date strings or None. With ``end`` omitted the
    query is the instant ``start``; ``None`` for either end leaves it open.
    """
    if end is None and start is not None:
        end = start
    vf = valid_from.to_numpy(dtype=object)
    vt = valid_to.to_numpy(dtype=object)
    mask = np.ones(len(vf), dtype=bool)
    if end is not None:
        e = end.isoformat()
        mask &= np.array([f is None or f <= e for f in vf], dtype=bool)
    if start is not None:
        s = start.isoformat()
        mask &= np.array([t is None or t > s for t in vt], dtype=bool)
    return mask


def is_valid_on(valid_from: str | None, valid_to: str | None, day: dt.date) -> bool:
    """True if one feature with these ISO-date bounds is valid on ``day``."""
    iso = day.isoformat()
    return (valid_from is None or valid_from <= iso) and (valid_to is None or iso < valid_to)
