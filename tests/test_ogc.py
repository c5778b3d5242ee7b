"""OGC API – Features – Part 1 (core, GeoJSON, HTML): the fields and links a GIS client needs."""

from __future__ import annotations

import json
import re
import uuid
from html import unescape

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import update

from geosignal.models import Report
from tests.conftest import CHARLEROI
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.geojson_checks import assert_rfc7946_collection, assert_rfc7946_geometry

X0, Y0 = CHARLEROI_LAMBERT72
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


def rels(doc: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for link in doc["links"]:
        assert link["href"].startswith("http://localhost/") and link["type"], link
        out.setdefault(link["rel"], []).append(link)
    return out


def post(account, geometry: dict) -> str:
    response = account.post("/api/v1/reports", data=json.dumps(feature(geometry, description="privé")),
                            content_type="application/geo+json")
    assert response.status_code == 201
    return response.get_json()["id"]


def test_landing_page_and_conformance(client) -> None:
    response = client.get("/ogc")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["title"]
    links = rels(doc)
    for rel in ("self", "alternate", "service-desc", "service-doc", "conformance", "data"):
        assert rel in links, rel
    assert links["service-desc"][0]["href"] == "http://localhost/api/v1/openapi.json"
    assert links["alternate"][0]["type"] == "text/html"
    assert client.get(links["service-desc"][0]["href"]).status_code == 200
    conf = client.get("/ogc/conformance").get_json()
    assert CORE in conf["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf["conformsTo"]
    assert "self" in rels(conf)
    html = client.get("/ogc/?f=html")
    assert html.status_code == 200 and html.mimetype == "text/html" and "OGC API" in html.get_data(as_text=True)
    assert client.get("/ogc/", headers={"Accept": "text/html"}).mimetype == "text/html"
    assert client.get("/ogc/?f=xml").status_code == 400


def test_collections_and_extents(client) -> None:
    doc = client.get("/ogc/collections").get_json()
    assert "self" in rels(doc)
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == {"communes", "white-zones"}
    communes = by_id["communes"]
    assert communes["itemType"] == "feature"
    x0, y0, x1, y1 = communes["extent"]["spatial"]["bbox"][0]
    # Charleroi Métropole spans about 4.0–4.8 E, 49.9–50.6 N
    assert 3.9 < x0 < 4.3 and 4.5 < x1 < 4.9 and 49.8 < y0 < 50.1 and 50.4 < y1 < 50.7
    assert communes["extent"]["spatial"]["crs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    items = [link for link in rels(communes)["items"] if link["type"] == "application/geo+json"]
    assert items and items[0]["href"].startswith("http://localhost/ogc/collections/communes/items")
    one = client.get("/ogc/collections/communes").get_json()
    assert one["id"] == "communes" and {"self", "alternate", "items"} <= set(rels(one))
    missing = client.get("/ogc/collections/roads")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    assert client.get("/ogc/collections?f=html").status_code == 200


def test_communes_items_paging_bbox_and_single(client) -> None:
    first = client.get("/ogc/collections/communes/items?limit=12")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/geo+json; charset=utf-8"
    doc = first.get_json()
    assert_rfc7946_collection(doc)
    assert doc["numberMatched"] == 30 and doc["numberReturned"] == 12 and doc["timeStamp"].endswith("Z")
    seen = [f["id"] for f in doc["features"]]
    while "next" in rels(doc):
        doc = client.get(rels(doc)["next"][0]["href"]).get_json()
        seen += [f["id"] for f in doc["features"]]
    assert len(seen) == 30 == len(set(seen)) and seen == sorted(seen)
    assert "prev" in rels(doc) and "next" not in rels(doc) and doc["numberReturned"] == 6
    # a person reading the HTML page pages in HTML (its next and prev links led to raw GeoJSON)
    html_seen: list[str] = []
    page = "/ogc/collections/communes/items?f=html&limit=12"
    while page:
        text_ = client.get(page).get_data(as_text=True)
        html_seen += re.findall(r'<td><a href="[^"]+/items/(\d{5})\?f=html">', text_)
        after = re.search(r'<a href="http://localhost([^"]+)" rel="next">Page suivante</a>', text_)
        page = after.group(1).replace("&amp;", "&") if after else None
    assert html_seen == seen
    assert '<a href="http://localhost/ogc/collections/communes/items?f=html&amp;offset=12&amp;limit=12" rel="prev">' \
        'Page précédente</a>' in text_
    boxed = client.get("/ogc/collections/communes/items?bbox=4.44,50.41,4.45,50.42").get_json()
    assert [f["id"] for f in boxed["features"]] == [CHARLEROI]
    one = client.get(f"/ogc/collections/communes/items/{CHARLEROI}").get_json()
    assert one["properties"]["name_fr"] == "Charleroi" and shape(one["geometry"]).is_valid
    assert_rfc7946_geometry(one["geometry"])
    assert {"self", "alternate", "collection"} <= set(rels(one))
    assert client.get("/ogc/collections/communes/items/99999").status_code == 404
    for bad in ("bbox=1,2,3", "limit=0", "limit=x", "datetime=yesterday", "offset=-1"):
        response = client.get(f"/ogc/collections/communes/items?{bad}")
        assert response.status_code == 400 and response.get_json()["code"] == "invalid_request", bad
    # limits above the maximum are capped, as the standard allows
    assert client.get("/ogc/collections/communes/items?limit=5000").get_json()["numberReturned"] == 30
    assert "Charleroi" in client.get("/ogc/collections/communes/items?f=html").get_data(as_text=True)


def test_white_zones_visibility_datetime_and_html(db, client, representative, referent) -> None:
    shown = post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)))
    hidden = post(representative, to_geojson_4326(Point(X0 + 500, Y0)))
    db.execute(update(Report).where(Report.id == uuid.UUID(shown)).values(status="validated"))
    db.commit()
    anonymous = client.get("/ogc/collections/white-zones/items").get_json()
    assert [f["id"] for f in anonymous["features"]] == [shown] and anonymous["numberMatched"] == 1
    assert "description" not in anonymous["features"][0]["properties"]
    assert anonymous["features"][0]["properties"]["area_m2"] == pytest.approx(90_000, rel=0.001)
    assert_rfc7946_collection(anonymous)
    assert client.get(f"/ogc/collections/white-zones/items/{hidden}").status_code == 404
    as_referent = referent.get("/ogc/collections/white-zones/items").get_json()
    assert {f["id"] for f in as_referent["features"]} == {shown, hidden}
    assert as_referent["features"][0]["properties"]["description"] == "privé"
    assert referent.get(f"/ogc/collections/white-zones/items/{hidden}").status_code == 200
    # datetime applies to observed_at, else the time of the report
    assert referent.get("/ogc/collections/white-zones/items?datetime=2000-01-01T00:00:00Z/..").get_json()[
        "numberMatched"] == 2
    assert referent.get("/ogc/collections/white-zones/items?datetime=../2000-01-01T00:00:00Z").get_json()[
        "numberMatched"] == 0
    interval = referent.get("/ogc/collections/white-zones").get_json()["extent"]["temporal"]["interval"][0]
    assert interval[0] is not None and interval[0] <= interval[1]
    page = client.get(f"/ogc/collections/white-zones/items/{shown}?f=html")
    assert page.status_code == 200 and shown in page.get_data(as_text=True)


