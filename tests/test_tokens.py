"""API tokens: named, expiring, listed and revoked (page and CLI); a bearer token is the only
authority of a request that carries one (no cookie fallback, no CSRF bypass)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from geosignal.models import ApiToken, User
from geosignal.services.users import create_token
from tests.conftest import csrf_token, make_account


def test_an_invalid_bearer_token_never_falls_back_to_the_cookie(client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    assert client.get("/api/v1/reports").status_code == 200  # the cookie alone works
    for header in ("Bearer nope", "Bearer ", "bearer " + "x" * 43):
        answer = client.get("/api/v1/reports", headers={"Authorization": header})
        assert answer.status_code == 401 and answer.get_json()["code"] == "unauthorized", header


def test_a_bearer_header_never_skips_the_csrf_check_of_a_cookie_session(client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]},
            "properties": {"network": "mobile"}}
    forged = client.post("/api/v1/reports", json=body, headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    no_token = client.post("/api/v1/reports", json=body)
    assert no_token.status_code == 400 and no_token.get_json()["code"] == "csrf_failed"


def test_a_valid_bearer_token_is_the_requests_only_authority(app, client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()  # the cookie says: Charleroi's representative
    other = make_account(app.test_client(), db, "maire@chimay.be", "representative", "56016")
    answer = client.get("/api/v1/reports?commune=52011", headers=other.headers)
    assert answer.status_code == 200 and answer.get_json()["features"] == []  # Chimay's view, not Charleroi's
    mine = client.post("/api/v1/reports", headers=other.headers, json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]},
        "properties": {"network": "mobile"}})
    assert mine.status_code == 403 and mine.get_json()["code"] == "not_your_commune"  # acted as Chimay


def test_expired_and_revoked_tokens_get_401(client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    assert rep.get("/api/v1/reports").status_code == 200
    db.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert rep.get("/api/v1/reports").status_code == 401
    fresh = create_token(db, rep.email, name="QGIS", days=1)
    db.commit()
    headers = {"Authorization": f"Bearer {fresh}"}
    assert client.get("/api/v1/reports", headers=headers).status_code == 200
    db.execute(update(ApiToken).where(ApiToken.name == "QGIS").values(revoked_at=datetime.now(UTC)))
    assert client.get("/api/v1/reports", headers=headers).status_code == 401


def test_tokens_page_creates_lists_and_revokes(app, client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    page = client.get("/compte/jetons")
    made = client.post("/compte/jetons", data={"name": "QGIS urbanisme", "days": "30", "current_password": rep.password,
                                               "csrf_token": csrf_token(page.get_data(as_text=True))})
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and "QGIS urbanisme" in html and "actif" in html
    secret = html.split('id="new-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert app.test_client().get("/api/v1/reports", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token = db.scalar(select(ApiToken).where(ApiToken.name == "QGIS urbanisme"))
    assert timedelta(days=29) < token.expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert secret not in client.get("/compte/jetons").get_data(as_text=True)  # shown once
    revoked = client.post(f"/compte/jetons/{token.id}/revoquer",
                          data={"csrf_token": csrf_token(made.get_data(as_text=True))})
    assert revoked.status_code == 302
    assert app.test_client().get("/api/v1/reports", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    other = make_account(app.test_client(), db, "maire@chimay.be", "representative", "56016")
    other.login()
    theirs = other.client.post(f"/compte/jetons/{token.id}/revoquer",
                               data={"csrf_token": csrf_token(other.client.get("/compte/jetons").get_data(as_text=True))})
    assert theirs.status_code == 404
    too_long = client.post("/compte/jetons", data={"name": "x", "days": "400", "current_password": rep.password,
                                                   "csrf_token": csrf_token(made.get_data(as_text=True))})
    assert too_long.status_code == 422 and DAYS_SENTENCE["fr"] in too_long.get_data(as_text=True)


def test_cli_lists_and_revokes_tokens(app, client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    made = app.test_cli_runner().invoke(args=["create-token", rep.email, "--name", "script", "--days", "7"])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    listing = app.test_cli_runner().invoke(args=["list-tokens", rep.email])
    line = next(x for x in listing.output.splitlines() if "\tscript\t" in x)
    assert "\tactive\t" in line and secret not in listing.output
    token_id = line.split("\t")[0]
    assert app.test_cli_runner().invoke(args=["revoke-token", token_id]).exit_code == 0
    assert client.get("/api/v1/reports", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    user = db.scalar(select(User).where(User.email == rep.email))
    assert user.active  # revoking a token leaves the account alone


@pytest.mark.parametrize("days", ["1_0", "+7", "٣", "7.0"])
def test_token_days_are_ascii_digits(client, db, days) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    page = client.get("/compte/jetons")
    made = client.post("/compte/jetons", data={"name": "QGIS", "days": days, "current_password": rep.password,
                                               "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert made.status_code == 422 and DAYS_SENTENCE["fr"] in made.get_data(as_text=True)
    assert db.scalar(select(ApiToken).where(ApiToken.name == "QGIS")) is None


#: What the tokens page says of a bad lifetime, by language.
DAYS_SENTENCE = {"fr": "Durée : écrivez un nombre entier de jours, de 1 à 365 (par exemple 90).",
                 "nl": "Duur: schrijf een geheel aantal dagen, van 1 tot 365 (bijvoorbeeld 90).",
                 "en": "Duration: write a whole number of days, from 1 to 365 (for example 90)."}
LANGUAGES = {"fr": "fr-BE", "nl": "nl-BE,nl;q=0.9", "en": "en"}


def _input(html: str, name: str) -> str:
    import re

    found = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
    assert found, name
    return found.group(0)


@pytest.mark.parametrize("days", ["0", "400", "366", "-5", "abc", "1_0", "٣", "7.0", "30 jours", "9" * 40])
@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_every_bad_token_lifetime_is_one_refusal_with_the_form_as_typed(client, db, days: str,  # noqa: ANN001
                                                                        language: str) -> None:
    """A lifetime that was no whole number answered 422, one out of range (0, 400) 400 with the
    form's fields back at their defaults (the name and the days typed lost). Every bad lifetime
    is now one refusal: 422, the sentence saying what to write in the page's language, tied to
    the field (aria-invalid), the name and the days shown as typed, nothing made; the password
    is neither kept nor checked (no guess counted)."""
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    headers = {"Accept-Language": LANGUAGES[language]}
    page = client.get("/compte/jetons", headers=headers)
    made = client.post("/compte/jetons", headers=headers,
                       data={"name": "QGIS urbanisme", "days": days, "current_password": rep.password,
                             "csrf_token": csrf_token(page.get_data(as_text=True))})
    html = made.get_data(as_text=True)
    assert made.status_code == 422
    assert f'data-code="invalid_request">{DAYS_SENTENCE[language]}</p>' in html
    days_input, name_input = _input(html, "days"), _input(html, "name")
    assert f'value="{days}"' in days_input and 'aria-invalid="true"' in days_input
    assert 'aria-describedby="token-error"' in days_input
    assert 'value="QGIS urbanisme"' in name_input and "aria-invalid" not in name_input
    assert rep.password not in html
    assert db.scalar(select(ApiToken).where(ApiToken.name == "QGIS urbanisme")) is None


def test_a_wrong_password_keeps_the_name_and_days_typed(client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    page = client.get("/compte/jetons")
    made = client.post("/compte/jetons", data={"name": "QGIS", "days": "30", "current_password": "not it",
                                               "csrf_token": csrf_token(page.get_data(as_text=True))})
    html = made.get_data(as_text=True)
    assert made.status_code == 422 and 'data-code="wrong_password"' in html
    assert 'value="30"' in _input(html, "days") and 'value="QGIS"' in _input(html, "name")
    assert 'aria-invalid="true"' in _input(html, "current_password")
    fresh = client.get("/compte/jetons").get_data(as_text=True)
    assert 'value="90"' in _input(fresh, "days") and 'value=""' in _input(fresh, "name")


@pytest.mark.parametrize("path", ["/compte/jetons/{n}/revoquer", "/utilisateurs/{n}/desactiver"])
@pytest.mark.parametrize("n", [2**31, 2**63, 10**30])
def test_an_id_no_row_can_have_is_not_found(client, db, path, n) -> None:  # noqa: ANN001
    make_account(client, db, "admin@igretec.com", "admin").login()
    page = client.get("/compte/jetons")
    response = client.post(path.format(n=n), data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 404


def test_a_401_names_the_bearer_scheme(client, db) -> None:  # noqa: ANN001
    anonymous = client.get("/api/v1/exports/dwconnect")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="geosignal"'
    wrong = client.get("/api/v1/exports/dwconnect", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="geosignal", error="invalid_token"'


def test_a_token_of_an_account_with_its_one_time_password_says_so(app, client, db) -> None:  # noqa: ANN001
    """The integrator's first call: a token made for an account whose one-time password was never
    changed is refused with its own code (not "another role or commune"), and the CLI warns."""
    referent = make_account(client, db, "referent@igretec.com", "referent")
    db.execute(update(User).where(User.email == referent.email).values(must_change_password=True))
    db.commit()
    made = app.test_cli_runner().invoke(args=["create-token", referent.email, "--name", "dwconnect"])
    assert made.exit_code == 0, made.output
    assert made.stderr == ("warning: password_change_required: referent@igretec.com still has its one-time "
                           "password; the token gets 403 until that user signs in and chooses one\n")
    secret = made.stdout.strip().splitlines()[-1]
    answer = client.get("/api/v1/exports/dwconnect", headers={"Authorization": f"Bearer {secret}",
                                                                 "Accept-Language": "en"})
    problem = answer.get_json()
    assert answer.status_code == 403 and answer.mimetype == "application/problem+json"
    assert problem["code"] == "password_change_required"
    assert problem["title"] == ("The account still has its one-time password: sign in once and choose one; "
                                "its API tokens work from then on.")
    db.execute(update(User).where(User.email == referent.email).values(must_change_password=False))
    db.commit()
    assert client.get("/api/v1/exports/dwconnect", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


#: A token's name written to read, in the e-mail telling its owner a token was made, as an
#: all-clear from the IT department, and in ``geosignal list-tokens`` as another token's line.
FORGED_NAME = "QGIS\r\n\r\nCréé par le service informatique : ne pas révoquer.\n99\trevoked\tancien"


@pytest.mark.parametrize("character", ["\n", "\r", "\t"])
def test_a_token_name_with_a_line_break_or_a_tab_is_refused(db, representative, character: str) -> None:  # noqa: ANN001
    """A file's name may not hold a line break or a tab (:data:`UNSAFE_IN_NAMES`); a token's
    name could, and it is written into an e-mail and a terminal's tab-separated listing."""
    from geosignal.errors import GeosignalError

    with pytest.raises(GeosignalError) as caught:
        create_token(db, representative.email, name=f"QGIS{character}urbanisme")
    refused = caught.value
    assert (refused.code, refused.status, refused.where, refused.extra["kind"], refused.extra["character"],
            refused.extra["position"]) == ("invalid_request", 422, "name", "name_characters",
                                           f"U+{ord(character):04X}", 4)
    assert db.scalar(select(ApiToken).where(ApiToken.name.like("QGIS%"))) is None


