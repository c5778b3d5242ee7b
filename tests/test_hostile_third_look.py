"""Variants of the handed cases' kinds found by a third trial of new inputs (an empty member of
a multi-geometry GDAL read, a point of a MultiPoint outside the communes, KML root features,
file names the command line stored, numbers too large for a double, typed coordinates in the
wrong order, the territory's edges): the same input gives the same code on every path, nothing
is half-stored, never a 500 or a traceback.

With the real communes (4.444, 50.4108 is in Charleroi), the real app and PostGIS."""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import threading

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from sqlalchemy import text as sa_text

from geosignal.cli import main
from tests.conftest import COMMUNES_FILE
from tests.factories import count_reports, upload_file
from tests.test_hostile_formats import shapefile_members

NAN = float("nan")


def _wkb_point(x: float, y: float) -> bytes:
    return struct.pack("<BI2d", 1, 1, x, y)


def _gpkg_with_an_empty_point() -> bytes:
    """Two rows: a MultiPoint of a point in Charleroi and ``POINT EMPTY`` (NaN NaN, as GDAL
    writes it), then a point in Charleroi."""
    multipoint = struct.pack("<BII", 1, 4, 2) + _wkb_point(4.444, 50.4108) + _wkb_point(NAN, NAN)
    path = os.path.join(tempfile.mkdtemp(), "z.gpkg")
    pyogrio.raw.write(path, np.array([multipoint, _wkb_point(4.444, 50.4108)], dtype=object),
                      field_data=[np.array(["mobile", "mobile"], dtype=object)], fields=["network"],
                      geometry_type="Unknown", crs="EPSG:4326", driver="GPKG")
    with open(path, "rb") as file:
        return file.read()


def _shapefile_multipoint(points: list[tuple[float, float]]) -> bytes:
    """A zipped MultiPoint Shapefile (type 8) of one record, one C field ``network``."""
    xs, ys = [p[0] for p in points if p[0] == p[0]], [p[1] for p in points if p[1] == p[1]]
    body = struct.pack("<i4di", 8, min(xs), min(ys), max(xs), max(ys), len(points)) + b"".join(
        struct.pack("<2d", *p) for p in points)
    record = struct.pack(">ii", 1, len(body) // 2) + body

    def header(size: int) -> bytes:
        return (struct.pack(">i", 9994) + b"\0" * 20 + struct.pack(">i", size // 2) + struct.pack("<ii", 1000, 8)
                + struct.pack("<8d", 4, 50, 5, 51, 0, 0, 0, 0))

    field = b"network".ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([10, 0]) + b"\0" * 14
    dbf = (struct.pack("<BBBBIHH", 3, 125, 1, 1, 1, 65, 11) + b"\0" * 20 + field + b"\r" + b" "
           + b"mobile".ljust(10) + b"\x1a")
    return shapefile_members({".shp": header(100 + len(record)) + record,
                              ".shx": header(108) + struct.pack(">ii", 50, len(body) // 2), ".dbf": dbf})


EMPTY_MEMBER = {"code": "invalid_coordinate", "pointer": "/geometry/coordinates/1"}


def test_a_geopackage_multipoint_with_an_empty_point_refuses_that_feature_as_geojson_does(db, representative) -> None:  # noqa: ANN001
    """GeoJSON ``[[4.444, 50.4108], []]`` and WKT ``MULTIPOINT ((4.444 50.4108), EMPTY)`` are
    refused at the empty member; the same shape read by GDAL was a 500 (shapely's mapping)."""
    before = count_reports(db)
    preview = upload_file(representative, _gpkg_with_an_empty_point(), "points.gpkg", network="mobile",
                          dry_run="true", mode="valid_only")
    assert preview.status_code == 200, preview.get_data(as_text=True)[:300]
    first, second = preview.get_json()["features"]
    assert first["status"] == "refused"
    assert {k: first["error"][k] for k in EMPTY_MEMBER} == EMPTY_MEMBER
    assert second["status"] == "accepted"
    same = representative.post("/api/v1/reports", json={
        "type": "Feature", "properties": {"network": "mobile"},
        "geometry": {"type": "MultiPoint", "coordinates": [[4.444, 50.4108], []]}})
    assert (same.status_code, same.get_json()["code"], same.get_json()["where"]) == (
        422, "invalid_coordinate", "/geometry/coordinates/1")
    saved = upload_file(representative, _gpkg_with_an_empty_point(), "points.gpkg", network="mobile",
                        mode="valid_only")
    assert saved.status_code == 201 and count_reports(db) == before + 1


def test_a_shapefile_multipoint_with_a_nan_point_is_refused_not_a_500(db, representative) -> None:  # noqa: ANN001
    before = count_reports(db)
    preview = upload_file(representative, _shapefile_multipoint([(4.444, 50.4108), (NAN, NAN)]), "points.zip",
                          network="mobile", dry_run="true")
    assert preview.status_code == 200, preview.get_data(as_text=True)[:300]
    (only,) = preview.get_json()["features"]
    assert only["status"] == "refused"
    assert {k: only["error"][k] for k in EMPTY_MEMBER} == EMPTY_MEMBER
    assert count_reports(db) == before


def test_the_command_line_says_that_feature_on_one_line(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "points.gpkg"
    path.write_bytes(_gpkg_with_an_empty_point())
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run",
                                                "--network", "mobile"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "feature 0: invalid_coordinate" in result.output


# ---------------------------------------------------------------- where a report lies

IN_WALCOURT = [4.368122192308234, 50.26973304222441]
BEYOND_THE_WEST_EDGE = [4.041907517705006, 50.34594848465298]  # 499.5 m outside the 30 communes


def test_each_point_of_a_multipoint_lies_in_a_commune_as_a_point_does(db, admin) -> None:  # noqa: ANN001
    """A point 500 m outside the communes is refused alone; as the second point of a MultiPoint
    (API, a KML MultiGeometry of points, a CSV WKT cell) it was stored, under the 1 km margin
    of lines and zones. Refused at that point, with nothing stored."""
    before = count_reports(db)
    alone = admin.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                                "geometry": {"type": "Point", "coordinates": BEYOND_THE_WEST_EDGE}})
    assert (alone.status_code, alone.get_json()["code"]) == (422, "outside_service_area")
    both = admin.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"}, "geometry": {
        "type": "MultiPoint", "coordinates": [IN_WALCOURT, BEYOND_THE_WEST_EDGE]}})
    assert both.status_code == 422, both.get_json()
    assert (both.get_json()["code"], both.get_json()["where"]) == ("outside_service_area", "/geometry/coordinates/1")
    assert "Point 2 of the MultiPoint" in both.get_json()["detail"]
    inside = admin.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"}, "geometry": {
        "type": "MultiPoint", "coordinates": [IN_WALCOURT, [4.444, 50.4108]]}})
    assert inside.status_code == 201, inside.get_json()

    def point(q: list[float]) -> str:
        return f"<Point><coordinates>{q[0]},{q[1]}</coordinates></Point>"

    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
           f"<name>x</name><MultiGeometry>{point(IN_WALCOURT)}{point(BEYOND_THE_WEST_EDGE)}</MultiGeometry>"
           "</Placemark></Document></kml>").encode()
    (a, b), (c, d) = IN_WALCOURT, BEYOND_THE_WEST_EDGE
    csv = f"wkt;reseau\r\nMULTIPOINT (({a} {b}), ({c} {d}));mobile\r\n".encode()
    for data, name in ((kml, "a.kml"), (csv, "a.csv")):
        (feature,) = upload_file(admin, data, name, network="mobile", dry_run="true").get_json()["features"]
        assert (feature["status"], feature["error"]["code"]) == ("refused", "outside_service_area"), (name, feature)
    assert count_reports(db) == before + 1


