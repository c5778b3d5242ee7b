"""Variants of the handed cases' kinds (dates at the edges of what is accepted, collections
split by a file reader, line ends, query parameters and ``crs`` members), each found by a
trial of new inputs against the real service: the same input gives the same meaning and the
same code in every format and on every path, and nothing is half-stored.

Through :func:`read_upload` with the real communes (4.44, 50.41 is in Charleroi) and the
real app and PostGIS."""

from __future__ import annotations

import json

import pytest

from geosignal.errors import GeosignalError
from geosignal.services.intake import read_upload
from geosignal.services.intake.core import source_row
from tests.factories import count_reports, said_in_each_language, upload_file

IN_CHARLEROI = {"type": "Point", "coordinates": [4.4440, 50.4108]}


def _feature(geometry: dict | None = None, **properties) -> dict:  # noqa: ANN003
    return {"type": "Feature", "geometry": geometry or IN_CHARLEROI, "properties": {"network": "mobile", **properties}}


def _post(account, body: dict, query: str = ""):  # noqa: ANN001, ANN202
    return account.post(f"/api/v1/reports{query}", json=body)


# --------------------------------------------------------------------------- 35. dates at 1990

@pytest.mark.parametrize("observed_at", ["1990-01-01", "1990-01-01T00:30:00", "1990-01-01T00:00:00+01:00",
                                         "1989-12-31T23:00:00Z"])
def test_the_first_of_january_1990_in_brussels_is_accepted(db, representative, observed_at) -> None:
    response = _post(representative, _feature(observed_at=observed_at))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["properties"]["observed_at"].startswith("1990-01-01T00:")


def test_the_limit_quoted_is_midnight_in_brussels(db, representative) -> None:
    before = count_reports(db)
    response = _post(representative, _feature(observed_at="1989-12-31T23:59:59+01:00"))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["kind"], body["limit"]) == ("invalid_datetime", "too_early", "1990-01-01T00:00:00+01:00")
    assert count_reports(db) == before


@pytest.mark.parametrize("cell", ["01/01/1990", "1/1/1990", "1990-01-01", "01/01/1990 00:30"])
def test_a_csv_date_of_the_first_of_january_1990_is_kept(area, cell) -> None:
    (item,) = read_upload(f"lat;lon;network;date\n50,4108;4,4440;mobile;{cell}\n".encode(), "a.csv", area=area)
    assert not isinstance(item, GeosignalError)
    assert item.properties["observed_at"].isoformat().startswith("1990-01-01T00:")
    assert not [w for w in item.warnings if w["code"] == "attribute_dropped"]


# --------------------------------------------------------------------------- 35. GPX dates alone

def test_a_gpx_date_alone_is_a_day_in_brussels_as_in_every_format(area) -> None:
    gpx = (b'<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
           b'<wpt lat="50.4108" lon="4.4440"><time>2026-10-25</time></wpt>'
           b'<wpt lat="50.4108" lon="4.4450"><time>2026-10-25T01:30:00</time></wpt></gpx>')
    day, naive = read_upload(gpx, "a.gpx", area=area)
    assert day.properties["observed_at"].isoformat() == "2026-10-25T00:00:00+02:00"
    assert naive.properties["observed_at"].isoformat() == "2026-10-25T01:30:00+00:00"  # <time> is UTC in GPX
    (csv,) = read_upload(b"lat;lon;network;date\n50,4108;4,4440;mobile;2026-10-25\n", "a.csv", area=area)
    assert csv.properties["observed_at"] == day.properties["observed_at"]


# --------------------------------------------------------------------------- query strings of writes

@pytest.mark.parametrize("query", ["?dry_run=true", "?reapir=true", "?validate_only=1"])
def test_a_write_refuses_a_query_parameter_it_does_not_take(db, representative, query) -> None:
    before = count_reports(db)
    response = _post(representative, _feature(), query)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["code"], body["where"]) == ("invalid_request", query[1:].split("=")[0])
    assert "crs, repair" in body["detail"]
    assert count_reports(db) == before


