"""A report's page, its actions (with confirmation for withdraw and reject) and its edit page,
through the signed-in session and the forms' CSRF tokens."""

from __future__ import annotations

import html
import json
import re
import uuid
from html import unescape

from sqlalchemy import text

from tests.conftest import CHARLEROI, configured, csrf_token, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

X, Y = CHARLEROI_LAMBERT72


def _report(account, **props) -> str:  # noqa: ANN001, ANN003
    body = feature(to_geojson_4326(square_lambert(X, Y, 200.0)), description="Rue de l'Église {{ 7*7 }}", **props)
    response = account.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _status(db, rid: str) -> str:  # noqa: ANN001
    return db.execute(text("SELECT status FROM reports WHERE id = :r"), {"r": rid}).scalar()


def _buttons(html: str) -> list[str]:
    return re.findall(r'class="action-form" data-action="([a-z_]+)"', html)


def test_the_page_shows_reference_status_history_and_exactly_the_allowed_actions(db, client, representative,  # noqa: ANN001
                                                                                 referent) -> None:
    rid = _report(representative)
    reference = db.execute(text("SELECT reference FROM reports WHERE id = :r"), {"r": rid}).scalar()
    assert re.fullmatch(r"CM-20\d\d-\d{5}", reference)
    representative.login()
    html = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert reference in html and 'class="badge status-submitted"' in html
    assert "Rue de l&#39;Église {{ 7*7 }}" in html  # escaped, not evaluated
    assert _buttons(html) == ["withdraw"]
    assert f"/signalements/{rid}/modifier" in html
    assert 'data-action="create"' in html
    # the list links the page
    assert f'href="/signalements/{rid}"' in client.get("/signalements").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    referent.login()
    html = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert _buttons(html) == ["validate", "reject", "ask"]
    assert f"/signalements/{rid}/modifier" not in html
    assert client.get(f"/signalements/{rid}/modifier").status_code == 403


def test_reject_asks_for_a_reason_then_a_confirmation(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    referent.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    token = csrf_token(page)
    missing = client.post(f"/signalements/{rid}/actions", data={"to": "rejected", "csrf_token": token})
    assert missing.status_code == 422 and "motif" in missing.get_data(as_text=True).lower()
    assert _status(db, rid) == "submitted"
    confirm = client.post(f"/signalements/{rid}/actions",
                          data={"to": "rejected", "reason": "Hors territoire", "csrf_token": token})
    assert confirm.status_code == 200 and 'id="confirm-button"' in confirm.get_data(as_text=True)
    assert _status(db, rid) == "submitted"  # nothing yet
    done = client.post(f"/signalements/{rid}/actions", data={"to": "rejected", "reason": "Hors territoire",
                                                             "confirm": "1", "csrf_token": token})
    assert done.status_code == 302 and _status(db, rid) == "rejected"
    html = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert "Hors territoire" in html and _buttons(html) == []


def test_question_and_answer_make_a_thread(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "needs_info", "reason": "Quelle rue ?"})
    representative.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert _buttons(page) == ["answer", "withdraw"]
    response = client.post(f"/signalements/{rid}/actions", data={"to": "submitted", "reason": "Rue Neuve",
                                                                 "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and _status(db, rid) == "submitted"
    html = client.get(f"/signalements/{rid}").get_data(as_text=True)
    reference = db.scalar(text("SELECT reference FROM reports WHERE id = :id"), {"id": rid})
    # she is told where her answer went (it read "Signalement … : soumis.")
    assert f"Réponse envoyée au référent : le signalement {reference} est de nouveau soumis." in html
    thread = html[html.index('id="thread"'):html.index('id="history"')]
    assert thread.index("Quelle rue ?") < thread.index("Rue Neuve")
    assert "referent@igretec.com" in thread  # the referent's name is shown to the commune


def test_withdraw_is_confirmed_and_a_stale_page_changes_nothing(db, client, representative, referent) -> None:  # noqa: ANN001
    rid = _report(representative)
    representative.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    etag = re.search(r'name="etag" value=\'("\d+")\'', page).group(1)
    # meanwhile the referent validates
    referent.post(f"/api/v1/reports/{rid}/transitions", json={"to": "validated"})
    stale = client.post(f"/signalements/{rid}/actions", data={"to": "withdrawn", "confirm": "1", "etag": etag,
                                                              "csrf_token": csrf_token(page)})
    assert stale.status_code == 412 and _status(db, rid) == "validated"
    fresh = stale.get_data(as_text=True)
    # the confirmation says what a withdrawn report can still become (trial: life 9, it said
    # « never submitted again », then its page offered to file it again)
    confirm = client.post(f"/signalements/{rid}/actions", data={"to": "withdrawn", "csrf_token": csrf_token(fresh)})
    assert confirm.status_code == 200
    assert ("ne peut plus être modifié ni soumis à nouveau tel quel ; depuis sa page, vous pourrez en faire une "
            "copie à corriger et à envoyer comme nouveau signalement.") in unescape(confirm.get_data(as_text=True))
    done = client.post(f"/signalements/{rid}/actions", data={"to": "withdrawn", "confirm": "1",
                                                             "csrf_token": csrf_token(fresh)})
    assert done.status_code == 302 and _status(db, rid) == "withdrawn"
    assert 'id="copy-link"' in client.get(f"/signalements/{rid}").get_data(as_text=True)


def test_a_move_the_page_offered_refused_because_the_report_moved_on_says_it_changed(db, client, representative,  # noqa: ANN001
                                                                                     referent) -> None:
    """The referent's page read while the report was submitted; the commune withdrew it; her
    « Valider » said « Action refusée : … » (409) where a stale page whose move is still
    possible says the report changed meanwhile (412): now both say so, nothing moved."""
    rid = representative.post("/api/v1/reports", json=feature(
        to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200.0)))).get_json()["id"]
    referent.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    etag = re.search(r'name="etag" value=\'("\d+")\'', page).group(1)
    assert representative.post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    answer = client.post(f"/signalements/{rid}/actions", data={"to": "validated", "etag": etag,
                                                               "csrf_token": csrf_token(page)})
    body = unescape(answer.get_data(as_text=True))
    assert answer.status_code == 412
    assert "Ce signalement a changé entre-temps : voici son état actuel. Rien n'a été modifié." in body
    assert "Action refusée" not in body and _status(db, rid) == "withdrawn"


