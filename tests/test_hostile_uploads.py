"""Hostile uploads: archives (bombs, unsafe names, links, nesting), XML (DOCTYPE, entities,
NetworkLinks), dBase text encodings, GeoPackages with several layers, field errors reported
together, unknown commune filters, and files that must never give a 5xx.

Each refusal is checked through the intake service (:func:`read_upload`) and through
``POST /api/v1/imports`` (preview and save, ``mode=all``): the same status and code, and
nothing stored. Fixtures are generated here, small.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import struct
import warnings
import zipfile
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, Polygon

from geosignal.errors import GeosignalError
from geosignal.services.intake import Limits, ReportInput, area_m2, read_upload
from geosignal.services.intake.containers import INFLATE_FACTOR, MAX_ARCHIVE_ENTRIES, cpg_codec
from tests.conftest import CHARLEROI, read_case
from tests.factories import count_reports as _count
from tests.factories import upload_file as _upload
from tests.factories import zipped

BRUSSELS = ZoneInfo("Europe/Brussels")
KML = read_case("24-kml-folders-multigeometry.kml")
#: the API's upload limit in tests (the default, 10 MiB)
UPLOAD_LIMIT = Limits().max_upload_bytes
GPX_OK = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="50.4108" lon="4.4440"><name>Gare</name><desc>Pas de 4G</desc></wpt></gpx>"""
PLACEMARK = b"<Placemark><name>ici</name><Point><coordinates>4.444,50.4108</coordinates></Point></Placemark>"


