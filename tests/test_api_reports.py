"""A Charleroi representative pins white zones through the API and the map form; the
referent sees them counted and exported."""

from __future__ import annotations

import json
import re

import pytest
from shapely.geometry import LineString, Point, shape
from sqlalchemy import select

from geosignal.models import Report
from tests.conftest import CASES, CHARLEROI, csrf_token
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.factories import count_reports as _count
from tests.geojson_checks import assert_rfc7946_collection, positions

X0, Y0 = CHARLEROI_LAMBERT72


def _post(account, body, **kw):
    return account.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json", **kw)


def _same_positions(a: dict, b: dict, tol: float = 1e-7) -> None:
    pa, pb = positions(a["coordinates"]), positions(b["coordinates"])
    assert len(pa) == len(pb)
    for (x1, y1, *_), (x2, y2, *_) in zip(pa, pb, strict=True):
        assert abs(x1 - x2) <= tol and abs(y1 - y2) <= tol


@pytest.mark.parametrize("geometry", [
    to_geojson_4326(Point(X0, Y0)),
    to_geojson_4326(LineString([(X0 - 800, Y0), (X0 + 300, Y0 + 400), (X0 + 900, Y0 + 450)])),
    to_geojson_4326(square_lambert(X0 - 1500, Y0 - 1500, 600)),
], ids=["point", "line", "polygon"])
def test_representative_creates_and_reads_back_identical_geometry(db, representative, geometry) -> None:
    response = _post(representative, feature(geometry, households_affected=12, description="Rue de l'Église"))
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()
    assert response.headers["Location"] == f"/api/v1/reports/{stored['id']}"
    assert response.mimetype == "application/geo+json"
    assert stored["properties"]["commune_nis"] == CHARLEROI
    assert stored["properties"]["households_affected"] == 12
    assert stored["properties"]["description"] == "Rue de l'Église"
    assert stored["properties"]["status"] == "submitted"
    again = representative.get(response.headers["Location"])
    assert again.status_code == 200
    assert again.get_json()["geometry"]["type"] == geometry["type"]
    _same_positions(again.get_json()["geometry"], geometry)
    assert _count(db) == 1


def test_polygon_through_the_map_form(db, client, representative) -> None:
    assert representative.login().status_code == 302
    page = client.get("/carte")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    geometry = to_geojson_4326(square_lambert(X0 + 1000, Y0 + 1000, 400))
    response = client.post("/carte", data={
        "csrf_token": csrf_token(html), "idempotency_key": "form-key-1", "geometry": json.dumps(geometry),
        "network": "fixed", "technologies": ["DSL", "fibre"], "operators": ["VOO"],
        "issue": "slow_speed", "setting": "indoor", "households_affected": "40",
        "observed_at": "2026-11-20", "description": "Quartier du Nord",
    })
    assert response.status_code == 302 and response.headers["Location"].endswith("/signalements")
    report = db.scalar(select(Report))
    assert report.commune_nis == CHARLEROI
    assert (report.network, report.technologies, report.operators) == ("fixed", ["DSL", "fibre"], ["VOO"])
    assert report.households_affected == 40
    read = representative.get(f"/api/v1/reports/{report.id}").get_json()
    _same_positions(read["geometry"], geometry)
    assert read["properties"]["observed_at"] == "2026-11-20T00:00:00+01:00"
    # the same form sent twice (double click) stores one report
    client.post("/carte", data={
        "csrf_token": csrf_token(html), "idempotency_key": "form-key-1", "geometry": json.dumps(geometry),
        "network": "fixed", "technologies": ["DSL", "fibre"], "operators": ["VOO"],
        "issue": "slow_speed", "setting": "indoor", "households_affected": "40",
        "observed_at": "2026-11-20", "description": "Quartier du Nord",
    })
    assert _count(db) == 1


