"""Set-wise steps of an import that need the communes but no database: each report's home
commune, the communes a batch touches, planar measures and duplicate keys, for whole arrays
of geometries at once.

The home-commune rule is the one :func:`geosignal.services.communes.commune_of` applies in
PostGIS for a single report: among the communes a geometry intersects, the one holding its
largest part — the part is cut in EPSG:4326 and measured in EPSG:31370 (area for zones, the
length the figures count there for lines: :func:`line_counted_lengths`, number of distinct
points for points); ties (a point on a shared border) go to the smallest NIS code. A point, or
a part of a MultiPoint, touches every commune within :data:`~geosignal.geo.BORDER_TOLERANCE_DEG`
of it, a line every commune within :data:`~geosignal.geo.LINE_REACH_DEG` (:func:`touching`), as
in PostGIS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geosignal.geo import (
    BORDER_TOLERANCE_DEG,
    LAMBERT72,
    LINE_GRID_M,
    LINE_REACH_DEG,
    WGS84,
    transform_xy,
)

from .area import ServiceArea

#: shapely type ids
_POINTS = (0, 4)
_LINES = (1, 5)


@dataclass(frozen=True)
class Communes:
    """The home commune of each geometry of a batch and the communes the batch touches.

    ``home``: object array of NIS codes (None where no commune intersects); ``touched``:
    sorted NIS codes of every commune some geometry intersects.
    """

    home: np.ndarray
    touched: list[str]


def _communes(area: ServiceArea) -> np.ndarray:
    cached = getattr(area, "_prepared_communes", None)
    if cached is None:
        cached = np.asarray(area.geometries, dtype=object)
        shapely.prepare(cached)
        area._prepared_communes = cached  # type: ignore[attr-defined]
    return cached


def touching(tree: shapely.STRtree, communes: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairs ``(geometry index, commune index)``, sorted by geometry, of each
    geometry of ``geoms`` (EPSG:4326, object array) and each commune of ``communes`` (the
    geometries ``tree`` holds, same order) it touches: points and MultiPoints within
    :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` (on a shared border, they touch each commune
    of it), lines within :data:`~geosignal.geo.LINE_REACH_DEG` (where the figures may count
    their length), zones intersecting."""
    types = shapely.get_type_id(geoms)
    rest = np.flatnonzero(~np.isin(types, (*_POINTS, *_LINES)))
    g_parts, c_parts = [np.zeros(0, dtype=np.intp)], [np.zeros(0, dtype=np.intp)]
    for kinds, tol in ((_POINTS, BORDER_TOLERANCE_DEG), (_LINES, LINE_REACH_DEG)):
        near_kind = np.flatnonzero(np.isin(types, kinds))
        if not len(near_kind):
            continue
        # candidates by bounding boxes widened by the tolerance, then the distance measured
        # from the prepared communes (the tree's own "dwithin" measured each pair unprepared:
        # 0.3 s for 50,000 points instead of 0.08 s)
        x0, y0, x1, y1 = shapely.bounds(geoms[near_kind]).T
        gi, ci = tree.query(shapely.box(x0 - tol, y0 - tol, x1 + tol, y1 + tol))
        if len(gi):
            near = shapely.dwithin(communes[ci], geoms[near_kind][gi], tol)
            gi, ci = gi[near], ci[near]
        g_parts.append(near_kind[gi])
        c_parts.append(ci)
    if len(rest):
        gi, ci = tree.query(geoms[rest])
        if len(gi):
            hit = shapely.intersects(communes[ci], geoms[rest][gi])
            gi, ci = gi[hit], ci[hit]
        g_parts.append(rest[gi])
        c_parts.append(ci)
    g_idx, c_idx = np.concatenate(g_parts), np.concatenate(c_parts)
    order = np.lexsort((c_idx, g_idx))
    return g_idx[order], c_idx[order]


