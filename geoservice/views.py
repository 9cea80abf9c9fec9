"""Points of view: which features a view shows, and what each line and held area is in it.

One place for the view logic. A feature whose state differs between views is stored once per
view-state (geodata/breakaway.py derives them from the record and Natural Earth's FCLASS_*
columns), each with ``views``: the list of views it belongs to. A feature without ``views`` is
the same in every view. So a view is a mask over a layer, computed once per loaded layer, and
the time filter (geoservice/timeline.py) does the rest.

In a view each line has a class (:data:`~geoservice.vocabulary.LINE_CLASSES`): a feature of
kind ``international`` is an international border (``disputed`` when its status is), a line of
contact or de facto line is ``de_facto``, and a line the view does not draw has no feature in
it. Each held area belongs to a state (``belongs_to``).
"""

from __future__ import annotations

import numpy as np

from .vocabulary import COUNTRY_NAMES, DEFAULT_VIEW, LANGUAGES, PARTY_NAMES, VIEWS


class ViewError(ValueError):
    """An unknown view or label language."""


def parse_view(value: str | None) -> str:
    """The view asked for (default :data:`DEFAULT_VIEW`); upper-case government codes."""
    if value is None or not str(value).strip():
        return DEFAULT_VIEW
    text = str(value).strip()
    for view in VIEWS:
        if text == view or text.upper() == view or text.lower() == view:
            return view
    raise ViewError(f"unknown view {value!r}; one of: {', '.join(VIEWS)}")


def parse_lang(value: str | None) -> str:
    """The label language asked for (default English)."""
    if value is None or not str(value).strip():
        return LANGUAGES[0]
    text = str(value).strip().lower()
    if text not in LANGUAGES:
        raise ViewError(f"unknown lang {value!r}; one of: {', '.join(LANGUAGES)}")
    return text


def in_view(props: dict, view: str) -> bool:
    """True if a feature (its properties) belongs to ``view``."""
    views = props.get("views")
    return views is None or view in views


def view_mask(layer, view: str) -> np.ndarray:
    """Boolean mask of a loaded layer's features in ``view``, computed once per layer."""
    cache = vars(layer).setdefault("_view_masks", {})
    if view not in cache:
        cache[view] = np.array(
            [in_view(f.get("properties") or {}, view) for f in layer.features], dtype=bool
        )
    return cache[view]


def line_class(props: dict) -> str:
    """The class of a border feature in the views it belongs to."""
    if props.get("kind") in ("line_of_contact", "de_facto"):
        return "de_facto"
    return "disputed" if props.get("status") == "disputed" else "international"


def label(props: dict, lang: str) -> str:
    """The feature's name in ``lang`` where it has one, else its English ``name``."""
    names = props.get("names") or {}
    return names.get(lang) or props.get("name") or ""


#: Properties whose values are country or de facto entity codes (:data:`PARTY_NAMES`).
CODE_FIELDS: tuple[str, ...] = ("countries", "parties", "held_by", "belongs_to", "country", "iso3")


def party_names(catalog) -> dict[str, dict[str, str]]:
    """Every country and de facto entity code -> its names by language, from the data: a
    country's from the countries layer, an entity's from the areas it holds (``held_by`` in
    disputed_areas: Аҧсны, Хуссар Ирыстон); English from :data:`PARTY_NAMES`. Built once per
    loaded countries and disputed_areas layers (an edit loads them anew)."""
    countries = catalog["countries"]
    areas = catalog["disputed_areas"]
    hit = vars(countries).get("_party_names")
    if hit is not None and hit[0] is areas:
        return hit[1]
    names: dict[str, dict[str, str]] = {code: {} for code in PARTY_NAMES}
    for f in countries.features:
        props = f["properties"]
        names.setdefault(props.get("iso3") or props["id"], {}).update(props.get("names") or {})
    for f in areas.features:
        props = f["properties"]
        code = props.get("held_by")
        if code in names and code not in COUNTRY_NAMES and props.get("area_kind") == "held_area":
            for lang, name in (props.get("names") or {}).items():
                names[code].setdefault(lang, name)
    for code, english in PARTY_NAMES.items():
        names[code]["en"] = english
    vars(countries)["_party_names"] = (areas, names)
    return names


