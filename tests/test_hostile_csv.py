"""Hostile CSV uploads: columns that mean the same thing (``duplicate_header``), quotes left
open whatever ends the lines (``unterminated_quote``), text after a closing quote
(``malformed_quote``), over-long header cells
(``field_too_long``), rows with several faults (every one reported) and text in UTF-16/UTF-32
(Excel's "Unicode text").

Each case goes through the intake service (:func:`read_upload`) and ``POST /api/v1/imports``
(preview and save, ``mode=all``) against the real app and PostGIS: the same status, code, row
and column, and nothing stored on refusal.
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from geosignal.errors import GeosignalError
from geosignal.models import Report
from geosignal.services.intake import ReportInput, read_upload
from tests.conftest import configured
from tests.factories import count_reports as _count
from tests.factories import upload_file

REPRO = {  # the audit's reproduction files (/tmp/audit/files/repro/), as bytes
    "F7a": b"lat;Lat;lon\n50.4108;50.9;4.4440\n",
    "F7b": b"lat;lon;menages;households_affected\n50.4108;4.4440;5;500\n",
    "F7c": b"lat;lon;Description;description\n50.4108;4.4440;A;B\n",
    "F8a": b'lat;lon;description\n50.4108;4.4440;"abc',
    "F8b": b'lat;lon;description\r50.4108;4.4440;"abc\r50.41;4.44;x\r',
    "F10": b"lat;lon;menages;probleme\nabc;xyz;-5;panne\n",
    "F11": b"lat;lon;" + b"h" * 1_000_000 + b"\n50.4108;4.4440;x\n",
    "F19": "lat\tlon\tdescription\n50.4108\t4.4440\tÉglise\n".encode("utf-16"),
}


def _upload(account, data: bytes, filename: str, **fields):  # noqa: ANN001, ANN003, ANN201
    return upload_file(account, data, filename, **{"network": "mobile", **fields})


def refused(area, account, db, data: bytes, code: str, *, filename: str = "a.csv",  # noqa: ANN001
            column_map: dict | None = None, **expected) -> dict:
    """Assert that the service and the API (preview and save) refuse the whole file with 422
    ``code`` and the members ``expected``, and that nothing is stored. Return the API's
    problem document."""
    with pytest.raises(GeosignalError) as info:
        read_upload(data, filename, area=area, column_map=column_map)
    err = info.value
    assert (err.status, err.code) == (422, code), err
    assert {k: err.extra[k] if k != "where" else err.where for k in expected} == expected, err.to_problem()
    before = _count(db)
    extra = {"column_map": json.dumps(column_map)} if column_map else {}
    problem = None
    for fields in ({"dry_run": "true", "mode": "all"}, {"mode": "all"}):
        response = _upload(account, data, filename, **fields, **extra)
        problem = response.get_json()
        assert (response.status_code, problem["code"]) == (422, code), problem
        assert response.mimetype == "application/problem+json"
        assert {k: problem[k] for k in expected} == expected
    assert _count(db) == before
    return problem


def accepted(area, account, db, data: bytes, n: int, *, filename: str = "a.csv",  # noqa: ANN001
             column_map: dict | None = None) -> list[ReportInput]:
    """Assert that the file gives ``n`` valid reports in the service, the same in the preview,
    and that the API saves ``n``; return the service's reports."""
    res = read_upload(data, filename, area=area, column_map=column_map)
    assert [type(r) for r in res] == [ReportInput] * n, [getattr(r, "code", None) for r in res]
    extra = {"column_map": json.dumps(column_map)} if column_map else {}
    preview = _upload(account, data, filename, dry_run="true", **extra)
    assert preview.status_code == 200 and [f["status"] for f in preview.get_json()["features"]] == ["accepted"] * n
    before = _count(db)
    response = _upload(account, data, filename, mode="all", **extra)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved"] == n and _count(db) == before + n
    return res


def _stored_descriptions(db) -> list[str | None]:  # noqa: ANN001
    return sorted(db.scalars(select(Report.description)))


# =========================================================================== F7: columns meaning the same thing

