"""Hostile containers, second round: dBase code pages and text (``.cpg`` naming no dBase code
page, a ``.cpg`` of junk, UTF-8 cut inside a character, NUL bytes inside a field), XML in any
encoding and with any prolog (UTF-16/32, a root after a long comment, a prefixed root), KML
coordinates GDAL would read as 0, image overlays, NetworkLinks only, and one bad geometry in a
KML or Shapefile layer (refused alone, located, the others kept).

Each case goes through the intake service (:func:`read_upload`) and through
``POST /api/v1/imports`` (preview and save), against the real app and PostGIS: exact codes and
locations, nothing stored on a refusal. Inputs are generated here.
"""

from __future__ import annotations

import itertools
import struct
import warnings

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point, Polygon

from geosignal.errors import GeosignalError
from geosignal.services.intake import ReportInput, read_upload
from geosignal.services.intake.containers import cpg_codec, xml_encoding, xml_for_gdal
from geosignal.services.intake.files import detect_format
from tests.factories import count_reports as _count
from tests.factories import upload_file, zipped

KML_NS = b'xmlns="http://www.opengis.net/kml/2.2"'
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def placemark(coordinates: str = "4.444,50.4108", name: str = "ici", geometry: str = "Point") -> bytes:
    if geometry == "Polygon":
        inner = (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coordinates}</coordinates></LinearRing>"
                 "</outerBoundaryIs></Polygon>")
    else:
        inner = f"<{geometry}><coordinates>{coordinates}</coordinates></{geometry}>"
    return f"<Placemark><name>{name}</name>{inner}</Placemark>".encode()


def kml(*bodies: bytes, prolog: bytes = DECLARATION) -> bytes:
    return prolog + b"<kml " + KML_NS + b"><Document>" + b"".join(bodies) + b"</Document></kml>"


GPX = ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
       'xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="50.4108" lon="4.4440"><name>Gare</name>'
       "<desc>Pas de 4G à l’église</desc></wpt></gpx>")


def _upload(account, data: bytes, filename: str, **fields):  # noqa: ANN001, ANN003, ANN201
    return upload_file(account, data, filename, **{"network": "mobile", **fields})


def refused(area, account, db, data: bytes, filename: str, code: str, status: int = 422,  # noqa: ANN001
            **upload) -> GeosignalError:
    """Assert that the service and the API (preview and save, ``mode=all``) refuse the whole
    file with ``status`` and ``code``, the API naming what the service names, and that
    nothing is stored; return the service's error."""
    with pytest.raises(GeosignalError) as info:
        read_upload(data, filename, area=area, column_map=upload.get("column_map"))
    err = info.value
    assert (err.status, err.code) == (status, code), err
    before = _count(db)
    fields = {"column_map": __import__("json").dumps(upload["column_map"])} if upload.get("column_map") else {}
    for extra in ({"dry_run": "true", "mode": "all"}, {"mode": "all"}, {"mode": "valid_only"}):
        response = _upload(account, data, filename, **fields, **extra)
        body = response.get_json()
        assert (response.status_code, body["code"]) == (status, code), body
        assert body.get("where") == err.where
        for key, value in err.extra.items():
            assert body[key] == value, (key, body)
    assert _count(db) == before
    return err


def accepted(area, account, db, data: bytes, filename: str, n: int, **upload):  # noqa: ANN001, ANN201
    """Assert that the file gives ``n`` valid reports in the service and that the API saves
    ``n``; return the service's result."""
    res = read_upload(data, filename, area=area, column_map=upload.get("column_map"))
    assert [type(r) for r in res] == [ReportInput] * n, [getattr(r, "code", None) for r in res]
    before = _count(db)
    fields = {"column_map": __import__("json").dumps(upload["column_map"])} if upload.get("column_map") else {}
    response = _upload(account, data, filename, mode="all", **fields)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved"] == n and _count(db) == before + n
    return res


# =========================================================================== dBase: .cpg

_FOLDERS = itertools.count()


def shapefile_parts(tmp_path, text: str, encoding: str = "cp1252", n: int = 1) -> dict[str, bytes]:  # noqa: ANN001
    """A Shapefile of ``n`` 1 km² squares in Charleroi (EPSG:31370), columns descr and menages."""
    folder = tmp_path / f"shp-{next(_FOLDERS)}"
    folder.mkdir()
    polys = [Polygon([(155000 + 2000 * k, 122000), (156000 + 2000 * k, 122000), (156000 + 2000 * k, 123000),
                      (155000 + 2000 * k, 123000)]) for k in range(n)]
    gdf = gpd.GeoDataFrame({"descr": [text] * n, "menages": [3] * n}, geometry=polys, crs="EPSG:31370")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, folder / "zones.shp", encoding=encoding)
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


def shapefile_zip(parts: dict[str, bytes], *, cpg: bytes | None = b"keep", ldid: int | None = None,
                  dbf: bytes | None = None) -> bytes:
    parts = dict(parts)
    if dbf is not None:
        parts[".dbf"] = dbf
    if ldid is not None:
        raw = bytearray(parts[".dbf"])
        raw[29] = ldid
        parts[".dbf"] = bytes(raw)
    if cpg is None:
        parts.pop(".cpg", None)
    elif cpg != b"keep":
        parts[".cpg"] = cpg
    return zipped(*[(f"zones/zones{ext}", data) for ext, data in parts.items()])


DESCR = {"description": "descr"}


@pytest.mark.parametrize("label", [b"rot13", b"rot-13", b"base64", b"hex", b"zlib", b"undefined", b"bz2",
                                   b"uu", b"quopri"])
def test_cpg_naming_a_python_codec_that_is_no_text_encoding(area, admin, db, tmp_path, label):
    # F1: the .dbf text is not ASCII ("Église" in Windows-1252): these used to give a 500
    data = shapefile_zip(shapefile_parts(tmp_path, "Église"), cpg=label)
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding", column_map=DESCR)
    assert (err.extra["member"], err.extra["cpg"]) == ("zones/zones.dbf", label.decode())
    assert cpg_codec(label.decode()) is None


@pytest.mark.parametrize(("label", "shown"), [
    (b"UTF\x008", "UTF\x008"),
    (b"\x00", "\x00"),
    (b"\xff\xfeU\x00T\x00F\x00", "\\xff\\xfeU\x00T\x00F\x00"),  # bytes not ASCII shown escaped
    (bytes(range(1, 32)), bytes(range(1, 32)).decode().strip()),
])
def test_cpg_holding_nul_bytes_or_junk(area, admin, db, tmp_path, label, shown):
    # F2: a NUL in the label made codecs.lookup raise ValueError (500)
    data = shapefile_zip(shapefile_parts(tmp_path, "Église"), cpg=label)
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding", column_map=DESCR)
    assert (err.extra["member"], err.extra["cpg"]) == ("zones/zones.dbf", shown)


@pytest.mark.parametrize("label", [b"UTF-16", b"UTF-16LE", b"utf_32", b"cp037", b"cp1140", b"UTF-7",
                                   b"raw_unicode_escape", b"idna", b"iso2022_jp"])
def test_cpg_naming_a_codec_that_is_no_dbase_code_page(area, admin, db, tmp_path, label):
    # F4: a real codec, but not ASCII-compatible (field names decoded as garbage, attributes
    # silently lost) — even when the text itself is plain ASCII
    data = shapefile_zip(shapefile_parts(tmp_path, "Rue de la Gare"), cpg=label)
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding")
    assert (err.extra["member"], err.extra["cpg"]) == ("zones/zones.dbf", label.decode())
    assert label.decode() in err.detail


def test_real_dbase_code_pages_are_still_read(area, tmp_path):
    for label, codec, text in ((b"UTF-8", "utf-8", "Église à Fleurus"), (b"1252", "cp1252", "Château, cœur"),
                               (b"ISO-8859-1", "cp1252", "Église"), (b"CP850", "cp850", "Église"),
                               (b"KOI8-R", "koi8-r", "Шарлеруа"), (b"cp1250", "cp1250", "Łódź"),
                               (b"GBK", "gbk", "沙勒罗瓦"), (b"US-ASCII", "ascii", "Rue de la Gare")):
        assert cpg_codec(label.decode()) == codec
        data = shapefile_zip(shapefile_parts(tmp_path, text, codec if codec != "ascii" else "cp1252"), cpg=label)
        (rep,) = read_upload(data, "z.zip", area=area, column_map=DESCR)
        assert (rep.properties["description"], rep.properties["households_affected"]) == (text, 3)


# =========================================================================== dBase: mojibake, NUL