def _point_inside_couvin_near_its_south_edge(db, metres: float) -> tuple[float, float]:  # noqa: ANN001
    """A point ``metres`` inside Couvin (93014), at the middle of a 2.6 km edge of its boundary
    that is also the territory's (between two of its vertices), measured in EPSG:31370."""
    from sqlalchemy import text

    (x, y), (qx, qy) = (4.481187, 49.948087), (4.448971, 49.938124)
    mx, my = (x + qx) / 2, (y + qy) / 2
    k = np.cos(np.radians(my))
    nx, ny = -(qy - y) / k, (qx - x) * k
    step = metres / 111_320 / np.hypot(nx * k, ny)
    for side in (1, -1):
        px, py = mx + side * nx * step, my + side * ny * step
        inside = db.execute(text(
            "SELECT ST_Distance(ST_Transform(ST_Boundary(boundary), 31370), ST_Transform(g, 31370)) FROM communes, "
            "(SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) g) q WHERE nis_code = '93014' AND ST_Within(g, boundary)"),
            {"x": px, "y": py}).scalar()
        if inside is not None:
            assert inside > metres * 0.6, inside
            return float(px), float(py)
    raise AssertionError("the edge is no longer Couvin's")


@pytest.mark.parametrize("metres", [0.05, 0.10])
def test_a_point_centimetres_inside_a_long_edge_of_the_territory_is_in_its_commune(db, admin, metres) -> None:  # noqa: ANN001
    """The territory's edges are straight in EPSG:4326 (where a point's commune is chosen) and
    bowed in EPSG:31370 (where the service area was checked): a point 5-10 cm inside Couvin's
    2.6 km edge, said Couvin by /api/v1/coordinates, was refused as outside the communes."""
    x, y = _point_inside_couvin_near_its_south_edge(db, metres)
    assert admin.get(f"/api/v1/coordinates?q={y!r}, {x!r}").get_json()["commune"]["nis_code"] == "93014"
    posted = admin.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                                 "geometry": {"type": "Point", "coordinates": [x, y]}})
    assert posted.status_code == 201, posted.get_json()
    assert posted.get_json()["properties"]["commune_nis"] == "93014"
    (row,) = upload_file(admin, f"latitude;longitude;reseau\r\n{y!r};{x!r};mobile\r\n".encode(), "a.csv",
                         dry_run="true").get_json()["features"]
    assert row["status"] == "accepted", row


# ---------------------------------------------------------------- a file's name

A_POINT = b'{"type": "Feature", "properties": {"network": "mobile"}, "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]}}'


