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
    // a plane for the crossings: Lambert 72, else longitudes shrunk by the latitude's cosine
    function flatten(p) {
      return toPlane ? toPlane.forward(p) : [p[0] * Math.cos(p[1] * Math.PI / 180), p[1]];
    }
    function side(a, b, c) {  // > 0: c left of a→b, < 0: right, 0: on its line
      return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    }
    function within(a, b, c) {  // c, on the line of a→b, lies on the segment
      return Math.min(a[0], b[0]) <= c[0] && c[0] <= Math.max(a[0], b[0]) &&
        Math.min(a[1], b[1]) <= c[1] && c[1] <= Math.max(a[1], b[1]);
    }
    /* Where edges e and f meet: [lon, lat], or null. ``touch``: a contact counts (edges of one
     * ring); else only a crossing or an overlap does (two rings may touch at a point). */
    function meeting(e, f, touch) {
      var d1 = side(f.a, f.b, e.a), d2 = side(f.a, f.b, e.b), d3 = side(e.a, e.b, f.a), d4 = side(e.a, e.b, f.b);
      if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) {
        var t = d1 / (d1 - d2);  // (along e)
        return [e.p[0] + t * (e.q[0] - e.p[0]), e.p[1] + t * (e.q[1] - e.p[1])];
      }
      var ends = [[d1, f, e.a, e.p], [d2, f, e.b, e.q], [d3, e, f.a, f.p], [d4, e, f.b, f.q]].filter(function (x) {
        return x[0] === 0 && within(x[1].a, x[1].b, x[2]);
      });
      if (!ends.length) { return null; }
      // collinear and overlapping (two ends on the other edge, not the same point twice), or a
      // contact where ``touch`` counts it
      var overlap = d1 === 0 && d2 === 0 && ends.length >= 2 &&
        ends.some(function (x) { return x[2][0] !== ends[0][2][0] || x[2][1] !== ends[0][2][1]; });
      return overlap || touch ? ends[0][3] : null;
    }
    // a polygon of more edges is left to the server (the edges are swept west to east, each
    // compared with those whose span overlaps its own: a 10,000-edge circle, about 0.1 s)
    var MAX_CROSSING_EDGES = 10000;
    function pairCrossing(e, f) {  // where two edges of a polygon cross: [lon, lat], or null
      if (f.ring < e.ring || (f.ring === e.ring && f.k < e.k)) { return pairCrossing(f, e); }
      if (e.ring === f.ring && (f.k === e.k + 1 || (e.k === 0 && f.k === e.last))) {
        // neighbours share a corner: only folding back over each other is a crossing
        var next = f.k === e.k + 1;
        var shared = next ? e.b : e.a, from = next ? e.a : e.b, other = next ? f.b : f.a;
        var back = (other[0] - shared[0]) * (from[0] - shared[0]) + (other[1] - shared[1]) * (from[1] - shared[1]) > 0;
        return side(from, shared, other) === 0 && back ? (next ? e.q : e.p) : null;
      }
      return meeting(e, f, e.ring === f.ring);
    }
    function polygonCrossing(rings) {
      var edges = [];
      rings.forEach(function (ring, r) {
        var pts = ring.filter(function (p, i) { return i === 0 || p[0] !== ring[i - 1][0] || p[1] !== ring[i - 1][1]; });
        if (pts.length > 1 && pts[0][0] === pts[pts.length - 1][0] && pts[0][1] === pts[pts.length - 1][1]) { pts.pop(); }
        var xy = pts.map(flatten);
        for (var k = 0; k < pts.length && pts.length > 2; k += 1) {
          var n = (k + 1) % pts.length, a = xy[k], b = xy[n];
          edges.push({ ring: r, k: k, last: pts.length - 1, p: pts[k], q: pts[n], a: a, b: b,
                       x0: Math.min(a[0], b[0]), x1: Math.max(a[0], b[0]), y0: Math.min(a[1], b[1]), y1: Math.max(a[1], b[1]) });
        }
      });
      if (edges.length > MAX_CROSSING_EDGES) { return null; }
      edges.sort(function (e, f) { return e.x0 - f.x0; });
      for (var i = 0; i < edges.length; i += 1) {
        for (var j = i + 1; j < edges.length && edges[j].x0 <= edges[i].x1; j += 1) {
          if (edges[j].y0 > edges[i].y1 || edges[j].y1 < edges[i].y0) { continue; }
          var met = pairCrossing(edges[i], edges[j]);
          if (met) { return met; }
        }
      }
      return null;
    }
    /** Where the outline of a (multi)polygon (GeoJSON, EPSG:4326) crosses itself or crosses
     *  another of its rings — two edges that cross, overlap, or of one ring touch: [lon, lat],
     *  or null (a valid outline, another geometry, or a polygon of more than
     *  MAX_CROSSING_EDGES edges). The server refuses such a zone (``self_intersection``); the
     *  shoelace area of its ring cancels between its lobes (a bow-tie measured 0 m²). */
    function crossingOf(geometry) {
      var polygons = geometry.type === "Polygon" ? [geometry.coordinates]
        : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
      for (var i = 0; i < polygons.length; i += 1) {
        var at = polygonCrossing(polygons[i]);
        if (at) { return at; }
      }
      return null;
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
    return { measureOf: measureOf, crossingOf: crossingOf };
  };
})();
