"""Zones grow set-wise when reports are added (``zones_grow``), and unions of mixed dimensions
(``zones_union``) are the same sets as ``ST_Union``'s. Real PostGIS, real communes; shapes in
EPSG:31370 around Charleroi's centre. Whatever the order of additions, decisions and
withdrawals, the stored zones equal a full recomputation: members, state, union (area m²,
length m, points), technologies, operators, home commune."""

from __future__ import annotations

import math
import random
import uuid

import pytest
import shapely
from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.services import reports as reports_service
from geosignal.services import zones, zones_sql
from geosignal.services.communes import commune_of
from tests.conftest import owner_only
from tests.factories import CHARLEROI_LAMBERT72, border_point
from tests.test_zones import _admin

X, Y = CHARLEROI_LAMBERT72
TECHNOLOGIES = ["2G", "3G", "4G", "5G"]
OPERATORS = ["Proximus", "Orange", "Telenet/BASE"]


def insert(db, geoms_31370: list, network: str = "mobile", rng: random.Random | None = None,  # noqa: ANN001
           communes: list[str] | None = None, ids: list[str] | None = None) -> list[str]:
    """INSERT the reports (EPSG:31370 shapes, in Charleroi; ``communes``: their commune NIS
    codes, Charleroi's by default; ``ids``: theirs, drawn by PostgreSQL by default) in one
    statement (one zone pass); return their ids in order."""
    rng = rng or random.Random(0)
    ewkt = [f"SRID=4326;{shapely.orient_polygons(reproject(g, LAMBERT72, WGS84)).wkt}" for g in geoms_31370]
    techs = ["{" + ",".join(rng.sample(TECHNOLOGIES, rng.randint(1, 2))) + "}" for _ in geoms_31370]
    ops = ["{" + ",".join(f'"{o}"' for o in rng.sample(OPERATORS, rng.randint(0, 2))) + "}" for _ in geoms_31370]
    rows = db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, description)
        SELECT coalesce(CAST(x.i AS uuid), gen_random_uuid()), ST_GeomFromEWKT(x.g), x.c, :n,
               CAST(x.t AS varchar[]), CAST(x.o AS varchar[]), ''
        FROM unnest(CAST(:g AS text[]), CAST(:t AS text[]), CAST(:o AS text[]), CAST(:c AS varchar[]),
                    CAST(:i AS text[])) WITH ORDINALITY AS x(g, t, o, c, i, k)
        ORDER BY x.k
        RETURNING id::text, seq"""), {"g": ewkt, "t": techs, "o": ops, "n": network,
                                      "c": communes or ["52011"] * len(geoms_31370),
                                      "i": ids or [None] * len(geoms_31370)}).all()
    return [r[0] for r in sorted(rows, key=lambda r: r[1])]


def stored_zones(db) -> dict[frozenset[str], tuple]:  # noqa: ANN001
    """Each zone by its members: (network, state, area m², length m, points, technologies,
    operators, home commune, report_count), measured in EPSG:31370."""
    rows = db.execute(text("""
        SELECT array_agg(zr.report_id::text), z.network, z.state,
               ST_Area(ST_Transform(ST_CollectionExtract(z.geometry, 3), 31370)),
               ST_Length(ST_Transform(ST_CollectionExtract(z.geometry, 2), 31370)),
               (SELECT array_agg(t ORDER BY t) FROM ST_Dump(ST_CollectionExtract(z.geometry, 1)) d,
                  ST_AsText(ST_SnapToGrid(ST_Transform(d.geom, 31370), 0.001)) t),
               z.technologies, z.operators, z.commune_nis, z.report_count
        FROM zones z JOIN zone_reports zr ON zr.zone_id = z.id GROUP BY z.id""")).all()
    return {frozenset(r[0]): tuple(r[1:]) for r in rows}


def random_shape(rng: random.Random, x0: float, y0: float, width: float, height: float, *,  # noqa: ANN201
                 points: float, areas: float):
    """A point (share ``points``), a 40–90 m square (share ``areas``) or a line up to 150 m
    long, placed in the box (x0, y0, width, height), EPSG:31370 metres."""
    x, y = x0 + rng.uniform(0, width), y0 + rng.uniform(0, height)
    kind = rng.random()
    if kind < points:
        return Point(x, y)
    if kind < points + areas:
        s = rng.uniform(40, 90)
        return box(x, y, x + s, y + s)
    return LineString([(x, y), (x + rng.uniform(-150, 150), y + rng.uniform(-60, 60))])


def assert_equal_to_a_recomputation(db) -> None:  # noqa: ANN001
    before = stored_zones(db)
    figures = zones.zone_figures(db)
    assert figures == zones.zone_figures_live(db)
    zones.recompute_all(db)
    after = stored_zones(db)
    assert set(before) == set(after)
    for members, b in before.items():
        a = after[members]
        assert (b[0], b[1], b[4], b[5], b[6], b[7], b[8]) == (a[0], a[1], a[4], a[5], a[6], a[7], a[8]), members
        assert abs(b[2] - a[2]) <= 1e-6 * max(a[2], 1.0), (b[2], a[2])  # m²
        assert abs(b[3] - a[3]) <= 1e-6 * max(a[3], 1.0), (b[3], a[3])  # m
        assert b[8] == len(members)
    assert zones.zone_figures(db) == figures


def test_a_report_added_next_to_a_large_zone_reads_only_its_neighbours(db) -> None:  # noqa: ANN001
    chain = insert(db, [Point(X - 3000 + 30 * k, Y + 3000) for k in range(200)])  # 30 m steps: one zone
    (zone_id,) = db.execute(text("SELECT DISTINCT zone_id FROM zone_reports WHERE report_id = ANY(CAST(:i AS uuid[]))"),
                            {"i": chain}).scalars().all()
    (new,) = insert(db, [Point(X - 3000 + 30 * 199 + 80, Y + 3000)])  # 80 m from the last, 110 from the one before
    # the pass read the new report and its one neighbour, and the zone as one unit
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_work")).scalar_one() == 2
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_units")).scalar_one() == 2
    row = db.execute(text("SELECT zone_id, (SELECT report_count FROM zones WHERE id = zone_id) "
                          "FROM zone_reports WHERE report_id = CAST(:i AS uuid)"), {"i": new}).one()
    assert tuple(row) == (zone_id, 201)
    assert_equal_to_a_recomputation(db)


def test_a_report_bridging_zones_merges_them_into_the_oldest(db) -> None:  # noqa: ANN001
    left = insert(db, [box(X - 2000 + 50 * k, Y + 2500, X - 1940 + 50 * k, Y + 2560) for k in range(5)])
    right = insert(db, [Point(X - 1600 + 70 * k, Y + 2530) for k in range(4)])
    lines = insert(db, [LineString([(X - 1640, Y + 2700), (X - 1450, Y + 2700)]),
                        LineString([(X - 1500, Y + 2650), (X - 1500, Y + 2760)])])  # two crossing lines
    ids = db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all()
    zone = dict(ids)
    assert len({zone[i] for i in left}) == 1 and len({zone[i] for i in right}) == 1
    assert zone[left[0]] < zone[right[0]] < zone[lines[0]]
    # a square overlapping the last left square reaches (within 100 m) the first point and
    # the lines: the three zones become one, which keeps the oldest id
    bridge = insert(db, [box(X - 1770, Y + 2520, X - 1650, Y + 2620)])
    merged = dict(db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all())
    assert {merged[i] for i in left + right + lines + bridge} == {zone[left[0]]}
    assert db.execute(text("SELECT count(*) FROM zones")).scalar_one() == 1
    assert_equal_to_a_recomputation(db)


@owner_only
def test_a_report_joining_or_merging_zones_reads_no_other_zone(db) -> None:  # noqa: ANN001
    """The zones a report joins or merges are looked up by their ids, whatever the planner
    estimates of the pass's work tables: no scan of every zone or membership (migration 0021;
    before it, a hash join read all 2,000 zones for one report added, and more as they grew)."""
    # 2,000 zones of two points 50 m apart, pairs 250 m apart (no chain), in one statement,
    # filed in 20 communes: the pass recounts the places of the communes it touches from their
    # memberships (by index), so the two zones touched here are the only ones in Charleroi
    pairs = [(X - 5000 + 250 * (k % 40), Y - 5000 + 250 * (k // 40)) for k in range(2000)]
    codes = [nis for (nis,) in db.execute(text(
        "SELECT nis_code FROM communes WHERE nis_code <> '52011' ORDER BY 1 LIMIT 20"))]
    insert(db, [Point(x + dx, y) for x, y in pairs for dx in (0, 50)],
           communes=["52011" if k < 2 else codes[k % 20] for k in range(2000) for _ in (0, 50)])
    db.execute(text("ANALYZE zones"))
    db.execute(text("ANALYZE zone_reports"))
    assert db.execute(text("SELECT count(*) FROM zones")).scalar_one() == 2000

    def scans() -> dict[str, tuple[int, int]]:
        return {name: (seq, idx) for name, seq, idx in db.execute(text(
            "SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname IN ('zones', 'zone_reports')"))}

    before = scans()
    (x0, y0), (x1, y1) = pairs[0], pairs[1]
    # a point 65 m from the first zone's two points; a line from 10 m of the first zone to
    # 10 m of the second
    joining, merging = insert(db, [Point(x0 + 25, y0 + 60), LineString([(x0 + 60, y0), (x1 - 10, y1)])])
    after = scans()
    assert after["zones"][0] == before["zones"][0], "a zone pass read every zone"
    assert after["zone_reports"][0] == before["zone_reports"][0], "a zone pass read every membership"
    assert after["zones"][1] > before["zones"][1]  # it found them through the indexes
    zone_of = dict(db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all())
    assert zone_of[joining] == zone_of[merging]
    assert db.execute(text("SELECT count(*) FROM zones")).scalar_one() == 1999
    assert db.execute(text("SELECT report_count FROM zones WHERE id = :z"),
                      {"z": zone_of[joining]}).scalar_one() == 6


def test_growing_zones_equal_a_recomputation_through_decisions_and_withdrawals(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    rng = random.Random(20261202)

    def shape():  # noqa: ANN202
        return random_shape(rng, X - 1500, Y - 2600, 1500, 400, points=0.5, areas=0.3)

    for step in range(8):
        if step % 2:
            for _ in range(12):  # one report per statement: one pass each
                insert(db, [shape()], network=rng.choice(["mobile", "mobile", "fixed"]), rng=rng)
        else:
            insert(db, [shape() for _ in range(25)], network="mobile", rng=rng)  # a batch: one pass
        proposed = db.execute(text("SELECT id FROM zones WHERE state = 'proposed' ORDER BY id")).scalars().all()
        if step in (1, 4) and proposed:
            zones.confirm_zone(db, admin, rng.choice(proposed))
        if step in (2, 5):
            big = db.execute(text("SELECT id FROM zones WHERE report_count >= 3 ORDER BY id")).scalars().all()
            if big:
                zid = rng.choice(big)
                zone_members = sorted(zones.get_zone(db, admin, zid)["properties"]["report_ids"])
                zones.split_zone(db, admin, zid, [zone_members[0]])
        if step == 6:
            member = db.execute(text("SELECT report_id::text FROM zone_reports ORDER BY report_id LIMIT 1")).scalar()
            reports_service.set_status(db, admin, member, "withdrawn")
        assert_equal_to_a_recomputation(db)
    assert db.execute(text("SELECT count(*) FROM zones WHERE state = 'confirmed'")).scalar_one() >= 1
    assert db.execute(text("SELECT max(report_count) FROM zones")).scalar_one() >= 10


def test_zones_union_is_the_union_of_mixed_dimensions(db) -> None:  # noqa: ANN001
    rng = random.Random(7)
    mixed = 0
    for trial in range(12):
        shapes = []
        for _ in range(rng.randint(2, 14)):
            x, y = X + rng.uniform(0, 400), Y + rng.uniform(0, 400)
            kind = rng.randrange(3)
            if kind == 0:
                shapes.append(box(x, y, x + rng.uniform(30, 120), y + rng.uniform(30, 120)))
            elif kind == 1:
                shapes.append(LineString([(x, y), (x + rng.uniform(-200, 200), y + rng.uniform(-200, 200))]))
            else:
                shapes.append(Point(x, y))
        # points inside an area and on a line's vertex, a line crossing an area
        area = next((s for s in shapes if s.geom_type == "Polygon"), None)
        line = next((s for s in shapes if s.geom_type == "LineString"), None)
        if area is not None:
            shapes.append(area.centroid)
            shapes.append(LineString([area.centroid.coords[0], (area.centroid.x + 300, area.centroid.y)]))
        if line is not None:
            shapes.append(Point(line.coords[0]))
        ewkt = [f"SRID=4326;{reproject(s, LAMBERT72, WGS84).wkt}" for s in shapes]
        mine, theirs = db.execute(text("""
            WITH u AS (SELECT zones_union(g) AS mine, ST_Union(g) AS theirs
                       FROM (SELECT array_agg(ST_GeomFromEWKT(e)) AS g FROM unnest(CAST(:e AS text[])) e) s)
            SELECT json_build_array(ST_Area(ST_Transform(ST_CollectionExtract(mine, 3), 31370)),
                                    ST_Length(ST_Transform(ST_CollectionExtract(mine, 2), 31370)),
                                    (SELECT array_agg(t ORDER BY t) FROM ST_Dump(ST_CollectionExtract(mine, 1)) d,
                                       ST_AsText(ST_SnapToGrid(ST_Transform(d.geom, 31370), 0.001)) t)),
                   json_build_array(ST_Area(ST_Transform(ST_CollectionExtract(theirs, 3), 31370)),
                                    ST_Length(ST_Transform(ST_CollectionExtract(theirs, 2), 31370)),
                                    (SELECT array_agg(t ORDER BY t) FROM ST_Dump(ST_CollectionExtract(theirs, 1)) d,
                                       ST_AsText(ST_SnapToGrid(ST_Transform(d.geom, 31370), 0.001)) t))
            FROM u"""), {"e": ewkt}).one()
        assert abs(mine[0] - theirs[0]) <= 1e-6 * max(theirs[0], 1.0), trial  # m²
        assert abs(mine[1] - theirs[1]) <= 1e-6 * max(theirs[1], 1.0), trial  # m
        assert mine[2] == theirs[2], trial  # the points no area or line covers
        mixed += bool(mine[0] and mine[1] and mine[2])
    assert mixed >= 3  # trials whose union kept areas, lines and points
    # a zone's union and a report joining it (the growing case): 17,500 + 10,000 - 2,500 m²
    grown = db.execute(text("""
        WITH g AS (SELECT k, ST_Transform(ST_SetSRID(ST_GeomFromText(w), 31370), 4326) AS g
                   FROM unnest(CAST(:w AS text[])) WITH ORDINALITY AS x(w, k))
        SELECT ST_Area(ST_Transform(zones_union(ARRAY[(SELECT ST_Union(g) FROM g WHERE k < 3),
                                                      (SELECT g FROM g WHERE k = 3)]), 31370))"""),
        {"w": [box(X, Y, X + 100, Y + 100).wkt, box(X + 50, Y + 50, X + 150, Y + 150).wkt,
               box(X + 100, Y + 100, X + 200, Y + 200).wkt]}).scalar_one()
    assert abs(grown - 25_000.0) < 1e-3


def _zones_by_members(db, first_new_id: int) -> dict[frozenset[str], tuple]:  # noqa: ANN001
    """Each zone by its members: (id, or "new" for an id drawn by this pass, state, area m²
    and length m in EPSG:31370, technologies, operators, home commune, report_count)."""
    rows = db.execute(text("""
        SELECT array_agg(zr.report_id::text), z.id, z.state,
               ST_Area(ST_Transform(ST_CollectionExtract(z.geometry, 3), 31370)),
               ST_Length(ST_Transform(ST_CollectionExtract(z.geometry, 2), 31370)),
               z.technologies, z.operators, z.commune_nis, z.report_count
        FROM zones z JOIN zone_reports zr ON zr.zone_id = z.id GROUP BY z.id""")).all()
    return {frozenset(r[0]): ("new" if r[1] >= first_new_id else r[1], *r[2:]) for r in rows}


def _confirmed_changed(before: dict[frozenset[str], tuple], after: dict[frozenset[str], tuple]) -> set:
    """Ids of the zones confirmed before or after whose members or figures changed, or that
    were made or removed (``_zones_by_members`` snapshots)."""
    old = {v[0]: (k, *v[1:]) for k, v in before.items()}
    new = {v[0]: (k, *v[1:]) for k, v in after.items()}
    return {i for i in old.keys() | new.keys() if old.get(i) != new.get(i)
            and "confirmed" in ((old.get(i) or (None, None))[1], (new.get(i) or (None, None))[1])}


def _logged(db, since: int, first_new_id: int) -> set:  # noqa: ANN001
    """Zone ids numbered for incremental exports after change number ``since``."""
    rows = db.execute(text("SELECT zone_id FROM zone_changes WHERE change_seq > :s"), {"s": since}).scalars()
    return {"new" if z >= first_new_id else z for z in rows}


def file_as_a_regrouping_would(db, geoms_31370: list, rng: random.Random, step: object) -> tuple[list[str], bool]:  # noqa: ANN001
    """File mobile reports (EPSG:31370 shapes) in one statement and check the zones it leaves
    against a reference: the same statement run first inside a savepoint with the insert
    trigger off and ``zones_regroup`` called on its reports. Returns (their ids, whether
    ``zones_grow`` made the zones itself rather than handing over to ``zones_regroup``)."""
    ids = [str(uuid.uuid4()) for _ in geoms_31370]
    seed = rng.random()
    grew = _as_a_regrouping_would(db, lambda: insert(db, geoms_31370, rng=random.Random(seed), ids=ids),
                                  ids, "reports_group_zones_insert", step)
    return ids, grew


def withdraw_as_a_regrouping_would(db, report_id: str, step: object) -> bool:  # noqa: ANN001
    """Withdraw one report (one ``UPDATE``) and check the zones it leaves against the same
    statement run first inside a savepoint with the update trigger off and ``zones_regroup``
    called on it. Returns whether ``zones_shrink`` made the zones itself."""
    def run() -> None:
        db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = CAST(:i AS uuid)"), {"i": report_id})

    return _as_a_regrouping_would(db, run, [report_id], "reports_group_zones_update", step)


def _as_a_regrouping_would(db, run, ids: list[str], trigger: str, step: object,  # noqa: ANN001
                           same_ids: bool = True) -> bool:
    """Run a statement on mobile reports ``ids`` (``run``) twice: inside a savepoint with the
    zone ``trigger`` off and ``zones_regroup`` called on them (the reference, rolled back),
    then as it is. The zones must be the same (members, ids kept, states, unions to the mm,
    technologies, operators, home commune); the confirmed zones numbered for incremental
    exports must include those that changed, and be exactly those when the trigger's pass
    made the zones itself. Returns whether it did (``zone_units`` filled by a growing pass,
    or the leaving report kept by a shrinking one), rather than handing over to
    ``zones_regroup``. ``same_ids=False``: the zones' ids are not compared (the other
    figures are), nor the zones numbered against the reference's."""

    def first_new_id() -> int:
        return db.execute(text(
            "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM zones_id_seq")).scalar_one()

    def since() -> int:
        return db.execute(text("SELECT coalesce(max(change_seq), 0) FROM zone_changes")).scalar_one()

    first, last = first_new_id(), since()
    db.execute(text("SAVEPOINT reference"))
    db.execute(text(f"ALTER TABLE reports DISABLE TRIGGER {trigger}"))
    run()
    db.execute(text("SELECT zones_lock(ARRAY['mobile']::varchar[]), zones_regroup(CAST(:i AS uuid[]))"), {"i": ids})
    expected, expected_logged = _zones_by_members(db, first), _logged(db, last, first)
    db.execute(text("ROLLBACK TO SAVEPOINT reference"))

    first, last = first_new_id(), since()
    before = _zones_by_members(db, first)
    run()
    after = _zones_by_members(db, first)
    assert after.keys() == expected.keys(), step
    for members, a in after.items():
        e = expected[members]
        # areas (m²) and lengths (m) within 10⁻⁶ relative (a shrink remakes the union in a box:
        # its vertices differ where it crosses the box), the rest exactly
        assert (a[:2] if same_ids else a[1:2], a[4:]) == (e[:2] if same_ids else e[1:2], e[4:]), step
        assert a[2] == pytest.approx(e[2], rel=1e-6, abs=1e-6) and a[3] == pytest.approx(e[3], rel=1e-6, abs=1e-6), step
    itself = db.execute(text("SELECT (SELECT count(*) FROM pg_temp.zone_units) > 0 "
                             "OR (SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1) = 1")).scalar_one()
    logged = _logged(db, last, first)
    changed = _confirmed_changed(before, after)
    assert logged >= changed, step
    if itself:
        assert logged == changed and (logged <= expected_logged or not same_ids), step
    return itself


