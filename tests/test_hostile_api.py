"""Hostile inputs to the JSON API, by kind: text that cannot be stored (controls, direction
overrides, unpaired surrogates), JSON that says two things (a member twice), numbers and
dates out of any sensible range, and the same report sent twice at once (double submit).

Each refusal is checked for its exact code and place, and for nothing stored."""

from __future__ import annotations

import io
import json
import math
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from geosignal import create_app
from geosignal.devdb import scratch_database
from geosignal.models import Report
from geosignal.services.intake.properties import check_file_properties
from geosignal.services.users import create_token, create_user
from tests.conftest import CHARLEROI, COMMUNES_FILE
from tests.factories import count_reports, upload_file

POINT = {"type": "Point", "coordinates": [4.4440, 50.4108]}  # in Charleroi


def _post_text(account, text: str, **headers: str):  # noqa: ANN001, ANN202
    return account.post("/api/v1/reports", data=text.encode("utf-8"), content_type="application/geo+json",
                        headers=headers)


def _feature(**properties) -> dict:  # noqa: ANN003
    return {"type": "Feature", "geometry": POINT, "properties": {"network": "mobile", **properties}}


# --------------------------------------------------------------------------- text and JSON

@pytest.mark.parametrize(("text", "where"), [
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
     '"properties":{"network":"mobile","description":"bad \\ud800 x"}}', "/properties/description"),
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
     '"properties":{"network":"mobile","operators":["Orange","\\udfff"]}}', "/properties/operators/1"),
    # an unknown member's name: before, the report was stored and the answer (echoing the name
    # in its properties_ignored warning) failed with a 500
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
     '"properties":{"network":"mobile","\\udc00k":1}}', "/properties/\\udc00k"),
], ids=["description", "list item", "member name"])
def test_an_unpaired_surrogate_is_refused_where_it_is(db, representative, text, where) -> None:
    before = count_reports(db)
    response = _post_text(representative, text)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["code"], body["where"]) == ("invalid_json", where)
    assert count_reports(db) == before


def test_a_paired_surrogate_is_an_ordinary_character(db, representative) -> None:
    text = json.dumps(_feature(description="antenne 📶 absente"))  # ensure_ascii: written as \ud83d\udcf6
    assert "\\ud83d\\udcf6" in text
    response = _post_text(representative, text)
    assert response.status_code == 201
    assert response.get_json()["properties"]["description"] == "antenne 📶 absente"


@pytest.mark.parametrize(("text", "where", "member"), [
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
     '"properties":{"network":"mobile","households_affected":5,"households_affected":500}}',
     "/properties/households_affected", "households_affected"),
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
     '"geometry":{"type":"Point","coordinates":[4.43,50.41]},"properties":{"network":"mobile"}}',
     "/geometry", "geometry"),
    ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108],"coordinates":[50.4108,4.444]},'
     '"properties":{"network":"mobile"}}', "/geometry/coordinates", "coordinates"),
], ids=["property", "geometry", "coordinates"])
def test_a_member_given_twice_is_refused_not_chosen(db, representative, text, where, member) -> None:
    before = count_reports(db)
    response = _post_text(representative, text)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["code"], body["where"], body["member"]) == ("invalid_json", where, member)
    assert count_reports(db) == before


def test_an_upload_with_a_member_twice_or_an_unpaired_surrogate_is_refused(db, representative) -> None:
    point = '{"type":"Feature","geometry":{"type":"Point","coordinates":[4.4441,50.4108]},"properties":%s}'
    files = {
        "twice.geojson": ('{"type":"FeatureCollection","features":[' + point % '{"network":"mobile"}' + ","
                          + point % '{"households_affected":5,"households_affected":500}' + "]}",
                          "/features/1/properties/households_affected"),
        "surrogate.geojson": ('{"type":"FeatureCollection","features":[' + point % '{"description":"a\\ud800b"}'
                              + "]}", "/features/0/properties/description"),
    }
    before = count_reports(db)
    for name, (text, where) in files.items():
        for dry_run in ("true", "false"):
            response = representative.post("/api/v1/imports", data={
                "file": (io.BytesIO(text.encode()), name), "network": "mobile", "dry_run": dry_run},
                content_type="multipart/form-data")
            assert response.status_code == 400, (name, dry_run)
            assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_json", where)
    assert count_reports(db) == before


@pytest.mark.parametrize(("description", "character"), [
    ("bell \x07 rings", "U+0007"),
    ("Son\u202enette", "U+202E"),          # right-to-left override: shows another text than it holds
    ("isolate \u2066x\u2069", "U+2066"),
    ("C1 \x85 control", "U+0085"),
    ("nul \x00 byte", "U+0000"),
    ("byte order \ufffe swapped", "U+FFFE"),  # noncharacters: never for interchange, XML cannot carry them
    ("end \uffff", "U+FFFF"),
    ("arabic block \ufdd0", "U+FDD0"),
    ("last plane \U0010ffff", "U+10FFFF"),
])
def test_description_with_a_character_that_is_not_stored_is_refused(db, representative, description,
                                                                    character) -> None:
    before = count_reports(db)
    response = _post_text(representative, json.dumps(_feature(description=description)))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["where"], body["character"]) == ("invalid_attribute", "/properties/description",
                                                                 character)
    assert count_reports(db) == before


