"""Hostile inputs across the upload formats (audit of the formats, F1…): each fault is checked
as a kind, in every format it concerns, through the intake service (:func:`read_upload`) and
through ``POST /api/v1/imports``: exact codes and locations, the values stored, the preview
and the save giving the same per-feature report, and nothing stored on a refusal.

Inputs are generated here, small.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from datetime import UTC, datetime

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import text

from geosignal.errors import GeosignalError
from geosignal.services.intake import ReportInput, read_upload
from tests.factories import count_reports, upload_file, zipped
from tests.test_hostile_containers import refused

#: Per-feature properties that differ between a preview and a save (set by the save).
_VOLATILE = ("reference", "reported_at", "updated_at", "revision")


def _comparable(features: list[dict]) -> list[dict]:
    out = []
    for f in features:
        f = {k: v for k, v in f.items() if k not in ("report_id", "created")}
        if f.get("properties"):
            f["properties"] = {k: v for k, v in f["properties"].items() if k not in _VOLATILE}
        out.append(f)
    return out


def preview_and_save(account, db, data: bytes, filename: str, *, mode: str = "valid_only",  # noqa: ANN001
                     saved: int | None = None, **fields) -> tuple[dict, list[dict]]:
    """Preview then save ``data`` (``mode``); assert that both give the same per-feature
    report and that the save stores the accepted features (``saved`` of them when given).
    Returns the preview's body and the stored rows (file order)."""
    fields = {"network": "mobile", **fields}
    before = db.scalar(text("SELECT coalesce(max(seq), 0) FROM reports"))
    preview = upload_file(account, data, filename, dry_run="1", mode=mode, **fields)
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    save = upload_file(account, data, filename, mode=mode, **fields)
    assert save.status_code in (201, 422), save.get_json()
    stored_body = save.get_json()
    assert _comparable(stored_body["features"]) == _comparable(body["features"])
    rows = [dict(r) for r in db.execute(text(
        "SELECT description, observed_at, households_affected, businesses_affected, technologies, "
        "ST_AsText(geometry) AS wkt, ST_Area(ST_Transform(geometry, 31370)) AS area_m2 "
        "FROM reports WHERE seq > :seq ORDER BY seq"), {"seq": before}).mappings()]
    assert len(rows) == stored_body["saved"] == (body["accepted"] if save.status_code == 201 else 0)
    if saved is not None:
        assert len(rows) == saved
    return body, rows


def _warning(feature: dict, code: str = "attribute_dropped") -> dict:
    found = [w for w in feature["warnings"] if w["code"] == code]
    assert len(found) == 1, feature["warnings"]
    return found[0]


# =========================================================================== F1: naive times

def _kml_times(*whens: str) -> bytes:
    marks = "".join(f"<Placemark><name>p{k}</name><TimeStamp><when>{w}</when></TimeStamp><Point><coordinates>"
                    f"{4.444 + 0.001 * k:.3f},50.41</coordinates></Point></Placemark>" for k, w in enumerate(whens))
    return (b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            + marks.encode() + b"</Document></kml>")


def _gpx_times(*times: str) -> bytes:
    points = "".join(f'<wpt lat="50.41" lon="{4.444 + 0.001 * k:.3f}"><name>p{k}</name><time>{t}</time></wpt>'
                     for k, t in enumerate(times))
    return (b'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" '
            b'xmlns="http://www.topografix.com/GPX/1/1">' + points.encode() + b"</gpx>")