def kml_doc(body: bytes = PLACEMARK, prolog: bytes = b'<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    return prolog + b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + body + b"</Document></kml>"


def refused_everywhere(area, account, db, data: bytes, filename: str, status: int, code: str) -> GeosignalError:  # noqa: ANN001
    """Assert that the service and the API (preview and save) refuse the file with ``status``
    and ``code``, and that nothing is stored; return the service's error."""
    with pytest.raises(GeosignalError) as info:
        read_upload(data, filename, area=area)
    assert (info.value.status, info.value.code) == (status, code), info.value
    before = _count(db)
    for fields in ({"dry_run": "true", "mode": "all"}, {"mode": "all"}):
        response = _upload(account, data, filename, network="mobile", **fields)
        body = response.get_json()
        assert (response.status_code, body["code"]) == (status, code), body
        assert response.mimetype == "application/problem+json"
    assert _count(db) == before
    return info.value


def accepted_everywhere(area, account, db, data: bytes, filename: str, n: int):  # noqa: ANN001, ANN201
    """Assert that the file gives ``n`` valid reports in the service and that the API saves
    ``n``; return the service's result."""
    res = read_upload(data, filename, area=area)
    assert [type(r) for r in res] == [ReportInput] * n, [getattr(r, "code", None) for r in res]
    before = _count(db)
    response = _upload(account, data, filename, network="mobile", mode="all")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved"] == n and _count(db) == before + n
    return res


# =========================================================================== archives

def test_zip_bomb_is_stopped_by_the_bytes_actually_inflated(area, admin, db):
    # 60 MB of zeros deflate to ~60 kB; the counter stops at 5 × 10 MiB
    bomb = zipped(("doc.kml", b"\x00" * (INFLATE_FACTOR * UPLOAD_LIMIT + 1024)))
    assert len(bomb) < 100_000
    err = refused_everywhere(area, admin, db, bomb, "bomb.kmz", 413, "archive_too_large")
    assert (err.extra["member"], err.extra["limit"], err.extra["unit"]) == ("doc.kml", 52_428_800, "bytes")


def test_many_members_together_are_counted(area, admin, db):
    # each member is under the limit; together they are over it
    part = b" " * (UPLOAD_LIMIT + 1)
    data = zipped(*[(f"layer{i}.dbf", part) for i in range(INFLATE_FACTOR)], ("zones.shp", b"x"))
    err = refused_everywhere(area, admin, db, data, "zones.zip", 413, "archive_too_large")
    assert err.extra["member"] == f"layer{INFLATE_FACTOR - 1}.dbf"


def _lie_about_size(data: bytes, member: str, claimed: int) -> bytes:
    """Rewrite a member's uncompressed size (local header and central directory)."""
    out = bytearray(data)
    name = member.encode()
    local = out.index(b"PK\x03\x04" + b"")  # first member
    assert out[local + 30:local + 30 + len(name)] == name
    struct.pack_into("<I", out, local + 22, claimed)
    central = out.index(b"PK\x01\x02")
    assert out[central + 46:central + 46 + len(name)] == name
    struct.pack_into("<I", out, central + 24, claimed)
    return bytes(out)


def test_header_sizes_are_not_trusted(area, admin, db):
    # the headers say 100 bytes; the data inflates to 60 MB: stopped by the counter
    liar = _lie_about_size(zipped(("doc.kml", b"\x00" * (INFLATE_FACTOR * UPLOAD_LIMIT + 1024))), "doc.kml", 100)
    err = refused_everywhere(area, admin, db, liar, "bomb.kmz", 413, "archive_too_large")
    assert err.extra["member"] == "doc.kml"
    # a smaller lie (the data is within the limit but not the size declared) is refused too
    liar = _lie_about_size(zipped(("doc.kml", KML)), "doc.kml", 10)
    err = refused_everywhere(area, admin, db, liar, "releve.kmz", 422, "unreadable_file")
    assert err.extra["member"] == "doc.kml" and f"{len(KML):,} bytes" in err.detail


def test_too_many_entries(area, admin, db):
    data = zipped(("doc.kml", kml_doc()), *[(f"files/{i}.png", b"") for i in range(MAX_ARCHIVE_ENTRIES)])
    err = refused_everywhere(area, admin, db, data, "releve.kmz", 413, "archive_too_large")
    assert (err.extra["value"], err.extra["limit"], err.extra["unit"]) == (MAX_ARCHIVE_ENTRIES + 1, 1000, "entries")


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16  # a Unix symbolic link
    return info


@pytest.mark.parametrize(("member", "reason"), [
    ("/etc/doc.kml", "absolute_path"),
    ("\\windows\\doc.kml", "absolute_path"),
    ("C:\\temp\\doc.kml", "drive_letter"),
    ("c:doc.kml", "drive_letter"),
    ("files/../../doc.kml", "parent_directory"),
    ("..\\..\\doc.kml", "parent_directory"),
    ("files/..", "parent_directory"),
])
@pytest.mark.parametrize("kind", ["kmz", "shapefile"])
def test_unsafe_member_names_refuse_the_whole_archive(area, admin, db, member, reason, kind):
    if kind == "kmz":
        data, name = zipped(("doc.kml", kml_doc()), (member, b"x")), "releve.kmz"
    else:
        data, name = zipped(("zones.shp", b"x"), ("zones.shx", b"x"), (member, b"x")), "zones.zip"
    err = refused_everywhere(area, admin, db, data, name, 422, "unsafe_archive")
    assert (err.extra["member"], err.extra["reason"]) == (member, reason)
    assert repr(member) in err.detail


@pytest.mark.parametrize(("data", "name", "member"), [
    (zipped((_link("doc.kml"), b"/etc/passwd")), "releve.kmz", "doc.kml"),
    (zipped(("zones.shp", b"x"), ("zones.shx", b"x"), (_link("zones.dbf"), b"/etc/passwd")), "zones.zip",
     "zones.dbf"),
])
def test_links_refuse_the_whole_archive(area, admin, db, data, name, member):
    err = refused_everywhere(area, admin, db, data, name, 422, "unsafe_archive")
    assert (err.extra["member"], err.extra["reason"]) == (member, "symbolic_link")


def test_a_name_given_twice_is_refused(area, admin, db):
    data = zipped(("doc.kml", kml_doc()), ("DOC.KML", kml_doc(PLACEMARK * 2)))
    err = refused_everywhere(area, admin, db, data, "releve.kmz", 422, "unsafe_archive")
    assert (err.extra["member"], err.extra["reason"]) == ("DOC.KML", "duplicate")


def test_nested_archives_are_never_opened(area, admin, db, tmp_path):
    # a KMZ with an archive inside: the archive is skipped, said in a warning
    inner = zipped(("doc.kml", kml_doc(PLACEMARK * 3)))
    data = zipped(("doc.kml", kml_doc()), ("more/inner.kmz", inner), ("renamed.bin", inner))
    res = accepted_everywhere(area, admin, db, data, "releve.kmz", 1)
    assert [(w["code"], w["member"]) for w in res.warnings] == [
        ("nested_archive_ignored", "more/inner.kmz"), ("nested_archive_ignored", "renamed.bin")]
    # only archives inside: 415, saying why
    err = refused_everywhere(area, admin, db, zipped(("zones.zip", _shapefile_zip(tmp_path))), "export.zip",
                             415, "unsupported_format")
    assert "archives inside archives are not opened" in err.detail


@pytest.mark.parametrize(("data", "name", "status", "code"), [
    (zipped(("doc.kml", KML))[:300], "releve.kmz", 422, "unreadable_file"),       # truncated
    (b"PK\x03\x04" + bytes(range(256)) * 8, "zones.zip", 422, "unreadable_file"),  # junk after the signature
    (zipped(("files/icon.png", b"\x89PNG")), "releve.kmz", 422, "unreadable_file"),  # KMZ without KML
    (zipped(("readme.txt", b"hi")), "zones.zip", 415, "unsupported_format"),
    (zipped(("zones.shp", b"x"), ("zones.dbf", b"x")), "zones.zip", 422, "unreadable_file"),  # no .shx
    (zipped(("zones.shp", b"x"), ("zones.shx", b"x")), "zones.zip", 422, "unreadable_file"),  # no .dbf
])
def test_damaged_or_incomplete_archives(area, admin, db, data, name, status, code):
    err = refused_everywhere(area, admin, db, data, name, status, code)
    if "missing" in err.extra:
        assert err.extra["member"] == "zones.shp" and len(err.extra["missing"]) == 1


def test_encrypted_member_is_named(area, admin, db):
    data = bytearray(zipped(("doc.kml", kml_doc())))
    struct.pack_into("<H", data, 6, 1)  # local header: encrypted
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 1)
    err = refused_everywhere(area, admin, db, bytes(data), "releve.kmz", 422, "unreadable_file")
    assert err.extra["member"] == "doc.kml" and "encrypted" in err.detail


