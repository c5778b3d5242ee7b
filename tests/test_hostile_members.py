"""GeoJSON members beside the geometry that say something geosignal did not read: a ``bbox``
the coordinates disagree with (a box left from before an edit, coordinates in another CRS),
a malformed ``bbox``, foreign members (``observed_at`` beside ``properties``, a ``radius`` on
the geometry); and the pointers of a ``PATCH`` status change, which names its target
``status``. Each refusal is checked for its exact code and pointer, and for nothing stored."""

from __future__ import annotations

import io
import json

import pytest

from tests.factories import CHARLEROI_LAMBERT72, count_reports, feature

LON, LAT = 4.4440, 50.4108  # Charleroi
POINT = {"type": "Point", "coordinates": [LON, LAT]}
SQUARE = {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.415], [4.44, 50.415],
                                              [4.44, 50.41]]]}


def _post(account, doc: dict, **query: str):  # noqa: ANN001, ANN202
    return account.post("/api/v1/reports", data=json.dumps(doc), content_type="application/geo+json",
                        query_string=query)


def _problem(response, status: int, code: str, where: str) -> dict:  # noqa: ANN001
    body = response.get_json()
    assert (response.status_code, body["code"], body.get("where")) == (status, code, where), body
    assert response.mimetype == "application/problem+json"
    return body


# =========================================================================== bbox

@pytest.mark.parametrize(("doc", "where", "extent"), [
    # a box elsewhere (a stale box, or one of the coordinates before they were edited)
    ({**feature(POINT), "bbox": [0, 0, 1, 1]}, "/bbox", [LON, LAT, LON, LAT]),
    # the geometry's own box, which cuts the square's east half off
    (feature({**SQUARE, "bbox": [4.44, 50.41, 4.445, 50.415]}), "/geometry/bbox", [4.44, 50.41, 4.45, 50.415]),
    # a box crossing the antimeridian is a box, but not one around Charleroi
    ({**feature(POINT), "bbox": [170, 50, -170, 51]}, "/bbox", [LON, LAT, LON, LAT]),
], ids=["elsewhere", "geometry's box too small", "antimeridian"])
def test_a_bbox_the_geometry_lies_outside_is_refused(db, representative, doc, where, extent) -> None:
    before = count_reports(db)
    body = _problem(_post(representative, doc), 422, "invalid_geojson", where)
    assert body["extent"] == pytest.approx(extent)
    assert count_reports(db) == before


@pytest.mark.parametrize(("bbox", "where", "code"), [
    ("4,50,5,51", "/bbox", "invalid_geojson"),
    ([4, 50, 5], "/bbox", "invalid_geojson"),
    ([4, 50, 0, 5, 51, 0, 1], "/bbox", "invalid_geojson"),
    ([5, 51, 4, 50], "/bbox", "invalid_geojson"),          # corners the wrong way round
    ([4, 50, "5", 51], "/bbox/2", "invalid_coordinate"),
    ([4, 50, True, 51], "/bbox/2", "invalid_coordinate"),
], ids=["string", "3 numbers", "7 numbers", "corners swapped", "a string", "a boolean"])
def test_a_malformed_bbox_is_refused_where_it_is(db, representative, bbox, where, code) -> None:
    before = count_reports(db)
    _problem(_post(representative, {**feature(POINT), "bbox": bbox}), 422, code, where)
    assert count_reports(db) == before


def test_a_bbox_nan_is_a_non_finite_number(db, representative) -> None:
    text = json.dumps({**feature(POINT), "bbox": [4, 50, 5, 51]}).replace("[4, 50, 5, 51]", "[4, NaN, 5, 51]")
    response = representative.post("/api/v1/reports", data=text, content_type="application/geo+json")
    _problem(response, 422, "non_finite_number", "/bbox/1")


