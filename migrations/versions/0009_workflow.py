"""workflow: nine statuses, readable references, the append-only audit journal

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00

- ``reports.status`` takes the workflow's statuses (``draft``, ``submitted``, ``needs_info``,
  ``validated``, ``transmitted``, ``resolved``, ``not_resolved``, ``rejected``,
  ``withdrawn``): the CHECK constraint ``status_known`` is rebuilt.
- The stored figures count ``submitted``, ``needs_info``, ``validated``, ``transmitted`` and
  ``not_resolved``: the stats functions and triggers are re-installed from ``STATS_SQL``, a
  frozen copy of ``geosignal.services.aggregation.stored_sql.stats_sql()`` (a test keeps the
  newest copy equal to the live text). Existing rows are ``submitted``, ``validated``,
  ``rejected`` or ``withdrawn``, counted as before: no figure needs rebuilding.
- ``reports.reference``: ``CM-YYYY-NNNNN`` from the sequence ``reports_reference_seq``
  through the server default ``report_reference_next()`` (COPY and ``INSERT … SELECT`` get
  one too). Existing reports are numbered in ``seq`` order, with the year they were created
  (Brussels time); the backfill runs with the ``reports`` triggers off (the reference is not
  part of the stored figures nor of the exported Feature, so nothing derived changes).
- ``audit_events``: the journal, append-only in the database: a trigger refuses ``UPDATE``,
  ``DELETE`` and ``TRUNCATE`` whoever asks, and those privileges are revoked from ``PUBLIC``
  and from the role running the migration (the application's).

Downgrade maps the new statuses onto the old ones (``draft`` → ``withdrawn``,
``needs_info`` → ``submitted``, ``transmitted``/``resolved``/``not_resolved`` →
``validated``), re-installs 0005's stats SQL (read from that migration's file) and drops
the rest.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STATUSES = ("draft", "submitted", "needs_info", "validated", "transmitted", "resolved", "not_resolved",
             "rejected", "withdrawn")
_OLD_STATUSES = ("submitted", "validated", "rejected", "withdrawn")

STATS_SQL = r"""
CREATE FUNCTION commune_cells_build(codes varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- cut the communes by the grid: cells wholly inside keep their square, the others are clipped
  DELETE FROM commune_cells WHERE nis_code = ANY(codes);
  INSERT INTO commune_cells (nis_code, i, j, clip, extent)
  SELECT nis_code, i, j, clip,
         ST_Expand(ST_Envelope(ST_Transform(ST_Envelope(clip), 4326)), 0.00002)::geometry(Polygon, 4326)
  FROM (
    SELECT c.nis_code, q.i, q.j,
           ST_Multi(CASE WHEN ST_Within(q.geom, b.g) THEN q.geom
                         ELSE ST_CollectionExtract(ST_Intersection(q.geom, b.g), 3) END) AS clip
    FROM communes c
    CROSS JOIN LATERAL (SELECT ST_Transform(c.boundary, 31370) AS g) b
    CROSS JOIN LATERAL ST_SquareGrid(1000, b.g) q
    WHERE c.nis_code = ANY(codes) AND ST_Intersects(q.geom, b.g)
  ) s
  WHERE NOT ST_IsEmpty(clip)
  ORDER BY 1, 2, 3;
END $fn$;

CREATE FUNCTION commune_cells_compute(k_nis varchar[], k_i integer[], k_j integer[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  -- each piece from the counted reports touching the cell (the caller holds the locks)
  UPDATE commune_cells t
  SET zone = CASE WHEN p.z IS NULL OR ST_IsEmpty(p.z) THEN NULL ELSE ST_Multi(ST_Transform(p.z, 4326)) END,
      zone_m2 = coalesce(ST_Area(p.z), 0),
      line = CASE WHEN p.l IS NULL OR ST_IsEmpty(p.l) THEN NULL ELSE ST_Multi(ST_Transform(p.l, 4326)) END,
      line_m = coalesce(ST_Length(p.l), 0)
  FROM (
    SELECT c.nis_code, c.i, c.j,
      (SELECT ST_CollectionExtract(ST_Union(ST_CollectionExtract(ST_Intersection(s.g, c.clip), 3)), 3)
         FROM (SELECT ST_Transform(r.geometry, 31370) AS g FROM reports r
               WHERE r.geometry && c.extent AND ST_Dimension(r.geometry) = 2
                 AND r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) s
         ) AS z,
      (SELECT ST_CollectionExtract(ST_Union(ST_CollectionExtract(ST_Intersection(s.g, c.clip), 2),
                                            0.01), 2)
         FROM (SELECT ST_Transform(r.geometry, 31370) AS g FROM reports r
               WHERE r.geometry && c.extent AND ST_Dimension(r.geometry) = 1
                 AND r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) s
         ) AS l
    FROM commune_cells c JOIN unnest(k_nis, k_i, k_j) AS k(nis_code, i, j) USING (nis_code, i, j)
  ) p
  WHERE t.nis_code = p.nis_code AND t.i = p.i AND t.j = p.j;
END $fn$;

CREATE FUNCTION commune_stats_rebuild(codes varchar[], regrid boolean) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  k_nis varchar[]; k_i integer[]; k_j integer[];
BEGIN
  -- the commune locks, exclusive: every writer of these communes waits, or is waited for
  INSERT INTO commune_stats (nis_code) SELECT c FROM unnest(codes) c ORDER BY 1 ON CONFLICT DO NOTHING;
  PERFORM 1 FROM commune_stats WHERE nis_code = ANY(codes) ORDER BY nis_code FOR UPDATE;
  IF regrid THEN
    PERFORM commune_cells_build(codes);
  ELSE
    PERFORM commune_cells_build(ARRAY(SELECT s.nis_code FROM commune_stats s WHERE s.nis_code = ANY(codes)
      AND NOT EXISTS (SELECT 1 FROM commune_cells c WHERE c.nis_code = s.nis_code)));
  END IF;
  SELECT array_agg(nis_code ORDER BY nis_code, i, j), array_agg(i ORDER BY nis_code, i, j),
         array_agg(j ORDER BY nis_code, i, j)
    INTO k_nis, k_i, k_j FROM commune_cells WHERE nis_code = ANY(codes);
  PERFORM commune_cells_compute(k_nis, k_i, k_j);
  DELETE FROM commune_counts WHERE nis_code = ANY(codes);
  INSERT INTO commune_counts (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, 0, sum(n) FROM (
    WITH ch AS (SELECT r.*, 1 AS d FROM reports r WHERE r.commune_nis = ANY(codes))
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
  ) x WHERE nis = ANY(codes) GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
  UPDATE commune_stats SET computed_at = now() WHERE nis_code = ANY(codes);
END $fn$;

CREATE FUNCTION commune_stats_ensure() RETURNS varchar[] LANGUAGE plpgsql AS $fn$
DECLARE
  missing varchar[];
BEGIN
  -- communes without figures (never computed, or the table was cleared) are rebuilt here
  WITH ins AS (
    INSERT INTO commune_stats (nis_code)
    SELECT c.nis_code FROM communes c
    WHERE NOT EXISTS (SELECT 1 FROM commune_stats s WHERE s.nis_code = c.nis_code)
    ORDER BY 1 ON CONFLICT DO NOTHING RETURNING nis_code)
  SELECT array_agg(nis_code ORDER BY nis_code) INTO missing FROM ins;
  IF missing IS NOT NULL THEN
    PERFORM commune_stats_rebuild(missing, true);
  END IF;
  RETURN coalesce(missing, '{}');
END $fn$;

CREATE FUNCTION commune_stats_share(homes varchar[], geoms geometry[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  codes varchar[];
BEGIN
  -- commune locks, shared, in NIS order: the home communes and those whose cells are touched
  -- (the keys first, then the lock on keys alone, so that a lock waiting for a writer that
  -- changed the row rechecks nothing but its key)
  codes := ARRAY(SELECT unnest(homes) UNION
                 SELECT c.nis_code FROM unnest(geoms) x JOIN commune_cells c ON c.clip && ST_Transform(x, 31370));
  PERFORM 1 FROM commune_stats s WHERE s.nis_code = ANY(codes) ORDER BY s.nis_code FOR SHARE;
END $fn$;

CREATE FUNCTION commune_cells_refresh(geoms geometry[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  k_nis varchar[]; k_i integer[]; k_j integer[];
BEGIN
  -- the cells the geometries touch, locked in (nis_code, i, j) order, then recomputed
  SELECT array_agg(nis_code), array_agg(i), array_agg(j) INTO k_nis, k_i, k_j FROM (
    SELECT DISTINCT c.nis_code, c.i, c.j
    FROM (SELECT ST_Transform(x, 31370) AS g FROM unnest(geoms) x WHERE ST_Dimension(x) > 0) g
    JOIN commune_cells c ON c.clip && g.g) q;
  IF k_nis IS NULL THEN
    RETURN;
  END IF;
  PERFORM 1 FROM commune_cells c JOIN unnest(k_nis, k_i, k_j) AS k(nis_code, i, j) USING (nis_code, i, j)
    ORDER BY c.nis_code, c.i, c.j FOR UPDATE OF c;
  PERFORM commune_cells_compute(k_nis, k_i, k_j);
END $fn$;

CREATE FUNCTION commune_stats_refresh(geoms geometry[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM commune_stats_ensure();
  PERFORM commune_stats_share('{}', geoms);
  PERFORM commune_cells_refresh(geoms);
END $fn$;

CREATE FUNCTION reports_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  rebuilt varchar[]; homes varchar[]; geoms geometry[];
BEGIN
  rebuilt := commune_stats_ensure();
  homes := ARRAY(SELECT DISTINCT ch.commune_nis FROM (SELECT n.*, 1 AS d FROM new_rows n) ch ORDER BY 1);
  geoms := ARRAY(SELECT n.geometry FROM new_rows n WHERE n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') AND ST_Dimension(n.geometry) > 0);
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % 8)::smallint, sum(n) FROM (
    WITH ch AS (SELECT n.*, 1 AS d FROM new_rows n)
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
  ) x WHERE NOT nis = ANY(rebuilt) GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (nis_code, dim, value, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
  PERFORM commune_cells_refresh(geoms);
  RETURN NULL;
END $fn$;

CREATE FUNCTION reports_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  rebuilt varchar[]; homes varchar[]; geoms geometry[];
BEGIN
  rebuilt := commune_stats_ensure();
  homes := ARRAY(SELECT DISTINCT ch.commune_nis FROM (SELECT o.*, -1 AS d FROM old_rows o) ch ORDER BY 1);
  geoms := ARRAY(SELECT o.geometry FROM old_rows o WHERE o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') AND ST_Dimension(o.geometry) > 0);
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % 8)::smallint, sum(n) FROM (
    WITH ch AS (SELECT o.*, -1 AS d FROM old_rows o)
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
  ) x WHERE NOT nis = ANY(rebuilt) GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (nis_code, dim, value, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
  PERFORM commune_cells_refresh(geoms);
  RETURN NULL;
END $fn$;

CREATE FUNCTION reports_tally_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  rebuilt varchar[]; homes varchar[]; geoms geometry[];
BEGIN
  rebuilt := commune_stats_ensure();
  homes := ARRAY(SELECT DISTINCT ch.commune_nis FROM (SELECT o.*, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.commune_nis, o.status, o.network, o.technologies, o.operators, o.issue, o.households_affected, ST_Dimension(o.geometry)) IS DISTINCT FROM (n.commune_nis, n.status, n.network, n.technologies, n.operators, n.issue, n.households_affected, ST_Dimension(n.geometry))
      UNION ALL SELECT n.*, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.commune_nis, o.status, o.network, o.technologies, o.operators, o.issue, o.households_affected, ST_Dimension(o.geometry)) IS DISTINCT FROM (n.commune_nis, n.status, n.network, n.technologies, n.operators, n.issue, n.households_affected, ST_Dimension(n.geometry))) ch ORDER BY 1);
  geoms := ARRAY(SELECT x.g FROM old_rows o JOIN new_rows n ON n.id = o.id,
        LATERAL (VALUES (o.geometry), (n.geometry)) x(g)
      WHERE ST_Dimension(x.g) > 0 AND (o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') OR n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved'))
        AND ((o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) <> (n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved'))
             OR o.geometry::bytea IS DISTINCT FROM n.geometry::bytea));
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % 8)::smallint, sum(n) FROM (
    WITH ch AS (SELECT o.*, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.commune_nis, o.status, o.network, o.technologies, o.operators, o.issue, o.households_affected, ST_Dimension(o.geometry)) IS DISTINCT FROM (n.commune_nis, n.status, n.network, n.technologies, n.operators, n.issue, n.households_affected, ST_Dimension(n.geometry))
      UNION ALL SELECT n.*, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE (o.commune_nis, o.status, o.network, o.technologies, o.operators, o.issue, o.households_affected, ST_Dimension(o.geometry)) IS DISTINCT FROM (n.commune_nis, n.status, n.network, n.technologies, n.operators, n.issue, n.households_affected, ST_Dimension(n.geometry)))
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')
  ) x WHERE NOT nis = ANY(rebuilt) GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (nis_code, dim, value, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
  PERFORM commune_cells_refresh(geoms);
  RETURN NULL;
END $fn$;

CREATE FUNCTION reports_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE commune_cells SET zone = NULL, line = NULL, zone_m2 = 0, line_m = 0
    WHERE zone IS NOT NULL OR line IS NOT NULL;
  DELETE FROM commune_counts;
  RETURN NULL;
END $fn$;

CREATE TRIGGER reports_tally_insert AFTER INSERT ON reports REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_tally_insert();
CREATE TRIGGER reports_tally_update AFTER UPDATE ON reports REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_tally_update();
CREATE TRIGGER reports_tally_delete AFTER DELETE ON reports REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_tally_delete();
CREATE TRIGGER reports_tally_truncate AFTER TRUNCATE ON reports
  FOR EACH STATEMENT EXECUTE FUNCTION reports_tally_truncate();
"""

DROP_SQL = """
DROP TRIGGER reports_tally_truncate ON reports;
DROP TRIGGER reports_tally_delete ON reports;
DROP TRIGGER reports_tally_update ON reports;
DROP TRIGGER reports_tally_insert ON reports;
DROP FUNCTION reports_tally_truncate();
DROP FUNCTION reports_tally_delete();
DROP FUNCTION reports_tally_update();
DROP FUNCTION reports_tally_insert();
DROP FUNCTION commune_stats_refresh(geometry[]);
DROP FUNCTION commune_cells_refresh(geometry[]);
DROP FUNCTION commune_stats_share(varchar[], geometry[]);
DROP FUNCTION commune_stats_ensure();
DROP FUNCTION commune_stats_rebuild(varchar[], boolean);
DROP FUNCTION commune_cells_compute(varchar[], integer[], integer[]);
DROP FUNCTION commune_cells_build(varchar[]);
"""

REFERENCE_SQL = r"""
CREATE SEQUENCE reports_reference_seq AS bigint;
CREATE FUNCTION report_reference_next() RETURNS varchar LANGUAGE sql VOLATILE AS $fn$
  SELECT 'CM-' || to_char(now() AT TIME ZONE 'Europe/Brussels', 'YYYY') || '-'
         || lpad(n::text, greatest(5, length(n::text)), '0')
  FROM nextval('reports_reference_seq') AS n
$fn$;
"""

AUDIT_SQL = r"""
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $fn$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM CURRENT_USER;
"""


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.drop_constraint("status_known", "reports", type_="check")
    op.create_check_constraint("status_known", "reports", f"status IN ({_in(_STATUSES)})")
    op.execute(DROP_SQL)
    op.execute(STATS_SQL)

    op.execute(REFERENCE_SQL)
    op.add_column("reports", sa.Column("reference", sa.String(length=20), nullable=True))
    op.execute("ALTER TABLE reports DISABLE TRIGGER USER")
    op.execute("""
        UPDATE reports r SET reference = 'CM-' || to_char(r.created_at AT TIME ZONE 'Europe/Brussels', 'YYYY')
               || '-' || lpad(o.n::text, greatest(5, length(o.n::text)), '0')
        FROM (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM reports) o
        WHERE o.id = r.id""")
    op.execute("ALTER TABLE reports ENABLE TRIGGER USER")
    op.execute("SELECT setval('reports_reference_seq', greatest((SELECT count(*) FROM reports), 1),"
               " (SELECT count(*) FROM reports) > 0)")
    op.alter_column("reports", "reference", nullable=False, server_default=sa.text("report_reference_next()"))
    op.create_unique_constraint("reports_reference_key", "reports", ["reference"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("actor_commune_nis", sa.String(length=5), nullable=True),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("commune_nis", sa.String(length=5), nullable=True),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_commune_nis", "audit_events", ["commune_nis"])
    op.create_index("ix_audit_events_report_id_id", "audit_events", ["report_id", "id"])
    op.execute(AUDIT_SQL)


def _stats_sql_0005() -> str:
    path = Path(__file__).with_name("0005_commune_cells.py")
    spec = importlib.util.spec_from_file_location("geosignal_migration_0005", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.STATS_SQL


def downgrade() -> None:
    op.drop_table("audit_events")  # DROP is not UPDATE/DELETE/TRUNCATE: the owner may
    op.execute("DROP FUNCTION audit_events_refuse_change()")
    op.drop_constraint("reports_reference_key", "reports", type_="unique")
    op.drop_column("reports", "reference")
    op.execute("DROP FUNCTION report_reference_next(); DROP SEQUENCE reports_reference_seq;")

    op.drop_constraint("status_known", "reports", type_="check")
    op.execute("""
        UPDATE reports SET status = CASE status WHEN 'draft' THEN 'withdrawn' WHEN 'needs_info' THEN 'submitted'
                                                ELSE 'validated' END
        WHERE status NOT IN ('submitted', 'validated', 'rejected', 'withdrawn')""")
    op.create_check_constraint("status_known", "reports", f"status IN ({_in(_OLD_STATUSES)})")
    op.execute(DROP_SQL)
    op.execute(_stats_sql_0005())
