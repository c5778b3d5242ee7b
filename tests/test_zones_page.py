"""The referent's zones page (/zones): list, confirm and take-out forms, against real PostGIS."""

from __future__ import annotations

import html as html_module
import json
import re

from sqlalchemy import text

from geosignal.services import zones
from tests.conftest import csrf_token
from tests.test_zones import X, Y, _admin, file, square, zone_of


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


def test_stale_forms_say_the_zone_changed_or_is_gone(db, referent) -> None:  # noqa: ANN001
    """A take-out form from a tab opened before another took the report out was refused with
    « choose some, not none nor all »; a confirm of a zone another decision dissolved said
    « check the address ». Each now says what happened, with the page as it is."""
    a, b, zone_id, _refs = _pair(db)
    referent.login()
    page = referent.client.get("/zones").get_data(as_text=True)
    token = csrf_token(page)
    digest = re.search(rf'action="/zones/{zone_id}/confirm[^"]*"[^>]*>.*?name="members" value="([0-9a-f]+)"',
                       page, re.S).group(1)
    assert referent.client.post(f"/zones/{zone_id}/split", data={"csrf_token": token, "report_id": b}).status_code == 302
    again = referent.client.post(f"/zones/{zone_id}/split", data={"csrf_token": token, "report_id": b})
    assert again.status_code == 404  # (a zone of two: taking one out dissolved it)
    gone = referent.client.post(f"/zones/{zone_id}/confirm", data={"csrf_token": token, "members": digest})
    for answer in (again, gone):
        html = " ".join(answer.get_data(as_text=True).split())
        assert answer.status_code == 404
        assert ("Rien n&#39;a été modifié : cette zone n&#39;existe plus (une autre décision l&#39;a défaite ou "
                "réunie à une autre) ; voici les zones telles qu&#39;elles sont.") in html
        assert "vérifiez l&#39;adresse" not in html
    # a zone of three: the report taken out in another tab leaves the zone as it was read
    ids = [file(db, square(X + 3000 + dx, Y)) for dx in (0, 150, 300)]
    db.commit()
    zone = zone_of(db, ids[0])["zone_id"]
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    assert referent.client.post(f"/zones/{zone}/split", data={"csrf_token": token, "report_id": ids[0]}).status_code == 302
    stale = referent.client.post(f"/zones/{zone}/split", data={"csrf_token": token, "report_id": ids[0]})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Rien n&#39;a été modifié : La zone a changé depuis votre lecture" in html and "ni aucun" not in html
    assert zone_of(db, ids[1])["report_count"] == 2


def test_representative_gets_403(db, representative) -> None:  # noqa: ANN001
    _a, b, zone_id, _refs = _pair(db)
    representative.login()
    assert representative.client.get("/zones").status_code == 403
    token = csrf_token(representative.client.get("/account").get_data(as_text=True))
    assert representative.client.post(f"/zones/{zone_id}/split",
                                      data={"csrf_token": token, "report_id": b}).status_code == 403
    assert zone_of(db, b)["report_count"] == 2


def _three_zones(db) -> dict[str, int]:  # noqa: ANN001
    """Three zones of two reports: mobile ``first`` (then confirmed), mobile ``second``, fixed ``fixed``."""
    ids = {}
    for name, dy, network in (("first", 3000, "mobile"), ("second", 3600, "mobile"), ("fixed", 4200, "fixed")):
        a = file(db, square(X, Y + dy), network)
        file(db, square(X + 150, Y + dy), network)
        ids[name] = zone_of(db, a)["zone_id"]
    zones.confirm_zone(db, _admin(db), ids["first"])
    db.commit()
    return ids


def _shown(html: str) -> list[int]:
    return [int(z) for z in re.findall(r'<li class="queue-item zone-item zone-\w+" id="zone-(\d+)"', html)]