def test_the_public_layer_keeps_the_zones_the_referent_confirmed(db, client, representative, referent) -> None:  # noqa: ANN001
    # an integrator trial: once the referent forwarded them to DWconnect (transmitted), the
    # reports left the public layer (72 confirmed zones shown as 9)
    from geosignal import policy
    from geosignal.vocab import STATUSES

    ids = {status: post(representative, to_geojson_4326(Point(X0 + 40 * k, Y0)))
           for k, status in enumerate(STATUSES)}
    for status, rid in ids.items():
        db.execute(update(Report).where(Report.id == uuid.UUID(rid)).values(status=status))
    db.commit()
    public = {ids[s] for s in ("validated", "transmitted", "not_resolved")}
    assert set(policy.PUBLIC_STATUSES) == {"validated", "transmitted", "not_resolved"}
    for reader in (client, representative):
        page = reader.get("/ogc/collections/white-zones/items").get_json()
        assert {f["id"] for f in page["features"]} == public and page["numberMatched"] == 3
        for status, rid in ids.items():
            expected = 200 if rid in public else 404
            assert reader.get(f"/ogc/collections/white-zones/items/{rid}").status_code == expected, status
    # the referent: every status of a filed report; a draft is its author's (an auditor's trial
    # found it in the referent's layer while the export's and the figures' "all" left it out)
    seen = referent.get("/ogc/collections/white-zones/items").get_json()
    assert {f["id"] for f in seen["features"]} == {rid for s, rid in ids.items() if s != "draft"}
    assert seen["numberMatched"] == len(STATUSES) - 1
    assert referent.get(f"/ogc/collections/white-zones/items/{ids['draft']}").status_code == 404


