"""A required field left empty is said by the server in the page's language, for that field,
with what to write — never by the browser's own bubble (it speaks the browser's language:
"Please fill out this field." on a Dutch page), never by a sentence meant for another fault
("wrong e-mail or password", "unreadable date", "too short (0 characters)"). Every form of
the pages that has a required field is ``novalidate``; nothing is stored on such a refusal."""

from __future__ import annotations

import html as html_module
import io
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select, text

from geosignal.i18n import js_catalogue
from geosignal.models import SpeedTest, User
from geosignal.services import accounts
from tests.conftest import CHARLEROI, csrf_token, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

X, Y = CHARLEROI_LAMBERT72
NL = {"Accept-Language": "nl-BE,nl;q=0.9"}
EN = {"Accept-Language": "en"}
STRONG = "grenier mouette tricot ardoise"


def _plain(page: str) -> str:
    return html_module.unescape(page).replace("\u202f", " ").replace("\xa0", " ")


def _alerts(page: str) -> list[str]:
    """The texts of the page's alerts (flash errors, field errors), as read."""
    found = re.findall(r'<(?:p|div)[^>]*role="alert"[^>]*>(.*?)</(?:p|div)>', page, re.S)
    return [re.sub(r"\s+", " ", _plain(re.sub(r"<[^>]+>", " ", f))).strip() for f in found]


def _post(client, url: str, data: dict, page: str | None = None, headers: dict | None = None):  # noqa: ANN001, ANN202
    token = csrf_token(client.get(page or url, headers=headers or {}).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, headers=headers or {})


def _invalid(page: str) -> list[str]:
    """The names of the fields marked ``aria-invalid``."""
    return re.findall(r'<input[^>]*name="([^"]+)"[^>]*aria-invalid="true"', page)


def _report(account, shift: float = 0.0) -> str:  # noqa: ANN001
    square = square_lambert(X + shift, Y, 200.0)
    response = account.post("/api/v1/reports", json=feature(to_geojson_4326(square)))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


# --------------------------------------------------------------------------- signing in

@pytest.mark.parametrize(("headers", "email_sentence", "password_sentence"), [
    ({}, "Indiquez l'adresse e-mail de votre compte.", "Indiquez votre mot de passe."),
    (NL, "Vul het e-mailadres van uw account in.", "Vul uw wachtwoord in."),
    (EN, "Enter your account's e-mail address.", "Enter your password."),
])
def test_an_empty_sign_in_field_is_named_in_the_page_language(client, representative, fresh_limits,  # noqa: ANN001
                                                               headers: dict, email_sentence: str,
                                                               password_sentence: str) -> None:
    no_email = _post(client, "/login", {"email": "", "password": "whatever it is"}, headers=headers)
    assert no_email.status_code == 422
    page = no_email.get_data(as_text=True)
    assert _alerts(page) == [email_sentence] and _invalid(page) == ["email"]
    no_password = _post(client, "/login", {"email": representative.email, "password": ""}, headers=headers)
    assert no_password.status_code == 422
    page = no_password.get_data(as_text=True)
    assert _alerts(page) == [password_sentence] and _invalid(page) == ["password"]
    # the refusal is tied to its field (a11y trial 11: « invalid entry » was read without why)
    assert re.search(r'<p class="flash error" id="login-error" role="alert">', page)
    assert re.search(r'name="password"[^>]*aria-invalid="true" aria-describedby="login-error"', page)
    assert f'value="{representative.email}"' in page  # the address typed is kept
    assert client.get("/signalements").status_code == 302  # not signed in
    for _ in range(12):  # an empty field is no password tried: never counted towards the lock
        assert _post(client, "/login", {"email": representative.email, "password": ""},
                     headers=headers).status_code == 422
    # a wrong password is still said as before (no hint of which of the two was wrong)
    wrong = _post(client, "/login", {"email": representative.email, "password": "not the one"}, headers=headers)
    assert wrong.status_code == 401 and len(_alerts(wrong.get_data(as_text=True))) == 1