@pytest.mark.parametrize(("name", "character"), [
    (b"rapport-\xe2\x80\xaenosjoeg.geojson", "U+202E"),  # a direction override: shown "rapport-geojson.json"
    (b"zones-r\xe9seau.geojson", "U+DCE9"),  # "réseau" in Latin-1 bytes (a Windows zip unpacked here)
    (b"two\nlines.geojson", "U+000A"),
])
def test_import_reports_refuses_a_file_name_the_api_refuses(app, db, admin, tmp_path, name, character) -> None:  # noqa: ANN001
    """The command line stored a name the upload API refuses (then said back in a later
    upload's file_already_saved warning), and a name in Latin-1 bytes was a traceback."""
    path = os.fsencode(str(tmp_path)) + b"/" + name
    with open(path, "wb") as file:
        file.write(A_POINT)
    before = count_reports(db)
    result = app.test_cli_runner().invoke(args=["import-reports", os.fsdecode(path), "--as", admin.email])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.startswith(f"Error: invalid_request: The file's name holds the character {character}")
    assert "(at file)" in result.output
    assert count_reports(db) == before
    assert db.execute(sa_text("SELECT count(*) FROM import_files")).scalar() == 0
    if character != "U+DCE9":  # (no request carries a lone surrogate)
        api = upload_file(admin, A_POINT, os.fsdecode(name), dry_run="true")
        assert (api.status_code, api.get_json()["code"], api.get_json()["where"]) == (400, "invalid_request", "file")


# ---------------------------------------------------------------- KML: placemarks GDAL does not read

def _placemark(name: str, lon: float, inner: str = "") -> str:
    return f"<Placemark><name>{name}</name><Point><coordinates>{lon},50.41</coordinates></Point>{inner}</Placemark>"