def test_an_edit_and_a_transition_refuse_an_unknown_query_parameter(db, representative) -> None:
    created = _post(representative, _feature(description="avant"))
    assert created.status_code == 201
    rid = created.get_json()["id"]
    revision = created.get_json()["properties"]["revision"]
    edited = representative.patch(f"/api/v1/reports/{rid}?bogus=1", json={"properties": {"description": "après"}},
                                  headers={"If-Match": f'"{revision}"'})
    assert (edited.status_code, edited.get_json()["code"], edited.get_json()["where"]) == (400, "invalid_request", "bogus")
    moved = representative.post(f"/api/v1/reports/{rid}/transitions?force=1", json={"status": "withdrawn"})
    assert (moved.status_code, moved.get_json()["where"]) == (400, "force")
    shown = representative.get(f"/api/v1/reports/{rid}").get_json()
    assert (shown["properties"]["description"], shown["properties"]["status"]) == ("avant", "submitted")


def test_the_declared_parameters_of_a_write_still_work(db, representative) -> None:
    response = _post(representative, {"type": "Feature", "properties": {"network": "mobile"},
                                      "geometry": {"type": "Point", "coordinates": [154100.0, 122100.0]}},
                     "?crs=EPSG:31370&repair=false")
    assert response.status_code == 201, response.get_json()


# --------------------------------------------------------------------------- 11. crs members

LAMBERT72_SQUARE = {"type": "Polygon", "coordinates": [[[154000.0, 122000.0], [154100.0, 122000.0],
                                                         [154100.0, 122100.0], [154000.0, 122100.0],
                                                         [154000.0, 122000.0]]]}
CRS_31370 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::31370"}}


def test_an_edit_reads_a_crs_member_as_a_new_report_does(db, representative) -> None:
    created = _post(representative, {**_feature(LAMBERT72_SQUARE), "crs": CRS_31370})
    assert created.status_code == 201, created.get_json()
    first = created.get_json()
    assert first["properties"]["area_m2"] == pytest.approx(10_000, rel=1e-6)
    moved = {**LAMBERT72_SQUARE, "coordinates": [[[x + 500, y] for x, y in LAMBERT72_SQUARE["coordinates"][0]]]}
    edited = representative.patch(f"/api/v1/reports/{first['id']}", json={"geometry": moved, "crs": CRS_31370},
                                  headers={"If-Match": created.headers["ETag"]})
    assert edited.status_code == 200, edited.get_json()
    after = edited.get_json()
    assert after["properties"]["area_m2"] == pytest.approx(10_000, rel=1e-6)
    # 500 m east in EPSG:31370: about 0.00703° of longitude at 50.4° N
    assert after["geometry"]["coordinates"][0][0][0] - first["geometry"]["coordinates"][0][0][0] == \
        pytest.approx(0.00703, abs=2e-5)
    # a crs member alone (no geometry) changes nothing: the stored geometry is EPSG:4326
    renamed = representative.patch(f"/api/v1/reports/{first['id']}",
                                   json={"crs": CRS_31370, "properties": {"description": "x"}},
                                   headers={"If-Match": edited.headers["ETag"]})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["geometry"] == after["geometry"]


def test_the_hint_for_a_wrong_crs_member_says_to_correct_it(db, representative) -> None:
    lambert2008 = {"type": "Point", "coordinates": [654100.0, 622100.0]}  # EPSG:3812, in Charleroi
    doc = {"type": "FeatureCollection", "crs": CRS_31370, "features": [_feature(lambert2008)]}
    response = upload_file(representative, json.dumps(doc).encode(), "zones.geojson", dry_run="true")
    assert response.status_code == 200, response.get_json()
    (entry,) = response.get_json()["features"]
    problem = entry["error"]
    assert (entry["status"], problem["code"], problem["hint"], problem["suggested_crs"]) == \
        ("refused", "outside_service_area", "looks_like_lambert2008", "EPSG:3812")
    assert "correct that declaration" in problem["detail"] and "send crs=" not in problem["detail"]


# --------------------------------------------------------------------------- 08/24. collections split

SQUARE = [[4.4021, 50.4305], [4.4051, 50.4305], [4.4051, 50.4325], [4.4021, 50.4325], [4.4021, 50.4305]]
BOWTIE = [[4.4021, 50.4305], [4.4051, 50.4325], [4.4051, 50.4305], [4.4021, 50.4325], [4.4021, 50.4305]]