def test_description_keeps_tabs_newlines_and_ordinary_text(db, representative) -> None:
    text = "Rue de l'Église\tn° 12\r\nPas de réseau <b>du tout</b> — ∅ 4G\rfin"
    response = _post_text(representative, json.dumps(_feature(description=text)))
    assert response.status_code == 201
    # Line ends are stored as LF (CRLF and a lone CR alike); everything else as sent.
    assert response.get_json()["properties"]["description"] == ("Rue de l'Église\tn° 12\nPas de réseau <b>du tout</b>"
                                                                " — ∅ 4G\nfin")


@pytest.mark.parametrize(("description", "character"), [("Son\u202enette", "U+202E"), ("fin\U0001ffff", "U+1FFFF")])
def test_a_file_description_with_a_character_not_stored_is_dropped_with_a_warning(description: str,
                                                                                   character: str) -> None:
    properties, problems = check_file_properties({"description": description, "network": "mobile"},
                                                 columns={"description": "descr"})
    assert properties == {"network": "mobile"}
    assert [(p["code"], p["name"], p["column"], p["error"]) for p in problems] == [
        ("attribute_dropped", "description", "descr", "invalid_attribute")]
    assert character in problems[0]["detail"]


@pytest.mark.parametrize("reason", ["a\x00b", "motif \u202e inversé", "a\ud800b", "motif \U0001fffe"])
def test_a_transition_reason_that_cannot_be_stored_is_refused(db, representative, referent, reason) -> None:
    created = _post_text(representative, json.dumps(_feature(description="à valider")))
    rid = created.get_json()["id"]
    for url, body in ((f"/api/v1/reports/{rid}/transitions", {"to": "rejected", "reason": reason}),
                      ("/api/v1/reports/transitions", {"ids": [rid], "to": "rejected", "reason": reason})):
        response = referent.post(url, data=json.dumps(body), content_type="application/json")
        problem = response.get_json()
        if "\ud800" in reason:  # not even Unicode: refused as it is read
            assert (response.status_code, problem["code"], problem["where"]) == (400, "invalid_json", "/reason")
        else:
            assert (response.status_code, problem["code"], problem["where"]) == (422, "invalid_attribute", "/reason")
    assert referent.get(f"/api/v1/reports/{rid}").get_json()["properties"]["status"] == "submitted"


def test_bulk_transitions_with_a_member_twice_are_refused(db, representative, referent) -> None:
    rid = _post_text(representative, json.dumps(_feature())).get_json()["id"]
    text = '{"ids":["' + rid + '"],"to":"validated","to":"rejected","reason":"x"}'
    response = referent.post("/api/v1/reports/transitions", data=text, content_type="application/json")
    assert response.status_code == 400
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_json", "/to")
    assert referent.get(f"/api/v1/reports/{rid}").get_json()["properties"]["status"] == "submitted"


# --------------------------------------------------------------------------- numbers and dates

@pytest.mark.parametrize(("radius", "code"), [
    ("1" + "0" * 400, "invalid_attribute"),  # an integer no float can hold
    ("1e7", "area_too_large"),             # a circle folding over the poles once projected
    ("1e300", "area_too_large"),
    ("25000", "area_too_large"),           # 1,963 km²: larger than the limit
])
def test_a_circle_too_large_is_refused_at_its_radius(db, representative, radius, code) -> None:
    text = ('{"type":"Feature","properties":{"network":"mobile","radius":' + radius + '},'
            '"geometry":{"type":"Point","coordinates":[4.444,50.4108]}}')
    before = count_reports(db)
    response = _post_text(representative, text)
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["where"]) == (code, "/properties/radius")
    assert count_reports(db) == before


def test_a_circle_within_the_limit_is_still_made(db, representative) -> None:
    response = _post_text(representative, json.dumps(_feature(radius=250)))
    assert response.status_code == 201
    assert response.get_json()["properties"]["area_m2"] == pytest.approx(3.14159 * 250 ** 2, rel=2e-3)


#: 64-sided polygon geosignal stores for a circle (EPSG:31370, m²): what the map page shows (report-map.js circleArea)
def _polygon_of_circle_m2(radius: float) -> float:
    return 64 / 2 * radius * radius * math.sin(2 * math.pi / 64)


def test_a_circle_is_held_to_the_limits_by_the_polygon_stored(db, representative) -> None:  # noqa: ANN001
    """A circle is stored as a 64-sided polygon built in EPSG:31370, but its maximum was checked
    on pi r²: a radius of 7,980 m at Charleroi (polygon 199.74 km², pi r² 200.06 km²) was refused
    « covers 200.06 km² » though the same polygon sent as a Polygon was taken. Now both limits
    speak on the polygon, at the radius, quoting its area; so does a file's circle."""
    taken = representative.post("/api/v1/reports", json=_feature(radius=7980))
    assert taken.status_code == 201, taken.get_json()
    assert taken.get_json()["properties"]["area_m2"] == pytest.approx(_polygon_of_circle_m2(7980), rel=1e-6)
    before = count_reports(db)
    for radius, code, detail in (
            (7990, "area_too_large", "A circle of radius 7990 m is stored as a 64-sided polygon that covers "
                                     "200.24 km²; the maximum is 200.00 km²."),
            (5.64, "area_too_small", "A circle of radius 5.64 m is stored as a 64-sided polygon that covers "
                                     "0.0000998 km² (99.8 m²); the minimum is 0.0001 km² (100 m²).")):
        problem = representative.post("/api/v1/reports", json=_feature(radius=radius)).get_json()
        assert (problem["status"], problem["code"], problem["where"], problem["detail"]) == \
            (422, code, "/properties/radius", detail)
        assert problem["area_m2"] == pytest.approx(_polygon_of_circle_m2(radius), rel=1e-6)
        collection = json.dumps({"type": "FeatureCollection", "features": [_feature(radius=radius)]}).encode()
        refused = upload_file(representative, collection, "circle.geojson").get_json()["features"][0]
        assert (refused["error"]["code"], refused["error"]["detail"]) == (code, detail)
    assert count_reports(db) == before


