/* geosignal: Leaflet's scale bar in metres and kilometres only (no miles), for every scale
 * control made after this script, including the ones folium's map scripts add
 * (L.control.scale()). Loaded right after Leaflet, before the map is made. */
(function () {
  "use strict";
  if (window.L && L.Control && L.Control.Scale) { L.Control.Scale.mergeOptions({ imperial: false }); }
}());
