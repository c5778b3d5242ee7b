"""Intake of single reports and GeoJSON collections: the handed cases and the strict rules.

No database, no Flask. Communes come from ../shared/data (override: GEOSIGNAL_COMMUNES_FILE),
cases from ../shared/cases.
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely
from shapely.geometry import Polygon, mapping

from geosignal.errors import GeosignalError
from geosignal.services.intake import (
    Limits,
    ReportInput,
    area_m2,
    length_m,
    parse_feature_collection,
    parse_observed_at,
    parse_report_feature,
    validate_properties,
)
from geosignal.services.intake.crs import transform_xy
from tests.conftest import read_case as case
from tests.factories import count_reports, upload_file
from tests.factories import feature as report_feature

BRUSSELS = ZoneInfo("Europe/Brussels")


def feature(geometry, **props) -> dict:
    return {"type": "Feature", "properties": {"network": "mobile", **props}, "geometry": geometry}


def square(lon=4.444, lat=50.4108, half=0.005) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                 [lon + half, lat + half], [lon - half, lat + half],
                                                 [lon - half, lat - half]]]}


def err_of(fn, *args, **kw) -> GeosignalError:
    with pytest.raises(GeosignalError) as info:
        fn(*args, **kw)
    return info.value


def only(results):
    assert len(results) == 1
    return results[0]


# --------------------------------------------------------------------------- service area

def test_service_area_has_the_30_communes(area):
    assert len(area) == 30
    assert area.commune_at(4.4440, 50.4108) == ("52011", "Charleroi")
    assert area.commune_at(2.35, 48.85) is None  # Paris
    assert area.commune_at(float("nan"), 50.4) is None


def test_lambert72_self_check():
    # pitfalls note: Charleroi centre is (155348.97, 122214.95) in EPSG:31370, within 1 m
    x, y = transform_xy([[4.4440, 50.4108]], 4326, 31370)[0]
    assert abs(x - 155348.97) < 1 and abs(y - 122214.95) < 1


# --------------------------------------------------------------------------- handed cases

def test_case01_bowtie_refused_with_crossing_point(area):
    err = only(parse_feature_collection(case("01-bowtie-self-intersection.geojson"), area=area,
                                        require_network=False))
    assert isinstance(err, GeosignalError)
    assert err.code == "self_intersection" and err.status == 422
    lon, lat = err.extra["location"]
    assert abs(lon - 4.44) < 0.01 and abs(lat - 50.41) < 0.01
    assert err.where == "/features/0/geometry"
    assert "Self-intersection" in err.detail


def test_case01_bowtie_repair_keeps_both_lobes(area):
    rep = only(parse_feature_collection(case("01-bowtie-self-intersection.geojson"), area=area,
                                        require_network=False, repair=True))
    assert isinstance(rep, ReportInput)
    assert rep.geometry.geom_type == "MultiPolygon" and len(rep.geometry.geoms) == 2
    lobe_w = Polygon([(4.43, 50.405), (4.44, 50.41), (4.43, 50.415)])
    lobe_e = Polygon([(4.45, 50.405), (4.45, 50.415), (4.44, 50.41)])
    lobes = area_m2(lobe_w) + area_m2(lobe_e)
    assert lobes > 500_000  # two triangles ~0.36 km² each
    assert rep.repair["method"] == "make_valid/structure"
    assert rep.repair["area_after_m2"] == pytest.approx(lobes, rel=1e-6)
    assert area_m2(rep.geometry) == pytest.approx(lobes, rel=1e-6)
    # the naive shoelace of a figure-8: the lobes cancel (buffer(0) would have kept only one)
    assert abs(rep.repair["area_before_m2"]) < 0.01 * lobes
    assert {w["code"] for w in rep.warnings} >= {"geometry_repaired"}
    assert rep.geometry.is_valid


def test_case04_unclosed_ring(area):
    err = only(parse_feature_collection(case("04-unclosed-ring.geojson"), area=area, require_network=False))
    assert err.code == "ring_not_closed"
    assert err.where == "/features/0/geometry/coordinates/0/3"


def test_case08_multipolygon_kept_as_one_report(area):
    rep = only(parse_feature_collection(case("08-multipolygon-into-polygon-column.geojson"), area=area,
                                        require_network=False))
    assert isinstance(rep, ReportInput)
    assert rep.geometry.geom_type == "MultiPolygon"
    parts = list(rep.geometry.geoms)
    assert len(parts) == 2
    for part in parts:
        assert area_m2(part) == pytest.approx(0.38e6, rel=0.02)
    communes = [area.commune_at(p.centroid.x, p.centroid.y)[1] for p in parts]
    assert communes == ["Charleroi", "Châtelet"]


def test_case10_z_dropped_also_when_mixed(area):
    a, b = parse_feature_collection(case("10-z-coordinates-gps-kml.geojson"), area=area, require_network=False)
    assert isinstance(a, ReportInput) and isinstance(b, ReportInput)
    assert a.geometry.geom_type == "Point" and not a.geometry.has_z
    assert (a.geometry.x, a.geometry.y) == (4.525, 50.404)
    assert b.geometry.geom_type == "Polygon" and not b.geometry.has_z
    za = [w for w in a.warnings if w["code"] == "z_dropped"]
    zb = [w for w in b.warnings if w["code"] == "z_dropped"]
    assert za[0]["mixed"] is False and zb[0]["mixed"] is True
    assert area_m2(b.geometry) == pytest.approx(0.01 * 0.008 * 71_000 * 111_200, rel=0.02)


def test_case11_latlon_swapped_hint(area):
    err = only(parse_feature_collection(case("11-latlon-swapped.geojson"), area=area, require_network=False))
    assert err.code == "outside_service_area"
    assert err.extra["hint"] == "axes_swapped"
    assert err.extra["swapped_commune"] == {"nis_code": "52011", "name": "Charleroi"}
    assert "as [lon, lat] this would be in Charleroi" in err.detail.replace("As [lon", "as [lon")


def test_case17_area_one_km2(area):
    rep = only(parse_feature_collection(case("17-area-in-degrees-1km2.geojson"), area=area, require_network=False))
    assert area_m2(rep.geometry) == pytest.approx(1.0e6, rel=0.01)
    assert length_m(rep.geometry) == pytest.approx(4000.0, rel=0.01)


def test_case18_parses_fixture_and_reports(area):
    results = parse_feature_collection(case("18-border-point-double-count.geojson"), area=area,
                                       require_network=False)
    assert [type(r) for r in results] == [ReportInput] * 4
    a, b, point, zone = results
    assert point.geometry.geom_type == "Point"
    assert (point.geometry.x, point.geometry.y) == (4.4390942, 50.4133658)
    assert zone.geometry.geom_type == "Polygon"
    assert area_m2(zone.geometry) == pytest.approx(4.0e6, rel=0.01)
    # 75 % / 25 % split against the fixture communes
    assert area_m2(zone.geometry.intersection(a.geometry)) == pytest.approx(3.0e6, rel=0.02)
    assert area_m2(zone.geometry.intersection(b.geometry)) == pytest.approx(1.0e6, rel=0.02)
    assert [r.source_index for r in results] == [0, 1, 2, 3]


def test_case19_description_unchanged_byte_for_byte(area):
    raw = case("19-popup-tooltip-xss.geojson")
    expected = json.loads(raw)["features"][0]["properties"]["description"]
    rep = only(parse_feature_collection(raw, area=area, require_network=False))
    assert rep.properties["description"].encode("utf-8") == expected.encode("utf-8")
    assert rep.properties["description"].startswith('<img src=x onerror="alert(document.cookie)">')
    # unknown properties (operateur, rue, commune) are kept out of the result
    assert set(rep.properties) == {"description"}
    assert {"commune", "operateur", "rue"} == set(
        next(w for w in rep.warnings if w["code"] == "properties_ignored")["names"])


def test_case26_nan_infinity_json_pointer(area):
    results = parse_feature_collection(case("26-nan-infinity.geojson.txt"), area=area, require_network=False)
    assert [r.code for r in results] == ["non_finite_number"] * 3
    assert [r.where for r in results] == ["/features/0/geometry/coordinates/0",
                                          "/features/1/geometry/coordinates/1",
                                          "/features/2/properties/signal_dbm"]
    assert [r.extra["index"] for r in results] == [0, 1, 2]


def test_case28_every_empty_geometry_refused(area):
    results = parse_feature_collection(case("28-empty-geometries.geojson"), area=area, require_network=False)
    assert [r.code for r in results] == ["empty_geometry"] * 3
    assert [r.where for r in results] == ["/features/0/geometry/coordinates", "/features/1/geometry",
                                          "/features/2/geometry/coordinates"]


def test_case30_whole_country_area_too_large(area):
    err = only(parse_feature_collection(case("30-huge-polygon-whole-country.geojson"), area=area,
                                        require_network=False))
    assert err.code == "area_too_large"
    assert err.extra["limit_m2"] == 200e6
    assert err.extra["area_m2"] == pytest.approx(61_700e6, rel=0.01)
    assert "61,665" in err.detail and "200.00 km²" in err.detail
    # a zone far beyond Lambert 72's domain is quoted on the ellipsoid: a box of 358° × 178°
    # covers 99.4 % of the Earth's 510.07 million km² (EPSG:31370 said 2,690 million)
    world = {"type": "Polygon", "coordinates": [[[-179, -89], [179, -89], [179, 89], [-179, 89], [-179, -89]]]}
    err = err_of(parse_report_feature, feature(world), area=area)
    assert err.code == "area_too_large"
    assert err.extra["area_m2"] == pytest.approx(510.07e12 * 358 / 360 * math.sin(math.radians(89)), rel=5e-3)
    assert "507," in err.detail


@pytest.mark.parametrize(("south", "share"), [(-90, 1.0), (0, 0.5), (-90, 0.5)])
def test_zone_reaching_a_pole_is_too_large_not_too_small(area, south, share):
    """A zone reaching ±90° projects to infinity in EPSG:31370 (0 m² there): its area is the
    ellipsoid's, never "too small" (the whole Earth: 510.07 million km²; a hemisphere: half)."""
    north = 90 if (south, share) != (-90, 0.5) else 0
    box = [[-180, south], [180, south], [180, north], [-180, north], [-180, south]]
    err = err_of(parse_report_feature, feature({"type": "Polygon", "coordinates": [box]}), area=area)
    assert (err.code, err.where) == ("area_too_large", "/geometry")
    assert err.extra["area_m2"] == pytest.approx(510.0656e12 * share, rel=1e-4)
    assert err.extra["limit_m2"] == 200e6