@pytest.mark.parametrize("observed_at", ["0001-01-01", "0001-01-01T00:00:00+01:00", "0025-06-01T10:00:00+02:00",
                                         "1850-03-01", "1989-12-31T22:59:59Z"])
def test_an_observation_before_1990_is_a_mistyped_year(db, representative, observed_at) -> None:
    before = count_reports(db)
    response = _post_text(representative, json.dumps(_feature(observed_at=observed_at)))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["where"]) == ("invalid_datetime", "/properties/observed_at")
    assert count_reports(db) == before


def test_an_observation_of_1990_or_later_is_kept(db, representative) -> None:
    response = _post_text(representative, json.dumps(_feature(observed_at="1990-01-01T12:00:00+01:00")))
    assert response.status_code == 201
    assert response.get_json()["properties"]["observed_at"] == "1990-01-01T12:00:00+01:00"


@pytest.mark.parametrize(("value", "kept"), [
    ("1.000", None), ("2,500", None), ("12.500", None),  # a thousand, or a decimal? never guessed
    ("1.000.000", 1_000_000), ("1 000", 1000), ("5,0", 5), ("12.00", 12), ("7", 7),
])
def test_a_count_with_a_thousands_separator_is_read_or_refused_never_divided(value, kept) -> None:
    properties, problems = check_file_properties({"households_affected": value}, columns={"households_affected":
                                                                                          "menages"})
    assert properties.get("households_affected") == kept
    if kept is None:
        (problem,) = problems
        assert (problem["code"], problem["column"], problem["error"]) == ("attribute_dropped", "menages",
                                                                          "invalid_attribute")
        assert "ambiguous" in problem["detail"]
    else:
        assert problems == []


def test_a_belgian_csv_with_1000_households_is_not_stored_as_1(db, representative) -> None:
    data = b"latitude;longitude;menages\r\n50,4108;4,4440;1.000\r\n50,4200;4,4300;1.000.000\r\n"
    response = representative.post("/api/v1/imports", data={"file": (io.BytesIO(data), "m.csv"),
                                                             "network": "mobile"},
                                   content_type="multipart/form-data")
    assert response.status_code == 201
    first, second = response.get_json()["features"]
    assert first["properties"]["households_affected"] is None
    assert [w["code"] for w in first["warnings"]] == ["attribute_dropped"]
    assert second["properties"]["households_affected"] == 1_000_000


# --------------------------------------------------------------------------- filters

@pytest.mark.parametrize("commune", ["99999", "abc", "52011\u200b"])
def test_the_journal_refuses_an_unknown_commune(db, client, commune) -> None:
    from tests.conftest import make_account

    admin = make_account(client, db, "journal-admin@igretec.com", "admin")
    response = admin.get("/api/v1/audit", query_string={"commune": commune})
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["where"]) == ("unknown_commune", "commune")
    admin.login()
    page = client.get("/admin/journal", query_string={"commune": commune})
    assert page.status_code == 422
    assert client.get("/admin/journal", query_string={"commune": CHARLEROI}).status_code == 200


# --------------------------------------------------------------------------- the same report twice at once

@pytest.fixture(scope="module")
def served() -> Iterator[tuple]:
    """The application on a scratch database of its own (real commits, a pool for 8
    requests at once) and a Charleroi representative's bearer token."""
    with scratch_database("geosignal_test_double", COMMUNES_FILE) as scratch:
        url = scratch.engine.url.render_as_string(hide_password=False)
        with scratch.session() as session:
            create_user(session, "double@charleroi.be", "representative", CHARLEROI, "correct horse battery")
            token = create_token(session, "double@charleroi.be")
            session.commit()
        application = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "test",
                                  "TILE_URL": "", "WRITE_RATE_LIMIT": "100000 per minute"})
        yield application, scratch, token
        application.extensions["geosignal.db"].engine.dispose()


