"""The web map at ``/``: a folium (Leaflet) page that draws every layer as of a date.

folium builds the scaffold (map, feature groups, layer control, legend); the page's script
(``geoservice/static/webmap.js``) fills the feature groups from the OGC API with
``datetime=<date>`` and redraws when the date changes. Leaflet itself is served by this
blueprint from the installed ``xstatic-leaflet`` package, so the page needs no network beyond
the app. The style table lives here, is rendered into the page as JSON and into the legend, so
the script does not repeat it.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import mimetypes
from pathlib import Path
from typing import Any

import folium
import numpy as np
import shapely
import xstatic.pkg.leaflet as xstatic_leaflet
from branca.element import MacroElement
from flask import Blueprint, Response, render_template, request, url_for
from folium.template import Template
from markupsafe import Markup, escape
from shapely.ops import polylabel
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from . import measure, timeline, views
from .errors import problem
from .layers import LAYERS
from .ogcapi import DETAIL_LEVELS
from .resources import TEMPLATES_DIR
from .settings import settings
from .state import state
from .store import Store
from .store.file import FileStore
from .vocabulary import (
    COUNTRY_NAMES,
    DEFAULT_KIND,
    DEFAULT_VIEW,
    KINDS,
    LABELS,
    PARTY_NAMES,
    SKETCHED_ACCURACIES,
    STATUSES,
)

bp = Blueprint("webmap", __name__, template_folder=str(TEMPLATES_DIR))

#: The page's own script, styles and icon (served by :func:`static`).
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Where Leaflet's files (JS, CSS, images) come from: the installed xstatic-leaflet package.
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)

#: First day the date slider offers: the end of the Soviet Union (26 December 1991).
SLIDER_START = "1991-12-26"

#: The opening view when the URL names none: Moldova to Kyrgyzstan ((lat, lon) corners).
OPENING_BOUNDS: tuple[tuple[float, float], tuple[float, float]] = ((37.0, 26.6), (48.6, 80.3))
DEFAULT_CENTER: tuple[float, float] = (42.8, 53.4)
#: On a phone (too narrow for that): the Caucasus to the Fergana valley.
PHONE_CENTER: tuple[float, float] = (40.6, 56.0)
PHONE_ZOOM = 4
DEFAULT_ZOOM = 5

#: Detail levels from which the page fetches geometry for the view (``bbox=``), not whole.
BBOX_FROM_LEVEL = 7

#: The order layers are drawn in (bottom first); countries is the always-on base layer.
LAYER_ORDER: tuple[str, ...] = (
    "countries",
    "control_areas",
    "disputed_areas",
    "mission_areas",
    "corridor_bands",
    "corridor_routes",
    "borders",
    "mission_posts",
    "events",
)

#: Dash pattern of features whose accuracy is in SKETCHED_ACCURACIES.
SKETCHED_STYLE: dict[str, Any] = {"dashArray": "7 6"}

#: The palette: Okabe and Ito's colour-blind-safe set (vermillion, blue, bluish green, orange,
#: reddish purple, black). Fills are opaque or hatched, never blended: every colour the map
#: shows is in the legend. tests/test_webmap.py simulates protanopia, deuteranopia and
#: tritanopia on every status colour of the legend (lines; held-area fills, land, sea) and
#: keeps each pair more than 10 CAM02-UCS apart.
LAND = "#efece3"
SEA = "#cfdde6"
STATUS_COLOURS: dict[str, str] = {
    "settled": "#555555",
    "disputed": "#d55e00",
    "unresearched": "#56b4e9",
}
HATCH_PEACEKEEPING = "gs-hatch-peacekeeping"

# Each layer: a base Leaflet path style, then rules applied in order when every property in
# ``when`` matches (later rules win), each with the label the legend shows. ``point`` is the
# style of circle markers (Point features). ``shape`` picks the legend swatch. A ``fillColor``
# of ``url(#id)`` is one of the page's SVG patterns (HATCHES).
STYLES: dict[str, dict[str, Any]] = {
    "countries": {
        "shape": "area",
        "style": {"color": "#a9a398", "weight": 0.7, "fillColor": LAND, "fillOpacity": 1},
        "label": "Land (country base layer)",
        "rules": [],
    },
    "borders": {
        "shape": "line",
        "style": {"weight": 1.3, "opacity": 1, "lineCap": "butt"},
        "rules": [
            {
                "when": {"kind": "international", "status": "settled"},
                "style": {"color": STATUS_COLOURS["settled"], "weight": 1.3},
                "label": "International border, settled (delimited)",
            },
            {
                "when": {"kind": "international", "status": "disputed"},
                "style": {"color": STATUS_COLOURS["disputed"], "weight": 4.5},
                "label": "International border, disputed (not delimited)",
            },
            {
                "when": {"kind": "international", "status": "unresearched"},
                "style": {"color": STATUS_COLOURS["unresearched"], "weight": 1.3},
                "label": "International border, status not in the record (unresearched)",
            },
            {
                "when": {"kind": "line_of_contact"},
                "style": {"color": "#cc79a7", "weight": 4.5},
                "label": "Line of contact",
            },
            {
                "when": {"kind": "de_facto"},
                "style": {"color": "#000000", "weight": 3},
                "label": "De facto line (breakaway entity)",
            },
        ],
    },
    "corridor_routes": {
        "shape": "line",
        "style": {"color": "#0072b2", "weight": 3},
        "label": "Corridor or route, open",
        "rules": [
            {
                "when": {"state": "blocked"},
                "style": {"color": "#000000", "dashArray": "4 4"},
                "label": "Corridor blocked",
            },
            {
                "when": {"state": "closed"},
                "style": {"color": "#000000", "dashArray": "1 5"},
                "label": "Corridor closed",
            },
            {
                "when": {"state": "checkpoint"},
                "style": {"color": "#e69f00"},
                "label": "Corridor through a checkpoint",
            },
            {
                "when": {"state": "agreed"},
                "style": {"color": "#56b4e9", "dashArray": "2 6"},
                "label": "Route agreed, not built",
            },
            {
                "when": {"state": "announced"},
                # long dashes: apart from "agreed" (same colour) in the legend and on the map
                "style": {"color": "#56b4e9", "dashArray": "10 5"},
                "label": "Route announced",
            },
        ],
    },
    "corridor_bands": {
        "shape": "area",
        "style": {"color": "#0072b2", "weight": 1.5, "fill": False, "fillOpacity": 0},
        "label": "Corridor band (outline)",
        "rules": [],
    },
    "mission_areas": {
        "shape": "area",
        "style": {
            "color": "#009e73",
            "weight": 2.5,
            "fillColor": f"url(#{HATCH_PEACEKEEPING})",
            "fillOpacity": 1,
        },
        "label": "Peacekeeping or monitoring area (hatched over what it covers)",
        "rules": [],
    },
    "mission_posts": {
        "shape": "point",
        "style": {
            "radius": 6,
            "color": "#ffffff",
            "weight": 2,
            "fillColor": "#009e73",
            "fillOpacity": 1,
        },
        "label": "Peacekeeping or monitoring post",
        "rules": [],
    },
    "control_areas": {
        "shape": "area",
        "style": {"color": "#a9a398", "weight": 0.5, "fillColor": "#e4dcc6", "fillOpacity": 1},
        "label": "Held by Azerbaijan (Nagorno-Karabakh and the districts)",
        "rules": [
            {
                "when": {"held_by": "ART"},
                "style": {"fillColor": "#f3c270"},
                "label": "Held by the de facto authorities (Artsakh)",
            }
        ],
    },
    "disputed_areas": {
        "shape": "area",
        "style": {"color": "#a0522d", "weight": 2, "fill": False, "fillOpacity": 0},
        "rules": [
            {
                "when": {"area_kind": kind},
                "style": {},
                "label": label,
            }
            for kind, label in (
                ("held_area", "Area held by a de facto authority (outline)"),
                ("occupied_district", "Occupied district (outline)"),
                ("held_across_border", "Held across the border (outline)"),
            )
        ]
        + [
            {
                "when": {"area_kind": "former_oblast"},
                "style": {"color": "#7a4a00", "weight": 2, "fill": False, "fillOpacity": 0},
                "label": "Former autonomous oblast (outline)",
            },
            {
                "when": {"area_kind": "enclave"},
                "style": {"color": "#333333", "weight": 1.5, "fill": False, "fillOpacity": 0},
                "label": "Enclave (outline)",
            },
        ],
    },
    "events": {
        "shape": "point",
        "style": {},
        "point": {
            "radius": 7,
            "color": "#000000",
            "weight": 2,
            "fillColor": "#ffffff",
            "fillOpacity": 1,
        },
        "point_label": "Event on this date: treaty, ceasefire, handover, mission",
        "rules": [
            {
                "when": {"kind": kind},
                "style": {"fillColor": "#000000"},
                "label": f"Event on this date: {kind}",
                "shape": "point",
            }
            for kind in ("war", "clash", "offensive")
        ],
    },
}

#: SVG patterns the styles refer to (id -> stripe colour), defined once in the page.
HATCHES: dict[str, str] = {HATCH_PEACEKEEPING: "#009e73"}

#: Compare mode: how features that began or ended since the other date are drawn.
COMPARE_STYLES: dict[str, dict[str, Any]] = {
    "began": {"color": "#000000", "weight": 5, "opacity": 1, "dashArray": None},
    "ended": {"color": "#56b4e9", "weight": 3, "fill": False, "dashArray": "2 5"},
}


def style_table() -> dict[str, Any]:
    """The style table the page's script applies, as JSON-ready data."""
    return {
        "layers": {lid: STYLES[lid] for lid in LAYER_ORDER},
        "sketched": {"accuracies": sorted(SKETCHED_ACCURACIES), "style": SKETCHED_STYLE},
        "hatches": HATCHES,
        "compare": COMPARE_STYLES,
        "land": LAND,
        "sea": SEA,
    }