def points_within(communes: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Return, for each pair ``(communes[k], geoms[k])`` (EPSG:4326; points or MultiPoints),
    how many distinct points of the geometry lie within :data:`~geosignal.geo.BORDER_TOLERANCE_DEG`
    of the commune: a point's part of the commune, as PostGIS measures it."""
    parts, pair = shapely.get_parts(shapely.extract_unique_points(geoms), return_index=True)
    near = shapely.dwithin(communes[pair], parts, BORDER_TOLERANCE_DEG)
    return np.bincount(pair[near], minlength=len(geoms)).astype(float)


def home_communes(area: ServiceArea, geoms_4326: np.ndarray) -> Communes:
    """Return the home commune of every geometry of ``geoms_4326`` (EPSG:4326 shapely
    geometries, an object array of N) and the communes they touch.

    One STRtree query (bounding boxes) for the batch, then the intersects predicate on the
    prepared communes, vectorised; the largest part is measured only for the geometries that
    touch more than one commune (:func:`homes`). Same rule as ``commune_of`` (module docstring).
    """
    geoms = np.asarray(geoms_4326, dtype=object)
    if len(geoms) == 0:
        return Communes(np.full(0, None, dtype=object), [])
    communes = _communes(area)
    home, c_idx = homes(area._tree, communes, area.nis_codes, geoms)
    return Communes(home, sorted({area.nis_codes[c] for c in np.unique(c_idx)}))


def homes(tree: shapely.STRtree, communes: np.ndarray, nis_codes: list[str],
          geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The home commune (NIS code, None in no commune) of each of ``geoms`` (EPSG:4326, object
    array of N) among ``communes`` (EPSG:4326, prepared, sorted by NIS code ``nis_codes``,
    held by ``tree``), by the rule of the module docstring; and the index of every commune some
    geometry touches (:func:`touching`), with repeats."""
    n = len(geoms)
    home = np.full(n, None, dtype=object)
    g_idx, c_idx = touching(tree, communes, geoms)
    codes = np.asarray(nis_codes, dtype=object)
    if not len(g_idx):
        return home, c_idx
    touched = c_idx
    counts = np.bincount(g_idx, minlength=n)
    # pairs come sorted by geometry; communes are sorted by NIS, so the first pair of each
    # geometry is its smallest NIS code
    order = np.lexsort((c_idx, g_idx))
    g_idx, c_idx = g_idx[order], c_idx[order]
    first = np.ones(len(g_idx), dtype=bool)
    first[1:] = g_idx[1:] != g_idx[:-1]
    home[g_idx[first]] = codes[c_idx[first]]
    types = shapely.get_type_id(geoms)
    contested = (counts[g_idx] > 1) & (types[g_idx] != 0)  # a single point: any hit counts 1
    if contested.any():
        gi, ci = g_idx[contested], c_idx[contested]
        kind = types[gi]
        measure = np.zeros(len(gi))
        pts = np.isin(kind, _POINTS)
        if pts.any():
            measure[pts] = points_within(communes[ci[pts]], geoms[gi[pts]])
        lines = np.isin(kind, _LINES)
        if lines.any():
            measure[lines] = line_counted_lengths(communes, geoms, gi[lines], ci[lines])
        zones = ~pts & ~lines
        if zones.any():
            parts = shapely.intersection(communes[ci[zones]], geoms[gi[zones]])
            measure[zones] = shapely.area(shapely.transform(parts, lambda c: transform_xy(c, WGS84, LAMBERT72)))
        # largest measure first, then smallest NIS (commune index)
        order = np.lexsort((ci, -measure, gi))
        gi, ci = gi[order], ci[order]
        best = np.ones(len(gi), dtype=bool)
        best[1:] = gi[1:] != gi[:-1]
        home[gi[best]] = codes[ci[best]]
    return home, touched


def line_counted_lengths(communes: np.ndarray, geoms: np.ndarray, gi: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """Return, for each pair ``(geoms[gi[k]], communes[ci[k]])`` (EPSG:4326 lines and communes;
    pairs sorted by geometry, then by commune in NIS order), the length (m, EPSG:31370) the
    figures count of the line in the commune: the line on the 1 cm grid
    (:data:`~geosignal.geo.LINE_GRID_M`), within 1 cm of the commune, less what lies within 1 cm
    of a commune before it among the pairs of that line (a stretch on a shared border, whose two
    boundaries differ by millimetres, is the smaller NIS code's). The boundaries are cut to
    the line's box widened by 2e-5° before they are projected and widened, as PostGIS does
    (``geosignal.services.communes.HOME_MEASURE_SQL``). Only lines near a border come here."""
    out = np.zeros(len(gi))
    if not len(gi):
        return out
    to_31370 = lambda c: transform_xy(c, WGS84, LAMBERT72)  # noqa: E731
    # one transform per array: the lines, then every pair's boundary cut to its line's box
    lines, first, of_line = np.unique(gi, return_index=True, return_inverse=True)
    line = shapely.set_precision(shapely.transform(geoms[lines], to_31370), LINE_GRID_M)[of_line]
    x0, y0, x1, y1 = shapely.bounds(geoms[gi]).T
    box = shapely.box(x0 - 2e-5, y0 - 2e-5, x1 + 2e-5, y1 + 2e-5)
    bands = shapely.buffer(shapely.transform(shapely.intersection(communes[ci], box), to_31370),
                           LINE_GRID_M, quad_segs=4)
    owned = shapely.intersection(line, bands)
    # a pair after the first of its line (the pairs of a line are consecutive) loses what lies
    # in the bands of the communes before it
    rank = np.arange(len(gi)) - first[of_line]
    for row in np.flatnonzero(rank > 0).tolist():
        owned[row] = shapely.difference(owned[row], shapely.union_all(bands[row - rank[row]:row]))
    out[:] = shapely.length(owned)
    return out


#: The share of a report's geometry outside its home commune from which its reporter is told
#: (``partly_outside_commune``): a tenth of its area, length or points. Less is taken as a
#: boundary drawn roughly.
OUTSIDE_SHARE_WARNED = 0.10


def outside_shares(area: ServiceArea, geoms_4326: np.ndarray, homes: list[str | None]) -> np.ndarray:
    """Return, for each geometry of ``geoms_4326`` (EPSG:4326, object array of N), the share
    (0–1) of its measure lying outside its home commune ``homes[i]`` (a NIS code; None gives
    0): area for zones, length for lines, distinct points for points, measured in EPSG:31370.
    That part counts in the communes it lies in (or in none, outside the communes served).

    A single point is 0; geometries covered by their home commune (the prepared boundary's
    ``covers``, vectorised) are 0 without being cut; only the others are cut and measured.
    """
    geoms = np.asarray(geoms_4326, dtype=object)
    shares = np.zeros(len(geoms))
    index = {nis: i for i, nis in enumerate(area.nis_codes)}
    rows = [k for k, nis in enumerate(homes) if nis is not None]
    if not rows:
        return shares
    rows_a = np.asarray(rows)
    rows_a = rows_a[shapely.get_type_id(geoms[rows_a]) != 0]  # a point lies in its commune
    if not len(rows_a):
        return shares
    communes = _communes(area)[[index[homes[k]] for k in rows_a.tolist()]]
    uncovered = ~shapely.covers(communes, geoms[rows_a])
    cut = rows_a[uncovered]
    if not len(cut):
        return shares
    inside = shapely.intersection(communes[uncovered], geoms[cut])
    kind = shapely.get_type_id(geoms[cut])
    whole, part = np.zeros(len(cut)), np.zeros(len(cut))
    pts = np.isin(kind, _POINTS)
    if pts.any():
        whole[pts] = shapely.get_num_geometries(shapely.extract_unique_points(geoms[cut][pts]))
        part[pts] = points_within(communes[uncovered][pts], geoms[cut][pts])  # on its border: inside
    rest = ~pts
    if rest.any():
        to_31370 = lambda c: transform_xy(c, WGS84, LAMBERT72)  # noqa: E731
        g31370, p31370 = shapely.transform(geoms[cut][rest], to_31370), shapely.transform(inside[rest], to_31370)
        lines = np.isin(kind[rest], _LINES)
        whole[rest] = np.where(lines, shapely.length(g31370), shapely.area(g31370))
        part[rest] = np.where(lines, shapely.length(p31370), shapely.area(p31370))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares[cut] = np.clip(np.where(whole > 0, 1.0 - part / whole, 0.0), 0.0, 1.0)
    return shares


def outside_warning(share: float, nis: str, name: str, geometry: BaseGeometry) -> dict | None:
    """The ``partly_outside_commune`` warning of a report whose ``geometry`` (EPSG:4326) lies for
    ``share`` (0–1, :func:`outside_shares`) outside its home commune ``nis`` (``name``), or None
    under :data:`OUTSIDE_SHARE_WARNED`. ``share_outside`` is rounded to 0.001; ``measure`` says
    what it is a share of: ``area``, ``length`` or ``points``. The part of a zone or line outside
    counts in the communes it lies in; a report's points count once, in its home commune only."""
    if share < OUTSIDE_SHARE_WARNED:
        return None
    measure = ("points", "length", "area")[shapely.get_dimensions(geometry)]
    counted = ("those points count in its figures only: a report's points count once, in its home commune"
               if measure == "points" else
               "that part counts in the figures of the communes it lies in, and in none outside the communes served")
    return {"code": "partly_outside_commune", "commune_nis": nis, "commune_name": name,
            "share_outside": round(float(share), 3), "measure": measure,
            "detail": f"{share:.0%} of the {'points lie' if measure == 'points' else 'geometry lies'} outside "
                      f"{name} ({nis}), the commune holding its largest part, where the report is filed; {counted}"}


def measures(geoms_31370: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(area_m2, length_m)`` arrays of geometries in EPSG:31370, as PostGIS's
    ``ST_Area``/``ST_Length`` give them: areas of zones (0 for points and lines), lengths of
    lines (0 for points and zones)."""
    geoms = np.asarray(geoms_31370, dtype=object)
    types = shapely.get_type_id(geoms)
    lines = np.isin(types, _LINES)
    return shapely.area(geoms), np.where(lines, shapely.length(geoms), 0.0)


def geometry_keys(geoms_4326: np.ndarray) -> list[bytes]:
    """Return a key per geometry that is equal for geometries that are one shape written
    otherwise — vertex order and ring start, a multi-geometry of one part and that part, a
    vertex added on a straight edge (normalised WKB of the simplified part) — as the API's
    duplicate check (``ST_Equals``) sees them: how duplicates and rows saved before are
    recognised within a batch and against the stored reports (a copy re-exported by QGIS as a
    MultiPolygon layer was a new place)."""
    geoms = np.array(geoms_4326, dtype=object)
    one_part = np.isin(shapely.get_type_id(geoms), (4, 5, 6)) & (shapely.get_num_geometries(geoms) == 1)
    if one_part.any():
        geoms[one_part] = shapely.get_geometry(geoms[one_part], 0)
    shapes = np.flatnonzero(shapely.get_type_id(geoms) != 0)  # a point is its own normal form
    if len(shapes):
        geoms[shapes] = shapely.normalize(shapely.simplify(geoms[shapes], 0.0))
    return list(shapely.to_wkb(geoms))
