"""The authorisation matrix, generated from the application's URL map and checked against
:mod:`geosignal.policy`: every route and method × {anonymous, representative of Charleroi,
representative of Châtelet, referent, admin}, the resource (report, commune, user, token)
being Charleroi's. A route without a rule in :data:`geosignal.policy.ROUTE_RULES` fails.

Allowed → neither 401 nor 403 (nor a redirect to the sign-in page), never 500; denied →
401, 403 or 404 (an anonymous visitor of a page is sent to the sign-in page instead: 302 to
``/login``). Every persona but the anonymous one authenticates with a bearer token (no CSRF
needed); anonymous writes carry a valid CSRF token so that the answer is the authorisation's.
"""

from __future__ import annotations

import re

import pytest

from geosignal import policy
from geosignal.models import ApiToken, Photo
from geosignal.services.users import create_token, create_user
from tests.conftest import CHARLEROI, csrf_token, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

CHATELET = "52012"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PERSONAS = ("anonymous", "representative_charleroi", "representative_chatelet", "referent", "admin")

#: Request bodies that get past validation, so that the status tells the authorisation.
BODIES: dict[tuple[str, str], dict] = {
    ("api.patch_report", "PATCH"): {"json": {"status": "withdrawn"}},
    ("api.post_transition", "POST"): {"json": {"to": "withdrawn"}},
    ("report_pages.post_action", "POST"): {"data": {"to": "withdrawn"}},
    ("pages.change_status", "POST"): {"data": {"status": "withdrawn"}},
    ("account.invite_user", "POST"): {"data": {"email": "invite@charleroi.be", "role": "representative",
                                               "commune": CHARLEROI}},
    ("pages.login", "POST"): {"data": {"email": "connexion@charleroi.be", "password": "correct horse battery"}},
}


def _charleroi_report(rep) -> str:  # noqa: ANN001
    x, y = CHARLEROI_LAMBERT72
    response = rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x, y, 200.0)),
                                                         description="Cave sans réseau"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def world(client, db):  # noqa: ANN001, ANN201
    """The five personas (None for anonymous), a submitted report of Charleroi, and a third
    Charleroi account (its token and id name the user and token resources)."""
    accounts = {
        "representative_charleroi": make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI),
        "representative_chatelet": make_account(client, db, "echevin@chatelet.be", "representative", CHATELET),
        "referent": make_account(client, db, "referent@igretec.com", "referent"),
        "admin": make_account(client, db, "admin@igretec.com", "admin"),
    }
    other = create_user(db, "agent@charleroi.be", "representative", CHARLEROI, "correct horse battery")
    create_token(db, other.email)
    create_user(db, "connexion@charleroi.be", "representative", CHARLEROI, "correct horse battery")
    db.commit()
    token_id = db.query(ApiToken.id).filter(ApiToken.user_id == other.id).scalar()
    report_id = _charleroi_report(accounts["representative_charleroi"])
    photo = Photo(report_id=report_id, content_type="image/png", width=1, height=1, byte_size=1, sha256="0" * 64,
                  data=b"\x89")
    db.add(photo)
    db.commit()
    values = {"report_id": report_id, "item_id": report_id, "nis": CHARLEROI, "collection_id": "white-zones",
              "user_id": other.id, "token_id": token_id, "run_id": "999999", "import_id": "00000000-0000-0000-0000-000000000000",
              "filename": "favicon.svg", "name": "leaflet.js", "lang": "fr", "zone_id": "999999",
              "photo_id": photo.id}
    return accounts, values


def _url(rule, values: dict) -> str:  # noqa: ANN001
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + name + ">", str(values[name]), path)
    return path


def _persona_user(db, accounts, persona):  # noqa: ANN001, ANN202
    from geosignal.models import User

    if persona == "anonymous":
        return None
    return db.query(User).filter(User.email == accounts[persona].email).one()


def test_every_route_has_a_rule(app) -> None:  # noqa: ANN001
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(policy.ROUTE_RULES))
    assert missing == [], f"routes without an authorisation rule in geosignal.policy.ROUTE_RULES: {missing}"
    assert sorted(set(policy.ROUTE_RULES) - endpoints) == []
    assert set(policy.ROUTE_RULES.values()) <= set(policy.RULES)