# =========================================================================== XML

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE kml [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&lol3;</name>
<Point><coordinates>4.444,50.4108</coordinates></Point></Placemark></kml>"""
XXE_GPX = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="50.4108" lon="4.4440"><desc>&xxe;</desc></wpt></gpx>"""


@pytest.mark.parametrize(("data", "name"), [
    (BILLION_LAUGHS, "laughs.kml"),
    (XXE_GPX, "trace.gpx"),
    (kml_doc(prolog=b'<?xml version="1.0"?>\n<!DOCTYPE kml SYSTEM "http://127.0.0.1:9/kml.dtd">\n'), "a.kml"),
    (kml_doc(prolog=b"<!DOCTYPE kml>"), "a.kml"),  # even a harmless DOCTYPE
    (GPX_OK.replace(b"<gpx", b'<!DOCTYPE gpx [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><gpx'), "t.gpx"),
])
def test_doctype_and_entities_are_refused_before_gdal(area, admin, db, data, name):
    err = refused_everywhere(area, admin, db, data, name, 422, "unsafe_xml")
    assert "DOCTYPE" in err.detail


def test_doctype_inside_a_kmz_names_the_member(area, admin, db):
    err = refused_everywhere(area, admin, db, zipped(("doc.kml", BILLION_LAUGHS)), "laughs.kmz", 422, "unsafe_xml")
    assert err.extra["member"] == "doc.kml"


def test_network_links_are_reported_and_not_followed(area, admin, db, tmp_path):
    target = tmp_path / "remote.kml"
    target.write_bytes(kml_doc(PLACEMARK * 5))
    body = PLACEMARK + (
        f"<NetworkLink><name>Couche distante</name><Link><href>{target}</href></Link></NetworkLink>"
        "<Folder><NetworkLink><Url><href>http://127.0.0.1:9/zones.kml</href></Url></NetworkLink></Folder>"
    ).encode()
    other = body.replace(b"4.444,50.4108", b"4.445,50.4109")  # not a duplicate of the first upload
    for data, name in ((kml_doc(body), "liens.kml"), (zipped(("doc.kml", kml_doc(other))), "liens.kmz")):
        res = accepted_everywhere(area, admin, db, data, name, 1)  # the 5 linked placemarks are not read
        links = [(w["href"], w["name"]) for w in res.warnings if w["code"] == "network_link_ignored"]
        assert links == [(str(target), "Couche distante"), ("http://127.0.0.1:9/zones.kml", None)]


@pytest.mark.parametrize(("data", "name", "code", "where"), [
    (b"<gpx>garbage<<<", "trace.gpx", "unreadable_file", "line 1 column 13"),
    # a GPX point without lat/lon refuses its feature only: tests/test_hostile_xml_structure.py
    (kml_doc()[:-20], "a.kml", "unreadable_file", "line 2 column 136"),
    (zipped(("doc.kml", b"<kml><Placemark>")), "a.kmz", "unreadable_file", "line 1 column 16"),
])
def test_malformed_xml_is_located(area, admin, db, data, name, code, where):
    err = refused_everywhere(area, admin, db, data, name, 422, code)
    assert err.where == where


# =========================================================================== dBase text

TEXT = "Église à Fontaine-l’Évêque"
_FOLDERS = itertools.count()


def _shapefile_parts(tmp_path, encoding: str = "UTF-8", text: str = TEXT) -> dict[str, bytes]:
    folder = tmp_path / f"shp-{next(_FOLDERS)}"
    folder.mkdir()
    poly = Polygon([(155000, 122000), (156000, 122000), (156000, 123000), (155000, 123000)])
    gdf = gpd.GeoDataFrame({"descr": [text], "menages": [3]}, geometry=[poly], crs="EPSG:31370")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, folder / "zones.shp", encoding=encoding)
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