def test_an_empty_address_asks_for_it_before_any_reset_link(app, client, db, smtp_server, fresh_limits) -> None:  # noqa: ANN001, E501
    make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    answer = _post(client, "/compte/mot-de-passe-oublie", {"email": "  "}, headers=NL)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _alerts(page) == ["Vul het e-mailadres van uw account in: de link wordt daarheen gestuurd."]
    assert _invalid(page) == ["email"]
    assert smtp_server.messages == []
    assert db.scalar(text("SELECT count(*) FROM account_tokens")) == 0


# --------------------------------------------------------------------------- passwords

def test_empty_password_fields_are_said_for_what_they_are(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    account.login()
    no_current = _post(client, "/compte/mot-de-passe", {"current_password": "", "password": STRONG}, headers=EN)
    assert no_current.status_code == 422
    page = no_current.get_data(as_text=True)
    assert _alerts(page) == ["Enter your current password: it confirms that it is really you."]
    assert _invalid(page) == ["current_password"]
    no_new = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": ""})
    assert no_new.status_code == 422
    page = no_new.get_data(as_text=True)
    assert _alerts(page) == ["Choisissez un nouveau mot de passe : au moins 12 caractères, par exemple une phrase "
                             "de quatre mots."]
    assert _invalid(page) == ["password"]
    user = db.scalar(select(User).where(User.email == account.email))
    assert user.check_password(account.password)  # unchanged
    # a password typed too short is still said with its length
    short = _post(client, "/compte/mot-de-passe", {"current_password": account.password, "password": "abc"})
    assert "(3 caractères)" in _alerts(short.get_data(as_text=True))[0]


@pytest.mark.parametrize(("purpose", "path"), [("reset", "/compte/reinitialisation"),
                                               ("invite", "/compte/invitation")])
def test_a_link_sent_with_no_password_asks_for_one_and_still_works(client, db, purpose: str, path: str) -> None:  # noqa: ANN001
    account = make_account(client, db, "clerc@thuin.be", "representative", "56078")
    user = db.scalar(select(User).where(User.email == account.email))
    secret = accounts.issue_link(db, user, purpose)
    db.commit()
    link = f"{path}?jeton={secret}"
    answer = _post(client, path, {"jeton": secret, "password": ""}, page=link, headers=NL)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _alerts(page) == ["Kies een nieuw wachtwoord: minstens 12 tekens, bijvoorbeeld een zin van vier woorden."]
    assert _invalid(page) == ["password"]
    done = _post(client, path, {"jeton": secret, "password": STRONG}, page=link)
    assert done.status_code == 302  # the link was not used up by the empty try


# --------------------------------------------------------------------------- evidence

def test_an_empty_measure_date_and_an_ambiguous_speed_are_said(client, db, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    page_url = f"/signalements/{rid}"
    no_date = _post(client, f"/signalements/{rid}/mesures", {"measured_at": "", "download_mbps": "12,5"},
                    page=page_url, headers=NL)
    assert no_date.status_code == 422
    assert _alerts(no_date.get_data(as_text=True)) == [
        "Datum van de meting: Vul in wanneer de meting is gedaan: de datum en het uur."]
    # 1.000: one or a thousand megabits? Said with both readings, in the page's way of writing them
    thousand = _post(client, f"/signalements/{rid}/mesures", {"measured_at": "2026-11-02T10:00",
                                                              "download_mbps": "1.000"}, page=page_url)
    assert thousand.status_code == 422
    # each value's sentence at its field (the form's own, no value read at all, above the forms)
    assert _alerts(thousand.get_data(as_text=True))[-1:] == [
        "Débit descendant : « 1.000 » se lit 1000 ou 1 : écrivez le nombre sans séparateur de milliers."]
    assert _invalid(thousand.get_data(as_text=True)) == ["download_mbps"]
    assert 'value="1.000"' in thousand.get_data(as_text=True)  # kept as typed
    half = _post(client, f"/signalements/{rid}/mesures", {"measured_at": "2026-11-02T10:00", "latency_ms": "1,500"},
                 page=page_url, headers=EN)
    assert _alerts(half.get_data(as_text=True))[-1:] == [
        "Latency: ‘1,500’ reads as 1500 or 1.5: write the number without a thousands separator."]
    # an out-of-range number is still said with its range
    far = _post(client, f"/signalements/{rid}/mesures", {"measured_at": "2026-11-02T10:00",
                                                         "download_mbps": "20000"}, page=page_url)
    assert _alerts(far.get_data(as_text=True))[-1:] == ["Débit descendant : un nombre entre 0 et 10 000 Mbit/s."]
    assert db.scalar(select(func.count()).select_from(SpeedTest)) == 0
    # the API says it with a kind too
    api = representative.post(f"/api/v1/reports/{rid}/evidence", json={"download_mbps": 12.5})
    assert api.status_code == 422
    assert api.get_json()["errors"] == [{"code": "invalid_datetime", "kind": "missing", "pointer": "/measured_at",
                                         "detail": "measured_at is required: when the test was made."}]


def test_a_photo_form_sent_without_a_photo_says_to_choose_one(client, db, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    empty = _post(client, f"/signalements/{rid}/photos", {"photo": (io.BytesIO(b""), "")},
                  page=f"/signalements/{rid}", headers=NL)
    assert empty.status_code == 400
    assert _alerts(empty.get_data(as_text=True)) == ["Kies eerst een foto (JPEG of PNG) om toe te voegen."]
    api = representative.post(f"/api/v1/reports/{rid}/photos", data={})
    assert api.status_code == 400
    assert (api.get_json()["code"], api.get_json()["kind"], api.get_json()["where"]) == (
        "invalid_request", "no_photo", "photo")
    assert db.scalar(text("SELECT count(*) FROM report_photos")) == 0


# --------------------------------------------------------------------------- uploads, survey

def test_an_upload_without_a_file_says_to_choose_one(app, client, db, representative) -> None:  # noqa: ANN001
    answer = representative.post("/api/v1/imports", data={"file": (io.BytesIO(b""), "")}, headers=NL)
    assert answer.status_code == 400
    body = answer.get_json()
    assert (body["code"], body["kind"], body["where"]) == ("invalid_request", "no_file", "file")
    # the upload page's script reads the kind's sentence from its catalogue (a browser test
    # of the page: tests/test_import_page_browser.py)
    with app.test_request_context():
        said = js_catalogue("nl")["kinds"]["invalid_request"]["no_file"]
    assert said == (
        "Kies eerst het bestand om te importeren (GeoJSON, KML, GPX, CSV, GeoPackage of gezipte shapefile).")


def test_the_survey_form_names_the_empty_field(client, db, referent) -> None:  # noqa: ANN001
    referent.login()
    no_file = _post(client, "/tableau-de-bord/enquete", {"file": (io.BytesIO(b""), ""), "edition": "2022"},
                    page="/tableau-de-bord", headers=EN)
    assert no_file.status_code == 400
    assert _alerts(no_file.get_data(as_text=True)) == [
        "Choose the survey file: the questionnaire's export, in CSV or XLSX."]
    no_year = _post(client, "/tableau-de-bord/enquete", {"file": (io.BytesIO(b"nis;x\n"), "enquete.csv"),
                                                         "edition": ""}, page="/tableau-de-bord")
    assert no_year.status_code == 400
    from geosignal.services.survey_db import latest_possible_edition

    assert _alerts(no_year.get_data(as_text=True)) == [
        f"Indiquez l'année de l'édition de l'enquête, en quatre chiffres, de 2000 à {latest_possible_edition()}."]


# --------------------------------------------------------------------------- status texts

@pytest.mark.parametrize(("source_moves", "target", "sentence"), [
    ([], "rejected", "Action refusée : Écrivez le motif : la commune le lit avec le signalement."),
    ([], "needs_info", "Action refusée : Écrivez la question à poser à la commune : elle la lit avec le "
                       "signalement."),
    ([("validated", None), ("transmitted", None)], "resolved",
     "Action refusée : Écrivez la note de l'opérateur : ce qui a été fait, ou pourquoi rien ne peut l'être."),
])
def test_a_status_text_left_empty_is_asked_for_by_its_kind(client, db, representative, referent,  # noqa: ANN001
                                                           source_moves: list, target: str, sentence: str) -> None:
    rid = _report(representative)
    for status, reason in source_moves:
        moved = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": status, "reason": reason})
        assert moved.status_code == 200, moved.get_json()
    referent.login()
    answer = _post(client, f"/signalements/{rid}/actions", {"to": target, "reason": " "}, page=f"/signalements/{rid}")
    assert answer.status_code == 422 and sentence in _alerts(answer.get_data(as_text=True))
    api = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": target})
    kind = {"rejected": "reason", "needs_info": "question", "resolved": "note"}[target]
    assert (api.status_code, api.get_json()["code"], api.get_json()["kind"], api.get_json()["where"]) == (
        422, "reason_required", kind, "/reason")


@pytest.mark.parametrize("blank", [
    "\u2800",  # the blank Braille pattern (a symbol that draws nothing)
    "\u3164", "\u115f", "\u1160", "\uffa0",  # Hangul fillers (letters that draw nothing)
    "\u034f", "\u17b4",  # combining marks that draw nothing
    "\u200b\u0301",  # a combining accent on a zero-width space
    " \u3000\u2063\U000e0020 ",
])
def test_a_reason_that_draws_nothing_is_no_reason(db, representative, referent, blank: str) -> None:  # noqa: ANN001
    """A rejection whose reason a reader cannot see: the commune gets nothing to read. A text
    counts once it holds a letter, a digit, a punctuation mark or a symbol that draws."""
    rid = _report(representative)
    api = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "rejected", "reason": blank})
    assert (api.status_code, api.get_json()["code"], api.get_json()["kind"]) == (422, "reason_required", "reason")
    assert db.scalar(text("SELECT status FROM reports WHERE id = CAST(:id AS uuid)"), {"id": rid}) == "submitted"
    shown = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "rejected", "reason": "\u0301Hors zone"})
    assert shown.status_code == 200