@owner_only
def test_reports_joining_confirmed_zones_grow_them_as_a_full_regrouping_would(db) -> None:  # noqa: ANN001
    """New reports touching a confirmed zone join it without the zone being regrouped whole
    (``zones_grow``); each pass gives what ``zones_regroup`` gives for the same statement —
    members, ids kept, states, unions (mm), technologies, operators, home commune and the
    confirmed zones numbered for incremental exports — through confirmations, splits, a
    report bridging a confirmed and an older proposed zone, and reports touching two confirmed
    zones (regrouped in full). Each statement is run twice: first inside a savepoint with the
    insert trigger off and ``zones_regroup`` called on its reports (the reference), then as
    it is filed. The confirmed zones a growing pass numbers are exactly those that changed:
    the reference numbers those too, and may number more (a confirmed zone next to them that
    it made again from its members, the same set written in another vertex order)."""
    admin = _admin(db)
    rng = random.Random(20261205)

    def shape():  # noqa: ANN202
        return random_shape(rng, X - 1200, Y + 4000, 1200, 500, points=0.55, areas=0.3)

    def near_member(state: str):  # noqa: ANN202
        """A point 30–80 m from a member point or area of a zone in ``state``, or None."""
        row = db.execute(text("""
            SELECT ST_X(c), ST_Y(c) FROM (
              SELECT ST_Transform(ST_Centroid(r.geometry), 31370) AS c FROM zones z
              JOIN zone_reports zr ON zr.zone_id = z.id JOIN reports r ON r.id = zr.report_id
              WHERE z.state = :s AND z.network = 'mobile' AND ST_Dimension(r.geometry) <> 1
              ORDER BY md5(r.id::text || :salt) LIMIT 1) q"""), {"s": state, "salt": str(rng.random())}).first()
        if row is None:
            return None
        return Point(row[0] + rng.uniform(30, 80), row[1] + rng.uniform(-20, 20))

    joined_by_growing = 0
    for step in range(60):
        if step % 10 == 0:
            geoms = [shape() for _ in range(20)]
        else:
            kind = rng.random()
            near = near_member("confirmed") if kind < 0.6 else near_member("proposed") if kind < 0.8 else None
            geoms = [near or shape()]
            if step % 7 == 3:
                geoms.append(near_member("proposed") or shape())  # may bridge a confirmed and a proposed zone
        confirmed_before = db.execute(text("SELECT count(*) FROM zones WHERE state = 'confirmed'")).scalar_one()
        ids, grew = file_as_a_regrouping_would(db, geoms, random.Random(step), step)
        in_confirmed = db.execute(text(
            "SELECT count(*) FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
            "WHERE z.state = 'confirmed' AND zr.report_id = ANY(CAST(:i AS uuid[]))"), {"i": ids}).scalar_one()
        joined_by_growing += grew and in_confirmed > 0 and confirmed_before > 0

        proposed = db.execute(text("SELECT id FROM zones WHERE state = 'proposed' ORDER BY id")).scalars().all()
        if step % 5 == 1 and proposed:
            zones.confirm_zone(db, admin, rng.choice(proposed))
        if step % 17 == 8:
            big = db.execute(text("SELECT id FROM zones WHERE report_count >= 3 ORDER BY id")).scalars().all()
            if big:
                zid = rng.choice(big)
                zone_members = sorted(zones.get_zone(db, admin, zid)["properties"]["report_ids"])
                zones.split_zone(db, admin, zid, [zone_members[0]])
    assert_equal_to_a_recomputation(db)
    assert joined_by_growing >= 10, joined_by_growing
    assert db.execute(text("SELECT count(*) FROM zones WHERE state = 'confirmed'")).scalar_one() >= 3


