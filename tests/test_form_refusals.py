"""Forms and query strings of the pages, refused by kind (the audit of the forms): strict
numbers and flags, e-mail addresses, where ``next`` may lead, an edit form saved untouched,
refusals that say what to do in the user's language, and nothing stored on a refusal."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from tests.conftest import CHARLEROI, csrf_token
from tests.factories import (
    CHARLEROI_LAMBERT72,
    count_reports,
    feature,
    square_lambert,
    to_geojson_4326,
)

X, Y = CHARLEROI_LAMBERT72
POINT = {"type": "Point", "coordinates": [4.444, 50.4108]}
NL = {"Accept-Language": "nl-BE,nl;q=0.9"}
EN = {"Accept-Language": "en"}


# --------------------------------------------------------------------------- helpers

class _Form(HTMLParser):
    """The fields a browser sends for the form whose action ends with ``action``: inputs (checked
    boxes and radio buttons only), the selected option of each select, textareas as a browser sends them (the line
    feed after the tag dropped, line ends as CRLF)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.fields = action, False, []
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = (a.get("action") or "").endswith(self.action)
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select, self._first_option, self._selected = a.get("name"), None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value") or ""
            if "selected" in a and not self._selected:
                self.fields.append((self._select, a.get("value") or ""))
                self._selected = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if not self._selected:
                self.fields.append((self._select, self._first_option or ""))
            self._select = None
        elif tag == "textarea" and self._textarea:
            value = "".join(self._text)
            value = value[1:] if value.startswith("\n") else value
            self.fields.append((self._textarea, value.replace("\r\n", "\n").replace("\n", "\r\n")))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def browser_form(html: str, action: str) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser would post for the form of ``html`` posting to ``action``."""
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return parser.fields


def _token(client, url: str = "/signalements") -> str:  # noqa: ANN001
    return csrf_token(client.get(url).get_data(as_text=True))


def _report(account, geometry: dict | None = None, **props) -> str:  # noqa: ANN001, ANN003
    body = feature(geometry or to_geojson_4326(square_lambert(X, Y, 200.0)), **props)
    response = account.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _row(db, rid: str):  # noqa: ANN001, ANN202
    return db.execute(text("SELECT status, change_seq, description, technologies, operators, observed_at "
                           "FROM reports WHERE id = :r"), {"r": rid}).one()


def _actions(db, rid: str) -> list[str]:  # noqa: ANN001
    return list(db.execute(text("SELECT action FROM audit_events WHERE report_id = :r ORDER BY id"), {"r": rid}).scalars())


def _plain(html: str) -> str:
    """A page's text as read: entities decoded, the locale's thin spaces as spaces."""
    import html as html_module

    return html_module.unescape(html).replace("\u202f", " ").replace("\xa0", " ")


def _codes(html: str) -> list[str]:
    return re.findall(r'data-code="([a-z_]+)"', html)


def _users(db, like: str) -> int:  # noqa: ANN001
    return db.execute(text("SELECT count(*) FROM users WHERE email LIKE :l"), {"l": like}).scalar()


# --------------------------------------------------------------------------- item 1: numbers on the forms

@pytest.mark.parametrize(("field", "value"), [("households_affected", "²"), ("businesses_affected", "³"),
                                              ("households_affected", "9" * 5000), ("households_affected", "1_0"),
                                              ("households_affected", "٣")])
def test_map_form_refuses_non_ascii_or_huge_counts(db, client, representative, field: str, value: str) -> None:  # noqa: ANN001
    representative.login()
    before = count_reports(db)
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT),
                                         "network": "mobile", field: value})
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 422 and "invalid_attribute" in _codes(html)
    assert "Écrivez un nombre entier de 0 à 1 000 000, en chiffres et sans séparateur." in html
    assert count_reports(db) == before


@pytest.mark.parametrize("value", ["²", "9" * 5000, "1_0", "NaN"])
def test_map_form_refuses_a_radius_that_is_not_a_number(db, client, representative, value: str) -> None:  # noqa: ANN001
    representative.login()
    before = count_reports(db)
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT),
                                         "network": "mobile", "radius": value})
    assert answer.status_code == 422 and "invalid_attribute" in _codes(answer.get_data(as_text=True))
    assert "Rayon : écrivez un nombre de mètres" in answer.get_data(as_text=True)
    assert count_reports(db) == before


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_edit_form_refuses_non_ascii_or_huge_counts(db, client, representative, value: str) -> None:  # noqa: ANN001
    rid = _report(representative, households_affected=3)
    representative.login()
    fields = dict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier"))
    seq = _row(db, rid).change_seq
    answer = client.post(f"/signalements/{rid}/modifier", data={**fields, "households_affected": value})
    assert answer.status_code == 422 and "invalid_attribute" in _codes(answer.get_data(as_text=True))
    assert _row(db, rid).change_seq == seq and _actions(db, rid) == ["create"]


# --------------------------------------------------------------------------- items 3, 4, 10: invitations

BAD_ADDRESSES = ["a@x.be\nBcc: victim@y.be", "a@x.be\r\nX: y", "@", "<script>alert(1)</script>@x.be",
                 "ab\u202emoc.live@x.be", "a\x07b@x.be", "b" * 300 + "@x.be", "a@b", "a b@x.be", "é@x.be"]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_invite_refuses_junk_addresses_and_stores_nothing(db, client, referent, address: str) -> None:  # noqa: ANN001
    referent.login()
    before = _users(db, "%")
    answer = client.post("/utilisateurs/inviter", data={"csrf_token": _token(client, "/utilisateurs"),
                                                        "role": "representative", "commune": CHARLEROI,
                                                        "email": address})
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 422 and _codes(html) == ["invalid_request"]
    assert ("Adresse e-mail non valide : écrivez-la comme prenom.nom@commune.be" in html
            or "Adresse e-mail trop longue (305 caractères)" in html)
    assert _users(db, "%") == before
    assert 'aria-invalid="true"' in html and 'value="52011" selected' in html  # the form as it was


def test_invite_refusal_in_dutch_and_english(client, referent) -> None:  # noqa: ANN001
    referent.login()
    for headers, sentence in [(NL, "Ongeldig e-mailadres"), (EN, "Invalid e-mail address")]:
        answer = client.post("/utilisateurs/inviter", headers=headers,
                             data={"csrf_token": _token(client, "/utilisateurs"), "role": "representative",
                                   "commune": CHARLEROI, "email": "a@x.be\nBcc: v@y.be"})
        assert answer.status_code == 422 and sentence in _plain(answer.get_data(as_text=True))


def test_invite_of_an_existing_address_says_so(db, client, referent, representative) -> None:  # noqa: ANN001
    referent.login()
    answer = client.post("/utilisateurs/inviter", data={"csrf_token": _token(client, "/utilisateurs"),
                                                        "role": "representative", "commune": CHARLEROI,
                                                        "email": " ECHEVIN@charleroi.be "})
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "Un compte existe déjà pour cette adresse" in html
    assert "Un champ manque" not in html


def test_a_value_the_database_refuses_rolls_back_before_the_page(app, db) -> None:  # noqa: ANN001
    """The DataError handler renders its page with a usable session (no PendingRollbackError)."""
    from sqlalchemy.exc import DataError

    from geosignal.db import get_session

    with app.test_request_context("/utilisateurs", headers={"Accept": "text/html"}):
        session = get_session()
        with pytest.raises(DataError) as caught:
            session.execute(text("SELECT CAST('x' AS integer)"))
        handler = app._find_error_handler(caught.value, [])
        page, status = handler(caught.value)
        assert status == 400 and 'data-code="invalid_request"' in page
        assert session.execute(text("SELECT 1")).scalar() == 1  # the session works again


# --------------------------------------------------------------------------- item 6: the journal's numbers

@pytest.mark.parametrize(("name", "value"), [("limit", "²"), ("before", "³"), ("limit", "9" * 5000),
                                             ("before", "1_0"), ("limit", "٣")])
def test_journal_refuses_non_ascii_numbers(client, admin, name: str, value: str) -> None:  # noqa: ANN001
    api = admin.get(f"/api/v1/audit?{name}={quote(value)}")
    assert api.status_code == 400 and api.mimetype == "application/problem+json"
    assert api.get_json()["code"] == "invalid_request" and api.get_json()["where"] == name
    admin.login()
    page = client.get(f"/admin/journal?{name}={quote(value)}")
    assert page.status_code == 400 and _codes(page.get_data(as_text=True)) == ["invalid_request"]


def _journal_field(html: str, name: str) -> str:
    """The journal form's field ``name``, its label and what is said next to it."""
    found = re.search(rf'<div class="journal-field">((?:(?!</div>).)*name="{name}"(?:(?!</div>).)*)</div>', html, re.S)
    assert found, f"no field {name}"
    return found.group(1)


