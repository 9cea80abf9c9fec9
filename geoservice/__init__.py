"""geoservice: border disputes in the former Soviet space.

Layers of border segments, corridors, peacekeeping zones and disputed areas, each dated and
sourced; geodesic lengths and overlaps on the WGS84 ellipsoid; an OGC API - Features service
and a web map. Coordinates are EPSG:4326 (CRS84 axis order: longitude, latitude) throughout.
"""

__version__ = "0.1.0"