def _gpkg_without_triggers(gdf: gpd.GeoDataFrame, path) -> sqlite3.Connection:  # noqa: ANN001
    """Write ``gdf`` as the layer ``zones`` of a GeoPackage at ``path`` and open it in SQLite
    with GDAL's triggers dropped: rows are then written as another tool would."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gdf.to_file(path, driver="GPKG", layer="zones")
    con = sqlite3.connect(path)
    for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{trigger}"')
    return con


def _gpkg_times(tmp_path, *values: str) -> bytes:  # noqa: ANN001
    """A GeoPackage whose DATETIME column ``date_constat`` holds ``values`` as written."""
    path = tmp_path / "times.gpkg"
    n = len(values)
    gdf = gpd.GeoDataFrame({"description": [f"p{k}" for k in range(n)],
                            "date_constat": [datetime(2025, 1, 1, tzinfo=UTC)] * n},
                           geometry=[Point(4.444 + 0.001 * k, 50.41) for k in range(n)], crs=4326)
    con = _gpkg_without_triggers(gdf, path)
    for fid, value in enumerate(values, start=1):
        con.execute("UPDATE zones SET date_constat = ? WHERE fid = ?", (value, fid))
    con.commit()
    con.close()
    return path.read_bytes()


#: (the file's other rows, as written) — an aware row before, after, none: the naive rows mean the same
_COMPANIONS = [(), ("2025-06-01T12:00:00Z",), ("2025-06-01T12:00:00+02:00",)]


@pytest.mark.parametrize("companions", _COMPANIONS)
@pytest.mark.parametrize(("fmt", "column"), [("kml", "timestamp"), ("gpkg", "date_constat")])
def test_naive_time_is_brussels_whatever_the_other_rows(area, admin, db, tmp_path, fmt, column, companions):
    # F1: a naive time was read as UTC as soon as another row had Z or an offset, and a time in
    # the DST gap or overlap was then stored; now each value is read alone (Brussels wall time)
    naive = ("2025-06-01T12:00:00", "2025-03-30T02:30:00", "2025-10-26T02:30:00")
    values = (*naive, *companions)
    data = _kml_times(*values) if fmt == "kml" else _gpkg_times(tmp_path, *values)
    body, rows = preview_and_save(admin, db, data, f"times.{fmt}", saved=len(values))
    features = body["features"]
    assert features[0]["properties"]["observed_at"] == "2025-06-01T12:00:00+02:00"
    assert rows[0]["observed_at"] == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    for k, kind in ((1, "does not exist"), (2, "occurs twice")):
        warning = _warning(features[k])
        assert (warning["error"], warning["name"], warning["column"], warning["value"]) == (
            "ambiguous_local_time", "observed_at", column, naive[k])
        assert kind in warning["detail"]
        assert features[k]["properties"]["observed_at"] is None and rows[k]["observed_at"] is None
    for k in range(3, len(values)):  # the aware rows keep their instant
        assert rows[k]["observed_at"] == datetime(2025, 6, 1, 12 if values[k].endswith("Z") else 10, tzinfo=UTC)
        assert features[k]["warnings"] == []


@pytest.mark.parametrize("companions", _COMPANIONS)
def test_gpx_time_without_zone_is_utc(area, admin, db, companions):
    # F1: GPX 1.0/1.1 define <time> as UTC: a time written without Z is UTC, whatever the other
    # points hold (no DST gap in UTC: 02:30 on the day clocks jump forward exists)
    values = ("2025-06-01T12:00:00", "2025-03-30T02:30:00", "2025-10-26T02:30:00.500", *companions)
    body, rows = preview_and_save(admin, db, _gpx_times(*values), "trace.gpx", saved=len(values))
    assert [r["observed_at"] for r in rows[:3]] == [
        datetime(2025, 6, 1, 12, 0, tzinfo=UTC), datetime(2025, 3, 30, 2, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 2, 30, 0, 500000, tzinfo=UTC)]
    assert [f["warnings"] for f in body["features"]] == [[]] * len(values)
    if companions:
        assert rows[3]["observed_at"] == datetime(2025, 6, 1, 12 if companions[0].endswith("Z") else 10, tzinfo=UTC)



@pytest.mark.parametrize(("written", "detail"), [
    ("garbage", "'garbage' is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])."),
    ("2025-13-01T00:00:00Z", "'2025-13-01T00:00:00Z' is not a valid ISO 8601 date-time."),
    ("30/03/2025", "'30/03/2025' is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])."),
    ("٢٠٢٥-٠٦-٠١T12:00:00Z", "'٢٠٢٥-٠٦-٠١T12:00:00Z' is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])."),
])
def test_gpx_time_gdal_cannot_read_is_dropped_with_a_warning(area, admin, db, written, detail):
    # GDAL nulls a <time> it cannot read, without a word: the raw text is read, and set aside
    # with the warning KML and CSV give, carrying the value as written; the waypoint is kept
    data = _gpx_times(written, "2025-06-01T12:00:00Z")
    first, second = read_upload(data, "a.gpx", area=area)
    assert "observed_at" not in first.properties
    assert second.properties["observed_at"] == datetime(2025, 6, 1, 12, tzinfo=UTC) and second.warnings == []
    (warning,) = first.warnings
    assert warning == {"code": "attribute_dropped", "name": "observed_at", "column": "time", "value": written,
                       "error": "invalid_datetime", "detail": f"observed_at was ignored: {detail}"}
    body, rows = preview_and_save(admin, db, data, "a.gpx", saved=2)
    assert [[(w["code"], w["value"]) for w in f["warnings"]] for f in body["features"]] == \
        [[("attribute_dropped", written)], []]
    assert [r["observed_at"] for r in rows] == [None, datetime(2025, 6, 1, 12, tzinfo=UTC)]

def test_naive_times_read_by_the_service_never_depend_on_other_rows(area, tmp_path):
    # the same naive row, alone or next to an aware one, gives the same instant or warning
    for build, column in ((_kml_times, "timestamp"), (_gpx_times, "time"),
                          (lambda *v: _gpkg_times(tmp_path, *v), "date_constat")):
        fmt = {"timestamp": "kml", "time": "gpx", "date_constat": "gpkg"}[column]
        alone = read_upload(build("2025-03-30T02:30:00"), f"a.{fmt}", area=area)
        mixed = read_upload(build("2025-03-30T02:30:00", "2025-06-01T12:00:00Z"), f"a.{fmt}", area=area)
        assert isinstance(alone[0], ReportInput) and isinstance(mixed[0], ReportInput)
        assert alone[0].properties.get("observed_at") == mixed[0].properties.get("observed_at")
        assert alone[0].warnings == mixed[0].warnings


# =========================================================================== F2: dBase numbers

def raw_shapefile(fields: list[tuple[str, str, int, int]], records: list[list[str]], *,
                  points: list[tuple[float, float]] | None = None, deleted: frozenset[int] = frozenset(),
                  cpg: bytes | None = b"UTF-8") -> dict[str, bytes]:
    """The members of a point Shapefile written byte by byte: ``fields`` as (name, dBase type,
    length, decimals), ``records`` the values as written in the ``.dbf`` (right-aligned),
    ``deleted`` the 0-based records flagged deleted."""
    import struct

    n = len(records)
    points = points or [(4.444 + 0.001 * k, 50.41) for k in range(n)]
    shapes = [struct.pack("<idd", 1, x, y) for x, y in points]

    def header(size: int) -> bytes:
        return (struct.pack(">i", 9994) + b"\0" * 20 + struct.pack(">i", size // 2) + struct.pack("<ii", 1000, 1)
                + struct.pack("<8d", 4, 50, 5, 51, 0, 0, 0, 0))

    shp = b"".join(struct.pack(">ii", k + 1, 10) + s for k, s in enumerate(shapes))
    shx = b"".join(struct.pack(">ii", (100 + 28 * k) // 2, 10) for k in range(n))
    record_length = 1 + sum(f[2] for f in fields)
    dbf = struct.pack("<BBBBIHH", 3, 124, 1, 1, n, 32 * (len(fields) + 1) + 1, record_length) + b"\0" * 20
    for name, kind, length, decimals in fields:
        dbf += name.encode().ljust(11, b"\0") + kind.encode() + b"\0" * 4 + bytes([length, decimals]) + b"\0" * 14
    dbf += b"\r"
    for k, values in enumerate(records):
        dbf += b"*" if k in deleted else b" "
        for (_, kind, length, _), value in zip(fields, values, strict=True):
            raw = value.encode()
            dbf += raw.rjust(length) if kind in "NF" else raw.ljust(length)
    dbf += b"\x1a"
    parts = {".shp": header(100 + len(shp)) + shp, ".shx": header(100 + len(shx)) + shx, ".dbf": dbf}
    if cpg is not None:
        parts[".cpg"] = cpg
    return parts


def shapefile_members(parts: dict[str, bytes], stem: str = "zones") -> bytes:
    return zipped(*[(f"{stem}{ext}", data) for ext, data in parts.items()])


#: (as written in the .dbf, what GDAL made of it, the fault named)
_DBF_COUNTS = [("abc", 0, "whole number"), ("1.000", 1, "ambiguous"),
               ("2,500", 2, "ambiguous"), ("12.7", 12, "whole number"), ("1e3", 1, "whole number"),
               ("-3", -3, "whole number")]  # ('*****', GDAL's NULL, is no value: test_upload_real_tools)


@pytest.mark.parametrize("kind", [("N", 10, 0), ("N", 10, 2), ("F", 12, 3)], ids=["N10.0", "N10.2", "F12.3"])
def test_dbf_numbers_reach_the_count_rules_as_written(area, admin, db, kind):
    # F2: GDAL read the N field with atoi/atof (nan → 0, 1.000 → 1, 2,500 → 2, 12.7 → 12, 1e3 → 1)
    # and the numbers were stored as counts nobody wrote; now each is read as written
    fields = [("households", *kind), ("businesses", *kind), ("descr", "C", 20, 0)]
    records = [[written, "4", f"row {k}"] for k, (written, _, _) in enumerate(_DBF_COUNTS)]
    data = shapefile_members(raw_shapefile(fields, records))
    body, rows = preview_and_save(admin, db, data, "zones.zip", saved=len(records),
                                  column_map='{"description": "descr"}')
    for k, (written, _, fault) in enumerate(_DBF_COUNTS):
        feature = body["features"][k]
        warning = _warning(feature)
        assert (warning["name"], warning["column"], warning["value"], warning["error"]) == (
            "households_affected", "households", written, "invalid_attribute"), warning
        assert fault in warning["detail"]
        assert rows[k]["households_affected"] is None and rows[k]["businesses_affected"] == 4
        assert rows[k]["description"] == f"row {k}"


@pytest.mark.parametrize("kind", [("N", 10, 0), ("F", 12, 3)], ids=["N10.0", "F12.3"])
@pytest.mark.parametrize("written", ["nan", "-inf", "1e999"])
def test_dbf_count_that_is_not_finite_refuses_its_record(area, admin, db, kind, written):
    # GDAL read nan as 0; a number that is not finite refuses the record (non_finite_number, as a
    # JSON NaN and a CSV cell), not dropped with a warning: preview and save agree, nothing stored
    fields = [("households", *kind), ("descr", "C", 20, 0)]
    data = shapefile_members(raw_shapefile(fields, [["3", "ok"], [written, "bad"]]))
    body, rows = preview_and_save(admin, db, data, "zones.zip", saved=1, column_map='{"description": "descr"}')
    refused = body["features"][1]
    assert (refused["status"], refused["error"]["code"], refused["error"]["where"], refused["error"]["column"],
            refused["error"]["name"], refused["error"]["value"], refused["error"]["kind"]) == (
        "refused", "non_finite_number", "feature 1", "households", "households_affected", written, "value")
    assert [(r["description"], r["households_affected"]) for r in rows] == [("ok", 3)]


@pytest.mark.parametrize(("written", "kind", "count"), [
    ("12", ("N", 10, 0), 12), ("0", ("N", 5, 0), 0), ("12.00", ("N", 10, 2), 12), ("1000000", ("N", 10, 0), 1_000_000),
    ("", ("N", 10, 0), None), ("3.0", ("F", 8, 1), 3)])
def test_dbf_clean_numbers_are_read_exactly(area, admin, db, written, kind, count):
    data = shapefile_members(raw_shapefile([("menages", *kind)], [[written]]))
    body, rows = preview_and_save(admin, db, data, "zones.zip", saved=1)
    assert rows[0]["households_affected"] == count
    assert body["features"][0]["warnings"] == []


def test_dbf_numbers_stay_with_their_record_past_a_deleted_one(area, admin, db):
    # a record flagged deleted is not read by GDAL: the numbers as written follow the feature ids
    data = shapefile_members(raw_shapefile([("menages", "N", 10, 0)], [["1"], ["2"], ["3"]],
                                           deleted=frozenset({1})))
    res = read_upload(data, "zones.zip", area=area)
    assert [r.properties.get("households_affected") for r in res] == [1, 3]
    _, rows = preview_and_save(admin, db, data, "zones.zip", saved=2)
    assert [r["households_affected"] for r in rows] == [1, 3]


# =========================================================================== F3: CSV mixing encodings

_UTF8_ROW = "50,4108;4,4440;Pas de réseau rue de l'Église\r\n"
_CP1252_ROW = "50,4109;4,4441;\"Aucun; réseau\";Château – cœur\r\n"


@pytest.mark.parametrize(("rows", "bad_row", "utf8_row", "column", "prefix"), [
    ([("utf-8", _UTF8_ROW), ("cp1252", _CP1252_ROW)], 3, 2, "description", ""),
    ([("cp1252", _CP1252_ROW), ("utf-8", _UTF8_ROW)], 2, 3, "description", ""),
    ([("utf-8", _UTF8_ROW), ("utf-8", _UTF8_ROW), ("cp1252", "50,41;4,444;ok;Marcinelle–Haies\r\n")], 4, 2,
     "lieu", ""),
    ([("utf-8", _UTF8_ROW), ("cp1252", _CP1252_ROW)], 3, 2, "description", "sep=;\r\n"),
])
def test_csv_mixing_utf8_and_windows_1252_is_refused(area, admin, db, rows, bad_row, utf8_row, column, prefix):
    # F3: the whole file was decoded as Windows-1252 and every UTF-8 accent stored as mojibake
    data = (prefix + "lat;lon;description;lieu\r\n").encode() + b"".join(t.encode(c) for c, t in rows)
    err = refused(area, admin, db, data, "releve.csv", "unreadable_file")
    assert (err.where, err.extra["column"], err.extra["utf8_row"]) == (f"row {bad_row}", column, utf8_row)
    assert err.extra["offset"] == data.index(next(t.encode(c) for c, t in rows if c == "cp1252")) + (
        _CP1252_ROW.index("Aucun; r") + 8 if column == "description" else len("50,41;4,444;ok;Marcinelle"))


@pytest.mark.parametrize("ends", ["\r\n", "\r"])
def test_csv_wholly_windows_1252_or_utf8_is_still_read_exactly(area, admin, db, ends):
    for k, codec in enumerate(("cp1252", "utf-8")):
        text = f"lat;lon;description{ends}50,41{k}8;4,4440;Église – cœur{ends}50,41{k}9;4,4441;Pas de réseau{ends}"
        _, rows = preview_and_save(admin, db, text.encode(codec), "releve.csv", saved=2)
        assert [r["description"] for r in rows] == ["Église – cœur", "Pas de réseau"]


# =========================================================================== F4: Shapefile and KML in one zip

_SIDE_KML = (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
             b"<name>L\xc3\xa9gende</name><Point><coordinates>4.444,50.41</coordinates></Point></Placemark></Document>"
             b"</kml>")


@pytest.mark.parametrize(("kml_name", "shp_folder", "filename"), [
    ("apercu.kml", "", "zones.zip"), ("doc.kml", "", "zones.kmz"), ("legende/apercu.KML", "data/", "zones.zip"),
    ("doc.kml", "couches/", "zones.zip")])
def test_zip_with_a_shapefile_and_kml_asks_which(area, admin, db, kml_name, shp_folder, filename):
    # F4: it was read as a KMZ, the Shapefile's zones dropped without a word
    parts = raw_shapefile([("descr", "C", 10, 0)], [["zone 1"], ["zone 2"]])
    data = zipped(*[(f"{shp_folder}zones{ext}", b) for ext, b in parts.items()], (kml_name, _SIDE_KML))
    err = refused(area, admin, db, data, filename, "unreadable_file")
    assert (err.extra["shapefiles"], err.extra["kml_members"]) == ([f"{shp_folder}zones.shp"], [kml_name])
    assert err.where is None


def test_zip_with_only_one_kind_is_read_as_before(area, admin, db):
    parts = raw_shapefile([("descr", "C", 10, 0)], [["zone 1"], ["zone 2"]])
    shp = zipped(*[(f"zones{ext}", b) for ext, b in parts.items()], ("__MACOSX/._apercu.kml", b"junk"))
    assert read_upload(shp, "zones.zip", area=area).format == "shapefile"
    assert read_upload(zipped(("apercu.kml", _SIDE_KML)), "zones.zip", area=area).format == "kmz"


# =========================================================================== F5: WKT2 .prj

def _square_shapefile(tmp_path, epsg: int, prj: str) -> bytes:  # noqa: ANN001
    """A zipped Shapefile of one 1 km² square in Charleroi written in ``epsg``, its .prj ``prj``."""
    from tests.factories import square_lambert

    square = gpd.GeoSeries([square_lambert(155000, 122000, 1000)], crs=31370).to_crs(epsg)
    folder = tmp_path / f"prj-{epsg}"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gpd.GeoDataFrame({"descr": ["carré"]}, geometry=square, crs=epsg).to_file(folder / "z.shp")
    (folder / "z.prj").write_text(prj)
    return zipped(*[(p.name, p.read_bytes()) for p in sorted(folder.iterdir())])


@pytest.mark.parametrize("version", ["WKT2_2015", "WKT2_2019", "WKT2_2019_SIMPLIFIED", "WKT1_ESRI", "WKT1_GDAL"])
@pytest.mark.parametrize("epsg", [31370, 3812])
def test_prj_in_wkt2_is_read_as_declared(area, admin, db, tmp_path, epsg, version):
    # F5: GDAL ignored a WKT2 .prj and read the Lambert coordinates as WGS 84 (refused as
    # outside the area with "send crs=EPSG:31370", or a BD72 point stored 109 m off)
    from pyproj import CRS

    data = _square_shapefile(tmp_path, epsg, CRS.from_epsg(epsg).to_wkt(version))
    _, rows = preview_and_save(admin, db, data, "z.zip", saved=1)
    assert rows[0]["area_m2"] == pytest.approx(1_000_000, abs=1)


@pytest.mark.parametrize("version", ["WKT2_2015", "WKT2_2019", "WKT1_ESRI"])
def test_prj_in_wkt2_declaring_an_unaccepted_crs_is_refused(area, admin, db, tmp_path, version):
    # the same .prj in WKT1 was refused; in WKT2 it was taken for WGS 84
    from pyproj import CRS

    data = _square_shapefile(tmp_path, 4313, CRS.from_epsg(4313).to_wkt(version))
    err = refused(area, admin, db, data, "z.zip", "unsupported_crs")
    assert err.where == "layer z" and "4313" in err.detail


def test_prj_in_wkt2_disagreeing_with_the_request_crs_is_refused(area, admin, db, tmp_path):
    from pyproj import CRS

    data = _square_shapefile(tmp_path, 3812, CRS.from_epsg(3812).to_wkt("WKT2_2019"))
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "z.zip", area=area, crs="EPSG:31370")
    assert (info.value.code, info.value.where) == ("unsupported_crs", "layer z")
    response = upload_file(admin, data, "z.zip", network="mobile", crs="EPSG:31370", dry_run="1")
    assert (response.status_code, response.get_json()["code"]) == (422, "unsupported_crs")


# =========================================================================== F6: Shapefile hole outside its shell

def raw_polygon_shapefile(records: list[list[list[tuple[float, float]]]]) -> dict[str, bytes]:
    """The members of a polygon Shapefile written byte by byte, one record per list of rings
    (each ring as written: orientation kept), one C field ``desc``."""
    import struct

    bodies = []
    for rings in records:
        points = [p for ring in rings for p in ring]
        starts = [sum(len(r) for r in rings[:k]) for k in range(len(rings))]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        bodies.append(struct.pack("<i4d2i", 5, min(xs), min(ys), max(xs), max(ys), len(rings), len(points))
                      + struct.pack(f"<{len(rings)}i", *starts) + b"".join(struct.pack("<2d", *p) for p in points))

    def header(size: int) -> bytes:
        return (struct.pack(">i", 9994) + b"\0" * 20 + struct.pack(">i", size // 2) + struct.pack("<ii", 1000, 5)
                + struct.pack("<8d", 4, 50, 5, 51, 0, 0, 0, 0))

    shp, shx, pos = b"", b"", 100
    for k, body in enumerate(bodies):
        shx += struct.pack(">ii", pos // 2, len(body) // 2)
        shp += struct.pack(">ii", k + 1, len(body) // 2) + body
        pos += 8 + len(body)
    parts = raw_shapefile([("desc", "C", 10, 0)], [[f"zone {k}"] for k in range(len(records))])
    parts.update({".shp": header(100 + len(shp)) + shp, ".shx": header(100 + len(shx)) + shx})
    return parts


def _ring(x0: float, y0: float, x1: float, y1: float, *, clockwise: bool) -> list[tuple[float, float]]:
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return ring[::-1] if clockwise else ring


_SHELL = _ring(4.43, 50.40, 4.45, 50.42, clockwise=True)


@pytest.mark.parametrize(("rings", "location"), [
    ([_SHELL, _ring(4.46, 50.40, 4.47, 50.41, clockwise=False)], [4.46, 50.4]),
    ([_SHELL, _ring(4.435, 50.405, 4.44, 50.41, clockwise=False), _ring(4.46, 50.40, 4.47, 50.41, clockwise=False)],
     [4.46, 50.4]),
    ([_SHELL, _ring(4.48, 50.40, 4.49, 50.41, clockwise=True), _ring(4.44, 50.43, 4.445, 50.435, clockwise=False)],
     [4.44, 50.43]),
])
def test_shapefile_hole_outside_its_shell_is_refused_as_elsewhere(area, admin, db, rings, location):
    # F6: GDAL made the misplaced hole a zone of its own (a MultiPolygon of 3.95 km²); GeoJSON,
    # GeoPackage, KML and CSV refuse it with invalid_geometry "Hole lies outside shell"
    ok = [_ring(4.44, 50.405, 4.448, 50.411, clockwise=True)]
    data = shapefile_members(raw_polygon_shapefile([ok, rings]))
    body, rows = preview_and_save(admin, db, data, "zones.zip", saved=1)
    error = body["features"][1]["error"]
    assert (error["code"], error["where"], error["index"], error["layer"]) == ("invalid_geometry", "feature 1", 1,
                                                                                "zones")
    assert error["location"] == location and error["reason"].startswith("Hole lies outside shell")
    assert body["features"][0]["status"] == "accepted" and rows[0]["description"] == "zone 0"
    before = count_reports(db)
    response = upload_file(admin, data, "zones.zip", network="mobile", mode="all")
    assert response.status_code == 422 and count_reports(db) == before


def test_shapefile_holes_inside_their_shell_are_read_as_before(area):
    inner = _ring(4.435, 50.405, 4.44, 50.41, clockwise=False)
    second = _ring(4.46, 50.40, 4.47, 50.41, clockwise=True)
    hole_in_second = _ring(4.462, 50.402, 4.465, 50.405, clockwise=False)
    data = shapefile_members(raw_polygon_shapefile([[_SHELL, inner], [_SHELL, second, hole_in_second]]))
    res = read_upload(data, "zones.zip", area=area)
    assert [r.geometry.geom_type for r in res] == ["Polygon", "MultiPolygon"]
    assert [len(g.interiors) for g in (res[0].geometry, *res[1].geometry.geoms)] == [1, 0, 1]


# =========================================================================== F8: dBase names cut to 10 bytes

@pytest.mark.parametrize(("names", "expected"), [
    (("descriptio", "technologi", "observed_a", "entreprise", "households"),
     {"description": "Pas de 4G", "technologies": ["4G"], "households_affected": 12, "businesses_affected": 3}),
    (("commentair", "technologi", "date_const", "nb_entrepr", "menages_to"),
     {"description": "Pas de 4G", "technologies": ["4G"], "households_affected": 12, "businesses_affected": 3}),
    (("omschrijvi", "technologi", "date_obser", "ondernemin", "huishouden"),
     {"description": "Pas de 4G", "technologies": ["4G"], "households_affected": 12, "businesses_affected": 3}),
])
def test_shapefile_field_names_cut_to_ten_characters_are_read(area, admin, db, names, expected):
    # F8: QGIS/GDAL cut field names to 10 bytes; these columns were dropped without a word
    fields = [(names[0], "C", 40, 0), (names[1], "C", 10, 0), (names[2], "C", 10, 0), (names[3], "N", 5, 0),
              (names[4], "N", 5, 0)]
    data = shapefile_members(raw_shapefile(fields, [["Pas de 4G", "4G", "2025-06-01", "3", "12"]]))
    body, rows = preview_and_save(admin, db, data, "zones.zip", saved=1)
    props = body["features"][0]["properties"]
    assert {k: props[k] for k in expected} == expected
    assert props["observed_at"] == "2025-06-01T00:00:00+02:00"
    assert rows[0]["observed_at"] == datetime(2025, 5, 31, 22, tzinfo=UTC)
    assert (rows[0]["households_affected"], rows[0]["businesses_affected"]) == (12, 3)


def test_ten_character_prefixes_are_only_matched_in_dbase_names(area):
    from geosignal.services.intake.properties import match_header

    assert match_header("descriptio", truncated=True) == "description"
    assert match_header("descriptio") is None  # a CSV or GeoJSON header is read whole
    assert match_header("desc", truncated=True) == "description"  # an alias itself
    assert match_header("techno_mob", truncated=True) is None  # begins no alias
    assert match_header("descrip", truncated=True) is None  # too short to be a cut name


# =========================================================================== GeoPackage: stale cached count

def _gpkg_rows(tmp_path, points: list[tuple[float, float]], *, cached: int = 1) -> bytes:  # noqa: ANN001
    """A GeoPackage layer ``zones`` whose rows hold ``points`` (written as stored, bypassing
    GDAL: NaN and infinite coordinates kept), and whose ``gpkg_ogr_contents.feature_count``
    says ``cached`` — as a tool writing rows without GDAL's triggers leaves it."""
    import struct

    path = tmp_path / "stale.gpkg"
    gdf = gpd.GeoDataFrame({"description": ["p0"], "households_affected": [0]}, geometry=[Point(4.444, 50.41)],
                           crs=4326)
    con = _gpkg_without_triggers(gdf, path)
    con.execute("DELETE FROM zones")
    for k, (x, y) in enumerate(points):
        blob = b"GP\x00\x01" + struct.pack("<i", 4326) + b"\x01" + struct.pack("<I2d", 1, x, y)
        con.execute("INSERT INTO zones (fid, geom, description, households_affected) VALUES (?, ?, ?, ?)",
                    (k + 1, blob, f"p{k}", k))
    con.execute("UPDATE gpkg_ogr_contents SET feature_count = ?", (cached,))
    con.commit()
    assert con.execute("SELECT feature_count FROM gpkg_ogr_contents").fetchone() == (cached,)
    con.close()
    return path.read_bytes()


