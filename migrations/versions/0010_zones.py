"""zones: reports of one network grouped as one place, with the referent's decisions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00

``zones`` (the groups: network, state, union geometry, technologies, operators, report
count, home commune), ``zone_reports`` (a report's zone), ``zone_decisions`` and
``zone_decision_reports`` (the referent's confirmations and splits, one cohort of reports
each), ``zone_settings`` (the grouping distance in force, 100 m). Statement-level
triggers on ``reports`` regroup the reports a statement changed (see
``geosignal/services/zones_sql.py``); existing reports are grouped at upgrade.

DWconnect export schema 1.1.0 (a minor version: the collection's optional ``zones`` member):
every stored Feature carries the new ``schema_version``, so the stored-features trigger
function is installed again from its frozen 1.1.0 text and every stored Feature rebuilt in one
statement; the downgrade puts the 1.0.0 text (0007's, the version literal aside) back.

``FROZEN_SQL`` holds what the live code generated when this migration was written (a
migration never imports live code; tests/test_zones_sql.py and tests/test_frozen_sql.py keep
the newest frozen copy equal to the live text).
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Stored SQL this migration installs or runs, frozen.
FROZEN_SQL = {
    "zones": """CREATE FUNCTION zones_lock(nets varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
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
  step integer := 0;
  n bigint;
  old bigint[];
BEGIN
  -- the caller holds the locks of the networks concerned (zones_lock)
  SELECT s.distance_m INTO d FROM zone_settings s WHERE s.id = 1;
  d := coalesce(d, 100.0);
  deg := d * 1.6666666666666667e-05;
  IF to_regclass('pg_temp.zone_work') IS NULL THEN
    CREATE TEMP TABLE zone_work (
      id uuid PRIMARY KEY, seq bigint UNIQUE, network varchar, g geometry, l geometry,
      technologies varchar[], operators varchar[], commune_nis varchar,
      cohort bigint, confirmed boolean, gen integer, label bigint, grp bigint) ON COMMIT DELETE ROWS;
    CREATE INDEX ON zone_work USING gist (g);
    CREATE TEMP TABLE zone_edges (a uuid, b uuid, same boolean) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE zone_new (
      grp bigint PRIMARY KEY, network varchar, state varchar, cohort bigint, first_seq bigint,
      report_ids uuid[], geometry geometry, technologies varchar[] DEFAULT '{}',
      operators varchar[] DEFAULT '{}', commune_nis varchar, cand bigint, zone_id bigint,
      reused boolean DEFAULT false, changed boolean DEFAULT true) ON COMMIT DELETE ROWS;
  ELSE
    TRUNCATE zone_work, zone_edges, zone_new;  -- no dead rows left from a larger pass
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
  -- load), members of their zones, members of the same confirmed cohorts
  LOOP
    SELECT count(*) INTO n FROM zone_work WHERE gen = step;
    IF n > 200 THEN
      ANALYZE zone_work;
    END IF;
    INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
    SELECT r.id, r.seq, r.network, r.geometry, ST_Transform(r.geometry, 31370), r.technologies,
         r.operators, r.commune_nis, coalesce(k.id, 0), coalesce(k.kind = 'confirmed', false), step + 1
  FROM reports r
  LEFT JOIN zone_decision_reports dr ON dr.report_id = r.id
  LEFT JOIN zone_decisions k ON k.id = dr.decision_id AND k.network = r.network
    WHERE r.status IN ('submitted', 'needs_info', 'validated', 'transmitted', 'not_resolved') AND r.id IN (
      SELECT a.id FROM zone_work w CROSS JOIN LATERAL (
        SELECT r2.id FROM reports r2
        WHERE r2.geometry && ST_Expand(w.g, deg) AND r2.network = w.network AND r2.id <> w.id
          AND CASE WHEN ST_Dimension(r2.geometry) = 2 AND ST_Dimension(w.g) = 2 THEN ST_Relate(r2.geometry, w.g, '2********') ELSE ST_DWithin(ST_Transform(r2.geometry, 31370), w.l, d) END
        OFFSET 0) a
      WHERE w.gen = step
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
  SELECT count(*) INTO n FROM zone_work;
  IF n > 200 THEN
    ANALYZE zone_work;
  END IF;

  -- adjacency among them; same = same cohort (the edges components follow)
  INSERT INTO zone_edges (a, b, same)
  SELECT x.id, y.id, x.cohort = y.cohort
  FROM zone_work x JOIN zone_work y ON y.network = x.network AND y.seq > x.seq AND y.g && ST_Expand(x.g, deg)
  WHERE CASE WHEN ST_Dimension(x.g) = 2 AND ST_Dimension(y.g) = 2 THEN ST_Relate(x.g, y.g, '2********') ELSE ST_DWithin(x.l, y.l, d) END;

  -- components: each report takes the smallest label among its neighbours, then the label
  -- of the report its label names (chains halve), until nothing changes
  UPDATE zone_work SET label = seq;
  LOOP
    UPDATE zone_work w SET label = m.label FROM (
      SELECT s.id, min(s.label) AS label FROM (
        SELECT e.b AS id, x.label FROM zone_edges e JOIN zone_work x ON x.id = e.a WHERE e.same
        UNION ALL
        SELECT e.a, y.label FROM zone_edges e JOIN zone_work y ON y.id = e.b WHERE e.same) s
      GROUP BY s.id) m
    WHERE w.id = m.id AND m.label < w.label;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    UPDATE zone_work w SET label = p.label FROM zone_work p WHERE p.seq = w.label AND p.label < w.label;
  END LOOP;

  -- groups: a confirmed cohort whole; a free component touching confirmed zones joins the
  -- oldest one; otherwise the component
  UPDATE zone_work SET grp = CASE WHEN confirmed THEN -cohort ELSE label END;
  UPDATE zone_work w SET grp = -j.cohort FROM (
    SELECT f.label, min(c.cohort) AS cohort FROM (
      SELECT e.a AS f, e.b AS c FROM zone_edges e UNION ALL SELECT e.b, e.a FROM zone_edges e) p
    JOIN zone_work f ON f.id = p.f JOIN zone_work c ON c.id = p.c
    WHERE f.cohort = 0 AND c.confirmed
    GROUP BY f.label) j
  WHERE w.cohort = 0 AND w.label = j.label;

  -- the new zones: two reports or more
  INSERT INTO zone_new (grp, network, state, cohort, first_seq, report_ids, geometry)
  SELECT w.grp, min(w.network), CASE WHEN w.grp < 0 THEN 'confirmed' ELSE 'proposed' END,
         CASE WHEN w.grp < 0 THEN -w.grp ELSE min(w.cohort) END, min(w.seq),
         array_agg(w.id ORDER BY w.seq), ST_Union(w.g)
  FROM zone_work w GROUP BY w.grp HAVING count(*) >= 2;
  UPDATE zone_new n SET technologies = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY['2G', '3G', '4G', '5G', 'DSL', 'cable', 'fibre', 'FWA', 'satellite']::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT w.grp, x FROM zone_work w, unnest(w.technologies) x) s GROUP BY s.grp) t
  WHERE t.grp = n.grp;
  UPDATE zone_new n SET operators = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY['Proximus', 'Orange', 'Telenet/BASE', 'DIGI', 'VOO', 'other']::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT w.grp, x FROM zone_work w, unnest(w.operators) x) s GROUP BY s.grp) t
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
    (SELECT w.commune_nis FROM zone_work w WHERE w.grp = n.grp ORDER BY w.seq LIMIT 1));

  -- ids: a zone keeps the oldest id its reports had (contested: the oldest decision, then the
  -- oldest report); the others get new ones
  UPDATE zone_new n SET cand = c.zone_id FROM (
    SELECT w.grp, min(z.zone_id) AS zone_id FROM zone_work w JOIN zone_reports z ON z.report_id = w.id
    GROUP BY w.grp) c
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
               UNION SELECT z.zone_id FROM zone_reports z JOIN zone_work w ON w.id = z.report_id);
  DELETE FROM zone_reports WHERE zone_id = ANY(old);
  DELETE FROM zone_reports WHERE report_id = ANY(seeds);
  DELETE FROM zones WHERE id = ANY(old) AND id NOT IN (SELECT zone_id FROM zone_new WHERE reused);
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
  INSERT INTO zone_reports (zone_id, report_id)
  SELECT n.zone_id, x FROM zone_new n, unnest(n.report_ids) x;
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
  IF TG_OP = 'DELETE' THEN
    DELETE FROM zone_decision_reports WHERE report_id = ANY(ids);
  END IF;
  PERFORM zones_regroup(ids);
  RETURN NULL;
