"""Editing a report: optimistic concurrency (ETag / If-Match), the same intake as a new report,
the statuses that allow it, and the audit event with values before and after."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import CHARLEROI, make_account, owner_only
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

X, Y = CHARLEROI_LAMBERT72


def _zone(dx: float = 0.0, side: float = 200.0) -> dict:
    return to_geojson_4326(square_lambert(X + dx, Y, side))


def _create(account, **props) -> tuple[str, str]:  # noqa: ANN001, ANN003
    response = account.post("/api/v1/reports", json=feature(_zone(), description="Cave sans réseau", **props))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"], account.get(f"/api/v1/reports/{response.get_json()['id']}").headers["ETag"]


def _area(db, rid: str) -> float:  # noqa: ANN001
    return db.execute(text("SELECT ST_Area(ST_Transform(geometry, 31370)) FROM reports WHERE id = :r"),
                      {"r": rid}).scalar()


def test_get_returns_an_etag_that_changes_with_every_change(representative) -> None:  # noqa: ANN001
    rid, tag = _create(representative)
    assert tag.startswith('"') and tag.endswith('"')
    # the creation answers it too: a first edit needs no read (an idempotent replay answers as the first did)
    created = representative.post("/api/v1/reports", json=feature(_zone(dx=900), description="Grenier"),
                                  headers={"Idempotency-Key": "etag-1"})
    replay = representative.post("/api/v1/reports", json=feature(_zone(dx=900), description="Grenier"),
                                 headers={"Idempotency-Key": "etag-1"})
    assert created.status_code == 201 and created.headers["ETag"] == representative.get(
        created.headers["Location"]).headers["ETag"]
    assert replay.headers["Idempotent-Replayed"] == "true" and "ETag" not in replay.headers
    edited = representative.patch(created.headers["Location"], json={"properties": {"description": "Combles"}},
                                  headers={"If-Match": created.headers["ETag"]})
    assert edited.status_code == 200
    response = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Sous-sol"}},
                                     headers={"If-Match": tag})
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] != tag
    assert representative.get(f"/api/v1/reports/{rid}").headers["ETag"] == response.headers["ETag"]


def test_edit_geometry_and_attributes_is_recorded_before_and_after(db, representative) -> None:  # noqa: ANN001
    rid, tag = _create(representative, households_affected=3)
    assert _area(db, rid) == pytest.approx(40_000, rel=1e-3)
    body = {"geometry": _zone(side=300.0), "properties": {"description": "Rue de l'Église", "households_affected": 0}}
    response = representative.patch(f"/api/v1/reports/{rid}", json=body, headers={"If-Match": tag})
    assert response.status_code == 200, response.get_json()
    props = response.get_json()["properties"]
    assert props["description"] == "Rue de l'Église" and props["households_affected"] == 0
    assert props["area_m2"] == pytest.approx(90_000, rel=1e-3)
    assert _area(db, rid) == pytest.approx(90_000, rel=1e-3)
    event = db.execute(text("SELECT action, actor_role, before, after FROM audit_events "
                            "WHERE report_id = :r ORDER BY id DESC LIMIT 1"), {"r": rid}).one()
    assert event.action == "edit" and event.actor_role == "representative"
    assert event.before["description"] == "Cave sans réseau" and event.after["description"] == "Rue de l'Église"
    assert (event.before["households_affected"], event.after["households_affected"]) == (3, 0)
    assert event.before["geometry"]["type"] == event.after["geometry"]["type"] == "Polygon"
    assert event.before["geometry"] != event.after["geometry"]
    assert "network" not in event.after  # only what changed
    # the stored figures follow: Charleroi's white-zone area grew by 50,000 m²
    stats = representative.get(f"/api/v1/stats/communes/{CHARLEROI}").get_json()
    assert stats["source"] == "stored" and stats["white_zone_area_m2"] == pytest.approx(90_000, rel=1e-3)


def test_stale_if_match_is_412_and_the_other_change_survives(db, client, representative) -> None:  # noqa: ANN001
    rid, tag = _create(representative)
    colleague = make_account(client, db, "agent@charleroi.be", "representative", CHARLEROI)
    first = colleague.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Version de l'agent"}},
                            headers={"If-Match": tag})
    assert first.status_code == 200
    stale = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Ma version"}},
                                 headers={"If-Match": tag})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    assert stale.get_json()["etag"] == first.headers["ETag"]
    assert representative.get(f"/api/v1/reports/{rid}").get_json()["properties"]["description"] == "Version de l'agent"
    edits = db.execute(text("SELECT count(*) FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                       {"r": rid}).scalar()
    assert edits == 1


def test_a_weak_if_match_never_matches(representative) -> None:  # noqa: ANN001
    """RFC 9110 §13.1.1: If-Match compares strongly; W/"n" does not vouch for the exact state."""
    rid, tag = _create(representative)
    weak = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Faible"}},
                                headers={"If-Match": f"W/{tag}"})
    assert weak.status_code == 412 and weak.get_json()["code"] == "precondition_failed"
    assert weak.get_json()["etag"] == tag
    listed = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Forte"}},
                                  headers={"If-Match": f'W/{tag}, "999999", {tag}'})
    assert listed.status_code == 200 and listed.get_json()["properties"]["description"] == "Forte"


def test_missing_if_match_is_428(representative) -> None:  # noqa: ANN001
    rid, _ = _create(representative)
    response = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "x"}})
    assert response.status_code == 428 and response.get_json()["code"] == "precondition_required"


def test_edit_goes_through_intake(db, representative) -> None:  # noqa: ANN001
    rid, tag = _create(representative)
    bow_tie = {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.42], [4.45, 50.41], [4.44, 50.42],
                                                   [4.44, 50.41]]]}
    cases = [({"geometry": bow_tie}, "self_intersection"),
             ({"properties": {"network": "satellite-phone"}}, "invalid_attribute"),
             ({"geometry": to_geojson_4326(square_lambert(X, Y, 5.0))}, "area_too_small"),
             ({"geometry": {"type": "Point", "coordinates": [3.0, 51.0]}}, "outside_service_area")]
    for body, code in cases:
        response = representative.patch(f"/api/v1/reports/{rid}", json=body, headers={"If-Match": tag})
        assert response.status_code == 422 and response.get_json()["code"] == code, (body, response.get_json())
    assert _area(db, rid) == pytest.approx(40_000, rel=1e-3)  # nothing changed
    raw = representative.patch(f"/api/v1/reports/{rid}", data='{"properties": {"households_affected": NaN}}',
                               content_type="application/json", headers={"If-Match": tag})
    assert raw.status_code == 422 and raw.get_json()["code"] == "non_finite_number"


def test_only_the_commune_edits_and_only_while_open(db, client, representative, referent) -> None:  # noqa: ANN001
    rid, tag = _create(representative)
    other = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    body = {"properties": {"description": "autre"}}
    assert other.patch(f"/api/v1/reports/{rid}", json=body, headers={"If-Match": tag}).status_code == 404
    response = referent.patch(f"/api/v1/reports/{rid}", json=body, headers={"If-Match": tag})
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
    # needs_info: still editable
    asked = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "needs_info", "reason": "Quelle rue ?"})
    tag = asked.headers["ETag"]
    ok = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Rue Neuve"}},
                              headers={"If-Match": tag})
    assert ok.status_code == 200
    answered = representative.post(f"/api/v1/reports/{rid}/transitions", json={"to": "submitted",
                                                                                 "reason": "Rue Neuve, 12"})
    assert answered.status_code == 200
    validated = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"})
    response = representative.patch(f"/api/v1/reports/{rid}", json=body,
                                     headers={"If-Match": validated.headers["ETag"]})
    assert response.status_code == 409 and response.get_json()["code"] == "not_editable"


def test_a_draft_is_created_then_submitted(db, representative, referent) -> None:  # noqa: ANN001
    response = representative.post("/api/v1/reports", json=feature(_zone(), status="draft"))
    assert response.status_code == 201 and response.get_json()["properties"]["status"] == "draft"
    rid = response.get_json()["id"]
    assert referent.get(f"/api/v1/stats/communes/{CHARLEROI}").get_json()["report_count"] == 0  # drafts do not count
    assert representative.post(f"/api/v1/reports/{rid}/transitions", json={"to": "submitted"}).status_code == 200
    assert referent.get(f"/api/v1/stats/communes/{CHARLEROI}").get_json()["report_count"] == 1
    bad = representative.post("/api/v1/reports", json=feature(_zone(dx=500), status="validated"))
    assert bad.status_code == 422 and bad.get_json()["where"] == "/properties/status"


def test_an_unchanged_geometry_sent_back_is_not_an_edit(db, representative) -> None:  # noqa: ANN001
    rid, tag = _create(representative)
    stored = representative.get(f"/api/v1/reports/{rid}").get_json()
    response = representative.patch(f"/api/v1/reports/{rid}", json={"geometry": stored["geometry"]},
                                     headers={"If-Match": tag})
    assert response.status_code == 200 and response.headers["ETag"] == tag
    assert db.execute(text("SELECT count(*) FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                      {"r": rid}).scalar() == 0


@pytest.mark.parametrize("sent", [
    {"operators": ["Orange", "Proximus"]},  # the stored set in another order
    {"description": "Cave sans réseau\r\nau fond"},  # CRLF for the stored LF
    {"technologies": ["5G", "4G"], "operators": ["Orange", "Proximus"], "description": "Cave sans réseau\rau fond"},
])
def test_a_patch_that_says_the_same_thing_is_not_an_edit(db, representative, sent) -> None:  # noqa: ANN001
    response = representative.post("/api/v1/reports", json=feature(
        _zone(), description="Cave sans réseau\nau fond", operators=["Proximus", "Orange"], technologies=["4G", "5G"]))
    assert response.status_code == 201, response.get_json()
    rid = response.get_json()["id"]
    before = representative.get(f"/api/v1/reports/{rid}")
    events = db.execute(text("SELECT count(*) FROM audit_events WHERE report_id = :r"), {"r": rid}).scalar()
    response = representative.patch(f"/api/v1/reports/{rid}", json={"properties": sent},
                                    headers={"If-Match": before.headers["ETag"]})
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == before.headers["ETag"]
    assert response.get_json()["properties"] == before.get_json()["properties"]
    assert db.execute(text("SELECT count(*) FROM audit_events WHERE report_id = :r"), {"r": rid}).scalar() == events


def test_a_description_is_stored_with_lf_line_ends_whoever_sends_it(representative) -> None:  # noqa: ANN001
    response = representative.post("/api/v1/reports", json=feature(_zone(), description="Rue A\r\nRue B\rRue C"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["properties"]["description"] == "Rue A\nRue B\nRue C"


@owner_only  # (it gives the report its neighbour as home, as an earlier rule could have)
@pytest.mark.parametrize("editor", ["representative", "admin"])
@pytest.mark.parametrize("change", [{}, {"description": "Cave, toujours sans réseau"}], ids=["nothing", "description"])
def test_a_geometry_sent_back_unchanged_keeps_its_home(client, db, admin, change, editor):  # noqa: ANN001
    # the home commune is given with the geometry: a report whose stored home is not the one the
    # rule gives its geometry now (a square across a border, homed by an earlier rule), sent
    # back with the same geometry, measured another home. Nothing else changed, the UPDATE had
    # no column (500); with the description changed, the journal said the report moved commune
    # while the row kept its home; and its commune's representative was refused
    # not_your_commune for a report that did not move
    from tests.factories import border_point

    x, y = border_point(db)
    created = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x, y, 100)),
                                                         description="Cave sans réseau"))
    assert created.status_code == 201, created.get_json()
    rid, measured = created.get_json()["id"], created.get_json()["properties"]["commune_nis"]
    home = "52012" if measured == "52011" else "52011"
    db.execute(text("UPDATE reports SET commune_nis = :h WHERE id = :r"), {"h": home, "r": rid})
    db.commit()
    clerk = make_account(client, db, "greffe@commune.be", "representative", home) if editor == "representative" else admin
    current = clerk.get(f"/api/v1/reports/{rid}")
    response = clerk.patch(f"/api/v1/reports/{rid}", json={"geometry": current.get_json()["geometry"],
                                                           "properties": change},
                           headers={"If-Match": current.headers["ETag"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["properties"]["commune_nis"] == home
    assert db.scalar(text("SELECT commune_nis FROM reports WHERE id = :r"), {"r": rid}) == home
    events = db.execute(text("SELECT before, after FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                        {"r": rid}).all()
    assert [(e.before, e.after) for e in events] == (
        [({"description": "Cave sans réseau"}, change)] if change else [])