def test_a_draft_from_the_map_form_then_submitted_from_its_page(db, client, representative) -> None:
    """The map form's second button files a draft (seen by the commune only, not counted),
    which the representative sends later from the report's page."""
    assert representative.login().status_code == 302
    html = client.get("/carte").get_data(as_text=True)
    assert 'id="save-draft"' in html and 'name="status" value="draft"' in html
    geometry = to_geojson_4326(square_lambert(X0 + 3000, Y0 + 1000, 300))
    response = client.post("/carte", data={"csrf_token": csrf_token(html), "geometry": json.dumps(geometry),
                                           "network": "mobile", "status": "draft"})
    report = db.scalar(select(Report))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/signalements/{report.id}")
    assert report.status == "draft"
    stats = representative.get(f"/api/v1/stats/communes/{CHARLEROI}").get_json()
    assert stats["report_count"] == 0  # a draft is not counted
    # a status that is none: said as a field to correct (was the sentence of a period's dates, for "/to")
    for body in ({"to": "flying"}, {"to": 123}):
        wrong = representative.post(f"/api/v1/reports/{report.id}/transitions", json=body).get_json()
        assert (wrong["code"], wrong["where"], wrong["message"]) == (
            "invalid_request", "/to", "Un champ manque ou sa valeur n'a pas le bon type : corrigez le champ indiqué.")
    sent = representative.post(f"/api/v1/reports/{report.id}/transitions", json={"to": "submitted"})
    assert sent.status_code == 200 and sent.get_json()["properties"]["status"] == "submitted"
    assert representative.get(f"/api/v1/stats/communes/{CHARLEROI}").get_json()["report_count"] == 1


def test_form_without_csrf_token_is_refused(db, client, representative) -> None:
    representative.login()
    geometry = to_geojson_4326(square_lambert(X0, Y0, 400))
    response = client.post("/carte", data={"geometry": json.dumps(geometry), "network": "mobile"})
    assert response.status_code == 400
    assert _count(db) == 0


def test_overlapping_squares_are_counted_once(db, representative, referent) -> None:
    # two 1 km² squares sharing 0.25 km² → 1.75 km²
    for dx in (0, 500):
        square = to_geojson_4326(square_lambert(X0 - 2000 + dx, Y0 - 2000 + dx, 1000))
        assert _post(representative, feature(square)).status_code == 201
    rows = {r["nis_code"]: r for r in referent.get("/api/v1/stats/communes").get_json()["communes"]}
    charleroi = rows[CHARLEROI]
    assert len(rows) == 30
    assert charleroi["report_count"] == 2
    assert charleroi["white_zone_area_km2"] == pytest.approx(1.75, rel=0.01)
    assert charleroi["white_zone_share"] == pytest.approx(
        charleroi["white_zone_area_km2"] / charleroi["commune_area_km2"], rel=1e-9)
    assert charleroi["commune_area_km2"] == pytest.approx(103.01, rel=0.005)
    assert sum(r["report_count"] for r in rows.values()) == 2
    assert all(r["white_zone_area_km2"] == 0 for nis, r in rows.items() if nis != CHARLEROI)


def test_zone_in_another_commune_is_forbidden_and_not_stored(db, representative) -> None:
    # Chimay: 4.31 E, 50.05 N, far inside the commune
    chimay = {"type": "Polygon", "coordinates": [[[4.30, 50.04], [4.32, 50.04], [4.32, 50.055],
                                                   [4.30, 50.055], [4.30, 50.04]]]}
    response = _post(representative, feature(chimay))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "not_your_commune" and body["commune_nis"] == "56016"
    assert body["message"] == ("La forme se trouve surtout à Chimay (56016), pas dans votre commune : dessinez-la "
                               "dans votre commune.")
    assert _count(db) == 0


@pytest.mark.parametrize(("properties", "message"), [
    ({"network": "wifi"}, "Réseau : choisissez parmi Mobile, Fixe."),
    ({}, "Réseau : choisissez parmi Mobile, Fixe."),  # the network is required
    ({"network": "mobile", "issue": "pas de réseau"},
     "Problème : choisissez parmi Aucune couverture, Signal faible, Pas de données mobiles, Débit insuffisant, "
     "Connexion intermittente."),
])
def test_a_value_outside_its_vocabulary_names_the_field_and_its_values(db, representative, properties,
                                                                       message) -> None:  # noqa: ANN001
    body = feature(to_geojson_4326(square_lambert(X0, Y0, 100)))
    body["properties"] = properties
    response = _post(representative, body)
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_attribute"
    assert response.get_json()["message"] == message
    assert _count(db) == 0