def test_a_report_joining_a_large_confirmed_zone_reads_only_its_neighbours(db) -> None:  # noqa: ANN001
    """A report filed next to a confirmed zone of 200 reports joins it as one unit: the pass
    reads the report and its one neighbour, the zone keeps its id and state, counts one more
    report, and is numbered for incremental exports."""
    admin = _admin(db)
    chain = insert(db, [Point(X - 3000 + 30 * k, Y + 3400) for k in range(200)])  # 30 m steps: one zone
    (zone_id,) = db.execute(text("SELECT DISTINCT zone_id FROM zone_reports WHERE report_id = ANY(CAST(:i AS uuid[]))"),
                            {"i": chain}).scalars().all()
    zones.confirm_zone(db, admin, zone_id)
    since = db.execute(text("SELECT coalesce(max(change_seq), 0) FROM zone_changes")).scalar_one()
    (new,) = insert(db, [Point(X - 3000 + 30 * 199 + 80, Y + 3400)])  # 80 m from the last, 110 from the one before
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_work")).scalar_one() == 2
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_units")).scalar_one() == 2
    row = db.execute(text("SELECT z.id, z.state, z.report_count FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
                          "WHERE zr.report_id = CAST(:i AS uuid)"), {"i": new}).one()
    assert tuple(row) == (zone_id, "confirmed", 201)
    assert db.execute(text("SELECT zone_id FROM zone_changes WHERE change_seq > :s"),
                      {"s": since}).scalars().all() == [zone_id]
    assert_equal_to_a_recomputation(db)


