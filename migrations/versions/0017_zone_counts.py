"""stored place figures per commune and network (zone_counts)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 21:30:00

The commune table's place figures (``zone_group_count``, ``confirmed_zone_group_count``,
``reports_in_zone_groups``) were computed at every read from every zone and every zone
member joined with its report: a read grew with the number of reports (28 ms of the stats
endpoint's time at 22,000 reports). They are now stored per commune and network in
``zone_counts``: each zone pass, holding its network's lock, recomputes from ``zones`` and
``zone_reports`` the rows of the (commune, network) pairs it touched (its old zones and their
members as counted, every report of the pass, its new zones). ``zone_reports`` keeps the
commune and network a member was counted under, with an index on both (and ``zones`` one on
``commune_nis, network``), so a recount reads one commune's rows.

``FROZEN_SQL["zones"]`` is a frozen copy of ``geosignal.services.zones_sql.zones_sql()``
(tests/test_zones_sql.py checks that the newest copy equals it); ``DROP_SQL`` removes it.
Downgrade restores migration 0015's copy. No live code is imported.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: Removes what FROZEN_SQL["zones"] installs (the same objects as 0015's).
DROP_SQL = """
DROP TRIGGER reports_group_zones_truncate ON reports;
DROP TRIGGER reports_group_zones_delete ON reports;
DROP TRIGGER reports_group_zones_update ON reports;
DROP TRIGGER reports_group_zones_insert ON reports;
DROP FUNCTION reports_forget_zones();
DROP FUNCTION zones_flush();
DROP FUNCTION zones_defer(varchar[]);
DROP FUNCTION reports_group_zones();
DROP FUNCTION zones_regroup(uuid[]);
DROP FUNCTION zones_lock(varchar[]);
"""

#: Frozen copy of what zones_sql() generated for this migration.
FROZEN_SQL = {
    "zones": r"""