def _kml(body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">{body}</kml>'.encode()


@pytest.mark.parametrize("body", [
    f"<Document><name>Relevé mars</name>{_placemark('Rue A', 4.44)}</Document>"
    f"<Document><name>Relevé avril</name>{_placemark('Rue B', 4.45)}</Document>",  # two exports pasted together
    f"<Document><name>Relevé</name>{_placemark('Rue A', 4.44)}</Document>{_placemark('Rue B', 4.45)}",
    f"{_placemark('Rue A', 4.44)}<Folder>{_placemark('Rue B', 4.45)}</Folder>",
])
def test_every_feature_under_the_kml_root_is_read(db, representative, body) -> None:  # noqa: ANN001
    """KML has one feature under <kml>; GDAL read only the last of several, and the others'
    placemarks were lost without a word (preview 200, save 201, no warning)."""
    preview = upload_file(representative, _kml(body), "releve.kml", network="mobile", dry_run="true")
    assert preview.status_code == 200
    assert sorted(f["properties"]["description"] for f in preview.get_json()["features"]) == ["Rue A", "Rue B"]
    before = count_reports(db)
    saved = upload_file(representative, _kml(body), "releve.kml", network="mobile")
    assert saved.status_code == 201 and count_reports(db) == before + 2


def test_a_placemark_where_kml_has_no_place_for_one_is_refused_not_lost(db, representative) -> None:  # noqa: ANN001
    body = f"<Document>{_placemark('Rue A', 4.44, inner=_placemark('Rue B', 4.45))}{_placemark('Rue C', 4.446)}</Document>"
    preview = upload_file(representative, _kml(body), "releve.kml", network="mobile", dry_run="true")
    assert preview.status_code == 200
    features = preview.get_json()["features"]
    refused = [f for f in features if f["status"] == "refused"]
    assert sorted(f["properties"]["description"] for f in features if f["status"] == "accepted") == ["Rue A", "Rue C"]
    assert len(refused) == 1
    assert {k: refused[0]["error"].get(k) for k in ("code", "kind", "line")} == {
        "code": "unreadable_file", "kind": "placemark_not_read", "line": 1}
    assert "« Rue B »" in refused[0]["error"]["detail"]
    assert upload_file(representative, _kml(body), "releve.kml", network="mobile").status_code == 422


@pytest.mark.parametrize(("lang", "start"), [("fr", "Le repère de la ligne 7 n'a pas pu être lu"),
                                             ("nl", "De plaatsmarkering op regel 7 kon niet worden gelezen"),
                                             ("en", "The placemark on line 7 could not be read")])
def test_a_placemark_not_read_has_a_page_sentence(app, lang, start) -> None:  # noqa: ANN001
    from flask_babel import force_locale

    from geosignal import ui_text
    from geosignal.errors import GeosignalError
    from geosignal.i18n import BABEL_LOCALES

    error = GeosignalError("unreadable_file", "x", kind="placemark_not_read", line=7)
    with app.test_request_context("/"), force_locale(BABEL_LOCALES[lang]):
        assert ui_text.error_message(error).startswith(start)


# ---------------------------------------------------------------- typed coordinates in the wrong order

@pytest.mark.parametrize("typed", ["POINT (50.4108 4.444)", "lat 4.444 lon 50.4108", "E 50.4108 N 4.444",
                                   "x=122215 y=155349", "LINESTRING (50.4108 4.444, 50.41 4.45)"])
def test_typed_coordinates_whose_labels_fix_the_wrong_order_say_the_axes_look_swapped(db, representative, typed) -> None:  # noqa: ANN001
    """The same WKT in a CSV cell (or swapped axes in any file) gets the hint axes_swapped; typed
    (the map form's coordinates field, /api/v1/coordinates), where its labels or WKT fix the
    order, it said only « outside the communes served »."""
    answer = representative.get("/api/v1/coordinates", query_string={"q": typed})
    body = answer.get_json()
    assert (answer.status_code, body["code"], body.get("hint")) == (422, "outside_service_area", "axes_swapped"), body
    assert body["swapped_commune"] == {"nis_code": "52011", "name": "Charleroi"}
    assert "Nothing was swapped for you" in body["detail"]
    (cell,) = upload_file(representative, b"wkt;network\r\nPOINT (50.4108 4.444);mobile\r\n", "a.csv",
                          dry_run="true").get_json()["features"]
    assert (cell["error"]["code"], cell["error"]["hint"], cell["error"]["swapped_commune"]["nis_code"]) == (
        "outside_service_area", "axes_swapped", "52011")


# ---------------------------------------------------------------- GPX times GDAL cuts

@pytest.mark.parametrize(("written", "stored"), [
    # (an offset with seconds, which GDAL cut, is no ISO 8601 offset: dropped in every format,
    # test_hostile_fourth_look.py)
    ("2025-06-01T10:00:00.123456Z", "2025-06-01T10:00:00.123456+00:00"),  # GDAL kept the milliseconds
    ("2025-06-01T10:00:00.123456", "2025-06-01T10:00:00.123456+00:00"),  # naive: UTC, as GPX defines it
])
def test_a_gpx_time_is_read_as_written_as_in_every_other_format(area, written, stored) -> None:  # noqa: ANN001
    from datetime import UTC

    from geosignal.services.intake import read_upload
    from tests.test_hostile_formats import _gpx_times, _kml_times

    (gpx,) = read_upload(_gpx_times(written), "a.gpx", area=area)
    assert gpx.properties["observed_at"].astimezone(UTC).isoformat() == stored
    if not written.endswith("456"):  # (a naive time is Brussels time in KML, UTC in GPX)
        (kml,) = read_upload(_kml_times(written), "a.kml", area=area)
        assert kml.properties["observed_at"] == gpx.properties["observed_at"]


# ---------------------------------------------------------------- exports

def _sliver(lat0: float) -> dict:
    """A polygon 2e-7° (about 2 cm) wide and 0.08° long: valid, 126 m², nothing on the export's 1e-6° grid."""
    ring = [(4.39, lat0), (4.47, lat0), (4.47, lat0 + 2e-7), (4.39, lat0 + 2e-7), (4.39, lat0)]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


@pytest.mark.parametrize("with_a_line", [False, True])
def test_a_confirmed_zone_that_collapses_when_rounded_is_not_written(db, representative, referent,
                                                                     with_a_line) -> None:  # noqa: ANN001
    """A zone of two overlapping 2 cm slivers was written with an empty Polygon (the schema
    refuses it); with a 2 cm line, a collection of nothing: the document stopped after its 200,
    every export carrying the zone cut short. Its reports are excluded, the zone is not written."""
    from geosignal.services import zones
    from tests.test_export import EXPORT, assert_export_valid, strict_json, validate_all
    from tests.test_zones import _admin, zone_of

    geometries = [_sliver(50.4100001), _sliver(50.4100002)] + (
        [{"type": "LineString", "coordinates": [[4.4000001, 50.4102001], [4.4000003, 50.4102002]]}] if with_a_line else [])
    ids = []
    for geometry in geometries:
        posted = representative.post("/api/v1/reports", json={"type": "Feature", "geometry": geometry,
                                                               "properties": {"network": "mobile"}})
        assert posted.status_code == 201, posted.get_json()
        ids.append(posted.get_json()["id"])
    zone = zone_of(db, ids[0])
    assert zone["report_count"] == len(ids)
    zones.confirm_zone(db, _admin(db), zone["zone_id"])
    validate_all(db)
    answer = referent.get(EXPORT)
    assert answer.status_code == 200
    document = strict_json(answer.get_data())
    assert_export_valid(document)
    assert document["zones"] == [] and sorted(e["id"] for e in document["excluded"]) == sorted(ids)


def test_export_commune_with_spaces_exports_that_commune(app, db, representative, tmp_path) -> None:  # noqa: ANN001
    """« --commune " 52011 " » was checked as 52011 and filtered as written: 0 reports, exit 0."""
    from tests.test_export import strict_json, validate_all

    posted = representative.post("/api/v1/reports", json={"type": "Feature", "properties": {"network": "mobile"},
                                                           "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]}})
    validate_all(db)
    out = tmp_path / "e.geojson"
    result = app.test_cli_runner().invoke(args=["export", "-o", str(out), "--commune", " 52011 "])
    assert result.exit_code == 0, result.output
    assert [f["id"] for f in strict_json(out.read_bytes())["features"]] == [posted.get_json()["id"]]


# ---------------------------------------------------------------- archives, dBase, commune filters

@pytest.mark.parametrize("prefixes", [["", "./"], ["zones/", "zones/./"], ["zones/", "zones//"],
                                      ["zones/", "./zones/"], ["zones/", "zones\\"]])
def test_one_member_written_two_ways_is_a_repeated_member(db, admin, tmp_path, prefixes) -> None:  # noqa: ANN001
    """« zones/zones.shp » and « zones/./zones.shp » are one file once unpacked: both were read
    (as two layers, zones and zones_1) and stored."""
    from tests.factories import zipped
    from tests.test_hostile_containers import shapefile_parts

    parts = shapefile_parts(tmp_path, "Pas de 4G", encoding="utf-8")
    data = zipped(*[(f"{p}zones{ext}", content) for p in prefixes for ext, content in parts.items()])
    before = count_reports(db)
    answer = upload_file(admin, data, "zones.zip", network="mobile")
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["reason"]) == (422, "unsafe_archive", "duplicate")
    assert body["member"].startswith(prefixes[1]) and body["member"][len(prefixes[1]):].startswith("zones.")
    assert count_reports(db) == before


@pytest.mark.parametrize("ldid", [0x78, 0x79, 0x7A, 0x7B])
def test_a_cjk_code_page_said_by_the_language_driver_byte_alone_is_undecidable(db, admin, tmp_path, ldid) -> None:  # noqa: ANN001
    """« Église près de la gare » in 1252 under a LDID byte of cp932 was stored « ﾉglise pr鑚 de
    la gare » without a word; with a .cpg naming 1252 it is read as written."""
    from tests.test_hostile_containers import DESCR, _dbf_text

    raw = "Église près de la gare".encode("cp1252")
    before = count_reports(db)
    answer = upload_file(admin, _dbf_text(tmp_path, raw, ldid=ldid), "zones.zip", network="mobile",
                         column_map=json.dumps(DESCR))
    body = answer.get_json()
    # (cp949 has no « É » as 1252 writes it: not valid text as declared, refused as such)
    expected = ("unreadable_file", None) if ldid == 0x79 else ("undecidable_encoding", ldid)
    assert (answer.status_code, body["code"], body.get("ldid")) == (422, *expected), body
    assert count_reports(db) == before
    saved = upload_file(admin, _dbf_text(tmp_path, raw, ldid=ldid, cpg=b"1252"), "zones.zip", network="mobile",
                        column_map=json.dumps(DESCR))
    assert saved.status_code == 201 and saved.get_json()["features"][0]["properties"]["description"] == (
        "Église près de la gare")


@pytest.mark.parametrize("value", ["52011%0A", "%0952011", "%0D%0A52011", "52011%0B%0C%1C", "%C2%A052011"])
@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/queue", "/api/v1/zones", "/api/v1/exports/dwconnect",
                                  "/api/v1/audit", "/carte", "/validation", "/zones",
                                  "/admin/journal"])
