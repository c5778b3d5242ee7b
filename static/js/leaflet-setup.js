/* geosignal: settings of Leaflet for every map, loaded right after Leaflet, before a map is made.
 * - The scale bar in metres and kilometres only (no miles), for every scale control made after
 *   this script, including the ones folium's map scripts add (L.control.scale()).
 * - Leaflet.draw 1.0.4 calls L.Polyline._flat, which Leaflet 1.9 keeps only to warn that it is
 *   deprecated (a console warning at every edit): it is given L.LineUtil.isFlat, which the
 *   deprecated function calls anyway.
 * - Leaflet's and Leaflet.draw's own texts in the page's language, from the page's catalogue
 *   (window.geosignalI18n: its "leaflet", "draw" and "draw_touch"): the zoom buttons' titles and
 *   names, the layer switcher's button, a marker's alternative text, a popup's close button,
 *   the title of Leaflet's credit, Leaflet.draw's toolbar and tooltips. The catalogue is loaded after this script on the pages whose maps folium writes
 *   (their Leaflet is in the page's head) and before it on the others: the texts are set when a
 *   map or one of these controls is first made, when both are there, whatever their order. */
(function () {
  "use strict";
  if (!window.L) { return; }
  if (L.Control && L.Control.Scale) { L.Control.Scale.mergeOptions({ imperial: false }); }
  if (L.Polyline && L.LineUtil && typeof L.LineUtil.isFlat === "function") { L.Polyline._flat = L.LineUtil.isFlat; }

  function catalogue() { return window.geosignalI18n || null; }
  function leafletText(key) {
    var I = catalogue();
    return (I && I.leaflet && I.leaflet[key]) || "";
  }
  function merge(target, source) {
    Object.keys(source || {}).forEach(function (k) {
      if (source[k] && typeof source[k] === "object" && target[k] && typeof target[k] === "object") {
        merge(target[k], source[k]);
      } else {
        target[k] = source[k];
      }
    });
  }

  var leafletDone = false;
  function applyTexts() {
    var I = catalogue();
    if (!I) { return; }
    if (!leafletDone) {
      leafletDone = true;
      if (leafletText("zoom_in") && L.Control.Zoom) {
        L.Control.Zoom.mergeOptions({ zoomInTitle: leafletText("zoom_in"), zoomOutTitle: leafletText("zoom_out") });
      }
      if (leafletText("marker") && L.Marker) { L.Marker.mergeOptions({ alt: leafletText("marker") }); }
    }
    // Leaflet.draw may be loaded after this script (the edit page): its texts once it is there
    if (L.drawLocal && !L.drawLocal.geosignalLanguage && I.draw) {
      merge(L.drawLocal, I.draw);
      // a finger taps: the instructions of a touch screen
      if (window.matchMedia && window.matchMedia("(pointer: coarse)").matches) { merge(L.drawLocal, I.draw_touch); }
      L.drawLocal.geosignalLanguage = I.lang || true;
    }
  }
  applyTexts();
  // made with a map (the zoom buttons: by the map's own first hook, before any hook added here)
  // or on their own: the texts are set first
  if (L.Control.Zoom) { L.Control.Zoom.addInitHook(applyTexts); }
  if (L.Marker) { L.Marker.addInitHook(applyTexts); }
  L.Map.addInitHook(applyTexts);

  // a popup's close button: named in English by Leaflet ("Close popup")
  if (L.Popup) {
    var popupLayout = L.Popup.prototype._initLayout;
    L.Popup.include({
      _initLayout: function () {
        popupLayout.apply(this, arguments);
        if (this._closeButton && leafletText("close_popup")) { this._closeButton.setAttribute("aria-label", leafletText("close_popup")); }
      }
    });
  }
  // Leaflet's credit, titled in English ("A JavaScript library for interactive maps")
  if (L.Control.Attribution) {
    var attributionUpdate = L.Control.Attribution.prototype._update;
    L.Control.Attribution.include({
      _update: function () {
        attributionUpdate.apply(this, arguments);
        var credit = this._container && this._container.querySelector("a[href='https://leafletjs.com']");
        if (credit && leafletText("library")) { credit.title = leafletText("library"); }
      }
    });
  }

  // the layer switcher's button: Leaflet writes its English title ("Layers") when the switcher
  // is added; it is named in the page's language, for a screen reader too
  if (L.Control.Layers) {
    var initLayout = L.Control.Layers.prototype._initLayout;
    L.Control.Layers.include({
      _initLayout: function () {
        initLayout.apply(this, arguments);
        applyTexts();
        var name = leafletText("layers");
        if (name && this._layersLink) {
          this._layersLink.title = name;
          this._layersLink.setAttribute("aria-label", name);
        }
      }
    });
  }

  /* ---------------------------------------------------------------- shapes and the keyboard
   * Leaflet 1.9 makes any shape with a tooltip a tab stop (Chromium focuses an SVG path that has
   * focus listeners, which Leaflet adds to open the tooltip) tied to its tooltip by
   * aria-describedby only: no name, no key action, and focusable when it is clipped to 0×0 or
   * off the map. Each such shape is decided here, once for every map:
   * - a shape its page gives an action (L.geosignalShapeAction) is named, is a link or a button,
   *   acts on Enter or Space as a click does, and is a tab stop only while it shows on the map;
   * - any other is taken out of the tab order and hidden from assistive technology: its page
   *   gives the same beside the map (a list of reports, the commune table).
   * Leaflet.markercluster's clusters are named by their count and what they do (« 7
   * signalements : zoomer », the language's plural form), and Leaflet.draw's invisible marker
   * that catches the mouse while drawing (opacity 0) is neither a tab stop nor exposed. */
  function elementOf(layer) { return typeof layer.getElement === "function" ? layer.getElement() : null; }
  // drawn within the map's box, with a size (a clipped path is "M0 0", 0×0)
  function shownOnMap(layer, el) {
    var map = layer._map;
    if (!map || !el || !el.isConnected) { return false; }
    var r = el.getBoundingClientRect(), box = map.getContainer().getBoundingClientRect();
    return r.width > 0 && r.height > 0 && box.width > 0 && box.height > 0 &&
      r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
  }
  function centreOf(layer) {
    return layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng ? layer.getLatLng() : null;
  }
  function pressed(layer, e) {
    if (e.key !== "Enter" && e.key !== " " && e.key !== "Spacebar") { return; }
    L.DomEvent.preventDefault(e);
    L.DomEvent.stopPropagation(e);
    var at = centreOf(layer);
    layer.fire("click", { latlng: at, originalEvent: e, keyboard: true }, true);
  }
  function tabStop(layer) {
    var el = elementOf(layer);
    if (el && layer.geosignalActive) { el.setAttribute("tabindex", shownOnMap(layer, el) ? "0" : "-1"); }
  }
  function watchView(map, layer) {
    if (!map._geosignalShapes) {
      map._geosignalShapes = [];
      map.on("moveend zoomend resize viewreset", function () {
        map._geosignalShapes.forEach(function (l) { if (l._map === map) { tabStop(l); } });
      });
    }
    if (map._geosignalShapes.indexOf(layer) < 0) { map._geosignalShapes.push(layer); }
  }
  /* Decide a focusable shape (``layer``: a path or a marker on the map; ``owner``: the layer its
   * tooltip is bound to, the same or its group). */
  function decideShape(layer, owner) {
    var el = elementOf(layer);
    if (!el) { return; }
    var action = layer.geosignalAction || (owner && owner.geosignalAction) || null;
    if (!action) {
      if (el.tagName !== "path" && el.tagName !== "PATH" && !el.hasAttribute("tabindex")) { return; }  // a marker no tab stop
      layer.geosignalActive = false;
      el.setAttribute("tabindex", "-1");
      el.setAttribute("aria-hidden", "true");
      el.removeAttribute("role");
      return;
    }
    layer.geosignalActive = true;
    el.removeAttribute("aria-hidden");
    el.setAttribute("role", action.role || "button");
    var name = typeof action.name === "function" ? action.name(layer) : action.name;
    if (name) { el.setAttribute("aria-label", name); }
    if (!el.geosignalKeys) {
      el.geosignalKeys = true;
      L.DomEvent.on(el, "keydown", function (e) { pressed(layer, e); });
    }
    if (layer._map) { watchView(layer._map, layer); }
    tabStop(layer);
  }
  if (L.Layer && L.Layer.prototype._addFocusListenersOnLayer) {
    var focusListeners = L.Layer.prototype._addFocusListenersOnLayer;
    L.Layer.include({
      _addFocusListenersOnLayer: function (layer) {
        focusListeners.apply(this, arguments);
        decideShape(layer, this);
      }
    });
  }
  /* Give a shape (or each shape of a group) an action for the keyboard: ``options.name``, its
   * accessible name (a text, or a function of the shape returning one: e.g. its tooltip's text,
   * the commune's name and figure); ``options.role``, "link" (it opens a page) or "button" (the
   * default). Enter and Space then do what a click on it does (its "click" listeners get
   * ``{latlng: its centre, keyboard: true}``). Returns the layer. */
  L.geosignalShapeAction = function (layer, options) {
    layer.geosignalAction = options;
    var apply = function (l) { decideShape(l, layer); };
    if (layer.eachLayer && !elementOf(layer)) { layer.eachLayer(apply); } else { apply(layer); }
    return layer;
  };

  function pluralForm(n) {
    var I = catalogue();
    return I && I.pluralForm ? I.pluralForm(n) : (n === 1 ? "one" : "other");
  }
  function nameClusters() {
    if (!L.MarkerCluster || L.MarkerCluster.prototype.geosignalNamed) { return; }
    var createIcon = L.MarkerCluster.prototype.createIcon;
    L.MarkerCluster.prototype.createIcon = function () {
      var icon = createIcon.apply(this, arguments);
      var n = this.getChildCount(), text = leafletText("cluster_" + pluralForm(n));
      var I = catalogue();
      if (text && icon && icon.setAttribute) {
        icon.setAttribute("aria-label", text.replace("{n}", Number(n).toLocaleString((I && I.locale) || "fr-BE")));
      }
      return icon;
    };
    L.MarkerCluster.prototype.geosignalNamed = true;
  }
  if (L.Marker) {
    L.Marker.addInitHook(function () {
      nameClusters();  // Leaflet.markercluster is loaded after this script: named as its first marker is made
      var icon = this.options.icon;
      if (icon && icon.options && /\bleaflet-mouse-marker\b/.test(icon.options.className || "")) {
        this.options.keyboard = false;
        this.on("add", function () {
          var el = this.getElement();
          if (el) { el.setAttribute("aria-hidden", "true"); el.removeAttribute("tabindex"); el.removeAttribute("role"); }
        });
      }
    });
  }

  /* Leaflet.draw and focus: a drawing (or an edit, a removal) that ends — finished, cancelled with
   * Escape or its « Annuler » — gives focus back to the tool that started it; Leaflet.draw left it
   * on <body> (the mouse marker or the action pressed went away) or on the map. And Escape in a
   * popup's content (its link) closes it, as Escape on the map does (a page puts focus back
   * where the popup came from: report-map.js). */
  /* The vertices Leaflet.draw places while a line or a zone is drawn with the mouse are no tab
   * stops either (unnamed buttons that do nothing from the keyboard; the keyboard's way to give
   * a shape is the coordinates field, one position per line). Patched when a map is made: every
   * script of the page is loaded by then. The edit page's vertex handles (L.Edit) keep theirs:
   * they are named and move with the arrow keys (report-page.js). */
  function quietDrawingVertices() {
    if (!L.Draw || !L.Draw.Polyline || L.Draw.Polyline.prototype.geosignalQuiet) { return; }
    var createMarker = L.Draw.Polyline.prototype._createMarker;
    L.Draw.Polyline.prototype._createMarker = function () {
      var marker = createMarker.apply(this, arguments), el = marker && marker.getElement && marker.getElement();
      if (el) { el.setAttribute("aria-hidden", "true"); el.removeAttribute("tabindex"); el.removeAttribute("role"); }
      return marker;
    };
    L.Draw.Polyline.prototype.geosignalQuiet = true;
  }

  /* On a phone the drawing's actions (« Terminer | Supprimer le dernier point | Annuler ») sit
   * in a bar along the map's bottom edge, not beside the tool chosen: there, halfway down a
   * phone's map, they covered its middle (a commune's centre, where the taps meant for the map
   * landed on them) and the hint that says what to tap. Leaflet.draw keeps showing and hiding
   * them where they are; the bar stops their taps from reaching the map, as a control does. */
  var NARROW = window.matchMedia ? window.matchMedia("(max-width: 699px)") : null;
  function dockDrawingActions(map) {
    if (!NARROW || !NARROW.matches) { return; }
    var container = map.getContainer(), dock = container.querySelector(".draw-actions-dock");
    if (!dock) {
      dock = L.DomUtil.create("div", "draw-actions-dock", container);
      L.DomEvent.disableClickPropagation(dock);
      L.DomEvent.disableScrollPropagation(dock);
    }
    Array.prototype.forEach.call(container.querySelectorAll(".leaflet-draw-section .leaflet-draw-actions"),
                                 function (actions) { dock.appendChild(actions); });
  }

  /* A vertex handle on a touch screen — a zone's or a line's, drawn (L.Draw, the map page) or
   * edited (L.Edit, the map and edit pages) — is a 44 px target a finger takes (the pages' touch
   * targets), its square drawn smaller inside it (geosignal.css .vertex-handle); Leaflet.draw's
   * own were 20 px (a zone closed on its first vertex, a corner moved beside the zoom buttons).
   * Set when a map is made, as above. */
  var HANDLE_PX = L.geosignalHandlePx = 44;
  function bigTouchHandles() {
    if (!L.Draw || !L.Draw.Polyline || L.Draw.Polyline.prototype.geosignalHandles) { return; }
    var handle = L.divIcon({ iconSize: L.point(HANDLE_PX, HANDLE_PX),
                             className: "leaflet-div-icon leaflet-editing-icon leaflet-touch-icon vertex-handle" });
    L.Draw.Polyline.prototype.options.touchIcon = handle;  // (L.Draw.Polygon inherits it)
    if (L.Edit && L.Edit.PolyVerticesEdit) { L.Edit.PolyVerticesEdit.prototype.options.touchIcon = handle; }
    L.Draw.Polyline.prototype.geosignalHandles = true;
  }

  L.Map.addInitHook(function () {
    quietDrawingVertices();
    bigTouchHandles();
    var map = this, tool = null;
    var TOOLS = { "draw:drawstart": ".leaflet-draw-draw-", "draw:editstart": ".leaflet-draw-edit-edit",
                  "draw:deletestart": ".leaflet-draw-edit-remove" };
    map.on("draw:drawstart draw:editstart draw:deletestart", function (e) {
      dockDrawingActions(map);
      var container = map.getContainer(), active = document.activeElement;
      var selector = TOOLS[e.type] + (e.type === "draw:drawstart" ? e.layerType : "");
      tool = active && container.contains(active) && active.closest(".leaflet-draw-toolbar a") ? active
        : container.querySelector(selector);
    });
    map.on("draw:drawstop draw:editstop draw:deletestop", function () {
      var back = tool;
      tool = null;
      window.setTimeout(function () {
        if (tool) { return; }  // another tool was chosen: it has the focus
        var active = document.activeElement, container = map.getContainer();
        // on <body>, the map, or a control of the drawing that goes with it (« Annuler »…)
        var lost = !active || active === document.body || active === container || !active.isConnected ||
          (container.contains(active) && (active.offsetParent === null || !!active.closest(".leaflet-draw-actions")));
        if (lost && back && back.isConnected && back.offsetParent !== null) { back.focus(); }
      }, 0);
    });
    L.DomEvent.on(map.getContainer(), "keydown", function (e) {
      if (e.key === "Escape" && map._popup && e.target.closest && e.target.closest(".leaflet-popup")) {
        L.DomEvent.stopPropagation(e);
        map.closePopup();
      }
    });
  });

  /* The options of a fit (fitBounds) that keeps a shape clear of the map's controls: the zoom and
   * drawing tools at the left, the layer switcher and a base-map notice at the top right, the
   * scale and the attribution at the bottom (a circle fitted to the edges of a phone's map had
   * its bottom under the attribution and its side under the tools). ``over``: elements of the
   * page floating over the map's top (a phone's measure line). Each side's room is measured when
   * the fit is made, and kept under 40 % of the map so that a small map still shows the shape. */
  L.geosignalFitOptions = function (map, options, over) {
    var container = map.getContainer(), box = container.getBoundingClientRect(), margin = 8;
    function rects(nodes) {
      return Array.prototype.map.call(nodes, function (n) { return n.getBoundingClientRect(); })
        .filter(function (r) { return r.width > 0 && r.height > 0; });
    }
    var left = 0, top = 0, bottom = 0;
    rects(container.querySelectorAll(".leaflet-top.leaflet-left > .leaflet-control"))
      .forEach(function (r) { left = Math.max(left, r.right - box.left); });
    rects(container.querySelectorAll(".leaflet-top.leaflet-right > .leaflet-control")).concat(rects(over || []))
      .forEach(function (r) { top = Math.max(top, r.bottom - box.top); });
    rects(container.querySelectorAll(".leaflet-bottom > .leaflet-control"))
      .forEach(function (r) { bottom = Math.max(bottom, box.bottom - r.top); });
    // a padding the caller gives (``padding: [x, y]``) is kept as the least room on every side
    var least = options && options.padding ? L.point(options.padding) : L.point(0, 0);
    function room(v, size, at) { return Math.round(Math.min(Math.max(0, v) + Math.max(margin, at), size * 0.4)); }
    return L.extend({}, options, {
      paddingTopLeft: L.point(room(left, box.width, least.x), room(top, box.height, least.y)),
      paddingBottomRight: L.point(room(0, box.width, least.x), room(bottom, box.height, least.y))
    });
  };
}());
