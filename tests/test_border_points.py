"""A point on a straight border edge shared by Charleroi (52011) and Châtelet (52012): within
``BORDER_TOLERANCE_DEG`` of both, it goes to the smallest NIS code, by the API, by uploads
(GeoJSON and CSV), by the batch, the zone pass and the file-mode figures alike; a point 5 m
inside Châtelet stays Châtelet's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, shape
from sqlalchemy import text

from geosignal.geo import BORDER_TOLERANCE_DEG
from geosignal.services import aggregation
from geosignal.services.communes import commune_of
from tests.conftest import CHARLEROI, COMMUNES_FILE
from tests.factories import feature
from tests.factories import upload_file as _upload

CHATELET = "52012"
#: the decimal midpoint of the Charleroi/Châtelet edge (4.494248 50.396826)–(4.501073 50.399973):
#: inside Châtelet and 3.4e-15° from Charleroi in binary floating point
EDGE_MIDPOINT = (4.4976605, 50.3983995)
#: 5 m from that midpoint, perpendicular to the edge (EPSG:31370), inside Châtelet
INSIDE_CHATELET = (4.49770164, 50.39836305)
#: 5 m from it the other way, inside Charleroi
INSIDE_CHARLEROI = (4.49761935, 50.39843596)
#: the three: the border point counts in both communes, 2 points each, a tie → Charleroi
THREE = MultiPoint([EDGE_MIDPOINT, INSIDE_CHARLEROI, INSIDE_CHATELET])


def _post(account, geometry: dict):  # noqa: ANN001, ANN202
    return account.post("/api/v1/reports", data=json.dumps(feature(geometry)), content_type="application/geo+json")


def _communes() -> dict[str, object]:
    doc = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    return {f["properties"]["nis_code"]: shape(f["geometry"]) for f in doc["features"]}


def test_the_midpoint_is_off_the_border_by_float_noise_only() -> None:
    communes, point = _communes(), Point(*EDGE_MIDPOINT)
    assert communes[CHATELET].intersects(point) and not communes[CHARLEROI].intersects(point)
    assert 0 < communes[CHARLEROI].distance(point) < 1e-14 < BORDER_TOLERANCE_DEG
    assert [n for n, g in communes.items() if g.intersects(Point(*INSIDE_CHATELET))] == [CHATELET]
    assert [n for n, g in communes.items() if g.intersects(Point(*INSIDE_CHARLEROI))] == [CHARLEROI]
    assert communes[CHARLEROI].distance(Point(*INSIDE_CHATELET)) > 1e-5


def test_a_point_on_the_border_edge_goes_to_the_smallest_nis(db, representative) -> None:
    response = _post(representative, {"type": "Point", "coordinates": list(EDGE_MIDPOINT)})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["properties"]["commune_nis"] == CHARLEROI
    assert commune_of(db, "SRID=4326;POINT(4.4976605 50.3983995)") == CHARLEROI
    # the parts of a MultiPoint: the border point counts in both communes
    assert commune_of(db, f"SRID=4326;{THREE.wkt}") == CHARLEROI
    assert commune_of(db, f"SRID=4326;{MultiPoint([EDGE_MIDPOINT, INSIDE_CHATELET]).wkt}") == CHATELET


def test_a_point_5_m_inside_chatelet_is_chatelet_and_the_error_names_a_point(db, representative) -> None:
    assert commune_of(db, f"SRID=4326;{Point(*INSIDE_CHATELET).wkt}") == CHATELET
    response = _post(representative, {"type": "Point", "coordinates": list(INSIDE_CHATELET)})
    assert response.status_code == 403
    body = response.get_json()
    assert (body["code"], body["commune_nis"], body["where"]) == ("not_your_commune", CHATELET, "/geometry")
    assert body["detail"] == f"the point lies in Châtelet ({CHATELET}); you represent {CHARLEROI}"
    line = {"type": "LineString", "coordinates": [list(INSIDE_CHATELET), [4.51, 50.39]]}
    body = _post(representative, line).get_json()
    assert body["detail"] == f"the line (road stretch) lies mainly in Châtelet ({CHATELET}); you represent {CHARLEROI}"
    assert body["where"] == "/geometry"


def test_uploads_put_the_border_point_in_charleroi(db, representative) -> None:
    collection = {"type": "FeatureCollection", "features": [
        feature({"type": "Point", "coordinates": list(EDGE_MIDPOINT)}, network="mobile", description="frontière"),
        feature({"type": "Point", "coordinates": list(INSIDE_CHATELET)}, network="mobile", description="Châtelet"),
    ]}
    geojson = _upload(representative, json.dumps(collection).encode(), "b.geojson", dry_run="true",
                      mode="valid_only").get_json()
    csv = _upload(representative, b"latitude,longitude,description,reseau\r\n50.3983995,4.4976605,frontiere,mobile\r\n"
                  b"50.39836305,4.49770164,Chatelet,mobile\r\n", "b.csv", dry_run="true", mode="valid_only").get_json()
    for body in (geojson, csv):
        on_border, inside = body["features"]
        assert on_border["status"] == "accepted", on_border
        assert on_border["properties"]["commune_nis"] == CHARLEROI
        assert (inside["status"], inside["error"]["code"], inside["error"]["commune_nis"]) == (
            "refused", "not_your_commune", CHATELET)
        assert inside["error"]["detail"] == f"the point lies in Châtelet ({CHATELET}); you represent {CHARLEROI}"


def test_stored_figures_and_zone_count_the_border_point_in_charleroi(db, representative) -> None:
    # two reports at the border point (two descriptions): one zone, made of that point
    for description in ("ici", "ici aussi"):
        response = representative.post("/api/v1/reports", content_type="application/geo+json", data=json.dumps(
            feature({"type": "Point", "coordinates": list(EDGE_MIDPOINT)}, description=description)))
        assert response.status_code == 201, response.get_json()
    rid = response.get_json()["id"]
    stored = {r["nis_code"]: r for r in aggregation.commune_table(db)["communes"]}
    live = aggregation.compute_live(db, nis_codes=[CHARLEROI, CHATELET])
    for nis in (CHARLEROI, CHATELET):
        for key in ("report_count", "point_count", "breakdown"):
            assert stored[nis][key] == live[nis][key], (nis, key)
    assert (stored[CHARLEROI]["point_count"], stored[CHATELET]["point_count"]) == (2, 0)
    # the zone pass (stored SQL) agrees: the point's zone is Charleroi's
    zone_home = db.execute(text("SELECT z.commune_nis FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id "
                                "WHERE zr.report_id = :id"), {"id": rid}).scalar_one()
    assert zone_home == CHARLEROI
    # the file mode, from geometry, says the same
    boundaries = _communes()
    homes = aggregation.home_communes(boundaries, np.asarray(
        [Point(*EDGE_MIDPOINT), Point(*INSIDE_CHATELET), THREE], dtype=object))
    assert homes == [CHARLEROI, CHATELET, CHARLEROI]


@pytest.mark.parametrize("offset", [0.0, 0.4e-8, -0.4e-8])
def test_points_within_the_tolerance_of_the_edge_agree_everywhere(db, area, offset) -> None:
    from geosignal.services.intake.batch import home_communes

    # moved across the edge by less than the tolerance, either side
    point = Point(EDGE_MIDPOINT[0] + offset, EDGE_MIDPOINT[1] - offset)
    assert area.commune_at(point.x, point.y)[0] == CHARLEROI
    assert list(home_communes(area, np.asarray([point], dtype=object)).home) == [CHARLEROI]
    assert commune_of(db, f"SRID=4326;{shapely.to_wkt(point, rounding_precision=-1)}") == CHARLEROI


def test_an_edit_moving_a_point_onto_the_border_keeps_it_in_charleroi(db, representative) -> None:
    created = _post(representative, {"type": "Point", "coordinates": [4.4440, 50.4108]})
    assert created.status_code == 201, created.get_json()
    url, tag = created.headers["Location"], created.headers["ETag"]
    moved = representative.patch(url, json={"geometry": {"type": "Point", "coordinates": list(EDGE_MIDPOINT)}},
                                 headers={"If-Match": tag})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["properties"]["commune_nis"] == CHARLEROI
    refused = representative.patch(url, json={"geometry": {"type": "Point", "coordinates": list(INSIDE_CHATELET)}},
                                   headers={"If-Match": moved.headers["ETag"]})
    body = refused.get_json()
    assert (refused.status_code, body["code"], body["where"]) == (403, "not_your_commune", "/geometry")
    assert body["detail"] == f"the point now lies in Châtelet ({CHATELET}); you represent {CHARLEROI}"
