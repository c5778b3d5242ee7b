"""The SQL (functions and triggers) that groups overlapping reports into zones.

A *zone* is two or more reports of the same network that speak of one place: zones (areas)
sharing a positive area, or points and lines lying within :data:`DEFAULT_DISTANCE_M` metres
(``zone_settings.distance_m``, measured in EPSG:31370) of another report. Zones are the
**connected components** of that relation (A∩B and B∩C put A, B and C in one zone even if A
and C do not touch), among the reports whose status takes part (:data:`ZONE_STATUSES`, the statuses the
figures count; not drafts, rejected, withdrawn or resolved reports).

**The referent's decisions** (``zone_decisions``, one *cohort* of reports each):

- *confirmed*: the zone's reports are pinned together; they stay one zone whatever later
  edits do to their shapes. A later report of the same network touching a confirmed zone —
  alone or through other new reports — *joins* it (the oldest confirmation when it touches
  several); two confirmed zones never merge.
- *apart* (a split): the reports taken out of a zone form a cohort of their own; they group
  only with each other, never again with the reports they were taken from nor with later
  reports, so regrouping cannot undo the split.

Reports with no decision are *free*; a report whose decision was made for another network
(its network was edited since) is free again.

**When.** Statement-level triggers on ``reports`` (insert, update, delete; transition
tables) regroup once per statement, set-wise: a ``COPY`` of 50,000 reports is one pass.
Updates regroup only when participation, geometry, network, technologies, operators or
commune changed (a validation that changes nothing else costs one scan of the statement's
rows). Nothing is computed when zones are read.

**How.** :func:`zones_regroup` takes the changed reports, adds the members of their current
zones, then grows the set to its closure (reports adjacent to the set, members of their
zones, members of the same confirmed cohorts) so that every zone touched is recomputed
whole. The reports adjacent to the set are looked up from each of its areas alone and from
its points and lines together, by cell of a grid of side distance (``&&`` on the stored
EPSG:4326 geometries expanded by :data:`DEG_PER_M` and :data:`DEG_LAT_PER_M` × distance,
then the exact test in EPSG:31370 against the cell's collected geometries: a point or line
is within distance of a collection when it is of one of its members). Then the edges that
decide the groups, among the set: the components of its points and lines of one cohort in
one ``ST_ClusterDBSCAN(l, distance, 1)`` call (one point per cluster: the components of
"within distance", tested with the distance function ``ST_DWithin`` uses), as one edge from
each component's oldest report to each other; the pairs of an area and a report of its
cohort; a free report's nearness to a confirmed one (by cell of the free components). It
computes components by union-find over those edges (in memory, one pass), among the reports
that have one or a confirmed decision, and replaces the old zones by the new ones. Every
pair of the set was found and walked before migration 0043: 5,000 points on a 10 m grid
(a drive test) made 1.4 million pairs, regrouped in 31–48 s (1.2–1.7 s since, a loaded
machine).
A bulk load in several statements (an import) calls ``zones_defer(networks)`` first and
``zones_flush()`` last: one regrouping for the whole load.

**Adding reports** (an ``INSERT``, or an import's flush) runs :func:`zones_grow` instead: new
reports can only make zones grow or merge, so only the new reports are looked up (the
components of their points and lines by ``ST_ClusterDBSCAN``, the stored reports they touch
by cell, as above: those 5,000 points filed at once took 21–34 s, 3.5–3.7 s since); each stored
report they touch joins as a free report or as its whole zone (one unit of the union-find,
whose members are moved, never re-examined), and the zone's union is its old union plus the
new reports (a new report that the stored reports of its group it touches cover adds nothing:
the union stays as it was, migration 0036). Next to a zone of about 16,000 reports, an added report took 44 s when the pass
walked the zone whole, 0.2–0.5 s now. New reports touching one confirmed zone join it the
same way (the joining rule; next to a confirmed zone of 15,892 reports, 1.6 s when it was
regrouped in full). New reports touching two confirmed zones or more (which one each joins
depends on what else they touch), a confirmed report in no zone, or a report of the set that
already has a zone or a decision, are regrouped in full, which gives the same zones. A zone
grown by reports alone measures its home commune on its old home and the communes they touch
only (migration 0035: :func:`_home_among`). Unions mixing areas, lines and points go through :func:`zones_union` (areas,
lines and points unioned apart; GEOS tests each point of a mix against every area without an
index).
**Reports leaving** a zone (withdrawn, rejected…: one ``UPDATE``, zone by zone, 8 of a zone's
reports at a time; several at once since migration 0037, any number since 0038) run ``zones_shrink``:
when the zone stays whole (its other members still reach each other, by a search from the
report's neighbours; none when another member covers the report alone, an area covering an
area, or a line or a point covering its kind), the union outside a box around the report (its bounding box, 1 m
wider) is kept as it was, and its parts of the report's dimension and below are made again
inside the box from the members the box meets, clipped to it (``zones_patch``, migration
0036; made again from every member, a zone of 494,000 reports took 8.8 s). Technologies and
operators lose only what no other member carries. **One free report moving** (its geometry
edited, still taking part, same network, technologies and operators; migration 0037) leaves
its zone that way from where it was (``zones_shrink(ids, old geometry)``), then joins what it
touches where it is (``zones_grow``), as a report withdrawn and filed again: a zone it moves
into keeps its id, a confirmed one too (a full regrouping gives the older id, that of the
zone the report left, to one of the two and a new id to the other). Regrouped in full, a
report moved in a zone of 16,000 reports took 1.6 s. More than 8 reports leaving in one
statement, several moving, a report of a decision moving, or a zone falling apart are
regrouped in full.
A new zone keeps the id of the oldest zone its reports were in (the group of the oldest
decision — free reports first, then by the oldest report — wins a contested id), so a
proposal the referent is looking at keeps its id while it grows, and a confirmed zone keeps
its id through splits.

**Communes loaded again** (migration 0037): :func:`zones_rehome` measures the home-commune
rule again for the zones homed in or touching the communes whose boundary a load changed or
added, and recounts their places (``geosignal load-communes`` calls it under every network's
lock: a moved border moves the zones' homes as a full regrouping would).

**Exact under concurrency.** Every statement that changes the zones of a network first takes
that network's transaction-level advisory lock (:data:`ZONE_LOCK_KEY`, networks in name
order); the triggers fire before the stored-features and figures triggers of the same
statement (trigger names sort first), so the order is network locks, then commune rows, then
cells, for every writer. The recomputation runs in statements started after the lock is
granted (READ COMMITTED: a fresh snapshot each), so it sees every change committed by the
writers it waited for: stored zones equal a recomputation after any interleaving. The cost:
writers of one network queue from their zone trigger to their commit.

**Zone changes for incremental exports** (migration 0026). A confirmed zone that a pass
makes, removes, stops confirming or changes as the export writes it (members, geometry, state,
network, technologies, operators, home commune) gets a new number of the reports' change
sequence in ``zone_changes`` (one row per zone id, kept after the zone is gone), taken by the pass
that writes it through ``zones_log_changes`` under the shared lock an export takes
exclusively to read its watermark, as a report's ``change_seq`` is: one ``since`` orders
reports and zones together. :func:`zones_regroup` and :func:`zones_grow` (a confirmed zone
joined) number the confirmed zones they write, one statement over the zones the pass replaces;
``zones_shrink`` (a report leaving a confirmed zone) numbers the zone it writes.

:func:`zones_sql` renders the SQL; the newest migration holding it keeps a frozen copy (0043;
0010 the first), and a test checks that the two are equal.
"""

from __future__ import annotations

from geosignal.services.aggregation.filters import COUNTED_STATUSES
from geosignal.vocab import LAMBERT72, NETWORKS, OPERATORS, STATUSES, TECHNOLOGIES

#: Statuses whose reports take part in zones: those the figures count (open and
#: ``not_resolved``), the same set (:data:`geosignal.services.aggregation.filters.COUNTED_STATUSES`).
ZONE_STATUSES: tuple[str, ...] = COUNTED_STATUSES
#: The others take no part (drafts, rejected, withdrawn, resolved).
EXCLUDED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in ZONE_STATUSES)
#: Distance (m, EPSG:31370) within which points and lines join another report, by default.
DEFAULT_DISTANCE_M = 100.0
#: Degrees of bounding-box margin per metre of distance, in longitude: 1° of longitude is
#: ≥ 60 km up to 57° N (about 71 km at Charleroi); the exact test follows in metres.
DEG_PER_M = 1 / 60000
#: The same in latitude: 1° of latitude is ≥ 110.5 km everywhere (a box half as tall).
DEG_LAT_PER_M = 1 / 110000
#: Advisory lock key ("zone"); the second key is ``hashtext(network)``.
ZONE_LOCK_KEY = 0x7A6F6E65
#: States of a zone.
ZONE_STATES: tuple[str, ...] = ("proposed", "confirmed")
#: Kinds of referent decision.
DECISION_KINDS: tuple[str, ...] = ("confirmed", "apart")


def _list(values: tuple[str, ...]) -> str:
    assert all("'" not in v for v in values)
    return ", ".join(f"'{v}'" for v in values)


def participates(alias: str) -> str:
    """Return the SQL condition "report ``alias`` takes part in zones"."""
    return f"{alias}.status IN ({_list(ZONE_STATUSES)})"


def _adjacent(a_g: str, a_l: str, b_g: str, b_l: str, b_area: str | None = None) -> str:
    """Two reports (EPSG:4326 ``*_g``, EPSG:31370 ``*_l``) of one network belong together:
    two zones share a positive area; otherwise they lie within ``d`` metres. ``b_area``: an
    SQL condition known to equal ``ST_Dimension(b_g) = 2`` (``b`` a group's collection)."""
    return (f"CASE WHEN ST_Dimension({a_g}) = 2 AND {b_area or f'ST_Dimension({b_g}) = 2'} "
            f"THEN ST_Relate({a_g}, {b_g}, '2********') "
            f"ELSE ST_DWithin({a_l}, {b_l}, d) END")


def _home() -> str:
    """The home commune of a zone's union ``n.geometry``: the rule of every report."""
    # imported here: geosignal.services.communes imports the models, which import this module
    from geosignal.services.communes import HOME_COMMUNE_SQL

    # measured on the union's part of its highest dimension (the other parts measure 0), which
    # spares GEOS a collection of mixed dimensions (a large zone: 440 ms → 40 ms)
    return HOME_COMMUNE_SQL.replace(
        "FROM communes c, g",
        "FROM communes c, (SELECT ST_CollectionExtract(n.geometry, ST_Dimension(n.geometry) + 1) AS g) g",
    ).replace(":srid", str(LAMBERT72))


