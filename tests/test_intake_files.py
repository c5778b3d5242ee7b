"""Uploads: GeoJSON, KML, KMZ, GPX, CSV, GeoPackage and zipped Shapefile, all read from bytes."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon

from geosignal.errors import GeosignalError
from geosignal.services.intake import (
    Limits,
    ReportInput,
    area_m2,
    detect_format,
    read_upload,
)
from tests.conftest import read_case as case

BRUSSELS = ZoneInfo("Europe/Brussels")


def upload_err(data: bytes, name: str, area, **kw) -> GeosignalError:
    with pytest.raises(GeosignalError) as info:
        read_upload(data, name, area=area, **kw)
    return info.value


# --------------------------------------------------------------------------- case 22: Belgian Excel CSV

@pytest.mark.parametrize(("name", "encoding"), [("22-csv-belgian-excel-cp1252.csv", "cp1252"),
                                                ("22-csv-belgian-excel-utf8-bom.csv", "utf-8-sig")])
def test_case22_belgian_excel_csv(area, name, encoding):
    res = read_upload(case(name), name, area=area)
    assert (res.format, res.encoding, res.delimiter) == ("csv", encoding, ";")
    assert all(isinstance(r, ReportInput) for r in res) and len(res) == 3
    assert [(r.geometry.x, r.geometry.y) for r in res] == [(4.35, 50.505), (4.325, 50.409), (4.39, 50.32)]
    a, b, c = (r.properties for r in res)
    assert a["description"] == "Pas de 4G rue de la Station"
    assert b["description"] == "Aucun réseau près de l'église"
    assert c["description"] == "Zone blanche; chemin agricole"  # quoted ';' kept in one field
    assert a["observed_at"] == datetime(2025, 3, 30, tzinfo=BRUSSELS)
    assert b["observed_at"] == datetime(2025, 4, 15, tzinfo=BRUSSELS)
    assert "observed_at" not in c  # empty date → None
    assert [p["operators"] for p in (a, b, c)] == [["Proximus"], ["Orange"], ["Telenet/BASE"]]
    assert [r.source_index for r in res] == [0, 1, 2]


def test_case22_accents_decoded_in_commune_column(area):
    # the commune column is not a report property; check the decoding itself on both files
    from geosignal.services.intake.files import _decode

    for name in ("22-csv-belgian-excel-cp1252.csv", "22-csv-belgian-excel-utf8-bom.csv"):
        text, _ = _decode(case(name))
        assert "Pont-à-Celles" in text and "Fontaine-l'Évêque" in text
        assert not text.startswith("\ufeff")


# --------------------------------------------------------------------------- case 24: KML

def test_case24_kml_folders_multigeometry(area):
    res = read_upload(case("24-kml-folders-multigeometry.kml"), "releve.kml", area=area)
    assert res.format == "kml" and len(res) == 2
    mp, pt = res
    assert isinstance(mp, ReportInput) and isinstance(pt, ReportInput)
    assert mp.geometry.geom_type == "MultiPolygon" and len(mp.geometry.geoms) == 2
    assert not mp.geometry.has_z and not pt.geometry.has_z
    assert (pt.geometry.x, pt.geometry.y) == (4.55, 50.483)
    assert mp.properties["operators"] == ["Orange"]  # ExtendedData kept
    assert mp.properties["description"] == "Deux parcelles sans signal"  # Name as description
    # KML's HTML description read as its text, below the placemark's name (a place)
    assert pt.properties["description"] == "Point mort près de la gare\nAucun réseau"
    # the zones' altitudes are all 0 (nothing lost, nothing said); the point's is 152 m
    assert [any(w["code"] == "z_dropped" for w in r.warnings) for r in res] == [False, True]
    assert [area.commune_at(*r.geometry.representative_point().coords[0])[1] for r in res] == \
        ["Courcelles", "Fleurus"]


def test_kmz(area):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", case("24-kml-folders-multigeometry.kml"))
        z.writestr("files/icon.png", b"\x89PNG")
    res = read_upload(buf.getvalue(), "releve.kmz", area=area)
    assert res.format == "kmz" and [r.geometry.geom_type for r in res] == ["MultiPolygon", "Point"]


# --------------------------------------------------------------------------- case 26: NaN / Infinity

def test_case26_csv_names_the_row(area):
    res = read_upload(case("26-nan-infinity.csv"), "export.csv", area=area)
    assert [r.code for r in res] == ["non_finite_number"] * 2
    assert [r.where for r in res] == ["row 2", "row 3"]
    assert [r.extra["column"] for r in res] == ["latitude", "longitude"]


def test_case26_geojson_upload_names_feature_and_path(area):
    res = read_upload(case("26-nan-infinity.geojson.txt"), "export.geojson", area=area)
    assert [r.code for r in res] == ["non_finite_number"] * 3
    assert [r.where for r in res] == ["feature 0", "feature 1", "feature 2"]
    assert [r.extra["pointer"] for r in res] == ["/features/0/geometry/coordinates/0",
                                                 "/features/1/geometry/coordinates/1",
                                                 "/features/2/properties/signal_dbm"]


def _feature_with_id(ident: str, k: int) -> str:
    return ('{"type":"Feature","id":' + ident + ',"geometry":{"type":"Point","coordinates":[4.444,'
            f'{50.4108 + k * 0.001:.4f}]}},"properties":{{"network":"mobile","description":"feature {k}"}}}}')


def test_a_geojson_feature_id_neither_string_nor_number_refuses_that_feature(area, admin, db):
    # RFC 7946 §3.2: an id is a string or a number. GDAL reads such a file silently (the id kept as
    # the text '{ "a": 1 }'); geosignal reads GeoJSON itself, and accepted it silently too
    from sqlalchemy import select

    from geosignal.models import Report
    from tests.factories import count_reports, upload_file

    ids = ['{"a": 1}', '"x-1"', "[1, 2]", "true", "null", "7"]
    data = ('{"type":"FeatureCollection","features":['
            + ",".join(_feature_with_id(ident, k) for k, ident in enumerate(ids)) + "]}").encode()
    res = read_upload(data, "a.geojson", area=area)
    assert [type(r).__name__ for r in res] == ["GeosignalError", "ReportInput", "GeosignalError", "GeosignalError",
                                               "ReportInput", "ReportInput"]
    refused = [(r.code, r.where, r.extra["index"], r.extra["pointer"], r.extra["kind"]) for r in res
               if isinstance(r, GeosignalError)]
    assert refused == [("invalid_geojson", "feature 0", 0, "/features/0/id", "object"),
                       ("invalid_geojson", "feature 2", 2, "/features/2/id", "array"),
                       ("invalid_geojson", "feature 3", 3, "/features/3/id", "boolean")]
    assert res[3].detail == "A Feature's id must be a string or a number (RFC 7946 §3.2); got a boolean (true)."
    before = count_reports(db)
    expected = [("refused", "invalid_geojson", "/features/0/id"), ("accepted", None, None),
                ("refused", "invalid_geojson", "/features/2/id"), ("refused", "invalid_geojson", "/features/3/id"),
                ("accepted", None, None), ("accepted", None, None)]

    def seen(body: dict) -> list[tuple]:
        return [(f["status"], f.get("error", {}).get("code"), f.get("error", {}).get("pointer"))
                for f in body["features"]]

    preview = upload_file(admin, data, "a.geojson", dry_run="true")
    assert (preview.status_code, preview.get_json()["accepted"], preview.get_json()["refused"]) == (200, 3, 3)
    assert seen(preview.get_json()) == expected
    assert [f["index"] for f in preview.get_json()["features"]] == [0, 1, 2, 3, 4, 5]
    rejected = upload_file(admin, data, "a.geojson")  # mode=all: nothing stored
    assert (rejected.status_code, rejected.get_json()["code"]) == (422, "import_rejected")
    assert seen(rejected.get_json()) == expected and count_reports(db) == before
    saved = upload_file(admin, data, "a.geojson", mode="valid_only")
    assert (saved.status_code, saved.get_json()["saved"]) == (201, 3) and seen(saved.get_json()) == expected
    stored = db.scalars(select(Report.description).where(Report.description.like("feature %"))
                        .order_by(Report.description)).all()
    assert stored == ["feature 1", "feature 4", "feature 5"] and count_reports(db) == before + 3
    # a lone Feature as the file: the same refusal, at /id
    (err,) = read_upload(_feature_with_id("[]", 0).encode(), "one.geojson", area=area)
    assert (err.code, err.where, err.extra["index"], err.extra["pointer"]) == ("invalid_geojson", "feature 0", 0,
                                                                               "/id")


def test_geojson_upload_uses_file_coercion(area):
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [4.444, 50.4108]}, "properties": {
        "operateur": "proximus", "menages": "12", "technologie": "4G, 5G", "reseau": "Mobile",
        "stroke": "#ff0000", "date": "21/03/2024"}}]}
    (rep,) = read_upload(json.dumps(fc).encode(), "zones.geojson", area=area)
    assert rep.properties == {"operators": ["Proximus"], "households_affected": 12, "technologies": ["4G", "5G"],
                              "network": "mobile", "observed_at": datetime(2024, 3, 21, tzinfo=BRUSSELS)}


# --------------------------------------------------------------------------- other CSV shapes

def test_csv_comma_decimal_point_xy_lambert_and_coercion(area):
    data = ("X,Y,Ménages,Technologies,Description,Date\n"
            "155349,122215,12,\"4G, 5G\",ici,2024-03-21T10:00:00+01:00\n"
            "155349,122215,2.5,4G,là,\n").encode()
    res = read_upload(data, "points.csv", area=area, crs="EPSG:31370")
    a, b = res
    assert area.commune_at(a.geometry.x, a.geometry.y)[0] == "52011"
    assert a.properties["households_affected"] == 12 and a.properties["technologies"] == ["4G", "5G"]
    assert a.properties["observed_at"].utcoffset().total_seconds() == 3600
    assert "households_affected" not in b.properties  # 2.5 dropped with a warning, report kept
    assert b.warnings[0]["code"] == "attribute_dropped" and b.warnings[0]["name"] == "households_affected"


def test_csv_lambert_as_degrees_hint(area):
    data = b"x;y\n155349;122215\n"
    (err,) = read_upload(data, "p.csv", area=area)
    assert err.code == "outside_service_area" and err.extra["hint"] == "looks_like_lambert72"
    assert err.where == "row 2"


def test_csv_wkt_and_column_map(area):
    data = (b"nom|forme|quand\n"
            b"a|POLYGON ((4.44 50.40, 4.45 50.40, 4.45 50.41, 4.44 50.40))|30/03/2025 14:00\n"
            b"b|POINT (nan 50.4)|\n")
    err = upload_err(data, "zones.txt", area)
    assert err.code == "unreadable_file" and err.extra["columns"] == ["nom", "forme", "quand"]
    res = read_upload(data, "zones.txt", area=area,
                      column_map={"wkt": "forme", "observed_at": "Quand", "description": "nom"})
    a, b = res
    assert a.geometry.geom_type == "Polygon" and a.properties["description"] == "a"
    assert a.properties["observed_at"] == datetime(2025, 3, 30, 14, 0, tzinfo=BRUSSELS)
    assert a.properties["observed_at"].utcoffset().total_seconds() == 7200
    assert b.code == "non_finite_number" and b.where == "row 3"
    err = upload_err(data, "zones.txt", area, column_map={"wkt": "nope"})
    assert err.code == "unreadable_file"


def test_csv_row_errors(area):
    data = b"lat;lon;description\n50,41;;a\n;;b\n50,41;4,44;c\nabc;4,44;d\n;;\n"  # blank rows skipped
    res = read_upload(data, "p.csv", area=area)
    assert [getattr(r, "code", "ok") for r in res] == ["invalid_coordinate", "empty_geometry", "ok",
                                                       "invalid_coordinate"]
    assert [getattr(r, "where", None) for r in res] == ["row 2", "row 3", None, "row 5"]


# --------------------------------------------------------------------------- GPX

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="50.4108" lon="4.4440"><ele>130</ele><time>2025-03-30T00:30:00Z</time><name>Gare</name>
    <desc>Pas de 4G</desc></wpt>
  <rte><name>Route</name><rtept lat="50.41" lon="4.44"/><rtept lat="50.42" lon="4.45"/></rte>
  <trk><name>Vide</name></trk>
  <trk><name>Tour</name><trkseg><trkpt lat="50.40" lon="4.44"><ele>120</ele></trkpt>
    <trkpt lat="50.405" lon="4.445"><ele>121</ele></trkpt><trkpt lat="50.41" lon="4.44"/></trkseg></trk>
</gpx>"""


