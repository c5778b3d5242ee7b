/* geosignal: when a map's base layer cannot be loaded (offline, tile server down, a wrong
 * GEOSIGNAL_TILE_URL), the map would stay grey while crediting its tiles and say nothing: after
 * a few tile errors, more errors than tiles loaded, a small notice on the map says that the base
 * map is unavailable and that the communes and reports are still shown. It goes when the layer's
 * tiles load again or the layer is switched off, or when its button closes it. So as not to hide
 * the shapes under it, it folds into a small warning button (which unfolds it again) once the
 * map is moved or after a few seconds, and on a small map (a report's, on a phone) it starts
 * folded. Hooked on every
 * Leaflet tile layer made after this script (folium's maps, basemaps.js, report-page.js): loaded
 * right after Leaflet, before the map is made. Its text is the catalogue's
 * (window.geosignalI18n.leaflet). */
(function () {
  "use strict";
  if (!window.L || !L.TileLayer || !L.Control) { return; }
  var ERRORS = 3;  // tile errors before the notice (one broken tile is not an outage)
  var FOLD_AFTER_MS = 8000;  // the notice folds into its warning button after this, or when the map moves
  // a map this short (px) or shorter shows the notice folded from the start: unfolded, it hid
  // two fifths of a report's or an edit page's map on a phone (256 px tall)
  var SMALL_MAP_PX = 320;

  function text(key, fallback) {
    var I = window.geosignalI18n || {};
    return (I.leaflet && I.leaflet[key]) || fallback;
  }

  // the notice's text, and a button that closes it for the rest of the page's life (a phone's
  // map is small: once read, it may go)
  var Notice = L.Control.extend({
    options: { position: "topright" },
    onAdd: function (map) {
      var div = L.DomUtil.create("div", "leaflet-control basemap-notice");
      div.setAttribute("role", "status");
      var message = text("basemap_unavailable",
                         "Fond de carte indisponible : les communes et les signalements restent affichés.");
      // folded, the notice is this button alone; it unfolds the text again
      var unfold = L.DomUtil.create("button", "basemap-notice-unfold", div);
      unfold.type = "button";
      unfold.textContent = "⚠";
      unfold.setAttribute("aria-label", message);
      unfold.setAttribute("aria-expanded", "true");
      unfold.title = message;
      var said = L.DomUtil.create("span", "basemap-notice-text", div);
      said.textContent = message;
      var self = this;
      L.DomEvent.on(unfold, "click", function (e) {
        L.DomEvent.stop(e);
        self._unhook();  // folded or unfolded by hand, it stays so
        fold(map, div, !div.classList.contains("folded"));
      });
      var close = L.DomUtil.create("button", "basemap-notice-close", div);
      close.type = "button";
      close.textContent = "×";
      close.setAttribute("aria-label", text("close_notice", "Fermer ce message"));
      L.DomEvent.on(close, "click", function (e) {
        L.DomEvent.stop(e);
        map._geosignalBasemapDismissed = true;
        hide(map);
      });
      L.DomEvent.disableClickPropagation(div);
      var timer = null;
      var folder = function () { self._unhook(); fold(map, div, true); };
      this._unhook = function () { map.off("movestart", folder); window.clearTimeout(timer); };
      if (map.getSize().y <= SMALL_MAP_PX) {  // the warning button alone: its name says the message
        fold(null, div, true);
        this._unhook = function () {};
        return div;
      }
      map.on("movestart", folder);
      timer = window.setTimeout(folder, FOLD_AFTER_MS);
      return div;
    },
    onRemove: function () { if (this._unhook) { this._unhook(); } }
  });

  // (the map says "basemapnotice" when the notice comes, goes, folds or unfolds: a report's
  // popup moves clear of it, report-map.js)
  function fold(map, div, folded) {
    div.classList.toggle("folded", folded);
    div.querySelector(".basemap-notice-unfold").setAttribute("aria-expanded", String(!folded));
    if (map) { map.fire("basemapnotice"); }
  }

  function show(map) {
    if (map && !map._geosignalBasemapNotice && !map._geosignalBasemapDismissed) {
      map._geosignalBasemapNotice = new Notice().addTo(map);
      map.fire("basemapnotice");
    }
  }
  function hide(map) {
    if (map && map._geosignalBasemapNotice) {
      map._geosignalBasemapNotice.remove();
      map._geosignalBasemapNotice = null;
      map.fire("basemapnotice");
    }
  }

  L.TileLayer.addInitHook(function () {
    var failed = 0, loaded = 0, map = null;
    this.on("add", function () { map = this._map; failed = 0; loaded = 0; });
    this.on("tileerror", function () {
      failed += 1;
      if (failed >= ERRORS && failed > loaded) { show(map); }
    });
    this.on("tileload", function () {
      loaded += 1;
      if (loaded >= failed) { hide(map); }
    });
    this.on("remove", function () { hide(map); map = null; });
  });
}());
