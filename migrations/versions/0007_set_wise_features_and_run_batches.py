"""stored Features built set-wise; export runs record the reports carried by batch

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00

Each report's exported Feature moves from ``reports.feature_json`` (filled by a per-row
trigger: ~0.2 ms of PL/pgSQL per row, 200,000 rows of ``COPY`` in 23-44 s) to
``report_features`` (keyed by the report's ``seq``), written by statement-level triggers with
transition tables: every statement that inserts or updates reports (a single ``INSERT``, a
``COPY``, an ``INSERT … SELECT`` from a staging table, an ``UPDATE`` of many rows) builds the
Features of all its rows in one ``INSERT … SELECT``. No foreign key (its per-row check would
cost bulk loads again): deleting or truncating reports removes their Features by trigger.
Renaming a commune or changing a reporter's role or commune rewrites the reports concerned
(a new ``change_seq``, hence a new Feature), as before.

``export_run_reports`` (one row per report carried) becomes ``export_run_batches``: one row
per batch of a run: the ids of its reports packed (16 bytes each) and their ``change_seq``
(an array) in insertion order, with the ``seq`` range they span. Packed ids and the gzip
chunks are stored uncompressed by PostgreSQL (``STORAGE EXTERNAL``: they do not compress).

``FROZEN_SQL`` holds what ``geosignal.services.export.sql.stored_sql()`` generated when this
migration was written (a migration never imports live code; tests/test_frozen_sql.py keeps
the newest frozen copy equal to the live text).
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
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

_FORGET_FEATURES = """
CREATE FUNCTION reports_forget_features() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM report_features;
  ELSE
    DELETE FROM report_features f USING removed_reports o WHERE f.seq = o.seq;
  END IF;
  RETURN NULL;
END $fn$"""

#: A commune renamed, or a reporter's role or commune changed: the reports concerned are
#: rewritten (a no-op update: a new change_seq, and the statement trigger stores new Features).
_REWRITE_FEATURE = """
CREATE OR REPLACE FUNCTION reports_rewrite_feature() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'communes' THEN
    UPDATE reports SET commune_nis = commune_nis WHERE commune_nis = NEW.nis_code;
  ELSE
    UPDATE reports SET reporter_id = reporter_id WHERE reporter_id = NEW.id;
  END IF;
  RETURN NULL;
END $fn$"""

#: The function as migration 0004 installed it.
_REWRITE_FEATURE_0004 = """
CREATE OR REPLACE FUNCTION reports_rewrite_feature() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'communes' THEN
    UPDATE reports SET feature_json = NULL WHERE commune_nis = NEW.nis_code;
  ELSE
    UPDATE reports SET feature_json = NULL WHERE reporter_id = NEW.id;
  END IF;
  RETURN NULL;
