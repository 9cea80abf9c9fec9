"""Shared fixtures: the shipped catalog, loaded once per test session."""

from __future__ import annotations

import pytest

from geoservice.catalog import load_catalog


@pytest.fixture(scope="session")
def catalog():
    """The shipped data set (geodata/), loaded as the service loads it."""
    return load_catalog()