@pytest.mark.parametrize(("data", "column", "number", "first", "first_number", "name"), [
    (REPRO["F7a"], "Lat", 2, "lat", 1, "lat"),                                            # case
    (b"lat;latitude;lon\n50.4108;50.9;4.4440\n", "latitude", 2, "lat", 1, "lat"),         # alias
    (REPRO["F7b"], "households_affected", 4, "menages", 3, "households_affected"),        # FR / EN alias
    (REPRO["F7c"], "description", 4, "Description", 3, "description"),
    # other variants of the kind: accents, spacing, Dutch, dates, x/y, WKT
    (b"lat;lon;Op\xc3\xa9rateur;operateur\n50.4108;4.444;Orange;VOO\n", "operateur", 4, "Opérateur", 3,
     "operators"),
    (b"lat;lon;date;Date constat\n50.4108;4.444;01/02/2025;03/04/2025\n", "Date constat", 4, "date", 3,
     "observed_at"),
    (b"lat;lon;huishoudens;nb m\xc3\xa9nages\n50.4108;4.444;1;2\n", "nb ménages", 4, "huishoudens", 3,
     "households_affected"),
    (b"x;y;Easting\n155349;122215;155000\n", "Easting", 3, "x", 1, "x"),
    (b"wkt;geometry\nPOINT(4.444 50.4108);POINT(4.45 50.41)\n", "geometry", 2, "wkt", 1, "wkt"),
    (b"LONGITUDE;lat;lng\n4.444;50.4108;4.5\n", "lng", 3, "LONGITUDE", 1, "lon"),
    # invisible format characters (a BOM where files were joined, a zero-width space pasted):
    # the column was read for nothing (columns_ignored) and the other one won
    ("lat;lon;\ufeffdescription;description\n50.4108;4.444;a;b\n".encode(), "description", 4,
     "\ufeffdescription", 3, "description"),
    ("lat;lon;menages;m\u00e9\u200bnages\n50.4108;4.444;5;500\n".encode(), "m\u00e9\u200bnages", 4, "menages", 3,
     "households_affected"),
])
def test_columns_standing_for_the_same_thing_are_refused(area, admin, db, data, column, number, first,
                                                         first_number, name):
    problem = refused(area, admin, db, data, "duplicate_header", where="row 1", column=column, column_number=number,
                      first_column=first, first_column_number=first_number, name=name)
    assert repr(first) in problem["detail"] and repr(column) in problem["detail"]


def test_exact_duplicates_keep_their_shape(area, admin, db):
    # the existing refusal (same name twice) is unchanged, and comes first
    refused(area, admin, db, b"latitude;longitude;Latitude;latitude\n50,41;4,44;50,41;50,41\n", "duplicate_header",
            where="row 1", column="latitude", column_number=4, first_column_number=1)


def test_column_map_says_which_column_to_read(area, admin, db):
    # the column named by column_map is read; the other one standing for the same property is not
    (rep,) = accepted(area, admin, db, REPRO["F7b"], 1, column_map={"households_affected": "households_affected"})
    assert rep.properties["households_affected"] == 500 and rep.warnings == []
    (rep,) = accepted(area, admin, db, REPRO["F7b"], 1, column_map={"households_affected": "menages"})
    assert rep.properties["households_affected"] == 5
    (rep,) = accepted(area, admin, db, b"lat;Lat;lon\n50.9;50.4108;4.4440\n", 1, column_map={"lat": "Lat"})
    assert (rep.geometry.x, rep.geometry.y) == (4.444, 50.4108)
    (rep,) = accepted(area, admin, db, REPRO["F7c"], 1, column_map={"description": "description"})
    assert rep.properties["description"] == "B"
    # a column_map naming a column but for case, when two columns have that name but for case
    refused(area, admin, db, b"Lat;LAT;lon\n50.4108;50.9;4.444\n", "duplicate_header", column_map={"lat": "lat"},
            where="row 1", column="LAT", column_number=2, first_column="Lat", first_column_number=1, name="lat")


def test_other_formats_read_one_property_from_several_fields_only_when_they_agree(area):
    # GPX waypoints have both cmt and desc: <desc> is the description (GPX's own meaning), <cmt>
    # the fallback; a <cmt> that says something else is not kept, and a warning names it (never
    # dropped silently)
    gpx = (b'<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
           b'<wpt lat="50.4108" lon="4.4440"><cmt>%s</cmt><desc>Pas de 4G</desc></wpt></gpx>')
    (rep,) = read_upload(gpx % b"note", "t.gpx", area=area)
    assert rep.properties["description"] == "Pas de 4G"
    assert [(w["code"], w["name"], w["column"], w["value"]) for w in rep.warnings] == [
        ("attribute_dropped", "description", "cmt", "note")]
    (rep,) = read_upload(gpx % b"Pas de 4G", "t.gpx", area=area)
    assert rep.properties["description"] == "Pas de 4G" and rep.warnings == []
    (rep,) = read_upload(gpx % b"", "t.gpx", area=area)
    assert rep.properties["description"] == "Pas de 4G" and rep.warnings == []