def test_case35_dst_timestamps():
    doc = json.loads(case("35-dst-timestamps.json"))
    by_id = {r["id"]: r["reported_at"] for r in doc["reports"]}
    a = parse_observed_at(by_id["35a"], where="/observed_at")
    b = parse_observed_at(by_id["35b"], where="/observed_at")
    e = parse_observed_at(by_id["35e"], where="/observed_at")
    la, lb, le = (d.astimezone(BRUSSELS) for d in (a, b, e))
    assert (la.strftime("%Y-%m-%d %H:%M"), la.utcoffset()) == ("2025-03-30 01:30", timedelta(hours=1))
    assert (lb.strftime("%Y-%m-%d %H:%M"), lb.utcoffset()) == ("2025-03-30 03:30", timedelta(hours=2))
    assert (le.strftime("%Y-%m-%d %H:%M"), le.utcoffset()) == ("2025-10-26 02:30", timedelta(hours=1))
    assert e.astimezone(UTC) == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    assert la.date() == lb.date()  # same local day: the daily histogram counts 2
    for key in ("35c", "35d"):
        err = err_of(parse_observed_at, by_id[key], where="/properties/observed_at")
        assert err.code == "ambiguous_local_time" and err.status == 422
        assert err.where == "/properties/observed_at"
        assert "offset" in err.detail