@owner_only
def test_a_report_bridging_a_confirmed_zone_and_an_older_proposed_one_as_a_regrouping_would(db) -> None:  # noqa: ANN001
    """A report overlapping a confirmed zone and a proposed zone made before it: one confirmed
    zone, which takes the older zone's id (the rule of every pass: a zone keeps the oldest id
    its reports were in), and both ids are numbered for incremental exports; then a report
    touching two confirmed zones joins the older confirmation alone (regrouped in full)."""
    admin = _admin(db)
    rng = random.Random(5)
    older = insert(db, [box(X + 2000 + 150 * k, Y - 3000, X + 2200 + 150 * k, Y - 2800) for k in range(2)])
    newer = insert(db, [box(X + 2700 + 150 * k, Y - 3000, X + 2900 + 150 * k, Y - 2800) for k in range(2)])
    zone_ids = dict(db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all())
    p, q = zone_ids[older[0]], zone_ids[newer[0]]
    assert p < q
    zones.confirm_zone(db, admin, q)
    # 100 m × 200 m from the older zone's east edge (x + 2350) over the newer's west one (x + 2700)
    (bridge,), grew = file_as_a_regrouping_would(db, [box(X + 2300, Y - 2950, X + 2750, Y - 2850)], rng, "bridge")
    assert grew
    row = db.execute(text("SELECT z.id, z.state, z.report_count FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
                          "WHERE zr.report_id = CAST(:i AS uuid)"), {"i": bridge}).one()
    assert tuple(row) == (p, "confirmed", 5)
    assert db.execute(text("SELECT count(*) FROM zones WHERE id = :q"), {"q": q}).scalar_one() == 0
    # a second confirmed zone to the east; a report touching both joins the older confirmation
    east = insert(db, [box(X + 3400 + 150 * k, Y - 3000, X + 3600 + 150 * k, Y - 2800) for k in range(2)])
    e = dict(db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all())[east[0]]
    zones.confirm_zone(db, admin, e)
    (both,), grew = file_as_a_regrouping_would(db, [box(X + 3000, Y - 2950, X + 3450, Y - 2850)], rng, "both")
    assert not grew
    joined = db.execute(text("SELECT zone_id FROM zone_reports WHERE report_id = CAST(:i AS uuid)"),
                        {"i": both}).scalar_one()
    assert joined == p
    assert db.execute(text("SELECT report_count FROM zones WHERE id = :e"), {"e": e}).scalar_one() == 2
    assert_equal_to_a_recomputation(db)