@pytest.mark.parametrize(("query", "field", "status", "sentence"), [
    ({"from": "31/03/2024"}, "from", 400,
     "Date illisible ou hors limites : choisissez un jour dans le calendrier (AAAA-MM-JJ)."),
    ({"from": "2025-02-01", "to": "2025-01-01"}, "from", 400,
     "La période se termine avant de commencer : choisissez une date de fin égale ou postérieure à la date de début."),
    ({"commune": "99999"}, "commune", 422, "Aucune commune chargée n'a ce code INS : vérifiez le code."),
    ({"user": "a\x01b@x.be"}, "user", 400, "Un filtre contient le caractère U+0001 (un caractère de contrôle ou "
                                           "invisible, souvent venu d'un copier-coller) : retapez sa valeur sans ce "
                                           "caractère."),
    ({"action": "nope"}, "action", 400, "Action inconnue : choisissez-en une dans la liste."),
])
def test_a_refused_journal_filter_is_the_journal_with_the_sentence_next_to_its_field(
        db, client, representative, admin, query: dict, field: str, status: int, sentence: str) -> None:  # noqa: ANN001
    """A refused filter of the journal page was a bare error page (the site's frame and the
    sentence, no journal, no form). It is now the journal page with its status: the form as
    typed (the other filters too), the sentence next to the field it concerns, tied to it
    (aria-invalid, aria-describedby), and the journal unfiltered below it."""
    rid = _report(representative)  # an event to list
    admin.login()
    answer = client.get("/admin/journal", query_string={**query, "to": query.get("to", "2026-01-31"),
                                                         **({} if field == "action" else {"action": "create"})})
    html = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert 'id="journal-filters"' in html and 'id="journal-table"' in html and f"/signalements/{rid}" in html
    said = _journal_field(html, field)
    assert 'aria-invalid="true" aria-describedby="journal-error"' in said
    assert re.search(r'<p class="field-error" id="journal-error" role="alert" data-code="[a-z_]+">', said)
    assert _plain(said).count(sentence) == 1 and _plain(html).count(sentence) == 1
    assert html.count("aria-invalid") == 1
    if field != "action":
        assert '<option value="create" selected>' in _journal_field(html, "action")
    for name, value in query.items():
        shown = re.search(rf'name="{name}"[^>]*value="([^"]*)"', _journal_field(html, name)) if name != "action" else None
        assert shown is None or _plain(shown.group(1)) == value, name
    if "to" not in query:
        assert 'value="2026-01-31"' in _journal_field(html, "to")