@pytest.mark.parametrize("bbox", [
    [LON, LAT, LON, LAT],                                   # exactly the point
    [round(LON, 6), round(LAT, 6), round(LON, 6), round(LAT, 6)],
    [LON + 5e-7, LAT + 5e-7, LON + 5e-7, LAT + 5e-7],  # a writer's rounding
    [4, 50, 5, 51],                                         # a loose box is a box around it
    [4, 50, -10, 5, 51, 500],                               # with heights
], ids=["exact", "6 decimals", "off by 5e-7 degrees", "loose", "3D"])
def test_a_bbox_around_the_geometry_is_accepted(db, representative, bbox) -> None:
    response = _post(representative, {**feature(POINT), "bbox": bbox})
    assert response.status_code == 201, response.get_json()


def test_a_lambert_bbox_is_read_in_the_coordinates_crs(db, representative) -> None:
    x, y = CHARLEROI_LAMBERT72
    point = {"type": "Point", "coordinates": [x, y]}
    ok = _post(representative, {**feature(point), "bbox": [x - 100, y - 100, x + 100, y + 100]}, crs="EPSG:31370")
    assert ok.status_code == 201, ok.get_json()
    # a box in degrees beside metres: which one is meant?
    body = _problem(_post(representative, {**feature(point, description="b"), "bbox": [4, 50, 5, 51]},
                          crs="EPSG:31370"), 422, "invalid_geojson", "/bbox")
    assert body["extent"] == pytest.approx([x, y, x, y])


def _upload(account, doc: dict, dry_run: str = "true"):  # noqa: ANN001, ANN202
    return account.post("/api/v1/imports", data={"file": (io.BytesIO(json.dumps(doc).encode()), "zones.geojson"),
                                                 "dry_run": dry_run}, content_type="multipart/form-data")


def test_an_upload_checks_the_boxes_of_its_collection_and_features(db, representative) -> None:
    a = {"type": "Point", "coordinates": [4.444, 50.4108]}
    b = {"type": "Point", "coordinates": [4.45, 50.42]}
    around = [4.444, 50.4108, 4.45, 50.42]
    ok = _upload(representative, {"type": "FeatureCollection", "bbox": around,
                                  "features": [feature(a), feature(b)]})
    assert ok.status_code == 200 and ok.get_json()["accepted"] == 2, ok.get_json()
    before = count_reports(db)
    # the collection's box holds a only: the whole file is refused, naming b's position
    body = _problem(_upload(representative, {"type": "FeatureCollection", "bbox": [4.444, 50.4108, 4.444, 50.4108],
                                             "features": [feature(a), feature(b)]}, "false"),
                    422, "invalid_geojson", "/bbox")
    assert body["extent"] == pytest.approx(around)
    assert "[4.45, 50.42]" in body["detail"]
    # one feature's box is wrong: that feature is refused, the other accepted
    got = _upload(representative, {"type": "FeatureCollection",
                                   "features": [{**feature(a), "bbox": [0, 0, 1, 1]}, feature(b)]}).get_json()
    assert (got["accepted"], got["refused"]) == (1, 1)
    error = got["features"][0]["error"]
    assert (error["code"], error["pointer"]) == ("invalid_geojson", "/features/0/bbox"), error
    assert count_reports(db) == before


# =========================================================================== foreign members

def test_foreign_members_of_a_posted_feature_are_said(db, representative) -> None:
    doc = {**feature({**POINT, "radius": 250}), "observed_at": "2025-06-01", "a/b": 1, "id": "mine",
           "bbox": [LON, LAT, LON, LAT]}
    response = _post(representative, doc)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    warning = next(w for w in body["intake"]["warnings"] if w["code"] == "members_ignored")
    assert warning["members"] == ["/observed_at", "/a~1b", "/geometry/radius"]
    # what was not read is not there: a point (no circle), no date observed
    assert body["geometry"]["type"] == "Point"
    assert body["properties"]["observed_at"] is None


def test_a_feature_of_geojson_members_only_has_no_warning(db, representative) -> None:
    response = _post(representative, {**feature(POINT), "id": "x", "bbox": [LON, LAT, LON, LAT]})
    assert response.status_code == 201
    assert "intake" not in response.get_json() or not any(
        w["code"] == "members_ignored" for w in response.get_json()["intake"]["warnings"])


