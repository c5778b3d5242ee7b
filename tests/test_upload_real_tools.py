"""Files as real tools write them (QGIS, ogr2ogr, Excel for Mac, Google My Maps, OsmAnd):
the faults a user trial found in the upload readers, each with the smallest file that shows
it, read by the service (``read_upload``) and, where the route matters, by
``POST /api/v1/imports``."""
from __future__ import annotations

import xml.dom.minidom

import pytest

from geosignal.errors import GeosignalError
from geosignal.services.intake import ReportInput, read_upload
from geosignal.services.intake.containers import xml_for_gdal
from tests.factories import count_reports as _count
from tests.factories import upload_file

KML_HEAD = ('<?xml version="1.0" encoding="utf-8" ?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
            '<Document id="root_doc">\n<Schema name="zb" id="zb">\n'
            '\t<SimpleField name="network" type="string"></SimpleField>\n'
            '\t<SimpleField name="operator" type="string"></SimpleField>\n'
            '\t<SimpleField name="description" type="string"></SimpleField>\n</Schema>\n<Folder><name>zb</name>\n')


def qgis_kml(operator: str, description: str = '<SimpleData name="description">Pas de signal</SimpleData>') -> bytes:
    """A KML as ``ogr2ogr -f KML`` writes it (QGIS « Save as… KML »), ``operator`` being the
    operator's ``SimpleData`` as written."""
    return (KML_HEAD + '  <Placemark>\n\t<ExtendedData><SchemaData schemaUrl="#zb">\n'
            '\t\t<SimpleData name="network">mobile</SimpleData>\n'
            f"\t\t{operator}\n\t\t{description}\n"
            "\t</SchemaData></ExtendedData>\n      <Point><coordinates>4.4446,50.4108</coordinates></Point>\n"
            "  </Placemark>\n</Folder>\n</Document></kml>\n").encode()


# =========================================================================== 1. empty SimpleData

@pytest.mark.parametrize("operator", [
    '<SimpleData name="operator"></SimpleData>',
    '<SimpleData name="operator"/>',
    '<SimpleData name="operator" />',
    "<SimpleData  name='operator'\n></SimpleData >",
    '<SimpleData name="operator"><![CDATA[]]></SimpleData>',
    '<SimpleData name="operator">  </SimpleData>',
])
def test_qgis_kml_with_an_empty_field_is_read_the_field_empty(area, admin, db, operator):
    # trial fault 1: '<SimpleData name="x"></SimpleData>' was rewritten '<Data name="x"></value><value></Data>'
    data = qgis_kml(operator)
    given = xml_for_gdal(data, tag_placemarks=True, field_names={})
    (field,) = [d for d in xml.dom.minidom.parseString(given).getElementsByTagName("Data")  # well-formed
                if d.getAttribute("name") == "operator"]
    assert [v.toxml() for v in field.getElementsByTagName("value")] in (
        ["<value/>"], ["<value><![CDATA[]]></value>"], ["<value>  </value>"])
    assert b"SimpleData" not in given
    (rep,) = read_upload(data, "qgis.kml", area=area)
    assert (rep.properties["network"], rep.properties["description"]) == ("mobile", "Pas de signal")
    assert not rep.properties.get("operators")
    assert not [w for w in rep.warnings if w["code"] == "attribute_dropped"], rep.warnings
    before = _count(db)
    response = upload_file(admin, data, "qgis.kml", mode="all")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved"] == 1 and _count(db) == before + 1


@pytest.mark.parametrize("description", [
    '<SimpleData name="description"><![CDATA[Pas de <b>signal</b>]]></SimpleData>',
    '<SimpleData name="description">Pas de &lt;b&gt;signal&lt;/b&gt;</SimpleData>',
])
def test_qgis_kml_cdata_and_escaped_values_keep_their_text(area, description):
    (rep,) = read_upload(qgis_kml('<SimpleData name="operator"/>', description), "qgis.kml", area=area)
    assert rep.properties["description"] == "Pas de signal"


