"""Zones of overlapping reports, grouped by PostgreSQL when reports are written (real PostGIS,
real communes; shapes built in EPSG:31370 around Charleroi's centre)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services import zones
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import CHARLEROI, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, to_geojson_4326

X, Y = CHARLEROI_LAMBERT72
CHATELET = "52012"


def _admin(db) -> User:  # noqa: ANN001
    user = db.query(User).filter_by(email="zones@igretec.com").one_or_none()
    return user or create_user(db, "zones@igretec.com", "admin", None, "correct horse battery")


def file(db, geom_31370, network: str = "mobile", **props) -> str:  # noqa: ANN001, ANN003
    """File a report (as an admin) whose geometry is given in EPSG:31370; return its id."""
    geom = shapely.orient_polygons(reproject(geom_31370, LAMBERT72, WGS84))
    properties = {"network": network, "technologies": ["4G"], "operators": ["Proximus"], "issue": "no_coverage",
                  "description": f"zone test {geom_31370.wkt[:60]} {props}"}
    properties.update(props)
    created, fresh = reports_service.create_report(db, _admin(db), ReportInput(geometry=geom, properties=properties))
    assert fresh
    return created["id"]


def zone_of(db, report_id: str) -> dict | None:  # noqa: ANN001
    return zones.for_reports(db, [report_id]).get(report_id)


def members(db, zone_id: int) -> set[str]:  # noqa: ANN001
    return set(zones.get_zone(db, _admin(db), zone_id)["properties"]["report_ids"])


def square(x: float, y: float, side: float = 200.0):  # noqa: ANN201
    return box(x, y, x + side, y + side)


def test_chain_a_b_c_is_one_zone_though_a_and_c_do_not_touch(db) -> None:  # noqa: ANN001
    a = file(db, square(X, Y), technologies=["4G"], operators=["Proximus"])
    b = file(db, square(X + 150, Y), technologies=["5G"], operators=["Orange"])
    assert zone_of(db, a)["report_count"] == 2
    c = file(db, square(X + 300, Y), technologies=["3G", "4G"], operators=["Proximus"])
    info = zone_of(db, a)
    assert info["report_count"] == 3 and info["state"] == "proposed"
    assert zone_of(db, b) == info == zone_of(db, c)
    zone = zones.get_zone(db, _admin(db), info["zone_id"])
    props = zone["properties"]
    assert props["report_ids"] == [a, b, c]  # oldest first
    assert props["technologies"] == ["3G", "4G", "5G"] and props["operators"] == ["Proximus", "Orange"]
    assert props["network"] == "mobile" and props["commune_nis"] == CHARLEROI
    # the union: 500 m × 200 m, measured in EPSG:31370 (round trip through EPSG:4326)
    assert abs(props["area_m2"] - 100_000.0) < 1.0
    assert zone["geometry"]["type"] == "Polygon"
    # A and C alone would not be grouped
    assert not shapely.intersects(square(X, Y), square(X + 300, Y))


def test_zones_sharing_only_an_edge_are_not_grouped(db) -> None:  # noqa: ANN001
    a = file(db, square(X, Y))
    b = file(db, square(X + 200, Y))
    assert zone_of(db, a) is None and zone_of(db, b) is None


def test_points_within_the_distance_join_99_m_yes_101_m_no(db) -> None:  # noqa: ANN001
    p1 = file(db, Point(X, Y + 600))
    p2 = file(db, Point(X + 99, Y + 600))
    q1 = file(db, Point(X, Y + 900))
    q2 = file(db, Point(X + 101, Y + 900))
    assert zone_of(db, p1) is not None and zone_of(db, p1) == zone_of(db, p2)
    assert zone_of(db, q1) is None and zone_of(db, q2) is None
    # PostGIS measures the same distances in EPSG:31370
    distance = text("SELECT ST_Distance(ST_Transform(a.geometry, 31370), ST_Transform(b.geometry, 31370)) "
                    "FROM reports a, reports b WHERE a.id = CAST(:a AS uuid) AND b.id = CAST(:b AS uuid)")
    got = [db.scalar(distance, {"a": a, "b": b}) for a, b in ((p1, p2), (q1, q2))]
    assert abs(got[0] - 99.0) < 0.01 and abs(got[1] - 101.0) < 0.01


def test_a_point_near_a_zone_and_a_line_join_it(db) -> None:  # noqa: ANN001
    z = file(db, square(X, Y + 1500))
    p = file(db, Point(X + 250, Y + 1600))  # 50 m east of the square
    line = file(db, LineString([(X + 100, Y + 1780), (X + 100, Y + 1950)]))  # 80 m north of the square
    far = file(db, Point(X + 400, Y + 1600))  # 200 m away from everything
    info = zone_of(db, z)
    assert info["report_count"] == 3 and zone_of(db, p) == info == zone_of(db, line)
    assert zone_of(db, far) is None
    zone = zones.get_zone(db, _admin(db), info["zone_id"])
    assert zone["geometry"]["type"] == "GeometryCollection"
    assert abs(zone["properties"]["area_m2"] - 40_000.0) < 1.0


def test_different_networks_are_never_grouped(db) -> None:  # noqa: ANN001
    a = file(db, square(X, Y + 3000), network="mobile")
    b = file(db, square(X + 50, Y + 3000), network="fixed", technologies=["fibre"], operators=["VOO"])
    c = file(db, Point(X + 10, Y + 3010), network="fixed", technologies=["DSL"], operators=["Proximus"])
    assert zone_of(db, a) is None
    assert zone_of(db, b)["report_count"] == 2 and zone_of(db, b) == zone_of(db, c)
    assert zones.get_zone(db, _admin(db), zone_of(db, b)["zone_id"])["properties"]["network"] == "fixed"


def test_a_withdrawn_report_leaves_its_zone(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, b, c = (file(db, square(X + dx, Y + 4000)) for dx in (0, 150, 300))
    zid = zone_of(db, a)["zone_id"]
    reports_service.set_status(db, admin, c, "needs_info", "Quelle rue ?")  # still counted: stays
    assert zone_of(db, c) == {"zone_id": zid, "report_count": 3, "state": "proposed"}
    reports_service.set_status(db, admin, c, "withdrawn")
    assert zone_of(db, c) is None
    assert zone_of(db, a) == {"zone_id": zid, "report_count": 2, "state": "proposed"}
    reports_service.set_status(db, admin, b, "rejected", "Doublon d'un autre signalement")  # A alone now
    assert zone_of(db, a) is None and zone_of(db, b) is None
    assert db.scalar(text("SELECT count(*) FROM zones WHERE id = :z"), {"z": zid}) == 0
    # validating, transmitting: same place, same zone, untouched
    d, e = (file(db, square(X + dx, Y + 4400)) for dx in (0, 150))
    zid2 = zone_of(db, d)["zone_id"]
    stamp = db.scalar(text("SELECT updated_at FROM zones WHERE id = :z"), {"z": zid2})
    reports_service.set_status(db, admin, d, "validated")
    reports_service.set_status(db, admin, d, "transmitted")
    assert zone_of(db, e) == {"zone_id": zid2, "report_count": 2, "state": "proposed"}
    assert db.scalar(text("SELECT updated_at FROM zones WHERE id = :z"), {"z": zid2}) == stamp
    # resolved: the operator's answer closes it, it leaves
    reports_service.set_status(db, admin, d, "resolved", "Antenne installée")
    assert zone_of(db, e) is None


def test_split_sticks(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, b, c = (file(db, square(X + dx, Y + 5000)) for dx in (0, 150, 300))
    zid = zone_of(db, a)["zone_id"]
    doc, summary = zones.split_zone(db, admin, zid, [c])
    assert [f["id"] for f in doc["features"]] == [zid]
    assert doc["features"][0]["properties"]["report_ids"] == [a, b]
    assert summary["taken_out"] == [c] and zone_of(db, c) is None
    # a new report bridging B and C joins A and B, never C
    d = file(db, square(X + 200, Y + 5050, 150))
    assert members(db, zid) == {a, b, d} and zone_of(db, c) is None
    # editing C, or regrouping everything, does not undo the split
    db.execute(text("UPDATE reports SET description = 'edited' WHERE id = CAST(:c AS uuid)"), {"c": c})
    db.execute(text("UPDATE reports SET geometry = ST_Translate(geometry, 0.0000001, 0) WHERE id = CAST(:c AS uuid)"),
               {"c": c})
    zones.recompute_all(db)
    assert zone_of(db, c) is None and members(db, zid) == {a, b, d}
    # reports taken out together that overlap form a zone of their own
    e = file(db, square(X, Y + 5400))
    f = file(db, square(X + 100, Y + 5400))
    g = file(db, square(X + 200, Y + 5400))
    zone2 = zone_of(db, e)["zone_id"]
    doc, _ = zones.split_zone(db, admin, zone2, [f, g])
    assert sorted(len(x["properties"]["report_ids"]) for x in doc["features"]) == [2]
    assert zone_of(db, e) is None and zone_of(db, f) == zone_of(db, g) and zone_of(db, f)["zone_id"] != zone2


def test_a_report_covered_only_with_a_report_split_apart_grows_the_zone(db) -> None:  # noqa: ANN001
    # A, B, C overlapping squares; C split apart. A square across B's edge, inside B and C
    # together: C is not in its zone, so the part outside B (10 m × 40 m) is added to the union
    # (migration 0036: a new report its zone covers already adds nothing)
    admin = _admin(db)
    a, b, c = (file(db, square(X + dx, Y + 5800)) for dx in (0, 150, 300))
    zid = zone_of(db, a)["zone_id"]
    zones.split_zone(db, admin, zid, [c])
    before = zones.get_zone(db, admin, zid)["properties"]["area_m2"]
    n = file(db, box(X + 320, Y + 5820, X + 360, Y + 5860))
    assert members(db, zid) == {a, b, n}
    assert zones.get_zone(db, admin, zid)["properties"]["area_m2"] == pytest.approx(before + 10 * 40, abs=0.5)


def test_split_refuses_strays_none_and_all(db) -> None:  # noqa: ANN001
    import pytest

    from geosignal.errors import GeosignalError

    admin = _admin(db)
    a, b = (file(db, square(X + dx, Y + 6000)) for dx in (0, 150))
    other = file(db, square(X, Y + 6500))
    zid = zone_of(db, a)["zone_id"]
    for ids, code in (([other], "invalid_split"), ([], "invalid_split"), ([a, b], "invalid_split"),
                      (["nope"], "invalid_request"), ("x", "invalid_request")):
        with pytest.raises(GeosignalError) as err:
            zones.split_zone(db, admin, zid, ids)
        assert err.value.code == code
    assert members(db, zid) == {a, b}


def test_confirm_keeps_members_and_later_reports_join(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    a, b = (file(db, square(X + dx, Y + 7000)) for dx in (0, 150))
    zid = zone_of(db, a)["zone_id"]
    feature_, summary = zones.confirm_zone(db, admin, zid, [b, a])
    assert feature_["id"] == zid and feature_["properties"]["state"] == "confirmed"
    assert summary["before_state"] == "proposed"
    # B moved 2 km away: a confirmed zone keeps its members
    db.execute(text("UPDATE reports SET geometry = ST_Translate(geometry, 0.03, 0) WHERE id = CAST(:b AS uuid)"),
               {"b": b})
    assert zone_of(db, b) == {"zone_id": zid, "report_count": 2, "state": "confirmed"}
    # a later report touching the confirmed zone joins it
    c = file(db, square(X + 100, Y + 7100))
    assert zone_of(db, c) == {"zone_id": zid, "report_count": 3, "state": "confirmed"}
    # confirming with a stale view is refused; confirming again pins the newcomer
    import pytest

    from geosignal.errors import GeosignalError

    with pytest.raises(GeosignalError) as err:
        zones.confirm_zone(db, admin, zid, [a, b])
    assert err.value.code == "zone_changed"
    zones.confirm_zone(db, admin, zid, [a, b, c])
    assert db.scalar(text("SELECT count(DISTINCT decision_id) FROM zone_decision_reports "
                          "WHERE report_id = ANY(CAST(:ids AS uuid[]))"), {"ids": [a, b, c]}) == 1
    # two confirmed zones never merge: a report touching both joins the oldest
    d, e = (file(db, square(X + dx, Y + 7600)) for dx in (0, 150))
    zid2 = zone_of(db, d)["zone_id"]
    zones.confirm_zone(db, admin, zid2)
    bridge = file(db, box(X + 50, Y + 7150, X + 100, Y + 7650))
    assert zone_of(db, bridge)["zone_id"] == zid
    assert members(db, zid2) == {d, e}


def test_stored_zones_equal_a_recomputation_after_changes(db) -> None:  # noqa: ANN001
    admin = _admin(db)
    ids = [file(db, Point(X + 60 * k, Y + 8000 + (k % 2) * 30)) for k in range(12)]  # a chain, 67 m steps
    reports_service.set_status(db, admin, ids[4], "withdrawn")
    reports_service.set_status(db, admin, ids[10], "rejected", "hors sujet")
    zones.split_zone(db, admin, zone_of(db, ids[0])["zone_id"], [ids[1]])
    db.execute(text("UPDATE reports SET geometry = ST_Translate(geometry, 0, 0.01) WHERE id = CAST(:i AS uuid)"),
               {"i": ids[8]})
    before = zones.grouping(db)
    figures = zones.zone_figures(db)
    assert figures == zones.zone_figures_live(db)
    assert sum(f["reports_in_zone_groups"] for f in figures.values()) == 5
    zones.recompute_all(db)
    assert zones.grouping(db) == before
    assert zones.zone_figures(db) == figures
    # 4 withdrawn, 10 rejected, 1 taken out (0 and 2 are 120 m apart), 8 moved 1.1 km north
    assert {m for _, _, m in before} == {frozenset(ids[2:4]), frozenset(ids[5:8])}


def test_distance_setting_regroups(db) -> None:  # noqa: ANN001
    p1 = file(db, Point(X, Y + 9000))
    p2 = file(db, Point(X + 150, Y + 9000))
    assert zone_of(db, p1) is None
    assert zones.apply_distance(db, 200.0) is True
    assert zone_of(db, p1) is not None and zone_of(db, p1) == zone_of(db, p2)
    assert zones.apply_distance(db, 200.0) is False
    zones.apply_distance(db, zones.DEFAULT_DISTANCE_M)
    assert zone_of(db, p1) is None


def test_api_lists_zones_by_commune_and_role(client, db) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    chatelet = make_account(client, db, "echevin@chatelet.be", "representative", CHATELET)
    ours = [charleroi.post("/api/v1/reports", json=feature(to_geojson_4326(square(X - 1500 + dx, Y - 1000)),
                                                           description=f"cave {dx}")) for dx in (0, 150)]
    assert [r.status_code for r in ours] == [201, 201]
    # Châtelet's centre, in EPSG:31370
    cx, cy = db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), 31370) p "
                             "FROM communes WHERE nis_code = :n) s"), {"n": CHATELET}).one()
    theirs = [chatelet.post("/api/v1/reports", json=feature(to_geojson_4326(square(cx + dx, cy, 100)),
                                                            description=f"rue {dx}")) for dx in (0, 50)]
    assert [r.status_code for r in theirs] == [201, 201]
    db.commit()
    everything = referent.get("/api/v1/zones")
    assert everything.status_code == 200 and everything.mimetype == "application/geo+json"
    assert sorted(f["properties"]["commune_nis"] for f in everything.get_json()["features"]) == [CHARLEROI, CHATELET]
    mine = charleroi.get("/api/v1/zones").get_json()["features"]
    assert [f["properties"]["commune_nis"] for f in mine] == [CHARLEROI]
    props = mine[0]["properties"]
    assert props["report_ids"] == [r.get_json()["id"] for r in ours] and props["report_count"] == 2
    assert set(props) >= {"state", "report_ids", "report_count", "network", "technologies", "operators",
                          "commune_nis"}
    other = chatelet.get("/api/v1/zones").get_json()["features"]
    assert [f["properties"]["commune_nis"] for f in other] == [CHATELET]
    assert chatelet.get(f"/api/v1/zones/{mine[0]['id']}").status_code == 404
    assert client.get("/api/v1/zones").status_code == 401
    # decisions: the referent only
    zid = mine[0]["id"]
    denied = charleroi.post(f"/api/v1/zones/{zid}/confirm", json={})
    assert denied.status_code == 403 and denied.get_json()["code"] == "forbidden"
    bad = referent.post(f"/api/v1/zones/{zid}/split", json={"report_ids": ["00000000-0000-0000-0000-000000000000"]})
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_split"
    stale = referent.post(f"/api/v1/zones/{zid}/confirm", json={"report_ids": props["report_ids"][:1]})
    assert stale.status_code == 409 and stale.get_json()["code"] == "zone_changed"
    ok = referent.post(f"/api/v1/zones/{zid}/confirm", json={"report_ids": props["report_ids"]})
    assert ok.status_code == 200 and ok.get_json()["properties"]["state"] == "confirmed"
    # journalled on each report: who, which zone
    history = charleroi.get(f"/api/v1/reports/{props['report_ids'][0]}/history").get_json()["history"]
    assert [h["action"] for h in history][-1] == "merge" and history[-1]["actor"] == "referent"
    event = db.execute(text("SELECT details FROM audit_events WHERE action = 'merge' AND report_id = CAST(:r AS uuid)"),
                       {"r": props["report_ids"][1]}).scalar_one()
    assert event["zone_id"] == zid and event["before_state"] == "proposed"
    assert referent.get("/api/v1/zones?state=confirmed").get_json()["features"][0]["id"] == zid
    assert referent.get("/api/v1/zones?state=nope").status_code == 400
    assert referent.post("/api/v1/zones/abc/confirm").status_code == 404
    assert referent.post(f"/api/v1/zones/{2**70}/split", json={"report_ids": []}).status_code == 404
    split = referent.post(f"/api/v1/zones/{zid}/split", json={"report_ids": props["report_ids"][1:]})
    assert split.status_code == 200 and split.get_json()["features"] == []  # one report left: no zone
    assert db.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'split' "
                          "AND (details->>'zone_id')::bigint = :z"), {"z": zid}) == 2


def test_list_page_and_stats_count_places(client, db) -> None:  # noqa: ANN001
    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    ids = []
    for k, dx in enumerate((0, 150, 300, 1200)):
        response = charleroi.post("/api/v1/reports", json=feature(to_geojson_4326(square(X - 1500 + dx, Y - 1200)),
                                                                  description=f"place {k}"))
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    db.commit()
    charleroi.login()
    html = client.get("/signalements").get_data(as_text=True)
    assert html.count("également signalé par 2 autres signalements") == 3
    assert html.count("also-reported") == 3
    page = client.get(f"/signalements/{ids[1]}").get_data(as_text=True)
    assert "Également signalé par 2 autres signalements (zone proposée)" in page
    assert "also-reported" not in client.get(f"/signalements/{ids[3]}").get_data(as_text=True)
    table = charleroi.get("/api/v1/stats/communes").get_json()
    row = next(r for r in table["communes"] if r["nis_code"] == CHARLEROI)
    assert (row["report_count"], row["zone_group_count"], row["reports_in_zone_groups"], row["place_count"]) == (4, 1, 3, 2)
    assert table["territory"]["place_count"] == 2 and table["territory"]["zone_group_count"] == 1
    # the same place counts when a filter makes the table live (read apart from the figures)
    live = charleroi.get("/api/v1/stats/communes?network=mobile").get_json()
    assert table["source"] == "stored" and live["source"] == "live"
    row = next(r for r in live["communes"] if r["nis_code"] == CHARLEROI)
    assert (row["report_count"], row["zone_group_count"], row["reports_in_zone_groups"], row["place_count"]) == (4, 1, 3, 2)
    assert live["territory"]["place_count"] == 2 and live["territory"]["zone_group_count"] == 1


def test_regroup_command_and_the_distance_setting(app, db) -> None:  # noqa: ANN001
    from tests.conftest import configured

    p1 = file(db, Point(X, Y + 11000))
    p2 = file(db, Point(X + 150, Y + 11000))
    db.commit()
    runner = app.test_cli_runner()
    with configured(app, ZONE_DISTANCE_M=200.0):
        result = runner.invoke(args=["regroup-zones"])
    assert result.exit_code == 0, result.output
    assert " zone (" in result.output or " zones (" in result.output
    assert zone_of(db, p1) is not None and zone_of(db, p1) == zone_of(db, p2)
    result = runner.invoke(args=["regroup-zones"])  # back to the default 100 m
    assert result.exit_code == 0 and zone_of(db, p1) is None
    assert db.scalar(text("SELECT distance_m FROM zone_settings")) == 100.0


def test_an_import_is_grouped_in_one_pass(client, db) -> None:  # noqa: ANN001
    import io
    import json

    charleroi = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    existing = charleroi.post("/api/v1/reports", json=feature(to_geojson_4326(square(X - 1500, Y - 1800)),
                                                              description="déjà là"))
    assert existing.status_code == 201
    shapes = [square(X - 1500 + 150 * k, Y - 1800) for k in range(1, 4)]  # a chain starting at the existing one
    shapes += [Point(X - 1500 + 40 * k, Y - 2300) for k in range(5)]  # five points 40 m apart
    shapes += [Point(X + 2000, Y - 2300)]  # alone
    collection = {"type": "FeatureCollection",
                  "features": [feature(to_geojson_4326(g), description=f"import {k}") for k, g in enumerate(shapes)]}
    body = {"file": (io.BytesIO(json.dumps(collection).encode()), "zones.geojson"), "network": "mobile"}
    response = charleroi.post("/api/v1/imports", data=body, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    db.commit()
    found = charleroi.get("/api/v1/zones").get_json()["features"]
    assert sorted(f["properties"]["report_count"] for f in found) == [4, 5]
    assert existing.get_json()["id"] in next(f for f in found if f["properties"]["report_count"] == 4)[
        "properties"]["report_ids"]


def test_place_count_counts_the_places_of_the_reports_a_filter_keeps(db, representative, referent) -> None:  # noqa: ANN001
    """The zone figures ignored the filters while ``report_count`` followed them: with
    ``network=fixed`` (no such report) Charleroi's ``place_count`` was 0 − 3 + 1 = −2."""
    x, y = CHARLEROI_LAMBERT72
    for k, dx in enumerate((0, 150, 300)):  # one zone of three overlapping mobile reports
        assert representative.post("/api/v1/reports", json=feature(
            to_geojson_4326(square(x - 1500 + dx, y - 1200)), description=f"place {k}",
            operators=["Proximus"] if k == 1 else ["Orange"])).status_code == 201
    figures = ("report_count", "zone_group_count", "reports_in_zone_groups", "place_count")

    def charleroi(query: str) -> tuple:
        table = referent.get(f"/api/v1/stats/communes{query}").get_json()
        row = next(r for r in table["communes"] if r["nis_code"] == CHARLEROI)
        return tuple(row[k] for k in figures), tuple(table["territory"][k] for k in figures)

    assert charleroi("") == ((3, 1, 3, 1), (3, 1, 3, 1))
    assert charleroi("?network=fixed") == ((0, 0, 0, 0), (0, 0, 0, 0))
    assert charleroi("?operator=Proximus") == ((1, 1, 1, 1), (1, 1, 1, 1))
    assert charleroi("?network=mobile") == ((3, 1, 3, 1), (3, 1, 3, 1))