def test_descriptions_only_to_the_reports_commune_and_the_referent(db, client, representative) -> None:  # noqa: ANN001
    from tests.conftest import make_account

    shown = post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)))
    db.execute(update(Report).where(Report.id == uuid.UUID(shown)).values(status="validated"))
    db.commit()
    other = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    theirs = other.get("/ogc/collections/white-zones/items").get_json()["features"]
    assert [f["id"] for f in theirs] == [shown]
    assert "description" not in theirs[0]["properties"]
    assert "description" not in other.get(f"/ogc/collections/white-zones/items/{shown}").get_json()["properties"]
    own = representative.get(f"/ogc/collections/white-zones/items/{shown}").get_json()
    assert own["properties"]["description"] == "privé"


def test_the_html_pages_speak_the_page_language(client) -> None:
    """A user's trial: /ogc?f=html in English said « Zones blanches de connectivité … (lecture
    seule) », « Cette page (JSON) », « Documentation de l'API »; /ogc/collections?f=html in
    Dutch the collections' French titles and « Entités (GeoJSON) ». The JSON keeps French."""
    english = client.get("/ogc/?f=html", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for said in ("Connectivity white zones of Charleroi Métropole (read only).", ">This page (JSON)<",
                 ">API documentation<", ">Conformance classes<"):
        assert said in english, said
    assert "Cette page" not in english and "lecture seule" not in english
    dutch = client.get("/ogc/collections?f=html", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    for said in (">Gemeenten van Charleroi Métropole<", ">Objecten (GeoJSON)<", ">Objecten (HTML)<"):
        assert said in dutch, said
    assert "Entités" not in dutch and "Limites des 30 communes" not in dutch
    assert client.get("/ogc/").get_json()["description"] == \
        "Zones blanches de connectivité de Charleroi Métropole (lecture seule)."


@pytest.mark.parametrize("path", ["/ogc", "/ogc/collections", "/ogc/collections/white-zones/items",
                                  "/ogc/collections/white-zones/items?f=html", "/api/v1/reports"])
def test_a_token_of_an_account_with_its_one_time_password_gets_a_problem_under_ogc(client, db, representative,
                                                                                    path: str) -> None:  # noqa: ANN001
    """Under /ogc as under /api every error is problem+json: the one-time password's 403 came as
    a 302 to /compte/mot-de-passe, then an HTML page, to a GIS client holding a token."""
    from geosignal.models import User

    db.execute(update(User).where(User.email == representative.email).values(must_change_password=True))
    db.commit()
    answer = representative.get(path, headers={"Accept": "text/html"})
    assert (answer.status_code, answer.mimetype) == (403, "application/problem+json"), answer.headers.get("Location")
    assert answer.get_json()["code"] == "password_change_required"
    # a page still leads a person to the change form
    page = representative.get("/carte")
    assert (page.status_code, page.headers["Location"]) == (302, "/compte/mot-de-passe")


def test_anonymous_readers_get_no_reference_nor_revision(db, client, representative, referent) -> None:  # noqa: ANN001
    """The sequential ``reference`` (CM-2026-02745) and the global ``revision`` (change_seq)
    told an anonymous reader how many reports were filed and changed, unvalidated ones too:
    they are left out for anonymous readers (as ``description``), signed-in readers keep them."""
    from geosignal import contract

    shown = post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)))
    db.execute(update(Report).where(Report.id == uuid.UUID(shown)).values(status="validated"))
    db.commit()
    row = db.get(Report, uuid.UUID(shown))
    assert contract.withheld(signed_in=False, own_commune=False) == {"reference", "revision", "description"}
    anonymous = client.get("/ogc/collections/white-zones/items").get_json()["features"]
    one = client.get(f"/ogc/collections/white-zones/items/{shown}").get_json()
    for props in (anonymous[0]["properties"], one["properties"]):
        assert not {"reference", "revision", "description"} & set(props)
        assert props["commune_nis"] == CHARLEROI and props["status"] == "validated"
    html = client.get("/ogc/collections/white-zones/items?f=html").get_data(as_text=True)
    assert row.reference not in html and "Révision" not in html and "Référence" not in html
    for reader in (referent, representative):
        props = reader.get(f"/ogc/collections/white-zones/items/{shown}").get_json()["properties"]
        assert (props["reference"], props["revision"]) == (row.reference, row.change_seq)
    from tests.conftest import make_account

    other = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    props = other.get("/ogc/collections/white-zones/items").get_json()["features"][0]["properties"]
    assert (props["reference"], props["revision"]) == (row.reference, row.change_seq)
    assert "description" not in props


@pytest.mark.parametrize("moment", ["2026-W01-1T00:00:00Z", "20260101T000000Z", "2026-001T00:00:00Z"])
def test_a_datetime_that_is_not_rfc_3339_is_refused(client, moment) -> None:  # noqa: ANN001
    # Python's fromisoformat also reads ISO week dates and the basic format: the first filtered
    # on 29 December 2025, unsaid
    answer = client.get(f"/ogc/collections/white-zones/items?datetime={moment}")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == (
        400, "invalid_request", "datetime")
    assert client.get("/ogc/collections/white-zones/items?datetime=2026-01-01T00:00:00.5%2B01:00").status_code == 200