def test_prefixed_kml_with_empty_fields_is_read(area):
    # the rewrite with a root prefix ('<kml:kml xmlns:kml=…>') and empty fields, written both ways
    data = qgis_kml('<SimpleData name="operator"></SimpleData>',
                    '<SimpleData name="description"/>').decode()
    data = data.replace('<kml xmlns=', '<kml:kml xmlns:kml=').replace("</kml>", "</kml:kml>")
    for tag in ("Document", "Schema", "SimpleField", "Folder", "name", "Placemark", "ExtendedData", "SchemaData",
                "SimpleData", "Point", "coordinates"):
        data = data.replace(f"<{tag}>", f"<kml:{tag}>").replace(f"<{tag} ", f"<kml:{tag} ")
        data = data.replace(f"</{tag}>", f"</kml:{tag}>")
    given = xml_for_gdal(data.encode(), tag_placemarks=True, field_names={})
    xml.dom.minidom.parseString(given)
    assert b"kml:" not in given.split(b"?>", 1)[1].replace(b"xmlns:kml", b"")
    (rep,) = read_upload(data.encode(), "qgis.kml", area=area)
    assert rep.properties["network"] == "mobile" and not rep.properties.get("description")


def test_a_gdal_parse_error_names_no_line_of_the_rewritten_text():
    # trial fault 1: the line GDAL gave (line 9) was that of the rewritten text, not the file's (line 13)
    from geosignal.services.intake.files import _gdal_message

    message = _gdal_message(RuntimeError("ERROR parsing kml /vsimem/abc.kml :mismatched tag on line 37 at offset 35"))
    assert message == "ERROR parsing kml the file :mismatched tag"


# =========================================================================== 2. Mac Roman CSV

MAC_CSV = ("Latitude;Longitude;Réseau;Opérateur;Technologie;Description;Date\r"
           "50,4108;4,4446;fixe;VOO;câble;Pas de câble près de l'église;04/03/2025\r")


@pytest.mark.parametrize(("text", "row", "column", "shown"), [
    (MAC_CSV, 1, "RŽseau", "'Ž' where a letter belongs"),  # the header, as Excel for Mac saves it
    # no é in the header: the value's è (0x8F) is undefined in Windows-1252
    ("lat;lon;network;description\r50.41;4.44;mobile;Très lent\r", 2, "description", "byte 0x8F"),
    ("lat;lon;network;description\r50.41;4.44;mobile;Reçu\r", 2, "description", "byte 0x8D"),
    ("lat;lon;network;description\r50.41;4.44;mobile;Pas de réseau\r", 2, "description", "'Ž'"),
    ("lat;lon;network;technology\r50.41;4.44;fixe;câble\r", 2, "technology", "'‰'"),
    ("lat;lon;network;description\r50.41;4.44;mobile;à la côte\r", 2, "description", "'ˆ'"),
    ("lat;lon;network;description\r50.41;4.44;mobile;École\r", 2, "description", "'ƒ'"),
])
def test_mac_roman_csv_is_refused_as_undecidable(area, admin, db, text, row, column, shown):
    # trial fault 2: read as Windows-1252, « Réseau » was an unknown column and a fixed VOO row saved as mobile
    data = text.encode("mac_roman")
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "mac.csv", area=area)
    err = info.value
    assert (err.status, err.code, err.where, err.extra["column"], err.extra["kind"]) == (
        422, "undecidable_encoding", f"row {row}", column, "csv")
    assert shown in err.detail and "« CSV UTF-8 »" in err.detail
    before = _count(db)
    for fields in ({"dry_run": "true"}, {"mode": "all"}):
        response = upload_file(admin, data, "mac.csv", network="mobile", **fields)
        body = response.get_json()
        assert (response.status_code, body["code"], body["where"], body["kind"]) == (
            422, "undecidable_encoding", f"row {row}", "csv")
    assert _count(db) == before


def test_mac_roman_refusal_has_a_page_sentence():
    from geosignal.ui_text import kind_message

    assert kind_message("undecidable_encoding", "csv") == (
        "L'encodage des textes de ce CSV ne peut pas être déterminé (par exemple un fichier enregistré par Excel "
        "pour Mac) : dans Excel, enregistrez-le au format « CSV UTF-8 » puis envoyez-le à nouveau.")