END $fn$;

CREATE FUNCTION reports_forget_zones() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
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
""",
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
    'schema_version', '1.1.0',
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
    'schema_version', '1.1.0',
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
    'schema_version', '1.1.0',
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

DROP_ZONES_SQL = """
DROP TRIGGER reports_group_zones_truncate ON reports;
DROP TRIGGER reports_group_zones_delete ON reports;
DROP TRIGGER reports_group_zones_update ON reports;
DROP TRIGGER reports_group_zones_insert ON reports;
DROP FUNCTION reports_forget_zones();
DROP FUNCTION reports_group_zones();
DROP FUNCTION zones_regroup(uuid[]);
DROP FUNCTION zones_lock(varchar[]);
"""


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("geometry", Geometry(srid=4326, dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT",
                                       name="geometry", nullable=False), nullable=False),
        sa.Column("technologies", postgresql.ARRAY(sa.String(length=20)), server_default="{}", nullable=False),
        sa.Column("operators", postgresql.ARRAY(sa.String(length=20)), server_default="{}", nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("commune_nis", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('proposed', 'confirmed')", name="state_known"),
        sa.CheckConstraint("network IN ('mobile', 'fixed')", name="network_known"),
        sa.CheckConstraint("report_count >= 2", name="two_reports_or_more"),
        sa.ForeignKeyConstraint(["commune_nis"], ["communes.nis_code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_zones_geometry", "zones", ["geometry"], unique=False, postgresql_using="gist")
    op.create_index("ix_zones_state", "zones", ["state"], unique=False)
    op.create_index("ix_zones_commune_nis", "zones", ["commune_nis"], unique=False)
    op.create_table(
        "zone_reports",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_index("ix_zone_reports_zone_id", "zone_reports", ["zone_id"], unique=False)
    op.create_table(
        "zone_decisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('confirmed', 'apart')", name="kind_known"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "zone_decision_reports",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["zone_decisions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_index("ix_zone_decision_reports_decision_id", "zone_decision_reports", ["decision_id"], unique=False)
    op.create_table(
        "zone_settings",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.CheckConstraint("id = 1", name="one_row"),
        sa.CheckConstraint("distance_m >= 0", name="distance_non_negative"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO zone_settings (id, distance_m) VALUES (1, 100)")
    op.execute(FROZEN_SQL["zones"])
    op.execute("SELECT zones_lock(ARRAY['fixed', 'mobile']::varchar[]); "
               "SELECT zones_regroup(ARRAY(SELECT id FROM reports))")
    # export schema 1.1.0: the stored Features carry the new version
    op.execute(FROZEN_SQL["reports_store_features"])
    op.execute("SET LOCAL TimeZone = 'Europe/Brussels'")
    op.execute(FROZEN_SQL["report_features_fill"])
    op.execute("SET LOCAL TimeZone TO DEFAULT")


def downgrade() -> None:
    for name in ("reports_store_features", "report_features_fill"):
        if name == "report_features_fill":
            op.execute("SET LOCAL TimeZone = 'Europe/Brussels'")
        op.execute(FROZEN_SQL[name].replace("'1.1.0'", "'1.0.0'"))
    op.execute("SET LOCAL TimeZone TO DEFAULT")
    op.execute(DROP_ZONES_SQL)
    op.drop_table("zone_settings")
    op.drop_index("ix_zone_decision_reports_decision_id", table_name="zone_decision_reports")
    op.drop_table("zone_decision_reports")
    op.drop_table("zone_decisions")
    op.drop_index("ix_zone_reports_zone_id", table_name="zone_reports")
    op.drop_table("zone_reports")
    op.drop_index("ix_zones_commune_nis", table_name="zones")
    op.drop_index("ix_zones_state", table_name="zones")
    op.drop_index("idx_zones_geometry", table_name="zones", postgresql_using="gist")
    op.drop_table("zones")
