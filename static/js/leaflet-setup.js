/* geosignal: settings of Leaflet for every map, loaded right after Leaflet, before a map is made.
 * - The scale bar in metres and kilometres only (no miles), for every scale control made after
 *   this script, including the ones folium's map scripts add (L.control.scale()).
 * - Leaflet.draw 1.0.4 calls L.Polyline._flat, which Leaflet 1.9 keeps only to warn that it is
 *   deprecated (a console warning at every edit): it is given L.LineUtil.isFlat, which the
 *   deprecated function calls anyway. */
(function () {
  "use strict";
  if (!window.L) { return; }
  if (L.Control && L.Control.Scale) { L.Control.Scale.mergeOptions({ imperial: false }); }
  if (L.Polyline && L.LineUtil && typeof L.LineUtil.isFlat === "function") { L.Polyline._flat = L.LineUtil.isFlat; }
}());