def test_an_upload_says_its_foreign_members_once(db, representative) -> None:
    a = {"type": "Point", "coordinates": [4.444, 50.4108]}
    b = {"type": "Point", "coordinates": [4.45, 50.42], "radius": 100}
    doc = {"type": "FeatureCollection", "name": "export", "features": [
        {**feature(a), "title": "A"}, {**feature(b), "title": "B"}, feature({"type": "Point",
                                                                            "coordinates": [4.446, 50.41]})]}
    body = _upload(representative, doc).get_json()
    assert body["accepted"] == 3
    warnings = [w for w in body["warnings"] if w["code"] == "members_ignored"]
    assert len(warnings) == 1
    assert (warnings[0]["members"], warnings[0]["features"]) == (["/title", "/geometry/radius"], 2)
    assert all(not f.get("warnings") or all(w["code"] != "members_ignored" for w in f["warnings"])
               for f in body["features"])


# =========================================================================== PATCH status pointers

@pytest.mark.parametrize(("status", "code", "where", "http"), [
    ("Withdrawn", "invalid_request", "/status", 400),
    (["withdrawn"], "invalid_request", "/status", 400),
    ("validated", "forbidden", "/status", 403),      # a representative does not validate
    ("submitted", "invalid_transition", "/status", 409),
])
def test_a_patch_status_change_points_at_status(db, representative, status, code, where, http) -> None:
    rid = _post(representative, feature(POINT)).get_json()["id"]
    response = representative.patch(f"/api/v1/reports/{rid}", data=json.dumps({"status": status}),
                                    content_type="application/json")
    body = _problem(response, http, code, where)
    assert not body["detail"].startswith("to ")
    # the transitions endpoint names its own member
    response = representative.post(f"/api/v1/reports/{rid}/transitions", data=json.dumps({"to": status}),
                                   content_type="application/json")
    _problem(response, http, code, "/to")


# =========================================================================== upload file names

@pytest.mark.parametrize(("name", "character"), [
    ("zones\x00.geojson", "U+0000"),
    ("\u202enosjoeg.geojson", "U+202E"),
    ("zones\x1b[31m.geojson", "U+001B"),
])
def test_an_upload_whose_name_cannot_be_stored_is_refused_at_file(db, representative, name, character) -> None:
    before = count_reports(db)
    doc = {"type": "FeatureCollection", "features": [feature(POINT)]}
    for dry_run in ("true", "false"):
        response = representative.post("/api/v1/imports", data={
            "file": (io.BytesIO(json.dumps(doc).encode()), name), "dry_run": dry_run},
            content_type="multipart/form-data")
        body = _problem(response, 400, "invalid_request", "file")
        assert body["character"] == character
    assert count_reports(db) == before


# =========================================================================== PATCH says what it did not read

def test_a_patch_says_what_it_did_not_read_as_a_post_does(db, representative) -> None:
    rid = _post(representative, feature(POINT)).get_json()["id"]

    def patch(body: dict):  # noqa: ANN202
        etag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
        response = representative.patch(f"/api/v1/reports/{rid}", data=json.dumps(body),
                                        content_type="application/json", headers={"If-Match": etag})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    said = patch({"properties": {"menage": 12}})["intake"]["warnings"]
    assert [(w["code"], w.get("names")) for w in said] == [("properties_ignored", ["menage"])]
    said = patch({"geometry": {"type": "Point", "coordinates": [4.4441, 50.4108, 120.0], "radius": 300}})
    assert [w["code"] for w in said["intake"]["warnings"]] == ["z_dropped", "members_ignored"]
    assert said["intake"]["warnings"][1]["members"] == ["/geometry/radius"]
    assert said["geometry"] == {"type": "Point", "coordinates": [4.4441, 50.4108]}
    assert "intake" not in patch({"properties": {"description": "rien à dire"}})
