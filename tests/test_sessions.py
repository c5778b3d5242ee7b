"""Sessions end on the server (sign-out, password change, deactivation), sign-in is throttled
per account and per address in PostgreSQL, and its timing does not tell which accounts exist."""

from __future__ import annotations

import json
import re
import time

from geosignal import create_app
from geosignal.models import User
from tests.conftest import configured, csrf_token, make_account


def _signed_in_cookie(account) -> str:  # noqa: ANN001
    assert account.login().status_code == 302
    return account.client.get_cookie("session").value


def _with_cookie(app, value: str):  # noqa: ANN001, ANN202
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def test_a_cookie_saved_before_sign_out_stops_working(app, client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "clerc@charleroi.be", "representative", "52011")
    saved = _signed_in_cookie(account)
    assert _with_cookie(app, saved).get("/api/v1/reports").status_code == 200
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = _with_cookie(app, saved)
    assert replay.get("/api/v1/reports").status_code == 401
    assert replay.get("/carte").status_code == 302  # to the sign-in page


def test_a_cookie_saved_before_a_password_change_or_deactivation_stops_working(app, client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "clerc@charleroi.be", "representative", "52011")
    saved = _signed_in_cookie(account)
    user = db.query(User).filter_by(email=account.email).one()
    user.set_password("another long passphrase")
    db.commit()
    assert _with_cookie(app, saved).get("/api/v1/reports").status_code == 401
    account.password = "another long passphrase"
    again = _signed_in_cookie(account)
    assert _with_cookie(app, again).get("/api/v1/reports").status_code == 200
    user.active = False
    db.commit()
    assert _with_cookie(app, again).get("/api/v1/reports").status_code == 401


def test_sign_in_rotates_the_session_and_sets_safe_cookie_flags(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "clerc@charleroi.be", "representative", "52011")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    response = account.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.session_transaction() as s:
        assert "planted" not in s and s["_user_id"].endswith(".1")


def test_session_cookie_is_secure_when_published_over_https(database_url: str) -> None:
    app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "PUBLIC_BASE_URL": "https://geosignal.example.be"})
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    app.extensions["geosignal.db"].engine.dispose()


def _attempt(client, email: str, password: str):  # noqa: ANN001, ANN202
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_failed_sign_ins_are_throttled_per_account_even_for_the_right_password(client, db, fresh_limits) -> None:  # noqa: ANN001
    account = make_account(client, db, "maire@thuin.be", "representative", "56078")
    for _ in range(10):
        assert _attempt(client, account.email, "wrong password!").status_code == 401
    blocked = _attempt(client, account.email, account.password)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "Trop de tentatives" in blocked.get_data(as_text=True)
    # another account from the same address is not blocked by this one
    other = make_account(client, db, "maire@chimay.be", "representative", "56016")
    assert _attempt(client, other.email, other.password).status_code == 302