def _collection(*members: dict, **properties) -> bytes:  # noqa: ANN003
    return json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "network": "mobile", **properties}, "geometry": {"type": "GeometryCollection", "geometries": list(members)}}]}
    ).encode()


def _households(db) -> int:  # noqa: ANN001
    from sqlalchemy import text
    return db.execute(text("SELECT coalesce(sum(households_affected), 0) FROM reports")).scalar_one()


def test_a_collection_split_counts_its_households_once_on_its_zone(db, representative) -> None:
    data = _collection({"type": "Point", "coordinates": [4.4036, 50.4315]},
                       {"type": "Polygon", "coordinates": [SQUARE]},
                       {"type": "LineString", "coordinates": [[4.4021, 50.4295], [4.4051, 50.4295]]},
                       households_affected=40, businesses_affected=3, description="one place")
    before = _households(db)
    response = upload_file(representative, data, "place.geojson")
    assert response.status_code == 201, response.get_json()
    entries = response.get_json()["features"]
    assert [e["status"] for e in entries] == ["accepted"] * 3
    got = [(e["geometry"]["type"], e["properties"].get("households_affected"),
            e["properties"].get("businesses_affected")) for e in entries]
    assert got == [("Point", None, None), ("Polygon", 40, 3), ("LineString", None, None)]
    splits = [next(w for w in e["warnings"] if w["code"] == "geometry_collection_split") for e in entries]
    assert [(w["member"], w["counts_member"]) for w in splits] == [(0, 1), (1, 1), (2, 1)]
    assert _households(db) - before == 40
    stats = representative.get("/api/v1/stats/communes").get_json()
    assert next(c for c in stats["communes"] if c["nis_code"] == "52011")["households_declared"] == 40


def test_a_kml_multigeometry_of_a_zone_and_its_point_counts_once(db, representative) -> None:
    ring = " ".join(f"{x},{y}" for x, y in SQUARE)
    kml = (f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Zone</name>'
           f'<ExtendedData><Data name="network"><value>mobile</value></Data><Data name="menages"><value>25</value>'
           f'</Data></ExtendedData><MultiGeometry><Point><coordinates>4.4036,50.4315</coordinates></Point>'
           f'<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs>'
           f'</Polygon></MultiGeometry></Placemark></Document></kml>').encode()
    before = _households(db)
    response = upload_file(representative, kml, "zone.kml")
    assert response.status_code == 201, response.get_json()
    got = sorted((e["geometry"]["type"], e["properties"].get("households_affected"))
                 for e in response.get_json()["features"])
    assert got == [("Point", None), ("Polygon", 25)]
    assert _households(db) - before == 25


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_a_collection_with_a_refused_member_is_stored_whole_or_not_at_all(db, representative, fmt) -> None:
    if fmt == "geojson":
        data = _collection({"type": "Polygon", "coordinates": [BOWTIE]},
                           {"type": "Point", "coordinates": [4.4036, 50.4315]}, households_affected=40)
    else:
        wkt = "GEOMETRYCOLLECTION(POLYGON((" + ",".join(f"{x} {y}" for x, y in BOWTIE) + ")),POINT(4.4036 50.4315))"
        data = f'wkt;network;households\n"{wkt}";mobile;40\n'.encode()
    before = count_reports(db)
    for dry_run in ("true", "false"):
        response = upload_file(representative, data, f"place.{fmt}", mode="valid_only", dry_run=dry_run)
        assert response.status_code in (200, 201), response.get_json()
        entries = response.get_json()["features"]
        assert [(e["status"], e["error"]["code"], e["error"]["member"]) for e in entries] == [
            ("refused", "self_intersection", 0), ("refused", "collection_member_refused", 1)]
        assert entries[1]["error"]["refused_members"] == [0]
        assert entries[1]["index"] == entries[0]["index"] == 0
    assert count_reports(db) == before