def hatch_pattern(pattern_id: str, colour: str) -> str:
    """An SVG ``<pattern>`` of diagonal stripes in ``colour`` on a transparent ground."""
    return (
        f'<pattern id="{escape(pattern_id)}" width="8" height="8" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="3" height="8" fill="{escape(colour)}"/></pattern>'
    )


def _swatch(
    shape: str, style: dict[str, Any], dashed: bool = False, under: str | None = None
) -> Markup:
    """A small inline SVG showing a Leaflet path style (line, area or point) on the land
    colour, or on ``under`` (another fill it overlaps)."""
    colour = escape(style.get("color", "#000"))
    fill = str(style.get("fillColor", style.get("color", "#000")))
    defs = ""
    if fill.startswith("url(#"):
        pattern = fill[5:-1]
        local_id = f"{pattern}-swatch"
        defs = f"<defs>{hatch_pattern(local_id, HATCHES[pattern])}</defs>"
        fill = f"url(#{local_id})"
    if style.get("fill") is False:
        fill = "none"
    weight = escape(min(float(style.get("weight", 2)), 6))
    fill_opacity = escape(style.get("fillOpacity", 1))
    dash_array = style.get("dashArray") or (SKETCHED_STYLE["dashArray"] if dashed else None)
    dash = f' stroke-dasharray="{escape(dash_array)}"' if dash_array else ""
    ground = f'<rect width="32" height="16" fill="{escape(under or LAND)}"/>'
    if shape == "line":
        body = (
            f'<line x1="2" y1="8" x2="30" y2="8" stroke="{colour}" stroke-width="{weight}"{dash}/>'
        )
    elif shape == "point":
        body = (
            f'<circle cx="16" cy="8" r="5" stroke="{colour}" stroke-width="{weight}" '
            f'fill="{escape(fill)}" fill-opacity="{fill_opacity}"{dash}/>'
        )
    else:
        body = (
            f'<rect x="3" y="2" width="26" height="12" stroke="{colour}" stroke-width="{weight}" '
            f'fill="{escape(fill)}" fill-opacity="{fill_opacity}"{dash}/>'
        )
    return Markup(
        f'<svg class="gs-swatch" width="32" height="16" aria-hidden="true">{defs}{ground}{body}</svg>'
    )


