/* geosignal: the referent's zones page (/zones). Shows the selected zone's union (the card's
 * data-geometry, GeoJSON EPSG:4326) on a Leaflet map; the first zone is shown on load.
 * No texts of its own: the caption is the card's server-rendered, translated caption. */
(function () {
  "use strict";
  var root = document.getElementById("zones");
  if (!root || !window.L) { return; }
  var LAYERS = JSON.parse(root.dataset.baseLayers || "[]");
  var caption = document.getElementById("zones-map-caption");
  var map = window.geosignalBaseLayers(L.map("zones-map", { zoomControl: true, attributionControl: true }), LAYERS);
  map.setView([50.41, 4.44], 10);
  var shape = null, selected = null;

  function select(li) {
    if (selected) { selected.classList.remove("selected"); selected.querySelector(".zone-select").setAttribute("aria-pressed", "false"); }
    selected = li;
    li.classList.add("selected");
    li.querySelector(".zone-select").setAttribute("aria-pressed", "true");
    if (shape) { map.removeLayer(shape); }
    shape = L.geoJSON(JSON.parse(li.dataset.geometry), {
      style: function () { return { color: "#1d4e89", weight: 3, fillOpacity: 0.25 }; },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 9, color: "#1d4e89", weight: 3, fillOpacity: 0.5 }); },
    }).addTo(map);
    map.invalidateSize();
    map.fitBounds(shape.getBounds(), { maxZoom: 16, padding: [20, 20], animate: false });
    caption.textContent = li.querySelector(".zone-caption").textContent;
    root.dataset.mapShown = li.dataset.id;
  }
  var items = Array.prototype.slice.call(root.querySelectorAll("li.zone-item"));
  items.forEach(function (li) {
    li.querySelector(".zone-select").addEventListener("click", function () { select(li); });
  });
  if (items.length) { select(items[0]); }
})();