END $$"""

#: Reports per batch when older runs are converted.
_BATCH = 20000


def upgrade() -> None:
    op.create_table(
        "report_features",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("feature_json", sa.Text(), nullable=False),
        sa.Column("feature_collapsed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.execute("SET LOCAL TimeZone = 'Europe/Brussels'")
    op.execute(FROZEN_SQL["report_features_fill"])
    op.execute("SET LOCAL TimeZone TO DEFAULT")
    op.execute("DROP TRIGGER reports_feature_json ON reports")
    op.execute("DROP FUNCTION reports_feature_json()")
    op.drop_column("reports", "feature_collapsed")
    op.drop_column("reports", "feature_json")
    op.execute(FROZEN_SQL["reports_store_features"])
    for event in ("INSERT", "UPDATE"):
        op.execute(f"CREATE TRIGGER reports_store_features_{event.lower()} AFTER {event} ON reports "
                   "REFERENCING NEW TABLE AS changed_reports FOR EACH STATEMENT "
                   "EXECUTE FUNCTION reports_store_features()")
    op.execute(_FORGET_FEATURES)
    op.execute("CREATE TRIGGER reports_forget_features AFTER DELETE ON reports REFERENCING OLD TABLE AS "
               "removed_reports FOR EACH STATEMENT EXECUTE FUNCTION reports_forget_features()")
    op.execute("CREATE TRIGGER reports_forget_all_features AFTER TRUNCATE ON reports "
               "FOR EACH STATEMENT EXECUTE FUNCTION reports_forget_features()")
    op.execute(_REWRITE_FEATURE)

    op.create_table(
        "export_run_batches",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("report_ids", sa.LargeBinary(), nullable=False),
        sa.Column("change_seqs", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.CheckConstraint("length(report_ids) = 16 * cardinality(change_seqs)", name="arrays_parallel"),
        sa.ForeignKeyConstraint(["run_id"], ["export_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "n"),
    )
    op.create_index("ix_export_run_batches_seq_range", "export_run_batches", ["last_seq", "first_seq"])
    op.execute("ALTER TABLE export_run_batches ALTER report_ids SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE export_run_chunks ALTER data SET STORAGE EXTERNAL")
    op.execute(f"""
        INSERT INTO export_run_batches (run_id, n, first_seq, last_seq, report_ids, change_seqs)
        SELECT run_id, b, min(seq), max(seq), string_agg(uuid_send(report_id), ''::bytea ORDER BY seq, report_id),
               array_agg(change_seq ORDER BY seq, report_id)
        FROM (SELECT e.run_id, e.report_id, e.change_seq, coalesce(r.seq, 0) AS seq,
                     (row_number() OVER (PARTITION BY e.run_id ORDER BY r.seq, e.report_id) - 1) / {_BATCH} AS b
              FROM export_run_reports e LEFT JOIN reports r ON r.id = e.report_id) x
        GROUP BY run_id, b""")
    op.drop_index("ix_export_run_reports_report_id", table_name="export_run_reports")
    op.drop_table("export_run_reports")


def _frozen_0004() -> dict[str, str]:
    """FROZEN_SQL of migration 0004 (a frozen file, not live code)."""
    path = Path(__file__).with_name("0004_stored_export_feature.py")
    spec = importlib.util.spec_from_file_location("geosignal_migration_0004", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FROZEN_SQL


def downgrade() -> None:
    op.create_table(
        "export_run_reports",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["export_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "report_id"),
    )
    op.create_index("ix_export_run_reports_report_id", "export_run_reports", ["report_id"], unique=False)
    op.execute("""
        INSERT INTO export_run_reports (run_id, report_id, change_seq)
        SELECT b.run_id, encode(substring(b.report_ids FROM 16 * i - 15 FOR 16), 'hex')::uuid, b.change_seqs[i]
        FROM export_run_batches b, generate_subscripts(b.change_seqs, 1) AS i""")
    op.execute("ALTER TABLE export_run_chunks ALTER data SET STORAGE EXTENDED")
    op.drop_index("ix_export_run_batches_seq_range", table_name="export_run_batches")
    op.drop_table("export_run_batches")

    op.execute(_REWRITE_FEATURE_0004)
    op.execute("DROP TRIGGER reports_forget_all_features ON reports")
    op.execute("DROP TRIGGER reports_forget_features ON reports")
    op.execute("DROP FUNCTION reports_forget_features()")
    op.execute("DROP TRIGGER reports_store_features_update ON reports")
    op.execute("DROP TRIGGER reports_store_features_insert ON reports")
    op.execute("DROP FUNCTION reports_store_features()")
    op.add_column("reports", sa.Column("feature_json", sa.Text(), nullable=True))
    op.add_column("reports", sa.Column("feature_collapsed", sa.Boolean(), nullable=True))
    # the stored Features come back as they are, without counting it as a change
    op.execute("ALTER TABLE reports DISABLE TRIGGER reports_change_seq")
    op.execute("UPDATE reports r SET feature_json = f.feature_json, feature_collapsed = f.feature_collapsed "
               "FROM report_features f WHERE f.seq = r.seq")
    op.execute("ALTER TABLE reports ENABLE TRIGGER reports_change_seq")
    op.execute(_frozen_0004()["reports_feature_json"])
    op.execute("CREATE TRIGGER reports_feature_json BEFORE INSERT OR UPDATE ON reports "
               "FOR EACH ROW EXECUTE FUNCTION reports_feature_json()")
    op.drop_table("report_features")