def _at_once(application, requests: list[tuple[dict, bytes]]) -> list:  # noqa: ANN001
    """POST each (headers, body) to /api/v1/reports from its own thread, all released together."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def send(k: int, headers: dict, body: bytes) -> None:
        client = application.test_client()
        barrier.wait()
        answers[k] = client.post("/api/v1/reports", data=body, content_type="application/geo+json",
                                 headers=headers)

    threads = [threading.Thread(target=send, args=(k, h, b)) for k, (h, b) in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def _count_with(scratch, description: str) -> int:  # noqa: ANN001
    with scratch.session() as session:
        return session.scalar(select(func.count()).select_from(Report).where(Report.description == description))


def test_the_same_idempotency_key_at_once_stores_one_report_and_replays_it(served) -> None:
    application, scratch, token = served
    for round_ in range(3):
        description = f"clé {round_} {uuid.uuid4()}"
        body = json.dumps(_feature(description=description)).encode()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k-{uuid.uuid4()}"}
        answers = _at_once(application, [(headers, body)] * 4)
        assert sorted(a.status_code for a in answers) == [201, 201, 201, 201]  # the replays repeat the 201
        assert len({a.get_json()["id"] for a in answers}) == 1
        assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 3
        assert _count_with(scratch, description) == 1


def test_the_same_report_twice_at_once_without_a_key_is_stored_once(served) -> None:
    application, scratch, token = served
    for round_ in range(3):
        description = f"double clic {round_} {uuid.uuid4()}"
        body = json.dumps(_feature(description=description)).encode()
        answers = _at_once(application, [({"Authorization": f"Bearer {token}"}, body)] * 2)
        assert sorted(a.status_code for a in answers) == [200, 201]
        assert len({a.get_json()["id"] for a in answers}) == 1
        assert _count_with(scratch, description) == 1


def test_the_same_report_twice_at_once_with_its_date_written_two_ways_is_stored_once(served) -> None:
    # the same instant with another offset is the same report: it waits for the first, then is
    # found as its duplicate (the two took different locks, and both were stored)
    application, scratch, token = served
    for round_ in range(3):
        description = f"double clic, deux fuseaux {round_} {uuid.uuid4()}"
        bodies = [json.dumps(_feature(description=description, observed_at=at)).encode()
                  for at in ("2025-06-01T12:00:00+02:00", "2025-06-01T10:00:00Z")]
        answers = _at_once(application, [({"Authorization": f"Bearer {token}"}, body) for body in bodies])
        assert sorted(a.status_code for a in answers) == [200, 201]
        assert len({a.get_json()["id"] for a in answers}) == 1
        assert _count_with(scratch, description) == 1


@pytest.mark.parametrize("key", ["k" * 201, "clé-accentuée", "tab\there"])
def test_an_idempotency_key_that_cannot_be_kept_is_refused(served, key) -> None:
    application, scratch, token = served
    description = f"clé refusée {uuid.uuid4()}"
    response = application.test_client().post(
        "/api/v1/reports", data=json.dumps(_feature(description=description)), content_type="application/geo+json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
    assert response.status_code == 400
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_request", "Idempotency-Key")
    assert _count_with(scratch, description) == 0


_X, _Y, _D = 4.4440, 50.4108, 0.002
_SQUARE = [[_X, _Y], [_X + _D, _Y], [_X + _D, _Y + _D], [_X, _Y + _D], [_X, _Y]]
#: Two spellings of one shape, which the duplicate check (ST_Equals) takes as one.
_SPELLINGS = {
    "multipolygon_of_one": ({"type": "Polygon", "coordinates": [_SQUARE]},
                            {"type": "MultiPolygon", "coordinates": [[_SQUARE]]}),
    "vertex_on_an_edge": ({"type": "Polygon", "coordinates": [_SQUARE]},
                          {"type": "Polygon", "coordinates": [[_SQUARE[0], [_X + _D / 2, _Y], *_SQUARE[1:]]]}),
    "line_with_a_midpoint": ({"type": "LineString", "coordinates": [[_X, _Y], [_X + _D, _Y]]},
                             {"type": "LineString", "coordinates": [[_X, _Y], [_X + _D / 2, _Y], [_X + _D, _Y]]}),
    "multipoint_of_one": ({"type": "Point", "coordinates": [_X, _Y]}, {"type": "MultiPoint", "coordinates": [[_X, _Y]]}),
}


@pytest.mark.parametrize("spelling", list(_SPELLINGS))
def test_one_shape_written_two_ways_twice_at_once_is_stored_once(served, spelling) -> None:  # noqa: ANN001
    """One after the other, the second is the first's probable duplicate (200); at once, both
    were stored (the lock was keyed by the WKB, which tells the spellings apart)."""
    application, scratch, token = served
    for round_ in range(4):
        description = f"deux écritures {spelling} {round_} {uuid.uuid4()}"
        bodies = [json.dumps({"type": "Feature", "geometry": geometry,
                              "properties": {"network": "mobile", "description": description}}).encode()
                  for geometry in _SPELLINGS[spelling]]
        answers = _at_once(application, [({"Authorization": f"Bearer {token}"}, body) for body in bodies])
        assert sorted(a.status_code for a in answers) == [200, 201], [a.get_json() for a in answers]
        assert len({a.get_json()["id"] for a in answers}) == 1
        assert _count_with(scratch, description) == 1


def test_an_idempotency_key_sent_twice_is_refused_not_taken_as_a_new_key(served) -> None:
    """A client (or a proxy) repeating the header: the server receives "a, b", which is neither
    key. Taken as a third key, a retry with "a" alone would store the report a second time."""
    application, scratch, token = served
    description = f"clé répétée {uuid.uuid4()}"
    body = json.dumps(_feature(description=description))
    client = application.test_client()
    twice = client.post("/api/v1/reports", data=body, content_type="application/geo+json",
                        headers=[("Authorization", f"Bearer {token}"), ("Idempotency-Key", "k-1"),
                                 ("Idempotency-Key", "k-2")])
    assert twice.status_code == 400, twice.get_json()
    assert (twice.get_json()["code"], twice.get_json()["where"]) == ("invalid_request", "Idempotency-Key")
    assert "'k-1, k-2'" in twice.get_json()["detail"]
    assert _count_with(scratch, description) == 0
    once = client.post("/api/v1/reports", data=body, content_type="application/geo+json",
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"})
    assert once.status_code == 201 and _count_with(scratch, description) == 1


# --------------------------------------------------------------------------- what the database refuses

def test_a_token_name_that_cannot_be_stored_is_refused(db, representative) -> None:
    from geosignal.errors import GeosignalError

    with pytest.raises(GeosignalError) as caught:
        create_token(db, representative.email, name="QGIS\x00")
    assert (caught.value.code, caught.value.where) == ("invalid_request", "name")


def test_a_value_the_database_refuses_is_a_coded_400_never_a_500(database_url) -> None:
    """The last line of defence: a value PostgreSQL refuses (SQLSTATE class 22) that no check
    caught answers problem+json 400 with PostgreSQL's reason, as a page for people."""
    from sqlalchemy import text

    from geosignal.db import get_session

    application = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": database_url,
                              "SECRET_KEY": "test", "TILE_URL": ""})

    @application.get("/api/v1/probe-data-error")
    def probe() -> str:
        get_session().execute(text("SELECT make_date(0, 1, 1)"))  # date field value out of range
        return "unreachable"

    try:
        response = application.test_client().get("/api/v1/probe-data-error")
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["code"] == "invalid_request"
        assert "date field value out of range" in problem["detail"]
    finally:
        application.extensions["geosignal.db"].engine.dispose()


