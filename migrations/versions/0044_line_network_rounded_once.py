"""stored figures: the line network is put on the 1 cm grid once, then cut, never rounded again

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 11:10:00

A cell's line piece was made by cutting each line by what the cell owns, then putting the
pieces on the 1 cm grid (``ST_Union(..., 0.01)``); the live figures did the same per commune.
Snap-rounding after the cut noded copies of a road filed millimetres apart (a GIS export
rounding to 7 decimals) differently in each cell: the vertices the cut left on a cell edge
pulled the copies together in one cell and apart in the next. The stored length differed from
a recomputation by up to ~20 % (a 3.6 km road filed twice in Charleroi: 5.613 km stored, 5.777
km live), and a road on the Charleroi/Châtelet border filed twice (offsets -6/+3 mm) left
0.154 km in Châtelet stored, 0 live.

``commune_cells_compute`` now puts the network of the lines touching a cell on the 1 cm grid
once (each line ``ST_ReducePrecision``, their ``ST_Union`` noded on the grid), then cuts it by
what the cell owns with no grid: the plane within 1 cm of its clip, less what lies within 1 cm
of a cell before it in (nis_code, i, j) order (the border rule is unchanged); the live figures
do the same per commune. Copies whose vertices round to the same centimetres count once. The
upgrade recomputes every cell a line report touches (one statement); the downgrade puts 0040's
functions back and recomputes the same cells with them.

``STATS_SQL`` is a frozen copy of ``stats_sql()`` (a test checks that the newest copy equals
it); ``DROP_SQL`` removes it. No live code is imported.
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

#: Frozen copy of what stats_sql() generated for this migration.
STATS_SQL = r"""
CREATE FUNCTION report_grid_cells(g geometry) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 SET search_path FROM CURRENT AS $fn$
DECLARE
  b box2d := Box2D(ST_Transform(g, 31370));
  keys bigint[] := '{}';
BEGIN
  -- the keys (i << 32) + j of the grid cells whose square, widened by the margin, meets the
  -- bounding box of g in EPSG:31370 (what the GIN index on reports holds)
  FOR i IN floor((ST_XMin(b) - 1) / 1000)::integer .. floor((ST_XMax(b) + 1) / 1000)::integer LOOP
    FOR j IN floor((ST_YMin(b) - 1) / 1000)::integer .. floor((ST_YMax(b) + 1) / 1000)::integer LOOP
      keys := keys || ((i::bigint << 32) + j);
    END LOOP;
  END LOOP;
  RETURN keys;
END $fn$;

CREATE FUNCTION grid_cells_of(g geometry) RETURNS TABLE (i integer, j integer)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 4 AS $fn$
  -- (ROWS 4: planned as 1,000 rows, the cells of one report were joined by sorting every cell)
  -- report_grid_cells(g) as (i, j) rows
  SELECT ((k + 2147483648) >> 32)::integer, (k - (((k + 2147483648) >> 32) << 32))::integer
  FROM unnest(report_grid_cells(g)) k
$fn$;

-- fastupdate off: every cell recomputed scans this index, and a scan reads the whole pending
-- list of a fastupdate GIN index (up to 4 MB) each time
CREATE INDEX ix_reports_grid_cells ON reports USING gin (report_grid_cells(geometry))
  WITH (fastupdate = off) WHERE ST_Dimension(geometry) > 0;