@pytest.mark.parametrize("fmt", ["geojson", "csv", "kml"])
def test_a_member_in_another_commune_is_named_as_a_member_refused_on_reading_is(db, representative, fmt) -> None:
    # refused when communes were assigned (after reading), the member in Chimay carried no
    # `member`, and its sibling said "member  of it is refused" with refused_members []
    here, chimay = (4.4440, 50.4108), (4.31, 50.05)
    if fmt == "geojson":
        data = _collection({"type": "Point", "coordinates": list(here)}, {"type": "Point", "coordinates": list(chimay)})
    elif fmt == "csv":
        data = f'wkt;network\n"GEOMETRYCOLLECTION(POINT({here[0]} {here[1]}),POINT({chimay[0]} {chimay[1]}))";mobile\n'.encode()
    else:  # (a MultiGeometry of one kind is one report: a zone and a point, two)
        x, y = here
        ring = " ".join(f"{a},{b}" for a, b in ((x, y), (x + 0.003, y), (x + 0.003, y + 0.002), (x, y)))
        data = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                f'<Placemark><name>deux</name><MultiGeometry><Polygon><outerBoundaryIs><LinearRing><coordinates>'
                f'{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon>'
                f'<Point><coordinates>{chimay[0]},{chimay[1]}</coordinates></Point></MultiGeometry>'
                '</Placemark></Document></kml>').encode()
    before = count_reports(db)
    for dry_run in ("true", "false"):
        response = upload_file(representative, data, f"place.{fmt}", mode="valid_only", dry_run=dry_run,
                               network="mobile")
        assert response.status_code in (200, 201), response.get_json()
        entries = sorted(response.get_json()["features"], key=lambda e: e["error"]["member"])
        assert [(e["status"], e["error"]["code"], e["error"]["member"]) for e in entries] == [
            ("refused", "collection_member_refused", 0), ("refused", "not_your_commune", 1)]
        assert entries[0]["error"]["refused_members"] == [1]
        assert "member 1 of it is refused" in entries[0]["error"]["detail"]
    assert count_reports(db) == before


# --------------------------------------------------------------------------- 22. line ends mixed

@pytest.mark.parametrize("ends", [("\r\n", "\r\n", "\r", "\r\n"), ("\n", "\r", "\n", "\r"), ("\r", "\r\n", "\n", "")])
def test_a_csv_mixing_lone_crs_with_other_line_ends_reads_every_row(area, ends) -> None:
    lines = ["lat;lon;network;description", "50,4135;4,44;mobile;a", '50,4140;4,44;mobile;"b;c"', "50,4145;4,44;mobile;d"]
    data = "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()
    items = read_upload(data, "a.csv", area=area)
    assert [i.properties["description"] for i in items] == ["a", "b;c", "d"]
    assert [source_row(i) for i in items] == [2, 3, 4]


# --------------------------------------------------------------------------- a refusal shows nothing

@pytest.mark.parametrize(("path", "form"), [
    ("/utilisateurs/inviter", {"email": "x@evil.example", "role": "representative", "commune": "52011"}),
    ("/utilisateurs", None),
])
def test_a_representative_refused_the_accounts_pages_sees_no_account(client, db, representative, path, form) -> None:
    from tests.conftest import csrf_token
    representative.login()
    if form is not None:
        form = {**form, "csrf_token": csrf_token(client.get("/compte").get_data(as_text=True))}
        response = client.post(path, data=form)
    else:
        response = client.get(path)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "@" not in page.replace(representative.email, "")  # no account's e-mail, not even the new one
    from sqlalchemy import text
    assert db.execute(text("SELECT count(*) FROM users WHERE email = 'x@evil.example'")).scalar_one() == 0