def _sign_out(client) -> None:  # noqa: ANN001
    token = csrf_token(client.get("/compte/mot-de-passe").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_guesses_elsewhere_do_not_lock_the_owner_out_of_a_device_she_signed_in_from(app, client, db,  # noqa: ANN001
                                                                                   fresh_limits) -> None:
    """The per-account lock refused the right password for 15 minutes after anyone's 10 wrong
    ones: whoever knew an address could keep its owner out. A device the account signed in
    from carries a cookie naming it (OWASP's device cookies): there the account's and the
    address's limits do not apply, the device's own does (10 failures per 15 min)."""
    from geosignal.ratelimit import DEVICE_COOKIE

    owner = make_account(client, db, "maire@thuin.be", "representative", "56078")
    signed_in = _attempt(client, owner.email, owner.password)
    assert signed_in.status_code == 302
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith(DEVICE_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    value = client.get_cookie(DEVICE_COOKIE).value
    assert "thuin" not in value and "thuin" not in _b64_decoded(value)  # no address in clear
    _sign_out(client)
    attacker = app.test_client()  # the same address (127.0.0.1), no device cookie
    for _ in range(10):
        assert _attempt(attacker, owner.email, "wrong password!").status_code == 401
    assert _attempt(attacker, owner.email, owner.password).status_code == 429  # unchanged elsewhere
    assert _attempt(client, owner.email, owner.password).status_code == 302  # the owner is not locked out
    _sign_out(client)
    # an altered cookie, or one naming another account, is no device of this account
    forged = app.test_client()
    forged.set_cookie(DEVICE_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert _attempt(forged, owner.email, owner.password).status_code == 429
    other = make_account(client, db, "maire@chimay.be", "representative", "56016")
    for _ in range(10):
        assert _attempt(attacker, other.email, "wrong password!").status_code == 401
    assert _attempt(client, other.email, other.password).status_code == 429  # this device never signed her in
    # guesses on the device itself are limited too: 10, then even the right password waits
    for _ in range(10):
        assert _attempt(client, owner.email, "wrong password!").status_code == 401
    blocked = _attempt(client, owner.email, owner.password)
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 15 * 60


def test_a_shared_device_remembers_each_account_signed_in_from_it(app, client, db, fresh_limits) -> None:  # noqa: ANN001
    """A commune's office computer used by the mayor and the clerk: both are at home there, and
    the per-address limit (everyone behind one office address) does not lock them out either."""
    from geosignal.ratelimit import DEVICE_COOKIE

    mayor = make_account(client, db, "maire@thuin.be", "representative", "56078")
    clerk = make_account(client, db, "greffe@thuin.be", "representative", "56078")
    for account in (mayor, clerk):
        assert _attempt(client, account.email, account.password).status_code == 302
        _sign_out(client)
    number = _b64_decoded(client.get_cookie(DEVICE_COOKIE).value)
    attacker = app.test_client()
    for i in range(50):
        assert _attempt(attacker, f"nobody{i}@example.be", "wrong password!").status_code == 401
    for account in (mayor, clerk):
        assert _attempt(attacker, account.email, account.password).status_code == 429
        assert _attempt(client, account.email, account.password).status_code == 302
        _sign_out(client)
    assert _b64_decoded(client.get_cookie(DEVICE_COOKIE).value).split('"a"')[0] == number.split('"a"')[0]


def _b64_decoded(value: str) -> str:
    """The payload of a signed cookie (itsdangerous: base64 before the first dot), as text."""
    import base64

    payload = value.split(".")[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8", "replace")


def test_failed_sign_ins_are_throttled_per_address(client, db, fresh_limits) -> None:  # noqa: ANN001
    for i in range(50):
        assert _attempt(client, f"nobody{i}@example.be", "wrong password!").status_code == 401
    assert _attempt(client, "nobody-else@example.be", "wrong password!").status_code == 429


def _attempt_from(client, email: str, forwarded_for: str):  # noqa: ANN001, ANN202
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": "wrong password!", "csrf_token": token},
                       headers={"X-Forwarded-For": forwarded_for})


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(database_url: str, db, fresh_limits) -> None:  # noqa: ANN001, E501
    """Behind the usual HTTPS reverse proxy every request came from its address, so 50 wrong
    passwords locked everybody out: with ``GEOSIGNAL_TRUSTED_PROXIES=1`` the address is the one
    the proxy forwarded (the last of ``X-Forwarded-For``), each client limited on its own."""
    app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "TILE_URL": "", "TRUSTED_PROXIES": 1})
    try:
        client = app.test_client()  # every request from the proxy's own address, 127.0.0.1
        for i in range(50):
            assert _attempt_from(client, f"nobody{i}@example.be", "198.51.100.7").status_code == 401
        assert _attempt_from(client, "nobody-else@example.be", "198.51.100.7").status_code == 429
        # a client's own X-Forwarded-For before the proxy's entry changes nothing
        assert _attempt_from(client, "nobody-else@example.be", "203.0.113.9, 198.51.100.7").status_code == 429
        # another client behind the same proxy is not locked out
        assert _attempt_from(client, "someone@example.be", "203.0.113.9").status_code == 401
        # the scheme the proxy was reached with: links say https
        landing = client.get("/ogc", headers={"X-Forwarded-Proto": "https"}).get_json()
        assert landing["links"][0]["href"].startswith("https://localhost/ogc")
    finally:
        app.extensions["geosignal.db"].engine.dispose()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, db, fresh_limits) -> None:  # noqa: ANN001
    """With ``GEOSIGNAL_TRUSTED_PROXIES`` 0 (the default) the address is the TCP peer: a client
    sending another ``X-Forwarded-For`` each time does not escape the per-address limit."""
    for i in range(50):
        assert _attempt_from(client, f"nobody{i}@example.be", f"198.51.100.{i}").status_code == 401
    assert _attempt_from(client, "nobody-else@example.be", "203.0.113.9").status_code == 429
    assert client.get("/ogc", headers={"X-Forwarded-Proto": "https"}).get_json()["links"][0]["href"].startswith(
        "http://localhost/ogc")


