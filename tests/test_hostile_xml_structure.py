"""Hostile KML/GPX structure and GeoPackage blobs (audit of the XML formats): what GDAL would
silently reshape, misread or drop is refused with that feature only (its ``index`` as the
per-feature report shows it, ``where="feature i"``, the line where it is written), the other
features read; dates, encodings, elevations, measures and descriptions as written.

Inputs are generated here, small, on the real communes (Charleroi).
"""

from __future__ import annotations

import sqlite3
import struct
import warnings
from datetime import datetime

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point

from geosignal.errors import GeosignalError
from geosignal.services.intake import ReportInput, read_upload
from tests.factories import count_reports, upload_file, zipped

HEAD = '<?xml version="1.0" encoding="{enc}"?>\n<kml xmlns="http://www.opengis.net/kml/2.2" ' \
       'xmlns:gx="http://www.google.com/kml/ext/2.2"><Document>\n'
GOOD = "<Placemark><name>ok</name><Point><coordinates>4.4440,50.4108</coordinates></Point></Placemark>\n"
SQUARE = "4.44,50.41 4.45,50.41 4.45,50.42 4.44,50.42 4.44,50.41"
HOLE = "4.441,50.411 4.442,50.411 4.442,50.412 4.441,50.412 4.441,50.411"


def kml(*lines: str, enc: str = "UTF-8", codec: str = "utf-8") -> bytes:
    """A KML document: the declaration (line 1), <kml><Document> (line 2), then one line per
    item of ``lines`` (line 3 onwards)."""
    return (HEAD.format(enc=enc) + "".join(lines) + "</Document></kml>\n").encode(codec)


def bad(geometry: str, name: str = "bad") -> str:
    return f"<Placemark><name>{name}</name>{geometry}</Placemark>\n"


def outer(ring: str) -> str:
    return f"<outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs>"


def inner(ring: str) -> str:
    return f"<innerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing></innerBoundaryIs>"


def one_refused(area, data: bytes, filename: str, n: int, at: int) -> GeosignalError:  # noqa: ANN001
    """Assert that ``data`` gives ``n`` results, all reports but the one at ``at``, refused with
    ``where``/``index`` naming it; return that error."""
    res = read_upload(data, filename, area=area)
    assert [type(r) for r in res] == [GeosignalError if k == at else ReportInput for k in range(n)], \
        [getattr(r, "detail", None) for r in res]
    err = res[at]
    assert (err.where, err.extra["index"]) == (f"feature {at}", at)
    return err


# =========================================================================== 1. KML structure GDAL reshapes

@pytest.mark.parametrize(("geometry", "code", "words"), [
    # audit: a Polygon with two outer boundaries became its second ring only
    (f"<Polygon>{outer(SQUARE)}{outer(HOLE)}</Polygon>", "invalid_geometry", "2 <outerBoundaryIs>"),
    # only a hole: became a polygon of the hole
    (f"<Polygon>{inner(HOLE)}</Polygon>", "invalid_geometry", "no <outerBoundaryIs>"),
    # a Point with two positions kept the first
    ("<Point><coordinates>4.444,50.41 4.445,50.41</coordinates></Point>", "invalid_geometry", "hold 2 positions"),
    # two geometries outside a MultiGeometry: one kept
    ("<Point><coordinates>4.444,50.41</coordinates></Point><LineString><coordinates>4.444,50.41 4.445,50.41"
     "</coordinates></LineString>", "invalid_geometry", "outside a <MultiGeometry>"),
    (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{SQUARE}</coordinates></LinearRing><LinearRing>"
     f"<coordinates>{HOLE}</coordinates></LinearRing></outerBoundaryIs></Polygon>", "invalid_geometry",
     "holding 2 <LinearRing>"),
    ("<Point><coordinates>4.444,50.41</coordinates><coordinates>4.445,50.41</coordinates></Point>",
     "invalid_geometry", "2 <coordinates> elements"),
    (f"<LinearRing><coordinates>{SQUARE}</coordinates></LinearRing>", "unsupported_geometry_type", "<LinearRing>"),
    (f"<MultiGeometry><Point><coordinates>4.444,50.41</coordinates></Point><LinearRing><coordinates>{SQUARE}"
     "</coordinates></LinearRing></MultiGeometry>", "unsupported_geometry_type", "<LinearRing> on its own"),
    ("<MultiGeometry><MultiGeometry><Point><coordinates>4.444,50.41</coordinates></Point></MultiGeometry>"
     "<Point><coordinates>4.445,50.41</coordinates></Point></MultiGeometry>", "unsupported_geometry_type",
     "cannot be nested"),
    ("<Model><Location><longitude>4.44</longitude><latitude>50.41</latitude></Location></Model>",
     "unsupported_geometry_type", "<Model>"),
    ("<Polygon></Polygon>", "empty_geometry", "without <outerBoundaryIs>"),
    ("<Point></Point>", "empty_geometry", "without <coordinates>"),  # was read as 0,0 (outside_service_area)
    ("<Point><coordinates> </coordinates></Point>", "empty_geometry", "empty <coordinates>"),
    ("<MultiGeometry></MultiGeometry>", "empty_geometry", "empty <MultiGeometry>"),
    ("", "empty_geometry", "has no geometry"),
])
def test_kml_structure_gdal_would_reshape_refuses_that_placemark(area, geometry, code, words):
    data = kml(GOOD, bad(geometry), GOOD)
    err = one_refused(area, data, "a.kml", 3, 1)
    assert (err.code, err.extra["placemark"], err.extra["name"], err.extra["line"], err.extra["layer"]) == (
        code, 1, "bad", 4, "document")
    assert err.detail.startswith("The placemark 'bad' (line 4) ") and words in err.detail, err.detail
    assert isinstance(err.extra["column"], int)