def _shapefile_zip(tmp_path, parts: dict[str, bytes] | None = None, *, ldid: int | None = None,
                   cpg: bytes | None = b"keep") -> bytes:
    parts = dict(parts or _shapefile_parts(tmp_path))
    if ldid is not None:
        dbf = bytearray(parts[".dbf"])
        dbf[29] = ldid
        parts[".dbf"] = bytes(dbf)
    if cpg is None:
        parts.pop(".cpg", None)
    elif cpg != b"keep":
        parts[".cpg"] = cpg
    return zipped(*[(f"zones/zones{ext}", data) for ext, data in parts.items()])


def _description(res) -> str:  # noqa: ANN001
    (rep,) = res
    return rep.properties["description"]


def test_dbase_text_from_the_cpg(area, admin, db, tmp_path):
    for encoding in ("UTF-8", "cp1252"):
        data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, encoding), ldid=0)
        res = read_upload(data, "zones.zip", area=area, column_map={"description": "descr"})
        assert _description(res) == TEXT
        assert area_m2(res[0].geometry) == pytest.approx(1e6, rel=1e-6)
    assert [cpg_codec(t) for t in ("UTF-8", "1252", "ANSI 1252", "ISO-8859-1", "ISO 88591", "cp1250", "klingon")] \
        == ["utf-8", "cp1252", "cp1252", "cp1252", "cp1252", "cp1250", None]


def test_dbase_text_from_the_ldid_byte(area, admin, db, tmp_path):
    # no .cpg, LDID 0x57 (ANSI): Windows-1252, so ’ is U+2019 (GDAL alone would give U+0092)
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "cp1252"), ldid=0x57, cpg=None)
    res = accepted_everywhere(area, admin, db, data, "zones.zip", 1)
    res = read_upload(data, "zones.zip", area=area, column_map={"description": "descr"})
    assert _description(res) == TEXT
    # LDID 0x02 (code page 850)
    parts = _shapefile_parts(tmp_path, "cp1252", "Eglise")
    dbf = parts[".dbf"].replace(b"Eglise", "Église".encode("cp850") + b" ")
    data = _shapefile_zip(tmp_path, {**parts, ".dbf": dbf}, ldid=0x02, cpg=None)
    assert _description(read_upload(data, "z.zip", area=area, column_map={"description": "descr"})) == "Église"


def test_dbase_text_without_any_declaration(area, admin, db, tmp_path):
    # plain ASCII needs no declaration
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "cp1252", "Rue de la Gare"), ldid=0, cpg=None)
    assert _description(read_upload(data, "z.zip", area=area, column_map={"description": "descr"})) \
        == "Rue de la Gare"
    # anything else is undecidable: refused, naming the .dbf
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "cp1252"), ldid=0, cpg=None)
    err = refused_everywhere(area, admin, db, data, "zones.zip", 422, "undecidable_encoding")
    assert err.extra["member"] == "zones/zones.dbf"