# --------------------------------------------------------------------------- time

def test_observed_at_forms():
    d = parse_observed_at("2024-03-21", where="w")
    assert d == datetime(2024, 3, 21, tzinfo=BRUSSELS) and d.utcoffset() == timedelta(hours=1)
    n = parse_observed_at("2024-07-01T14:05:00", where="w")
    assert n.astimezone(UTC) == datetime(2024, 7, 1, 12, 5, tzinfo=UTC)
    assert parse_observed_at(None, where="w") is None
    assert parse_observed_at("", where="w") is None
    assert parse_observed_at("21/03/2024", where="w", day_first=True) == datetime(2024, 3, 21, tzinfo=BRUSSELS)
    assert err_of(parse_observed_at, "21/03/2024", where="w").code == "invalid_datetime"
    assert err_of(parse_observed_at, "yesterday", where="w").code == "invalid_datetime"
    assert err_of(parse_observed_at, "2024-02-30", where="w").code == "invalid_datetime"
    assert err_of(parse_observed_at, 1711000000, where="w").code == "invalid_datetime"


# --------------------------------------------------------------------------- strict raw parsing

@pytest.mark.parametrize(
    ("geometry", "code", "where"),
    [
        ({"type": "Point", "coordinates": ["4.444", "50.41"]}, "invalid_coordinate", "/geometry/coordinates/0"),
        ({"type": "Point", "coordinates": [True, 50.41]}, "invalid_coordinate", "/geometry/coordinates/0"),
        ({"type": "Point", "coordinates": [4.444]}, "invalid_coordinate", "/geometry/coordinates"),
        ({"type": "Point", "coordinates": None}, "empty_geometry", "/geometry/coordinates"),
        ({"type": "Point", "coordinates": []}, "empty_geometry", "/geometry/coordinates"),
        ({"type": "Point"}, "invalid_geojson", "/geometry"),
        ({"type": "Circle", "coordinates": [4.4, 50.4]}, "invalid_geojson", "/geometry/type"),
        ({"type": "Polygon", "coordinates": [[4.43, 50.4], [4.45, 50.4], [4.45, 50.42], [4.43, 50.4]]},
         "invalid_geojson", "/geometry/coordinates/0/0"),
        ({"type": "Point", "coordinates": [[4.44, 50.41]]}, "invalid_geojson", "/geometry/coordinates/0"),
        ({"type": "Polygon", "coordinates": [[[4.43, 50.4], [4.45, 50.4], [4.45, 50.4], [4.43, 50.4]]]},
         "ring_too_short", "/geometry/coordinates/0"),
        ({"type": "Polygon", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
        ({"type": "LineString", "coordinates": [[4.44, 50.41], [4.44, 50.41]]}, "line_too_short",
         "/geometry/coordinates"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
        ({"type": "GeometryCollection", "geometries": []}, "unsupported_geometry_type", "/geometry/type"),
    ],
)
def test_raw_structure_refused(area, geometry, code, where):
    err = err_of(parse_report_feature, feature(geometry), area=area)
    assert (err.code, err.where, err.status) == (code, where, 422)


_RING = [[4.43, 50.4], [4.45, 50.4], [4.45, 50.42], [4.43, 50.4]]

#: Geometries whose every ring or part is empty are empty geometries (at their coordinates'
#: pointer); a multi-geometry's empty part is named at that part; a ring of 1-3 positions (or an
#: empty hole beside a real outline) stays ring_too_short.
EMPTY_SHAPES = [
    ({"type": "Polygon", "coordinates": []}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "Polygon", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "Polygon", "coordinates": [[], []]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "Polygon", "coordinates": [[[]]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPolygon", "coordinates": []}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPolygon", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPolygon", "coordinates": [[[]]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPolygon", "coordinates": [[[[]]]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPolygon", "coordinates": [[_RING], []]}, "empty_geometry", "/geometry/coordinates/1"),
    ({"type": "MultiPolygon", "coordinates": [[_RING], [[]]]}, "empty_geometry", "/geometry/coordinates/1"),
    ({"type": "LineString", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiLineString", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "MultiPoint", "coordinates": [[]]}, "empty_geometry", "/geometry/coordinates"),
    ({"type": "Polygon", "coordinates": [_RING, []]}, "ring_too_short", "/geometry/coordinates/1"),
    ({"type": "Polygon", "coordinates": [[[4.43, 50.4]]]}, "ring_too_short", "/geometry/coordinates/0"),
    ({"type": "Polygon", "coordinates": [_RING[:2] + [_RING[0]]]}, "ring_too_short", "/geometry/coordinates/0"),
    ({"type": "MultiPolygon", "coordinates": [[[[4.43, 50.4], [4.43, 50.4]]]]}, "ring_too_short",
     "/geometry/coordinates/0/0"),
]


@pytest.mark.parametrize(("geometry", "code", "where"), EMPTY_SHAPES)
def test_every_ring_or_part_empty_is_an_empty_geometry_in_the_api_and_uploads(representative, admin, db, geometry,
                                                                              code, where):
    before = count_reports(db)
    answer = representative.post("/api/v1/reports", json=report_feature(geometry))
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["where"]) == (422, code, where)
    # the GeoJSON upload path shares the intake: the same code, at the feature's pointer
    data = json.dumps({"type": "FeatureCollection", "features": [report_feature(geometry)]}).encode()
    for fields in ({"dry_run": "true"}, {"mode": "all"}):
        (entry,) = upload_file(admin, data, "a.geojson", **fields).get_json()["features"]
        assert (entry["status"], entry["error"]["code"], entry["error"]["where"], entry["error"]["pointer"]) == (
            "refused", code, "feature 0", "/features/0" + where)
    assert count_reports(db) == before


def test_nan_text_and_overflow_refused(area):
    text = json.dumps(feature({"type": "Point", "coordinates": [4.444, 50.41]})).replace("4.444", "NaN")
    err = err_of(parse_report_feature, text, area=area)
    assert (err.code, err.where) == ("non_finite_number", "/geometry/coordinates/0")
    text = json.dumps(feature({"type": "Point", "coordinates": [4.444, 50.41]})).replace("50.41", "-Infinity")
    assert err_of(parse_report_feature, text, area=area).where == "/geometry/coordinates/1"
    text = json.dumps(feature({"type": "Point", "coordinates": [4.444, 50.41]})).replace("50.41", "1e400")
    assert err_of(parse_report_feature, text, area=area).code == "non_finite_number"
    # a float NaN inside an already decoded dict too
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [float("nan"), 50.41]}), area=area)
    assert err.code == "non_finite_number"
    # inside a ring (positions taken at once unless one is not a plain finite pair): the
    # position named exactly
    ring = json.dumps(feature(square()))
    second_lat = json.dumps(square()["coordinates"][0][2][1])
    for written in ("1e400", "1E+0400", "9" * 250 + "e99"):
        err = err_of(parse_report_feature, ring.replace(second_lat, written, 1), area=area)
        assert (err.code, err.where) == ("non_finite_number", "/geometry/coordinates/0/2/1"), written
    # an integer too large for a float, even beyond the digits Python converts: too large, not NaN
    for bad, code in (("true", "invalid_coordinate"), ('"50.4"', "invalid_coordinate"), ("[50.4]", "invalid_geojson"),
                      ("-" + "9" * 320, "invalid_coordinate"), ("4" + "0" * 5000, "invalid_coordinate")):
        err = err_of(parse_report_feature, ring.replace(second_lat, bad, 1), area=area)
        assert (err.code, err.where) == (code, "/geometry/coordinates/0/2/1"), bad


def test_invalid_json_and_size(area):
    err = err_of(parse_report_feature, b'{"type": "Feature",', area=area)
    assert err.code == "invalid_json" and err.status == 400 and err.where.startswith("line 1")
    assert err_of(parse_report_feature, b"\xff\xfe{}", area=area).code == "invalid_json"
    big = json.dumps(feature(square()))
    err = err_of(parse_report_feature, big.encode(), area=area, limits=Limits(max_upload_bytes=50))
    assert err.code == "payload_too_large" and err.status == 413
    assert err_of(parse_report_feature, b"[1, 2]", area=area).code == "invalid_geojson"
    assert err_of(parse_report_feature, {"type": "FeatureCollection", "features": []}, area=area).code == \
        "invalid_geojson"


def test_repeated_positions_allowed_and_removed(area):
    g = square()
    ring = g["coordinates"][0]
    g["coordinates"][0] = [ring[0], ring[0], ring[1], ring[2], ring[2], ring[3], ring[4]]
    rep = parse_report_feature(feature(g), area=area)
    assert len(rep.geometry.exterior.coords) == 5


def test_bare_geometry_and_text_input(area):
    rep = parse_report_feature(json.dumps(square()), area=area, require_network=False)
    assert rep.geometry.geom_type == "Polygon" and rep.properties == {}
    err = err_of(parse_report_feature, json.dumps(square()), area=area)
    assert (err.code, err.where) == ("invalid_attribute", "/properties/network")


def test_polygons_oriented_counter_clockwise(area):
    g = square()
    g["coordinates"][0] = g["coordinates"][0][::-1]  # clockwise
    assert not Polygon(g["coordinates"][0]).exterior.is_ccw
    rep = parse_report_feature(feature(g), area=area)
    assert rep.geometry.exterior.is_ccw


def test_invalid_geometry_other_than_self_intersection(area):
    shell = square(half=0.005)["coordinates"][0]
    hole = square(lon=4.47, half=0.001)["coordinates"][0]
    err = err_of(parse_report_feature, feature({"type": "Polygon", "coordinates": [shell, hole]}), area=area)
    assert err.code == "invalid_geometry"
    assert "Hole lies outside shell" in err.detail and len(err.extra["location"]) == 2


def test_geometry_collection_split_in_collections(area):
    gc = {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [4.444, 50.4108]},
        square(),
        {"type": "Point", "coordinates": ["x", 50.4]},
    ]}
    fc = {"type": "FeatureCollection", "features": [feature({"type": "Point", "coordinates": [4.45, 50.41]}),
                                                    feature(gc)]}
    results = parse_feature_collection(fc, area=area)
    assert [type(r).__name__ for r in results] == ["ReportInput", "ReportInput", "ReportInput", "GeosignalError"]
    assert [r.geometry.geom_type for r in results[1:3]] == ["Point", "Polygon"]
    assert [r.source_index for r in results[:3]] == [0, 1, 1]
    assert results[3].where == "/features/1/geometry/geometries/2/coordinates/0"
    assert results[3].extra["member"] == 2
    assert any(w["code"] == "geometry_collection_split" for w in results[1].warnings)


# --------------------------------------------------------------------------- CRS

@pytest.mark.parametrize("crs", ["EPSG:31370", "31370", "urn:ogc:def:crs:EPSG::31370", "epsg:31370"])
def test_lambert72_input_forms(area, crs):
    g = {"type": "Polygon", "coordinates": [[[155000, 122000], [156000, 122000], [156000, 123000],
                                             [155000, 123000], [155000, 122000]]]}
    rep = parse_report_feature(feature(g), area=area, crs=crs)
    assert area_m2(rep.geometry) == pytest.approx(1e6, rel=1e-6)
    minx, miny, _, _ = rep.geometry.bounds
    assert minx == pytest.approx(4.439087, abs=2e-6) and miny == pytest.approx(50.408861, abs=2e-6)


def test_lambert2008_input(area):
    xy = transform_xy([[4.444, 50.4108]], 4326, 3812)[0]
    rep = parse_report_feature(feature({"type": "Point", "coordinates": [float(xy[0]), float(xy[1])]}),
                               area=area, crs="EPSG:3812")
    assert rep.geometry.x == pytest.approx(4.444, abs=1e-7) and rep.geometry.y == pytest.approx(50.4108, abs=1e-7)


def only_errors(results: list) -> list:
    """The refusals of a collection's results (all of them must be refusals)."""
    assert all(isinstance(r, GeosignalError) for r in results), results
    return results


def test_crs_member_honoured_or_refused(area):
    g = {"type": "Point", "coordinates": [155349, 122215]}
    named = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::31370"}}
    rep = parse_report_feature({**feature(g), "crs": named}, area=area)
    assert area.commune_at(rep.geometry.x, rep.geometry.y)[0] == "52011"
    assert parse_report_feature({**feature(g), "crs": named}, area=area, crs="31370").geometry.equals(rep.geometry)
    err = err_of(parse_report_feature, {**feature(g), "crs": named}, area=area, crs="EPSG:3812")
    assert (err.code, err.where) == ("unsupported_crs", "/crs")
    linked = {"type": "link", "properties": {"href": "http://example.com/crs"}}
    assert err_of(parse_report_feature, {**feature(g), "crs": linked}, area=area).code == "unsupported_crs"
    assert err_of(parse_report_feature, feature(g), area=area, crs="EPSG:3857").code == "unsupported_crs"
    fc = {"type": "FeatureCollection", "crs": named, "features": [feature(g)]}
    assert isinstance(only(parse_feature_collection(fc, area=area)), ReportInput)
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    rep = parse_report_feature({**feature({"type": "Point", "coordinates": [4.444, 50.41]}), "crs": crs84},
                               area=area)
    assert (rep.geometry.x, rep.geometry.y) == (4.444, 50.41)
    # inside a collection (on a feature or its geometry), a member that disagrees says where the
    # CRS in force came from; the request named none (it said "The request says EPSG:4326")
    inner = [{**feature(g), "crs": named}, feature({**g, "crs": named})]
    for item, where in zip(only_errors(parse_feature_collection({"type": "FeatureCollection", "features": inner},
                                                                area=area)),
                           ["/features/0/crs", "/features/1/geometry/crs"], strict=True):
        assert (item.code, item.where, item.extra["requested"], item.extra["member"]) == \
            ("unsupported_crs", where, "EPSG:4326", "EPSG:31370")
        assert item.detail.startswith("This 'crs' member says EPSG:31370 but the file is read in EPSG:4326") and \
            "The request says" not in item.detail


def test_lambert_coordinates_sent_as_degrees_get_a_hint(area):
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [155000, 122000]}), area=area)
    assert err.code == "outside_service_area"
    assert err.extra["hint"] == "looks_like_lambert72" and err.extra["suggested_crs"] == "EPSG:31370"
    assert "Lambert 72" in err.detail and err.extra["suggested_commune"]["nis_code"] == "52011"
    x, y = transform_xy([[4.444, 50.4108]], 4326, 3812)[0]
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [float(x), float(y)]}), area=area)
    assert err.extra["hint"] == "looks_like_lambert2008" and err.extra["suggested_crs"] == "EPSG:3812"
    # degrees declared as Lambert 72
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [4.444, 50.4108]}), area=area,
                 crs="EPSG:31370")
    assert err.code == "outside_service_area" and err.extra["hint"] == "looks_like_wgs84"