def test_kml_well_formed_structures_are_read_as_before(area):
    data = kml(bad(f"<Polygon>{outer(SQUARE)}{inner(HOLE)}</Polygon>", "zone"),
               bad("<MultiGeometry><Point><coordinates>4.444,50.41</coordinates></Point><Point><coordinates>"
                   "4.445,50.41</coordinates></Point></MultiGeometry>", "points"),
               bad("<gx:Track><when>2025-06-03T10:00:00Z</when><when>2025-06-03T10:01:00Z</when>"
                   "<gx:coord>4.44 50.41 0</gx:coord><gx:coord>4.45 50.41 0</gx:coord></gx:Track>", "trace"))
    res = read_upload(data, "a.kml", area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [r.geometry.geom_type for r in res] == ["Polygon", "MultiPoint", "LineString"]
    assert len(res[0].geometry.interiors) == 1


# =========================================================================== 2. one bad position: that feature only

def test_kml_bad_position_refuses_its_placemark_with_its_index_in_the_file(area, admin, db):
    # folders are layers GDAL reads apart: the features are numbered as the file holds them
    good = [GOOD.replace("4.4440", f"4.44{k}5") for k in range(3)]  # three distinct reports
    data = kml(good[0], "<Folder><name>Zones</name>\n", good[1],
               bad("<Point><coordinates>4.44,abc</coordinates></Point>", "Rue Haute"), "</Folder>\n", good[2])
    err = one_refused(area, data, "a.kml", 4, 2)
    assert (err.code, err.extra["placemark"], err.extra["name"], err.extra["line"], err.extra["layer"],
            err.extra["value"]) == ("invalid_coordinate", 2, "Rue Haute", 6, "Zones", "4.44,abc")
    assert "'4.44,abc'" in err.detail and "lon,lat" in err.detail
    # through the API: the preview names it; mode=all stores nothing; valid_only stores the rest
    before = count_reports(db)
    preview = upload_file(admin, data, "a.kml", network="mobile", dry_run="true", mode="all")
    features = preview.get_json()["features"]
    assert preview.status_code == 200 and [f["status"] for f in features] == ["accepted"] * 2 + ["refused", "accepted"]
    problem = features[2]["error"]
    assert (problem["code"], problem["where"], problem["index"], problem["line"], problem["placemark"]) == (
        "invalid_coordinate", "feature 2", 2, 6, 2)
    rejected = upload_file(admin, data, "a.kml", network="mobile", mode="all")
    assert (rejected.status_code, rejected.get_json()["code"]) == (422, "import_rejected")
    assert count_reports(db) == before
    kept = upload_file(admin, data, "a.kml", network="mobile", mode="valid_only")
    assert kept.status_code == 201 and (kept.get_json()["saved"], kept.get_json()["refused"]) == (3, 1)
    assert count_reports(db) == before + 3


def test_kmz_bad_position_names_the_member(area):
    data = zipped(("doc.kml", kml(GOOD, bad("<LineString><coordinates>4.44,50.41 4.45</coordinates></LineString>"))))
    err = one_refused(area, data, "a.kmz", 2, 1)
    assert (err.code, err.extra["member"], err.extra["line"], err.extra["value"]) == (
        "invalid_coordinate", "doc.kml", 4, "4.45")


GPX_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
            'xmlns="http://www.topografix.com/GPX/1/1">\n')
WPT = '<wpt lat="50.4108" lon="4.4440"><name>Gare</name></wpt>\n'
TRK = ('<trk><name>Tour</name><trkseg><trkpt lat="50.40" lon="4.44"/><trkpt lat="50.41" lon="4.45"/></trkseg>'
       '</trk>\n')


def gpx(*lines: str) -> bytes:
    return (GPX_HEAD + "".join(lines) + "</gpx>\n").encode()


@pytest.mark.parametrize(("attributes", "value"), [('lat="abc" lon="4.444"', "abc"),  # GDAL: 0
                                                   ('lon="4.444"', None),  # GDAL skipped it
                                                   ('lat="50,41" lon="4.444"', "50,41")])  # GDAL: 50
def test_gpx_bad_waypoint_refuses_that_waypoint_only(area, attributes, value):
    data = gpx(WPT, f"<wpt {attributes}><name>Eglise</name></wpt>\n", WPT, TRK)
    err = one_refused(area, data, "a.gpx", 4, 1)
    assert (err.code, err.extra["waypoint"], err.extra["name"], err.extra["line"], err.extra["layer"]) == (
        "invalid_coordinate", 1, "Eglise", 4, "waypoints")
    assert err.extra.get("value") == value and err.detail.startswith("The waypoint 'Eglise' (line 4) has a <wpt>")


@pytest.mark.parametrize(("attributes", "value"), [('lat="NaN" lon="4.444"', "NaN"), ('lat="50.41" lon="inf"', "inf"),
                                                   ('lat="-Infinity" lon="4.444"', "-Infinity"),
                                                   ('lat="1e999" lon="4.444"', "1e999"),
                                                   ('lat="50.41" lon="+NAN"', "+NAN")])
