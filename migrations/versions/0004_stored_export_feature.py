"""stored export Feature per report

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:25:00

``reports.feature_json`` holds each report as the DWconnect export writes it (a GeoJSON
Feature) and ``reports.feature_collapsed`` whether its geometry collapses when rounded; the
trigger ``reports_feature_json`` sets both on every insert and update (it runs after
``reports_change_seq``: triggers of one event fire in name order), so an export streams
stored text instead of serialising every report again. A commune renamed or a reporter whose
role or commune changes rewrites the reports concerned.

The function is a frozen copy of what ``geosignal.services.export.feature_function_sql()``
generated for schema version 1.x (a migration never imports live code). Migration 0007
replaces this per-row trigger by statement-level ones.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Stored SQL this migration installs, frozen (see tests/test_frozen_sql.py).
FROZEN_SQL = {
    "reports_feature_json": """
CREATE OR REPLACE FUNCTION reports_feature_json() RETURNS trigger LANGUAGE plpgsql
SET TimeZone = 'Europe/Brussels' AS $fn$
BEGIN
  SELECT json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
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
    'schema_version', '1.0.0',
    'source', 'geosignal')
)::text, ST_IsEmpty(x.g) INTO NEW.feature_json, NEW.feature_collapsed
  FROM (SELECT NEW.*) r
  JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
  LEFT JOIN users u ON u.id = r.reporter_id
  CROSS JOIN LATERAL (SELECT
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, 1e-06), 3))
END AS g) x;
  RETURN NEW;
END $fn$""",
}


def upgrade() -> None:
    op.add_column("reports", sa.Column("feature_json", sa.Text(), nullable=True))
    op.add_column("reports", sa.Column("feature_collapsed", sa.Boolean(), nullable=True))
    op.execute(FROZEN_SQL["reports_feature_json"])
    op.execute("CREATE TRIGGER reports_feature_json BEFORE INSERT OR UPDATE ON reports "
               "FOR EACH ROW EXECUTE FUNCTION reports_feature_json()")
    op.execute("""
        CREATE FUNCTION reports_rewrite_feature() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_TABLE_NAME = 'communes' THEN
            UPDATE reports SET feature_json = NULL WHERE commune_nis = NEW.nis_code;
          ELSE
            UPDATE reports SET feature_json = NULL WHERE reporter_id = NEW.id;
          END IF;
          RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER communes_rewrite_feature AFTER UPDATE OF name_fr ON communes FOR EACH ROW "
               "WHEN (OLD.name_fr IS DISTINCT FROM NEW.name_fr) EXECUTE FUNCTION reports_rewrite_feature()")
    op.execute("CREATE TRIGGER users_rewrite_feature AFTER UPDATE OF role, commune_nis ON users FOR EACH ROW "
               "WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.commune_nis IS DISTINCT FROM NEW.commune_nis) "
               "EXECUTE FUNCTION reports_rewrite_feature()")
    # existing reports: computed once, without counting it as a change
    op.execute("ALTER TABLE reports DISABLE TRIGGER reports_change_seq")
    op.execute("UPDATE reports SET feature_json = NULL")
    op.execute("ALTER TABLE reports ENABLE TRIGGER reports_change_seq")


def downgrade() -> None:
    op.execute("DROP TRIGGER users_rewrite_feature ON users")
    op.execute("DROP TRIGGER communes_rewrite_feature ON communes")
    op.execute("DROP FUNCTION reports_rewrite_feature()")
    op.execute("DROP TRIGGER reports_feature_json ON reports")
    op.execute("DROP FUNCTION reports_feature_json()")
    op.drop_column("reports", "feature_collapsed")
    op.drop_column("reports", "feature_json")