def test_the_edit_page_saves_and_a_stale_form_keeps_the_other_change(db, client, representative) -> None:  # noqa: ANN001
    rid = _report(representative, households_affected=2)
    representative.login()
    page = client.get(f"/signalements/{rid}/modifier").get_data(as_text=True)
    assert 'name="etag"' in page and 'id="report-map"' in page and 'data-editable="1"' in page
    etag = re.search(r'name="etag" id="etag" value="([^"]+)"', page).group(1).replace("&#34;", '"')
    form = {"csrf_token": csrf_token(page), "etag": etag, "network": "mobile", "technologies": ["4G"],
            "operators": ["Proximus"], "description": "Version du formulaire", "households_affected": "2",
            "geometry": ""}
    # a colleague saves first
    colleague = make_account(client, db, "agent@charleroi.be", "representative", CHARLEROI)
    assert colleague.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "Version du collègue"}},
                           headers={"If-Match": etag}).status_code == 200
    stale = client.post(f"/signalements/{rid}/modifier", data=form)
    assert stale.status_code == 412
    html = stale.get_data(as_text=True)
    assert 'id="stale-warning"' in html and "Version du collègue" in html
    # what was typed and differs from the version saved meanwhile is said, not lost (the rest is as saved)
    not_saved = re.search(r'<dl class="not-saved" id="not-saved">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r'<div data-name="(\w+)"><dt>([^<]+)</dt><dd class="text">([^<]+)</dd>', not_saved) == [
        ("description", "Description", "Version du formulaire")]
    assert db.execute(text("SELECT description FROM reports WHERE id = :r"), {"r": rid}).scalar() == \
        "Version du collègue"
    # saved again from the fresh form: a moved square
    form["etag"] = re.search(r'name="etag" id="etag" value="([^"]+)"', html).group(1).replace("&#34;", '"')
    form["csrf_token"] = csrf_token(html)
    form["geometry"] = __import__("json").dumps(to_geojson_4326(square_lambert(X + 50, Y, 200.0)))
    saved = client.post(f"/signalements/{rid}/modifier", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    row = db.execute(text("SELECT description, households_affected, "
                          "ST_X(ST_Centroid(ST_Transform(geometry, 31370))) AS x FROM reports WHERE id = :r"),
                     {"r": rid}).one()
    assert row.description == "Version du formulaire" and row.households_affected == 2
    assert abs(row.x - (X + 50 + 100)) < 0.5  # square_lambert starts at its corner: centre + 100 m
    # a refused value shows the form again with the reason, nothing stored
    form["etag"] = client.get(f"/api/v1/reports/{rid}").headers["ETag"]
    form["households_affected"] = "-3"
    refused = client.post(f"/signalements/{rid}/modifier", data=form)
    assert refused.status_code == 422 and "aria-invalid" in refused.get_data(as_text=True)


def test_a_rejected_report_can_be_filed_anew_from_a_copy(db, client, representative, referent) -> None:  # noqa: ANN001
    """A user's trial: the representative whose report was rejected ("join a speed test") had
    no action left. She files it anew from a copy: the map form comes filled with its shape
    and information; the new report is a new one, the rejected one stays as it is."""
    rid = _report(representative, households_affected=12, operators=["Orange"])
    referent.login()
    token = csrf_token(client.get(f"/signalements/{rid}").get_data(as_text=True))
    assert client.post(f"/signalements/{rid}/actions", data={"to": "rejected", "reason": "Joignez un test de débit",
                                                             "confirm": "1", "csrf_token": token}).status_code == 302
    assert client.get(f"/carte?copie={rid}").status_code == 403  # the referent files no report
    representative.login()
    html = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert f'id="copy-link" href="/carte?copie={rid}"' in html and 'id="no-action"' not in html
    page = client.get(f"/carte?copie={rid}")
    html = page.get_data(as_text=True)
    reference = db.execute(text("SELECT reference FROM reports WHERE id = :r"), {"r": rid}).scalar()
    assert page.status_code == 200 and f"Nouveau signalement copié de {reference} (rejeté)" in html
    from tests.test_form_refusals import browser_form

    fields = browser_form(html, "/carte")
    sent = dict(fields)
    stored = client.get(f"/api/v1/reports/{rid}").get_json()
    assert json.loads(sent["geometry"]) == stored["geometry"]
    assert (sent["households_affected"], sent["description"]) == ("12", "Rue de l'Église {{ 7*7 }}")
    assert [v for k, v in fields if k == "operators"] == ["Orange"]
    before = db.execute(text("SELECT count(*) FROM reports")).scalar()
    from werkzeug.datastructures import MultiDict

    done = client.post("/carte", data=MultiDict([*[(k, v) for k, v in fields if k != "households_affected"],
                                                 ("households_affected", "14")]))
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    assert db.execute(text("SELECT count(*) FROM reports")).scalar() == before + 1
    new = db.execute(text("SELECT id::text, households_affected, status FROM reports ORDER BY created_at DESC, "
                          "reference DESC LIMIT 1")).one()
    assert new.id != rid and (new.households_affected, new.status) == (14, "submitted")
    assert _status(db, rid) == "rejected"
    # the new report names its original, and the original the new one (a trial: a re-filed
    # copy said nothing of where it came from; the referent saw an unrelated new report)
    assert ("copie", rid) in fields
    new_reference = db.execute(text("SELECT reference FROM reports WHERE id = :r"), {"r": new.id}).scalar()
    events = db.execute(text("SELECT action, report_id::text, details FROM audit_events WHERE report_id IN (:a, :b) "
                             "AND action IN ('create', 'copy') ORDER BY id"), {"a": rid, "b": new.id}).all()
    assert [tuple(e) for e in events[-2:]] == [
        ("create", new.id, {"copied_from": rid, "copied_reference": reference}),
        ("copy", rid, {"copy_id": new.id, "copy_reference": new_reference})]
    new_page = client.get(f"/signalements/{new.id}").get_data(as_text=True)
    assert f'copie de <a href="/signalements/{rid}">{reference}</a>' in new_page
    old_page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert f'<strong>Signalé à nouveau</strong> : <a href="/signalements/{new.id}">{new_reference}</a>' in old_page
    # the copy is named above the button before anybody files it again, and on the map a
    # second copy opens with a warning naming it (trial: life 8, the other representative
    # filed a duplicate)
    assert re.search(r'id="copies">Déjà signalé à nouveau :\s*<a href="/signalements/' + new.id + '">'
                     + new_reference + r"</a>\.", old_page)
    assert 'class="button secondary" id="copy-link"' in old_page
    again = client.get(f"/carte?copie={rid}").get_data(as_text=True)
    assert (f"Attention : {reference} a déjà été signalé à nouveau ({new_reference}). Vérifiez que ce nouveau "
            "signalement n&#39;en fait pas double.") in again
    history = client.get(f"/api/v1/reports/{new.id}/history").get_json()["history"]
    assert history[0]["details"] == {"copied_from": rid, "copied_reference": reference}
    # a copy refused (here: no network) keeps naming its original in the form shown again
    refused = client.post("/carte", data=MultiDict([*[(k, v) for k, v in fields if k not in ("network", "idempotency_key")],
                                                    ("idempotency_key", str(uuid.uuid4()))]))
    assert refused.status_code == 422 and f'name="copie" value="{rid}"' in refused.get_data(as_text=True)
    # a report still open is not copied (it is edited), nor another commune's (not even read)
    open_rid = _report(representative)
    assert client.get(f"/carte?copie={open_rid}").status_code == 403
    # nor named as the original by a form sent by hand
    before = db.execute(text("SELECT count(*) FROM reports")).scalar()
    forged = client.post("/carte", data=MultiDict([*[(k, v) for k, v in fields if k not in ("copie", "idempotency_key")],
                                                   ("copie", open_rid), ("idempotency_key", str(uuid.uuid4()))]))
    assert forged.status_code == 403 and db.execute(text("SELECT count(*) FROM reports")).scalar() == before
    other = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    other.login()
    assert client.get(f"/carte?copie={rid}").status_code == 404


def test_a_copy_filed_in_another_commune_is_not_named_to_the_first(db, client, representative, admin) -> None:  # noqa: ANN001
    """An admin filed anew a withdrawn Charleroi report as a report of Châtelet: the Charleroi
    page and history named the copy's id and reference (a Châtelet report), and the copy's
    history its original to Châtelet."""
    from sqlalchemy import select

    from geosignal.geo import LAMBERT72, WGS84, reproject
    from geosignal.models import User
    from geosignal.services import reports as reports_service
    from geosignal.services.intake import ReportInput

    rid = representative.post("/api/v1/reports", json=feature(
        to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200.0)))).get_json()["id"]
    assert representative.post(f"/api/v1/reports/{rid}/transitions", json={"to": "withdrawn"}).status_code == 200
    reference = db.execute(text("SELECT reference FROM reports WHERE id = :r"), {"r": rid}).scalar()
    x, y = db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(boundary), 31370) p "
                           "FROM communes WHERE nis_code = '52012') q")).one()
    chatelet = reproject(square_lambert(x, y, 200.0), LAMBERT72, WGS84)
    staff = db.scalar(select(User).where(User.email == admin.email))
    copy, _ = reports_service.create_report(db, staff, ReportInput(chatelet, {"network": "mobile"}),
                                            copied_from=(uuid.UUID(rid), reference))
    db.commit()
    assert copy["properties"]["commune_nis"] == "52012"
    history = representative.get(f"/api/v1/reports/{rid}/history").get_json()["history"]
    (event,) = [e for e in history if e["action"] == "copy"]
    assert "copy_id" not in event.get("details", {}) and "copy_reference" not in event.get("details", {})
    representative.login()
    page = client.get(f"/signalements/{rid}").get_data(as_text=True)
    assert copy["id"] not in page and copy["properties"]["reference"] not in page
    assert admin.get(f"/api/v1/reports/{rid}/history").get_json()["history"][-1]["details"]["copy_id"] == copy["id"]
    chatelet_rep = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    (created,) = [e for e in chatelet_rep.get(f"/api/v1/reports/{copy['id']}/history").get_json()["history"]
                  if e["action"] == "create"]
    assert "copied_from" not in created.get("details", {}) and "copied_reference" not in created.get("details", {})


