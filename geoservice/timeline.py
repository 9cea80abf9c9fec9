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

from .userinput import shown

#: A date; GDAL's OAPIF driver sends a date field's bound as ``YYYY-MM-DDT`` (no time).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class TimeError(ValueError):
    """A date, datetime or interval that cannot be understood."""


def parse_date(text: str | dt.date | None, *, what: str = "date") -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (or an RFC 3339 date-time, of which the UTC date is kept).

    A well-formed value whose UTC date falls outside 0001-01-01..9999-12-31 (e.g.
    ``0001-01-01T00:00:00+01:00``) is a :class:`TimeError` too, never an ``OverflowError``.
    """
    if text is None or isinstance(text, dt.date):
        return text
    text = str(text).strip()
    try:
        if _DATE.match(text):
            return dt.date.fromisoformat(text.rstrip("T"))
        if _DATETIME.match(text):
            stamp = dt.datetime.fromisoformat(text)  # 3.11 reads "Z"
            return stamp.astimezone(dt.UTC).date()
    except ValueError as exc:
        raise TimeError(f"{what} {shown(text)} is not a valid calendar date: {exc}") from None
    except OverflowError:
        raise TimeError(
            f"{what} {shown(text)} falls outside the supported range "
            f"({dt.date.min.isoformat()}..{dt.date.max.isoformat()} in UTC)"
        ) from None
    raise TimeError(f"{what} {shown(text)} is not a date of the form YYYY-MM-DD")


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
        raise TimeError(f"datetime {shown(text)} has more than one '/'")
    # A start in year 0000 (valid RFC 3339, before any date here; QGIS sends
    # 0000-01-01T00:00:00Z for "up to") is an open start.
    if parts[0].startswith("0000-") and _DATE.match(parts[0][:10]):
        parts[0] = ".."
    start, end = (None if p in ("..", "") else parse_date(p, what="datetime") for p in parts)
    if start and end and start > end:
        raise TimeError(f"datetime {shown(text)} ends before it starts")
    return start, end


def day_numbers(dates: pd.Series | list, *, open_as: int) -> np.ndarray:
    """ISO date strings (None = open) as int64 day numbers since 1970-01-01; open -> ``open_as``."""
    known = ~pd.isna(np.asarray(dates, dtype=object))
    values = np.full(len(known), open_as, dtype=np.int64)
    if known.any():
        days = np.asarray(dates, dtype=object)[known].astype(str).astype("datetime64[D]")
        values[known] = days.astype(np.int64)
    return values


def validity_days(valid_from: pd.Series, valid_to: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers of ``[valid_from, valid_to)``, open ends as the int64 extremes; compute once."""
    info = np.iinfo(np.int64)
    return day_numbers(list(valid_from), open_as=info.min), day_numbers(
        list(valid_to), open_as=info.max
    )


def _day(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def mask_between(
    from_days: np.ndarray, to_days: np.ndarray, start: dt.date | None, end: dt.date | None = None
) -> np.ndarray:
    """Boolean mask of ``[from, to)`` day intervals that meet ``[start, end]`` (vectorised).

    With ``end`` omitted the query is the instant ``start``; ``None`` for either end, or
    ``date.max`` for the end, leaves it open.
    """
    if end is None and start is not None:
        end = start
    mask = np.ones(len(from_days), dtype=bool)
    if end is not None and end != dt.date.max:
        mask &= from_days <= _day(end)
    if start is not None:
        mask &= to_days > _day(start)
    return mask


def valid_mask(
    valid_from: pd.Series, valid_to: pd.Series, start: dt.date | None, end: dt.date | None = None
) -> np.ndarray:
    """Boolean mask of features whose ``[valid_from, valid_to)`` meets ``[start, end]``.

    ``valid_from``/``valid_to`` hold ISO date strings or None. With ``end`` omitted the
    query is the instant ``start``; ``None`` for either end leaves it open. For repeated
    queries keep :func:`validity_days` and call :func:`mask_between`.
    """
    return mask_between(*validity_days(valid_from, valid_to), start, end)


def is_valid_on(valid_from: str | None, valid_to: str | None, day: dt.date) -> bool:
    """True if one feature with these ISO-date bounds is valid on ``day``."""
    iso = day.isoformat()
    return (valid_from is None or valid_from <= iso) and (valid_to is None or iso < valid_to)