def legend_entries() -> list[tuple[str, list[tuple[Markup, str]]]]:
    """Legend rows per layer: (layer title, [(swatch SVG, label)]) from the style table, then
    the overlaps the map can show, the accuracy dash and the compare mode's styles."""
    sections = []
    for lid in reversed(LAYER_ORDER):  # topmost layer first
        spec = STYLES[lid]
        rows: list[tuple[Markup, str]] = []
        if "label" in spec:
            rows.append((_swatch(spec["shape"], spec["style"]), spec["label"]))
        if "point" in spec:
            rows.append((_swatch("point", spec["point"]), spec["point_label"]))
        for rule in spec["rules"]:
            shape = rule.get("shape", spec["shape"])
            base = spec["point"] if shape == "point" and "point" in spec else spec["style"]
            rows.append((_swatch(shape, {**base, **rule["style"]}), rule["label"]))
        sections.append((LAYERS[lid].title, rows))
    held = STYLES["control_areas"]["rules"][0]["style"]["fillColor"]
    sections.append(
        (
            "Where layers overlap",
            [
                (
                    _swatch("area", STYLES["mission_areas"]["style"], under=held),
                    "Peacekeeping area over a held area",
                ),
                (_swatch("area", {"color": "#a9a398", "fillColor": SEA}), "Sea or no data"),
            ],
        )
    )
    sketched = ", ".join(a for a in sorted(SKETCHED_ACCURACIES))
    sections.append(
        (
            "Accuracy",
            [
                (
                    _swatch("line", {"color": "#444", "weight": 3}, dashed=True),
                    f"Dashed: {sketched} (a sketch, not a surveyed line)",
                )
            ],
        )
    )
    sections.append(
        (
            "Compare mode",
            [
                (_swatch("line", COMPARE_STYLES["began"]), "Began since the other date"),
                (_swatch("line", COMPARE_STYLES["ended"]), "Ended since the other date"),
            ],
        )
    )
    return sections


