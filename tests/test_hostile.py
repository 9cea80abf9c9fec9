"""Hostile requests (issue 14): each row has the status it must get and a bound on its time.

The bounds are correctness limits ("answers within 10 s", i.e. no hung worker), not speed
targets; speeds live in benchmarks/ and BENCHMARKS.md. The worst bodies come from
:mod:`benchmarks.hostile`, the same bytes the mixed-load benchmark sends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson
import pytest

from benchmarks import hostile
from geoservice.app import create_app


@dataclass(frozen=True)
class Row:
    """One hostile request and what must come back."""

    name: str
    method: str
    path: str
    status: int
    seconds: float = 10.0
    body: bytes | None = None
    headers: dict = field(default_factory=dict)


def body(doc: dict) -> bytes:
    return hostile.body(doc)


def segments(n: int) -> dict:
    return hostile.segments(n)


OUTSIDE = ["0001-01-01T00:00:00%2B01:00", "9999-12-31T23:00:00-01:00"]

ROWS: list[Row] = [
    # Dates outside the calendar once moved to UTC: 400, not OverflowError (500).
    *(
        Row(f"items datetime {d}", "GET", f"/api/collections/borders/items?datetime={d}", 400)
        for d in OUTSIDE
    ),
    *(
        Row(
            f"items interval from {d}",
            "GET",
            f"/api/collections/borders/items?datetime={d}/..",
            400,
        )
        for d in OUTSIDE
    ),
    *(Row(f"lengths as_of {d}", "GET", f"/api/lengths?as_of={d}", 400) for d in OUTSIDE),
    *(
        Row(f"overlaps as_of {d}", "GET", f"/api/overlaps?a=corridors&b=borders&as_of={d}", 400)
        for d in OUTSIDE
    ),
    *(Row(f"map date {d}", "GET", f"/?date={d}", 400) for d in OUTSIDE),
    # The worst bodies: refused before any work (422, the budget), or answered in time.
    *(
        Row(f"{n} random long segments", "POST", "/api/overlaps", 422, body=body(segments(n)))
        for n in (1_000, 2_000, 5_000)
    ),
    Row("15,000 random long segments", "POST", "/api/overlaps", 422, body=body(segments(15_000))),
    Row("99k-vertex zigzag", "POST", "/api/overlaps", 422, body=body(hostile.zigzag(99_000))),
    Row(
        "99k-vertex zigzag with geometry",
        "POST",
        "/api/overlaps?include_geometry=true",
        422,
        body=body(hostile.zigzag(99_000)),
    ),
    Row(
        "1,000 small polygons",
        "POST",
        "/api/overlaps",
        200,
        body=body(hostile.small_polygons(1000)),
    ),
    Row(
        "200 random long segments (accepted)",
        "POST",
        "/api/overlaps",
        200,
        body=body(segments(200)),
    ),
    Row(
        "2,000-vertex zigzag (accepted)",
        "POST",
        "/api/overlaps",
        200,
        body=body(hostile.zigzag(2000)),
    ),
    Row("countries x borders", "GET", "/api/overlaps?a=countries&b=borders", 200, seconds=20),
    Row("countries x borders again (cached)", "GET", "/api/overlaps?a=countries&b=borders", 200, 1),
    Row(
        "countries x borders, geometry",
        "GET",
        "/api/overlaps?a=countries&b=borders&include_geometry=true",
        200,
        seconds=1,  # computed with the answer without geometry, kept in the cache
    ),
    Row("countries x countries", "GET", "/api/overlaps?a=countries&b=countries", 200),
    # Bodies, content types, Accept.
    Row(
        "POST as text/plain",
        "POST",
        "/api/overlaps",
        415,
        body=body(hostile.antimeridian_square()),
        headers={"Content-Type": "text/plain"},
    ),
    Row(
        "POST as form data",
        "POST",
        "/api/overlaps",
        415,
        body=b"a=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Row(
        "antimeridian square",
        "POST",
        "/api/overlaps",
        422,
        body=body(hostile.antimeridian_square()),
    ),
    Row("body over 2 MB with a length", "POST", "/api/overlaps", 413, body=b" " * (2 * 2**20 + 1)),
]


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_request(client, row: Row):
    start = time.perf_counter()
    headers = dict(row.headers)
    if row.body is not None:
        headers.setdefault("Content-Type", "application/json")
    response = client.open(row.path, method=row.method, data=row.body, headers=headers)
    seconds = time.perf_counter() - start
    assert response.status_code == row.status, response.get_data(as_text=True)[:500]
    assert seconds < row.seconds
    if row.status >= 400:
        assert response.mimetype == "application/problem+json"
        problem = orjson.loads(response.data)
        assert problem["status"] == row.status and problem["detail"]