# --------------------------------------------------------------------------- shapes of the body

@pytest.mark.parametrize("text", ["[1, 2]", "42", "null", "true", '"Feature"'])
def test_a_body_that_is_not_an_object_is_refused_at_the_root(db, representative, text) -> None:
    before = count_reports(db)
    response = _post_text(representative, text)
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_geojson", "/")
    assert count_reports(db) == before


#: Feature ids RFC 7946 §3.2 does not allow (a string or a number), and what the refusal says.
ODD_IDS = [('{"a": 1}', "object", "got an object."), ("[1, 2]", "array", "got an array."),
           ("[]", "array", "got an array."), ("true", "boolean", "got a boolean (true)."),
           ("false", "boolean", "got a boolean (false).")]


def _with_id(ident: str, description: str = "odd id") -> str:
    return ('{"type":"Feature","id":' + ident + ',"geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
            '"properties":{"network":"mobile","description":"' + description + '"}}')


@pytest.mark.parametrize(("ident", "kind", "got"), ODD_IDS)
def test_a_feature_id_neither_string_nor_number_is_refused_at_its_pointer(db, representative, ident, kind,
                                                                         got) -> None:
    # an id that was an object, an array or a boolean was accepted silently (201)
    before = count_reports(db)
    response = _post_text(representative, _with_id(ident))
    body = response.get_json()
    assert (response.status_code, response.mimetype, body["code"], body["where"], body["kind"], body["detail"]) == (
        422, "application/problem+json", "invalid_geojson", "/id", kind,
        f"A Feature's id must be a string or a number (RFC 7946 §3.2); {got}")
    assert count_reports(db) == before
    # PATCH: the same refusal at the same pointer, nothing changed
    created = _post_text(representative, _with_id('"mine-1"', "before"))
    rid = created.get_json()["id"]
    etag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
    patched = representative.patch(f"/api/v1/reports/{rid}", data=(
        '{"type":"Feature","id":' + ident + ',"properties":{"description":"after"}}').encode(),
        headers={"If-Match": etag, "Content-Type": "application/json"})
    body = patched.get_json()
    assert (patched.status_code, body["code"], body["where"], body["kind"]) == (422, "invalid_geojson", "/id", kind)
    assert db.scalar(select(Report.description).where(Report.id == uuid.UUID(rid))) == "before"


def test_a_feature_id_that_is_a_string_a_number_or_null_is_read_and_not_kept(db, representative) -> None:
    ids = []
    for k, ident in enumerate(['"abc-1"', "42", "4.5", "null", str(10**30)]):
        response = _post_text(representative, _with_id(ident, f"id {k}"))
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    assert all(str(uuid.UUID(i)) == i for i in ids) and len(set(ids)) == 5  # geosignal's own ids
    etag = representative.get(f"/api/v1/reports/{ids[0]}").headers["ETag"]
    for ident, status in (("null", 200), (f'"{ids[0]}"', 200), ('"abc-1"', 400)):
        patched = representative.patch(f"/api/v1/reports/{ids[0]}", data=(
            '{"id":' + ident + ',"properties":{"description":"id 0"}}').encode(),
            headers={"If-Match": etag, "Content-Type": "application/json"})
        assert patched.status_code == status, patched.get_json()
        if status == 400:
            assert (patched.get_json()["code"], patched.get_json()["where"]) == ("invalid_request", "/id")
        else:
            etag = patched.headers["ETag"]


