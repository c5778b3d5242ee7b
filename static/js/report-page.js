// geosignal: the map of a report's page and of its edit page. The report's geometry comes
// from the page (data-geometry, GeoJSON in EPSG:4326). On the edit page (data-editable) the
// vertices of a zone or line can be moved (Leaflet.draw's edit handler) and a point dragged;
// the edited geometry goes into the form's hidden "geometry" field, sent only when changed.
// The base layers are the configured ones (data-base-layers, basemaps.js). Texts come from the
// catalogue of the page's language (window.geosignalI18n.report_page; Leaflet's own:
// leaflet-setup.js).
(function () {
  "use strict";
  var T = (window.geosignalI18n || {}).report_page || {};
  var pane = document.getElementById("report-map");
  if (!pane || typeof L === "undefined") { return; }
  var geometry = JSON.parse(pane.dataset.geometry || "null");
  var editable = pane.dataset.editable === "1";
  var map = L.map(pane, { scrollWheelZoom: false, maxZoom: 19 });
  // the configured base layers, with their switcher, as on every map (basemaps.js)
  window.geosignalBaseLayers(map, JSON.parse(pane.dataset.baseLayers || "[]"));
  var colour = getComputedStyle(document.querySelector(".badge") || document.body).getPropertyValue("--status").trim() || "#a50f15";
  var style = { color: colour, weight: 3, fillOpacity: 0.25 };
  var field = document.getElementById("geometry");
  var state = document.getElementById("geometry-state");
  var shape = null;

  // Leaflet.draw's vertex handles are buttons without a name: name them (the page gives the
  // translated texts; a middle handle, half transparent, adds a vertex when dragged).
  function nameHandles() {
    var n = 0;
    pane.querySelectorAll(".leaflet-editing-icon").forEach(function (el) {
      var middle = el.style.opacity !== "" && Number(el.style.opacity) < 1;
      if (!middle) { n += 1; }
      el.setAttribute("aria-label", middle ? (pane.dataset.middleLabel || "Ajouter un sommet ici")
        : (pane.dataset.vertexLabel || "Sommet %(n)s").replace("%(n)s", String(n)));
    });
  }

  function changed() {
    if (!field || !shape) { return; }
    field.value = JSON.stringify(shape.toGeoJSON().geometry);
    pane.dataset.edited = "1";
    if (state) { state.textContent = state.dataset.changed || T.changed || ""; }
  }

  if (geometry && geometry.type === "Point") {
    var ll = L.latLng(geometry.coordinates[1], geometry.coordinates[0]);
    if (editable) {
      shape = L.marker(ll, { draggable: true, keyboard: true, title: T.point_title || "",
                             alt: T.point_title || L.Marker.prototype.options.alt }).addTo(map);
      shape.on("dragend", changed);
    } else {
      shape = L.circleMarker(ll, Object.assign({ radius: 9 }, style)).addTo(map);
    }
    map.setView(ll, 16);
  } else if (geometry) {
    // a collection of one part (a GPX track of one segment is a MultiLineString) is that part:
    // editable as it
    if (geometry.type.indexOf("Multi") === 0 && geometry.coordinates.length === 1) {
      geometry = { type: geometry.type.slice(5), coordinates: geometry.coordinates[0] };
    }
    var layers = L.geoJSON(geometry, { style: function () { return style; } }).getLayers();
    shape = layers[0];
    shape.addTo(map);
    map.fitBounds(shape.getBounds(), { padding: [24, 24], maxZoom: 17 });
    var multi = geometry.type.indexOf("Multi") === 0;
    if (editable && !multi && shape.editing) {
      shape.editing.enable();
      shape.on("edit", changed);
      nameHandles();
      new MutationObserver(nameHandles).observe(map.getPane("markerPane"), { childList: true });
    } else if (editable && state) {
      state.textContent = T.multi || "";
    }
  }
  pane.dataset.ready = "1";
})();