def test_gpkg_rows_past_a_stale_cached_count_are_read(area, admin, db, tmp_path):
    # trial-a 1: 3 rows, feature_count 1 → "accepted=1", two rows silently lost on save
    data = _gpkg_rows(tmp_path, [(4.440, 50.41), (4.442, 50.41), (4.444, 50.41)], cached=1)
    res = read_upload(data, "z.gpkg", area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [(r.source_index, r.properties["description"], r.properties["households_affected"]) for r in res] == [
        (0, "p0", 0), (1, "p1", 1), (2, "p2", 2)]
    body, rows = preview_and_save(admin, db, data, "z.gpkg", saved=3)
    assert (body["accepted"], body["refused"]) == (3, 0)
    assert [r["wkt"] for r in rows] == ["POINT(4.44 50.41)", "POINT(4.442 50.41)", "POINT(4.444 50.41)"]
    # a count too high reads the rows there are, no more
    res = read_upload(_gpkg_rows(tmp_path, [(4.440, 50.41), (4.442, 50.41)], cached=9), "z.gpkg", area=area)
    assert [r.properties["description"] for r in res] == ["p0", "p1"]


def test_gpkg_nan_and_infinite_rows_past_a_stale_count_are_each_refused(area, admin, db, tmp_path):
    # trial-a 1 (26-nan.gpkg): only the NaN row was reported, the Inf row disappeared
    data = _gpkg_rows(tmp_path, [(float("nan"), 50.41), (4.44, float("inf")), (4.444, 50.41)], cached=1)
    res = read_upload(data, "z.gpkg", area=area)
    assert [type(r) for r in res] == [GeosignalError, GeosignalError, ReportInput]
    assert [(e.code, e.where, e.extra["index"], e.extra["pointer"], e.extra["layer"]) for e in res[:2]] == [
        ("non_finite_number", "feature 0", 0, "/geometry/coordinates/0", "zones"),
        ("non_finite_number", "feature 1", 1, "/geometry/coordinates/1", "zones")]
    body, _ = preview_and_save(admin, db, data, "z.gpkg", saved=1)
    assert [(f["status"], (f.get("error") or {}).get("code")) for f in body["features"]] == [
        ("refused", "non_finite_number"), ("refused", "non_finite_number"), ("accepted", None)]

# =========================================================================== digits other than 0-9

#: Counts written with digits other than ASCII 0-9 (fullwidth, Arabic-Indic, superscript) or
#: an underscore: Python's int() reads "０１２" as 12 and "٣" as 3; forms and queries refuse
#: them (formparse), files drop them with a warning, as any count they cannot read.
_OTHER_DIGITS = ["０１２", "٣", "¹²", "1_000", "۱۲"]


def _digit_files(value: str) -> dict[str, bytes]:
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f'<Placemark><name>a</name><ExtendedData><Data name="households_affected"><value>{value}</value></Data>'
           "</ExtendedData><Point><coordinates>4.444,50.41</coordinates></Point></Placemark></Document></kml>")
    gpx = ('<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
           f'<wpt lat="50.41" lon="4.444"><name>a</name><extensions><households_affected>{value}'
           "</households_affected></extensions></wpt></gpx>")
    geojson = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"description":"a",'
               f'"households_affected":"{value}"}},"geometry":{{"type":"Point","coordinates":[4.444,50.41]}}}}]}}')
    return {"a.csv": f"lat;lon;description;households_affected\n50.41;4.444;a;{value}\n".encode(),
            "a.kml": kml.encode(), "a.gpx": gpx.encode(), "a.geojson": geojson.encode()}