def test_a_null_status_counts_as_absent(db, representative) -> None:
    response = _post_text(representative, json.dumps(_feature(status=None)))
    assert response.status_code == 201
    assert response.get_json()["properties"]["status"] == "submitted"


@pytest.mark.parametrize(("observed_at", "shown"), [
    ("2025-03-01t10:00:00z", "2025-03-01T11:00:00+01:00"),   # RFC 3339 allows lower case
    ("2025-03-01t10:00:00+01:00", "2025-03-01T10:00:00+01:00"),
])
def test_lower_case_rfc3339_times_are_read(db, representative, observed_at, shown) -> None:
    response = _post_text(representative, json.dumps(_feature(observed_at=observed_at)))
    assert response.status_code == 201
    assert response.get_json()["properties"]["observed_at"] == shown


# --------------------------------------------------------------------------- swapped axes, another CRS

@pytest.mark.parametrize("crs", [None, "EPSG:4326"])
def test_lambert_coordinates_with_swapped_axes_get_both_hints(db, representative, crs) -> None:
    """A spreadsheet's y;x in Lambert 72 sent as WGS 84: refused (never reprojected nor swapped
    silently), saying both what the CRS looks like and that the axes look swapped."""
    from tests.factories import CHARLEROI_LAMBERT72

    x, y = CHARLEROI_LAMBERT72
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [y, x]},
            "properties": {"network": "mobile"}}
    before = count_reports(db)
    response = representative.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json",
                                   query_string={"crs": crs} if crs else None)
    assert response.status_code == 422
    problem = response.get_json()
    assert (problem["code"], problem["hint"], problem["suggested_crs"], problem["axes_swapped"],
            problem["suggested_commune"]["nis_code"]) == ("outside_service_area", "looks_like_lambert72",
                                                         "EPSG:31370", True, CHARLEROI)
    assert count_reports(db) == before
    sent_right = representative.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json",
                                     query_string={"crs": "EPSG:31370"})
    assert sent_right.status_code == 422  # the declared CRS is right, the order still swapped
    assert (sent_right.get_json()["hint"], sent_right.get_json()["swapped_commune"]["nis_code"]) == (
        "axes_swapped", CHARLEROI)


@pytest.mark.parametrize("crs", ["EPSG:31370", "EPSG:3812"])
def test_swapped_lambert_axes_are_explained_in_x_and_y(app, db, representative, crs) -> None:
    """Lambert metres sent y then x: the hint speaks of x (easting) before y (northing), not of
    [lon, lat] nor GeoJSON's order, in the API's detail and in the pages' sentence (fr, nl, en),
    whether sent as GeoJSON, as a CSV's x;y columns or as one CSV position cell."""
    from flask_babel import force_locale

    from geosignal import i18n, ui_text
    from geosignal.geo import transformer
    from tests.factories import CHARLEROI_LAMBERT72

    x, y = transformer(4326, int(crs[5:])).transform(*transformer(31370, 4326).transform(*CHARLEROI_LAMBERT72))
    before = count_reports(db)
    sent = representative.post(f"/api/v1/reports?crs={crs}", json={
        "type": "Feature", "properties": {"network": "mobile"}, "geometry": {"type": "Point", "coordinates": [y, x]}})
    columns = upload_file(representative, f"description;x;y\r\nici;{y:.0f};{x:.0f}\r\n".encode(), "a.csv",
                          network="mobile", crs=crs, dry_run="true").get_json()["features"][0]["error"]
    cell = upload_file(representative, f'description;coordonnees\r\nici;"{crs} {y:.0f} {x:.0f}"\r\n'.encode(),
                       "b.csv", network="mobile", dry_run="true").get_json()["features"][0]["error"]
    assert count_reports(db) == before
    assert sent.status_code == 422
    for problem in (sent.get_json(), columns, cell):
        assert (problem["code"], problem["hint"], problem["axes_order"], problem["swapped_commune"]["nis_code"]) == (
            "outside_service_area", "axes_swapped", "x_y", CHARLEROI), problem
        assert "lon, lat" not in problem["detail"] and "longitude" not in problem["detail"], problem["detail"]
    assert "x, the easting, comes before y, the northing" in sent.get_json()["detail"]
    said = {}
    for lang in ("fr", "nl", "en"):
        with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
            said[lang] = ui_text.hint_message(columns)
    assert said == {
        "fr": "Les deux coordonnées semblent inversées : dans l'autre ordre, ce lieu serait à Charleroi. Vérifiez "
              "l'ordre (x, vers l'est, puis y, vers le nord, ou les colonnes) ; rien n'a été inversé.",
        "nl": "De twee coördinaten lijken verwisseld: in de andere volgorde zou deze plaats in Charleroi liggen. "
              "Controleer de volgorde (x, naar het oosten, en dan y, naar het noorden, of de kolommen); er werd "
              "niets verwisseld.",
        "en": "The two coordinates look swapped: the other way round, this place would be in Charleroi. Check the "
              "order (x, the easting, then y, the northing, or the columns); nothing was swapped."}


# --------------------------------------------------------------------------- the pages' forms