def _home_among() -> str:
    """The home commune of a zone ``z`` growing into ``n`` by reports alone, none of higher
    dimension than its union: the rule's measure (``HOME_MEASURE_SQL``) on its old home
    (``z.commune_nis``) and the communes its joining reports of that dimension (``zone_parts
    p`` of group ``n.grp``) touch, the largest (ties to the smallest NIS code); NULL when the
    largest measures 0 (the rule then decides among the communes the union touches)."""
    from geosignal.services.communes import HOME_MEASURE_SQL

    measure = HOME_MEASURE_SQL.replace(":srid", str(LAMBERT72))
    return f"""(SELECT CASE WHEN h.m > 0 THEN h.nis_code END FROM (
      SELECT c.nis_code, {measure} AS m
      FROM communes c, (SELECT ST_CollectionExtract(n.geometry, ST_Dimension(n.geometry) + 1) AS g) g
      WHERE c.nis_code = z.commune_nis OR EXISTS (
        SELECT 1 FROM zone_parts p WHERE p.grp = n.grp AND p.report IS NOT NULL
          AND ST_Dimension(p.g) = ST_Dimension(z.geometry) AND {_touches()})
      ORDER BY 2 DESC, 1 ASC LIMIT 1) h)"""


def _touches(geom: str = "p.g") -> str:
    """Geometry ``geom`` (a joining report ``p.g``, a leaving one ``r.geometry``) touches
    commune ``c``: the rule of every report (a point within the border tolerance, a line or
    zone intersecting; a line within 2 cm, where the figures may count its length:
    :func:`~geosignal.services.communes.home_candidates_sql`)."""
    from geosignal.services.communes import home_candidates_sql

    return home_candidates_sql("c.boundary", geom)


_LOAD = """SELECT r.id, r.seq, r.network, r.geometry, ST_Transform(r.geometry, {srid}), r.technologies,
         r.operators, r.commune_nis, coalesce(k.id, 0), coalesce(k.kind = 'confirmed', false), {gen}
  FROM reports r
  LEFT JOIN zone_decision_reports dr ON dr.report_id = r.id
  LEFT JOIN zone_decisions k ON k.id = dr.decision_id AND k.network = r.network"""

#: The adjacent pairs found from the reports of one step ``{gen}`` (``zone_work``), each alone
#: (``zones_shrink``'s searches).
_PAIRS = """INSERT INTO zone_pairs (a, b, gen)
    SELECT w.id, a.id, {gen} FROM zone_work w CROSS JOIN LATERAL (
      SELECT r2.id FROM reports r2
      WHERE r2.geometry && ST_Expand(w.g, deg, deg_lat) AND r2.network = w.network AND r2.id <> w.id
        AND {adjacent_r2}
      OFFSET 0) a
    WHERE w.gen = {gen};"""

#: Points and lines of the pass's set (``zone_work w`` rows ``{where}``) together by cell of a
#: grid of side ``cs`` metres (EPSG:31370, from the corner of their box; and by ``{member_a}``,
#: ``{group_by}``), rows ``(a, network, g, l)``: ``a`` one of them, their geometries collected.
#: A drive test's points a few metres apart each looked up their hundreds of neighbours, every
#: pair tested twice (5,000 points on a 10 m grid: 2 million candidates); a cell looks up its
#: surroundings once.
_CELLS = """SELECT {group_a} AS a, s.network, ST_Collect(s.g) AS g, ST_Collect(s.l) AS l FROM (
        SELECT {member_a} AS a, w.id, w.network, w.g, w.l,
               floor(ST_XMin(w.l) / cs) AS cx, floor(ST_YMin(w.l) / cs) AS cy
        FROM zone_work w{member_join}
        WHERE {where} AND ST_Dimension(w.g) < 2) s
      GROUP BY {group_by}"""

#: The reports of the pass's step ``{gen}`` in groups that look for their neighbours together
#: (:data:`_REACH`), rows ``(a, network, g, l, area)``: a zone (area) alone, itself ``a``; points
#: and lines by cell (:data:`_CELLS`).
_GROUPS = """SELECT w.id, w.network, w.g, w.l, true FROM zone_work w WHERE w.gen = {gen} AND ST_Dimension(w.g) = 2
      UNION ALL
      SELECT c.a, c.network, c.g, c.l, false FROM ({cells}) c"""

#: The pairs ``(a, b, {gen})`` from each group of :data:`_GROUPS` (``a``) to the reports ``b``
#: adjacent to one of its reports (:func:`_adjacent` on the group's collected geometries: a
#: point or line is within ``d`` metres of the collection when it is of one of its members),
#: among the reports outside the pass's set (``zone_work``; a new area's among the set's too,
#: in zones_grow: :func:`_reach`). The reports near a group
#: come through the spatial index (OFFSET 0: a lookup per group, whatever the statistics),
#: the set's own are left out in one join before the exact test (OFFSET 0 keeps the test
#: above the join).
_REACH = """INSERT INTO zone_pairs (a, b, gen)
    SELECT q.a, q.b, {gen} FROM (
      SELECT k.a, k.g, k.l, k.area, r2.id AS b, r2.geometry AS g2
      FROM ({groups}) k(a, network, g, l, area)
      CROSS JOIN LATERAL (
        SELECT r.id, r.geometry FROM reports r
        WHERE r.geometry && ST_Expand(k.g, deg, deg_lat) AND r.network = k.network AND r.id <> k.a
        OFFSET 0) r2
      LEFT JOIN zone_work x ON x.id = r2.id
      WHERE x.id IS NULL{keep_known}
      OFFSET 0) q
    WHERE {adjacent_q};"""

#: The components of the points and lines of the pass's set (``zone_work``, its new reports in
#: zones_grow: ``{which}``)
#: within ``d`` metres of each other, by network and cohort, in one call (DBSCAN with one
#: point per cluster: the components of "within eps", tested as ``ST_DWithin`` tests, by the
#: same distance function of PostGIS; it skips the distances of two reports already in one
#: cluster), written as edges ``(oldest, other, true)`` in ``zone_edges``: as many edges as
#: reports, where the pairs of 5,000 points a few metres apart were millions.
_STARS = """INSERT INTO zone_edges (a, b, same)
  SELECT c.rep, c.id, true FROM (
    SELECT s.id, first_value(s.id) OVER (PARTITION BY s.network, s.cohort, s.cl ORDER BY s.seq) AS rep
    FROM (SELECT w.id, w.seq, w.network, w.cohort,
                 ST_ClusterDBSCAN(w.l, eps := d, minpoints := 1) OVER (PARTITION BY w.network, w.cohort) AS cl
          FROM zone_work w WHERE {which}ST_Dimension(w.g) < 2) s) c
  WHERE c.id <> c.rep;"""

#: Union-find over ``{edges}`` (pairs of ``k``, 1..n), in memory; a root is always the smallest
#: ``k`` of its component (a drive test's chain of points costs one pass over its edges, not one
#: statement per hop).
_UNION_FIND = """  parent := ARRAY(SELECT generate_series(1, n::integer));
  FOR ka, kb IN
    {edges}
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

"""

#: The new zones (``zone_new``) from their parts (``zone_parts``: reports, or whole old zones
#: in :func:`zones_grow`), two parts or more: union, technologies, operators (the home commune:
#: :data:`_MAKE_HOME`). A part without geometry (a new report its zone covers already, in
#: :func:`zones_grow`) adds none; a zone's union left alone stays as it is: NULL in
#: ``zone_new`` (the zone's row keeps its geometry).
_MAKE_ZONES = """  -- the new zones, from their parts: two parts or more
  INSERT INTO zone_new (grp, network, state, cohort, first_seq, report_ids, geometry, cand)
  SELECT s.grp, s.network, CASE WHEN s.grp < 0 THEN 'confirmed' ELSE 'proposed' END,
         CASE WHEN s.grp < 0 THEN -s.grp ELSE s.cohort END, s.first_seq, s.report_ids,
         CASE WHEN s.zone_id IS NOT NULL AND coalesce(cardinality(s.gs), 0) <= 1 THEN NULL
              WHEN s.mixed OR s.zone_id IS NOT NULL THEN zones_union(s.gs) ELSE ST_Union(s.gs) END, s.zone_id
  FROM (SELECT p.grp, min(p.network) AS network, min(p.cohort) AS cohort, min(p.seq) AS first_seq,
               array_agg(p.report ORDER BY p.seq) FILTER (WHERE p.report IS NOT NULL) AS report_ids,
               array_agg(p.g) FILTER (WHERE p.g IS NOT NULL) AS gs, min(p.zone_id) AS zone_id,
               min(ST_Dimension(p.g)) <> max(ST_Dimension(p.g))
                 OR bool_or(GeometryType(p.g) = 'GEOMETRYCOLLECTION') AS mixed
        FROM zone_parts p GROUP BY p.grp HAVING count(*) >= 2) s;
  UPDATE zone_new n SET technologies = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY[{technologies}]::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT p.grp, x FROM zone_parts p, unnest(p.technologies) x
          WHERE p.grp IN (SELECT grp FROM zone_new)) s GROUP BY s.grp) t
  WHERE t.grp = n.grp;
  UPDATE zone_new n SET operators = t.v FROM (
    SELECT s.grp, array_agg(s.x ORDER BY array_position(ARRAY[{operators}]::varchar[], s.x)) AS v
    FROM (SELECT DISTINCT p.grp, x FROM zone_parts p, unnest(p.operators) x
          WHERE p.grp IN (SELECT grp FROM zone_new)) s GROUP BY s.grp) t
  WHERE t.grp = n.grp;
"""

#: The home commune of each new zone (``zone_new``) not known already: the rule of every report
#: on its union, else (a union outside every commune) its oldest part's commune.
_MAKE_HOME = """  UPDATE zone_new n SET commune_nis = coalesce(
    (SELECT c.nis_code {home}),
    (SELECT p.commune_nis FROM zone_parts p WHERE p.grp = n.grp ORDER BY p.seq LIMIT 1))
  WHERE n.commune_nis IS NULL;
"""

#: The variables of a zone pass (zones_regroup, zones_grow).
_PASS_DECLARE = """  d double precision;
  deg double precision;
  deg_lat double precision;
  cs double precision;
  n bigint;
  work_rows bigint;
  t_nis varchar[];
  t_net varchar[];
  parent integer[];
  ka integer;
  kb integer;
  old bigint[];"""

#: The distance (m) within which points and lines join, and its bounding-box margins (°).
_DISTANCE = """  SELECT s.distance_m INTO d FROM zone_settings s WHERE s.id = 1;
  d := coalesce(d, {default_m});
  deg := d * {deg_per_m};
  deg_lat := d * {deg_lat_per_m};
  cs := greatest(d, 10);  -- (the side of the cells points and lines look for neighbours by, m)"""

#: The end of a zone pass: the places of the (commune, network) pairs touched recounted; a
#: large pass (an import) leaves no large work tables behind in the session.
_PASS_END = """  PERFORM zones_recount(t_nis, t_net);
  IF work_rows > 20000 THEN
    TRUNCATE zone_work, zone_pairs, zone_edges, zone_nodes, zone_units, zone_parts, zone_new;
  END IF;"""