def _utf8_cut(tmp_path, text: str, width: int) -> bytes:
    """A .dbf (LDID 0x57 "ANSI", no .cpg) whose ``descr`` holds the UTF-8 bytes of ``text`` cut
    to ``width`` bytes (inside a character), space-padded."""
    parts = shapefile_parts(tmp_path, "x" * width, "UTF-8")
    raw = text.encode("utf-8")[:width]
    assert len(raw) == width
    return shapefile_zip(parts, cpg=None, ldid=0x57, dbf=parts[".dbf"].replace(b"x" * width, raw))


def test_utf8_cut_inside_a_character_is_still_mojibake(area, admin, db, tmp_path):
    # F5 as the audit built it: "àé" + "xxxxx" + a lone 0xC3 (the "é" cut by the width)
    parts = shapefile_parts(tmp_path, "x" * 9 + "é", "UTF-8")
    raw = bytearray(parts[".dbf"])
    i = raw.index("é".encode())
    raw[i + 1] = 0x20
    raw = bytes(raw).replace(b"x" * 9, "àé".encode() + b"xxxxx")
    data = shapefile_zip(parts, cpg=None, ldid=0x57, dbf=raw)
    err = refused(area, admin, db, data, "zones.zip", "unreadable_file", column_map=DESCR)
    assert (err.extra["member"], err.extra["record"], err.extra["field"]) == ("zones/zones.dbf", 1, "descr")
    assert "mojibake" in err.detail
    # another cut: a 3-byte "’" cut after its first two bytes (2 stray bytes, 2 good sequences)
    data = _utf8_cut(tmp_path, "Église à Fontaine-l’Évêque", 23)
    err = refused(area, admin, db, data, "zones.zip", "unreadable_file", column_map=DESCR)
    assert (err.extra["record"], err.extra["field"]) == (1, "descr") and "mojibake" in err.detail
    # several records: the first one holding UTF-8 is named
    parts = shapefile_parts(tmp_path, "Rue de la Gare", "UTF-8", n=3)
    raw = parts[".dbf"]
    last = raw.rindex(b"Rue de la Gare")
    raw = raw[:last] + "Rue de l’Égl".encode()[:14] + raw[last + 14:]
    err = refused(area, admin, db, shapefile_zip(parts, cpg=None, ldid=0x57, dbf=raw), "zones.zip", "unreadable_file",
                  column_map=DESCR)
    assert (err.extra["record"], err.extra["field"]) == (3, "descr")


@pytest.mark.parametrize("text", ["Église à Fleurus", "Château", "cœur", "Fontaine-l’Évêque", "Ça coûte 5 €",
                                  "Œuvre « Ñandú » ÿ"])
def test_genuine_windows_1252_text_is_accepted(area, admin, db, tmp_path, text):
    parts = shapefile_parts(tmp_path, text, "cp1252")
    res = accepted(area, admin, db, shapefile_zip(parts, cpg=None, ldid=0x57), "zones.zip", 1, column_map=DESCR)
    assert res[0].properties["description"] == text


def test_nul_inside_a_dbase_text_field(area, admin, db, tmp_path):
    # F6: "abc\0def" was stored as "abc"
    parts = shapefile_parts(tmp_path, "abcdefghijklmnop")
    data = shapefile_zip(parts, cpg=b"1252", dbf=parts[".dbf"].replace(b"abcdefghijklmnop",
                                                                      b"abc\x00def".ljust(16)))
    err = refused(area, admin, db, data, "zones.zip", "unreadable_file", column_map=DESCR)
    assert (err.extra["member"], err.extra["record"], err.extra["field"]) == ("zones/zones.dbf", 1, "descr")
    assert "NUL" in err.detail
    # a NUL first, in the second record, with nothing declared (ASCII) and no column_map
    parts = shapefile_parts(tmp_path, "Rue de la Gare", n=3)
    raw = parts[".dbf"]
    second = raw.index(b"Rue de la Gare", raw.index(b"Rue de la Gare") + 1)
    raw = raw[:second] + b"\x00ue de la Gare" + raw[second + 14:]
    err = refused(area, admin, db, shapefile_zip(parts, cpg=None, ldid=0, dbf=raw), "zones.zip", "unreadable_file")
    assert (err.extra["record"], err.extra["field"]) == (2, "descr")


def test_nul_padding_at_the_end_of_a_field_is_fine(area, admin, db, tmp_path):
    parts = shapefile_parts(tmp_path, "abcdefghijklmnop")
    for padding in (b"Gare".ljust(16, b"\x00"), b"Gare\x00\x00\x00".ljust(16)):
        data = shapefile_zip(parts, cpg=b"1252", dbf=parts[".dbf"].replace(b"abcdefghijklmnop", padding))
        (rep,) = read_upload(data, "zones.zip", area=area, column_map=DESCR)
        assert rep.properties["description"] == "Gare"


# =========================================================================== dBase: code page mojibake, .cpg edges

def _dbf_text(tmp_path, raw: bytes, *, n: int = 1, at: int | None = None, cpg: bytes | None = None,  # noqa: ANN001
              ldid: int | None = None) -> bytes:
    """A zipped Shapefile of ``n`` records whose ``descr`` holds ``raw`` as written (bytes
    in whatever code page; in record ``at`` only, 0-based, when given: the others as many
    ``Z``), with the ``.cpg`` ``cpg`` (None: no .cpg) and the LDID byte ``ldid``."""
    parts = shapefile_parts(tmp_path, "Z" * len(raw), n=n)
    plain = b"Z" * len(raw)
    dbf = parts[".dbf"]
    starts = [k for k in range(len(dbf)) if dbf.startswith(plain, k)]
    assert len(starts) == n
    for k, pos in enumerate(starts):
        if at is None or k == at:
            dbf = dbf[:pos] + raw + dbf[pos + len(raw):]
    return shapefile_zip(parts, cpg=cpg, ldid=ldid, dbf=dbf)


_EGLISE = "Église près du café".encode("cp1252")


@pytest.mark.parametrize(("ldid", "codec", "seen"), [
    (0x01, "cp437", "╔glise prΦs du cafΘ"), (0x02, "cp850", "╔glise prÞs du cafÚ"),
    (0x26, "cp866", "╔glise prшs du cafщ"), (0x65, "cp866", "╔glise prшs du cafщ"),
])
def test_ldid_code_page_turning_text_into_box_drawing_is_refused(area, admin, db, tmp_path, ldid, codec, seen):
    # trial-a 2: Windows-1252 text, LDID cp437/cp850/cp866, no .cpg: stored as mojibake, no warning
    data = _dbf_text(tmp_path, _EGLISE, ldid=ldid)
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding", column_map=DESCR)
    assert (err.extra["member"], err.extra["record"], err.extra["field"], err.extra["codec"], err.extra["ldid"]) == (
        "zones/zones.dbf", 1, "descr", codec, ldid)
    assert f"language driver byte 0x{ldid:02X}" in err.detail and repr(seen) in err.detail
    assert "box-drawing" in err.detail


@pytest.mark.parametrize(("ldid", "codec"), [(0x01, "cp437"), (0x26, "cp866"), (0x6A, "cp737")])
def test_ldid_code_page_mixing_scripts_in_a_word_is_refused(area, admin, db, tmp_path, ldid, codec):
    # no box-drawing character: "près" read as "prΦs" (Greek) or "prшs" (Cyrillic), in record 3
    raw = "Eglise près G".encode("cp1252")
    data = _dbf_text(tmp_path, raw, n=3, at=2, ldid=ldid)
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding", column_map=DESCR)
    assert (err.extra["record"], err.extra["field"], err.extra["codec"]) == (3, "descr", codec)
    assert "mixing Latin letters with Greek or Cyrillic" in err.detail
    assert repr(raw.decode(codec)) in err.detail


def test_cpg_code_page_giving_c1_controls_is_refused(area, admin, db, tmp_path):
    # Windows-1252 "’" and "€" (0x92, 0x80) read as ISO-8859-15: C1 control characters
    raw = "L’antenne: 5 €".encode("cp1252")
    data = _dbf_text(tmp_path, raw, n=2, at=1, cpg=b"ISO-8859-15")
    err = refused(area, admin, db, data, "zones.zip", "undecidable_encoding", column_map=DESCR)
    assert (err.extra["record"], err.extra["field"], err.extra["codec"], err.extra["cpg"]) == (
        2, "descr", "iso8859-15", "ISO-8859-15")
    assert "C1 control" in err.detail and "\\x92" in err.detail and "\x92" not in err.detail