def test_a_commune_filter_with_a_control_character_around_it_is_unknown(db, admin, path, value) -> None:  # noqa: ANN001
    """As in a path (404): Python's strip() took a tab, a line break, a no-break space off, and
    « 52011\\n » filtered as 52011. Spaces alone are taken off."""
    answer = admin.get(f"{path}?commune={value}")
    assert answer.status_code == 422, (path, answer.status_code)
    if path.startswith("/api/"):
        assert answer.get_json()["code"] == "unknown_commune"
    assert admin.get(f"{path}?commune=%2052011%20").status_code == 200


# ---------------------------------------------------------------- a typed zone on the territory's edge

def _post_map_form(client, data: dict):  # noqa: ANN001, ANN202
    import re

    from tests.conftest import csrf_token

    page = client.get("/carte").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    return client.post("/carte", data={"csrf_token": csrf_token(page), "network": "mobile", "idempotency_key": key,
                                       **data})


@pytest.mark.parametrize("how", ["lines", "wkt"])
def test_a_typed_zone_on_the_territorys_edge_is_checked_as_the_same_zone_drawn(db, client, how) -> None:  # noqa: ANN001
    """A 600 m square centred on the territory's westernmost vertex, drawn, is stored (it touches
    its commune and lies within the 1 km margin); typed corner by corner (or as WKT), each corner
    had to lie in a commune: refused « outside the communes served » at its first corner."""

    from tests.conftest import make_account

    nis, x, y = db.execute(sa_text(
        "WITH u AS (SELECT ST_Transform(ST_Union(boundary), 31370) g FROM communes), "
        "p AS (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(g, 1)), 1) pt FROM u) "
        "SELECT c.nis_code, ST_X(p.pt), ST_Y(p.pt) FROM p, communes c "
        "ORDER BY ST_Distance(ST_Transform(c.boundary, 31370), p.pt) LIMIT 1")).one()
    make_account(client, db, f"rep{nis}@example.be", "representative", nis).login()
    square = db.execute(sa_text("SELECT ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(:x - 300, :y - 300, :x + 300, "
                                ":y + 300, 31370), 4326))"), {"x": x, "y": y}).scalar()
    ring = json.loads(square)["coordinates"][0]
    before = count_reports(db)
    assert _post_map_form(client, {"geometry": square, "description": "dessinée"}).status_code == 302
    typed = ("\n".join(f"{lat:.7f}, {lon:.7f}" for lon, lat in ring[:4]) if how == "lines"
             else "POLYGON((" + ", ".join(f"{lon:.7f} {lat:.7f}" for lon, lat in ring) + "))")
    read = client.get("/api/v1/coordinates", query_string={"q": typed, "shape": "zone"})
    assert read.status_code == 200, read.get_json()
    assert _post_map_form(client, {"coordinates": typed, "coordinates_shape": "zone",
                                   "description": "tapée"}).status_code == 302
    assert count_reports(db) == before + 2
    # a corner beyond the margin is no corner such a shape may have: still said at that corner
    (lon, lat), (far_lon, far_lat) = ring[1], (ring[1][0] - 0.3, ring[1][1] - 0.2)  # in France, 25 km away
    far = (typed.replace(f"{lat:.7f}, {lon:.7f}", f"{far_lat:.7f}, {far_lon:.7f}") if how == "lines"
           else typed.replace(f"{lon:.7f} {lat:.7f}", f"{far_lon:.7f} {far_lat:.7f}"))
    refused = client.get("/api/v1/coordinates", query_string={"q": far, "shape": "zone"}).get_json()
    assert refused["code"] == "outside_service_area"
    assert (refused.get("line"), refused.get("position")) == ((2, None) if how == "lines" else (None, 2))