@pytest.mark.parametrize("value", _OTHER_DIGITS)
@pytest.mark.parametrize("filename", ["a.csv", "a.kml", "a.gpx", "a.geojson"])
def test_counts_in_other_digits_are_dropped_with_a_warning(area, admin, db, filename, value):
    data = _digit_files(value)[filename]
    (rep,) = read_upload(data, filename, area=area)
    assert isinstance(rep, ReportInput) and "households_affected" not in rep.properties
    (warning,) = [w for w in rep.warnings if w["code"] == "attribute_dropped"]
    assert (warning["name"], warning["column"], warning["value"], warning["error"]) == \
        ("households_affected", "households_affected", value, "invalid_attribute")
    if filename == "a.geojson":
        assert warning["pointer"] == "/features/0/properties/households_affected"
    body, rows = preview_and_save(admin, db, data, filename, saved=1)
    assert [(w["code"], w["name"], w["value"]) for w in body["features"][0]["warnings"]
            if w["code"] == "attribute_dropped"] == [("attribute_dropped", "households_affected", value)]
    assert rows[0]["households_affected"] is None


def test_ascii_counts_are_still_read(area):
    for filename, data in _digit_files("012").items():
        (rep,) = read_upload(data, filename, area=area)
        assert rep.properties["households_affected"] == 12, filename


