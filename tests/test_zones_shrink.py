"""A report leaving a zone (withdrawn, rejected…): the zone shrinks in place when its other
members stay connected (``zones_shrink``, migration 0020), and is regrouped in full otherwise.
Real PostGIS, real communes; shapes in EPSG:31370 around Charleroi's centre. Whichever path
runs, the stored zones equal a full recomputation (members, state, union, technologies,
operators, home commune, place counts)."""

from __future__ import annotations

import random

import pytest
from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.services import reports as reports_service
from geosignal.services import zones
from tests.test_zones import _admin
from tests.test_zones_grow import X, Y, assert_equal_to_a_recomputation, insert, random_shape


def zone_of(db, report_id: str) -> int | None:  # noqa: ANN001
    return db.execute(text("SELECT zone_id FROM zone_reports WHERE report_id = CAST(:i AS uuid)"),
                      {"i": report_id}).scalar()


def members(db, zone_id: int) -> set[str]:  # noqa: ANN001
    return set(db.execute(text("SELECT report_id::text FROM zone_reports WHERE zone_id = :z"),
                          {"z": zone_id}).scalars())


def shrunk(db) -> bool:  # noqa: ANN001
    """Whether this session's last zone pass was a shrink (its leaving report is kept as gen -1;
    a full regroup empties the work tables first)."""
    return db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")).scalar_one() == 1


def searched(db) -> int:  # noqa: ANN001
    """Members the shrink's search loaded (its leaving report aside)."""
    return db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen >= 0")).scalar_one()


def withdraw(db, report_id: str, status: str = "withdrawn") -> None:  # noqa: ANN001
    reports_service.set_status(db, _admin(db), report_id, status, "motif" if status == "rejected" else None)


def grid(x0: float, y0: float, nx: int, ny: int, step: float = 60.0) -> list:
    """Points on a grid (EPSG:31370): each within 100 m of its four neighbours, not of its
    diagonals (85 m: also within). One zone."""
    return [Point(x0 + step * i, y0 + step * j) for j in range(ny) for i in range(nx)]


