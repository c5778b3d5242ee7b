"""The SQL (functions and triggers) that keeps the stored per-commune figures exact.

Design (see :mod:`geosignal.services.aggregation.stored`):

- ``commune_stats``: one row per commune, the *commune lock*. Writers take it ``FOR SHARE``
  (they do not block each other); a rebuild (commune loaded, ``refresh-stats``, or the row
  missing after the table was cleared) takes it ``FOR UPDATE``.
- ``commune_cells``: each commune cut by a fixed grid of :data:`CELL_M` metres (EPSG:31370,
  aligned on the origin); per cell the piece of the white-zone union and of the line union
  inside it, **recomputed from the reports that touch the cell**, never merged. A change
  recomputes only the cells its old and new geometries touch, under ``FOR UPDATE`` row locks
  taken in (nis_code, i, j) order after the commune locks (taken in nis_code order).
- A cell's line piece is the network of the lines touching the cell, put on the 1 cm grid
  once (snap-rounded and noded together), then cut without rounding again by what the cell
  owns: the plane within 1 cm of its clip, less
  what lies within 1 cm of a cell before it in (nis_code, i, j) order, so that a stretch on
  a shared border (whose two boundaries differ by millimetres) or on a grid edge counts once:
  on a border, in the commune with the smaller NIS code (the live figures cut each commune
  the same way, :func:`geosignal.services.aggregation.geometry.clipped_unions`).
- Finding what touches what uses **no GiST index**: ``report_grid_cells(g)`` gives the keys
  ``(i << 32) + j`` of the grid cells whose square, widened by :data:`GRID_MARGIN_M`, meets the
  bounding box of ``g`` in EPSG:31370 (arithmetic). The reports touching a cell come from a GIN
  index on it (zones and lines only); the cells a geometry touches from ``grid_cells_of(g)``
  (the same cells as (i, j)) and the btree on ``commune_cells (i, j)``. PostgreSQL's GiST can hide live rows from later
  scans: a plain GiST index scan rescanned within one statement (a nested loop, as the cell
  recomputation is) keeps the kill hints it recorded while the index root was a single leaf
  page, and applies them to another leaf page once a concurrent insert has split the root,
  marking live entries dead; every later scan of the index skips them. Cell pieces computed
  through that index missed those reports (the stored areas ended below the recomputation);
  GIN keeps no kill hints and btree checks each hint against the heap pointer.
- ``commune_counts``: report counts per (commune, dimension, value), changed by atomic
  in-SQL increments. Each transaction writes its own ``shard`` (txid modulo
  :data:`COUNT_SHARDS`), so that writers of one commune do not queue behind each other's
  commit; readers sum the shards.
- Statement-level triggers on ``reports`` (insert, update, delete; transition tables) feed
  the changed rows to these functions once per statement: a COPY or a batch INSERT is one
  pass, whatever its size. Every way of changing a report (API, form, import, status
  change, withdrawal, SQL) goes through them.

Each recomputation runs in a statement that starts *after* its locks are granted (plpgsql
takes a fresh snapshot per statement under READ COMMITTED), so it sees every change
committed by the writers it waited for: stored == recomputed after any interleaving.

:func:`stats_sql` renders the SQL; the newest migration holding a ``STATS_SQL`` (0044) keeps a
frozen copy, and a test checks that the two are equal.
"""

from __future__ import annotations

from geosignal.services.aggregation.filters import COUNTED_STATUSES, LINE_GRID_M, LINE_REACH_M

#: Side of a grid cell (m, EPSG:31370).
CELL_M = 1000
#: Number of count shards (see module docstring).
COUNT_SHARDS = 8
#: Margin (m, EPSG:31370) by which a cell's square is widened when matching bounding boxes
#: to cells: the cells found for a geometry are a superset of those it touches.
GRID_MARGIN_M = 1