def test_gpx_non_finite_lat_lon_is_non_finite_number_as_everywhere(area, admin, db, attributes, value):
    # a lat/lon that reads as a number but is not finite gets the code GeoJSON, CSV, KML and
    # <ele> give it (it was invalid_coordinate), with the same position details
    data = gpx(WPT, f"<wpt {attributes}><name>Eglise</name></wpt>\n", WPT, TRK)
    err = one_refused(area, data, "a.gpx", 4, 1)
    assert (err.code, err.where, err.extra["waypoint"], err.extra["name"], err.extra["line"], err.extra["layer"],
            err.extra["value"]) == ("non_finite_number", "feature 1", 1, "Eglise", 4, "waypoints", value)
    assert err.detail.startswith("The waypoint 'Eglise' (line 4) has a <wpt>")
    before = count_reports(db)
    for fields in ({"dry_run": "true"}, {"mode": "all"}):
        body = upload_file(admin, data, "a.gpx", network="mobile", **fields).get_json()
        refused = [f for f in body["features"] if f["status"] == "refused"]
        assert [(f["index"], f["error"]["code"], f["error"]["where"], f["error"]["line"], f["error"]["waypoint"])
                for f in refused] == [(1, "non_finite_number", "feature 1", 4, 1)]
    assert count_reports(db) == before
    # a track point too
    track = f'<trk><name>Boucle</name><trkseg><trkpt lat="50.41" lon="4.44"/>\n<trkpt {attributes}/></trkseg></trk>\n'
    err = one_refused(area, gpx(WPT, track), "a.gpx", 2, 1)
    assert (err.code, err.extra["track"], err.extra["line"], err.extra["value"]) == ("non_finite_number", 0, 5, value)


def test_gpx_bad_track_point_refuses_that_track_with_its_index(area):
    # GDAL reads waypoints, then routes, then tracks: the features are numbered as the file holds them
    track = ('<trk><name>Boucle</name><trkseg><trkpt lat="50.41" lon="4.44"/>\n<trkpt lat="50.41" lon="x"/>'
             '</trkseg></trk>\n')
    route = '<rte><name>Route</name><rtept lat="50.41" lon="4.44"/><rtept lat="50.42" lon="4.45"/></rte>\n'
    err = one_refused(area, gpx(track, WPT, route, WPT), "a.gpx", 4, 0)
    assert (err.code, err.extra["track"], err.extra["name"], err.extra["line"], err.extra["layer"]) == (
        "invalid_coordinate", 0, "Boucle", 4, "tracks")
    # a track whose only point has no lat: refused (GDAL would have read it as an empty track, skipped)
    err = one_refused(area, gpx(WPT, '<trk><name>Vide?</name><trkseg><trkpt lon="4.44"/></trkseg></trk>\n'),
                      "a.gpx", 2, 1)
    assert (err.code, err.extra["track"], err.extra["line"]) == ("invalid_coordinate", 0, 4)


# =========================================================================== 3. gx:Track positions

@pytest.mark.parametrize(("coord", "code"), [("4.45 abc 0", "invalid_coordinate"), ("4.45", "invalid_coordinate"),
                                           ("4.45 50.41 0 7", "invalid_coordinate"),
                                           ("4,45 50,41", "invalid_coordinate"),
                                           ("4.45 nan 0", "non_finite_number"), ("Inf 50.41", "non_finite_number"),
                                           ("4.45 1e999", "non_finite_number")])
def test_gx_track_positions_are_checked(area, coord, code):
    track = (f"<gx:Track><gx:coord>4.44 50.41 0</gx:coord>\n<gx:coord>{coord}</gx:coord></gx:Track>")
    err = one_refused(area, kml(GOOD, bad(track, "trace")), "a.kml", 2, 1)
    assert (err.code, err.extra["placemark"], err.extra["line"], err.extra["value"]) == (
        code, 1, 5, coord)
    assert "<gx:coord>" in err.detail


# =========================================================================== 4. KML partial dates

@pytest.mark.parametrize(("when", "span"), [("2025", "a year"), ("2025-06", "a month")])
def test_kml_partial_date_is_neither_completed_nor_dropped_silently(area, when, span):
    data = kml(bad(f"<TimeStamp><when>{when}</when></TimeStamp><Point><coordinates>4.444,50.41</coordinates>"
                   "</Point>", "p"))
    (rep,) = read_upload(data, "a.kml", area=area)
    assert "observed_at" not in rep.properties
    (w,) = [w for w in rep.warnings if w["code"] == "attribute_dropped"]
    assert (w["name"], w["value"], w["error"]) == ("observed_at", when, "invalid_datetime")
    assert f"<when>{when}</when> is only {span}" in w["detail"] and "Write the day" in w["detail"]


def test_kml_full_dates_are_read_as_before(area):
    data = kml(*(bad(f"<TimeStamp><when>{w}</when></TimeStamp><Point><coordinates>4.444,50.41</coordinates></Point>")
                 for w in ("2025-06-03", "2025-06-03T10:00:00Z", "2025-06-03T12:00:00+02:00")))
    res = read_upload(data, "a.kml", area=area)
    assert [r.properties["observed_at"].isoformat() for r in res] == [
        "2025-06-03T00:00:00+02:00", "2025-06-03T10:00:00+00:00", "2025-06-03T12:00:00+02:00"]
    assert not [w for r in res for w in r.warnings]


