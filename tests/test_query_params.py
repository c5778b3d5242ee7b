"""Query strings and JSON bodies that do not say one thing: a parameter given twice, a
parameter an endpoint does not take, whole numbers Python would read too kindly, export
cursors used outside their pass, bodies nested too deeply, PATCH members that cannot be
edited. Each is refused with its code and the parameter or pointer it concerns; nothing is
changed, never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from shapely.geometry import Point

from tests.conftest import CHARLEROI
from tests.factories import CHARLEROI_LAMBERT72, count_reports, feature, to_geojson_4326

X0, Y0 = CHARLEROI_LAMBERT72
PT = {"type": "Point", "coordinates": [4.444, 50.4108]}


def _problem(response, status: int, code: str, where: str | None) -> dict:  # noqa: ANN001
    body = response.get_json()
    assert (response.status_code, body["code"], body.get("where")) == (status, code, where), body
    assert response.mimetype == "application/problem+json"
    return body


def _post(account, geometry: dict, **props) -> str:  # noqa: ANN001, ANN003
    response = account.post("/api/v1/reports", data=json.dumps(feature(geometry, **props)),
                            content_type="application/geo+json")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


# =========================================================================== a parameter given twice

@pytest.mark.parametrize("query", [
    "/api/v1/reports?status=validated&status=bogus",
    "/api/v1/reports?status=bogus&status=validated",
    "/api/v1/exports/dwconnect?status=validated&status=bogus",
    "/api/v1/queue?status=submitted&status=bogus",
    "/api/v1/stats/communes?network=mobile&network=fixed",
    "/ogc/collections/white-zones/items?limit=1&limit=2",
])
def test_a_parameter_given_twice_is_refused(referent, query) -> None:  # noqa: ANN001
    name = query.split("?")[1].split("=")[0]
    body = _problem(referent.get(query), 400, "invalid_request", name)
    assert "more than once" in body["detail"]


def test_a_page_with_a_parameter_given_twice_answers_a_page(referent) -> None:  # noqa: ANN001
    referent.login()
    response = referent.client.get("/carte?commune=52011&commune=99999")
    assert response.status_code == 400 and response.mimetype == "text/html"


# =========================================================================== a parameter the endpoint does not take

@pytest.mark.parametrize(("query", "name"), [
    ("/api/v1/reports?limit=2&statut=validated", "statut"),  # misspelt: would answer every status
    ("/api/v1/reports?page=2", "page"),
    ("/api/v1/reports?sort=-reported_at", "sort"),
    ("/api/v1/stats/communes?commune=52011", "commune"),  # not a filter of the table (one row per commune)
    ("/api/v1/stats/locations?zoom=10&bbox=4.3,50.3,4.6,50.5&commune=56016", "commune"),
    ("/api/v1/exports/dwconnect?status=all&format=csv", "format"),
    ("/ogc/collections/white-zones/items?filter=status%3D%27validated%27", "filter"),
    ("/ogc/collections/white-zones/items?crs=http://www.opengis.net/def/crs/EPSG/0/31370", "crs"),
    ("/ogc/collections?foo=bar", "foo"),
    ("/api/v1/communes?x=1", "x"),
])
def test_a_parameter_the_endpoint_does_not_take_is_refused(referent, query, name) -> None:  # noqa: ANN001
    body = _problem(referent.get(query), 400, "invalid_request", name)
    assert "not a parameter of this endpoint" in body["detail"]


def test_declared_parameters_still_work(db, representative, referent) -> None:  # noqa: ANN001
    _post(representative, PT)
    assert referent.get("/api/v1/reports?status=submitted&limit=5&commune=52011").status_code == 200
    assert referent.get("/api/v1/stats/communes?status=all&network=mobile&survey=1").status_code == 200
    assert referent.get("/api/v1/stats/locations?zoom=10&bbox=4.3,50.3,4.6,50.5&status=all").status_code == 200
    assert referent.get("/ogc/collections/white-zones/items?limit=5&offset=0&f=json"
                        "&bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84&bbox=4.3,50.3,4.6,50.5").status_code == 200
    # pages keep taking what they are sent (links with tracking parameters, old bookmarks)
    referent.login()
    assert referent.client.get("/carte?utm_source=mail").status_code == 200


# =========================================================================== whole numbers as written

@pytest.mark.parametrize(("query", "where"), [
    ("/api/v1/reports?limit=1_0", "limit"),
    ("/api/v1/reports?limit=%C2%B2", "limit"),  # ²
    ("/api/v1/reports?limit=%2B5", "limit"),  # a literal plus sign
    ("/api/v1/reports?limit=%D9%A3", "limit"),  # Arabic-Indic three
    ("/api/v1/exports/dwconnect?since=seq:1_000", "since"),
    ("/api/v1/exports/dwconnect?limit=1_0", "limit"),
    ("/api/v1/exports/dwconnect.csv?limit=%2B5", "limit"),
    ("/api/v1/exports/runs?limit=1_0", "limit"),
    ("/api/v1/stats/locations?zoom=1_0&bbox=4.3,50.3,4.6,50.5", "zoom"),
    ("/ogc/collections/white-zones/items?limit=1_0", "limit"),
    ("/ogc/collections/white-zones/items?offset=%C2%B3", "offset"),
    ("/api/v1/reports?cursor=" + base64.urlsafe_b64encode(b"r1_000").decode().rstrip("="), "cursor"),
    ("/api/v1/reports?cursor=" + base64.urlsafe_b64encode(b"r" + b"9" * 40).decode().rstrip("="), "cursor"),
    ("/api/v1/queue?limit=1_0", "limit"),
    ("/api/v1/queue?limit=%2B5", "limit"),
    ("/api/v1/queue?limit=%D9%A3", "limit"),
    ("/api/v1/queue?cursor=" + base64.urlsafe_b64encode("q\u0663".encode()).decode().rstrip("="), "cursor"),
    ("/api/v1/queue?cursor=" + base64.urlsafe_b64encode(b"q" + b"9" * 40).decode().rstrip("="), "cursor"),
    ("/api/v1/queue?sort=households_affected&cursor="
     + base64.urlsafe_b64encode("h\u0663.\u0663".encode()).decode().rstrip("="), "cursor"),
    ("/api/v1/queue?sort=businesses_affected&cursor="
     + base64.urlsafe_b64encode(b"b1." + b"9" * 40).decode().rstrip("="), "cursor"),
])
def test_whole_numbers_are_ascii_digits_within_range(referent, query, where) -> None:  # noqa: ANN001
    _problem(referent.get(query), 400, "invalid_request", where)


def test_a_seq_token_may_be_any_bigint(referent) -> None:  # noqa: ANN001
    # 19 digits within PostgreSQL's bigint were refused ("needs a whole number n ≥ 0")
    for n in (2**63 - 2, 2**63 - 1):
        response = referent.get(f"/api/v1/exports/dwconnect?since=seq:{n}")
        assert response.status_code == 200, response.get_json()
        assert json.loads(response.get_data())["features"] == []
    for n in (2**63, 10**19, 10**40):
        _problem(referent.get(f"/api/v1/exports/dwconnect?since=seq:{n}"), 400, "invalid_request", "since")


@pytest.mark.parametrize("bbox", ["%EF%BC%94.3,50.3,4.6,50.5",  # a fullwidth 4
                                  "4_3,50.3,4.6,50.5", "nan,50.3,4.6,50.5", "4.3,50.3,1e1,50.5", "4.3,50.3,4.6"])
def test_a_bbox_is_decimal_numbers_in_ascii_digits(referent, bbox) -> None:  # noqa: ANN001
    """float() read a fullwidth "４" as 4 and "4_3" as 43: a bbox is refused unless written as
    decimals in the digits 0-9, as every number of a query string."""
    for path in ("/api/v1/reports", "/api/v1/exports/dwconnect", "/api/v1/stats/locations?zoom=10&"):
        glue = "" if path.endswith("&") else "?"
        _problem(referent.get(f"{path}{glue}bbox={bbox}"), 400, "invalid_request", "bbox")
    assert referent.get("/api/v1/reports?bbox=4.3,50.3,4.6,50.5").status_code == 200
    assert referent.get("/api/v1/reports?bbox=-1,+50.3,4.,50.5").status_code == 200


# =========================================================================== export cursors

def _cursor(*values) -> str:  # noqa: ANN002
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def test_an_export_cursor_belongs_to_its_pass(db, representative, referent) -> None:  # noqa: ANN001
    for i in range(3):
        _post(representative, to_geojson_4326(Point(X0 + 50 * i, Y0)), description=f"r{i}")
    first = referent.get("/api/v1/exports/dwconnect?status=all&limit=1").get_json()
    cursor = first["next_cursor"]
    second = referent.get(f"/api/v1/exports/dwconnect?status=all&limit=1&cursor={cursor}")
    assert second.status_code == 200 and len(second.get_json()["features"]) == 1
    assert second.get_json()["features"][0]["id"] != first["features"][0]["id"]
    # the same cursor with other filters would mix one pass's watermark with another's reports
    for other in ("status=validated", "status=all&commune=52011", "status=all&since=seq:0",
                  "status=all&from=2026-01-01"):
        body = _problem(referent.get(f"/api/v1/exports/dwconnect?{other}&limit=1&cursor={cursor}"),
                        400, "invalid_request", "cursor")
        assert "other filters" in body["detail"]


@pytest.mark.parametrize("values", [(0, 2**63, 1, "x"), (0, 1, 2**63, "x"), (2**63, 1, 1, "x"), (0, 1, 1),
                                    (0, -1, 1, "x"), (0, True, 1, "x"), (0, 1.0, 1, "x")])
def test_a_forged_export_cursor_is_refused_before_the_stream(referent, values) -> None:  # noqa: ANN001
    response = referent.get(f"/api/v1/exports/dwconnect?status=all&limit=1&cursor={_cursor(*values)}")
    _problem(response, 400, "invalid_request", "cursor")


# =========================================================================== JSON nested too deeply

DEEP = "[" * 50_000 + "]" * 50_000


def test_a_body_nested_too_deeply_is_invalid_json_everywhere(db, representative, referent) -> None:  # noqa: ANN001
    rid = _post(representative, PT)
    for path in (f"/api/v1/reports/{rid}/transitions", "/api/v1/reports/transitions", "/api/v1/zones/1/confirm",
                 "/api/v1/zones/1/split"):
        for body in (DEEP, '{"to": ' + DEEP + "}"):
            response = referent.post(path, data=body, headers={"Content-Type": "application/json"})
            _problem(response, 400, "invalid_json", None)
    speed = representative.post(f"/api/v1/reports/{rid}/evidence", data=DEEP,
                                headers={"Content-Type": "application/json"})
    assert speed.status_code == 400 and speed.get_json()["code"] == "invalid_json"
    assert referent.get(f"/api/v1/reports/{rid}").get_json()["properties"]["status"] == "submitted"


# =========================================================================== PATCH members that cannot be edited

def _patch(account, rid: str, body: dict):  # noqa: ANN001, ANN202
    etag = account.get(f"/api/v1/reports/{rid}").headers["ETag"]
    return account.patch(f"/api/v1/reports/{rid}", data=json.dumps(body), content_type="application/json",
                         headers={"If-Match": etag})


def test_patch_refuses_what_it_cannot_change_and_takes_a_feature_back_as_read(db, representative) -> None:  # noqa: ANN001
    rid = _post(representative, PT, description="avant")
    before = representative.get(f"/api/v1/reports/{rid}").get_json()
    for body, code, where in (
        ({"type": "FeatureCollection", "properties": {"description": "fc"}}, "invalid_geojson", "/type"),
        ({"id": "00000000-0000-4000-8000-000000000000", "properties": {"description": "x"}}, "invalid_request", "/id"),
        ({"properties": {"status": "validated"}}, "invalid_attribute", "/properties/status"),
        ({"properties": {"commune_nis": "56016"}}, "invalid_attribute", "/properties/commune_nis"),
        ({"properties": {"area_m2": 5.0}}, "invalid_attribute", "/properties/area_m2"),
    ):
        response = _patch(representative, rid, body)
        _problem(response, 400 if code == "invalid_request" else 422, code, where)
    assert "/transitions" in _patch(representative, rid, {"properties": {"status": "validated"}}).get_json()["detail"]
    assert representative.get(f"/api/v1/reports/{rid}").get_json() == before  # nothing changed
    # a Feature read, changed and sent back whole: the read-only members as read are taken
    whole = {**before, "properties": {**before["properties"], "description": "après"}}
    response = _patch(representative, rid, whole)
    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    assert after["properties"]["description"] == "après"
    assert (after["properties"]["status"], after["properties"]["commune_nis"]) == ("submitted", "52011")
    assert count_reports(db) == 1


# =========================================================================== OGC datetime

def test_ogc_datetime_carries_its_offset(db, representative, client) -> None:  # noqa: ANN001
    items = "/ogc/collections/white-zones/items"
    for naive in ("2026-03-29T02:30", "2026-01-01", "2026-01-01T00:00:00/.."):
        _problem(client.get(f"{items}?datetime={naive}"), 400, "invalid_request", "datetime")
    assert client.get(f"{items}?datetime=2026-01-01T00:00:00Z/..").status_code == 200
    # an unencoded "+01:00" arrives as " 01:00": read as the offset it was
    assert client.get(f"{items}?datetime=2026-01-01T00:00:00+01:00/..").status_code == 200


def test_an_item_id_that_cannot_exist_is_not_found(client) -> None:  # noqa: ANN001
    for item in ("%00", "5201", "520111", "%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2", "x" * 300):
        _problem(client.get(f"/ogc/collections/communes/items/{item}"), 404, "not_found", None)
    _problem(client.get("/ogc/collections/white-zones/items/%00"), 404, "not_found", None)
    assert client.get("/ogc/collections/communes/items/52011").status_code == 200


# =========================================================================== flags and reasons through the API

@pytest.mark.parametrize("word", ["maybe", "2", "y", "vrai"])
def test_api_flags_take_only_the_documented_words(db, representative, referent, word) -> None:  # noqa: ANN001
    _problem(referent.get(f"/api/v1/stats/communes?survey={word}"), 400, "invalid_request", "survey")
    response = representative.post(f"/api/v1/reports?repair={word}", data=json.dumps(feature(PT)),
                                   content_type="application/geo+json")
    _problem(response, 400, "invalid_request", "repair")
    assert count_reports(db) == 0


def test_a_reason_of_invisible_characters_is_no_reason(db, representative, referent) -> None:  # noqa: ANN001
    rid = _post(representative, PT)
    response = referent.post(f"/api/v1/reports/{rid}/transitions",
                             json={"to": "rejected", "reason": "\u200b\u2060 \ufeff"})
    assert (response.status_code, response.get_json()["code"]) == (422, "reason_required")
    assert referent.get(f"/api/v1/reports/{rid}").get_json()["properties"]["status"] == "submitted"


# =========================================================================== a control character reaching SQL

def _no_database_refusal(caplog, response) -> None:  # noqa: ANN001
    """The request was refused before SQL: no ``DataError`` said by the driver, no traceback."""
    assert "cannot be stored" not in response.get_data().decode("utf-8", "replace")
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(("value", "character", "position"), [("a\x00b", "U+0000", 1), ("\x00", "U+0000", 0),
                                                               ("ref\x07@igretec.com", "U+0007", 3),
                                                               ("referent@igretec.com\u200b", "U+200B", 20)])
def test_the_journal_user_filter_refuses_a_control_character_before_sql(client, referent, caplog, value: str,
                                                                        character: str, position: int) -> None:
    """``/api/v1/audit?user=a%00b`` answered 400 with the driver's message and logged a
    traceback: now the coded 400 naming ``user``, and on the page the sentence that says what to do."""
    api = referent.get("/api/v1/audit", query_string={"user": value})
    body = _problem(api, 400, "invalid_request", "user")
    assert (body["kind"], body["character"], body["position"]) == ("control_character", character, position)
    assert body["message"] == (f"Un filtre contient le caractère {character} (un caractère de contrôle ou "
                               "invisible, souvent venu d'un copier-coller) : retapez sa valeur sans ce caractère.")
    _no_database_refusal(caplog, api)
    referent.login()
    page = client.get("/admin/journal", query_string={"user": value})
    html = " ".join(page.get_data(as_text=True).split())
    assert page.status_code == 400 and 'data-code="invalid_request"' in html
    assert (f"Un filtre contient le caractère {character} (un caractère de contrôle ou invisible, souvent venu "
            "d&#39;un copier-coller) : retapez sa valeur sans ce caractère.") in html
    _no_database_refusal(caplog, page)
    # an address as typed still filters (exact, case-insensitive)
    assert referent.get("/api/v1/audit", query_string={"user": "Referent@igretec.com"}).status_code == 200
    assert client.get("/admin/journal", query_string={"user": "referent@igretec.com"}).status_code == 200


def test_the_journal_user_filter_is_at_most_an_address_long(referent) -> None:  # noqa: ANN001
    body = _problem(referent.get("/api/v1/audit", query_string={"user": "a" * 255}), 400, "invalid_request", "user")
    assert (body["kind"], body["limit"]) == ("parameter_too_long", 254)
    assert body["message"] == "Un filtre est trop long : raccourcissez sa valeur à 254 caractères au plus."


@pytest.mark.parametrize("nis", ["5\x0011", "52011\x00", "\x01", "5" * 21])
def test_a_commune_path_with_a_control_character_is_not_found_before_sql(client, referent, caplog, nis) -> None:  # noqa: ANN001
    """``/api/v1/stats/communes/5%0011`` answered 400 with the driver's message: now as any NIS
    code that is not loaded there (``/api/v1/stats/communes/99999``), 404, and the sheets too."""
    from urllib.parse import quote

    path = quote(nis)
    for missing in (referent.get(f"/api/v1/stats/communes/{path}"), referent.get("/api/v1/stats/communes/99999")):
        _problem(missing, 404, "not_found", None)
        _no_database_refusal(caplog, missing)
    referent.login()
    for page in (client.get(f"/communes/{path}/fiche"), client.get(f"/communes/{path}/fiche.pdf")):
        assert page.status_code == 404 and 'data-code="not_found"' in page.get_data(as_text=True)
        _no_database_refusal(caplog, page)


def test_the_queue_search_refuses_a_control_character(referent) -> None:  # noqa: ANN001
    body = _problem(referent.get("/api/v1/queue", query_string={"q": "CM\x00"}), 400, "invalid_request", "q")
    assert (body["kind"], body["character"]) == ("control_character", "U+0000")


#: Query parameters pages take (the API's are declared in QUERY_PARAMETERS).
_PAGE_PARAMETERS = ("user", "q", "commune", "action", "before", "avant", "signalement", "copie", "cursor", "state",
                    "network", "run", "next")


def test_no_get_route_lets_a_nul_reach_the_database(app, client, admin, caplog) -> None:  # noqa: ANN001
    """Every GET route, with a NUL in each path variable and in each query parameter it takes:
    refused (or ignored) before SQL, never the driver's "cannot be stored" nor a traceback."""
    import re

    from geosignal.services.openapi import QUERY_PARAMETERS

    admin.login()
    tried = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue

        def path(bad: str | None, rule=rule) -> str:  # noqa: ANN001
            return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: "5%0011" if m.group(1) == bad else CHARLEROI,
                          rule.rule)

        urls = [path(name) for name in rule.arguments]
        names = ([p["name"] for p in QUERY_PARAMETERS.get(rule.endpoint, [])]
                 if rule.rule.startswith(("/api/", "/ogc")) else _PAGE_PARAMETERS)
        urls += [f"{path(None)}?{name}=a%00b" for name in names]
        for url in urls:
            caplog.clear()
            response = client.get(url)
            assert response.status_code < 500, url
            _no_database_refusal(caplog, response)
            response.close()
            tried += 1
    assert tried > 100


