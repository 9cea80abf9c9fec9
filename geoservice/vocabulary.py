"""The controlled vocabularies of the data set: one place for each, imported everywhere else."""

from __future__ import annotations

#: Status of a border segment on a given date.
STATUSES: tuple[str, ...] = ("settled", "disputed")

#: What kind of line a border segment is. Lengths of a country pair count only
#: ``international`` unless another kind is asked for.
KINDS: tuple[str, ...] = ("international", "line_of_contact", "de_facto")
DEFAULT_KIND = "international"

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
    "CHN": "China",
    "GEO": "Georgia",
    "IRN": "Iran",
    "KAZ": "Kazakhstan",
    "KGZ": "Kyrgyzstan",
    "MDA": "Moldova",
    "RUS": "Russia",
    "TJK": "Tajikistan",
    "TKM": "Turkmenistan",
    "TUR": "Turkey",
    "UKR": "Ukraine",
    "UZB": "Uzbekistan",
}

#: The countries whose every land border the data set covers.
FOCUS_COUNTRIES: tuple[str, ...] = ("ARM", "AZE", "GEO", "KAZ", "KGZ", "TJK", "UZB")

#: De facto entities that hold an area, and in some points of view are states. Codes are this
#: project's own (no ISO code exists); they appear in ``countries`` of de facto lines and in
#: ``held_by`` / ``belongs_to`` of held areas.
ENTITY_NAMES: dict[str, str] = {
    "ABK": "Abkhazia",
    "SOS": "South Ossetia",
    "PMR": "Transnistria (Pridnestrovian Moldavian Republic)",
    "DNR": "'Donetsk People's Republic'",
    "LNR": "'Luhansk People's Republic'",
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
