"""folium map builders. They return the map's parts to embed in geosignal's own pages.

Maps embed only small, trusted data (commune boundaries, simplified); reports are fetched
by the page's script from the API by bounding box, never embedded wholesale. Text shown in
folium tooltips is HTML-escaped here, because folium writes tooltips with ``innerHTML``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import folium
import folium.plugins

from geosignal.services.basemaps import BaseLayer

#: Styles of the boundaries: the commune shown, and its neighbours (lighter, dashed).
COMMUNE_STYLE = {"color": "#1d4e89", "weight": 3, "fill": False}
NEIGHBOUR_STYLE = {"color": "#6b7f99", "weight": 1.5, "dashArray": "4 4", "fill": False, "opacity": 0.8}
#: A commune sheet's white zone, road stretches and points (its legend is drawn from these).
WHITE_ZONE_STYLE = {"color": "#a50f15", "weight": 1, "fillColor": "#de2d26", "fillOpacity": 0.5}
LINE_STYLE = {"color": "#6a1b9a", "weight": 4}
POINT_STYLE = {"radius": 5, "color": "#a50f15", "weight": 2, "fillColor": "#de2d26", "fillOpacity": 0.8}
#: What a commune sheet's legend can show, in order: (key, how it is drawn, style).
SHEET_LEGEND: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("white_zone", "area", WHITE_ZONE_STYLE),
    ("lines", "line", LINE_STYLE),
    ("points", "point", POINT_STYLE),
    ("commune", "outline", COMMUNE_STYLE),
    ("neighbours", "outline", NEIGHBOUR_STYLE),
)


def sheet_legend(*shown: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The entries of :data:`SHEET_LEGEND` whose key is in ``shown`` (what the map draws)."""
    return [entry for entry in SHEET_LEGEND if entry[0] in shown]


@dataclass(frozen=True)
class MapParts:
    """A rendered folium map: ``head`` (assets, styles), ``body`` (the map div), ``script``
    (the code creating the map), ``name`` (the JavaScript variable holding the L.Map) and
    ``layers`` (JavaScript variables of layers the page's script uses, by role)."""

    head: str
    body: str
    script: str
    name: str
    layers: dict[str, str] = field(default_factory=dict)


def _base_map(layers: tuple[BaseLayer, ...] = ()) -> folium.Map:
    """Return an empty map with the base ``layers`` (the first shown) and, when there are
    several, a layer switcher (Leaflet's layers control, unfolded by a tap or the keyboard)."""
    m = folium.Map(location=[50.41, 4.44], zoom_start=10, tiles=None, control_scale=True,
                   prefer_canvas=False, max_zoom=19)
    for i, layer in enumerate(layers):
        common = {"name": layer.name, "attr": layer.attribution or layer.name, "show": i == 0,
                  "overlay": False, "control": True}
        if layer.kind == "wms":
            folium.WmsTileLayer(layer.url, layers=layer.layers, styles=layer.styles, fmt=layer.format,
                                transparent=layer.transparent, version=layer.version,
                                min_zoom=layer.min_zoom, max_zoom=layer.max_zoom, **common).add_to(m)
        else:
            folium.TileLayer(layer.url, min_zoom=layer.min_zoom, max_zoom=layer.max_zoom, **common).add_to(m)
    if len(layers) > 1:
        folium.LayerControl(position="topright", collapsed=True).add_to(m)
    return m


def _boundaries(m: folium.Map, commune: dict[str, Any], neighbours: list[dict[str, Any]],
                tooltip: bool = True) -> folium.GeoJson:
    """Draw the neighbours (lighter, dashed, under) then the commune's boundary; neither can
    be switched off. Names are HTML-escaped (folium writes tooltips as HTML)."""
    if neighbours:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": f["geometry"],
                 "properties": {"name": html.escape(f["properties"]["name_fr"])}} for f in neighbours]},
            name="Communes voisines", control=False, interactive=tooltip,
            style_function=lambda _f: NEIGHBOUR_STYLE,
            tooltip=folium.GeoJsonTooltip(["name"], labels=False) if tooltip else None,
        ).add_to(m)
    layer = folium.GeoJson(
        {"type": "Feature", "geometry": commune["geometry"], "properties": {}},
        name="Limite communale", control=False, interactive=False,
        style_function=lambda _f: COMMUNE_STYLE,
    )
    layer.add_to(m)
    return layer


def _parts(m: folium.Map) -> MapParts:
    root = m.get_root()
    root.render()
    # geosignal's pages set their own viewport (folium's forbids zooming on phones)
    head = re.sub(r"<meta name=\"viewport\"[^>]*>", "", root.header.render(), flags=re.S)
    return MapParts(head, root.html.render(), root.script.render(), m.get_name())


