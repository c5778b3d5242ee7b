// geosignal: the representative's map. Keeps the shape drawn with Leaflet.draw in the
// report form (GeoJSON, [lon, lat]), guards against double submission, and shows the
// commune's reports fetched from the API by bounding box. User text is always inserted
// with textContent, never as HTML.
(function () {
  "use strict";
  var pane = document.getElementById("map-pane");
  if (!pane) { return; }
  var map = window[pane.dataset.map];
  if (!map) { console.error("geosignal: map not found"); return; }

  var form = document.getElementById("report-form");
  var geometryInput = document.getElementById("geometry");
  var radiusInput = document.getElementById("radius");
  var status = document.getElementById("drawn-status");
  var submit = document.getElementById("submit-report");
  var drawn = null;
  var LABELS = JSON.parse(pane.dataset.labels || "{}");
  // The popup's lines: [{name, label, kind}] from the report contract (geosignal/contract.py).
  var POPUP = JSON.parse(pane.dataset.popup || "[]");
  function label(v) { return Object.prototype.hasOwnProperty.call(LABELS, v) ? LABELS[v] : v; }

  var KINDS = { marker: "un point", polyline: "un tronçon", polygon: "une zone",
                rectangle: "une zone", circle: "un cercle" };

  function setDrawn(layer, kind) {
    if (drawn && drawn !== layer) { drawn.remove(); }
    drawn = layer;
    if (!form) { return; }
    if (!layer) {
      geometryInput.value = ""; radiusInput.value = "";
      status.textContent = "Aucune forme dessinée."; submit.disabled = true;
      return;
    }
    geometryInput.value = JSON.stringify(layer.toGeoJSON().geometry);
    radiusInput.value = layer instanceof L.Circle ? String(Math.round(layer.getRadius() * 10) / 10) : "";
    status.textContent = "Forme dessinée : " + (KINDS[kind] || kind) + ".";
    submit.disabled = false;
  }

  map.on("draw:created", function (e) { setDrawn(e.layer, e.layerType); });
  map.on("draw:edited", function (e) {
    e.layers.eachLayer(function (layer) { if (layer === drawn) { setDrawn(layer, "polygon"); } });
  });
  map.on("draw:deleted", function (e) {
    e.layers.eachLayer(function (layer) { if (layer === drawn) { setDrawn(null); } });
  });

  // A refused report comes back with its shape: draw it again so nothing is lost.
  if (form && geometryInput.value) {
    try {
      var kept = JSON.parse(geometryInput.value), radius = parseFloat(radiusInput.value);
      var restored = (kept.type === "Point" && radius > 0)
        ? L.circle([kept.coordinates[1], kept.coordinates[0]], { radius: radius })
        : L.geoJSON(kept).getLayers()[0];
      if (restored) {
        restored.addTo(map);
        setDrawn(restored, kept.type === "Point" ? (radius > 0 ? "circle" : "marker")
                 : kept.type === "LineString" ? "polyline" : "polygon");
        if (restored.getBounds) { map.fitBounds(restored.getBounds(), { maxZoom: 16 }); }
      }
    } catch (err) { console.warn("geosignal: shape not restored", err); }
  }

  if (form) {
    form.addEventListener("submit", function (e) {
      if (!geometryInput.value) { e.preventDefault(); status.textContent = "Dessinez d'abord la zone sur la carte."; return; }
      if (form.dataset.sent) { e.preventDefault(); return; }  // double click
      form.dataset.sent = "1";
      submit.disabled = true;
      submit.textContent = "Envoi…";
    });
  }

  // Reports of the commune, by bounding box.
  var list = document.getElementById("report-list");
  var layer = L.geoJSON(null, {
    style: function () { return { color: "#c0392b", weight: 2, fillOpacity: 0.25 }; },
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6, color: "#c0392b" }); },
    onEachFeature: function (f, l) { l.bindPopup(function () { return popup(f); }); }
  }).addTo(map);

  function line(parent, labelText, value, kind) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) { return; }
    var p = document.createElement("div");
    var b = document.createElement("strong");
    b.textContent = labelText + " : ";
    p.appendChild(b);
    var vocabulary = kind === "vocab" || kind === "vocab_list";
    var text = Array.isArray(value) ? value.map(vocabulary ? label : String).join(", ")
      : kind === "datetime" ? String(value).slice(0, 10)  // the day is what matters on a map
      : vocabulary ? label(String(value)) : String(value);
    p.appendChild(document.createTextNode(text));
    parent.appendChild(p);
  }

  function popup(f) {
    var p = f.properties, div = document.createElement("div");
    POPUP.forEach(function (field) { line(div, field.label, p[field.name], field.kind); });
    return div;
  }

  function load() {
    var b = map.getBounds();
    var params = new URLSearchParams({ limit: "500",
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",") });
    if (pane.dataset.commune) { params.set("commune", pane.dataset.commune); }
    fetch(pane.dataset.reportsUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (fc) {
        layer.clearLayers();
        layer.addData(fc);
        if (list) {
          list.replaceChildren();
          fc.features.forEach(function (f) {
            var li = document.createElement("li");
            li.textContent = (f.properties.description || "(sans description)") + " · " + label(f.geometry.type);
            list.appendChild(li);
          });
        }
      })
      .catch(function (err) { console.warn("geosignal: reports not loaded", err); });
  }
  map.on("moveend", load);
  load();
})();