_TEMPLATE = r"""
CREATE FUNCTION zones_lock(nets varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  net varchar;
BEGIN
  -- one lock per network, in name order (at most one per network: not a loop over rows)
  FOR net IN SELECT DISTINCT x FROM unnest(nets) x WHERE x IS NOT NULL ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock({lock_key}, hashtext(net));
  END LOOP;
END $fn$;

CREATE FUNCTION zones_log_changes(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- confirmed zones made, changed, removed or no longer confirmed (ids: what exports see change)
  -- each take a new number of the reports' change sequence, under the shared lock an export
  -- takes exclusively to read its watermark (as reports_next_change_seq does): one since=
  -- orders reports and zones together, and no number below a watermark is still uncommitted
  IF coalesce(cardinality(ids), 0) = 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock_shared({change_lock_key});
  INSERT INTO zone_changes (zone_id, change_seq, changed_at)
  SELECT s.x, nextval('reports_change_seq'), now() FROM (SELECT DISTINCT x FROM unnest(ids) x ORDER BY 1) s
  ON CONFLICT (zone_id) DO UPDATE SET change_seq = EXCLUDED.change_seq, changed_at = EXCLUDED.changed_at;
END $fn$;

CREATE FUNCTION zones_work_tables() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- the work tables of a zone pass, made once per session and emptied at the start of a pass
  IF to_regclass('pg_temp.zone_parts') IS NULL THEN
    -- (the work tables of an earlier version of these functions, if this session made them)
    DROP TABLE IF EXISTS pg_temp.zone_work, pg_temp.zone_pairs, pg_temp.zone_edges, pg_temp.zone_nodes,
      pg_temp.zone_new, pg_temp.zone_units;
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
    -- what a growing zone is made of (zones_grow): whole zones and reports (unit: -zone id, or
    -- the report's seq), k: 1.. for the union-find, label: the k of its group's root
    CREATE TEMP TABLE zone_units (unit bigint PRIMARY KEY, k integer, label integer);
    -- the parts of each new zone (grp): its reports (report), or whole old zones (zone_id)
    CREATE TEMP TABLE zone_parts (
      grp bigint, report uuid, zone_id bigint, seq bigint, cohort bigint, network varchar, g geometry,
      technologies varchar[], operators varchar[], commune_nis varchar);
    CREATE TEMP TABLE zone_new (
      grp bigint PRIMARY KEY, network varchar, state varchar, cohort bigint, first_seq bigint,
      report_ids uuid[], geometry geometry, technologies varchar[] DEFAULT '{{}}',
      operators varchar[] DEFAULT '{{}}', commune_nis varchar, cand bigint, zone_id bigint,
      reused boolean DEFAULT false, changed boolean DEFAULT true);
  ELSIF pg_total_relation_size('pg_temp.zone_work') + pg_total_relation_size('pg_temp.zone_nodes')
        + pg_total_relation_size('pg_temp.zone_parts') + pg_total_relation_size('pg_temp.zone_new')
        + pg_total_relation_size('pg_temp.zone_pairs') > 4194304 THEN
    -- after a large pass: TRUNCATE (new files, and the plans cached on these tables made again)
    TRUNCATE zone_work, zone_pairs, zone_edges, zone_nodes, zone_units, zone_parts, zone_new;
  ELSE
    -- the rows of the previous pass; the tables keep their rows at commit because emptying
    -- them there (ON COMMIT DELETE ROWS) invalidated the cached plans of the pass, which were
    -- made again for every report (about 10 ms)
    DELETE FROM zone_work;
    DELETE FROM zone_pairs;
    DELETE FROM zone_edges;
    DELETE FROM zone_nodes;
    DELETE FROM zone_units;
    DELETE FROM zone_parts;
    DELETE FROM zone_new;
  END IF;
END $fn$;

CREATE FUNCTION zones_regroup(seeds uuid[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  step integer := 0;
{pass_declare}
BEGIN
  -- the caller holds the locks of the networks concerned (zones_lock)
{distance}
  PERFORM zones_work_tables();

  -- the changed reports that take part, and the members of their current zones
  INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
  {load_0}
  WHERE {part_r} AND r.id = ANY(ARRAY(SELECT unnest(seeds) UNION
    SELECT m.report_id FROM zone_reports m
    WHERE m.zone_id IN (SELECT s.zone_id FROM zone_reports s WHERE s.report_id = ANY(seeds))));

  -- closure: adjacent reports outside the set (found from the frontier's zones, and its
  -- points and lines by cell, through the spatial index), members of their zones, members
  -- of the same confirmed cohorts. The pairs inside the set are found once it is whole
  -- (below)
  LOOP
    SELECT count(*) INTO n FROM zone_work WHERE gen = step;
    IF n > 200 THEN
      ANALYZE zone_work;
    END IF;
    {reach_step}
    INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
    {load_next}
    WHERE {part_r} AND r.id = ANY(ARRAY(
      SELECT p.b FROM zone_pairs p WHERE p.gen = step
      -- (members of the zones and cohorts of the step, each zone once: a join per report
      -- fetched a zone of 16,000 reports 16,000 times, a sort of 256 million rows)
      UNION SELECT m.report_id FROM zone_reports m WHERE m.zone_id IN (
        SELECT z.zone_id FROM zone_work w JOIN zone_reports z ON z.report_id = w.id WHERE w.gen = step)
      UNION SELECT m.report_id FROM zone_decision_reports m WHERE m.decision_id IN (
        SELECT z.decision_id FROM zone_work w JOIN zone_decision_reports z ON z.report_id = w.id
        JOIN zone_decisions k ON k.id = z.decision_id AND k.kind = 'confirmed' WHERE w.gen = step)))
      AND NOT EXISTS (SELECT 1 FROM zone_work w0 WHERE w0.id = r.id)  -- (not re-projected)
      -- only the networks of the pass, whose locks its caller holds (a report moved to another
      -- network while in a confirmed cohort was reached through it: the pass rewrote that
      -- network's zones and counts without its lock, against a writer holding it)
      AND r.network = ANY(ARRAY(SELECT DISTINCT w1.network FROM zone_work w1))
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    step := step + 1;
  END LOOP;
  SELECT count(*) INTO work_rows FROM zone_work;
  IF work_rows > 200 THEN
    ANALYZE zone_work;
  END IF;

  -- the edges among them that decide the groups (a report that takes no part is not in the
  -- set): same = of one cohort (the edges components follow), else a free report and a
  -- confirmed one (the joining rule). Points and lines of one cohort: their components
  {stars_all}
  -- a free point or line and a confirmed one, adjacent: by cell of the free ones' components
  -- (one edge per cell and confirmed report: a member of the component stands for the one
  -- adjacent to it)
  IF EXISTS (SELECT 1 FROM zone_work w WHERE w.confirmed) AND EXISTS (SELECT 1 FROM zone_work w WHERE w.cohort = 0) THEN
    INSERT INTO zone_edges (a, b, same)
    SELECT q.a, q.b, false FROM (
      SELECT k.a, k.l, x.id AS b, x.l AS l2
      FROM ({cells_free}) k
      CROSS JOIN LATERAL (
        SELECT r.id FROM reports r WHERE r.geometry && ST_Expand(k.g, deg, deg_lat) AND r.network = k.network
        OFFSET 0) r2
      JOIN zone_work x ON x.id = r2.id
      WHERE x.confirmed AND ST_Dimension(x.g) < 2
      OFFSET 0) q
    WHERE ST_DWithin(q.l2, q.l, d);
  END IF;
  -- a zone (area) and a report of its cohort, or free and confirmed, adjacent (each pair once)
  INSERT INTO zone_edges (a, b, same)
  SELECT q.a, q.b, q.same FROM (
    SELECT w.id AS a, w.g, w.l, x.id AS b, x.g AS g2, x.l AS l2, x.cohort = w.cohort AS same
    FROM zone_work w CROSS JOIN LATERAL (
      SELECT r.id FROM reports r
      WHERE r.geometry && ST_Expand(w.g, deg, deg_lat) AND r.network = w.network AND r.id <> w.id
      OFFSET 0) r2
    JOIN zone_work x ON x.id = r2.id
    WHERE ST_Dimension(w.g) = 2 AND (ST_Dimension(x.g) < 2 OR x.id > w.id)
      AND (x.cohort = w.cohort OR (w.cohort = 0 AND x.confirmed) OR (x.cohort = 0 AND w.confirmed))
    OFFSET 0) q
  WHERE {adjacent_e};

  -- nothing adjacent, nothing confirmed, no zone before: no zone to make or replace (a
  -- report filed alone)
  IF NOT EXISTS (SELECT 1 FROM zone_edges) AND NOT EXISTS (SELECT 1 FROM zone_work WHERE confirmed)
     AND NOT EXISTS (SELECT 1 FROM zone_reports z
                     WHERE z.report_id = ANY(seeds) OR z.report_id = ANY(ARRAY(SELECT id FROM zone_work))) THEN
    IF work_rows > 20000 THEN
      TRUNCATE zone_work, zone_pairs, zone_edges;  -- (see the end)
    END IF;
    RETURN;
  END IF;

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
{union_find_nodes}
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

  -- each group's parts: its reports
  INSERT INTO zone_parts (grp, report, seq, cohort, network, g, technologies, operators, commune_nis)
  SELECT v.grp, v.id, v.seq, v.cohort, w.network, w.g, w.technologies, w.operators, w.commune_nis
  FROM zone_nodes v JOIN zone_work w ON w.id = v.id;
{make_zones}
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
  -- the confirmed zones this pass makes, removes, stops confirming or changes as exported
  -- (members, geometry, state, network, technologies, operators, home commune), numbered for
  -- incremental exports before they are written (zones_log_changes)
  PERFORM zones_log_changes(ARRAY(
    SELECT z.id FROM zones z LEFT JOIN zone_new n ON n.zone_id = z.id AND n.reused
    WHERE z.id = ANY(old) AND (z.state = 'confirmed' OR n.state = 'confirmed')
      AND (n.grp IS NULL OR n.changed OR z.state <> n.state OR z.network <> n.network
           OR z.report_count <> cardinality(n.report_ids)
           OR z.geometry::bytea IS DISTINCT FROM n.geometry::bytea
           OR (z.technologies, z.operators, z.commune_nis)
              IS DISTINCT FROM (n.technologies, n.operators, n.commune_nis))
    UNION SELECT n.zone_id FROM zone_new n WHERE NOT n.reused AND n.state = 'confirmed'));
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
  FROM zone_new n WHERE z.id = n.zone_id AND n.reused
    AND z.id = ANY(ARRAY(SELECT x.zone_id FROM zone_new x WHERE x.reused));
  INSERT INTO zones (id, network, state, geometry, technologies, operators, report_count, commune_nis)
  SELECT n.zone_id, n.network, n.state, n.geometry, n.technologies, n.operators, cardinality(n.report_ids),
         n.commune_nis
  FROM zone_new n WHERE NOT n.reused ORDER BY n.first_seq;
  INSERT INTO zone_reports (zone_id, report_id, commune_nis, network)
  SELECT n.zone_id, x, w.commune_nis, w.network
  FROM zone_new n CROSS JOIN LATERAL unnest(n.report_ids) x JOIN zone_work w ON w.id = x;

{pass_end}
END $fn$;

CREATE FUNCTION zones_recount(t_nis varchar[], t_net varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- the places of those (commune, network) pairs, recomputed from the zones as they now stand
  -- (zone_counts: what the commune table shows; only this network's writers, who hold its
  -- lock, write its rows)
  DELETE FROM zone_counts t USING unnest(t_nis, t_net) a(nis, net) WHERE t.nis_code = a.nis AND t.network = a.net;
  INSERT INTO zone_counts (nis_code, network, zones, confirmed, reports)
  SELECT a.nis, a.net, z.n, z.c, m.n
  FROM unnest(t_nis, t_net) a(nis, net)
  CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE z.state = 'confirmed') AS c
                      FROM zones z WHERE z.commune_nis = a.nis AND z.network = a.net) z
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM zone_reports r WHERE r.commune_nis = a.nis AND r.network = a.net) m
  WHERE z.n > 0 OR m.n > 0;
END $fn$;

CREATE FUNCTION zones_rehome(codes varchar[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  t_nis varchar[];
  t_net varchar[];
  ids bigint[];
BEGIN
  -- the communes `codes` were loaded with new boundaries (or for the first time): the zones
  -- homed there or touching them measure the home-commune rule again, as a full regrouping
  -- would (the rule on the union, else the oldest report's commune); their places recounted,
  -- the confirmed ones numbered for incremental exports. The caller holds every network's
  -- lock, taken before the communes' rows.
  WITH h AS (
    SELECT n.id, n.commune_nis AS was, coalesce(
             (SELECT c.nis_code {home}),
             (SELECT r.commune_nis FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
              WHERE zr.zone_id = n.id ORDER BY r.seq LIMIT 1)) AS nis
    FROM zones n
    WHERE n.commune_nis = ANY(codes)
       OR EXISTS (SELECT 1 FROM communes c WHERE c.nis_code = ANY(codes) AND {touches_n})),
  u AS (
    UPDATE zones z SET commune_nis = h.nis, updated_at = now() FROM h
    WHERE z.id = h.id AND z.commune_nis IS DISTINCT FROM h.nis
    RETURNING z.id, z.network, z.state, h.was, h.nis),
  pairs AS (
    SELECT DISTINCT x.nis, x.net FROM u CROSS JOIN LATERAL (VALUES (u.was, u.network), (u.nis, u.network)) x(nis, net)
    WHERE x.nis IS NOT NULL)
  SELECT (SELECT array_agg(p.nis ORDER BY p.nis, p.net) FROM pairs p),
         (SELECT array_agg(p.net ORDER BY p.nis, p.net) FROM pairs p),
         (SELECT array_agg(u.id ORDER BY u.id) FROM u WHERE u.state = 'confirmed')
  INTO t_nis, t_net, ids;
  PERFORM zones_log_changes(ids);
  IF t_nis IS NOT NULL THEN
    PERFORM zones_recount(t_nis, t_net);
  END IF;
END $fn$;

CREATE FUNCTION zones_collect(a geometry, l geometry, p geometry) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  parts geometry[];
BEGIN
  -- areas, lines and points (each a union, or NULL or empty) as one geometry: the one that is
  -- not empty, or a collection of their parts
  parts := ARRAY(SELECT y FROM unnest(ARRAY[a, l, p]) y WHERE y IS NOT NULL AND NOT ST_IsEmpty(y));
  IF cardinality(parts) = 1 THEN
    RETURN parts[1];
  END IF;
  RETURN ST_Collect(ARRAY(SELECT d.geom FROM unnest(parts) y, ST_Dump(y) d));
END $fn$;

CREATE FUNCTION zones_union(gs geometry[]) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  a geometry;
  l geometry;
  p geometry;
  x geometry;
  xa geometry;
  xl geometry;
  xp geometry;
BEGIN
  -- the union of geometries (EPSG:4326) that mix dimensions or hold whole zones: the same
  -- set as ST_Union's, computed apart by dimension (GEOS tests every point of a mix against
  -- every area without an index: a zone of 15,000 points and 2,000 areas took minutes);
  -- the lines then lose what the areas cover, and the points what the areas and lines cover.
  -- A few inputs (a zone growing: its old union and the reports joining it) are added one
  -- by one, so an old union is not dissolved again.
  IF cardinality(gs) <= 8 THEN
    -- each input is a union already (a zone's) or one report's geometry (one dimension): an
    -- input's areas cut the lines and points gathered so far, the areas gathered so far cut
    -- its lines and points, and likewise lines cut points (an old union is not cut again by
    -- its own areas)
    FOREACH x IN ARRAY gs LOOP
      xa := ST_CollectionExtract(x, 3);
      xl := ST_CollectionExtract(x, 2);
      xp := ST_CollectionExtract(x, 1);
      IF NOT ST_IsEmpty(xa) THEN
        l := ST_Difference(l, xa);
        p := ST_Difference(p, xa);
      END IF;
      IF a IS NOT NULL THEN
        xl := ST_Difference(xl, a);
        xp := ST_Difference(xp, a);
      END IF;
      IF NOT ST_IsEmpty(xl) THEN
        p := ST_Difference(p, xl);
      END IF;
      IF l IS NOT NULL AND NOT ST_IsEmpty(xp) THEN
        xp := ST_Difference(xp, l);
      END IF;
      IF NOT ST_IsEmpty(xa) THEN
        a := CASE WHEN a IS NULL THEN xa ELSE ST_Union(a, xa) END;
      END IF;
      IF NOT ST_IsEmpty(xl) THEN
        l := CASE WHEN l IS NULL OR ST_IsEmpty(l) THEN xl ELSE ST_Union(l, xl) END;
      END IF;
      IF NOT ST_IsEmpty(xp) THEN
        p := CASE WHEN p IS NULL OR ST_IsEmpty(p) THEN xp ELSE ST_Union(p, xp) END;
      END IF;
    END LOOP;
    RETURN zones_collect(a, l, p);
  ELSE
    a := ST_Union(ARRAY(SELECT k.c FROM unnest(gs) AS u(g), ST_CollectionExtract(u.g, 3) AS k(c)
                        WHERE NOT ST_IsEmpty(k.c)));
    l := ST_Union(ARRAY(SELECT k.c FROM unnest(gs) AS u(g), ST_CollectionExtract(u.g, 2) AS k(c)
                        WHERE NOT ST_IsEmpty(k.c)));
    p := ST_Union(ARRAY(SELECT k.c FROM unnest(gs) AS u(g), ST_CollectionExtract(u.g, 1) AS k(c)
                        WHERE NOT ST_IsEmpty(k.c)));
  END IF;
  IF a IS NOT NULL AND l IS NOT NULL THEN
    l := ST_Difference(l, a);
  END IF;
  IF p IS NOT NULL AND a IS NOT NULL THEN
    p := ST_Difference(p, a);
  END IF;
  IF p IS NOT NULL AND l IS NOT NULL AND NOT ST_IsEmpty(p) AND NOT ST_IsEmpty(l) THEN
    p := ST_Difference(p, l);
  END IF;
  RETURN zones_collect(a, l, p);
END $fn$;

CREATE FUNCTION zones_covered(g geometry, others geometry[]) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  left_g geometry := g;
  part_g geometry;
  dim_k integer;
BEGIN
  -- whether geometries others (reports, or a union mixing dimensions) cover g: what of g the
  -- union of their areas, then of their lines, then of their points does not cover is empty
  -- (each dimension apart: GEOS does not test against a collection), or of an area or a
  -- length below 10⁻⁹ of g's (a report filed again over reports it overlaps: the union's
  -- vertices where their edges cross lie off its edges by a rounding, leaving slivers of
  -- 10⁻²⁰ degrees²)
  IF g IS NULL OR coalesce(cardinality(others), 0) = 0 THEN
    RETURN false;
  END IF;
  FOR dim_k IN REVERSE 3 .. 1 LOOP
    part_g := ST_Union(ARRAY(SELECT x.c FROM unnest(others) o(geom), ST_CollectionExtract(o.geom, dim_k) x(c)
                             WHERE NOT ST_IsEmpty(x.c)));
    IF part_g IS NOT NULL AND NOT ST_IsEmpty(part_g) THEN
      left_g := ST_Difference(left_g, part_g);
      IF ST_IsEmpty(left_g) THEN
        RETURN true;
      END IF;
    END IF;
  END LOOP;
  RETURN CASE ST_Dimension(g)
    WHEN 2 THEN ST_Area(left_g) <= 1e-9 * ST_Area(g)
    WHEN 1 THEN ST_Dimension(left_g) = 1 AND ST_Length(left_g) <= 1e-9 * ST_Length(g)
    ELSE false END;
END $fn$;

CREATE FUNCTION zones_patch(old geometry, bx geometry, inside geometry) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  -- one part (one dimension) of a zone's union made again inside box bx: what lay outside
  -- it, as it was, and what the members make inside it (NULL or empty: nothing). The cut
  -- leaves a vertex where the box's edge crossed an edge of the union, on that edge in
  -- EPSG:4326 but not on its chord in EPSG:31370, where areas and lengths are measured (1 mm
  -- off a 300 m edge: 0.2 m² of a 90,000 m² zone); such vertices (within 10⁻¹³ degrees of
  -- the line through their neighbours, 10 nm; a rounding puts them 10⁻¹⁵ off) go, as a union
  -- of the members has none (ST_Simplify: 4 ms for a union of 129,000 vertices, where
  -- ST_SimplifyPreserveTopology took 340 ms; moving an edge by 10 nm at most, it could only
  -- make rings closer than that cross: GEOS's overlays still take such a union)
  IF old IS NOT NULL AND NOT ST_IsEmpty(old) THEN
    old := ST_Difference(old, bx);
  END IF;
  IF old IS NULL OR ST_IsEmpty(old) THEN
    RETURN CASE WHEN inside IS NULL OR ST_IsEmpty(inside) THEN NULL ELSE inside END;
  END IF;
  IF inside IS NOT NULL AND NOT ST_IsEmpty(inside) THEN
    old := ST_Union(old, inside);
  END IF;
  RETURN CASE WHEN ST_Dimension(old) > 0 THEN ST_Simplify(old, 1e-13) ELSE old END;
END $fn$;

CREATE FUNCTION zones_values_left(z bigint, vals varchar[], gone varchar[], tech boolean) RETURNS varchar[]
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  kept varchar[] := '{{}}';
  v varchar;
BEGIN
  -- the values (technologies when tech, else operators) of zone z's list vals that stay once a
  -- report carrying gone has left it: those it did not carry, and those another member carries
  -- (looked for among the zone's first 1,000 members, by index, then among all)
  FOREACH v IN ARRAY coalesce(vals, '{{}}') LOOP
    IF v <> ALL(coalesce(gone, '{{}}')) OR EXISTS (
         SELECT 1 FROM (SELECT m.report_id FROM zone_reports m WHERE m.zone_id = z LIMIT 1000) q
         JOIN reports r ON r.id = q.report_id
         WHERE v = ANY(CASE WHEN tech THEN r.technologies ELSE r.operators END)) THEN
      kept := kept || v;
    ELSIF EXISTS (SELECT 1 FROM zone_reports m JOIN reports r ON r.id = m.report_id
                  WHERE m.zone_id = z AND v = ANY(CASE WHEN tech THEN r.technologies ELSE r.operators END)) THEN
      kept := kept || v;
    END IF;
  END LOOP;
  RETURN kept;
END $fn$;

CREATE FUNCTION zones_grow(seeds uuid[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
{pass_declare}
BEGIN
  -- the caller holds the locks of the networks concerned (zones_lock). New reports (no zone,
  -- no decision) can only make zones grow or merge: their free neighbours and the zones those
  -- are in join them whole, without walking the zones, a confirmed zone too (the joining rule).
  -- When the new reports touch two confirmed zones, a confirmed report in no zone, or a report
  -- of the set already has a zone or a decision, the zones are regrouped in full
  -- (zones_regroup), which gives the same result.
  IF EXISTS (SELECT 1 FROM zone_reports z WHERE z.report_id = ANY(seeds))
     OR EXISTS (SELECT 1 FROM zone_decision_reports z WHERE z.report_id = ANY(seeds)) THEN
    PERFORM zones_regroup(seeds);
    RETURN;
  END IF;
{distance}
  PERFORM zones_work_tables();
  INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
  {load_0}
  WHERE {part_r} AND r.id = ANY(seeds);
  GET DIAGNOSTICS work_rows = ROW_COUNT;
  IF work_rows > 200 THEN
    ANALYZE zone_work;
  END IF;
  -- the new points and lines among themselves: their components (zone_edges); then the
  -- reports adjacent to the new ones, from each new zone (area) alone, and from the new
  -- points and lines by cell of their components (a few new reports: each alone, the pairs
  -- of each being needed below): the stored ones, and the new ones adjacent to a new area
  {stars_new}
  {reach_0}
  IF NOT EXISTS (SELECT 1 FROM zone_pairs) AND NOT EXISTS (SELECT 1 FROM zone_edges) THEN
    RETURN;  -- nothing adjacent: no zone to make or grow
  END IF;
  -- the stored reports they touch (the new ones are loaded already: 200,000 points of an
  -- import touch mostly each other)
  INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
  {load_1}
  -- (= ANY(ARRAY(…)): the index whatever the statistics; a join with the work tables, never
  -- analysed for a few rows, was planned as a scan of every report: 3 ms of a 4 ms insert)
  WHERE {part_r} AND r.id = ANY(ARRAY(
    SELECT p.b FROM zone_pairs p WHERE NOT EXISTS (SELECT 1 FROM zone_work w0 WHERE w0.id = p.b)))
  ON CONFLICT (id) DO NOTHING;
  -- a confirmed report in no zone (its cohort's last member taking part): regrouped in full
  IF EXISTS (SELECT 1 FROM zone_work w WHERE w.gen = 1 AND w.confirmed AND NOT EXISTS (
       SELECT 1 FROM zone_reports z WHERE z.report_id = w.id)) THEN
    PERFORM zones_regroup(seeds);
    RETURN;
  END IF;

  -- units: each free report (label: its seq) or the zone it is in (label: -zone id), a
  -- confirmed zone too (its cohort's reports and the free reports that joined it); reports
  -- split apart take no part (they group only with their own cohort)
  -- (= ANY(ARRAY(…)) wherever a work table meets zones or zone_reports: the work tables' row
  -- estimates are those of an earlier pass or a guess, and a hash join read the whole table,
  -- every zone for one report added: 1–2 ms a statement at 2,000 zones, growing with them)
  INSERT INTO zone_nodes (id, seq, cohort, confirmed, label)
  SELECT w.id, w.seq, w.cohort, w.confirmed, coalesce(-z.zone_id, w.seq)
  FROM zone_work w LEFT JOIN zone_reports z ON z.report_id = w.id
    AND z.report_id = ANY(ARRAY(SELECT x.id FROM zone_work x WHERE x.cohort = 0 OR x.confirmed))
  WHERE w.cohort = 0 OR w.confirmed;
  INSERT INTO zone_units (unit, k)
  SELECT s.unit, row_number() OVER (ORDER BY s.unit) FROM (SELECT DISTINCT v.label AS unit FROM zone_nodes v) s;
  SELECT count(*) INTO n FROM zone_units;
  IF n > 200 THEN
    ANALYZE zone_nodes;
    ANALYZE zone_units;
  END IF;
{union_find_units}
  UPDATE zone_units u SET label = parent[u.k];
  -- a group holding a confirmed zone joins it (the joining rule: the new reports and the free
  -- reports and proposed zones they connect touch no other confirmed zone, so the oldest
  -- confirmation they touch is that one) and is confirmed (a negative label); two confirmed
  -- zones never merge: a group holding two is regrouped in full, which gives each its part
  IF EXISTS (SELECT 1 FROM zone_units u JOIN zones z ON z.id = -u.unit
             WHERE u.unit < 0 AND z.state = 'confirmed'
               AND z.id = ANY(ARRAY(SELECT -x.unit FROM zone_units x WHERE x.unit < 0))
             GROUP BY u.label HAVING count(*) > 1) THEN
    PERFORM zones_regroup(seeds);
    RETURN;
  END IF;
  UPDATE zone_units u SET label = -u.label WHERE u.label IN (
    SELECT x.label FROM zone_units x JOIN zones z ON z.id = -x.unit
    WHERE x.unit < 0 AND z.state = 'confirmed'
      AND z.id = ANY(ARRAY(SELECT -y.unit FROM zone_units y WHERE y.unit < 0)));

  -- each group's parts: its new and free reports, and whole old zones
  INSERT INTO zone_parts (grp, report, seq, cohort, network, g, technologies, operators, commune_nis)
  SELECT u.label, v.id, v.seq, 0, w.network, w.g, w.technologies, w.operators, w.commune_nis
  FROM zone_nodes v JOIN zone_units u ON u.unit = v.label JOIN zone_work w ON w.id = v.id
  WHERE v.label > 0;
  -- (a zone's union is copied in below, where it is to be unioned: 55 ms for a 3 MB union)
  INSERT INTO zone_parts (grp, zone_id, seq, cohort, network, g, technologies, operators, commune_nis)
  SELECT u.label, z.id, 0, 0, z.network, NULL, z.technologies, z.operators, z.commune_nis
  FROM zone_units u JOIN zones z ON z.id = -u.unit
  WHERE u.unit < 0 AND z.id = ANY(ARRAY(SELECT -x.unit FROM zone_units x WHERE x.unit < 0));
  -- a few new reports (a report filed, not an import: a few, as zones_union adds them one by
  -- one): one that the stored reports of its group it touches (gen 1) cover already adds
  -- nothing to the union, and its geometry is left out (one filed again on a zone of 494,000
  -- reports kept the union as it was instead of a 0.3 s overlay and a 3 MB row written again)
  IF cardinality(seeds) <= 8 THEN
    -- (the stored reports by index, those meeting its bounding box only: a join with the pairs
    -- was planned as a scan of them per neighbour, 9 s after a large pass in the session)
    UPDATE zone_parts p SET g = NULL
    FROM (SELECT pa.report AS a, ARRAY(
            SELECT w.g FROM zone_work w
            WHERE w.id = ANY(ARRAY(SELECT pr.b FROM zone_pairs pr WHERE pr.gen = 0 AND pr.a = pa.report))
              AND w.gen = 1 AND w.g && pa.g AND (
                w.id = ANY(ARRAY(SELECT q.report FROM zone_parts q WHERE q.grp = pa.grp AND q.report IS NOT NULL))
                OR EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = w.id AND m.zone_id = ANY(ARRAY(
                             SELECT q.zone_id FROM zone_parts q WHERE q.grp = pa.grp AND q.zone_id IS NOT NULL))))) AS gs
          FROM zone_parts pa WHERE pa.report = ANY(seeds)) c
    WHERE p.report = c.a AND zones_covered(p.g, c.gs);
  END IF;
  -- the old unions of the groups whose union is made again: several zones, or a report that
  -- adds to it (a group of one zone and covered reports keeps its union: NULL below)
  UPDATE zone_parts q SET g = z.geometry
  FROM zones z, (SELECT o.grp FROM zone_parts o GROUP BY o.grp HAVING count(o.zone_id) > 1 OR bool_or(o.g IS NOT NULL)) k
  WHERE z.id = q.zone_id AND q.grp = k.grp
    AND z.id = ANY(ARRAY(SELECT x.zone_id FROM zone_parts x WHERE x.zone_id IS NOT NULL));
{make_zones_parts}
  -- a zone growing by reports alone keeps its home commune when none of them can change it:
  -- each is of lower dimension than its union (the part of highest dimension, which the rule
  -- measures, stays as it was), or of the same and touching no other commune (no other
  -- commune's part changes; the home's can only grow)
  UPDATE zone_new n SET commune_nis = z.commune_nis
  FROM zones z
  WHERE z.id = n.cand AND z.commune_nis IS NOT NULL
    AND z.id = ANY(ARRAY(SELECT x.cand FROM zone_new x WHERE x.cand IS NOT NULL))
    AND NOT EXISTS (SELECT 1 FROM zone_parts p WHERE p.grp = n.grp AND p.zone_id IS NOT NULL AND p.zone_id <> z.id)
    AND NOT EXISTS (SELECT 1 FROM zone_parts p WHERE p.grp = n.grp AND p.report IS NOT NULL AND p.g IS NOT NULL
                    AND (ST_Dimension(p.g) > ST_Dimension(z.geometry)
                         OR (ST_Dimension(p.g) = ST_Dimension(z.geometry) AND EXISTS (
                               SELECT 1 FROM communes c
                               WHERE c.nis_code <> z.commune_nis AND {touches_p}))));
  -- else, a zone growing by reports alone, none of higher dimension than its union: its home
  -- is its old home or a commune its joining reports of that dimension touch. Another
  -- commune's part is as it was, and lost to the home's (which cannot shrink as the union
  -- grows) before, a tie too (the home has the smaller NIS code then): the rule is measured
  -- on those communes only, without testing the union against every commune (a zone spread
  -- over the territory: 1.4 s at 1,000,000 reports). A part measured positive touches the
  -- commune; when none is, the rule decides below
  UPDATE zone_new n SET commune_nis = {home_among}
  FROM zones z
  WHERE n.commune_nis IS NULL AND z.id = n.cand AND z.commune_nis IS NOT NULL
    AND z.id = ANY(ARRAY(SELECT x.cand FROM zone_new x WHERE x.cand IS NOT NULL))
    AND NOT EXISTS (SELECT 1 FROM zone_parts p WHERE p.grp = n.grp AND p.zone_id IS NOT NULL AND p.zone_id <> z.id)
    AND NOT EXISTS (SELECT 1 FROM zone_parts p WHERE p.grp = n.grp AND p.report IS NOT NULL
                    AND ST_Dimension(p.g) > ST_Dimension(z.geometry));
{make_home}
  -- ids: a group keeps the oldest id of its old zones (cand), or gets a new one
  UPDATE zone_new SET zone_id = cand, reused = true WHERE cand IS NOT NULL;
  UPDATE zone_new SET zone_id = nextval(pg_get_serial_sequence('zones', 'id')) WHERE zone_id IS NULL;

  -- the (commune, network) pairs whose places change: of the old zones, of the reports
  -- joining, of the new zones
  old := ARRAY(SELECT p.zone_id FROM zone_parts p WHERE p.zone_id IS NOT NULL);
  SELECT array_agg(a.nis), array_agg(a.net) INTO t_nis, t_net FROM (
    SELECT z.commune_nis AS nis, z.network AS net FROM zones z WHERE z.id = ANY(old)
    UNION SELECT p.commune_nis, p.network FROM zone_parts p WHERE p.report IS NOT NULL
      AND p.grp IN (SELECT grp FROM zone_new)
    UNION SELECT n.commune_nis, n.network FROM zone_new n) a
  WHERE a.nis IS NOT NULL;
  -- the confirmed zones this pass changes or removes (a confirmed zone joined by reports, or
  -- merged into an older proposed zone's id), numbered for incremental exports before they
  -- are written (zones_log_changes), as zones_regroup numbers them
  PERFORM zones_log_changes(ARRAY(
    SELECT n.zone_id FROM zone_new n WHERE n.state = 'confirmed'
    UNION SELECT z.id FROM zones z WHERE z.id = ANY(old) AND z.state = 'confirmed'));
  -- the members of the zones merged into another move to it; then the zones merged go
  UPDATE zone_reports z SET zone_id = n.zone_id
  FROM zone_parts p JOIN zone_new n ON n.grp = p.grp
  WHERE z.zone_id = p.zone_id AND p.zone_id <> n.zone_id
    AND z.zone_id = ANY(ARRAY(SELECT x.zone_id FROM zone_parts x WHERE x.zone_id IS NOT NULL));
  DELETE FROM zones z USING zone_parts p JOIN zone_new n ON n.grp = p.grp
  WHERE z.id = p.zone_id AND p.zone_id <> n.zone_id
    AND z.id = ANY(ARRAY(SELECT x.zone_id FROM zone_parts x WHERE x.zone_id IS NOT NULL));
  INSERT INTO zones (id, network, state, geometry, technologies, operators, report_count, commune_nis)
  SELECT n.zone_id, n.network, n.state, n.geometry, n.technologies, n.operators, cardinality(n.report_ids),
         n.commune_nis
  FROM zone_new n WHERE NOT n.reused ORDER BY n.first_seq;
  INSERT INTO zone_reports (zone_id, report_id, commune_nis, network)
  SELECT n.zone_id, p.report, p.commune_nis, p.network
  FROM zone_new n JOIN zone_parts p ON p.grp = n.grp WHERE p.report IS NOT NULL;
  -- (a zone grown by reports alone: its count plus theirs; counting the members of a zone of
  -- 495,000 reports took 50 ms. The union is written apart, when it changed: assigning a 3 MB
  -- union its own value wrote it again, 86 ms)
  UPDATE zones z SET geometry = n.geometry
  FROM zone_new n WHERE z.id = n.zone_id AND n.reused AND n.geometry IS NOT NULL
    AND z.id = ANY(ARRAY(SELECT x.zone_id FROM zone_new x WHERE x.reused));
  UPDATE zones z SET state = n.state, technologies = n.technologies,
         operators = n.operators, commune_nis = n.commune_nis, updated_at = now(),
         report_count = CASE WHEN k.zones = 1 THEN z.report_count + coalesce(cardinality(n.report_ids), 0)
                             ELSE (SELECT count(*) FROM zone_reports r WHERE r.zone_id = z.id) END
  FROM zone_new n JOIN (SELECT q.grp, count(q.zone_id) AS zones FROM zone_parts q GROUP BY q.grp) k ON k.grp = n.grp
  WHERE z.id = n.zone_id AND n.reused
    AND z.id = ANY(ARRAY(SELECT x.zone_id FROM zone_new x WHERE x.reused));
{pass_end}
END $fn$;

CREATE FUNCTION zones_shrink(seeds uuid[], moved geometry DEFAULT NULL) RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  z bigint;
  seed uuid;
  near uuid[];
  reached bigint := 1;
  step integer := 0;
  seed_dim integer;
  zone_g geometry;
  zone_state varchar;
  cohort bigint;
  a geometry;
  l geometry;
  p geometry;
  bx geometry;
  loc geometry;
  seed_g geometry;
  seed_t varchar[];
  seed_o varchar[];
  old_dim integer;
  zone_net varchar;
  gone uuid[];
  rest uuid[];
  cluster uuid[];
  grown uuid[];
  home_kept boolean := true;
  pending uuid[];
  open_reps uuid[];
  targets uuid[];
  found uuid[];
  split_off uuid[] := '{{}}';
  clusters integer := 0;
  closed boolean;
  bound bigint;
  mover uuid;
{pass_declare}
BEGIN
  -- the caller holds the locks of the networks concerned (zones_lock), and the reports
  -- (seeds: up to 8, of one zone) only left the zones: they take part no more, with the
  -- geometry and network they had. Reports leaving a proposed zone of free reports (no
  -- decision) that keeps two members or more: the zone keeps its other members if they stay
  -- connected without them, which holds once their neighbours in the zone reach each other
  -- without them (any member's path to another went through the reports only between two of
  -- their neighbours). A search from one neighbour, through members, stops as soon as it has
  -- reached them all; then only the zone's union (inside a box around each report:
  -- zones_patch), technologies, operators and home commune are made again. Reports leaving
  -- a confirmed zone that keeps two members or more: the referent's cohort stays whole
  -- whatever its shapes, and the free reports that joined it stay if each of the reports'
  -- free neighbours in the zone touches a member of the cohort that takes part (every free
  -- group that touched the cohort through them holds one of them, and still touches it; the
  -- oldest confirmation a group touches can only stay the same when it loses reports); no
  -- search. Anything else returns false (nothing written): reports of several zones or more
  -- than 8, a decision in a proposed zone (a split), a free neighbour touching the cohort
  -- only through the reports, a search that ends without reaching them all (the zone may fall
  -- apart) or grows past 5,000 members; the caller then regroups in full (zones_regroup),
  -- which gives the same zones. ``moved`` (one report): the geometry the report had (it
  -- moved, and still takes part: it leaves from there, and the caller adds it back where it
  -- is now, zones_grow); NULL: the reports' geometries are the ones they left with.
  old := ARRAY(SELECT DISTINCT m.zone_id FROM zone_reports m WHERE m.report_id = ANY(seeds));
  IF cardinality(old) <> 1 THEN
    RETURN false;
  END IF;
  z := old[1];
  gone := ARRAY(SELECT m.report_id FROM zone_reports m WHERE m.zone_id = z AND m.report_id = ANY(seeds)
                ORDER BY m.report_id);
  IF cardinality(gone) NOT BETWEEN 1 AND 8 OR (moved IS NOT NULL AND cardinality(gone) <> 1) THEN
    RETURN false;
  END IF;
  seed := gone[1];
  mover := CASE WHEN moved IS NOT NULL THEN seed END;
  PERFORM set_config('geosignal.zones_split_off', '0', true);
  SELECT s.state, s.network INTO zone_state, zone_net FROM zones s
  WHERE s.id = z AND s.report_count >= cardinality(gone) + 2;
  IF zone_state IS NULL OR (zone_state = 'proposed' AND EXISTS (
       SELECT 1 FROM zone_reports m JOIN zone_decision_reports k ON k.report_id = m.report_id WHERE m.zone_id = z)) THEN
    RETURN false;
  END IF;
  IF zone_state = 'confirmed' THEN
    -- the referent's cohort: the confirmed decision of the zone's members (one per zone)
    SELECT k.id INTO cohort FROM zone_reports m JOIN zone_decision_reports dr ON dr.report_id = m.report_id
      JOIN zone_decisions k ON k.id = dr.decision_id AND k.kind = 'confirmed'
    WHERE m.zone_id = z AND k.network = (SELECT s.network FROM zones s WHERE s.id = z)
    LIMIT 1;
    IF cohort IS NULL THEN
      RETURN false;
    END IF;
  END IF;
  SELECT coalesce(moved, r.geometry) INTO seed_g FROM reports r WHERE r.id = seed;
  seed_dim := ST_Dimension(seed_g);
{distance}
  PERFORM zones_work_tables();
  -- the reports that left (gen -1), where they were, and their neighbours among the zone's other members
  INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
  {load_seed}
  WHERE r.id = ANY(gone);
  IF moved IS NOT NULL THEN
    UPDATE zone_work w SET g = moved, l = ST_Transform(moved, {srid}) WHERE w.id = seed;
  END IF;
  {pairs_seed}
  IF zone_state = 'confirmed' THEN
    -- their free neighbours in the zone (members outside the cohort), each touching a member
    -- of the cohort that takes part
    near := ARRAY(SELECT DISTINCT p.b FROM zone_pairs p JOIN zone_reports m ON m.report_id = p.b
                  WHERE p.gen = -1 AND m.zone_id = z AND p.b <> ALL(gone)
                    AND NOT EXISTS (SELECT 1 FROM zone_decision_reports dr
                                    WHERE dr.report_id = p.b AND dr.decision_id = cohort));
    IF cardinality(near) > 0 THEN
      INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
      {load_0}
      WHERE r.id = ANY(near);
      {pairs_step}
      IF EXISTS (SELECT 1 FROM unnest(near) AS f(id) WHERE NOT EXISTS (
           SELECT 1 FROM zone_pairs p JOIN zone_decision_reports dr ON dr.report_id = p.b AND dr.decision_id = cohort
           JOIN reports r ON r.id = p.b
           WHERE p.gen = 0 AND p.a = f.id AND p.b <> ALL(gone) AND {part_r})) THEN
        RETURN false;
      END IF;
    END IF;
    work_rows := cardinality(gone) + cardinality(near);
    -- the zone loses members: numbered for incremental exports before it is written, as
    -- zones_regroup numbers it
    PERFORM zones_log_changes(ARRAY[z]);
  ELSIF cardinality(gone) = 1 AND EXISTS (SELECT 1 FROM reports r
          WHERE r.geometry && seed_g AND r.id <> seed AND r.network = zone_net
            AND (ST_Dimension(r.geometry) < 2 OR seed_dim = 2)
            AND EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = r.id AND m.zone_id = z)
            AND GeometryType(r.geometry) <> 'GEOMETRYCOLLECTION' AND ST_Covers(r.geometry, seed_g)) THEN
    -- another member covers the report alone (one filed again), and is no area covering a
    -- line or a point: it is adjacent to each of the report's neighbours (it shares their
    -- area with them, or lies as near), so the zone stays connected without a search (an
    -- area covering a point is not adjacent to an area 50 m away that the point was)
    work_rows := 1;
  ELSE
    -- the reports leaving, in clusters (adjacent ones together): a path between two members
    -- that stay went through the reports leaving only in runs through one cluster, between
    -- two of that cluster's neighbours; so the zone stays whole once each cluster's neighbours
    -- reach each other without the reports leaving. One search per cluster, from one of its
    -- neighbours, local (one search joining the neighbours of reports far apart walked the
    -- zone: past 5,000 members, a full regrouping of a zone of 494,000 reports)
    work_rows := cardinality(gone);
    rest := gone;
    WHILE cardinality(rest) > 0 LOOP
      cluster := ARRAY[rest[1]];
      LOOP
        grown := ARRAY(SELECT DISTINCT x FROM (
          SELECT unnest(cluster) AS x
          UNION SELECT p.b FROM zone_pairs p WHERE p.gen = -1 AND p.a = ANY(cluster) AND p.b = ANY(gone)) c);
        EXIT WHEN cardinality(grown) = cardinality(cluster);
        cluster := grown;
      END LOOP;
      rest := ARRAY(SELECT unnest(rest) EXCEPT SELECT unnest(cluster));
      near := ARRAY(SELECT DISTINCT p.b FROM zone_pairs p JOIN zone_reports m ON m.report_id = p.b
                    WHERE p.gen = -1 AND p.a = ANY(cluster) AND m.zone_id = z AND p.b <> ALL(gone));
      IF cardinality(near) = 0 THEN
        RETURN false;
      END IF;
      clusters := clusters + 1;
      -- searches (gen 0, 1, …: their steps, each afresh): from the first neighbour not yet
      -- placed (pending) until it has reached them all and one member of each part found
      -- before (all one part), every member it can reach (a closed part, which the zone
      -- loses: split off) or {split_max} members (a part not proven closed, the same as any
      -- such part it reached); then, when two or more parts are not proven closed, from the
      -- first until it reaches the others (else the zone falls apart in large parts)
      pending := near;
      open_reps := '{{}}';
      WHILE cardinality(pending) > 0 OR cardinality(open_reps) > 1 LOOP
        IF cardinality(pending) > 0 THEN
          targets := pending || open_reps;
          bound := {split_max};
        ELSE
          targets := open_reps;
          bound := 5000;
        END IF;
        DELETE FROM zone_work w WHERE w.gen >= 0;
        DELETE FROM zone_pairs p WHERE p.gen >= 0;
        step := 0;
        reached := 1;
        closed := false;
        INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
        {load_0}
        WHERE r.id = targets[1];
        LOOP
          EXIT WHEN (SELECT count(*) FROM zone_work w WHERE w.id = ANY(targets)) = cardinality(targets);
          {pairs_step}
          INSERT INTO zone_work (id, seq, network, g, l, technologies, operators, commune_nis, cohort, confirmed, gen)
          {load_next}
          WHERE r.id = ANY(ARRAY(SELECT p.b FROM zone_pairs p WHERE p.gen = step)) AND r.id <> ALL(gone)
            AND EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = r.id AND m.zone_id = z)
            AND NOT EXISTS (SELECT 1 FROM zone_work w0 WHERE w0.id = r.id)
          ON CONFLICT (id) DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          reached := reached + n;
          IF n = 0 THEN
            closed := true;
            EXIT;
          END IF;
          EXIT WHEN reached > bound;
          step := step + 1;
        END LOOP;
        work_rows := work_rows + reached;
        found := ARRAY(SELECT w.id FROM zone_work w WHERE w.gen >= 0 AND w.id = ANY(targets));
        IF cardinality(pending) = 0 THEN
          IF cardinality(found) < cardinality(open_reps) THEN
            RETURN false;
          END IF;
          open_reps := open_reps[1:1];
        ELSIF closed THEN  -- (it reached not all its targets: else it had stopped before)
          split_off := split_off || ARRAY(SELECT w.id FROM zone_work w WHERE w.gen >= 0);
          pending := ARRAY(SELECT unnest(pending) EXCEPT SELECT unnest(found));
        ELSE
          open_reps := ARRAY(SELECT unnest(open_reps) EXCEPT SELECT unnest(found)) || targets[1];
          pending := ARRAY(SELECT unnest(pending) EXCEPT SELECT unnest(found));
        END IF;
      END LOOP;
      IF cardinality(open_reps) = 0 THEN
        RETURN false;
      END IF;
    END LOOP;
    IF cardinality(split_off) > 0 THEN
      -- a part the zone loses: when the reports leaving are one cluster (with several, the
      -- parts left of each could join only through a part split off), the zone keeping its
      -- oldest member and two members at least, as a regrouping keeps the zone's id with the
      -- part holding its oldest report; the part is grouped again on its own (zones_grow,
      -- below). A split regrouped the whole zone: minutes for a zone of 494,000 reports
      IF clusters > 1 OR (SELECT r.id FROM zone_reports m JOIN reports r ON r.id = m.report_id
                          WHERE m.zone_id = z AND r.id <> ALL(gone) AND {part_r} ORDER BY r.seq LIMIT 1)
                         = ANY(split_off)
         OR (SELECT count(*) FROM zone_reports m JOIN reports r ON r.id = m.report_id
             WHERE m.zone_id = z AND r.id <> ALL(gone) AND r.id <> ALL(split_off) AND {part_r}) < 2 THEN
        RETURN false;
      END IF;
      gone := gone || split_off;
    END IF;
  END IF;

  -- the zone without the reports: outside a box around each (its bounding box, 1 m wider) the
  -- union is as it was; inside, its parts of the report's dimension and below are made again
  -- from the members the box meets, clipped to it, as zones_union makes them (a line inside
  -- loses what the areas there cover, a point what the areas and lines cover). Parts of
  -- higher dimension stay as they are (a point leaving a zone of areas leaves the areas).
  -- Made again from all its members, a zone of 494,000 reports took 8.8 s; a box costs the
  -- members it meets and two overlays of the union with a rectangle (0.3 s each for that
  -- zone), none when the other members cover the report (the union is as it was there).
  -- Boxes one after the other: each is made from the members that stay, so a box that meets
  -- another report leaving is right inside, and the other's box makes the rest of its place
  SELECT array_agg(a.nis), array_agg(a.net) INTO t_nis, t_net FROM (
    SELECT s.commune_nis AS nis, s.network AS net FROM zones s WHERE s.id = z
    UNION SELECT m.commune_nis, m.network FROM zone_reports m WHERE m.report_id = ANY(gone)) a
  WHERE a.nis IS NOT NULL;
  DELETE FROM zone_reports WHERE report_id = ANY(gone);
  SELECT s.geometry, ST_Dimension(s.geometry) INTO zone_g, old_dim FROM zones s WHERE s.id = z;
  a := ST_CollectionExtract(zone_g, 3);
  l := ST_CollectionExtract(zone_g, 2);
  p := ST_CollectionExtract(zone_g, 1);
  zone_g := NULL;  -- (NULL while the union stays as it was)
  FOR seed, seed_g IN
    SELECT r.id, CASE WHEN r.id = mover THEN moved ELSE r.geometry END FROM reports r
    WHERE r.id = ANY(gone) ORDER BY r.id
  LOOP
    seed_dim := ST_Dimension(seed_g);
    bx := ST_Expand(seed_g, {deg_per_m}, {deg_lat_per_m});
    -- (the reports' spatial index finds the box's reports; the zone's are kept)
    loc := zones_union(ARRAY(
      SELECT k.c FROM reports r,
        ST_CollectionExtract(ST_Intersection(r.geometry, bx), ST_Dimension(r.geometry) + 1) AS k(c)
      WHERE r.geometry && bx AND r.network = zone_net AND r.id <> ALL(gone)
        AND EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = r.id AND m.zone_id = z)
        AND NOT ST_IsEmpty(k.c)));
    CONTINUE WHEN zones_covered(seed_g, ARRAY[loc]);  -- covered: the union stays as it was there
    IF seed_dim = 2 THEN
      a := zones_patch(a, bx, ST_CollectionExtract(loc, 3));
    END IF;
    IF seed_dim >= 1 THEN
      l := zones_patch(l, bx, ST_CollectionExtract(loc, 2));
    END IF;
    p := zones_patch(p, bx, ST_CollectionExtract(loc, 1));
    zone_g := zones_collect(a, l, p);
    -- the home commune stays when the union keeps its dimension and each report that changed it
    -- was of lower dimension (the part the rule measures is as it was) or did not touch the
    -- home (the home's part is as it was, and no other commune's can grow; migration 0035:
    -- measuring every commune took 1.6 s of a zone spread over the territory)
    home_kept := home_kept AND (seed_dim < old_dim OR NOT EXISTS (
      SELECT 1 FROM zones n, communes c WHERE n.id = z AND c.nis_code = n.commune_nis AND {touches_seed}));
  END LOOP;
  -- technologies and operators: the reports' values no other member carries go (looked for
  -- among the zone's first 1,000 members, then all: a hash of every member took 120 ms for
  -- that zone)
  seed_t := ARRAY(SELECT DISTINCT x FROM reports r, unnest(r.technologies) x WHERE r.id = ANY(gone));
  seed_o := ARRAY(SELECT DISTINCT x FROM reports r, unnest(r.operators) x WHERE r.id = ANY(gone));
  IF zone_g IS NOT NULL THEN
    UPDATE zones s SET geometry = zone_g WHERE s.id = z;  -- (apart: see zones_grow)
  END IF;
  UPDATE zones s SET technologies = zones_values_left(z, s.technologies, seed_t, true),
         operators = zones_values_left(z, s.operators, seed_o, false),
         report_count = s.report_count - cardinality(gone), updated_at = now()
  WHERE s.id = z;
  -- else the rule, on the new union; a union outside every commune: its oldest member's commune
  UPDATE zones n SET commune_nis = coalesce(
    (SELECT c.nis_code {home}),
    (SELECT r.commune_nis FROM zone_reports m JOIN reports r ON r.id = m.report_id
     WHERE m.zone_id = z ORDER BY r.seq LIMIT 1))
  WHERE n.id = z AND zone_g IS NOT NULL AND NOT (
    n.commune_nis IS NOT NULL AND ST_Dimension(n.geometry) = old_dim AND home_kept);
  SELECT array_agg(a.nis), array_agg(a.net) INTO t_nis, t_net FROM (
    SELECT u.nis, u.net FROM unnest(t_nis, t_net) AS u(nis, net)
    UNION SELECT s.commune_nis, s.network FROM zones s WHERE s.id = z) a
  WHERE a.nis IS NOT NULL;
{pass_end}
  IF cardinality(split_off) > 0 THEN
    PERFORM set_config('geosignal.zones_split_off', cardinality(split_off)::text, true);
    PERFORM zones_grow(split_off);
  END IF;
  RETURN true;
END $fn$;

CREATE FUNCTION reports_group_zones() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  ids uuid[];
  nets varchar[];
  leaving boolean := false;
  moving boolean := false;
  was geometry;
  zid bigint;
  part uuid[];
  one uuid;
  done uuid[] := '{{}}';
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id), array_agg(DISTINCT n.network) INTO ids, nets FROM new_rows n WHERE {part_n};
  ELSIF TG_OP = 'UPDATE' THEN
    -- leaving: every report changed only left the zones (took part, takes part no more, same
    -- geometry, network, technologies and operators); moving: every report changed only moved
    -- (takes part before and after, same network, technologies and operators; its commune may
    -- change)
    SELECT array_agg(DISTINCT n.id), array_agg(DISTINCT v.net),
           bool_and(({part_o}) AND NOT ({part_n}) AND o.geometry::bytea = n.geometry::bytea
                    AND o.network IS NOT DISTINCT FROM n.network
                    AND (o.technologies, o.operators) IS NOT DISTINCT FROM (n.technologies, n.operators)),
           bool_and(({part_o}) AND ({part_n}) AND o.geometry::bytea IS DISTINCT FROM n.geometry::bytea
                    AND o.network IS NOT DISTINCT FROM n.network
                    AND (o.technologies, o.operators) IS NOT DISTINCT FROM (n.technologies, n.operators)),
           (array_agg(o.geometry))[1]
    INTO ids, nets, leaving, moving, was
    FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES (o.network), (n.network)) v(net)
    WHERE ({part_o} OR {part_n})
      AND (({part_o}) <> ({part_n}) OR o.geometry::bytea IS DISTINCT FROM n.geometry::bytea
           OR (o.network, o.technologies, o.operators, o.commune_nis)
              IS DISTINCT FROM (n.network, n.technologies, n.operators, n.commune_nis));
  ELSE
    SELECT array_agg(o.id), array_agg(DISTINCT o.network) INTO ids, nets FROM old_rows o
    WHERE {part_o} OR EXISTS (SELECT 1 FROM zone_decision_reports d WHERE d.report_id = o.id);
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM zones_lock(nets);
  IF TG_OP = 'UPDATE' THEN
    -- a report moved to another network leaves its cohort: a decision is one network's
    DELETE FROM zone_decision_reports d USING new_rows n, zone_decisions k
    WHERE d.report_id = n.id AND n.id = ANY(ids) AND k.id = d.decision_id AND k.network IS DISTINCT FROM n.network;
  END IF;
  IF TG_OP = 'INSERT' AND current_setting('geosignal.zones_deferred', true) = 'on' THEN
    -- a bulk load in several statements regroups once, at zones_flush()
    INSERT INTO zone_deferred (id) SELECT unnest(ids);
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM zones_grow(ids);
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM zone_decision_reports WHERE report_id = ANY(ids);
  END IF;
  IF leaving THEN
    -- each zone the reports leave shrinks (zones_shrink, zone by zone in id order, 8 of its
    -- reports at a time in id order, else one by one); a zone that cannot hands its reports
    -- and the rest to a full regrouping, which starts from what is stored (the zones shrunk
    -- already are as it makes them). A report in no zone leaves none. Taken 8 at a time, each
    -- shrink makes the zone what it is without its reports while the later ones are still
    -- members: it is right without them all once the last has shrunk it (a full regrouping of
    -- a zone of 494,000 reports, for the 9th report of a bulk rejection, took minutes)
    FOR zid IN SELECT DISTINCT m.zone_id FROM zone_reports m WHERE m.report_id = ANY(ids) ORDER BY 1 LOOP
      LOOP
        -- (read again each time: a part a shrink split off is in the zone no more)
        part := ARRAY(SELECT m.report_id FROM zone_reports m WHERE m.zone_id = zid AND m.report_id = ANY(ids)
                      ORDER BY m.report_id LIMIT 8);
        EXIT WHEN cardinality(part) = 0;
        IF zones_shrink(part) THEN
          done := done || part;
          CONTINUE;
        END IF;
        -- several clusters, one of which splits the zone: one report at a time (one cluster,
        -- whose part split off the zone is grouped apart); a zone that still cannot shrink is
        -- regrouped in full
        FOREACH one IN ARRAY part LOOP
          CONTINUE WHEN NOT EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = one AND m.zone_id = zid);
          IF cardinality(part) = 1 OR NOT zones_shrink(ARRAY[one]) THEN
            PERFORM zones_regroup(ARRAY(SELECT unnest(ids) EXCEPT SELECT unnest(done)));
            RETURN NULL;
          END IF;
          done := done || one;
        END LOOP;
      END LOOP;
    END LOOP;
    RETURN NULL;
  END IF;
  IF moving AND cardinality(ids) = 1
     AND NOT EXISTS (SELECT 1 FROM zone_decision_reports d WHERE d.report_id = ids[1]) THEN
    -- one free report moved: it leaves its zone from where it was (zones_shrink, when the zone
    -- stays whole), then joins what it touches where it is (zones_grow), as a report withdrawn
    -- then filed again; in no zone, it touched nothing (a free report touching a zone is in it)
    -- and only joins. Regrouped in full, a report moved in a zone of 16,000 reports took 1.6 s
    IF NOT EXISTS (SELECT 1 FROM zone_reports m WHERE m.report_id = ids[1]) OR zones_shrink(ids, was) THEN
      PERFORM zones_grow(ids);
      RETURN NULL;
    END IF;
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
    PERFORM zones_grow(ids);  -- (reports inserted)
  END IF;
END $fn$;

CREATE FUNCTION reports_forget_zones() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM zones_log_changes(ARRAY(SELECT id FROM zones WHERE state = 'confirmed'));
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
"""