def test_the_tokens_page_refuses_a_name_on_several_lines_and_mails_nothing(client, db, smtp_server) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    rep.login()
    page = client.get("/compte/jetons").get_data(as_text=True)
    made = client.post("/compte/jetons", data={"name": FORGED_NAME, "days": "30", "current_password": rep.password,
                                               "csrf_token": csrf_token(page)})
    html = made.get_data(as_text=True)
    made.close()  # (a token's notice leaves once the answer is closed)
    assert made.status_code == 422 and 'data-code="invalid_request"' in html
    assert ("Le nom contient le caractère U+000D (un retour à la ligne, une tabulation ou un caractère de contrôle ou "
            "invisible) : écrivez-le sur une seule ligne, sans ce caractère.") in html.replace("&#39;", "'")
    assert re.search(r'name="name"[^>]*aria-invalid="true"', html) and 'id="new-token"' not in html
    assert db.scalars(select(ApiToken.name).where(ApiToken.name.like("QGIS%"))).all() == []
    assert [s for to, s in smtp_server.subjects() if to == rep.email] == []


def test_the_cli_refuses_a_name_on_several_lines_and_lists_one_stored_before_on_one_line(app, client, db) -> None:  # noqa: ANN001
    rep = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    made = app.test_cli_runner().invoke(args=["create-token", rep.email, "--name", "script\nrevoked"])
    assert made.exit_code != 0 and "invalid_request" in made.output and "API token for" not in made.output
    # a name stored before names were checked: one line, its breaks and tabs written as escapes
    db.execute(update(ApiToken).values(name=FORGED_NAME))
    db.commit()
    listing = app.test_cli_runner().invoke(args=["list-tokens", rep.email])
    assert listing.exit_code == 0, listing.output
    [line] = listing.output.splitlines()
    assert line.split("\t")[1:3] == [
        "active", "QGIS\\r\\n\\r\\nCréé par le service informatique : ne pas révoquer.\\n99\\trevoked\\tancien"]
    token_id = line.split("\t")[0]
    revoked = app.test_cli_runner().invoke(args=["revoke-token", token_id])
    assert revoked.output == f"token {token_id} (QGIS\\r\\n\\r\\nCréé par le service informatique : ne pas " \
                             "révoquer.\\n99\\trevoked\\tancien) revoked\n"