CREATE FUNCTION zones_lock(nets varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  net varchar;
BEGIN
  -- one lock per network, in name order (at most one per network: not a loop over rows)
  FOR net IN SELECT DISTINCT x FROM unnest(nets) x WHERE x IS NOT NULL ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(2054123109, hashtext(net));
  END LOOP;
END $fn$;

CREATE FUNCTION zones_regroup(seeds uuid[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  d double precision;
  deg double precision;
  deg_lat double precision;
  step integer := 0;
  n bigint;
  work_rows bigint;
  t_nis varchar[];
  t_net varchar[];
  parent integer[];
  ka integer;
  kb integer;
  old bigint[];
BEGIN
  -- the caller holds the locks of the networks concerned (zones_lock)
  SELECT s.distance_m INTO d FROM zone_settings s WHERE s.id = 1;
  d := coalesce(d, 100.0);
  deg := d * 1.6666666666666667e-05;
  deg_lat := d * 9.090909090909091e-06;
  IF to_regclass('pg_temp.zone_nodes') IS NULL THEN
    -- (the work tables of an earlier version of this function, if this session made them)
    DROP TABLE IF EXISTS pg_temp.zone_work, pg_temp.zone_pairs, pg_temp.zone_edges, pg_temp.zone_new;
    CREATE TEMP TABLE zone_work (
      id uuid PRIMARY KEY, seq bigint, network varchar, g geometry, l geometry,
      technologies varchar[], operators varchar[], commune_nis varchar,
      cohort bigint, confirmed boolean, gen integer);
    -- the adjacent pairs the closure finds (gen: the step that found them)
    CREATE TEMP TABLE zone_pairs (a uuid, b uuid, gen integer);
    CREATE TEMP TABLE zone_edges (a uuid, b uuid, same boolean);
    -- the reports that can belong to a zone, narrow (k: 1.. by age)
    CREATE TEMP TABLE zone_nodes (
      id uuid PRIMARY KEY, seq bigint, k integer, cohort bigint, confirmed boolean, label bigint,
      grp bigint);
    CREATE TEMP TABLE zone_new (
      grp bigint PRIMARY KEY, network varchar, state varchar, cohort bigint, first_seq bigint,
      report_ids uuid[], geometry geometry, technologies varchar[] DEFAULT '{}',
      operators varchar[] DEFAULT '{}', commune_nis varchar, cand bigint, zone_id bigint,
      reused boolean DEFAULT false, changed boolean DEFAULT true);
  ELSIF pg_total_relation_size('pg_temp.zone_work') + pg_total_relation_size('pg_temp.zone_nodes')
        + pg_total_relation_size('pg_temp.zone_new') > 4194304 THEN
    -- after a large pass: TRUNCATE (new files, and the plans cached on these tables made again)
    TRUNCATE zone_work, zone_pairs, zone_edges, zone_nodes, zone_new;
  ELSE
    -- the rows of the previous pass; the tables keep their rows at commit because emptying
    -- them there (ON COMMIT DELETE ROWS) invalidated the cached plans of this function, which
    -- were made again for every report (about 10 ms)
    DELETE FROM zone_work;
    DELETE FROM zone_pairs;
    DELETE FROM zone_edges;
    DELETE FROM zone_nodes;
    DELETE FROM zone_new;
  END IF;

  -- the changed reports that take part, and the members of their current zones
  INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
  SELECT r.id, r.seq, r.network, r.geometry, ST_Transform(r.geometry, 31370), r.technologies,
         r.operators, r.commune_nis, coalesce(k.id, 0), coalesce(k.kind = 'confirmed', false), 0
  FROM reports r
  LEFT JOIN zone_decision_reports dr ON dr.report_id = r.id
  LEFT JOIN zone_decisions k ON k.id = dr.decision_id AND k.network = r.network
  WHERE r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') AND r.id IN (SELECT unnest(seeds) UNION
    SELECT m.report_id FROM zone_reports s JOIN zone_reports m ON m.zone_id = s.zone_id
    WHERE s.report_id = ANY(seeds));

  -- closure: adjacent reports (found from each report of the frontier through the spatial
  -- index: OFFSET 0 keeps the lookup per report whatever the statistics say after a bulk
  -- load), members of their zones, members of the same confirmed cohorts. Every report of
  -- the set is a frontier once, so the pairs found are all the adjacent pairs of the set.
  LOOP
    SELECT count(*) INTO n FROM zone_work WHERE gen = step;
    IF n > 200 THEN
      ANALYZE zone_work;
    END IF;
    INSERT INTO zone_pairs (a, b, gen)
    SELECT w.id, a.id, step FROM zone_work w CROSS JOIN LATERAL (
      SELECT r2.id FROM reports r2
      WHERE r2.geometry && ST_Expand(w.g, deg, deg_lat) AND r2.network = w.network AND r2.id <> w.id
        AND CASE WHEN ST_Dimension(r2.geometry) = 2 AND ST_Dimension(w.g) = 2 THEN ST_Relate(r2.geometry, w.g, '2********') ELSE ST_DWithin(ST_Transform(r2.geometry, 31370), w.l, d) END
      OFFSET 0) a
    WHERE w.gen = step;
    INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
    SELECT r.id, r.seq, r.network, r.geometry, ST_Transform(r.geometry, 31370), r.technologies,
         r.operators, r.commune_nis, coalesce(k.id, 0), coalesce(k.kind = 'confirmed', false), step + 1
  FROM reports r
  LEFT JOIN zone_decision_reports dr ON dr.report_id = r.id
  LEFT JOIN zone_decisions k ON k.id = dr.decision_id AND k.network = r.network
    WHERE r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') AND r.id IN (
      SELECT p.b FROM zone_pairs p WHERE p.gen = step
      UNION SELECT m.report_id FROM zone_work w JOIN zone_reports z ON z.report_id = w.id
        JOIN zone_reports m ON m.zone_id = z.zone_id WHERE w.gen = step
      UNION SELECT m.report_id FROM zone_work w JOIN zone_decision_reports z ON z.report_id = w.id
        JOIN zone_decisions k ON k.id = z.decision_id AND k.kind = 'confirmed'
        JOIN zone_decision_reports m ON m.decision_id = z.decision_id WHERE w.gen = step)
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    step := step + 1;
  END LOOP;
  -- nothing adjacent, nothing confirmed, no zone before: no zone to make or replace (a
  -- report filed alone)
  SELECT count(*) INTO work_rows FROM zone_work;
  IF NOT EXISTS (SELECT 1 FROM zone_pairs) AND NOT EXISTS (SELECT 1 FROM zone_work WHERE confirmed)
     AND NOT EXISTS (SELECT 1 FROM zone_reports z
                     WHERE z.report_id = ANY(seeds) OR z.report_id = ANY(ARRAY(SELECT id FROM zone_work))) THEN
    IF work_rows > 20000 THEN
      TRUNCATE zone_work, zone_pairs;  -- (see the end)
    END IF;
    RETURN;
  END IF;
  IF work_rows > 200 THEN
    ANALYZE zone_work;
  END IF;

  -- adjacency among them (each pair once; a report that takes no part is not in the set);
  -- same = same cohort (the edges components follow)
  INSERT INTO zone_edges (a, b, same)
  SELECT x.id, y.id, x.cohort = y.cohort
  FROM (SELECT DISTINCT least(p.a, p.b) AS a, greatest(p.a, p.b) AS b FROM zone_pairs p) q
  JOIN zone_work x ON x.id = q.a JOIN zone_work y ON y.id = q.b;

  -- the reports that can be in a zone: those with an edge, and confirmed ones (a confirmed
  -- cohort stays whole); any other report is alone and makes no zone
  -- (a join: "confirmed OR id IN (…)" ran as a subplan rescanned per report once too large
  -- to hash — 200,000 points took minutes)
  INSERT INTO zone_nodes (id, seq, k, cohort, confirmed)
  SELECT w.id, w.seq, row_number() OVER (ORDER BY w.seq), w.cohort, w.confirmed
  FROM zone_work w JOIN (SELECT e.a AS id FROM zone_edges e UNION SELECT e.b FROM zone_edges e
                         UNION SELECT c.id FROM zone_work c WHERE c.confirmed) s ON s.id = w.id;
  SELECT count(*) INTO n FROM zone_nodes;
  IF n > 200 THEN
    ANALYZE zone_nodes;
  END IF;

  -- components: union-find over the same-cohort edges, in memory; a root is always the oldest
  -- report of its component, whose seq labels it (a drive test's chain of points costs one
  -- pass over its edges, not one statement per hop)
  parent := ARRAY(SELECT generate_series(1, n::integer));
  FOR ka, kb IN
    SELECT x.k, y.k FROM zone_edges e JOIN zone_nodes x ON x.id = e.a JOIN zone_nodes y ON y.id = e.b WHERE e.same
  LOOP
    WHILE parent[ka] <> ka LOOP
      parent[ka] := parent[parent[ka]];
      ka := parent[ka];
    END LOOP;
    WHILE parent[kb] <> kb LOOP
      parent[kb] := parent[parent[kb]];
      kb := parent[kb];
    END LOOP;
    IF ka < kb THEN
      parent[kb] := ka;
    ELSIF kb < ka THEN
      parent[ka] := kb;
    END IF;
  END LOOP;
  FOR i IN 1 .. n LOOP
    parent[i] := parent[parent[i]];  -- a parent is older (smaller k): its root is known by now
  END LOOP;

  -- groups: a confirmed cohort whole; a free component touching confirmed zones joins the
  -- oldest one (below); otherwise the component
  UPDATE zone_nodes v SET label = r.seq, grp = CASE WHEN v.confirmed THEN -v.cohort ELSE r.seq END
  FROM zone_nodes r WHERE r.k = parent[v.k];
  UPDATE zone_nodes w SET grp = -j.cohort FROM (
    SELECT f.label, min(c.cohort) AS cohort FROM (
      SELECT e.a AS f, e.b AS c FROM zone_edges e UNION ALL SELECT e.b, e.a FROM zone_edges e) p
    JOIN zone_nodes f ON f.id = p.f JOIN zone_nodes c ON c.id = p.c
    WHERE f.cohort = 0 AND c.confirmed
    GROUP BY f.label) j
  WHERE w.cohort = 0 AND w.label = j.label;

  -- the new zones: two reports or more
  INSERT INTO zone_new (grp, network, state, cohort, first_seq, report_ids, geometry)
  SELECT v.grp, min(w.network), CASE WHEN v.grp < 0 THEN 'confirmed' ELSE 'proposed' END,
         CASE WHEN v.grp < 0 THEN -v.grp ELSE min(v.cohort) END, min(v.seq),
         array_agg(v.id ORDER BY v.seq), ST_Union(w.g)
  FROM zone_nodes v JOIN zone_work w ON w.id = v.id GROUP BY v.grp HAVING count(*) >= 2;
  UPDATE zone_new n SET technologies = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY['2G', '3G', '4G', '5G', 'DSL', 'cable', 'fibre', 'FWA', 'satellite']::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT v.grp, x FROM zone_nodes v JOIN zone_work w ON w.id = v.id, unnest(w.technologies) x
          WHERE v.grp IN (SELECT grp FROM zone_new)) s GROUP BY s.grp) t
  WHERE t.grp = n.grp;
  UPDATE zone_new n SET operators = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY['Proximus', 'Orange', 'Telenet/BASE', 'DIGI', 'VOO', 'other']::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT v.grp, x FROM zone_nodes v JOIN zone_work w ON w.id = v.id, unnest(w.operators) x
          WHERE v.grp IN (SELECT grp FROM zone_new)) s GROUP BY s.grp) t
  WHERE t.grp = n.grp;
  UPDATE zone_new n SET commune_nis = coalesce(
    (SELECT c.nis_code FROM communes c
WHERE ST_Intersects(c.boundary, n.geometry)
ORDER BY
  CASE ST_Dimension(n.geometry)
    WHEN 2 THEN ST_Area(ST_Transform(ST_Intersection(c.boundary, n.geometry), 31370))
    WHEN 1 THEN ST_Length(ST_Transform(ST_Intersection(c.boundary, n.geometry), 31370))
    ELSE ST_NPoints(ST_Intersection(c.boundary, n.geometry))
  END DESC,
  c.nis_code ASC
LIMIT 1),
    (SELECT w.commune_nis FROM zone_nodes v JOIN zone_work w ON w.id = v.id WHERE v.grp = n.grp
     ORDER BY v.seq LIMIT 1));

  -- ids: a zone keeps the oldest id its reports had (contested: the oldest decision, then the
  -- oldest report); the others get new ones
  UPDATE zone_new n SET cand = c.zone_id FROM (
    SELECT v.grp, min(z.zone_id) AS zone_id FROM zone_nodes v JOIN zone_reports z ON z.report_id = v.id
    WHERE z.report_id = ANY(ARRAY(SELECT id FROM zone_nodes))  -- (the index, whatever the statistics)
    GROUP BY v.grp) c
  WHERE c.grp = n.grp;
  UPDATE zone_new n SET zone_id = n.cand, reused = true FROM (
    SELECT DISTINCT ON (cand) grp FROM zone_new WHERE cand IS NOT NULL ORDER BY cand, cohort, first_seq) k
  WHERE n.grp = k.grp;
  UPDATE zone_new SET zone_id = nextval(pg_get_serial_sequence('zones', 'id')) WHERE zone_id IS NULL;
  UPDATE zone_new n SET changed = (
    SELECT array_agg(z.report_id ORDER BY z.report_id) FROM zone_reports z WHERE z.zone_id = n.zone_id)
    IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(n.report_ids) x)
  WHERE n.reused;

  -- replace the old zones
  old := ARRAY(SELECT z.zone_id FROM zone_reports z WHERE z.report_id = ANY(seeds)
               UNION SELECT z.zone_id FROM zone_reports z WHERE z.report_id = ANY(ARRAY(SELECT id FROM zone_work)));
  -- the (commune, network) pairs whose places may change: those of the old zones, of their
  -- reports as they were counted, of every report of the pass (and of the new zones, below)
  SELECT array_agg(a.nis), array_agg(a.net) INTO t_nis, t_net FROM (
    SELECT z.commune_nis AS nis, z.network AS net FROM zones z WHERE z.id = ANY(old)
    UNION SELECT zr.commune_nis, zr.network FROM zone_reports zr WHERE zr.zone_id = ANY(old)
    UNION SELECT w.commune_nis, w.network FROM zone_work w
    UNION SELECT n.commune_nis, n.network FROM zone_new n) a
  WHERE a.nis IS NOT NULL;
  DELETE FROM zone_reports WHERE zone_id = ANY(old);
  DELETE FROM zone_reports WHERE report_id = ANY(seeds);
  DELETE FROM zones z WHERE z.id = ANY(old)
    AND NOT EXISTS (SELECT 1 FROM zone_new n WHERE n.zone_id = z.id AND n.reused);
  UPDATE zones z SET network = n.network, state = n.state, geometry = n.geometry,
         technologies = n.technologies, operators = n.operators,
         report_count = cardinality(n.report_ids), commune_nis = n.commune_nis,
         updated_at = CASE WHEN n.changed OR z.state <> n.state OR NOT ST_Equals(z.geometry, n.geometry)
                           OR (z.technologies, z.operators, z.commune_nis)
                              IS DISTINCT FROM (n.technologies, n.operators, n.commune_nis)
                           THEN now() ELSE z.updated_at END
  FROM zone_new n WHERE z.id = n.zone_id AND n.reused;
  INSERT INTO zones (id, network, state, geometry, technologies, operators, report_count, commune_nis)
  SELECT n.zone_id, n.network, n.state, n.geometry, n.technologies, n.operators, cardinality(n.report_ids),
         n.commune_nis
  FROM zone_new n WHERE NOT n.reused ORDER BY n.first_seq;
  INSERT INTO zone_reports (zone_id, report_id, commune_nis, network)
  SELECT n.zone_id, x, w.commune_nis, w.network
  FROM zone_new n CROSS JOIN LATERAL unnest(n.report_ids) x JOIN zone_work w ON w.id = x;

  -- the places of those pairs, recomputed from the zones as they now stand (zone_counts: what
  -- the commune table shows; only this network's writers, who hold its lock, write its rows)
  DELETE FROM zone_counts t USING unnest(t_nis, t_net) a(nis, net) WHERE t.nis_code = a.nis AND t.network = a.net;
  INSERT INTO zone_counts (nis_code, network, zones, confirmed, reports)
  SELECT a.nis, a.net, z.n, z.c, m.n
  FROM unnest(t_nis, t_net) a(nis, net)
  CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE z.state = 'confirmed') AS c
                      FROM zones z WHERE z.commune_nis = a.nis AND z.network = a.net) z
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM zone_reports r WHERE r.commune_nis = a.nis AND r.network = a.net) m
  WHERE z.n > 0 OR m.n > 0;
  IF work_rows > 20000 THEN
    -- a large pass (an import) leaves no large work tables behind in the session
    TRUNCATE zone_work, zone_pairs, zone_edges, zone_nodes, zone_new;
  END IF;