def test_gpx_waypoints_routes_tracks(area):
    res = read_upload(GPX.encode(), "trace.gpx", area=area)
    assert res.format == "gpx"
    kinds = [r.geometry.geom_type for r in res]
    assert kinds == ["Point", "LineString", "LineString"]  # a track of one segment is that line
    wpt = res[0]
    assert wpt.properties["description"] == "Gare\nPas de 4G"  # its name, then its description
    assert wpt.properties["observed_at"].astimezone(BRUSSELS).strftime("%H:%M") == "01:30"
    assert any(w["code"] == "empty_feature_skipped" and w["name"] == "Vide" for w in res.warnings)


# --------------------------------------------------------------------------- GeoPackage and Shapefile

def _gdf_31370():
    pt = Point(155349, 122215)
    poly = Polygon([(155000, 122000), (156000, 122000), (156000, 123000), (155000, 123000)])
    return gpd.GeoDataFrame({"operateur": ["Orange", "VOO"], "menages": [3, 7], "reseau": ["mobile", "fixe"]},
                            geometry=[pt, poly], crs="EPSG:31370")


def test_geopackage_in_lambert72(area, tmp_path):
    path = tmp_path / "zones.gpkg"
    _gdf_31370().to_file(path, driver="GPKG", layer="zones")
    res = read_upload(path.read_bytes(), "upload.bin", area=area)
    assert res.format == "gpkg"
    pt, poly = res
    assert area.commune_at(pt.geometry.x, pt.geometry.y)[0] == "52011"
    assert area_m2(poly.geometry) == pytest.approx(1e6, rel=1e-6)
    assert poly.properties == {"operators": ["VOO"], "households_affected": 7, "network": "fixed"}
    err = upload_err(path.read_bytes(), "zones.gpkg", area, crs="EPSG:3812")
    assert err.code == "unsupported_crs"