def test_the_user_rules_are_applied_before_any_view(app, client, db, representative, referent,  # noqa: ANN001
                                                    monkeypatch) -> None:
    """Every endpoint whose rule depends on the user alone is refused before its view runs: a
    representative reaches none of the referent's, a referent none of the filing ones — each
    endpoint called with each of its methods (the API by token, the session-only pages signed in
    with the form's CSRF token), its view replaced by one that records a call: 403, never run."""
    import re

    from sqlalchemy import select

    from geosignal import policy
    from geosignal.models import User
    from tests.conftest import csrf_token

    rules = [r for r in app.url_map.iter_rules() if policy.ROUTE_RULES.get(r.endpoint) in policy.USER_RULES]
    assert {"account.invite_user", "account.users_page", "exports.export_dwconnect", "api.audit_log",
            "imports.post_import"} <= {r.endpoint for r in rules}
    ran: list[str] = []
    for endpoint in {r.endpoint for r in rules}:
        monkeypatch.setitem(app.view_functions, endpoint, lambda *_a, _e=endpoint, **_k: ran.append(_e) or "ran")
    users = {a.email: db.scalar(select(User).where(User.email == a.email)) for a in (representative, referent)}
    tried = 0
    for account in (representative, referent):
        account.login()
        token = csrf_token(client.get("/compte").get_data(as_text=True))
        for rule in rules:
            if policy.refusal_before_view(rule.endpoint, users[account.email]) is None:
                continue  # this rule lets this user through
            path = re.sub(r"<int[^:>]*:[^>]+>", "1", rule.rule)
            path = re.sub(r"<[^>]+>", "00000000-0000-4000-8000-000000000001", path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                by_token = policy.token_reaches(rule.endpoint)
                response = client.open(path, method=method, headers=account.headers if by_token else {},
                                       data=None if by_token or method == "GET" else {"csrf_token": token})
                assert response.status_code == 403, (method, path, account.email, response.status_code)
                tried += 1
        client.get("/logout")
    assert ran == [] and tried >= 20, (ran, tried)


# --------------------------------------------------------------------------- 01. a repair bounded

def _star(n: int, r: float = 0.01, cx: float = 4.444, cy: float = 50.411) -> dict:
    import math
    k = n // 2 - 1
    ring = [[cx + r * math.cos(2 * math.pi * i * k / n), cy + r * math.sin(2 * math.pi * i * k / n)] for i in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_a_polygon_too_tangled_to_repair_is_refused_at_once(db, representative) -> None:
    before = count_reports(db)
    # (make_valid alone took over 30 s on it: the web worker was killed, the client got no answer)
    response = _post(representative, _feature(_star(1501)), "?repair=true")
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["kind"], body["where"]) == ("self_intersection", "too_tangled_to_repair", "/geometry")
    assert count_reports(db) == before


def test_a_star_of_a_few_hundred_edges_is_still_repaired(db, representative) -> None:
    response = _post(representative, _feature(_star(201)), "?repair=true")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["intake"]["repair"]["method"] == "make_valid/structure"


# --------------------------------------------------------------------------- 22. headers as phrases

@pytest.mark.parametrize(("header", "name"), [
    ("Date du constat", "observed_at"), ("Date d'observation", "observed_at"), ("Date de l’observation", "observed_at"),
    ("Nombre de ménages", "households_affected"), ("Nombre d'entreprises", "businesses_affected"),
    ("Aantal huishoudens", "households_affected"), ("Type de réseau", "network"),
])
def test_a_header_written_as_a_phrase_is_read(header, name) -> None:
    from geosignal.services.intake.properties import match_header
    assert match_header(header) == name


def test_a_phrase_header_s_dates_are_read_in_a_csv(area) -> None:
    (item,) = read_upload(b"lat;lon;network;Date du constat\n50,4108;4,4440;mobile;01/02/2026\n", "a.csv",
                          area=area)
    assert item.properties["observed_at"].isoformat() == "2026-02-01T00:00:00+01:00"


# --------------------------------------------------------------------------- NaN in a collection's own members

@pytest.mark.parametrize(("head", "where"), [
    ('"meta":{"x":-Infinity},', "/meta/x"),
    ('"crs":{"type":"name","properties":{"name":"EPSG:4326","x":NaN}},', "/crs/properties/x"),
])
def test_nan_in_a_collection_s_own_member_refuses_the_file(db, representative, head: str, where: str) -> None:  # noqa: ANN001
    """A NaN or an Infinity in a FeatureCollection's foreign member or its ``crs`` was read past
    and the file saved (one report), where the same number in a feature's foreign member, or in
    the collection's ``bbox``, is refused: 422 ``non_finite_number`` at its pointer, in the
    preview and the save, nothing stored."""
    place = '{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},"properties":{}}'
    data = ('{"type":"FeatureCollection",' + head + '"features":[' + place + "]}").encode()
    before = count_reports(db)
    for answer in (upload_file(representative, data, "a.geojson", network="mobile", dry_run="true"),
                   upload_file(representative, data, "a.geojson", network="mobile")):
        body = answer.get_json()
        assert (answer.status_code, body["code"], body["where"]) == (422, "non_finite_number", where), body
    assert count_reports(db) == before


# --------------------------------------------------------------------------- a MultiPoint's point far out

_HERE, _SWAPPED = [4.4440, 50.4108], [50.4108, 4.4450]  # the second [lat, lon]: off Somalia


def test_a_multipoint_s_point_far_out_is_named_with_its_hint_by_the_api(db, representative) -> None:  # noqa: ANN001
    """A point of a MultiPoint beyond the 1 km margin (its axes swapped) was refused « extends
    more than 1000 m beyond the communes » at /geometry: no point named, no swap said, where a
    point 500 m out is named and a lone swapped point gets the hint."""
    before = count_reports(db)
    answer = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                 "geometry": {"type": "MultiPoint", "coordinates": [_HERE, _SWAPPED]}})
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["where"], body.get("hint")) == (
        422, "outside_service_area", "/geometry/coordinates/1", "axes_swapped"), body
    assert count_reports(db) == before