@pytest.mark.parametrize("persona", PERSONAS)
def test_matrix(app, db, world, persona: str) -> None:  # noqa: ANN001
    accounts, values = world
    user = _persona_user(db, accounts, persona)
    headers = {} if persona == "anonymous" else accounts[persona].headers
    failures, checked = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        name = policy.ROUTE_RULES.get(rule.endpoint)
        assert name is not None, f"{rule.endpoint} has no rule"
        url = _url(rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client = app.test_client()
            extra = dict(headers)
            if persona == "anonymous" and method in WRITE_METHODS:
                extra["X-CSRFToken"] = csrf_token(client.get("/login").get_data(as_text=True))
            response = client.open(url, method=method, headers=extra, **BODIES.get((rule.endpoint, method), {}))
            status, location = response.status_code, response.headers.get("Location", "")
            response.close()
            checked += 1
            # a bearer token reaches no endpoint that manages credentials or accounts (those are
            # walked with the session below)
            allowed = policy.route_allows(name, user, CHARLEROI) and (
                persona == "anonymous" or policy.token_reaches(rule.endpoint))
            to_login = status in (302, 303) and location.split("?")[0].endswith("/login")
            if allowed:
                # a public page may send anybody to the sign-in page (/, /logout): that is its answer
                ok = status not in (401, 403) and status != 500 and not (to_login and name != "public")
            else:
                ok = status in (401, 403, 404) or (persona == "anonymous" and to_login)
            if not ok:
                failures.append(f"{method} {url} ({rule.endpoint}, rule {name}): "
                                f"{'allowed' if allowed else 'denied'} but {status} {location}")
    assert checked >= 60
    assert failures == []


@pytest.mark.parametrize(("persona", "expected"), [
    ("representative_charleroi", 200), ("representative_chatelet", 403), ("referent", 200), ("admin", 200),
])
def test_commune_geometry_only_for_own_commune(world, persona: str, expected: int) -> None:  # noqa: ANN001
    """A representative of Châtelet reads Charleroi's counts and areas, but not the white zone
    drawn from its unvalidated report (it leaked through narrow filters before)."""
    accounts, _values = world
    who = accounts[persona]
    narrow = "status=submitted&operator=Proximus&technology=4G"
    figures = who.get(f"/api/v1/stats/communes/{CHARLEROI}?{narrow}")
    assert figures.status_code == 200
    assert figures.get_json()["nis_code"] == CHARLEROI
    response = who.get(f"/api/v1/stats/communes/{CHARLEROI}?geometry=1&{narrow}")
    assert response.status_code == expected, response.get_json()
    if expected == 200:
        zone = response.get_json()["white_zone"]
        assert zone["type"] == "MultiPolygon"
    else:
        body = response.get_json()
        assert body["code"] == "forbidden"
        assert "white_zone" not in body
    own = accounts["representative_chatelet"].get(f"/api/v1/stats/communes/{CHATELET}?geometry=1")
    assert own.status_code == 200
    assert own.get_json()["white_zone"] is None


@pytest.mark.parametrize("persona", PERSONAS[1:])
def test_session_only_routes_with_the_session(app, db, world, persona: str) -> None:  # noqa: ANN001
    """The endpoints a bearer token does not reach (:data:`geosignal.policy.SESSION_ONLY`),
    walked with each persona signed in by the sign-in form (the session, a CSRF token on
    writes): their rule decides, as for the others; the token gets 403 ``forbidden``."""
    accounts, values = world
    user = _persona_user(db, accounts, persona)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint in policy.SESSION_ONLY]
    assert {r.endpoint for r in rules} == set(policy.SESSION_ONLY)
    failures = []
    for rule in sorted(rules, key=lambda r: (r.rule, r.endpoint)):
        name = policy.ROUTE_RULES[rule.endpoint]
        url = _url(rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client = app.test_client()
            page = client.get("/login")
            signed = client.post("/login", data={"email": accounts[persona].email, "password": "correct horse battery",
                                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
            assert signed.status_code == 302
            extra = {"X-CSRFToken": csrf_token(client.get("/compte").get_data(as_text=True))}
            response = client.open(url, method=method, headers=extra, **BODIES.get((rule.endpoint, method), {}))
            status = response.status_code
            allowed = policy.route_allows(name, user, CHARLEROI)
            ok = status not in (401, 403, 500) if allowed else status in (401, 403, 404)
            if not ok:
                failures.append(f"{method} {url} ({rule.endpoint}): {'allowed' if allowed else 'denied'} but {status}")
            by_token = app.test_client().open(url, method=method, headers={
                **accounts[persona].headers, "Accept": "application/json"}, **BODIES.get((rule.endpoint, method), {}))
            problem = by_token.get_json() or {}
            if (by_token.status_code, by_token.mimetype, problem.get("code"), problem.get("detail")) != (
                    403, "application/problem+json", "forbidden",
                    "an API token does not manage passwords, tokens, accounts, e-mails or sign-ins: sign in on the pages for that"):
                failures.append(f"{method} {url} by token: {by_token.status_code} {problem}")
    assert failures == []
