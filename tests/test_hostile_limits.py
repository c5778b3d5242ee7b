"""Hostile uploads, by size once inflated or read: a few bytes that expand into unbounded work.

An attacker trial made a 5 MB zip of 1,000,000 identical points (43 MB inflated: under the
upload limit and under the archive's inflation limit) whose preview ran 31 s and 1.7 GB
before its web worker was killed (500). An upload now holds at most
``GEOSIGNAL_MAX_UPLOAD_FEATURES`` features and ``GEOSIGNAL_MAX_UPLOAD_VERTICES`` positions in
all, counted before the features are read wherever the file says them: 413
``too_many_features`` / ``too_many_upload_vertices`` with ``limit``, ``where`` and ``value``
when the whole file was counted.

The limits are set low here (the app's config for the API, :class:`Limits` for the service)
rather than files of a million rows generated. Each refusal goes through the intake service
(:func:`read_upload`) and ``POST /api/v1/imports`` (preview, save, save of the valid ones):
the same status, code and members, nothing stored.
"""

from __future__ import annotations

import itertools
import json
import warnings

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from geosignal.config import load_config
from geosignal.errors import GeosignalError
from geosignal.services.intake import Limits, ReportInput, read_upload
from geosignal.services.intake.containers import shp_positions, shx_entries
from geosignal.services.territory import limits_from_config
from tests.conftest import configured
from tests.factories import count_reports as _count
from tests.factories import upload_file, zipped

_FOLDERS = itertools.count()
#: Positions in Charleroi (lon, lat), 1e-3° apart.
PLACES = [(4.444 + 1e-3 * k, 50.4108) for k in range(20)]


def _limits(features: int = 200_000, vertices: int = 1_000_000) -> dict[str, int]:
    return {"MAX_UPLOAD_FEATURES": features, "MAX_UPLOAD_VERTICES": vertices}


def refused(area, app, account, db, data: bytes, filename: str, code: str, limits: dict[str, int],  # noqa: ANN001
            **upload) -> GeosignalError:
    """Assert that the service (with ``limits``) and the API (its config set to them: preview,
    save, save of the valid ones) refuse the whole file, 413 ``code``, the API naming what the
    service names, and that nothing is stored; return the service's error."""
    with pytest.raises(GeosignalError) as info:
        read_upload(data, filename, area=area, column_map=upload.get("column_map"),
                    limits=Limits(max_upload_features=limits["MAX_UPLOAD_FEATURES"],
                                  max_upload_vertices=limits["MAX_UPLOAD_VERTICES"]))
    err = info.value
    assert (err.status, err.code) == (413, code), err
    assert err.extra["limit"] == limits["MAX_UPLOAD_FEATURES" if code == "too_many_features" else "MAX_UPLOAD_VERTICES"]
    before = _count(db)
    fields = {"column_map": json.dumps(upload["column_map"])} if upload.get("column_map") else {}
    with configured(app, **limits):
        for extra in ({"dry_run": "true", "mode": "all"}, {"mode": "all"}, {"mode": "valid_only"}):
            response = upload_file(account, data, filename, network="mobile", **fields, **extra)
            body = response.get_json()
            assert (response.status_code, body["code"]) == (413, code), body
            assert response.mimetype == "application/problem+json"
            assert body.get("where") == err.where
            assert {key: body[key] for key in err.extra} == err.extra
            assert ("value" in body) == ("value" in err.extra)
    assert _count(db) == before
    return err


def accepted(area, app, account, db, data: bytes, filename: str, n: int, limits: dict[str, int]):  # noqa: ANN001, ANN201
    """Assert that a file at the limits gives ``n`` reports in the service and that the API
    (its config set to ``limits``) saves ``n``."""
    res = read_upload(data, filename, area=area, limits=Limits(max_upload_features=limits["MAX_UPLOAD_FEATURES"],
                                                               max_upload_vertices=limits["MAX_UPLOAD_VERTICES"]))
    assert [type(r) for r in res] == [ReportInput] * n, [getattr(r, "code", None) for r in res]
    before = _count(db)
    with configured(app, **limits):
        response = upload_file(account, data, filename, network="mobile", mode="all")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved"] == n and _count(db) == before + n
    return res