@pytest.mark.parametrize(("ldid", "text", "codec"), [
    (0x26, "Шарлеруа, вокзал", "cp866"), (0x65, "Станция 4G", "cp866"), (0xC9, "Шарлеруа-Юг", "cp1251"),
    (0xC8, "Náměstí Čechů", "cp1250"), (0xCB, "Σταθμός", "cp1253"), (0x01, "École près", "cp437"),
    (0x02, "Façade côté gare", "cp850"), (0x57, "Église près du café", "cp1252"),
    (0x97, "Łódź, Náměstí", "mac_latin2"), (0x98, "Σταθμός", "mac_greek"), (0x04, "Église près", "mac_roman"),
])
def test_genuine_text_in_its_ldid_code_page_is_accepted(area, admin, db, tmp_path, ldid, text, codec):
    # pure Cyrillic or Greek words, Czech with cp1250, Latin in cp437: no sign of mojibake; and
    # code pages GDAL's iconv does not know by Python's name (mac_latin2, mac_greek) read alike
    (rep,) = accepted(area, admin, db, _dbf_text(tmp_path, text.encode(codec), ldid=ldid), "zones.zip", 1,
                      column_map=DESCR)
    assert rep.properties["description"] == text


def test_ldid_naming_no_code_page_is_quoted_as_written(area, admin, db, tmp_path):
    # trial-a 7: LDID 0xFF was called "language driver byte 0"
    err = refused(area, admin, db, _dbf_text(tmp_path, _EGLISE, ldid=0xFF), "zones.zip", "undecidable_encoding",
                  column_map=DESCR)
    assert err.extra["ldid"] == 255
    assert "language driver byte 0xFF, which names no code page" in err.detail and "byte 0)" not in err.detail
    err = refused(area, admin, db, _dbf_text(tmp_path, _EGLISE, ldid=0), "zones.zip", "undecidable_encoding")
    assert err.extra["ldid"] == 0 and "(no .cpg, language driver byte 0)" in err.detail


@pytest.mark.parametrize("label", [b"\xef\xbb\xbfcp1252\r\n", b"\xef\xbb\xbf1252", b" \xef\xbb\xbfANSI 1252 \n",
                                   b"\r\n1252\r\n"])
def test_cpg_with_a_byte_order_mark_or_spaces_is_read(area, admin, db, tmp_path, label):
    # trial-a 8: a .cpg Notepad wrote (UTF-8 BOM + "cp1252" + CRLF) was refused as '���cp1252'
    (rep,) = accepted(area, admin, db, _dbf_text(tmp_path, _EGLISE, cpg=label, ldid=0), "zones.zip", 1,
                      column_map=DESCR)
    assert rep.properties["description"] == "Église près du café"


@pytest.mark.parametrize(("label", "codec", "text"), [
    (b"mac_roman", "mac_roman", "Église près du café"), (b"macroman", "mac_roman", "Château"),
    (b"mac_greek", "mac_greek", "Σταθμός"), (b"mac_cyrillic", "mac_cyrillic", "Шарлеруа"),
    (b"cp1125", "cp1125", "Харків"), (b"ptcp154", "ptcp154", "Қазақ"),
])
def test_cpg_naming_a_code_page_gdal_knows_otherwise_is_read_with_it(area, admin, db, tmp_path, label, codec, text):
    # trial-a 8: 'mac_roman' gave unreadable_file "'utf-8' codec can't decode byte 0xc9"
    (rep,) = accepted(area, admin, db, _dbf_text(tmp_path, text.encode(codec), cpg=label, ldid=0), "zones.zip", 1,
                      column_map=DESCR)
    assert rep.properties["description"] == text


def test_cpg_bytes_that_are_not_ascii_are_shown_escaped(area, admin, db, tmp_path):
    err = refused(area, admin, db, _dbf_text(tmp_path, _EGLISE, cpg=b"cp\xe91252"), "zones.zip",
                  "undecidable_encoding", column_map=DESCR)
    assert err.extra["cpg"] == "cp\\xe91252" and "\ufffd" not in err.detail and "'cp\\\\xe91252'" in err.detail


# =========================================================================== XML encodings and prologs

DOCTYPE = b'<!DOCTYPE kml [<!ENTITY x "boom">]>\n'


def _utf16(doc: bytes, codec: str) -> bytes:
    text = doc.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return text.encode(codec)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_kml_with_a_doctype_is_unsafe(area, admin, db, codec):
    # F17: "holds no KML" (with a BOM) or 415 (without) instead of unsafe_xml
    doc = kml(placemark(name="&x;"), prolog=DECLARATION + DOCTYPE)
    err = refused(area, admin, db, _utf16(doc, codec), "a.kml", "unsafe_xml")
    assert "DOCTYPE" in err.detail
    # the same GPX
    gpx = GPX.replace("<gpx", '<!DOCTYPE gpx [<!ENTITY x "boom">]>\n<gpx').encode()
    refused(area, admin, db, _utf16(gpx, codec), "t.gpx", "unsafe_xml")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32-le"])
def test_clean_utf16_kml_and_gpx_are_read_exactly(area, admin, db, codec):
    doc = kml(placemark("4.44417,50.41083,12.5", name="Église Saint-Christophe"))
    (rep,) = accepted(area, admin, db, _utf16(doc, codec), "a.kml", 1)
    assert rep.geometry.coords[0] == (4.44417, 50.41083)
    assert rep.properties["description"] == "Église Saint-Christophe"
    gpx = GPX.replace('lat="50.4108"', f'lat="50.41{len(codec)}"').encode()  # not a duplicate of another codec
    (wpt,) = accepted(area, admin, db, _utf16(gpx, codec), "t.gpx", 1)
    assert wpt.geometry.coords[0] == (4.444, float(f"50.41{len(codec)}"))
    assert wpt.properties["description"] == "Gare\nPas de 4G à l’église"
    # in a KMZ too
    (rep,) = read_upload(zipped(("doc.kml", _utf16(doc, codec))), "a.kmz", area=area)
    assert rep.properties["description"] == "Église Saint-Christophe"


def test_xml_encoding_detection():
    assert xml_encoding(b"<kml/>") == ("utf-8", 0)
    assert xml_encoding(b"\xef\xbb\xbf <kml/>") == ("utf-8", 3)
    assert xml_encoding("<kml/>".encode("utf-16")) == ("utf-16-le", 2)
    assert xml_encoding(" \n<kml/>".encode("utf-16-be")) == ("utf-16-be", 0)
    assert xml_encoding("<kml/>".encode("utf-32-le")) == ("utf-32-le", 0)
    assert xml_encoding("<kml/>".encode("utf-32")) == ("utf-32-le", 4)
    assert xml_encoding(b"lat;lon") is None and xml_encoding(bytes(range(256))) is None


COMMENT = b"<!--" + b"x" * 5000 + b"-->\n"


def test_doctype_after_a_long_prolog_is_unsafe(area, admin, db):
    # F18: the sniff looked at the first 4096 bytes only (415)
    refused(area, admin, db, kml(placemark(), prolog=DECLARATION + COMMENT + DOCTYPE), "a.kml", "unsafe_xml")
    # after 100 kB of comments and processing instructions, named .xml
    prolog = DECLARATION + (b"<?pi data?>" + COMMENT) * 20 + b'<!DOCTYPE kml SYSTEM "http://127.0.0.1:9/k.dtd">'
    err = refused(area, admin, db, kml(placemark(), prolog=prolog), "export.xml", "unsafe_xml")
    assert "DOCTYPE" in err.detail
    # a lowercase doctype (which expat cannot read) is unsafe too
    refused(area, admin, db, kml(placemark(), prolog=b"<!doctype kml>\n"), "a.kml", "unsafe_xml")


def test_root_after_a_long_prolog_or_prefixed(area, admin, db):
    (rep,) = accepted(area, admin, db, kml(placemark("4.4451,50.4109"), prolog=DECLARATION + COMMENT * 3),
                      "a.kml", 1)
    assert rep.geometry.coords[0] == (4.4451, 50.4109)
    # a prefixed root: <k:kml xmlns:k="…">, every KML element prefixed; a NetworkLink still reported
    body = (b'<k:kml xmlns:k="http://www.opengis.net/kml/2.2"><k:Document><k:Placemark><k:name>Gare</k:name>'
            b"<k:Point><k:coordinates>4.4452,50.4109</k:coordinates></k:Point></k:Placemark>"
            b"<k:NetworkLink><k:Link><k:href>http://127.0.0.1:9/r.kml</k:href></k:Link></k:NetworkLink>"
            b"</k:Document></k:kml>")
    assert detect_format(body, "export.xml") == "kml"
    res = accepted(area, admin, db, DECLARATION + body, "a.kml", 1)
    assert res[0].properties["description"] == "Gare" and res[0].geometry.coords[0] == (4.4452, 50.4109)
    assert [(w["code"], w["href"]) for w in res.warnings] == [("network_link_ignored", "http://127.0.0.1:9/r.kml")]
    # a prefixed GPX root
    gpx = GPX.replace("<gpx", "<g:gpx").replace("xmlns=", "xmlns:g=").replace("</gpx>", "</g:gpx>")
    gpx = gpx.replace("<wpt", "<g:wpt").replace("</wpt>", "</g:wpt>").replace("<name>", "<g:name>")
    gpx = gpx.replace("</name>", "</g:name>").replace("<desc>", "<g:desc>").replace("</desc>", "</g:desc>")
    gpx = gpx.replace('lon="4.4440"', 'lon="4.4462"')
    (wpt,) = accepted(area, admin, db, gpx.encode(), "t.gpx", 1)
    assert wpt.geometry.coords[0] == (4.4462, 50.4108)


