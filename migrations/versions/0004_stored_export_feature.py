"""stored export Feature per report

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:25:00

``reports.feature_json`` holds each report as the DWconnect export writes it (a GeoJSON
Feature) and ``reports.feature_collapsed`` whether its geometry collapses when rounded; the
trigger ``reports_feature_json`` sets both on every insert and update (it runs after
``reports_change_seq``: triggers of one event fire in name order), so an export streams
stored text instead of serialising every report again. A commune renamed or a reporter whose
role or commune changes rewrites the reports concerned. The function's body comes from
``geosignal.services.export.feature_function_sql()`` (schema version 1.x).
"""
import sqlalchemy as sa
from alembic import op

from geosignal.services.export import feature_function_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("feature_json", sa.Text(), nullable=True))
    op.add_column("reports", sa.Column("feature_collapsed", sa.Boolean(), nullable=True))
    op.execute(feature_function_sql())
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