def test_latlon_swapped_case_is_refused_with_a_hint(db, representative) -> None:
    case = json.loads((CASES / "11-latlon-swapped.geojson").read_text(encoding="utf-8"))
    body = feature(case["features"][0]["geometry"])
    response = _post(representative, body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "outside_service_area"
    assert "Charleroi" in problem["detail"]
    assert _count(db) == 0


def test_anonymous_and_malformed_requests_get_problems(db, client, representative) -> None:
    response = client.post("/api/v1/reports", data="{}", content_type="application/json")
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    assert response.mimetype == "application/problem+json"
    response = client.get("/api/v1/reports")
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    response = representative.post("/api/v1/reports", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_json"
    response = representative.get("/api/v1/reports/not-a-uuid")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert _count(db) == 0


def test_idempotency_key_returns_the_first_result(db, representative) -> None:
    body = feature({"type": "Point", "coordinates": [4.4440, 50.4108]})
    headers = {"Idempotency-Key": "7d3f1c2e-0000-4000-8000-000000000036"}
    first = _post(representative, body, headers=headers)
    second = _post(representative, body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert first.headers["Location"] == second.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
    assert _count(db) == 1
    other = _post(representative, feature({"type": "Point", "coordinates": [4.4441, 50.4108]}), headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    # the fault is in the header, named as the other header faults are (If-Match, Idempotency-Key too long)
    assert other.get_json()["where"] == "Idempotency-Key"
    assert _count(db) == 1


def test_idempotency_key_identifies_what_the_request_means(db, representative) -> None:
    # a client library that serialises the same Feature again (other member order, spaces)
    # sends the same request: replayed; the same body with another crs is another request
    body = feature({"type": "Point", "coordinates": [4.4440, 50.4108]}, households_affected=3)
    headers = {"Idempotency-Key": "7d3f1c2e-0000-4000-8000-000000000037"}
    first = _post(representative, body, headers=headers)
    assert first.status_code == 201
    rewritten = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = representative.post("/api/v1/reports", data=rewritten, content_type="application/geo+json",
                                headers=headers)
    assert (again.status_code, again.get_json()["id"], again.headers["Idempotent-Replayed"]) == (
        201, first.get_json()["id"], "true")
    # numbers by value, as the contract reads them: 3.0 households and 4.444 written 4.4440 are
    # the same request; 4 households another one
    spelled = json.dumps(body).replace('"households_affected": 3', '"households_affected": 3.0').replace(
        "4.444,", "4.4440,")
    assert '3.0' in spelled
    again = representative.post("/api/v1/reports", data=spelled, content_type="application/geo+json",
                                headers=headers)
    assert (again.status_code, again.get_json()["id"]) == (201, first.get_json()["id"])
    four = representative.post("/api/v1/reports", data=json.dumps(body).replace(
        '"households_affected": 3', '"households_affected": 4'), content_type="application/geo+json", headers=headers)
    assert (four.status_code, four.get_json()["code"]) == (422, "idempotency_key_reused")
    other_crs = representative.post("/api/v1/reports?crs=EPSG:31370", data=json.dumps(body),
                                    content_type="application/geo+json", headers=headers)
    assert (other_crs.status_code, other_crs.get_json()["code"], other_crs.get_json()["where"]) == (
        422, "idempotency_key_reused", "Idempotency-Key")
    repaired = representative.post("/api/v1/reports?repair=true", data=json.dumps(body),
                                   content_type="application/geo+json", headers=headers)
    assert (repaired.status_code, repaired.get_json()["code"]) == (422, "idempotency_key_reused")
    assert _count(db) == 1


def test_listing_pages_with_a_cursor_and_bbox(db, representative, referent) -> None:
    ids = []
    for i in range(5):
        point = to_geojson_4326(Point(X0 + 100 * i, Y0))
        ids.append(_post(representative, feature(point)).get_json()["id"])
    page1 = representative.get("/api/v1/reports?limit=2").get_json()
    assert [f["id"] for f in page1["features"]] == ids[:2]
    page2 = representative.get(f"/api/v1/reports?limit=2&cursor={page1['next_cursor']}").get_json()
    page3 = representative.get(f"/api/v1/reports?limit=2&cursor={page2['next_cursor']}").get_json()
    assert [f["id"] for f in page2["features"] + page3["features"]] == ids[2:]
    assert "next_cursor" not in page3
    lon, lat = page1["features"][0]["geometry"]["coordinates"]
    boxed = representative.get(f"/api/v1/reports?bbox={lon - 1e-4},{lat - 1e-4},{lon + 1e-4},{lat + 1e-4}").get_json()
    assert [f["id"] for f in boxed["features"]] == ids[:1]
    assert len(referent.get("/api/v1/reports?commune=52011").get_json()["features"]) == 5


def test_export_is_rfc7946_and_carries_every_report(db, representative, referent) -> None:
    geometries = [
        to_geojson_4326(Point(X0, Y0)),
        to_geojson_4326(LineString([(X0, Y0), (X0 + 500, Y0 + 300)])),
        # drawn clockwise on purpose: the export must make the exterior counter-clockwise
        {"type": "Polygon", "coordinates": [list(reversed(to_geojson_4326(square_lambert(X0, Y0 - 3000, 700))["coordinates"][0]))]},
    ]
    ids = {_post(representative, feature(g)).get_json()["id"] for g in geometries}
    assert representative.get("/api/v1/exports/dwconnect").status_code == 403
    response = referent.get("/api/v1/exports/dwconnect?status=all")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = json.loads(response.get_data(as_text=True))
    assert_rfc7946_collection(doc)
    assert {f["id"] for f in doc["features"]} == ids
    zone = next(f for f in doc["features"] if f["geometry"]["type"] == "Polygon")
    assert zone["properties"]["area_m2"] == pytest.approx(490_000, rel=0.01)
    assert shape(zone["geometry"]).is_valid
    # by default only validated reports are exported
    assert json.loads(referent.get("/api/v1/exports/dwconnect").get_data(as_text=True))["features"] == []
    validated = referent.patch(f"/api/v1/reports/{zone['id']}", json={"status": "validated"})
    assert validated.status_code == 200
    doc = json.loads(referent.get("/api/v1/exports/dwconnect").get_data(as_text=True))
    assert [f["id"] for f in doc["features"]] == [zone["id"]]


def test_communes_are_open_data(client) -> None:
    doc = client.get("/api/v1/communes").get_json()
    assert len(doc["features"]) == 30
    assert_rfc7946_collection(doc)
    seneffe = next(f for f in doc["features"] if f["id"] == "55085")
    assert seneffe["properties"]["name_fr"] == "Seneffe"


def test_api_write_without_credentials_is_401_not_csrf(db, client, representative) -> None:
    body = json.dumps(feature({"type": "Point", "coordinates": [4.444, 50.41]}))
    response = client.post("/api/v1/reports", data=body, content_type="application/geo+json")
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    # with the session cookie, a write needs the CSRF token
    page = representative.login()
    assert page.status_code == 302
    response = client.post("/api/v1/reports", data=body, content_type="application/geo+json")
    assert response.status_code == 400 and response.get_json()["code"] == "csrf_failed"
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    response = client.post("/api/v1/reports", data=body, content_type="application/geo+json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert _count(db) == 1


def test_status_rights_and_the_list_page_actions(db, client, representative, referent) -> None:
    rid = _post(representative, feature({"type": "Point", "coordinates": [4.444, 50.41]})).get_json()["id"]
    url = f"/api/v1/reports/{rid}"
    refused = representative.patch(url, json={"status": "validated"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    withdrawn = representative.patch(url, json={"status": "withdrawn"})
    assert withdrawn.status_code == 200 and withdrawn.get_json()["properties"]["status"] == "withdrawn"
    # a withdrawn report is closed: the referent can no longer validate it
    again = referent.patch(url, json={"status": "validated"})
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_transition"
    # the referent validates a submitted report through the list page's form (the actions offered are the
    # workflow's: none for the withdrawn report)
    other = _post(representative, feature({"type": "Point", "coordinates": [4.445, 50.411]})).get_json()["id"]
    referent.login()
    assert f"/signalements/{rid}/statut" not in client.get("/signalements").get_data(as_text=True)  # withdrawn: hidden
    page = client.get("/signalements?retires=1").get_data(as_text=True)
    assert f"/signalements/{rid}/statut" not in page and f"/signalements/{other}/statut" in page
    response = client.post(f"/signalements/{other}/statut", data={"status": "validated", "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert db.scalar(select(Report.status).where(Report.id == other)) == "validated"


@pytest.mark.parametrize(("network", "technologies", "odd"), [
    ("fixed", ["4G", "fibre"], ["4G"]),  # a fixed line is not 4G
    ("mobile", ["DSL", "cable", "5G"], ["DSL", "cable"]),
])
def test_a_technology_of_the_other_network_is_said_not_changed(db, representative, network, technologies, odd) -> None:  # noqa: ANN001
    x, y = CHARLEROI_LAMBERT72
    response = _post(representative, feature(to_geojson_4326(Point(x, y)), network=network, technologies=technologies))
    assert response.status_code == 201
    body = response.get_json()
    (warning,) = [w for w in body["intake"]["warnings"] if w["code"] == "technology_not_of_network"]
    assert (warning["network"], warning["technologies"]) == (network, odd)
    assert body["properties"]["technologies"] == technologies  # stored as written
    fine = _post(representative, feature(to_geojson_4326(Point(x + 50, y)), network="mobile", technologies=["4G"]))
    assert "intake" not in fine.get_json()  # nothing to say


def test_the_map_form_says_a_technology_of_the_other_network(db, client, representative) -> None:  # noqa: ANN001
    assert representative.login().status_code == 302
    html = client.get("/carte").get_data(as_text=True)
    geometry = to_geojson_4326(square_lambert(X0 + 1500, Y0 + 1000, 400))
    response = client.post("/carte", data={
        "csrf_token": csrf_token(html), "idempotency_key": "form-key-tech", "geometry": json.dumps(geometry),
        "network": "fixed", "technologies": ["4G", "fibre"]}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"Signalement CM-\d{4}-\d{5} enregistré \(Charleroi\)\.", page)
    assert ('<p class="flash notice" role="status">À vérifier : 4G n&#39;est pas une technologie du réseau fixe. '
            "Corrigez le signalement depuis sa page s&#39;il le faut.</p>") in page
    assert db.scalar(select(Report.technologies)) == ["4G", "fibre"]  # stored as written


@pytest.mark.parametrize("digits", [20, 4000, 4001, 5000])
def test_a_huge_integer_is_out_of_range_not_nan(db, representative, digits) -> None:  # noqa: ANN001
    # Python converts at most 4,300 digits: a longer integer is still a number far too large
    # (invalid_attribute with the range, as for 20 digits), never "NaN or Infinity"
    text = json.dumps(feature({"type": "Point", "coordinates": [4.4440, 50.4108]})).replace(
        '"network": "mobile"', '"network": "mobile", "households_affected": ' + "9" * digits)
    assert "9" * digits in text
    response = representative.post("/api/v1/reports", data=text, content_type="application/geo+json")
    problem = response.get_json()
    assert (response.status_code, problem["code"], problem["where"], problem["limit"]) == \
        (422, "invalid_attribute", "/properties/households_affected", 1_000_000)
    shown = "9" * 20 if digits == 20 else f"a number of {digits:,} digits"
    assert problem["detail"] == f"households_affected must be between 0 and 1,000,000; got {shown}."
    # a coordinate of 5,000 digits is too large, said as such
    text = json.dumps(feature({"type": "Point", "coordinates": [4.4440, 50.4108]})).replace("50.4108", "9" * 5000)
    response = representative.post("/api/v1/reports", data=text, content_type="application/geo+json")
    problem = response.get_json()
    assert (response.status_code, problem["code"], problem["where"], problem["detail"]) == \
        (422, "invalid_coordinate", "/geometry/coordinates/1", "A coordinate is too large (a number of 5,000 digits).")
    assert _count(db) == 0


def test_an_operator_named_twice_is_refused_not_deduplicated(db, representative) -> None:  # noqa: ANN001
    body = feature({"type": "Point", "coordinates": [4.4440, 50.4108]}, operators=["Orange", "Orange"])
    response = _post(representative, body)
    problem = response.get_json()
    assert (response.status_code, problem["code"], problem["where"], problem["value"]) == \
        (422, "invalid_attribute", "/properties/operators/1", "Orange")
    assert problem["detail"] == "operators names 'Orange' twice (items 0 and 1); name each once."
    assert _count(db) == 0


def test_the_list_page_reads_every_area_in_one_unit(db, client, representative) -> None:  # noqa: ANN001
    """A figures audit: the list wrote « 150 m² » beside « 0,250 km² » (the unit switched at
    100,000 m²), hard to compare down a column. A page whose largest area reaches 100,000 m²
    writes them all in km² (a tiny one « < 0,001 km² »); otherwise all in m²."""
    x, y = CHARLEROI_LAMBERT72
    small = to_geojson_4326(square_lambert(x, y, 150 ** 0.5))  # 150 m² (EPSG:31370)
    large = to_geojson_4326(square_lambert(x + 2000, y, 500))  # 250,000 m²
    assert representative.post("/api/v1/reports", json=feature(small, network="mobile")).status_code == 201
    representative.login()

    def areas() -> list[str]:
        html = client.get("/signalements").get_data(as_text=True)
        return [" ".join(cell.split()) for cell in
                re.findall(r'data-label="Surface / longueur" class="num">([^<]*(?:&lt;[^<]*)?)</td>', html)]

    assert areas() == ["150 m²"]
    assert representative.post("/api/v1/reports", json=feature(large, network="mobile")).status_code == 201
    assert sorted(areas()) == ["&lt; 0,001 km²", "0,250 km²"]


def test_a_report_filed_again_is_no_duplicate_of_a_draft_nor_of_one_withdrawn(db, representative) -> None:  # noqa: ANN001
    # within the 10 s window the same place and values came back as the first report, whatever
    # its status: a report filed after its draft got the draft (nothing filed, nobody told),
    # and one filed again after a withdrawal got the withdrawn report
    point = {"type": "Point", "coordinates": [4.4440, 50.4108]}

    def post(**props):  # noqa: ANN003, ANN202
        body = {"type": "Feature", "geometry": point, "properties": {"network": "mobile", **props}}
        return representative.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json")

    draft = post(status="draft", description="brouillon puis envoi")
    filed = post(description="brouillon puis envoi")
    assert (draft.status_code, filed.status_code) == (201, 201)
    assert filed.get_json()["properties"]["status"] == "submitted" and filed.get_json()["id"] != draft.get_json()["id"]
    twice = post(description="brouillon puis envoi")  # (a double click: still the one filed)
    assert (twice.status_code, twice.get_json()["id"]) == (200, filed.get_json()["id"])
    rid = filed.get_json()["id"]
    assert representative.post(f"/api/v1/reports/{rid}/transitions",
                               json={"to": "withdrawn", "reason": "erreur"}).status_code == 200
    again = post(description="brouillon puis envoi")
    assert again.status_code == 201 and again.get_json()["id"] != rid
    assert again.get_json()["properties"]["status"] == "submitted"


@pytest.mark.parametrize("meanwhile", ["edit", "question"])
def test_a_whole_feature_sent_back_stale_is_412_not_a_read_only_refusal(db, representative, referent,  # noqa: ANN001
                                                                       meanwhile: str) -> None:
    """A client reads a report, changes one property and PATCHes the whole Feature back with
    the ETag of its read (read-only members sent back as read are allowed); someone changed
    the report meanwhile (a colleague's edit, the referent's question). It was 422 « revision
    cannot be edited »: it is 412 precondition_failed with the current ETag, as documented, and
    nothing is changed."""
    x, y = CHARLEROI_LAMBERT72
    created = representative.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x, y + 1000, 200)),
                                                                   description=f"whole {meanwhile}"))
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    read = representative.get(f"/api/v1/reports/{rid}")
    doc, tag = read.get_json(), read.headers["ETag"]
    if meanwhile == "edit":
        other = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"households_affected": 5}},
                                     headers={"If-Match": tag})
    else:
        other = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "needs_info", "reason": "Où ?"})
    assert other.status_code == 200, other.get_json()
    now = representative.get(f"/api/v1/reports/{rid}")
    doc["properties"]["description"] = "corrigé"
    stale = representative.patch(f"/api/v1/reports/{rid}", json=doc, headers={"If-Match": tag})
    body = stale.get_json()
    assert (stale.status_code, body["code"], body["etag"]) == (412, "precondition_failed", now.headers["ETag"]), body
    assert representative.get(f"/api/v1/reports/{rid}").get_json() == now.get_json()
    # re-read, changed, sent whole with the new ETag: saved
    fresh = now.get_json()
    fresh["properties"]["description"] = "corrigé"
    saved = representative.patch(f"/api/v1/reports/{rid}", json=fresh, headers={"If-Match": now.headers["ETag"]})
    assert saved.status_code == 200 and saved.get_json()["properties"]["description"] == "corrigé", saved.get_json()
