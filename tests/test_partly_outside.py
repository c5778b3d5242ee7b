"""A report a tenth or more of which lies outside the commune it is filed in (the commune
holding its largest part) is stored, and its reporter is told how much lies outside
(``partly_outside_commune``): through the API (POST and PATCH), an upload (preview and save
alike) and the map form. Shares are checked against PostGIS's own cut, in EPSG:31370."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from tests.conftest import CHARLEROI
from tests.factories import feature, square_lambert, to_geojson_4326, upload_file

CHATELET = "52012"


def _border_vertex(db) -> tuple[float, float]:  # noqa: ANN001
    """The middle of the longest stretch of the border Charleroi shares with Châtelet (EPSG:31370)."""
    return db.execute(text("""
        WITH border AS (
          SELECT (ST_Dump(ST_LineMerge(ST_CollectionExtract(ST_Transform(
            ST_Intersection(ST_Boundary(a.boundary), ST_Boundary(b.boundary)), 31370), 2)))).geom AS line
          FROM communes a, communes b WHERE a.nis_code = :a AND b.nis_code = :b)
        SELECT ST_X(p), ST_Y(p) FROM (
          SELECT ST_LineInterpolatePoint(line, 0.5) AS p FROM border ORDER BY ST_Length(line) DESC LIMIT 1) q"""),
        {"a": CHARLEROI, "b": CHATELET}).one()


def _shares(db, zone: dict) -> dict[str, float]:  # noqa: ANN001
    """Each commune's share of ``zone`` (GeoJSON, EPSG:4326), cut and measured by PostGIS in EPSG:31370."""
    rows = db.execute(text("""
        WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) AS g)
        SELECT c.nis_code, ST_Area(ST_Transform(ST_Intersection(c.boundary, g.g), 31370))
                           / ST_Area(ST_Transform(g.g, 31370))
        FROM communes c, g WHERE ST_Intersects(c.boundary, g.g)"""), {"g": json.dumps(zone)}).all()
    return {nis: share for nis, share in rows}


@pytest.fixture
def across(db) -> tuple[dict, str, float]:  # noqa: ANN001
    """A 400 m square on the Charleroi/Châtelet border, its home commune and the share of it
    outside that commune (PostGIS)."""
    x, y = _border_vertex(db)
    zone = to_geojson_4326(square_lambert(x - 200.0, y - 200.0, 400.0))  # centred on the border
    shares = _shares(db, zone)
    home = max(shares, key=shares.get)
    outside = 1.0 - shares[home]
    assert 0.2 < outside < 0.5, shares  # a real crossing, not a rough edge
    return zone, home, outside


def _outside_warnings(warnings: list[dict]) -> list[dict]:
    return [w for w in warnings if w["code"] == "partly_outside_commune"]


def test_the_api_says_how_much_of_a_zone_lies_outside_its_commune(db, admin, across) -> None:  # noqa: ANN001
    zone, home, outside = across
    response = admin.post("/api/v1/reports", json=feature(zone, description="À cheval sur la limite"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["properties"]["commune_nis"] == home
    [warning] = _outside_warnings(body["intake"]["warnings"])
    assert (warning["commune_nis"], warning["commune_name"]) == (home, body["properties"]["commune_name"])
    assert warning["share_outside"] == pytest.approx(outside, abs=6e-4)
    assert re.match(rf"{round(outside * 100)}% of the geometry lies outside ", warning["detail"])
    # an edit that moves the zone inside its commune says nothing more; one that moves it back does
    rid, tag = body["id"], admin.get(f"/api/v1/reports/{body['id']}").headers["ETag"]
    x, y = _border_vertex(db)
    inside = {nis: to_geojson_4326(square_lambert(x + dx, y + dy, 100.0))
              for dx in (-1500, 1500) for dy in (-1500, 1500)
              for nis, share in _shares(db, to_geojson_4326(square_lambert(x + dx, y + dy, 100.0))).items()
              if share == pytest.approx(1.0)}
    moved = admin.patch(f"/api/v1/reports/{rid}", json={"geometry": inside[home]}, headers={"If-Match": tag})
    assert moved.status_code == 200, moved.get_json()
    assert _outside_warnings(moved.get_json().get("intake", {}).get("warnings", [])) == []
    back = admin.patch(f"/api/v1/reports/{rid}", json={"geometry": zone}, headers={"If-Match": moved.headers["ETag"]})
    assert back.status_code == 200, back.get_json()
    assert [w["share_outside"] for w in _outside_warnings(back.get_json()["intake"]["warnings"])] == \
        [pytest.approx(outside, abs=6e-4)]


def test_a_zone_inside_its_commune_or_barely_over_gets_no_warning(db, admin) -> None:  # noqa: ANN001
    x, y = _border_vertex(db)
    for dx in (-1500, 1500):  # well inside one commune or the other
        zone = to_geojson_4326(square_lambert(x + dx, y, 100.0))
        response = admin.post("/api/v1/reports", json=feature(zone, description=f"dedans {dx}"))
        assert response.status_code == 201
        assert _outside_warnings(response.get_json().get("intake", {}).get("warnings", [])) == []
    # a line and a single point on the border itself: a point never lies partly outside
    point = {"type": "Point", "coordinates": to_geojson_4326(square_lambert(x, y, 1.0))["coordinates"][0][0]}
    response = admin.post("/api/v1/reports", json=feature(point, description="borne"))
    assert response.status_code == 201
    assert _outside_warnings(response.get_json().get("intake", {}).get("warnings", [])) == []


def test_an_upload_says_it_per_row_in_the_preview_and_the_save_alike(db, admin, across) -> None:  # noqa: ANN001
    zone, home, outside = across
    x, y = _border_vertex(db)
    collection = {"type": "FeatureCollection", "features": [
        feature(zone, description="à cheval"),
        feature(to_geojson_4326(square_lambert(x - 1500, y, 100.0)), description="dedans")]}
    data = json.dumps(collection).encode()
    preview = upload_file(admin, data, "zones.geojson", dry_run="true")
    assert preview.status_code == 200, preview.get_json()
    saved = upload_file(admin, data, "zones.geojson")
    assert saved.status_code == 201, saved.get_json()
    for body in (preview.get_json(), saved.get_json()):
        first, second = body["features"]
        [warning] = _outside_warnings(first["warnings"])
        assert warning["commune_nis"] == home and warning["share_outside"] == pytest.approx(outside, abs=6e-4)
        assert _outside_warnings(second["warnings"]) == []


def test_the_map_form_says_it_after_the_save(db, client, admin, across) -> None:  # noqa: ANN001
    from tests.test_form_refusals import _token

    zone, home, outside = across
    admin.login()
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(zone),
                                         "network": "mobile"}, follow_redirects=True)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    name = db.execute(text("SELECT name_fr FROM communes WHERE nis_code = :n"), {"n": home}).scalar()
    assert f"{round(outside * 100)}\xa0% de la forme se trouve hors de {name}, où le signalement est classé" in \
        html.replace("&#39;", "'")


