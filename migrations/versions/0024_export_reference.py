"""export schema 1.2.0: the stored Features carry the report's reference

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 23:30:00

The DWconnect export's Features gain ``reference`` (``CM-YYYY-NNNNN``, the name the communes,
the referent and the e-mails give a report), as an optional member of schema 1.2.0. The
statement-level trigger function that builds stored Features is replaced, and every stored
Feature is rebuilt in one ``INSERT … SELECT … ON CONFLICT`` (set-wise, Brussels time). The
reports' ``change_seq`` is left as it is: an incremental export does not send every report
again; a full export carries the reference of every report.

``FROZEN_SQL`` holds what ``geosignal.services.export.sql.stored_sql()`` generated when this
migration was written (tests/test_frozen_sql.py keeps the newest copy equal to the live text);
the downgrade reinstalls migration 0010's copy (schema 1.1.0), read from its frozen file.
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

#: Stored SQL this migration installs or runs, frozen (see tests/test_frozen_sql.py).
FROZEN_SQL = {
    "reports_store_features": """
CREATE OR REPLACE FUNCTION reports_store_features() RETURNS trigger LANGUAGE plpgsql
SET TimeZone = 'Europe/Brussels' AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO report_features (seq, feature_json, feature_collapsed)
    SELECT r.seq, json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object(
    'report_id', r.id::text,
    'reference', r.reference,
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
    'revision', r.change_seq,
    'status', r.status,
    'geometry_kind', CASE ST_Dimension(r.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END,
    'area_m2', CASE WHEN ST_Dimension(r.geometry) = 2
                    THEN round(ST_Area(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'length_m', CASE WHEN ST_Dimension(r.geometry) = 1
                     THEN round(ST_Length(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'merged_reports', 1,
    'reporter_role', u.role,
    'reporter_commune_nis', u.commune_nis,
    'schema_version', '1.2.0',
    'source', 'geosignal')
)::text AS feature_json, ST_IsEmpty(x.g) AS feature_collapsed
FROM changed_reports r
JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 3))
END AS g) x;
  ELSE
    INSERT INTO report_features (seq, feature_json, feature_collapsed)
    SELECT r.seq, json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object(
    'report_id', r.id::text,
    'reference', r.reference,
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
    'revision', r.change_seq,
    'status', r.status,
    'geometry_kind', CASE ST_Dimension(r.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END,
    'area_m2', CASE WHEN ST_Dimension(r.geometry) = 2
                    THEN round(ST_Area(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'length_m', CASE WHEN ST_Dimension(r.geometry) = 1
                     THEN round(ST_Length(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'merged_reports', 1,
    'reporter_role', u.role,
    'reporter_commune_nis', u.commune_nis,
    'schema_version', '1.2.0',
    'source', 'geosignal')
)::text AS feature_json, ST_IsEmpty(x.g) AS feature_collapsed
FROM changed_reports r
JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 3))
END AS g) x
    ON CONFLICT (seq) DO UPDATE
      SET feature_json = EXCLUDED.feature_json, feature_collapsed = EXCLUDED.feature_collapsed;
  END IF;
  RETURN NULL;
END $fn$""",
    "report_features_fill": """
INSERT INTO report_features (seq, feature_json, feature_collapsed)
SELECT r.seq, json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object(
    'report_id', r.id::text,
    'reference', r.reference,
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
    'revision', r.change_seq,
    'status', r.status,
    'geometry_kind', CASE ST_Dimension(r.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END,
    'area_m2', CASE WHEN ST_Dimension(r.geometry) = 2
                    THEN round(ST_Area(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'length_m', CASE WHEN ST_Dimension(r.geometry) = 1
                     THEN round(ST_Length(ST_Transform(r.geometry, 31370))::numeric, 1) END,
    'merged_reports', 1,
    'reporter_role', u.role,
    'reporter_commune_nis', u.commune_nis,
    'schema_version', '1.2.0',
    'source', 'geosignal')
)::text AS feature_json, ST_IsEmpty(x.g) AS feature_collapsed
FROM reports r
JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 3))
END AS g) x
ON CONFLICT (seq) DO UPDATE
  SET feature_json = EXCLUDED.feature_json, feature_collapsed = EXCLUDED.feature_collapsed""",
}


def _install(frozen: dict[str, str]) -> None:
    op.execute(frozen["reports_store_features"])
    op.execute("SET LOCAL TimeZone = 'Europe/Brussels'")
    op.execute(frozen["report_features_fill"])
    op.execute("SET LOCAL TimeZone TO DEFAULT")


def upgrade() -> None:
    _install(FROZEN_SQL)


def _frozen_0010() -> dict[str, str]:
    """FROZEN_SQL of migration 0010 (a frozen file, not live code)."""
    path = Path(__file__).with_name("0010_zones.py")
    spec = importlib.util.spec_from_file_location("geosignal_migration_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FROZEN_SQL


def downgrade() -> None:
    _install(_frozen_0010())
