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