def test_a_report_leaving_a_mesh_shrinks_the_zone_after_a_local_search(db) -> None:  # noqa: ANN001
    ids = insert(db, grid(X - 2500, Y + 4000, 20, 10))  # 200 points, 60 m apart: one zone
    zid = zone_of(db, ids[0])
    assert members(db, zid) == set(ids)
    inner = ids[5 * 20 + 10]  # a point inside the mesh: eight neighbours, which reach each other around it
    withdraw(db, inner)
    assert shrunk(db)
    # the search stopped once the neighbours were reached (opposite corners around the point are
    # three steps apart without it: at most a 7 × 7 block, the point aside), not after 199 members
    assert 8 <= searched(db) <= 48
    assert zone_of(db, inner) is None and zone_of(db, ids[0]) == zid  # the zone keeps its id
    assert members(db, zid) == set(ids) - {inner}
    assert db.execute(text("SELECT report_count FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == 199
    assert_equal_to_a_recomputation(db)


def test_a_leaf_leaving_needs_no_search(db) -> None:  # noqa: ANN001
    chain = insert(db, [Point(X - 2500 + 70 * k, Y + 4500) for k in range(6)])  # 70 m steps: a chain
    zid = zone_of(db, chain[0])
    withdraw(db, chain[-1], "rejected")
    assert shrunk(db) and searched(db) == 1  # its one neighbour
    assert members(db, zid) == set(chain[:-1])
    assert_equal_to_a_recomputation(db)


def test_a_report_holding_a_chain_together_splits_it_in_full(db) -> None:  # noqa: ANN001
    chain = insert(db, [Point(X - 2500 + 70 * k, Y + 4800) for k in range(7)])
    zid = zone_of(db, chain[0])
    withdraw(db, chain[3])  # the middle: two chains of three, which the search cannot join
    assert not shrunk(db)
    left, right = zone_of(db, chain[0]), zone_of(db, chain[-1])
    assert left == zid and right not in (None, zid)  # the oldest part keeps the id
    assert members(db, left) == set(chain[:3]) and members(db, right) == set(chain[4:])
    assert_equal_to_a_recomputation(db)


def test_a_zone_of_three_losing_one_keeps_two_and_of_two_vanishes(db) -> None:  # noqa: ANN001
    trio = insert(db, [box(X - 2500 + 50 * k, Y + 5100, X - 2440 + 50 * k, Y + 5160) for k in range(3)])
    zid = zone_of(db, trio[0])
    withdraw(db, trio[0])
    assert shrunk(db) and members(db, zid) == set(trio[1:])
    withdraw(db, trio[1])  # two members left before: the zone goes (regrouped in full)
    assert not shrunk(db) and zone_of(db, trio[2]) is None
    assert db.execute(text("SELECT count(*) FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == 0
    assert_equal_to_a_recomputation(db)


def test_the_union_technologies_and_operators_follow_the_members(db) -> None:  # noqa: ANN001
    # a zone of overlapping squares and a line 40 m above them; the square that carried the
    # only 5G and the only Orange leaves
    geoms = [box(X - 2500 + 50 * k, Y + 5400, X - 2440 + 50 * k, Y + 5460) for k in range(6)]
    geoms.append(LineString([(X - 2500, Y + 5500), (X - 2200, Y + 5500)]))
    ids = insert(db, geoms)
    db.execute(text("UPDATE reports SET technologies = '{5G}', operators = '{Orange}' WHERE id = CAST(:i AS uuid)"),
               {"i": ids[2]})
    db.execute(text("UPDATE reports SET technologies = '{4G}', operators = '{Proximus}' "
                    "WHERE id <> CAST(:i AS uuid) AND id = ANY(CAST(:a AS uuid[]))"), {"i": ids[2], "a": ids})
    zid = zone_of(db, ids[0])
    feature = zones.get_zone(db, _admin(db), zid)["properties"]
    # areas in m² (EPSG:31370), within 0.5 m²: the squares' union is 310 m × 60 m
    assert (feature["technologies"], feature["operators"]) == (["4G", "5G"], ["Proximus", "Orange"])
    assert feature["area_m2"] == pytest.approx(60 * 310, abs=0.5)
    withdraw(db, ids[0])  # the first square: the zone stays whole
    assert shrunk(db)
    feature = zones.get_zone(db, _admin(db), zid)["properties"]
    assert feature["area_m2"] == pytest.approx(60 * 260, abs=0.5)
    withdraw(db, ids[5])  # the last square
    withdraw(db, ids[2])  # the 5G and Orange square: its neighbours both lie within 100 m of the line
    assert shrunk(db)
    feature = zones.get_zone(db, _admin(db), zid)["properties"]
    assert (feature["technologies"], feature["operators"]) == (["4G"], ["Proximus"])
    assert_equal_to_a_recomputation(db)


def test_decisions_and_other_changes_are_regrouped_in_full(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    confirmed = insert(db, grid(X - 2500, Y + 6000, 4, 2))
    zones.confirm_zone(db, admin, zone_of(db, confirmed[0]))
    withdraw(db, confirmed[5])
    assert shrunk(db)  # a confirmed zone keeps its cohort whole, without a full regrouping (migration 0034)
    assert members(db, zone_of(db, confirmed[0])) == set(confirmed) - {confirmed[5]}
    proposed = insert(db, grid(X - 2500, Y + 6600, 4, 2))
    # leaving and moving at once: the report's neighbours are no longer those it had
    db.execute(text("UPDATE reports SET status = 'withdrawn', geometry = ST_Translate(geometry, 0.001, 0) "
                    "WHERE id = CAST(:i AS uuid)"), {"i": proposed[5]})
    assert not shrunk(db)
    # two members of one zone leaving in one statement
    db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = ANY(CAST(:i AS uuid[]))"),
               {"i": proposed[:2]})
    assert not shrunk(db)
    # (0, 1) lost its three neighbours (0, 0), (1, 0) and (1, 1): alone; the right square stays
    assert zone_of(db, proposed[4]) is None
    assert members(db, zone_of(db, proposed[2])) == {proposed[2], proposed[3], proposed[6], proposed[7]}
    assert_equal_to_a_recomputation(db)


def test_a_point_or_a_line_leaving_a_zone_of_areas_remakes_only_the_lower_parts(db) -> None:  # noqa: ANN001
    # overlapping squares, a line and points along them (each within 100 m of a square)
    squares = insert(db, [box(X - 2500 + 50 * k, Y + 7000, X - 2440 + 50 * k, Y + 7060) for k in range(5)])
    (line,) = insert(db, [LineString([(X - 2500, Y + 7100), (X - 2300, Y + 7100)])])
    points = insert(db, [Point(X - 2480 + 40 * k, Y + 6960) for k in range(6)] + [Point(X - 2450, Y + 7030)])
    zid = zone_of(db, squares[0])
    assert members(db, zid) == set(squares + [line] + points)
    home = db.execute(text("SELECT commune_nis FROM zones WHERE id = :z"), {"z": zid}).scalar_one()

    def parts() -> tuple:
        return tuple(db.execute(text(
            "SELECT round(ST_Area(ST_Transform(ST_CollectionExtract(geometry, 3), 31370))::numeric, 1), "
            "round(ST_Length(ST_Transform(ST_CollectionExtract(geometry, 2), 31370))::numeric, 1), "
            "ST_NumGeometries(ST_CollectionExtract(geometry, 1)), commune_nis, report_count "
            "FROM zones WHERE id = :z"), {"z": zid}).one())

    # 5 squares: 260 m × 60 m; the line, 40 m above them: 200 m; points: 6 below the squares
    # (one inside a square is covered by it)
    assert parts() == (15600, 200, 6, home, 13)
    withdraw(db, points[2])  # a point: only the points are made again
    assert shrunk(db) and parts() == (15600, 200, 5, home, 12)
    withdraw(db, points[6])  # the point inside a square: nothing shown changes but the count
    assert shrunk(db) and parts() == (15600, 200, 5, home, 11)
    withdraw(db, line)  # a line next to areas: the lines and points are made again
    assert shrunk(db) and parts() == (15600, 0, 5, home, 10)
    assert_equal_to_a_recomputation(db)


def test_a_growing_zone_keeps_or_recomputes_its_home_commune_across_a_border(db) -> None:  # noqa: ANN001
    from geosignal.services.communes import commune_of

    # a point of the Charleroi–Châtelet border, and the directions of each side from it
    bx, by = db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(ST_Intersection(a.boundary, b.boundary)), "
        "31370) AS p FROM communes a, communes b WHERE a.nis_code = '52011' AND b.nis_code = '52012') x")).one()

    def side(dx: float, dy: float) -> str | None:
        return commune_of(db, f"SRID=4326;{reproject(Point(bx + dx, by + dy), LAMBERT72, WGS84).wkt}")

    directions = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    ux, uy = next(d for d in directions if side(150 * d[0], 150 * d[1]) == "52012" and side(-150 * d[0], -150 * d[1]) == "52011")

    def square(cx: float, cy: float, half: float):  # noqa: ANN202
        return box(cx - half, cy - half, cx + half, cy + half)

    inside = [square(bx - 75 * ux + 40 * k * uy, by - 75 * uy + 40 * k * ux, 30) for k in range(2)]  # Charleroi side
    ids = insert(db, inside)
    zid = zone_of(db, ids[0])
    assert db.execute(text("SELECT commune_nis FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == "52011"
    insert(db, [Point(bx + 40 * ux, by + 40 * uy)])  # a point over the border: of lower dimension
    assert db.execute(text("SELECT commune_nis, report_count FROM zones WHERE id = :z"), {"z": zid}).one() == ("52011", 3)
    assert_equal_to_a_recomputation(db)
    insert(db, [square(bx + 150 * ux, by + 150 * uy, 200)])  # mostly in Châtelet, overlapping the squares
    assert db.execute(text("SELECT commune_nis, report_count FROM zones WHERE id = :z"), {"z": zid}).one() == ("52012", 4)
    assert_equal_to_a_recomputation(db)


def test_a_report_leaving_a_confirmed_zone_shrinks_it_unless_a_joiner_hung_on_it(db) -> None:  # noqa: ANN001
    """A confirmed grid of 8 points 60 m apart, and reports that joined it since: k within
    100 m of two grid points, f of one, g of f alone (a chain), h of one. Withdrawing a grid
    point next to k shrinks the zone (k still touches the cohort); withdrawing f, or the one
    grid point h touches, regroups in full, and g or h leaves the zone (no cohort left within
    100 m of it); stored zones equal a recomputation throughout."""
    admin = _admin(db)
    x0, y0 = X - 2500, Y + 8000
    cohort = insert(db, grid(x0, y0, 4, 2))  # (0..180, 0..60)
    zid = zone_of(db, cohort[0])
    zones.confirm_zone(db, admin, zid)
    k, f, g, h = insert(db, [Point(x0 + 90, y0 - 80),   # 85 m from (60, 0) and (120, 0)
                             Point(x0 + 270, y0),       # 90 m from (180, 0); 108 m from (180, 60)
                             Point(x0 + 360, y0),       # 90 m from f alone
                             Point(x0 - 90, y0 + 60)])  # 90 m from (0, 60); 108 m from (0, 0)
    assert members(db, zid) == set(cohort) | {k, f, g, h}
    withdraw(db, cohort[1])  # (60, 0)
    assert shrunk(db)
    assert members(db, zid) == set(cohort) - {cohort[1]} | {k, f, g, h}
    assert db.execute(text("SELECT state, report_count FROM zones WHERE id = :z"), {"z": zid}).one() == ("confirmed", 11)
    assert_equal_to_a_recomputation(db)
    withdraw(db, f)
    assert not shrunk(db)
    assert zone_of(db, g) is None
    withdraw(db, cohort[4])  # (0, 60)
    assert not shrunk(db)
    assert zone_of(db, h) is None
    assert members(db, zid) == set(cohort) - {cohort[1], cohort[4]} | {k}
    assert_equal_to_a_recomputation(db)


def test_a_report_leaving_remakes_the_union_only_in_a_box_around_it(db) -> None:  # noqa: ANN001
    """Migration 0036: the union outside the leaving report's box stays as it was; inside, its
    parts of the report's dimension and below are made again from the members there. After
    each withdrawal, without recomputing in between (the box's cuts add up), every zone's
    union equals its members' union part by part: areas in m² (EPSG:31370) within 10⁻⁶
    relative and no vertex of either further than 1 mm from the other (Hausdorff), lines
    likewise in m, points exactly (1 mm grid)."""
    rng = random.Random(36)
    shapes = [random_shape(rng, X - 3000, Y + 8000, 700, 500, points=0.3, areas=0.4) for _ in range(150)]
    ids = insert(db, shapes, rng=rng)
    big = db.execute(text("SELECT max(report_count) FROM zones")).scalar_one()
    assert big >= 100  # the shapes make one large zone (and maybe a few small ones)
    kinds = {k: [i for i, s in zip(ids, shapes, strict=True) if s.geom_type == k] for k in ("Polygon", "LineString", "Point")}
    leaving = [x for k in kinds.values() for x in rng.sample(k, 6)]
    rng.shuffle(leaving)
    shrinks = 0
    for report_id in leaving:
        withdraw(db, report_id)
        shrinks += shrunk(db)
        rows = db.execute(text("""
            WITH m AS (
              SELECT z.id, z.geometry AS stored,
                     zones_union(array_agg(r.geometry ORDER BY r.seq)) AS made
              FROM zones z JOIN zone_reports zr ON zr.zone_id = z.id JOIN reports r ON r.id = zr.report_id
              GROUP BY z.id)
            SELECT m.id, d.k,
                   ST_Area(ST_Transform(ST_CollectionExtract(m.stored, 3), 31370)) AS a1,
                   ST_Area(ST_Transform(ST_CollectionExtract(m.made, 3), 31370)) AS a2,
                   ST_Length(ST_Transform(ST_CollectionExtract(m.stored, 2), 31370)) AS l1,
                   ST_Length(ST_Transform(ST_CollectionExtract(m.made, 2), 31370)) AS l2,
                   CASE WHEN ST_IsEmpty(ST_CollectionExtract(m.stored, d.k)) AND ST_IsEmpty(ST_CollectionExtract(m.made, d.k))
                        THEN 0 ELSE ST_HausdorffDistance(ST_Transform(ST_CollectionExtract(m.stored, d.k), 31370),
                                                         ST_Transform(ST_CollectionExtract(m.made, d.k), 31370)) END AS h,
                   (SELECT array_agg(t ORDER BY t) FROM ST_Dump(ST_CollectionExtract(m.stored, 1)) x,
                      ST_AsText(ST_SnapToGrid(ST_Transform(x.geom, 31370), 0.001)) t) AS p1,
                   (SELECT array_agg(t ORDER BY t) FROM ST_Dump(ST_CollectionExtract(m.made, 1)) x,
                      ST_AsText(ST_SnapToGrid(ST_Transform(x.geom, 31370), 0.001)) t) AS p2
            FROM m, (VALUES (1), (2), (3)) d(k)""")).all()
        assert rows
        for zid, k, a1, a2, l1, l2, h, p1, p2 in rows:
            assert abs(a1 - a2) <= 1e-6 * max(a2, 1.0), (report_id, zid, a1, a2)
            assert abs(l1 - l2) <= 1e-6 * max(l2, 1.0), (report_id, zid, l1, l2)
            assert h <= 0.001, (report_id, zid, k, h)
            assert p1 == p2, (report_id, zid)
    assert shrinks >= 12  # most withdrawals shrank a zone in place (the others regrouped it)
    assert_equal_to_a_recomputation(db)


def test_a_report_the_others_cover_leaves_the_union_as_it_was(db) -> None:  # noqa: ANN001
    # two 100 m squares overlapping by 60 m, a 40 m square inside their overlap, a point
    # inside the first square and a 30 m line along the second: each of the small ones leaving
    # changes nothing of the union (the same bytes: no overlay was made)
    big = insert(db, [box(X - 2500, Y + 9000, X - 2400, Y + 9100), box(X - 2440, Y + 9000, X - 2340, Y + 9100)])
    small = insert(db, [box(X - 2430, Y + 9030, X - 2410, Y + 9070), Point(X - 2480, Y + 9050),
                        LineString([(X - 2380, Y + 9020), (X - 2350, Y + 9020)])])
    zid = zone_of(db, big[0])
    assert members(db, zid) == set(big + small)

    def union() -> bytes:
        return db.execute(text("SELECT ST_AsBinary(geometry) FROM zones WHERE id = :z"), {"z": zid}).scalar_one()

    before = union()
    for report_id in small:
        withdraw(db, report_id)
        assert shrunk(db) and union() == before
    assert members(db, zid) == set(big)
    assert_equal_to_a_recomputation(db)


def test_a_value_only_a_far_member_also_carries_stays(db) -> None:  # noqa: ANN001
    # a zone of 1,100 points: its first member and its last carry 5G, the others 4G. The first
    # leaving: 5G stays (found beyond the first 1,000 members looked at); then the last
    # leaving: 5G goes
    ids = insert(db, grid(X - 2500, Y + 9500, 55, 20))
    zid = zone_of(db, ids[0])
    db.execute(text("UPDATE reports SET technologies = CASE WHEN id = ANY(CAST(:f AS uuid[])) THEN CAST('{4G,5G}' AS varchar[]) "
                    "ELSE CAST('{4G}' AS varchar[]) END, operators = '{Proximus}' WHERE id = ANY(CAST(:i AS uuid[]))"),
               {"i": ids, "f": [ids[0], ids[-1]]})
    assert db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == ["4G", "5G"]
    withdraw(db, ids[0])
    assert shrunk(db)
    assert db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == ["4G", "5G"]
    withdraw(db, ids[-1])
    assert shrunk(db)
    assert db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": zid}).scalar_one() == ["4G"]
    # a report leaving as its technologies change: regrouped in full (the zone's values are
    # those the members carried before)
    db.execute(text("UPDATE reports SET status = 'withdrawn', technologies = '{2G}' WHERE id = CAST(:i AS uuid)"),
               {"i": ids[600]})
    assert not shrunk(db)
    assert_equal_to_a_recomputation(db)


def test_a_report_another_member_covers_alone_leaves_without_a_search(db) -> None:  # noqa: ANN001
    # a mesh of points, one of them filed again (the same place): the copy leaving needs no
    # search (the original is adjacent to all its neighbours); a square covered by two squares
    # together but by neither alone still needs one
    ids = insert(db, grid(X - 2500, Y + 10500, 10, 10))
    (again,) = insert(db, [Point(X - 2500 + 60 * 4, Y + 10500 + 60 * 4)])
    zid = zone_of(db, ids[0])
    withdraw(db, again)
    assert shrunk(db) and searched(db) == 0
    assert members(db, zid) == set(ids)
    halves = insert(db, [box(X - 1500, Y + 10500, X - 1440, Y + 10560), box(X - 1460, Y + 10500, X - 1400, Y + 10560)])
    (across,) = insert(db, [box(X - 1480, Y + 10510, X - 1420, Y + 10550)])
    withdraw(db, across)
    assert shrunk(db) and searched(db) >= 1
    assert members(db, zone_of(db, halves[0])) == set(halves)
    assert_equal_to_a_recomputation(db)


def test_a_line_or_point_an_area_covers_still_needs_a_search(db) -> None:  # noqa: ANN001
    # two 100 m squares 50 m apart, joined only through a line inside the first, 55 m from the
    # second (an area within 100 m of a line is adjacent to it; two areas only when they share
    # an area): the line leaving splits the zone though the first square covers it
    first, second = insert(db, [box(X - 2500, Y + 11500, X - 2400, Y + 11600), box(X - 2350, Y + 11500, X - 2250, Y + 11600)])
    (line,) = insert(db, [LineString([(X - 2480, Y + 11550), (X - 2405, Y + 11550)])])
    zid = zone_of(db, first)
    assert members(db, zid) == {first, second, line}
    withdraw(db, line)
    assert not shrunk(db)  # regrouped in full: two reports apart, no zone
    assert zone_of(db, first) is None and zone_of(db, second) is None
    assert_equal_to_a_recomputation(db)


def test_several_reports_leaving_in_one_statement_shrink_their_zones(db) -> None:  # noqa: ANN001
    """A bulk transition (one ``UPDATE`` of up to 8 reports: the referent rejecting several at
    once) shrinks each zone they leave, zone by zone, instead of regrouping them whole: boxes
    one after the other, each made from the members that stay. After each statement the zones
    equal a full regrouping of the reports (members, ids, states, unions within 10⁻⁶,
    technologies, operators, home commune); neighbouring reports leaving together (boxes that
    overlap), reports of two zones, of a confirmed zone, and reports whose leaving splits the
    zone (regrouped in full) all included."""
    from tests.test_zones_grow import _as_a_regrouping_would

    rng = random.Random(38)
    shapes = [random_shape(rng, X - 3000, Y + 8000, 700, 500, points=0.3, areas=0.4) for _ in range(150)]
    ids = insert(db, shapes, rng=rng)
    other = insert(db, [random_shape(rng, X + 1000, Y + 8000, 300, 300, points=0.3, areas=0.4)
                              for _ in range(40)], rng=rng)
    big, second = zone_of(db, ids[0]), zone_of(db, other[0])
    assert big is not None and second is not None and big != second

    def leave(report_ids: list[str], step: object) -> int:
        def run() -> None:
            db.execute(text("UPDATE reports SET status = 'rejected' "
                            "WHERE id = ANY(CAST(:i AS uuid[]))"), {"i": report_ids})
        _as_a_regrouping_would(db, run, report_ids, "reports_group_zones_update", step)
        return db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")).scalar_one()

    members = [i for i in ids if zone_of(db, i) == big]
    shrunk = 0
    for k in (2, 3, 5, 8):
        chosen = rng.sample(members, k)
        members = [m for m in members if m not in chosen]
        shrunk += leave(chosen, ("one zone", k)) == k
    # two neighbours together: the member nearest another member leaves with it
    a = members[0]
    b = db.execute(text("""
        SELECT o.id::text FROM reports r, reports o JOIN zone_reports m ON m.report_id = o.id AND m.zone_id = :z
        WHERE r.id = CAST(:a AS uuid) AND o.id <> r.id AND o.status = 'submitted'
        ORDER BY ST_Distance(r.geometry, o.geometry) LIMIT 1"""), {"a": a, "z": big}).scalar_one()
    assert leave([a, b], "neighbours") == 2
    members = [m for m in members if m not in (a, b)]
    two = rng.sample(members, 2) + rng.sample([i for i in other if zone_of(db, i) == second], 2)
    leave(two, "two zones")
    members = [m for m in members if m not in two]
    zones.confirm_zone(db, _admin(db), big)
    assert leave(rng.sample(members, 3), "confirmed") == 3  # the cohort stays whole: no search
    assert shrunk >= 3, shrunk  # most statements shrank the zone in place (the others regrouped it)
    assert_equal_to_a_recomputation(db)


def test_reports_leaving_together_split_lose_values_and_move_the_home_as_a_regrouping_would(db) -> None:  # noqa: ANN001
    """Several reports leaving one zone in one statement, compared with a full regrouping:
    two parallel bridges between two squares leaving together split the zone (each bridge
    alone would not); two reports carrying the only 3G and the only 5G leave the zone's
    technologies without them; two squares on the home side of a zone across the
    Charleroi/Châtelet border leaving together move its home to the other side."""
    from geosignal.services.communes import commune_of
    from tests.factories import border_point
    from tests.test_zones_grow import _as_a_regrouping_would

    def leave(report_ids: list[str], step: object) -> bool:
        def run() -> None:
            db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = ANY(CAST(:i AS uuid[]))"),
                       {"i": report_ids})
        _as_a_regrouping_would(db, run, report_ids, "reports_group_zones_update", step)
        return db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")).scalar_one() == len(report_ids)

    # two squares 100 m apart, two bridges each overlapping both (and each other)
    x0, y0 = X - 2000, Y + 12000
    a, b, g1, g2 = insert(db, [box(x0, y0, x0 + 100, y0 + 100), box(x0 + 200, y0, x0 + 300, y0 + 100),
                               box(x0 + 50, y0 + 10, x0 + 250, y0 + 40), box(x0 + 50, y0 + 60, x0 + 250, y0 + 90)])
    assert zone_of(db, a) == zone_of(db, b) == zone_of(db, g1) == zone_of(db, g2) is not None
    # a row of four squares (and a fifth at its end), two more over it carrying the only 3G and
    # the only 5G
    x1 = X - 2000 + 1000
    row = insert(db, [box(x1 + 80 * k, y0, x1 + 80 * k + 100, y0 + 100) for k in range(5)])
    row, end = row[:4], row[4]
    # the bridges leave with the row's end: the first zone falls apart (regrouped in full, the
    # end's zone with it)
    assert not leave([g1, g2, end], "bridges")
    assert zone_of(db, a) is None and zone_of(db, b) is None  # apart: two lone squares
    x0 = x1
    g3, g5 = insert(db, [box(x0 + 20, y0 + 20, x0 + 140, y0 + 80), box(x0 + 180, y0 + 20, x0 + 300, y0 + 80)])
    db.execute(text("UPDATE reports SET technologies = CASE WHEN id = CAST(:a AS uuid) THEN '{3G}' "
                    "WHEN id = CAST(:b AS uuid) THEN '{5G}' ELSE '{4G}' END::varchar[] "
                    "WHERE id = ANY(CAST(:all AS uuid[]))"), {"a": g3, "b": g5, "all": row + [g3, g5]})
    z = zone_of(db, row[0])
    assert db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": z}).scalar_one() == ["3G", "4G", "5G"]
    assert leave([g3, g5], "values")
    assert db.execute(text("SELECT technologies FROM zones WHERE id = :z"), {"z": z}).scalar_one() == ["4G"]

    # across the border: a square mostly on one side (filed twice), two larger ones on the other
    x, y = border_point(db)

    def commune_at(px: float, py: float) -> str | None:
        return commune_of(db, f"SRID=4326;{reproject(Point(px, py), LAMBERT72, WGS84).wkt}")

    for dx, dy in ((1, 0), (0, 1), (0.7, 0.7), (0.7, -0.7)):
        if commune_at(x - 150 * dx, y - 150 * dy) != commune_at(x + 150 * dx, y + 150 * dy):
            break
    here, there = commune_at(x - 150 * dx, y - 150 * dy), commune_at(x + 150 * dx, y + 150 * dy)
    strip = box(x + 60 * dx - 80, y + 60 * dy - 80, x + 60 * dx + 80, y + 60 * dy + 80)  # mostly there
    near_side = [box(x - 150 * dx - 100, y - 150 * dy - 100, x - 150 * dx + 100, y - 150 * dy + 100),
                 box(x - 60 * dx - 100, y - 60 * dy - 100, x - 60 * dx + 100, y - 60 * dy + 100)]  # larger, here
    both = insert(db, [strip, strip] + near_side)
    z = zone_of(db, both[0])
    assert {zone_of(db, i) for i in both} == {z}
    assert db.execute(text("SELECT commune_nis FROM zones WHERE id = :z"), {"z": z}).scalar_one() == here
    assert leave(both[2:], "home")
    assert db.execute(text("SELECT commune_nis FROM zones WHERE id = :z"), {"z": z}).scalar_one() == there
    assert_equal_to_a_recomputation(db)


def test_reports_leaving_together_far_apart_are_searched_around_each(db) -> None:  # noqa: ANN001
    """Reports leaving in one statement from places far apart in one zone: one search joining
    all their neighbours walked the zone between them (at 1,000,000 reports past 5,000 members,
    then a full regrouping of a zone of 494,000 reports: minutes). Adjacent reports leaving
    make one cluster, each cluster is searched around itself: the mesh below is 200 points
    over 1.2 km; two inner points at its two ends, and two neighbours together in the middle,
    leave in one statement, and the searches load a few dozen members each, not the mesh."""
    ids = insert(db, grid(X - 2500, Y + 4000, 20, 10))  # 200 points, 60 m apart: one zone
    zid = zone_of(db, ids[0])
    leaving = [ids[5 * 20 + 2], ids[5 * 20 + 17], ids[4 * 20 + 9], ids[4 * 20 + 10]]
    db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE id = ANY(CAST(:i AS uuid[]))"), {"i": leaving})
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")).scalar_one() == 4  # shrunk
    # the last cluster's search (which one is last depends on the ids): around one place, at
    # most a 9 × 9 block of the mesh for the pair (its far neighbours 4 steps apart around it),
    # 7 × 7 for a lone point; one search across the mesh loaded 186 of its 196 members
    assert searched(db) <= 81
    assert members(db, zid) == set(ids) - set(leaving)
    assert_equal_to_a_recomputation(db)


def test_any_number_of_reports_leaving_in_one_statement_shrink_their_zone_8_at_a_time(db) -> None:  # noqa: ANN001
    """A bulk transition of more than 8 reports regrouped every zone they left in full (at
    1,000,000 reports, a zone of 494,000: minutes). Each zone's leaving reports now shrink it 8
    at a time, in id order, the later ones still members while the first shrink it. Compared
    with a full regrouping each time: 20 points far apart leaving a mesh (shrunk 8, 8, then 4);
    two parallel bridges that split a zone only together, one in the first eight and one in
    the second (the first shrink keeps the zone whole through the other bridge, the second
    cannot, and the rest is regrouped); 12 reports leaving a confirmed zone."""
    from tests.test_zones_grow import _as_a_regrouping_would

    def leave(report_ids: list[str], step: object) -> int:
        def run() -> None:
            db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = ANY(CAST(:i AS uuid[]))"),
                       {"i": report_ids})
        _as_a_regrouping_would(db, run, report_ids, "reports_group_zones_update", step)
        return db.execute(text("SELECT count(*) FROM pg_temp.zone_work WHERE gen = -1")).scalar_one()

    ids = insert(db, grid(X - 2500, Y + 16000, 20, 10))  # 200 points, 60 m apart: one zone
    zid = zone_of(db, ids[0])
    inner = [ids[j * 20 + i] for j in (2, 4, 6) for i in range(2, 18, 3)][:20]  # none adjacent to another
    assert len(inner) == 18
    inner += [ids[8 * 20 + 3], ids[8 * 20 + 9]]
    assert leave(inner, "mesh") == 4  # the last of three shrinks (8 + 8 + 4): no full regrouping
    assert members(db, zid) == set(ids) - set(inner)

    # two squares 100 m apart, joined by two parallel bridges; a row of squares from the second,
    # each doubled (its copy covers it: leaving, it keeps the zone whole)
    x0, y0 = X - 2000, Y + 17500
    bridges = [box(x0 + 50, y0 + 10, x0 + 250, y0 + 40), box(x0 + 50, y0 + 60, x0 + 250, y0 + 90)]
    squares = [box(x0, y0, x0 + 100, y0 + 100)] + [box(x0 + 200 + 80 * k, y0, x0 + 300 + 80 * k, y0 + 100)
                                                     for k in range(8)]
    first, spare, last = ("00000000-0000-4000-8000-00000000000" + str(k) for k in (1, 2, 3))
    copies = [f"00000000-0000-4000-8000-0000000001{k:02d}" for k in range(7)]
    bridge_ids = insert(db, bridges, ids=[first, "ffffffff-0000-4000-8000-000000000001"])
    kept = insert(db, squares + squares[1:8], ids=[spare, last] + [None] * 7 + copies)
    assert {zone_of(db, i) for i in bridge_ids + kept} == {zone_of(db, first)}
    leaving = [bridge_ids[0], *copies, bridge_ids[1]]  # in id order: a bridge and 7 copies, then the other
    leave(leaving, "bridges in two eights")
    assert zone_of(db, spare) is None  # the first square is apart, alone
    assert zone_of(db, last) is not None and zone_of(db, last) == zone_of(db, kept[-8])

    rng = random.Random(41)
    shapes = [random_shape(rng, X + 1500, Y + 16000, 600, 400, points=0.3, areas=0.4) for _ in range(120)]
    confirmed = insert(db, shapes, rng=rng)
    big = max({zone_of(db, i) for i in confirmed} - {None}, key=lambda z: len(members(db, z)))
    zones.confirm_zone(db, _admin(db), big)
    assert leave(rng.sample(sorted(members(db, big)), 12), "confirmed") == 4  # the cohort stays whole: 8 + 4
    assert_equal_to_a_recomputation(db)


def split_off(db) -> int:  # noqa: ANN001
    """How many members this transaction's last shrink split off its zone (0: none)."""
    return int(db.execute(text("SELECT current_setting('geosignal.zones_split_off', true)")).scalar() or 0)


def _mesh_with_a_tail(db, y: float, tail_first: bool = False) -> tuple[list[str], str, list[str]]:  # noqa: ANN001
    """A mesh of 250 points 60 m apart (one zone, more than the 200 members a search loads
    before it counts as reaching a part not proven closed), a bridge point 90 m east of its
    south-east corner (adjacent to that corner alone: 108 m from the next) and a tail of two
    points beyond it, 90 m apart (EPSG:31370). ``tail_first``: the tail filed first (the
    zone's oldest reports)."""
    x0 = X - 2500
    corner = x0 + 24 * 60
    tail_shapes = [Point(corner + 180, y), Point(corner + 270, y)]
    tail = insert(db, tail_shapes) if tail_first else []
    mesh = insert(db, grid(x0, y, 25, 10))
    [bridge] = insert(db, [Point(corner + 90, y)])
    if not tail_first:
        tail = insert(db, tail_shapes)
    assert len({zone_of(db, i) for i in mesh + [bridge] + tail}) == 1
    return mesh, bridge, tail


def test_a_report_whose_leaving_breaks_off_a_small_part_shrinks_the_zone_and_groups_the_part_apart(db) -> None:  # noqa: ANN001, E501
    """A withdrawal that splits a zone regrouped it whole (at 1,000,000 reports, a leaf of two
    reports breaking off a zone of 494,000: minutes, every writer of the network waiting). The
    searches from the report's neighbours find the part they reach whole (within 200
    members): the zone loses it and it is grouped apart; the zone keeps its id, as a full
    regrouping gives it to the part holding the oldest report. When that report is in the
    small part, the zone is regrouped in full."""
    from tests.test_zones_grow import _as_a_regrouping_would

    def leave(report_ids: list[str], step: object) -> None:
        def run() -> None:
            db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = ANY(CAST(:i AS uuid[]))"),
                       {"i": report_ids})
        _as_a_regrouping_would(db, run, report_ids, "reports_group_zones_update", step)

    mesh, bridge, tail = _mesh_with_a_tail(db, Y + 20000)
    zid = zone_of(db, mesh[0])
    leave([bridge], "bridge")
    assert split_off(db) == 2
    assert members(db, zid) == set(mesh)
    assert zone_of(db, tail[0]) == zone_of(db, tail[1]) not in (None, zid)  # the tail, a zone of its own

    # a leaf alone: the report holding one point to the mesh leaves, the point is in no zone
    leaf_mesh = insert(db, grid(X - 2500, Y + 21000, 25, 10))
    # (the leaf's id the highest: the search from the mesh's side runs first, past 200 members)
    [hook, leaf] = insert(db, [Point(X - 2500 + 24 * 60 + 90, Y + 21000), Point(X - 2500 + 24 * 60 + 180, Y + 21000)],
                          ids=[None, "ffffffff-ffff-4fff-bfff-ffffffffff01"])
    leave([hook], "leaf")
    assert split_off(db) == 1 and zone_of(db, leaf) is None and zone_of(db, leaf_mesh[0]) is not None

    # the tail is the zone's oldest part: a regrouping gives it the zone's id, so the zone is regrouped
    mesh, bridge, tail = _mesh_with_a_tail(db, Y + 22000, tail_first=True)
    zid = zone_of(db, mesh[0])
    leave([bridge], "oldest in the tail")
    assert split_off(db) == 0 and zone_of(db, tail[0]) == zid and zone_of(db, mesh[0]) != zid

    # several clusters in one statement, one of them a bridge: 8 together cannot, one by one can
    mesh, bridge, tail = _mesh_with_a_tail(db, Y + 23000)
    zid = zone_of(db, mesh[0])
    inner = [mesh[j * 25 + i] for j in (3, 6) for i in (3, 8, 13)] + [mesh[8 * 25 + 5]]
    leave([bridge, *inner], "bridge among eight")
    assert members(db, zid) == set(mesh) - set(inner)
    assert zone_of(db, tail[0]) == zone_of(db, tail[1]) not in (None, zid)
    assert_equal_to_a_recomputation(db)


def test_a_bridge_moved_away_breaks_off_its_tail_as_a_regrouping_would(db) -> None:  # noqa: ANN001
    """The report holding a tail to the zone moved 1 km south: the zone loses the report and the tail
    (split off, grouped apart), and the report joins what it touches where it is."""
    from shapely import affinity

    from geosignal.services.intake import ReportInput
    from geosignal.services.workflow import etag
    from tests.test_zones_grow import _as_a_regrouping_would

    mesh, bridge, tail = _mesh_with_a_tail(db, Y + 2000)
    zid = zone_of(db, mesh[0])
    admin = _admin(db)
    feature = reports_service.get_report(db, admin, bridge)
    import shapely

    geom = reproject(shapely.geometry.shape(feature["geometry"]), WGS84, LAMBERT72)
    moved = reproject(affinity.translate(geom, 0, -1000), LAMBERT72, WGS84)
    props = {k: v for k, v in reports_service.current_input(feature).items() if k != "observed_at"}

    def run() -> None:
        reports_service.edit_report(db, admin, bridge, ReportInput(moved, props),
                                    if_match=etag(feature["properties"]["revision"]))

    _as_a_regrouping_would(db, run, [bridge], "reports_group_zones_update", "moved", same_ids=False)
    assert split_off(db) == 2 and members(db, zid) == set(mesh)
    assert zone_of(db, bridge) is None and zone_of(db, tail[0]) == zone_of(db, tail[1]) is not None
    assert_equal_to_a_recomputation(db)


def test_two_bridges_leaving_together_around_a_small_part_split_the_zone_in_two_large_parts(db) -> None:  # noqa: ANN001
    """Two meshes joined only through a chain bridge — small part — bridge, both bridges leaving
    in one statement (two clusters). Each bridge alone sees the small part closed and one large
    part on its side: the two large parts are not the same, the zone falls apart in three. A
    part split off is taken only for one cluster; two clusters, then each bridge alone, are
    regrouped in full here, as a regrouping makes them."""
    from tests.test_zones_grow import _as_a_regrouping_would

    y = Y + 25000
    x0 = X - 2500
    east = x0 + 24 * 60
    west = insert(db, grid(x0, y, 25, 10))
    c1, s1, s2, c2 = insert(db, [Point(east + 90 * k, y) for k in (1, 2, 3, 4)])
    other = insert(db, grid(east + 90 * 5, y, 25, 10))
    zid = zone_of(db, west[0])
    assert {zone_of(db, i) for i in west + other + [c1, s1, s2, c2]} == {zid}

    def run() -> None:
        db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = ANY(CAST(:i AS uuid[]))"), {"i": [c1, c2]})

    _as_a_regrouping_would(db, run, [c1, c2], "reports_group_zones_update", "two bridges")
    assert members(db, zid) == set(west)
    assert zone_of(db, other[0]) not in (None, zid) and members(db, zone_of(db, other[0])) == set(other)
    assert zone_of(db, s1) == zone_of(db, s2) not in (None, zid, zone_of(db, other[0]))
    assert_equal_to_a_recomputation(db)
