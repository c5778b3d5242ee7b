"""commune cells: stored figures exact under concurrency

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00

Each commune is cut by a 1 km grid (EPSG:31370) into ``commune_cells``; each cell keeps the
piece of the white-zone union (and line union) inside it, recomputed from the reports that
touch it. Counts move to ``commune_counts`` (atomic increments, sharded per transaction).
``commune_stats`` keeps one row per commune: the lock writers share and rebuilds take.
Statement-level triggers on ``reports`` keep all of it up to date, once per statement; they
replace the 0002 trigger that dropped the figures of communes whose reports were deleted.

``STATS_SQL`` is a frozen copy of ``geosignal.services.aggregation.stored_sql.stats_sql()``
(a test checks that they are equal); it is not imported from the live code.
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

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
                 AND r.status IN ('submitted', 'validated')) s
         ) AS z,
      (SELECT ST_CollectionExtract(ST_Union(ST_CollectionExtract(ST_Intersection(s.g, c.clip), 2),
                                            0.01), 2)
         FROM (SELECT ST_Transform(r.geometry, 31370) AS g FROM reports r
               WHERE r.geometry && c.extent AND ST_Dimension(r.geometry) = 1
                 AND r.status IN ('submitted', 'validated')) s
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
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'validated')
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
  geoms := ARRAY(SELECT n.geometry FROM new_rows n WHERE n.status IN ('submitted', 'validated') AND ST_Dimension(n.geometry) > 0);
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % 8)::smallint, sum(n) FROM (
    WITH ch AS (SELECT n.*, 1 AS d FROM new_rows n)
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'validated')
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
  geoms := ARRAY(SELECT o.geometry FROM old_rows o WHERE o.status IN ('submitted', 'validated') AND ST_Dimension(o.geometry) > 0);
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % 8)::smallint, sum(n) FROM (
    WITH ch AS (SELECT o.*, -1 AS d FROM old_rows o)
    SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'validated')
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
      WHERE ST_Dimension(x.g) > 0 AND (o.status IN ('submitted', 'validated') OR n.status IN ('submitted', 'validated'))
        AND ((o.status IN ('submitted', 'validated')) <> (n.status IN ('submitted', 'validated'))
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
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ('submitted', 'validated')
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ('submitted', 'validated')
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

#: The 0002 functions and trigger, restored on downgrade.
FORGET_0002 = """
CREATE OR REPLACE FUNCTION commune_stats_forget_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM commune_stats s USING communes c, old_reports o
  WHERE s.nis_code = c.nis_code
    AND (c.nis_code = o.commune_nis OR ST_Intersects(c.boundary, o.geometry));
  RETURN NULL;
END $$;
CREATE TRIGGER reports_deleted_forget_stats AFTER DELETE ON reports
  REFERENCING OLD TABLE AS old_reports FOR EACH STATEMENT
  EXECUTE FUNCTION commune_stats_forget_deleted();
CREATE FUNCTION commune_stats_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM commune_stats;
  RETURN NULL;
END $$;
CREATE TRIGGER reports_truncated_forget_stats AFTER TRUNCATE ON reports
  FOR EACH STATEMENT EXECUTE FUNCTION commune_stats_forget_all();
"""

_OLD_COLUMNS = ("report_count", "point_count", "line_count", "zone_count", "households_declared",
                "white_zone_m2", "line_length_m", "breakdown", "white_zone", "line_union")


def upgrade() -> None:
    op.execute("""
        DROP TRIGGER reports_truncated_forget_stats ON reports;
        DROP TRIGGER reports_deleted_forget_stats ON reports;
        DROP FUNCTION commune_stats_forget_all();
        DROP FUNCTION commune_stats_forget_deleted();
    """)
    op.execute("DELETE FROM commune_stats")  # rebuilt below, in the new form
    for column in _OLD_COLUMNS:
        op.drop_column("commune_stats", column)
    op.create_geospatial_table(
        "commune_cells",
        sa.Column("nis_code", sa.String(length=5), nullable=False),
        sa.Column("i", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("j", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("clip", Geometry(geometry_type="MULTIPOLYGON", srid=31370, dimension=2, spatial_index=False,
                                   from_text="ST_GeomFromEWKT", name="geometry", nullable=False), nullable=False),
        sa.Column("extent", Geometry(geometry_type="POLYGON", srid=4326, dimension=2, spatial_index=False,
                                     from_text="ST_GeomFromEWKT", name="geometry", nullable=False), nullable=False),
        sa.Column("zone", Geometry(geometry_type="MULTIPOLYGON", srid=4326, dimension=2, spatial_index=False,
                                   from_text="ST_GeomFromEWKT", name="geometry"), nullable=True),
        sa.Column("line", Geometry(geometry_type="MULTILINESTRING", srid=4326, dimension=2, spatial_index=False,
                                   from_text="ST_GeomFromEWKT", name="geometry"), nullable=True),
        sa.Column("zone_m2", sa.Float(), server_default="0", nullable=False),
        sa.Column("line_m", sa.Float(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["nis_code"], ["commune_stats.nis_code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("nis_code", "i", "j"),
    )
    # geometries out of line: the main heap stays narrow, so summing a commune's cells is quick
    op.execute("ALTER TABLE commune_cells SET (toast_tuple_target = 128)")
    op.create_geospatial_index("idx_commune_cells_clip", "commune_cells", ["clip"], unique=False,
                               postgresql_using="gist", postgresql_ops={})
    op.create_table(
        "commune_counts",
        sa.Column("nis_code", sa.String(length=5), nullable=False),
        sa.Column("dim", sa.String(length=12), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("shard", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["nis_code"], ["commune_stats.nis_code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("nis_code", "dim", "value", "shard"),
    )
    op.execute(STATS_SQL)
    # every loaded commune gets its cells and counts now
    op.execute("SELECT commune_stats_rebuild(ARRAY(SELECT nis_code FROM communes ORDER BY 1), true)")


def downgrade() -> None:
    op.execute(DROP_SQL)
    op.drop_table("commune_counts")
    op.drop_geospatial_index("idx_commune_cells_clip", table_name="commune_cells", postgresql_using="gist",
                             column_name="clip")
    op.drop_geospatial_table("commune_cells")
    op.execute("DELETE FROM commune_stats")  # the old figures: `geosignal refresh-stats` recomputes them
    op.add_column("commune_stats", sa.Column("report_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("point_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("line_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("zone_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("households_declared", sa.Integer(), server_default="0",
                                             nullable=False))
    op.add_column("commune_stats", sa.Column("white_zone_m2", sa.Float(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("line_length_m", sa.Float(), server_default="0", nullable=False))
    op.add_column("commune_stats", sa.Column("breakdown", postgresql.JSONB(astext_type=sa.Text()),
                                             server_default="{}", nullable=False))
    op.add_column("commune_stats", sa.Column("white_zone", Geometry(
        geometry_type="MULTIPOLYGON", srid=4326, dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT",
        name="geometry"), nullable=True))
    op.add_column("commune_stats", sa.Column("line_union", Geometry(
        geometry_type="MULTILINESTRING", srid=4326, dimension=2, spatial_index=False,
        from_text="ST_GeomFromEWKT", name="geometry"), nullable=True))
    op.execute(FORGET_0002)