def party_labels(catalog, lang: str) -> dict[str, str]:
    """Code -> its name in ``lang`` (English where the data has none), for every code of
    :func:`party_names`."""
    return {code: names.get(lang) or names["en"] for code, names in party_names(catalog).items()}


def pair_label(codes, labels: dict[str, str]) -> str:
    """A pair's (or any list of codes') label: the parties' labels joined by an en dash, as the
    data names a border in a language its source lacks (Россия – Южная Осетия)."""
    return " – ".join(labels.get(code, code) for code in codes)


def code_labels(
    labels: dict[str, str], rows, fields: tuple[str, ...] = CODE_FIELDS
) -> dict[str, str]:
    """An answer's ``labels``: ``labels`` (:func:`party_labels`) of the codes ``rows`` (dicts)
    name in ``fields`` (:func:`named_codes`)."""
    return {code: labels[code] for code in named_codes(rows, fields)}


def named_codes(rows, fields: tuple[str, ...] = CODE_FIELDS) -> list[str]:
    """The codes (:data:`PARTY_NAMES`) that ``rows`` (dicts) name in ``fields``, sorted."""
    found: set[str] = set()
    for row in rows:
        for name in fields:
            value = row.get(name)
            found.update([value] if isinstance(value, str) else value or ())
    return sorted(found & PARTY_NAMES.keys())


def pair_lengths(catalog, view: str, day) -> dict[str, dict[str, float]]:
    """km of international border, disputed border and de facto line per pair in ``view`` on
    ``day`` (geodesic, WGS84), from :func:`geoservice.measure.border_lengths`."""
    from .measure import border_lengths

    result = border_lengths(catalog, kind=None, as_of=day, view=view)
    out: dict[str, dict[str, float]] = {}
    for seg in result["segments"]:
        cls = line_class(seg)
        row = out.setdefault("-".join(seg["countries"]), dict.fromkeys(_MEASURED, 0.0))
        row[cls] += seg["length_km"]
    return out


def markdown_tables(catalog, days: list, pairs: list[str] | None = None) -> str:
    """The README's table: for each view and date, km per pair (international / disputed /
    de facto), pairs restricted to ``pairs`` when given (those that differ between views)."""
    lines = []
    for day in days:
        per_view = {view: pair_lengths(catalog, view, day) for view in VIEWS}
        keys = sorted({k for t in per_view.values() for k in t})
        if pairs is not None:
            keys = [k for k in keys if k in pairs]
        lines += [f"**{day.isoformat()}** (km: international / disputed / de facto)", ""]
        lines.append("| pair | " + " | ".join(VIEWS) + " |")
        lines.append("|---|" + "---|" * len(VIEWS))
        for key in keys:
            cells = []
            for view in VIEWS:
                row = per_view[view].get(key)
                cells.append("—" if row is None else " / ".join(f"{row[c]:.0f}" for c in _MEASURED))
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


_MEASURED = ("international", "disputed", "de_facto")


def describe() -> dict:
    """The views and languages, for the API and the map's selector."""
    return {
        "default": DEFAULT_VIEW,
        "views": [
            {
                "id": view,
                "title": _TITLES.get(view, f"Government of {view}"),
            }
            for view in VIEWS
        ],
        "languages": list(LANGUAGES),
        "line_classes": ["international", "disputed", "de_facto", "not_drawn"],
    }


_TITLES = {
    "on_the_ground": "On the ground: who controls what on the date",
    "un": "UN majority: no breakaway entity recognised",
    "ARM": "Government of Armenia",
    "AZE": "Government of Azerbaijan",
    "GEO": "Government of Georgia",
    "MDA": "Government of Moldova",
    "RUS": "Government of Russia",
    "UKR": "Government of Ukraine",
}
