"""A commune loaded with a new boundary moves the home commune of the zones it holds or touches
(migration 0037, ``zones_rehome``): the zones' homes and the places each commune counts equal a
full regrouping after the load, as after any zone pass."""

from __future__ import annotations

from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from geosignal.services import zones
from geosignal.services.communes import commune_of, load_communes
from tests.conftest import COMMUNES_FILE
from tests.factories import border_point, communes_file_with_border_moved
from tests.test_zones import _admin
from tests.test_zones_grow import assert_equal_to_a_recomputation, insert


def _homes(db) -> dict[int, str]:  # noqa: ANN001
    return dict(db.execute(text("SELECT id, commune_nis FROM zones")).all())


def _numbers(db) -> dict[int, int]:  # noqa: ANN001
    return dict(db.execute(text("SELECT zone_id, change_seq FROM zone_changes")).all())


def test_a_border_moved_by_a_commune_load_moves_the_homes_of_the_zones_it_crosses(db, tmp_path) -> None:  # noqa: ANN001
    """Zones on the Charleroi/Châtelet border (a proposed one of the mobile network, a
    confirmed one of the fixed network; the mobile one holds a point and a line too) have
    their home on one side. A corrected boundary file gives the other side a square around them: after the load
    their homes are the other commune, the places are recounted (zone_counts equal the zones),
    the confirmed zone is numbered for incremental exports, a zone away from the border keeps
    its home and its number, and everything equals a full regrouping. The original file loaded
    back moves them home again; loading it once more changes nothing."""
    x, y = border_point(db)
    square = box(x - 150, y - 150, x + 150, y + 150)
    mobile = insert(db, [square, box(x - 100, y - 100, x + 100, y + 100)])
    fixed = insert(db, [square, square], network="fixed")
    mixed = insert(db, [Point(x + 20, y + 20), LineString([(x - 200, y - 30), (x + 200, y + 30)])])
    far = insert(db, [box(x + 5000, y + 5000, x + 5100, y + 5100)] * 2, network="fixed")  # not moved
    # each report homed by the rule, as filed (the factory homes them all in Charleroi): a load
    # gives the reports it crosses their home by the rule too
    for rid, g in db.execute(text("SELECT id, ST_AsEWKT(geometry) FROM reports")).all():
        db.execute(text("UPDATE reports SET commune_nis = :c WHERE id = :r"), {"c": commune_of(db, g), "r": rid})
    zone_of = dict(db.execute(text("SELECT report_id::text, zone_id FROM zone_reports")).all())
    assert len({zone_of[r] for r in mobile + fixed + far}) == 3 and zone_of[mixed[0]] == zone_of[mobile[0]]
    zones.confirm_zone(db, _admin(db), zone_of[fixed[0]])
    zones.confirm_zone(db, _admin(db), zone_of[far[0]])
    homes = _homes(db)
    start = homes[zone_of[mobile[0]]]
    assert homes[zone_of[fixed[0]]] == start and start in ("52011", "52012")
    other = "52012" if start == "52011" else "52011"
    far_home, numbers = homes[zone_of[far[0]]], _numbers(db)
    figures = zones.zone_figures(db)

    moved = communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                            box(x - 400, y - 400, x + 400, y + 400), other)
    load_communes(db, moved)
    homes = _homes(db)
    assert homes[zone_of[mobile[0]]] == other and homes[zone_of[fixed[0]]] == other
    assert homes[zone_of[far[0]]] == far_home
    after = _numbers(db)
    assert after[zone_of[fixed[0]]] > numbers[zone_of[fixed[0]]]  # the confirmed zone moved: exported again
    assert after[zone_of[far[0]]] == numbers[zone_of[far[0]]]
    assert zones.zone_figures(db) == zones.zone_figures_live(db) != figures
    assert zones.zone_figures(db)[other]["zone_group_count"] == figures.get(other, {}).get("zone_group_count", 0) + 2
    assert_equal_to_a_recomputation(db)

    load_communes(db, COMMUNES_FILE)
    assert _homes(db) == {**homes, zone_of[mobile[0]]: start, zone_of[fixed[0]]: start}
    assert zones.zone_figures(db) == figures
    numbers = _numbers(db)
    load_communes(db, COMMUNES_FILE)  # the same boundaries: nothing moves, nothing is numbered
    assert _numbers(db) == numbers
    assert_equal_to_a_recomputation(db)
