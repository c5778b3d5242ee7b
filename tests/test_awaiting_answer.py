"""A question of the referent waits where the representative works: her list of reports and
her map say how many reports wait for her answer, each linked to its page; nobody else is
told, and nothing is said once she has answered. Through the pages, against PostGIS."""

from __future__ import annotations

import json
import re
import uuid

from shapely.geometry import Point
from sqlalchemy import update

from geosignal.models import Report, User
from geosignal.services import reports as reports_service
from tests.factories import CHARLEROI_LAMBERT72, to_geojson_4326

X0, Y0 = CHARLEROI_LAMBERT72


def _post(account, k: int) -> str:  # noqa: ANN001
    feature = {"type": "Feature", "geometry": to_geojson_4326(Point(X0 + 200 * k, Y0)),
               "properties": {"network": "mobile", "description": f"rue {k}"}}
    response = account.post("/api/v1/reports", data=json.dumps(feature), content_type="application/geo+json")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_the_representative_is_told_which_reports_wait_for_her_answer(db, client, representative, referent) -> None:  # noqa: ANN001
    ids = [_post(representative, k) for k in range(3)]
    representative.login()
    assert 'id="awaiting-answer"' not in client.get("/signalements").get_data(as_text=True)
    asked = ids[:2]
    db.execute(update(Report).where(Report.id.in_([uuid.UUID(i) for i in asked])).values(status="needs_info"))
    db.commit()
    references = {str(r.id): r.reference for r in db.query(Report).all()}
    for path in ("/signalements", "/carte"):
        html = client.get(path).get_data(as_text=True)
        notice = re.search(r'<p class="flash notice awaiting" id="awaiting-answer" role="status">(.*?)</p>', html, re.S)
        assert notice, path
        text = " ".join(re.sub(r"<[^>]+>", "", notice.group(1)).split())
        assert text == ("Le référent vous pose une question sur 2 signalements : répondez depuis leur page. "
                        f"{references[asked[0]]}, {references[asked[1]]}")
        assert all(f'href="/signalements/{i}"' in notice.group(1) for i in asked)
    user = db.query(User).filter_by(email=representative.email).one()
    assert reports_service.awaiting_answer(db, user) == (2, [(i, references[i]) for i in asked])
    # the referent reads every commune's list: she asked, she is not told to answer
    client.post("/logout", headers=representative.headers)
    referent.login()
    assert 'id="awaiting-answer"' not in client.get("/signalements").get_data(as_text=True)


def _move(account, rid: str, to: str, reason: str) -> None:  # noqa: ANN001
    response = account.post(f"/api/v1/reports/{rid}/transitions", data=json.dumps({"to": to, "reason": reason}),
                            content_type="application/json")
    assert response.status_code == 200, response.get_json()


