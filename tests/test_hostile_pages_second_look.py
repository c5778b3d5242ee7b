"""Faults a second adversarial look at pages, zones and the standard interfaces found: a long
passphrase answered 500; zone numbers read loosely (``+7``, `` 7``, ``1_1``, ``07``, Arabic-Indic
digits) in paths, forms and bodies; a join or an addition on the zones page went ahead on a
zone that grew since the page was read; a decision was taken, then the page refused its own
address; OGC ``numberMatched`` counted reports it never serves. Each is a kind with a test."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from geosignal.models import Report, User
from geosignal.services import accounts
from tests.conftest import csrf_token
from tests.factories import feature
from tests.test_zones import X, Y, file, square, zone_of

LONG_PHRASE = "purple elephants manage tonight " * 3  # 96 characters


def test_a_passphrase_longer_than_zxcvbns_limit_is_judged_not_a_500(db, client, representative) -> None:  # noqa: ANN001
    """zxcvbn raises beyond 72 characters: a 96-character passphrase was a 500 on the password
    page and the reset link's. It is judged on its first 72 characters and taken; the new
    password signs in."""
    representative.login()
    page = representative.client.get("/compte/mot-de-passe").get_data(as_text=True)
    changed = representative.client.post("/compte/mot-de-passe", data={
        "csrf_token": csrf_token(page), "current_password": representative.password, "password": LONG_PHRASE})
    assert changed.status_code == 302, changed.get_data(as_text=True)[:300]
    user = db.query(User).filter_by(email=representative.email).one()
    db.refresh(user)
    assert user.check_password(LONG_PHRASE)
    secret = accounts.issue_link(db, user, "reset")
    db.commit()
    anonymous = client.application.test_client()
    form = anonymous.get(f"/compte/reinitialisation?jeton={secret}").get_data(as_text=True)
    reset = anonymous.post("/compte/reinitialisation", data={"csrf_token": csrf_token(form), "jeton": secret,
                                                            "password": LONG_PHRASE + "x"})
    assert reset.status_code == 302
    db.refresh(user)
    assert user.check_password(LONG_PHRASE + "x")
    assert accounts.password_problem("a" * 200) is not None  # (a long weak one is still weak)


def _two_zones(db) -> tuple[list[str], list[str], int, int]:  # noqa: ANN001
    a = [file(db, square(X + dx, Y + 10200)) for dx in (0, 150)]
    b = [file(db, square(X - 1500 + dx, Y + 10200)) for dx in (0, 150)]
    db.commit()
    return a, b, zone_of(db, a[0])["zone_id"], zone_of(db, b[0])["zone_id"]


@pytest.mark.parametrize("written", ["arabic", "+{}", " {}", "{} ", "0{}", "1_{}"])
def test_zone_numbers_are_plain_ascii_digits_in_paths_forms_and_bodies(db, referent, written: str) -> None:  # noqa: ANN001
    """``int()`` read ``+7``, `` 7``, ``07``, ``1_1`` and ``٣`` as zone numbers: a join form took
    them and joined the zones for good, a path confirmed the zone. A zone number is its ASCII
    digits as written by geosignal: anything else is no zone (404 in a path, 422 ``invalid_join``
    for the zone to join), and nothing changes."""
    a, b, za, zb = _two_zones(db)
    spelt = "".join(chr(0x660 + int(c)) for c in str(zb)) if written == "arabic" else written.format(zb)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    joined = referent.client.post(f"/zones/{za}/join", data={"csrf_token": token, "other": spelt})
    assert joined.status_code == 422, spelt
    # the same with the page's digests (the form as the page wrote it, the choice spelt otherwise)
    join = _form(referent.client.get("/zones").get_data(as_text=True), za, "join")
    joined = referent.client.post(f"/zones/{za}/join", data={**join, "other": spelt,
                                                              f"members_{spelt}": join[f"members_{zb}"]})
    assert joined.status_code == 422, spelt
    path = "".join(chr(0x660 + int(c)) for c in str(za)) if written == "arabic" else written.format(za)
    confirmed = referent.client.post(f"/zones/{path}/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 404, path
    assert referent.get(f"/api/v1/zones/{path}").status_code == 404
    body = referent.post(f"/api/v1/zones/{za}/join", json={"zone_id": spelt})
    assert (body.status_code, body.get_json()["code"]) == (422, "invalid_join")
    assert zone_of(db, a[0])["state"] == zone_of(db, b[0])["state"] == "proposed"
    assert referent.get(f"/api/v1/zones/{za}").status_code == 200  # (its own digits)


def _form(page: str, zone_id: int, action: str) -> dict[str, str]:
    """The hidden fields of a zone card's ``action`` form, as the page wrote them."""
    form = page.split(f'action="/zones/{zone_id}/{action}"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_a_join_or_an_addition_on_a_zone_that_grew_since_the_page_was_read_is_refused(db, referent) -> None:  # noqa: ANN001
    """The confirm form said what it showed (a digest of the zone's reports); the join and add
    forms did not: a report that joined the zone after the page was read was pinned into one
    confirmed zone for good, unseen. Both forms carry the digests of the zones they show; a
    zone that changed is 409, the page shown again, nothing decided. As read, they go ahead."""
    a, b, za, zb = _two_zones(db)
    lone = file(db, square(X + 1200, Y + 10200))  # in no zone, 850 m east of the first zone
    db.commit()
    referent.login()
    page = referent.client.get("/zones").get_data(as_text=True)
    join, add = _form(page, za, "join"), _form(page, za, "add")
    assert set(join) == {"csrf_token", "members", f"members_{zb}"} and set(add) == {"csrf_token", "members"}
    newcomer = file(db, square(X + 300, Y + 10200))
    db.commit()
    assert zone_of(db, newcomer)["zone_id"] == za
    refused = referent.client.post(f"/zones/{za}/join", data={**join, "other": str(zb)})
    assert refused.status_code == 409 and "Rien n&#39;a été modifié" in refused.get_data(as_text=True)
    refused = referent.client.post(f"/zones/{za}/add", data={**add, "report_id": lone})
    assert refused.status_code == 409
    assert zone_of(db, newcomer)["state"] == "proposed" and zone_of(db, lone) is None
    page = referent.client.get("/zones").get_data(as_text=True)  # read again: as shown, it goes ahead
    added = referent.client.post(f"/zones/{za}/add", data={**_form(page, za, "add"), "report_id": lone})
    assert added.status_code == 302 and zone_of(db, lone) == {"zone_id": za, "report_count": 4, "state": "confirmed"}
    page = referent.client.get("/zones").get_data(as_text=True)
    joined = referent.client.post(f"/zones/{za}/join", data={**_form(page, za, "join"), "other": str(zb)})
    assert joined.status_code == 302 and zone_of(db, b[0])["zone_id"] == za


@pytest.mark.parametrize(("query", "status"), [("page=abc", 400), ("commune=zzz", 422), ("page=0", 400)])
def test_a_decision_whose_page_address_is_refused_decides_nothing(db, referent, query: str, status: int) -> None:  # noqa: ANN001, E501
    """A decision took place, then the answer refused the page's address (``?page=abc``, an
    unknown commune): the page said « refused » and the zone was confirmed. The address is
    checked first: refused, nothing decided."""
    a, _b, za, _zb = _two_zones(db)
    referent.login()
    token = csrf_token(referent.client.get("/zones").get_data(as_text=True))
    answer = referent.client.post(f"/zones/{za}/confirm?{query}", data={"csrf_token": token})
    assert answer.status_code == status  # (400 invalid_request; 422 unknown_commune)
    assert zone_of(db, a[0])["state"] == "proposed"


def test_ogc_number_matched_counts_the_features_served(client, db, admin) -> None:  # noqa: ANN001
    """A zone 2 cm wide collapses at the 6 decimals served: the OGC items left it out but
    ``numberMatched`` counted it (2 matched, 1 served, and a ``next`` link past the end). It
    counts what is served, as the DWconnect export lists it apart."""
    lon0, lat0 = 4.4000001, 50.4090001
    ring = [[lon0, lat0], [lon0 + 0.08, lat0], [lon0 + 0.08, lat0 + 2e-7], [lon0, lat0 + 2e-7], [lon0, lat0]]
    square_ = [[4.44, 50.41], [4.442, 50.41], [4.442, 50.412], [4.44, 50.412], [4.44, 50.41]]
    for coordinates in (ring, square_):
        assert admin.post("/api/v1/reports", json=feature({"type": "Polygon", "coordinates": [coordinates]})
                          ).status_code == 201
    db.execute(update(Report).values(status="validated"))
    db.commit()
    whole = client.get("/ogc/collections/white-zones/items").get_json()
    assert (whole["numberMatched"], whole["numberReturned"]) == (1, 1)
    first = client.get("/ogc/collections/white-zones/items?limit=1").get_json()
    assert first["numberReturned"] == 1 and "next" not in [link["rel"] for link in first["links"]]


def test_a_wrong_bbox_crs_is_said_even_without_a_bbox_and_zoom_has_one_limit(client, referent) -> None:  # noqa: ANN001
    """``bbox-crs=bogus`` without a ``bbox`` was ignored (with one, 400); the locations' zoom
    was said « 0 to 30 » by the view and « 0 to 22 » by the service. One rule each."""
    r = client.get("/ogc/collections/white-zones/items?bbox-crs=bogus")
    assert (r.status_code, r.get_json()["code"], r.get_json()["where"]) == (400, "invalid_request", "bbox-crs")
    assert client.get("/ogc/collections/white-zones/items?bbox-crs="
                      "http://www.opengis.net/def/crs/OGC/1.3/CRS84").status_code == 200
    details = set()
    for zoom in ("23", "31"):
        r = referent.get(f"/api/v1/stats/locations?zoom={zoom}&bbox=4.3,50.3,4.6,50.5")
        assert (r.status_code, r.get_json()["where"]) == (400, "zoom")
        details.add(r.get_json()["detail"])
    assert details == {"zoom must be a whole number from 0 to 22"}
    assert referent.get("/api/v1/stats/locations?zoom=22&bbox=4.3,50.3,4.6,50.5").status_code == 200
