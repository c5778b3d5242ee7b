"""Sessions end on the server (sign-out, password change, deactivation), sign-in is throttled
per account and per address in PostgreSQL, and its timing does not tell which accounts exist."""

from __future__ import annotations

import time

from geosignal import create_app
from geosignal.models import User
from tests.conftest import csrf_token, make_account


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


def test_failed_sign_ins_are_throttled_per_address(client, db, fresh_limits) -> None:  # noqa: ANN001
    for i in range(50):
        assert _attempt(client, f"nobody{i}@example.be", "wrong password!").status_code == 401
    assert _attempt(client, "nobody-else@example.be", "wrong password!").status_code == 429


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
    saved = app.config["WRITE_RATE_LIMIT"]
    app.config["WRITE_RATE_LIMIT"] = "3 per minute"
    try:
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]},
                "properties": {"network": "mobile", "description": "x"}}
        codes = []
        for i in range(4):
            body["properties"]["description"] = f"report {i}"
            codes.append(rep.post("/api/v1/reports", json=body).status_code)
        assert codes == [201, 201, 201, 429]
        refused = rep.post("/api/v1/reports", json=body)
        assert refused.get_json()["code"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 61
        assert rep.get("/api/v1/reports").status_code == 200  # reads are not counted
        assert other.post("/api/v1/reports", json=body).status_code == 403  # counted per user: not_your_commune
    finally:
        app.config["WRITE_RATE_LIMIT"] = saved
