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


def _base_map(tile_url: str, attribution: str) -> folium.Map:
    m = folium.Map(location=[50.41, 4.44], zoom_start=10, tiles=None, control_scale=True,
                   prefer_canvas=False)
    if tile_url:
        folium.TileLayer(tile_url, attr=attribution or "Fond de carte", name="Fond de carte").add_to(m)
    return m


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


def representative_map(commune: dict[str, Any], tile_url: str = "", attribution: str = "") -> MapParts:
    """Return the map of one commune for its representative: the boundary and drawing tools.

    ``commune`` is a GeoJSON Feature in EPSG:4326 (``[lon, lat]``) with ``name_fr``.
    Draw tools: marker (point), polyline (road stretch), polygon, rectangle, circle
    (sent with its ``radius`` in metres).
    """
    m = _base_map(tile_url, attribution)
    folium.GeoJson(
        commune,
        name="Limite communale",
        style_function=lambda _f: {"color": "#1d4e89", "weight": 3, "fill": False},
        tooltip=html.escape(commune["properties"]["name_fr"]),
    ).add_to(m)
    folium.plugins.Draw(
        export=False,
        show_geometry_on_click=False,
        draw_options={"circlemarker": False, "polyline": {"shapeOptions": {"color": "#c0392b"}},
                      "polygon": {"allowIntersection": False, "showArea": True}},
        edit_options={"edit": True, "remove": True},
    ).add_to(m)
    m.fit_bounds(_bounds(commune))
    return _parts(m)


def referent_map(communes: list[dict[str, Any]], tile_url: str = "", attribution: str = "") -> MapParts:
    """Return the referent's map: every commune's boundary, to be coloured by the page.

    ``communes`` are GeoJSON Features (EPSG:4326, simplified) with ``nis_code`` and
    ``name_fr``. Only the boundaries are embedded (small, trusted data); the figures, the
    heatmap and the clustered markers are fetched by ``static/js/dashboard.js`` from the API
    with the chosen filters, by bounding box and zoom. ``layers["communes"]`` names the
    JavaScript variable holding the boundaries' L.GeoJSON layer.
    """
    m = _base_map(tile_url, attribution)
    features = [{
        "type": "Feature",
        "geometry": f["geometry"],
        "properties": {"nis_code": f["properties"]["nis_code"], "name_fr": f["properties"]["name_fr"]},
    } for f in communes]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Communes",
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
                      lines: dict[str, Any] | None, tile_url: str = "", attribution: str = "") -> MapParts:
    """Return the map of a commune sheet: its boundary, its white zone (union of the zone
    reports clipped to it) and its reported road stretches.

    ``commune`` is a GeoJSON Feature, ``white_zone`` / ``lines`` GeoJSON geometries or None,
    all EPSG:4326 ``[lon, lat]``. Nothing user-written is shown.
    """
    m = _base_map(tile_url, attribution)
    folium.GeoJson(
        {"type": "Feature", "geometry": commune["geometry"], "properties": {}},
        name="Limite communale",
        style_function=lambda _f: {"color": "#1d4e89", "weight": 3, "fill": False},
    ).add_to(m)
    if white_zone:
        folium.GeoJson(
            {"type": "Feature", "geometry": white_zone, "properties": {}}, name="Zone blanche",
            style_function=lambda _f: {"color": "#a50f15", "weight": 1, "fillColor": "#de2d26",
                                       "fillOpacity": 0.5},
        ).add_to(m)
    if lines:
        folium.GeoJson(
            {"type": "Feature", "geometry": lines, "properties": {}}, name="Tronçons",
            style_function=lambda _f: {"color": "#6a1b9a", "weight": 4},
        ).add_to(m)
    m.fit_bounds(_bounds(commune))
    return _parts(m)
