/* geosignal: the configured base layers (GEOSIGNAL_BASEMAPS, services/basemaps.py, sent as a
 * page's data-base-layers JSON) added to a Leaflet map made by a page's own script: the first
 * layer shown, a layer switcher when there are several; and the communes' outlines. One place
 * for the pages whose maps are not drawn by folium (the validation queue, the zones page, the
 * upload page, a report's page and its edit page). The names are the page's language's
 * (views/pages.py base_layers); the switcher's own texts are set by leaflet-setup.js. */
(function () {
  "use strict";
  window.geosignalBaseLayers = function (map, layers) {
    var bases = {};
    (layers || []).forEach(function (layer, i) {
      var options = { attribution: layer.attribution, minZoom: layer.min_zoom, maxZoom: layer.max_zoom };
      var tile = layer.kind === "wms"
        ? L.tileLayer.wms(layer.url, Object.assign(options, { layers: layer.layers, format: layer.format,
            transparent: layer.transparent, styles: layer.styles, version: layer.version }))
        : L.tileLayer(layer.url, options);
      bases[layer.name] = tile;
      if (i === 0) { tile.addTo(map); }
    });
    if ((layers || []).length > 1) { L.control.layers(bases).addTo(map); }
    return map;
  };

  /* The communes' boundaries under a map's shapes (thin, grey, not clickable), from the open
   * data route (GET /api/v1/communes, a page's data-communes-url): without a base map (offline,
   * an intranet) the shapes are not dots on grey. Returns a promise of the layer (each
   * commune's feature has its NIS code as id), null when there is none. */
  window.geosignalCommuneOutlines = function (map, url) {
    if (!url) { return Promise.resolve(null); }
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc) { return null; }
        var outlines = L.geoJSON(fc, { interactive: false,
          style: function (f) {
            return { className: "commune-outline commune-" + f.id, color: "#6b7f99", weight: 1.5, opacity: 0.8, fill: false };
          } });
        outlines.addTo(map);
        outlines.bringToBack();
        map.getContainer().dataset.communeOutlines = String(fc.features.length);
        return outlines;
      })
      .catch(function () { return null; /* the shapes are shown without them */ });
  };
}());
