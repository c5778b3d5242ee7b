"""Faults a second adversarial look found (each answered 500, or stored something else than
what was sent, before): a repair of a MultiPolygon, a zone valid as drawn but not in EPSG:31370,
a radius patched alone, a KML in UTF-8 declaring another encoding, GeoPackage text holding a
NUL, a CRS patched without coordinates, typed WKT that is no GeoJSON geometry. Each is a kind:
the test names the kind and checks the exact answer, and that nothing is half-stored."""

from __future__ import annotations

import json
import math
import sqlite3
import urllib.parse

import geopandas as gpd
from shapely.geometry import Point

from tests.factories import (
    CHARLEROI_LAMBERT72,
    count_reports,
    feature,
    square_lambert,
    to_geojson_4326,
    upload_file,
)


def _overlapping_squares() -> dict:
    """A MultiPolygon of two 200 m squares overlapping by half (invalid): 60,000 m² repaired."""
    x, y = CHARLEROI_LAMBERT72
    a = to_geojson_4326(square_lambert(x, y, 200))["coordinates"]
    b = to_geojson_4326(square_lambert(x + 100, y, 200))["coordinates"]
    return {"type": "MultiPolygon", "coordinates": [a, b]}


def test_a_repair_of_an_invalid_multipolygon_keeps_every_part(representative, db) -> None:  # noqa: ANN001
    """The repair's check of how tangled a shape is read no ring of a MultiPolygon (a 500 for
    every multi-part repair, in the API and in every upload format): it is repaired, both
    squares kept (60,000 m² within 1 m², the naive area 80,000 m² said), in the preview and the
    save of a file as in the API and an edit."""
    before = count_reports(db)
    r = representative.post("/api/v1/reports?repair=true", json=feature(_overlapping_squares()))
    assert r.status_code == 201, r.get_json()
    repair = r.get_json()["intake"]["repair"]
    assert repair["method"] == "make_valid/structure"
    assert abs(repair["area_after_m2"] - 60_000) < 1 and abs(repair["area_before_m2"] - 80_000) < 1
    assert abs(r.get_json()["properties"]["area_m2"] - 60_000) < 1
    fc = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": _overlapping_squares(), "properties": {}}]}).encode()
    preview = upload_file(representative, fc, "zones.geojson", network="mobile", repair="true", dry_run="true")
    assert preview.status_code == 200 and [f["status"] for f in preview.get_json()["features"]] == ["accepted"]
    saved = upload_file(representative, fc, "zones.geojson", network="mobile", repair="true", mode="all")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 1
    point = representative.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [4.444, 50.4108]}))
    edited = representative.patch(f"/api/v1/reports/{point.get_json()['id']}?repair=true",
                                  json={"geometry": _overlapping_squares()}, headers={"If-Match": point.headers["ETag"]})
    assert edited.status_code == 200 and abs(edited.get_json()["properties"]["area_m2"] - 60_000) < 1
    assert count_reports(db) == before + 3


SHELL = [[4.440, 50.410], [4.446, 50.410], [4.446, 50.416], [4.440, 50.416], [4.440, 50.410]]
#: A hole whose first vertex lies on the outline's south edge (not at one of its vertices), as
#: snapping in QGIS draws it: valid in EPSG:4326, crossing the edge by nanometres in EPSG:31370.
HOLE_ON_THE_SOUTH_EDGE = [[4.443, 50.410], [4.444, 50.412], [4.442, 50.412], [4.443, 50.410]]
HOLE_ON_THE_EAST_EDGE = [[4.446, 50.413], [4.445, 50.414], [4.445, 50.412], [4.446, 50.413]]