@pytest.mark.parametrize("description", [
    "“Cœur du village” – l’église, 5 € de surcoût… ŒUVRE — n°12",
    "Rue Émile Vandervelde, façade à 50 ‰ — Proximus™",
    "Škoda garée, ‘ici’ • voir plan",
])
def test_windows_1252_csv_is_still_read(area, description):
    data = ("lat;lon;network;description\r\n50,4108;4,4446;mobile;" + description + "\r\n").encode("cp1252")
    (rep,) = read_upload(data, "excel.csv", area=area)
    assert rep.properties["description"] == description


# =========================================================================== 8. QGIS/ogr2ogr GPX

def qgis_gpx(*extensions: str) -> bytes:
    """A GPX as ``ogr2ogr -f GPX -dsco GPX_USE_EXTENSIONS=YES`` writes it: one waypoint per
    ``extensions`` (the ``<ogr:x>`` elements as written)."""
    points = "".join(f'<wpt lat="50.4{i}" lon="4.44{i}">\n  <extensions>{e}</extensions>\n</wpt>\n'
                     for i, e in enumerate(extensions, start=1))
    return ('<?xml version="1.0"?>\n<gpx version="1.1" creator="GDAL 3.6.2" xmlns:ogr="http://osgeo.org/gdal" '
            f'xmlns="http://www.topografix.com/GPX/1/1">\n{points}</gpx>\n').encode()


def test_qgis_gpx_extension_fields_are_read_as_their_names(area, admin, db):
    # trial fault 8: GDAL reads <ogr:reseau> as 'ogr_reseau', which no header matched: all ignored
    data = qgis_gpx(*(f"<ogr:date>{d}</ogr:date><ogr:remarque>{r}</ogr:remarque><ogr:reseau>mobile</ogr:reseau>"
                      f"<ogr:operateur>Proximus</ogr:operateur>"
                      for d, r in (("03/04/2025", "3 avril"), ("2025-02-10", "10 février"))))
    result = read_upload(data, "qgis.gpx", area=area)
    assert [(r.properties["network"], r.properties["operators"], r.properties["description"],
             r.properties["observed_at"].date().isoformat()) for r in result] == [
        ("mobile", ["Proximus"], "3 avril", "2025-04-03"), ("mobile", ["Proximus"], "10 février", "2025-02-10")]
    assert all(not r.warnings for r in result), [r.warnings for r in result]
    assert not [w for w in result.warnings if w["code"] == "columns_ignored"], result.warnings
    before = _count(db)
    response = upload_file(admin, data, "qgis.gpx", mode="all")  # no default network: the file says it
    assert (response.status_code, response.get_json()["saved"]) == (201, 2), response.get_json()
    assert _count(db) == before + 2


def test_qgis_gpx_extension_given_twice_is_still_dropped(area):
    data = qgis_gpx("<ogr:reseau>mobile</ogr:reseau><ogr:operateur>Proximus</ogr:operateur>"
                    "<ogr:operateur>Orange</ogr:operateur>")
    (rep,) = read_upload(data, "qgis.gpx", area=area)
    assert "operators" not in rep.properties
    assert [(w["code"], w["name"], w["values"]) for w in rep.warnings] == [
        ("attribute_dropped", "operators", ["Proximus", "Orange"])]


def test_gpx_extension_names_keep_a_name_already_taken():
    from geosignal.services.intake.files import gpx_extension_names

    assert gpx_extension_names(["name", "ogr_name", "ogr_reseau", "ogr_", "osmand_color", "time"]) == {
        "ogr_reseau": "reseau"}


# =========================================================================== 9. dates as GDAL, QGIS and Excel write them