def test_kml_time_span_is_one_date_only_when_it_names_one_moment(area):
    def span(*bounds: str) -> str:
        return bad("<TimeSpan>" + "".join(bounds) + "</TimeSpan><Point><coordinates>4.444,50.41</coordinates></Point>")

    data = kml(span("<begin>2025-06-01</begin>", "<end>2025-06-03</end>"),
               span("<begin>2025-06-03T10:00:00+02:00</begin>"),
               span("<begin>2025-06-04</begin>", "<end>2025-06-04</end>"),
               span("<end>2025-06</end>"))
    period, begun, same_day, month = read_upload(data, "a.kml", area=area)
    # a period: no bound chosen for the user, and the warning says what to write
    assert "observed_at" not in period.properties
    (w,) = period.warnings
    assert (w["code"], w["name"], w["column"], w["value"]) == (
        "attribute_dropped", "observed_at", "TimeSpan", "2025-06-01/2025-06-03")
    assert "is a period" in w["detail"] and "<when>2025-06-01</when>" in w["detail"]
    # one moment: read as a <when> would be
    assert begun.properties["observed_at"].isoformat() == "2025-06-03T10:00:00+02:00" and not begun.warnings
    assert same_day.properties["observed_at"].isoformat() == "2025-06-04T00:00:00+02:00" and not same_day.warnings
    # one moment that is only a month: never completed to the first
    assert "observed_at" not in month.properties
    (w,) = [w for w in month.warnings if w["code"] == "attribute_dropped"]
    assert "<TimeSpan> 2025-06 is only a month" in w["detail"]


# =========================================================================== 5. declared encodings

@pytest.mark.parametrize(("declared", "codec", "text"), [
    ("windows-1252", "cp1252", "Église â Fontaine-l’Évêque €"),
    ("ISO-8859-1", "latin-1", "Église â château"),
    ("ISO-8859-15", "iso8859-15", "Église â œuvre €"),
])
def test_kml_in_a_declared_single_byte_encoding_is_read_as_declared(area, admin, db, declared, codec, text):
    data = kml(bad("<Point><coordinates>4.444,50.41</coordinates></Point>", text), enc=declared, codec=codec)
    (rep,) = read_upload(data, "a.kml", area=area)
    assert rep.properties["description"] == text
    before = count_reports(db)
    saved = upload_file(admin, data, "a.kml", network="mobile")
    assert saved.status_code == 201 and count_reports(db) == before + 1


def test_kml_bytes_not_valid_in_the_declared_encoding_are_located(area):
    data = kml(GOOD, enc="windows-1252").replace(b"<name>ok", b"<name>o\x81k")  # 0x81: undefined in cp1252
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "a.kml", area=area)
    err = info.value
    assert (err.code, err.where, err.extra["line"], err.extra["encoding"]) == (
        "unreadable_file", f"line 3 column {err.extra['column']}", 3, "cp1252")
    with pytest.raises(GeosignalError) as info:
        read_upload(kml(GOOD, enc="x-unknown-1"), "a.kml", area=area)
    assert (info.value.code, info.value.extra["encoding"]) == ("unreadable_file", "x-unknown-1")


# =========================================================================== 6. GPX elevations, measures, descriptions

@pytest.mark.parametrize(("ele", "code"), [("NaN", "non_finite_number"), ("inf", "non_finite_number"),
                                           ("-Infinity", "non_finite_number"), ("1e999", "non_finite_number"),
                                           ("abc", "invalid_coordinate")])
def test_gpx_non_finite_elevation_refuses_its_feature(area, ele, code):
    data = gpx(WPT, f'<wpt lat="50.41" lon="4.444"><ele>{ele}</ele><name>Haut</name></wpt>\n',
               f'<trk><name>T</name><trkseg><trkpt lat="50.40" lon="4.44"/>\n<trkpt lat="50.41" lon="4.45">'
               f"<ele>{ele}</ele></trkpt></trkseg></trk>\n")
    res = read_upload(data, "a.gpx", area=area)
    assert [type(r) for r in res] == [ReportInput, GeosignalError, GeosignalError]
    wpt, trk = res[1], res[2]
    assert (wpt.code, wpt.where, wpt.extra["index"], wpt.extra["waypoint"], wpt.extra["line"], wpt.extra["value"]) \
        == (code, "feature 1", 1, 1, 4, ele)
    assert (trk.code, trk.where, trk.extra["index"], trk.extra["track"], trk.extra["line"]) == (
        code, "feature 2", 2, 0, 6)
    assert "<ele>" in wpt.detail


def test_gpx_elevations_dropped_are_said(area):
    data = gpx('<wpt lat="50.41" lon="4.444"><ele>130</ele></wpt>\n',
               '<trk><trkseg><trkpt lat="50.40" lon="4.44"><ele>120</ele></trkpt><trkpt lat="50.41" lon="4.45"/>'
               "</trkseg></trk>\n", WPT)
    res = read_upload(data, "a.gpx", area=area)
    assert [[(w["code"], w["mixed"]) for w in r.warnings if w["code"] == "z_dropped"] for r in res] == [
        [("z_dropped", False)], [("z_dropped", True)], []]


