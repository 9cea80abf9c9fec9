"""``python -m geoservice``: the command line, as the ``geoservice`` console script runs it."""

from .cli import main

main()