def test_a_zone_valid_as_drawn_but_not_in_lambert72_is_refused_where_it_touches(representative, db) -> None:  # noqa: ANN001
    """The figures cut and union zones in EPSG:31370: a zone whose rings touch on an edge there
    crossed, and the figures' trigger failed (500; an upload's preview said « accepted » and its
    save 500), or it was stored invalid where the figures are made. Refused, the place of the
    touch given, in the API, the preview and the save alike; nothing stored."""
    before = count_reports(db)
    for hole, at in ((HOLE_ON_THE_SOUTH_EDGE, [4.443, 50.41]), (HOLE_ON_THE_EAST_EDGE, [4.446, 50.413])):
        geom = {"type": "Polygon", "coordinates": [SHELL, hole]}
        r = representative.post("/api/v1/reports", json=feature(geom))
        body = r.get_json()
        assert (r.status_code, body["code"], body["kind"], body["where"]) == (
            422, "self_intersection", "invalid_in_epsg31370", "/geometry"), body
        assert body["location"] == at
        assert body["message"].startswith("Deux contours de cette zone se touchent au milieu d'un côté")
        fc = json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": geom, "properties": {}}]}).encode()
        preview = upload_file(representative, fc, "z.geojson", network="mobile", dry_run="true")
        (entry,) = preview.get_json()["features"]
        assert (entry["status"], entry["error"]["code"], entry["error"]["kind"]) == (
            "refused", "self_intersection", "invalid_in_epsg31370")
        saved = upload_file(representative, fc, "z.geojson", network="mobile", mode="all")
        assert (saved.status_code, saved.get_json()["code"]) == (422, "import_rejected")
    assert count_reports(db) == before


def test_a_radius_patched_alone_makes_the_stored_point_a_circle(representative, db) -> None:  # noqa: ANN001
    """A radius sent without a geometry was announced (« the circle of radius 50 m became a
    polygon ») and dropped: the point stayed. It makes the stored point a circle of that radius
    (π·50² m² within 1 %), as sent with the point."""
    r = representative.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [4.444, 50.4108]}))
    rid, etag = r.get_json()["id"], r.headers["ETag"]
    p = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"radius": 50}}, headers={"If-Match": etag})
    assert p.status_code == 200, p.get_json()
    assert [w["code"] for w in p.get_json()["intake"]["warnings"]] == ["circle_to_polygon"]
    stored = representative.get(f"/api/v1/reports/{rid}").get_json()
    assert stored["geometry"]["type"] == "Polygon"
    assert abs(stored["properties"]["area_m2"] - math.pi * 50 ** 2) < 0.01 * math.pi * 50 ** 2


def _kml(declared: bytes, name: bytes) -> bytes:
    return (b'<?xml version="1.0" encoding="' + declared + b'"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
            b"<Document><Placemark><name>" + name + b"</name><Point><coordinates>4.444,50.4108</coordinates>"
            b"</Point></Placemark></Document></kml>")


def test_an_xml_file_in_utf8_declaring_another_encoding_is_refused_not_garbled(representative, db) -> None:  # noqa: ANN001
    """A KML or GPX saved in UTF-8 under a declaration naming ISO-8859-1 or Windows-1252 was read
    as declared: « Église près » stored « Ã‰glise prÃ¨s », without a word (the same bytes in a
    dBase file are refused). Refused whole, naming the encoding and the line; the same text
    really in Windows-1252 is read as declared."""
    for declared in (b"ISO-8859-1", b"windows-1252"):
        before = count_reports(db)
        r = upload_file(representative, _kml(declared, "Église près".encode()), "a.kml",
                        network="mobile", mode="all")
        body = r.get_json()
        assert (r.status_code, body["code"], body["kind"], body["line"]) == (
            422, "undecidable_encoding", "xml_declared", 2), body
        assert count_reports(db) == before
    gpx = ('<?xml version="1.0" encoding="windows-1252"?>\n<gpx version="1.1" creator="t" '
           'xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="50.4108" lon="4.444"><name>Église</name></wpt></gpx>')
    r = upload_file(representative, gpx.encode("utf-8"), "a.gpx", network="mobile", dry_run="true")
    assert (r.status_code, r.get_json()["code"], r.get_json()["encoding"]) == (422, "undecidable_encoding", "cp1252")
    r = upload_file(representative, _kml(b"windows-1252", "Église près".encode("cp1252")), "b.kml",
                    network="mobile", dry_run="true")
    assert r.status_code == 200 and r.get_json()["features"][0]["properties"]["description"] == "Église près"