@pytest.mark.parametrize(("written", "iso"), [
    ("2025/03/04", "2025-03-04T00:00:00+01:00"),  # GDAL/QGIS Date as text
    ("2025/03/04 14:30:00", "2025-03-04T14:30:00+01:00"),  # DateTime without a zone: Brussels time
    ("2025/03/04 14:30:00+00", "2025-03-04T14:30:00+00:00"),  # DateTime in UTC
    ("2025/03/04 14:30:00.250+02", "2025-03-04T14:30:00.250000+02:00"),
    ("2025/3/4 9:05", "2025-03-04T09:05:00+01:00"),
    ("15/01/25", "2025-01-15T00:00:00+01:00"),  # Excel's short date: 20YY
    ("28/11/24", "2024-11-28T00:00:00+01:00"),
    ("28.11.24 17:05", "2024-11-28T17:05:00+01:00"),
])
def test_file_dates_as_gdal_qgis_and_excel_write_them_are_read(area, written, iso):
    # trial fault 9: each was dropped "… is not an ISO 8601 date-time"
    data = f"lat;lon;network;date\n50,4108;4,4446;mobile;{written}\n".encode()
    (rep,) = read_upload(data, "dates.csv", area=area)
    assert rep.properties["observed_at"].isoformat() == iso
    assert not rep.warnings


@pytest.mark.parametrize(("written", "detail"), [
    ("45720", "'45720' is not a date: write it DD/MM/YYYY or YYYY-MM-DD, with the time HH:MM after it if needed "
              "(e.g. 31/03/2024 14:30 or 2024-03-31T14:30)."),  # an Excel serial number is no date
    ("28/11/99", "observed_at '28/11/99' is in the future."),  # 2099: refused as a future date is
    ("2025/02/30", "'2025/02/30' is not a valid date."),
])
def test_file_dates_that_are_not_dates_are_still_dropped(area, written, detail):
    data = f"lat;lon;network;date\n50,4108;4,4446;mobile;{written}\n".encode()
    (rep,) = read_upload(data, "dates.csv", area=area)
    assert "observed_at" not in rep.properties
    assert [(w["code"], w["name"]) for w in rep.warnings] == [("attribute_dropped", "observed_at")]
    assert detail in rep.warnings[0]["detail"], rep.warnings


def test_qgis_kml_dates_are_read(area):
    data = qgis_kml('<SimpleData name="operator">Proximus</SimpleData>',
                    '<SimpleData name="date">2025/03/04 14:30:00+00</SimpleData>')
    (rep,) = read_upload(data, "qgis.kml", area=area)
    assert rep.properties["observed_at"].isoformat() == "2025-03-04T14:30:00+00:00" and not rep.warnings


@pytest.mark.parametrize("written", ["2025/03/04", "15/01/25", "04/03/2025"])
def test_the_api_keeps_iso_dates_only(admin, written):
    from geosignal.services.intake.properties import parse_observed_at

    with pytest.raises(GeosignalError) as info:
        parse_observed_at(written, where="/properties/observed_at")
    assert info.value.detail == f"{written!r} is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])."


def test_the_date_hint_says_the_forms_accepted():
    from geosignal.errors import TITLES_FR

    assert TITLES_FR["invalid_datetime"] == ("Date ou heure illisible : écrivez-la comme 31/03/2024 ou 2024-03-31, "
                                             "suivie si besoin de l'heure (31/03/2024 14:30).")


# =========================================================================== 11. Shapefile NULL numbers

def test_shapefile_null_numbers_written_as_asterisks_are_empty(area, tmp_path):
    # trial fault 11: GDAL (QGIS) writes a NULL Integer as '*********', which was said a dropped value
    import io
    import warnings
    import zipfile

    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame({"descr": ["ici", "là"], "menages": pd.array([12, None], dtype="Int64")},
                           geometry=[Point(155000, 122000), Point(156000, 122000)], crs="EPSG:31370")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, tmp_path / "zb.shp", encoding="UTF-8")
    assert b"*****" in (tmp_path / "zb.dbf").read_bytes()  # as GDAL writes a NULL number
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in tmp_path.iterdir():
            archive.write(part, part.name)
    result = read_upload(buffer.getvalue(), "zb.zip", area=area, column_map={"description": "descr"})
    assert [(r.properties.get("households_affected"), r.properties["description"]) for r in result] == [
        (12, "ici"), (None, "là")]
    assert [r.warnings for r in result] == [[], []]