@pytest.mark.parametrize(("headers", "sentence"), [
    (NL, "Onleesbare datum of buiten de grenzen: kies een dag in de kalender (JJJJ-MM-DD)."),
    (EN, "Unreadable or out-of-range date: choose a day in the calendar (YYYY-MM-DD)."),
])
def test_a_refused_journal_filter_is_said_in_the_page_language(client, admin, headers: dict, sentence: str) -> None:  # noqa: ANN001
    admin.login()
    answer = client.get("/admin/journal?to=31%2F03%2F2024", headers=headers)
    assert answer.status_code == 400 and sentence in _plain(_journal_field(answer.get_data(as_text=True), "to"))


def test_a_journal_address_altered_beyond_its_form_says_so_above_it(client, admin) -> None:  # noqa: ANN001
    """``limit`` and ``before`` are no field of the form (the « Plus ancien » link's): the
    sentence is above the form and says what to do, not « correct the field shown »."""
    admin.login()
    answer = client.get("/admin/journal?before=x&action=create")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="journal-filters"' in html and "aria-invalid" not in html
    assert ('<p class="flash error" role="alert" id="journal-error" data-code="invalid_request">L&#39;adresse de cette '
            "page du journal est incorrecte : rouvrez le Journal depuis le menu, puis filtrez-le à nouveau.</p>") in html
    assert '<option value="create" selected>' in html


# --------------------------------------------------------------------------- items 7, 8: an untouched edit form

def test_saving_an_untouched_edit_form_changes_and_records_nothing(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, description="\nline1\nline2", technologies=["5G", "4G"],
                  operators=["Orange", "Proximus"], observed_at="2025-05-01T18:30:00+02:00")
    before = _row(db, rid)
    representative.login()
    fields = browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier")
    assert ("description", "\r\nline1\r\nline2") in fields  # what a browser sends back
    answer = client.post(f"/signalements/{rid}/modifier", data=MultiDict(fields))
    assert answer.status_code == 302
    assert _row(db, rid) == before and _actions(db, rid) == ["create"]


def test_an_edit_keeps_the_time_of_observed_at_and_what_was_not_touched(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, description="line1\nline2", technologies=["5G", "4G"],
                  observed_at="2025-05-01T18:30:00+02:00")
    representative.login()
    fields = [(k, v) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                              "/modifier") if k != "description"]
    answer = client.post(f"/signalements/{rid}/modifier", data=MultiDict([*fields, ("description", "autre\r\ntexte")]))
    assert answer.status_code == 302
    row = _row(db, rid)
    assert row.description == "autre\ntexte" and list(row.technologies) == ["5G", "4G"]
    stored = representative.get(f"/api/v1/reports/{rid}").get_json()["properties"]["observed_at"]
    assert stored == "2025-05-01T18:30:00+02:00"
    event = db.execute(text("SELECT after FROM audit_events WHERE report_id = :r AND action = 'edit'"),
                       {"r": rid}).scalar()
    assert set(event) == {"description"}


def test_changing_the_day_of_observed_at_is_an_edit(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, observed_at="2025-05-01T18:30:00+02:00")
    representative.login()
    fields = [(k, v) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                              "/modifier") if k != "observed_at"]
    assert client.post(f"/signalements/{rid}/modifier", data=MultiDict([*fields, ("observed_at", "2025-04-30")])).status_code == 302
    assert representative.get(f"/api/v1/reports/{rid}").get_json()["properties"]["observed_at"].startswith("2025-04-30")


# --------------------------------------------------------------------------- item 9: flags

@pytest.mark.parametrize(("name", "value"), [("dry_run", "maybe"), ("dry_run", "2"), ("dry_run", "y"),
                                             ("repair", "maybe"), ("repair", "vrai")])
def test_upload_flags_accept_only_the_documented_words(db, representative, name: str, value: str) -> None:  # noqa: ANN001
    import io

    before = count_reports(db)
    answer = representative.post("/api/v1/imports", content_type="multipart/form-data", data={
        "file": (io.BytesIO(b"lon;lat;description;network\n4.444;50.4108;p;mobile\n"), "z.csv"), name: value})
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_request"
    assert answer.get_json()["where"] == name
    assert "oui ou non" in answer.get_json()["message"]
    assert count_reports(db) == before


@pytest.mark.parametrize("value", ["on", "YES", "1", "true"])
def test_upload_dry_run_words_preview(db, representative, value: str) -> None:  # noqa: ANN001
    import io

    before = count_reports(db)
    answer = representative.post("/api/v1/imports", content_type="multipart/form-data", data={
        "file": (io.BytesIO(b"lon;lat;description;network\n4.444;50.4108;p;mobile\n"), "z.csv"), "dry_run": value})
    assert answer.status_code == 200 and count_reports(db) == before


def test_page_flags_are_strict_too(client, representative, referent) -> None:  # noqa: ANN001
    representative.login()
    answer = client.get("/signalements?retires=maybe")
    assert answer.status_code == 400 and "répondez par oui ou non" in answer.get_data(as_text=True)
    assert client.get("/signalements?retires=1").status_code == 200
    bad = referent.post("/api/v1/exports/dwconnect?mark_transmitted=maybe")
    assert bad.status_code == 400 and bad.get_json()["where"] == "mark_transmitted"


# --------------------------------------------------------------------------- item 11: where next leads

NEXT_ATTACKS = ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/\\/evil.example", "//evil.example",
                "https://evil.example/", "/\r/evil.example", "\t//evil.example"]


def _leads_home(location: str) -> bool:
    parts = urlsplit(location)
    return parts.netloc in ("", "localhost") and parts.path in ("/", "/carte")


@pytest.mark.parametrize("target", NEXT_ATTACKS)
def test_sign_in_never_leads_to_another_site(client, representative, target: str) -> None:  # noqa: ANN001
    answer = client.post(f"/login?next={quote(target, safe='')}", data={
        "csrf_token": _token(client, "/login"), "email": representative.email, "password": representative.password})
    assert answer.status_code == 302 and _leads_home(answer.headers["Location"]), answer.headers["Location"]