def test_zipped_shapefile(area, tmp_path):
    _gdf_31370().iloc[[1]].to_file(tmp_path / "zones.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in tmp_path.iterdir():
            z.write(f, f"zones/{f.name}")
    (rep,) = read_upload(buf.getvalue(), "zones.zip", area=area)
    assert rep.geometry.geom_type == "Polygon" and area_m2(rep.geometry) == pytest.approx(1e6, rel=1e-6)
    assert rep.properties["operators"] == ["VOO"]


# --------------------------------------------------------------------------- file-level errors

def test_file_level_errors(area):
    err = upload_err(b"x" * 101, "a.csv", area, limits=Limits(max_upload_bytes=100))
    assert (err.code, err.status) == ("payload_too_large", 413)
    assert upload_err(b"\x00\x01\x02binary", "a.bin", area).code == "unsupported_format"
    assert upload_err(b"<svg></svg>", "a.svg", area).code == "unsupported_format"
    assert upload_err(b'{"type": "FeatureCollection", "features": []}', "a.geojson", area).code == "no_features"
    assert upload_err(b"lat;lon\n", "a.csv", area).code == "no_features"
    assert upload_err(b"not a kml", "a.kml", area).code == "unreadable_file"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hi")
    assert upload_err(buf.getvalue(), "a.zip", area).code == "unsupported_format"


@pytest.mark.parametrize(("data", "name", "fmt"), [
    (b'\xef\xbb\xbf {"type": "FeatureCollection"}', "x.txt", "geojson"),
    (b"<?xml version='1.0'?><kml>", "x.xml", "kml"),
    (b"<?xml version='1.0'?><gpx>", "x", "gpx"),
    (b"SQLite format 3\x00rest", "x.csv", "gpkg"),
    (b"a;b\n1;2", "x.csv", "csv"),
    (b"a;b\n1;2", "x", "csv"),
])
def test_detect_format_sniffs_first(data, name, fmt):
    assert detect_format(data, name) == fmt


def test_values_written_as_the_pages_name_them_are_read_in_every_language(area):
    """A column holding the labels the pages show (French, Dutch or English, any case or
    accents) is read as their values; a value that is none of them is set aside with its
    column, what it held and the values the column may hold."""
    data = ("latitude;longitude;probleme;reseau;lieu;technologie\r\n"
            "50,41;4,44;Signal faible;Fixe;Intérieur;DSL (cuivre), Glasvezel\r\n"
            "50,41;4,45;zwak signaal;Mobiel;In een voertuig;4G\r\n"
            "50,41;4,46;SPEED TOO LOW;mobile;Outdoor;5g\r\n"
            "50,41;4,47;Débit insufisant;mobile;;\r\n").encode("utf-8-sig")
    res = read_upload(data, "releve.csv", area=area)
    got = [(r.properties.get("issue"), r.properties.get("network"), r.properties.get("setting"),
            r.properties.get("technologies")) for r in res]
    assert got == [("weak_signal", "fixed", "indoor", ["DSL", "fibre"]),
                   ("weak_signal", "mobile", "vehicle", ["4G"]),
                   ("slow_speed", "mobile", "outdoor", ["5G"]),
                   (None, "mobile", None, None)]
    (dropped,) = [w for w in res[3].warnings if w["code"] == "attribute_dropped"]
    assert (dropped["name"], dropped["column"], dropped["value"], dropped["error"], dropped["allowed"]) == (
        "issue", "probleme", "Débit insufisant", "invalid_attribute",
        ["no_coverage", "weak_signal", "no_data", "slow_speed", "intermittent"])


def test_kml_data_fields_keep_their_names(area):
    """Google My Maps writes its columns as ExtendedData named as the user typed them
    ("Réseau", "Nb ménages", "Opérateur(s)"); GDAL would read "R__seau". They are read under
    the file's names, so that the French headers are recognised as in a CSV, in ExtendedData
    and in a schema's SimpleData alike."""
    kml = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Schema name="s" id="s"><SimpleField name="Problème" type="string"/></Schema>
<Folder><name>Zones blanches</name>
<Placemark><name>Place du Chapitre</name>
<ExtendedData><Data name="Réseau"><value>fixe</value></Data><Data name="Opérateur(s)"><value>Proximus</value></Data>
<Data name="Nb ménages"><value>25</value></Data><Data name="couleur &amp; forme"><value>rouge</value></Data></ExtendedData>
<Point><coordinates>4.4440,50.4108,0</coordinates></Point></Placemark>
<Placemark><name>Route</name><ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="Problème">Signal faible</SimpleData>
</SchemaData></ExtendedData><Point><coordinates>4.4450,50.4108,0</coordinates></Point></Placemark>
</Folder></Document></kml>""".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", kml)
    res = read_upload(buf.getvalue(), "Zones blanches.kmz", area=area)
    a, b = res
    assert (a.properties["network"], a.properties["operators"], a.properties["households_affected"]) == (
        "fixed", ["Proximus"], 25)
    assert b.properties["issue"] == "weak_signal"
    ignored = [w["columns"] for w in res.warnings if w["code"] == "columns_ignored"]
    assert ignored == [["couleur & forme"]]


@pytest.mark.parametrize(("html", "text"), [
    ("Réseau: mobile<br>Opérateur: Proximus<br>Pas de réseau sur la place, appels impossibles.",
     "Réseau: mobile\nOpérateur: Proximus\nPas de réseau sur la place, appels impossibles."),
    ("<p>Pas de <b>4G</b>\n   rue de l&#39;&Eacute;glise</p><p>depuis mai &amp; juin</p>",
     "Pas de 4G rue de l'Église\n\ndepuis mai & juin"),
    ("<div>a<script>alert(1)</script></div><style>p{}</style>b<br/>c", "a\nb\nc"),
    ("Pas de réseau : 3 < 4 et 5 > 2\nligne 2", "Pas de réseau : 3 < 4 et 5 > 2\nligne 2"),  # no markup: unchanged
    # Google Earth's and ArcGIS's popups: a table of names and values (it read « Réseaumobile »)
    ("<table><tr><td>Réseau</td><td>mobile</td></tr><tr><th>Opérateur</th><td> Proximus </td></tr></table>"
     "<p>Aucun signal sur le parking.</p>", "Réseau : mobile\nOpérateur : Proximus\n\nAucun signal sur le parking."),
    ("<table><tr><th>Lieu</th><th>Réseau</th><th>Débit</th></tr><tr><td>Gare</td><td>4G</td><td></td></tr></table>",
     "Lieu · Réseau · Débit\nGare · 4G"),
    # a "<" of the text, not a tag: it took what followed it away (« if x »)
    ("if x<y then <stop>", "if x<y then <stop>"),
    ("<p>Coupure entre <rue du Pont> et <Place Verte/></p>", "Coupure entre <rue du Pont> et <Place Verte/>"),
    ("a <b>réseau</b> </fin> b", "a réseau </fin> b"),
    ("Pas de <b>réseau</b> <script>alert(2)</script> ici", "Pas de réseau ici"),  # (one space, not two)
])
def test_kml_html_descriptions_are_read_as_their_text(html, text):
    from geosignal.services.intake.containers import html_text

    assert html_text(html) == text


def test_a_gpx_track_is_dated_by_its_first_point(area):
    """A track recorded by a phone carries a <time> per point, none of its own: its date
    observed is its first point's (UTC as GPX defines it, shown in Brussels time), said by a
    warning naming the first and last times. A route without times has no date."""
    gpx = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">
<metadata><time>2025-06-01T08:00:00Z</time></metadata>
<trk><name>Route de Ragnies</name><trkseg>
<trkpt lat="50.4108" lon="4.4440"><ele>182.0</ele><time>2025-05-14T07:42:10Z</time></trkpt>
<trkpt lat="50.4118" lon="4.4460"><ele>184.5</ele><time>2025-05-14T07:44:00Z</time></trkpt>
<trkpt lat="50.4128" lon="4.4480"><ele>185.0</ele><time>2025-05-14T07:51:30Z</time></trkpt>
</trkseg></trk>
<rte><name>sans heure</name><rtept lat="50.4108" lon="4.4440"/><rtept lat="50.4118" lon="4.4460"/></rte>
</gpx>"""
    res = read_upload(gpx, "2025-05-14_09-42_Wed.gpx", area=area)
    by_name = {r.properties["description"]: r for r in res}
    track, route = by_name["Route de Ragnies"], by_name["sans heure"]
    assert track.properties["observed_at"] == datetime(2025, 5, 14, 9, 42, 10, tzinfo=BRUSSELS)
    (said,) = [w for w in track.warnings if w["code"] == "observed_at_from_track"]
    assert (said["first"], said["last"]) == ("2025-05-14T07:42:10Z", "2025-05-14T07:51:30Z")
    assert "observed_at" not in route.properties
    assert not [w for w in route.warnings if w["code"] == "observed_at_from_track"]


def test_everyday_names_of_operators_technologies_and_issues_are_read(area):
    """Names a clerk or a tool writes (trial of real files, fault 4: QGIS, My Maps, nPerf and
    Excel exports) are read as the values they name: operators' company names, technologies'
    other names (LTE, 5G NR, FTTH, Fibre optique), issues in everyday French, Dutch and
    English; a list split at "/", "et", "en", "and", "+", "," or ";"."""
    data = ("lat;lon;Opérateur;Technologie;Problème\r\n"
            "50,41;4,441;Orange Belgium;LTE;Pas de couverture\r\n"
            "50,41;4,442;Orange B;5G NR;Pas de données\r\n"
            "50,41;4,443;Telenet Group;Fibre optique;Débit lent\r\n"
            "50,41;4,444;Proximus / Orange;FTTH;Geen dekking\r\n"
            "50,41;4,445;Proximus et Orange;FTTB / FTTH;Trage snelheid\r\n"
            "50,41;4,446;Proximus en Telenet/BASE;Glasvezel and Kabel;Slow speed\r\n"
            "50,41;4,447;Orange Belgium, BASE;4G+;No coverage\r\n").encode("cp1252")
    res = read_upload(data, "zones.csv", area=area)
    got = [(r.properties.get("operators"), r.properties.get("technologies"), r.properties.get("issue"))
           for r in res]
    assert got == [(["Orange"], ["4G"], "no_coverage"),
                   (["Orange"], ["5G"], "no_data"),
                   (["Telenet/BASE"], ["fibre"], "slow_speed"),
                   (["Proximus", "Orange"], ["fibre"], "no_coverage"),
                   (["Proximus", "Orange"], ["fibre"], "slow_speed"),
                   (["Proximus", "Telenet/BASE"], ["fibre", "cable"], "slow_speed"),
                   (["Orange", "Telenet/BASE"], ["4G"], "no_coverage")]
    assert [w for r in res for w in r.warnings if w["code"] == "attribute_dropped"] == []


def test_one_unknown_name_of_a_list_is_dropped_alone_and_named(area):
    """An unknown name in a list no longer takes the list's known names with it (trial fault
    4: "Orange Belgium, BASE" lost BASE); its warning names the value set aside (fault 14:
    the page showed no value for a list)."""
    data = b"lat;lon;operateur;technologies\n50.41;4.444;Orange, Foo Telecom;4G, 6G\n50.41;4.445;Foo;Orange\n"
    first, second = read_upload(data, "a.csv", area=area)
    assert (first.properties["operators"], first.properties["technologies"]) == (["Orange"], ["4G"])
    dropped = [(w["name"], w["column"], w["value"], w["error"], w["detail"]) for w in first.warnings
               if w["code"] == "attribute_dropped"]
    assert dropped == [
        ("operators", "operateur", "Foo Telecom", "invalid_attribute",
         "operators 'Foo Telecom' was ignored (the list's other values are kept): operators must be one of "
         "Proximus, Orange, Telenet/BASE, DIGI, VOO, other; got 'Foo Telecom'."),
        ("technologies", "technologies", "6G", "invalid_attribute",
         "technologies '6G' was ignored (the list's other values are kept): technologies must be one of "
         "2G, 3G, 4G, 5G, DSL, cable, fibre, FWA, satellite; got '6G'.")]
    assert "operators" not in second.properties and "technologies" not in second.properties
    assert [(w["name"], w["value"]) for w in second.warnings if w["code"] == "attribute_dropped"] == \
        [("operators", "Foo"), ("technologies", "Orange")]


def test_the_pages_own_labels_are_read_as_headers_in_every_language(area):
    """Columns named as the preview table and the report page name them, in Dutch, English
    or French (trial fault 7: « Datum van vaststelling », "Households affected" were ignored),
    and a GeoPackage-style ``date_observed``, are read."""
    nl = ("Breedtegraad (WGS 84);Lengtegraad (WGS 84);Datum van vaststelling;Getroffen gezinnen;"
          "Getroffen bedrijven;Operatoren\r\n50,41;4,44;04/03/2025;25;3;Proximus\r\n").encode("utf-8-sig")
    en = (b"Latitude (WGS 84),Longitude (WGS 84),Date observed,Households affected,Businesses affected,Issue\n"
          b"50.41,4.44,2025-03-04,25,3,Weak signal\n")
    fr = "lat;lon;Date d'observation;Ménages touchés;Entreprises touchées\n50,41;4,44;04/03/2025;25;3\n".encode()
    plain = b"lat,lon,date_observed,households\n50.41,4.44,2025-03-04,25\n"
    for data in (nl, en, fr, plain):
        (row,) = res = read_upload(data, "labels.csv", area=area)
        assert not [w for w in res.warnings if w["code"] == "columns_ignored"], data
        assert row.properties["observed_at"] == datetime(2025, 3, 4, tzinfo=BRUSSELS)
        assert row.properties["households_affected"] == 25
    assert read_upload(nl, "a.csv", area=area)[0].properties["businesses_affected"] == 3
    assert read_upload(en, "a.csv", area=area)[0].properties["issue"] == "weak_signal"


def test_a_placemarks_name_is_kept_as_the_first_line_of_its_description(area):
    """Google My Maps names each placemark by its place (« Rue du Pont-Neuf ») and describes it
    apart: the name was dropped whenever there was a description (only « Colonnes ignorées :
    Name » said so). It is now the description's first line; alone, the description."""
    data = (b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            b"<Placemark><name>Rue du Pont-Neuf</name><description>Pas de 4G</description>"
            b"<Point><coordinates>4.4440,50.4108,0</coordinates></Point></Placemark>"
            b"<Placemark><name>Place de Gosselies</name>"
            b"<Point><coordinates>4.4450,50.4108,0</coordinates></Point></Placemark>"
            b"</Document></kml>")
    res = read_upload(data, "my-maps.kml", area=area)
    assert [r.properties["description"] for r in res] == ["Rue du Pont-Neuf\nPas de 4G", "Place de Gosselies"]
    assert not [w for w in res.warnings if w["code"] == "columns_ignored"]