def test_outside_without_hint_and_beyond_margin(area):
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [2.35, 48.85]}), area=area)
    assert err.code == "outside_service_area" and "hint" not in err.extra
    # a point 500 m outside the territory but within the 1 km margin does not intersect it: refused
    # a line from Charleroi running 20 km north, far beyond the margin: refused too
    line = {"type": "LineString", "coordinates": [[4.444, 50.4108], [4.444, 50.80]]}
    err = err_of(parse_report_feature, feature(line), area=area)
    assert err.code == "outside_service_area" and err.extra["margin_m"] == 1000.0


def test_margin_rule_on_the_border(area):
    # a 600 m square centred on the territory's northernmost vertex: partly outside, but
    # within the 1 km margin (at most ~424 m away) → accepted; shifted 1.5 km north → refused
    edge = area.territory_31370
    x, y = max(edge.exterior.coords, key=lambda c: c[1])
    sq = shapely.box(x - 300, y - 300, x + 300, y + 300)
    assert sq.intersects(edge) and not edge.contains(sq)
    far = shapely.box(x - 300, y - 300 + 1500, x + 300, y + 300 + 1500)
    far_ll = shapely.transform(far, lambda xy: transform_xy(xy, 31370, 4326))
    err = err_of(parse_report_feature, feature(mapping(far_ll)), area=area)
    assert err.code == "outside_service_area"
    ll = shapely.transform(sq, lambda xy: transform_xy(xy, 31370, 4326))
    rep = parse_report_feature(feature(mapping(ll)), area=area)
    assert area_m2(rep.geometry) == pytest.approx(360_000, rel=1e-4)


