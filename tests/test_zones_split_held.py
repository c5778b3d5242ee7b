"""A split holds through later decisions: confirming, joining or adding to reports kept apart
never brings back the reports they were taken from (nor any report the decision does not
name). The service, the API and the zones page, against PostGIS."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geosignal.errors import GeosignalError
from geosignal.services import zones
from tests.conftest import csrf_token, make_account
from tests.test_zones import X, Y, _admin, file, members, square, zone_of


def _kinds(db, ids: list[str]) -> list[str | None]:  # noqa: ANN001
    """The kind of each report's decision (None: free), in the order of ``ids``."""
    rows = dict(db.execute(text(
        "SELECT d.report_id::text, k.kind FROM zone_decision_reports d JOIN zone_decisions k ON k.id = d.decision_id "
        "WHERE d.report_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}).all())
    return [rows.get(i) for i in ids]


def _split_four(db, dy: float) -> tuple[list[str], int, int]:  # noqa: ANN001
    """Four overlapping 200 m squares 150 m apart (EPSG:31370), one proposed zone Z; the last
    two taken out: Z = the first two, P = the last two (kept apart). Returns (ids, Z, P)."""
    ids = [file(db, square(X + dx, Y + dy)) for dx in (0, 150, 300, 450)]
    zid = zone_of(db, ids[0])["zone_id"]
    assert zone_of(db, ids[3])["zone_id"] == zid
    zones.split_zone(db, _admin(db), zid, ids[2:])
    part = zone_of(db, ids[2])["zone_id"]
    assert part != zid and members(db, zid) == set(ids[:2]) and members(db, part) == set(ids[2:])
    return ids, zid, part


def test_confirming_the_part_taken_out_is_refused_while_it_would_take_back_the_rest(client, db) -> None:  # noqa: ANN001
    """Confirming the two reports taken out (exactly what their zone held) answered 200 with
    the four reports confirmed together: the confirmation replaced their *apart* decision and
    the two free reports they were taken from joined the confirmed zone."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    (a, b, c, d), zid, part = _split_four(db, dy=5000)
    db.commit()
    answer = referent.post(f"/api/v1/zones/{part}/confirm", json={"report_ids": [c, d]})
    problem = answer.get_json()
    assert (answer.status_code, problem["code"], problem["not_named"]) == (409, "zone_would_grow", [a, b]), problem
    # nothing decided: both zones proposed as the split left them, c and d still kept apart
    assert zone_of(db, a) == {"zone_id": zid, "report_count": 2, "state": "proposed"}
    assert zone_of(db, c) == {"zone_id": part, "report_count": 2, "state": "proposed"}
    assert _kinds(db, [a, b, c, d]) == [None, None, "apart", "apart"]
    # the way out the sentence gives: confirm the neighbours' zone first (confirmed zones never merge)
    assert referent.post(f"/api/v1/zones/{zid}/confirm", json={"report_ids": [a, b]}).status_code == 200
    done = referent.post(f"/api/v1/zones/{part}/confirm", json={"report_ids": [c, d]})
    props = done.get_json()["properties"]
    assert (done.status_code, props["state"], props["report_ids"]) == (200, "confirmed", [c, d])
    assert zone_of(db, a) == {"zone_id": zid, "report_count": 2, "state": "confirmed"}
    before = zones.grouping(db)
    zones.recompute_all(db)
    assert zones.grouping(db) == before
    assert zones.zone_figures(db) == zones.zone_figures_live(db)


def test_joining_the_part_taken_out_to_another_zone_is_refused_likewise(db) -> None:  # noqa: ANN001
    """Joining the part taken out to a zone 1.5 km away confirmed its reports together with
    the far zone's, and the two reports they were taken from came along (6 reports, 4 named)."""
    admin = _admin(db)
    (a, b, c, d), zid, part = _split_four(db, dy=5600)
    far = [file(db, square(X + 2000 + dx, Y + 5600)) for dx in (0, 150)]
    zfar = zone_of(db, far[0])["zone_id"]
    with pytest.raises(GeosignalError) as err:
        zones.join_zones(db, admin, part, zfar, [c, d, *far])
    assert (err.value.code, err.value.status, err.value.extra["not_named"]) == ("zone_would_grow", 409, [a, b])
    assert [zone_of(db, i)["zone_id"] for i in (a, c, far[0])] == [zid, part, zfar]
    assert _kinds(db, [a, b, c, d, *far]) == [None, None, "apart", "apart", None, None]
    # joining all three zones' worth is the referent's to say: named, the split is undone knowingly
    feature, _summary = zones.join_zones(db, admin, part, zid, [a, b, c, d])
    assert (feature["properties"]["state"], feature["properties"]["report_ids"]) == ("confirmed", [a, b, c, d])


def test_adding_a_report_taken_out_elsewhere_is_refused_taking_it_back_is_not(db) -> None:  # noqa: ANN001
    """A report taken out of a zone, added to a zone 1.5 km away, brought along the two free
    reports it was taken from (a confirmed zone of 5 reports, 3 named)."""
    admin = _admin(db)
    a, b, r = (file(db, square(X + dx, Y + 6200)) for dx in (0, 150, 300))
    zid = zone_of(db, a)["zone_id"]
    zones.split_zone(db, admin, zid, [r])
    assert zone_of(db, r) is None and members(db, zid) == {a, b}
    far = [file(db, square(X + 2000 + dx, Y + 6200)) for dx in (0, 150)]
    zfar = zone_of(db, far[0])["zone_id"]
    with pytest.raises(GeosignalError) as err:
        zones.add_to_zone(db, admin, zfar, r, far)
    assert (err.value.code, err.value.extra["not_named"]) == ("zone_would_grow", [a, b])
    assert zone_of(db, r) is None and members(db, zfar) == set(far) and _kinds(db, [r]) == ["apart"]
    # taken back into the zone it was taken from (documented): exactly the reports named
    feature, _summary = zones.add_to_zone(db, admin, zid, r, [a, b])
    assert (feature["id"], feature["properties"]["state"], feature["properties"]["report_ids"]) == (
        zid, "confirmed", [a, b, r])


def test_the_zones_page_says_why_the_part_taken_out_is_not_confirmed(db, referent) -> None:  # noqa: ANN001
    """The page's confirm form took the two free reports back in as the API did."""
    (a, _b, c, d), _zid, part = _split_four(db, dy=6800)
    db.commit()
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    answer = referent.client.post(f"/zones/{part}/confirm", data={"csrf_token": token, "report_ids": [c, d]})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert ("Rien n&#39;a été modifié : Cette décision ferait entrer dans la zone des signalements voisins que vous "
            "n&#39;avez pas choisis (un retrait les en tenait séparés) : confirmez d&#39;abord la zone de ces "
            "voisins, ou ajoutez-les à celle-ci.") in page
    assert zone_of(db, c)["state"] == "proposed" and zone_of(db, a)["zone_id"] != zone_of(db, c)["zone_id"]
