"""Where the shipped data and the HTML templates are, in a checkout and in an installed wheel.

In a source checkout they are the top-level ``geodata/`` and ``templates/`` folders. A built
wheel carries the same folders as the package data ``geoservice/geodata`` and
``geoservice/templates`` (mapped in ``pyproject.toml``), found through ``importlib.resources``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The folder ``name`` (``geodata`` or ``templates``): the installed package data, else the
    checkout's top-level folder of that name."""
    packaged = resources.files("geoservice") / name
    if packaged.is_dir():
        return Path(str(packaged))
    return _CHECKOUT / name


#: The data shipped with the service (one GeoJSON file per collection).
DATA_DIR = shipped_dir("geodata")
#: The Jinja templates of the map and the API's HTML pages.
TEMPLATES_DIR = shipped_dir("templates")
