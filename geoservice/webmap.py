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
from pathlib import Path
from typing import Any

import folium
import xstatic.pkg.leaflet as xstatic_leaflet
from branca.element import MacroElement
from flask import Blueprint, Response, render_template, request, send_from_directory, url_for
from folium.template import Template
from markupsafe import Markup, escape

from . import timeline
from .errors import problem
from .layers import LAYERS
from .resources import TEMPLATES_DIR
from .vocabulary import COUNTRY_NAMES, DEFAULT_KIND, KINDS, SKETCHED_ACCURACIES, STATUSES

bp = Blueprint(
    "webmap",
    __name__,
    template_folder=str(TEMPLATES_DIR),
    static_folder="static",
    static_url_path="/static/webmap",
)

#: Where Leaflet's files (JS, CSS, images) come from: the installed xstatic-leaflet package.
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)

#: First day the date slider offers: the end of the Soviet Union (26 December 1991).
SLIDER_START = "1991-12-26"

#: The border whose settled and disputed lengths the readout shows (a pair of ISO3 codes).
READOUT_COUNTRIES: tuple[str, str] = ("KGZ", "TJK")

#: Map view when the URL names none: (lat, lon) in EPSG:4326 and a Leaflet zoom level.
DEFAULT_CENTER: tuple[float, float] = (41.0, 58.0)
DEFAULT_ZOOM = 5

#: The order layers are drawn in (bottom first); countries is the always-on base layer.
LAYER_ORDER: tuple[str, ...] = (
    "countries",
    "disputed_areas",
    "peacekeeping_zones",
    "corridors",
    "borders",
)

#: Dash pattern of features whose accuracy is in SKETCHED_ACCURACIES.
SKETCHED_STYLE: dict[str, Any] = {"dashArray": "7 6"}

#: Colour of each border status (international borders).
STATUS_COLOURS: dict[str, str] = {
    "settled": "#1a9850",
    "disputed": "#d73027",
    "unresearched": "#8c8c8c",
}

# Each layer: a base Leaflet path style, then rules applied in order when every property in
# ``when`` matches (later rules win), each with the label the legend shows. ``point`` is the
# style of circle markers (Point features). ``shape`` picks the legend swatch.
STYLES: dict[str, dict[str, Any]] = {
    "countries": {
        "shape": "area",
        "style": {"color": "#a8a8a8", "weight": 0.6, "fillColor": "#f4f1e8", "fillOpacity": 0.9},
        "label": "Country (base layer)",
        "rules": [],
    },
    "borders": {
        "shape": "line",
        "style": {"weight": 3, "opacity": 0.95, "lineCap": "butt"},
        "rules": [
            *(
                {
                    "when": {"kind": "international", "status": status},
                    "style": {"color": STATUS_COLOURS[status]},
                    "label": f"International border, {status}",
                }
                for status in STATUSES
            ),
            {
                "when": {"kind": "line_of_contact"},
                "style": {"color": "#7b3294", "weight": 5},
                "label": "Line of contact",
            },
            {
                "when": {"kind": "de_facto"},
                "style": {"color": "#e66101", "weight": 4},
                "label": "De facto line",
            },
        ],
    },
    "corridors": {
        "shape": "line",
        "style": {"color": "#2166ac", "weight": 3},
        "rules": [
            {
                "when": {"part": "centreline"},
                "style": {"color": "#2166ac", "weight": 3},
                "label": "Corridor or route, centreline",
                "shape": "line",
            },
            {
                "when": {"part": "band"},
                "style": {
                    "color": "#4393c3",
                    "weight": 1,
                    "fillColor": "#4393c3",
                    "fillOpacity": 0.25,
                },
                "label": "Corridor band",
                "shape": "area",
            },
        ],
    },
    "peacekeeping_zones": {
        "shape": "area",
        "style": {"color": "#1f78b4", "weight": 2, "fillColor": "#a6cee3", "fillOpacity": 0.3},
        "label": "Peacekeeping or monitoring area",
        "point": {
            "radius": 6,
            "color": "#08306b",
            "weight": 2,
            "fillColor": "#1f78b4",
            "fillOpacity": 0.9,
        },
        "point_label": "Peacekeeping or monitoring post",
        "rules": [],
    },
    "disputed_areas": {
        "shape": "area",
        "style": {"color": "#b35806", "weight": 1.5, "fillColor": "#fdb863", "fillOpacity": 0.35},
        "label": "Disputed or held area",
        "rules": [],
    },
}


