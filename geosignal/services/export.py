"""DWconnect export: reports as an RFC 7946 GeoJSON FeatureCollection, streamed.

PostgreSQL serialises each Feature (``ST_AsGeoJSON``, 6 decimals, exterior rings
counter-clockwise via ``ST_ForcePolygonCCW``, applied to zones only: PostGIS 3.3 reverses
lines given to it); rows are read through a server-side cursor
and written as they come, so memory stays bounded whatever the number of reports.
Timestamps are ISO 8601 with the Europe/Brussels offset. No ``crs`` member (RFC 7946 §4).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.geo import LAMBERT72

#: Version of the DWconnect export schema (``data/dwconnect-export.schema.json``).
SCHEMA_VERSION = "1.0.0"
SOURCE = "geosignal"

#: One Feature per row, serialised by PostgreSQL.
_FEATURE_SQL = """
SELECT json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(CASE WHEN ST_Dimension(r.geometry) = 2
                                THEN ST_ForcePolygonCCW(r.geometry) ELSE r.geometry END, 6)::json,
  'properties', json_build_object(
    'report_id', r.id::text,
    'commune_nis', r.commune_nis,
    'commune_name', c.name_fr,
    'network', r.network,
    'technologies', to_json(r.technologies),
    'operators', to_json(r.operators),
    'issue', r.issue,
    'setting', r.setting,
    'households_affected', r.households_affected,
    'businesses_affected', r.businesses_affected,
    'description', r.description,
    'observed_at', r.observed_at,
    'reported_at', r.created_at,
    'updated_at', r.updated_at,
    'status', r.status,
    'geometry_kind', CASE ST_Dimension(r.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END,
    'area_m2', CASE WHEN ST_Dimension(r.geometry) = 2
                    THEN round(ST_Area(ST_Transform(r.geometry, CAST(:srid AS integer)))::numeric, 1) END,
    'length_m', CASE WHEN ST_Dimension(r.geometry) = 1
                     THEN round(ST_Length(ST_Transform(r.geometry, CAST(:srid AS integer)))::numeric, 1) END,
    'reporter_role', u.role,
    'schema_version', CAST(:schema_version AS text),
    'source', CAST(:source AS text)
  )
)::text AS feature
FROM reports r
JOIN communes c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
WHERE {where}
ORDER BY r.updated_at, r.id
"""


@dataclass(frozen=True)
class ExportFilters:
    """Which reports an export carries. ``statuses`` None means every status."""

    statuses: tuple[str, ...] | None = ("validated",)
    commune: str | None = None


def _where(filters: ExportFilters) -> tuple[str, dict]:
    clauses, params = ["TRUE"], {}
    if filters.statuses is not None:
        clauses.append("r.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    if filters.commune:
        clauses.append("r.commune_nis = :commune")
        params["commune"] = filters.commune
    return " AND ".join(clauses), params


def iter_feature_collection(session: Session, filters: ExportFilters = ExportFilters(),
                            batch: int = 2000) -> Iterator[str]:
    """Yield a GeoJSON FeatureCollection as text chunks (UTF-8 when encoded), streaming rows.

    Holds at most ``batch`` serialised features in memory. The session must stay open
    while the iterator is consumed.
    """
    where, params = _where(filters)
    params.update(srid=LAMBERT72, schema_version=SCHEMA_VERSION, source=SOURCE)
    session.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    result = session.execute(
        text(_FEATURE_SQL.format(where=where)), params,
        execution_options={"stream_results": True, "yield_per": batch},
    )
    yield '{"type":"FeatureCollection","features":['
    first = True
    for partition in result.partitions():
        chunk = ",".join(row[0] for row in partition)
        yield chunk if first else "," + chunk
        first = False
    yield "]}\n"