# ---------------------------------------------------------------- an integer beyond a double

BIG = "1" + "0" * 400


def test_an_integer_beyond_a_double_is_too_large_in_every_format(db, representative) -> None:  # noqa: ANN001
    """GeoJSON said « too large (a number of 401 digits) », invalid_coordinate; a CSV cell, a WKT
    cell and KML said non_finite_number, « inf is not a finite number » (a value the file never
    held); typed WKT was a 500 once the WKT reader kept the integer whole."""
    files = {
        "a.geojson": (b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",'
                      b'"coordinates":[4.444,' + BIG.encode() + b']},"properties":{"network":"mobile"}}]}'),
        "a.csv": f"lat;lon;network\n{BIG};4,444;mobile\n".encode(),
        "b.csv": f"wkt;network\nPOINT (4.444 {BIG});mobile\n".encode(),
        "a.kml": (f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
                  f'<Point><coordinates>4.444,{BIG}</coordinates></Point></Placemark></Document></kml>').encode(),
        "a.gpx": (f'<?xml version="1.0"?><gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1">'
                  f'<wpt lat="{BIG}" lon="4.444"><name>a</name></wpt></gpx>').encode(),
    }
    for name, data in files.items():
        (feature,) = upload_file(representative, data, name, network="mobile", dry_run="true").get_json()["features"]
        assert feature["error"]["code"] == "invalid_coordinate", (name, feature["error"])
        assert "inf " not in feature["error"]["detail"]
    typed = representative.get("/api/v1/coordinates", query_string={"q": f"POINT (4.444 {BIG})"})
    assert (typed.status_code, typed.get_json()["code"], typed.get_json()["position"]) == (
        422, "unreadable_coordinates", 1)
    assert "401 digits" in typed.get_json()["detail"]
    assert (upload_file(representative, files["a.csv"].replace(BIG.encode(), b"1e400"), "c.csv", network="mobile",
                        dry_run="true").get_json()["features"][0]["error"]["code"]) == "non_finite_number"


# ---------------------------------------------------------------- the hour that comes twice

def test_the_two_0230_of_the_autumn_change_are_written_with_their_own_offsets() -> None:
    """format_datetime was remembered by the datetime: two of one zone compare by their wall time,
    fold aside, so that 02:30 CEST and 02:30 CET (as psycopg gives them from a PostgreSQL in
    Brussels time) were both written with whichever offset came first: an hour off in the API."""
    from datetime import UTC, datetime

    from geosignal.contract import BRUSSELS, format_datetime

    first, second = (datetime(2025, 10, 26, h, 30, tzinfo=UTC).astimezone(BRUSSELS) for h in (0, 1))
    assert first.replace(tzinfo=None) == second.replace(tzinfo=None)  # one wall time, two instants
    assert [format_datetime(first), format_datetime(second)] == ["2025-10-26T02:30:00+02:00",
                                                                 "2025-10-26T02:30:00+01:00"]
    assert format_datetime(second) == "2025-10-26T02:30:00+01:00"  # (from the memo too)


def test_list_tokens_shows_the_day_and_time_of_the_account_page(app, client, db) -> None:  # noqa: ANN001
    """The command printed the UTC day (« expires 2025-11-24 » for 25 November 00:30 in Brussels)
    and time (00:30+00:00) where /compte/jetons says 25/11/2025 and 02:30."""
    from tests.conftest import make_account

    representative = make_account(client, db, "echevin@charleroi.be", "representative", "52011")
    db.execute(sa_text("UPDATE api_tokens SET expires_at = '2025-11-24T23:30:00Z', last_used_at = "
                       "'2025-10-26T00:30:00Z'"))
    db.commit()
    out = app.test_cli_runner().invoke(args=["list-tokens", representative.email]).output
    assert "expires 2025-11-25" in out and "last used 2025-10-26T02:30+02:00" in out, out


