"""Reports a few metres apart (a drive test's grid of points) are grouped into the zones the
rule gives, set-wise (migration 0043): the components of points and lines come from one
``ST_ClusterDBSCAN`` call, one edge per report, and a pass looks up the reports around its
points and lines by cell, not around each report (5,000 points on a 10 m grid were 1.4
million pairs, each walked by the union-find). Real PostGIS, real communes; shapes in
EPSG:31370 around Charleroi's centre."""

from __future__ import annotations

from shapely.geometry import Point, box
from sqlalchemy import text

from geosignal.services import zones
from tests.test_zones import _admin
from tests.test_zones_grow import X, Y, assert_equal_to_a_recomputation, insert


def grid(x0: float, y0: float, nx: int, ny: int, step: float = 5.0) -> list:
    """Points on a grid (EPSG:31370) ``step`` metres apart: each within 100 m of hundreds."""
    return [Point(x0 + step * i, y0 + step * j) for j in range(ny) for i in range(nx)]


def zone_of(db, report_id: str) -> int | None:  # noqa: ANN001
    return db.execute(text("SELECT zone_id FROM zone_reports WHERE report_id = CAST(:i AS uuid)"),
                      {"i": report_id}).scalar()


def zones_by_size(db, ids: list[str]) -> list[tuple[int, str]]:  # noqa: ANN001
    """(members, state) of each zone holding one of ``ids``, largest first."""
    return [tuple(r) for r in db.execute(text(
        "SELECT z.report_count, z.state FROM zones z WHERE z.id IN "
        "(SELECT zone_id FROM zone_reports WHERE report_id = ANY(CAST(:i AS uuid[]))) "
        "ORDER BY 1 DESC, 2"), {"i": ids})]


def edges_of(db, ids: list[str]) -> int:  # noqa: ANN001
    """The edges the session's last regrouping kept among ``ids`` (``zone_edges``)."""
    return db.execute(text("SELECT count(*) FROM pg_temp.zone_edges WHERE a = ANY(CAST(:i AS uuid[])) "
                           "OR b = ANY(CAST(:i AS uuid[]))"), {"i": ids}).scalar_one()


def test_a_dense_grid_filed_at_once_is_the_zones_the_rule_gives(db) -> None:  # noqa: ANN001
    x0, y0 = X - 4000, Y - 3000
    (west,) = insert(db, [Point(x0 - 60, y0 + 50)])  # 60 m west of grid a: joins it
    east = insert(db, [Point(x0 + 420, y0 + 20), Point(x0 + 460, y0 + 20)])  # a zone of two, 80 m east of grid b
    east_zone = zone_of(db, east[0])
    assert east_zone is not None and zone_of(db, west) is None
    # grid a: 600 points 5 m apart (145 m × 95 m); grid b, 150 m east of it: 100 points; a point
    # 405 m north of a, alone; in one statement
    ids = insert(db, grid(x0, y0, 30, 20) + grid(x0 + 295, y0, 10, 10) + [Point(x0, y0 + 500)])
    a, b, alone = ids[:600], ids[600:700], ids[700]
    assert len({zone_of(db, i) for i in a + [west]}) == 1
    assert {zone_of(db, i) for i in b + east} == {east_zone}  # the stored zone grew, its id kept
    assert zone_of(db, alone) is None
    assert zones_by_size(db, ids + [west] + east) == [(601, "proposed"), (102, "proposed")]
    # the pass kept one edge per new report of a component (its oldest to each other), and one
    # pair per cell of a component and stored report it reaches (cells of 100 m × 100 m: the
    # west point and the nearer of the two east, each reached from 4 cells at most; the
    # other, 120 m from grid b, joins with its zone), not the ~300,000 pairs of the points
    # within 100 m of each other
    assert db.execute(text("SELECT count(*) FROM pg_temp.zone_edges")).scalar_one() == 599 + 99
    reached = db.execute(text("SELECT count(*), array_agg(DISTINCT b::text) FROM pg_temp.zone_pairs")).one()
    assert reached[0] <= 2 * 4 and set(reached[1]) == {west, east[0]}
    assert_equal_to_a_recomputation(db)
    # the full regrouping too: one edge per report of a component but its oldest
    assert edges_of(db, ids + [west] + east) == 600 + 101
    assert zones_by_size(db, ids + [west] + east) == [(601, "proposed"), (102, "proposed")]


def test_dense_grids_keep_the_referent_s_decisions(db) -> None:  # noqa: ANN001
    """A confirmed grid, a grid split apart from it, and a free grid filed between them: the
    free one joins the confirmed zone (never the reports kept apart), zones (areas) group when
    they share an area or through a point near both, and a full regrouping agrees."""
    admin = _admin(db)
    x0, y0 = X - 4000, Y - 1000
    kept = insert(db, grid(x0, y0, 20, 10))  # 95 m × 45 m
    (zid,) = {zone_of(db, i) for i in kept}
    zones.confirm_zone(db, admin, zid)
    apart = insert(db, grid(x0 + 155, y0, 20, 10))  # 60 m east: joins the confirmed zone
    assert {zone_of(db, i) for i in apart} == {zid}
    zones.split_zone(db, admin, zid, apart)  # then is taken out of it
    assert zones_by_size(db, kept + apart) == [(200, "confirmed"), (200, "proposed")]
    # 40 points 45 m below both grids (within 100 m of each); two squares sharing an area
    # (50 m east of the grid taken apart, which they may not join); two squares 10 m apart (no
    # area shared: no zone), and two more with a point within 100 m of both (one zone of three)
    free = grid(x0 + 100, y0 - 60, 10, 4)
    shapes = [box(x0 + 300, y0, x0 + 340, y0 + 40), box(x0 + 320, y0 + 20, x0 + 360, y0 + 60),
              box(x0 + 500, y0, x0 + 540, y0 + 40), box(x0 + 550, y0, x0 + 590, y0 + 40),
              box(x0 + 700, y0, x0 + 740, y0 + 40), box(x0 + 750, y0, x0 + 790, y0 + 40),
              Point(x0 + 745, y0 + 100)]
    new = insert(db, free + shapes)
    g, squares = new[:40], new[40:]
    assert {zone_of(db, i) for i in g} == {zid}
    assert zone_of(db, apart[0]) not in (None, zid)
    assert zone_of(db, squares[0]) == zone_of(db, squares[1]) is not None
    assert zone_of(db, squares[2]) is None and zone_of(db, squares[3]) is None
    assert len({zone_of(db, i) for i in squares[4:]}) == 1 and zone_of(db, squares[4]) is not None
    everything = kept + apart + new
    expected = [(240, "confirmed"), (200, "proposed"), (3, "proposed"), (2, "proposed")]
    assert zones_by_size(db, everything) == expected
    assert_equal_to_a_recomputation(db)
    assert zones_by_size(db, everything) == expected
    # the regrouping's edges: a component's oldest to each other (199 + 199 + 39 and the two
    # zones' 1 + 2 among the areas and the point), and the free grid's nearness to the
    # confirmed one, one edge per cell and confirmed point it reaches
    assert edges_of(db, everything) <= 199 + 199 + 39 + 1 + 2 + 4 * 200