# =========================================================================== F8: quotes left open

@pytest.mark.parametrize(("data", "row", "column", "number"), [
    (REPRO["F8a"], "row 2", "description", 3),                                     # LF, no final line end
    (REPRO["F8b"], "row 2", "description", 3),                                     # lone CR (Excel for Mac)
    (b'lat;lon;description\r\n50.4108;4.4440;"abc', "row 2", "description", 3),     # CRLF, at the end
    (b'lat;lon;description\r\n50.4108;4.4440;"abc\r\n50.41;4.44;x\r\n', "row 2", "description", 3),
    (b'lat;lon;description\r50.4108;4.4440;"abc', "row 2", "description", 3),       # CR, at the end
    (b'lat;lon;description\r50.41;4.44;a\r50.42;4.45;b\r"50.43;4.46;c\r50.44;4.47;d', "row 4", "lat", 1),
    (b'lat;lon;description\n50.41;4.44;a\n50.42;"4.45;b\n', "row 3", "lon", 2),
    (b'lat;lon;"description', "row 1", "column 3", 3),                               # the header itself
    (b'lat;lon;"description\r', "row 1", "column 3", 3),
])
def test_quote_left_open_whatever_ends_the_lines(area, admin, db, data, row, column, number):
    refused(area, admin, db, data, "unterminated_quote", where=row, column=column, column_number=number)


def test_quote_left_open_far_from_the_end_in_a_cr_file(area, admin, db):
    # long enough that the swallowed field is also too long: the open quote is still named
    data = b'lat;lon;description\r50.41;4.44;ok\r50.42;4.45;"Pas de r\xc3\xa9seau\r' + b"".join(
        b"50.4%d;4.45;suite %d\r" % (k % 10, k) for k in range(2000))
    refused(area, admin, db, data, "unterminated_quote", where="row 3", column="description", column_number=3)


def test_cr_only_files_are_read_as_rows(area, admin, db):
    data = b'lat;lon;description\r50.4108;4.4440;a\r50.4109;4.4441;"deux\rlignes"\r50.4110;4.4442;c\r'
    res = accepted(area, admin, db, data, 3)
    # the line end inside the quoted cell is stored as LF, as from every path
    assert [r.properties["description"] for r in res] == ["a", "deux\nlignes", "c"]
    assert _stored_descriptions(db) == ["a", "c", "deux\nlignes"]
    # the rows are numbered as a spreadsheet shows them
    bad = read_upload(b"lat;lon\r50.41;4.44\r50.42;abc\r50.43;4.46", "a.csv", area=area)
    assert [getattr(r, "where", None) for r in bad] == [None, "row 3", None]
    assert (bad.encoding, bad.delimiter) == ("utf-8", ";")


def test_closed_quotes_at_the_end_are_fine(area, admin, db):
    for data, expected in ((b'lat;lon;description\n50.4108;4.4440;"abc"', "abc"),
                           (b'lat;lon;description\r50.4108;4.4440;"a ""b"""\r', 'a "b"'),
                           (b'lat;lon;description\n50.4108;4.4440;ab"c', 'ab"c')):
        (rep,) = accepted(area, admin, db, data, 1)
        assert rep.properties["description"] == expected


