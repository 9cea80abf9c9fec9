"""Place statements (tests/places*.toml) checked against the served layers, and the gazetteer.

A statement names a town of the gazetteer (``places``, by id) and says, from FACTS.md or the
record, which country it is in, who held it on given dates (``control_areas``), or that it
lies in (or outside) a feature of some layer on given dates or over a period. Each is checked
by point-in-polygon (shapely ``intersects``, EPSG:4326) against the features the catalog's
time filter (:meth:`LayerData.valid`) keeps on each date. The table's format is in the header
of tests/places.toml; other regions add tests/places_<region>.toml in the same format.

Run ``pytest tests/test_places.py -s`` to print the counts (statements, checks, dates).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from geoservice.layers import LAYERS

#: The tests that read ``catalog`` run on the file store and on PostGIS (conftest.py).
ON_BOTH_STORES = True

HERE = Path(__file__).resolve().parent
TABLES = sorted(HERE.glob("places*.toml"))
STATEMENTS = [s for path in TABLES for s in tomllib.loads(path.read_text())["statement"]]

#: The towns, cities and villages FACTS.md names, as gazetteer ids. Each must be in a statement.
FACTS_TOWNS = [
    "AZE-stepanakert",
    "AZE-shusha",
    "AZE-lachin",
    "AZE-kalbajar",
    "AZE-aghdam",
    "AZE-fuzuli",
    "AZE-jabrayil",
    "AZE-kubatly",
    "AZE-zangilan",
    "AZE-hadrut",
    "AZE-askeran",
    "AZE-martuni",
    "AZE-martakert",
    "AZE-horadiz",
    "AZE-ordubad",
    "AZE-julfa",
    "AZE-tovuz",
    "ARM-goris",
    "ARM-kapan",
    "ARM-meghri",
    "ARM-jermuk",
    "ARM-vardenis",
    "ARM-yerevan",
    "ARM-gyumri",
    "GEO-sukhumi",
    "GEO-gali",
    "GEO-gudauta",
    "GEO-tskhinvali",
    "GEO-akhalgori",
    "GEO-java",
    "MDA-tiraspol",
    "MDA-bender",
    "MDA-cocieri",
    "MDA-chisinau",
    "UKR-simferopol",
    "UKR-sevastopol",
    "UKR-donetsk",
    "UKR-luhansk",
    "UKR-debaltseve",
    "UKR-kherson",
    "UKR-kiev",
    "UKR-chernihiv",
    "UKR-sumy",
    "UKR-zaporizhzhya",
    "TJK-vorukh",
    "KGZ-ak-sai",
    "KGZ-batken",
    "TJK-isfara",
    "KGZ-kant",
    "KGZ-bishkek",
    "TJK-khujand",
    "TJK-dushanbe",
    "TJK-bokhtar",
    "KAZ-almaty",
]
#: Named in FACTS.md but in neither data set (villages, sites): not in the table. Their facts
#: are about areas (enclaves, the corridor's villages) that the area layers carry.
NOT_IN_ANY_DATA_SET = (
    "Kok-Tash, Golovnoi, Talish, Lele Tepe, Kornidzor, Zabukh, Sus, Hakari bridge, Giyasli, "
    "Kirants, Molovata Noua, Corjova, Pirita, Dorotcaia, Cobasna, Sokh, Shakhimardan, "
    "Kempir-Abad, David Gareja"
)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def checks(statement: dict) -> list[tuple[dt.date | None, bool]]:
    """(date, expected inside?) pairs a statement stands for; None date for ``country``."""
    if "country" in statement:
        return [(None, True)]
    if "on" in statement:
        return [(day(d), True) for d in statement["on"]]
    if "not_on" in statement:
        return [(day(d), False) for d in statement["not_on"]]
    start, end = day(statement["from"]), day(statement["to"])
    one = dt.timedelta(days=1)
    return [
        (start, True),
        (start + (end - start) / 2, True),
        (end - one, True),
        (start - one, False),
        (end, False),
    ]


def features_at(catalog, layer: str, when: dt.date, point: Point, where: dict) -> list[dict]:
    """Properties of the features of ``layer`` valid on ``when`` that contain ``point``."""
    data = catalog[layer]
    valid = data.valid(when)
    rows = data.tree.query(point, predicate="intersects")
    out = []
    for row in rows:
        props = data.features[row]["properties"]
        if valid[row] and all(props.get(k) == v for k, v in where.items()):
            out.append(props)
    return out


def place_point(catalog, place_id: str) -> tuple[Point, dict]:
    data = catalog["places"]
    assert place_id in data.index_by_id, f"{place_id} is not in the gazetteer"
    feature = data.features[data.index_by_id[place_id]]
    return shape(feature["geometry"]), feature["properties"]


def failures(catalog, statement: dict) -> list[str]:
    """What does not hold of one statement (empty: it holds on every date it names)."""
    point, props = place_point(catalog, statement["place"])
    out = []
    if "country" in statement:
        code = statement["country"]
        if props["country"] != code:
            out.append(f"country field is {props['country']}, not {code}")
        polygon = catalog["countries"].frame.set_index("iso3").geometry[code]
        others = features_at(catalog, "countries", dt.date.today(), point, {})
        if others and not polygon.intersects(point):
            out.append(f"lies in {[p['iso3'] for p in others]}, not in {code}'s polygon")
        return out
    if "held_by" in statement:
        for when, _ in checks(statement):
            holders = [p["held_by"] for p in features_at(catalog, "control_areas", when, point, {})]
            if holders != [statement["held_by"]]:
                out.append(f"{when}: control_areas gives {holders}")
        return out
    for when, inside in checks(statement):
        hits = features_at(catalog, statement["layer"], when, point, statement["where"])
        if bool(hits) != inside:
            what = "in no" if inside else f"in {[h['id'] for h in hits]}, a"
            out.append(f"{when}: {what} {statement['layer']} feature with {statement['where']}")
    return out


@pytest.mark.parametrize(
    "statement",
    STATEMENTS,
    ids=[f"{s['place']}-{n}" for n, s in enumerate(STATEMENTS)],
)
def test_place_statement_holds(catalog, statement):
    assert statement.get("source"), "every statement says where it comes from"
    if "layer" in statement:
        assert statement["layer"] in LAYERS
    assert failures(catalog, statement) == [], statement["source"]


def test_every_town_facts_names_is_in_the_table_and_the_counts(catalog):
    named = {s["place"] for s in STATEMENTS}
    assert set(FACTS_TOWNS) <= named, sorted(set(FACTS_TOWNS) - named)
    dated = [when for s in STATEMENTS for when, _ in checks(s) if when is not None]
    total = sum(len(checks(s)) for s in STATEMENTS)
    held = [s for s in STATEMENTS if "held_by" in s]
    print(
        f"\nplace table: {len(STATEMENTS)} statements about {len(named)} towns, "
        f"{total} checks ({len(held)} control statements), on {len(set(dated))} dates "
        f"from {min(dated)} to {max(dated)}; all hold"
    )
    assert len(STATEMENTS) >= 100 and len(set(dated)) >= 50


# --- the gazetteer ---------------------------------------------------------------------------


def test_contested_places_carry_both_sides_names(catalog):
    names = {
        "AZE-stepanakert": ("Ստեփանակերտ", "Xankəndi", "Khankendi"),
        "AZE-shusha": ("Շուշի", "Şuşa", "Shushi"),
        "AZE-lachin": ("Բերձոր", "Laçın", "Berdzor"),
        "AZE-kalbajar": ("Քարվաճառ", "Kəlbəcər", "Karvachar"),
    }
    for pid, (hy, az, alt) in names.items():
        _, p = place_point(catalog, pid)
        names = p["names"]
        assert (names["hy"], names["az"]) == (hy, az) and alt in p["alt_names"], pid
        assert names["ru"], pid


def test_gazetteer_fixes_natural_earths_country_codes_and_cites_its_source(catalog):
    places = catalog["places"].features
    assert len(places) > 500
    for f in places:
        p = f["properties"]
        assert p["source"] and p["sources"] and p["accuracy"] in ("derived", "approximate")
        if p["accuracy"] == "approximate":
            assert p["notes"]
    # Kapan is Armenian; Natural Earth 4.0.0 codes it AZE.
    _, kapan = place_point(catalog, "ARM-kapan")
    assert kapan["country"] == "ARM"
    mismatched = [f for f in places if "The source codes it" in f["properties"]["notes"]]
    countries = catalog["countries"].frame.set_index("iso3").geometry
    for f in mismatched:
        assert countries[f["properties"]["country"]].intersects(shape(f["geometry"]))
    ids = [f["properties"]["id"] for f in places]
    assert len(ids) == len(set(ids))
