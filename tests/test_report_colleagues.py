"""Two people of one commune (or two referents) acting on the same report from its pages: a
move already made by a colleague with another text is said, not « already done », and the
text is kept; an edit refused as stale lists only what the person changed; an edit saved after
a colleague withdrew the report says so and keeps what was typed. (Trial « life of reports »,
faults 1, 2 and 4: scripts s29_double_answer, s07_concurrent_edit, s18_withdraw_vs_edit.)"""

from __future__ import annotations

import html as html_module
import re

from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from tests.conftest import CHARLEROI, Account, csrf_token, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.test_form_refusals import browser_form

X, Y = CHARLEROI_LAMBERT72
WHEN = r"\d\d/\d\d/\d{4} à \d\d:\d\d"  # a history time as the French pages write it
MAYOR = "echevin@charleroi.be (Représentant·e communal·e)"


def _report(account, dx: float = 0.0, **props) -> str:  # noqa: ANN001, ANN003
    body = feature(to_geojson_4326(square_lambert(X + dx, Y, 200.0)), **props)
    response = account.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _colleague(app, db, email: str, role: str, commune: str | None) -> Account:  # noqa: ANN001
    """A second person with a browser of their own (their own session cookie)."""
    other = make_account(app.test_client(), db, email, role, commune)
    assert other.login().status_code == 302
    return other


def _plain(page: str) -> str:
    return re.sub(r"\s+", " ", html_module.unescape(re.sub(r"<[^>]+>", "", page))).replace("\u202f", " ")


def _flashes(page: str) -> list[tuple[str, str]]:
    return [(c, _plain(m)) for c, m in re.findall(r'<p class="flash (\w+)"[^>]*>(.*?)</p>', page, re.S)]


def _events(db, rid: str) -> list[tuple[str, str | None]]:  # noqa: ANN001
    return [tuple(r) for r in db.execute(text(
        "SELECT action, reason FROM audit_events WHERE report_id = :r ORDER BY id"), {"r": rid})]


def _reference(db, rid: str) -> str:  # noqa: ANN001
    return db.scalar(text("SELECT reference FROM reports WHERE id = :r"), {"r": rid})


# --------------------------------------------------------------------------- fault 1: a move made meanwhile