_TEMPLATE = r"""
CREATE FUNCTION report_grid_cells(g geometry) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 SET search_path FROM CURRENT AS $fn$
DECLARE
  b box2d := Box2D(ST_Transform(g, 31370));
  keys bigint[] := '{{}}';
BEGIN
  -- the keys (i << 32) + j of the grid cells whose square, widened by the margin, meets the
  -- bounding box of g in EPSG:31370 (what the GIN index on reports holds)
  FOR i IN floor((ST_XMin(b) - {margin}) / {cell})::integer .. floor((ST_XMax(b) + {margin}) / {cell})::integer LOOP
    FOR j IN floor((ST_YMin(b) - {margin}) / {cell})::integer .. floor((ST_YMax(b) + {margin}) / {cell})::integer LOOP
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
    CROSS JOIN LATERAL ST_SquareGrid({cell}, b.g) q
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
                 AND ST_Dimension(r.geometry) = 2 AND (r.status IN ({counted})) IS TRUE) s
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
                          AND ST_Dimension(r.geometry) = 1 AND (r.status IN ({counted})) IS TRUE) THEN (
        WITH o AS MATERIALIZED (
          SELECT b.g AS b, u.g AS u
          FROM (SELECT ST_Buffer(c.clip, {line_grid}, 'quad_segs=4') AS g) b,
               (SELECT ST_Union(ST_Buffer(n.clip, {line_grid}, 'quad_segs=4')) AS g FROM commune_cells n
                WHERE n.i BETWEEN c.i - 1 AND c.i + 1 AND n.j BETWEEN c.j - 1 AND c.j + 1
                  AND (n.nis_code, n.i, n.j) < (c.nis_code, c.i, c.j)
                  AND ST_DWithin(n.clip, c.clip, 2 * {line_grid})) u),
        x AS MATERIALIZED (
          SELECT ST_CollectionExtract(ST_Intersection(w.g, o.b), 2) AS g
          FROM o, (SELECT ST_Union(ST_ReducePrecision(ST_Transform(r.geometry, 31370), {line_grid}), {line_grid}) AS g
                   FROM reports r
                   WHERE report_grid_cells(r.geometry) @> ARRAY[(c.i::bigint << 32) + c.j]
                     AND ST_Dimension(r.geometry) = 1 AND (r.status IN ({counted})) IS TRUE) w)
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
    {count_rows}
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
  RETURN coalesce(missing, '{{}}');
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
                   AND c.clip && ST_Expand(ST_Transform(x, 31370), {line_reach}));
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
    JOIN commune_cells c ON c.i = k.i AND c.j = k.j AND c.clip && ST_Expand(g.g, {line_reach})) q;
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
  PERFORM commune_stats_share('{{}}', geoms);
  PERFORM commune_cells_refresh(geoms);
END $fn$;

{triggers}

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

#: Count rows of a relation ``ch`` of reports with a sign ``d`` (+1 / -1): (nis, dim, value, n).
_COUNT_ROWS = """SELECT commune_nis AS nis, 'status'::varchar AS dim, status::varchar AS value, d AS n FROM ch
    UNION ALL SELECT commune_nis, 'reports', '', d FROM ch WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'kind', CASE ST_Dimension(geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line'
                                          ELSE 'zone' END, d FROM ch WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'households', '', d * coalesce(households_affected, 0)
              FROM ch WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'network', network, d FROM ch WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'technology', t, d FROM ch, unnest(technologies) t WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'operator', o, d FROM ch, unnest(operators) o WHERE status IN ({counted})
    UNION ALL SELECT commune_nis, 'issue', issue, d FROM ch WHERE issue IS NOT NULL AND status IN ({counted})"""

#: Changed rows per trigger: ``ch`` (signed rows whose counts change) and ``gm`` (geometries
#: whose cells change: old and new geometry of a zone or line whose shape or counting changed).
_CHANGES = {
    "insert": (
        "SELECT n.*, 1 AS d FROM new_rows n",
        "SELECT n.geometry FROM new_rows n WHERE n.status IN ({counted}) AND ST_Dimension(n.geometry) > 0",
    ),
    "delete": (
        "SELECT o.*, -1 AS d FROM old_rows o",
        "SELECT o.geometry FROM old_rows o WHERE o.status IN ({counted}) AND ST_Dimension(o.geometry) > 0",
    ),
    "update": (
        """SELECT o.*, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {counts_changed}
      UNION ALL SELECT n.*, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {counts_changed}""",
        """SELECT x.g FROM old_rows o JOIN new_rows n ON n.id = o.id,
        LATERAL (VALUES (o.geometry), (n.geometry)) x(g)
      WHERE ST_Dimension(x.g) > 0 AND (o.status IN ({counted}) OR n.status IN ({counted}))
        AND ((o.status IN ({counted})) <> (n.status IN ({counted}))
             OR o.geometry::bytea IS DISTINCT FROM n.geometry::bytea)""",
    ),
}

_COUNTS_CHANGED = (
    "(o.commune_nis, o.status, o.network, o.technologies, o.operators, o.issue, o.households_affected, "
    "ST_Dimension(o.geometry)) IS DISTINCT FROM (n.commune_nis, n.status, n.network, n.technologies, "
    "n.operators, n.issue, n.households_affected, ST_Dimension(n.geometry))"
)

_TRIGGER = r"""CREATE FUNCTION reports_tally_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  rebuilt varchar[]; homes varchar[]; geoms geometry[];
BEGIN
  rebuilt := commune_stats_ensure();
  homes := ARRAY(SELECT DISTINCT ch.commune_nis FROM ({ch}) ch ORDER BY 1);
  geoms := ARRAY({gm});
  IF cardinality(homes) = 0 AND cardinality(geoms) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM commune_stats_share(homes, geoms);
  INSERT INTO commune_counts AS t (nis_code, dim, value, shard, n)
  SELECT nis, dim, value, (txid_current() % {shards})::smallint, sum(n) FROM (
    WITH ch AS ({ch})
    {count_rows}
  ) x WHERE NOT nis = ANY(rebuilt) GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (nis_code, dim, value, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
  PERFORM commune_cells_refresh(geoms);
  RETURN NULL;
END $fn$;"""


def _counted() -> str:
    return ", ".join(f"'{s}'" for s in COUNTED_STATUSES)


def stats_sql() -> str:
    """Return the SQL that installs the stored-figures functions, the GIN index of the reports'
    grid cells and the ``reports`` triggers (the text the newest migration holding a
    ``STATS_SQL`` keeps frozen: 0044)."""
    counted = _counted()
    count_rows = _COUNT_ROWS.format(counted=counted)
    triggers = []
    for op, (ch, gm) in _CHANGES.items():
        ch = ch.format(counts_changed=_COUNTS_CHANGED)
        gm = gm.format(counted=counted)
        triggers.append(_TRIGGER.format(op=op, ch=ch, gm=gm, shards=COUNT_SHARDS, count_rows=count_rows))
    recount = "WITH ch AS (SELECT r.*, 1 AS d FROM reports r WHERE r.commune_nis = ANY(codes))\n    " + count_rows
    return _TEMPLATE.format(cell=CELL_M, margin=GRID_MARGIN_M, counted=counted, line_grid=LINE_GRID_M,
                            line_reach=LINE_REACH_M,
                            count_rows=recount,
                            triggers="\n\n".join(triggers)).strip() + "\n"


#: SQL that removes what :func:`stats_sql` installs.
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
