"""The catalog: every layer loaded from ``geodata/`` into memory, indexed, measured once.

Loading happens once at start-up. Each layer keeps its features as GeoJSON dicts (as in the
file), a GeoDataFrame of the same features (EPSG:4326), an STRtree over their geometries and
the geodesic length (km) and area (km²) of each feature on the WGS84 ellipsoid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import shapely

from . import geodesy, timeline
from .layers import LAYERS, Layer
from .resources import DATA_DIR

#: The data shipped with the project (``geodata/``); ``GEOSERVICE_DATA`` overrides it.
DEFAULT_DATA_DIR = DATA_DIR

CRS = "EPSG:4326"


def boxes(bbox: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    """``bbox`` (lon/lat) as boxes that do not cross the antimeridian: itself, or, when its min
    lon exceeds its max lon (OGC API's way to cross the antimeridian), its two halves."""
    minx, miny, maxx, maxy = bbox
    if minx > maxx:
        return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
    return [bbox]


class DataError(Exception):
    """A data directory or file that cannot be loaded."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory to use: ``path``, else ``$GEOSERVICE_DATA``, else the shipped one."""
    return Path(path or os.environ.get("GEOSERVICE_DATA") or DEFAULT_DATA_DIR)


def read_feature_collection(path: Path) -> list[dict]:
    """Read one GeoJSON FeatureCollection file and return its features."""
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except orjson.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise DataError(f"{path}: not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise DataError(f"{path}: 'features' is not a list")
    return features


@dataclass
class LayerData:
    """One loaded layer. Row ``i`` of ``frame`` is ``features[i]``."""

    layer: Layer
    features: list[dict]
    frame: gpd.GeoDataFrame
    length_km: np.ndarray = field(repr=False)
    area_km2: np.ndarray = field(repr=False)

    @property
    def id(self) -> str:
        return self.layer.id

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over the features' geometries (EPSG:4326)."""
        return shapely.STRtree(self.frame.geometry.values)

    @cached_property
    def index_by_id(self) -> dict[str, int]:
        """Row number of each feature id."""
        return {f["properties"]["id"]: i for i, f in enumerate(self.features)}

    @cached_property
    def validity_days(self) -> tuple[np.ndarray, np.ndarray]:
        """``valid_from``/``valid_to`` as day numbers, computed once (see :mod:`timeline`)."""
        return timeline.validity_days(self.frame["valid_from"], self.frame["valid_to"])

    def valid(self, start=None, end=None) -> np.ndarray:
        """Boolean mask of the features valid at some time in ``[start, end]`` (dates).

        ``end`` omitted: the instant ``start``; ``None`` start or ``date.max`` end: open.
        """
        return timeline.mask_between(*self.validity_days, start, end)

    def bbox_rows(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Sorted row numbers of the features whose geometry intersects ``bbox`` (lon/lat).

        A box whose min lon exceeds its max lon crosses the antimeridian (two boxes).
        """
        rows = [self.tree.query(shapely.box(*box), predicate="intersects") for box in boxes(bbox)]
        return np.unique(np.concatenate(rows))

    @cached_property
    def extent(self) -> tuple[float, float, float, float]:
        """Bounding box of all features: (min lon, min lat, max lon, max lat)."""
        return tuple(float(v) for v in self.frame.total_bounds)

    @cached_property
    def temporal_extent(self) -> tuple[str | None, str | None]:
        """Earliest ``valid_from`` and latest ``valid_to`` (None where any is open)."""
        starts = list(self.frame["valid_from"])
        ends = list(self.frame["valid_to"])
        start = None if any(s is None for s in starts) else min(starts, default=None)
        end = None if any(e is None for e in ends) else max(ends, default=None)
        return start, end


def frame_from_features(features: list[dict], geoms=None) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4326) of GeoJSON features, list-valued properties kept as lists.

    ``geoms``: the features' geometries when already parsed (shapely array), else read from
    the features' GeoJSON.
    """
    rows = [dict(f.get("properties") or {}) for f in features]
    if geoms is None:
        geoms = (
            shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
            if features
            else []
        )
    frame = gpd.GeoDataFrame(rows, geometry=list(geoms), crs=CRS)
    for column in ("valid_from", "valid_to"):
        if column not in frame:
            frame[column] = None
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def load_layer(layer: Layer, directory: Path) -> LayerData:
    """Load ``<directory>/<layer.id>.geojson``, measuring each feature on the ellipsoid."""
    path = directory / f"{layer.id}.geojson"
    features = read_feature_collection(path)
    try:
        return layer_from_features(layer, features)
    except (KeyError, TypeError, shapely.errors.GEOSException) as exc:
        raise DataError(f"{path}: a feature has no readable geometry ({exc})") from None


def layer_from_features(layer: Layer, features: list[dict]) -> LayerData:
    """A layer of GeoJSON features (EPSG:4326), each measured on the ellipsoid."""
    frame = frame_from_features(features)
    geoms = frame.geometry.values
    return LayerData(
        layer=layer,
        features=features,
        frame=frame,
        length_km=geodesy.lengths_km(geoms),
        area_km2=geodesy.areas_km2(geoms),
    )


@dataclass
class Catalog:
    """All layers of one data directory."""

    directory: Path
    layers: dict[str, LayerData]
    #: The seed articles' table (``sources.json``) when it does not live in ``directory``.
    sources: dict | None = None

    def __getitem__(self, layer_id: str) -> LayerData:
        return self.layers[layer_id]

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self.layers


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Load every layer of :data:`geoservice.layers.LAYERS` from a data directory."""
    directory = data_dir(path)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such data directory")
    return Catalog(directory, {lid: load_layer(layer, directory) for lid, layer in LAYERS.items()})
