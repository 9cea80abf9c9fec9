"""Benchmarks: the service side by side with pygeoapi on PostGIS and a ceiling app; growth.

Run from the repository root (see BENCHMARKS.md). Not part of the test command's time budget;
tests/test_benchmarks_smoke.py runs the scripts on a tiny size.
"""