def test_wgs84_range_goes_through_hints(area):
    err = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [200.0, 50.41]}), area=area)
    assert err.code == "outside_service_area"


# --------------------------------------------------------------------------- circles and limits

def test_circle_becomes_64_segment_polygon(area):
    rep = parse_report_feature(feature({"type": "Point", "coordinates": [4.444, 50.4108]}, radius=500), area=area)
    assert rep.geometry.geom_type == "Polygon"
    assert len(rep.geometry.exterior.coords) == 65
    assert area_m2(rep.geometry) == pytest.approx(math.pi * 500**2, rel=0.005)
    assert rep.properties["radius"] == 500.0
    c = rep.geometry.centroid
    assert c.x == pytest.approx(4.444, abs=1e-5) and c.y == pytest.approx(50.4108, abs=1e-5)
    err = err_of(parse_report_feature, feature(square(), radius=500), area=area)
    assert (err.code, err.where) == ("invalid_attribute", "/properties/radius")
    assert err_of(parse_report_feature, feature({"type": "Point", "coordinates": [4.444, 50.41]}, radius=-1),
                  area=area).code == "invalid_attribute"
    big = err_of(parse_report_feature, feature({"type": "Point", "coordinates": [4.444, 50.41]}, radius=9000),
                 area=area)
    assert big.code == "area_too_large"