def test_a_second_answer_with_another_text_is_said_done_by_a_colleague_and_kept(app, db, client, representative,
                                                                                referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "needs_info", "reason": "Quelle rue exactement, et depuis quand ?"}).status_code == 200
    clerk = _colleague(app, db, "greffe@charleroi.be", "representative", CHARLEROI)
    clerk_page = clerk.client.get(f"/signalements/{rid}").get_data(as_text=True)
    representative.login()
    mayor_page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    mine = "Rue de Gozée, depuis le 15 novembre."
    assert client.post(f"/signalements/{rid}/actions", data={"to": "submitted", "reason": mine,
                                                             "csrf_token": csrf_token(mayor_page)}).status_code == 302
    theirs = "Route de Gozée n° 200-240; sinds half november, volgens de bewoners."
    answer = clerk.client.post(f"/signalements/{rid}/actions", data={"to": "submitted", "reason": theirs,
                                                                     "csrf_token": csrf_token(clerk_page)})
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    reference = _reference(db, rid)
    ((category, message),) = _flashes(page)
    assert category == "error"  # no green « already done »
    assert re.fullmatch(
        f"Déjà fait entre-temps par {re.escape(MAYOR)}, le {WHEN} \\(« Répondu et soumis à nouveau »\\) : "
        f"le signalement {reference} est maintenant soumis. Votre texte n'a pas été enregistré ; le voici "
        "ci-dessous, pour que vous ne le perdiez pas.", message), message
    assert "déjà fait :" not in page.lower()
    # her text is shown back (not in a form that would send it), with the answer recorded in its place
    kept = re.search(r'<textarea id="not-sent-text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert html_module.unescape(kept) == theirs
    assert html_module.unescape(re.search(r'id="recorded-text">(.*?)</p>', page, re.S).group(1)) == mine
    assert 'id="not-sent-hint"' in page and f'href="/signalements/{rid}/modifier"' in page
    # nothing stored: one answer, the mayor's
    assert _events(db, rid) == [("create", None), ("ask", "Quelle rue exactement, et depuis quand ?"),
                                ("answer", mine)]
    # a second click with the very text recorded is « already done » (nothing lost), as before
    again = client.post(f"/signalements/{rid}/actions", data={"to": "submitted", "reason": mine,
                                                              "csrf_token": csrf_token(mayor_page)},
                        follow_redirects=True)
    assert again.status_code == 200
    assert ("success", f"C'est déjà fait : le signalement {reference} est soumis.") in _flashes(
        again.get_data(as_text=True))
    assert len(_events(db, rid)) == 3


def test_a_second_referent_s_other_reason_or_question_is_not_dropped(app, db, client, representative,
                                                                    referent) -> None:  # noqa: ANN001
    asked = _report(representative)
    rejected = _report(representative, dx=900.0)
    second = _colleague(app, db, "referente2@igretec.com", "referent", None)
    pages = {rid: second.client.get(f"/signalements/{rid}").get_data(as_text=True) for rid in (asked, rejected)}
    assert referent.post(f"/api/v1/reports/{asked}/transitions",
                         json={"to": "needs_info", "reason": "Quelle rue ?"}).status_code == 200
    assert referent.post(f"/api/v1/reports/{rejected}/transitions",
                         json={"to": "rejected", "reason": "Hors territoire"}).status_code == 200
    who = "referent@igretec.com (Référent·e Smart Region)"
    question = second.client.post(f"/signalements/{asked}/actions", data={
        "to": "needs_info", "reason": "Depuis quand ?", "csrf_token": csrf_token(pages[asked])})
    # the confirmed rejection (its confirmation page was open) with another reason
    rejection = second.client.post(f"/signalements/{rejected}/actions", data={
        "to": "rejected", "reason": "Doublon de CM-2026-00001", "confirm": "1",
        "etag": re.search(r'name="etag" value=\'("\d+")\'', pages[rejected]).group(1),
        "csrf_token": csrf_token(pages[rejected])})
    for response, rid, done, status, typed in (
            (question, asked, "Question posée", "question posée", "Depuis quand ?"),
            (rejection, rejected, "Rejeté", "rejeté", "Doublon de CM-2026-00001")):
        assert response.status_code == 409
        page = response.get_data(as_text=True)
        ((category, message),) = _flashes(page)
        assert category == "error" and message.startswith(f"Déjà fait entre-temps par {who}, le "), message
        assert f"(« {done} ») : le signalement {_reference(db, rid)} est maintenant {status}." in message
        kept = re.search(r'<textarea id="not-sent-text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
        assert html_module.unescape(kept) == typed
        assert 'id="not-sent-hint"' not in page  # the referent does not edit reports
    assert _events(db, asked)[1:] == [("ask", "Quelle rue ?")]
    assert _events(db, rejected)[1:] == [("reject", "Hors territoire")]


def test_a_text_for_a_move_no_longer_possible_is_shown_back(app, db, client, representative,
                                                           referent) -> None:  # noqa: ANN001
    """The referent rejected while the clerk typed her answer: the page says it changed, and
    her answer is shown back (no answer form is left to hold it)."""
    rid = _report(representative)
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "needs_info", "reason": "Quelle rue ?"}).status_code == 200
    representative.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "rejected", "reason": "Hors territoire"}).status_code == 200
    answer = client.post(f"/signalements/{rid}/actions", data={"to": "submitted", "reason": "Rue Neuve",
                                                               "csrf_token": csrf_token(page)})
    assert answer.status_code == 409
    kept = re.search(r'<textarea id="not-sent-text"[^>]*>(.*?)</textarea>', answer.get_data(as_text=True), re.S)
    assert html_module.unescape(kept.group(1)) == "Rue Neuve"
    assert [a for a, _ in _events(db, rid)] == ["create", "ask", "reject"]