# =========================================================================== KML coordinates

@pytest.mark.parametrize(("coordinates", "code", "bad"), [
    ("4.4456", "invalid_coordinate", "4.4456"),                              # F14: one number
    ("abc,def", "invalid_coordinate", "abc,def"),
    ("", "empty_geometry", ""),
    ("  \n ", "empty_geometry", ""),
    ("4.4456, 50.4108", "invalid_coordinate", "4.4456,"),                     # a space inside the tuple
    ("4,4456;50,4108", "invalid_coordinate", "4,4456;50,4108"),               # decimal commas
    ("4.4456,50.4108,0,7", "invalid_coordinate", "4.4456,50.4108,0,7"),
    # a value that reads as a number but is not finite: the code GeoJSON, CSV and GPX give it
    ("4.4456,nan", "non_finite_number", "4.4456,nan"),
    ("4.4456,1e999", "non_finite_number", "4.4456,1e999"),
    ("NaN,50.4108", "non_finite_number", "NaN,50.4108"),
    ("-INF,50.4108", "non_finite_number", "-INF,50.4108"),
    ("4.4456,+Infinity", "non_finite_number", "4.4456,+Infinity"),
    ("4.4456,50.4108,-nan", "non_finite_number", "4.4456,50.4108,-nan"),
    ("4.4456,-1E+400", "non_finite_number", "4.4456,-1E+400"),
    ("abc,nan", "invalid_coordinate", "abc,nan"),                            # one value is no number at all
    ("nan", "invalid_coordinate", "nan"),                                    # one value: no position
    ("4.44,50.41 4.45,50.41 4.45", "invalid_coordinate", "4.45"),
])
def test_kml_coordinates_gdal_would_read_as_zero(area, admin, db, coordinates, code, bad):
    # refused with its placemark only (it was the whole file): tests/test_hostile_xml_structure.py
    geometry = "LineString" if " " in coordinates.strip() else "Point"
    data = kml(placemark(), placemark(coordinates, name="Rue Haute", geometry=geometry))
    res = read_upload(data, "a.kml", area=area)
    assert [type(r) for r in res] == [ReportInput, GeosignalError]
    err = res[1]
    assert (err.code, err.where, err.extra["index"]) == (code, "feature 1", 1)
    assert (err.extra["placemark"], err.extra["name"], err.extra["line"]) == (1, "Rue Haute", 2)
    assert "'Rue Haute' (line 2)" in err.detail
    if bad:
        assert repr(bad) in err.detail
    before = _count(db)
    kept = _upload(admin, data, "a.kml", mode="valid_only")
    assert kept.status_code == 201 and (kept.get_json()["saved"], kept.get_json()["refused"]) == (1, 1)
    assert _count(db) == before + 1


def test_kml_coordinates_checked_in_every_part_and_in_a_kmz(area, admin, db):
    multi = (b"<Placemark><MultiGeometry><Point><coordinates>4.444,50.4108</coordinates></Point>"
             b"<Polygon><outerBoundaryIs><LinearRing><coordinates>\n4.44,50.41\n4.45\n</coordinates></LinearRing>"
             b"</outerBoundaryIs></Polygon></MultiGeometry><name>Zone</name></Placemark>")
    (err,) = read_upload(kml(multi), "a.kml", area=area)
    assert (err.code, err.extra["placemark"], err.extra["name"], err.extra["line"]) == (
        "invalid_coordinate", 0, "Zone", 2)
    (err,) = read_upload(zipped(("doc.kml", kml(placemark("4.4456")))), "a.kmz", area=area)
    assert (err.code, err.extra["member"], err.extra["placemark"], err.where) == (
        "invalid_coordinate", "doc.kml", 0, "feature 0")


# =========================================================================== overlays, NetworkLinks

GROUND = (b"<GroundOverlay><name>Carte 1890</name><Icon><href>http://127.0.0.1:9/i.png</href></Icon><LatLonBox>"
          b"<north>50.5</north><south>50.4</south><east>4.5</east><west>4.4</west></LatLonBox></GroundOverlay>")


def test_overlays_are_not_reports(area, admin, db):
    # F15: the GroundOverlay's LatLonBox became a 78 km² white-zone report
    others = (b"<PhotoOverlay><name>Photo</name><Icon><href>p.jpg</href></Icon><Point><coordinates>4.44,50.41"
              b"</coordinates></Point></PhotoOverlay><ScreenOverlay><name>Logo</name></ScreenOverlay>"
              b"<GroundOverlay/>")
    data = kml(GROUND, placemark("4.4461,50.4111", name="Gare"), b"<Folder>" + others + b"</Folder>")
    res = accepted(area, admin, db, data, "a.kml", 1)
    assert res[0].geometry.geom_type == "Point" and res[0].properties["description"] == "Gare"
    assert [(w["code"], w["kind"], w["name"]) for w in res.warnings] == [
        ("overlay_ignored", "GroundOverlay", "Carte 1890"), ("overlay_ignored", "PhotoOverlay", "Photo"),
        ("overlay_ignored", "ScreenOverlay", "Logo"), ("overlay_ignored", "GroundOverlay", None)]
    assert b"Overlay" not in xml_for_gdal(data) and b"Gare" in xml_for_gdal(data)
    response = _upload(admin, data, "a.kml", dry_run="true")
    assert [w["code"] for w in response.get_json()["warnings"]].count("overlay_ignored") == 4
    # nothing but an overlay: no_features, saying why
    err = refused(area, admin, db, kml(GROUND), "a.kml", "no_features")
    assert [(w["code"], w["name"]) for w in err.extra["warnings"]] == [("overlay_ignored", "Carte 1890")]


def test_only_network_links_say_where_the_content_is(area, admin, db):
    # F16: no_features without the network_link_ignored warning
    link = b"<NetworkLink><name>Zones</name><Link><href>http://127.0.0.1:9/r.kml</href></Link></NetworkLink>"
    err = refused(area, admin, db, kml(link), "l.kml", "no_features")
    assert [(w["code"], w["href"], w["name"]) for w in err.extra["warnings"]] == [
        ("network_link_ignored", "http://127.0.0.1:9/r.kml", "Zones")]
    assert "http://127.0.0.1:9/r.kml" in err.detail
    # in a KMZ, inside a folder, two links: both named, with the member
    links = b"<Folder>" + link + link.replace(b"r.kml", b"s.kml") + b"</Folder>"
    err = refused(area, admin, db, zipped(("doc.kml", kml(links))), "l.kmz", "no_features")
    assert [(w["href"], w["member"]) for w in err.extra["warnings"]] == [
        ("http://127.0.0.1:9/r.kml", "doc.kml"), ("http://127.0.0.1:9/s.kml", "doc.kml")]


# =========================================================================== one bad geometry

UNCLOSED = "4.44,50.41 4.45,50.41 4.45,50.42 4.44,50.42"


@pytest.mark.parametrize(("coordinates", "geometry", "code", "pointer"), [
    (UNCLOSED, "Polygon", "ring_not_closed", "/geometry/coordinates/0/3"),     # F13
    ("4.44,50.41 4.44,50.41", "Polygon", "ring_too_short", "/geometry/coordinates/0"),
    ("4.44,50.41 4.45,50.41 4.44,50.41", "Polygon", "ring_too_short", "/geometry/coordinates/0"),
    ("4.4471,50.4121", "LineString", "line_too_short", "/geometry/coordinates"),
])
def test_one_bad_kml_geometry_is_refused_alone(area, admin, db, coordinates, geometry, code, pointer):
    data = kml(placemark("4.4472,50.4122", name="ok"), placemark(coordinates, name="bad", geometry=geometry),
               placemark("4.4473,50.4123", name="ok too"))
    res = read_upload(data, "a.kml", area=area)
    assert [type(r) for r in res] == [ReportInput, GeosignalError, ReportInput]
    err = res[1]
    assert (err.code, err.where, err.extra["index"], err.extra["pointer"], err.extra["layer"]) == (
        code, "feature 1", 1, pointer, "document")
    before = _count(db)
    preview = _upload(admin, data, "a.kml", dry_run="true", mode="all")
    features = preview.get_json()["features"]
    assert preview.status_code == 200 and [f["status"] for f in features] == ["accepted", "refused", "accepted"]
    assert (features[1]["error"]["code"], features[1]["error"]["where"]) == (code, "feature 1")
    rejected = _upload(admin, data, "a.kml", mode="all")
    assert (rejected.status_code, rejected.get_json()["code"]) == (422, "import_rejected")
    assert _count(db) == before
    kept = _upload(admin, data, "a.kml", mode="valid_only")
    assert kept.status_code == 201 and (kept.get_json()["saved"], kept.get_json()["refused"]) == (2, 1)
    assert _count(db) == before + 2