def test_gpx_description_is_desc_then_cmt_then_name(area):
    """The description is <desc>, else <cmt>; the waypoint's <name> (a place: « Gare ») is its
    first line, or the whole when there is neither."""
    data = gpx('<wpt lat="50.41" lon="4.444"><name>N</name><cmt>C</cmt><desc>D</desc></wpt>\n',
               '<wpt lat="50.41" lon="4.444"><name>N</name><cmt>C</cmt></wpt>\n',
               '<wpt lat="50.41" lon="4.444"><name>N</name><cmt>D</cmt><desc>D</desc></wpt>\n',
               '<wpt lat="50.41" lon="4.444"><name>N</name></wpt>\n')
    res = read_upload(data, "a.gpx", area=area)
    assert [r.properties["description"] for r in res] == ["N\nD", "N\nC", "N\nD", "N"]
    (w,) = res[0].warnings
    assert (w["code"], w["name"], w["column"], w["value"]) == ("attribute_dropped", "description", "cmt", "C")
    assert not res[1].warnings and not res[2].warnings and not res[3].warnings


# =========================================================================== 7. GeoPackage blobs

def _gpkg(tmp_path, blobs: list[bytes | None]) -> bytes:  # noqa: ANN001
    """A GeoPackage layer ``zones`` of points in Charleroi, the geometry of feature k replaced
    by ``blobs[k]`` when it is not None (written as stored, bypassing GDAL)."""
    path = tmp_path / "blobs.gpkg"
    gdf = gpd.GeoDataFrame({"description": [f"p{k}" for k in range(len(blobs))]},
                           geometry=[Point(4.444 + k * 1e-3, 50.4108) for k in range(len(blobs))], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer="zones", driver="GPKG")
    con = sqlite3.connect(path)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    for k, blob in enumerate(blobs):
        if blob is not None:
            con.execute("UPDATE zones SET geom = ? WHERE fid = ?", (blob, k + 1))
    con.commit()
    con.close()
    return path.read_bytes()


GP = b"GP\x00\x01" + struct.pack("<i", 4326)  # little-endian header, no envelope


def _wkb(code: int, body: bytes) -> bytes:
    return b"\x01" + struct.pack("<I", code) + body


@pytest.mark.parametrize(("blob", "code", "words"), [
    (GP + _wkb(1, struct.pack("<d", 4.444)), "unreadable_file", "damaged"),          # truncated point
    (GP + b"garbage garbage", "unreadable_file", "damaged"),
    (b"XX\x00\x01garbage", "unreadable_file", "not a GeoPackage geometry"),
    (GP + _wkb(101, struct.pack("<I", 4) + struct.pack("<8d", 4.44, 50.41, 4.45, 50.41, 4.45, 50.42, 4.44, 50.41)),
     "unsupported_geometry_type", "LinearRing"),
])
def test_gpkg_damaged_or_unsupported_blob_is_not_called_empty(area, tmp_path, blob, code, words):
    err = one_refused(area, _gpkg(tmp_path, [None, blob, None]), "z.gpkg", 3, 1)
    assert (err.code, err.extra["layer"]) == (code, "zones") and words in err.detail
    assert "empty" not in err.code


@pytest.mark.parametrize(("blob", "code"), [
    (GP + _wkb(7, struct.pack("<I", 0)), "empty_geometry"),     # a collection of nothing, not flagged empty
    (GP + _wkb(1007, struct.pack("<I", 0)), "empty_geometry"),  # the same with Z
    # holding only an empty one: a collection in a collection is no report's shape
    (GP + _wkb(7, struct.pack("<I", 1) + _wkb(7, struct.pack("<I", 0))), "unsupported_geometry_type"),
], ids=["GC", "GC Z", "GC of GC"])
def test_gpkg_empty_collection_is_refused_at_its_feature(area, tmp_path, blob, code):
    # an empty GeometryCollection split into its members gave none: the row vanished, the
    # preview said "2 accepted, 0 refused" for three rows, and a save stored the others
    err = one_refused(area, _gpkg(tmp_path, [None, blob, None]), "z.gpkg", 3, 1)
    assert (err.code, err.where, err.extra["layer"]) == (code, "feature 1", "zones")