def test_dbase_text_that_contradicts_its_declaration(area, admin, db, tmp_path):
    # the .cpg says UTF-8, the bytes are Windows-1252
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "cp1252"), cpg=b"UTF-8")
    err = refused_everywhere(area, admin, db, data, "zones.zip", 422, "unreadable_file")
    assert (err.extra["member"], err.extra["record"], err.extra["field"]) == ("zones/zones.dbf", 1, "descr")
    # the LDID says Windows-1252, the bytes are UTF-8: mojibake ("Ã‰glise") is never stored
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "UTF-8"), ldid=0x57, cpg=None)
    err = refused_everywhere(area, admin, db, data, "zones.zip", 422, "unreadable_file")
    assert "mojibake" in err.detail and err.extra["record"] == 1
    # a .cpg naming no known encoding
    data = _shapefile_zip(tmp_path, cpg=b"EBCDIC-XYZ")
    err = refused_everywhere(area, admin, db, data, "zones.zip", 422, "undecidable_encoding")
    assert err.extra["cpg"] == "EBCDIC-XYZ"


def test_control_characters_are_never_stored(area, admin, db, tmp_path):
    data = _shapefile_zip(tmp_path, _shapefile_parts(tmp_path, "UTF-8", "sonnette\x07 ici"))
    (rep,) = read_upload(data, "zones.zip", area=area, column_map={"description": "descr"})
    assert "description" not in rep.properties
    (warning,) = [w for w in rep.warnings if w["code"] == "attribute_dropped"]
    assert (warning["name"], warning["column"], warning["error"]) == ("description", "descr", "invalid_attribute")
    assert "U+0007" in warning["detail"]


# =========================================================================== GeoPackage

def _gpkg(tmp_path, name: str = "multi.gpkg", *, feature_layers: bool = True, tables: bool = True) -> bytes:
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if feature_layers:
            gpd.GeoDataFrame({"menages": [3], "operateur": ["Orange"]}, geometry=[Point(4.4440, 50.4108)],
                             crs="EPSG:4326").to_file(path, layer="points", driver="GPKG")
            poly = Polygon([(155000, 122000), (156000, 122000), (156000, 123000), (155000, 123000)])
            gpd.GeoDataFrame({"menages": [4]}, geometry=[poly], crs="EPSG:31370").to_file(
                path, layer="zones", driver="GPKG")
        if tables:
            pyogrio.write_dataframe(pd.DataFrame({"commune": ["Charleroi"], "score": [7]}), path,
                                    layer="enquete", driver="GPKG")
    return path.read_bytes()


def test_geopackage_every_feature_layer_is_read(area, admin, db, tmp_path):
    res = accepted_everywhere(area, admin, db, _gpkg(tmp_path), "releve.gpkg", 2)
    assert [r.geometry.geom_type for r in res] == ["Point", "Polygon"]
    assert [r.properties["households_affected"] for r in res] == [3, 4]
    assert area_m2(res[1].geometry) == pytest.approx(1e6, rel=1e-6)
    (note,) = res.warnings
    assert (note["code"], note["layers"], note["ignored_tables"]) == ("layers_read", ["points", "zones"], ["enquete"])


def test_geopackage_without_feature_layer(area, admin, db, tmp_path):
    err = refused_everywhere(area, admin, db, _gpkg(tmp_path, "t.gpkg", feature_layers=False), "t.gpkg",
                             422, "no_features")
    assert err.extra["tables"] == ["enquete"]
    # a plain SQLite database, not a GeoPackage
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
    refused_everywhere(area, admin, db, path.read_bytes(), "plain.gpkg", 422, "no_features")
    # the SQLite signature followed by junk
    refused_everywhere(area, admin, db, b"SQLite format 3\x00" + bytes(range(256)) * 16, "x.gpkg", 422,
                       "unreadable_file")


# =========================================================================== field errors together

BAD_PROPS = {"network": "mobile", "households_affected": 2**31, "businesses_affected": -1, "issue": "panne",
             "observed_at": "hier"}


def test_api_reports_every_property_error(representative, db):
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4440, 50.4108]},
            "properties": BAD_PROPS}
    response = representative.post("/api/v1/reports", json=body)
    problem = response.get_json()
    assert (response.status_code, problem["code"], problem["where"]) == (
        422, "invalid_attribute", "/properties/issue")
    assert [(e["code"], e["pointer"]) for e in problem["errors"]] == [
        ("invalid_attribute", "/properties/issue"),
        ("invalid_attribute", "/properties/households_affected"),
        ("invalid_attribute", "/properties/businesses_affected"),
        ("invalid_datetime", "/properties/observed_at"),
    ]
    assert "2147483648" in problem["errors"][1]["detail"]