def _unclose_last_polygon(shp: bytes) -> bytes:
    """Move the closing vertex of the last polygon record of a .shp by 10 m."""
    out = bytearray(shp)
    pos, last = 100, None
    while pos < len(out):
        length = struct.unpack_from(">i", out, pos + 4)[0] * 2
        last = pos + 8
        pos += 8 + length
    parts, points = struct.unpack_from("<ii", out, last + 36)
    closing = last + 44 + 4 * parts + 16 * (points - 1)
    x, y = struct.unpack_from("<2d", out, closing)
    struct.pack_into("<2d", out, closing, x + 10, y)
    return bytes(out)


def test_one_bad_shapefile_geometry_is_refused_alone(area, admin, db, tmp_path):
    parts = shapefile_parts(tmp_path, "Rue de la Gare", n=3)
    parts[".shp"] = _unclose_last_polygon(parts[".shp"])
    data = shapefile_zip(parts)
    res = read_upload(data, "zones.zip", area=area, column_map=DESCR)
    assert [type(r) for r in res] == [ReportInput, ReportInput, GeosignalError]
    err = res[2]
    assert (err.code, err.where, err.extra["index"], err.extra["layer"]) == ("ring_not_closed", "feature 2", 2, "zones")
    assert err.extra["pointer"].startswith("/geometry/coordinates/0/")
    assert [r.properties["households_affected"] for r in res[:2]] == [3, 3]
    before = _count(db)
    rejected = _upload(admin, data, "zones.zip", mode="all")
    assert (rejected.status_code, rejected.get_json()["code"]) == (422, "import_rejected")
    assert _count(db) == before
    kept = _upload(admin, data, "zones.zip", mode="valid_only")
    assert kept.status_code == 201 and (kept.get_json()["saved"], kept.get_json()["refused"]) == (2, 1)
    assert _count(db) == before + 2


# =========================================================================== Shapefile: .shx and .dbf that disagree


def numbered_shapefile(tmp_path, n: int) -> dict[str, bytes]:  # noqa: ANN001
    """A Shapefile of ``n`` 1 km² squares in Charleroi (EPSG:31370) whose ``descr`` names each
    one (``zone 0``, ``zone 1``…) and ``menages`` is ``k + 1``."""
    folder = tmp_path / f"shp-{next(_FOLDERS)}"
    folder.mkdir()
    polys = [Polygon([(155000 + 2000 * k, 122000), (156000 + 2000 * k, 122000), (156000 + 2000 * k, 123000),
                      (155000 + 2000 * k, 123000)]) for k in range(n)]
    gdf = gpd.GeoDataFrame({"descr": [f"zone {k}" for k in range(n)], "menages": [k + 1 for k in range(n)]},
                           geometry=polys, crs="EPSG:31370")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, folder / "zones.shp", encoding="UTF-8")
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


def _zones_in_order(res) -> list[tuple[str, int, float]]:  # noqa: ANN001
    """(description, households, west edge in EPSG:31370 rounded to the km) of each report."""
    from pyproj import Transformer

    to_lambert = Transformer.from_crs(4326, 31370, always_xy=True)
    return [(r.properties["description"], r.properties["households_affected"],
             round(to_lambert.transform(*r.geometry.centroid.coords[0])[0] / 1000, 1)) for r in res]


@pytest.mark.parametrize(("shapes", "records"), [(3, 2), (2, 3)])
def test_shp_and_dbf_with_different_record_counts(area, admin, db, tmp_path, shapes, records):
    # audit 3 F4: GDAL stopped at the shorter one, silently (a zone or an attribute row lost)
    parts = numbered_shapefile(tmp_path, shapes)
    parts[".dbf"] = numbered_shapefile(tmp_path, records)[".dbf"]
    err = refused(area, admin, db, shapefile_zip(parts), "zones.zip", "unreadable_file", column_map=DESCR)
    assert err.extra["members"] == ["zones/zones.shp", "zones/zones.dbf"]
    assert (err.extra["shp_records"], err.extra["dbf_records"]) == (shapes, records)
    assert err.where == "zones/zones.shp, zones/zones.dbf"
    assert f"{shapes} shape(s)" in err.detail and f"{records} attribute record(s)" in err.detail


def test_dbf_header_claiming_more_records_than_it_holds(area, admin, db, tmp_path):
    parts = numbered_shapefile(tmp_path, 2)
    dbf = bytearray(parts[".dbf"])
    dbf[4:8] = struct.pack("<I", 1000)
    err = refused(area, admin, db, shapefile_zip(parts, dbf=bytes(dbf)), "zones.zip", "unreadable_file",
                  column_map=DESCR)
    assert (err.where, err.extra["member"], err.extra["records"], err.extra["records_in_file"]) == (
        "zones/zones.dbf", "zones/zones.dbf", 1000, 2)
    # a record cut short at the end of the .dbf
    err = refused(area, admin, db, shapefile_zip(parts, dbf=parts[".dbf"][:-20]), "zones.zip", "unreadable_file",
                  column_map=DESCR)
    assert (err.extra["member"], err.extra["records"], err.extra["records_in_file"]) == ("zones/zones.dbf", 2, 1)
    # a whole record more than the header says
    body = parts[".dbf"].rstrip(b"\x1a")
    record_length = struct.unpack_from("<H", body, 10)[0]
    err = refused(area, admin, db, shapefile_zip(parts, dbf=body + body[-record_length:]), "zones.zip",
                  "unreadable_file", column_map=DESCR)
    assert (err.extra["member"], err.extra["records"], err.extra["records_in_file"]) == ("zones/zones.dbf", 2, 3)


def _shx_lie(shx: bytes, kind: str) -> bytes:
    out = bytearray(shx)
    if kind == "swapped":
        out[100:104], out[108:112] = shx[108:112], shx[100:104]
    elif kind == "beyond_end":
        struct.pack_into(">i", out, 108, 10_000_000)
    elif kind == "truncated":
        return bytes(out[:108])
    elif kind == "extra":
        return bytes(out + out[-8:])
    elif kind == "length":
        struct.pack_into(">i", out, 112, struct.unpack_from(">i", shx, 112)[0] - 4)
    return bytes(out)


@pytest.mark.parametrize(("kind", "record", "shx_records"), [
    ("swapped", 1, 2), ("beyond_end", 2, 2), ("length", 2, 2), ("truncated", None, 1), ("extra", None, 3)])
def test_shx_that_contradicts_the_shp(area, admin, db, tmp_path, kind, record, shx_records):
    # audit 3 F3: swapped offsets bound "zone 0" to the second square, silently; an offset past
    # the end gave empty_geometry, a short index no_features
    parts = numbered_shapefile(tmp_path, 2)
    parts[".shx"] = _shx_lie(parts[".shx"], kind)
    err = refused(area, admin, db, shapefile_zip(parts), "zones.zip", "unreadable_file", column_map=DESCR)
    assert (err.where, err.extra["member"]) == ("zones/zones.shx", "zones/zones.shx")
    assert (err.extra.get("record"), err.extra["shx_records"], err.extra["shp_records"]) == (record, shx_records, 2)
    assert "zones/zones.shx" in err.detail and "zones/zones.shp" in err.detail


def test_shp_records_that_cannot_be_walked(area, admin, db, tmp_path):
    parts = numbered_shapefile(tmp_path, 2)
    shp = bytearray(parts[".shp"])
    struct.pack_into(">i", shp, 100, 7)  # record 1 numbered 7
    err = refused(area, admin, db, shapefile_zip(parts | {".shp": bytes(shp)}), "zones.zip", "unreadable_file")
    assert (err.where, err.extra["member"], err.extra["record"]) == ("zones/zones.shp", "zones/zones.shp", 1)
    err = refused(area, admin, db, shapefile_zip(parts | {".shp": parts[".shp"][:-10]}), "zones.zip",
                  "unreadable_file")
    assert (err.extra["member"], err.extra["record"]) == ("zones/zones.shp", 2)