@pytest.mark.parametrize(("data", "row", "column", "number", "value"), [
    (b'lat,lon,description\n50.41,4.44,ab"cd\n50.42,4.45,"x"y\n', "row 3", "description", 3, '"x"y'),
    (b'lat;lon;description\n50.41;4.44;"a"b"c"\n', "row 2", "description", 3, '"a"b"c"'),
    (b'lat;lon;description\r\n50.41;4.44;ok\r\n"50.42"4;4.45;b\r\n', "row 3", "lat", 1, '"50.42"4'),
    # counted as a spreadsheet counts rows: the quoted line end is inside row 2
    (b'lat;lon;description\n50.41;4.44;"a\nb"\n50.41;4.44;"a ""b"""\n50.4;4.4;"x" \n', "row 4", "description",
     3, '"x" '),
    (b'lat;lon;description\r50.41;4.44;"y"z;\r', "row 2", "description", 3, '"y"z'),     # lone CR
    (b'lat;lon;"desc"x\n50.41;4.44;a\n', "row 1", "column 3", 3, '"desc"x'),             # the header itself
    # a backslash is no escape in CSV: the quote after it closes the field
    (b'lat,lon,description\n50.43,4.46,"</b>\'\\"-alert(1)-\\""\n', "row 2", "description", 3,
     '"</b>\'\\"-alert(1)-\\""'),
])
def test_text_after_a_closing_quote_is_refused_not_merged(area, admin, db, data, row, column, number, value):
    # the csv module would read "x"y as xy and "a"b"c" as ab"c": the cell's meaning changes silently
    problem = refused(area, admin, db, data, "malformed_quote", where=row, column=column, column_number=number,
                      value=value)
    assert problem["status"] == 422 and f"row {row.split()[1]}" in problem["detail"]


# =========================================================================== F10: every fault of a row

def _faults(err: GeosignalError) -> list[tuple]:
    return [(e["code"], e.get("column")) for e in err.extra["errors"]]


def test_refused_row_names_every_fault(area, admin, db):
    (err,) = read_upload(REPRO["F10"], "a.csv", area=area)
    assert (err.code, err.where, err.extra["column"]) == ("invalid_coordinate", "row 2", "lat")
    assert _faults(err) == [("invalid_coordinate", "lat"), ("invalid_coordinate", "lon"),
                            ("invalid_attribute", "menages"), ("invalid_attribute", "probleme")]
    assert [e["detail"] for e in err.extra["errors"][:2]] == [
        "Column 'lat' holds 'abc', not a number.", "Column 'lon' holds 'xyz', not a number."]
    # the API shows the same list, in the preview and in the refused save; nothing is stored
    preview = _upload(admin, REPRO["F10"], "a.csv", dry_run="true").get_json()
    (feature,) = preview["features"]
    assert feature["status"] == "refused"
    assert [(e["code"], e.get("column")) for e in feature["error"]["errors"]] == _faults(err)
    before = _count(db)
    response = _upload(admin, REPRO["F10"], "a.csv", mode="all")
    assert (response.status_code, response.get_json()["code"]) == (422, "import_rejected")
    (feature,) = response.get_json()["features"]
    assert [(e["code"], e.get("column")) for e in feature["error"]["errors"]] == _faults(err)
    assert _count(db) == before


@pytest.mark.parametrize(("data", "code", "column", "faults"), [
    (b"lat;lon\nNaN;inf\n", "non_finite_number", "lat",
     [("non_finite_number", "lat"), ("non_finite_number", "lon")]),
    (b"lon;lat;menages\n#NUM!;abc;-1\n", "non_finite_number", "lon",
     [("non_finite_number", "lon"), ("invalid_coordinate", "lat"), ("invalid_attribute", "menages")]),
    (b"lat;lon;entreprises\n;x;-1\n", "invalid_coordinate", "lat",  # an empty one beside a bad one
     [("invalid_coordinate", "lat"), ("invalid_coordinate", "lon"), ("invalid_attribute", "entreprises")]),
    (b"lat;lon;menages\n50.41;;-3\n", "invalid_coordinate", "lon",
     [("invalid_coordinate", "lon"), ("invalid_attribute", "menages")]),
    (b"lat;lon;probleme\n;;panne\n", "empty_geometry", None, [("empty_geometry", None), ("invalid_attribute", "probleme")]),
    (b"x;y;menages\nabc;1e999;-3\n", "invalid_coordinate", "x",
     [("invalid_coordinate", "x"), ("non_finite_number", "y"), ("invalid_attribute", "menages")]),
    # a count that is not finite is refused too, listed after the coordinates' faults
    (b"lat;lon;menages;entreprises\nNaN;4.44;inf;-3\n", "non_finite_number", "lat",
     [("non_finite_number", "lat"), ("non_finite_number", "menages"), ("invalid_attribute", "entreprises")]),
    (b"lat;lon;menages;entreprises\n50.41;4.44;inf;-3\n", "non_finite_number", "menages",
     [("non_finite_number", "menages"), ("invalid_attribute", "entreprises")]),
    (b"wkt;menages;probleme\nPOLYGON((;-3;panne\n", "invalid_geometry", "wkt",
     [("invalid_geometry", "wkt"), ("invalid_attribute", "menages"), ("invalid_attribute", "probleme")]),
    # an empty WKT cell names its column (one column holds the geometry; lat/lon: two)
    (b"wkt;menages\n;-3\n", "empty_geometry", "wkt", [("empty_geometry", "wkt"), ("invalid_attribute", "menages")]),
])
def test_every_fault_of_a_row_together(area, admin, db, data, code, column, faults):
    (err,) = read_upload(data, "a.csv", area=area)
    assert (err.code, err.where, err.extra.get("column")) == (code, "row 2", column)
    assert _faults(err) == faults
    assert all(e["pointer"] == "row 2" for e in err.extra["errors"][:1])
    before = _count(db)
    for fields in ({"dry_run": "true"}, {"mode": "all"}):
        (feature,) = _upload(admin, data, "a.csv", **fields).get_json()["features"]
        assert (feature["error"]["code"], feature["error"]["where"]) == (code, "row 2")
        assert [(e["code"], e.get("column")) for e in feature["error"]["errors"]] == faults
    assert _count(db) == before


