"""The controlled vocabularies of the data set: one place for each, imported everywhere else."""

from __future__ import annotations

#: Status of a border segment on a given date. ``settled``: delimited or agreed, as the record
#: says; ``disputed``: undelimited or contested, as the record says; ``unresearched``: the record
#: says nothing about the stretch on that date (counted apart from ``settled``, never as it).
STATUSES: tuple[str, ...] = ("settled", "disputed", "unresearched")

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
