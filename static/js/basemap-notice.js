/* geosignal: when a map's base layer cannot be loaded (offline, tile server down, a wrong
 * GEOSIGNAL_TILE_URL), the map would stay grey while crediting its tiles and say nothing: after
 * a few tile errors, more errors than tiles loaded, a small notice on the map says that the base
 * map is unavailable and that the communes and reports are still shown. It goes when the layer's
 * tiles load again or the layer is switched off. Hooked on every Leaflet tile layer made after
 * this script (folium's maps, basemaps.js, report-page.js): loaded right after Leaflet, before
 * the map is made. Its text is the catalogue's (window.geosignalI18n.leaflet). */
(function () {
  "use strict";
  if (!window.L || !L.TileLayer || !L.Control) { return; }
  var ERRORS = 3;  // tile errors before the notice (one broken tile is not an outage)

  function text() {
    var I = window.geosignalI18n || {};
    return (I.leaflet && I.leaflet.basemap_unavailable)
      || "Fond de carte indisponible : les communes et les signalements restent affichés.";
  }

  var Notice = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "leaflet-control basemap-notice");
      div.setAttribute("role", "status");
      div.textContent = text();
      L.DomEvent.disableClickPropagation(div);
      return div;
    }
  });

  function show(map) {
    if (map && !map._geosignalBasemapNotice) { map._geosignalBasemapNotice = new Notice().addTo(map); }
  }
  function hide(map) {
    if (map && map._geosignalBasemapNotice) {
      map._geosignalBasemapNotice.remove();
      map._geosignalBasemapNotice = null;
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