def test_an_unknown_account_takes_as_long_as_a_wrong_password(client, db, fresh_limits) -> None:  # noqa: ANN001
    account = make_account(client, db, "maire@thuin.be", "representative", "56078")

    def timed(email: str) -> float:
        start = time.perf_counter()
        assert _attempt(client, email, "wrong password!").status_code == 401
        return time.perf_counter() - start

    known = min(timed(account.email) for _ in range(3))
    unknown = min(timed("nobody@example.be") for _ in range(3))
    assert unknown > 0.6 * known, (known, unknown)


def test_api_writes_are_limited_per_user_with_retry_after(app, client, db, fresh_limits) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    other = make_account(app.test_client(), db, "maire@chimay.be", "representative", "56016")
    with configured(app, WRITE_RATE_LIMIT="3 per minute"):
        assert _filed(rep, 4) == [201, 201, 201, 429]
        refused = rep.post("/api/v1/reports", json=_point("one more"))
        assert refused.get_json()["code"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 61
        assert rep.get("/api/v1/reports").status_code == 200  # reads are not counted
        # counted per user: the other is refused for its commune (not_your_commune), not for the budget
        assert other.post("/api/v1/reports", json=_point("one more")).status_code == 403


def _point(description: str) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]},
            "properties": {"network": "mobile", "description": description}}


def _filed(account, n: int) -> list[int]:  # noqa: ANN001
    """The statuses of ``n`` reports ``account`` files one after another (each its own)."""
    return [account.post("/api/v1/reports", json=_point(f"report {i}")).status_code for i in range(n)]


def test_every_write_limit_of_the_setting_is_enforced(app, client, db, fresh_limits) -> None:  # noqa: ANN001
    """``1000 per hour; 3 per minute`` (Flask-Limiter's notation, accepted at start) was read
    with parse(), which keeps the first limit: the per-minute one was dropped. A limit of 0 is
    refused at start (it refused every write of everybody)."""
    import pytest

    from geosignal.config import ConfigError, load_config

    key = {"GEOSIGNAL_SECRET_KEY": "9f1c2b7e4d6a8035b1e2c3d4f5a6978812ab34cd56ef7890aa11bb22cc33dd44"}
    for zero in ("0 per minute", "1000 per hour; 0 per minute"):
        with pytest.raises(ConfigError, match="at least 1 request"):
            load_config("/nonexistent", environ={"GEOSIGNAL_WRITE_RATE_LIMIT": zero, **key})
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    with configured(app, WRITE_RATE_LIMIT="1000 per hour; 3 per minute"):
        assert _filed(rep, 5) == [201, 201, 201, 429, 429]


def test_failed_sign_ins_are_throttled_per_ipv6_network(client, db, fresh_limits) -> None:  # noqa: ANN001
    """One IPv6 client holds a whole /64: counted per full address, 52 guesses from 52
    addresses of one /64 were never limited. An address of another /64 is another client."""
    def attempt(address: str, k: int):  # noqa: ANN202
        env = {"REMOTE_ADDR": address}
        token = csrf_token(client.get("/login", environ_base=env).get_data(as_text=True))
        return client.post("/login", data={"email": f"nobody{k}@example.be", "password": "wrong password!",
                                           "csrf_token": token}, environ_base=env).status_code

    codes = [attempt(f"2001:db8:1:2::{k + 1:x}", k) for k in range(51)]
    assert codes == [401] * 50 + [429]
    assert attempt("2001:db8:1:3::1", 99) == 401


def _count_reports(db) -> int:  # noqa: ANN001
    from sqlalchemy import text

    return db.execute(text("SELECT count(*) FROM reports")).scalar_one()


