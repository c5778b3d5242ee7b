"""A commune's map drawn as SVG on the server, for print (the commune sheet's PDF).

Flask-free and database-free: takes shapely geometries in Belgian Lambert 72 (EPSG:31370,
metres) and the texts to print (already translated by the caller), returns SVG text. The map
is drawn in EPSG:31370 itself, one scale for x and y, so shapes and distances are true; the
scale bar is a round length in metres measured in that projection; the north arrow points to
true north (the grid convergence of EPSG:31370 at the map's centre, a fraction of a degree in
the territory).

Layout (SVG user unit = 0.1 mm): the map panel (commune, neighbours lighter and named, reports
coloured by status, scale bar, north arrow), then a strip with the legend, the sources and the
date. Nothing is fetched: no image, no font file, no URL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import shapely
import shapely.errors
import shapely.ops
from shapely.geometry.base import BaseGeometry

from geosignal.geo import LAMBERT72, WGS84, transform_xy

#: SVG user units per millimetre (coordinates are written with one decimal: 0.01 mm).
UNITS_PER_MM = 10

#: Look of the layers (colours as #rrggbb). Zones are filled with their status colour at
#: :data:`ZONE_FILL_OPACITY` over the commune's white, outlined in the full colour.
COMMUNE_FILL = "#ffffff"
COMMUNE_STROKE = "#1a1a1a"
NEIGHBOUR_FILL = "#dcdcdc"
NEIGHBOUR_STROKE = "#8c8c8c"
NEIGHBOUR_TEXT = "#4d4d4d"
OUTSIDE_FILL = "#f3f3f3"
ZONE_FILL_OPACITY = 0.6
FALLBACK_COLOUR = "#444444"
FONT_FAMILY = "DejaVu Sans, Liberation Sans, sans-serif"

#: Share of the panel's width the scale bar may take at most.
SCALE_BAR_MAX_SHARE = 0.25


@dataclass(frozen=True)
class MapTexts:
    """What the map prints, in the reader's language (the caller translates).

    ``status_labels``: status → label, in legend order (only these statuses are drawn);
    ``sources``: lines printed under the legend; ``date_line``: e.g. "État au 05/03/2025".
    """

    legend_title: str
    commune: str
    neighbours: str
    north: str
    status_labels: Mapping[str, str]
    sources: Sequence[str] = ()
    date_line: str = ""
    decimal_comma: bool = True


@dataclass(frozen=True)
class SvgMap:
    """The SVG and the measures a reader (or a test) can check.

    ``metres_per_unit``: ground metres per SVG user unit (EPSG:31370); ``extent``: the ground
    shown in the panel, ``(min_x, min_y, max_x, max_y)`` in EPSG:31370 metres;
    ``scale_bar_m``: the scale bar's length in metres, drawn ``scale_bar_units`` long;
    ``north_deg``: the arrow's angle from the top of the page, clockwise, degrees.
    """

    svg: str
    width_mm: float
    height_mm: float
    metres_per_unit: float
    extent: tuple[float, float, float, float]
    scale_bar_m: float
    scale_bar_units: float
    north_deg: float
    drawn: dict[str, int] = field(default_factory=dict)


def nice_length(max_m: float) -> float:
    """Return the largest round length (1, 2 or 5 × 10ⁿ metres) not above ``max_m`` metres.

    Raises ValueError for a length that is not a positive finite number."""
    if not (max_m > 0 and math.isfinite(max_m)):
        raise ValueError(f"no scale bar for {max_m!r} m")
    power = 10 ** math.floor(math.log10(max_m))
    for step in (5, 2, 1):
        if step * power <= max_m * (1 + 1e-9):
            return float(step * power)
    return float(power)  # pragma: no cover  (1 × 10ⁿ ≤ max_m always)


def length_label(metres: float, decimal_comma: bool = True) -> str:
    """Return a scale-bar label: ``"500 m"``, ``"2 km"``, ``"2,5 km"`` (French decimal comma
    unless ``decimal_comma`` is False)."""
    if metres < 1000:
        text = f"{metres:g} m"
    else:
        text = f"{metres / 1000:g} km"
    return text.replace(".", ",") if decimal_comma else text


def north_angle_deg(x: float, y: float) -> float:
    """Return the angle of true north at (x, y) EPSG:31370, from grid north, clockwise, in
    degrees (the meridian convergence of Lambert 72: about +0.05° at Charleroi)."""
    lonlat = transform_xy(np.array([[x, y]]), LAMBERT72, WGS84)[0]
    up = transform_xy(np.array([[lonlat[0], lonlat[1] + 0.01]]), WGS84, LAMBERT72)[0]
    return math.degrees(math.atan2(up[0] - x, up[1] - y))


def _num(v: float) -> str:
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _path_data(geoms: BaseGeometry | np.ndarray, closed: bool) -> str:
    """Return one SVG path ``d`` for every ring (``closed``: polygons, each ring ``M…Z``) or
    every line (``M…``) of ``geoms`` (SVG units), formatted all at once (0.1 unit)."""
    parts = shapely.get_parts(np.atleast_1d(np.asarray(geoms, dtype=object)))
    parts = parts[~shapely.is_empty(parts)] if len(parts) else parts
    lines = shapely.get_rings(parts) if closed else parts
    if not len(lines):
        return ""
    coords, index = shapely.get_coordinates(lines, return_index=True)
    if not len(coords):
        return ""
    starts = np.r_[0, np.flatnonzero(np.diff(index)) + 1]
    ends = np.r_[starts[1:], len(index)] - 1
    tokens = np.char.add(np.char.add(np.char.mod("%.1f", coords[:, 0]), " "),
                         np.char.mod("%.1f", coords[:, 1])).astype(object)
    tokens[starts] = "M" + tokens[starts]
    keep = np.ones(len(tokens), dtype=bool)
    if closed:  # the closing position is implied by Z
        tokens[ends - 1] = tokens[ends - 1] + "Z"
        keep[ends] = False
    return " ".join(tokens[keep].tolist())


def _polygon_path(geom: BaseGeometry | np.ndarray) -> str:
    return _path_data(geom, closed=True)


def _line_path(geom: BaseGeometry | np.ndarray) -> str:
    return _path_data(geom, closed=False)


class _Frame:
    """The affine map from EPSG:31370 metres to SVG units of the panel (y down)."""

    def __init__(self, bounds: tuple[float, float, float, float], panel: tuple[float, float, float, float],
                 margin: float) -> None:
        min_x, min_y, max_x, max_y = bounds
        px, py, pw, ph = panel
        w = max(max_x - min_x, 1.0) * (1 + 2 * margin)
        h = max(max_y - min_y, 1.0) * (1 + 2 * margin)
        self.scale = min(pw / w, ph / h)  # units per metre, same in x and y
        self.cx, self.cy = (min_x + max_x) / 2, (min_y + max_y) / 2
        self.px, self.py, self.pw, self.ph = px, py, pw, ph
        half_w, half_h = pw / 2 / self.scale, ph / 2 / self.scale
        self.extent = (self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h)

    def apply(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        out[:, 0] = self.px + self.pw / 2 + (xy[:, 0] - self.cx) * self.scale
        out[:, 1] = self.py + self.ph / 2 - (xy[:, 1] - self.cy) * self.scale
        return out

    def to_units(self, geoms: np.ndarray) -> np.ndarray:
        """Clip ``geoms`` (EPSG:31370) to the panel's ground, simplify them below 0.05 mm and
        return them in SVG units, all at once (one clip, one simplify, one transform)."""
        if len(geoms) == 0:
            return geoms
        view = shapely.box(*self.extent)
        clipped = shapely.intersection(geoms, view)
        simplified = shapely.simplify(clipped, 0.5 / self.scale, preserve_topology=True)
        return shapely.transform(simplified, self.apply)


def commune_map_svg(
    commune: BaseGeometry,
    neighbours: Sequence[tuple[str, BaseGeometry]],
    reports: Sequence[tuple[str, BaseGeometry]],
    texts: MapTexts,
    colours: Mapping[str, str],
    *,
    width_mm: float = 186.0,
    panel_height_mm: float = 128.0,
    legend_rows: int = 3,
) -> SvgMap:
    """Draw one commune's map as SVG, ``width_mm`` wide: the panel (``panel_height_mm``), then a strip.

    ``commune``: its boundary; ``neighbours``: ``(name, boundary)`` of the communes around it
    (drawn lighter, named where they show); ``reports``: ``(status, geometry)`` of the reports
    to draw — zones filled, road stretches as thick lines, points as dots, in the status's
    colour from ``colours`` (``#rrggbb``), statuses not in ``texts.status_labels`` left out.
    Every geometry is in EPSG:31370 (metres). The panel shows the commune's bounding box with a
    6 % margin, scaled equally in x and y.

    The strip under the panel holds the legend (``legend_rows`` rows) and ``texts.sources``
    and ``texts.date_line``; its height is :func:`strip_height_mm`.

    Returns a :class:`SvgMap`; ``drawn`` counts what was drawn per status.
    Raises ValueError for an empty commune boundary.
    """
    if commune is None or commune.is_empty:
        raise ValueError("empty commune boundary")
    u = UNITS_PER_MM
    n_lines = len([t for t in [*texts.sources, texts.date_line] if t])
    strip_mm = strip_height_mm(len(texts.status_labels), n_lines, legend_rows)
    width, panel_h, strip_h = width_mm * u, panel_height_mm * u, strip_mm * u
    frame = _Frame(commune.bounds, (0.0, 0.0, width, panel_h), margin=0.06)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:g}mm" height="{panel_height_mm + strip_mm:g}mm" '
        f'viewBox="0 0 {_num(width)} {_num(panel_h + strip_h)}" font-family={quoteattr(FONT_FAMILY)} '
        'class="commune-map" role="img">',
        f'<defs><clipPath id="panel"><rect x="0" y="0" width="{_num(width)}" height="{_num(panel_h)}"/></clipPath></defs>',
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(panel_h)}" fill="{OUTSIDE_FILL}"/>',
        '<g clip-path="url(#panel)">',
    ]

    # neighbours, lighter, then their names where a fair piece of them shows
    names = [n for n, _ in neighbours]
    n_geoms = frame.to_units(np.array([g for _, g in neighbours], dtype=object)) if neighbours else np.array([])
    out.append(f'<g id="neighbours" fill="{NEIGHBOUR_FILL}" stroke="{NEIGHBOUR_STROKE}" stroke-width="2">')
    for g in n_geoms:
        path = "" if g.is_empty else _polygon_path(_polygonal(g))
        if path:
            out.append(f'<path d="{path}" fill-rule="evenodd"/>')
    out.append("</g>")

    (c_units,) = frame.to_units(np.array([commune], dtype=object))
    commune_path = _polygon_path(c_units)
    out.append(f'<path id="commune-area" d="{commune_path}" fill="{COMMUNE_FILL}" fill-rule="evenodd" stroke="none"/>')

    # reports: zones, then lines, then points, each in legend order so the order is stable
    shown = [s for s in texts.status_labels]
    statuses = np.array([s for s, _ in reports], dtype=object)
    keep = np.isin(statuses, shown) if len(reports) else np.zeros(0, dtype=bool)
    r_geoms = np.array([g for _, g in reports], dtype=object)[keep] if len(reports) else np.array([], dtype=object)
    statuses = statuses[keep] if len(reports) else statuses
    r_units = frame.to_units(r_geoms)
    dims = shapely.get_dimensions(r_units) if len(r_units) else np.array([], dtype=int)
    empty = shapely.is_empty(r_units) if len(r_units) else np.array([], dtype=bool)
    drawn: dict[str, int] = {s: 0 for s in shown}
    layers = {2: [], 1: [], 0: []}  # type: dict[int, list[str]]
    for status in shown:
        colour = colours.get(status, FALLBACK_COLOUR)
        for dim in (2, 1, 0):
            idx = np.flatnonzero((statuses == status) & (dims == dim) & ~empty)
            if not len(idx):
                continue
            drawn[status] += len(idx)
            if dim == 2:
                # zones of one status dissolved: overlaps drawn once, as the area is counted
                d = _polygon_path(_dissolve(np.array([_polygonal(g) for g in r_units[idx]], dtype=object)))
                layers[2].append(f'<path class="zone status-{escape(status)}" d="{d}" fill="{colour}" '
                                 f'fill-opacity="{ZONE_FILL_OPACITY}" fill-rule="nonzero" stroke="{colour}" '
                                 'stroke-width="3" stroke-linejoin="round"/>')
            elif dim == 1:
                d = _line_path(np.array([_lineal(g) for g in r_units[idx]], dtype=object))
                layers[1].append(f'<path class="line status-{escape(status)}" d="{d}" fill="none" stroke="{colour}" '
                                 'stroke-width="8" stroke-linecap="round" stroke-linejoin="round"/>')
            else:
                xy = np.char.mod("%.1f", shapely.get_coordinates(r_units[idx]))
                dots = "".join(f'<circle cx="{x}" cy="{y}" r="12"/>' for x, y in xy.tolist())
                layers[0].append(f'<g class="point status-{escape(status)}" fill="{colour}" stroke="#ffffff" '
                                 f'stroke-width="3">{dots}</g>')
    out.append('<g id="reports">' + "".join(layers[2] + layers[1] + layers[0]) + "</g>")
    out.append(f'<path id="commune-boundary" d="{commune_path}" fill="none" stroke="{COMMUNE_STROKE}" '
               'stroke-width="6" stroke-linejoin="round"/>')

    # neighbours' names, at a point inside their visible part, if it is big enough to hold it
    out.append(f'<g id="neighbour-names" fill="{NEIGHBOUR_TEXT}" font-size="28" text-anchor="middle">')
    for name, g in zip(names, n_geoms, strict=True):
        place = _label_place(g, len(name) * 16.5 + 12, 34)
        if place is not None:
            out.append(f'<text x="{_num(place[0])}" y="{_num(place[1] + 10)}">{escape(name)}</text>')
    out.append("</g>")
    out.append("</g>")  # end of the clipped panel

    scale_m, scale_units, scale_svg = _scale_bar(frame, texts)
    north = north_angle_deg(frame.cx, frame.cy)
    out.append(scale_svg)
    out.append(_north_arrow(width, north, texts.north))
    out.append(f'<rect x="0" y="0" width="{_num(width)}" height="{_num(panel_h)}" fill="none" stroke="#1a1a1a" '
               'stroke-width="3"/>')
    out.append(_legend_strip(texts, colours, shown, width, panel_h, legend_rows))
    out.append("</svg>")
    return SvgMap(
        svg="".join(out), width_mm=width_mm, height_mm=panel_height_mm + strip_mm,
        metres_per_unit=1.0 / frame.scale, extent=frame.extent, scale_bar_m=scale_m,
        scale_bar_units=scale_units, north_deg=north, drawn=drawn,
    )


def _label_place(g: BaseGeometry, width: float, height: float) -> tuple[float, float] | None:
    """Return where a label ``width`` × ``height`` (SVG units) fits inside the largest visible
    part of ``g``, centred on its pole of inaccessibility, or None when it does not fit."""
    parts = [p for p in shapely.get_parts(_polygonal(g)) if not p.is_empty] if not g.is_empty else []
    if not parts:
        return None
    largest = max(parts, key=lambda p: p.area)
    if largest.area < width * height:
        return None
    centre = shapely.ops.polylabel(largest, tolerance=2.0)
    label_box = shapely.box(centre.x - width / 2, centre.y - height / 2, centre.x + width / 2, centre.y + height / 2)
    return (centre.x, centre.y) if largest.covers(label_box) else None


def _dissolve(zones: np.ndarray) -> BaseGeometry | np.ndarray:
    """Return the union of ``zones`` (one GEOS call); the zones themselves if GEOS cannot
    union them (they are then drawn overlapping, nothing is lost)."""
    try:
        return shapely.union_all(zones)
    except shapely.errors.GEOSException:  # pragma: no cover  (stored reports are valid)
        return zones


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """The polygonal parts of a clipped geometry (a clip can leave lines or points on edges)."""
    if shapely.get_type_id(g) == 7:
        parts = shapely.get_parts(g)
        return shapely.multipolygons(list(parts[shapely.get_type_id(parts) == 3]))
    return g


def _lineal(g: BaseGeometry) -> BaseGeometry:
    if shapely.get_type_id(g) == 7:
        parts = shapely.get_parts(g)
        return shapely.multilinestrings(list(parts[shapely.get_type_id(parts) == 1]))
    return g


def _scale_bar(frame: _Frame, texts: MapTexts) -> tuple[float, float, str]:
    """Return (length m, length in units, SVG) of the scale bar, bottom left of the panel."""
    metres = nice_length(SCALE_BAR_MAX_SHARE * frame.pw / frame.scale)
    length = metres * frame.scale
    x0, y0 = 40.0, frame.ph - 60.0
    half = length / 2
    label = length_label(metres, texts.decimal_comma)
    zero = "0"
    return metres, length, (
        f'<g id="scale-bar" data-length-m="{metres:g}" font-size="26">'
        f'<rect x="{_num(x0 - 20)}" y="{_num(y0 - 48)}" width="{_num(length + 40 + 17 * len(label))}" height="88" '
        'fill="#ffffff" fill-opacity="0.85"/>'
        f'<rect id="scale-bar-first" x="{_num(x0)}" y="{_num(y0)}" width="{half:.3f}" height="14" fill="#1a1a1a" '
        'stroke="#1a1a1a" stroke-width="2"/>'
        f'<rect id="scale-bar-second" x="{x0 + half:.3f}" y="{_num(y0)}" width="{half:.3f}" height="14" fill="#ffffff" '
        'stroke="#1a1a1a" stroke-width="2"/>'
        f'<text x="{_num(x0)}" y="{_num(y0 - 10)}" text-anchor="middle">{zero}</text>'
        f'<text id="scale-bar-label" x="{x0 + length:.3f}" y="{_num(y0 - 10)}" text-anchor="middle">'
        f'{escape(label)}</text></g>'
    )


def _north_arrow(width: float, angle: float, letter: str) -> str:
    """An arrow pointing to true north (``angle`` degrees clockwise from the page's top),
    top right of the panel."""
    cx, cy = width - 70.0, 95.0
    return (
        f'<g id="north-arrow" transform="translate({_num(cx)} {_num(cy)}) rotate({angle:.3f})">'
        '<circle cx="0" cy="0" r="52" fill="#ffffff" fill-opacity="0.85"/>'
        '<path d="M0 -42 L16 22 L0 10 Z" fill="#1a1a1a"/>'
        '<path d="M0 -42 L-16 22 L0 10 Z" fill="#ffffff" stroke="#1a1a1a" stroke-width="2"/>'
        f'<text x="0" y="46" font-size="24" font-weight="bold" text-anchor="middle">{escape(letter)}</text></g>'
    )


def _legend_strip(texts: MapTexts, colours: Mapping[str, str], shown: Sequence[str], width: float,
                  top: float, rows: int) -> str:
    """The legend (commune, neighbours, each status as zone, line and point) in columns of
    ``rows`` entries, then the sources and the date, under the panel."""
    out = [f'<g id="legend" font-size="24" transform="translate(0 {_num(top + 34)})">',
           f'<text x="0" y="0" font-weight="bold">{escape(texts.legend_title)}</text>']
    entries: list[str] = [
        f'<rect x="0" y="-20" width="44" height="26" fill="{COMMUNE_FILL}" stroke="{COMMUNE_STROKE}" stroke-width="5"/>'
        f'<text x="116" y="0">{escape(texts.commune)}</text>',
        f'<rect x="0" y="-20" width="44" height="26" fill="{NEIGHBOUR_FILL}" stroke="{NEIGHBOUR_STROKE}" '
        f'stroke-width="2"/><text x="116" y="0">{escape(texts.neighbours)}</text>',
    ]
    for status in shown:
        colour = colours.get(status, FALLBACK_COLOUR)
        entries.append(
            f'<g class="legend-status" data-status="{escape(status)}">'
            f'<rect x="0" y="-20" width="44" height="26" fill="{colour}" fill-opacity="{ZONE_FILL_OPACITY}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<path d="M54 -7 L78 -7" stroke="{colour}" stroke-width="8" stroke-linecap="round"/>'
            f'<circle cx="96" cy="-7" r="10" fill="{colour}" stroke="#ffffff" stroke-width="3"/>'
            f'<text x="116" y="0">{escape(texts.status_labels[status])}</text></g>')
    col_w = width / max(1, math.ceil(len(entries) / rows))
    col_w = min(col_w, 470.0)
    for i, entry in enumerate(entries):
        col, row = divmod(i, rows)
        out.append(f'<g transform="translate({_num(col * col_w)} {_num(38 + row * 36)})">{entry}</g>')
    out.append("</g>")
    lines = [t for t in [*texts.sources, texts.date_line] if t]
    y = top + 34 + 38 + rows * 36 + 8
    out.append(f'<g id="sources" font-size="19" fill="#333333" transform="translate(0 {_num(y)})">')
    for i, line in enumerate(lines):
        out.append(f'<text x="0" y="{i * 26}">{escape(line)}</text>')
    out.append("</g>")
    return "".join(out)


def strip_height_mm(n_statuses: int, n_source_lines: int, rows: int = 3) -> float:
    """Return the height (mm) of the strip under the panel for a legend of ``n_statuses``
    statuses in ``rows`` rows and ``n_source_lines`` lines of sources and date."""
    del n_statuses
    return (34 + 38 + rows * 36 + 8 + n_source_lines * 26) / UNITS_PER_MM