def test_consistent_shapefile_keeps_each_attribute_with_its_shape(area, admin, db, tmp_path):
    parts = numbered_shapefile(tmp_path, 3)
    res = accepted(area, admin, db, shapefile_zip(parts), "zones.zip", 3, column_map=DESCR)
    assert _zones_in_order(res) == [("zone 0", 1, 155.5), ("zone 1", 2, 157.5), ("zone 2", 3, 159.5)]
    # with the end-of-file byte some writers leave out, and an empty Shapefile
    dbf = parts[".dbf"][:-1] if parts[".dbf"].endswith(b"\x1a") else parts[".dbf"] + b"\x1a"
    res = read_upload(shapefile_zip(parts, dbf=dbf), "zones.zip", area=area, column_map=DESCR)
    assert _zones_in_order(res)[2] == ("zone 2", 3, 159.5)


# =========================================================================== GeoPackage: text not UTF-8, typed numbers


def geopackage(tmp_path, column: str = "households_affected", declared: str = "MEDIUMINT",  # noqa: ANN001
               values: tuple = (7,), descriptions: tuple | None = None) -> bytes:
    """A GeoPackage layer ``zones`` of points in Charleroi, one per value of ``values``, which
    SQLite stores as given in ``column`` declared ``declared``; ``descriptions`` (bytes or str)
    are written to ``description`` as stored, bypassing GDAL."""
    import sqlite3

    path = tmp_path / f"gpkg-{next(_FOLDERS)}.gpkg"
    gdf = gpd.GeoDataFrame({"description": [f"point {k}" for k in range(len(values))]},
                           geometry=[Point(4.444 + k * 1e-3, 50.4108) for k in range(len(values))], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer="zones", driver="GPKG")
    con = sqlite3.connect(path)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute(f'ALTER TABLE zones ADD COLUMN "{column}" {declared}')
    for k, value in enumerate(values):
        con.execute(f'UPDATE zones SET "{column}" = ? WHERE fid = ?', (value, k + 1))
    for k, text in enumerate(descriptions or ()):
        con.execute("UPDATE zones SET description = CAST(? AS BLOB) WHERE fid = ?",
                    (text.encode() if isinstance(text, str) else text, k + 1))
    con.commit()
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("bad", [b"\xff\xfe bad utf8", "a\ud800b".encode("utf-8", "surrogatepass")])
def test_gpkg_text_not_utf8_refuses_that_feature_only(area, admin, db, tmp_path, bad):
    # audit 3 F10: "Layer 'zones' cannot be read: 'utf-8' codec can't decode byte 0xff", the whole file
    data = geopackage(tmp_path, values=(1, 2, 3), descriptions=("Rue de la Gare", bad, "Église"))
    res = read_upload(data, "z.gpkg", area=area)
    assert [type(r) for r in res] == [ReportInput, GeosignalError, ReportInput]
    err = res[1]
    assert (err.code, err.where, err.extra["index"], err.extra["fid"], err.extra["column"], err.extra["layer"]) == (
        "unreadable_file", "feature 1", 1, 2, "description", "zones")
    assert "fid 2" in err.detail and "'description'" in err.detail and "UTF-8" in err.detail
    assert [r.properties["description"] for r in (res[0], res[2])] == ["Rue de la Gare", "Église"]
    before = _count(db)
    preview = _upload(admin, data, "z.gpkg", dry_run="true", mode="all")
    features = preview.get_json()["features"]
    assert preview.status_code == 200 and [f["status"] for f in features] == ["accepted", "refused", "accepted"]
    assert (features[1]["error"]["code"], features[1]["error"]["where"], features[1]["error"]["fid"],
            features[1]["error"]["column"]) == ("unreadable_file", "feature 1", 2, "description")
    rejected = _upload(admin, data, "z.gpkg", mode="all")
    assert (rejected.status_code, rejected.get_json()["code"]) == (422, "import_rejected")
    assert _count(db) == before
    kept = _upload(admin, data, "z.gpkg", mode="valid_only")
    assert kept.status_code == 201 and (kept.get_json()["saved"], kept.get_json()["refused"]) == (2, 1)
    assert _count(db) == before + 2


def test_gpkg_text_not_utf8_in_a_column_not_read_is_harmless(area, tmp_path):
    import sqlite3

    path = tmp_path / "other.gpkg"
    path.write_bytes(geopackage(tmp_path, column="code_interne", declared="TEXT", values=("x",),
                                descriptions=("Église",)))
    con = sqlite3.connect(path)
    con.execute("UPDATE zones SET code_interne = CAST(X'FFFE' AS TEXT)")
    con.commit()
    con.close()
    (rep,) = read_upload(path.read_bytes(), "z.gpkg", area=area)
    assert rep.properties["description"] == "Église"
    # the same bytes in a column that stands for a property refuse the feature
    path.write_bytes(geopackage(tmp_path, column="notes", declared="TEXT", values=(b"\xff".decode("latin-1"),)))
    con = sqlite3.connect(path)
    con.execute("UPDATE zones SET notes = CAST(X'FFFE' AS TEXT), description = NULL")
    con.commit()
    con.close()
    (err,) = read_upload(path.read_bytes(), "z.gpkg", area=area)
    assert (err.code, err.extra["fid"], err.extra["column"]) == ("unreadable_file", 1, "notes")


def _dropped(rep) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(w["code"], w["name"], w["column"]) for w in rep.warnings if w["code"] == "attribute_dropped"]


@pytest.mark.parametrize("declared", ["TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "REAL", "DOUBLE"])
def test_gpkg_typed_numbers_reach_the_count_rules_as_stored(area, admin, db, tmp_path, declared):
    # audit 3 F5: GDAL read 2³²+5 in a MEDIUMINT column as 5, '2,500' as 2, 12.7 as 12
    values = (2**32 + 5, "2,500", 12.7, "abc", 7, 12.0, None)
    data = geopackage(tmp_path, declared=declared, values=values)
    res = read_upload(data, "z.gpkg", area=area)
    assert [type(r) for r in res] == [ReportInput] * len(values)
    households = [r.properties.get("households_affected") for r in res]
    assert households == [None, None, None, None, 7, 12, None]
    for rep, shown in zip(res[:4], ("4294967301", "'2,500'", "12.7", "'abc'"), strict=True):
        assert _dropped(rep) == [("attribute_dropped", "households_affected", "households_affected")]
        assert shown in rep.warnings[0]["detail"], rep.warnings
    assert "ambiguous" in res[1].warnings[0]["detail"]
    assert not res[4].warnings and not res[6].warnings
    preview = _upload(admin, data, "z.gpkg", dry_run="true", mode="all").get_json()["features"]
    assert [f["properties"].get("households_affected") for f in preview] == households
    assert [w["code"] for w in preview[0]["warnings"]] == ["attribute_dropped"]
    # NaN (as text, or a REAL's NaN) or an infinity is no count dropped but a number that is not
    # finite: the feature is refused (non_finite_number), as a JSON NaN is
    data = geopackage(tmp_path, declared=declared, values=(3, "NaN", "-Infinity", "1e999"))
    res = read_upload(data, "z.gpkg", area=area)
    assert [r.code if isinstance(r, GeosignalError) else "ok" for r in res] == ["ok"] + ["non_finite_number"] * 3
    assert [(r.where, r.extra["column"], r.extra["name"]) for r in res[1:]] == [
        (f"feature {k}", "households_affected", "households_affected") for k in (1, 2, 3)]
    before = _count(db)
    assert _upload(admin, data, "z.gpkg", mode="all").status_code == 422
    assert _count(db) == before
    # a clean GeoPackage of the same kind is still read exactly
    clean = geopackage(tmp_path, declared=declared, values=(0, 3, 1_000_000))
    res = accepted(area, admin, db, clean, "z.gpkg", 3)
    assert [r.properties["households_affected"] for r in res] == [0, 3, 1_000_000]
    assert not any(r.warnings for r in res)


@pytest.mark.parametrize("declared", ["BIGINT", "VARCHAR(20)", "DECIMAL(6,2)", "LONG", "NUMERIC(10)"])
def test_gpkg_columns_of_a_type_gdal_leaves_out_are_read(area, admin, db, tmp_path, declared):
    # GDAL says "Field format 'BIGINT' not supported" and drops the column: the households were lost
    data = geopackage(tmp_path, declared=declared, values=(12, 3))
    res = accepted(area, admin, db, data, "z.gpkg", 2)
    assert [r.properties["households_affected"] for r in res] == [12, 3]
    assert not any(r.warnings for r in res)
    # and as stored: a value the count rules refuse is dropped with its warning, never truncated
    (rep,) = read_upload(geopackage(tmp_path, declared=declared, values=(12.7,)), "z.gpkg", area=area)
    assert "households_affected" not in rep.properties
    assert _dropped(rep) == [("attribute_dropped", "households_affected", "households_affected")]
    # a text property in such a column is read too
    (rep,) = read_upload(geopackage(tmp_path, column="descr", declared="VARCHAR(40)", values=("Rue haute",)),
                         "z.gpkg", area=area, column_map=DESCR)
    assert rep.properties["description"] == "Rue haute"


def _gpkg_srs(tmp_path, srs_id: int) -> bytes:  # noqa: ANN001
    """A GeoPackage of one 100 m disc near Charleroi's centre in EPSG:31370 whose layer then
    declares ``srs_id`` instead."""
    import sqlite3

    path = tmp_path / f"gpkg-{next(_FOLDERS)}.gpkg"
    gdf = gpd.GeoDataFrame({"households_affected": [3]}, geometry=[Point(155500, 122500).buffer(100)],
                           crs="EPSG:31370")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer="zones", driver="GPKG")
    con = sqlite3.connect(path)
    con.execute("UPDATE gpkg_geometry_columns SET srs_id = ?", (srs_id,))
    con.execute("UPDATE gpkg_contents SET srs_id = ?", (srs_id,))
    con.commit()
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("srs_id", [99999, 2, 3812])
def test_gpkg_srs_id_the_file_does_not_define_is_refused(area, admin, db, tmp_path, srs_id):
    # GDAL warned "unable to read srs_id" and read the Lambert coordinates as WGS 84
    data = _gpkg_srs(tmp_path, srs_id)
    err = refused(area, admin, db, data, "z.gpkg", "unsupported_crs")
    assert (err.where, err.extra["layer"], err.extra["srs_id"]) == ("layer zones", "zones", srs_id)
    assert f"srs_id {srs_id}" in err.detail and "does not define" in err.detail
    # the request's crs cannot stand for a declaration the file got wrong
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "z.gpkg", area=area, crs="EPSG:31370")
    assert (info.value.code, info.value.extra["srs_id"]) == ("unsupported_crs", srs_id)


