// geosignal: the representative's map. Keeps the place of the report in the form (GeoJSON,
// [lon, lat]): a shape drawn with Leaflet.draw, coordinates read by the server, the browser's
// position or an address found through geosignal's proxy, with an optional radius (a zone).
// The drawn shape is measured and checked as it is drawn against the server's own limits
// (GET /api/v1/limits). On phones the page works in two steps: the map, then the form.
// Shows the commune's reports fetched from the API by bounding box, coloured by status.
// User text is always inserted with textContent, never as HTML. Texts come from the catalogue
// of the page's language (window.geosignalI18n, GET /i18n/<lang>.js; geosignal/ui_text.py),
// never from this file; numbers and dates are written with Intl in the catalogue's locale.
(function () {
  "use strict";
  var pane = document.getElementById("map-pane");
  if (!pane) { return; }
  var map = window[pane.dataset.map];
  if (!map) { console.error("geosignal: map not found"); return; }

  var I = window.geosignalI18n || {};
  var M = I.map || {};
  var LABELS = I.labels || {};
  var ERRORS = I.errors || {};
  var LOCALE = I.locale || "fr-BE";
  var COLON = I.colon || " : ";  // "Label : value" in French, "Label: value" in Dutch and English
  var COLOURS = JSON.parse(pane.dataset.statusColours || "{}");
  // The popup's lines: [{name, label, kind}] from the report contract (geosignal/contract.py).
  var POPUP = JSON.parse(pane.dataset.popup || "[]");
  var layout = document.getElementById("map-layout");
  var form = document.getElementById("report-form");
  var geometryInput = document.getElementById("geometry");
  var radiusInput = document.getElementById("radius");
  var coordinatesInput = document.getElementById("coordinates");
  var status = document.getElementById("drawn-status");
  var feedback = document.getElementById("shape-feedback");
  var mapWarnings = document.getElementById("map-warnings");
  var measure = document.getElementById("measure");
  var locateStatus = document.getElementById("locate-status");
  var submit = document.getElementById("submit-report");
  var drawn = null, drawnKind = null, limits = null, placed = null;

  // Leaflet.draw's tooltip sits right of the last vertex: near the map's right edge (a phone)
  // it turns to the vertex's left, so that its words stay on the map, clear of the controls
  // along its left edge (zoom, drawing tools: they lie over the tooltip, whose words they hid)
  if (L.Draw && L.Draw.Tooltip && !L.Draw.Tooltip.prototype.geosignalTurns) {
    var placeTooltip = L.Draw.Tooltip.prototype.updatePosition;
    L.Draw.Tooltip.prototype.updatePosition = function (latlng) {
      placeTooltip.call(this, latlng);
      var box = this._container;
      if (box && this._map) {
        // the room on each side of the vertex (px); the tooltip goes where there is more, as
        // wide as that room allows
        var x = this._map.latLngToContainerPoint(latlng).x;
        var corner = this._map._controlCorners && this._map._controlCorners.topleft;
        var controls = corner ? corner.getBoundingClientRect().right - this._map.getContainer().getBoundingClientRect().left : 0;
        var right = this._map.getSize().x - x - 24, left = x - 24 - Math.max(0, controls);
        box.classList.remove("to-left");
        box.style.maxWidth = Math.max(120, Math.min(256, Math.max(left, right) - 8)) + "px";
        if (box.offsetWidth > right && left > right) { box.classList.add("to-left"); }
      }
      return this;
    };
    L.Draw.Tooltip.prototype.geosignalTurns = true;
  }

  // A tap is a touch, then the mouse events the browser makes of it. Leaflet.draw reads the
  // touch and the mouse events alike: the second tap of a road stretch also "clicked" the
  // point just added, which ends the stretch (two points at most), and a zone's tap added its
  // corner twice (« sides cannot cross »). The mouse events that follow a touch are ignored.
  if (L.Draw && L.Draw.Polyline && !L.Draw.Polyline.prototype.geosignalOneTap) {
    var drawing = L.Draw.Polyline.prototype;
    var onTouch = drawing._onTouch, onMouseDown = drawing._onMouseDown, onMouseUp = drawing._onMouseUp;
    var finish = drawing._finishShape;
    var afterTouch = function (handler) { return handler._touchedAt && Date.now() - handler._touchedAt < 800; };
    drawing._onTouch = function (e) { this._touchedAt = Date.now(); return onTouch.call(this, e); };
    drawing._onMouseDown = function (e) { return afterTouch(this) ? undefined : onMouseDown.call(this, e); };
    drawing._onMouseUp = function (e) {
      if (afterTouch(this)) { this._clickHandled = null; return undefined; }
      return onMouseUp.call(this, e);
    };
    // the last point's click ends a stretch: a touch already did what it meant
    drawing._finishShape = function (e) {
      if (e && e.type === "click" && afterTouch(this)) { return undefined; }
      return finish.call(this, e);
    };
    drawing.geosignalOneTap = true;
  }

  // Leaflet drops a new view asked while a zoom animation runs (the page's first fit to the
  // commune animates): wait for it to end. An animated zoom asked in this same task starts only
  // on the next frame (Leaflet's _tryAnimatedZoom), with nothing yet to show it, and would end
  // over the view set now: look on that frame.
  function whenStill(fn) {
    function now() {
      if (map._animatingZoom) { map.once("zoomend", function () { fn(); }); } else { fn(); }
    }
    if (map._animatingZoom) { now(); } else { L.Util.requestAnimFrame(now); }
  }
  // a fit that keeps the shape clear of the map's controls and of the measure line floating over
  // its top on a phone (leaflet-setup.js)
  function clear(options) {
    var floating = measure && measure.textContent && getComputedStyle(measure).position === "absolute" ? [measure] : [];
    return L.geosignalFitOptions ? L.geosignalFitOptions(map, options, floating) : options;
  }
  // a shape's bounds; a circle's from its centre and radius in metres (Leaflet's own come from its
  // last drawing: on a phone a circle placed while the map was hidden gave a stale box)
  function boundsOf(layer) {
    return layer instanceof L.Circle ? layer.getLatLng().toBounds(2 * layer.getRadius()) : layer.getBounds();
  }
  function label(v) { return Object.prototype.hasOwnProperty.call(LABELS, v) ? LABELS[v] : v; }
  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function num(v, digits) {
    return Number(v).toLocaleString(LOCALE, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }
  function belgianDate(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return String(iso); }
    return d.toLocaleDateString(LOCALE, Object.assign({ timeZone: "Europe/Brussels" }, I.date || {}));
  }

  /* ------------------------------------------------------------ phone steps */
  function step(name, focus) {
    if (!layout) { return; }
    layout.dataset.step = name;
    if (name === "map") {  // the map was hidden: size it again, show the place, fetch the reports
      // (once, for the view settled: the resize's own moveend read the view the hidden map had,
      // 0 px wide, a bbox reaching longitude 552°, refused 400)
      map.off("moveend", load);
      map.invalidateSize({ pan: false });
      // the place, with the commune's boundary when the place is (partly) outside it: which way
      // to move it shows
      var boundary = window[pane.dataset.boundaryLayer];
      var place = drawn && (drawn.getBounds ? boundsOf(drawn) : drawn.getLatLng ? L.latLngBounds([drawn.getLatLng()]) : null);
      var outside = drawn && describe(drawn).points.some(function (p) { return !inCommune(p); });
      if (place && outside && boundary && boundary.getBounds) {
        map.fitBounds(boundary.getBounds().extend(place), clear({ animate: false }));
      } else if (drawn && drawn.getBounds) { map.fitBounds(boundsOf(drawn), clear({ maxZoom: 17, animate: false })); }
      else if (drawn && drawn.getLatLng) { map.setView(drawn.getLatLng(), 16, { animate: false }); }
      map.on("moveend", load);
      load();
    }
    if (focus) { focus.focus(); }
  }
  var toForm = document.getElementById("to-form");
  if (toForm) {
    toForm.addEventListener("click", function () { step("form", document.querySelector("#report-side h1")); });
    document.getElementById("without-map").addEventListener("click", function () { step("form", coordinatesInput); });
    document.getElementById("to-map").addEventListener("click", function () { step("map", toForm); });
  }

  /* ------------------------------------------------------------ measures and checks */
  // Measured as the server measures (limits.measure: measure.js), until the limits are read
  // with Leaflet's own (geodesic) measures.
  var toPlane = null;
  function measureOf(geometry) {  // {area} of a (multi)polygon, {length} of a (multi)line
    return window.geosignalMeasures(toPlane, map).measureOf(geometry);
  }
  function crossingOf(geometry) {  // where a zone's outline crosses itself: [lon, lat], or null
    return window.geosignalMeasures(toPlane, map).crossingOf(geometry);
  }
  // Leaflet.draw's hint beside the finger gives the zone's area too: measured the same way
  // (its own geodesic area, 355,91 ha, sat under the page's 356,22 ha)
  if (L.Draw && L.Draw.Polygon) {
    var drawVertexChanged = L.Draw.Polygon.prototype._vertexChanged;
    L.Draw.Polygon.prototype._vertexChanged = function (latlng, added) {
      if (this.options.allowIntersection || !this.options.showArea) { return drawVertexChanged.call(this, latlng, added); }
      var latLngs = this._poly.getLatLngs();
      this._area = latLngs.length >= 3 ? measureOf(L.polygon(latLngs).toGeoJSON().geometry).area : 0;
      return L.Draw.Polyline.prototype._vertexChanged.call(this, latlng, added);
    };
  }
  function circleArea(r) {  // the regular polygon the server stores for a point with a radius
    var n = limits && limits.measure ? limits.measure.circle_segments : 0;
    return n ? n / 2 * r * r * Math.sin(2 * Math.PI / n) : Math.PI * r * r;
  }
  function inRing(pt, ring) {  // ring: [[lon, lat], ...]; pt: [lon, lat]
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if (((yi > pt[1]) !== (yj > pt[1])) && (pt[0] < (xj - xi) * (pt[1] - yi) / (yj - yi) + xi)) { inside = !inside; }
    }
    return inside;
  }
  function inCommune(pt) {
    if (!limits || !limits.commune) { return true; }
    var g = limits.commune.geometry;
    var polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    return polygons.some(function (poly) {
      return inRing(pt, poly[0]) && !poly.slice(1).some(function (hole) { return inRing(pt, hole); });
    });
  }
  function flat(latlngs) {  // nested Leaflet latlngs → a flat list
    var out = [];
    (function walk(a) { a.forEach(function (x) { if (Array.isArray(x)) { walk(x); } else { out.push(x); } }); })(latlngs);
    return out;
  }

  // What the shape is: {kind: zone|line|point, area (m²), length (m), vertices, points [[lon, lat]],
  // crossing ([lon, lat] where a zone's outline crosses itself, or null)}
  function describe(layer) {
    if (layer instanceof L.Circle) {
      var c = layer.getLatLng(), r = layer.getRadius();
      // its edge, sampled (16 positions): a circle partly outside its commune is said so
      var dLat = r / 111320, dLng = r / (111320 * Math.cos(c.lat * Math.PI / 180)), edge = [];
      for (var k = 0; k < 16; k++) {
        var a = k * Math.PI / 8;
        edge.push([c.lng + dLng * Math.cos(a), c.lat + dLat * Math.sin(a)]);
      }
      // (sent as one position and a radius: what the server counts against max_vertices)
      return { kind: "zone", area: circleArea(r), circle: true, positions: 1, points: edge, centre: [c.lng, c.lat] };
    }
    if (layer instanceof L.Marker || layer instanceof L.CircleMarker) {
      var p = layer.getLatLng();
      return { kind: "point", vertices: 1, positions: 1, points: [[p.lng, p.lat]], centre: [p.lng, p.lat] };
    }
    var latlngs = flat(layer.getLatLngs());
    var pts = latlngs.map(function (ll) { return [ll.lng, ll.lat]; });
    var b = layer.getBounds(), mid = b.getCenter();
    var sent = layer.toGeoJSON().geometry;
    var measured = measureOf(sent);  // what is sent, as it is sent
    // vertices: the corners a person counts; positions: what the server counts against
    // max_vertices (a ring's first corner again, to close it)
    var positions = flat(sent.coordinates).length / 2;
    if (layer instanceof L.Polygon) {
      return { kind: "zone", area: measured.area, vertices: latlngs.length, positions: positions, points: pts, centre: [mid.lng, mid.lat],
               crossing: crossingOf(sent) };
    }
    return { kind: "line", length: measured.length, vertices: latlngs.length, positions: positions, points: pts, centre: [mid.lng, mid.lat] };
  }

  function checks(shape) {
    var out = [];
    if (!limits) { return out; }
    if (shape.crossing) {
      // the server's sentence (it refuses the zone, self_intersection): not the area of a ring
      // whose lobes cancel (a typed bow-tie read « Zone trop petite (0 m²) »); the repair box
      // is offered beside it (syncRepair)
      out.push(ERRORS.self_intersection);
    } else if (shape.kind === "zone" && shape.area !== undefined) {
      // (an area never reads as the limit it breaks: I.figure, as the server's messages)
      if (shape.area < limits.min_area_m2) {
        out.push(fill(M.too_small, { m2: I.figure(shape.area, "m2", limits.min_area_m2), min: I.figure(limits.min_area_m2, "m2") }));
      }
      if (shape.area > limits.max_area_m2) {
        out.push(fill(M.too_large, { km2: I.figure(shape.area, "km2", limits.max_area_m2), max: I.figure(limits.max_area_m2, "km2") }));
      }
    }
    if (shape.positions > limits.max_vertices) { out.push(fill(M.too_many_vertices, { n: num(shape.positions), max: num(limits.max_vertices) })); }
    if (limits.commune && shape.points.length) {
      var outside = shape.points.filter(function (p) { return !inCommune(p); }).length;
      var name = limits.commune.name_fr;
      if (!inCommune(shape.centre) || outside * 2 > shape.points.length) { out.push(fill(M.mostly_outside, { commune: name })); }
      else if (outside > 0) { out.push(fill(M.outside, { commune: name })); }
    }
    return out;
  }

  function measureText(shape) {
    if (shape.crossing) { return fill(M.vertices, { n: shape.vertices }); }  // (no area: see checks)
    if (shape.kind === "zone" && shape.area !== undefined) {
      return fill(M.area, { m2: num(shape.area), ha: num(shape.area / 1e4, 2) }) +
        (shape.vertices > 1 && !shape.circle ? " · " + fill(M.vertices, { n: shape.vertices }) : "");
    }
    if (shape.kind === "line") { return fill(M.length, { m: num(shape.length) }) + " · " + fill(M.vertices, { n: shape.vertices }); }
    return "";
  }

  // where the outline crosses itself, marked as the server marks it (errorMarker, below): its
  // sentence says « voir le repère sur la carte »
  var crossingMarker = null;
  function markCrossing(at) {
    if (crossingMarker && !at) { crossingMarker.remove(); crossingMarker = null; }
    if (!at) { return; }
    if (!crossingMarker) {
      crossingMarker = L.circleMarker([at[1], at[0]], { radius: 10, color: "#a50f15", weight: 3, fillOpacity: 0.2,
                                                       interactive: false, className: "crossing-marker" }).addTo(map);
    } else { crossingMarker.setLatLng([at[1], at[0]]); }
  }

  function showFeedback(shape) {
    var warnings = shape ? checks(shape) : [];
    markCrossing(shape && shape.crossing);
    if (measure) { measure.textContent = shape ? measureText(shape) : ""; }
    if (!feedback) { return warnings; }
    feedback.replaceChildren.apply(feedback, warnings.map(function (w) { return el("p", w, "warning"); }));
    // on a phone the form (and its feedback) is the next step: the warnings are said under the map too
    if (mapWarnings) { mapWarnings.replaceChildren.apply(mapWarnings, warnings.map(function (w) { return el("p", w, "warning"); })); }
    feedback.setAttribute("role", warnings.length ? "alert" : "status");
    feedback.classList.remove("field-error");  // the warnings replace an earlier "give the place first"
    delete feedback.dataset.said;
    pane.dataset.warnings = String(warnings.length);
    return warnings;
  }

  /* ------------------------------------------------------------ the place of the report */
  // remove a shape from the map and from Leaflet.draw's editable group
  function discard(shape) {
    map.eachLayer(function (l) { if (l instanceof L.FeatureGroup && l !== shape && l.hasLayer(shape)) { l.removeLayer(shape); } });
    shape.remove();
  }
  function clearPlaced() { if (placed) { discard(placed); if (drawn === placed) { drawn = null; } placed = null; } }

  // "correct a self-crossing outline" concerns an area only: shown for an area drawn or typed
  // (a zone chosen, more than two lines, WKT POLYGON) and on a page refusing a shape for
  // crossing itself (its message asks to tick it: a typed zone comes back with no drawing);
  // hidden for a point, a circle or a road stretch
  var repairBox = form ? form.querySelector("input[name=repair]") : null;
  function typedZone() {
    var text = coordinatesInput ? coordinatesInput.value.trim() : "";
    if (!text) { return false; }
    var chosen = form.querySelector("input[name=coordinates_shape]:checked");
    var lines = text.split(/\n/).filter(function (l) { return l.trim(); }).length;
    return /^(srid\s*=\s*\d+\s*;\s*)?(multi)?polygon\b/i.test(text) || (chosen ? chosen.value === "zone" : lines > 2);
  }
  function refusedShape() {
    return ["geometry-error", "coordinates-error"].some(function (id) {
      var box = document.getElementById(id);
      return box && /^(self_intersection|invalid_geometry)$/.test(box.dataset.code || "");
    });
  }
  function syncRepair() {
    if (repairBox) { repairBox.closest("label").hidden = !(drawn instanceof L.Polygon || typedZone() || refusedShape()); }
  }
  syncRepair();
  if (form && coordinatesInput) {
    coordinatesInput.addEventListener("input", syncRepair);
    Array.prototype.forEach.call(form.querySelectorAll("input[name=coordinates_shape]"), function (radio) {
      radio.addEventListener("change", syncRepair);
    });
  }

  function setDrawn(layer, kind, fromDrawing) {
    clearDrawFirst();
    if (drawn && drawn !== layer) { discard(drawn); }
    drawn = layer;
    drawnKind = kind;
    syncRepair();
    syncToolLabels();
    if (!form) { return; }
    if (!layer) {
      geometryInput.value = "";
      if (radiusInput && fromDrawing) { radiusInput.value = ""; }
      status.textContent = M.none;
      showFeedback(null);
      placeChanged();
      return;
    }
    if (fromDrawing && placed !== layer) {
      clearPlaced();
      placedText = null;
      if (coordinatesInput) { coordinatesInput.value = ""; coordinatesInput.dispatchEvent(new Event("input")); }
    }
    var isCircle = layer instanceof L.Circle;
    var point = isCircle ? { type: "Point", coordinates: [layer.getLatLng().lng, layer.getLatLng().lat] } : layer.toGeoJSON().geometry;
    geometryInput.value = JSON.stringify(point);
    if (radiusInput) { radiusInput.value = isCircle ? String(Math.round(layer.getRadius() * 10) / 10) : (fromDrawing ? "" : radiusInput.value); }
    status.textContent = fill(M.drawn, { kind: (M.kinds || {})[kind] || kind });
    if (fromDrawing) { clearServerError(); }  // a new shape: the server's word on the old one goes
    if (!document.getElementById("geometry-error")) { showFeedback(describe(layer)); }
    else if (measure) { measure.textContent = measureText(describe(layer)); }
    placeChanged();
  }

  function clearServerError() {
    var e = document.getElementById("geometry-error");
    if (e) { e.remove(); }
    if (errorMarker) { errorMarker.remove(); errorMarker = null; }
  }

  map.on("draw:created", function (e) { setDrawn(e.layer, e.layerType, true); });
  map.on("draw:edited", function (e) {
    e.layers.eachLayer(function (layer) { if (layer === drawn) { setDrawn(layer, drawnKind || "polygon", true); } });
  });
  map.on("draw:deleted", function (e) {
    e.layers.eachLayer(function (layer) { if (layer === drawn) { setDrawn(null, null, true); } });
  });
  // live measure while drawing or editing: the vertices placed so far
  var drawingType = null;
  // on a touch screen Leaflet.draw's hint has no finger to follow before the first touch (it sat
  // under the page's header): until then it is hidden and said in the measure line at the top
  // of the map (the same text); then it follows the finger
  var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
  var container = map.getContainer();
  // where the tip is said: above the map on a phone's map step (#map-step-tip: whole, under no
  // control), else in the measure line at the top of the map
  var stepTip = document.getElementById("map-step-tip");
  function tipLine() { return stepTip && stepTip.offsetParent !== null ? stepTip : measure; }
  function touched() {
    if (!container.classList.contains("draw-untouched")) { return; }
    container.classList.remove("draw-untouched");
    if (measure && !drawn) { measure.textContent = ""; }
  }
  // the tip above the map goes once the first corner is placed (or the drawing stops), not as
  // the finger lands; and the line keeps its height until the drawing stops: the map moving up
  // under the finger between two taps lost a corner
  map.on("draw:drawvertex", function () { if (stepTip) { stepTip.textContent = ""; } });
  function holdTipLine(hold) {
    var line = stepTip && stepTip.parentNode;
    if (line) { line.style.minHeight = hold && stepTip.offsetParent !== null ? line.offsetHeight + "px" : ""; }
  }
  container.addEventListener("touchstart", touched, { passive: true });
  // a first corner placed otherwise (a pen, a mouse on a touch screen) is a first touch too: the
  // hint "tap to start" is then wrong, Leaflet.draw's own says how to go on and to finish
  map.on("draw:drawvertex", touched);
  // a drawing started from the keyboard: Leaflet.draw needs a pointer; the way without one is said
  var byKeyboard = false;
  document.addEventListener("keydown", function () { byKeyboard = true; }, true);
  document.addEventListener("pointerdown", function () { byKeyboard = false; }, true);
  map.on("draw:drawstart", function (e) {
    clearDrawFirst();
    drawingType = e.layerType;
    syncToolLabels();
    if (byKeyboard && measure && M.no_mouse) { measure.textContent = M.no_mouse; }
    var handler = L.drawLocal && L.drawLocal.draw.handlers[e.layerType];
    if (touch && tipLine() && handler && handler.tooltip && handler.tooltip.start) {
      container.classList.add("draw-untouched");
      holdTipLine(false);
      tipLine().textContent = handler.tooltip.start;
      holdTipLine(true);
    }
  });
  map.on("draw:drawstop", function () {
    drawingType = null;
    syncToolLabels();
    if (stepTip) { stepTip.textContent = ""; }
    holdTipLine(false);
    if (container.classList.contains("draw-untouched")) {
      container.classList.remove("draw-untouched");
      if (measure) { measure.textContent = drawn ? measureText(describe(drawn)) : ""; }
    }
  });
  // The drawing tools are named beside their icons (a mayor on a phone has no tooltip to
  // hover) until a shape is drawn, and not while one is drawn (Leaflet.draw's Finish / Cancel
  // sit there). The name is inside the button: it is part of the target; screen readers have
  // the button's own text.
  var tools = M.tools || {};
  container.querySelectorAll(".leaflet-draw-toolbar-top a").forEach(function (a) {
    var kind = (a.className.match(/leaflet-draw-draw-(\w+)/) || [])[1];
    if (!tools[kind]) { return; }
    var label = el("span", tools[kind], "draw-label");
    label.setAttribute("aria-hidden", "true");
    a.appendChild(label);
  });
  // and not while a report's popup is open: on a phone the names lay over it
  var popupOpen = false;
  function syncToolLabels() {
    if (container) { container.classList.toggle("draw-labels", !drawn && !drawingType && !popupOpen); }
  }
  syncToolLabels();
  map.on("popupopen", function () { popupOpen = true; syncToolLabels(); });
  map.on("popupclose", function () { popupOpen = false; syncToolLabels(); });
  map.on("draw:drawvertex", function (e) {
    var latlngs = [];
    e.layers.eachLayer(function (m) { latlngs.push(m.getLatLng()); });
    var zone = drawingType === "polygon";
    if (latlngs.length >= 2) {
      var shape = zone && latlngs.length >= 3
        ? describe(L.polygon(latlngs)) : describe(L.polyline(latlngs));
      if (!zone) { shape.kind = "line"; }
      showFeedback(shape);
    }
  });
  ["draw:editvertex", "draw:editmove", "draw:editresize"].forEach(function (name) {
    map.on(name, function (e) {
      var layer = e.poly || e.layer;
      if (layer && layer === drawn) { showFeedback(describe(layer)); }
    });
  });

  // The server's coded error about the shape, at the place it concerns (e.g. a self-crossing)
  var errorMarker = null;
  if (pane.dataset.errorLocation) {
    try {
      var loc = JSON.parse(pane.dataset.errorLocation);
      var msg = document.getElementById("geometry-error");
      // a node, not a string: Leaflet writes a string tooltip as HTML, and the message is text
      var tip = document.createElement("span");
      tip.textContent = msg ? msg.textContent : "";
      errorMarker = L.circleMarker([loc[1], loc[0]], { radius: 10, color: "#a50f15", weight: 3, fillOpacity: 0.2 })
        .addTo(map).bindTooltip(tip, { permanent: true, direction: "top" });
    } catch (err) { console.warn("geosignal: error location not shown", err); }
  }

  // A refused report comes back with its shape (and an unsent one taken up again, below): draw
  // it again so nothing is lost.
  function restoreShape() {
    try {
      var kept = JSON.parse(geometryInput.value), radius = formNumber(radiusInput.value) || 0;
      var restored = (kept.type === "Point" && radius > 0)
        ? L.circle([kept.coordinates[1], kept.coordinates[0]], { radius: radius })
        : L.geoJSON(kept).getLayers()[0];
      if (restored) {
        restored.addTo(map);
        setDrawn(restored, kept.type === "Point" ? (radius > 0 ? "circle" : "marker")
                 : kept.type === "LineString" ? "polyline" : "polygon", false);
        var errorBox = document.getElementById("geometry-error");
        if (errorBox && restored.setStyle) { restored.setStyle({ color: "#a50f15", dashArray: "6 4" }); }
        whenStill(function () {
          if (!map.getContainer().clientWidth) { return; }  // a hidden map is fitted when shown (step)
          if (restored.getBounds) { map.fitBounds(boundsOf(restored), clear({ maxZoom: 16, animate: false })); }
          else if (restored.getLatLng) { map.setView(restored.getLatLng(), 15, { animate: false }); }
        });
        var serverError = document.getElementById("geometry-error");
        if (serverError) { pane.dataset.serverError = serverError.dataset.code || "1"; }
      }
    } catch (err) { console.warn("geosignal: shape not restored", err); }
  }
  if (form && geometryInput.value) { restoreShape(); }

  // Place a point (with the radius, a circle) from coordinates, the position or an address.
  var lastPlace = { how: "", commune: null };
  function place(lon, lat, how, commune, radius) {
    lastPlace = { how: how, commune: commune };
    placedText = null;
    clearPlaced();
    if (drawn) { discard(drawn); drawn = null; }
    // the radius field as the server reads it: one it would refuse (6.000, abc) draws no circle
    // of another size; the point stays, the field keeps what was typed and says what to write
    var typed = radius === undefined && radiusInput ? radiusInput.value.trim() : "";
    var r = radius !== undefined ? radius : (typed ? formNumber(typed) : 0);
    var badRadius = typed !== "" && !(r > 0);
    if (badRadius) { r = 0; }
    var layer = r > 0 ? L.circle([lat, lon], { radius: r, color: "#1d4e89" }) : L.circleMarker([lat, lon], { radius: 8, color: "#1d4e89" });
    layer.addTo(map);
    placed = layer;
    drawn = layer;
    drawnKind = r > 0 ? "circle" : "position";
    geometryInput.value = JSON.stringify({ type: "Point", coordinates: [lon, lat] });
    if (radiusInput) {
      radiusInput.value = badRadius ? typed : (r > 0 ? String(r) : "");
      if (badRadius) { radiusInput.setAttribute("aria-invalid", "true"); } else { radiusInput.removeAttribute("aria-invalid"); }
    }
    var where = commune ? fill(M.in_commune, { commune: commune.name_fr }) : "";
    var values = { position: fill(M.position, { lat: num(lat, 6), lon: num(lon, 6) }), how: how, r: num(r || 0),
                   commune: where };
    var text = fill(r > 0 ? M.placed_circle : M.placed, values);
    // a point drawn on the map has no "how" (typed coordinates, position, address): no "()"
    status.textContent = how ? text : text.replace(/\s*\(\s*\)/, "");
    showFeedback(describe(layer));
    if (badRadius && feedback) {
      var readings = ambiguousReadings(typed);  // « 1,000 »: 1000 or 1? said, as the server says it
      say(feedback, readings ? fill(M.radius_ambiguous, readings) : (I.field_hints || {}).radius || "", true);
    }
    clearServerError();
    placeChanged();
    whenStill(function () {
      // a hidden map (a phone's form step) is fitted when it is shown again (step): an animated
      // zoom begun while hidden ended later at its stale target, over the fit made then
      if (!map.getContainer().clientWidth) { return; }
      if (layer.getBounds) { map.fitBounds(boundsOf(layer), clear({ maxZoom: 17 })); } else { map.setView([lat, lon], 16); }
    });
    pane.dataset.placed = lon.toFixed(6) + "," + lat.toFixed(6);
  }

  /* The two numbers a text like 6.000 or 1,500 may mean (geosignal/formparse.py
   * ambiguous_readings), written to be said back; null for any other text. */
  function ambiguousReadings(text) {
    var t = String(text || "").trim().replace(/\u2212/g, "-");
    var m = /^(-?)([1-9][0-9]{0,2})[.,]([0-9]{3})$/.exec(t);
    if (!m) { return null; }
    var decimal = parseFloat(m[2] + "." + m[3]) * (m[1] ? -1 : 1);
    return { value: t, thousands: m[1] + m[2] + m[3],
             decimal: decimal.toLocaleString(LOCALE, { maximumFractionDigits: 3, useGrouping: false }) };
  }
  /* A number as the server reads a form's (geosignal/formparse.py decimal_number): digits, a
   * decimal point or comma, spaces only between groups of three digits; null for anything
   * else, and for 6.000 or 1,500 (a thousands or a decimal separator? never guessed). */
  function formNumber(text) {
    var t = String(text || "").trim().replace(/\u2212/g, "-");
    if (ambiguousReadings(t)) { return null; }
    if (/[ \u00a0\u202f]/.test(t)) {
      if (!/^-?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:[.,][0-9]+)?$/.test(t)) { return null; }
      t = t.replace(/[ \u00a0\u202f]/g, "");
    }
    var m = /^(-)?([0-9]{1,18})(?:[.,]([0-9]{1,18}))?$/.exec(t);
    if (!m) { return null; }
    var v = parseFloat(m[2] + "." + (m[3] || "0"));
    return m[1] ? -v : v;
  }
  if (radiusInput) {
    radiusInput.addEventListener("change", function () {
      if (!drawn || !(drawnKind === "circle" || drawnKind === "position" || drawnKind === "marker")) { return; }
      var c = drawn.getLatLng();
      place(c.lng, c.lat, lastPlace.how, lastPlace.commune);  // the radius as the field gives it
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); });
  }
  // what a person reads of a problem+json answer: its message in the page's language
  function problemText(problem) { return I.problemText ? I.problemText(problem) : (ERRORS[problem.code] || problem.title || ""); }
  function say(node, text, isError) {
    node.textContent = text;
    node.setAttribute("role", isError ? "alert" : "status");
    node.classList.toggle("field-error", !!isError);
  }
  /* "Give the place first" (said when the form is sent without one) is settled as soon as the
   * person acts on the place: a drawing begins, coordinates are read, a position or an
   * address is asked for, a shape is placed. */
  function clearDrawFirst() {
    if (!feedback || feedback.dataset.said !== "draw_first") { return; }
    feedback.replaceChildren();
    feedback.classList.remove("field-error");
    feedback.setAttribute("role", "status");
    delete feedback.dataset.said;
  }

  /* Typed coordinates that cannot be placed (refused, to be chosen between, not read): the place
   * given before goes from the map and the form, so that what is shown (the field) and what is
   * sent agree — the form then sends the field, which the server refuses as the page did; true
   * when there was one. */
  function dropPlace() {
    if (!drawn && !placed) { return false; }
    clearPlaced();
    setDrawn(null, null, false);
    delete pane.dataset.placed;
    return true;
  }
  function refused(text) {
    say(locateStatus, text + (dropPlace() && M.place_removed ? " " + M.place_removed : ""), true);
  }

  var choices = document.getElementById("coordinate-choices");
  var shapeChoice = document.getElementById("coordinates-shape");
  // the text whose place is on the map (typed coordinates read): the field changed since, the
  // server reads the field, not the place shown before
  var placedText = null;
  function typedLines() { return coordinatesInput.value.split(/\r\n|\r|\n/); }
  // a reading chosen between two: the line written again with its labels, so that it reads one way
  function labelled(c) {
    var v = c.values || [];
    var first = { lat_lon: "lat", lon_lat: "lon", x_y: "x=", y_x: "y=" }[c.order];
    var second = { lat_lon: "lon", lon_lat: "lat", x_y: "y=", y_x: "x=" }[c.order];
    var crs = c.crs && c.crs !== "EPSG:4326" ? c.crs + " " : "";
    return crs + first + (first.slice(-1) === "=" ? "" : " ") + v[0] + " " + second + (second.slice(-1) === "=" ? "" : " ") + v[1];
  }
  function placeShape(b) {
    clearPlaced();
    if (drawn) { discard(drawn); drawn = null; }
    var layer = L.geoJSON(b.geometry, { style: function () { return { color: "#1d4e89", weight: 3, fillOpacity: 0.2 }; } }).getLayers()[0];
    layer.addTo(map);
    placed = layer;
    drawn = layer;
    drawnKind = b.shape === "line" ? "polyline" : "polygon";
    geometryInput.value = JSON.stringify(b.geometry);
    syncRepair();
    syncToolLabels();
    var shape = describe(layer);
    status.textContent = fill(b.shape === "line" ? M.placed_line : M.placed_zone,
                              { n: b.positions.length, measure: measureText(shape) });
    showFeedback(shape);
    clearServerError();
    whenStill(function () {
      if (!map.getContainer().clientWidth) { return; }
      map.fitBounds(boundsOf(layer), clear({ maxZoom: 17 }));
    });
    pane.dataset.placed = b.shape + ":" + b.positions.length;
    placeChanged();
  }
  function readCoordinates() {
    clearDrawFirst();
    var text = coordinatesInput.value.trim();
    choices.hidden = true;
    choices.replaceChildren();
    coordinatesInput.removeAttribute("aria-invalid");
    var params = { q: text };
    var picked = shapeChoice && !shapeChoice.hidden ? shapeChoice.querySelector("input:checked") : null;
    if (picked) { params.shape = picked.value; }
    var asked = coordinatesInput.value;
    getJSON(pane.dataset.coordinatesUrl + "?" + new URLSearchParams(params)).then(function (res) {
      var b = res.body;
      if (res.ok) {
        if (b.shape && b.shape !== "point") {
          placeShape(b);
        } else {
          var how = (M.notation || {})[b.notation] + ", " + (M.read_as || {})[b.order];
          place(b.lon, b.lat, how, b.commune);
        }
        placedText = asked;
        say(locateStatus, status.textContent, false);
        return;
      }
      coordinatesInput.setAttribute("aria-invalid", "true");
      var text2 = problemText(b);
      if (b.code === "ambiguous_coordinates" && b.candidates) {
        refused(M.choose_reading + " " + text2);
        b.candidates.forEach(function (c) {
          var li = el("li");
          var button = el("button", (b.line ? fill(M.line, { n: b.line }) + " " : "") +
            ((M.read_as || {})[c.order] || c.order) + " : " + fill(M.position, { lat: num(c.lat, 6), lon: num(c.lon, 6) }) +
            (c.commune ? " — " + c.commune.name_fr : ""));
          button.type = "button";
          button.addEventListener("click", function () {
            choices.hidden = true;
            coordinatesInput.removeAttribute("aria-invalid");
            if (b.line) {  // one line of several: written again with its labels, and all read again
              var all = typedLines();
              all[b.line - 1] = labelled(c);
              coordinatesInput.value = all.join("\n");
              readCoordinates();
              return;
            }
            place(c.lon, c.lat, (M.read_as || {})[c.order], c.commune);
            placedText = coordinatesInput.value;
            say(locateStatus, status.textContent, false);
          });
          li.appendChild(button);
          choices.appendChild(li);
        });
        choices.hidden = false;
        return;
      }
      refused(text2);
    }).catch(function (err) { refused(fill(M.error, { detail: String(err) })); });
  }
  if (coordinatesInput && document.getElementById("place-coordinates")) {
    document.getElementById("place-coordinates").addEventListener("click", readCoordinates);
    // a text area: Enter writes the next line; Ctrl+Enter (⌘+Enter) places
    coordinatesInput.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); readCoordinates(); }
    });
  }
  // another line shape chosen for a place already read from the field: read again
  if (shapeChoice) {
    shapeChoice.addEventListener("change", function () {
      if (placedText !== null && placedText === coordinatesInput.value && typedLines().filter(function (l) { return l.trim(); }).length > 1) {
        readCoordinates();
      }
    });
  }

  var positionButton = document.getElementById("my-position");
  if (positionButton) {
    positionButton.addEventListener("click", function () {
      clearDrawFirst();
      if (!navigator.geolocation) { say(locateStatus, M.geolocation_unsupported, true); return; }
      say(locateStatus, M.geolocating, false);
      navigator.geolocation.getCurrentPosition(function (p) {
        var accuracy = Math.max(10, Math.ceil(p.coords.accuracy || 0));
        place(p.coords.longitude, p.coords.latitude, fill(M.position_accuracy, { r: num(accuracy) }), null, accuracy);
        say(locateStatus, status.textContent, false);
      }, function (err) {
        // the reason in the page's language, from the error's code (err.message is the
        // browser's own text, in its language: English on a Dutch page)
        var reason = { 1: M.geolocation_reason_denied, 3: M.geolocation_reason_timeout }[err && err.code]
          || M.geolocation_reason_unavailable;
        say(locateStatus, fill(document.getElementById("address") ? M.geolocation_denied
          : M.geolocation_denied_no_address, { reason: reason }), true);
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  var addressInput = document.getElementById("address");
  var results = document.getElementById("address-results");
  // the search's messages go under its field and button (the field is described by them)
  var addressStatus = document.getElementById("address-status");
  var addressRequest = 0;
  function searchAddress() {
    var q = addressInput.value.trim();
    var request = ++addressRequest;
    clearDrawFirst();
    results.replaceChildren();
    say(addressStatus, M.searching, false);
    getJSON(pane.dataset.geocodeUrl + "?" + new URLSearchParams({ q: q })).then(function (res) {
      if (request !== addressRequest) { return; }  // a later search answers
      if (!res.ok) { say(addressStatus, problemText(res.body), true); return; }
      var found = res.body.results || [];
      if (!found.length) { say(addressStatus, M.no_result, true); return; }
      say(addressStatus, fill(M["results_" + I.pluralForm(found.length)], { n: found.length }), false);
      found.forEach(function (item) {
        var li = el("li");
        var button = el("button", item.label + (item.commune ? "" : " (" + M.outside_territory + ")"));
        button.type = "button";
        button.disabled = !item.commune;
        button.addEventListener("click", function () {
          place(item.lon, item.lat, M.address, item.commune);
          say(addressStatus, status.textContent, false);
        });
        li.appendChild(button);
        results.appendChild(li);
      });
    }).catch(function (err) {
      if (request === addressRequest) { say(addressStatus, fill(M.error, { detail: String(err) }), true); }
    });
  }
  if (addressInput) {
    document.getElementById("search-address").addEventListener("click", searchAddress);
    addressInput.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); searchAddress(); }
    });
  }

  if (form) {
    form.addEventListener("submit", function (e) {
      if (!geometryInput.value && !(coordinatesInput && coordinatesInput.value.trim())) {
        e.preventDefault();
        say(feedback, document.getElementById("address") ? M.draw_first : M.draw_first_no_address, true);
        feedback.dataset.said = "draw_first";  // settled by the next act on the place (clearDrawFirst)
        step("form", coordinatesInput);
        return;
      }
      if (form.dataset.sent) { e.preventDefault(); return; }  // double click
      // the coordinates changed since their place was shown: the server reads them (as typed)
      if (placedText !== null && coordinatesInput && coordinatesInput.value !== placedText && drawn === placed) {
        geometryInput.value = "";
      }
      refusedCopy = false;  // sent again: whether it arrives is not known yet
      rememberUnsent();  // kept on this device until the server says it is stored
      if (navigator.onLine === false) {  // no network at all: the page stays, nothing is lost
        e.preventDefault();
        say(unsentStatus, M.unsent_offline, true);
        return;
      }
      form.dataset.sent = "1";
      // the draft button keeps its name=value (status=draft): only the send button is disabled
      if ((e.submitter || submit) === submit) {
        submit.dataset.label = submit.dataset.label || submit.textContent;
        submit.disabled = true;
        submit.textContent = M.sending;
      }
    });
  }

  // A report written where there is no network (a white zone) is not lost: the form is kept on
  // this device (localStorage, per account and commune) as it is written and when it is sent,
  // until the server says it is stored (the next page names its idempotency key: nav.js forgets
  // it then). With no network at all the send is held, said, and offered again when the network
  // is back; a send that failed on the way (the browser's error page) is offered on the next
  // visit of the map, with its idempotency key, so that a send whose answer alone was lost is
  // not stored twice. Signing out forgets it (nav.js).
  var unsentKey = form && form.dataset.unsentKey;
  var unsentStatus = document.getElementById("unsent-status");
  var unsentTimer = null, unsentDirty = false;
  // the copy kept is of a report the server read and refused (this page says why), not of one
  // the network lost: offered again, it is said as such, not « pas de réseau ? »
  var refusedCopy = !!form && form.dataset.returned === "refused";
  var UNSENT_SKIP = { csrf_token: 1, idempotency_key: 1, status: 1 };
  function storage() { try { return window.localStorage; } catch (err) { return null; } }
  function readUnsent() {
    var store = storage();
    try { return store && unsentKey ? JSON.parse(store.getItem(unsentKey) || "null") : null; } catch (err) { return null; }
  }
  function formEntries() {
    var out = [];
    new FormData(form).forEach(function (value, name) {
      if (!UNSENT_SKIP[name] && typeof value === "string") { out.push([name, value]); }
    });
    return out;
  }
  function worthKeeping(entries) {  // a place or a word written: else there is nothing to lose
    return entries.some(function (e) {
      return (e[0] === "geometry" || e[0] === "coordinates" || e[0] === "description") && e[1].trim();
    });
  }
  function rememberUnsent() {
    if (!unsentKey) { return; }
    clearTimeout(unsentTimer);
    unsentDirty = false;
    var store = storage(), entries = formEntries();
    if (!store || document.documentElement.dataset.unsentForgotten) { return; }  // signing out (nav.js)
    try {
      if (!worthKeeping(entries)) { store.removeItem(unsentKey); return; }
      store.setItem(unsentKey, JSON.stringify({ v: 1, saved: new Date().toISOString(),
        key: form.elements.idempotency_key.value, fields: entries, refused: refusedCopy }));
    } catch (err) { console.warn("geosignal: report not kept on this device", err); }
  }
  function placeChanged() {
    if (!unsentKey) { return; }
    unsentDirty = true;
    clearTimeout(unsentTimer);
    unsentTimer = setTimeout(rememberUnsent, 400);
  }
  function fillForm(saved) {
    var values = {};
    saved.fields.forEach(function (e) { (values[e[0]] = values[e[0]] || []).push(e[1]); });
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || UNSENT_SKIP[field.name] || field.type === "button" || field.type === "submit") { return; }
      var given = values[field.name] || [];
      if (field.type === "checkbox" || field.type === "radio") { field.checked = given.indexOf(field.value) >= 0; }
      else if (field.type === "select-multiple") {
        Array.prototype.forEach.call(field.options, function (o) { o.selected = given.indexOf(o.value) >= 0; });
      } else { field.value = given.length ? given[0] : ""; }
    });
    form.elements.idempotency_key.value = saved.key;
    ["coordinates", "network"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.dispatchEvent) { field.dispatchEvent(new Event(name === "network" ? "change" : "input", { bubbles: true })); }
    });
    if (drawn) { discard(drawn); drawn = null; }
    // the place as it was to be sent, to the last digit (Leaflet writes 6 decimals): sent again
    // after an answer was lost, the report is recognised as the one stored (same key, same body)
    var geometry = geometryInput.value;
    if (geometry) { restoreShape(); geometryInput.value = geometry; } else { setDrawn(null, null, false); }
  }
  function offerUnsent(saved) {
    var box = document.getElementById("unsent-notice");
    if (!box) { return; }
    var when = new Date(saved.saved);
    var text = el("span", fill(saved.refused ? M.unsent_found_refused : M.unsent_found, {
      date: when.toLocaleDateString(LOCALE, { day: "numeric", month: "long" }),
      time: when.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" }) }));
    var take = el("button", M.unsent_resume), drop = el("button", M.unsent_discard, "secondary");
    take.type = drop.type = "button";
    take.id = "unsent-resume";
    drop.id = "unsent-discard";
    var buttons = el("span", "", "buttons");
    buttons.appendChild(take);
    buttons.appendChild(drop);
    box.replaceChildren(text, buttons);
    box.hidden = false;
    take.addEventListener("click", function () {
      fillForm(saved);
      box.replaceChildren(el("span", M.unsent_resumed));
      step("form", document.querySelector("#report-side h1"));
    });
    drop.addEventListener("click", function () {
      var store = storage();
      if (store) { store.removeItem(unsentKey); }
      box.replaceChildren(el("span", M.unsent_discarded));
      if (submit) { submit.focus(); }
    });
  }
  if (unsentKey) {
    var pending = readUnsent();
    if (form.dataset.returned === "refused") { rememberUnsent(); }  // the page holds it, with a new key
    else if (pending && pending.v === 1 && Array.isArray(pending.fields)) { offerUnsent(pending); }
    form.addEventListener("input", placeChanged);
    form.addEventListener("change", placeChanged);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && unsentDirty) { rememberUnsent(); }
    });
    window.addEventListener("pagehide", function () { if (unsentDirty) { rememberUnsent(); } });
    window.addEventListener("offline", function () { if (form.dataset.sent) { return; } say(unsentStatus, M.unsent_offline_now, false); });
    window.addEventListener("online", function () { if (unsentStatus.textContent) { say(unsentStatus, M.online_again, false); } });
    // Back to this page from a send that failed (the browser's error page): it can be sent again
    window.addEventListener("pageshow", function (e) {
      if (!e.persisted || !form.dataset.sent) { return; }
      delete form.dataset.sent;
      submit.disabled = false;
      if (submit.dataset.label) { submit.textContent = submit.dataset.label; }
    });
  }

  // The server's limits, to check the shape as it is drawn.
  if (pane.dataset.limitsUrl) {
    getJSON(pane.dataset.limitsUrl).then(function (res) {
      if (!res.ok) { return; }
      limits = res.body;
      if (window.proj4 && limits.measure) {
        toPlane = window.proj4("EPSG:4326", limits.measure.proj4);
      }
      pane.dataset.limits = "ready";
      if (drawn && !document.getElementById("geometry-error")) { showFeedback(describe(drawn)); }
      // a page refusing the shape keeps its message, and measures it now as the server does
      // (drawn again before the limits came, it was measured on the ellipsoid: 9 992 m² where
      // the page had said 10 004 m² before sending)
      else if (drawn && measure) { measure.textContent = measureText(describe(drawn)); }
    }).catch(function (err) { console.warn("geosignal: limits not loaded", err); });
  }

  /* ------------------------------------------------------------ the commune's reports */
  var list = document.getElementById("report-list");
  var showWithdrawn = document.getElementById("show-withdrawn");
  var lastCollection = null;
  var byId = {};
  function colour(f) { return COLOURS[f.properties.status] || "#555"; }
  var layer = L.geoJSON(null, {
    filter: function (f) { return f.properties.status !== "withdrawn" || (showWithdrawn && showWithdrawn.checked); },
    style: function (f) { return { color: colour(f), weight: 2, fillOpacity: 0.25 }; },
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 7, color: colour(f), weight: 3 }); },
    onEachFeature: function (f, l) {
      byId[f.id] = l;
      // clear of the zoom and drawing bars on the left (a phone's popup was half under them)
      // and below the controls at the top right (its close button was under the layer
      // switcher and the base map's warning)
      l.bindPopup(function () {
        // as wide as the map leaves beside the bars (70 px) and its own margins (a touch screen's
        // close button: 44 px), measured when it opens (Leaflet lays the popup out after asking
        // for its content)
        var options = l.getPopup().options;
        options.maxWidth = Math.max(160, Math.min(300, map.getSize().x - 150));
        options.autoPanPaddingTopLeft = L.point(70, topRightControlsBottom() + 8);
        return popup(f);
      }, { autoPanPaddingTopLeft: L.point(70, 10), autoPanPaddingBottomRight: L.point(10, 10) });
      l.on("popupopen", function () {
        if (openId !== f.id || !reopening) {
          window.setTimeout(function () { if (openId === f.id && l.isPopupOpen()) { bringPopupIntoView(l.getPopup()); } }, 400);
        }
        openId = f.id;
      });
      l.on("popupclose", function () { if (openId === f.id) { openId = null; } });
    }
  }).addTo(map);
  var openId = null, reopening = false;

  // a popup opened and left partly outside the map (Leaflet's pan into view stopped, e.g. by
  // the reports fetched again, which reopen it where it was without panning) is brought into
  // view once, if it fits: its close button was off a phone's screen. Checked once per
  // opening (not when it is reopened): one the person moved away later stays where they put it.
  function bringPopupIntoView(popup) {
    var box = popup.getElement() && popup.getElement().getBoundingClientRect();
    var frame = container.getBoundingClientRect();
    var left = 70, top = topRightControlsBottom() + 8, pad = 10;
    if (!box || box.width + left + pad > frame.width || box.height + top + pad > frame.height) { return; }
    var dx = 0, dy = 0;
    if (box.right + pad > frame.right) { dx = box.right + pad - frame.right; }
    if (box.left - dx < frame.left + left) { dx = box.left - frame.left - left; }
    if (box.bottom + pad > frame.bottom) { dy = box.bottom + pad - frame.bottom; }
    if (box.top - dy < frame.top + top) { dy = box.top - frame.top - top; }
    if (dx || dy) { map.panBy([Math.round(dx), Math.round(dy)]); }
  }

  // how far down the map (px) the controls at its top right reach (layer switcher, the base
  // map's warning): a popup opens below them
  function topRightControlsBottom() {
    var corner = container.querySelector(".leaflet-top.leaflet-right");
    if (!corner || !corner.children.length) { return 2; }
    return Math.max(2, Math.round(corner.getBoundingClientRect().bottom - container.getBoundingClientRect().top));
  }
  // the base map's warning shown, folded or unfolded while a popup is open: the popup moves
  // clear of it again
  map.on("basemapnotice", function () {
    if (openId && byId[openId] && byId[openId].isPopupOpen()) { byId[openId].getPopup().update(); }
  });

  function line(parent, labelText, value, kind) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) { return; }
    var p = document.createElement("div");
    var b = document.createElement("strong");
    b.textContent = labelText + COLON;
    p.appendChild(b);
    var vocabulary = kind === "vocab" || kind === "vocab_list";
    var text = Array.isArray(value) ? value.map(vocabulary ? label : String).join(", ")
      : kind === "datetime" ? belgianDate(value)  // the day is what matters on a map
      : vocabulary ? label(String(value)) : String(value);
    // a description's line breaks, as written (Leaflet measures a popup with its lines unwrapped)
    text.split("\n").forEach(function (part, k) {
      if (k) { p.appendChild(document.createElement("br")); }
      p.appendChild(document.createTextNode(part));
    });
    parent.appendChild(p);
  }

  // a report's popup: its reference, linked to its page (what happened to it, the reason), then
  // the contract's lines
  var ZERO_ID = "00000000-0000-0000-0000-000000000000";
  function popup(f) {
    var p = f.properties, div = document.createElement("div");
    if (pane.dataset.reportUrl && p.reference) {
      var head = document.createElement("div");
      head.className = "popup-head";
      var a = document.createElement("a");
      a.href = pane.dataset.reportUrl.replace(ZERO_ID, encodeURIComponent(f.id));
      a.textContent = p.reference + " — " + M.open_report;
      head.appendChild(a);
      div.appendChild(head);
    }
    POPUP.forEach(function (field) { line(div, field.label, p[field.name], field.kind); });
    return div;
  }

  // the key of the map's colours: the statuses of the reports shown
  var statusKey = document.getElementById("status-key");
  function renderKey(fc) {
    if (!statusKey) { return; }
    var shown = {};
    fc.features.forEach(function (f) {
      if (f.properties.status !== "withdrawn" || (showWithdrawn && showWithdrawn.checked)) { shown[f.properties.status] = true; }
    });
    var statuses = Object.keys(COLOURS).filter(function (s) { return shown[s]; });
    statusKey.replaceChildren(el("span", M.key_title + COLON, "key-title"));
    statuses.forEach(function (s) {
      var item = el("span"), swatch = el("span", null, "key");
      swatch.style.backgroundColor = COLOURS[s];
      swatch.setAttribute("aria-hidden", "true");
      item.append(swatch, document.createTextNode(" " + label(s)));
      statusKey.appendChild(item);
    });
    statusKey.hidden = !statuses.length;
  }

  function focus(id) {
    var l = byId[id];
    if (!l) { return false; }
    if (l.getBounds) { map.fitBounds(l.getBounds(), clear({ maxZoom: 17 })); } else { map.setView(l.getLatLng(), 17); }
    l.openPopup();
    return true;
  }

  /* A report chosen in the list « Signalements sur la carte »: shown on the map without losing
   * the list. The view changes it makes (the zoom to it, the popup's pan) fetch nothing and
   * rebuild nothing: the list stays whole with the button pressed (the reports fetched for the
   * view before stay on the map), until the person moves the map themselves. Focus goes to the
   * popup's link (or stays on the button), the report is said in a polite live region, and
   * Escape or the popup's close button gives focus back to the button (or, on a phone's map
   * step where the list is hidden, to the map). */
  var listStatus = document.getElementById("report-list-status");
  var keepList = false, chosenButton = null, chosenPopup = null;
  function choose(f, button) {
    keepList = true;
    chosenButton = null;  // the popup open before closes: focus is not given back for it
    step("map");
    if (!focus(f.id)) { keepList = false; return; }
    chosenButton = button;
    chosenPopup = byId[f.id].getPopup();
    var link = byId[f.id].getPopup() && byId[f.id].getPopup().getElement();
    link = link && link.querySelector(".popup-head a");
    if (listStatus) {
      var p = f.properties;
      var what = (p.reference ? p.reference + " — " : "") + (p.description || M.no_description) + " · " +
        label(f.geometry.type) + ", " + label(p.status);
      listStatus.textContent = fill(M.report_shown, { report: what });
    }
    if (link) { link.focus({ preventScroll: true }); }
  }
  // the person moves the map (a drag, the wheel, a tap, the zoom buttons or the map's keys): the
  // list follows the view again; Tab, Shift and Escape move no map
  ["mousedown", "touchstart", "wheel", "keydown"].forEach(function (type) {
    container.addEventListener(type, function (e) {
      if (type === "keydown" && (e.key === "Tab" || e.key === "Shift" || e.key === "Escape" || e.target.closest(".leaflet-popup"))) { return; }
      keepList = false;
    }, { passive: true });
  });
  map.on("popupclose", function (e) {
    var back = chosenButton, closed = e.popup && e.popup.getElement();
    if (!back || e.popup !== chosenPopup) { return; }
    chosenButton = chosenPopup = null;
    window.setTimeout(function () {
      // focus left where the popup was (its link or close button, gone or fading): given back
      var active = document.activeElement;
      if (active && active !== document.body && active.isConnected && !(closed && closed.contains(active))) { return; }
      if (back.isConnected && back.offsetParent !== null) { back.focus(); } else { container.focus({ preventScroll: true }); }
    }, 0);
  });

  function render(fc) {
    var reopen = openId;  // a report's popup stays open when the reports are fetched again
    byId = {};
    layer.clearLayers();
    layer.addData(fc);
    renderKey(fc);
    if (reopen && byId[reopen]) {
      // where it was, without panning again: a pan fetches the reports again, which reopened
      // the popup, which panned… (a phone's map never stood still)
      var kept = byId[reopen].getPopup();
      kept.options.autoPan = false;
      reopening = true;
      byId[reopen].openPopup();
      reopening = false;
      kept.options.autoPan = true;
    }
    if (!list) { return; }
    list.replaceChildren();
    fc.features.forEach(function (f) {
      if (f.properties.status === "withdrawn" && !(showWithdrawn && showWithdrawn.checked)) { return; }
      var li = el("li");
      var button = el("button");
      button.type = "button";
      button.appendChild(el("span", (f.properties.description || M.no_description) + " · " + label(f.geometry.type)));
      var badge = el("span", label(f.properties.status), "badge status-" + f.properties.status);
      button.appendChild(badge);
      button.addEventListener("click", function () { choose(f, button); });
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  var focusReport = pane.dataset.focusReport;
  var pendingFocus = null;
  function load() {
    if (keepList) { return; }  // a view change the list made (choose): the list stays as it is
    var size = map.getSize();
    if (!size.x || !size.y) { return; }  // hidden (the form step on a phone): nothing to fetch
    var b = map.getBounds();
    function within(v, limit) { return Math.max(-limit, Math.min(limit, v)); }  // a view wider than the world
    var params = new URLSearchParams({ limit: "500",
      bbox: [within(b.getWest(), 180), within(b.getSouth(), 90), within(b.getEast(), 180), within(b.getNorth(), 90)]
        .map(function (v) { return v.toFixed(6); }).join(",") });
    if (pane.dataset.commune) { params.set("commune", pane.dataset.commune); }
    fetch(pane.dataset.reportsUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (fc) {
        if (keepList) { return; }  // asked before a report was chosen in the list
        lastCollection = fc;
        render(fc);
        pane.dataset.reports = String(fc.features.length);
        if (pendingFocus && focus(pendingFocus)) { pane.dataset.focused = pendingFocus; pendingFocus = null; }
      })
      .catch(function (err) { console.warn("geosignal: reports not loaded", err); });
  }
  if (showWithdrawn) { showWithdrawn.addEventListener("change", function () { if (lastCollection) { render(lastCollection); } }); }
  map.on("moveend", load);

  // ?signalement=<id>: centre the map on that report (fetched alone, then shown with the others)
  if (focusReport) {
    fetch(pane.dataset.reportsUrl + "/" + encodeURIComponent(focusReport), { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (f) {
        if (showWithdrawn && f.properties.status === "withdrawn") { showWithdrawn.checked = true; }
        pendingFocus = f.id;
        whenStill(function () {
          map.off("moveend", load);
          map.fitBounds(L.geoJSON(f).getBounds(), clear({ maxZoom: 17, animate: false }));
          map.on("moveend", load);
          load();
        });
      })
      .catch(function (err) { console.warn("geosignal: report not found", err); load(); });
  } else {
    load();
  }
})();