#: The members a search from a neighbour of reports leaving a zone loads before it counts
#: as reaching a part not proven closed (``zones_shrink``): a part it reaches whole within
#: them is split off the zone.
SPLIT_MAX = 200


def _cells(where: str, *, by_component: bool, each_alone: str | None = None) -> str:
    """Return :data:`_CELLS` for the rows ``where``: ``by_component``, the cells of each
    component apart (its oldest member's star in ``zone_edges``, :data:`_STARS`, which then
    holds only those), so that a group's ``a`` stands for its component; ``each_alone``: an SQL
    condition under which each report is a group of its own."""
    if not by_component:
        return _CELLS.replace("{group_a}", "(array_agg(s.id))[1]").replace("{member_a}", "w.id").replace(
            "{member_join}", "").replace("{where}", where).replace("{group_by}", "s.network, s.cx, s.cy")
    member = "coalesce(e.a, w.id)" if each_alone is None else f"CASE WHEN {each_alone} THEN w.id ELSE coalesce(e.a, w.id) END"
    return _CELLS.replace("{group_a}", "s.a").replace("{member_a}", member).replace(
        "{member_join}", " LEFT JOIN zone_edges e ON e.b = w.id").replace("{where}", where).replace(
        "{group_by}", "s.a, s.network, s.cx, s.cy")