def test_the_page_shows_zones_a_page_at_a_time_proposed_first_and_filtered(db, referent, monkeypatch) -> None:  # noqa: ANN001
    from geosignal.views import zone_pages

    monkeypatch.setattr(zone_pages, "PAGE_SIZE", 2)
    ids = _three_zones(db)
    referent.login()
    first = referent.client.get("/zones").get_data(as_text=True)
    assert _shown(first) == sorted([ids["second"], ids["fixed"]])  # proposed first, in zone order
    assert '<p id="zones-count">1 à 2 sur 3 zones</p>' in first
    assert "Page 1 sur 2" in first and 'rel="next" href="/zones?page=2"' in first and 'rel="prev"' not in first
    second = referent.client.get("/zones?page=2").get_data(as_text=True)
    assert _shown(second) == [ids["first"]] and "3 à 3 sur 3 zones" in second and 'rel="prev" href="/zones?page=1"' in second
    # a page beyond the last (zones joined since): the last one
    assert _shown(referent.client.get("/zones?page=999999999").get_data(as_text=True)) == [ids["first"]]
    fixed = referent.client.get("/zones?network=fixed").get_data(as_text=True)
    assert _shown(fixed) == [ids["fixed"]] and "1 à 1 sur 1 zone<" in fixed and "Page 1" not in fixed
    assert '<option value="fixed" selected>' in fixed
    mobile = referent.client.get("/zones?network=mobile&state=confirmed&commune=52011").get_data(as_text=True)
    assert _shown(mobile) == [ids["first"]]
    none = referent.client.get("/zones?commune=52012").get_data(as_text=True)  # Aiseau-Presles: no zone
    assert _shown(none) == [] and "Aucune zone pour ces filtres." in none
    for query, status in (("commune=99999", 422), ("state=open", 400), ("network=5G", 400), ("page=0", 400),
                          ("page=deux", 400), ("page=99999999999999999999", 400)):
        assert referent.client.get(f"/zones?{query}").status_code == status, query
    # an action taken on a filtered page comes back to it
    token = csrf_token(first)
    answer = referent.client.post(f"/zones/{ids['second']}/confirm?network=mobile&page=2",
                                  data={"csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/zones?network=mobile&page=2"
    form = re.search(rf'action="(/zones/{ids["first"]}/split[^"]*)"',
                     referent.client.get("/zones?network=mobile&page=2").get_data(as_text=True))
    assert form and html_module.unescape(form.group(1)) == f"/zones/{ids['first']}/split?network=mobile&page=2"


def test_a_large_zone_lists_its_first_reports_and_all_on_demand(db, referent, monkeypatch) -> None:  # noqa: ANN001
    """A drive test's import makes a zone of thousands of reports: its card lists the first
    ones (each with its take-out form), says how many more and lists them all on demand; its
    confirm form stands for all of them by one digest, and a zone changed since is refused."""
    from geosignal.views import zone_pages

    monkeypatch.setattr(zone_pages, "MEMBERS_SHOWN", 2)
    ids = [file(db, square(X + 150 * k, Y + 5000)) for k in range(5)]
    db.commit()
    zone_id = zone_of(db, ids[0])["zone_id"]
    referent.login()
    page = referent.client.get("/zones").get_data(as_text=True)
    card = page.split(f'id="zone-{zone_id}"')[1]
    assert card.count('class="zone-report"') == 2 and card.count("Confirmer le retrait") == 2
    assert f'et 3 autres signalements — <a href="/zones?membres={zone_id}#zone-{zone_id}">les voir tous</a>' in card
    assert 'name="report_ids"' not in card
    digest = re.search(r'name="members" value="([0-9a-f]{32})"', card).group(1)
    assert digest == zone_pages.members_digest(ids)
    unfolded = referent.client.get(f"/zones?membres={zone_id}").get_data(as_text=True)
    assert unfolded.split(f'id="zone-{zone_id}"')[1].count('class="zone-report"') == 5 and "les voir tous" not in unfolded
    token = csrf_token(page)
    late = file(db, square(X + 750, Y + 5000))  # joins the zone after the page was read
    db.commit()
    refused = referent.client.post(f"/zones/{zone_id}/confirm", data={"csrf_token": token, "members": digest})
    assert refused.status_code == 409 and zone_of(db, ids[0])["state"] == "proposed"
    fresh = referent.client.get("/zones").get_data(as_text=True).split(f'id="zone-{zone_id}"')[1]
    digest = re.search(r'name="members" value="([0-9a-f]{32})"', fresh).group(1)
    done = referent.client.post(f"/zones/{zone_id}/confirm", data={"csrf_token": token, "members": digest})
    assert done.status_code == 302
    assert zone_of(db, late) == {"zone_id": zone_id, "report_count": 6, "state": "confirmed"}


def test_the_zones_page_lists_the_communes_in_reading_order(referent) -> None:  # noqa: ANN001
    # a referent's trial: « Charleroi, Chimay, Châtelet » here, « Charleroi, Châtelet, Chimay »
    # in the validation queue
    import re

    referent.login()
    page = referent.client.get("/zones").get_data(as_text=True)
    names = re.findall(r'<option value="\d{5}"[^>]*>([^<]+)</option>', page)
    assert names.index("Châtelet") < names.index("Chimay") and len(names) == 30