# --------------------------------------------------------------------------- fault 2: what the person changed

def test_an_edit_conflict_lists_only_what_the_person_changed(app, db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, households_affected=35, operators=["Orange", "Proximus"],
                  description="Hameau de Leers-et-Fosteau : aucun réseau mobile.")
    clerk = _colleague(app, db, "greffe@charleroi.be", "representative", CHARLEROI)
    representative.login()
    mayor_form = MultiDict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                        "/modifier"))
    clerk_form = MultiDict(browser_form(clerk.client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                        "/modifier"))
    assert clerk_form["households_affected"] == "35"
    # the mayor: households 35 → 40 and the description
    mayor_form["households_affected"] = "40"
    mayor_form["description"] = "Hameau de Leers-et-Fosteau : 40 ménages selon le recensement communal."
    assert client.post(f"/signalements/{rid}/modifier", data=mayor_form).status_code == 302
    # the clerk, whose form still says 35: Telenet/BASE ticked and the description
    clerk_form.add("operators", "Telenet/BASE")
    clerk_form["description"] = "Leers-et-Fosteau: ook geen Telenet/BASE (controle door de griffie)."
    clerk_form["observed_at"] = "14/03/2025"  # said as typed (it was said « 2025-03-14 »)
    stale = clerk.client.post(f"/signalements/{rid}/modifier", data=clerk_form)
    assert stale.status_code == 412
    page = stale.get_data(as_text=True)
    not_saved = re.search(r'<dl class="not-saved" id="not-saved">(.*?)</dl>', page, re.S).group(1)
    assert re.findall(r'<div data-name="(\w+)"><dt>([^<]+)</dt><dd class="text">([^<]+)</dd>', not_saved) == [
        ("operators", "Opérateurs", "Orange, Proximus, Telenet/BASE"),
        ("description", "Description", "Leers-et-Fosteau: ook geen Telenet/BASE (controle door de griffie)."),
        ("observed_at", "Date d&#39;observation", "14/03/2025")]
    # the form shows the mayor's 40, and says who saved it
    assert re.search(r'<input[^>]*name="households_affected"[^>]*value="40"', page)
    assert re.fullmatch(f"Version actuelle enregistrée par {re.escape(MAYOR)}, le {WHEN}.",
                        _plain(re.search(r'<p id="changed-by">(.*?)</p>', page, re.S).group(1)))
    row = db.execute(text("SELECT households_affected, operators, description FROM reports WHERE id = :r"),
                     {"r": rid}).one()
    assert (row.households_affected, row.description) == (
        40, "Hameau de Leers-et-Fosteau : 40 ménages selon le recensement communal.")
    assert sorted(row.operators) == ["Orange", "Proximus"]
    # a refused value keeps the version the form started from: the next save is still told of the change
    fresh = MultiDict(browser_form(page, "/modifier"))
    assert clerk.client.post(f"/signalements/{rid}/modifier", data=MultiDict(
        {**fresh.to_dict(flat=False), "households_affected": ["-3"]})).status_code == 422
    assert db.scalar(text("SELECT households_affected FROM reports WHERE id = :r"), {"r": rid}) == 40