def test_the_reports_page_lists_every_report_newest_first_a_page_at_a_time(db, representative) -> None:  # noqa: ANN001
    """205 reports of Charleroi (3 withdrawn), 100 a page, newest first: the newest are on the
    first page (the page listed the oldest 500, newest first, and said « l'API donne la suite »:
    a commune with more never saw its new reports), « Signalements plus anciens » leads to all
    the others, withdrawn ones hidden and counted unless asked."""
    db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, description)
        SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(4.40 + (k % 15) * 0.004, 50.39 + (k / 15) * 0.003), 4326),
               '52011', 'mobile', 'Liste ' || k
        FROM generate_series(1, 205) k ORDER BY k"""))
    db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE description IN ('Liste 205', 'Liste 100', 'Liste 1')"))
    db.commit()
    representative.login()
    client = representative.client

    def listed(url: str) -> tuple[list[int], str | None, str | None, str]:
        page = client.get(url).get_data(as_text=True)
        numbers = [int(n) for n in re.findall(r'<td data-label="Description" class="text">Liste (\d+)</td>', page)]
        older = re.search(r'<a class="button secondary" rel="next" href="([^"]+)">Signalements plus anciens</a>', page)
        newest = re.search(r'<a class="button secondary" href="([^"]+)">Signalements les plus récents</a>', page)
        return numbers, older and html.unescape(older.group(1)), newest and html.unescape(newest.group(1)), page

    first, older, newest, page = listed("/signalements")
    assert first == list(range(204, 104, -1)) and newest is None
    assert "Afficher les signalements retirés (3)" in page
    second, older, newest, _html = listed(older)
    third, last, newest, _html = listed(older)
    assert (second[0], len(second), third, last, newest) == (first[-1] - 1, 100, [3, 2], None, "/signalements")
    assert sorted(first + second + third) == [k for k in range(1, 206) if k not in (1, 100, 205)]
    everything, pages = [], "/signalements?retires=1"
    while pages:
        numbers, pages, _newest, _html = listed(pages)
        everything += numbers
    assert everything == list(range(205, 0, -1))
    assert client.get("/signalements?avant=pas-un-curseur").status_code == 400


def test_the_confirmation_page_puts_the_languages_colon_after_the_reason_label(db, client, representative,  # noqa: ANN001
                                                                                referent) -> None:
    """A trial: Dutch and English pages said « Reden : … » (French spacing, hard-coded)."""
    rid = _report(representative)
    referent.login()
    token = csrf_token(client.get(f"/signalements/{rid}").get_data(as_text=True))
    said = {}
    for lang in ("fr", "nl", "en"):
        client.set_cookie("geosignal_lang", lang)
        page = client.post(f"/signalements/{rid}/actions", data={"to": "rejected", "reason": "Hors territoire",
                                                                 "csrf_token": token}).get_data(as_text=True)
        said[lang] = re.search(r"<p>([^<]*)<span class=\"text\">Hors territoire</span>", page).group(1)
    assert said == {"fr": "Motif : ", "nl": "Reden: ", "en": "Reason: "}


def _invalid_fields_are_told_why(html: str) -> list[str]:
    """The ``aria-invalid`` fields of ``html``: each must name, in ``aria-describedby``, ids the
    page holds (returns the describedby values; fails on a field without one)."""
    tags = re.findall(r"<(?:input|select|textarea)\b[^>]*aria-invalid=\"true\"[^>]*>", html)
    assert tags, "no refused field"
    said = []
    for tag in tags:
        described = re.search(r'aria-describedby="([^"]+)"', tag)
        assert described, tag
        for ref in described.group(1).split():
            assert f'id="{ref}"' in html, (ref, tag)
        said.append(described.group(1))
    return said


def test_a_refused_field_is_tied_to_the_sentence_saying_why(db, client, representative, referent) -> None:  # noqa: ANN001
    """The reason box of a refused rejection, the current password of the password and token
    pages, the e-mail of « mot de passe oublié » were marked invalid without naming their
    message: a screen reader back on the field heard « invalid », not why."""
    rid = _report(representative)
    referent.login()
    token = csrf_token(client.get(f"/signalements/{rid}").get_data(as_text=True))
    refused = client.post(f"/signalements/{rid}/actions", data={"to": "rejected", "csrf_token": token})
    assert refused.status_code == 422
    assert _invalid_fields_are_told_why(refused.get_data(as_text=True)) == ["flashes"]
    token = csrf_token(client.get("/compte/mot-de-passe").get_data(as_text=True))
    wrong = client.post("/compte/mot-de-passe", data={"current_password": "nope", "password": "grenier mouette tricot "
                                                      "ardoise", "csrf_token": token})
    assert _invalid_fields_are_told_why(wrong.get_data(as_text=True)) == ["password-error"]
    token = csrf_token(client.get("/compte/jetons").get_data(as_text=True))
    tokens = client.post("/compte/jetons", data={"name": "QGIS", "current_password": "nope", "csrf_token": token})
    assert _invalid_fields_are_told_why(tokens.get_data(as_text=True)) == ["token-error"]
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/compte").get_data(as_text=True))})
    token = csrf_token(client.get("/compte/mot-de-passe-oublie").get_data(as_text=True))
    with configured(client.application, SMTP_HOST="127.0.0.1", SMTP_PORT=1):
        forgot = client.post("/compte/mot-de-passe-oublie", data={"email": " ", "csrf_token": token})
    assert _invalid_fields_are_told_why(forgot.get_data(as_text=True)) == ["flashes"]
