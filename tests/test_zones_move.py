"""A report moved (its geometry edited, still taking part) leaves its zone from where it was and
joins what it touches where it is (``zones_shrink`` with its old geometry, then ``zones_grow``),
instead of its zone being regrouped whole: 1.6 s for a zone of 16,000 reports. Each move is
checked against the same statement regrouped in full."""

from __future__ import annotations

import random

from shapely.geometry import box
from sqlalchemy import text

from geosignal.services import zones
from tests.test_zones import _admin
from tests.test_zones_grow import (
    X,
    Y,
    _as_a_regrouping_would,
    assert_equal_to_a_recomputation,
    insert,
    random_shape,
)
from tests.test_zones_shrink import zone_of


def move(db, report_id: str, dx: float, dy: float, commune: str | None = None) -> None:  # noqa: ANN001
    """Move a report by (dx, dy) metres in EPSG:31370 (one ``UPDATE``; ``commune``: its new
    commune, as an edit reassigns it)."""
    db.execute(text("""
        UPDATE reports SET geometry = ST_Transform(ST_Translate(ST_Transform(geometry, 31370), :dx, :dy), 4326),
               commune_nis = coalesce(:c, commune_nis)
        WHERE id = CAST(:i AS uuid)"""), {"i": report_id, "dx": dx, "dy": dy, "c": commune})


def centre(db, report_id: str) -> tuple[float, float]:  # noqa: ANN001
    """A report's centroid (x, y) in EPSG:31370."""
    return tuple(db.execute(text(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geometry), 31370) AS c FROM reports "
        "WHERE id = CAST(:i AS uuid)) s"), {"i": report_id}).one())


def move_as_a_regrouping_would(db, report_id: str, dx: float, dy: float, step: object,  # noqa: ANN001
                               commune: str | None = None, same_ids: bool = True) -> bool:
    """Move a report and check the zones against a full regrouping of it (members, ids unless
    ``same_ids`` is false, states, unions, technologies, operators, home commune, exports'
    numbering); returns whether the zone passes made the zones themselves."""
    return _as_a_regrouping_would(db, lambda: move(db, report_id, dx, dy, commune), [report_id],
                                  "reports_group_zones_update", step, same_ids)


