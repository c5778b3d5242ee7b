/* geosignal: the referent's zones page (/zones). Shows the selected zone's union (the card's
 * data-geometry, GeoJSON EPSG:4326) on a Leaflet map with each of its reports (their
 * data-geometry), named by their reference; the first zone is shown on load. Opening a
 * report's "take out of the zone" shows its zone and marks that report (red).
 * No texts of its own: the caption is the card's server-rendered, translated caption. */
(function () {
  "use strict";
  var root = document.getElementById("zones");
  if (!root || !window.L) { return; }
  var LAYERS = JSON.parse(root.dataset.baseLayers || "[]");
  var caption = document.getElementById("zones-map-caption");
  var map = window.geosignalBaseLayers(L.map("zones-map", { zoomControl: true, attributionControl: true }), LAYERS);
  map.setView([50.41, 4.44], 10);
  window.geosignalCommuneOutlines(map, root.dataset.communesUrl);
  var shape = null, selected = null, reports = null, byReport = {};
  var BLUE = { color: "#1d4e89", weight: 3, fillOpacity: 0.25 };
  var MARKED = { color: "#b3261e", weight: 4, fillOpacity: 0.35 };

  function select(li) {
    if (selected === li) { return; }
    if (selected) { selected.classList.remove("selected"); selected.querySelector(".zone-select").setAttribute("aria-pressed", "false"); }
    selected = li;
    li.classList.add("selected");
    li.querySelector(".zone-select").setAttribute("aria-pressed", "true");
    if (shape) { map.removeLayer(shape); }
    if (reports) { map.removeLayer(reports); }
    shape = L.geoJSON(JSON.parse(li.dataset.geometry), {
      style: function () { return { color: "#1d4e89", weight: 1, fillOpacity: 0.1, dashArray: "4 4" }; },
      // points are drawn one per report below
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 0, opacity: 0, fillOpacity: 0 }); },
      interactive: false,
    }).addTo(map);
    // each report apart, named by its reference (a zone's points were identical circles)
    byReport = {};
    reports = L.featureGroup();
    li.querySelectorAll("li.zone-report[data-geometry]").forEach(function (r) {
      var one = L.geoJSON(JSON.parse(r.dataset.geometry), {
        style: function () { return BLUE; },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, L.extend({ radius: 8 }, BLUE)); },
      }).bindTooltip(r.dataset.reference);
      byReport[r.dataset.id] = one;
      reports.addLayer(one);
    });
    reports.addTo(map);
    map.invalidateSize();
    var bounds = reports.getLayers().length ? reports.getBounds() : shape.getBounds();
    map.fitBounds(bounds, L.geosignalFitOptions(map, { maxZoom: 16, padding: [20, 20], animate: false }));
    caption.textContent = li.querySelector(".zone-caption").textContent;
    root.dataset.mapShown = li.dataset.id;
    delete root.dataset.mapMarked;
  }

  function mark(reportId) {
    Object.keys(byReport).forEach(function (id) {
      byReport[id].setStyle(id === reportId ? MARKED : BLUE);
      if (id === reportId) { byReport[id].bringToFront(); byReport[id].openTooltip(); } else { byReport[id].closeTooltip(); }
    });
    if (reportId) { root.dataset.mapMarked = reportId; } else { delete root.dataset.mapMarked; }
  }

  var items = Array.prototype.slice.call(root.querySelectorAll("li.zone-item"));
  items.forEach(function (li) {
    li.querySelector(".zone-select").addEventListener("click", function () { select(li); });
    // "take out of the zone": its zone on the map, that report marked
    li.querySelectorAll("li.zone-report").forEach(function (r) {
      var step = r.querySelector("details.zone-take-out");
      if (!step) { return; }
      step.addEventListener("toggle", function () {
        if (step.open) { select(li); mark(r.dataset.id); }
        else if (root.dataset.mapMarked === r.dataset.id) { mark(null); }
      });
    });
  });
  if (items.length) { select(items[0]); }
})();
