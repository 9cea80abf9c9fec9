"""The controlled vocabularies of the data set: one place for each, imported everywhere else."""

from __future__ import annotations

#: Status of a border segment on a given date.
STATUSES: tuple[str, ...] = ("settled", "disputed")

#: What kind of line a border segment is. Lengths of a country pair count only
#: ``international`` unless another kind is asked for.
KINDS: tuple[str, ...] = ("international", "line_of_contact", "de_facto")
DEFAULT_KIND = "international"

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

#: Who holds a piece of ``control_areas`` (Nagorno-Karabakh and the seven districts).
CONTROL_HOLDERS: tuple[str, ...] = ("Republic of Artsakh (de facto)", "AZE")

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