def test_dbf_stored_numbers_reads_asterisks_as_no_value():
    from geosignal.services.intake.containers import dbf_stored_numbers

    header = bytearray(32)
    header[0], header[4], header[8], header[10] = 3, 3, 32 + 32 + 1, 1 + 9
    field = bytearray(32)
    field[:7], field[11], field[16] = b"MENAGES", ord("N"), 9
    records = b" " + b"       12" + b" " + b"*********" + b" " + b"    ** 1*"
    dbf = bytes(header) + bytes(field) + b"\r" + records + b"\x1a"
    assert dbf_stored_numbers(dbf, "zb.dbf") == {0: ["12", None, "** 1*"]}


# =========================================================================== 17. altitude 0

def mymaps_kml(*coordinates: str) -> bytes:
    """A KML as Google My Maps exports it: one placemark per ``coordinates`` (``lon,lat,0``)."""
    marks = "".join(f"<Placemark><name>P{i}</name><description>Pas de signal</description>"
                    f"<LineString><coordinates>{c}</coordinates></LineString></Placemark>"
                    for i, c in enumerate(coordinates))
    return ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"{marks}</Document></kml>").encode()


@pytest.mark.parametrize(("coordinates", "warned"), [
    ("4.4330,50.4660,0 4.4340,50.4670,0", None),  # My Maps: every altitude 0, nothing lost
    ("4.4330,50.4660,0 4.4340,50.4670", None),  # mixed 2D and 3D, the 3D at 0: nothing lost either
    ("4.4330,50.4660,0 4.4340,50.4670,152.5", False),
    ("4.4330,50.4660 4.4340,50.4670,152.5", True),
])
def test_kml_altitudes_all_zero_are_dropped_without_a_word(area, coordinates, warned):
    # trial fault 17: « Altitude ignorée » on every My Maps placemark (',0')
    (rep,) = read_upload(mymaps_kml(coordinates), "mymaps.kml", area=area)
    said = [w.get("mixed") for w in rep.warnings if w["code"] == "z_dropped"]
    assert said == ([] if warned is None else [warned]), rep.warnings


@pytest.mark.parametrize(("elevations", "warned"), [(("0", "0"), None), (("0", "120.5"), False)])
def test_gpx_elevations_all_zero_are_dropped_without_a_word(area, elevations, warned):
    points = "".join(f'<wpt lat="50.41{i}" lon="4.444"><ele>{e}</ele><desc>ici</desc></wpt>'
                     for i, e in enumerate(elevations))
    data = ('<?xml version="1.0"?><gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">'
            f"{points}</gpx>").encode()
    result = read_upload(data, "osmand.gpx", area=area)
    said = [[w.get("mixed") for w in r.warnings if w["code"] == "z_dropped"] for r in result]
    assert said == [[] if e == "0" else [warned] for e in elevations]


@pytest.mark.parametrize(("z", "warned"), [(0, False), (0.0, False), (35.5, True)])
def test_geojson_z_all_zero_is_not_warned(area, z, warned):
    import json

    data = json.dumps({"type": "Feature", "properties": {"network": "mobile"},
                       "geometry": {"type": "Point", "coordinates": [4.444, 50.4108, z]}}).encode()
    (rep,) = read_upload(data, "z.geojson", area=area)
    assert any(w["code"] == "z_dropped" for w in rep.warnings) is warned


def test_a_speed_test_export_is_said_to_become_one_white_zone_per_row(area):
    """An nPerf or Ookla export (a measurement per row, good coverage included) was saved as
    one white-zone report per measurement, its figures among « columns ignored » only: a
    warning now says the measurements are not kept, every row becomes a report, and what to do.
    A file without measurement columns gets no such warning."""
    data = (b"Latitude,Longitude,Download (Mbps),Upload (Mbps),Latency (ms),Operator\n"
            b"50.4108,4.4440,0.8,0.1,180,Proximus\n50.4118,4.4450,45.2,12.0,25,Orange\n")
    res = read_upload(data, "nperf.csv", area=area)
    assert len(res) == 2 and all(isinstance(r, ReportInput) for r in res)
    [said] = [w for w in res.warnings if w["code"] == "measurements_not_kept"]
    assert said["columns"] == ["Download (Mbps)", "Upload (Mbps)", "Latency (ms)"]
    assert "every row becomes a white-zone report" in said["detail"]
    plain = read_upload(b"lat;lon;remarque\n50,4108;4,4440;Pas de 4G\n", "a.csv", area=area)
    assert not [w for w in plain.warnings if w["code"] == "measurements_not_kept"]


