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
]


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_request(client, row: Row):
    start = time.perf_counter()
    response = client.open(row.path, method=row.method, data=row.body, headers=row.headers)
    seconds = time.perf_counter() - start
    assert response.status_code == row.status, response.get_data(as_text=True)[:500]
    assert seconds < row.seconds
    if row.status >= 400:
        assert response.mimetype == "application/problem+json"
        problem = orjson.loads(response.data)
        assert problem["status"] == row.status and problem["detail"]