# ---------------------------------------------------------------- a commune's white zone as a geometry

def _exteriors_counter_clockwise(geometry: dict) -> list[bool]:
    from shapely.geometry import LinearRing

    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [LinearRing(rings[0]).is_ccw for rings in polygons]


def _validated_reports(db, representative, geometries: list[dict]) -> None:  # noqa: ANN001
    for geometry in geometries:
        posted = representative.post("/api/v1/reports", json={"type": "Feature", "geometry": geometry,
                                                               "properties": {"network": "mobile"}})
        assert posted.status_code == 201, posted.get_json()
    db.execute(sa_text("UPDATE reports SET status = 'validated'"))
    db.commit()


def test_a_filtered_white_zone_is_turned_as_rfc_7946_says(db, representative, referent) -> None:  # noqa: ANN001
    """With a filter (computed live), the white zone's exterior ran clockwise: shapely's
    set_precision rebuilt the rings turned after it."""
    from tests.factories import CHARLEROI_LAMBERT72, square_lambert, to_geojson_4326

    x, y = CHARLEROI_LAMBERT72
    _validated_reports(db, representative, [to_geojson_4326(square_lambert(x, y, 300))])
    stored = referent.get("/api/v1/stats/communes/52011?geometry=1").get_json()
    live = referent.get("/api/v1/stats/communes/52011?geometry=1&network=mobile").get_json()
    assert (stored["source"], live["source"]) == ("stored", "live")
    assert _exteriors_counter_clockwise(stored["white_zone"]) == _exteriors_counter_clockwise(live["white_zone"]) == [True]


def test_the_stored_white_zone_is_valid_at_the_precision_it_is_written(db, representative, referent) -> None:  # noqa: ANN001
    """Two zones 2 mm apart, each valid, shared an edge once written at 7 decimals: the commune's
    white zone came back self-intersecting."""
    from shapely.geometry import shape

    lon, lat, east = 4.44, 50.41, round(4.444 + 3e-8, 9)

    def box(west: float, east_: float) -> dict:
        return {"type": "Polygon", "coordinates": [[[west, lat], [east_, lat], [east_, lat + 0.003], [west, lat + 0.003],
                                                    [west, lat]]]}

    _validated_reports(db, representative, [box(lon, 4.444), box(east, 4.448)])
    document = referent.get("/api/v1/stats/communes/52011?geometry=1").get_json()
    assert document["source"] == "stored"
    white_zone = shape(document["white_zone"])
    assert white_zone.is_valid and abs(white_zone.area - 0.008 * 0.003) < 1e-9
    assert _exteriors_counter_clockwise(document["white_zone"]) == [True] * len(document["white_zone"]["coordinates"])


# ---------------------------------------------------------------- the command line's own paths
# (import-reports' dry-run count and reading; aggregate's files)

_F = {"type": "Feature", "properties": {"network": "mobile"},
      "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]}}


# --- 1. import-reports --dry-run promises to save the duplicates that the save leaves out ----------
def test_dry_run_count_is_what_the_save_stores(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    """Case 36's kind (the same report twice, here twice in one file): the save stores it once
    ('probable_duplicate … stored once'), but the dry run's summary says 2 would be saved."""
    path = tmp_path / "twice.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [_F, _F]}), encoding="utf-8")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    before = count_reports(db)
    saved = runner.invoke(args=["import-reports", str(path), "--as", admin.email])
    stored = count_reports(db) - before
    assert stored == 1 and saved.output.splitlines()[-1].endswith("1 saved"), saved.output
    would = int(re.search(r"(\d+) would be saved", dry.output).group(1))
    assert would == stored, dry.output  # actual: "2 accepted, 0 refused, 2 would be saved (dry run)"
    # and once saved, a dry run of the same file (both rows now duplicates) still promises 2
    again = runner.invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    assert again.output.splitlines()[-1].endswith("0 would be saved (dry run)"), again.output


# --- 2. aggregate: hostile reports / communes files are tracebacks, not one-line errors ------------
def _one_line_error(result) -> bool:  # noqa: ANN001
    return (result.exit_code == 1 and isinstance(result.exception, SystemExit)
            and result.output.strip().splitlines()[-1].startswith("Error: "))


def _fc(*geometries) -> str:  # noqa: ANN002
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {"network": "mobile"}} for g in geometries]})


BOWTIE = {"type": "Polygon", "coordinates": [[[4.44, 50.40], [4.45, 50.41], [4.45, 50.40], [4.44, 50.41], [4.44, 50.40]]]}
SQUARE = {"type": "Polygon", "coordinates": [[[4.445, 50.40], [4.455, 50.40], [4.455, 50.41], [4.445, 50.41],
                                              [4.445, 50.40]]]}
KML_POINT = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
             '<Placemark><Point><coordinates>4.444,50.4108</coordinates></Point></Placemark></Document></kml>')