def test_the_edit_page_says_it_after_the_save(db, client, admin, across) -> None:  # noqa: ANN001
    from tests.test_form_refusals import _token

    zone, home, outside = across
    x, y = _border_vertex(db)
    rid = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x - 1500, y, 100.0)),
                                                     description="déplacée")).get_json()["id"]
    admin.login()
    edit = f"/signalements/{rid}/modifier"
    page = client.get(edit)
    assert page.status_code == 200
    etag = re.search(r'name="etag" id="etag" value="([^"]+)"', page.get_data(as_text=True))
    answer = client.post(edit, data={"csrf_token": _token(client, edit), "geometry": json.dumps(zone),
                                     "network": "mobile", "etag": etag.group(1).replace("&#34;", '"')},
                         follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:2000]
    name = db.execute(text("SELECT name_fr FROM communes WHERE nis_code = :n"), {"n": home}).scalar()
    assert f"{round(outside * 100)}\xa0% de la forme se trouve hors de {name}" in html
    assert "modifié." in html


def test_a_multipoint_s_points_outside_are_said_to_count_in_its_commune_only(db, client, admin, referent) -> None:  # noqa: ANN001
    """The warning said a MultiPoint's points outside its commune « count in the figures of the
    communes they lie in »: a report counts once, in its home commune, and Châtelet's and
    Farciennes' figures held none of them. It now says so, on every path (``measure``)."""
    from tests.test_form_refusals import _token

    points = [list(db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) p FROM "
                                   "communes WHERE nis_code = :n) q"), {"n": nis}).one())
              for nis in (CHARLEROI, CHATELET, "52018")]
    multipoint = {"type": "MultiPoint", "coordinates": points}
    body = admin.post("/api/v1/reports", json=feature(multipoint)).get_json()
    [warning] = _outside_warnings(body["intake"]["warnings"])
    assert (warning["commune_nis"], warning["share_outside"], warning["measure"]) == (CHARLEROI, 0.667, "points")
    assert warning["detail"] == ("67% of the points lie outside Charleroi (52011), the commune holding its largest "
                                 "part, where the report is filed; those points count in its figures only: a "
                                 "report's points count once, in its home commune")
    stats = {row["nis_code"]: row for row in referent.get("/api/v1/stats/communes").get_json()["communes"]}
    assert [stats[nis]["report_count"] for nis in (CHARLEROI, CHATELET, "52018")] == [1, 0, 0]
    (row,) = upload_file(admin, json.dumps(feature(multipoint)).encode(), "p.geojson",
                         dry_run="true").get_json()["features"]
    assert [(w["share_outside"], w["measure"]) for w in _outside_warnings(row["warnings"])] == [(0.667, "points")]
    admin.login()
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(multipoint),
                                         "network": "mobile"}, follow_redirects=True)
    html = answer.get_data(as_text=True).replace("&#39;", "'")
    assert "67\xa0% des points se trouvent hors de Charleroi, où le signalement est classé : un signalement " \
           "compte une fois, dans sa commune, et ces points ne comptent dans aucune autre." in html
    # a zone's warning says what it is a share of
    x, y = _border_vertex(db)
    zone = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x - 200, y - 200, 400.0))))
    assert [w["measure"] for w in _outside_warnings(zone.get_json()["intake"]["warnings"])] == ["area"]
