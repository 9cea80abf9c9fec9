/* The map page's script: fills folium's feature groups from the OGC API as of a date.
 *
 * Styles, titles and the readout's country pair come from the page config (#gs-config),
 * rendered by geoservice/webmap.py, so nothing here repeats the vocabularies.
 * Text from the data only ever reaches the page through textContent or attributes.
 * The date and the view live in the URL: ?date=YYYY-MM-DD#zoom/lat/lon.
 */
(function () {
  "use strict";

  var DAY_MS = 86400000;
  var ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
  var cfg = null;
  var state = { map: null, groups: {}, osm: null, date: null, generation: 0, viewFromUrl: false };
  var debounce = null;

  function $(id) { return document.getElementById(id); }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /** Today in the reader's time zone, as YYYY-MM-DD. */
  function localToday() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function toDays(iso) { return Math.round(Date.parse(iso + "T00:00:00Z") / DAY_MS); }
  function fromDays(n) { return new Date(n * DAY_MS).toISOString().slice(0, 10); }

  function isDate(text) { return ISO_DATE.test(text) && !isNaN(Date.parse(text + "T00:00:00Z")); }

  function setStatus(text, kind) {
    var el = $("gs-status");
    el.textContent = text;
    el.className = "gs-status" + (kind ? " gs-status-" + kind : "");
  }

  /* ---- styles ---------------------------------------------------------------------- */

  function matches(when, props) {
    for (var key in when) {
      if (Object.prototype.hasOwnProperty.call(when, key)) {
        var value = key === "kind" ? (props.kind || cfg.defaultKind) : props[key];
        if (value !== when[key]) { return false; }
      }
    }
    return true;
  }

  function isSketched(props) {
    return cfg.styles.sketched.accuracies.indexOf(props.accuracy) !== -1;
  }

  /** Leaflet path options of one feature: base style, matching rules in order, dashes. */
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

  /* ---- popups (DOM built with textContent: data is never parsed as HTML) ----------- */

  function countryNames(codes) {
    return (codes || []).map(function (c) { return cfg.countryNames[c] || String(c); }).join(" – ");
  }

  function fmt(num, digits) {
    return Number(num).toLocaleString("en", {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
  }

  function popupContent(layerId, props) {
    var root = document.createElement("div");
    root.className = "gs-popup";
    var title = document.createElement("h3");
    title.textContent = props.name != null ? String(props.name) : String(props.id);
    root.appendChild(title);
    var list = document.createElement("dl");
    function row(label, value) {
      if (value === undefined || value === null || value === "") { return; }
      var dt = document.createElement("dt");
      dt.textContent = label;
      var dd = document.createElement("dd");
      dd.textContent = String(value);
      list.appendChild(dt);
      list.appendChild(dd);
    }
    row("Layer", cfg.titles[layerId]);
    row("Status", props.status);
    if (layerId === "borders") { row("Kind", (props.kind || cfg.defaultKind).replace(/_/g, " ")); }
    if (props.countries && props.countries.length) { row("Countries", countryNames(props.countries)); }
    if (props.parties && props.parties.length) { row("Parties", countryNames(props.parties)); }
    row("Corridor", props.corridor);
    row("Part", props.part);
    row("Mission", props.mission);
    row("Troops", props.troops != null ? fmt(props.troops, 0) : null);
    row("Held by", props.held_by);
    row("Area kind", props.area_kind);
    row("Valid", (props.valid_from || "before the record") + " to " +
      (props.valid_to ? props.valid_to + " (exclusive)" : "now"));
    if (props.length_km > 0) { row("Length", fmt(props.length_km, 1) + " km (geodesic, WGS84)"); }
    if (props.area_km2 > 0) { row("Area", fmt(props.area_km2, 1) + " km² (geodesic, WGS84)"); }
    if (props.reported_length_km != null) {
      row("Reported", fmt(props.reported_length_km, 0) + " km" +
        (props.reported_length_source ? " (" + props.reported_length_source + ")" : ""));
    }
    row("Accuracy", props.accuracy ? props.accuracy + (isSketched(props) ? " (drawn dashed)" : "") : null);
    root.appendChild(list);
    if (props.notes) {
      var notes = document.createElement("p");
      notes.className = "gs-popup-notes";
      notes.textContent = String(props.notes);
      root.appendChild(notes);
    }
    var sources = Array.isArray(props.sources) ? props.sources : (props.sources ? [props.sources] : []);
    if (sources.length) {
      var head = document.createElement("div");
      head.className = "gs-popup-sources";
      head.textContent = "Sources";
      root.appendChild(head);
      var ul = document.createElement("ul");
      sources.forEach(function (source) {
        var li = document.createElement("li");
        var text = String(source);
        if (/^https?:\/\/\S+$/.test(text)) {
          var a = document.createElement("a");
          a.href = text;  // only http(s): no javascript: links from data
          a.rel = "noopener noreferrer";
          a.target = "_blank";
          a.textContent = text;
          li.appendChild(a);
        } else {
          li.textContent = text;
        }
        ul.appendChild(li);
      });
      root.appendChild(ul);
    }
    return root;
  }

  /* ---- drawing ---------------------------------------------------------------------- */

  function draw(layerId, features) {
    var group = state.groups[layerId];
    group.clearLayers();
    var layer = L.geoJSON({ type: "FeatureCollection", features: features }, {
      // GeoJSON re-applies ``style`` to circle markers too: give points their point style.
      style: function (feature) {
        var isPoint = /Point$/.test((feature.geometry || {}).type || "");
        return styleFor(layerId, feature.properties || {}, isPoint);
      },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, styleFor(layerId, feature.properties || {}, true));
      },
      onEachFeature: function (feature, sub) {
        var props = feature.properties || {};
        sub.bindPopup(function () { return popupContent(layerId, props); }, {
          minWidth: 220, maxWidth: 320, maxHeight: 320, autoPanPadding: [12, 12],
        });
        sub.on("add", function () {
          var el = sub.getElement && sub.getElement();
          if (el) {
            el.setAttribute("data-layer", layerId);
            el.setAttribute("data-id", String(props.id));
          }
        });
      },
    });
    group.addLayer(layer);
    return layer;
  }

  function itemsUrl(layerId, date) {
    return cfg.itemsUrl.replace("{id}", encodeURIComponent(layerId)) +
      "?datetime=" + encodeURIComponent(date) + "&limit=10000&f=json";
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
      return response.json();
    });
  }

  /** All features of one collection on a date, following rel=next links if the API pages. */
  function fetchFeatures(layerId, date) {
    var features = [];
    function page(url) {
      return getJson(url).then(function (fc) {
        features = features.concat(fc.features || []);
        var next = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
        return next ? page(next.href) : features;
      });
    }
    return page(itemsUrl(layerId, date));
  }

  /* ---- readout ---------------------------------------------------------------------- */

  /** Kilometres of one status in an /api/lengths answer (grouped by status). */
  function statusKm(answer, status) {
    var groups = answer.by_status || answer.statuses || answer;
    var entry = groups[status];
    if (entry === undefined || entry === null) { return 0; }
    if (typeof entry === "number") { return entry; }
    return Number(entry.length_km || entry.km || 0);
  }

  function showReadout(date, answer) {
    var el = $("gs-readout");
    el.textContent = "";
    var label = document.createElement("div");
    label.className = "gs-readout-label";
    label.textContent = cfg.readout.label + " on " + date;
    el.appendChild(label);
    var total = 0;
    var values = {};
    cfg.statuses.forEach(function (status) {
      values[status] = statusKm(answer, status);
      total += values[status];
    });
    cfg.statuses.forEach(function (status) {
      var item = document.createElement("span");
      item.className = "gs-readout-item gs-readout-" + status;
      item.setAttribute("data-status", status);
      item.setAttribute("data-km", values[status].toFixed(1));
      var pct = total > 0 ? " (" + Math.round(100 * values[status] / total) + "%)" : "";
      item.textContent = status + " " + fmt(values[status], 0) + " km" + pct;
      el.appendChild(item);
    });
    el.setAttribute("data-date", date);
  }

  /* ---- date and URL ------------------------------------------------------------------ */

  function writeUrl() {
    if (!state.map || !state.date) { return; }
    var c = state.map.getCenter();
    var url = "?date=" + state.date + "#" + state.map.getZoom() + "/" +
      c.lat.toFixed(4) + "/" + c.lng.toFixed(4);
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

  /** Show the map as of ``date``: fetch every layer and the readout, then redraw. */
  function load(date) {
    date = clampDate(date);
    state.date = date;
    $("gs-date").value = date;
    $("gs-slider").value = String(toDays(date));
    writeUrl();
    var generation = ++state.generation;
    document.body.setAttribute("data-state", "loading");
    setStatus("loading…", "loading");
    var layersDone = Promise.all(cfg.layers.map(function (lid) { return fetchFeatures(lid, date); }));
    var lengthsDone = getJson(cfg.lengthsUrl + "?countries=" + cfg.readout.countries.join(",") +
      "&as_of=" + encodeURIComponent(date));
    layersDone.then(function (collections) {
      if (generation !== state.generation) { return; }  // a later date was asked for
      var count = 0;
      var drawn = {};
      collections.forEach(function (features, i) {
        var layer = draw(cfg.layers[i], features);
        drawn[cfg.layers[i]] = layer;
        count += features.length;
      });
      if (!state.viewFromUrl && drawn.borders && drawn.borders.getBounds().isValid()) {
        state.viewFromUrl = true;  // fit once, then keep the reader's view
        state.map.fitBounds(drawn.borders.getBounds(), { padding: [10, 10] });
      }
      setStatus(count + " features");
      document.body.setAttribute("data-drawn-date", date);
      document.body.setAttribute("data-state", "ready");
    }).catch(function (err) {
      if (generation !== state.generation) { return; }
      setStatus("could not load the layers (" + err.message + ")", "error");
      document.body.setAttribute("data-state", "error");
    });
    lengthsDone.then(function (answer) {
      if (generation === state.generation) { showReadout(date, answer); }
    }).catch(function (err) {
      if (generation !== state.generation) { return; }
      $("gs-readout").textContent = "Lengths unavailable (" + err.message + ")";
    });
  }

  function setupControls() {
    var form = $("gs-controls");
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(form);
      L.DomEvent.disableScrollPropagation(form);
      return form;
    };
    control.addTo(state.map);

    var input = $("gs-date");
    var today = localToday();
    if (today > input.max) { input.max = today; }
    var slider = $("gs-slider");
    slider.min = String(toDays(input.min));
    slider.max = String(toDays(input.max));

    input.addEventListener("change", function () {
      if (isDate(input.value)) { load(input.value); }
    });
    slider.addEventListener("input", function () {
      input.value = fromDays(parseInt(slider.value, 10));
      clearTimeout(debounce);
      debounce = setTimeout(function () { load(input.value); }, 300);
    });
    slider.addEventListener("change", function () {
      clearTimeout(debounce);
      load(fromDays(parseInt(slider.value, 10)));
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
    if (legend && window.matchMedia("(min-width: 700px)").matches) {
      legend.open = true;  // folded on small screens
    }
    if (window.matchMedia("(max-width: 600px)").matches && state.map.attributionControl) {
      state.map.attributionControl.setPosition("topleft");  // the date panel spans the bottom
    }
    var view = readHashView();
    if (view) {
      state.viewFromUrl = true;
      state.map.setView(view.center, view.zoom, { animate: false });  // now, not after a zoom
    }
    setupControls();
    setupBasemap();
    state.map.on("moveend", writeUrl);
    window.addEventListener("hashchange", function () {
      var v = readHashView();
      if (v) { state.map.setView(v.center, v.zoom, { animate: false }); }
    });
    var date = cfg.date || localToday();
    load(isDate(date) ? date : localToday());
  }

  window.geoserviceMap = { start: start, load: load, styleFor: styleFor };
})();