def test_the_html_table_has_a_column_for_what_any_feature_of_the_page_carries(db, client, representative) -> None:  # noqa: ANN001
    """Guards: the HTML items page took its columns from the first feature only. A Châtelet
    report came first, carrying no ``description`` for a Charleroi representative: the whole
    column was missing, their own report's description too (the JSON carried it). The columns
    are every property any feature of the page carries, in the report contract's order; a
    feature without one leaves its cell empty."""
    from geosignal import contract
    from tests.conftest import make_account
    from tests.factories import border_point

    chatelet = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    bx, by = border_point(db)
    theirs = post(chatelet, to_geojson_4326(Point(bx + 300, by + 300)))
    own = post(representative, to_geojson_4326(Point(X0, Y0)))
    db.execute(update(Report).values(status="validated"))
    db.execute(update(Report).where(Report.id == uuid.UUID(theirs)).values(description="À Châtelet"))
    db.commit()
    page = representative.get("/ogc/collections/white-zones/items?f=json").get_json()
    assert [f["id"] for f in page["features"]] == [theirs, own]
    assert "description" not in page["features"][0]["properties"]
    html = representative.get("/ogc/collections/white-zones/items?f=html").get_data(as_text=True)
    headers = [unescape(h) for h in re.findall(r"<th>([^<]*)</th>", html)]
    assert headers == ["id", "Géométrie", *(contract.label(n) for n in contract.names(contract.EXPORT))]
    rows = re.findall(r"<tr><td><a href=\"[^\"]+/items/([0-9a-f-]+)\?f=html\">.*?</tr>", html, re.S)
    assert rows == [theirs, own]
    cells = {rid: re.findall(r'<td class="text">(.*?)</td>', row, re.S)
             for rid, row in zip(rows, re.findall(r"<tr><td><a .*?</tr>", html, re.S), strict=True)}
    at = contract.names(contract.EXPORT).index("description")
    assert (cells[theirs][at], cells[own][at]) == ("", "privé")
    assert "À Châtelet" not in html
    # the same columns whichever report comes first, and none a reader may see on no feature
    anonymous = client.get("/ogc/collections/white-zones/items?f=html").get_data(as_text=True)
    assert [unescape(h) for h in re.findall(r"<th>([^<]*)</th>", anonymous)] == ["id", "Géométrie", *(
        contract.label(n) for n in contract.names(contract.EXPORT) if n not in ("description", "reference", "revision"))]


def test_a_bbox_of_six_numbers_is_read_as_the_core_requires(db, client, representative) -> None:  # noqa: ANN001
    """Guards: OGC API Features Part 1 core requires ``bbox`` to take 4 or 6 numbers
    (``minx,miny,minz,maxx,maxy,maxz``); 6 numbers were 400 ``invalid_request``. The heights
    are checked (inverted ones are refused, as an inverted box is) and the 2D box filters; the
    other bbox parameters (the REST API, the export) keep their 4 numbers."""
    for query in ("bbox=4.44,50.41,-100,4.45,50.42,100", "bbox=4.44,50.41,0,4.45,50.42,0"):
        boxed = client.get(f"/ogc/collections/communes/items?{query}")
        assert boxed.status_code == 200, query
        assert [f["id"] for f in boxed.get_json()["features"]] == [CHARLEROI], query
    shown = post(representative, to_geojson_4326(Point(X0, Y0)))
    db.execute(update(Report).values(status="validated"))
    db.commit()
    for box, expected in (("4.43,50.40,0,4.46,50.42,500", [shown]), ("4.30,50.30,0,4.40,50.35,500", [])):
        zones = client.get(f"/ogc/collections/white-zones/items?bbox={box}").get_json()
        assert ([f["id"] for f in zones["features"]], zones["numberMatched"]) == (expected, len(expected)), box
    for bad in ("4.44,50.41,100,4.45,50.42,-100", "4.45,50.41,0,4.44,50.42,100", "4.44,50.41,0,4.45,50.42",
                "4.44,50.41,0,4.45,50.42,100,1", "4.44,50.41,x,4.45,50.42,100"):
        answer = client.get(f"/ogc/collections/communes/items?bbox={bad}")
        assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == (
            400, "invalid_request", "bbox"), bad
    answer = representative.get("/api/v1/reports?bbox=4.44,50.41,0,4.45,50.42,100")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["where"]) == (
        400, "invalid_request", "bbox")
