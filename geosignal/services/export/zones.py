"""The export's zone part (schema 1.1.0): the confirmed zones of overlapping reports that hold
at least one report of the document, as the collection's ``zones`` member.

Each zone is a Feature: ``id`` the zone's number, ``geometry`` the union of its reports written
like the reports' (6 decimals, lines and zones snapped to the 1e-6° grid, exteriors
counter-clockwise; a GeometryCollection when points or lines join zones, each part snapped on
its own), ``properties``: ``zone_id``, ``state`` (``confirmed``), ``network``, ``report_count``,
``report_ids`` (every report of the zone, oldest first, exported in this document or not),
``technologies``, ``operators``, ``commune_nis``, ``updated_at``. Zones are few: one query,
read after the reports were streamed, for the span of insertion order the document covered.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract
from geosignal.services.export.constants import GRID_DEG

_PART = f"""CASE ST_Dimension({{g}})
    WHEN 0 THEN {{g}}
    WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision({{g}}, {GRID_DEG}), 2)
    ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision({{g}}, {GRID_DEG}), 3)) END"""

#: The written geometry of a zone ``z``.
GEOMETRY_SQL = f"""CASE WHEN GeometryType(z.geometry) = 'GEOMETRYCOLLECTION' THEN
    (SELECT ST_Collect(p.g ORDER BY p.path) FROM (
       SELECT d.path, {_PART.format(g="d.geom")} AS g FROM ST_Dump(z.geometry) d) p
     WHERE NOT ST_IsEmpty(p.g))
  ELSE {_PART.format(g="z.geometry")} END"""

ZONES_SQL = f"""
SELECT z.id, z.network, z.report_count, z.technologies, z.operators, z.commune_nis, z.updated_at,
       ST_AsGeoJSON({GEOMETRY_SQL}, {contract.EXPORT_COORDINATE_DECIMALS}) AS geojson,
       ARRAY(SELECT m.report_id::text FROM zone_reports m JOIN reports x ON x.id = m.report_id
             WHERE m.zone_id = z.id ORDER BY x.seq) AS report_ids
FROM zones z
WHERE z.state = 'confirmed' AND EXISTS (
  SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
  WHERE zr.zone_id = z.id AND {{where}} AND r.seq > :zone_after AND r.seq <= :zone_last)
ORDER BY z.id"""


def zone_features(session: Session, where: str, params: dict[str, Any], after: int, last: int) -> list[dict[str, Any]]:
    """Return the confirmed zones holding a report that matches ``where`` (the export's
    condition on ``reports r`` and its bound ``params``) with insertion order in
    (``after``, ``last``], as export Features (schema 1.1.0, :func:`geosignal.contract.export_schema`'s
    ``zone``)."""
    if last <= after:
        return []
    rows = session.execute(text(ZONES_SQL.format(where=where)),
                           {**params, "zone_after": after, "zone_last": last}).all()
    return [{
        "type": "Feature",
        "id": r.id,
        "geometry": json.loads(r.geojson),
        "properties": {
            "zone_id": r.id, "state": "confirmed", "network": r.network, "report_count": r.report_count,
            "report_ids": list(r.report_ids), "technologies": list(r.technologies), "operators": list(r.operators),
            "commune_nis": r.commune_nis, "updated_at": contract.format_datetime(r.updated_at),
        },
    } for r in rows]