class OfflineMap(folium.Map):
    """A folium Map that loads only Leaflet, from this app (no jQuery, Bootstrap or CDN)."""

    def __init__(self, leaflet_js: str, leaflet_css: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Instance attributes: folium's class-level lists would be shared (and mutated).
        self.default_js = [("leaflet", leaflet_js)]
        self.default_css = [("leaflet_css", leaflet_css)]


class Legend(MacroElement):
    """The legend: a collapsible Leaflet control listing every style of the style table."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <details id="gs-legend" class="gs-panel gs-legend">
          <summary>Legend</summary>
          {%- for title, rows in this.sections %}
          <div class="gs-legend-section">
            <div class="gs-legend-title">{{ title|e }}</div>
            {%- for swatch, label in rows %}
            <div class="gs-legend-row">{{ swatch }}<span>{{ label|e }}</span></div>
            {%- endfor %}
          </div>
          {%- endfor %}
        </details>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            // On a phone the bottom belongs to the date panel: the legend goes top right.
            var phone = window.matchMedia("(max-width: 600px)").matches;
            var legend = L.control({position: phone ? "topright" : "bottomright"});
            legend.onAdd = function () {
                var el = document.getElementById("gs-legend");
                L.DomEvent.disableClickPropagation(el);
                L.DomEvent.disableScrollPropagation(el);
                return el;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Legend"
        self.sections = legend_entries()


class PageScript(MacroElement):
    """Hands folium's map and feature groups to the page script, which fills them."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        geoserviceMap.start({
            map: {{ this._parent.get_name() }},
            groups: {
            {%- for lid, group in this.groups.items() %}
                {{ lid|tojson }}: {{ group.get_name() }},
            {%- endfor %}
            },
            osm: {{ this.osm.get_name() }}
        });
        {% endmacro %}
        """
    )

    def __init__(self, groups: dict[str, folium.FeatureGroup], osm: folium.TileLayer) -> None:
        super().__init__()
        self._name = "PageScript"
        self.groups = groups
        self.osm = osm


def build_map() -> OfflineMap:
    """The folium scaffold: map, OSM layer (off), one feature group per layer, control, legend."""
    fmap = OfflineMap(
        leaflet_js=url_for("webmap.leaflet", filename="leaflet.js"),
        leaflet_css=url_for("webmap.leaflet", filename="leaflet.css"),
        location=list(DEFAULT_CENTER),
        zoom_start=DEFAULT_ZOOM,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,  # SVG: one DOM path per feature (the browser test counts them)
    )
    # Optional online basemap: off by default, and the map works the same when it fails.
    osm = folium.TileLayer(
        "OpenStreetMap",
        name="OpenStreetMap (online)",
        overlay=True,
        show=False,
        control=True,
    )
    osm.add_to(fmap)
    groups: dict[str, folium.FeatureGroup] = {}
    for lid in LAYER_ORDER:
        # Countries are the base layer and always shown: not in the control.
        group = folium.FeatureGroup(name=LAYERS[lid].title, control=lid != "countries")
        group.add_to(fmap)
        groups[lid] = group
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    Legend().add_to(fmap)
    PageScript(groups, osm).add_to(fmap)
    return fmap


#: Languages of the labels (``?lang=``): English and the gazetteer's ``name_<lang>`` fields.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "uk": "Українська",
    "hy": "Հայերեն",
    "az": "Azərbaycanca",
    "ka": "ქართული",
    "ro": "Română",
    "ab": "Аԥсуа",
    "os": "Ирон",
    "ky": "Кыргызча",
    "tg": "Тоҷикӣ",
    "uz": "Oʻzbekcha",
    "kk": "Қазақша",
    "tr": "Türkçe",
}

#: Area kinds of disputed areas that get a label, and the Leaflet zoom from which it is
#: drawn (held areas and breakaway entities at every zoom; the former oblast and small pockets
#: when zoomed in).
LABELLED_AREA_KINDS: dict[str, int] = {
    "held_area": 0,
    "former_oblast": 7,
    "occupied_district": 8,
    "held_across_border": 8,
    "enclave": 9,
}

#: Zoom from which a pocket held by its own country (Upper Kodori, Cocieri) is labelled.
POCKET_MIN_ZOOM = 7


def short_name(name: str) -> str:
    """A label from a feature name: the part before a parenthesis, comma or dash."""
    for stop in (" (", ", ", " - ", ": "):
        name = name.split(stop, 1)[0]
    return name


def _label_point(geom) -> tuple[float, float]:
    """A point well inside the largest part of a polygon (lon, lat), for its label."""
    parts = list(shapely.get_parts(geom))
    largest = max(parts, key=lambda g: g.area)
    point = polylabel(largest, tolerance=0.02)
    return round(point.x, 3), round(point.y, 3)


def per_catalog(build):
    """Cache ``build(store, *args)`` per store, version of its layers (an edit rebuilds it)
    and arguments (stores are not hashable)."""
    cache: dict[tuple, tuple[Store, tuple, Any]] = {}

    def cached(store: Store, *args):
        versions = tuple(store.version(lid) for lid in store.layer_ids())
        key = (id(store), *args)
        hit = cache.get(key)
        if hit is None or hit[0] is not store or hit[1] != versions:
            hit = cache[key] = (store, versions, build(store, *args))
        return hit[2]

    cached.__doc__ = build.__doc__
    return cached


@per_catalog
def area_labels(catalog: Store, lang: str = "en") -> list[dict[str, Any]]:
    """Labels of countries and of held or former areas in ``lang`` (English where the data has
    no name in it): name, lon, lat, rank, validity."""
    out = []
    countries = catalog["countries"]
    for i, feature in enumerate(countries.features):
        props = feature["properties"]
        lon, lat = _label_point(countries.frame.geometry.values[i])
        code = props.get("iso3")
        out.append(
            {
                "id": props["id"],
                "text": (props.get("names") or {}).get(lang)
                or COUNTRY_NAMES.get(code, props["name"]),
                "lon": lon,
                "lat": lat,
                "kind": "country",
                "rank": 1,
                "valid_from": props.get("valid_from"),
                "valid_to": props.get("valid_to"),
            }
        )
    areas = catalog["disputed_areas"]
    for i, feature in enumerate(areas.features):
        props = feature["properties"]
        if props.get("area_kind") not in LABELLED_AREA_KINDS:
            continue
        lon, lat = _label_point(areas.frame.geometry.values[i])
        out.append(
            {
                "id": props["id"],
                "text": area_label_text(props, lang),
                "lon": lon,
                "lat": lat,
                "kind": "area",
                "rank": 0,  # before the countries: a country's label moves aside, not theirs
                "min_zoom": max(
                    LABELLED_AREA_KINDS[props["area_kind"]],
                    # a pocket its own country holds inside a breakaway area
                    POCKET_MIN_ZOOM
                    if props.get("held_by") in (props.get("countries") or ())
                    else 0,
                ),
                "views": props.get("views"),
                "valid_from": props.get("valid_from"),
                "valid_to": props.get("valid_to"),
            }
        )
    return out


def area_label_text(props: dict[str, Any], lang: str) -> str:
    """A held or disputed area's label: its name in ``lang``, shortened; an area named after
    its holding ("Area held by the de facto authorities 1994-2020 ...") is named after the
    holder (Artsakh, 'Donetsk People's Republic')."""
    name = (props.get("names") or {}).get(lang) or props["name"]
    held_by = props.get("held_by")
    if lang == "en" and name.startswith("Area held by") and held_by:
        name = PARTY_NAMES.get(held_by, held_by)
    return short_name(name)


@per_catalog
def contested_places(catalog: Store) -> list[str]:
    """Ids of the gazetteer's towns inside a held, breakaway or former autonomous area on any
    date (Stepanakert / Khankendi, Sukhumi / Sukhum, Bender / Tighina): the map labels them
    with both sides' names."""
    if "places" not in catalog:
        return []
    areas = catalog["disputed_areas"]
    kinds = np.array([f["properties"].get("area_kind") for f in areas.features])
    held = shapely.union_all(areas.frame.geometry.values[np.isin(kinds, list(CONTESTED_KINDS))])
    places = catalog["places"]
    inside = shapely.contains_xy(held, *shapely.get_coordinates(places.frame.geometry.values).T)
    return [f["properties"]["id"] for f, hit in zip(places.features, inside) if hit]


#: Area kinds whose towns carry both sides' names on the map.
CONTESTED_KINDS = frozenset({"held_area", "former_oblast"})


@per_catalog
def source_table(store: Store) -> dict[str, Any]:
    """The seed articles' titles, authors and dates (``sources.json`` beside the layers)."""
    return store.sources()


def page_config(date: str | None, lang: str = "en", view: str = DEFAULT_VIEW) -> dict[str, Any]:
    """Everything the page script needs besides the map objects (JSON-ready)."""
    catalog = state().catalog
    return {
        "date": date,
        "lang": lang,
        "view": view,
        "defaultView": DEFAULT_VIEW,
        "views": views.describe()["views"],
        "languages": LANGUAGES,
        "sliderStart": SLIDER_START,
        "layers": list(LAYER_ORDER),
        "titles": {lid: LAYERS[lid].title for lid in LAYER_ORDER},
        "styles": style_table(),
        "kinds": list(KINDS),
        "defaultKind": DEFAULT_KIND,
        "statuses": list(STATUSES),
        "labels": LABELS,
        "countryNames": COUNTRY_NAMES,
        "areaLabels": area_labels(catalog, lang),
        "contestedPlaces": contested_places(catalog),
        "sources": source_table(catalog),
        "openingBounds": OPENING_BOUNDS,
        "phoneView": {"center": PHONE_CENTER, "zoom": PHONE_ZOOM},
        "levels": list(DETAIL_LEVELS),
        "bboxFromLevel": BBOX_FROM_LEVEL,
        "itemsUrl": "/api/collections/{id}/items",
        "pageLimit": settings().max_limit,
        "placesUrl": f"/api/collections/places/items?limit={settings().max_limit}&f=json",
        "lengthsUrl": "/api/lengths",
        "changesUrl": "/api/changes",
        "apiUrl": "/api?f=html",
    }


@functools.lru_cache(maxsize=8)
def folium_parts(script_root: str) -> dict[str, Markup]:
    """folium's header, body and script of the map page, rendered once per URL prefix
    (``script_root``): the scaffold is the same on every date (~150 ms to build)."""
    root = build_map().get_root()
    root.render()
    return {
        "folium_header": Markup(root.header.render()),
        "folium_html": Markup(root.html.render()),
        "folium_script": Markup(root.script.render()),
    }


def warm_up(app) -> None:
    """Build what the map's first load asks for before a reader asks: the page scaffold and
    labels, the display geometry of every drawn layer at the levels fetched whole (below
    ``BBOX_FROM_LEVEL``; ~4 s of one core, else paid by the first reader of each process) and
    the readout's tables. File store only (a database answers its own queries)."""
    with app.test_request_context("/"):
        folium_parts(request.script_root)
        catalog = state().catalog
        if not isinstance(catalog, FileStore):
            return
        area_labels(catalog, "en")
        contested_places(catalog)
        source_table(catalog)
        for lid in LAYER_ORDER:
            for level in DETAIL_LEVELS:
                if level < BBOX_FROM_LEVEL:
                    state().served(lid).bytes_at(level)
        box = OPENING_BOUNDS[0][1], OPENING_BOUNDS[0][0], OPENING_BOUNDS[1][1], OPENING_BOUNDS[1][0]
        measure.border_lengths(catalog, bbox=box)


@bp.get("/")
def index() -> Response | str:
    """The map page; ``?date=YYYY-MM-DD`` picks the date shown (default: today in the browser)."""
    raw = request.args.get("date")
    lang = request.args.get("lang", "en")
    if lang not in LANGUAGES:
        return problem(400, "Bad language", f"lang must be one of: {', '.join(LANGUAGES)}")
    try:
        view = views.parse_view(request.args.get("view"))
    except views.ViewError as exc:
        return problem(400, "Bad view", str(exc))
    date = None
    if raw:
        try:
            date = timeline.parse_date(raw).isoformat()
        except timeline.TimeError as exc:
            return problem(400, "Bad date", str(exc))
    return render_template(
        "map.html",
        **folium_parts(request.script_root),
        config=page_config(date, lang, view),
        languages=LANGUAGES,
        lang=lang,
        view=view,
        today=dt.date.today().isoformat(),
    )


#: Static files sent gzip-compressed when the browser accepts it (compressed once, kept).
GZIP_TYPES = frozenset({"text/javascript", "application/javascript", "text/css", "image/svg+xml"})


@functools.lru_cache(maxsize=64)
def _static_bytes(path: str, mtime: float) -> tuple[bytes, bytes, str]:
    """A file's bytes, their gzip (level 9, read once per modification) and an ETag."""
    raw = Path(path).read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), hashlib.blake2b(raw, digest_size=12).hexdigest()