@owner_only
def test_reports_leaving_confirmed_zones_shrink_them_as_a_full_regrouping_would(db) -> None:  # noqa: ANN001
    """One report leaving a confirmed zone (a member of the referent's cohort, or a report
    that joined it since) shrinks the zone without a full regrouping when each of its free
    neighbours in the zone touches another member of the cohort, and is regrouped in full
    otherwise; each withdrawal gives what ``zones_regroup`` gives for the same statement (see
    ``_as_a_regrouping_would``)."""
    admin = _admin(db)
    rng = random.Random(20261206)
    for k in range(6):  # six places 1 km apart, 16 reports each in 400 m × 300 m
        insert(db, [random_shape(rng, X + 1000 * k, Y - 4500, 400, 300, points=0.55, areas=0.3) for _ in range(16)],
               rng=rng)
    for zid in db.execute(text("SELECT id FROM zones WHERE report_count >= 3 ORDER BY id")).scalars().all()[1:]:
        zones.confirm_zone(db, admin, zid)
    confirmed = db.execute(text("SELECT count(*) FROM zones WHERE state = 'confirmed'")).scalar_one()
    assert confirmed >= 3
    # reports joining the confirmed zones since (free members), some bridging two members
    joiners = db.execute(text("""
        SELECT ST_X(c), ST_Y(c) FROM (
          SELECT ST_Transform(ST_Centroid(r.geometry), 31370) AS c FROM zones z
          JOIN zone_reports zr ON zr.zone_id = z.id JOIN reports r ON r.id = zr.report_id
          WHERE z.state = 'confirmed' ORDER BY r.seq LIMIT 30) q""")).all()
    insert(db, [Point(x + rng.uniform(30, 90), y + rng.uniform(-30, 30)) for x, y in joiners], rng=rng)
    shrunk_by_itself = regrouped = 0
    for step in range(40):
        row = db.execute(text("""
            SELECT zr.report_id::text, EXISTS (SELECT 1 FROM zone_decision_reports d WHERE d.report_id = zr.report_id)
            FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id
            WHERE z.state = 'confirmed' ORDER BY md5(zr.report_id::text || :salt) LIMIT 1"""),
            {"salt": str(step)}).first()
        if row is None:
            break
        itself = withdraw_as_a_regrouping_would(db, row[0], (step, "cohort" if row[1] else "joined"))
        shrunk_by_itself += itself
        regrouped += not itself
    assert_equal_to_a_recomputation(db)
    assert shrunk_by_itself >= 10, (shrunk_by_itself, regrouped)


