"""Country names in the label languages, from the npm package ``i18n-iso-countries`` (MIT).

Called from derive.py. The package's ``langs/<lang>.json`` (CLDR-based country names by
ISO 3166-1 alpha-2 code) and ``codes.json`` (alpha-2 to alpha-3) are fetched once into
geodata/.cache with ``npm pack``. Where the package gives several names, the shortest is the
label (Russian: "Россия", not "Российская Федерация"). The package has no Abkhaz (ab) or
Ossetian (os) names, and no de facto entities: those come from the record and Natural Earth.
"""

from __future__ import annotations

import npm
import orjson

from geoservice.vocabulary import COUNTRY_NAMES, LANGUAGES, PARTY_NAMES


def country_names(spec: dict) -> dict[str, dict[str, str]]:
    """ISO3 -> {lang: name} for every label language the package has (``spec``: the record's
    ``[country_names]``: package, version)."""
    folder = npm.CACHE / f"{spec['package']}-{spec['version']}"
    members = {"codes.json": folder / "codes.json"}
    members |= {f"langs/{lang}.json": folder / f"{lang}.json" for lang in spec["languages"]}
    files = npm.fetch_members(spec["package"], spec["version"], members)
    iso3 = {row[0]: row[1] for row in orjson.loads(files["codes.json"].read_bytes())}
    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        path = files.get(f"langs/{lang}.json")
        if path is None:
            continue
        for a2, value in orjson.loads(path.read_bytes())["countries"].items():
            name = min(value, key=len) if isinstance(value, list) else value
            out.setdefault(iso3[a2], {})[lang] = name
    return out


def party_names(
    countries: dict[str, dict[str, str]], record: dict, cite: str
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Names by language of every code a border pair may name, and the source of each: the
    countries (the package's, ``cite``; then the record's ``[country_names.record]`` in the
    languages the package lacks, Abkhaz and Ossetian) and the de facto entities (the record's
    held areas' and Karabakh's ``[karabakh.entity]`` ``names``, English as in border names)."""
    names: dict[str, dict[str, str]] = {}
    sources: dict[str, dict[str, str]] = {}
    for code, en in COUNTRY_NAMES.items():
        package = countries.get(code, {})
        extra = record["country_names"].get("record", {}).get(code, {})
        names[code] = {**extra, **package, "en": en}
        sources[code] = {k: cite if k in package else "record" for k in names[code]}
    for entry in [*record.get("held_area", []), record["karabakh"]["entity"]]:
        code = entry["entity"]
        if code not in names:
            names[code] = {**entry.get("names", {}), "en": PARTY_NAMES.get(code, entry["name"])}
            sources[code] = dict.fromkeys(names[code], "record")
    return names, sources


#: ``names_sources`` of a line's name composed from its two parties' names where no source
#: names the line in that language (the record's ``line_names_composed``).
COMPOSED = "composed (editors): the two parties' names"


def complete(
    layers: dict[str, list[dict]],
    parties: dict[str, dict[str, str]],
    party_sources: dict[str, dict[str, str]],
) -> None:
    """Give every feature ``names`` (with ``en``, its ``name``) and ``names_sources``, in place.

    Countries (and ``csto_members``) take :func:`party_names`' names and sources; a border named
    "<A>-<B> border" is labelled "<A> – <B>" in each language both sides have a name in (the
    source: both sides' sources), and so is a feature in the languages its ``compose_names``
    lists (popped; the source :data:`COMPOSED`); every other name came with the feature (the
    record, Natural Earth) and keeps the source it says, else "record".
    """
    for layer, features in layers.items():
        for f in features:
            p = f["properties"]
            names = dict(p.get("names") or {})
            sources = dict(p.get("names_sources") or {})
            for lang in names:
                sources.setdefault(lang, "record")
            code = p["id"] if layer == "countries" else p.get("country")
            if layer in ("countries", "csto_members"):
                names |= parties.get(code, {})
                sources |= party_sources.get(code, {})
            pair = p.get("countries") or []
            a, b = (parties.get(code, {}) for code in (pair if len(pair) == 2 else ("", "")))
            if layer == "borders" and p["name"].startswith(f"{a.get('en')}-{b.get('en')}"):
                sa, sb = (party_sources[code] for code in pair)
                for lang in LANGUAGES[1:]:
                    if a.get(lang) and b.get(lang) and lang not in names:
                        names[lang] = f"{a[lang]} – {b[lang]}"
                        sources[lang] = "; ".join(dict.fromkeys((sa[lang], sb[lang])))
            for lang in p.pop("compose_names", None) or []:  # no source names it in ``lang``
                names[lang] = f"{a[lang]} – {b[lang]}"
                sources[lang] = COMPOSED
            names["en"] = p["name"]
            sources["en"] = sources.get("en", "record")
            kept = [lang for lang in LANGUAGES if names.get(lang)]
            p["names"] = {k: names[k] for k in kept}
            p["names_sources"] = {k: sources[k] for k in kept}