def _wkt_line(k: int, n: int) -> str:
    """A line of ``n`` positions in Charleroi, its positions 1e-4° apart (a zigzag)."""
    return "LINESTRING (" + ", ".join(f"{4.444 + 1e-4 * j:.4f} {50.41 + 1e-3 * k + 1e-4 * (j % 2):.4f}"
                                      for j in range(n)) + ")"


def _line(k: int, n: int) -> list[list[float]]:
    return [[round(4.444 + 1e-4 * j, 4), round(50.41 + 1e-3 * k + 1e-4 * (j % 2), 4)] for j in range(n)]


# =========================================================================== the settings

def test_the_limits_are_settings_with_their_defaults() -> None:
    assert (Limits().max_upload_features, Limits().max_upload_vertices) == (200_000, 1_000_000)
    config = load_config("/nonexistent", environ={"GEOSIGNAL_ENV": "testing", "GEOSIGNAL_MAX_UPLOAD_FEATURES": "5000",
                                                  "GEOSIGNAL_MAX_UPLOAD_VERTICES": "70000"})
    limits = limits_from_config(config)
    assert (limits.max_upload_features, limits.max_upload_vertices) == (5000, 70_000)
    defaults = limits_from_config(load_config("/nonexistent", environ={"GEOSIGNAL_ENV": "testing"}))
    assert (defaults.max_upload_features, defaults.max_upload_vertices) == (200_000, 1_000_000)


# =========================================================================== CSV

def test_csv_rows_beyond_the_limit(area, app, admin, db):
    # five rows and a blank one: the fourth is one too many; the file is refused whole, counted
    rows = [f"{lat};{lon};ici {k}" for k, (lon, lat) in enumerate(PLACES[:5])]
    data = ("lat;lon;description\n" + "\n".join(rows[:2]) + "\n\n" + "\n".join(rows[2:]) + "\n").encode()
    err = refused(area, app, admin, db, data, "points.csv", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("row 6", {"value": 5, "limit": 3})
    assert "5 features" in err.detail and "3" in err.detail
    accepted(area, app, admin, db, ("lat;lon\n" + "\n".join(f"{lat};{lon}" for lon, lat in PLACES[:3])).encode(),
             "points.csv", 3, _limits(features=3))


def test_csv_wkt_positions_beyond_the_limit(area, app, admin, db):
    data = ("wkt;description\n" + "\n".join(f'"{_wkt_line(k, 6)}";ligne {k}' for k in range(3)) + "\n").encode()
    err = refused(area, app, admin, db, data, "lignes.csv", "too_many_upload_vertices", _limits(vertices=10))
    assert (err.where, err.extra) == ("row 3", {"limit": 10})  # read up to there: no count of the whole file
    accepted(area, app, admin, db, data, "lignes.csv", 3, _limits(vertices=18))


def test_csv_collection_split_into_more_reports_than_the_limit(area, app, admin, db):
    # one row, four reports once its GEOMETRYCOLLECTION is split: counted before the geometry checks
    points = ", ".join(f"POINT ({lon} {lat})" for lon, lat in PLACES[:4])
    data = f'wkt;description\n"GEOMETRYCOLLECTION ({points})";ici\n'.encode()
    err = refused(area, app, admin, db, data, "gc.csv", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("row 2", {"value": 4, "limit": 3})


# =========================================================================== GeoJSON

def _collection(*geometries: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {"description": f"ici {k}"}}
        for k, g in enumerate(geometries)]}).encode()


