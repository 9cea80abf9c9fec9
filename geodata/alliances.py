"""CSTO membership over time (``geodata/csto_members.geojson``), from ``record/csto.toml``.

Called from derive.py. One point feature per state of a country's membership, at the
country's capital as Natural Earth 4.0.0 populated places gives it (``Admin-0 capital``), dated
``valid_from``..``valid_to`` (the end day excluded), so that the time filter answers "who was a
member on a date": ``/api/collections/csto_members/items?datetime=2010-01-01&membership=member``.
Coordinates EPSG:4326 (lon, lat).
"""

from __future__ import annotations

import orjson
import places
from shapely.geometry import Point


def capitals() -> dict[str, dict]:
    """ISO3 -> Natural Earth's capital (its properties and lon/lat), from the shared folder."""
    path = places.naturalearth_dir() / "v4/ne_10m_populated_places_region.geojson"
    out = {}
    for f in orjson.loads(path.read_bytes())["features"]:
        p = f["properties"]
        if p["FEATURECLA"] == "Admin-0 capital":
            out[p["ADM0_A3"]] = {"props": p, "lonlat": f["geometry"]["coordinates"]}
    return out


def features(record: dict, derive, names: dict[str, dict[str, str]]) -> list[dict]:
    """The ``csto_members`` features; ``names`` maps ISO3 to the country's names by language."""
    caps = capitals()
    out = []
    for row in record["csto"]:
        code = row["country"]
        cap = caps[code]
        country = names[code]["en"]
        props = derive.common(
            {
                **row,
                "id": f"csto-{code}-{row['membership']}-{row['valid_from'][:4]}",
                "name": country,
                "accuracy": row.get("accuracy", "derived"),
                "notes": f"{row['notes']} Point: {cap['props']['NAME']}, the capital "
                "(Natural Earth 4.0.0 populated places).",
            }
        )
        props["sources"] = props["sources"] + ["Natural Earth 4.0.0 populated places"]
        props.update(
            country=code,  # names: the country's (names.complete)
            capital=cap["props"].get("NAME_EN") or cap["props"]["NAME"],
            membership=row["membership"],
        )
        out.append(derive.feature(Point(cap["lonlat"]), **props))
    return out