def _reach(gen: str, *, by_component: bool) -> str:
    """Return :data:`_REACH` from the reports of step ``gen``: ``by_component`` (zones_grow)
    keeps the cells of the new reports' components apart (a pair's ``a`` stands for the
    component it touches; a few new reports each alone, their pairs being needed one by one)
    and the pairs a new area finds among the new reports; otherwise (zones_regroup's closure)
    only the reports outside the set are wanted, the cells of any component together."""
    cells = _cells(f"w.gen = {gen}", by_component=by_component, each_alone="cardinality(seeds) <= 8")
    groups = _GROUPS.replace("{cells}", cells).replace("{gen}", gen)
    keep = " OR k.area" if by_component else ""
    return _REACH.replace("{groups}", groups).replace("{keep_known}", keep).replace("{gen}", gen)


def zones_sql() -> str:
    """Return the SQL that installs the zone functions and the ``reports`` triggers (the text
    the newest migration holding it keeps frozen: 0043)."""
    # imported here: the export package is heavier than the models that import this module
    from geosignal.services.export.constants import CHANGE_LOCK_KEY

    load = _LOAD.replace("{srid}", str(LAMBERT72))
    template = _TEMPLATE.replace("{pass_declare}", _PASS_DECLARE).replace("{distance}", _DISTANCE).replace(
        "{pass_end}", _PASS_END).replace(
        "{make_zones}", _MAKE_ZONES + _MAKE_HOME).replace("{make_zones_parts}", _MAKE_ZONES).replace(
        "{make_home}", _MAKE_HOME).replace(
        "{union_find_nodes}", _UNION_FIND.replace("{edges}", "SELECT x.k, y.k FROM zone_edges e JOIN zone_nodes x "
                                                  "ON x.id = e.a JOIN zone_nodes y ON y.id = e.b WHERE e.same")
    ).replace(
        "{union_find_units}", _UNION_FIND.replace("{edges}", "SELECT ua.k, ub.k FROM (SELECT p.a, p.b FROM zone_pairs p "
                                                  "UNION ALL SELECT e.a, e.b FROM zone_edges e) p "
                                                  "JOIN zone_nodes x ON x.id = p.a JOIN zone_nodes y ON y.id = p.b "
                                                  "JOIN zone_units ua ON ua.unit = x.label "
                                                  "JOIN zone_units ub ON ub.unit = y.label WHERE ua.k <> ub.k")
    ).replace("{pairs_step}", _PAIRS.replace("{gen}", "step")).replace("{pairs_seed}", _PAIRS.replace("{gen}", "-1")
    ).replace("{reach_step}", _reach("step", by_component=False)).replace("{reach_0}", _reach("0", by_component=True)
    ).replace("{stars_all}", _STARS.replace("{which}", "")).replace("{stars_new}", _STARS.replace("{which}", "w.gen = 0 AND ")
    ).replace("{cells_free}", _cells("w.cohort = 0", by_component=True))
    return template.format(
        lock_key=ZONE_LOCK_KEY, change_lock_key=CHANGE_LOCK_KEY, default_m=DEFAULT_DISTANCE_M, deg_per_m=repr(DEG_PER_M),
        deg_lat_per_m=repr(DEG_LAT_PER_M),
        load_0=load.replace("{gen}", "0"), load_next=load.replace("{gen}", "step + 1"),
        load_1=load.replace("{gen}", "1"), load_seed=load.replace("{gen}", "-1"),
        part_r=participates("r"), part_n=participates("n"), part_o=participates("o"),
        adjacent_r2=_adjacent("r2.geometry", f"ST_Transform(r2.geometry, {LAMBERT72})", "w.g", "w.l"),
        adjacent_q=_adjacent("q.g2", f"ST_Transform(q.g2, {LAMBERT72})", "q.g", "q.l", "q.area"),
        adjacent_e=_adjacent("q.g2", "q.l2", "q.g", "q.l"),
        technologies=_list(TECHNOLOGIES), operators=_list(OPERATORS), home=_home(), touches_p=_touches(),
        touches_seed=_touches("seed_g"), touches_n=_touches("n.geometry"), srid=LAMBERT72,
        home_among=_home_among(), split_max=SPLIT_MAX,
    ).strip() + "\n"