def _decision(html: str) -> str | None:
    box = re.search(r'<div class="flash notice decision" id="decision" role="note">(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", box.group(1)).split()) if box else None


def test_the_question_or_the_reason_is_at_the_top_of_the_report_page(db, client, representative, referent) -> None:  # noqa: ANN001
    asked, rejected, plain = (_post(representative, k) for k in range(3))
    _move(referent, asked, "needs_info", "Quelle rue exactement ?\nEt à quelle heure ?")
    _move(referent, rejected, "rejected", "Zone couverte en 4G selon notre mesure.")
    representative.login()
    question = _decision(client.get(f"/signalements/{asked}").get_data(as_text=True))
    assert question is not None and question.startswith("Question du référent · ")
    assert question.endswith("Quelle rue exactement ? Et à quelle heure ? Répondre")  # and the way to answer
    reason = _decision(client.get(f"/signalements/{rejected}").get_data(as_text=True))
    assert reason is not None and reason.startswith("Motif du rejet · ")
    assert reason.endswith("Zone couverte en 4G selon notre mesure.")  # nothing to answer
    assert _decision(client.get(f"/signalements/{plain}").get_data(as_text=True)) is None
    # in Dutch
    client.set_cookie("geosignal_lang", "nl")
    dutch = _decision(client.get(f"/signalements/{rejected}").get_data(as_text=True))
    assert dutch is not None and dutch.startswith("Reden van de afwijzing · ")


def test_the_representatives_list_tells_the_referents_recent_decisions(db, client, representative, referent) -> None:  # noqa: ANN001
    """Her list says what the referent decided lately on her commune's reports, each with its
    reason and linked (she learnt it only by opening each report); a decision undone since, an
    old one, and other communes' are not said; the referent is not told her own."""
    ids = [_post(representative, k) for k in range(4)]
    _move(referent, ids[0], "rejected", "Doublon du signalement de la rue 3")
    _move(referent, ids[1], "validated", "")
    _move(referent, ids[2], "needs_info", "Quel opérateur ?")  # a question: said apart
    _move(referent, ids[3], "validated", "")
    db.execute(update(Report).where(Report.id == uuid.UUID(ids[3])).values(status="submitted"))  # undone since
    db.commit()
    references = {str(r.id): r.reference for r in db.query(Report).all()}
    user = db.query(User).filter_by(email=representative.email).one()
    count, items = reports_service.recent_decisions(db, user)
    assert count == 2 and [(d["id"], d["status"], d["reason"]) for d in items] == [
        (ids[1], "validated", None), (ids[0], "rejected", "Doublon du signalement de la rue 3")]
    representative.login()
    html = client.get("/signalements").get_data(as_text=True)
    box = re.search(r'<section class="flash notice decisions" id="recent-decisions"[^>]*>(.*?)</section>', html, re.S)
    assert box
    text = " ".join(re.sub(r"<[^>]+>", " ", box.group(1)).split())
    assert text.startswith("Décisions du référent ces 14 derniers jours")
    assert re.fullmatch(rf"Décisions du référent ces 14 derniers jours {references[ids[1]]} : Validé \(.+?\) "
                        rf"{references[ids[0]]} : Rejeté \(.+?\) Doublon du signalement de la rue 3", text), text
    assert all(f'href="/signalements/{i}"' in box.group(1) for i in ids[:2])
    client.post("/logout", headers=representative.headers)
    referent.login()
    assert 'id="recent-decisions"' not in client.get("/signalements").get_data(as_text=True)
    assert reports_service.recent_decisions(db, db.query(User).filter_by(email=referent.email).one()) == (0, [])


def test_the_latest_three_decisions_are_shown_and_the_others_folded(db, client, representative, referent) -> None:  # noqa: ANN001
    """A user's trial: twenty decisions pushed a phone's list of reports 1,700 px down. The
    latest three are shown, the others one tap away."""
    ids = [_post(representative, k) for k in range(5)]
    for rid in ids:
        _move(referent, rid, "validated", "")
    representative.login()
    html = client.get("/signalements").get_data(as_text=True)
    box = re.search(r'<section class="flash notice decisions" id="recent-decisions"[^>]*>(.*?)</section>', html, re.S)
    shown, folded = box.group(1).split('<details class="more-decisions">')
    assert shown.count("<li ") == 3 and folded.count("<li ") == 2
    assert "<summary>Voir les 2 autres décisions</summary>" in folded
    newest_first = [rid for rid in reversed(ids)]
    assert [re.search(r'href="/signalements/([^"]+)"', li).group(1) for li in shown.split("<li ")[1:]] == newest_first[:3]


def test_a_decision_is_told_to_the_commune_that_holds_the_report_now(db, client, admin, referent, tmp_path) -> None:  # noqa: ANN001
    # a communes load moved the report to the neighbour: the commune it left still read the
    # referent's reason on its list (the journal's commune at the time), a report it can no
    # longer open; the commune that holds it now was not told
    from shapely.geometry import box

    from geosignal.services.communes import load_communes
    from tests.conftest import COMMUNES_FILE, csrf_token, make_account
    from tests.factories import border_point, communes_file_with_border_moved, feature

    x, y = border_point(db)
    created = admin.post("/api/v1/reports", json=feature(to_geojson_4326(box(x - 60, y - 60, x + 60, y + 60))))
    assert created.status_code == 201, created.get_json()
    rid, home = created.get_json()["id"], created.get_json()["properties"]["commune_nis"]
    other = "52012" if home == "52011" else "52011"
    assert referent.post(f"/api/v1/reports/{rid}/transitions",
                         json={"to": "rejected", "reason": "Hors de notre ressort"}).status_code == 200
    load_communes(db, communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                                      box(x - 400, y - 400, x + 400, y + 400), other))
    db.commit()
    left, holder = (make_account(client, db, f"{name}@commune.be", "representative", nis)
                    for name, nis in (("left", home), ("holder", other)))
    assert (left.get(f"/api/v1/reports/{rid}").status_code, holder.get(f"/api/v1/reports/{rid}").status_code) == (
        404, 200)
    for account, told in ((left, []), (holder, [(rid, "rejected", "Hors de notre ressort")])):
        user = db.query(User).filter_by(email=account.email).one()
        count, items = reports_service.recent_decisions(db, user)
        assert (count, [(i["id"], i["status"], i["reason"]) for i in items]) == (len(told), told)
        account.login()
        page = client.get("/signalements").get_data(as_text=True)
        assert ("Hors de notre ressort" in page) == bool(told)
        client.post("/logout", data={"csrf_token": csrf_token(page)})
