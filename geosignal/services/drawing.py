"""What a map needs around a commune, and the limits a drawn shape is checked against in the
browser before it is sent. Flask-free: takes a session and returns plain data.

The limits are the intake's own (:class:`geosignal.services.intake.Limits`, from the
configuration): the browser warns with them, the server still decides.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.services import communes as communes_service
from geosignal.services.aggregation.filters import NO_FILTERS, StatsFilters, where_sql
from geosignal.services.intake import Limits, ServiceArea
from geosignal.services.intake.core import CIRCLE_QUAD_SEGS
from geosignal.vocab import LAMBERT72, WGS84


def neighbour_codes(session: Session, nis_code: str) -> list[str]:
    """Return the NIS codes of the loaded communes whose boundary touches or overlaps that of
    ``nis_code`` (itself excluded), in NIS order; [] for an unknown code."""
    rows = session.execute(text(
        "SELECT n.nis_code FROM communes c JOIN communes n "
        "ON n.nis_code <> c.nis_code AND ST_Intersects(n.boundary, c.boundary) "
        "WHERE c.nis_code = :nis ORDER BY n.nis_code"), {"nis": nis_code})
    return [r[0] for r in rows]


def commune_and_neighbours(session: Session, nis_code: str, simplify_m: float = 10.0
                           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return ``(commune, neighbours)``: the commune as a GeoJSON Feature (stored boundary,
    EPSG:4326) and its neighbours' Features (boundaries simplified by ``simplify_m`` metres,
    in EPSG:31370), in NIS order.

    Raises ``not_found`` (404) for a code that is not loaded.
    """
    found = communes_service.list_communes(session, nis_codes=[nis_code])
    if not found:
        raise GeosignalError("not_found", f"no commune {nis_code}")
    codes = neighbour_codes(session, nis_code)
    neighbours = communes_service.list_communes(session, simplify_m=simplify_m, nis_codes=codes) if codes else []
    return found[0], neighbours


def drawing_limits(limits: Limits, area: ServiceArea, commune: dict[str, Any] | None) -> dict[str, Any]:
    """Return the limits a drawn shape is checked against, as plain JSON-ready data.

    ``min_area_m2`` / ``max_area_m2`` (m², EPSG:31370, zones), ``max_vertices`` (positions
    per geometry), ``service_margin_m`` (m), ``territory_bbox`` ([west, south, east, north],
    EPSG:4326, the communes served; a shape must touch them and stay within the margin),
    ``measure``: how the server measures a shape, for the page to show the same figures
    (``{crs: "EPSG:31370", proj4: its PROJ string, circle_segments: 64}``: areas and lengths
    in that CRS, a point with a radius stored as a polygon of that many sides built in it) and,
    for a representative, ``commune``: ``{nis_code, name_fr, geometry}`` (GeoJSON, EPSG:4326
    ``[lon, lat]``) — a shape lying mainly outside it is refused (``not_your_commune``).
    """
    west, south, east, north = area.territory_4326.bounds
    out: dict[str, Any] = {
        "min_area_m2": limits.min_area_m2,
        "max_area_m2": limits.max_area_m2,
        "max_vertices": limits.max_vertices,
        "service_margin_m": limits.service_margin_m,
        "territory_bbox": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
        "measure": measure_spec(),
        "commune": None,
    }
    if commune is not None:
        props = commune["properties"]
        out["commune"] = {"nis_code": props["nis_code"], "name_fr": props["name_fr"], "geometry": commune["geometry"]}
    return out


def measure_spec() -> dict[str, Any]:
    """How the server measures a shape, for a page to show the same figures: ``{crs:
    "EPSG:31370", proj4: its PROJ string (:func:`_proj4`), circle_segments: 64}`` (areas and
    lengths in that CRS; a point with a radius stored as a polygon of that many sides)."""
    return {"crs": f"EPSG:{LAMBERT72}", "proj4": _proj4(LAMBERT72), "circle_segments": 4 * CIRCLE_QUAD_SEGS}


@functools.cache
def _proj4(crs: int | str) -> str:
    """The PROJ string of ``crs`` for proj4js, with the datum shift to WGS 84 that PROJ uses
    for it (``+towgs84``, position-vector convention): e.g. EPSG:31370's "BD72 to WGS 84 (3)".
    Without it a shape lands 90 m away and its area is off by up to 0.05 %."""
    import re
    import warnings

    import pyproj
    from pyproj.transformer import TransformerGroup

    target = pyproj.CRS(crs)
    with warnings.catch_warnings():  # "you will likely lose important projection information"
        warnings.simplefilter("ignore", UserWarning)
        base = target.to_proj4().replace(" +type=crs", "")
    shifts = TransformerGroup(target.geodetic_crs, WGS84).transformers
    pipeline = shifts[0].to_proj4() if shifts else ""
    found = dict(re.findall(r"\+(x|y|z|rx|ry|rz|s)=(-?[\d.]+)", pipeline.split("+proj=helmert", 1)[-1].split("+step", 1)[0])
                 if "+proj=helmert" in pipeline else [])
    if not found:
        return base
    values = [float(found.get(k, 0.0)) for k in ("x", "y", "z", "rx", "ry", "rz", "s")]
    if "+convention=coordinate_frame" in pipeline:  # proj4's +towgs84 rotates the other way
        values[3:6] = [-v for v in values[3:6]]
    return base.replace(" +units=", " +towgs84=" + ",".join(repr(v) for v in values) + " +units=", 1)


#: Most point reports a commune sheet's web map draws (the newest filed); its figures count all,
#: and its legend says how many of them are drawn when not all are.
SHEET_MAX_POINTS = 2000


def counted_points(session: Session, nis_code: str, filters: StatsFilters = NO_FILTERS,
                   limit: int | None = None) -> tuple[dict[str, Any] | None, int, int]:
    """Return the point reports the figures of ``nis_code`` count (home commune, and what
    ``filters`` select: by default a counted status) as one GeoJSON MultiPoint (EPSG:4326,
    ``[lon, lat]``, 7 decimals; a MultiPoint report gives each of its points) of at most
    ``limit`` (default :data:`SHEET_MAX_POINTS`) reports, the newest filed, or None when there
    are none; how many reports it draws; and how many there are in all (the map's legend says
    « 2 000 points sur 2 100 » when they are more: the first 2,000 filed were drawn, and nothing
    said so). One statement."""
    cond, params = where_sql(filters)
    found, drawn, total = session.execute(text(
        "WITH p AS (SELECT r.geometry AS g, count(*) OVER () AS n FROM reports r "  # (counted before the LIMIT)
        f"WHERE r.commune_nis = :nis AND {cond} "
        "AND ST_Dimension(r.geometry) = 0 ORDER BY r.seq DESC LIMIT :limit) "
        # each point of a MultiPoint report: a MultiPoint in a collection made it a
        # GeometryCollection, which the sheet could not read (500)
        "SELECT (SELECT ST_AsGeoJSON(ST_Collect(d.geom), 7) FROM p CROSS JOIN LATERAL ST_Dump(p.g) d), "
        "count(*), coalesce(max(n), 0) FROM p"),
        {"nis": nis_code, "limit": SHEET_MAX_POINTS if limit is None else limit, **params}).one()
    return (json.loads(found) if found else None), int(drawn), int(total)