@pytest.mark.parametrize("fmt", ["geojson", "kml", "csv"])
def test_a_multipoint_s_point_far_out_is_named_with_its_hint_in_an_upload(db, representative, fmt: str) -> None:  # noqa: ANN001
    (a, b), (c, d) = _HERE, _SWAPPED
    data = {
        "geojson": json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {}, "geometry": {"type": "MultiPoint", "coordinates": [_HERE, _SWAPPED]}}]}),
        "kml": ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                f"<Placemark><name>x</name><MultiGeometry><Point><coordinates>{a},{b}</coordinates></Point>"
                f"<Point><coordinates>{c},{d}</coordinates></Point></MultiGeometry></Placemark></Document></kml>"),
        "csv": f'wkt\r\n"MULTIPOINT(({a} {b}),({c} {d}))"\r\n',
    }[fmt].encode()
    (feature,) = upload_file(representative, data, f"a.{fmt}", network="mobile", dry_run="true").get_json()["features"]
    assert (feature["error"]["code"], feature["error"].get("hint")) == ("outside_service_area", "axes_swapped"), feature


# --------------------------------------------------------------------------- a multi-part shape's part far out

def _square(lon: float, lat: float, d: float = 0.002) -> list[list[list[float]]]:
    return [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]


def _swapped(ring: list[list[list[float]]]) -> list[list[list[float]]]:
    return [[[lat, lon] for lon, lat in r] for r in ring]


#: A MultiPolygon: a part in Charleroi, a part [lat, lon] (off Somalia)
_FAR_PART = [_square(4.4440, 50.4108), _swapped(_square(4.4440, 50.4108))]


def test_a_multipolygon_s_part_far_out_is_named_with_its_hint_by_the_api(db, representative) -> None:  # noqa: ANN001
    """A part of a MultiPolygon lying apart from the communes (its axes swapped) was refused
    « extends more than 1000 m beyond the communes » at /geometry, no part named, no swap said:
    the part is named, with the hint a zone lying outside gets."""
    before = count_reports(db)
    answer = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                 "geometry": {"type": "MultiPolygon", "coordinates": _FAR_PART}})
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["where"], body.get("hint"),
            body.get("swapped_commune", {}).get("nis_code")) == (
        422, "outside_service_area", "/geometry/coordinates/1", "axes_swapped", "52011"), body
    assert body["detail"].startswith("Part 2 of the MultiPolygon lies outside the communes served"), body
    assert (body["kind"], body["part_number"]) == ("shape_part_apart", 2), body
    assert count_reports(db) == before


