"""The service's limits and defaults, in one place, each settable from the environment.

Every field can be set with ``GEOSERVICE_<FIELD NAME IN CAPITALS>`` (e.g.
``GEOSERVICE_MAX_LIMIT=5000``); :func:`settings` reads the environment once per process.
A value that is not a number of the field's type, or out of its range, is a
:class:`SettingsError` (one line; the service does not start).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .catalog import DataError

#: The prefix of the environment variables.
ENV_PREFIX = "GEOSERVICE_"


class SettingsError(DataError):
    """An environment variable that does not hold a valid setting."""


def _limit(doc: str, default: float, minimum: float = 0, maximum: float = math.inf):
    return field(default=default, metadata={"doc": doc, "min": minimum, "max": maximum})


@dataclass(frozen=True)
class Settings:
    """Limits and defaults. Sizes in bytes, times in seconds, extents in degrees (CRS84)."""

    # Items (OGC API - Features).
    default_limit: int = _limit("Features per page when the request gives no limit.", 100, 1)
    max_limit: int = _limit("Largest page a request may ask for (limit=).", 10_000, 1)
    max_zoom: int = _limit("Largest zoom= for display geometry (Leaflet zoom levels).", 24, 0, 30)
    cache_max_age: int = _limit("Cache-Control max-age of cacheable answers, seconds.", 300)
    # Stores that read per request (PostGIS): the whole-layer copy the measurement engine reads.
    max_memory_rows: int = _limit(
        "Largest layer (rows) a database store reads whole into memory for the measurement "
        "engine (overlaps, changes, map labels); larger: 503 (about 5 KB of memory per row).",
        200_000,
        1,
    )
    db_connect_timeout: int = _limit(
        "Longest wait for a new connection to the database (PostGIS store), seconds (libpq's "
        "least is 2); an unreachable database then answers 503.",
        10,
        2,
        600,
    )
    db_answer_timeout: float = _limit(
        "Longest wait for the database's answer to one statement of the service (PostGIS "
        "store), seconds; a database that stops answering (frozen, cut off) then answers 503.",
        30.0,
        1,
        3600,
    )
    # User geometry (POST /api/overlaps, the command line, Python).
    max_body_bytes: int = _limit("Largest HTTP request body, bytes (else 413).", 2 * 1024**2, 1)
    max_geojson_bytes: int = _limit(
        "Largest GeoJSON text read by the command line or Python, bytes.", 10_000_000, 1
    )
    max_vertices: int = _limit("Most vertices of a user geometry, in total.", 100_000, 1)
    max_features: int = _limit("Most features of a user FeatureCollection.", 1_000, 1)
    max_extent_deg: float = _limit(
        "Largest extent of a user geometry, degrees of longitude or latitude.", 60.0, 0.001, 360
    )
    max_buffer_m: float = _limit("Largest buffer distance, metres.", 500_000.0, 0)
    # Work budget and time limits of analyses (see geoservice.cost).
    max_work: int = _limit(
        "Largest estimated work of one overlap query, vertex operations (~1-2 s of one core).",
        2_500_000,
        1,
    )
    max_crossings: int = _limit(
        "Most estimated line crossings of one overlap query (~20 us of GEOS each).", 15_000, 1
    )
    analysis_seconds: float = _limit(
        "Longest an accepted overlap query may compute, seconds (then 503).", 5.0, 0.1
    )
    analysis_queue: int = _limit(
        "Analyses that may wait for a serving process's analysis process beside the running "
        "one; more are answered 503 at once (Retry-After), so waiting never fills the threads.",
        1,
        0,
    )
    layer_pair_seconds: float = _limit(
        "Longest a layer x layer overlap may compute once before it is cached, seconds.", 30.0, 1
    )
    overlap_cache_bytes: int = _limit(
        "Largest total size of the cached layer x layer answers per process, bytes.",
        64 * 1024**2,
        0,
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults, overridden by ``GEOSERVICE_<NAME>`` variables of ``environ``."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = environ.get(name)
            if raw is None or not raw.strip():
                continue
            kind = int if f.type in (int, "int") else float
            try:
                value = kind(raw.strip().replace("_", ""))
            except ValueError:
                raise SettingsError(
                    f"{name}={raw!r}: not {'an integer' if kind is int else 'a number'}"
                ) from None
            lo, hi = f.metadata["min"], f.metadata["max"]
            if not (math.isfinite(value) and lo <= value <= hi):
                upper = "" if math.isinf(hi) else f"..{hi:g}"
                raise SettingsError(f"{name}={raw!r}: out of range ({lo:g}{upper or ' or more'})")
            values[f.name] = value
        made = cls(**values)
        if "default_limit" not in values and made.default_limit > made.max_limit:
            made = dataclasses.replace(made, default_limit=made.max_limit)
        if made.default_limit > made.max_limit:
            raise SettingsError(
                f"{ENV_PREFIX}DEFAULT_LIMIT ({made.default_limit}) is above "
                f"{ENV_PREFIX}MAX_LIMIT ({made.max_limit})"
            )
        return made

    @classmethod
    def documented(cls) -> list[tuple[str, str, object]]:
        """(environment variable, description, default) of every setting, for the README."""
        return [
            (ENV_PREFIX + f.name.upper(), f.metadata["doc"], f.default)
            for f in dataclasses.fields(cls)
        ]


@functools.cache
def settings() -> Settings:
    """This process's settings (the environment is read on the first call)."""
    return Settings.from_environ()