# --------------------------------------------------------------------------- every form

class _Forms(HTMLParser):
    """Each form of a page: its attributes and whether a field inside it is ``required``."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"attrs": a, "required": []})
        elif tag in ("input", "select", "textarea") and "required" in a and self.forms:
            self.forms[-1]["required"].append(a.get("name"))


def _required_forms(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return [f for f in parser.forms if f["required"]]


def test_every_form_with_a_required_field_leaves_it_to_the_server(app, client, db, representative, referent) -> None:  # noqa: ANN001, E501
    rid = _report(representative)
    asked = referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "needs_info", "reason": "Où ?"})
    assert asked.status_code == 200
    other = _report(representative, shift=1000.0)
    user = db.scalar(select(User).where(User.email == representative.email))
    reset, invite = accounts.issue_link(db, user, "reset"), accounts.issue_link(db, user, "invite")
    db.commit()
    seen: dict[str, list] = {}
    anonymous = app.test_client()
    for path in ("/login", "/compte/mot-de-passe-oublie", f"/compte/reinitialisation?jeton={reset}",
                 f"/compte/invitation?jeton={invite}"):
        seen[path] = _required_forms(anonymous.get(path).get_data(as_text=True))
    representative.login()
    for path in ("/compte/mot-de-passe", "/carte", "/import", f"/signalements/{rid}", f"/signalements/{other}"):
        seen[path] = _required_forms(client.get(path).get_data(as_text=True))
    referent.login()
    for path in ("/tableau-de-bord", "/utilisateurs", "/validation", f"/signalements/{other}"):
        response = client.get(path)
        assert response.status_code == 200, path
        seen["referent " + path] = _required_forms(response.get_data(as_text=True))
    forms = [(path, f) for path, found in seen.items() for f in found]
    # not vacuous: the forms the trials met are among them
    names = {name for _path, f in forms for name in f["required"]}
    assert {"email", "password", "current_password", "measured_at", "photo", "file", "edition", "reason"} <= names
    assert [(path, f["attrs"].get("action"), f["required"]) for path, f in forms
            if "novalidate" not in f["attrs"]] == []
