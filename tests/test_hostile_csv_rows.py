"""Hostile CSV rows: WKT cells checked as GeoJSON is (the same codes for the same geometric
fault, with row, column and ring), a GEOMETRYCOLLECTION split per member as every file, the
columns read for nothing named in a file-level ``columns_ignored`` warning (CSV and the other
formats with attribute columns), and rows numbered as a spreadsheet shows them whatever the
file's line ends, blank lines, BOM or quoted cells spanning lines.

Through :func:`read_upload` with the real communes (4.44, 50.41 is in Charleroi), and
``POST /api/v1/imports`` against the real app and PostGIS.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from geosignal.errors import GeosignalError
from geosignal.models import User
from geosignal.services.imports import import_file
from geosignal.services.intake import Limits, ReportInput, read_upload
from geosignal.services.intake.wkt import WktSyntaxError, parse_wkt
from tests.factories import count_reports, upload_file

SQUARE = "4.44 50.41,4.45 50.41,4.45 50.42,4.44 50.42"
OPEN = f"POLYGON(({SQUARE}))"  # the audit's polygon: the ring is not closed
CLOSED = f"POLYGON(({SQUARE},4.44 50.41))"


def _one(area, data: bytes, **kw) -> ReportInput | GeosignalError:  # noqa: ANN001, ANN003
    (item,) = read_upload(data, "a.csv", area=area, **kw)
    return item


def _geojson(area, geometry: dict) -> GeosignalError:  # noqa: ANN001
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}
    (item,) = read_upload(json.dumps(doc).encode(), "a.geojson", area=area)
    return item


def _csv(wkt: str, *more: str) -> bytes:
    return ("wkt;description\n" + "".join(f'"{w}";r{k}\n' for k, w in enumerate((wkt, *more)))).encode()


# --------------------------------------------------------------------------- 1. WKT = GeoJSON codes

@pytest.mark.parametrize(("wkt", "geometry", "code", "pointer", "part"), [
    (OPEN, {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.42], [4.44, 50.42]]]},
     "ring_not_closed", "/geometry/coordinates/0/3", {"ring": 0, "position": 3}),
    (f"POLYGON(({SQUARE},4.44 50.41),(4.441 50.411,4.442 50.411,4.442 50.412))",
     {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.42], [4.44, 50.42], [4.44, 50.41]],
                                         [[4.441, 50.411], [4.442, 50.411], [4.442, 50.412]]]},
     "ring_not_closed", "/geometry/coordinates/1/2", {"ring": 1, "position": 2}),
    ("POLYGON((4.44 50.41,4.45 50.41,4.44 50.41))",
     {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41], [4.44, 50.41]]]},
     "ring_too_short", "/geometry/coordinates/0", {"ring": 0}),
    (f"MULTIPOLYGON((({SQUARE},4.44 50.41)),(({SQUARE})))",
     {"type": "MultiPolygon", "coordinates": [
         [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.42], [4.44, 50.42], [4.44, 50.41]]],
         [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.42], [4.44, 50.42]]]]},
     "ring_not_closed", "/geometry/coordinates/1/0/3", {"polygon": 1, "ring": 0, "position": 3}),
    ("LINESTRING(4.44 50.41)", {"type": "LineString", "coordinates": [[4.44, 50.41]]},
     "line_too_short", "/geometry/coordinates", {}),
    ("LINESTRING(4.44 50.41,4.44 50.41)", {"type": "LineString", "coordinates": [[4.44, 50.41], [4.44, 50.41]]},
     "line_too_short", "/geometry/coordinates", {}),
    ("MULTILINESTRING((4.44 50.41,4.45 50.42),(4.44 50.41))",
     {"type": "MultiLineString", "coordinates": [[[4.44, 50.41], [4.45, 50.42]], [[4.44, 50.41]]]},
     "line_too_short", "/geometry/coordinates/1", {"line": 1}),
    ("POINT EMPTY", {"type": "Point", "coordinates": []}, "empty_geometry", "/geometry/coordinates", {}),
])
def test_wkt_faults_have_the_geojson_codes(area, wkt, geometry, code, pointer, part):
    err = _one(area, _csv(wkt))
    twin = _geojson(area, geometry)
    assert (twin.code, twin.extra.get("pointer")) == (code, pointer.replace("/geometry", "/features/0/geometry"))
    assert isinstance(err, GeosignalError)
    assert (err.code, err.where, err.extra["index"], err.extra["column"], err.extra["pointer"]) == \
        (code, "row 2", 0, "wkt", pointer)
    assert {k: err.extra[k] for k in ("ring", "polygon", "line", "position") if k in err.extra} == part
    assert "cannot be read" not in err.detail


def test_the_audits_unclosed_ring_names_the_ring_in_words(area):
    err = _one(area, _csv(OPEN))
    assert err.code == "ring_not_closed"
    assert err.detail.endswith("In the WKT: exterior ring, position 4.")


@pytest.mark.parametrize(("wkt", "code"), [
    ("POINT(nan 50.41)", "non_finite_number"),
    ("POINT(4.44 -inf)", "non_finite_number"),
    ("POINT(1e999 50.41)", "non_finite_number"),
])
def test_non_finite_numbers_in_wkt(area, wkt, code):
    err = _one(area, _csv(wkt))
    assert (err.code, err.where, err.extra["column"]) == (code, "row 2", "wkt")


@pytest.mark.parametrize(("wkt", "character", "expected"), [
    ("POLYGON((4.44 50.41,4.45 50.41,4.45 50.42", 42, "',' or ')'"),
    ("POINT(4,44 50,41)", 8, "a number"),  # decimal commas
    ("POINT(4.44 50.41) et plus", 19, "the end of the geometry"),
    ("CERCLE(4.44 50.41)", 1, "a geometry type"),
    ("POINT Z (4.44 50.41)", 10, "a position of 3 numbers"),
    ("POINT(4.44 50.41 1 2 3)", 22, "')'"),
    ("SRID=4326;POINT(4.44)", 21, "a number"),
])
def test_unreadable_wkt_says_where_it_stops(area, wkt, character, expected):
    err = _one(area, _csv(wkt))
    assert (err.code, err.where, err.extra["column"], err.extra["character"]) == \
        ("invalid_geometry", "row 2", "wkt", character)
    assert "cannot be read" in err.detail and expected in err.detail and f"character {character}" in err.detail
    with pytest.raises(WktSyntaxError) as info:
        parse_wkt(wkt)
    assert info.value.character == character


@pytest.mark.parametrize(("wkt", "z"), [
    ("point  ( 4.44   50.41 )", False),
    ("Point(4.44 50.41)", False),
    ("  POINT(4.44 50.41)  ", False),
    ("POINT Z (4.44 50.41 130)", True),
    ("POINTZ(4.44 50.41 130)", True),
    ("POINT M (4.44 50.41 7)", True),
    ("POINTM(4.44 50.41 7)", True),
    ("POINT ZM (4.44 50.41 130 7)", True),
    ("POINT(4.44 50.41 130)", True),
    ("SRID=4326;POINT(4.44 50.41)", False),
    ("srid = 4326 ; point(4.44 50.41)", False),
    ("SRID=31370;POINT(155348.97 122214.95)", False),  # Charleroi's centre in Lambert 72
    (f"polygon (( {SQUARE} , 4.44 50.41 ))", False),
])
def test_wkt_case_spacing_tags_and_srid(area, wkt, z):
    rep = _one(area, _csv(wkt))
    assert isinstance(rep, ReportInput), rep
    assert rep.geometry.has_z is False
    assert [w["code"] for w in rep.warnings] == (["z_dropped"] if z else [])
    assert rep.geometry.representative_point().distance(rep.geometry.representative_point()) == 0
    x, y = rep.geometry.representative_point().coords[0]
    assert 4.43 < x < 4.46 and 50.40 < y < 50.43


def test_ewkt_srid_must_be_accepted_and_agree_with_the_crs(area):
    other = _one(area, _csv("SRID=2154;POINT(4.44 50.41)"))
    assert (other.code, other.where, other.extra["column"], other.extra["member"]) == \
        ("unsupported_crs", "row 2", "wkt", "EPSG:2154")
    clash = _one(area, _csv("SRID=31370;POINT(155348.97 122214.95)"), crs="EPSG:4326")
    assert (clash.code, clash.extra["requested"], clash.extra["member"]) == \
        ("unsupported_crs", "EPSG:4326", "EPSG:31370")
    same = _one(area, _csv("SRID=31370;POINT(155348.97 122214.95)"), crs="EPSG:31370")
    assert isinstance(same, ReportInput)


def test_wkt_geometry_errors_of_the_batch_name_the_column(area):
    err = _one(area, _csv("POLYGON((4.44 50.41,4.45 50.42,4.45 50.41,4.44 50.42,4.44 50.41))"))  # a bowtie
    assert (err.code, err.where, err.extra["column"]) == ("self_intersection", "row 2", "wkt")


# --------------------------------------------------------------------------- 2. GEOMETRYCOLLECTION

def test_geometrycollection_is_split_like_every_file(area):
    data = _csv("GEOMETRYCOLLECTION(POINT(4.44 50.41),LINESTRING(4.44 50.41,4.45 50.42))", "POINT(4.44 50.41)")
    res = read_upload(data, "a.csv", area=area)
    assert [(r.geometry.geom_type, r.source_index) for r in res] == [("Point", 0), ("LineString", 0), ("Point", 1)]
    assert [[(w["code"], w["member"]) for w in r.warnings] for r in res] == \
        [[("geometry_collection_split", 0)], [("geometry_collection_split", 1)], []]
    assert [r.properties["description"] for r in res] == ["r0", "r0", "r1"]
    # the same collection in a GeoJSON file: the same split, the same indices
    twin = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [4.44, 50.41]},
            {"type": "LineString", "coordinates": [[4.44, 50.41], [4.45, 50.42]]}]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [4.44, 50.41]}}]}
    geo = read_upload(json.dumps(twin).encode(), "a.geojson", area=area)
    assert [(r.geometry.geom_type, r.source_index) for r in geo] == [(r.geometry.geom_type, r.source_index)
                                                                    for r in res]


def test_a_faulty_member_refuses_that_member_only(area):
    data = _csv(f"GEOMETRYCOLLECTION(POINT(4.44 50.41),{OPEN},GEOMETRYCOLLECTION(POINT(4.44 50.41)))")
    ok, unclosed, nested = read_upload(data, "a.csv", area=area)
    assert isinstance(ok, ReportInput) and ok.source_index == 0
    assert (unclosed.code, unclosed.where, unclosed.extra["index"], unclosed.extra["member"],
            unclosed.extra["column"], unclosed.extra["pointer"], unclosed.extra["ring"]) == \
        ("ring_not_closed", "row 2", 0, 1, "wkt", "/geometry/geometries/1/coordinates/0/3", 0)
    assert (nested.code, nested.extra["member"], nested.extra["pointer"]) == \
        ("unsupported_geometry_type", 2, "/geometry/geometries/2/type")


def test_an_empty_collection_is_an_empty_geometry(area):
    err = _one(area, _csv("GEOMETRYCOLLECTION EMPTY"))
    assert (err.code, err.where, err.extra["column"]) == ("empty_geometry", "row 2", "wkt")


# --------------------------------------------------------------------------- 3. columns_ignored

def _ignored(res) -> list[list[str]]:  # noqa: ANN001
    return [w["columns"] for w in res.warnings if w["code"] == "columns_ignored"]


@pytest.mark.parametrize(("data", "columns", "column_map"), [
    (b"latitude;longitude;operateur;couleur\n50.41;4.44;Proximus;rouge\n", ["couleur"], None),  # the audit's
    (b"lat,lon,note interne,couleur,taille\n50.41,4.44,x,rouge,2\n", ["note interne", "couleur", "taille"], None),
    (b"lat;;lon;description\n50.41;;4.44;x\n", ["column 2"], None),  # an unnamed column
    (b"lat;lon;x;y\n50.41;4.44;155348;122214\n", ["x", "y"], None),  # the coordinates not read
    (b"lat;lon;wkt;couleur\n50.41;4.44;POINT(4.44 50.41);r\n", ["lat", "lon", "couleur"], {"wkt": "wkt"}),
    (b"description;remarque;lat;lon\na;b;50.41;4.44\n", ["remarque"], {"description": "description"}),
])
def test_csv_columns_read_for_nothing_are_named(area, data, columns, column_map):
    res = read_upload(data, "a.csv", area=area, column_map=column_map)
    assert all(isinstance(r, ReportInput) for r in res)
    assert _ignored(res) == [columns]
    (warning,) = [w for w in res.warnings if w["code"] == "columns_ignored"]
    assert all(repr(c) in warning["detail"] for c in columns)


def test_every_column_read_no_warning(area):
    res = read_upload(b"lat;lon;description;operateur\n50.41;4.44;x;Proximus\n", "a.csv", area=area)
    assert res.warnings == []


def test_geojson_properties_read_for_nothing(area):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": 7, "properties": {"id": 1, "operateur": "Proximus", "couleur": "rouge"},
         "geometry": {"type": "Point", "coordinates": [4.44, 50.41]}},
        {"type": "Feature", "properties": {"couleur": "bleu", "taille": 3},
         "geometry": {"type": "Point", "coordinates": [4.44, 50.41]}}]}
    res = read_upload(json.dumps(doc).encode(), "a.geojson", area=area)
    assert _ignored(res) == [["couleur", "taille"]]  # an id is no column of the user's


KML = """<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>Gare</name><description>Pas de 4G</description><TimeStamp><when>2025-03-01</when></TimeStamp>
<ExtendedData><Data name="operateur"><value>Proximus</value></Data><Data name="couleur"><value>rouge</value></Data>
</ExtendedData><Point><coordinates>4.44,50.41</coordinates></Point></Placemark></Document></kml>"""

GPX = """<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="50.41" lon="4.44"><ele>130</ele><time>2025-03-01T10:00:00Z</time><name>Gare</name><desc>x</desc>
<sym>Flag</sym></wpt></gpx>"""


def _ogr_files() -> dict[str, bytes]:
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame({"operateur": ["Proximus"], "couleur": ["rouge"]},
                             geometry=[shapely.Point(4.44, 50.41)], crs=4326)
    gpkg = io.BytesIO()
    frame.to_file(gpkg, driver="GPKG", layer="zones")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        frame.to_file(Path(d) / "zones.shp", encoding="utf-8")
        shp = io.BytesIO()
        with zipfile.ZipFile(shp, "w") as z:
            for f in sorted(Path(d).iterdir()):
                z.write(f, f.name)
    return {"a.gpkg": gpkg.getvalue(), "a.zip": shp.getvalue()}


def test_other_formats_name_their_columns_read_for_nothing(area):
    files = {"a.kml": KML.encode(), "a.gpx": GPX.encode(), **_ogr_files()}
    got = {name: _ignored(read_upload(data, name, area=area)) for name, data in files.items()}
    # KML: the ExtendedData (not LIBKML's own fields); GPX: its standard elements are not
    # columns; a placemark's or waypoint's name beside a description is its first line
    assert got == {"a.kml": [["couleur"]], "a.gpx": [], "a.gpkg": [["couleur"]], "a.zip": [["couleur"]]}


@pytest.mark.parametrize(("name", "description", "ignored", "stored"), [
    ("Gare", "Pas de 4G", [], "Gare\nPas de 4G"),     # both: the name (a place) first, then the description
    ("Gare", None, [], "Gare"),                         # a name alone is the description
    ("Pas de 4G", "Pas de 4G", [], "Pas de 4G"),        # the same text twice: nothing lost
])
def test_a_placemark_name_beside_a_description_is_not_dropped_unsaid(area, name, description, ignored, stored):
    body = f"<name>{name}</name>" + (f"<description>{description}</description>" if description else "")
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f"<Placemark>{body}<Point><coordinates>4.44,50.41</coordinates></Point></Placemark>"
           "</Document></kml>")
    res = read_upload(kml.encode(), "a.kml", area=area)
    assert _ignored(res) == ignored
    assert [r.properties["description"] for r in res] == [stored]


def test_gpx_elements_a_person_writes_are_named_when_they_hold_a_value(area):
    # <type>, <src> and links are the user's words, read into no report property: said, not
    # dropped silently; the device's own (ele, time, sym) and an empty <type> are not
    gpx = GPX.replace("<sym>Flag</sym>", "<sym>Flag</sym><type>Zone blanche 4G</type><src>relevé</src>"
                      '<link href="https://ex.example/p"><text>photo</text></link>')
    res = read_upload(gpx.encode(), "a.gpx", area=area)
    assert all(isinstance(r, ReportInput) for r in res)
    assert _ignored(res) == [["type", "src", "link1_href", "link1_text"]]
    assert _ignored(read_upload(GPX.replace("<sym>Flag</sym>", "<type> </type>").encode(), "a.gpx",
                                area=area)) == []  # (the waypoint's name beside its <desc>: its first line)


def test_the_warning_reaches_the_api_preview(area, admin, db):
    data = b"latitude;longitude;operateur;couleur\n50.41;4.44;Proximus;rouge\n"
    response = upload_file(admin, data, "a.csv", network="mobile", dry_run="true")
    assert response.status_code == 200
    body = response.get_json()
    assert [(w["code"], w["columns"]) for w in body["warnings"]] == [("columns_ignored", ["couleur"])]
    assert body["accepted"] == 1


# --------------------------------------------------------------------------- 4. rows as a spreadsheet shows them

ROWS = 'lat;lon;description\n50.41;4.44;"a\nb"\n\n50.41;abc;x\n;;\n50.41;4.44;"c\n\nd"\n50.41;;y\n'


@pytest.mark.parametrize("data", [
    ROWS.encode(),
    ROWS.replace("\n", "\r\n").encode(),
    ROWS.replace("\n", "\r").encode(),  # Excel for Mac
    b"\xef\xbb\xbf" + ROWS.encode(),
    ROWS.encode("utf-16"),
    ("sep=;\n" + ROWS).encode(),  # Excel's directive is not a row
])
def test_rows_are_numbered_as_a_spreadsheet_shows_them(area, data):
    res = read_upload(data, "a.csv", area=area)
    assert [(getattr(r, "code", "ok"), getattr(r, "where", None), getattr(r, "extra", {}).get("index"),
             getattr(r, "extra", {}).get("column")) for r in res] == [
        ("ok", None, None, None),
        ("invalid_coordinate", "row 4", 1, "lon"),  # the quoted cell on two lines is row 2; row 3 blank
        ("ok", None, None, None),  # row 5 (;;) is empty and skipped; row 6 spans three lines
        ("invalid_coordinate", "row 7", 3, "lon"),
    ]
    assert all("feature" not in r.detail.lower() for r in res if isinstance(r, GeosignalError))


def test_file_level_errors_count_rows_too(area):
    quote = b'lat;lon;description\n50.41;4.44;"a\nb"\n50.41;4.44;"open\n'
    with pytest.raises(GeosignalError) as info:
        read_upload(quote, "a.csv", area=area)
    assert (info.value.code, info.value.where, info.value.extra["column"]) == \
        ("unterminated_quote", "row 3", "description")
    mixed = 'lat;lon;description\n50.41;4.44;"a\nb"\n50.41;4.44;réseau\n'.encode() + b"50.41;4.44;r\xe9seau\n"
    with pytest.raises(GeosignalError) as info:
        read_upload(mixed, "a.csv", area=area)
    assert (info.value.code, info.value.where, info.value.extra["utf8_row"]) == ("unreadable_file", "row 4", 3)
    # the cell is counted from the start of its record, not of the line a quoted cell began
    mixed = ('lat;lon;description;lieu\n50.41;4.44;"a\nb";réseau\n'.encode()
             + b'50.41;4.44;"une\ndeux";Ch\xe2telet\n')
    with pytest.raises(GeosignalError) as info:
        read_upload(mixed, "a.csv", area=area)
    assert (info.value.where, info.value.extra["column"], info.value.extra["column_number"]) == ("row 3", "lieu", 4)
    long = b'lat;lon;description\n50.41;4.44;"a\nb"\n50.41;4.44;' + b"x" * 10_001 + b"\n"
    with pytest.raises(GeosignalError) as info:
        read_upload(long, "a.csv", area=area)
    assert (info.value.code, info.value.where) == ("field_too_long", "row 3")


def test_errors_found_at_import_say_row_not_feature(area, admin, db):
    data = b"lat;lon;description\n50.41;4.44;\"a\nb\"\n50.8467;4.3525;Bruxelles\n"  # outside the communes served
    response = upload_file(admin, data, "a.csv", dry_run="true")  # no default network: every row lacks one
    body = response.get_json()
    assert [(f["index"], f["error"]["code"], f["error"]["where"]) for f in body["features"]] == [
        (0, "invalid_attribute", "row 2"), (1, "outside_service_area", "row 3")]


def test_every_entry_of_a_csv_report_carries_its_row(area, admin, db):
    # what the upload page's "Ligne" column and map tooltips show: the spreadsheet's row, not the rank
    response = upload_file(admin, ROWS.encode(), "a.csv", network="mobile", dry_run="true")
    assert response.status_code == 200
    entries = [(f["index"], f["row"], f["status"]) for f in response.get_json()["features"]]
    assert entries == [(0, 2, "accepted"), (1, 4, "refused"), (2, 6, "accepted"), (3, 7, "refused")]
    # the report built whole (an import job's answer) says the same as the streamed one
    user = db.scalar(select(User).where(User.email == admin.email))
    outcome = import_file(db, user, ROWS.encode(), "a.csv", area=area, limits=Limits(), default_network="mobile",
                          dry_run=True, raise_rejected=False)
    assert [(f["index"], f["row"], f["status"]) for f in outcome.features] == entries
    geojson = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, ' \
              b'"geometry": {"type": "Point", "coordinates": [4.44, 50.41]}}]}'
    body = upload_file(admin, geojson, "a.geojson", network="mobile", dry_run="true").get_json()
    assert "row" not in body["features"][0]  # a GeoJSON feature has no row: its index says where



def test_accepted_wkt_rows_carry_their_row_too(area, admin, db):
    # trial-a 11: accepted rows read from a WKT column had only "index" (refused ones and lat/lon
    # rows carried "row"); a quoted cell over two lines is one row, a collection's members share it
    data = ("wkt;description\n"
            '"POINT (4.444 50.41)";"a\nb"\n'
            f'"{OPEN}";ouverte\n'
            '"GEOMETRYCOLLECTION(POINT(4.44 50.41),LINESTRING(4.44 50.41,4.45 50.42))";deux\n'
            '"POINT Z (4.445 50.41 12)";z\n').encode()
    expected = [(0, 2, "accepted"), (1, 3, "refused"), (2, 4, "accepted"), (2, 4, "accepted"), (3, 5, "accepted")]
    for stored in ({"dry_run": "true"}, {"mode": "valid_only"}):
        response = upload_file(admin, data, "a.csv", network="mobile", **stored)
        assert response.status_code in (200, 201), response.get_json()
        assert [(f["index"], f["row"], f["status"]) for f in response.get_json()["features"]] == expected
    user = db.scalar(select(User).where(User.email == admin.email))
    outcome = import_file(db, user, data, "a.csv", area=area, limits=Limits(), default_network="mobile",
                          dry_run=True, raise_rejected=False)
    assert [(f["index"], f["row"], f["status"]) for f in outcome.features] == expected

# --------------------------------------------------------------------------- through the API

def test_a_refused_row_is_not_stored_and_the_rest_is(area, admin, db):
    data = ("wkt;description;couleur\n"
            f'"{CLOSED}";zone;rouge\n'
            f'"{OPEN}";ouverte;bleu\n'
            '"GEOMETRYCOLLECTION(POINT(4.44 50.41),LINESTRING(4.44 50.41,4.45 50.42))";deux;vert\n'
            '"POLYGON((4.44 50.41,4.45";illisible;noir\n').encode()
    preview = upload_file(admin, data, "a.csv", network="mobile", dry_run="true").get_json()
    assert [(f["index"], f["status"], f.get("error", {}).get("code"), f.get("error", {}).get("where"),
             f.get("error", {}).get("column")) for f in preview["features"]] == [
        (0, "accepted", None, None, None),
        (1, "refused", "ring_not_closed", "row 3", "wkt"),
        (2, "accepted", None, None, None), (2, "accepted", None, None, None),
        (3, "refused", "invalid_geometry", "row 5", "wkt"),
    ]
    assert [(w["code"], w["columns"]) for w in preview["warnings"]] == [("columns_ignored", ["couleur"])]
    assert preview["features"][1]["error"]["ring"] == 0
    before = count_reports(db)
    refused = upload_file(admin, data, "a.csv", network="mobile", mode="all")
    assert refused.status_code == 422 and refused.get_json()["code"] == "import_rejected"
    assert count_reports(db) == before  # nothing stored when a row is refused
    saved = upload_file(admin, data, "a.csv", network="mobile", mode="valid_only")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 3
    assert count_reports(db) == before + 3


# =========================================================================== a radius that cannot be read

@pytest.mark.parametrize(("cell", "code", "detail"), [
    ("NaN", "non_finite_number", "radius is 'NaN', not a finite number."),  # as a JSON NaN: non_finite_number
    ("inf", "non_finite_number", "radius is 'inf', not a finite number."),
    ("1e999", "non_finite_number", "radius is '1e999', not a finite number."),
    ("-3", "invalid_attribute", "radius must be a number of metres > 0; got -3.0."),
    ("0", "invalid_attribute", "radius must be a number of metres > 0; got 0.0."),
    ("abc", "invalid_attribute", "radius must be a number of metres > 0; got 'abc'."),
    ("٣", "invalid_attribute", "radius must be a number of metres > 0; got '٣'."),
])
def test_a_radius_that_cannot_be_read_refuses_the_row_as_the_api_does(area, admin, db, cell, code, detail):
    # dropped, the circle would silently become a point: the row is refused with the API's code
    data = f"lat,lon,radius,description\n50.41,4.44,{cell},x\n50.413,4.443,\"150,5\",comma\n".encode()
    err, ok = read_upload(data, "a.csv", area=area)
    assert (err.code, err.status, err.where, err.extra["column"], err.extra["name"], err.extra["value"]) == \
        (code, 422, "row 2", "radius", "radius", cell)
    assert err.detail == detail
    assert [(e["code"], e["column"]) for e in err.extra["errors"]] == [(code, "radius")]
    assert ok.properties["radius"] == 150.5 and ok.geometry.geom_type == "Polygon"
    before = count_reports(db)
    response = upload_file(admin, data, "a.csv", network="mobile", dry_run="true")
    first = response.get_json()["features"][0]
    assert (first["status"], first["error"]["code"], first["error"]["where"], first["error"]["column"]) == \
        ("refused", code, "row 2", "radius")
    response = upload_file(admin, data, "a.csv", network="mobile", mode="all")
    assert (response.status_code, response.get_json()["code"]) == (422, "import_rejected")
    assert count_reports(db) == before


def test_a_radius_that_cannot_be_read_in_a_geojson_file_is_refused_with_its_pointer(area):
    data = (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"radius":-3,'
            b'"households_affected":"1.000"},"geometry":{"type":"Point","coordinates":[4.444,50.41]}}]}')
    (err,) = read_upload(data, "a.geojson", area=area)
    assert (err.code, err.where, err.extra["pointer"], err.extra["column"]) == \
        ("invalid_attribute", "feature 0", "/features/0/properties/radius", "radius")
    # every fault of the feature: the refusal, then the attribute that would have been dropped
    assert [(e["code"], e["name"]) for e in err.extra["errors"]] == \
        [("invalid_attribute", "radius"), ("invalid_attribute", "households_affected")]