@pytest.mark.parametrize(("name", "content"), [
    ("bowtie.geojson", _fc(BOWTIE, SQUARE)),  # case 01's kind: GEOSException TopologyException
    ("nan.geojson", '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":'
                    '{"type":"Polygon","coordinates":[[[4.44,50.40],[NaN,50.40],[4.45,50.41],[4.44,50.40]]]}}]}'),
    ("zones.csv", KML_POINT),  # an extension that lies: AttributeError 'DataFrame' object has no attribute 'crs'
])
def test_aggregate_hostile_reports_file_is_one_line(tmp_path, name, content) -> None:  # noqa: ANN001
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["aggregate", "--reports", str(path), "--communes", str(COMMUNES_FILE)])
    assert _one_line_error(result), (result.output[-300:], repr(result.exception))


@pytest.mark.parametrize(("name", "content"), [("communes.geojson", ""), ("communes.zip", "")])
def test_aggregate_unreadable_communes_file_is_one_line(tmp_path, name, content) -> None:  # noqa: ANN001
    """An empty communes file (or a 0-byte .zip): pyogrio's DataSourceError from
    aggregate_files_steps escapes as a traceback (the same file as --reports is a one-line
    unreadable_file)."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["aggregate", "--reports", str(COMMUNES_FILE), "--communes", str(path)])
    assert _one_line_error(result), (result.output[-300:], repr(result.exception))


def test_aggregate_reads_every_kml_folder(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    """Case 24's kind: a KML whose zones sit in two folders. The import reads both; aggregate
    reads the first folder only and says 1 report, 1 km² where there are 2 reports, 2 km²."""
    def placemark(x: float) -> str:
        return (f"<Placemark><ExtendedData><Data name=\"reseau\"><value>mobile</value></Data></ExtendedData>"
                f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{x},50.40 {x + 0.014},50.40 {x + 0.014},50.409 "
                f"{x},50.409 {x},50.40</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>")
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f"<Folder><name>A</name>{placemark(4.40)}</Folder><Folder><name>B</name>{placemark(4.44)}</Folder>"
           "</Document></kml>")
    path = tmp_path / "zones.kml"
    path.write_text(kml, encoding="utf-8")
    imported = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    assert imported.output.splitlines()[-1].startswith("2 accepted"), imported.output
    result = CliRunner().invoke(main, ["aggregate", "--reports", str(path), "--communes", str(COMMUNES_FILE)])
    assert result.exit_code == 0, result.output
    assert "30 communes, 2 reports" in result.output, result.output[-200:]  # actual: "30 communes, 1 report, …"


# --- 3. import-reports reads a pipe / device whole, whatever MAX_UPLOAD_BYTES ----------------------
def test_import_reports_stops_reading_past_the_upload_limit(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    """`geosignal import-reports /dev/zero` (or a FIFO fed by a program that does not stop) reads
    until memory runs out: the file is read whole (Path.read_bytes) before payload_too_large is
    checked. Here a FIFO is offered 3 × the 10 MB limit; a reader that stops past the limit
    leaves the writer a broken pipe."""
    limit = app.config["MAX_UPLOAD_BYTES"]
    fifo = tmp_path / "zones.geojson"
    os.mkfifo(fifo)
    written = [0]

    def writer() -> None:
        chunk = b" " * 65536
        try:
            with open(fifo, "wb") as out:
                while written[0] < 3 * limit:
                    out.write(chunk)
                    written[0] += len(chunk)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result = app.test_cli_runner().invoke(args=["import-reports", str(fifo), "--as", admin.email, "--dry-run"])
    thread.join(30)
    assert "payload_too_large" in result.output, result.output
    assert written[0] < 2 * limit, f"{written[0]:,} bytes read for a limit of {limit:,}"


def _communes_with_population(tmp_path, population: str):  # noqa: ANN001, ANN202
    document = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    first = document["features"][0]["properties"]["population"]
    path = tmp_path / "communes.geojson"
    path.write_text(json.dumps(document).replace(f'"population": {first}', f'"population": {population}', 1),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("population", ["Infinity", "-Infinity", '"12 345"', "1.5", "-3"])
def test_a_communes_file_whose_population_is_no_count_is_one_line(app, db, tmp_path, population) -> None:  # noqa: ANN001
    """aggregate and load-communes ended in a traceback (int(inf), int('12 345')), or cut 1.5 to 1."""
    reports = tmp_path / "r.geojson"
    reports.write_text(json.dumps({"type": "FeatureCollection", "features": [_F]}), encoding="utf-8")
    communes = _communes_with_population(tmp_path, population)
    before = db.execute(sa_text("SELECT md5(string_agg(nis_code || coalesce(population::text, ''), ',' ORDER BY "
                                "nis_code)) FROM communes")).scalar()
    for result in (CliRunner().invoke(main, ["aggregate", "--reports", str(reports), "--communes", str(communes)]),
                   app.test_cli_runner().invoke(args=["load-communes", str(communes)])):
        assert _one_line_error(result), (result.output[-300:], repr(result.exception))
        assert "invalid_attribute" in result.output and "population" in result.output
    assert db.execute(sa_text("SELECT md5(string_agg(nis_code || coalesce(population::text, ''), ',' ORDER BY "
                              "nis_code)) FROM communes")).scalar() == before