@pytest.mark.parametrize("geometry", [
    # pasted into the Feature as it is, this text used to add a member (here a CRS) to it
    '{"type":"Point","coordinates":[4.444,50.4108]},"crs":{"type":"name","properties":{"name":"EPSG:31370"}}',
    '{"type":"Point","coordinates":[4.444,50.4108]',
    '{"type":"Point","coordinates":[4.444,50.4108],"coordinates":[50.4108,4.444]}',
])
def test_the_map_form_refuses_a_geometry_field_that_is_not_one_geometry(db, client, representative,
                                                                       geometry) -> None:
    from tests.conftest import csrf_token

    assert representative.login().status_code == 302
    html = client.get("/carte").get_data(as_text=True)
    before = count_reports(db)
    response = client.post("/carte", data={"csrf_token": csrf_token(html), "geometry": geometry,
                                           "network": "mobile"})
    assert response.status_code == 400
    assert "Signalement refusé" in response.get_data(as_text=True)
    assert count_reports(db) == before


@pytest.mark.parametrize(("geometry", "status"), [
    ("{", 400),                                                                    # not JSON: invalid_json
    ('{"type":"Point","coordinates":[4.444,50.4108],"type":"Polygon"}', 400),     # a member twice: invalid_json
    ('{"type":"Point","coordinates":[NaN,50.4108]}', 422),                        # non_finite_number
])
def test_the_edit_form_refuses_a_broken_geometry_with_the_form_again(db, client, representative, geometry,
                                                                    status) -> None:
    from html import unescape

    from tests.conftest import csrf_token

    created = _post_text(representative, json.dumps(_feature(description="à corriger"))).get_json()
    assert representative.login().status_code == 302
    page = client.get(f"/signalements/{created['id']}/modifier")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # (as a browser sends it: the attribute's text unescaped, « "5" », not « &#34;5&#34; »; a tag
    # that matches nothing is 412 before the geometry is read)
    etag = unescape(next(line for line in html.splitlines() if 'name="etag"' in line).split('value="')[1].split('"')[0])
    response = client.post(f"/signalements/{created['id']}/modifier", data={
        "csrf_token": csrf_token(html), "etag": etag, "geometry": geometry, "network": "mobile"})
    assert response.status_code == status
    assert "Modification refusée" in response.get_data(as_text=True)
    after = representative.get(f"/api/v1/reports/{created['id']}").get_json()
    assert after["geometry"] == created["geometry"] and after["properties"]["revision"] == \
        created["properties"]["revision"]


# --------------------------------------------------------------------------- two members for one property

def test_two_members_giving_one_property_differently_drop_it_naming_both(db, representative) -> None:
    """GeoJSON members (and OGR fields) that stand for the same property — its name and a
    French alias — must agree; when they do not, the property is dropped with a warning
    naming both, never one chosen silently."""
    point = {"type": "Point", "coordinates": [4.4441, 50.4108]}
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": point, "properties": {"menages": 5, "households_affected": 500}},
        {"type": "Feature", "geometry": point, "properties": {"menages": "7", "households_affected": 7,
                                                              "description": "même valeur"}},
        {"type": "Feature", "geometry": point, "properties": {"menages": None, "households_affected": 9}},
    ]}
    response = representative.post("/api/v1/imports", data={
        "file": (io.BytesIO(json.dumps(collection).encode()), "z.geojson"), "network": "mobile", "dry_run": "true"},
        content_type="multipart/form-data")
    assert response.status_code == 200
    first, second, third = response.get_json()["features"]
    assert first["properties"]["households_affected"] is None
    (warning,) = first["warnings"]
    assert (warning["code"], warning["name"], warning["columns"], warning["pointer"]) == (
        "attribute_dropped", "households_affected", ["menages", "households_affected"],
        "/features/0/properties/households_affected")
    assert (second["properties"]["households_affected"], second["warnings"]) == (7, [])
    assert (third["properties"]["households_affected"], third["warnings"]) == (9, [])


# --------------------------------------------------------------------------- second round

@pytest.mark.parametrize("url", ["/api/v1/stats/communes", "/api/v1/stats/communes.csv",
                                 "/api/v1/stats/communes/52011", "/api/v1/queue", "/api/v1/audit",
                                 "/api/v1/exports/dwconnect", "/api/v1/exports/dwconnect.csv"])
@pytest.mark.parametrize("to", ["9999-12-31", "0001-01-01"])
def test_a_day_out_of_range_in_a_filter_is_a_400_before_anything_is_sent(db, client, url, to) -> None:
    """The end of a period is read as the start of the next day: 9999-12-31 has none (it was a
    500, and a DWconnect export cut after its 200)."""
    from tests.conftest import make_account

    admin = make_account(client, db, "days-admin@igretec.com", "admin")
    response = admin.get(url, query_string={"to": to})
    assert response.status_code == 400, response.get_data()[:200]
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_request", "to")


def test_the_journal_refuses_a_period_that_ends_before_it_starts(db, client) -> None:
    from tests.conftest import make_account

    admin = make_account(client, db, "period-admin@igretec.com", "admin")
    response = admin.get("/api/v1/audit", query_string={"from": "2025-01-02", "to": "2025-01-01"})
    assert response.status_code == 400
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_request", "from")


