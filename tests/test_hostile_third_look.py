"""Variants of the handed cases' kinds found by a third trial of new inputs (an empty member of
a multi-geometry GDAL read, a point of a MultiPoint outside the communes, KML root features,
file names the command line stored, numbers too large for a double, typed coordinates in the
wrong order, the territory's edges): the same input gives the same code on every path, nothing
is half-stored, never a 500 or a traceback.

With the real communes (4.444, 50.4108 is in Charleroi), the real app and PostGIS."""

from __future__ import annotations

import os
import struct
import tempfile

import numpy as np
import pyogrio

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