@pytest.mark.parametrize("target", NEXT_ATTACKS)
def test_language_switch_never_leads_to_another_site(client, target: str) -> None:  # noqa: ANN001
    answer = client.post("/langue", data={"csrf_token": _token(client, "/login"), "locale": "nl", "next": target})
    assert answer.status_code == 302 and _leads_home(answer.headers["Location"]), answer.headers["Location"]


def test_next_paths_of_the_site_are_kept(client, representative) -> None:  # noqa: ANN001
    answer = client.post("/login?next=" + quote("/signalements?retires=1", safe=""), data={
        "csrf_token": _token(client, "/login"), "email": representative.email, "password": representative.password})
    assert answer.headers["Location"].endswith("/signalements?retires=1")
    back = client.post("/langue", data={"csrf_token": _token(client), "locale": "en", "next": "/signalements"})
    assert back.headers["Location"].endswith("/signalements")


# --------------------------------------------------------------------------- item 15: sentences that say what to do

@pytest.mark.parametrize(("fields", "sentence"), [
    ({"description": "x" * 5001}, "Texte trop long (5 001 caractères) : raccourcissez-le à 5 000 caractères au plus."),
    ({"description": "a\u202eb"}, "Retirez le caractère U+202E"),
    ({"description": "a\x07b"}, "Retirez le caractère U+0007"),
    ({"description": "a\uffffb"}, "Retirez le caractère U+FFFF (un caractère de contrôle, invisible ou qui inverse"),
    ({"households_affected": "2000000"}, "Écrivez un nombre entier de 0 à 1 000 000"),
])
def test_map_form_refusals_say_what_to_do(db, client, representative, fields: dict, sentence: str) -> None:  # noqa: ANN001
    representative.login()
    before = count_reports(db)
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT),
                                         "network": "mobile", **fields})
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 422 and sentence in html
    assert "choisissez une valeur proposée, ou un nombre entier positif" not in html
    assert count_reports(db) == before


def test_map_form_refusal_sentences_in_dutch_and_english(client, representative) -> None:  # noqa: ANN001
    representative.login()
    for headers, sentence in [(NL, "1.000.000"), (EN, "1,000,000")]:
        answer = client.post("/carte", headers=headers, data={
            "csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT), "network": "mobile",
            "households_affected": "2000000"})
        html = _plain(answer.get_data(as_text=True))
        assert answer.status_code == 422 and sentence in html
        assert "Écrivez un nombre entier" not in html


def test_password_refusals_say_what_to_do(db, client, representative) -> None:  # noqa: ANN001
    representative.login()
    url = "/compte/mot-de-passe"
    same = client.post(url, data={"csrf_token": _token(client, url), "current_password": representative.password,
                                  "password": representative.password})
    assert same.status_code == 422
    assert "Le nouveau mot de passe est identique à l'actuel" in _plain(same.get_data(as_text=True))
    guessable = client.post(url, data={"csrf_token": _token(client, url), "current_password": representative.password,
                                       "password": "echevin@charleroi.be"})
    html = _plain(guessable.get_data(as_text=True))
    assert guessable.status_code == 422 and "Mot de passe trop facile à deviner" in html
    assert "au moins 12 caractères" not in html.split('role="alert"')[1]


# --------------------------------------------------------------------------- item 16: the reason of reject / ask

@pytest.mark.parametrize(("reason", "code", "sentence"), [
    ("ok\u202eevil", "invalid_attribute", "Retirez le caractère U+202E"),
    ("x" * 4001, "invalid_attribute", "Texte trop long (4 001 caractères)"),
    ("\u200b\u200b", "reason_required", "Action refusée : Écrivez le motif : la commune le lit avec le signalement."),
    (" \u2060\ufeff ", "reason_required", "Action refusée : Écrivez le motif : la commune le lit avec le signalement."),
])
def test_a_refused_reason_is_refused_before_the_confirmation_with_the_text_kept(db, client, representative, referent,  # noqa: ANN001
                                                                                reason: str, code: str,
                                                                                sentence: str) -> None:
    rid = _report(representative)
    referent.login()
    for confirm in ({}, {"confirm": "1"}):
        answer = client.post(f"/signalements/{rid}/actions", data={"csrf_token": _token(client), "to": "rejected",
                                                                   "reason": reason, **confirm})
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422 and sentence in _plain(html)
        assert 'id="confirm"' not in html and 'data-action="reject"' in html  # the report page, not the confirmation
        if code == "invalid_attribute":
            assert reason[:50] in html  # the typed text, kept in its box
    assert _row(db, rid).status == "submitted" and _actions(db, rid) == ["create"]