def test_vertex_and_area_limits(area):
    err = err_of(parse_report_feature, feature(square()), area=area, limits=Limits(max_vertices=4))
    assert err.code == "too_many_vertices" and (err.extra["value"], err.extra["limit"]) == (5, 4)
    err = err_of(parse_report_feature, feature(square(half=0.00003)), area=area)
    assert err.code == "area_too_small" and err.extra["limit_m2"] == 100.0
    assert err.extra["area_m2"] == pytest.approx(0.00006 * 71_000 * 0.00006 * 111_200, rel=0.02)
    rep = parse_report_feature(feature(square(half=0.00003)), area=area, limits=Limits(min_area_m2=1.0))
    assert rep.geometry.geom_type == "Polygon"


# --------------------------------------------------------------------------- properties

def test_properties_normalised():
    out = validate_properties({
        "network": "mobile", "technologies": "4G", "operators": ["Proximus", "Orange"],
        "issue": "weak_signal", "setting": "indoor", "households_affected": 12, "businesses_affected": 0,
        "description": "re\u0301seau", "observed_at": "2024-03-21", "style": {"color": "red"},
    })
    assert out == {
        "network": "mobile", "technologies": ["4G"], "operators": ["Proximus", "Orange"],
        "issue": "weak_signal", "setting": "indoor", "households_affected": 12, "businesses_affected": 0,
        "description": "réseau", "observed_at": datetime(2024, 3, 21, tzinfo=BRUSSELS),
    }
    assert unicodedata.is_normalized("NFC", out["description"])
    assert validate_properties({"network": None}, require_network=False) == {}


