"""Per-commune white-zone statistics, computed in PostGIS in EPSG:31370.

Border rules:
- a zone (polygonal report) counts in each commune for the part inside it; overlapping zones
  are counted once (the union of the zones clipped to the commune);
- a report is counted (``report_count``) in the one commune it belongs to
  (:func:`~geosignal.services.communes.commune_of`: largest part; ties to the smallest NIS).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.geo import LAMBERT72

_STATS_SQL = text(
    """
    WITH c AS (
      SELECT nis_code, name_fr, area_m2, ST_Transform(boundary, :srid) AS g FROM communes
    ),
    z AS (
      SELECT ST_Transform(ST_CollectionExtract(geometry, 3), :srid) AS g
      FROM reports
      WHERE ST_Dimension(geometry) = 2 AND status = ANY(:statuses)
    ),
    area AS (
      SELECT c.nis_code, ST_Area(ST_Union(ST_Intersection(z.g, c.g))) AS m2
      FROM c JOIN z ON ST_Intersects(z.g, c.g)
      GROUP BY c.nis_code
    ),
    counts AS (
      SELECT commune_nis, count(*) AS n FROM reports WHERE status = ANY(:statuses) GROUP BY commune_nis
    )
    SELECT c.nis_code, c.name_fr, c.area_m2, coalesce(counts.n, 0) AS report_count,
           coalesce(area.m2, 0) AS white_zone_m2
    FROM c
    LEFT JOIN area ON area.nis_code = c.nis_code
    LEFT JOIN counts ON counts.commune_nis = c.nis_code
    ORDER BY c.nis_code
    """
)

#: Statuses counted by default: everything but rejected and withdrawn reports.
COUNTED_STATUSES = ("submitted", "validated")


def commune_stats(session: Session, statuses: tuple[str, ...] = COUNTED_STATUSES) -> list[dict[str, Any]]:
    """Return one row per commune, by NIS code.

    Each row: ``nis_code``, ``name_fr``, ``report_count``, ``white_zone_area_km2`` (union of
    zone reports clipped to the commune, EPSG:31370), ``commune_area_km2`` and
    ``white_zone_share`` (0–1).
    """
    rows = session.execute(_STATS_SQL, {"srid": LAMBERT72, "statuses": list(statuses)})
    return [
        {
            "nis_code": r.nis_code,
            "name_fr": r.name_fr,
            "report_count": r.report_count,
            "white_zone_area_km2": r.white_zone_m2 / 1e6,
            "commune_area_km2": r.area_m2 / 1e6,
            "white_zone_share": r.white_zone_m2 / r.area_m2 if r.area_m2 else 0.0,
        }
        for r in rows
    ]
