"""The referent joins two zones of one network that speak of the same place although they
lie apart (both ends of a village): one confirmed zone from then on, whatever later reports
and regroupings do; the zones page offers the nearby zones of the same network. Service,
API and page against PostGIS."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geosignal.errors import GeosignalError
from geosignal.services import zones
from tests.conftest import csrf_token, make_account
from tests.test_zones import X, Y, _admin, file, members, square, zone_of


def _two_zones(db, dy: float = 9000, network: str = "mobile") -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Two proposed zones of two reports each, 1.2 km apart (EPSG:31370)."""
    a = [file(db, square(X + dx, Y + dy), network) for dx in (0, 150)]
    b = [file(db, square(X + 1500 + dx, Y + dy), network) for dx in (0, 150)]
    return a, b


def test_two_zones_apart_become_one_confirmed_zone_for_good(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, b = _two_zones(db)
    za, zb = zone_of(db, a[0])["zone_id"], zone_of(db, b[0])["zone_id"]
    assert za != zb
    # what the page offers: B, 1,150 m away in EPSG:31370 (gap between the squares); nothing within 1 km
    (near,) = zones.nearby_zones(db, [za])[za]
    assert (near["id"], near["distance_m"], near["report_count"], near["state"]) == (zb, 1150, 2, "proposed")
    assert zones.nearby_zones(db, [za], within_m=1000) == {za: []}
    feature, summary = zones.join_zones(db, admin, za, zb, [*b, *a])
    props = feature["properties"]
    assert (props["state"], props["report_count"], sorted(props["report_ids"])) == ("confirmed", 4, sorted(a + b))
    assert feature["geometry"]["type"] == "MultiPolygon" and len(feature["geometry"]["coordinates"]) == 2
    # two 200 m squares and two 200 m squares, each pair overlapping by 50 m: 2 × 350 × 200 m²
    assert props["area_m2"] == pytest.approx(140_000, rel=1e-3)
    joined = feature["id"]
    assert summary["joined"] == [za, zb] and summary["zone_id"] == joined and set(summary["report_ids"]) == set(a + b)
    assert members(db, joined) == set(a + b)
    assert db.scalar(text("SELECT count(DISTINCT decision_id) FROM zone_decision_reports "
                          "WHERE report_id = ANY(CAST(:ids AS uuid[]))"), {"ids": a + b}) == 1
    # it holds through a full regrouping and a later report touching one end
    before = zones.grouping(db)
    zones.recompute_all(db)
    assert zones.grouping(db) == before
    c = file(db, square(X + 1500 + 300, Y + 9000))
    assert zone_of(db, c) == {"zone_id": joined, "report_count": 5, "state": "confirmed"}
    assert zones.zone_figures(db) == zones.zone_figures_live(db)


def test_a_join_refuses_itself_another_network_a_stale_view_and_the_representative(client, db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, b = _two_zones(db, dy=9600)
    f = [file(db, square(X + 3000 + dx, Y + 9600), "fixed") for dx in (0, 150)]
    db.commit()
    za, zb, zf = (zone_of(db, ids[0])["zone_id"] for ids in (a, b, f))
    for other, code in ((za, "invalid_join"), (zf, "invalid_join"), ("12.5", "invalid_join"), (True, "invalid_join"),
                        (10**12, "not_found")):
        with pytest.raises(GeosignalError) as err:
            zones.join_zones(db, admin, za, other)
        assert err.value.code == code, other
        db.rollback()
    with pytest.raises(GeosignalError) as err:
        zones.join_zones(db, admin, za, zb, a)  # the referent saw A alone
    assert err.value.code == "zone_changed" and set(err.value.extra["report_ids"]) == set(a + b)
    db.rollback()
    referent = make_account(client, db, "referent@igretec.com", "referent")
    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    db.commit()
    assert charleroi.post(f"/api/v1/zones/{za}/join", json={"zone_id": zb}).status_code == 403
    missing = referent.post(f"/api/v1/zones/{za}/join", json={})
    assert (missing.status_code, missing.get_json()["code"], missing.get_json()["where"]) == (
        400, "invalid_request", "/zone_id")
    other = referent.post(f"/api/v1/zones/{za}/join", json={"zone_id": zf})
    assert (other.status_code, other.get_json()["code"]) == (422, "invalid_join")
    # a member the endpoint does not take is refused, as on the report endpoints: nothing joined
    for url, body in ((f"/api/v1/zones/{za}/join", {"zone_id": zb, "zone_ids": [zb]}),
                      (f"/api/v1/zones/{za}/confirm", {"report_ids": a + b, "extra": 1}),
                      (f"/api/v1/zones/{za}/split", {"report_ids": a, "dry_run": True})):
        unknown = referent.post(url, json=body)
        problem = unknown.get_json()
        assert (unknown.status_code, problem["code"], problem["where"]) == (
            400, "invalid_request", "/" + next(k for k in body if k not in ("zone_id", "report_ids"))), url
    assert zone_of(db, a[0])["zone_id"] == za and zone_of(db, b[0])["zone_id"] == zb
    done = referent.post(f"/api/v1/zones/{za}/join", json={"zone_id": zb, "report_ids": a + b})
    assert done.status_code == 200 and done.get_json()["properties"]["report_count"] == 4
    event = db.execute(text("SELECT details FROM audit_events WHERE action = 'merge' ORDER BY id DESC LIMIT 1")).scalar()
    assert event["joined"] == [za, zb]


def test_the_zones_page_offers_the_nearby_zones_of_the_network_and_joins_them(client, db) -> None:  # noqa: ANN001
    a, b = _two_zones(db, dy=10200)
    f = [file(db, square(X + 700 + dx, Y + 10200), "fixed") for dx in (0, 150)]
    db.commit()
    za, zb, zf = (zone_of(db, ids[0])["zone_id"] for ids in (a, b, f))
    referent = make_account(client, db, "referent@igretec.com", "referent")
    db.commit()
    assert referent.login().status_code == 302
    page = client.get("/zones").get_data(as_text=True)
    card = page.split(f'id="zone-{za}"')[1].split("</li>\n      {% endfor %}")[0].split('class="queue-item')[0]
    options = card.split('class="zone-join"')[1].split("</fieldset>")[0]
    assert f'value="{zb}"' in options and f'value="{zf}"' not in options  # (the fixed-network zone is nearer)
    # named by its reports (two places of one commune read apart); the gap between the two
    # zones: 1,150 m, said in km (the unit kept with its number)
    refs = ", ".join(f'<span class="nowrap">{r}</span>' for r in db.scalars(
        text("SELECT reference FROM reports WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY seq"), {"ids": b}))
    assert (f'<input type="radio" name="other" value="{zb}" checked> <span>Les Bons Villers, 2 signalements '
            f'({refs}), à 1,2\u00a0km</span>') in options
    joined = client.post(f"/zones/{za}/join", data={"csrf_token": csrf_token(page), "other": str(zb)},
                         follow_redirects=True)
    assert "Zones réunies : leurs 4 signalements sont un seul lieu." in joined.get_data(as_text=True)
    assert zone_of(db, a[0])["zone_id"] == zone_of(db, b[1])["zone_id"]
    assert zone_of(db, a[0])["state"] == "confirmed"
    # the page read before the join still offers the zone that is gone: nothing changes, said
    gone_id = za if zone_of(db, a[0])["zone_id"] == zb else zb
    gone = client.post(f"/zones/{zone_of(db, a[0])['zone_id']}/join",
                       data={"csrf_token": csrf_token(page), "other": str(gone_id)})
    assert gone.status_code == 404 and "Rien n&#39;a été modifié" in gone.get_data(as_text=True)


def _zone_and_lone_reports(db, dy: float) -> tuple[list[str], dict[str, str]]:  # noqa: ANN001
    """A proposed zone of two 200 m squares (350 × 200 m, EPSG:31370) and, east of it, reports
    in no zone: a fixed-network one 200 m away, a rejected one 400 m away, a mobile one 800 m
    away (``lone``); west of it, another zone 1,150 m away (``other``: one of its reports)."""
    a = [file(db, square(X + dx, Y + dy)) for dx in (0, 150)]
    others = {"fixed": file(db, square(X + 550, Y + dy), "fixed"),
              "rejected": file(db, square(X + 750, Y + dy)),
              "lone": file(db, square(X + 1150, Y + dy))}
    db.execute(text("UPDATE reports SET status = 'rejected' WHERE id = CAST(:id AS uuid)"), {"id": others["rejected"]})
    b = [file(db, square(X - 1500 + dx, Y + dy)) for dx in (0, 150)]
    others["other"] = b[0]
    return a, others


def test_a_lone_report_nearby_is_offered_and_added_to_the_zone_for_good(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, others = _zone_and_lone_reports(db, dy=11000)
    za = zone_of(db, a[0])["zone_id"]
    assert zone_of(db, others["lone"]) is None
    # offered: the mobile report in no zone, 800 m away; not the fixed one, the rejected one nor another zone's
    (offer,) = zones.nearby_reports(db, [za])[za]
    reference = db.scalar(text("SELECT reference FROM reports WHERE id = CAST(:id AS uuid)"), {"id": others["lone"]})
    assert offer == {"id": others["lone"], "reference": reference, "commune_nis": "52075", "distance_m": 800}
    assert zones.nearby_reports(db, [za], within_m=700) == {za: []}
    feature, summary = zones.add_to_zone(db, admin, za, others["lone"], list(reversed(a)))
    props = feature["properties"]
    assert (feature["id"], props["state"], props["report_count"]) == (za, "confirmed", 3)
    assert props["report_ids"] == [*a, others["lone"]]
    # 350 × 200 m² and 200 × 200 m², 800 m apart
    assert props["area_m2"] == pytest.approx(110_000, rel=1e-3)
    decision = db.scalar(text("SELECT decision_id FROM zone_decision_reports WHERE report_id = CAST(:r AS uuid)"),
                         {"r": others["lone"]})
    assert summary == {"zone_id": za, "network": "mobile", "report_ids": [*a, others["lone"]],
                       "added": [others["lone"]], "decision_id": decision}
    assert zones.nearby_reports(db, [za]) == {za: []}
    before = zones.grouping(db)
    zones.recompute_all(db)
    assert zones.grouping(db) == before
    assert zones.zone_figures(db) == zones.zone_figures_live(db)


def test_adding_refuses_another_network_a_zone_member_an_uncounted_status_and_a_stale_view(client, db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, others = _zone_and_lone_reports(db, dy=11600)
    db.commit()
    za, zb = zone_of(db, a[0])["zone_id"], zone_of(db, others["other"])["zone_id"]
    cases = ((others["fixed"], "invalid_join", "fixed network"), (others["rejected"], "invalid_join", "is rejected"),
             (a[1], "invalid_join", f"in zone {za} already"), (others["other"], "invalid_join", f"in zone {zb}: join"),
             ("CM-2026-00001", "invalid_join", "UUID"), (12, "invalid_join", "UUID"),
             ("00000000-0000-4000-8000-000000000000", "not_found", "no report"))
    for report_id, code, said in cases:
        with pytest.raises(GeosignalError) as err:
            zones.add_to_zone(db, admin, za, report_id)
        assert (err.value.code, said in err.value.detail) == (code, True), report_id
        db.rollback()
    with pytest.raises(GeosignalError) as err:
        zones.add_to_zone(db, admin, za, others["lone"], a[:1])  # the referent saw one report of the zone
    assert err.value.code == "zone_changed" and err.value.extra["report_ids"] == a
    db.rollback()
    referent = make_account(client, db, "referent@igretec.com", "referent")
    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    db.commit()
    assert charleroi.post(f"/api/v1/zones/{za}/add", json={"report_id": others["lone"]}).status_code == 403
    missing = referent.post(f"/api/v1/zones/{za}/add", json={})
    assert (missing.status_code, missing.get_json()["code"], missing.get_json()["where"]) == (
        400, "invalid_request", "/report_id")
    member = referent.post(f"/api/v1/zones/{za}/add", json={"report_id": others["other"]})
    assert (member.status_code, member.get_json()["code"], member.get_json()["zone_id"]) == (422, "invalid_join", zb)
    done = referent.post(f"/api/v1/zones/{za}/add", json={"report_id": others["lone"], "report_ids": a})
    assert done.status_code == 200 and done.get_json()["properties"]["report_count"] == 3
    event = db.execute(text("SELECT details FROM audit_events WHERE action = 'merge' ORDER BY id DESC LIMIT 1")).scalar()
    assert event["added"] == [others["lone"]] and event["zone_id"] == za


def test_the_zones_page_offers_the_lone_reports_nearby_and_adds_one(client, db) -> None:  # noqa: ANN001
    a, others = _zone_and_lone_reports(db, dy=12200)
    db.commit()
    za = zone_of(db, a[0])["zone_id"]
    reference = db.scalar(text("SELECT reference FROM reports WHERE id = CAST(:id AS uuid)"), {"id": others["lone"]})
    referent = make_account(client, db, "referent@igretec.com", "referent")
    db.commit()
    assert referent.login().status_code == 302
    page = client.get("/zones").get_data(as_text=True)
    card = page.split(f'id="zone-{za}"')[1].split('class="queue-item')[0]
    form = card.split(f'action="/zones/{za}/add"')[1].split("</form>")[0]
    assert form.count('type="radio"') == 1
    assert (f'<input type="radio" name="report_id" value="{others["lone"]}" checked> <span><span class="nowrap">'
            f'{reference}</span>, Les Bons Villers, '
            f'à 800\u00a0m</span>') in form
    added = client.post(f"/zones/{za}/add", data={"csrf_token": csrf_token(page), "report_id": others["lone"]},
                        follow_redirects=True)
    assert f"{reference} ajouté à la zone : ses 3 signalements sont un seul lieu." in added.get_data(as_text=True)
    assert zone_of(db, others["lone"]) == {"zone_id": za, "report_count": 3, "state": "confirmed"}
    # the page read before still offers it: nothing changes, said
    again = client.post(f"/zones/{za}/add", data={"csrf_token": csrf_token(page), "report_id": others["lone"]})
    assert again.status_code == 422 and "Rien n&#39;a été modifié" in again.get_data(as_text=True)


def test_a_commune_reads_its_report_s_zone_decisions_without_other_communes_report_ids(client, db) -> None:  # noqa: ANN001
    """A zone spans communes: the history of a report names the reports a decision added to or
    took out of its zone only when the reader may read them; others are counted."""
    a, others = _zone_and_lone_reports(db, dy=11000)
    lone = others["lone"]
    home, elsewhere = (db.scalar(text("SELECT commune_nis FROM reports WHERE id = CAST(:id AS uuid)"), {"id": i})
                       for i in (a[0], lone))
    assert (home, elsewhere) == ("52055", "52075")  # a zone in Pont-à-Celles; the lone report in Les Bons Villers
    referent = make_account(client, db, "referent@igretec.com", "referent")
    db.commit()
    za = zone_of(db, a[0])["zone_id"]
    assert referent.post(f"/api/v1/zones/{za}/add", json={"report_id": lone, "report_ids": a}).status_code == 200
    assert referent.post(f"/api/v1/zones/{za}/split", json={"report_ids": [lone]}).status_code == 200

    def decisions(account, report_id: str) -> list[tuple]:  # noqa: ANN001
        answer = account.get(f"/api/v1/reports/{report_id}/history")
        assert answer.status_code == 200
        return [(e["action"], {k: v for k, v in e["details"].items() if k in ("added", "added_elsewhere", "taken_out",
                                                                             "taken_out_elsewhere")})
                for e in answer.get_json()["history"] if e["action"] in ("merge", "split")]

    assert decisions(referent, a[0]) == [("merge", {"added": [lone]}), ("split", {"taken_out": [lone]})]
    pont_a_celles = make_account(client, db, "echevin@pont-a-celles.be", "representative", "52055")
    db.commit()
    assert decisions(pont_a_celles, a[0]) == [("merge", {"added": [], "added_elsewhere": 1}),
                                          ("split", {"taken_out": [], "taken_out_elsewhere": 1})]
    bons_villers = make_account(client, db, "echevin@lesbonsvillers.be", "representative", "52075")
    db.commit()
    assert decisions(bons_villers, lone) == [("merge", {"added": [lone]}), ("split", {"taken_out": [lone]})]