@pytest.mark.parametrize(("name", "values", "item", "first"), [
    ("operators", ["Orange", "Orange"], 1, 0), ("operators", ["Proximus", "Orange", "Proximus"], 2, 0),
    ("technologies", ["4G", "5G", "5G"], 2, 1),
])
def test_a_value_named_twice_in_a_list_is_refused_not_deduplicated(name, values, item, first):
    with pytest.raises(GeosignalError) as info:
        validate_properties({"network": "mobile", name: values})
    err = info.value
    assert (err.code, err.status, err.where, err.extra["value"]) == ("invalid_attribute", 422, f"/properties/{name}/{item}",
                                                                     values[item])
    assert err.detail == f"{name} names {values[item]!r} twice (items {first} and {item}); name each once."


@pytest.mark.parametrize(
    ("props", "where"),
    [
        ({}, "/properties/network"),
        ({"network": "wifi"}, "/properties/network"),
        ({"network": "mobile", "technologies": ["4G", "6G"]}, "/properties/technologies/1"),
        ({"network": "mobile", "operators": "Telenet"}, "/properties/operators/0"),
        ({"network": "mobile", "issue": "bad"}, "/properties/issue"),
        ({"network": "mobile", "setting": "car"}, "/properties/setting"),
        ({"network": "mobile", "households_affected": 2.5}, "/properties/households_affected"),
        ({"network": "mobile", "households_affected": -1.0}, "/properties/households_affected"),
        ({"network": "mobile", "households_affected": float(1_000_001)}, "/properties/households_affected"),
        ({"network": "mobile", "households_affected": float("inf")}, "/properties/households_affected"),
        ({"network": "mobile", "households_affected": "3"}, "/properties/households_affected"),
        ({"network": "mobile", "households_affected": True}, "/properties/households_affected"),
        ({"network": "mobile", "businesses_affected": -1}, "/properties/businesses_affected"),
        ({"network": "mobile", "description": "x" * 5001}, "/properties/description"),
        ({"network": "mobile", "description": 12}, "/properties/description"),
        ({"network": "mobile", "description": "a\x00b"}, "/properties/description"),
        ({"network": "mobile", "radius": True}, "/properties/radius"),
    ],
)
def test_properties_refused(props, where):
    err = err_of(validate_properties, props)
    assert (err.code, err.where, err.status) == ("invalid_attribute", where, 422)


