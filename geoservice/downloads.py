"""Downloads of an items page in the formats GIS users keep: GeoPackage and FlatGeobuf.

The page's GeoJSON goes through GDAL (pyogrio, no files but one temp file): read with the GeoJSON
driver's ``ARRAY_AS_STRING=YES`` as an Arrow stream, so every list property (``sources``,
``parties``, ``countries``, ...) is a text field holding the JSON array (GDAL's JSON subtype,
``String(JSON)`` in a GeoPackage), and written with ``write_arrow``. A citation may contain
commas, so a list must be split back with a JSON parser, never at commas, and it can be: GDAL's
own list form ``(5:a,b,...)`` could not be. Dates stay dates; the CRS is EPSG:4326.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass

from pyogrio.raw import open_arrow, write_arrow


@dataclass(frozen=True)
class Download:
    """One download format: ``f=`` value, media type, file suffix, GDAL driver."""

    f: str
    media_type: str
    suffix: str
    driver: str
    title: str


DOWNLOADS: dict[str, Download] = {
    d.f: d
    for d in (
        Download("gpkg", "application/geopackage+sqlite3", ".gpkg", "GPKG", "GeoPackage"),
        Download("fgb", "application/flatgeobuf", ".fgb", "FlatGeobuf", "FlatGeobuf"),
    )
}


def convert(geojson: bytes, layer_name: str, download: Download) -> bytes:
    """A GeoJSON FeatureCollection (bytes) as one layer ``layer_name`` of a GeoPackage or
    FlatGeobuf file (bytes), list properties as JSON text fields."""
    with tempfile.TemporaryDirectory(prefix="geoservice-dl-") as tmp:
        path = os.path.join(tmp, layer_name + download.suffix)
        with open_arrow(io.BytesIO(geojson), use_pyarrow=False, ARRAY_AS_STRING="YES") as (
            meta,
            stream,
        ):
            write_arrow(
                stream,
                path,
                layer=layer_name,
                driver=download.driver,
                geometry_name=meta["geometry_name"] or "wkb_geometry",
                geometry_type=meta["geometry_type"] or "Unknown",
                crs=meta["crs"] or "EPSG:4326",
            )
        with open(path, "rb") as handle:
            return handle.read()
