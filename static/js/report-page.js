// geosignal: the map of a report's page and of its edit page. The report's geometry comes
// from the page (data-geometry, GeoJSON in EPSG:4326). On the edit page (data-editable) the
// vertices of a zone or line can be moved (Leaflet.draw's edit handler) and a point dragged;
// the edited geometry goes into the form's hidden "geometry" field, sent only when changed.
// The base layers are the configured ones (data-base-layers, basemaps.js); the report's commune
// is outlined under its shape (data-commune-geometry). Texts come from the
// catalogue of the page's language (window.geosignalI18n.report_page; Leaflet's own:
// leaflet-setup.js).
(function () {
  "use strict";
  var T = (window.geosignalI18n || {}).report_page || {};
  var pane = document.getElementById("report-map");
  if (!pane || typeof L === "undefined") { return; }
  var geometry = JSON.parse(pane.dataset.geometry || "null");
  var editable = pane.dataset.editable === "1";
  // (the vertex handles: 44 px on a touch screen, leaflet-setup.js bigTouchHandles)
  var map = L.map(pane, { scrollWheelZoom: false, maxZoom: 19 });
  // the configured base layers, with their switcher, as on every map (basemaps.js)
  window.geosignalBaseLayers(map, JSON.parse(pane.dataset.baseLayers || "[]"));
  pane.geosignalMap = map;  // (for the page's tests)
  // the report's commune (data-commune-geometry), outlined under the shape: without a base map
  // (offline) the shape was alone on grey, and on the edit page one sees whether a point moved
  // leaves the commune
  var communeGeometry = JSON.parse(pane.dataset.communeGeometry || "null");
  // (added once the map has its view: an outline added before it failed to draw)
  var commune = communeGeometry ? L.geoJSON(communeGeometry, { interactive: false, style: function () {
    return { className: "commune-outline", color: "#1d4e89", weight: 2, dashArray: "6 4", fill: false };
  } }) : null;
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

  var MAX_TYPED = 20;  // as the server fills the field (services/coordinates.py MAX_PREFILLED_POSITIONS)
  function degrees(v) { return v.toFixed(7).replace(/0+$/, "").replace(/\.$/, ""); }
  function changed() {
    if (!field || !shape) { return; }
    field.value = JSON.stringify(shape.toGeoJSON().geometry);
    var typed = document.getElementById("coordinates");
    if (typed) {  // the field says the shape as moved (the form sends the shape; the field agrees with it)
      var g = JSON.parse(field.value);
      var pts = g.type === "Point" ? [g.coordinates] : g.type === "LineString" ? g.coordinates
        : g.type === "Polygon" && g.coordinates.length === 1 ? g.coordinates[0].slice(0, -1) : null;
      typed.value = pts && pts.length <= MAX_TYPED ? pts.map(function (p) { return degrees(p[1]) + ", " + degrees(p[0]); }).join("\n") : "";
      typed.dispatchEvent(new Event("input"));
    }
    pane.dataset.edited = "1";
    if (state) { state.textContent = [state.dataset.changed || T.changed || "", crossing()].join(" ").trim(); }
  }

  /* The point of the commune's boundary nearest to ``ll`` (measured on a plane, the longitudes
   * shrunk by the latitude's cosine: a few km, a few metres' error at most). */
  function nearestOnBoundary(ll) {
    var k = Math.cos(ll.lat * Math.PI / 180), best = null, bestD = Infinity;
    var polygons = communeGeometry.type === "Polygon" ? [communeGeometry.coordinates] : communeGeometry.coordinates;
    polygons.forEach(function (rings) {
      rings.forEach(function (ring) {
        for (var i = 1; i < ring.length; i += 1) {
          var ax = ring[i - 1][0] * k, ay = ring[i - 1][1], bx = ring[i][0] * k, by = ring[i][1];
          var px = ll.lng * k, py = ll.lat, dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
          var t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
          var x = ax + t * dx, y = ay + t * dy, d = (x - px) * (x - px) + (y - py) * (y - py);
          if (d < bestD) { bestD = d; best = L.latLng(y, x / k); }
        }
      });
    });
    return best;
  }
  /* The first view: the report in its commune. A report's page shows the whole commune with the
   * shape in it. The edit page shows the shape to be moved at a size where its vertices can be
   * taken, and the stretch of the commune's boundary nearest to it: zoomed out from the shape's
   * own view as far as that boundary needs, as long as the shape keeps SHAPE_PX across (a point:
   * three levels at most); the outline is drawn whatever the view. */
  var SHAPE_PX = 140;
  // the room kept around the shape on the edit page, beyond the map's controls: half a handle and
  // a margin, so that a finger moving a corner never takes a zoom button instead
  var HANDLE_ROOM = L.geosignalHandlePx / 2 + 8;
  var ring = null;
  var still = { animate: false };  // (again after a resize: no animation left half done)
  // a fit's options clear of the map's controls (leaflet-setup.js), the given padding at least
  function clear(options) { return L.geosignalFitOptions ? L.geosignalFitOptions(map, L.extend(options, still)) : L.extend(options, still); }
  function showInCommune(bounds, point) {
    var own = point ? 16 : Math.min(17, map.getBoundsZoom(bounds, false, L.point(48, 48)));
    if (!commune) {
      if (point) { map.setView(bounds.getCenter(), own, still); } else { map.fitBounds(bounds, clear({ padding: [24, 24], maxZoom: 17 })); }
      return;
    }
    if (!editable) {
      map.fitBounds(commune.getBounds().extend(bounds), clear({ padding: [12, 12], maxZoom: own }));
      // a shape a few pixels across in its whole commune (a phone's map): ringed, so that it is found
      var seen = map.latLngToContainerPoint(bounds.getNorthEast()).subtract(map.latLngToContainerPoint(bounds.getSouthWest()));
      if (!point && Math.max(Math.abs(seen.x), Math.abs(seen.y)) < 16 && !ring) {
        ring = L.circleMarker(bounds.getCenter(), { radius: 14, color: colour, weight: 2, fill: false, interactive: false,
                                                   className: "report-ring" }).addTo(map);
      }
      return;
    }
    var nearest = nearestOnBoundary(bounds.getCenter());
    var both = L.latLngBounds(bounds.getSouthWest(), bounds.getNorthEast());
    if (nearest) { both.extend(nearest); }
    var fits = map.getBoundsZoom(both, false, L.point(48, 48));
    // the least zoom at which the shape keeps SHAPE_PX across (its vertices apart enough to be
    // taken, on a phone too); a point: three levels below its own
    var span = map.project(bounds.getNorthEast(), own).subtract(map.project(bounds.getSouthWest(), own));
    var across = Math.max(Math.abs(span.x), Math.abs(span.y));
    var least = point ? own - 3 : Math.ceil(own - Math.max(0, Math.log(across / SHAPE_PX) / Math.LN2));
    if (fits >= least) {
      map.fitBounds(both, clear({ padding: [HANDLE_ROOM, HANDLE_ROOM], maxZoom: own }));
    } else {
      // the shape alone, as large as ``least`` makes it, in the room the controls leave (set on
      // its centre, a 300 m square's corner on a phone lay 1 px from the « + » button): smaller
      // where that room is narrower
      map.fitBounds(bounds, clear({ padding: [HANDLE_ROOM, HANDLE_ROOM], maxZoom: least }));
    }
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
    showInCommune(L.latLngBounds([ll, ll]), true);
  } else if (geometry) {
    // a collection of one part (a GPX track of one segment is a MultiLineString) is that part:
    // editable as it
    if (geometry.type.indexOf("Multi") === 0 && geometry.coordinates.length === 1) {
      geometry = { type: geometry.type.slice(5), coordinates: geometry.coordinates[0] };
    }
    var layers = L.geoJSON(geometry, { style: function () { return style; } }).getLayers();
    shape = layers[0];
    shape.addTo(map);
    showInCommune(shape.getBounds(), false);
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
  // a window made narrower (a phone turned, a desktop window resized) keeps the map's centre:
  // the shape could leave the view (between it and the boundary on the edit page); it is shown
  // again
  map.on("resize", function () {
    if (!shape) { return; }
    var bounds = shape.getBounds ? shape.getBounds() : L.latLngBounds([shape.getLatLng(), shape.getLatLng()]);
    if (!map.getBounds().contains(bounds)) { showInCommune(bounds, !shape.getBounds); }
  });
  /* ------------------------------------------------------------ the keyboard (edit page)
   * A focused vertex handle (or the point) moves with the arrow keys, STEP_PX a press (Shift:
   * STEP_PX_FAR), as a drag moves it: Leaflet.draw's handlers listen to the marker's
   * dragstart, drag and dragend (a middle handle then becomes a vertex, as dragged). Enter or
   * Space sets it where it is (Leaflet's Enter would "click" it, and a click on a vertex removes
   * it); Escape puts it back where it was when the keys began moving it. Each move is said in
   * the page's live region (#geometry-state): the position, the shape's area or length. */
  var STEP_PX = 8, STEP_PX_FAR = 40;
  var I = window.geosignalI18n || {};
  var LOCALE = I.locale || "fr-BE";
  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function num(v, digits) {
    return Number(v).toLocaleString(LOCALE, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  // measured as the server stores it (EPSG:31370, measure.js), from the positions sent
  var spec = JSON.parse(pane.dataset.measure || "null");
  var measures = window.geosignalMeasures && window.geosignalMeasures(
    window.proj4 && spec ? window.proj4("EPSG:4326", spec.proj4) : null, map);
  // where the outline crosses itself, marked as the map page marks it: the server refuses such
  // a zone (self_intersection), and its ring's area cancels between its lobes (a bow-tie read
  // « Surface : environ 0 m² »), so its sentence is said instead of the area
  var crossingMarker = null;
  function crossing() {
    var at = shape && shape.getLatLngs && measures ? measures.crossingOf(shape.toGeoJSON().geometry) : null;
    if (crossingMarker && !at) { crossingMarker.remove(); crossingMarker = null; }
    if (at && !crossingMarker) {
      crossingMarker = L.circleMarker([at[1], at[0]], { radius: 10, color: "#a50f15", weight: 3, fillOpacity: 0.2,
                                                       interactive: false, className: "crossing-marker" }).addTo(map);
    } else if (at) { crossingMarker.setLatLng([at[1], at[0]]); }
    return at ? ((I.errors || {}).self_intersection || "") : "";
  }
  function measureText() {
    if (!shape || !shape.getLatLngs || !measures) { return ""; }
    var crosses = crossing();
    if (crosses) { return crosses; }
    var measured = measures.measureOf(shape.toGeoJSON().geometry);
    if (measured.area !== undefined) { return fill(T.area, { m2: num(measured.area) }); }
    return measured.length !== undefined ? fill(T.length, { m: num(measured.length) }) : "";
  }
  function say(key, ll) {
    if (!state) { return; }
    state.textContent = fill(T[key], { position: fill(T.position, { lat: num(ll.lat, 6), lon: num(ll.lng, 6) }),
                                       measure: measureText() });
  }
  function markerOf(icon) {
    var found = null;
    map.eachLayer(function (l) { if (!found && l instanceof L.Marker && l._icon === icon) { found = l; } });
    return found;
  }
  var origin = null;  // {marker, latlng}: where the keys began moving a handle
  var moving = false;  // (Leaflet.draw redraws while a handle moves: a focus lost then is not the person's)
  function moveTo(marker, ll) {
    moving = true;
    marker.fire("dragstart");
    marker.setLatLng(ll);
    marker.fire("drag", { latlng: ll });
    marker.fire("dragend");
    moving = false;
  }
  if (editable) {
    pane.addEventListener("keydown", function (e) {
      var icon = e.target;
      if (!icon.classList || !(icon.classList.contains("leaflet-editing-icon") || icon.classList.contains("leaflet-marker-icon"))) { return; }
      var marker = markerOf(icon);
      if (!marker) { return; }
      var dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (dirs[e.key]) {
        e.preventDefault();
        e.stopPropagation();  // not the map's own arrow keys (they pan it)
        if (!origin || origin.marker !== marker) { origin = { marker: marker, latlng: marker.getLatLng().clone() }; }
        var step = e.shiftKey ? STEP_PX_FAR : STEP_PX;
        var p = map.latLngToContainerPoint(marker.getLatLng()).add(L.point(dirs[e.key][0] * step, dirs[e.key][1] * step));
        moveTo(marker, map.containerPointToLatLng(p));
        icon.focus();
        say("vertex_moved", marker.getLatLng());
      } else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        e.stopPropagation();
        if (origin && origin.marker === marker) { origin = null; say("vertex_set", marker.getLatLng()); }
      } else if (e.key === "Escape" && origin && origin.marker === marker) {
        e.preventDefault();
        e.stopPropagation();
        moveTo(marker, origin.latlng);
        origin = null;
        icon.focus();
        say("vertex_back", marker.getLatLng());
      }
    }, true);
    // the focus gone elsewhere: the keys' next move starts anew
    pane.addEventListener("focusout", function (e) {
      if (!moving && origin && origin.marker._icon === e.target && e.relatedTarget) { origin = null; }
    });
  }

  /* ------------------------------------------------------------ typed coordinates (edit page)
   * « Placer » reads the coordinates field on the server (GET /api/v1/coordinates) and puts the
   * place read on the map instead of the report's shape, editable as it; the form sends it. A
   * shape moved on the map is written back into the field (when short enough to be typed). */
  var where = document.getElementById("where");
  var coordinates = document.getElementById("coordinates");
  var placeButton = document.getElementById("place-coordinates");
  var shapeChoice = document.getElementById("coordinates-shape");
  function editShape(layer) {
    shape = layer;
    shape.addTo(map);
    if (shape.editing) {
      shape.editing.enable();
      shape.on("edit", changed);
      nameHandles();
    } else if (shape.dragging) {
      shape.on("dragend", changed);
    }
  }
  if (editable && where && coordinates && placeButton) {
    var readPlace = function () {
      var params = { q: coordinates.value.trim() };
      var picked = shapeChoice && !shapeChoice.hidden ? shapeChoice.querySelector("input:checked") : null;
      if (picked) { params.shape = picked.value; }
      coordinates.removeAttribute("aria-invalid");
      fetch(where.dataset.coordinatesUrl + "?" + new URLSearchParams(params),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (res) {
          var b = res.body;
          if (!res.ok) {
            coordinates.setAttribute("aria-invalid", "true");
            state.setAttribute("role", "alert");
            state.textContent = I.problemText ? I.problemText(b) : (b.title || b.code);
            return;
          }
          if (shape) {
            if (shape.editing && shape.editing.enabled()) { shape.editing.disable(); }
            shape.remove();
          }
          var g = b.geometry;
          if (g.type === "Point") {
            editShape(L.marker([g.coordinates[1], g.coordinates[0]], { draggable: true, keyboard: true, title: T.point_title || "",
                                                                      alt: T.point_title || L.Marker.prototype.options.alt }));
          } else {
            editShape(L.geoJSON(g, { style: function () { return style; } }).getLayers()[0]);
          }
          field.value = JSON.stringify(g);
          pane.dataset.edited = "1";
          var bounds = shape.getBounds ? shape.getBounds() : L.latLngBounds([shape.getLatLng(), shape.getLatLng()]);
          showInCommune(bounds, !shape.getBounds);
          state.setAttribute("role", "status");
          state.textContent = fill(T.placed, { n: b.positions.length, measure: measureText() });
        })
        .catch(function (err) { state.textContent = String(err); });
    };
    placeButton.addEventListener("click", readPlace);
    coordinates.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); readPlace(); }
    });
  }

  if (commune && geometry) {
    commune.addTo(map);
    commune.bringToBack();
    pane.dataset.communeShown = "1";
  }
  pane.dataset.ready = "1";
})();