def test_a_zero_width_answer_is_no_answer(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    referent.login()
    asked = client.post(f"/signalements/{rid}/actions", data={"csrf_token": _token(client), "to": "needs_info",
                                                              "reason": "Où exactement ?"})
    assert asked.status_code == 302
    representative.login()
    answer = client.post(f"/signalements/{rid}/actions", data={"csrf_token": _token(client), "to": "submitted",
                                                               "reason": "\u200b"})
    # what is missing, said for what she was doing: her answer, not "a reason, question, answer or note"
    assert answer.status_code == 422 and ("Action refusée : Écrivez votre réponse au référent : elle lui revient avec "
                                          "le signalement.") in _plain(answer.get_data(as_text=True))
    assert _row(db, rid).status == "needs_info"


def test_a_second_click_on_reject_says_it_is_done(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    referent.login()
    form = {"csrf_token": _token(client), "to": "rejected", "reason": "Hors sujet", "confirm": "1",
            "etag": f'"{_row(db, rid).change_seq}"'}
    assert client.post(f"/signalements/{rid}/actions", data=form).status_code == 302
    again = client.post(f"/signalements/{rid}/actions", data=form, follow_redirects=True)
    assert again.status_code == 200 and "est rejeté" in _plain(again.get_data(as_text=True))
    assert _actions(db, rid) == ["create", "reject"]


# --------------------------------------------------------------------------- items 17, 22: the exports page

def test_exports_page_form_refuses_a_reversed_period_on_the_page(db, client, referent) -> None:  # noqa: ANN001
    referent.login()
    runs = db.execute(text("SELECT count(*) FROM export_runs")).scalar()
    answer = client.get("/exports?format=geojson&status=all&commune=52011&from=2026-05-01&to=2026-04-01")
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "La période se termine avant de commencer" in html
    assert 'value="2026-05-01"' in html and 'value="all" selected' in html and 'value="52011" selected' in html
    assert db.execute(text("SELECT count(*) FROM export_runs")).scalar() == runs
    nl = client.get("/exports?format=csv&from=2026-05-01&to=2026-04-01", headers=NL)
    assert nl.status_code == 400 and "De periode eindigt voor ze begint" in _plain(nl.get_data(as_text=True))


@pytest.mark.parametrize(("query", "status", "code"), [("format=geojson&from=2026-02-30", 400, "invalid_request"),
                                                       ("format=csv&commune=99999", 422, "unknown_commune"),
                                                       ("format=gpkg&status=bogus", 400, "invalid_request"),
                                                       ("format=xls", 400, "invalid_request")])
def test_exports_page_form_refusals_are_pages(client, referent, query: str, status: int, code: str) -> None:  # noqa: ANN001
    referent.login()
    answer = client.get(f"/exports?{query}")
    assert answer.status_code == status and answer.mimetype == "text/html"
    assert _codes(answer.get_data(as_text=True))[:1] == [code]


def test_exports_page_form_leads_to_the_download_and_offers_every_status(client, referent) -> None:  # noqa: ANN001
    referent.login()
    page = client.get("/exports").get_data(as_text=True)
    assert '<option value="all"' in page and 'name="format" value="csv"' in page
    assert '<option value="dwconnect" selected>' in page  # what DWconnect is sent, by default
    answer = client.get("/exports?format=csv&status=dwconnect&commune=&from=&to=&since=last_transmitted")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("/api/v1/exports/dwconnect.csv?") and "status=dwconnect" in location
    assert "since=last_transmitted" in location and "commune" not in location
    # every status, for a full export only: not what is new for DWconnect (the page says why)
    assert client.get("/exports?format=csv&status=all&commune=&from=&to=").status_code == 302
    refused = client.get("/exports?format=csv&status=all&commune=&from=&to=&since=last_transmitted")
    assert refused.status_code == 400 and _codes(refused.get_data(as_text=True))[:1] == ["invalid_request"]
    assert "ne peut pas prendre « Tous les statuts »" in refused.get_data(as_text=True)
    # for a French-language Excel: the same file with a decimal comma
    assert 'name="format" value="csv-comma"' in page
    comma = client.get("/exports?format=csv-comma&status=validated")
    assert comma.status_code == 302
    assert comma.headers["Location"] == "/api/v1/exports/dwconnect.csv?status=validated&decimal=comma"


# --------------------------------------------------------------------------- item 18: the speed-test form

def _speed_test(client, rid: str, headers: dict | None = None, **values):  # noqa: ANN001, ANN003, ANN202
    data = {"csrf_token": _token(client), "measured_at": "2025-05-01T10:00", **values}
    return client.post(f"/signalements/{rid}/mesures", data=data, headers=headers or {})


def _tests(db, rid: str) -> list:  # noqa: ANN001
    return db.execute(text("SELECT download_mbps, signal_dbm FROM report_speed_tests WHERE report_id = :r"),
                      {"r": rid}).all()


@pytest.mark.parametrize(("values", "sentence"), [
    ({"download_mbps": "NaN"}, "Débit descendant : un nombre entre 0 et 10"),
    ({"download_mbps": "1_0"}, "Débit descendant : un nombre entre 0 et 10"),
    ({"signal_dbm": "-5"}, "Signal : un nombre entre -150 et -20"),
    ({"download_mbps": "12", "operator": "Bogus"}, "Opérateur : choisissez un opérateur de la liste."),
])
def test_speed_test_refusals_show_the_page_again_with_the_values(db, client, representative, values: dict,  # noqa: ANN001
                                                                  sentence: str) -> None:
    rid = _report(representative)
    representative.login()
    answer = _speed_test(client, rid, **values)
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 422 and sentence.replace("-", "−") in html.replace("-", "−")
    for name, value in values.items():
        if name != "operator":
            assert f'name="{name}" value="{value}"' in html
    assert 'value="2025-05-01T10:00"' in html
    assert _tests(db, rid) == []


def test_speed_test_reads_the_minus_its_label_shows(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    answer = _speed_test(client, rid, signal_dbm="\u2212105", download_mbps="12,5")
    assert answer.status_code == 302
    assert _tests(db, rid) == [(12.5, -105)]


def test_speed_test_on_a_closed_report_is_refused_on_the_page(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    assert representative.post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    representative.login()
    answer = _speed_test(client, rid, download_mbps="12")
    assert answer.status_code == 409 and "Ce signalement est clos" in _plain(answer.get_data(as_text=True))
    assert _tests(db, rid) == []


# --------------------------------------------------------------------------- item 19: the list page's status route

def test_the_list_page_status_route_confirms_a_withdrawal_and_honours_the_etag(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    first = client.post(f"/signalements/{rid}/statut", data={"csrf_token": _token(client), "status": "withdrawn"})
    assert first.status_code == 200 and 'id="confirm"' in first.get_data(as_text=True)
    assert _row(db, rid).status == "submitted"
    stale = client.post(f"/signalements/{rid}/statut", data={"csrf_token": _token(client), "status": "withdrawn",
                                                             "confirm": "1", "etag": '"1"'})
    assert stale.status_code == 412 and _row(db, rid).status == "submitted"
    done = client.post(f"/signalements/{rid}/statut", data={"csrf_token": _token(client), "status": "withdrawn",
                                                            "confirm": "1", "etag": f'"{_row(db, rid).change_seq}"'})
    assert done.status_code == 302 and _row(db, rid).status == "withdrawn"


# --------------------------------------------------------------------------- item 24: words people understand

def test_edit_form_without_its_version_says_to_reopen_it(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    fields = [(k, v) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                              "/modifier") if k != "etag"]
    answer = client.post(f"/signalements/{rid}/modifier", data=MultiDict([*fields, ("description", "autre")]))
    html = _plain(answer.get_data(as_text=True))
    assert answer.status_code == 428 and "rouvrez la page de modification" in html and "If-Match" not in html


def test_a_double_click_on_save_is_not_someone_else(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    fields = MultiDict([(k, v) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier")
                                                        .get_data(as_text=True), "/modifier") if k != "description"])
    fields.add("description", "nouveau texte")
    assert client.post(f"/signalements/{rid}/modifier", data=fields).status_code == 302
    again = client.post(f"/signalements/{rid}/modifier", data=fields, follow_redirects=True)
    html = _plain(again.get_data(as_text=True))
    assert again.status_code == 200 and "Vos modifications étaient déjà enregistrées" in html
    assert "Quelqu'un d'autre" not in html and _actions(db, rid) == ["create", "edit"]


@pytest.mark.parametrize("moved", ["map", "typed"])
def test_a_double_click_on_save_after_moving_the_shape_is_not_someone_else(db, client, representative, moved) -> None:  # noqa: ANN001
    """The shape moved (on the map, or retyped) and Save clicked twice: the second answer said
    the report had changed since the page was opened and the change was lost (412), though the
    first had saved it."""
    rid = _report(representative)
    representative.login()
    fields = MultiDict([(k, v) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier")
                                                        .get_data(as_text=True), "/modifier")
                        if k not in ("description", "geometry", "coordinates", "coordinates_shape")])
    fields.add("description", "déplacé")
    if moved == "map":
        fields.add("geometry", json.dumps({"type": "Point", "coordinates": [4.44512345678, 50.41123456789]}))
    else:
        fields.add("coordinates", "50.4112346, 4.4451235")
        fields.add("coordinates_shape", "")
    assert client.post(f"/signalements/{rid}/modifier", data=fields).status_code == 302
    again = client.post(f"/signalements/{rid}/modifier", data=fields, follow_redirects=True)
    html = _plain(again.get_data(as_text=True))
    assert again.status_code == 200 and "Vos modifications étaient déjà enregistrées" in html, html[:300]
    assert _actions(db, rid) == ["create", "edit"]
    fields.setlist("geometry", [json.dumps({"type": "Point", "coordinates": [4.4460, 50.4115]})])
    fields.setlist("coordinates", ["50.4115, 4.4460"])
    elsewhere = client.post(f"/signalements/{rid}/modifier", data=fields)  # (the old version, another place)
    assert elsewhere.status_code == 412


def test_saving_the_edit_form_of_a_validated_report_is_the_error_page(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    fields = browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier")
    assert referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"}).status_code == 200
    for changed in ([], [("households_affected", "7")]):
        answer = client.post(f"/signalements/{rid}/modifier", data=MultiDict([*fields, *changed]))
        html = _plain(answer.get_data(as_text=True))
        assert answer.status_code == 409 and 'id="error"' in html and "n'est plus modifiable" in html
        assert 'name="description"' not in html
    assert _actions(db, rid) == ["create", "validate"]


def test_the_back_button_then_another_report_explains_and_lets_send_again(db, client, representative) -> None:  # noqa: ANN001
    representative.login()
    page = client.get("/carte").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_token(page), "geometry": json.dumps(POINT), "network": "mobile", "idempotency_key": key}
    assert client.post("/carte", data={**form, "description": "premier"}).status_code == 302
    before = count_reports(db)
    again = client.post("/carte", data={**form, "description": "second"})
    html = _plain(again.get_data(as_text=True))
    assert again.status_code == 422 and "est déjà enregistré" in html and "idempotence" not in html
    assert "second" in html and count_reports(db) == before
    fresh = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    assert fresh != key
    assert client.post("/carte", data={**form, "idempotency_key": fresh, "description": "second"}).status_code == 302
    assert count_reports(db) == before + 1


# --------------------------------------------------------------------------- item 25: the upload page

def test_the_upload_page_is_for_those_who_file_reports(client, representative, referent, admin) -> None:  # noqa: ANN001
    referent.login()
    refused = client.get("/import")
    assert refused.status_code == 403 and _codes(refused.get_data(as_text=True)) == ["forbidden"]
    representative.login()
    assert client.get("/import").status_code == 200
    admin.login()
    assert client.get("/import").status_code == 200


# --------------------------------------------------------------------------- never a 500, whatever is typed

ODD = ["²", "٣٤", "１２", "9" * 5000, "1_0", "1e309", "NaN", "-0", "+5", "0x1F", " ", "\u2212", "1,000.5", "\x00",
       "\u202e1", "\u200b", "1" * 19, "١_٠"]


def test_odd_values_never_answer_500(db, client, representative, admin) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    before = count_reports(db)
    for value in ODD:
        for field in ("households_affected", "businesses_affected", "radius", "observed_at"):
            answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT),
                                                 "network": "mobile", field: value})
            assert 400 <= answer.status_code < 500 or not value.strip(), (field, value)
        for field in ("download_mbps", "signal_dbm", "latency_ms"):
            assert _speed_test(client, rid, **{field: value}).status_code < 500, (field, value)
        assert client.get(f"/signalements?retires={quote(value)}").status_code in (200, 400)
    assert count_reports(db) == before + ODD.count(" ")
    admin.login()
    for value in ODD:
        for name in ("limit", "before"):
            assert client.get(f"/admin/journal?{name}={quote(value)}").status_code in (200, 400), (name, value)


@pytest.mark.parametrize(("value", "sentence"), [
    ("2099-01-15", "Cette date est dans le futur : indiquez une date passée, ou celle d'aujourd'hui."),
    ("0025-01-15", "Cette date est trop ancienne : vérifiez l'année (par exemple 2025, pas 0025)."),
])
def test_edit_form_says_why_a_well_written_date_is_refused(db, client, representative, value: str,
                                                           sentence: str) -> None:  # noqa: ANN001
    """A date in the future, or before 1990, is well written: the page says what is wrong with
    it, not that it is unreadable; nothing is changed."""
    rid = _report(representative, households_affected=3)
    representative.login()
    fields = dict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier"))
    seq = _row(db, rid).change_seq
    answer = client.post(f"/signalements/{rid}/modifier", data={**fields, "observed_at": value})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "invalid_datetime" in _codes(html)
    assert sentence.replace("'", "&#39;") in html and "illisible" not in html
    assert _row(db, rid).change_seq == seq and _actions(db, rid) == ["create"]


def test_each_field_says_its_own_fault_when_several_are_refused(db, client, representative) -> None:  # noqa: ANN001
    """A date in the future beside a count that is not a whole number (a user's trial): the
    date said "unreadable date" (its reason was lost when the faults were gathered), both fields
    carried the first fault's code, and the top of the page named one fault of two."""
    representative.login()
    before = count_reports(db)
    answer = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "geometry": json.dumps(POINT),
                                         "network": "mobile", "households_affected": "1.5", "observed_at": "2099-01-01"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and count_reports(db) == before
    fields = dict(re.findall(r'<div class="field-error" id="([a-z_]+)-error" role="alert" data-code="([a-z_]+)"', html))
    assert fields == {"households_affected": "invalid_attribute", "observed_at": "invalid_datetime"}
    assert "Cette date est dans le futur : indiquez une date passée, ou celle d&#39;aujourd&#39;hui." in html
    assert "illisible" not in html
    assert ("Signalement refusé : 2 champs à corriger : Ménages touchés, Date d&#39;observation "
            "(le message est sous chacun).") in html


# --------------------------------------------------------------------------- a date refusal's examples

#: The dates a refusal gives as examples (« 31/03/2024 ou 2024-03-31 … (31/03/2024 14:30) »).
DATE_EXAMPLE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?|\d{2}/\d{2}/\d{4}(?: \d{2}:\d{2})?")


def _brussels(db, sql: str, key: str) -> str:  # noqa: ANN001
    """The time ``sql`` selects (one row, ``:k`` its key) as Brussels wall time, ``YYYY-MM-DD HH:MM``."""
    return db.execute(text(f"SELECT to_char(t AT TIME ZONE 'Europe/Brussels', 'YYYY-MM-DD HH24:MI') FROM ({sql}) AS s(t)"),
                      {"k": key}).scalar_one()


def _field_sentence(html: str, field_id: str) -> str:
    found = re.search(rf'<div class="field-error" id="{field_id}-error"[^>]*>(.*?)</div>', html, re.S)
    assert found, f"no sentence next to {field_id}"
    return _plain(re.sub(r"<[^>]+>", " ", found.group(1)))


def _as_typed_day(example: str) -> str:
    """The Brussels wall time (``YYYY-MM-DD HH:MM``) an example date means."""
    day, _, hour = example.partition(" ")
    day = "-".join(reversed(day.split("/"))) if "/" in day else day
    return f"{day} {hour or '00:00'}"


@pytest.mark.parametrize("headers", [{}, NL, EN], ids=["fr", "nl", "en"])
def test_the_dates_a_date_refusal_gives_as_examples_are_accepted(db, client, representative, headers: dict) -> None:  # noqa: ANN001
    """An unreadable date on the report form (new, copy, edit) and the speed test's form said
    « write it as 31/03/2024 or 2024-03-31, followed if needed by the time (31/03/2024 14:30) »,
    then refused 31/03/2024 and 31/03/2024 14:30 (only ISO text was read; the browsers' date
    fields send it, a text box where a browser has none does not). Each example the sentence
    gives, in each language, is now accepted by the field it is said next to, as the day it
    names (Brussels time)."""
    rid = _report(representative, observed_at="2025-05-01T18:30:00+02:00")
    representative.login()
    refused = client.post("/carte", headers=headers, data={"csrf_token": _token(client, "/carte"), "network": "mobile",
                                                           "geometry": json.dumps(POINT), "observed_at": "31 mars"})
    assert refused.status_code == 422
    examples = DATE_EXAMPLE.findall(_field_sentence(refused.get_data(as_text=True), "observed_at"))
    assert examples == ["31/03/2024", "2024-03-31", "31/03/2024 14:30"]
    speed_refused = _speed_test(client, rid, headers=headers, download_mbps="12", measured_at="31 mars")
    assert speed_refused.status_code == 422
    assert DATE_EXAMPLE.findall(_field_sentence(speed_refused.get_data(as_text=True), "speed-measured_at")) == examples
    for example in examples:
        before = count_reports(db)
        filed = client.post("/carte", headers=headers, data={"csrf_token": _token(client, "/carte"), "network": "mobile",
                                                             "geometry": json.dumps(POINT), "observed_at": example,
                                                             "description": example})  # (not a duplicate)
        assert filed.status_code == 302, example
        assert count_reports(db) == before + 1
        new = db.execute(text("SELECT id::text FROM reports ORDER BY seq DESC LIMIT 1")).scalar()
        assert _brussels(db, "SELECT observed_at FROM reports WHERE id::text = :k", new) == _as_typed_day(example)
        fields = dict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier"))
        edited = client.post(f"/signalements/{rid}/modifier", headers=headers, data={**fields, "observed_at": example})
        assert edited.status_code == 302, example
        assert _brussels(db, "SELECT observed_at FROM reports WHERE id::text = :k", rid) == _as_typed_day(example)
        measured = _speed_test(client, rid, headers=headers, download_mbps=str(10 + examples.index(example)),
                               measured_at=example)
        assert measured.status_code == 302, example
        assert _brussels(db, "SELECT measured_at FROM report_speed_tests WHERE download_mbps::text = :k",
                         str(10 + examples.index(example))) == _as_typed_day(example)


def test_an_edit_form_given_its_own_day_typed_day_first_changes_nothing(db, client, representative) -> None:  # noqa: ANN001
    """The day the edit form was filled with, typed day first (01/05/2025 for 2025-05-01), is
    the field untouched: the observation keeps its hour, nothing is saved or recorded."""
    rid = _report(representative, observed_at="2025-05-01T18:30:00+02:00")
    representative.login()
    fields = dict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier"))
    assert fields["observed_at"] == "2025-05-01"
    before = _row(db, rid)
    assert client.post(f"/signalements/{rid}/modifier", data={**fields, "observed_at": "01/05/2025"}).status_code == 302
    assert _row(db, rid) == before and _actions(db, rid) == ["create"]


# --------------------------------------------------------------------------- a required choice is never preset

def test_the_map_form_presets_no_network_and_the_server_refuses_it_missing(db, client, representative) -> None:  # noqa: ANN001
    """The network was a required select without an empty option: the browser selected its first
    choice, « Mobile », and a fixed-line zone filed without choosing was filed as mobile. Its
    first option is now a placeholder that is no value; sent as the browser sends it, the form
    is refused next to the field, in the page's language, and nothing is stored."""
    representative.login()
    page = client.get("/carte").get_data(as_text=True)
    select = re.search(r'<select name="network"[^>]*>(.*?)</select>', page, re.S)
    assert select and " required" in select.group(0).split(">")[0]
    first = re.search(r"<option([^>]*)>([^<]*)</option>", select.group(1))
    assert first.group(1) == ' value="" selected' and first.group(2) == "Choisissez…"
    sent = browser_form(page, "/carte")
    assert ("network", "") in sent
    before = count_reports(db)
    fields = MultiDict([(k, v) for k, v in sent if k != "geometry"] + [("geometry", json.dumps(POINT))])
    for headers, sentence in [({}, "Réseau : choisissez parmi Mobile, Fixe."),
                              (NL, "Netwerk: kies uit Mobiel, Vast."), (EN, "Network: choose from Mobile, Fixed.")]:
        answer = client.post("/carte", data=fields, headers=headers)
        html = _plain(answer.get_data(as_text=True))
        assert answer.status_code == 422
        assert re.search(r'<select name="network" id="field-network" required aria-invalid="true" '
                         r'aria-describedby="network-error">\s*<option value="" selected>', html), html
        error = re.search(r'<div class="field-error" id="network-error"[^>]*>(.*?)</div>', html, re.S)
        assert error and sentence in error.group(1), (sentence, error and error.group(1))
    assert count_reports(db) == before
    # chosen, it is filed as chosen
    fields.setlist("network", ["fixed"])
    fields.setlist("idempotency_key", ["fixed-chosen"])
    assert client.post("/carte", data=fields).status_code == 302
    assert db.execute(text("SELECT network FROM reports ORDER BY created_at DESC LIMIT 1")).scalar() == "fixed"


def test_the_edit_form_keeps_the_stored_network_selected(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, network="fixed", technologies=["fibre"])
    representative.login()
    page = client.get(f"/signalements/{rid}/modifier").get_data(as_text=True)
    select = re.search(r'<select name="network"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)" selected>', select) == ["fixed"]
    assert ("network", "fixed") in browser_form(page, "/modifier")


def test_the_edit_page_corrects_a_self_crossing_outline_when_asked_as_the_map_form_does(db, client, representative) -> None:  # noqa: ANN001
    """Its refusal said « …ou cochez la correction automatique », and the page had no such box
    (repair=on posted anyway was ignored): the map form and PATCH ?repair=true store the same
    shape repaired, both lobes kept."""
    from shapely.geometry import Polygon

    from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

    x, y = CHARLEROI_LAMBERT72
    bowtie = to_geojson_4326(Polygon([(x + 1000, y), (x + 1300, y + 300), (x + 1300, y), (x + 1000, y + 300),
                                      (x + 1000, y)]))
    rid = representative.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x - 3000, y, 200)))
                              ).get_json()["id"]
    representative.login()
    page = client.get(f"/signalements/{rid}/modifier").get_data(as_text=True)
    assert 'name="repair"' in page
    fields = [(k, v) for k, v in browser_form(page, "/modifier") if k not in ("geometry", "repair")]
    refused = client.post(f"/signalements/{rid}/modifier", data=MultiDict([*fields, ("geometry", json.dumps(bowtie))]))
    assert refused.status_code == 422 and 'name="repair"' in refused.get_data(as_text=True)
    saved = client.post(f"/signalements/{rid}/modifier",
                        data=MultiDict([*fields, ("geometry", json.dumps(bowtie)), ("repair", "on")]))
    assert saved.status_code == 302
    kind, parts, area = db.execute(text("SELECT GeometryType(geometry), ST_NumGeometries(geometry), "
                                        "ST_Area(ST_Transform(geometry, 31370)) FROM reports WHERE id = :i"),
                                   {"i": rid}).one()
    assert (kind, parts) == ("MULTIPOLYGON", 2) and abs(area - 45_000) < 45  # two triangles of 22,500 m² (0.1 %)