def test_reports_moved_in_and_out_of_a_zone_as_a_full_regrouping_would(db) -> None:  # noqa: ANN001
    """150 random shapes (points, squares, lines) make one large zone. Members of each kind move
    a little (5–40 m), some far away (alone, or into another zone), and lone reports move into
    the zone; after each, the zones equal a full regrouping of the moved report, and most moves
    were made by the shrinking and growing passes."""
    rng = random.Random(37)
    shapes = [random_shape(rng, X - 3000, Y + 8000, 700, 500, points=0.3, areas=0.4) for _ in range(150)]
    ids = insert(db, shapes, rng=rng)
    assert db.execute(text("SELECT max(report_count) FROM zones")).scalar_one() >= 100
    other = insert(db, [box(X + 1000, Y + 8000, X + 1100, Y + 8100), box(X + 1050, Y + 8000, X + 1150, Y + 8100)],
                   rng=rng)  # another zone, 3.5 km east
    lone = insert(db, [box(X - 3000, Y + 6000, X - 2950, Y + 6050), box(X - 2000, Y + 6000, X - 1950, Y + 6050)],
                  rng=rng)
    assert zone_of(db, lone[0]) is None and zone_of(db, lone[1]) is None
    kinds = {k: [i for i, s in zip(ids, shapes, strict=True) if s.geom_type == k and zone_of(db, i)]
             for k in ("Polygon", "LineString", "Point")}
    fast = steps = 0
    for kind, members in kinds.items():
        for report_id in rng.sample(members, 5):
            dx, dy = rng.choice((-1, 1)) * rng.uniform(5, 40), rng.choice((-1, 1)) * rng.uniform(5, 40)
            fast += move_as_a_regrouping_would(db, report_id, dx, dy, (kind, report_id))
            steps += 1
    away = rng.sample(kinds["Polygon"], 2)
    fast += move_as_a_regrouping_would(db, away[0], 0, -2000, ("alone", away[0]))  # nothing there
    # onto the other zone, confirmed by the referent: it keeps its id and the zone left keeps
    # its own (a full regrouping of the report takes the older id, the left zone's, for one of
    # them and gives the other a new one: the confirmed zone would change id for exports)
    left, joined = zone_of(db, away[1]), zone_of(db, other[0])
    stay = [i for i in kinds["Polygon"] if i not in away and zone_of(db, i) == left]
    zones.confirm_zone(db, _admin(db), joined)
    x0, y0 = centre(db, away[1])
    fast += move_as_a_regrouping_would(db, away[1], X + 1075 - x0, Y + 8050 - y0, ("other zone", away[1]),
                                       same_ids=False)
    assert zone_of(db, away[0]) is None and zone_of(db, away[1]) == joined
    assert left < joined and {zone_of(db, i) for i in stay} == {left}
    assert db.execute(text("SELECT state, report_count FROM zones WHERE id = :z"), {"z": joined}).one() == (
        "confirmed", 3)
    x1, y1 = centre(db, kinds["Polygon"][0])
    for report_id in lone:
        x0, y0 = centre(db, report_id)
        fast += move_as_a_regrouping_would(db, report_id, x1 - x0, y1 - y0, ("into", report_id))
        assert zone_of(db, report_id) == zone_of(db, kinds["Polygon"][0])
    assert fast >= steps  # the small moves at least (a zone split by a move is regrouped in full)
    assert_equal_to_a_recomputation(db)


def test_a_report_moved_across_a_border_changes_commune_and_counts(db) -> None:  # noqa: ANN001
    """A member of a zone on the Charleroi/Châtelet border moves to the other side and changes
    commune (as an edit reassigns it): its zone's places follow (``zone_counts`` equal the
    zones and a full regrouping), through the shrinking and growing passes."""
    from shapely.geometry import Point

    from geosignal.geo import LAMBERT72, WGS84, reproject
    from geosignal.services.communes import commune_of
    from tests.factories import border_point

    def commune_at(px: float, py: float) -> str | None:  # (x, y) in EPSG:31370
        return commune_of(db, f"SRID=4326;{reproject(Point(px, py), LAMBERT72, WGS84).wkt}")

    x, y = border_point(db)
    for dx, dy in ((60, 0), (0, 60), (42, 42), (42, -42)):  # a row of squares across the border
        squares = [box(x + (k - 3) * dx - 40, y + (k - 3) * dy - 40, x + (k - 3) * dx + 40, y + (k - 3) * dy + 40)
                   for k in range(7)]
        communes = [commune_at(s.centroid.x, s.centroid.y) for s in squares]
        if communes[0] != communes[-1]:
            break
    ids = insert(db, squares, communes=communes)
    assert len({zone_of(db, i) for i in ids}) == 1
    # the first square moves past the last one, overlapping it by 20 m: the other side
    target = commune_at(squares[0].centroid.x + 7 * dx - 20 * (dx > 0), squares[0].centroid.y + 7 * dy)
    assert target == communes[-1] != communes[0]
    step_x, step_y = 7 * dx - (20 if dx else 0) * (1 if dx > 0 else -1), 7 * dy - (20 if not dx else 0) * (1 if dy > 0 else -1)
    assert move_as_a_regrouping_would(db, ids[0], step_x, step_y, "across", commune=target)
    assert zone_of(db, ids[0]) == zone_of(db, ids[1])
    assert db.execute(text("SELECT commune_nis FROM zone_reports WHERE report_id = CAST(:i AS uuid)"),
                      {"i": ids[0]}).scalar_one() == target
    assert_equal_to_a_recomputation(db)