CREATE FUNCTION commune_cells_build(codes varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- cut the communes by the grid: cells wholly inside keep their square, the others are clipped
  DELETE FROM commune_cells WHERE nis_code = ANY(codes);
  INSERT INTO commune_cells (nis_code, i, j, clip)
  SELECT nis_code, i, j, clip
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
  -- each piece from the counted reports touching the cell (the caller holds the locks), found
  -- through the GIN index on report_grid_cells (never the GiST index: see the module docstring)
  UPDATE commune_cells t
  SET zone = CASE WHEN p.z IS NULL OR ST_IsEmpty(p.z) THEN NULL ELSE ST_Multi(ST_Transform(p.z, 4326)) END,
      zone_m2 = coalesce(ST_Area(p.z), 0),
      line = CASE WHEN p.l IS NULL OR ST_IsEmpty(p.l) THEN NULL ELSE ST_Multi(ST_Transform(p.l, 4326)) END,
      line_m = coalesce(ST_Length(p.l), 0)
  FROM (
    SELECT c.nis_code, c.i, c.j,
      -- ("status IN (…) IS TRUE": not a condition the status index can take; ANDed with it,
      -- every cell read the whole index, all the reports counted, at 1,000,000 reports minutes)
      (SELECT ST_CollectionExtract(ST_Union(ST_CollectionExtract(ST_Intersection(s.g, c.clip), 3)), 3)
         FROM (SELECT ST_Transform(r.geometry, 31370) AS g FROM reports r
               WHERE report_grid_cells(r.geometry) @> ARRAY[(c.i::bigint << 32) + c.j]
                 AND ST_Dimension(r.geometry) = 2 AND (r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) IS TRUE) s
         ) AS z,
      -- lines: the network of the lines touching the cell put on the 1 cm grid once (each line
      -- snap-rounded, then their union noded on that grid: the same stretch filed twice counts
      -- once), then cut, never rounded again, by what the cell owns: the plane within 1 cm of its
      -- clip, less what lies within 1 cm of a cell before it in (nis_code, i, j) order. A stretch
      -- on an edge between two cells (a grid edge, or the border of two communes, whose vertices
      -- differ by millimetres) is the first one's: on a shared border, the commune with the
      -- smaller NIS code's, as a point on it. (Cut first and rounded after, the pieces of copies
      -- filed millimetres apart were noded differently in each cell: the cut vertices pulled
      -- them together in one cell and apart in another. The network is cut by both regions in
      -- turn: a difference of the regions themselves left slivers along a border.)
      CASE WHEN EXISTS (SELECT 1 FROM reports r
                        WHERE report_grid_cells(r.geometry) @> ARRAY[(c.i::bigint << 32) + c.j]
                          AND ST_Dimension(r.geometry) = 1 AND (r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) IS TRUE) THEN (
        WITH o AS MATERIALIZED (
          SELECT b.g AS b, u.g AS u
          FROM (SELECT ST_Buffer(c.clip, 0.01, 'quad_segs=4') AS g) b,
               (SELECT ST_Union(ST_Buffer(n.clip, 0.01, 'quad_segs=4')) AS g FROM commune_cells n
                WHERE n.i BETWEEN c.i - 1 AND c.i + 1 AND n.j BETWEEN c.j - 1 AND c.j + 1
                  AND (n.nis_code, n.i, n.j) < (c.nis_code, c.i, c.j)
                  AND ST_DWithin(n.clip, c.clip, 2 * 0.01)) u),
        x AS MATERIALIZED (
          SELECT ST_CollectionExtract(ST_Intersection(w.g, o.b), 2) AS g
          FROM o, (SELECT ST_Union(ST_ReducePrecision(ST_Transform(r.geometry, 31370), 0.01), 0.01) AS g
                   FROM reports r
                   WHERE report_grid_cells(r.geometry) @> ARRAY[(c.i::bigint << 32) + c.j]
                     AND ST_Dimension(r.geometry) = 1 AND (r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) IS TRUE) w)
        SELECT CASE WHEN o.u IS NULL THEN x.g ELSE ST_CollectionExtract(ST_Difference(x.g, o.u), 2) END
        FROM o, x)
      END AS l
    FROM commune_cells c JOIN unnest(k_nis, k_i, k_j) AS k(nis_code, i, j) USING (nis_code, i, j)
    OFFSET 0  -- each piece computed once: pulled up, z and l were computed once per use (4 each)
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
                 SELECT c.nis_code FROM unnest(geoms) x CROSS JOIN LATERAL grid_cells_of(x) k
                 JOIN commune_cells c ON c.i = k.i AND c.j = k.j
                   AND c.clip && ST_Expand(ST_Transform(x, 31370), 0.02));
  PERFORM 1 FROM commune_stats s WHERE s.nis_code = ANY(codes) ORDER BY s.nis_code FOR SHARE;
END $fn$;

CREATE FUNCTION commune_cells_refresh(geoms geometry[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  k_nis varchar[]; k_i integer[]; k_j integer[];
BEGIN
  -- the cells the geometries touch (or come within 2 cm of: once on the 1 cm grid, a line
  -- there may lie within 1 cm of them), locked in (nis_code, i, j) order, then recomputed
  SELECT array_agg(nis_code), array_agg(i), array_agg(j) INTO k_nis, k_i, k_j FROM (
    SELECT DISTINCT c.nis_code, c.i, c.j
    FROM (SELECT x, ST_Transform(x, 31370) AS g FROM unnest(geoms) x WHERE ST_Dimension(x) > 0) g
    CROSS JOIN LATERAL grid_cells_of(g.x) k
    JOIN commune_cells c ON c.i = k.i AND c.j = k.j AND c.clip && ST_Expand(g.g, 0.02)) q;
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
DROP FUNCTION grid_cells_of(geometry);
DROP INDEX ix_reports_grid_cells;
DROP FUNCTION report_grid_cells(geometry);
"""


#: The cells of every line report (any status: a cell whose piece changes has one), recomputed
#: in one statement (the migration runs alone: no locks needed).
_RECOMPUTE_LINE_CELLS = """
SELECT commune_cells_compute(array_agg(nis_code ORDER BY nis_code, i, j), array_agg(i ORDER BY nis_code, i, j),
                             array_agg(j ORDER BY nis_code, i, j))
FROM (SELECT DISTINCT c.nis_code, c.i, c.j
      FROM reports r CROSS JOIN LATERAL grid_cells_of(r.geometry) k
      JOIN commune_cells c ON c.i = k.i AND c.j = k.j
      WHERE ST_Dimension(r.geometry) = 1) q
"""


def upgrade() -> None:
    op.execute(DROP_SQL)  # what 0040 installed: the same objects
    op.execute(STATS_SQL)
    op.execute(_RECOMPUTE_LINE_CELLS)


def downgrade() -> None:
    op.execute(DROP_SQL)
    op.execute(_previous_stats_sql())
    op.execute(_RECOMPUTE_LINE_CELLS)


def _previous_stats_sql() -> str:
    """STATS_SQL of the newest earlier migration holding one (frozen files, not live code)."""
    here = Path(__file__)
    for path in sorted(here.parent.glob("*.py"), reverse=True):
        if path.name >= here.name:
            continue
        spec = importlib.util.spec_from_file_location(f"geosignal_migration_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "STATS_SQL"):
            return module.STATS_SQL
    raise RuntimeError("no earlier migration holds STATS_SQL")