@pytest.mark.parametrize(("data", "filename", "code", "where", "extra"), [
    ("lat,lon\n５０.４１,４.４４\n", "a.csv", "invalid_coordinate", "row 2", {"column": "lat", "value": "５０.４１"}),
    ("lat;lon\n50.41;٤.٤٤\n", "a.csv", "invalid_coordinate", "row 2", {"column": "lon", "value": "٤.٤٤"}),
    ("lat;lon\n50_41;4.44\n", "a.csv", "invalid_coordinate", "row 2", {"column": "lat", "value": "50_41"}),
    ("x;y\n１５５３４９;122215\n", "a.csv", "invalid_coordinate", "row 2", {"column": "x", "value": "１５５３４９"}),
    ("wkt\nPOINT(４.４４ ５０.４１)\n", "a.csv", "invalid_geometry", "row 2", {"column": "wkt", "character": 7}),
    ('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>b</name><Point>'
     "<coordinates>４.４４,５０.４１</coordinates></Point></Placemark></kml>", "a.kml", "invalid_coordinate",
     "feature 0", {"value": "４.４４,５０.４１", "placemark": 0}),
    ('<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
     '<wpt lat="５０.４１" lon="4.444"><name>b</name></wpt></gpx>', "a.gpx", "invalid_coordinate", "feature 0",
     {"value": "５０.４１", "waypoint": 0}),
])
def test_coordinates_in_other_digits_are_refused(area, admin, db, data, filename, code, where, extra):
    (err,) = read_upload(data.encode(), filename, area=area)
    assert (err.code, err.where) == (code, where)
    assert {k: err.extra[k] for k in extra} == extra
    body, rows = preview_and_save(admin, db, data.encode(), filename, saved=0)
    (feature,) = body["features"]
    assert (feature["status"], feature["error"]["code"], feature["error"]["where"]) == ("refused", code, where)
    assert rows == []