def test_huge_integers_never_give_a_500(representative, area):
    for digits in (20, 5000):
        raw = ('{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},'
               '"properties":{"network":"mobile","households_affected":1' + "0" * digits + "}}")
        response = representative.post("/api/v1/reports", data=raw, content_type="application/geo+json")
        assert response.status_code == 422
        assert response.get_json()["code"] == "invalid_attribute"  # too large, however many digits (never NaN)
        assert response.get_json()["where"] == "/properties/households_affected"
    csv = b"lat;lon;menages\n50.4108;4.444;1" + b"0" * 5000 + b"\n"
    (rep,) = read_upload(csv, "a.csv", area=area)
    assert rep.warnings[0]["error"] == "invalid_attribute" and rep.warnings[0]["column"] == "menages"


def test_file_features_report_every_field_error(area, admin, db, tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4440, 50.4108]},
         "properties": {"menages": 2**31, "entreprises": -1, "probleme": "panne", "date": "32/13/2024",
                        "description": "ok"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41],
                                                                            [4.45, 50.42]]]},
         "properties": {"menages": 2**40, "probleme": "panne"}},
    ]}
    res = read_upload(json.dumps(fc).encode(), "zones.geojson", area=area)
    ok, refused = res
    assert ok.properties == {"description": "ok"}
    assert [(w["name"], w["column"], w["pointer"], w["error"]) for w in ok.warnings] == [
        ("households_affected", "menages", "/features/0/properties/menages", "invalid_attribute"),
        ("businesses_affected", "entreprises", "/features/0/properties/entreprises", "invalid_attribute"),
        ("issue", "probleme", "/features/0/properties/probleme", "invalid_attribute"),
        ("observed_at", "date", "/features/0/properties/date", "invalid_datetime"),
    ]
    # a refused feature lists its geometry fault and its attribute faults together
    assert (refused.code, refused.where) == ("ring_not_closed", "feature 1")
    assert [(e["code"], e.get("column")) for e in refused.extra["errors"]] == [
        ("ring_not_closed", None), ("invalid_attribute", "menages"), ("invalid_attribute", "probleme")]
    response = _upload(admin, json.dumps(fc).encode(), "zones.geojson", network="mobile", dry_run="true")
    features = response.get_json()["features"]
    assert response.status_code == 200 and [f["status"] for f in features] == ["accepted", "refused"]
    assert len(features[0]["warnings"]) == 4 and len(features[1]["error"]["errors"]) == 3
    # an int64 column of a GeoPackage
    path = tmp_path / "big.gpkg"
    gpd.GeoDataFrame({"menages": pd.array([3_000_000_000], dtype="int64")}, geometry=[Point(4.444, 50.4108)],
                     crs="EPSG:4326").to_file(path, driver="GPKG")
    (rep,) = read_upload(path.read_bytes(), "big.gpkg", area=area)
    assert "households_affected" not in rep.properties
    assert (rep.warnings[0]["column"], rep.warnings[0]["value"]) == ("menages", 3_000_000_000)


# =========================================================================== unknown commune filters

@pytest.mark.parametrize("value", ["99999", "abc", "5201", "52011 OR 1=1", "\x00"])
def test_unknown_commune_filter_everywhere(referent, value):
    for url in ("/api/v1/reports", "/api/v1/exports/dwconnect", "/api/v1/exports/dwconnect.csv", "/carte"):
        response = referent.get(url, query_string={"commune": value})
        assert response.status_code == 422, (url, response.status_code)
        if url.startswith("/api"):
            assert (response.get_json()["code"], response.get_json()["where"]) == ("unknown_commune", "commune")
    # the commune table has a row per commune: commune is not one of its parameters (it was ignored)
    for url in ("/api/v1/stats/communes", "/api/v1/stats/communes.csv"):
        response = referent.get(url, query_string={"commune": value})
        assert (response.status_code, response.get_json()["code"], response.get_json()["where"]) == (
            400, "invalid_request", "commune")
    # known codes still filter
    assert referent.get("/api/v1/reports", query_string={"commune": CHARLEROI}).status_code == 200
    assert referent.get("/api/v1/exports/dwconnect", query_string={"commune": CHARLEROI}).status_code == 200


