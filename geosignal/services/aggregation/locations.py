"""Report locations for maps: points, or clustered server-side by a grid when many."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.services.aggregation.filters import NO_FILTERS, StatsFilters, where_sql

#: Above this many reports in the box, the map gets grid cells instead of points.
MAX_POINTS = 2000
#: The deepest web-map zoom level the locations are asked at (Leaflet's maps reach 18–22).
MAX_ZOOM = 22
#: From this Leaflet zoom on (a screen pixel ≈ 12 m at 50° N), road stretches and zones come
#: with their shapes, drawn as they are rather than as a dot.
SHAPES_ZOOM = 13


def _max_points() -> int:
    """Return the limit as set on the package (``aggregation.MAX_POINTS``, which tests lower)."""
    import sys

    return int(getattr(sys.modules.get("geosignal.services.aggregation"), "MAX_POINTS", MAX_POINTS))


def report_locations(session: Session, bbox: tuple[float, float, float, float], zoom: int,
                     filters: StatsFilters = NO_FILTERS) -> dict[str, Any]:
    """Return where the reports are in a box, for the heatmap and the clustered markers.

    ``bbox`` is (min lon, min lat, max lon, max lat) in EPSG:4326; ``zoom`` the Leaflet zoom
    (0–22). A report is located by a point on its surface (``ST_PointOnSurface``), which must
    lie in the box (from zoom :data:`SHAPES_ZOOM` on: its shape must touch the box; a report in
    view by its shape alone counts in a cell at the point of the view nearest its dot). When at
    most :data:`MAX_POINTS` reports are in view (the same test for points and cells), returns ``{"mode": "points", "items": [[lon, lat,
    kind], …]}`` (kind 0 point, 1 line, 2 zone) and, from zoom :data:`SHAPES_ZOOM` on,
    ``"shapes"``: one entry per item, None for a point, else the report's GeoJSON geometry
    (EPSG:4326, 6 decimals) simplified to half a screen pixel at that zoom (topology kept);
    otherwise ``{"mode": "cells", "cell_deg": d,
    "items": [[lon, lat, count], …]}``: reports counted on a grid of cells about 40 screen
    pixels wide, each placed at the mean position of its reports. Also ``total``.
    """
    if not 0 <= zoom <= MAX_ZOOM:
        raise GeosignalError("invalid_request", f"zoom must be a whole number from 0 to {MAX_ZOOM}", where="zoom")
    cond, params = where_sql(filters)
    params.update(dict(zip(("x0", "y0", "x1", "y1"), bbox, strict=True)))
    box = "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
    shapes = zoom >= SHAPES_ZOOM
    # in view: its dot, or from SHAPES_ZOOM on its shape (a zone larger than the view) — one
    # test for the points, the cells and the choice between them
    in_view = f"ST_Intersects(g, {box})" if shapes else f"ST_Intersects(p, {box})"
    # the reports whose box meets the view are at least those in view: at most MAX_POINTS of
    # them, points at once; more, the cells, whose total (those in view) may say points after all
    candidates = session.execute(text(f"SELECT count(*) FROM reports r WHERE r.geometry && {box} AND {cond}"),
                                 params).scalar_one()
    if candidates > _max_points():
        cell = 360.0 / (2 ** zoom) / 256 * 40
        params["cell"] = cell
        # a report in view by its shape alone is placed where its dot is nearest in the view
        rows = session.execute(text(f"""
            SELECT avg(ST_X(q)), avg(ST_Y(q)), count(*) FROM (
              SELECT CASE WHEN ST_Intersects(p, {box}) THEN p ELSE ST_ClosestPoint({box}, p) END AS q FROM (
                SELECT ST_PointOnSurface(r.geometry) AS p, r.geometry AS g FROM reports r
                WHERE r.geometry && {box} AND {cond}) v
              WHERE {in_view}) w
            GROUP BY floor(ST_X(q) / :cell), floor(ST_Y(q) / :cell)"""), params)
        items = [[round(x, 6), round(y, 6), n] for x, y, n in rows]
        total = sum(i[2] for i in items)
        if total > _max_points():
            return {"mode": "cells", "cell_deg": cell, "total": total, "items": items}
    # half a screen pixel, in degrees of longitude at this zoom: a display tolerance only
    params["half_pixel"] = 360.0 / (2 ** zoom) / 256 / 2
    shape_sql = ("CASE WHEN ST_Dimension(r.geometry) > 0 THEN ST_AsGeoJSON("
                 "ST_SimplifyPreserveTopology(r.geometry, :half_pixel), 6) END" if shapes else "NULL")
    rows = session.execute(text(f"""
        SELECT ST_X(p), ST_Y(p), dim, shape FROM (
          SELECT ST_PointOnSurface(r.geometry) AS p, r.geometry AS g, ST_Dimension(r.geometry) AS dim,
                 r.seq, {shape_sql} AS shape
          FROM reports r WHERE r.geometry && {box} AND {cond}) q
        WHERE {in_view} ORDER BY seq"""), params).all()
    items = [[round(x, 6), round(y, 6), dim] for x, y, dim, _shape in rows]
    body: dict[str, Any] = {"mode": "points", "total": len(items), "items": items}
    if shapes:
        body["shapes"] = [json.loads(shape) if shape else None for *_xyd, shape in rows]
    return body
