// Measures of a shape as geosignal stores them: the positions sent (GeoJSON [lon, lat], as
// sent), in Belgian Lambert 72 (EPSG:31370: the PROJ string the server gives in its limits'
// `measure`, through proj4, served by geosignal), so that a figure shown while drawing or
// editing is the one stored. Without proj4 or that string, Leaflet's geodesic measures stand in.
(function () {
  "use strict";

  /** The measures of `toPlane` (a proj4 converter from EPSG:4326, or null: geodesic) and `map`
   *  (a Leaflet map, for its geodesic distance). */
  window.geosignalMeasures = function (toPlane, map) {
    function ringArea(ring) {  // m², unsigned; ring: [[lon, lat], ...]
      if (!toPlane) { return L.GeometryUtil.geodesicArea(ring.map(function (p) { return L.latLng(p[1], p[0]); })); }
      var xy = ring.map(function (p) { return toPlane.forward(p); }), twice = 0;
      for (var i = 0, j = xy.length - 1; i < xy.length; j = i, i += 1) {
        twice += (xy[j][0] - xy[i][0]) * (xy[j][1] + xy[i][1]);
      }
      return Math.abs(twice) / 2;
    }
    function polygonArea(rings) {  // [outer, holes…]
      return rings.slice(1).reduce(function (a, hole) { return a - ringArea(hole); }, ringArea(rings[0]));
    }
    function pathLength(path) {  // m; path: [[lon, lat], ...]
      var total = 0;
      for (var i = 1; i < path.length; i += 1) {
        if (toPlane) {
          var a = toPlane.forward(path[i - 1]), b = toPlane.forward(path[i]);
          total += Math.sqrt((b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1]));
        } else { total += map.distance([path[i - 1][1], path[i - 1][0]], [path[i][1], path[i][0]]); }
      }
      return total;
    }
    /** {area} (m²) of a (multi)polygon, {length} (m) of a (multi)line, {} otherwise: a GeoJSON
     *  geometry, EPSG:4326. */
    function measureOf(geometry) {
      var c = geometry.coordinates;
      switch (geometry.type) {
        case "Polygon": return { area: polygonArea(c) };
        case "MultiPolygon": return { area: c.reduce(function (a, rings) { return a + polygonArea(rings); }, 0) };
        case "LineString": return { length: pathLength(c) };
        case "MultiLineString": return { length: c.reduce(function (a, path) { return a + pathLength(path); }, 0) };
        default: return {};
      }
    }
    return { measureOf: measureOf };
  };
})();