def _bounds(feature: dict[str, Any]) -> list[list[float]]:
    """Return Leaflet bounds ``[[south, west], [north, east]]`` ([lat, lon]!) of a Feature."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    walk(feature["geometry"]["coordinates"])
    return [[min(ys), min(xs)], [max(ys), max(xs)]]


def representative_map(commune: dict[str, Any], layers: tuple[BaseLayer, ...] = (),
                       neighbours: list[dict[str, Any]] | None = None, draw: bool = True) -> MapParts:
    """Return the map of one commune for its representative: base layers with a switcher,
    the neighbouring communes (lighter), the commune's boundary and, when ``draw`` (the viewer
    may file reports), the drawing tools.

    ``commune`` and ``neighbours`` are GeoJSON Features in EPSG:4326 (``[lon, lat]``) with
    ``name_fr``. Draw tools: marker (point), polyline (road stretch), polygon, rectangle,
    circle (sent with its ``radius`` in metres). ``layers["boundary"]`` names the JavaScript
    variable of the commune's boundary layer.
    """
    m = _base_map(layers)
    boundary = _boundaries(m, commune, neighbours or [], tooltip=False)
    if draw:
        folium.plugins.Draw(
            export=False,
            show_geometry_on_click=False,
            # (the area in Leaflet.draw's hint is measured as the page's, as the server stores
            # it — EPSG:31370: report-map.js; its own geodesic figure differed)
            draw_options={"circlemarker": False, "polyline": {"shapeOptions": {"color": "#c0392b"}},
                          "polygon": {"allowIntersection": False, "showArea": True}},
            edit_options={"edit": True, "remove": True},
        ).add_to(m)
    m.fit_bounds(_bounds(commune))
    parts = _parts(m)
    return MapParts(parts.head, parts.body, parts.script, parts.name, {"boundary": boundary.get_name()})


def referent_map(communes: list[dict[str, Any]], layers: tuple[BaseLayer, ...] = ()) -> MapParts:
    """Return the referent's map: every commune's boundary, to be coloured by the page.

    ``communes`` are GeoJSON Features (EPSG:4326, simplified) with ``nis_code`` and
    ``name_fr``. Only the boundaries are embedded (small, trusted data); the figures, the
    heatmap and the clustered markers are fetched by ``static/js/dashboard.js`` from the API
    with the chosen filters, by bounding box and zoom. ``layers["communes"]`` names the
    JavaScript variable holding the boundaries' L.GeoJSON layer.
    """
    m = _base_map(layers)
    features = [{
        "type": "Feature",
        "geometry": f["geometry"],
        "properties": {"nis_code": f["properties"]["nis_code"], "name_fr": f["properties"]["name_fr"]},
    } for f in communes]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Communes", control=False,
        style_function=lambda _f: {"color": "#555", "weight": 1, "fillColor": "#ffffff", "fillOpacity": 0.6},
    )
    layer.add_to(m)
    if features:
        xs = [_bounds(f) for f in features]
        m.fit_bounds([[min(b[0][0] for b in xs), min(b[0][1] for b in xs)],
                      [max(b[1][0] for b in xs), max(b[1][1] for b in xs)]])
    parts = _parts(m)
    return MapParts(parts.head, parts.body, parts.script, parts.name, {"communes": layer.get_name()})


def commune_sheet_map(commune: dict[str, Any], white_zone: dict[str, Any] | None,
                      lines: dict[str, Any] | None, layers: tuple[BaseLayer, ...] = (),
                      neighbours: list[dict[str, Any]] | None = None,
                      points: dict[str, Any] | None = None) -> MapParts:
    """Return the map of a commune sheet: the neighbouring communes (lighter), its boundary,
    its white zone (union of the zone reports clipped to it), its reported road stretches and
    its point reports.

    ``commune`` and ``neighbours`` are GeoJSON Features, ``white_zone`` / ``lines`` / ``points``
    (a MultiPoint) GeoJSON geometries or None, all EPSG:4326 ``[lon, lat]``. Nothing
    user-written is shown.
    """
    m = _base_map(layers)
    _boundaries(m, commune, neighbours or [])
    if white_zone:
        folium.GeoJson(
            {"type": "Feature", "geometry": white_zone, "properties": {}}, name="Zone blanche", control=False,
            style_function=lambda _f: WHITE_ZONE_STYLE,
        ).add_to(m)
    if lines:
        folium.GeoJson(
            {"type": "Feature", "geometry": lines, "properties": {}}, name="Tronçons", control=False,
            style_function=lambda _f: LINE_STYLE,
        ).add_to(m)
    if points:
        folium.GeoJson(
            {"type": "Feature", "geometry": points, "properties": {}}, name="Points", control=False,
            marker=folium.CircleMarker(radius=POINT_STYLE["radius"], color=POINT_STYLE["color"],
                                       weight=POINT_STYLE["weight"], fill=True, fill_color=POINT_STYLE["fillColor"],
                                       fill_opacity=POINT_STYLE["fillOpacity"]),
        ).add_to(m)
    m.fit_bounds(_bounds(commune))
    return _parts(m)