def test_gpkg_measures_dropped_are_said(area, tmp_path):
    point_m = GP + _wkb(2001, struct.pack("<3d", 4.444, 50.41, 7.0))
    line_m = GP + _wkb(2002, struct.pack("<I", 2) + struct.pack("<6d", 4.444, 50.41, 1, 4.445, 50.41, 2))
    res = read_upload(_gpkg(tmp_path, [None, point_m, line_m]), "z.gpkg", area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [[w.get("measures") for w in r.warnings if w["code"] == "z_dropped"] for r in res] == [
        [], [True], [True]]
    assert res[2].geometry.geom_type == "LineString"


def test_gpkg_curves_read_as_segments_are_said(area, tmp_path):
    # an arc, and a circle (a CurvePolygon whose ring is one CircularString): GDAL reads them
    # as straight segments close to them; the report says so
    arc = _wkb(8, struct.pack("<I", 3) + struct.pack("<6d", 4.44, 50.41, 4.445, 50.412, 4.45, 50.41))
    ring = _wkb(8, struct.pack("<I", 3) + struct.pack("<6d", 4.44, 50.41, 4.45, 50.41, 4.44, 50.41))
    res = read_upload(_gpkg(tmp_path, [None, GP + arc, GP + _wkb(10, struct.pack("<I", 1) + ring)]), "z.gpkg",
                      area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [[w["code"] for w in r.warnings] for r in res] == [[], ["curve_linearised"], ["curve_linearised"]]
    assert (res[1].geometry.geom_type, res[2].geometry.geom_type) == ("LineString", "Polygon")
    assert len(res[1].geometry.coords) > 3  # the arc, not its three control points


# =========================================================================== 8. gx:Track, mixed 2D/3D KML positions

_KML_NS = 'xmlns="http://www.opengis.net/kml/2.2"'
_GX_NS = 'xmlns:gx="http://www.google.com/kml/ext/2.2"'
TRACK = ("<gx:Track><when>2025-06-03T10:00:00Z</when><when>2025-06-03T10:01:00Z</when><when>2025-06-03T10:02:00Z"
         "</when><gx:coord>4.44 50.41 120</gx:coord><gx:coord>4.45 50.41 121</gx:coord><gx:coord>4.45 50.42 122"
         "</gx:coord>"
         "</gx:Track>")


@pytest.mark.parametrize("root", [f"<kml {_KML_NS} {_GX_NS}>", f"<kml {_GX_NS} {_KML_NS}>",
                                  f"<kml  {_KML_NS} {_GX_NS}>", f"<kml\n  {_KML_NS}\n  {_GX_NS}>"],
                         ids=["default-first", "gx-first", "two-spaces", "line-breaks"])
def test_kml_gx_track_is_read_as_a_line_and_said(area, admin, db, root):
    # trial-a 9: with xmlns:gx written before xmlns (Google My Tracks), GDAL left the file to its
    # older KML driver, which drops <gx:Track> silently: "no_features", or the track lost among others
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + root + "<Document>\n" + GOOD + bad(TRACK, "trace")
            + "</Document></kml>\n").encode()
    res = read_upload(data, "a.kml", area=area)
    assert [type(r) for r in res] == [ReportInput] * 2
    assert [r.geometry.geom_type for r in res] == ["Point", "LineString"]
    assert list(res[1].geometry.coords) == [(4.44, 50.41), (4.45, 50.41), (4.45, 50.42)]
    assert res[1].properties["description"] == "trace"
    # dated by its first point's <when>, as a GPX track by its first <time>
    assert res[1].properties["observed_at"] == datetime.fromisoformat("2025-06-03T12:00:00+02:00")
    assert [(w["code"], w.get("positions"), w.get("mixed")) for w in res[1].warnings] == [
        ("observed_at_from_track", None, None), ("track_read_as_line", 3, None), ("z_dropped", None, False)]
    assert (res[1].warnings[0]["first"], res[1].warnings[0]["last"]) == ("2025-06-03T10:00:00Z", "2025-06-03T10:02:00Z")
    assert res[1].warnings[1]["detail"] == ("The <gx:Track> was read as a line through its 3 position(s) (<gx:coord>); "
                                            "the time of its first point (<when>) is its date observed.")
    assert not res[0].warnings
    preview = upload_file(admin, data, "a.kml", network="mobile", dry_run="true", mode="all").get_json()
    assert (preview["accepted"], preview["refused"]) == (2, 0)
    assert [w["code"] for w in preview["features"][1]["warnings"]] == [
        "observed_at_from_track", "track_read_as_line", "z_dropped"]


@pytest.mark.parametrize(("placemark", "observed", "codes", "says"), [
    # a placemark's own <TimeStamp> is its date: the points' times are not used, and that is said
    ("<TimeStamp><when>2025-05-01</when></TimeStamp>" + TRACK, "2025-05-01T00:00:00+02:00",
     ["track_read_as_line", "z_dropped"], "the times of its points (<when>) were not used: the placemark has a date "
     "of its own"),
    # a time without offset is Brussels time, as any date-time of a file (GPX alone defines UTC)
    ("<gx:Track><when>2025-06-03T10:00:00</when><when>2025-06-03T10:05:00</when><gx:coord>4.44 50.41</gx:coord>"
     "<gx:coord>4.45 50.41</gx:coord></gx:Track>", "2025-06-03T10:00:00+02:00",
     ["observed_at_from_track", "track_read_as_line"], "the time of its first point (<when>) is its date observed"),
    # no time at all: said, no date invented
    ("<gx:Track><gx:coord>4.44 50.41</gx:coord><gx:coord>4.45 50.41</gx:coord></gx:Track>", None,
     ["track_read_as_line"], "its points have no time (<when>)"),
    # an unreadable first time is set aside as any date, with its raw value
    ("<gx:Track><when>soon</when><when>2025-06-03T10:05:00Z</when><gx:coord>4.44 50.41</gx:coord>"
     "<gx:coord>4.45 50.41</gx:coord></gx:Track>", None, ["attribute_dropped", "track_read_as_line"],
     "the time of its first point (<when>) could not be read: no date observed"),
], ids=["own-timestamp", "naive-brussels", "no-when", "unreadable-when"])
def test_kml_gx_track_is_dated_by_its_first_when(area, placemark, observed, codes, says):
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<kml {_KML_NS} {_GX_NS}><Document>\n'
            f"<Placemark><name>trace</name>{placemark}</Placemark></Document></kml>\n").encode()
    (rep,) = read_upload(data, "a.kml", area=area)
    assert rep.geometry.geom_type == "LineString"
    assert rep.properties.get("observed_at") == (datetime.fromisoformat(observed) if observed else None)
    assert [w["code"] for w in rep.warnings] == codes
    (line,) = [w for w in rep.warnings if w["code"] == "track_read_as_line"]
    assert says in line["detail"]