def test_a_single_fault_stays_as_it_was(area):
    # one fault and nothing else wrong: no errors list (as before); the good rows are unchanged
    ok, bad = read_upload(b"lat;lon;menages\n50.4108;4.444;3\n50.41;abc;4\n", "a.csv", area=area)
    assert ok.properties["households_affected"] == 3
    assert (bad.code, bad.where, bad.extra["column"], "errors" in bad.extra) == ("invalid_coordinate", "row 3", "lon",
                                                                                 False)


# =========================================================================== F11: over-long header cells

def test_huge_header_cell(app, area, admin, db):
    # 1 MB: a save of a file this size is a job (test_import_jobs); saved here in the request
    with configured(app, IMPORT_JOB_MIN_BYTES=2 * 1024 * 1024):
        problem = refused(area, admin, db, REPRO["F11"], "field_too_long", where="row 1", column_number=3,
                          value=1_000_000, limit=10_000)
    assert problem["column"] == "h" * 99 + "…" and len(problem["detail"]) < 200


@pytest.mark.parametrize(("data", "number", "length"), [
    (b"h" * 10_001 + b";lat;lon\nx;50.4108;4.4440\n", 1, 10_001),
    (b'lat;lon;"' + b"h" * 6_000 + b"\n" + b"h" * 6_000 + b'"\n50.4108;4.4440;x\n', 3, 12_001),  # quoted, 2 lines
    (b"lat\tlon\tdescription\t" + "é".encode() * 10_001 + b"\r\n50.4108\t4.4440\tx\t\r\n", 4, 10_001),
])
def test_over_long_header_cells(area, admin, db, data, number, length):
    refused(area, admin, db, data, "field_too_long", where="row 1", column_number=number, value=length, limit=10_000)


def test_header_cell_at_the_limit_is_read(area, admin, db):
    (rep,) = accepted(area, admin, db, b"lat;lon;" + b"h" * 10_000 + b"\n50.4108;4.4440;x\n", 1)
    assert rep.properties == {}


# =========================================================================== F19: UTF-16 and UTF-32 text

@pytest.mark.parametrize("filename", ["export.txt", "export.csv", "export.tsv"])
def test_excel_unicode_text(area, admin, db, filename):
    res = read_upload(REPRO["F19"], filename, area=area)
    assert (res.format, res.encoding, res.delimiter) == ("csv", "utf-16", "\t")
    (rep,) = accepted(area, admin, db, REPRO["F19"], 1, filename=filename)
    assert rep.properties["description"] == "Église" and (rep.geometry.x, rep.geometry.y) == (4.444, 50.4108)
    assert _stored_descriptions(db) == ["Église"]


@pytest.mark.parametrize(("text", "codec", "encoding", "delimiter"), [
    ("lat;lon;description\r\n50,4108;4,4440;Fontaine-l'Évêque\r\n", "utf-16-be", None, ";"),  # with a BOM
    ("lat\tlon\tdescription\n50.4108\t4.4440\tPont-à-Celles\n", "utf-16-le", "utf-16-le", "\t"),  # no BOM
    ("lat,lon,description\n50.4108,4.4440,Église\n", "utf-16-be", "utf-16-be", ","),
    ("lat;lon;description\r50.4108;4.4440;Église\r", "utf-32", "utf-32", ";"),  # and CR line ends
    ("lat;lon;description\n50.4108;4.4440;Église\n", "utf-32-le", "utf-32-le", ";"),
])
def test_utf16_and_utf32_variants(area, admin, db, text, codec, encoding, delimiter):
    data = text.encode(codec)
    if encoding is None:  # the BOM in the codec's byte order
        data, encoding = b"\xfe\xff" + data, "utf-16"
    res = read_upload(data, "releve.csv", area=area)
    assert (res.encoding, res.delimiter) == (encoding, delimiter)
    (rep,) = accepted(area, admin, db, data, 1, filename="releve.csv")
    assert rep.properties["description"] == text.split(delimiter)[-1].strip()