@pytest.mark.parametrize(("srs_id", "kind"), [(0, "geographic"), (-1, "Cartesian")])
def test_gpkg_undefined_srs_takes_the_request_crs(area, admin, db, tmp_path, srs_id, kind):
    data = _gpkg_srs(tmp_path, srs_id)
    err = refused(area, admin, db, data, "z.gpkg", "unsupported_crs")
    assert (err.where, err.extra["srs_id"]) == ("layer zones", srs_id)
    assert f"undefined {kind}" in err.detail and "send crs" in err.detail
    (rep,) = read_upload(data, "z.gpkg", area=area, crs="EPSG:31370")
    assert rep.area_m2 == pytest.approx(31_365.5, rel=1e-4)  # the 100 m disc (64 segments), in Charleroi
    before = _count(db)
    response = _upload(admin, data, "z.gpkg", mode="all", crs="EPSG:31370")
    assert response.status_code == 201 and response.get_json()["saved"] == 1 and _count(db) == before + 1


def _kml_schema(value: str, declared: str) -> bytes:
    return (f'<?xml version="1.0"?><kml {KML_NS.decode()}><Document><Schema name="s" id="s">'
            f"<SimpleField name=\"menages\" type='{declared}'/><SimpleField type=\"string\" name=\"descr\"/></Schema>"
            '<Placemark><ExtendedData><SchemaData schemaUrl="#s">'
            f'<SimpleData name="menages">{value}</SimpleData><SimpleData name="descr">ici</SimpleData></SchemaData>'
            "</ExtendedData><Point><coordinates>4.444,50.4108</coordinates></Point></Placemark></Document></kml>"
            ).encode()


@pytest.mark.parametrize("declared", ["int", "uint", "short", "float", "double"])
@pytest.mark.parametrize(("value", "shown"), [("1.000", "'1.000'"), ("2,500", "'2,500'"), ("12.7", "'12.7'"),
                                              ("99999999999", "99999999999"), ("4294967301", "4294967301")])
def test_kml_schema_typed_fields_reach_the_count_rules_as_written(area, admin, db, declared, value, shown):
    # audit 3 F5: type="int" read 1.000 as 1, 2,500 as 2, 12.7 as 12, 99999999999 as 2147483647
    data = _kml_schema(value, declared)
    (rep,) = read_upload(data, "a.kml", area=area, column_map=DESCR)
    assert "households_affected" not in rep.properties
    assert _dropped(rep) == [("attribute_dropped", "households_affected", "menages")]
    assert shown in rep.warnings[0]["detail"], rep.warnings
    before = _count(db)
    (feature,) = _upload(admin, data, "a.kml", dry_run="true", mode="all",
                         column_map='{"description": "descr"}').get_json()["features"]
    assert feature["properties"].get("households_affected") is None
    assert [w["code"] for w in feature["warnings"]] == ["attribute_dropped"]
    assert _count(db) == before


@pytest.mark.parametrize("declared", ["int", "float", "double"])
@pytest.mark.parametrize("value", ["NaN", "-inf", "Infinity", "1e999"])
def test_kml_schema_typed_field_not_finite_refuses_its_placemark(area, admin, db, declared, value):
    # a count that reads as a number but is not finite refuses the feature (non_finite_number),
    # as a JSON NaN does, instead of being dropped with a warning
    data = _kml_schema(value, declared)
    (err,) = read_upload(data, "a.kml", area=area, column_map=DESCR)
    assert (err.code, err.where, err.extra["name"], err.extra["column"], err.extra["value"]) == (
        "non_finite_number", "feature 0", "households_affected", "menages", value)
    before = _count(db)
    for fields in ({"dry_run": "true"}, {"mode": "all"}):
        (feature,) = _upload(admin, data, "a.kml", column_map='{"description": "descr"}',
                             **fields).get_json()["features"]
        assert (feature["status"], feature["error"]["code"], feature["error"]["column"]) == (
            "refused", "non_finite_number", "menages")
    assert _count(db) == before


@pytest.mark.parametrize("declared", ["int", "float"])
def test_kml_schema_typed_fields_clean_values_are_read_exactly(area, admin, db, declared):
    (rep,) = accepted(area, admin, db, _kml_schema("12", declared), "a.kml", 1, column_map=DESCR)
    assert (rep.properties["households_affected"], rep.properties["description"]) == (12, "ici")
    assert not rep.warnings
    given = xml_for_gdal(_kml_schema("12", declared))  # no schema: GDAL reads plain Data as text
    assert b"Schema" not in given and b"SimpleData" not in given and b'<Data name="menages"><value>12</value>' in given


# =========================================================================== .prj that cannot be read

@pytest.mark.parametrize("prj", [b"garbage here", b'PROJCS["nothing"', b"\xff\xfe\x00junk"])
def test_a_prj_that_cannot_be_read_is_refused_not_taken_for_wgs84(area, admin, db, tmp_path, prj):
    """The file declares a CRS; one that cannot be read must not be taken for none (GDAL then
    read the Lambert coordinates as WGS 84, silently)."""
    parts = shapefile_parts(tmp_path, "Rue de la Gare")
    parts[".prj"] = prj
    err = refused(area, admin, db, shapefile_zip(parts), "zones.zip", "unsupported_crs", column_map=DESCR)
    assert (err.where, err.extra["member"]) == ("zones/zones.prj", "zones/zones.prj")


def test_an_empty_prj_declares_nothing(area, tmp_path):
    """An empty .prj (some writers leave one) is as if none were sent: the caller's crs says
    what the coordinates are."""
    parts = shapefile_parts(tmp_path, "Rue de la Gare")
    parts[".prj"] = b""
    (rep,) = read_upload(shapefile_zip(parts), "zones.zip", area=area, column_map=DESCR, crs="EPSG:31370")
    assert rep.properties["description"] == "Rue de la Gare"
    assert rep.area_m2 == pytest.approx(1_000_000, rel=1e-3)


# =========================================================================== GeoPackage: SQL that would run as it is read

#: A recursive CTE of 600,000 rows (the attacker trial's view: 96 KB, 500 after 32 s).
_SLOW_ROWS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 600000)"


def _altered(data: bytes, tmp_path, *statements: str, writable_schema: bool = False) -> bytes:  # noqa: ANN001
    """The GeoPackage ``data`` after ``statements`` (SQLite, written to the file)."""
    import sqlite3

    path = tmp_path / f"altered-{next(_FOLDERS)}.gpkg"
    path.write_bytes(data)
    con = sqlite3.connect(path)
    if writable_schema:
        con.execute("PRAGMA writable_schema = ON")
    for statement in statements:
        con.execute(statement)
    con.commit()
    con.close()
    return path.read_bytes()