@pytest.mark.parametrize("crs", ["EPSG:٣١٣٧٠", "３１３７０", "urn:ogc:def:crs:EPSG::٣١٣٧٠"])
def test_crs_field_in_other_digits_is_refused(area, admin, db, crs):
    data = b"x;y\n155349;122215\n"
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "a.csv", area=area, crs=crs)
    assert (info.value.code, info.value.where) == ("unsupported_crs", "crs")
    before = count_reports(db)
    for fields in ({"dry_run": "true"}, {}):
        response = upload_file(admin, data, "a.csv", network="mobile", crs=crs, **fields)
        body = response.get_json()
        assert (response.status_code, body["code"], body["where"]) == (422, "unsupported_crs", "crs"), body
    assert count_reports(db) == before
    (rep,) = read_upload(data, "a.csv", area=area, crs="EPSG:31370")  # the same in ASCII digits is read
    assert isinstance(rep, ReportInput)


def test_dates_in_other_digits_are_dropped_with_a_warning(area):
    data = "lat;lon;date\n50.41;4.444;٣٠/٠٣/٢٠٢٥\n50.41;4.445;30/03/2025\n".encode()
    first, second = read_upload(data, "a.csv", area=area)
    (warning,) = first.warnings
    assert (warning["code"], warning["name"], warning["error"], warning["value"]) == \
        ("attribute_dropped", "observed_at", "invalid_datetime", "٣٠/٠٣/٢٠٢٥")
    assert "observed_at" not in first.properties and second.properties["observed_at"].day == 30


# =========================================================================== integers of thousands of digits