def test_geojson_features_beyond_the_limit(area, app, admin, db, monkeypatch):
    data = _collection(*({"type": "Point", "coordinates": list(p)} for p in PLACES[:4]))
    err = refused(area, app, admin, db, data, "points.geojson", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("feature 3", {"value": 4, "limit": 3})
    # counted from the features array, before any feature is read
    from geosignal.services.intake import files

    def unread(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a feature was read")

    monkeypatch.setattr(files, "collection_results", unread)
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "points.geojson", area=area, limits=Limits(max_upload_features=3))
    assert info.value.code == "too_many_features"


def test_geojson_positions_beyond_the_limit(area, app, admin, db):
    data = _collection(*({"type": "LineString", "coordinates": _line(k, 6)} for k in range(2)))
    err = refused(area, app, admin, db, data, "lignes.geojson", "too_many_upload_vertices", _limits(vertices=10))
    assert (err.where, err.extra) == ("feature 1", {"value": 12, "limit": 10})
    accepted(area, app, admin, db, data, "lignes.geojson", 2, _limits(vertices=12))


def test_geojson_collection_members_count_as_features(area, app, admin, db):
    data = _collection({"type": "GeometryCollection",
                        "geometries": [{"type": "Point", "coordinates": list(p)} for p in PLACES[:4]]})
    err = refused(area, app, admin, db, data, "gc.geojson", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("feature 0", {"value": 4, "limit": 3})


# =========================================================================== KML, KMZ, GPX

def _kml(*placemarks: str) -> bytes:
    """A KML document, one placemark a line (the first on line 3)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
            + "\n".join(placemarks) + "\n</Document></kml>").encode()


def _point(lon: float, lat: float) -> str:
    return f"<Placemark><name>ici</name><Point><coordinates>{lon},{lat}</coordinates></Point></Placemark>"


def _kml_line(k: int, n: int) -> str:
    coordinates = " ".join(f"{x},{y}" for x, y in _line(k, n))
    return f"<Placemark><LineString><coordinates>{coordinates}</coordinates></LineString></Placemark>"


def test_kml_placemarks_beyond_the_limit(area, app, admin, db):
    data = _kml(*(_point(*p) for p in PLACES[:4]))
    err = refused(area, app, admin, db, data, "points.kml", "too_many_features", _limits(features=3))
    # the fourth placemark, on line 6: the scan stops there, before GDAL reads anything
    assert (err.where, err.extra) == ("line 6 column 0", {"limit": 3, "line": 6, "column": 0})
    err = refused(area, app, admin, db, zipped(("doc.kml", data)), "points.kmz", "too_many_features",
                  _limits(features=3))
    assert (err.where, err.extra) == ("line 6 column 0", {"limit": 3, "line": 6, "column": 0, "member": "doc.kml"})
    accepted(area, app, admin, db, _kml(*(_point(*p) for p in PLACES[:3])), "points.kml", 3, _limits(features=3))


def test_a_kml_has_a_placemark_limit_of_its_own(area, app, admin, db):
    # GDAL reads a KML whole into a tree: a 1 MB KMZ of 200,000 placemarks, under the upload's
    # feature limit, took 1.3 GB to preview. KML and KMZ hold at most
    # GEOSIGNAL_MAX_UPLOAD_KML_FEATURES placemarks (50,000); CSV and GeoJSON keep the upload's.
    assert (Limits().max_kml_features, limits_from_config(load_config(
        "/nonexistent", environ={"GEOSIGNAL_ENV": "testing"})).max_kml_features) == (50_000, 50_000)
    assert limits_from_config(load_config("/nonexistent", environ={
        "GEOSIGNAL_ENV": "testing", "GEOSIGNAL_MAX_UPLOAD_KML_FEATURES": "7"})).max_kml_features == 7
    limits = Limits(max_upload_features=10, max_kml_features=3)
    data = _kml(*(_point(*p) for p in PLACES[:4]))
    before = _count(db)
    for payload, filename, member in ((data, "points.kml", {}), (zipped(("doc.kml", data)), "points.kmz",
                                                                 {"member": "doc.kml"})):
        with pytest.raises(GeosignalError) as info:
            read_upload(payload, filename, area=area, limits=limits)
        err = info.value
        assert (err.status, err.code, err.where) == (413, "too_many_features", "line 6 column 0")
        assert err.extra == {"limit": 3, "line": 6, "column": 0, "format": "kml", **member}
        assert err.detail == ("The KML holds more than 3 placemarks; one KML or KMZ upload may hold 3 (it is read "
                              "whole into memory). Split it into several files, or send its points as CSV or "
                              "GeoJSON, which may hold 10 features.")
        with configured(app, MAX_UPLOAD_FEATURES=10, MAX_UPLOAD_KML_FEATURES=3):
            for extra in ({"dry_run": "true", "mode": "all"}, {"mode": "valid_only"}):
                response = upload_file(admin, payload, filename, network="mobile", **extra)
                body = response.get_json()
                assert (response.status_code, body["code"], body["format"], body["limit"]) == (
                    413, "too_many_features", "kml", 3), body
    assert _count(db) == before
    # the same four points as CSV and GeoJSON: under the upload's limit, read
    csv = ("lat;lon\n" + "\n".join(f"{lat};{lon}" for lon, lat in PLACES[:4])).encode()
    geojson = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)}, "properties": {}}
        for p in PLACES[:4]]}).encode()
    for payload, filename in ((csv, "points.csv"), (geojson, "points.geojson")):
        assert [type(r) for r in read_upload(payload, filename, area=area, limits=limits)] == [ReportInput] * 4
    # three placemarks: read; and a KML limit above the upload's changes nothing of its refusal
    assert len(read_upload(_kml(*(_point(*p) for p in PLACES[:3])), "points.kml", area=area, limits=limits)) == 3
    with pytest.raises(GeosignalError) as info:
        read_upload(data, "points.kml", area=area, limits=Limits(max_upload_features=3, max_kml_features=50))
    assert "format" not in info.value.extra and info.value.extra["limit"] == 3


def test_kml_positions_beyond_the_limit(area, app, admin, db):
    data = _kml(_kml_line(0, 6), _kml_line(1, 6))
    err = refused(area, app, admin, db, data, "lignes.kml", "too_many_upload_vertices", _limits(vertices=10))
    assert (err.where, err.extra["line"], err.extra["limit"]) == (f"line 4 column {err.extra['column']}", 4, 10)
    assert "value" not in err.extra
    accepted(area, app, admin, db, data, "lignes.kml", 2, _limits(vertices=12))


def _gpx(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
            f'xmlns="http://www.topografix.com/GPX/1/1">\n{body}\n</gpx>').encode()


def test_gpx_waypoints_and_track_points_beyond_the_limits(area, app, admin, db):
    data = _gpx("\n".join(f'<wpt lat="{lat}" lon="{lon}"><name>ici</name></wpt>' for lon, lat in PLACES[:4]))
    err = refused(area, app, admin, db, data, "points.gpx", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("line 6 column 0", {"limit": 3, "line": 6, "column": 0})
    points = "".join(f'<trkpt lat="{lat}" lon="{lon}"/>' for lon, lat in _line(0, 12))
    data = _gpx(f"<trk><name>trajet</name><trkseg>{points}</trkseg></trk>")
    err = refused(area, app, admin, db, data, "trace.gpx", "too_many_upload_vertices", _limits(vertices=10))
    assert (err.extra["line"], err.extra["limit"]) == (3, 10) and "value" not in err.extra
    accepted(area, app, admin, db, data, "trace.gpx", 1, _limits(vertices=12))


# =========================================================================== Shapefile

def _shapefile(tmp_path, geometries: list, folder: str = "zones", name: str = "zones") -> list[tuple[str, bytes]]:  # noqa: ANN001
    """The members of a Shapefile ``folder/name.*`` of ``geometries`` (EPSG:4326)."""
    where = tmp_path / f"shp-{next(_FOLDERS)}"
    where.mkdir()
    gdf = gpd.GeoDataFrame({"descr": [f"ici {k}" for k in range(len(geometries))]}, geometry=geometries,
                           crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, where / f"{name}.shp")
    return [(f"{folder}/{p.name}", p.read_bytes()) for p in sorted(where.iterdir())]


def test_shapefile_records_beyond_the_limit_are_counted_from_the_index(area, app, admin, db, tmp_path):
    """The attacker trial's kind, small: the .shx's size says the records before any is read."""
    data = zipped(*_shapefile(tmp_path, [Point(p) for p in PLACES[:4]]))
    err = refused(area, app, admin, db, data, "zones.zip", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("zones/zones.shp", {"value": 4, "limit": 3, "member": "zones/zones.shp"})
    # several Shapefiles in one archive count together: the limit is passed in the second
    data = zipped(*_shapefile(tmp_path, [Point(p) for p in PLACES[:2]], "a", "points"),
                  *_shapefile(tmp_path, [Point(p) for p in PLACES[2:4]], "b", "points"))
    err = refused(area, app, admin, db, data, "zones.zip", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("b/points.shp", {"value": 4, "limit": 3, "member": "b/points.shp"})
    accepted(area, app, admin, db, zipped(*_shapefile(tmp_path, [Point(p) for p in PLACES[:3]])), "zones.zip", 3,
             _limits(features=3))


def test_shapefile_positions_beyond_the_limit_are_counted_from_the_record_headers(area, app, admin, db, tmp_path):
    data = zipped(*_shapefile(tmp_path, [LineString(_line(k, 6)) for k in range(2)]))
    err = refused(area, app, admin, db, data, "lignes.zip", "too_many_upload_vertices", _limits(vertices=10))
    assert (err.where, err.extra) == ("zones/zones.shp", {"value": 12, "limit": 10, "member": "zones/zones.shp"})
    accepted(area, app, admin, db, data, "lignes.zip", 2, _limits(vertices=12))


def test_shapefile_positions_are_those_gdal_reads(tmp_path):
    """Every kind of shape: points, multipoints, lines, polygons with a hole, 3D; a Null shape
    holds none."""
    square = [(4.44, 50.41), (4.45, 50.41), (4.45, 50.42), (4.44, 50.42), (4.44, 50.41)]
    hole = [(4.442, 50.412), (4.443, 50.412), (4.443, 50.413), (4.442, 50.412)]
    for geometries in ([Point(p) for p in PLACES[:3]], [MultiPoint(PLACES[:5]), MultiPoint(PLACES[5:7])],
                       [LineString(_line(0, 7)), LineString(_line(1, 3))], [Polygon(square, [hole])],
                       [shapely.force_3d(LineString(_line(0, 4)))], [Point(PLACES[0]), None]):
        members = dict(_shapefile(tmp_path, geometries))
        shp, shx = members["zones/zones.shp"], members["zones/zones.shx"]
        assert shx_entries(shx) == len(geometries)
        assert shp_positions(shp, shx) == sum(shapely.get_num_coordinates(g) if g is not None else 0
                                              for g in geometries)
    assert shx_entries(b"junk") is None


# =========================================================================== GeoPackage

def test_geopackage_rows_beyond_the_limit_are_counted_before_gdal_reads_them(area, app, admin, db, tmp_path):
    path = tmp_path / "deux.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for layer, places in (("points", PLACES[:2]), ("zones", PLACES[2:4])):
            gdf = gpd.GeoDataFrame({"description": ["ici"] * len(places)}, geometry=[Point(p) for p in places],
                                   crs="EPSG:4326")
            pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")
    err = refused(area, app, admin, db, path.read_bytes(), "deux.gpkg", "too_many_features", _limits(features=3))
    assert (err.where, err.extra) == ("layer zones", {"value": 4, "limit": 3, "layer": "zones"})
    accepted(area, app, admin, db, path.read_bytes(), "deux.gpkg", 4, _limits(features=4))


def test_geopackage_positions_beyond_the_limit(area, app, admin, db, tmp_path):
    path = tmp_path / "lignes.gpkg"
    gdf = gpd.GeoDataFrame({"description": ["a", "b"]}, geometry=[LineString(_line(k, 6)) for k in range(2)],
                           crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(gdf, path, layer="lignes", driver="GPKG")
    err = refused(area, app, admin, db, path.read_bytes(), "lignes.gpkg", "too_many_upload_vertices",
                  _limits(vertices=10))
    assert (err.where, err.extra) == ("layer lignes", {"limit": 10, "layer": "lignes"})