@pytest.mark.parametrize(("data", "where", "encoding", "offset"), [
    ("lat\tlon\n50.41\t4.44\n".encode("utf-16") + b"x", "row 3", "utf-16", 40),             # cut in a character
    (b"\xff\xfe" + "lat;lon\n".encode("utf-16-le") + b"\x00\xd8;\x00", "row 2", "utf-16", 18),  # lone surrogate
    (b"\xef\xbb\xbflat;lon\n50.41;4.44\n\xff;4\n", "row 3", "utf-8-sig", 22),  # a BOM says UTF-8: not cp1252
])
def test_text_not_in_its_declared_encoding(area, admin, db, data, where, encoding, offset):
    refused(area, admin, db, data, "unreadable_file", where=where, encoding=encoding, offset=offset)


def test_mark_only_is_empty(area, admin, db):
    for data in (b"\xff\xfe", "  \r\n".encode("utf-16")):
        refused(area, admin, db, data, "no_features")


def test_nul_in_a_utf8_file_is_not_taken_for_utf16(area):
    # one NUL in a UTF-8 file: still UTF-8, the NUL dropped with a warning as before
    (rep,) = read_upload(b"lat;lon;description\n50.4108;4.4440;a\x00b\n", "a.csv", area=area)
    assert "description" not in rep.properties and rep.warnings[0]["column"] == "description"


# =========================================================================== second round

def test_a_row_with_a_value_beyond_the_named_columns_is_refused_not_cut(area, admin, db):
    """An unquoted ';' inside a Belgian Excel text: the row has one cell more than the header
    names. Before, the text after it was silently lost ("Rue de la Gare")."""
    data = ("lat;lon;description\n50,4108;4,4440;Rue de la Gare; près de l'église\n"
            "50,4200;4,4300;Église\n").encode()
    (bad, good) = read_upload(data, "a.csv", area=area)
    assert isinstance(bad, GeosignalError)
    assert (bad.code, bad.where, bad.extra["column_number"]) == ("unreadable_file", "row 2", 4)
    assert isinstance(good, ReportInput) and good.properties["description"] == "Église"
    # trailing empty header names (";;" ending Excel's header) name no column either
    data = b"lat;lon;description;;\n50.4108;4.4440;x;hidden;\n50.4200;4.4300;y;;\n"
    (bad, good) = read_upload(data, "a.csv", area=area)
    assert (bad.code, bad.where, bad.extra["column_number"]) == ("unreadable_file", "row 2", 4)
    assert good.properties["description"] == "y"
    response = _upload(admin, data, "a.csv", mode="all")
    assert response.status_code == 422 and response.get_json()["code"] == "import_rejected"
    assert _count(db) == 0


@pytest.mark.parametrize("data", [
    "\ufeffsep=;\r\nlat;lon;description\r\n50,4108;4,4440;Église\r\n".encode(),
    "sep=;\r\nlat;lon;description\r\n50,4108;4,4440;Église\r\n".encode("cp1252"),
    b'"sep=|"\nlat|lon|description\n50.4108|4.4440|Eglise\n',
], ids=["utf8-bom", "cp1252", "quoted-pipe"])
def test_excel_separator_directive_is_honoured(area, data):
    (rep,) = read_upload(data, "a.csv", area=area)
    assert (rep.geometry.x, rep.geometry.y) == (4.444, 50.4108)
    assert rep.properties["description"] in ("Église", "Eglise")


