/* The map page's script: fills folium's feature groups from the OGC API and redraws by date.
 *
 * Light by design: every layer is fetched once, for all dates, with display geometry for the
 * current zoom (``zoom=``: simplified to half a pixel); a date change filters on
 * valid_from/valid_to here and only asks the API for the readout. Zooming in past a detail
 * level fetches finer geometry for the view (``bbox=``).
 * Styles, labels and vocabularies come from the page config (#gs-config, geoservice/webmap.py).
 * Text from the data only ever reaches the page through textContent or attributes.
 * The date and the view live in the URL: ?date=YYYY-MM-DD#zoom/lat/lon.
 */
(function () {
  "use strict";

  var DAY_MS = 86400000;
  /** Half the width of the invisible hit area along lines, screen pixels. */
  var HIT_PX = 8;
  var ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  var cfg = null;
  var state = {
    map: null, groups: {}, osm: null, date: null, generation: 0, viewFromUrl: false,
    store: {}, fetched: {}, lines: {}, drawn: {}, places: [], ticks: [], playing: null, compare: null, labelPane: null,
  };
  var debounce = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /** Today in the reader's time zone, as YYYY-MM-DD. */
  function localToday() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  function toDays(iso) { return Math.round(Date.parse(iso + "T00:00:00Z") / DAY_MS); }
  function fromDays(n) { return new Date(n * DAY_MS).toISOString().slice(0, 10); }
  function isDate(text) { return ISO_DATE.test(text) && !isNaN(Date.parse(text + "T00:00:00Z")); }
  /** "1 June 2021" */
  function longDate(iso) {
    if (!iso) { return ""; }
    var p = iso.split("-");
    return parseInt(p[2], 10) + " " + MONTHS[parseInt(p[1], 10) - 1] + " " + p[0];
  }
  function validOn(props, date) {
    return (!props.valid_from || props.valid_from <= date) && (!props.valid_to || date < props.valid_to);
  }
  function label(vocab, code) {
    var table = cfg.labels[vocab] || {};
    return table[code] || (code == null ? "" : String(code).replace(/_/g, " "));
  }
  /** "12,345.6": thousands separated by commas (no Intl.NumberFormat: ~20 ms to build). */
  function fmt(num, digits) {
    var parts = Math.abs(Number(num)).toFixed(digits).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (Number(num) < 0 && Number(parts.join("")) !== 0 ? "-" : "") + whole +
      (parts[1] ? "." + parts[1] : "");
  }

  function setStatus(text, kind) {
    var node = $("gs-status");
    node.textContent = text;
    node.className = "gs-status" + (kind ? " gs-status-" + kind : "");
  }

  /* ---- styles ---------------------------------------------------------------------- */

  function matches(when, props) {
    for (var key in when) {
      if (Object.prototype.hasOwnProperty.call(when, key)) {
        var value = key === "kind" && props.kind === undefined ? cfg.defaultKind : props[key];
        if (value !== when[key]) { return false; }
      }
    }
    return true;
  }
  function isSketched(props) { return cfg.styles.sketched.accuracies.indexOf(props.accuracy) >= 0; }

  /** The Leaflet path style of a feature: base, matching rules, dash if sketched. */
  function styleFor(layerId, props, isPoint) {
    var spec = cfg.styles.layers[layerId];
    var style = Object.assign({}, isPoint && spec.point ? spec.point : spec.style);
    spec.rules.forEach(function (rule) {
      if (matches(rule.when, props)) { Object.assign(style, rule.style); }
    });
    var sketched = isSketched(props);
    if (sketched) { Object.assign(style, cfg.styles.sketched.style); }
    style.className = "gs-feature gs-" + layerId + (isPoint ? " gs-point" : "") +
      (sketched ? " gs-sketched" : "");
    return style;
  }

  /** The hatch patterns (peacekeeping areas) in the overlay SVG, defined once. */
  function addPatterns(map) {
    var svg = (map || state.map).getContainer().querySelector(".leaflet-map-pane svg");
    if (!svg || svg.querySelector("defs.gs-defs")) { return; }
    var ns = "http://www.w3.org/2000/svg";
    var defs = document.createElementNS(ns, "defs");
    defs.setAttribute("class", "gs-defs");
    Object.keys(cfg.styles.hatches).forEach(function (id) {
      var pattern = document.createElementNS(ns, "pattern");
      pattern.setAttribute("id", id);
      pattern.setAttribute("width", "8");
      pattern.setAttribute("height", "8");
      pattern.setAttribute("patternUnits", "userSpaceOnUse");
      pattern.setAttribute("patternTransform", "rotate(45)");
      var rect = document.createElementNS(ns, "rect");
      rect.setAttribute("width", "3");
      rect.setAttribute("height", "8");
      rect.setAttribute("fill", cfg.styles.hatches[id]);
      pattern.appendChild(rect);
      defs.appendChild(pattern);
    });
    svg.insertBefore(defs, svg.firstChild);
  }

  /* ---- popups (DOM built with textContent: data is never parsed as HTML) ----------- */

  function countryNames(codes) {
    return (codes || []).map(function (c) { return cfg.countryNames[c] || String(c); }).join(" – ");
  }

  /** Notes split into sentences: those about years after the date shown go under "Later". */
  function splitNotes(text, date) {
    var year = parseInt(date.slice(0, 4), 10);
    var now = [], later = [];
    String(text).split(/(?<=\.)\s+(?=[A-Z0-9])/).forEach(function (sentence) {
      var years = (sentence.match(/\b(19|20)\d\d\b/g) || []).map(Number);
      var first = years.length ? Math.min.apply(null, years) : 0;
      (first > year ? later : now).push(sentence);
    });
    return { now: now.join(" "), later: later.join(" ") };
  }

  function sourceItem(source) {
    var li = el("li");
    var text = String(source);
    var meta = cfg.sources[text];
    if (meta) {
      var title = el("cite", null, meta.title || text);
      if (meta.url && /^https?:\/\/\S+$/.test(meta.url)) {
        var a = el("a");
        a.href = meta.url;  // only http(s): no javascript: links from data
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.appendChild(title);
        li.appendChild(a);
      } else {
        li.appendChild(title);
      }
      var by = [meta.author, meta.publisher, meta.date].filter(Boolean).join(", ");
      if (by) { li.appendChild(document.createTextNode(" — " + by)); }
      li.title = text;
    } else if (/^https?:\/\/\S+$/.test(text)) {
      var link = el("a", null, text);
      link.href = text;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      li.appendChild(link);
    } else {
      li.textContent = text;
    }
    return li;
  }

  function popupContent(layerId, props) {
    var root = el("div", "gs-popup");
    root.appendChild(el("h3", null, props.name != null ? props.name : props.id));
    var list = el("dl");
    function row(name, value) {
      if (value === undefined || value === null || value === "") { return; }
      list.appendChild(el("dt", null, name));
      list.appendChild(el("dd", null, value));
    }
    row("Layer", cfg.titles[layerId]);
    if (layerId === "events") {
      row("Date", longDate(props.date) + (props.end_date ? " – " + longDate(props.end_date) : ""));
      row("Kind", label("event_kind", props.kind));
      row("Where", props.place);
      row("What", props.description);
      row("Casualties", props.casualties);
    } else {
      row("Status", props.status ? label("status", props.status) : null);
      if (layerId === "borders") { row("Kind", label("kind", props.kind || cfg.defaultKind)); }
    }
    if (props.countries && props.countries.length) { row("Countries", countryNames(props.countries)); }
    if (props.parties && props.parties.length) { row("Parties", countryNames(props.parties)); }
    row("Corridor", props.corridor ? label("corridor", props.corridor) : null);
    row("Part", props.part ? label("part", props.part) : null);
    row("Mission", props.mission ? label("mission", props.mission) : null);
    row("Troops", props.troops != null ? fmt(props.troops, 0) : null);
    row("Held by", props.held_by ? countryNames([props.held_by]) : null);
    row("Area kind", props.area_kind ? label("area_kind", props.area_kind) : null);
    if (layerId !== "events") {
      row("Valid", (props.valid_from ? longDate(props.valid_from) : "before the record") + " – " +
        (props.valid_to ? longDate(props.valid_to) + " (exclusive)" : "now"));
    }
    if (props.length_km > 0) { row("Length", fmt(props.length_km, 1) + " km (geodesic, WGS84)"); }
    if (props.area_km2 > 0) { row("Area", fmt(props.area_km2, 1) + " km² (geodesic, WGS84)"); }
    if (props.reported_length_km != null) {
      row("Reported", fmt(props.reported_length_km, 0) + " km" +
        (props.reported_length_source ? " (" + props.reported_length_source + ")" : ""));
    }
    row("Accuracy", props.accuracy ? props.accuracy + " — " + label("accuracy", props.accuracy) +
      (isSketched(props) ? " (drawn dashed)" : "") : null);
    root.appendChild(list);
    if (props.notes) {
      var notes = splitNotes(props.notes, state.date || "9999-12-31");
      if (notes.now) { root.appendChild(el("p", "gs-popup-notes", notes.now)); }
      if (notes.later) {
        var later = el("details", "gs-popup-later");
        later.appendChild(el("summary", null, "Later (after " + longDate(state.date) + ")"));
        later.appendChild(el("p", "gs-popup-notes", notes.later));
        root.appendChild(later);
      }
    }
    var sources = Array.isArray(props.sources) ? props.sources : (props.sources ? [props.sources] : []);
    if (sources.length) {
      root.appendChild(el("div", "gs-popup-sources", "Sources"));
      var ul = el("ul");
      sources.forEach(function (source) { ul.appendChild(sourceItem(source)); });
      root.appendChild(ul);
    }
    return root;
  }

  /* ---- data: each layer once, all dates, display geometry for the zoom -------------- */

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
      return response.json();
    });
  }

  /** All features at ``url``, following rel=next links if the API pages. */
  function fetchAll(url) {
    var features = [];
    function page(next) {
      return getJson(next).then(function (fc) {
        features = features.concat(fc.features || []);
        var link = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
        return link ? page(link.href) : features;
      });
    }
    return page(url);
  }

  function levelFor(zoom, config) {
    var levels = (config || cfg).levels;
    for (var i = 0; i < levels.length; i++) { if (levels[i] >= zoom) { return levels[i]; } }
    return null;  // finer than the last level: full geometry
  }

  function layerUrl(config, lid, level, box) {
    return config.itemsUrl.replace("{id}", encodeURIComponent(lid)) + "?limit=" + config.pageLimit +
      "&f=json" + (config.view && config.view !== config.defaultView ? "&view=" + encodeURIComponent(config.view) : "") +
      (level !== null ? "&zoom=" + level : "") + (box ? "&bbox=" + box.join(",") : "");
  }

  /** The zoom Leaflet's fitBounds gives the opening bounds in a window of this size. */
  function openingZoom(config) {
    function mercY(lat) { var s = Math.sin(lat * Math.PI / 180); return 256 * Math.log((1 + s) / (1 - s)) / (4 * Math.PI); }
    var b = config.openingBounds, pad = 20;
    var dx = 256 * Math.abs(b[1][1] - b[0][1]) / 360, dy = Math.abs(mercY(b[1][0]) - mercY(b[0][0]));
    var scale = Math.min((window.innerWidth - pad) / dx, (window.innerHeight - pad) / dy);
    return Math.floor(Math.log(scale) / Math.LN2);
  }

  /** Requests started while the page is still being parsed, by URL (see prefetch). */
  var early = {};

  /** On the map page, start fetching the layers of the opening view at once, before Leaflet
   * and the map are built: ensureGeometry then finds them under way. Only the levels fetched
   * whole (not by bbox) are known this early. */
  function prefetch() {
    var node = document.getElementById("gs-config");
    if (!node || node.getAttribute("data-page") !== "map" || !window.fetch) { return; }
    var config = JSON.parse(node.textContent);
    var view = readHashView();
    var phone = window.matchMedia("(max-width: 600px)").matches;
    var zoom = view ? view.zoom : phone ? config.phoneView.zoom : openingZoom(config);
    var level = levelFor(zoom, config);
    if (level === null || level >= config.bboxFromLevel) { return; }
    config.layers.forEach(function (lid) {
      var url = layerUrl(config, lid, level, null);
      early[url] = fetchAll(url);
      early[url].catch(function () { /* asked again by ensureGeometry */ });
    });
  }

  function contains(outer, inner) {
    return outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
  }

  /** Fetch what the current zoom needs and has not been fetched yet; resolves when stored. */
  function ensureGeometry() {
    var zoom = Math.round(state.map.getZoom());
    var level = levelFor(zoom);
    var rank = level === null ? 99 : level;
    var useBox = rank >= cfg.bboxFromLevel;
    function lonLatBox(b) {
      return [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
        Math.min(b.getNorth(), 90)].map(function (v) { return Math.round(v * 100) / 100; });
    }
    // Fetch half a view around the view, so that panning a little needs nothing new.
    var box = lonLatBox(state.map.getBounds().pad(0.5));
    var view = lonLatBox(state.map.getBounds());
    var jobs = cfg.layers.map(function (lid) {
      var done = (state.fetched[lid] || []).some(function (f) {
        return f.rank >= rank && (!f.box || (useBox && contains(f.box, view)));
      });
      if (done) { return null; }
      var url = layerUrl(cfg, lid, level, useBox ? box : null);
      var pending = early[url];
      delete early[url];
      return (pending ? pending.catch(function () { return fetchAll(url); }) : fetchAll(url)).then(function (features) {
        var store = state.store[lid] = state.store[lid] || {};
        features.forEach(function (f) {
          var old = store[f.id];
          if (!old || old.rank <= rank) { store[f.id] = { rank: rank, feature: f }; }
        });
        (state.fetched[lid] = state.fetched[lid] || []).push({ rank: rank, box: useBox ? box : null });
        // Drawn as it arrives (in its own pane, so the order of arrival does not matter):
        // the browser draws one layer while the next is still on its way.
        if (state.date) { drawLayer(lid); }
      });
    }).filter(Boolean);
    return Promise.all(jobs).then(function () { return jobs.length; });
  }

  function featuresOn(lid, date) {
    var store = state.store[lid] || {};
    return Object.keys(store).map(function (id) { return store[id].feature; })
      .filter(function (f) { return validOn(f.properties || {}, date); });
  }

  /* ---- drawing ---------------------------------------------------------------------- */

  function bindFeature(layerId, props, sub) {
    sub.bindPopup(function () { return popupContent(layerId, props); }, {
      minWidth: 220, maxWidth: 320, maxHeight: 340, autoPanPadding: [12, 12],
    });
    sub.on("popupopen", function () { if (layerId === "borders") { showPairReadout(props); } });
  }

  function draw(layerId, features) {
    var group = state.groups[layerId];
    group.clearLayers();
    var pane = "gs-layer-" + layerId;
    var layer = L.geoJSON({ type: "FeatureCollection", features: features }, {
      pane: pane,
      style: function (feature) {
        var isPoint = /Point$/.test((feature.geometry || {}).type || "");
        return compareStyle(feature, styleFor(layerId, feature.properties || {}, isPoint));
      },
      pointToLayer: function (feature, latlng) {
        var style = compareStyle(feature, styleFor(layerId, feature.properties || {}, true));
        return L.circleMarker(latlng, Object.assign(style, { pane: pane }));
      },
      onEachFeature: function (feature, sub) {
        var props = feature.properties || {};
        bindFeature(layerId, props, sub);
        sub.on("add", function () {
          var node = sub.getElement && sub.getElement();
          if (node) {
            node.setAttribute("data-layer", layerId);
            node.setAttribute("data-id", String(props.id));
          }
        });
      },
    });
    group.addLayer(layer);
    // A wide invisible line over each drawn line (the same coordinates): a click within
    // HIT_PX opens the popup of the drawn line nearest to the click, whichever hit area
    // lies on top.
    var lines = state.lines[layerId] = [];
    layer.eachLayer(function (sub) {
      if (!(sub instanceof L.Polyline) || sub instanceof L.Polygon) { return; }
      lines.push(sub);
      var hit = L.polyline(sub.getLatLngs(), {
        pane: pane, weight: 2 * HIT_PX, opacity: 0, fill: false, className: "gs-hit", lineCap: "round",
      });
      hit.on("click", function (e) {
        L.DomEvent.stop(e);
        openNearestLine(e.latlng);
      });
      hit.on("add", function () {
        hit.getElement().setAttribute("data-hit-for", String(sub.feature.properties.id));
      });
      group.addLayer(hit);
    });
    return layer;
  }

  /** Open the popup of the drawn line nearest to ``latlng`` in screen pixels, among the
   *  lines of every shown layer within HIT_PX of it. */
  function openNearestLine(latlng) {
    var point = state.map.latLngToLayerPoint(latlng);
    var best = null, bestDistance = Infinity;
    Object.keys(state.lines).forEach(function (lid) {
      if (!state.map.hasLayer(state.groups[lid])) { return; }
      state.lines[lid].forEach(function (sub) {
        if (!sub._map) { return; }
        var closest = sub.closestLayerPoint(point);
        if (closest && closest.distance <= HIT_PX && closest.distance < bestDistance) {
          best = sub;
          bestDistance = closest.distance;
        }
      });
    });
    if (best) { best.openPopup(latlng); }
    return best;
  }

  function compareStyle(feature, style) {
    var c = state.compare;
    if (!c) { return style; }
    var id = feature.properties && feature.properties.id;
    if (c.began[id]) { Object.assign(style, cfg.styles.compare.began); style.className += " gs-began"; }
    return style;
  }

  /** Features that ended since the compare date, drawn as ghosts in the compare style. */
  function drawEnded() {
    if (state.endedLayer) { state.map.removeLayer(state.endedLayer); state.endedLayer = null; }
    var c = state.compare;
    if (!c) { return; }
    var ghosts = [];
    Object.keys(c.ended).forEach(function (id) {
      var lid = c.ended[id];
      var entry = (state.store[lid] || {})[id];
      if (entry && entry.feature.geometry && entry.feature.geometry.type !== "Point") {
        ghosts.push({ lid: lid, feature: entry.feature });
      }
    });
    state.endedLayer = L.geoJSON({ type: "FeatureCollection", features: ghosts.map(function (g) { return g.feature; }) }, {
      style: function () { return Object.assign({ className: "gs-ended", fill: false }, cfg.styles.compare.ended); },
      interactive: false,
      pane: "gs-ended",
    }).addTo(state.map);
  }

  /** Draw a layer as of the date shown, unless what it shows is already drawn; its features. */
  function drawLayer(lid) {
    var features = featuresOn(lid, state.date);
    var compareKey = state.compare ? JSON.stringify(Object.keys(state.compare.began)) : "";
    // Redraw a layer only when its set of features (or their geometry, or compare) changed.
    var key = features.map(function (f) { return f.id + ":" + state.store[lid][f.id].rank; }).join(",") +
      "|" + compareKey;
    if (state.drawn[lid] !== key) {
      draw(lid, features);
      state.drawn[lid] = key;
    }
    return features;
  }

  function redraw() {
    var date = state.date;
    var counts = {};
    cfg.layers.forEach(function (lid) { counts[lid] = drawLayer(lid); });
    drawEnded();
    addPatterns();
    drawLabels();
    showHeading(date, counts);
    return counts;
  }

  /* ---- labels: countries, held areas and towns, decluttered by zoom ----------------- */

  /** Both sides' names for towns inside a held, breakaway or former autonomous area
   *  (Stepanakert / Khankendi, Sukhumi / Sukhum, Bender / Tighina): cfg.contestedPlaces. */
  var contestedIds = null;
  function contested(p) {
    if (!contestedIds) {
      contestedIds = {};
      (cfg.contestedPlaces || []).forEach(function (id) { contestedIds[id] = true; });
    }
    return !!contestedIds[p.id];
  }

  /** A town's other names: the gazetteer's alternative names, some "a|b" lists, split. */
  function altNames(p) {
    var out = [];
    (p.alt_names || []).forEach(function (n) { out = out.concat(String(n).split("|")); });
    return out;
  }

  /* ---- point of view (view=): every data request carries it; the selector reloads ------ */

  function viewParam() {
    return cfg.view && cfg.view !== cfg.defaultView ? "&view=" + encodeURIComponent(cfg.view) : "";
  }

  function placeText(p) {
    var lang = cfg.lang;
    var main = (p.names || {})[lang] || p.name;
    var other = contested(p) ? altNames(p).filter(function (n) { return n && n !== main; })[0] : null;
    if (lang !== "en" && main !== p.name) { other = p.name; }
    return other ? main + " / " + other : main;
  }

  function labelCandidates(date, zoom) {
    var out = [];
    cfg.areaLabels.forEach(function (a) {
      if (!validOn(a, date)) { return; }
      if (a.kind === "country" && zoom > 8) { return; }
      if (zoom < (a.min_zoom || 0)) { return; }
      if (a.views && a.views.indexOf(cfg.view) < 0) { return; }  // another view's outline
      out.push({ text: a.text, lat: a.lat, lon: a.lon, cls: "gs-label gs-label-" + a.kind, rank: a.rank });
    });
    state.places.forEach(function (p) {
      var pop = p.population || 0;
      var minZoom = pop >= 1e6 ? 4 : pop >= 3e5 ? 5 : pop >= 1e5 ? 6 : pop >= 3e4 ? 7 : pop >= 1e4 ? 8 : 9;
      if (contested(p)) { minZoom = Math.min(minZoom, 7); }  // contested names
      if (zoom < minZoom) { return; }
      out.push({ text: placeText(p), lat: p.lat, lon: p.lon, cls: "gs-label gs-label-town",
        rank: 2 + (1 - Math.min(pop, 5e6) / 5e6) });
    });
    return out.sort(function (a, b) { return a.rank - b.rank; });
  }

  /** Place labels in priority order, skipping any that would overlap one already placed. */
  function drawLabels() {
    var pane = state.labelPane;
    if (!pane || !state.date) { return; }
    pane.textContent = "";
    var zoom = state.map.getZoom();
    var size = state.map.getSize();
    // The panels over the map (heading, search, date panel, legend, controls, credits) count
    // as placed: no label hides under them.
    var origin = state.map.getContainer().getBoundingClientRect();
    var placed = [].slice.call(document.querySelectorAll(".gs-panel, .leaflet-control")).map(function (node) {
      var r = node.getBoundingClientRect();
      return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top];
    }).filter(function (b) { return b[2] > b[0] && b[3] > b[1]; });
    var panels = placed.length;
    labelCandidates(state.date, zoom).forEach(function (c) {
      var pt = state.map.latLngToContainerPoint([c.lat, c.lon]);
      if (pt.x < 0 || pt.y < 0 || pt.x > size.x || pt.y > size.y) { return; }
      // widths of the label fonts (countries: 13 px capitals, spaced; the rest 12 px)
      var w = c.text.length * (c.cls.indexOf("country") >= 0 ? 10 : 6.2) + 6;
      var h = c.cls.indexOf("country") >= 0 ? 16 : 14;
      var town = c.cls.indexOf("town") >= 0;
      // A town's label sits right of its dot; an area's is centred on its point, or moved up
      // or down by a line when that place is taken (Transnistria under MOLDOVA).
      var shifts = town ? [0] : [0, -h, h, -2 * h, 2 * h];
      var box = null;
      shifts.some(function (dy) {
        var y = pt.y + dy;
        // an area's label near the map's edge slides inward (its point is in view)
        var left = Math.max(2, Math.min(pt.x - w / 2, size.x - w - 2));
        var b = town ? [pt.x + 4, y - h / 2, pt.x + 4 + w, y + h / 2]
          : [left, y - h / 2, left + w, y + h / 2];
        var clash = b[0] < 0 || b[2] > size.x || b[1] < 0 || b[3] > size.y || placed.some(function (o) {
          return b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1];
        });
        if (!clash) { box = b; }
        return !clash;
      });
      if (!box) { return; }
      placed.push(box);
      var lp = state.map.containerPointToLayerPoint(L.point(box[0], box[1]));
      var node = el("div", c.cls, c.text);
      node.style.left = Math.round(lp.x) + "px";
      node.style.top = Math.round(lp.y) + "px";
      if (town) {
        var dot = el("span", "gs-label-dot");
        node.insertBefore(dot, node.firstChild);
      }
      pane.appendChild(node);
    });
    pane.setAttribute("data-count", String(placed.length - panels));
  }

  function loadPlaces() {
    return fetchAll(cfg.placesUrl).then(function (features) {
      state.places = features.map(function (f) {
        var p = Object.assign({}, f.properties);
        p.lon = f.geometry.coordinates[0];
        p.lat = f.geometry.coordinates[1];
        return p;
      });
      fillSearch();
      drawLabels();
      // for readers of the page's state (tests, scripts): the towns are labelled
      document.documentElement.setAttribute("data-gs-places", String(state.places.length));
    }).catch(function () { /* labels of towns are extra: the map works without them */ });
  }

  /* ---- heading, summary and readout -------------------------------------------------- */

  function showHeading(date, counts) {
    $("gs-heading-date").textContent = "Borders and disputes on " + longDate(date);
    $("gs-view").value = cfg.view;  // the heading's selector shows the view drawn
    var borders = counts.borders || [];
    var disputedKm = 0, disputed = 0, contact = 0, deFacto = 0;
    borders.forEach(function (f) {
      var p = f.properties;
      if (p.status === "disputed" && (p.kind || cfg.defaultKind) === "international") {
        disputed += 1; disputedKm += p.length_km || 0;
      }
      if (p.kind === "line_of_contact") { contact += 1; }
      if (p.kind === "de_facto") { deFacto += 1; }
    });
    // km² held by someone other than the country they lie in (`countries`): the day's
    // control cells where the data has them (Karabakh, town by town), the held areas elsewhere
    var heldKm2 = 0, celled = {};
    function heldAgainst(p) { return p.held_by && (p.countries || []).indexOf(p.held_by) < 0; }
    (counts.control_areas || []).forEach(function (f) {
      (f.properties.countries || []).forEach(function (c) { celled[c] = true; });
      if (heldAgainst(f.properties)) { heldKm2 += f.properties.area_km2 || 0; }
    });
    (counts.disputed_areas || []).forEach(function (f) {
      var p = f.properties;
      var inCells = (p.countries || []).some(function (c) { return celled[c]; });
      if (p.area_kind === "held_area" && heldAgainst(p) && !inCells) { heldKm2 += p.area_km2 || 0; }
    });
    var missions = {};
    (counts.mission_areas || []).concat(counts.mission_posts || []).forEach(function (f) {
      missions[f.properties.mission || f.properties.id] = true;
    });
    missions = Object.keys(missions).length;
    var events = (counts.events || []).map(function (f) { return f.properties.name; });
    // held areas the data can only sketch on this date (the Donbas after 24 February 2022)
    var sketched = (counts.disputed_areas || []).filter(function (f) {
      return f.properties.area_kind === "held_area" && f.properties.accuracy === "schematic";
    }).map(function (f) { return f.properties.label || f.properties.name; });
    var parts = [
      fmt(disputedKm, 0) + " km of international border disputed (" + disputed + " stretches)",
      contact ? contact + " line" + (contact > 1 ? "s" : "") + " of contact" : "no line of contact",
      deFacto + " de facto line" + (deFacto === 1 ? "" : "s"),
      fmt(heldKm2, 0) + " km² outside the recognised government's control",
      missions + " peacekeeping or monitoring mission" + (missions === 1 ? "" : "s"),
    ];
    if (sketched.length) { parts.push("sketched, not surveyed: " + sketched.join("; ")); }
    if (events.length) { parts.push("on this date: " + events.join("; ")); }
    $("gs-summary").textContent = parts.join(" · ") + ".";
  }

  function statusKm(answer, status) {
    var entry = (answer.by_status || {})[status];
    return entry ? Number(entry.length_km || 0) : 0;
  }

  function showReadout(title, date, answer, extra) {
    var node = $("gs-readout");
    node.textContent = "";
    node.appendChild(el("div", "gs-readout-label", title));
    var total = 0, values = {};
    cfg.statuses.forEach(function (s) { values[s] = statusKm(answer, s); total += values[s]; });
    cfg.statuses.forEach(function (status) {
      var item = el("span", "gs-readout-item gs-readout-" + status);
      item.setAttribute("data-status", status);
      item.setAttribute("data-km", values[status].toFixed(1));
      var pct = total > 0 ? " (" + Math.round(100 * values[status] / total) + "%)" : "";
      item.textContent = status + " " + fmt(values[status], 0) + " km" + pct;
      node.appendChild(item);
    });
    if (extra) { node.appendChild(el("div", "gs-readout-note", extra)); }
    node.setAttribute("data-date", date);
  }

  function viewBox() {
    var b = state.map.getBounds();
    return [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
      Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(3); });
  }

  /** Lengths by status of the international borders inside the visible area. */
  function updateReadout() {
    if (state.pair) { return Promise.resolve(); }  // a clicked pair's lengths stay while its popup is open
    var date = state.date, generation = state.generation;
    var box = viewBox();
    return getJson(cfg.lengthsUrl + "?as_of=" + encodeURIComponent(date) + "&bbox=" + box.join(",") + viewParam())
      .then(function (answer) {
        if (generation !== state.generation || date !== state.date) { return; }
        showReadout("International borders in view on " + longDate(date), date, answer,
          "Click a border for its pair's lengths.");
        $("gs-readout").setAttribute("data-bbox", box.join(","));
        $("gs-readout").removeAttribute("data-pair");
      }).catch(function (err) {
        $("gs-readout").textContent = "Lengths unavailable (" + err.message + ")";
      });
  }

  function showPairReadout(props) {
    var pair = props.countries || [];
    if (pair.length !== 2) { return; }
    var date = state.date;
    state.pair = pair;
    getJson(cfg.lengthsUrl + "?countries=" + pair.join(",") + "&as_of=" + encodeURIComponent(date) + viewParam())
      .then(function (answer) {
        showReadout(countryNames(pair) + " border on " + longDate(date), date, answer);
        $("gs-readout").setAttribute("data-pair", pair.join(","));
      }).catch(function () { /* the view readout stays */ });
  }

  /* ---- compare mode --------------------------------------------------------------- */

  function updateCompare() {
    var box = $("gs-changes");
    box.textContent = "";
    if (!$("gs-compare").checked || !isDate($("gs-compare-date").value)) {
      state.compare = null;
      return Promise.resolve();
    }
    var other = $("gs-compare-date").value, date = state.date;
    var from = other < date ? other : date, to = other < date ? date : other;
    return getJson(cfg.changesUrl + "?from=" + from + "&to=" + to + viewParam()).then(function (c) {
      var began = {}, ended = {};
      var newer = to === date;  // the map shows the later date: "began" is what is new on it
      (newer ? c.features.began : c.features.ended).forEach(function (f) { began[f.id] = f.layer; });
      (newer ? c.features.ended : c.features.began).forEach(function (f) { ended[f.id] = f.layer; });
      state.compare = { began: began, ended: ended, result: c };
      box.appendChild(el("div", "gs-readout-label", "From " + longDate(from) + " to " + longDate(to)));
      var ul = el("ul");
      c.areas.transfers.forEach(function (t) {
        ul.appendChild(el("li", null, countryNames([t.from]) + " → " + countryNames([t.to]) + ": " +
          fmt(t.area_km2, 0) + " km²"));
      });
      Object.keys(c.borders.km_by_change).forEach(function (k) {
        ul.appendChild(el("li", null, "Border " + k.replace("->", " → ") + ": " + fmt(c.borders.km_by_change[k], 0) + " km"));
      });
      ul.appendChild(el("li", null, c.features.began.length + " features began, " +
        c.features.ended.length + " ended, " + c.events.length + " events in between"));
      box.appendChild(ul);
      box.setAttribute("data-from", from);
      box.setAttribute("data-to", to);
    }).catch(function (err) { box.textContent = "Changes unavailable (" + err.message + ")"; });
  }

  /* ---- date, slider ticks, play -------------------------------------------------------- */

  function writeUrl() {
    if (!state.map || !state.date) { return; }
    var c = state.map.getCenter();
    var url = "?date=" + state.date + (cfg.lang !== "en" ? "&lang=" + cfg.lang : "") + viewParam() + "#" +
      state.map.getZoom() + "/" + c.lat.toFixed(4) + "/" + c.lng.toFixed(4);
    history.replaceState(null, "", url);
  }

  function readHashView() {
    var m = /^#(\d{1,2})\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(location.hash);
    if (!m) { return null; }
    var zoom = parseInt(m[1], 10), lat = parseFloat(m[2]), lon = parseFloat(m[3]);
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) { return null; }
    return { zoom: zoom, center: [lat, lon] };
  }

  function clampDate(iso) {
    var input = $("gs-date");
    if (iso < input.min) { return input.min; }
    if (iso > input.max) { return input.max; }
    return iso;
  }

  /** Show the map as of ``date``: filter what is stored, fetch only what the view lacks. */
  function load(date) {
    date = clampDate(date);
    state.date = date;
    $("gs-date").value = date;
    $("gs-slider").value = String(toDays(date));
    writeUrl();
    var generation = ++state.generation;
    document.body.setAttribute("data-state", "loading");
    setStatus("loading…", "loading");
    state.pair = null;
    updateReadout();
    return Promise.all([ensureGeometry(), updateCompare()]).then(function () {
      if (generation !== state.generation) { return; }  // a later date was asked for
      var counts = redraw();
      var n = 0;
      Object.keys(counts).forEach(function (k) { n += counts[k].length; });
      setStatus(n + " features");
      if (!state.ticks.length) { buildTicks(); }
      document.body.setAttribute("data-drawn-date", date);
      document.body.setAttribute("data-state", "ready");
    }).catch(function (err) {
      if (generation !== state.generation) { return; }
      setStatus("could not load the layers (" + err.message + ")", "error");
      document.body.setAttribute("data-state", "error");
    });
  }

  /** Slider ticks: every date a feature begins or ends and every event. */
  function buildTicks() {
    var days = {};
    cfg.layers.forEach(function (lid) {
      var store = state.store[lid] || {};
      Object.keys(store).forEach(function (id) {
        var p = store[id].feature.properties || {};
        if (p.valid_from) { days[p.valid_from] = true; }
        if (p.valid_to) { days[p.valid_to] = true; }
      });
    });
    var input = $("gs-date");
    state.ticks = Object.keys(days).filter(function (d) { return d >= input.min && d <= input.max; }).sort();
    var list = $("gs-ticks");
    list.textContent = "";
    state.ticks.forEach(function (d) {
      var option = el("option");
      option.value = String(toDays(d));
      option.label = d;
      list.appendChild(option);
    });
    $("gs-slider").setAttribute("data-ticks", String(state.ticks.length));
  }

  function step(direction) {
    var date = state.date;
    var next = direction > 0 ? state.ticks.filter(function (d) { return d > date; })[0]
      : state.ticks.filter(function (d) { return d < date; }).pop();
    if (next) { load(next); }
    return next;
  }

  function togglePlay() {
    var button = $("gs-play");
    if (state.playing) {
      clearInterval(state.playing);
      state.playing = null;
      button.textContent = "▶";
      button.setAttribute("aria-label", "Play through the changes and events");
      return;
    }
    button.textContent = "❚❚";
    button.setAttribute("aria-label", "Pause");
    state.playing = setInterval(function () {
      if (document.body.getAttribute("data-state") !== "ready") { return; }
      if (!step(1)) { togglePlay(); }
    }, 1500);
  }

  function setupControls() {
    var form = $("gs-controls");
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(form);
      L.DomEvent.disableScrollPropagation(form);
      return form;
    };
    control.addTo(state.map);
    ["gs-heading", "gs-search"].forEach(function (id) {
      L.DomEvent.disableClickPropagation($(id));
      L.DomEvent.disableScrollPropagation($(id));
    });

    var input = $("gs-date");
    var today = localToday();
    if (today > input.max) { input.max = today; }
    var slider = $("gs-slider");
    slider.min = String(toDays(input.min));
    slider.max = String(toDays(input.max));

    input.addEventListener("change", function () { if (isDate(input.value)) { load(input.value); } });
    slider.addEventListener("input", function () {
      input.value = fromDays(parseInt(slider.value, 10));
      clearTimeout(debounce);
      debounce = setTimeout(function () { load(input.value); }, 250);
    });
    slider.addEventListener("change", function () {
      clearTimeout(debounce);
      load(fromDays(parseInt(slider.value, 10)));
    });
    slider.addEventListener("keydown", function (e) {
      if (e.key === "PageUp" || e.key === "PageDown") {
        e.preventDefault();
        step(e.key === "PageUp" ? 1 : -1);
      }
    });
    $("gs-prev").addEventListener("click", function () { step(-1); });
    $("gs-next").addEventListener("click", function () { step(1); });
    $("gs-play").addEventListener("click", togglePlay);
    $("gs-more").addEventListener("click", function () {
      var open = form.classList.toggle("gs-expanded");
      this.setAttribute("aria-expanded", String(open));
    });
    $("gs-compare").addEventListener("change", function () { load(state.date); });
    $("gs-compare-date").addEventListener("change", function () {
      if ($("gs-compare").checked) { load(state.date); }
    });
  }

  /* ---- search ----------------------------------------------------------------------- */

  function searchEntries() {
    var out = [];
    state.places.forEach(function (p) {
      out.push({ text: placeText(p), lat: p.lat, lon: p.lon, zoom: 10 });
    });
    cfg.layers.forEach(function (lid) {
      var store = state.store[lid] || {};
      Object.keys(store).forEach(function (id) {
        var f = store[id].feature;
        out.push({ text: f.properties.name || id, feature: f, lid: lid });
      });
    });
    return out;
  }

  function fillSearch() {
    var list = $("gs-search-list");
    list.textContent = "";
    var seen = {};
    searchEntries().forEach(function (entry) {
      if (seen[entry.text]) { return; }
      seen[entry.text] = true;
      var option = el("option");
      option.value = entry.text;
      list.appendChild(option);
    });
  }

  function search(text) {
    var query = String(text || "").trim().toLowerCase();
    if (!query) { return false; }
    var entries = searchEntries();
    var hit = entries.filter(function (e) { return e.text.toLowerCase() === query; })[0] ||
      entries.filter(function (e) { return e.text.toLowerCase().indexOf(query) >= 0; })[0];
    if (!hit) { setStatus("nothing found for “" + text + "”", "warn"); return false; }
    var form = $("gs-search");
    form.removeAttribute("data-found");
    state.map.once("moveend", function () { form.setAttribute("data-found", hit.text); });
    if (hit.feature) {
      var props = hit.feature.properties || {};
      if (!validOn(props, state.date) && props.valid_from) { load(props.valid_from); }
      var bounds = L.geoJSON(hit.feature).getBounds();
      if (bounds.isValid()) { state.map.flyToBounds(bounds, { maxZoom: 10, padding: [30, 30] }); }
    } else {
      state.map.flyTo([hit.lat, hit.lon], hit.zoom);
    }
    return true;
  }

  function setupSearch() {
    var form = $("gs-search");
    var control = L.control({ position: "topleft" });
    control.onAdd = function () { return form; };
    control.addTo(state.map);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      search($("gs-search-input").value);
    });
    $("gs-search-input").addEventListener("change", function () { search(this.value); });
    $("gs-view").addEventListener("change", function () {
      cfg.view = this.value;
      writeUrl();
      location.reload();
    });
    $("gs-lang").addEventListener("change", function () {
      cfg.lang = this.value;
      writeUrl();
      location.reload();
    });
  }

  function setupBasemap() {
    var warned = false;
    state.osm.on("tileerror", function () {
      if (warned) { return; }
      warned = true;
      setStatus("online basemap unavailable; the data layers work without it", "warn");
    });
  }

  /** Called by the folium-rendered script with the map and its feature groups. */
  function start(parts) {
    cfg = JSON.parse($("gs-config").textContent);
    state.map = parts.map;
    state.groups = parts.groups;
    state.osm = parts.osm;
    var legend = $("gs-legend");
    var phone = window.matchMedia("(max-width: 600px)").matches;
    // Open where it leaves the opening view (Moldova to Kyrgyzstan) uncovered.
    if (legend && window.matchMedia("(min-width: 1600px)").matches) { legend.open = true; }
    var attribution = state.map.attributionControl;
    if (attribution) {
      // The geometry is OpenStreetMap-derived (ODbL) and partly Natural Earth: always credited.
      attribution.setPrefix(false);
      attribution.addAttribution("© OpenStreetMap contributors (ODbL) · Made with Natural Earth · " +
        "towns: GeoNames (CC BY 4.0) · Leaflet");
      // On a phone, under the date panel at the bottom (bottom right it would be covered).
      if (phone) { attribution.setPosition("bottomleft"); }
    }
    // One pane per layer, stacked in the drawing order: a layer can be drawn whenever its
    // data arrives and still lies above those before it.
    cfg.layers.forEach(function (lid, i) {
      state.map.createPane("gs-layer-" + lid).style.zIndex = String(401 + i);
    });
    state.map.createPane("gs-ended").style.zIndex = String(401 + cfg.layers.length);
    state.map.createPane("gs-labels");
    state.labelPane = state.map.getPane("gs-labels");
    state.labelPane.className += " gs-label-pane";
    var view = readHashView();
    if (view) {
      state.viewFromUrl = true;
      state.map.setView(view.center, view.zoom, { animate: false });
    } else {
      var ob = cfg.openingBounds;
      if (phone) {  // too narrow for Moldova to Kyrgyzstan: the Caucasus to the Fergana valley
        state.map.setView(cfg.phoneView.center, cfg.phoneView.zoom, { animate: false });
      } else {
        state.map.fitBounds([ob[0], ob[1]], { animate: false, padding: [10, 10] });
      }
    }
    setupControls();
    if (attribution && phone) {  // the credits last in their corner: at the very bottom
      var credits = attribution.getContainer();
      credits.parentNode.appendChild(credits);
    }
    setupSearch();
    setupBasemap();
    state.map.on("popupclose", function (e) {
      // A closing popup fades out for 200 ms: it must not catch the next click meanwhile.
      var node = e.popup.getElement();
      if (node) { node.style.pointerEvents = "none"; }
      if (state.pair) { state.pair = null; updateReadout(); }
    });
    state.map.on("popupopen", function (e) { e.popup.getElement().style.pointerEvents = ""; });
    state.map.on("moveend", function () {
      writeUrl();
      drawLabels();
      if (!state.date) { return; }
      updateReadout();
      ensureGeometry().then(function (fetched) { if (fetched) { redraw(); } });
    });
    window.addEventListener("hashchange", function () {
      var v = readHashView();
      if (v) { state.map.setView(v.center, v.zoom, { animate: false }); }
    });
    var date = cfg.date || localToday();
    load(isDate(date) ? date : localToday()).then(loadPlaces);
  }

  /** For the API's HTML pages: the page config, without a map to drive. */
  function configure(config) { cfg = config; }

  prefetch();

  window.geoserviceMap = {
    start: start, load: load, styleFor: styleFor, search: search, step: step,
    configure: configure, popupContent: popupContent, addPatterns: addPatterns,
  };
})();