@pytest.mark.parametrize("digits", [20, 5000])
def test_a_huge_integer_in_an_uploaded_geojson_is_out_of_range(area, admin, db, digits):
    big = "9" * digits
    data = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"households_affected":'
            + big + '},"geometry":{"type":"Point","coordinates":[4.444,50.41]}},{"type":"Feature","properties":{},'
            '"geometry":{"type":"Point","coordinates":[4.445,' + "9" * 5000 + "]}}]}").encode()
    rep, err = read_upload(data, "a.geojson", area=area)
    # the count is dropped with the warning a 20-digit count gets (out of range), the feature kept
    (warning,) = rep.warnings
    shown = big if digits == 20 else f"a number of {digits:,} digits"
    assert (warning["code"], warning["error"], warning["pointer"], warning["value"]) == \
        ("attribute_dropped", "invalid_attribute", "/features/0/properties/households_affected", shown)
    assert warning["detail"] == f"households_affected was ignored: households_affected must be between 0 and " \
                                f"1,000,000; got {shown}."
    # a coordinate of 5,000 digits is too large: refused, never "NaN or Infinity"
    assert (err.code, err.where, err.extra["pointer"], err.detail) == \
        ("invalid_coordinate", "feature 1", "/features/1/geometry/coordinates/1",
         "A coordinate is too large (a number of 5,000 digits).")
    body, rows = preview_and_save(admin, db, data, "a.geojson", saved=1)
    assert [f["status"] for f in body["features"]] == ["accepted", "refused"]
    assert body["features"][1]["error"]["code"] == "invalid_coordinate"
    assert rows[0]["households_affected"] is None


def test_a_count_of_thousands_of_digits_in_a_csv_is_out_of_range(area):
    (rep,) = read_upload(b"lat;lon;households_affected\n50.41;4.444;" + b"9" * 5000 + b"\n", "a.csv", area=area)
    (warning,) = rep.warnings
    assert (warning["error"], warning["detail"]) == (
        "invalid_attribute", "households_affected was ignored: households_affected must be between 0 and 1,000,000; "
        "got a number of 5,000 digits.")


# =========================================================================== dBase dates, fields of one name; GeoPackage dates

@pytest.mark.parametrize(("written", "shown"), [("20241301", "2024-13-01"), ("20240231", "2024-02-31"),
                                                ("99999999", "9999-99-99"), ("2024-1-1", "2024-1-1"),
                                                ("abcdefgh", "abcdefgh")])
def test_dbf_date_that_is_no_day_drops_that_date_only(area, admin, db, written, shown):
    # a D field pyogrio cannot convert failed the whole layer: 422 unreadable_file 'month must
    # be in 1..12', naming neither the record nor the field, for one mistyped date
    data = shapefile_members(raw_shapefile([("date", "D", 8, 0), ("descr", "C", 10, 0)],
                                           [[written, "a"], ["20240615", "b"], ["        ", "c"], ["00000000", "d"]]))
    body, rows = preview_and_save(admin, db, data, "z.zip", saved=4, column_map='{"description": "descr"}')
    assert [(w["code"], w["name"], w["value"], w["column"]) for w in body["features"][0]["warnings"]] == \
        [("attribute_dropped", "observed_at", shown, "date")]
    assert [f["warnings"] for f in body["features"][1:]] == [[], [], []]
    assert [r["observed_at"] for r in rows] == [None, datetime(2024, 6, 14, 22, tzinfo=UTC), None, None]


@pytest.mark.parametrize(("fields", "values", "name", "kept"), [
    ([("menages", "N", 10, 0), ("menages", "N", 10, 0)], ["5", "500"], "households_affected", None),
    ([("descriptio", "C", 10, 0), ("descriptio", "C", 10, 0)], ["a", "b"], "description", None),
    ([("descriptio", "C", 10, 0), ("DESCRIPTIO", "C", 10, 0)], ["a", "b"], "description", None),
    ([("menages", "N", 10, 0), ("menages", "N", 10, 0)], ["5", ""], "households_affected", 5),
    ([("menages", "N", 10, 0), ("menages", "N", 10, 0)], ["", "7"], "households_affected", 7),
    ([("menages", "N", 10, 0), ("menages", "N", 10, 0)], ["5", "5"], "households_affected", 5),
])
def test_dbf_fields_of_one_name_are_told_apart(area, fields, values, name, kept):
    # two dBase fields of one name (two long names cut to the same 10 bytes): pandas kept one
    # column, and GDAL read the last field's value into both: 500 households stored, 5 lost
    data = shapefile_members(raw_shapefile(fields, [values]))
    (rep,) = read_upload(data, "z.zip", area=area)
    assert rep.properties.get(name) == kept
    dropped = [(w["name"], w.get("values")) for w in rep.warnings if w["code"] == "attribute_dropped"]
    if kept is None:
        assert len(dropped) == 1 and dropped[0][0] == name
        assert dropped[0][1] in (None, values)  # case apart: two columns, said as two columns
    else:
        assert dropped == []


def test_dbf_fields_of_one_name_warning_names_both_fields(area):
    data = shapefile_members(raw_shapefile([("menages", "N", 10, 0), ("descr", "C", 5, 0), ("menages", "N", 10, 0)],
                                           [["5", "x", "500"]]))
    (rep,) = read_upload(data, "z.zip", area=area)
    (warning,) = rep.warnings
    assert (warning["columns"], warning["values"]) == (["'menages' (field 1)", "'menages' (field 3)"], ["5", "500"])
    assert warning["detail"].startswith("households_affected was ignored: feature 0 (layer 'zones') gives it 2 times")


@pytest.mark.parametrize("written", ["2024-13-01T10:00:00Z", "garbage", "0000-00-00 00:00:00", 45383, 1e308])
def test_gpkg_datetime_gdal_cannot_read_is_said(area, admin, db, tmp_path, written):
    # GDAL nulled a DATETIME it cannot parse without a word: the date vanished
    data = _gpkg_times(tmp_path, written, "2024-06-01T12:00:00Z")
    body, rows = preview_and_save(admin, db, data, "t.gpkg", saved=2)
    assert [(w["code"], w["name"], w["value"], w["column"]) for w in body["features"][0]["warnings"]] == \
        [("attribute_dropped", "observed_at", written, "date_constat")]
    assert [r["observed_at"] for r in rows] == [None, datetime(2024, 6, 1, 12, tzinfo=UTC)]