def style_table() -> dict[str, Any]:
    """The style table the page's script applies, as JSON-ready data."""
    return {
        "layers": {lid: STYLES[lid] for lid in LAYER_ORDER},
        "sketched": {"accuracies": sorted(SKETCHED_ACCURACIES), "style": SKETCHED_STYLE},
    }


def _swatch(shape: str, style: dict[str, Any], dashed: bool = False) -> Markup:
    """A small inline SVG showing a Leaflet path style (line, area or point)."""
    colour = escape(style.get("color", "#000"))
    fill = escape(style.get("fillColor", style.get("color", "#000")))
    weight = escape(min(float(style.get("weight", 2)), 6))
    fill_opacity = escape(style.get("fillOpacity", 0.2))
    dash = f' stroke-dasharray="{escape(SKETCHED_STYLE["dashArray"])}"' if dashed else ""
    if shape == "line":
        body = (
            f'<line x1="2" y1="8" x2="30" y2="8" stroke="{colour}" stroke-width="{weight}"{dash}/>'
        )
    elif shape == "point":
        body = (
            f'<circle cx="16" cy="8" r="5" stroke="{colour}" stroke-width="{weight}" '
            f'fill="{fill}" fill-opacity="{fill_opacity}"{dash}/>'
        )
    else:
        body = (
            f'<rect x="3" y="2" width="26" height="12" stroke="{colour}" stroke-width="{weight}" '
            f'fill="{fill}" fill-opacity="{fill_opacity}"{dash}/>'
        )
    return Markup(f'<svg class="gs-swatch" width="32" height="16" aria-hidden="true">{body}</svg>')


def legend_entries() -> list[tuple[str, list[tuple[Markup, str]]]]:
    """Legend rows per layer: (layer title, [(swatch SVG, label)]) from the style table."""
    sections = []
    for lid in reversed(LAYER_ORDER):  # topmost layer first
        spec = STYLES[lid]
        rows: list[tuple[Markup, str]] = []
        if "label" in spec:
            rows.append((_swatch(spec["shape"], spec["style"]), spec["label"]))
        if "point" in spec:
            rows.append((_swatch("point", spec["point"]), spec["point_label"]))
        for rule in spec["rules"]:
            style = {**spec["style"], **rule["style"]}
            rows.append((_swatch(rule.get("shape", spec["shape"]), style), rule["label"]))
        sections.append((LAYERS[lid].title, rows))
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


def page_config(date: str | None) -> dict[str, Any]:
    """Everything the page script needs besides the map objects (JSON-ready)."""
    pair = READOUT_COUNTRIES
    return {
        "date": date,
        "sliderStart": SLIDER_START,
        "layers": list(LAYER_ORDER),
        "titles": {lid: LAYERS[lid].title for lid in LAYER_ORDER},
        "styles": style_table(),
        "kinds": list(KINDS),
        "defaultKind": DEFAULT_KIND,
        "statuses": list(STATUSES),
        "readout": {
            "countries": list(pair),
            "label": f"{COUNTRY_NAMES[pair[0]]}–{COUNTRY_NAMES[pair[1]]} border",
        },
        "countryNames": COUNTRY_NAMES,
        "itemsUrl": "/api/collections/{id}/items",
        "lengthsUrl": "/api/lengths",
    }


@bp.get("/")
def index() -> Response | str:
    """The map page; ``?date=YYYY-MM-DD`` picks the date shown (default: today in the browser)."""
    raw = request.args.get("date")
    date = None
    if raw:
        try:
            date = timeline.parse_date(raw).isoformat()
        except timeline.TimeError as exc:
            return problem(400, "Bad date", str(exc))
    fmap = build_map()
    root = fmap.get_root()
    root.render()
    return render_template(
        "map.html",
        folium_header=Markup(root.header.render()),
        folium_html=Markup(root.html.render()),
        folium_script=Markup(root.script.render()),
        config=page_config(date),
        today=dt.date.today().isoformat(),
    )


@bp.get("/static/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet's own files (JS, CSS, marker and control images) from xstatic-leaflet."""
    return send_from_directory(LEAFLET_DIR, filename, max_age=86400)