def test_unknown_commune_in_the_cli_export(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "--commune", "99999", "-o", "-"])
    assert result.exit_code == 1 and "unknown_commune" in result.output and "--commune" in result.output


# =========================================================================== never a 500

def _valid_files(tmp_path) -> dict[str, bytes]:
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [4.444, 50.4108]}, "properties": {"description": "ici"}}]}
    return {
        "zones.geojson": json.dumps(fc).encode(),
        "releve.kml": KML,
        "releve.kmz": zipped(("doc.kml", KML)),
        "trace.gpx": GPX_OK,
        "zones.csv": read_case("22-csv-belgian-excel-cp1252.csv"),
        "zones.gpkg": _gpkg(tmp_path, "fuzz.gpkg", tables=False),
        "zones.zip": _shapefile_zip(tmp_path),
    }


@pytest.mark.parametrize(("data", "name", "status", "code"), [
    (b"", "vide.geojson", 422, "no_features"),
    (b"\n\n", "vide.csv", 422, "no_features"),
    (bytes(range(256)) * 4, "junk.bin", 415, "unsupported_format"),
    (bytes(range(256)) * 4, "junk.kml", 422, "unreadable_file"),
    (bytes(range(256)) * 4, "junk.gpkg", 422, "unreadable_file"),
    (b"[" * 100_000 + b"]" * 100_000, "deep.geojson", 400, "invalid_json"),
    (b'{"type":"FeatureCollection","features":' + b"[" * 5000 + b"]" * 5000 + b"}", "deep.json", 400,
     "invalid_json"),
    (GPX_OK, "trace.gpkg", 200, None),  # wrong extension: the content decides
    (KML, "releve.csv", 200, None),
    (b"lat;lon\n50.41;4.44\n", "points.kmz", 422, "unreadable_file"),
    (b"lat;lon\n50.41;4.44\n", "points.zip", 422, "unreadable_file"),
])
def test_odd_files_get_a_coded_answer(area, admin, db, data, name, status, code):
    if code is None:
        assert read_upload(data, name, area=area)
        response = _upload(admin, data, name, network="mobile", dry_run="true", mode="all")
        assert response.status_code == 200
    else:
        refused_everywhere(area, admin, db, data, name, status, code)


def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    n = len(data)
    cuts = sorted({1, 4, 30, n // 7, n // 3, n // 2, n - 40, n - 1} - {0})
    out = [data[:c] for c in cuts if 0 < c < n]
    for _ in range(6):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(16 if n > 64 else 0, n)] ^= 1 << rng.randrange(8)
        out.append(bytes(buf))
    return out


def test_mutated_files_never_give_a_5xx(area, admin, db, tmp_path):
    rng = random.Random(8)
    tried = 0
    for name, data in _valid_files(tmp_path).items():
        assert read_upload(data, name, area=area)  # the original is read
        for i, mutant in enumerate(_mutations(data, rng)):
            tried += 1
            try:
                read_upload(mutant, name, area=area)
            except GeosignalError as err:
                assert 400 <= err.status < 500, (name, i, err)
            if i % 4 == 0:  # a share of them through the API too, preview and save
                for fields in ({"dry_run": "true"}, {}):
                    response = _upload(admin, mutant, name, network="mobile", mode="all", **fields)
                    assert response.status_code < 500, (name, i, response.get_json())
    assert tried >= 90


def test_zlib_stream_cut_inside_a_member(area, admin, db):
    # the deflate stream of doc.kml ends early while the directory is intact
    raw = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # as zipfile does
    stream = raw.compress(KML) + raw.flush()
    good = zipped(("doc.kml", KML))
    assert stream in good
    bad = good.replace(stream, stream[: len(stream) // 2] + b"\x00" * (len(stream) - len(stream) // 2))
    err = refused_everywhere(area, admin, db, bad, "releve.kmz", 422, "unreadable_file")
    assert err.extra["member"] == "doc.kml"


def test_observation_dates_survive(area):
    # the hostile checks do not change what good files give (GPX time, KMZ ExtendedData)
    gpx = GPX_OK.replace(b"<name>", b"<time>2025-03-30T00:30:00Z</time><name>")
    (wpt,) = read_upload(gpx, "t.gpx", area=area)
    assert wpt.properties["observed_at"] == datetime(2025, 3, 30, 1, 30, tzinfo=BRUSSELS)
