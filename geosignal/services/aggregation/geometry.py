"""Geometry core (shapely, EPSG:31370), shared by the database and the file modes: counts,
polygonal / lineal parts, unions clipped per commune, home communes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geosignal.services.aggregation.filters import BREAKDOWNS, LINE_GRID_M, LINE_REACH_M


@dataclass
class Counts:
    """Report counts of one commune (reports in their home commune)."""

    report_count: int = 0
    point_count: int = 0
    line_count: int = 0
    zone_count: int = 0
    households_declared: int = 0
    breakdown: dict[str, dict[str, int]] = field(
        default_factory=lambda: {dim: dict.fromkeys(values, 0) for dim, values in BREAKDOWNS.items()}
    )


def _parts_of_kind(geom: BaseGeometry | None, single: type, multi: type) -> BaseGeometry | None:
    """Return the parts of ``geom`` of one kind (``single``/``multi``: Polygon/MultiPolygon or
    LineString/MultiLineString), collections searched too, as one ``multi`` (None when none)."""
    if geom is None or geom.is_empty:
        return None
    found: list[BaseGeometry] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, single):
            found.append(part)
        elif isinstance(part, multi):
            found.extend(part.geoms)
        elif part.geom_type == "GeometryCollection":
            sub = _parts_of_kind(part, single, multi)
            if sub is not None:
                found.extend(sub.geoms)
    found = [p for p in found if not p.is_empty]
    return multi(found) if found else None


def _polygonal(geom: BaseGeometry | None) -> MultiPolygon | None:
    """Return the polygonal part of a geometry as a MultiPolygon (None when there is none)."""
    return _parts_of_kind(geom, Polygon, MultiPolygon)


def _lineal(geom: BaseGeometry | None) -> MultiLineString | None:
    """Return the lineal part of a geometry as a MultiLineString (None when there is none)."""
    return _parts_of_kind(geom, LineString, MultiLineString)


def _clipped_union(boundary: BaseGeometry, candidates: np.ndarray, polygonal: bool,
                   owners: Sequence[BaseGeometry] = ()) -> BaseGeometry | None:
    """Return the union of ``candidates`` clipped to ``boundary`` (EPSG:31370), its polygonal
    (zones) or lineal (lines) part; None when empty.

    Zones lying wholly inside the commune are unioned as they are; only those crossing its
    boundary are clipped first (cheaper than clipping the whole union). Lines are put on the
    1 cm grid once (:data:`LINE_GRID_M`: each snap-rounded, their union noded on it, as the
    stored pieces take them), then cut, without rounding again, by what the commune owns (:func:`_line_owned`): a stretch on a border shared with one of
    ``owners`` (the neighbouring communes with a smaller NIS code) is theirs."""
    if candidates.size == 0:
        return None
    if polygonal:
        inside = shapely.contains_properly(boundary, candidates)
        parts = list(candidates[inside])
        crossing = candidates[~inside]
        if crossing.size:
            parts.extend(shapely.intersection(crossing, boundary))
        return _polygonal(shapely.union_all(parts))
    # the network put on the 1 cm grid once: each line snap-rounded, then their union noded on
    # that grid (the same stretch filed twice, its vertices rounding to the same centimetres,
    # counts once; a line shorter than that may round to nothing: it counts 0 m, as in the
    # stored pieces)
    candidates = shapely.set_precision(candidates, LINE_GRID_M)
    candidates = candidates[~shapely.is_empty(candidates)]
    if candidates.size == 0:
        return None
    network = _lineal(shapely.union_all(candidates, grid_size=LINE_GRID_M))
    if network is None:
        return None
    # then cut, never rounded again, as the stored pieces are: cut first and rounded after, the
    # pieces of copies filed millimetres apart were noded differently on each side of a cut
    parts = np.asarray(network.geoms, dtype=object)
    near, taken = _line_owned(boundary, owners, parts)
    shapely.prepare(near)
    inside = shapely.contains_properly(near, parts)
    parts = np.concatenate([parts[inside], _lineal_each(shapely.intersection(parts[~inside], near))])
    if taken is not None and parts.size:
        # cut by both regions in turn, as the stored pieces are (a difference of the regions
        # themselves left slivers along a border, which kept stretches lying in them)
        parts = _lineal_each(shapely.difference(parts, taken))
    return _lineal(shapely.GeometryCollection(list(parts))) if parts.size else None


def _lineal_each(geoms: np.ndarray) -> np.ndarray:
    """The lineal part of each of ``geoms`` (a line ending on a border leaves a point), empty
    ones dropped: GEOS refuses an overlay of mixed dimensions."""
    kept = [g for g in (_lineal(g) for g in geoms) if g is not None]
    return np.asarray(kept, dtype=object) if kept else np.asarray([], dtype=object)


def _line_owned(boundary: BaseGeometry, owners: Sequence[BaseGeometry],
                lines: np.ndarray) -> tuple[BaseGeometry, BaseGeometry | None]:
    """What the commune of ``boundary`` (EPSG:31370) owns of the plane near ``lines`` (within
    1 m of their bounding box), for its line stretches: what lies within :data:`LINE_GRID_M`
    of it, less what lies within it of one of ``owners``; as (near, taken), the second None
    when no owner is near. The borders of two communes differ by millimetres: a stretch on one
    is within 1 cm of both, and counts once, in the owner's. The stored pieces cut each cell
    the same way."""
    x0, y0, x1, y1 = shapely.total_bounds(lines)
    box = shapely.box(x0 - 1, y0 - 1, x1 + 1, y1 + 1)
    near = shapely.buffer(shapely.intersection(boundary, box), LINE_GRID_M, quad_segs=4)
    taken = [t for t in shapely.intersection(np.asarray(owners, dtype=object), box) if not t.is_empty] \
        if len(owners) else []
    return near, (shapely.buffer(shapely.union_all(taken), LINE_GRID_M, quad_segs=4) if taken else None)


def border_owners(boundaries: dict[str, BaseGeometry],
                  neighbours: dict[str, BaseGeometry] | None = None) -> dict[str, list[BaseGeometry]]:
    """Return, per NIS code of ``boundaries``, the communes that own the stretches of its
    border they share with it: those of ``neighbours`` (default: ``boundaries``; EPSG:31370,
    keyed by NIS code) with a smaller NIS code that come within :data:`LINE_REACH_M` of it
    (their 1 cm bands may meet)."""
    others = boundaries if neighbours is None else neighbours
    codes = list(others)
    geoms = np.asarray([others[n] for n in codes], dtype=object)
    tree = shapely.STRtree(geoms) if len(codes) else None
    out: dict[str, list[BaseGeometry]] = {}
    for nis, boundary in boundaries.items():
        near = tree.query(boundary, predicate="dwithin", distance=LINE_REACH_M) if tree is not None else []
        out[nis] = [geoms[k] for k in sorted(near) if codes[k] < nis]
    return out


def clipped_unions(
    boundaries: dict[str, BaseGeometry],
    zones: Sequence[BaseGeometry] | np.ndarray,
    lines: Sequence[BaseGeometry] | np.ndarray,
    *,
    neighbours: dict[str, BaseGeometry] | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, tuple[MultiPolygon | None, MultiLineString | None]]:
    """Return, per NIS code, (union of zones, union of lines), each clipped to the commune.

    All geometries are in EPSG:31370. ``zones`` are polygonal, ``lines`` lineal. A stretch of
    line on a border shared by two communes is the one's with the smaller NIS code
    (:func:`border_owners`; ``neighbours``, when ``boundaries`` are not all the communes, are
    those that may share a border with them). Work is spread over ``workers`` threads
    (default: one per core; GEOS releases the GIL). ``progress(n)`` is called with 1 after
    each commune.
    """
    zones_arr = np.asarray(zones, dtype=object)
    lines_arr = np.asarray(lines, dtype=object)
    nis_codes = list(boundaries)
    bounds = np.asarray([boundaries[n] for n in nis_codes], dtype=object)
    for b in bounds:
        shapely.prepare(b)

    def pairs(geoms: np.ndarray, near: float = 0.0) -> dict[int, np.ndarray]:
        """The geometries within ``near`` m of each commune (touching it when 0)."""
        if geoms.size == 0:
            return {}
        tree = shapely.STRtree(geoms)
        if near:
            left, right = tree.query(bounds, predicate="dwithin", distance=near)
        else:
            left, right = tree.query(bounds, predicate="intersects")
        order = np.argsort(left, kind="stable")
        left, right = left[order], right[order]
        cuts = np.flatnonzero(np.diff(left)) + 1
        return {int(chunk_left[0]): geoms[chunk_right]
                for chunk_left, chunk_right in zip(np.split(left, cuts), np.split(right, cuts), strict=True)
                if chunk_left.size}

    # (lines within reach: once on the 1 cm grid, a stretch just outside the commune may be its)
    zone_pairs, line_pairs = pairs(zones_arr), pairs(lines_arr, LINE_REACH_M)
    owners = border_owners(boundaries, neighbours) if line_pairs else {}
    empty = np.asarray([], dtype=object)

    def one(i: int) -> tuple[str, tuple[Any, Any]]:
        b = bounds[i]
        result = (_clipped_union(b, zone_pairs.get(i, empty), True),
                  _clipped_union(b, line_pairs.get(i, empty), False, owners.get(nis_codes[i], ())))
        return nis_codes[i], result

    out: dict[str, tuple[Any, Any]] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        # biggest jobs first, so that threads finish together
        order = sorted(range(len(nis_codes)), key=lambda i: -(len(zone_pairs.get(i, empty))
                                                              + len(line_pairs.get(i, empty))))
        for nis, result in pool.map(one, order):
            out[nis] = result
            if progress:
                progress(1)
    return {n: out[n] for n in nis_codes}
