/* geosignal: the configured base layers (GEOSIGNAL_BASEMAPS, services/basemaps.py, sent as a
 * page's data-base-layers JSON) added to a Leaflet map made by a page's own script: the first
 * layer shown, a layer switcher when there are several. One place for the pages whose maps
 * are not drawn by folium (the validation queue, the zones page). */
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
}());