_POINT = "<Point><coordinates>4.4431,50.4131</coordinates></Point>"
_LINE = "<LineString><coordinates>4.4434,50.4134 4.4444,50.4144 4.4454,50.4164</coordinates></LineString>"
_TRACK_2 = "<gx:Track><gx:coord>4.4432 50.4132</gx:coord><gx:coord>4.4452 50.4142</gx:coord></gx:Track>"
_TRACK_3 = ("<gx:Track><gx:coord>4.4433 50.4133</gx:coord><gx:coord>4.4453 50.4143</gx:coord>"
            "<gx:coord>4.4463 50.4153</gx:coord></gx:Track>")


@pytest.mark.parametrize(("members", "said"), [
    ([_POINT, _TRACK_2], [("Point", []), ("LineString", [2])]),
    ([_TRACK_2, _POINT], [("LineString", [2]), ("Point", [])]),
    ([_LINE, _TRACK_3], [("LineString", []), ("LineString", [3])]),
    ([_TRACK_2, _TRACK_3], [("LineString", [2]), ("LineString", [3])]),
    ([_POINT, f"<gx:MultiTrack>{_TRACK_2}{_TRACK_3}</gx:MultiTrack>"], [("Point", []), ("MultiLineString", [5])]),
], ids=["point-track", "track-point", "line-track", "two-tracks", "point-multitrack"])
def test_a_track_split_from_a_multigeometry_says_its_own_positions_alone(area, members, said):
    # a MultiGeometry of a Point and a track of 2 positions: both reports said « read as a line
    # through its 3 positions » (the placemark's, the Point's counted)
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<kml {_KML_NS} {_GX_NS}><Document>\n<Placemark><name>antenne '
            f"et trajet</name><MultiGeometry>{''.join(members)}</MultiGeometry></Placemark></Document></kml>\n").encode()
    res = read_upload(data, "a.kml", area=area)
    assert [(r.geometry.geom_type, [w["positions"] for w in r.warnings if w["code"] == "track_read_as_line"])
            for r in res] == said
    assert all(w["code"] == "geometry_collection_split" for r in res for w in r.warnings
               if w["code"] != "track_read_as_line")
    lines = [w for r in res for w in r.warnings if w["code"] == "track_read_as_line"]
    assert all(f"read as a line through its {w['positions']} position(s)" in w["detail"] for w in lines)


@pytest.mark.parametrize(("geometry", "mixed"), [
    (f"<Polygon>{outer('4.43,50.405,100 4.44,50.405 4.44,50.412,120 4.43,50.412 4.43,50.405,100')}</Polygon>", True),
    ("<LineString><coordinates>4.43,50.405 4.44,50.405,12</coordinates></LineString>", True),
    ("<gx:Track><gx:coord>4.44 50.41</gx:coord><gx:coord>4.45 50.41 7</gx:coord></gx:Track>", True),
    (f"<Polygon>{outer('4.43,50.405,1 4.44,50.405,1 4.44,50.412,1 4.43,50.412,1 4.43,50.405,1')}</Polygon>", False),
    ("<LineString><coordinates>4.43,50.405,0 4.44,50.405,12</coordinates></LineString>", False),
])
def test_kml_mixed_2d_and_3d_positions_say_mixed(area, geometry, mixed):
    # trial-a 6: GDAL gives the 2D positions an altitude of 0, so the warning said "mixed": false
    (rep,) = read_upload(kml(bad(geometry, "z")), "a.kml", area=area)
    (w,) = [w for w in rep.warnings if w["code"] == "z_dropped"]
    assert w["mixed"] is mixed
    assert ("(positions mixed 2D and 3D)" in w["detail"]) is mixed


# =========================================================================== 5. typed KML (Schema/SchemaData), fields given twice

SCHEMA = ('<Schema name="s" id="s"><SimpleField name="households_affected" type="int"/>'
          '<SimpleField name="issue" type="string"/></Schema>\n')


def typed(geometry: str, name: str = "p", data: str = "", extra: str = "") -> str:
    """A placemark as QGIS and ogr2ogr write KML: its fields in a SchemaData."""
    return (f"<Placemark><name>{name}</name>{extra}<ExtendedData><SchemaData schemaUrl=\"#s\">"
            f"<SimpleData name=\"households_affected\">7</SimpleData></SchemaData>{data}</ExtendedData>"
            f"{geometry}</Placemark>\n")


def test_kml_with_a_schema_is_checked_as_written(area, admin, db):
    """A <Schema> made GDAL drop the rank each placemark carries (and any Data the schema does
    not declare): no placemark of such a file was checked as written. A Point of two positions
    was stored as its first (its refusal said apart, as one more feature), a month completed
    to its first day, mixed 2D/3D said unmixed, a Data field lost."""
    data = kml(SCHEMA,
               typed("<Point><coordinates>4.44,50.41 4.45,50.41</coordinates></Point>", "two"),
               typed("<Point><coordinates>4.44,50.41</coordinates></Point>", "month",
                     extra="<TimeStamp><when>2024-06</when></TimeStamp>"),
               typed("<LineString><coordinates>4.44,50.41,10 4.45,50.41</coordinates></LineString>", "mixed"),
               typed("<Point><coordinates>4.445,50.41</coordinates></Point>", "data",
                     data='<Data name="technologies"><value>4G</value></Data>'))
    res = read_upload(data, "typed.kml", area=area)
    assert [type(r) for r in res] == [GeosignalError, ReportInput, ReportInput, ReportInput]
    assert (res[0].code, res[0].extra["index"], res[0].extra["placemark"], res[0].extra["name"]) == \
        ("invalid_geometry", 0, 0, "two")
    assert "observed_at" not in res[1].properties
    assert [(w["code"], w["value"]) for w in res[1].warnings] == [("attribute_dropped", "2024-06")]
    assert [w.get("mixed") for w in res[2].warnings if w["code"] == "z_dropped"] == [True]
    assert res[3].properties["technologies"] == ["4G"] and res[3].properties["households_affected"] == 7
    before = count_reports(db)
    response = upload_file(admin, data, "typed.kml", network="mobile", mode="valid_only")
    assert response.status_code == 201 and response.get_json()["saved"] == 3, response.get_json()
    assert count_reports(db) == before + 3


