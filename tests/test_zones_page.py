"""The referent's zones page (/zones): list, confirm and take-out forms, against real PostGIS."""

from __future__ import annotations

import html as html_module
import json
import re

from sqlalchemy import text

from tests.conftest import csrf_token
from tests.test_zones import X, Y, file, square, zone_of


def _pair(db) -> tuple[str, str, int, list[str]]:  # noqa: ANN001
    a = file(db, square(X, Y))
    b = file(db, square(X + 150, Y))
    db.commit()
    zone = zone_of(db, a)
    assert zone is not None and zone["report_count"] == 2 and zone["state"] == "proposed"
    refs = [db.execute(text("SELECT reference FROM reports WHERE id = :i"), {"i": i}).scalar_one() for i in (a, b)]
    db.commit()  # the page's requests run on the same connection: nothing of theirs to roll back
    return a, b, zone["zone_id"], refs


def test_page_lists_a_proposed_zone_with_both_references(db, referent) -> None:  # noqa: ANN001
    a, b, zone_id, refs = _pair(db)
    referent.login()
    page = referent.client.get("/zones")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Zones signalées plusieurs fois" in html
    assert f'id="zone-{zone_id}"' in html
    for rid, ref in zip((a, b), refs, strict=True):
        assert ref.startswith("CM-") and ref in html
        assert f'href="/signalements/{rid}"' in html
    assert "2 signalements" in html
    assert "Confirmer la zone" in html and html.count("Retirer de la zone") == 2
    # taking a report out is for good: said first, then confirmed
    assert html.count("Confirmer le retrait") == 2
    assert (f"C'est définitif : <span class=\"nowrap\">{refs[0]}</span> ne sera plus regroupé avec les autres "
            "signalements de cette zone.") in html  # the reference in one piece
    assert "Proposée" in html
    # each report's own shape, for the map to tell them apart (GeoJSON, EPSG:4326)
    for rid, ref in zip((a, b), refs, strict=True):
        item = re.search(rf'<li class="zone-report" data-id="{rid}" data-reference="{ref}" data-geometry="([^"]+)">', html)
        assert item and json.loads(html_module.unescape(item.group(1)))["type"] == "Polygon"


def test_confirm_form_confirms_the_zone(db, referent) -> None:  # noqa: ANN001
    a, b, zone_id, _refs = _pair(db)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    answer = referent.client.post(f"/zones/{zone_id}/confirm", data={"csrf_token": token, "report_ids": [a, b]})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/zones")
    assert zone_of(db, a) == {"zone_id": zone_id, "report_count": 2, "state": "confirmed"}
    html = referent.client.get("/zones").get_data(as_text=True)
    assert "Zone confirmée : ses 2 signalements sont un seul lieu." in html and "Confirmer la zone" not in html


def test_confirm_of_a_changed_zone_is_refused_with_the_page_again(db, referent) -> None:  # noqa: ANN001
    a, _b, zone_id, _refs = _pair(db)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    answer = referent.client.post(f"/zones/{zone_id}/confirm", data={"csrf_token": token, "report_ids": [a]})
    assert answer.status_code == 409  # the page again, as it is now, with the reason (no redirect)
    html = answer.get_data(as_text=True)
    assert "Rien n&#39;a été modifié : La zone a changé depuis votre lecture" in html
    assert f'id="zone-{zone_id}"' in html
    assert zone_of(db, a)["state"] == "proposed"


def test_zone_forms_answer_unknown_zones_and_reports_with_their_status(db, referent) -> None:  # noqa: ANN001
    a, b, zone_id, _refs = _pair(db)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    unknown = referent.client.post("/zones/999999999/confirm", data={"csrf_token": token, "report_ids": [a, b]})
    assert unknown.status_code == 404 and "Rien n&#39;a été modifié" in unknown.get_data(as_text=True)
    bogus = referent.client.post(f"/zones/{zone_id}/split", data={"csrf_token": token, "report_id": "pas-un-id"})
    assert 400 <= bogus.status_code < 500 and "Rien n&#39;a été modifié" in bogus.get_data(as_text=True)
    assert zone_of(db, a)["state"] == "proposed" and zone_of(db, a)["report_count"] == 2


def test_take_one_report_out_dissolves_a_zone_of_two(db, referent) -> None:  # noqa: ANN001
    a, b, zone_id, refs = _pair(db)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    answer = referent.client.post(f"/zones/{zone_id}/split", data={"csrf_token": token, "report_id": b})
    assert answer.status_code == 302
    assert zone_of(db, a) is None and zone_of(db, b) is None
    html = referent.client.get("/zones").get_data(as_text=True)
    # the message names the report taken out (it said "Report taken out of the zone.")
    assert f"{refs[1]} retiré de sa zone (réseau Mobile) : il n&#39;y sera plus regroupé." in html
    assert f'id="zone-{zone_id}"' not in html


def test_representative_gets_403(db, representative) -> None:  # noqa: ANN001
    _a, b, zone_id, _refs = _pair(db)
    representative.login()
    assert representative.client.get("/zones").status_code == 403
    token = csrf_token(representative.client.get("/account").get_data(as_text=True))
    assert representative.client.post(f"/zones/{zone_id}/split",
                                      data={"csrf_token": token, "report_id": b}).status_code == 403
    assert zone_of(db, b)["report_count"] == 2