def test_a_file_giving_each_position_twice_asks_which_to_read(area, admin, db):
    """lat/lon and a WKT column (a zone and its centre): which one is meant cannot be told;
    column_map says it, and then only that kind is read."""
    data = b'lat;lon;wkt\n50.4108;4.4440;"POLYGON((4.44 50.41,4.45 50.41,4.45 50.42,4.44 50.41))"\n'
    problem = refused(area, admin, db, data, "unreadable_file")
    assert problem["columns"] == ["lat", "lon", "wkt"]
    (zone,) = read_upload(data, "a.csv", area=area, column_map={"wkt": "wkt"})
    assert zone.geometry.geom_type == "Polygon"
    (point,) = read_upload(data, "a.csv", area=area, column_map={"lat": "lat"})  # the pair completed
    assert (point.geometry.x, point.geometry.y) == (4.444, 50.4108)
    with pytest.raises(GeosignalError) as info:
        read_upload(b"a;b\n50.41;4.44\n", "a.csv", area=area, column_map={"lat": "a", "lon": "a"})
    assert (info.value.code, info.value.where) == ("invalid_request", "column_map")


def test_column_map_with_a_key_twice_and_options_given_twice_are_refused(admin, db):
    data = b"a;b\n50.4108;4.4440\n"
    response = _upload(admin, data, "a.csv", column_map='{"lat":"a","lon":"b","lat":"b"}')
    assert response.status_code == 400
    assert (response.get_json()["code"], response.get_json()["where"]) == ("invalid_request", "column_map")
    response = admin.post("/api/v1/imports?dry_run=false", data={
        "file": (io.BytesIO(b"lat;lon\n50.4108;4.4440\n"), "a.csv"), "network": "mobile", "dry_run": "true"},
        content_type="multipart/form-data")
    assert (response.status_code, response.get_json()["where"]) == (400, "dry_run")
    response = admin.post("/api/v1/imports", data={
        "file": [(io.BytesIO(b"lat;lon\n50.4108;4.4440\n"), "a.csv"), (io.BytesIO(b"lat;lon\n50.42;4.43\n"), "b.csv")],
        "network": "mobile"}, content_type="multipart/form-data")
    assert (response.status_code, response.get_json()["where"]) == (400, "file")
    assert _count(db) == 0


def test_a_value_named_twice_in_a_file_list_is_dropped_with_a_warning(area):
    # the file rule for an attribute that fails validation: dropped with a warning naming it,
    # never deduplicated silently (the API refuses it: invalid_attribute)
    data = b"lat;lon;operateur;technologies\n50.41;4.444;Orange, Orange;4G\n50.41;4.445;Orange;4G/5G/4G\n"
    first, second = read_upload(data, "a.csv", area=area)
    assert "operators" not in first.properties and first.properties["technologies"] == ["4G"]
    assert [(w["code"], w["name"], w["column"], w["value"], w["error"]) for w in first.warnings] == \
        [("attribute_dropped", "operators", "operateur", ["Orange", "Orange"], "invalid_attribute")]
    assert first.warnings[0]["detail"] == \
        "operators was ignored: operators names 'Orange' twice (items 0 and 1); name each once."
    assert second.properties["operators"] == ["Orange"] and "technologies" not in second.properties
    assert [(w["name"], w["value"]) for w in second.warnings] == [("technologies", ["4G", "5G", "4G"])]


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf\xef\xbb\xbflat;lon;description\n50.41;4.444;\xc3\x89glise\n",          # two UTF-8 marks
    b"\xef\xbb\xbf" * 3 + b"lat;lon;description\n50.41;4.444;\xc3\x89glise\n",         # three
    "\ufeff\ufefflat\tlon\tdescription\n50.41\t4.444\tÉglise\n".encode("utf-16-le"),  # UTF-16, marked twice
    b"\xef\xbb\xbf\xef\xbb\xbfsep=;\nlat;lon;description\n50.41;4.444;\xc3\x89glise\n",  # then Excel's sep=
])
def test_repeated_byte_order_marks_are_no_text(area, admin, db, data):
    (rep,) = accepted(area, admin, db, data, 1)
    assert rep.properties["description"] == "Église"


def test_a_header_with_an_invisible_format_character_is_read(area, admin, db):
    # 'la\u200bt' and 'descr\u200biption' were no coordinate and a column read for nothing
    (rep,) = accepted(area, admin, db, "la\u200bt;lon;descr\u200biption;\u200eoperateur\n50.4108;4.444;ici;Orange\n"
                      .encode(), 1)
    assert (rep.properties["description"], rep.properties["operators"]) == ("ici", ["Orange"])
    assert (rep.geometry.x, rep.geometry.y) == (4.444, 50.4108)
