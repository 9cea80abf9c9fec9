"""The controlled vocabularies of the data set: one place for each, imported everywhere else."""

from __future__ import annotations

import unicodedata

#: Status of a border segment on a given date. ``settled``: delimited or agreed, as the record
#: says; ``disputed``: undelimited or contested, as the record says; ``unresearched``: the record
#: says nothing about the stretch on that date (counted apart from ``settled``, never as it).
STATUSES: tuple[str, ...] = ("settled", "disputed", "unresearched")

#: What kind of line a border segment is. Lengths of a country pair count only
#: ``international`` unless another kind is asked for.
KINDS: tuple[str, ...] = ("international", "line_of_contact", "de_facto")
DEFAULT_KIND = "international"

#: What kind of event an ``events`` feature is.
EVENT_KINDS: tuple[str, ...] = (
    "war",  # a war, from its first to its last day of fighting
    "clash",  # armed clashes on a border or line of contact, days at most
    "offensive",  # a military operation or invasion by one side
    "ceasefire",  # a ceasefire or armistice coming into force
    "treaty",  # a treaty, protocol or agreement signed, initialled or ratified
    "handover",  # territory or a route handed from one side to the other
    "annexation",  # a state's claim to annex territory, and recognitions of breakaways
    "deployment",  # a peacekeeping or monitoring mission arriving
    "withdrawal",  # a mission or force leaving
    "blockade",  # a route closed by one side
    "unrest",  # internal unrest that drew outside forces
)

#: Labels readers see for the codes of every vocabulary (the map's popups and legend).
LABELS: dict[str, dict[str, str]] = {
    "status": {"settled": "settled (delimited)", "disputed": "disputed (not delimited)"},
    "kind": {
        "international": "international border",
        "line_of_contact": "line of contact",
        "de_facto": "de facto line",
    },
    "event_kind": {kind: kind.capitalize() for kind in EVENT_KINDS},
    "accuracy": {
        "surveyed": "surveyed",
        "derived": "derived from a boundary data set",
        "approximate": "approximate (placed from the record, within a few km)",
        "schematic": "schematic (a sketch: where, not exactly where)",
    },
    "area_kind": {
        "held_area": "area held by a de facto authority",
        "former_oblast": "former autonomous oblast",
        "occupied_district": "occupied district",
        "enclave": "enclave",
        "held_across_border": "held across the border",
    },
    "part": {"centreline": "centreline", "band": "band (5 km wide)"},
    "corridor": {
        "lachin": "Lachin corridor",
        "nakhchivan": "Nakhchivan route ('Zangezur corridor')",
        "tripp": "Trump Route for International Peace and Prosperity (TRIPP)",
    },
    "mission": {
        "russian_peacekeeping_nk": "Russian peacekeeping contingent, Nagorno-Karabakh",
        "joint_monitoring_centre": "Russian-Turkish Joint Monitoring Centre",
        "euma": "EU Mission in Armenia (EUMA)",
        "csto_cpkf_kazakhstan": "CSTO Collective Peacekeeping Forces, Kazakhstan",
        "jpkf_south_ossetia": "Joint Peacekeeping Forces, South Ossetia",
        "cispkf_abkhazia": "CIS peacekeeping force, Abkhazia",
        "jcc_transnistria": "Joint Control Commission, Transnistria",
    },
}

#: State of a corridor or route on a date (``corridor_routes``, ``corridor_bands``).
#: ``agreed``: agreed on paper, nothing built or running (the Nakhchivan route from 2020);
#: ``announced``: a project announced (TRIPP, 2025); ``open``: in use; ``blocked``: the road
#: cut by the other side (Lachin from 12 December 2022); ``checkpoint``: passable only through
#: the other side's checkpoint (Hakari bridge from 23 April 2023); ``closed``: no passage.
CORRIDOR_STATES: tuple[str, ...] = (
    "agreed",
    "announced",
    "open",
    "blocked",
    "checkpoint",
    "closed",
)