@pytest.mark.parametrize(("body", "name", "values"), [
    ('<ExtendedData><Data name="households_affected"><value>5</value></Data>'
     '<Data name="households_affected"><value>500</value></Data></ExtendedData>', "households_affected", ["5", "500"]),
    ('<ExtendedData><Data name="households_affected"><value>5</value></Data>'
     '<Data name="Households_Affected"><value>500</value></Data></ExtendedData>', "households_affected", ["5", "500"]),
    ('<ExtendedData><Data name="Nb ménages"><value>5</value></Data>'
     '<Data name="Nb ménages"><value>50</value></Data></ExtendedData>', "households_affected", ["5", "50"]),
    ('<description>A</description><ExtendedData><Data name="description"><value>B</value></Data></ExtendedData>',
     "description", ["A", "B"]),
    ("<description>A</description><description>B</description>", "description", ["A", "B"]),
    ("<TimeStamp><when>2024-01-01</when></TimeStamp><TimeStamp><when>2024-02-01</when></TimeStamp>",
     "observed_at", ["2024-01-01", "2024-02-01"]),
])
def test_kml_field_given_twice_differently_is_dropped_with_a_warning(area, body, name, values):
    """GDAL keeps one of them without a word (the last Data, the first <when>, a Data named
    'description' in place of <description>): neither is chosen."""
    data = kml(f"<Placemark><name>p</name>{body}<Point><coordinates>4.444,50.4108</coordinates></Point></Placemark>\n")
    (report,) = read_upload(data, "twice.kml", area=area)
    assert isinstance(report, ReportInput) and name not in report.properties
    (warning,) = [w for w in report.warnings if w["code"] == "attribute_dropped"]
    assert (warning["name"], warning["values"], warning["error"]) == (name, values, "invalid_attribute")
    assert "placemark 'p' (line 3)" in warning["detail"]


def test_kml_typed_and_plain_data_of_one_name_disagreeing_are_dropped(area):
    data = kml(SCHEMA, typed("<Point><coordinates>4.444,50.4108</coordinates></Point>",
                             data='<Data name="households_affected"><value>70</value></Data>'))
    (report,) = read_upload(data, "twice.kml", area=area)
    assert "households_affected" not in report.properties
    (warning,) = report.warnings
    assert (warning["columns"], warning["values"]) == (
        ['<SimpleData name="households_affected">', '<Data name="households_affected">'], ["7", "70"])


def test_kml_field_given_twice_alike_is_read(area):
    data = kml('<Placemark><name>p</name><ExtendedData><Data name="households_affected"><value>5</value></Data>'
               '<Data name="households_affected"><value> 5 </value></Data></ExtendedData>'
               "<Point><coordinates>4.444,50.4108</coordinates></Point></Placemark>\n")
    (report,) = read_upload(data, "twice.kml", area=area)
    assert (report.properties["households_affected"], report.warnings) == (5, [])


@pytest.mark.parametrize(("body", "name", "values"), [
    ("<desc>A</desc><desc>B</desc>", "description", ["A", "B"]),
    ("<time>2024-01-01T10:00:00Z</time><time>2024-02-01T10:00:00Z</time>", "observed_at",
     ["2024-01-01T10:00:00Z", "2024-02-01T10:00:00Z"]),
])
def test_gpx_element_given_twice_differently_is_dropped_with_a_warning(area, body, name, values):
    data = (GPX_HEAD + f'<wpt lat="50.4108" lon="4.4440"><name>w</name>{body}</wpt></gpx>').encode()
    (report,) = read_upload(data, "twice.gpx", area=area)
    assert isinstance(report, ReportInput) and name not in report.properties
    (warning,) = [w for w in report.warnings if w["code"] == "attribute_dropped"]
    assert (warning["name"], warning["values"]) == (name, values)
    assert "waypoint 'w' (line 3)" in warning["detail"]


def test_gpx_track_of_one_segment_is_a_line_and_of_two_stays_two(area):
    # a user's trial: GDAL reads every <trk> as a MultiLineString, so a one-segment track was
    # "road stretches" (plural) whose shape the edit page could not change
    two = ('<trk><name>Deux</name><trkseg><trkpt lat="50.40" lon="4.44"/><trkpt lat="50.41" lon="4.45"/></trkseg>'
           '<trkseg><trkpt lat="50.42" lon="4.45"/><trkpt lat="50.42" lon="4.46"/></trkseg></trk>\n')
    one, both = read_upload(gpx(TRK, two), "a.gpx", area=area)
    assert (one.geometry.geom_type, list(one.geometry.coords)) == ("LineString", [(4.44, 50.40), (4.45, 50.41)])
    assert (both.geometry.geom_type, len(both.geometry.geoms)) == ("MultiLineString", 2)
