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