#: What a polygon of ``disputed_areas`` (and ``control_areas``) is.
AREA_KINDS: tuple[str, ...] = (
    "held_area",
    "former_oblast",
    "occupied_district",
    "enclave",
    "held_across_border",
    "control",
)

#: State of a country's CSTO membership on a date (``csto_members``): ``member`` (a party
#: taking part), ``suspended`` (its own suspension: Uzbekistan from 2012), ``frozen`` (a party
#: that stopped taking part: Armenia from February 2024).
MEMBERSHIPS: tuple[str, ...] = ("member", "suspended", "frozen")

#: Which corridor or route a feature of ``corridor_routes`` / ``corridor_bands`` belongs to.
CORRIDORS: tuple[str, ...] = ("lachin", "nakhchivan", "tripp")

#: Which part of a corridor a feature is: the route's ``centreline`` or its ``band``.
CORRIDOR_PARTS: tuple[str, ...] = ("centreline", "band")

#: Who holds a piece of ``control_areas`` (Nagorno-Karabakh and the seven districts): the de facto
#: authorities (``ART``, see :data:`ENTITY_NAMES`) or Azerbaijan.
CONTROL_HOLDERS: tuple[str, ...] = ("ART", "AZE")

#: How far a geometry can be trusted, best first.
#: ``surveyed``: from a survey or treaty map; ``derived``: taken from a real public boundary
#: data set; ``approximate``: placed from the record to within a few km; ``schematic``: a sketch
#: that shows where something is, not where its edge runs.
ACCURACIES: tuple[str, ...] = ("surveyed", "derived", "approximate", "schematic")

#: Accuracies the map draws dashed, so that nobody mistakes a sketch for a surveyed line.
SKETCHED_ACCURACIES: frozenset[str] = frozenset({"approximate", "schematic"})

#: Fields every feature of every layer carries.
COMMON_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "valid_from",
    "valid_to",
    "sources",
    "accuracy",
    "notes",
)

#: ISO 3166-1 alpha-3 codes of the countries in the data set, with their English short names.
COUNTRY_NAMES: dict[str, str] = {
    "AFG": "Afghanistan",
    "ARM": "Armenia",
    "AZE": "Azerbaijan",
    "BLR": "Belarus",
    "CHN": "China",
    "GEO": "Georgia",
    "IRN": "Iran",
    "KAZ": "Kazakhstan",
    "KGZ": "Kyrgyzstan",
    "MDA": "Moldova",
    "ROU": "Romania",
    "RUS": "Russia",
    "TJK": "Tajikistan",
    "TKM": "Turkmenistan",
    "TUR": "Turkey",
    "UKR": "Ukraine",
    "UZB": "Uzbekistan",
}

#: The post-Soviet countries the project started from; each is drawn whole, with every land
#: border (the full list of countries drawn whole is ``[region]`` in geodata/record/borders.toml).
FOCUS_COUNTRIES: tuple[str, ...] = ("ARM", "AZE", "GEO", "KAZ", "KGZ", "TJK", "UZB")


#: Field -> its controlled values, for every layer; :data:`LAYER_VOCABULARIES` overrides a
#: field for one layer. Request parsing (a value outside is a 400 listing the allowed ones) and
#: ``geoservice validate`` both read these two tables.
FIELD_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "kind": KINDS,
    "accuracy": ACCURACIES,
    "area_kind": AREA_KINDS,
    "corridor": CORRIDORS,
    "part": CORRIDOR_PARTS,
    "state": CORRIDOR_STATES,
    "membership": MEMBERSHIPS,
}

#: Where a layer's field has a vocabulary of its own (the events' ``kind``).
LAYER_VOCABULARIES: dict[str, dict[str, tuple[str, ...]]] = {"events": {"kind": EVENT_KINDS}}