@pytest.mark.parametrize(("value", "read"), [(2.0, 2), (1e3, 1000), (-0.0, 0), (1_000_000.0, 1_000_000), (7, 7)])
def test_integral_json_numbers_are_whole_numbers(value, read):
    # JSON Schema 2020-12 (the published schema, OpenAPI 3.1): an integer is any number with a
    # zero fractional part; files read 12.0 as 12, and so does the API
    out = validate_properties({"network": "mobile", "households_affected": value, "businesses_affected": value})
    assert (out["households_affected"], out["businesses_affected"]) == (read, read)
    assert type(out["households_affected"]) is int


def test_properties_where_prefix_and_time_errors():
    err = err_of(validate_properties, {"network": "fixed", "observed_at": "2025-03-30T02:30:00"},
                 where_prefix="/features/2/properties")
    assert (err.code, err.where) == ("ambiguous_local_time", "/features/2/properties/observed_at")
    assert validate_properties({"network": "fixed", "description": "x" * 5000})["description"] == "x" * 5000


def test_observation_in_the_future_is_refused() -> None:
    from datetime import UTC, datetime, timedelta

    from geosignal.errors import GeosignalError
    from geosignal.services.intake import parse_observed_at

    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    with pytest.raises(GeosignalError) as info:
        parse_observed_at(tomorrow, where="/properties/observed_at")
    assert info.value.code == "invalid_datetime" and "future" in info.value.detail
    today = datetime.now(UTC).date().isoformat()
    assert parse_observed_at(today, where="x") is not None
    # tomorrow's date is refused whatever the hour (it passed after noon: a 12 h tolerance);
    # a time may be a little ahead (a clock, a summer-time hour), not hours ahead
    brussels_now = datetime.now(BRUSSELS)
    for value, day_first in [((brussels_now + timedelta(days=1)).date().isoformat(), False),
                             ((brussels_now + timedelta(days=1)).strftime("%d/%m/%Y"), True),
                             ((brussels_now + timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="minutes"), False),
                             ((datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds"), False)]:
        with pytest.raises(GeosignalError) as info:
            parse_observed_at(value, where="/properties/observed_at", day_first=day_first)
        assert (info.value.code, info.value.extra["kind"]) == ("invalid_datetime", "future"), value
    assert parse_observed_at(brussels_now.date().isoformat(), where="x") is not None
    soon = (datetime.now(UTC) + timedelta(minutes=30)).isoformat(timespec="seconds")
    assert parse_observed_at(soon, where="x") == datetime.fromisoformat(soon)