def test_geopackage_text_holding_a_nul_is_dropped_with_a_warning_not_cut(representative, db, tmp_path) -> None:  # noqa: ANN001
    """GDAL cuts GeoPackage text at a NUL: « Rue de la Gare\\0près de l'église » was read « Rue de
    la Gare », the rest lost without a word. Read as SQLite stores it, the text rules drop it
    with a warning naming the character, as in CSV and GeoJSON; the report is kept."""
    path = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"description": ["x"]}, geometry=[Point(4.444, 50.4108)], crs="EPSG:4326").to_file(
        path, driver="GPKG", layer="zones", engine="pyogrio")
    con = sqlite3.connect(path)
    for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{trigger}"')  # (the rtree triggers call ST_IsEmpty, unknown to sqlite3)
    con.execute("UPDATE zones SET description = 'Rue de la Gare' || char(0) || 'près de l''église'")
    con.commit()
    con.close()
    r = upload_file(representative, path.read_bytes(), "z.gpkg", network="mobile", dry_run="true")
    (f,) = r.get_json()["features"]
    assert (f["status"], f["properties"]["description"]) == ("accepted", "")
    (warning,) = f["warnings"]
    assert warning["code"] == "attribute_dropped" and "U+0000" in warning["detail"], warning


def test_a_crs_patched_without_coordinates_is_checked_as_a_post_checks_it(representative, db) -> None:  # noqa: ANN001
    """An edit of attributes only ignored ``crs`` (a parameter or a member) whatever it said;
    POST answers 422 ``unsupported_crs`` for the same. Checked the same way, used for nothing:
    the stored coordinates are EPSG:4326."""
    r = representative.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [4.444, 50.4108]}))
    rid, etag = r.get_json()["id"], r.headers["ETag"]
    p = representative.patch(f"/api/v1/reports/{rid}?crs=garbage", json={"properties": {"description": "x"}},
                             headers={"If-Match": etag})
    assert (p.status_code, p.get_json()["code"], p.get_json()["where"]) == (422, "unsupported_crs", "crs")
    p = representative.patch(f"/api/v1/reports/{rid}", json={"properties": {"description": "x"}, "crs": "garbage"},
                             headers={"If-Match": etag})
    assert (p.status_code, p.get_json()["code"], p.get_json()["where"]) == (422, "unsupported_crs", "/crs")
    p = representative.patch(f"/api/v1/reports/{rid}?crs=EPSG:31370", json={"properties": {"description": "x"}},
                             headers={"If-Match": etag})
    assert p.status_code == 200 and p.get_json()["geometry"]["coordinates"] == [4.444, 50.4108]


def test_typed_wkt_that_is_no_geojson_geometry_is_refused(representative) -> None:  # noqa: ANN001
    """``GET /api/v1/coordinates`` answered 200 with a one-position LineString and a
    three-position ring (no RFC 7946 geometries, which the map then drew): refused as the
    intake refuses them."""
    for wkt, code, extra in (("LINESTRING(4.444 50.4108)", "line_too_short", {"count": 1}),
                             ("POLYGON((4.444 50.4108, 4.445 50.4108, 4.444 50.4108))", "ring_too_short",
                              {"ring": 1, "count": 3})):
        r = representative.get("/api/v1/coordinates?q=" + urllib.parse.quote(wkt))
        body = r.get_json()
        assert (r.status_code, body["code"], body["kind"], body["where"]) == (422, code, "typed_wkt", "coordinates")
        assert {k: body[k] for k in extra} == extra


def test_a_file_posted_as_the_body_of_an_upload_is_a_415(representative, db) -> None:  # noqa: ANN001
    """A GeoJSON posted to ``/api/v1/imports`` as ``application/json`` (not as a form's file) got
    400 « send the file as multipart field 'file' »: the media type is what is wrong (415,
    ``unsupported_media_type``), and nothing is stored; a form without its file is still 400
    ``no_file``."""
    before = count_reports(db)
    fc = {"type": "FeatureCollection", "features": [feature({"type": "Point", "coordinates": [4.444, 50.4108]})]}
    r = representative.post("/api/v1/imports", json=fc)
    body = r.get_json()
    assert (r.status_code, body["code"], body["where"], body["media_type"]) == (
        415, "unsupported_media_type", "file", "application/json")
    r = representative.post("/api/v1/imports", data={"network": "mobile"}, content_type="multipart/form-data")
    assert (r.status_code, r.get_json()["kind"]) == (400, "no_file")
    assert count_reports(db) == before