def test_a_zone_growing_and_shrinking_over_a_border_changes_home_as_the_rule_says(db) -> None:  # noqa: ANN001
    """A zone growing by reports alone measures its home commune among its old home and the
    communes the joining reports touch (migration 0035; it measured every commune its union
    touched: 1.4 s a report for a zone spread over the territory). A zone on the
    Charleroi/Châtelet border grows first on one side, then on the other until the other side
    holds the larger part, one report joining it at a time; then they leave one at a time (a
    report leaving keeps the home unmeasured when it did not touch it). After each, every
    zone's home is the rule's measured on every commune (as a full regrouping measures it), and
    the home moves across the border and back."""
    x, y = border_point(db)
    rule = zones_sql._home().replace("n.geometry", "z.geometry")

    def commune_at(px: float, py: float) -> str | None:  # (x, y) in EPSG:31370
        return commune_of(db, f"SRID=4326;{reproject(Point(px, py), LAMBERT72, WGS84).wkt}")

    def chain_into(nis: str, n: int) -> list:
        """``n`` 120 m squares from the border point into ``nis``, each overlapping the one
        before (60 m apart): each joins the zone alone."""
        for angle in range(0, 360, 15):
            dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            if all(commune_at(x + k * dx, y + k * dy) == nis for k in (100, 300, 60 * n)):
                return [box(x + k * 60 * dx - 60, y + k * 60 * dy - 60, x + k * 60 * dx + 60, y + k * 60 * dy + 60)
                        for k in range(1, n + 1)]
        raise AssertionError(f"no way into {nis} from the border point")

    def home_of(report_id: str) -> str:
        return db.execute(text("SELECT z.commune_nis FROM zones z JOIN zone_reports r ON r.zone_id = z.id "
                               "WHERE r.report_id = CAST(:i AS uuid)"), {"i": report_id}).scalar_one()

    def check(step: object) -> None:
        wrong = db.execute(text(
            f"SELECT z.id, z.commune_nis, (SELECT c.nis_code {rule}) FROM zones z "
            f"WHERE z.commune_nis IS DISTINCT FROM (SELECT c.nis_code {rule})")).all()
        assert not wrong, (step, wrong)
        homes.append(home_of(first[0]))

    first = insert(db, [box(x - 150, y - 150, x + 150, y + 150)] * 2)
    start = home_of(first[0])
    other = "52012" if start == "52011" else "52011"
    homes, grown, shrunk = [start], 0, 0
    ids = {}
    for nis, n in ((start, 4), (other, 30)):
        ids[nis] = []
        for step, shape in enumerate(chain_into(nis, n)):
            ids[nis] += insert(db, [shape])
            grown += db.execute(text("SELECT count(*) > 0 FROM pg_temp.zone_units")).scalar_one()
            check((nis, step))
    assert homes[-1] == other, homes  # the home crossed the border
    assert grown >= 30, grown  # the growing pass made the zones, not a full regrouping
    # then the reports leave, far ends first (the zone stays whole): on the first side (the
    # home stays without being measured), then on the other until the home comes back
    for nis in (start, other):
        for step, report_id in enumerate(reversed(ids[nis])):
            db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = CAST(:i AS uuid)"), {"i": report_id})
            shrunk += db.execute(text("SELECT count(*) = 1 FROM pg_temp.zone_work WHERE gen = -1")).scalar_one()
            check(("withdrawn", nis, step))
    assert homes[-1] == start and other in homes, homes
    assert shrunk >= 30, shrunk  # the shrinking pass made the zones
    assert_equal_to_a_recomputation(db)


