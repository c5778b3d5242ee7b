"""Hostile numbers, seventh round: counts and distances written in ways a reader could take
for another number — a GPX ``<extensions>`` value GDAL types as a number (``1 000`` read as 1,
``5 ménages`` as 5, 10²⁰ as 2³¹-1), spaces that do not group thousands (``5 10`` read as 510),
a radius of ``6.000`` m (six or six thousand?).

Each case goes through the intake service (:func:`read_upload`) and through
``POST /api/v1/imports`` (preview and save) or the page that takes it, against the real app and
PostGIS: exact codes, values and pointers, and what is stored.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select, text

from geosignal.formparse import decimal_number
from geosignal.models import Report
from geosignal.services.intake import ReportInput, read_upload
from tests.conftest import csrf_token
from tests.factories import count_reports as _count
from tests.factories import feature, upload_file


def _gpx_waypoints(*extensions: str) -> bytes:
    points = "".join(f'<wpt lat="{50.4108 + k * 0.001:.4f}" lon="4.4440"><desc>point {k}</desc>'
                     f"<extensions>{ext}</extensions></wpt>" for k, ext in enumerate(extensions))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
            f'xmlns="http://www.topografix.com/GPX/1/1">{points}</gpx>').encode()


def _dropped(rep) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(w["code"], w["name"], w["column"]) for w in rep.warnings if w["code"] == "attribute_dropped"]


@pytest.mark.parametrize(("value", "shown"), [("1.000", "'1.000'"), ("12.7", "'12.7'"), ("5 ménages", "'5 ménages'"),
                                              ("99999999999999999999", "99999999999999999999"),
                                              ("1e3", "'1e3'"), ("1 0000", "'1 0000'")])
def test_gpx_extension_numbers_reach_the_count_rules_as_written(area, admin, db, value, shown):
    # GDAL's GPX driver types an <extensions> field as a number when its first values look like
    # one, then reads each value with atof/atoi: '1.000' → 1, '5 ménages' → 5, 10²⁰ → 2147483647
    data = _gpx_waypoints("<menages>12</menages>", f"<menages>{value}</menages>", "<menages>1 000</menages>")
    res = read_upload(data, "a.gpx", area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [r.properties.get("households_affected") for r in res] == [12, None, 1000]
    assert _dropped(res[1]) == [("attribute_dropped", "households_affected", "menages")]
    assert shown in res[1].warnings[0]["detail"], res[1].warnings
    assert not res[0].warnings and not res[2].warnings
    before = _count(db)
    preview = upload_file(admin, data, "a.gpx", network="mobile", dry_run="true").get_json()["features"]
    assert [f["properties"].get("households_affected") for f in preview] == [12, None, 1000]
    assert [w["code"] for w in preview[1]["warnings"]] == ["attribute_dropped"]
    assert _count(db) == before
    response = upload_file(admin, data, "a.gpx", network="mobile", mode="all")
    assert response.status_code == 201 and response.get_json()["saved"] == 3
    stored = db.scalars(select(Report.households_affected).where(Report.description.in_(
        ["point 0", "point 1", "point 2"])).order_by(Report.description)).all()
    assert stored == [12, None, 1000]


def test_gpx_extension_numbers_clean_values_are_read_exactly(area):
    data = _gpx_waypoints("<menages>7</menages><entreprises>0</entreprises>", "<menages>+5</menages>",
                          "<entreprises>3</entreprises>")
    res = read_upload(data, "a.gpx", area=area)
    assert [(r.properties.get("households_affected"), r.properties.get("businesses_affected")) for r in res] == [
        (7, 0), (None, None), (None, 3)]
    assert [w["code"] for w in res[1].warnings] == ["attribute_dropped"]  # '+5': no sign on a count
    assert not res[0].warnings and not res[2].warnings


# --------------------------------------------------------------------------- spaces in a number

POINT = {"type": "Point", "coordinates": [4.444, 50.4108]}
CSV_HEAD = "lat;lon;reseau;menages;description\n"


@pytest.mark.parametrize("written", ["5 10", "12 5", "1 0000", "10 00", "1 00 000", "1\u00a000", "2 500 0"])
def test_spaces_that_do_not_group_thousands_are_not_joined_into_one_count(area, admin, db, written):
    # '5 10' (five to ten?) was stored as 510 households, '1 00 000' as 100000
    data = (CSV_HEAD + f"50,4108;4,4440;mobile;{written};row two\n50,4118;4,4440;mobile;1 000;row three\n"
            ).encode("utf-8")
    first, second = read_upload(data, "a.csv", area=area)
    assert "households_affected" not in first.properties and second.properties["households_affected"] == 1000
    (warning,) = [w for w in first.warnings if w["code"] == "attribute_dropped"]
    assert (warning["name"], warning["column"]) == ("households_affected", "menages")
    assert f"{written!r} is not one number" in warning["detail"], warning
    response = upload_file(admin, data, "a.csv", mode="all")
    assert response.status_code == 201 and response.get_json()["saved"] == 2
    stored = db.scalars(select(Report.households_affected).where(Report.description.in_(["row two", "row three"]))
                        .order_by(Report.description)).all()
    assert stored == [1000, None]


@pytest.mark.parametrize(("written", "value"), [("1 000", 1000), ("1\u202f000", 1000), ("1\u00a0000", 1000),
                                                ("12 500", 12500), ("1 000 000", 1000000), ("2 500,00", 2500)])
def test_spaces_grouping_thousands_are_still_read(area, written, value):
    data = (CSV_HEAD + f"50,4108;4,4440;mobile;{written};ici\n").encode("utf-8")
    (rep,) = read_upload(data, "a.csv", area=area)
    assert rep.properties["households_affected"] == value and not rep.warnings


def test_the_api_says_a_spaced_count_is_not_one_number(representative, db):
    before = _count(db)
    for written, detail in (("5 10", "households_affected '5 10' is not one number"),
                            ("1 000", "households_affected must be a whole number ≥ 0; got '1 000'.")):
        answer = representative.post("/api/v1/reports", json=feature(POINT, households_affected=written))
        (error,) = answer.get_json()["errors"]
        assert (answer.status_code, error["code"], error["pointer"]) == (
            422, "invalid_attribute", "/properties/households_affected")
        assert error["detail"].startswith(detail), error
    assert _count(db) == before


@pytest.mark.parametrize("typed", ["1 5", "5 10", "1 0,5", "12 34", " - 1 000"])
def test_a_form_number_with_spaces_elsewhere_than_between_thousands_is_none(typed):
    assert decimal_number(typed) is None


@pytest.mark.parametrize(("typed", "value"), [("1 000", 1000.0), ("12\u202f500,5", 12500.5), ("\u22121 000", -1000.0),
                                              ("1\u00a0000.25", 1000.25), ("0,8", 0.8)])
def test_a_form_number_with_thousands_spaced_is_read(typed, value):
    assert decimal_number(typed) == value


def test_the_speed_test_form_refuses_a_download_of_1_5(db, representative):
    # '1 5' Mbit/s was stored as 15
    report_id = representative.post("/api/v1/reports", json=feature(POINT)).get_json()["id"]
    representative.login()
    client = representative.client
    token = csrf_token(client.get(f"/signalements/{report_id}").get_data(as_text=True))
    refused = client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-05-01T10:00", "download_mbps": "1 5"})
    assert refused.status_code == 422
    assert 'name="download_mbps" value="1 5"' in refused.get_data(as_text=True)
    added = client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-05-01T10:00", "download_mbps": "1 000"})
    assert added.status_code == 302
    assert db.execute(text("SELECT download_mbps FROM report_speed_tests WHERE report_id = :r"),
                      {"r": report_id}).scalars().all() == [1000.0]


@pytest.mark.parametrize(("x", "y", "column", "value"), [("155 34 9", "122215", "x", "155 34 9"),
                                                         ("1 55349", "122215", "x", "1 55349"),
                                                         ("155349", "12 2215,5", "y", "12 2215,5")])
def test_a_csv_coordinate_with_spaces_elsewhere_than_between_thousands_is_refused(area, admin, db, x, y, column,
                                                                                    value):
    # '155 34 9' was read as 155349 (a position in Charleroi), '50,410 8' as 50.4108
    data = f"x;y;reseau\n{x};{y};mobile\n155 349;122 215;mobile\n".encode()
    err, rep = read_upload(data, "a.csv", area=area, crs="EPSG:31370")
    assert (err.code, err.where, err.extra["column"], err.extra["value"]) == ("invalid_coordinate", "row 2", column,
                                                                              value)
    assert "not one number: a space may only separate groups of three digits" in err.detail
    assert rep.geometry.x == pytest.approx(4.4440004, abs=1e-7) and rep.geometry.y == pytest.approx(50.4108005, abs=1e-7)
    before = _count(db)
    body = upload_file(admin, data, "a.csv", crs="EPSG:31370", mode="valid_only").get_json()
    assert [f["status"] for f in body["features"]] == ["refused", "accepted"] and body["saved"] == 1
    assert body["features"][0]["error"]["code"] == "invalid_coordinate"
    assert _count(db) == before + 1


def test_a_csv_latitude_with_a_space_inside_its_decimals_is_refused(area):
    data = b"lat;lon;reseau\n50,410 8;4,444;mobile\n"
    (err,) = read_upload(data, "a.csv", area=area)
    assert (err.code, err.extra["column"], err.extra["value"]) == ("invalid_coordinate", "lat", "50,410 8")


# --------------------------------------------------------------------------- a radius of 6.000 m

@pytest.mark.parametrize(("written", "read"), [("6.000", "6000 m (with a thousands separator) or 6.000 m"),
                                               ("2,500", "2500 m (with a thousands separator) or 2.500 m")])
def test_a_file_radius_of_6_000_is_ambiguous_not_six_metres(area, admin, db, written, read):
    # a CSV radius of 6.000 (six kilometres as Belgians write it) made a circle of 6 m (113 m²)
    data = f"lat;lon;reseau;rayon;description\n50,4108;4,4440;mobile;{written};ici\n".encode()
    (err,) = read_upload(data, "a.csv", area=area)
    assert (err.code, err.where, err.extra["name"], err.extra["column"], err.extra["value"]) == (
        "invalid_attribute", "row 2", "radius", "rayon", written)
    assert read in err.detail
    geojson = ('{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",'
               f'"coordinates":[4.444,50.4108]}},"properties":{{"network":"mobile","radius":"{written}"}}}}]}}').encode()
    (err,) = read_upload(geojson, "a.geojson", area=area)
    assert (err.code, err.where, err.extra["pointer"]) == ("invalid_attribute", "feature 0",
                                                           "/features/0/properties/radius")
    assert read in err.detail
    before = _count(db)
    body = upload_file(admin, data, "a.csv", mode="valid_only").get_json()
    assert body["saved"] == 0 and body["features"][0]["status"] == "refused"
    assert _count(db) == before


@pytest.mark.parametrize(("written", "area_m2"), [("6000", 112_915_745.6), ("12,5", 490.1), ("1234.567", 4_780_588.2)])
def test_a_file_radius_that_says_one_number_is_still_read(area, written, area_m2):
    data = f"lat;lon;reseau;rayon\n50,4108;4,4440;mobile;{written}\n".encode()
    (rep,) = read_upload(data, "a.csv", area=area)
    assert rep.area_m2 == pytest.approx(area_m2, abs=0.1)  # the 64-gon of that radius, m² (EPSG:31370)


def test_the_api_refuses_a_radius_of_6_000_as_text(representative, db):
    before = _count(db)
    answer = representative.post("/api/v1/reports", json=feature(POINT, radius="6.000"))
    (error,) = answer.get_json()["errors"]
    assert (answer.status_code, error["code"], error["pointer"]) == (422, "invalid_attribute", "/properties/radius")
    assert "6000 m (with a thousands separator) or 6.000 m (a decimal)" in error["detail"]
    assert _count(db) == before


@pytest.mark.parametrize("typed", ["6.000", "6,000", "-105,000", "1.500"])
def test_a_form_number_whose_separator_may_group_thousands_is_none(typed):
    assert decimal_number(typed) is None


def test_the_map_form_refuses_a_radius_of_6_000(db, representative):
    representative.login()
    client = representative.client
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    before = _count(db)
    answer = client.post("/carte", data={"csrf_token": token, "geometry": '{"type":"Point","coordinates":[4.444,50.4108]}',
                                         "network": "mobile", "issue": "no_coverage", "radius": "6.000"})
    assert answer.status_code == 422
    # (6 m or 6,000 m? said with its two readings, never guessed)
    assert "Rayon (m) : « 6.000 » se lit 6000 ou 6 : écrivez le nombre sans séparateur de milliers." in \
        html.unescape(answer.get_data(as_text=True))
    assert _count(db) == before


def test_the_speed_test_form_refuses_a_download_of_1_000(db, representative):
    # '1.000' Mbit/s (one gigabit as Belgians write it) was stored as 1
    report_id = representative.post("/api/v1/reports", json=feature(POINT)).get_json()["id"]
    representative.login()
    client = representative.client
    token = csrf_token(client.get(f"/signalements/{report_id}").get_data(as_text=True))
    refused = client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-05-01T10:00", "download_mbps": "1.000"})
    assert refused.status_code == 422 and 'name="download_mbps" value="1.000"' in refused.get_data(as_text=True)
    assert db.execute(text("SELECT count(*) FROM report_speed_tests WHERE report_id = :r"),
                      {"r": report_id}).scalar() == 0


# --------------------------------------------------------------------------- 10 MB of positions

def _ellipse(n: int) -> list[list[float]]:
    import math

    ring = [[round(4.444 + 0.01 * math.cos(2 * math.pi * k / n), 7), round(50.4108 + 0.006 * math.sin(2 * math.pi * k / n), 7)]
            for k in range(n)]
    return [*ring, ring[0]]


def test_a_body_of_400000_positions_is_refused_without_walking_it_for_nan(representative, db, monkeypatch):
    # POST took 12.7 s and PATCH 9.6 s to answer too_many_vertices for 10 MB of positions: the
    # whole document was walked twice for NaN, which its parser had already ruled out
    from geosignal.services.intake import core

    walked: list[str] = []
    real = core.find_non_finite
    monkeypatch.setattr(core, "find_non_finite", lambda obj, ptr="": walked.append(ptr) or real(obj, ptr))
    big = {"type": "Polygon", "coordinates": [_ellipse(400_000)]}
    before = _count(db)
    answer = representative.post("/api/v1/reports", json=feature(big))
    assert (answer.status_code, answer.get_json()["code"]) == (422, "too_many_vertices")
    assert answer.get_json()["detail"] == "The geometry has 400001 vertices; the limit is 10000. Simplify it."
    created = representative.post("/api/v1/reports", json=feature(POINT))
    assert walked == []
    rid = created.get_json()["id"]
    etag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
    patched = representative.patch(f"/api/v1/reports/{rid}", json={"geometry": big},
                                   headers={"If-Match": etag})
    assert (patched.status_code, patched.get_json()["code"]) == (422, "too_many_vertices")
    assert walked == [] and _count(db) == before + 1
    # a NaN is still found, with its pointer, in a POST and in a PATCH
    nan = b'{"type":"Feature","properties":{"network":"mobile"},"geometry":{"type":"Point","coordinates":[4.4,NaN]}}'
    answer = representative.post("/api/v1/reports", data=nan, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == (
        422, "non_finite_number", "/geometry/coordinates/1")
    patched = representative.patch(f"/api/v1/reports/{rid}", headers={
        "If-Match": etag, "Content-Type": "application/json"},
        data=b'{"geometry":{"type":"Point","coordinates":[4.4,50.41]},"properties":{"households_affected":Infinity}}')
    assert (patched.status_code, patched.get_json()["code"], patched.get_json()["where"]) == (
        422, "non_finite_number", "/properties/households_affected")
    assert _count(db) == before + 1


# --------------------------------------------------------------------------- 1000.0 is 1000 everywhere

def _counted(written: str, description: str) -> bytes:
    """A Feature in Charleroi whose two counts are the JSON number ``written``, as written."""
    return ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},"properties":'
            f'{{"network":"mobile","description":"{description}","households_affected":{written},'
            f'"businesses_affected":{written}}}}}').encode()


def _collection(*features: bytes) -> bytes:
    return b'{"type":"FeatureCollection","features":[' + b",".join(features) + b"]}"


def _stored_counts(db, description: str) -> list[tuple[int | None, int | None]]:  # noqa: ANN001
    return [tuple(row) for row in db.execute(select(Report.households_affected, Report.businesses_affected)
                                              .where(Report.description == description))]


@pytest.mark.parametrize(("written", "read"), [("1000", 1000), ("1000.0", 1000), ("1e3", 1000), ("1E+3", 1000),
                                               ("1000.000", 1000), ("10000e-1", 1000), ("-0.0", 0), ("0.0", 0),
                                               ("1e6", 1_000_000)])
def test_an_integral_json_count_is_one_number_in_the_api_and_in_uploads(area, representative, admin, db, written,
                                                                          read):
    # the API refused 1000.0 and 1e3 (422 "must be a whole number") where a GeoJSON upload read
    # them as 1000: JSON does not tell 1000.0 from 1000, and the published schema (JSON Schema
    # 2020-12) calls integer any number whose fractional part is zero
    answer = representative.post("/api/v1/reports", data=_counted(written, "api"), content_type="application/geo+json")
    assert answer.status_code == 201, answer.get_json()
    props = answer.get_json()["properties"]
    assert (props["households_affected"], props["businesses_affected"]) == (read, read)
    assert "intake" not in answer.get_json()  # no warning: nothing was changed
    assert _stored_counts(db, "api") == [(read, read)]
    assert representative.get(answer.headers["Location"]).get_json()["properties"]["households_affected"] == read
    data = _collection(_counted(written, "file"))
    (rep,) = read_upload(data, "a.geojson", area=area)
    assert rep.properties["households_affected"] == read and type(rep.properties["households_affected"]) is int
    assert rep.warnings == []
    preview = upload_file(admin, data, "a.geojson", dry_run="true").get_json()
    assert [(f["status"], f["properties"]["households_affected"], f["properties"]["businesses_affected"],
             f["warnings"]) for f in preview["features"]] == [("accepted", read, read, [])]
    saved = upload_file(admin, data, "a.geojson")
    assert (saved.status_code, saved.get_json()["saved"]) == (201, 1)
    assert _stored_counts(db, "file") == [(read, read)]


@pytest.mark.parametrize(("written", "detail"), [
    ("1000.5", "households_affected must be a whole number ≥ 0; got 1000.5."),
    ("1e-3", "households_affected must be a whole number ≥ 0; got 0.001."),
    # whole as doubles (0.0, 1.0, 1000000.0), not as written: quoted as written
    ("1e-400", "households_affected must be a whole number ≥ 0; got 1e-400."),
    ("0.99999999999999999999", "households_affected must be a whole number ≥ 0; got 0.99999999999999999999."),
    ("1000000.00000000000001", "households_affected must be a whole number ≥ 0; got 1000000.00000000000001."),
    ("1000001.0", "households_affected must be between 0 and 1,000,000; got 1000001.0."),
    ("1e7", "households_affected must be between 0 and 1,000,000; got 10000000.0."),
    ("1e300", "households_affected must be between 0 and 1,000,000; got 1e+300."),
    ("-1.0", "households_affected must be between 0 and 1,000,000; got -1.0."),
    ("true", "households_affected must be a whole number ≥ 0; got True."),
    ("false", "households_affected must be a whole number ≥ 0; got False."),
])
def test_a_count_that_is_no_whole_number_in_range_is_refused_by_the_api_and_dropped_from_files(
        area, representative, admin, db, written, detail):
    before = _count(db)
    answer = representative.post("/api/v1/reports", data=_counted(written, "api"), content_type="application/geo+json")
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["where"]) == (422, "invalid_attribute",
                                                                 "/properties/households_affected")
    assert [(e["code"], e["pointer"], e["detail"]) for e in body["errors"]] == [
        ("invalid_attribute", "/properties/households_affected", detail),
        ("invalid_attribute", "/properties/businesses_affected", detail.replace("households", "businesses"))]
    assert _count(db) == before
    # a file's attribute that cannot be read is dropped with a warning (the upload rule), with
    # the API's very sentence
    data = _collection(_counted(written, "file"))
    preview = upload_file(admin, data, "a.geojson", dry_run="true").get_json()
    (entry,) = preview["features"]
    assert (entry["status"], entry["properties"]["households_affected"], entry["properties"]["businesses_affected"]) \
        == ("accepted", None, None)
    assert [(w["code"], w["name"], w["error"], w["pointer"], w["detail"]) for w in entry["warnings"]] == [
        ("attribute_dropped", "households_affected", "invalid_attribute", "/features/0/properties/households_affected",
         f"households_affected was ignored: {detail}"),
        ("attribute_dropped", "businesses_affected", "invalid_attribute", "/features/0/properties/businesses_affected",
         f"businesses_affected was ignored: {detail.replace('households', 'businesses')}")]
    saved = upload_file(admin, data, "a.geojson")
    assert (saved.status_code, saved.get_json()["saved"]) == (201, 1)
    assert saved.get_json()["features"][0]["warnings"] == entry["warnings"]
    assert _stored_counts(db, "file") == [(None, None)]


def test_a_count_beyond_any_float_is_non_finite_in_the_api_and_in_uploads(representative, admin, db):
    before = _count(db)
    answer = representative.post("/api/v1/reports", data=_counted("1e400", "api"), content_type="application/geo+json")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == (
        422, "non_finite_number", "/properties/households_affected")
    data = _collection(_counted("1e400", "file"), _counted("1e3", "file ok"))
    for fields in ({"dry_run": "true"}, {"mode": "valid_only"}):
        body = upload_file(admin, data, "a.geojson", **fields).get_json()
        refused, accepted = body["features"]
        assert (refused["index"], refused["status"], refused["error"]["code"], refused["error"]["where"],
                refused["error"]["pointer"]) == (0, "refused", "non_finite_number", "feature 0",
                                                 "/features/0/properties/households_affected")
        assert (accepted["status"], accepted["properties"]["households_affected"]) == ("accepted", 1000)
    assert _stored_counts(db, "file") == [] and _stored_counts(db, "file ok") == [(1000, 1000)]
    assert _count(db) == before + 1


def test_a_patch_reads_an_integral_count_as_a_post_does(representative, db):
    created = representative.post("/api/v1/reports", data=_counted("3", "patched"), content_type="application/geo+json")
    rid, etag = created.get_json()["id"], created.headers.get("ETag") or representative.get(
        f"/api/v1/reports/{created.get_json()['id']}").headers["ETag"]
    headers = {"If-Match": etag, "Content-Type": "application/json"}
    patched = representative.patch(f"/api/v1/reports/{rid}", headers=headers,
                                   data=b'{"properties":{"households_affected":1e3,"businesses_affected":12.0}}')
    assert patched.status_code == 200, patched.get_json()
    assert (patched.get_json()["properties"]["households_affected"],
            patched.get_json()["properties"]["businesses_affected"]) == (1000, 12)
    assert _stored_counts(db, "patched") == [(1000, 12)]
    headers["If-Match"] = patched.headers["ETag"]
    refused = representative.patch(f"/api/v1/reports/{rid}", headers=headers,
                                   data=b'{"properties":{"households_affected":12.5}}')
    assert (refused.status_code, refused.get_json()["code"], refused.get_json()["where"],
            refused.get_json()["detail"]) == (422, "invalid_attribute", "/properties/households_affected",
                                              "households_affected must be a whole number ≥ 0; got 12.5.")
    # 1e-400 is 0.0 as a double: it did replace the stored 1000 with 0
    underflow = representative.patch(f"/api/v1/reports/{rid}", headers=headers,
                                     data=b'{"properties":{"households_affected":1e-400}}')
    assert (underflow.status_code, underflow.get_json()["code"], underflow.get_json()["detail"]) == (
        422, "invalid_attribute", "households_affected must be a whole number ≥ 0; got 1e-400.")
    # a read-only integer sent back as read: 7.0 is the revision 7; true is no revision, even 1
    revision = patched.get_json()["properties"]["revision"]
    same = representative.patch(f"/api/v1/reports/{rid}", headers=headers,
                                data=f'{{"properties":{{"revision":{revision}.0,"description":"patched"}}}}'.encode())
    assert same.status_code == 200, same.get_json()
    headers["If-Match"] = same.headers["ETag"]
    boolean = representative.patch(f"/api/v1/reports/{rid}", headers=headers,
                                   data=b'{"properties":{"revision":true}}')
    assert (boolean.status_code, boolean.get_json()["code"], boolean.get_json()["where"]) == (
        422, "invalid_attribute", "/properties/revision")
    assert _stored_counts(db, "patched") == [(1000, 12)]


def test_a_geopackage_real_count_follows_the_same_rule(area, tmp_path):
    # GDAL types a REAL column's 12.0 as a float: read as 12, 12.5 dropped as the API refuses it
    import geopandas as gpd
    from shapely.geometry import Point

    frame = gpd.GeoDataFrame({"reseau": ["mobile", "mobile"], "menages": [12.0, 12.5]},
                             geometry=[Point(4.444, 50.4108), Point(4.445, 50.4108)], crs="EPSG:4326")
    frame.to_file(tmp_path / "a.gpkg", driver="GPKG")
    first, second = read_upload((tmp_path / "a.gpkg").read_bytes(), "a.gpkg", area=area)
    assert first.properties["households_affected"] == 12 and first.warnings == []
    assert "households_affected" not in second.properties
    assert [(w["code"], w["column"], w["detail"]) for w in second.warnings] == [
        ("attribute_dropped", "menages",
         "households_affected was ignored: households_affected must be a whole number ≥ 0; got 12.5.")]


# =========================================================================== non-finite numbers: one rule

_CSV_COUNTS = ("lat;lon;menages;entreprises;rayon;description\n"
               "50.4108;4.444;12;3;;ok\n"
               "50.4108;4.445;NaN;2;;nan households\n"
               "50.4108;4.446;5;1e999;;overflowing businesses\n"
               "50.4108;4.447;-Infinity;#DIV/0!;;both\n"
               "50.4108;4.448;abc;12 ménages;;unreadable text\n"
               "50.4108;4.449;1;1;inf;infinite radius\n").encode()


def test_a_csv_count_that_is_not_finite_refuses_its_row_as_geojson_does(area, admin, db):
    # NaN, ±Infinity, 1e999 (and a spreadsheet's #DIV/0!) in a numeric attribute cell refuse the
    # row with non_finite_number naming row and column, as the same value in a GeoJSON upload or
    # a coordinate cell does; text that is no number at all is still dropped with a warning
    res = read_upload(_CSV_COUNTS, "a.csv", area=area)
    assert [type(r).__name__ for r in res] == ["ReportInput", "GeosignalError", "GeosignalError", "GeosignalError",
                                               "ReportInput", "GeosignalError"]
    refused = [(r.code, r.where, r.extra["index"], r.extra["name"], r.extra["column"], r.extra["value"])
               for r in res if not isinstance(r, ReportInput)]
    assert refused == [
        ("non_finite_number", "row 3", 1, "households_affected", "menages", "NaN"),
        ("non_finite_number", "row 4", 2, "businesses_affected", "entreprises", "1e999"),
        ("non_finite_number", "row 5", 3, "households_affected", "menages", "-Infinity"),
        ("non_finite_number", "row 7", 5, "radius", "rayon", "inf")]
    both = res[3]  # every fault of the row: the first refusal, then the other cell
    assert [(e["code"], e["name"], e.get("column")) for e in both.extra["errors"]] == [
        ("non_finite_number", "households_affected", "menages"),
        ("non_finite_number", "businesses_affected", "entreprises")]
    kept = res[4]
    assert "households_affected" not in kept.properties and "businesses_affected" not in kept.properties
    assert _dropped(kept) == [("attribute_dropped", "households_affected", "menages"),
                              ("attribute_dropped", "businesses_affected", "entreprises")]
    # the preview and the save say the same, and nothing refused is stored
    before = _count(db)
    preview = upload_file(admin, _CSV_COUNTS, "a.csv", network="mobile", dry_run="true").get_json()["features"]
    rejected = upload_file(admin, _CSV_COUNTS, "a.csv", network="mobile", mode="all")
    assert rejected.status_code == 422 and _count(db) == before
    saved = upload_file(admin, _CSV_COUNTS, "a.csv", network="mobile", mode="valid_only")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 2
    for features in (preview, rejected.get_json()["features"], saved.get_json()["features"]):
        assert [(f["index"], f["status"]) + ((f["error"]["code"], f["error"]["where"], f["error"]["column"])
                                             if f["status"] == "refused" else ())
                for f in sorted(features, key=lambda f: f["index"])] == [
            (0, "accepted"), (1, "refused", "non_finite_number", "row 3", "menages"),
            (2, "refused", "non_finite_number", "row 4", "entreprises"),
            (3, "refused", "non_finite_number", "row 5", "menages"), (4, "accepted"),
            (5, "refused", "non_finite_number", "row 7", "rayon")]
    assert _count(db) == before + 2
    stored = db.execute(select(Report.description, Report.households_affected, Report.businesses_affected)
                        .where(Report.description.in_(["ok", "unreadable text", "nan households", "both"]))
                        .order_by(Report.description)).all()
    assert [tuple(r) for r in stored] == [("ok", 12, 3), ("unreadable text", None, None)]


@pytest.mark.parametrize("written", ["nan", "inf", "-Infinity", "1e999"])
def test_a_gpx_extension_count_that_is_not_finite_refuses_its_waypoint(area, admin, db, written):
    data = _gpx_waypoints("<menages>12</menages>", f"<menages>{written}</menages>")
    res = read_upload(data, "a.gpx", area=area)
    assert [type(r).__name__ for r in res] == ["ReportInput", "GeosignalError"]
    assert (res[1].code, res[1].where, res[1].extra["name"], res[1].extra["column"]) == (
        "non_finite_number", "feature 1", "households_affected", "menages")
    before = _count(db)
    body = upload_file(admin, data, "a.gpx", network="mobile", mode="all")
    assert body.status_code == 422 and _count(db) == before


_VALUE_SENTENCE = {"fr": "Une valeur vaut NaN ou l'infini : donnez un nombre fini.",
                   "nl": "Een waarde is NaN of oneindig: geef een eindig getal.",
                   "en": "A value is NaN or infinite: give a finite number."}
_COORDINATE_SENTENCE = {"fr": "Une coordonnée vaut NaN ou l'infini : donnez des nombres.",
                        "nl": "Een coördinaat is NaN of oneindig: geef getallen.",
                        "en": "A coordinate is NaN or infinite: give numbers."}


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_a_non_finite_property_says_value_and_a_coordinate_says_coordinate(representative, db, lang):
    # the message followed the code alone: "a coordinate is NaN" for a households count
    before = _count(db)
    headers = {"Accept-Language": lang}
    body = ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
            '"properties":{"network":"mobile","households_affected":NaN}}')
    answer = representative.post("/api/v1/reports", data=body, content_type="application/geo+json", headers=headers)
    problem = answer.get_json()
    assert (answer.status_code, problem["code"], problem["where"], problem["kind"], problem["message"]) == (
        422, "non_finite_number", "/properties/households_affected", "value", _VALUE_SENTENCE[lang])
    body = body.replace("NaN", "3").replace("4.444", "-Infinity")
    answer = representative.post("/api/v1/reports", data=body, content_type="application/geo+json", headers=headers)
    problem = answer.get_json()
    assert (answer.status_code, problem["code"], problem["where"], problem["message"]) == (
        422, "non_finite_number", "/geometry/coordinates/0", _COORDINATE_SENTENCE[lang])
    assert "kind" not in problem
    assert _count(db) == before


def test_an_upload_says_value_for_a_count_and_coordinate_for_a_position(area, admin, db):
    # the import page's script reads a refused row's message from the catalogue's kinds by
    # code and kind (I.problemText): the row's error carries kind "value" for a count, and
    # "coordinate_cell" for a file's coordinate cell (its row, column and value said)
    data = b"lat;lon;menages;description\n50.4108;NaN;3;position\n50.4108;4.444;inf;count\n"
    before = _count(db)
    rows = upload_file(admin, data, "a.csv", network="mobile", dry_run="true").get_json()["features"]
    assert [(f["error"]["code"], f["error"]["where"], f["error"]["column"], f["error"].get("kind")) for f in rows] == [
        ("non_finite_number", "row 2", "lon", "coordinate_cell"), ("non_finite_number", "row 3", "menages", "value")]
    data = _collection(_counted("NaN", "file"))
    (row,) = upload_file(admin, data, "a.geojson", dry_run="true").get_json()["features"]
    assert (row["error"]["code"], row["error"]["pointer"], row["error"]["kind"]) == (
        "non_finite_number", "/features/0/properties/households_affected", "value")
    assert _count(db) == before


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_the_pages_say_value_beside_the_field_of_a_non_finite_count(app, lang):
    from geosignal import i18n, ui_text
    from geosignal.errors import GeosignalError

    value = GeosignalError("non_finite_number", "x", where="/properties/households_affected", kind="value")
    coordinate = GeosignalError("non_finite_number", "x", where="/geometry/coordinates/0")
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        assert ui_text.field_errors(value) == {"households_affected": [_VALUE_SENTENCE[lang]]}
        assert ui_text.field_errors(coordinate) == {"geometry": [_COORDINATE_SENTENCE[lang]]}
        # the scripts' catalogue (the import page's refused rows)
        kinds = i18n.js_catalogue(lang)["kinds"]["non_finite_number"]
        assert kinds["value"] == _VALUE_SENTENCE[lang]
        # a file's coordinate cell has its own sentence, naming row, column and value
        # (and the map form's coordinates field: one position, a line of several, a WKT position)
        assert set(kinds) == {"value", "coordinate_cell", "typed", "typed_line", "wkt_position"}
        assert "%(row)s" in kinds["coordinate_cell"]