def test_a_zone_reaching_a_pole_is_refused_as_too_large_in_a_file(representative, db):
    """KML and GeoJSON files: a zone reaching ±90° is measured on the ellipsoid (EPSG:31370
    puts its corners at infinity: 0 m²): ``area_too_large`` quoting the Earth's area; a zone
    of Charleroi beside it is saved, and nothing else."""
    earth = "-180,-90 180,-90 180,90 -180,90 -180,-90"
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f'<Placemark><name>Terre</name><Polygon><outerBoundaryIs><LinearRing><coordinates>{earth}'
           '</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
           '<Placemark><name>Marcinelle</name><Polygon><outerBoundaryIs><LinearRing><coordinates>'
           '4.44,50.40 4.45,50.40 4.45,50.41 4.44,50.41 4.44,50.40</coordinates></LinearRing>'
           '</outerBoundaryIs></Polygon></Placemark></Document></kml>').encode()
    north = {"type": "Polygon", "coordinates": [[[-180, 0], [180, 0], [180, 90], [-180, 90], [-180, 0]]]}
    geojson = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": north}]}).encode()
    for data, name, share, saved in ((kml, "monde.kml", 1.0, 1), (geojson, "nord.geojson", 0.5, 0)):
        body, rows = preview_and_save(representative, db, data, name, saved=saved)
        refused = body["features"][0]
        assert (refused["status"], refused["error"]["code"]) == ("refused", "area_too_large")
        assert refused["error"]["area_m2"] == pytest.approx(510.0656e12 * share, rel=1e-4)
        assert refused["error"]["limit_m2"] == 200e6
        assert [r["area_m2"] for r in rows] == pytest.approx([790_700] * saved, rel=1e-3)


# 3D and compound coordinate systems: their horizontal part is what the coordinates are in

#: The .prj GDAL writes for a Shapefile with Z in WGS 84 (``ogr2ogr -dim XYZ``).
_PRJ_WGS84_3D = ('GEOGCS["WGS_1984_3D",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
                 'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433],LINUNIT["Meter",1.0]]')


def _square_z(epsg: int, height: float = 180.0) -> gpd.GeoSeries:
    """One 1 km² square in Charleroi with heights, in ``epsg``'s horizontal coordinates."""
    import shapely

    from tests.factories import square_lambert

    flat = gpd.GeoSeries([square_lambert(155000, 122000, 1000)], crs=31370).to_crs(
        {6190: 31370, 8370: 3812, 4979: 4326}.get(epsg, epsg))
    return gpd.GeoSeries(shapely.force_3d(flat.values, height), crs=epsg)


@pytest.mark.parametrize("epsg", [4979, 6190, 8370])
def test_a_3d_or_compound_crs_is_read_as_its_horizontal_part(area, admin, db, tmp_path, epsg):
    """A GeoPackage in EPSG:4979 (WGS 84 3D), 6190 (Lambert 72 + Ostend height) or 8370
    (Lambert 2008 + Ostend height): read in 4326, 31370 or 3812, heights dropped with
    ``z_dropped``: 1 km² ± 1 m², never ``unsupported_crs``."""
    path = tmp_path / f"z{epsg}.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gpd.GeoDataFrame({"descr": ["carré"]}, geometry=_square_z(epsg), crs=epsg).to_file(path, driver="GPKG")
    body, rows = preview_and_save(admin, db, path.read_bytes(), path.name, saved=1)
    assert [w["code"] for w in body["features"][0]["warnings"]] == ["z_dropped"]
    assert rows[0]["area_m2"] == pytest.approx(1_000_000, abs=1)
    assert rows[0]["wkt"].startswith("POLYGON((")  # 2D


def test_a_shapefile_with_z_as_gdal_writes_it_is_read_in_wgs84(area, admin, db, tmp_path):
    """GDAL writes a Shapefile with Z in WGS 84 with a "WGS_1984_3D" .prj: read in
    EPSG:4326 with ``z_dropped`` (it was refused whole with ``unsupported_crs``)."""
    folder = tmp_path / "shp-z"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gpd.GeoDataFrame({"descr": ["carré"]}, geometry=_square_z(4326), crs=4326).to_file(folder / "z.shp")
    (folder / "z.prj").write_text(_PRJ_WGS84_3D)
    data = zipped(*[(p.name, p.read_bytes()) for p in sorted(folder.iterdir())])
    body, rows = preview_and_save(admin, db, data, "z.zip", saved=1)
    assert [w["code"] for w in body["features"][0]["warnings"]] == ["z_dropped"]
    assert rows[0]["area_m2"] == pytest.approx(1_000_000, abs=1)


@pytest.mark.parametrize(("crs", "code"), [("EPSG:6190", None), ("urn:ogc:def:crs:EPSG::4979", None),
                                           ("EPSG:4937", "unsupported_crs"), ("EPSG:5710", "unsupported_crs")])
def test_a_3d_crs_named_by_the_client(area, representative, db, crs, code):
    """``crs=EPSG:6190`` on the API is Lambert 72 with heights; a 3D CRS of another datum
    (ETRS89 3D) or a height alone (Ostend) is refused, naming ``crs``."""
    epsg = {"EPSG:6190": 6190, "urn:ogc:def:crs:EPSG::4979": 4979}.get(crs, 6190)
    ring = [list(p) for p in _square_z(epsg).iloc[0].exterior.coords]
    before = count_reports(db)
    response = representative.post(f"/api/v1/reports?crs={crs}", json={
        "type": "Feature", "properties": {"network": "mobile"}, "geometry": {"type": "Polygon", "coordinates": [ring]}})
    if code is None:
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["properties"]["area_m2"] == pytest.approx(1_000_000, abs=1)
        assert count_reports(db) == before + 1
    else:
        assert response.status_code == 422
        assert (response.get_json()["code"], response.get_json()["where"]) == (code, "crs")
        assert count_reports(db) == before


@pytest.mark.parametrize(("shape_type", "warning"), [
    ("POLYGONM", {"code": "z_dropped", "mixed": False, "measures": True}),
    ("POLYGON", None),
])
def test_a_shapefile_with_measures_says_they_were_dropped(area, admin, db, tmp_path, shape_type, warning):
    """A PolygonM Shapefile: GDAL reads it as 2D without a word; the measures are said to be
    dropped (``z_dropped`` with ``measures``), as in a GeoPackage; a plain one says nothing."""
    import pyogrio
    from shapely.geometry import box

    folder = tmp_path / shape_type
    folder.mkdir()
    frame = gpd.GeoDataFrame({"descr": ["x"]}, geometry=[box(4.41, 50.415, 4.414, 50.419)], crs=4326)
    pyogrio.write_dataframe(frame, folder / "m.shp", layer_options={"SHPT": shape_type})
    data = zipped(*[(p.name, p.read_bytes()) for p in sorted(folder.iterdir())])
    body, rows = preview_and_save(admin, db, data, "m.zip", saved=1)
    got = [{k: w[k] for k in ("code", "mixed", "measures")} for w in body["features"][0]["warnings"]]
    assert got == ([warning] if warning else [])
    assert rows[0]["area_m2"] == pytest.approx(126_400, rel=0.01)