def test_a_shape_s_part_far_out_is_named_on_the_pages(app, db, representative) -> None:  # noqa: ANN001
    """The pages say which part (or point) of the shape is out, in the person's language,
    then the hint's sentence when there is one."""
    cases = {
        "MultiPolygon": _FAR_PART,
        "MultiPoint": [[4.4440, 50.4108], [50.4108, 4.4450]],
        "MultiLineString": [[[4.4440, 50.4108], [4.4460, 50.4120]], [[4.4455, 49.9376], [4.4455, 49.9000]]],
    }
    said = {}
    for kind, coords in cases.items():
        body = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                   "geometry": {"type": kind, "coordinates": coords}}).get_json()
        said[kind] = said_in_each_language(app, body)
    assert said["MultiPolygon"]["fr"] == (
        "Partie 2 de la forme : elle ne tombe dans aucune commune desservie. Les deux coordonnées semblent "
        "inversées : dans l'autre ordre, ce lieu serait à Charleroi. Vérifiez l'ordre (longitude puis latitude, ou "
        "les colonnes) ; rien n'a été inversé."), said
    assert said["MultiPoint"]["fr"].startswith(
        "Point 2 de la forme : il ne tombe dans aucune commune desservie. Les deux coordonnées semblent inversées"), said
    assert said["MultiLineString"] == {
        "fr": "Partie 2 de la forme : elle s'étend trop loin hors des communes desservies. Vérifiez ses coordonnées "
              "ou retirez-la.",
        "nl": "Deel 2 van de vorm: het reikt te ver buiten de bediende gemeenten. Controleer de coördinaten ervan "
              "of verwijder het.",
        "en": "Part 2 of the shape: it reaches too far outside the communes served. Check its coordinates or "
              "remove it."}, said
    assert said["MultiPolygon"]["en"].startswith("Part 2 of the shape: it lies in none of the communes served. "), said


def test_a_multilinestring_s_part_reaching_far_is_named_by_the_api(db, representative) -> None:  # noqa: ANN001
    """A MultiLineString whose third part starts at Couvin's southmost tip and runs 4 km south,
    is refused at that part (it touches a commune: no hint), not at /geometry."""
    before = count_reports(db)
    lines = [[[4.4440, 50.4108], [4.4460, 50.4120]], [[4.4500, 50.4100], [4.4520, 50.4110]],
             [[4.4455, 49.9376], [4.4455, 49.9000]]]
    answer = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                 "geometry": {"type": "MultiLineString", "coordinates": lines}})
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["where"], body.get("hint")) == (
        422, "outside_service_area", "/geometry/coordinates/2", None), body
    assert body["detail"] == "Part 3 of the MultiLineString extends more than 1000 m beyond the communes served.", body
    assert (body["kind"], body["part_number"], body["margin_m"]) == ("shape_part_beyond", 3, 1000.0), body
    assert count_reports(db) == before


@pytest.mark.parametrize("fmt", ["geojson", "kml", "csv"])
def test_a_multipolygon_s_part_far_out_is_named_with_its_hint_in_an_upload(db, representative, fmt: str) -> None:  # noqa: ANN001
    """The same in a file: GeoJSON, a KML MultiGeometry and a CSV WKT cell."""
    (here,), (there,) = _FAR_PART

    def kml_ring(ring: list[list[float]]) -> str:
        return " ".join(f"{x},{y}" for x, y in ring)

    def wkt_ring(ring: list[list[float]]) -> str:
        return ", ".join(f"{x} {y}" for x, y in ring)

    data = {
        "geojson": json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {}, "geometry": {"type": "MultiPolygon", "coordinates": _FAR_PART}}]}),
        "kml": ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                "<Placemark><name>x</name><MultiGeometry>"
                + "".join(f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{kml_ring(r)}</coordinates>"
                          "</LinearRing></outerBoundaryIs></Polygon>" for r in (here, there))
                + "</MultiGeometry></Placemark></Document></kml>"),
        "csv": f'wkt\r\n"MULTIPOLYGON((({wkt_ring(here)})),(({wkt_ring(there)})))"\r\n',
    }[fmt].encode()
    before = count_reports(db)
    (feature,) = upload_file(representative, data, f"a.{fmt}", network="mobile", dry_run="true").get_json()["features"]
    assert (feature["error"]["code"], feature["error"].get("hint")) == ("outside_service_area", "axes_swapped"), feature
    assert "Part 2 of the MultiPolygon lies outside" in feature["error"]["detail"], feature
    assert count_reports(db) == before