#: SQL that removes what :func:`zones_sql` installs.
DROP_SQL = """
DROP TRIGGER reports_group_zones_truncate ON reports;
DROP TRIGGER reports_group_zones_delete ON reports;
DROP TRIGGER reports_group_zones_update ON reports;
DROP TRIGGER reports_group_zones_insert ON reports;
DROP FUNCTION reports_forget_zones();
DROP FUNCTION zones_flush();
DROP FUNCTION zones_defer(varchar[]);
DROP FUNCTION reports_group_zones();
DROP FUNCTION zones_shrink(uuid[], geometry);
DROP FUNCTION zones_grow(uuid[]);
DROP FUNCTION zones_values_left(bigint, varchar[], varchar[], boolean);
DROP FUNCTION zones_patch(geometry, geometry, geometry);
DROP FUNCTION zones_covered(geometry, geometry[]);
DROP FUNCTION zones_union(geometry[]);
DROP FUNCTION zones_collect(geometry, geometry, geometry);
DROP FUNCTION zones_rehome(varchar[]);
DROP FUNCTION zones_recount(varchar[], varchar[]);
DROP FUNCTION zones_regroup(uuid[]);
DROP FUNCTION zones_work_tables();
DROP FUNCTION zones_log_changes(bigint[]);
DROP FUNCTION zones_lock(varchar[]);
"""

#: Networks, in lock order (every zone lock of "all networks" takes them in this order).
LOCK_ORDER: tuple[str, ...] = tuple(sorted(NETWORKS))