def test_the_pages_forms_share_the_users_write_budget_with_the_api(app, client, db, fresh_limits) -> None:  # noqa: ANN001
    """After the API's writes were answered 429, ``POST /carte`` (the map form) still stored
    reports in the same minute. Every write path of a user counts against one budget: past it,
    the map form, the report's actions, its edit page, the list's status buttons and the
    evidence forms answer a page (429, ``Retry-After``, a sentence in the user's language saying
    how long to wait) and store nothing; signing out is not held back."""
    from sqlalchemy import text

    from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    db.execute(text("UPDATE users SET locale = 'nl' WHERE email = :e"), {"e": rep.email})
    db.commit()
    x, y = CHARLEROI_LAMBERT72
    saved = app.config["WRITE_RATE_LIMIT"]
    app.config["WRITE_RATE_LIMIT"] = "3 per minute"
    try:
        assert rep.login().status_code == 302  # signing in is not a write of the budget
        ids = []
        for k in range(3):
            made = rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + 400 * k, y, 200)),
                                                            description=f"API {k}"))
            assert made.status_code == 201, made.get_json()
            ids.append(made.get_json()["id"])
        assert rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x, y + 900, 200)))
                        ).status_code == 429
        before = _count_reports(db)
        html = client.get("/carte").get_data(as_text=True)
        token = csrf_token(html)
        rid = ids[0]
        geometry = to_geojson_4326(square_lambert(x + 2000, y + 2000, 300))
        page_writes = {
            "/carte": {"geometry": json.dumps(geometry), "network": "mobile", "description": "Formulaire"},
            f"/signalements/{rid}/actions": {"to": "withdrawn", "confirm": "1", "reason": "Erreur"},
            f"/signalements/{rid}/statut": {"status": "withdrawn", "confirm": "1", "reason": "Erreur"},
            f"/signalements/{rid}/modifier": {"geometry": json.dumps(geometry), "network": "fixed",
                                             "description": "Modifié"},
            f"/signalements/{rid}/mesures": {"download_mbps": "1,5", "measured_at": "2026-01-10"},
        }
        for path, data in page_writes.items():
            answer = client.post(path, data={**data, "csrf_token": token})
            page = answer.get_data(as_text=True)
            assert (answer.status_code, answer.mimetype) == (429, "text/html"), path
            assert 0 < int(answer.headers["Retry-After"]) <= 61
            seconds = re.search(r"wacht (\d+) seconden", page)
            assert seconds and 0 < int(seconds.group(1)) <= 61 and 'data-code="rate_limited"' in page, path
        assert _count_reports(db) == before
        stored = db.execute(text("SELECT status, description, (SELECT count(*) FROM report_speed_tests s "
                                 "WHERE s.report_id = r.id) FROM reports r WHERE id = CAST(:id AS uuid)"),
                            {"id": rid}).one()
        assert tuple(stored) == ("submitted", "API 0", 0)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    finally:
        app.config["WRITE_RATE_LIMIT"] = saved


def test_the_map_forms_writes_count_against_the_api_budget(app, client, db, fresh_limits) -> None:  # noqa: ANN001
    """The other way round: three reports from the map form spend a budget of three, and the
    API's next write is 429."""
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert, to_geojson_4326

    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    x, y = CHARLEROI_LAMBERT72
    saved = app.config["WRITE_RATE_LIMIT"]
    app.config["WRITE_RATE_LIMIT"] = "3 per minute"
    try:
        assert rep.login().status_code == 302
        token = csrf_token(client.get("/carte").get_data(as_text=True))
        for k in range(3):
            geometry = to_geojson_4326(square_lambert(x + 400 * k, y + 3000, 200))
            answer = client.post("/carte", data={"csrf_token": token, "geometry": json.dumps(geometry),
                                                 "network": "mobile", "description": f"Formulaire {k}"})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        assert _count_reports(db) == 3
        refused = rep.post("/api/v1/reports", json={"type": "Feature", "geometry": {
            "type": "Point", "coordinates": [4.444, 50.4108]}, "properties": {"network": "mobile"}})
        assert (refused.status_code, refused.mimetype, refused.get_json()["code"]) == (
            429, "application/problem+json", "rate_limited")
        assert refused.get_json()["retry_after"] == int(refused.headers["Retry-After"])
    finally:
        app.config["WRITE_RATE_LIMIT"] = saved