def test_a_speed_test_with_a_number_no_float_holds_is_refused_where_it_is(db, representative) -> None:
    rid = _post_text(representative, json.dumps(_feature(description="mesure"))).get_json()["id"]
    text = '{"download_mbps": 9' + "9" * 400 + ', "measured_at": "2025-01-01T10:00:00+01:00"}'
    response = representative.post(f"/api/v1/reports/{rid}/evidence", data=text, content_type="application/json")
    assert response.status_code == 422
    problem = response.get_json()
    assert (problem["code"], problem["where"]) == ("invalid_attribute", "/download_mbps")
    assert representative.get(f"/api/v1/reports/{rid}/evidence").get_json()["speed_tests"] == []


@pytest.mark.parametrize(("value", "grey"), [(30000, 116), (1000, 3), (65535, 255), (0, 0)])
def test_a_16_bit_grey_photo_keeps_its_tones(value, grey) -> None:
    """16-bit grey PNG samples are scaled to 8 bits, not clipped: 30000 was stored as white."""
    from PIL import Image

    from geosignal.services.evidence import process_photo

    out = io.BytesIO()
    Image.new("I;16", (40, 40), value).save(out, "PNG")
    stored = Image.open(io.BytesIO(process_photo(out.getvalue()).data))
    assert (stored.mode, stored.getpixel((20, 20))) == ("L", grey)


def test_a_line_whose_positions_coincide_once_stored_is_refused(db, representative) -> None:
    before = count_reports(db)
    body = {"type": "Feature", "properties": {"network": "mobile"},
            "geometry": {"type": "LineString", "coordinates": [[4.444, 50.4108], [4.444000000001, 50.4108]]}}
    response = _post_text(representative, json.dumps(body))
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["where"]) == ("line_too_short", "/geometry")
    assert count_reports(db) == before
    body["geometry"]["coordinates"][1] = [4.44401, 50.4108]  # 0.7 m: a line
    assert _post_text(representative, json.dumps(body)).status_code == 201


# --------------------------------------------------------------------------- methods a route does not take

@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/api/v1/reports", "GET, HEAD, OPTIONS, POST"),
    ("PUT", "/ogc/collections", "GET, HEAD, OPTIONS"),  # the OGC API is read-only: 405, not csrf_failed
    ("POST", "/ogc/collections/white-zones/items", "GET, HEAD, OPTIONS"),
    ("TRACE", "/api/v1/stats/communes", "GET, HEAD, OPTIONS"),
])
def test_a_method_the_route_does_not_take_is_405_with_allow(client, method: str, path: str, allow: str) -> None:
    # an integrator trial: 405 answers carried no Allow header (RFC 9110 §15.5.6), and a write
    # to the read-only OGC API without a session was refused as a missing CSRF token
    response = client.open(path, method=method)
    assert response.status_code == 405, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "method_not_allowed"
    assert response.headers["Allow"] == allow


def test_a_405_of_the_view_names_the_routes_methods(referent) -> None:  # noqa: ANN001
    # marking reports transmitted is a POST: a GET asking for it is refused by the view
    response = referent.get("/api/v1/exports/dwconnect?mark_transmitted=true")
    assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_a_page_405_is_a_page_with_allow(client) -> None:  # noqa: ANN001
    response = client.open("/login", method="DELETE")
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


# ---- every JSON write reads its body alike -------------------------------------------------------

def test_every_json_write_reads_its_body_alike(db, representative, referent) -> None:  # noqa: ANN001
    """The speed-test endpoint read its body with ``get_json(silent=True)`` (broken JSON was
    « not a JSON object », a test sent as text/plain was read as nothing); the zone decisions
    acted on a body sent as text; a PATCH body that is no object was 400 where a POST's is
    422 ``invalid_geojson``. Now: 415, 400 ``invalid_json`` and 422 as everywhere."""
    import json

    from tests.factories import feature

    rid = representative.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [4.4440, 50.4108]})
                              ).get_json()["id"]
    representative.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [4.4445, 50.4109]}))
    evidence = f"/api/v1/reports/{rid}/evidence"
    broken = representative.post(evidence, data=b'{"download_mbps": 1,', content_type="application/json")
    assert (broken.status_code, broken.get_json()["code"]) == (400, "invalid_json")
    test = json.dumps({"download_mbps": 1.5, "measured_at": "2025-01-02T10:00:00+01:00"})
    as_text = representative.post(evidence, data=test, content_type="text/plain")
    assert (as_text.status_code, as_text.get_json()["code"]) == (415, "unsupported_media_type")
    assert representative.post(evidence, data=test, content_type="application/json").status_code == 201
    zone = referent.get("/api/v1/zones").get_json()["features"][0]["id"]
    decided = referent.post(f"/api/v1/zones/{zone}/confirm", data=json.dumps({"report_ids": []}),
                            content_type="text/plain")
    assert (decided.status_code, decided.get_json()["code"]) == (415, "unsupported_media_type")
    tag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
    for body in ("[]", '"x"', "1", "null"):
        patched = representative.patch(f"/api/v1/reports/{rid}", data=body, content_type="application/json",
                                       headers={"If-Match": tag})
        problem = patched.get_json()
        assert (patched.status_code, problem["code"], problem["where"]) == (422, "invalid_geojson", "/"), body