END $fn$;

CREATE FUNCTION reports_group_zones() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  ids uuid[];
  nets varchar[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id), array_agg(DISTINCT n.network) INTO ids, nets FROM new_rows n WHERE n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved');
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(DISTINCT n.id), array_agg(DISTINCT v.net) INTO ids, nets
    FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES (o.network), (n.network)) v(net)
    WHERE (o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') OR n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved'))
      AND ((o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) <> (n.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved')) OR o.geometry::bytea IS DISTINCT FROM n.geometry::bytea
           OR (o.network, o.technologies, o.operators, o.commune_nis)
              IS DISTINCT FROM (n.network, n.technologies, n.operators, n.commune_nis));
  ELSE
    SELECT array_agg(o.id), array_agg(DISTINCT o.network) INTO ids, nets FROM old_rows o
    WHERE o.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') OR EXISTS (SELECT 1 FROM zone_decision_reports d WHERE d.report_id = o.id);
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM zones_lock(nets);
  IF TG_OP = 'INSERT' AND current_setting('geosignal.zones_deferred', true) = 'on' THEN
    -- a bulk load in several statements regroups once, at zones_flush()
    INSERT INTO zone_deferred (id) SELECT unnest(ids);
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM zone_decision_reports WHERE report_id = ANY(ids);
  END IF;
  PERFORM zones_regroup(ids);
  RETURN NULL;
END $fn$;

CREATE FUNCTION zones_defer(nets varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- until zones_flush() in this transaction, reports inserted are grouped once at the flush;
  -- the networks' locks are taken now, before any commune row or cell (the lock order)
  PERFORM zones_lock(nets);
  IF to_regclass('pg_temp.zone_deferred') IS NULL THEN
    CREATE TEMP TABLE zone_deferred (id uuid) ON COMMIT DELETE ROWS;
  END IF;
  PERFORM set_config('geosignal.zones_deferred', 'on', true);
END $fn$;

CREATE FUNCTION zones_flush() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ids uuid[];
BEGIN
  PERFORM set_config('geosignal.zones_deferred', 'off', true);
  IF to_regclass('pg_temp.zone_deferred') IS NULL THEN
    RETURN;
  END IF;
  ids := ARRAY(SELECT DISTINCT id FROM zone_deferred);
  TRUNCATE zone_deferred;
  IF cardinality(ids) > 0 THEN
    PERFORM zones_regroup(ids);
  END IF;
END $fn$;

CREATE FUNCTION reports_forget_zones() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM zone_counts;
  DELETE FROM zone_reports;
  DELETE FROM zones;
  DELETE FROM zone_decision_reports;
  DELETE FROM zone_decisions;
  RETURN NULL;
END $fn$;

CREATE TRIGGER reports_group_zones_insert AFTER INSERT ON reports REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_group_zones();
CREATE TRIGGER reports_group_zones_update AFTER UPDATE ON reports
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_group_zones();
CREATE TRIGGER reports_group_zones_delete AFTER DELETE ON reports REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION reports_group_zones();
CREATE TRIGGER reports_group_zones_truncate AFTER TRUNCATE ON reports
  FOR EACH STATEMENT EXECUTE FUNCTION reports_forget_zones();
""".lstrip("\n"),
}


def upgrade() -> None:
    op.add_column("zone_reports", sa.Column("commune_nis", sa.String(length=5), nullable=True))
    op.add_column("zone_reports", sa.Column("network", sa.String(length=10), nullable=True))
    op.execute("UPDATE zone_reports zr SET commune_nis = r.commune_nis, network = z.network "
               "FROM reports r, zones z WHERE r.id = zr.report_id AND z.id = zr.zone_id")
    op.alter_column("zone_reports", "commune_nis", nullable=False)
    op.alter_column("zone_reports", "network", nullable=False)
    op.create_index("ix_zone_reports_commune_nis_network", "zone_reports", ["commune_nis", "network"], unique=False)
    op.create_index("ix_zones_commune_nis_network", "zones", ["commune_nis", "network"], unique=False)
    op.create_table(
        "zone_counts",
        sa.Column("nis_code", sa.String(length=5), nullable=False),
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("zones", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("nis_code", "network"),
    )
    op.execute("""
        INSERT INTO zone_counts (nis_code, network, zones, confirmed, reports)
        SELECT nis, net, sum(z), sum(c), sum(r) FROM (
          SELECT commune_nis AS nis, network AS net, 1 AS z, (state = 'confirmed')::int AS c, 0 AS r FROM zones
          UNION ALL SELECT commune_nis, network, 0, 0, 1 FROM zone_reports) x
        GROUP BY 1, 2""")
    op.execute(DROP_SQL)
    op.execute(FROZEN_SQL["zones"])


def downgrade() -> None:
    op.execute(DROP_SQL)
    op.execute(_previous_zones_sql())
    op.drop_table("zone_counts")
    op.drop_index("ix_zones_commune_nis_network", table_name="zones")
    op.drop_index("ix_zone_reports_commune_nis_network", table_name="zone_reports")
    op.drop_column("zone_reports", "network")
    op.drop_column("zone_reports", "commune_nis")


def _previous_zones_sql() -> str:
    """FROZEN_SQL["zones"] of the newest earlier migration holding one (frozen files, not live code)."""
    here = Path(__file__)
    for path in sorted(here.parent.glob("*.py"), reverse=True):
        if path.name >= here.name:
            continue
        spec = importlib.util.spec_from_file_location(f"geosignal_migration_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if "zones" in getattr(module, "FROZEN_SQL", {}):
            return module.FROZEN_SQL["zones"]
    raise RuntimeError("no earlier migration holds the zone SQL")
