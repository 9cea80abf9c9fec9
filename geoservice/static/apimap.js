/* The small map of the API's HTML pages (items, item): the features embedded in the page, drawn
 * in the web map's styles over the country base layer, with the web map's popups. Data reaches
 * the page only as text: tooltips are DOM nodes built with textContent, never HTML strings.
 * Needs Leaflet and webmap.js (window.geoserviceMap) loaded first; no inline script.
 */
(function () {
  "use strict";
  var node = document.getElementById("map");
  if (!node) { return; }
  var cfg = JSON.parse(document.getElementById("gs-config").textContent);
  var data = JSON.parse(document.getElementById("geojson").textContent);
  var layerId = node.getAttribute("data-collection");
  var gs = window.geoserviceMap;
  gs.configure(cfg);
  var map = L.map(node, { attributionControl: true });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("© OpenStreetMap contributors (ODbL) · Made with Natural Earth");
  var styled = layerId in cfg.styles.layers;

  function tooltip(props, id) {
    var span = document.createElement("span");
    span.textContent = String(props.name != null ? props.name : id);
    return span;
  }

  var layer = L.geoJSON(data, {
    style: function (f) {
      var isPoint = /Point$/.test((f.geometry || {}).type || "");
      return styled ? gs.styleFor(layerId, f.properties || {}, isPoint)
        : { color: "#0072b2", weight: 2, fillOpacity: 0.2 };
    },
    pointToLayer: function (f, latlng) {
      var style = styled ? gs.styleFor(layerId, f.properties || {}, true)
        : { radius: 4, color: "#000", weight: 1, fillColor: "#0072b2", fillOpacity: 1 };
      return L.circleMarker(latlng, style);
    },
    onEachFeature: function (f, sub) {
      var props = f.properties || {};
      sub.bindTooltip(tooltip(props, f.id));
      if (styled) { sub.bindPopup(function () { return gs.popupContent(layerId, props); }, { maxWidth: 300 }); }
    },
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 12 }); } else { map.setView([41, 58], 4); }
  L.control.scale().addTo(map);
  gs.addPatterns(map);

  // The countries as a background, once, in light display geometry, under the features.
  if (layerId !== "countries") {
    var pane = map.createPane("gs-land");
    pane.style.zIndex = 350;
    fetch(cfg.itemsUrl.replace("{id}", "countries") + "?zoom=5&limit=" + cfg.pageLimit + "&f=json",
      { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc) { return; }
        L.geoJSON(fc, { pane: "gs-land", interactive: false, style: cfg.styles.layers.countries.style }).addTo(map);
      })
      .catch(function () { /* the features alone still show */ });
  }
})();