def test_a_sign_in_address_with_a_nul_names_no_account_and_counts(client, caplog, fresh_limits) -> None:  # noqa: ANN001
    """A NUL in the sign-in form's address reached PostgreSQL (400 with the driver's message,
    a traceback) and its rate-limit counter could not be stored (the failure went uncounted):
    now the same 401 as any unknown account, counted like one."""
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/login").get_data(as_text=True))
    for attempt in range(10):
        caplog.clear()
        answer = client.post("/login", data={"email": "a\x00b@igretec.com", "password": f"wrong{attempt}",
                                             "csrf_token": token})
        assert answer.status_code == 401 and "E-mail ou mot de passe incorrect." in answer.get_data(as_text=True)
        _no_database_refusal(caplog, answer)
        assert not [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert client.post("/login", data={"email": "a\x00b@igretec.com", "password": "wrong",
                                       "csrf_token": token}).status_code == 429


@pytest.mark.parametrize("url", [
    "/api/v1/stats/communes?from=2026-W01-1", "/api/v1/stats/communes?from=20260101",
    "/api/v1/stats/communes?to=2026-W53", "/api/v1/queue?from=2026-W01-1", "/api/v1/audit?from=2026-W01-1",
    "/api/v1/exports/dwconnect?from=2026-W01-1", "/api/v1/exports/dwconnect?to=2026001",
    "/api/v1/exports/dwconnect?since=2026-W01-1T00:00:00Z", "/api/v1/exports/dwconnect?since=20260101T000000Z",
])
def test_a_day_filter_is_written_yyyy_mm_dd(referent, url) -> None:  # noqa: ANN001
    """ISO 8601's week dates and basic form (which Python's fromisoformat reads) are refused: a
    filter "from 2026-W01-1" counted 29 December 2025 in 2026's figures."""
    response = referent.get(url)
    name = url.split("?")[1].split("=")[0]
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_request", name)


def test_a_report_of_the_last_days_of_december_is_not_counted_from_week_one(db, representative, referent) -> None:  # noqa: ANN001
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4440, 50.4108]},
            "properties": {"network": "mobile", "observed_at": "2025-12-30T12:00:00+01:00"}}
    assert representative.post("/api/v1/reports", json=body).status_code == 201
    year = referent.get("/api/v1/stats/communes/52011?from=2026-01-01&to=2026-12-31&status=all")
    assert year.status_code == 200 and year.get_json()["report_count"] == 0
    assert referent.get("/api/v1/stats/communes/52011?from=2026-W01-1&to=2026-12-31&status=all").status_code == 400