def field_vocabulary(layer_id: str, field: str) -> tuple[str, ...] | None:
    """The controlled values of a layer's field, or None if the field has none."""
    return LAYER_VOCABULARIES.get(layer_id, {}).get(field) or FIELD_VOCABULARIES.get(field)


#: De facto entities that hold an area, and in some points of view are states. Codes are this
#: project's own (no ISO code exists); they appear in ``countries`` of de facto lines and in
#: ``held_by`` / ``belongs_to`` of held areas. ``ART``: the de facto authorities of
#: Nagorno-Karabakh (Nagorno-Karabakh Republic; Republic of Artsakh from 2017; dissolved 2024).
ENTITY_NAMES: dict[str, str] = {
    "ABK": "Abkhazia",
    "SOS": "South Ossetia",
    "PMR": "Transnistria (Pridnestrovian Moldavian Republic)",
    "DNR": "'Donetsk People's Republic'",
    "LNR": "'Luhansk People's Republic'",
    "ART": "Republic of Artsakh",
}

#: Every code a border pair or a held area may name: the countries and the de facto entities.
PARTY_NAMES: dict[str, str] = {**COUNTRY_NAMES, **ENTITY_NAMES}

#: Points of view (query parameter ``view``; see geoservice/views.py). ``on_the_ground``: who
#: controls what on the date (the default); ``un``: the UN-majority view (no breakaway entity
#: recognised); the others: that government's view, as it changed over time.
VIEWS: tuple[str, ...] = ("on_the_ground", "un", "ARM", "AZE", "GEO", "MDA", "RUS", "UKR")
DEFAULT_VIEW = "on_the_ground"

#: What a line is in a point of view; ``not_drawn`` lines are left out of that view.
LINE_CLASSES: tuple[str, ...] = ("international", "disputed", "de_facto", "not_drawn")

#: Label languages (query parameter ``lang``): English (the default), Russian and the region's.
LANGUAGES: tuple[str, ...] = (
    "en", "ru", "hy", "az", "ka", "ab", "os", "ro", "uk", "ky", "tg", "uz", "kk", "tr",
)  # fmt: skip
DEFAULT_LANGUAGE = "en"

#: The script(s) each label language is written in (the first word of a letter's Unicode name).
SCRIPTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("ru", "uk", "os", "ab", "ky", "tg", "kk"), ("CYRILLIC",)),
    "hy": ("ARMENIAN",),
    "ka": ("GEORGIAN",),
    **dict.fromkeys(("en", "az", "tr", "ro"), ("LATIN",)),
    "uz": ("LATIN", "CYRILLIC"),
}

#: Letters of a language's alphabet outside its script's block: Uzbek Latin writes oʻ, gʻ and
#: the tutuq belgisi with the modifier letters U+02BB and U+02BC (Fargʻona, Qalʼa).
ALSO_LETTERS: dict[str, str] = {"uz": "ʻʼ"}

#: Letters a language's alphabet lacks: a Russian name with Ukrainian і, ї, є, ґ (or Kazakh,
#: Kyrgyz, Tajik letters) is another language's name, as is a Ukrainian one with ы, э, ъ, ё.
NOT_IN: dict[str, str] = {"ru": "іїєґўәғқңөұүһ", "uk": "ыэъё"}


def in_script(name: str, lang: str) -> bool:
    """Whether every letter of ``name`` is of ``lang``'s script(s) (:data:`SCRIPTS`) and in its
    alphabet (:data:`ALSO_LETTERS`, :data:`NOT_IN`); digits, spaces and punctuation aside."""
    letters = [c for c in name if c.isalpha() and c not in ALSO_LETTERS.get(lang, "")]
    return (
        any(c.isalpha() for c in name)
        and all(unicodedata.name(c, "?").split()[0] in SCRIPTS[lang] for c in letters)
        and not set(name.lower()) & set(NOT_IN.get(lang, ""))
    )