def static_file(directory: Path, filename: str, max_age: int = 86400) -> Response:
    """``filename`` under ``directory``, gzip-compressed for clients that accept it (the
    compression middleware leaves streamed files alone), cacheable, with an ETag."""
    path = safe_join(str(directory), filename)
    if path is None or not Path(path).is_file():
        raise NotFound()
    raw, packed, etag = _static_bytes(path, Path(path).stat().st_mtime)
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    zipped = mimetype in GZIP_TYPES and "gzip" in request.accept_encodings
    response = Response(packed if zipped else raw, mimetype=mimetype)
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(etag + ("-gz" if zipped else ""))
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response.make_conditional(request)


@bp.get("/static/webmap/<path:filename>", endpoint="static")
def static(filename: str) -> Response:
    """The page's script, styles and icon (``geoservice/static``)."""
    return static_file(STATIC_DIR, filename)


@bp.get("/static/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet's own files (JS, CSS, marker and control images) from xstatic-leaflet."""
    return static_file(LEAFLET_DIR, filename)


@bp.get("/favicon.ico")
@bp.get("/favicon.svg")
def favicon() -> Response:
    """The site's icon (SVG), for the map and the API pages."""
    return static_file(STATIC_DIR, "favicon.svg")


@bp.app_context_processor
def map_config_for_templates() -> dict[str, Any]:
    """``map_config()`` in every template: the web map's config, for the API pages' maps."""
    return {"map_config": lambda: page_config(None)}
