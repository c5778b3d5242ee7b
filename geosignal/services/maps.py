"""folium map builders. They return the map's parts to embed in geosignal's own pages.

Maps embed only small, trusted data (commune boundaries, simplified); reports are fetched
by the page's script from the API by bounding box, never embedded wholesale. Text shown in
folium tooltips is HTML-escaped here, because folium writes tooltips with ``innerHTML``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import folium
import folium.plugins


@dataclass(frozen=True)
class MapParts:
    """A rendered folium map: ``head`` (assets, styles), ``body`` (the map div), ``script``
    (the code creating the map) and ``name`` (the JavaScript variable holding the L.Map)."""

    head: str
    body: str
    script: str
    name: str


def _base_map(tile_url: str, attribution: str) -> folium.Map:
    m = folium.Map(location=[50.41, 4.44], zoom_start=10, tiles=None, control_scale=True,
                   prefer_canvas=False)
    if tile_url:
        folium.TileLayer(tile_url, attr=attribution or "Fond de carte", name="Fond de carte").add_to(m)
    return m


def _parts(m: folium.Map) -> MapParts:
    root = m.get_root()
    root.render()
    return MapParts(root.header.render(), root.html.render(), root.script.render(), m.get_name())


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


def share_colour(share: float) -> str:
    """Return the choropleth colour for a white-zone share (0–1), light to dark red."""
    steps = [(0.0, "#fff5f0"), (0.001, "#fcbba1"), (0.01, "#fc9272"), (0.05, "#fb6a4a"),
             (0.10, "#de2d26"), (0.20, "#a50f15")]
    colour = steps[0][1]
    for threshold, c in steps:
        if share >= threshold and (share > 0 or threshold == 0):
            colour = c
    return colour


def referent_map(communes: list[dict[str, Any]], stats: dict[str, dict[str, Any]],
                 tile_url: str = "", attribution: str = "") -> MapParts:
    """Return the referent's choropleth of white-zone share over every commune.

    ``communes`` are GeoJSON Features (EPSG:4326) keyed by ``nis_code``; ``stats`` maps a
    NIS code to its row of :func:`geosignal.services.stats.commune_stats`.
    """
    m = _base_map(tile_url, attribution)
    features = []
    for f in communes:
        nis = f["properties"]["nis_code"]
        row = stats.get(nis, {})
        share = float(row.get("white_zone_share", 0.0))
        features.append({
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {
                "nis_code": nis,
                "name": html.escape(f["properties"]["name_fr"]),
                "share_pct": f"{100 * share:.2f} %",
                "reports": int(row.get("report_count", 0)),
                "colour": share_colour(share),
            },
        })
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Part de zone blanche",
        style_function=lambda f: {"color": "#555", "weight": 1, "fillColor": f["properties"]["colour"],
                                  "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(["name", "nis_code", "share_pct", "reports"],
                                      aliases=["Commune", "NIS", "Zone blanche", "Signalements"]),
    )
    layer.add_to(m)
    if features:
        xs = [_bounds(f) for f in features]
        m.fit_bounds([[min(b[0][0] for b in xs), min(b[0][1] for b in xs)],
                      [max(b[1][0] for b in xs), max(b[1][1] for b in xs)]])
    return _parts(m)