# --------------------------------------------------------------------------- KMZ as LIBKML writes it

LINKING_DOC = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
               '<Document id="root_doc">{links}</Document></kml>')
LAYER = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document id="{name}">'
         '<Schema id="{name}.schema"><SimpleField name="reseau" type="string"/></Schema>{placemarks}</Document></kml>')


def _libkml_kmz(layers: dict[str, str]) -> bytes:
    """A KMZ as QGIS and ``ogr2ogr -f LIBKML`` write it: doc.kml only links to each layer,
    ``layers/<name>.kml``; ``layers`` gives each layer's placemarks."""
    import io
    import zipfile

    links = "".join(f"<NetworkLink><Link><href>layers/{n}.kml</href></Link></NetworkLink>" for n in layers)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("doc.kml", LINKING_DOC.format(links=links))
        for name, placemarks in layers.items():
            z.writestr(f"layers/{name}.kml", LAYER.format(name=name, placemarks=placemarks))
    return buffer.getvalue()


def _point(k: int) -> str:
    return (f'<Placemark id="p.{k}"><ExtendedData><SchemaData schemaUrl="#points.schema"><SimpleData name="reseau">'
            f"fixe</SimpleData></SchemaData></ExtendedData><Point><coordinates>4.44{k},50.4108</coordinates></Point>"
            "</Placemark>")


def test_a_kmz_whose_document_links_to_its_one_layer_reads_that_layer(area):
    """QGIS saves a layer as KMZ with GDAL's LIBKML driver: doc.kml holds only a NetworkLink to
    layers/<layer>.kml inside the archive. It was refused (no_features: « download the linked
    file », which was in the upload); the layer is now read. A layer of attributes only (no
    geometry) is no layer to read."""
    data = _libkml_kmz({"points_zb": _point(1) + _point(2),
                        "contacts": '<Placemark id="c.1"><name>Mairie</name></Placemark>'})
    res = read_upload(data, "points_zb.kmz", area=area)
    assert [r.properties["network"] for r in res] == ["fixed", "fixed"]
    assert [w["members"] for w in res.warnings if w["code"] == "kml_members_ignored"] == [["layers/contacts.kml"]]


def test_a_kmz_of_several_layers_in_files_of_their_own_is_refused_naming_them(area, admin, db):
    data = _libkml_kmz({"zones_zb": _point(3), "points_zb": _point(1)})
    with pytest.raises(GeosignalError) as caught:
        read_upload(data, "export.kmz", area=area)
    e = caught.value
    assert (e.code, e.extra["kind"], e.extra["members"]) == ("unreadable_file", "kmz_layers",
                                                              ["layers/zones_zb.kml", "layers/points_zb.kml"])
    before = _count(db)
    answer = upload_file(admin, data, "export.kmz", dry_run="false")
    assert answer.status_code == 422 and answer.get_json()["kind"] == "kmz_layers"
    assert _count(db) == before


def test_the_kmz_layers_refusal_has_a_page_sentence(app):
    from flask_babel import force_locale

    from geosignal import ui_text
    from geosignal.i18n import BABEL_LOCALES

    error = GeosignalError("unreadable_file", "x", kind="kmz_layers", members=["layers/a.kml", "layers/b.kml"],
                           layers="layers/a.kml, layers/b.kml")
    with app.test_request_context("/"), force_locale(BABEL_LOCALES["fr"]):
        assert ui_text.error_message(error) == (
            "Ce KMZ range ses couches dans des fichiers séparés (layers/a.kml, layers/b.kml) : exportez chaque "
            "couche dans un KML ou un KMZ à part, ou envoyez le tout en GeoPackage.")