def test_gpkg_feature_layer_that_is_a_view_is_refused_before_gdal_reads_it(area, admin, db, tmp_path):
    """The attacker trial: the only feature layer is a view over a hidden one-point table, 600,000 rows
    made by a recursive CTE; GDAL ran it (preview 500 after 32 s). Refused from the schema alone."""
    data = _altered(
        geopackage(tmp_path), tmp_path,
        f"CREATE VIEW slow AS {_SLOW_ROWS} SELECT x AS fid, (SELECT geom FROM zones) AS geom, 'mobile' AS network "
        "FROM c",
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('slow', 'features', 'slow', 4326)",
        "INSERT INTO gpkg_geometry_columns VALUES ('slow', 'geom', 'POINT', 4326, 0, 0)",
        "DELETE FROM gpkg_geometry_columns WHERE table_name = 'zones'",
        "DELETE FROM gpkg_contents WHERE table_name = 'zones'")
    err = refused(area, admin, db, data, "slow.gpkg", "unsafe_geopackage")
    assert (err.where, err.extra) == ("layer slow", {"layer": "slow", "reason": "view"})
    assert "'slow' is a view" in err.detail


@pytest.mark.parametrize(("statements", "layer"), [
    # GDAL reads gpkg_contents to list the layers: as a view, its query ran before any layer was named
    (["ALTER TABLE gpkg_contents RENAME TO contents_kept",
      f"CREATE VIEW gpkg_contents AS SELECT * FROM contents_kept WHERE ({_SLOW_ROWS} SELECT count(*) FROM c) > 0"],
     "gpkg_contents"),
    # a view registered nowhere: GDAL lists it as a table, and runs it to do so
    ([f"CREATE VIEW enquete AS {_SLOW_ROWS} SELECT x AS n FROM c"], "enquete"),
    # an attribute table that is a view
    ([f"CREATE VIEW enquete AS {_SLOW_ROWS} SELECT x AS fid, x AS n FROM c",
      "INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('enquete', 'attributes', 'enquete')"],
     "enquete"),
])
def test_gpkg_any_view_is_refused(area, admin, db, tmp_path, statements, layer):
    err = refused(area, admin, db, _altered(geopackage(tmp_path), tmp_path, *statements), "v.gpkg",
                  "unsafe_geopackage")
    assert (err.where, err.extra) == (f"layer {layer}", {"layer": layer, "reason": "view"})


def test_gpkg_column_computed_on_read_is_refused(area, admin, db, tmp_path):
    """A VIRTUAL generated column is computed for every row read (this one: 4 s and 2 GB a row)."""
    data = _altered(geopackage(tmp_path), tmp_path, "ALTER TABLE zones ADD COLUMN heavy TEXT GENERATED ALWAYS AS "
                    "(length(replace(hex(zeroblob(200000000)), '0', 'ab'))) VIRTUAL")
    err = refused(area, admin, db, data, "c.gpkg", "unsafe_geopackage")
    assert (err.where, err.extra) == ("layer zones", {"layer": "zones", "reason": "computed_column",
                                                      "column": "heavy"})


def test_gpkg_virtual_table_other_than_a_spatial_index_is_refused(area, admin, db, tmp_path):
    data = _altered(geopackage(tmp_path), tmp_path, "CREATE VIRTUAL TABLE notes USING fts5(body)")
    err = refused(area, admin, db, data, "f.gpkg", "unsafe_geopackage")
    assert (err.where, err.extra["layer"], err.extra["reason"], err.extra["sql"]) == (
        "layer notes", "notes", "virtual_table", "CREATE VIRTUAL TABLE notes USING fts5(body)")
    # a name that spells "USING rtree(…)" does not make another module a spatial index
    data = _altered(geopackage(tmp_path), tmp_path, 'CREATE VIRTUAL TABLE "x USING rtree(a)" USING fts5(b)')
    err = refused(area, admin, db, data, "f.gpkg", "unsafe_geopackage")
    assert (err.extra["layer"], err.extra["reason"]) == ("x USING rtree(a)", "virtual_table")


def test_gpkg_feature_layer_that_is_no_table_is_refused(area, admin, db, tmp_path):
    data = _altered(geopackage(tmp_path), tmp_path, "INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                    "srs_id) VALUES ('ghost', 'features', 'ghost', 4326)")
    err = refused(area, admin, db, data, "g.gpkg", "unsafe_geopackage")
    assert (err.where, err.extra) == ("layer ghost", {"layer": "ghost", "reason": "not_a_table"})


def test_gpkg_spatial_index_triggers_and_stored_columns_are_read(area, admin, db, tmp_path):
    """What runs no SQL of the file on a read is read: GDAL's spatial index (an R*Tree virtual
    table) and its triggers, a trigger of the file's own (SQLite runs triggers on writes, never on
    a SELECT: this one would loop 600,000 times) and a STORED generated column (computed when the
    row was written)."""
    import sqlite3

    path = tmp_path / "indexed.gpkg"
    gdf = gpd.GeoDataFrame({"description": ["Rue de la Gare"]}, geometry=[Point(4.444, 50.4108)], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer="zones", driver="GPKG")  # with its spatial index
    data = _altered(path.read_bytes(), tmp_path,
                    "CREATE TABLE log (n INTEGER, kept TEXT GENERATED ALWAYS AS ('n=' || n) STORED)",
                    f"CREATE TRIGGER busy AFTER UPDATE ON zones BEGIN INSERT INTO log (n) {_SLOW_ROWS} "
                    "SELECT x FROM c; END")
    with sqlite3.connect(":memory:") as con:
        con.deserialize(data)
        kinds = {name: kind for _, name, kind, *_ in con.execute("PRAGMA table_list")}
        triggers = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    assert kinds["rtree_zones_geom"] == "virtual" and "busy" in triggers and len(triggers) > 1
    (rep,) = accepted(area, admin, db, data, "indexed.gpkg", 1)
    assert rep.properties["description"] == "Rue de la Gare"


@pytest.mark.parametrize(("coordinates", "code"), [
    ("4.444,50.41 4.446,50.41 4.446,50.412 4.444,50.412", "ring_not_closed"),
    ("4.444,50.41 4.446,50.412 4.446,50.41 4.444,50.412 4.444,50.41", "self_intersection"),  # a bow tie
])
def test_a_kml_geometry_refusal_names_its_placemark(area, admin, db, coordinates, code):
    # a hostile-inputs trial: the refusals of the geometry checks named the feature and the
    # pointer only, where the placemark checks name the placemark, its rank and its line
    data = kml(placemark(), b"\n", placemark(coordinates, name="Rue Haute", geometry="Polygon"))
    res = read_upload(data, "a.kml", area=area)
    assert [type(r) for r in res] == [ReportInput, GeosignalError]
    err = res[1]
    assert (err.code, err.where, err.extra["index"]) == (code, "feature 1", 1)
    assert {k: err.extra[k] for k in ("placemark", "name", "line", "column")} == {
        "placemark": 1, "name": "Rue Haute", "line": 3, "column": 0}
    assert err.detail.startswith("The placemark 'Rue Haute' (line 3): ")
    preview = _upload(admin, data, "a.kml", dry_run="true").get_json()
    refused = next(f for f in preview["features"] if f.get("error"))
    assert {k: refused["error"][k] for k in ("code", "placemark", "name", "line")} == {
        "code": code, "placemark": 1, "name": "Rue Haute", "line": 3}


@pytest.mark.parametrize("data_type", ["tiles", "2d-gridded-coverage"])
def test_gpkg_of_raster_tiles_only_says_so(area, admin, db, tmp_path, data_type):
    """A GeoPackage of map tiles (an orthophoto, a coverage map exported as an image) has no
    feature layer: GDAL, asked for vectors, said the file was "not recognized as being in a
    supported file format". Refused as holding no feature, naming the raster layer."""
    data = _altered(
        geopackage(tmp_path), tmp_path,
        "DELETE FROM gpkg_geometry_columns", "DELETE FROM gpkg_contents", "DROP TABLE zones",
        "CREATE TABLE couverture (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL, "
        "tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL)",
        f"INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('couverture', '{data_type}', "
        "'couverture', 4326)")
    err = refused(area, admin, db, data, "couverture.gpkg", "no_features")
    assert err.extra == {"format": "gpkg", "rasters": ["couverture"]}
    assert err.detail == ("The GeoPackage contains no feature layer, only raster tiles ('couverture'), which are "
                          "not reports.")


def test_gdal_s_messages_are_repeated_without_its_path_nor_its_advice_to_programmers():
    from geosignal.services.intake.files import _gdal_message

    said = ("'/vsimem/3f2a9c.gpkg' not recognized as being in a supported file format.; It might help to specify "
            "the correct driver explicitly by prefixing the file path with '<DRIVER>:', e.g. 'CSV:path'.")
    assert _gdal_message(Exception(said)) == "the file is not recognized as being in a supported file format."