def test_a_report_its_zone_covers_already_leaves_the_union_as_it_was(db) -> None:  # noqa: ANN001
    """A new report that the stored reports it touches cover adds nothing to the union: the
    zone's geometry is not made again (the same bytes), its members, count, technologies and
    operators follow. Two new reports covering only each other, or one covered by a free
    report, still make the union they should."""
    squares = insert(db, [box(X - 2500 + 80 * k, Y + 9800, X - 2400 + 80 * k, Y + 9900) for k in range(3)])
    (line,) = insert(db, [LineString([(X - 2500, Y + 9950), (X - 2200, Y + 9950)])])
    zid = db.execute(text("SELECT zone_id FROM zone_reports WHERE report_id = CAST(:i AS uuid)"),
                     {"i": squares[0]}).scalar_one()

    def union() -> bytes:
        return db.execute(text("SELECT ST_AsBinary(geometry) FROM zones WHERE id = :z"), {"z": zid}).scalar_one()

    def grew() -> bool:
        return db.execute(text("SELECT count(*) > 0 FROM pg_temp.zone_units")).scalar_one()

    before = union()
    # a square across two of them, a point inside one, the line filed again and a point at its
    # end (a point on the line between its ends is off its EPSG:4326 chord by micrometres):
    # covered
    covered = insert(db, [box(X - 2450, Y + 9820, X - 2300, Y + 9880), Point(X - 2450, Y + 9850),
                          LineString([(X - 2500, Y + 9950), (X - 2200, Y + 9950)]), Point(X - 2200, Y + 9950)],
                     rng=random.Random(5))
    assert grew() and union() == before
    # the middle square filed again: the union's vertices where its neighbours' edges cross its
    # own lie off them by a rounding (slivers of 10⁻²⁰ degrees² left over): covered all the same
    covered += insert(db, [box(X - 2420, Y + 9800, X - 2320, Y + 9900)])
    assert grew() and union() == before
    db.execute(text("UPDATE reports SET technologies = '{5G}' WHERE id = CAST(:i AS uuid)"), {"i": covered[0]})
    assert "5G" in db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": zid}).scalar_one()
    row = db.execute(text("SELECT report_count FROM zones WHERE id = :z"), {"z": zid}).scalar_one()
    assert row == 9
    assert_equal_to_a_recomputation(db)
    # two identical squares filed together, half outside the zone: each covers the other, not
    # by the stored reports: the union grows by their outer half (60 m × 50 m)
    area = db.execute(text("SELECT ST_Area(ST_Transform(ST_CollectionExtract(geometry, 3), 31370)) "
                           "FROM zones WHERE id = :z"), {"z": zid}).scalar_one()
    insert(db, [box(X - 2500, Y + 9850, X - 2440, Y + 9950)] * 2)
    grown = db.execute(text("SELECT ST_Area(ST_Transform(ST_CollectionExtract(geometry, 3), 31370)) "
                            "FROM zones WHERE id = :z"), {"z": zid}).scalar_one()
    assert grown - area == pytest.approx(60 * 50, abs=0.01)  # m², EPSG:31370
    # a square inside a free report (no zone yet): the new zone is that report's square
    (free,) = insert(db, [box(X - 1500, Y + 9800, X - 1400, Y + 9900)])
    insert(db, [box(X - 1480, Y + 9820, X - 1420, Y + 9880)])
    made = db.execute(text("SELECT ST_Area(ST_Transform(z.geometry, 31370)), z.report_count FROM zones z "
                           "JOIN zone_reports m ON m.zone_id = z.id WHERE m.report_id = CAST(:i AS uuid)"),
                      {"i": free}).one()
    assert made[0] == pytest.approx(10_000, abs=0.01) and made[1] == 2
    assert_equal_to_a_recomputation(db)