def test_a_value_refused_after_a_colleague_saved_keeps_the_conflict(app, db, client, representative) -> None:  # noqa: ANN001
    """A refused value used to show the form again with the current version's tag: the next
    save then silently undid the colleague's change."""
    rid = _report(representative, households_affected=35)
    clerk = _colleague(app, db, "greffe@charleroi.be", "representative", CHARLEROI)
    representative.login()
    mayor_form = MultiDict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                        "/modifier"))
    clerk_form = MultiDict(browser_form(clerk.client.get(f"/signalements/{rid}/modifier").get_data(as_text=True),
                                        "/modifier"))
    mayor_form["households_affected"] = "40"
    assert client.post(f"/signalements/{rid}/modifier", data=mayor_form).status_code == 302
    clerk_form["businesses_affected"] = "-1"
    refused = clerk.client.post(f"/signalements/{rid}/modifier", data=clerk_form)
    assert refused.status_code == 422
    again = MultiDict(browser_form(refused.get_data(as_text=True), "/modifier"))
    assert again["households_affected"] == "35"  # what she had (as typed), not yet the mayor's
    again["businesses_affected"] = "2"
    stale = clerk.client.post(f"/signalements/{rid}/modifier", data=again)
    assert stale.status_code == 412
    not_saved = re.findall(r'<div data-name="(\w+)">', stale.get_data(as_text=True))
    assert not_saved == ["businesses_affected"]
    assert db.execute(text("SELECT households_affected, businesses_affected FROM reports WHERE id = :r"),
                      {"r": rid}).one() == (40, None)


# --------------------------------------------------------------------------- fault 4: withdrawn meanwhile

def test_an_edit_saved_after_a_colleague_withdrew_says_so_and_keeps_what_was_typed(app, db, client,
                                                                                   representative) -> None:  # noqa: ANN001
    rid = _report(representative, households_affected=12, description="Ragnies")
    clerk = _colleague(app, db, "greffe@charleroi.be", "representative", CHARLEROI)
    representative.login()
    form = MultiDict(browser_form(client.get(f"/signalements/{rid}/modifier").get_data(as_text=True), "/modifier"))
    form["households_affected"] = "15"
    form["description"] = "Ragnies, place du village : plus de signal depuis novembre. 15 ménages."
    # the clerk withdraws from the report's page (confirmed)
    page = clerk.client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert clerk.client.post(f"/signalements/{rid}/actions", data={
        "to": "withdrawn", "confirm": "1", "csrf_token": csrf_token(page)}).status_code == 302
    answer = client.post(f"/signalements/{rid}/modifier", data=form)
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    reference = _reference(db, rid)
    assert re.fullmatch(
        f"Le signalement {reference} est maintenant « Retiré » : changement fait par greffe@charleroi.be "
        f"\\(Représentant·e communal·e\\), le {WHEN}. Dans ce statut, sa forme et ses informations ne peuvent "
        "plus être modifiées.", _plain(re.search(r'<p id="what-happened">(.*?)</p>', page, re.S).group(1)).strip())
    not_saved = re.search(r'<dl class="not-saved" id="not-saved">(.*?)</dl>', page, re.S).group(1)
    assert re.findall(r'<div data-name="(\w+)"><dt>([^<]+)</dt><dd class="text">([^<]+)</dd>', not_saved) == [
        ("households_affected", "Ménages touchés", "15"),
        ("description", "Description", "Ragnies, place du village : plus de signal depuis novembre. 15 ménages.")]
    assert re.search(f'<a class="button" id="report-link" href="/signalements/{rid}">Ouvrir le signalement '
                     f'{reference}</a>', page)
    assert f'id="copy-link" href="/carte?copie={rid}"' in page
    assert "Retour à l&#39;accueil" not in page and ' name="description"' not in page  # no form to fill in vain
    assert db.execute(text("SELECT status, households_affected, description FROM reports WHERE id = :r"),
                      {"r": rid}).one() == ("withdrawn", 12, "Ragnies")
    assert [a for a, _ in _events(db, rid)] == ["create", "withdraw"]
    # the edit page opened afterwards says the same, with nothing typed to show
    opened = client.get(f"/signalements/{rid}/modifier")
    assert opened.status_code == 409
    assert 'id="what-happened"' in opened.get_data(as_text=True) and 'id="not-saved"' not in opened.get_data(
        as_text=True)
