"""Zones grow set-wise when reports are added (``zones_grow``), and unions of mixed dimensions
(``zones_union``) are the same sets as ``ST_Union``'s. Real PostGIS, real communes; shapes in
EPSG:31370 around Charleroi's centre. Whatever the order of additions, decisions and
withdrawals, the stored zones equal a full recomputation: members, state, union (area m²,
length m, points), technologies, operators, home commune."""

from __future__ import annotations

import random

import shapely
from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.services import reports as reports_service
from geosignal.services import zones
from tests.conftest import owner_only
from tests.factories import CHARLEROI_LAMBERT72
from tests.test_zones import _admin

X, Y = CHARLEROI_LAMBERT72
TECHNOLOGIES = ["2G", "3G", "4G", "5G"]
OPERATORS = ["Proximus", "Orange", "Telenet/BASE"]


def insert(db, geoms_31370: list, network: str = "mobile", rng: random.Random | None = None,  # noqa: ANN001
           communes: list[str] | None = None) -> list[str]:
    """INSERT the reports (EPSG:31370 shapes, in Charleroi; ``communes``: their commune NIS
    codes, Charleroi's by default) in one statement (one zone pass); return their ids in order."""
    rng = rng or random.Random(0)
    ewkt = [f"SRID=4326;{shapely.orient_polygons(reproject(g, LAMBERT72, WGS84)).wkt}" for g in geoms_31370]
    techs = ["{" + ",".join(rng.sample(TECHNOLOGIES, rng.randint(1, 2))) + "}" for _ in geoms_31370]
    ops = ["{" + ",".join(f'"{o}"' for o in rng.sample(OPERATORS, rng.randint(0, 2))) + "}" for _ in geoms_31370]
    rows = db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, description)
        SELECT gen_random_uuid(), ST_GeomFromEWKT(x.g), x.c, :n, CAST(x.t AS varchar[]), CAST(x.o AS varchar[]), ''
        FROM unnest(CAST(:g AS text[]), CAST(:t AS text[]), CAST(:o AS text[]), CAST(:c AS varchar[]))
             WITH ORDINALITY AS x(g, t, o, c, k)
        ORDER BY x.k
        RETURNING id::text, seq"""), {"g": ewkt, "t": techs, "o": ops, "n": network,
                                      "c": communes or ["52011"] * len(geoms_31370)}).all()
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
        x, y = X - 1500 + rng.uniform(0, 1500), Y - 2600 + rng.uniform(0, 400)
        kind = rng.random()
        if kind < 0.5:
            return Point(x, y)
        if kind < 0.8:
            s = rng.uniform(40, 90)
            return box(x, y, x + s, y + s)
        return LineString([(x, y), (x + rng.uniform(-150, 150), y + rng.uniform(-60, 60))])

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
