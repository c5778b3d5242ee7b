"""A fourth adversarial look at the kinds of ``../shared/cases/``: new inputs of each kind, on
every path that takes them. Each test failed on the code before its mend."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from geosignal.models import Report
from tests.conftest import csrf_token
from tests.factories import upload_file

# ---- numbers written with digits other than 0-9 (case 26's kind) ---------------------------------

FULLWIDTH = "50.4108 ４.４４４"  # the latitude in ASCII digits, the longitude in full-width ones
ARABIC = "٥٠.٤١٠٨ ٤.٤٤٤"  # Arabic-Indic digits


@pytest.mark.parametrize("typed", [FULLWIDTH, ARABIC, "EPSG:٣١٣٧٠ 155000 122000"])
def test_typed_coordinates_are_written_with_the_digits_0_to_9(db, representative, typed: str) -> None:  # noqa: ANN001
    """Typed coordinates read ４ and ٤ as numbers (the regex ``\\d`` and ``float()`` take every
    Unicode digit) where a CSV's lat/lon cell refuses them: 200 and Charleroi."""
    answer = representative.get("/api/v1/coordinates?q=" + quote(typed))
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "unreadable_coordinates"


def test_a_csv_position_column_refuses_other_digits_as_lat_lon_columns_do(db, admin) -> None:  # noqa: ANN001
    columns = upload_file(admin, "lat;lon;network\n50.4108;４.４４４;mobile\n".encode(), "a.csv",
                          dry_run="true").get_json()
    one_column = upload_file(admin, f"coordonnees;network\n{FULLWIDTH};mobile\n".encode(), "b.csv",
                             dry_run="true").get_json()
    assert columns["features"][0]["status"] == one_column["features"][0]["status"] == "refused"
    assert columns["features"][0]["error"]["code"] == "invalid_coordinate"
    assert one_column["features"][0]["error"]["code"] == "unreadable_coordinates"


def test_the_map_form_stores_nothing_typed_in_other_digits(db, client, representative) -> None:  # noqa: ANN001
    assert representative.login().status_code == 302
    html = client.get("/carte").get_data(as_text=True)
    answer = client.post("/carte", data={"csrf_token": csrf_token(html), "idempotency_key": "digits-0-9",
                                         "geometry": "", "coordinates": ARABIC, "network": "mobile"})
    assert answer.status_code == 422
    assert db.scalar(select(func.count()).select_from(Report)) == 0


# ---- a GeoPackage BOOLEAN column is no count (case 26's kind: a value no whole number) ------------

def test_a_geopackage_boolean_column_is_no_count(db, admin, representative, tmp_path) -> None:  # noqa: ANN001
    """A BOOLEAN column (stored 0/1) named like a count was read as 1 and 0 households, without
    a word, where the API refuses ``true`` and a Shapefile logical field, GeoJSON ``true`` or a
    CSV ``true`` are dropped with ``attribute_dropped``."""
    import geopandas as gpd
    from shapely.geometry import Point

    api = representative.post("/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4440, 50.4108]},
        "properties": {"network": "mobile", "households_affected": True}})
    assert (api.status_code, api.get_json()["code"]) == (422, "invalid_attribute")
    gpd.GeoDataFrame({"network": ["mobile"], "menages": [True], "entreprises": [False]},
                     geometry=[Point(4.4440, 50.4108)], crs=4326).to_file(tmp_path / "z.gpkg", driver="GPKG")
    (item,) = upload_file(admin, (tmp_path / "z.gpkg").read_bytes(), "z.gpkg", dry_run="true").get_json()["features"]
    assert item["status"] == "accepted"
    assert (item["properties"]["households_affected"], item["properties"]["businesses_affected"]) == (None, None)
    dropped = sorted(w["name"] for w in item["warnings"] if w["code"] == "attribute_dropped")
    assert dropped == ["businesses_affected", "households_affected"], item


# ---- times: an offset with seconds (case 35's kind) -----------------------------------------------

@pytest.mark.parametrize("written", ["2025-06-01T10:00:00+01:00:30", "2025-06-01T10:00:00.5+01:00:30.5"])
def test_an_observed_at_whose_offset_has_seconds_is_refused_on_every_path(db, client, representative,
                                                                          written: str) -> None:  # noqa: ANN001
    """Python reads ``+01:00:30``; ISO 8601 and RFC 3339 have no seconds in an offset, and the OGC
    ``datetime`` filter refuses it (400). The API stored it (201, 10:59:30+02:00), a CSV, KML or
    GPX time too, shifted by the odd seconds without a word."""
    from tests.factories import feature
    from tests.test_hostile_formats import _gpx_times, _kml_times

    assert client.get("/ogc/collections/white-zones/items", query_string={"datetime": written}).status_code == 400
    body = feature({"type": "Point", "coordinates": [4.4440, 50.4108]})
    body["properties"]["observed_at"] = written
    refused = representative.post("/api/v1/reports", json=body)
    assert (refused.status_code, refused.get_json()["code"]) == (422, "invalid_datetime")
    assert "offset with seconds" in refused.get_json()["detail"]
    csv = f"lon;lat;network;observed_at\n4.444;50.4108;mobile;{written}\n".encode()
    for data, name in ((csv, "a.csv"), (_kml_times(written), "a.kml"), (_gpx_times(written), "a.gpx")):
        (read,) = upload_file(representative, data, name, dry_run="true", network="mobile").get_json()["features"]
        assert read["status"] == "accepted", (name, read)
        assert read["properties"]["observed_at"] is None, (name, read)
        assert [w["code"] for w in read["warnings"]] == ["attribute_dropped"], (name, read)


# ---- geometries valid as sent, not as read back at 9 decimals (cases 01 and 28's kinds) ---------

def _near_charleroi(x: float, y: float, side: float) -> list:
    from tests.factories import square_lambert, to_geojson_4326

    return to_geojson_4326(square_lambert(x, y, side))["coordinates"][0]


def _multiline_with_a_collapsing_part() -> dict:
    a, b, c, _, _ = _near_charleroi(152000, 122000, 500)
    return {"type": "MultiLineString", "coordinates": [[a, b], [c, [c[0] + 1e-12, c[1]]]]}


def _hole_a_hair_inside() -> dict:
    return {"type": "Polygon", "coordinates": [
        [[4.4400, 50.4100], [4.4460, 50.4100], [4.4460, 50.4140], [4.4400, 50.4140], [4.4400, 50.4100]],
        [[4.4400 + 3e-10, 50.4110], [4.4400 + 3e-10, 50.4120], [4.4420, 50.4120], [4.4420, 50.4110],
         [4.4400 + 3e-10, 50.4110]]]}


def test_a_multilinestring_part_that_collapses_at_9_decimals_is_refused_at_that_part(db, representative) -> None:  # noqa: ANN001
    """Only the whole line's length was checked: a part of two positions 1e-12° apart was
    stored (201, on POST, PATCH and uploads) and read back as a line of one repeated position,
    which GEOS calls invalid."""
    from tests.factories import count_reports, feature

    created = representative.post("/api/v1/reports", json=feature(_multiline_with_a_collapsing_part()))
    body = created.get_json()
    assert (created.status_code, body["code"], body["where"]) == (422, "line_too_short", "/geometry/coordinates/1")
    assert count_reports(db) == 0
    a, b = _near_charleroi(152000, 122000, 500)[:2]
    rid = representative.post("/api/v1/reports", json=feature({"type": "LineString", "coordinates": [a, b]})
                              ).get_json()["id"]
    tag = representative.get(f"/api/v1/reports/{rid}").headers["ETag"]
    patched = representative.patch(f"/api/v1/reports/{rid}", json={"geometry": _multiline_with_a_collapsing_part()},
                                   headers={"If-Match": tag})
    assert (patched.status_code, patched.get_json()["code"]) == (422, "line_too_short")
    (row,) = upload_file(representative, json.dumps(feature(_multiline_with_a_collapsing_part())).encode(),
                         "l.geojson", dry_run="true").get_json()["features"]
    assert (row["status"], row["error"]["code"], row["error"]["pointer"]) == (
        "refused", "line_too_short", "/geometry/coordinates/1")


def test_a_zone_whose_hole_lies_a_hair_inside_its_shell_is_refused_as_it_would_read_back(db, client,
                                                                                          representative) -> None:  # noqa: ANN001
    """A hole 3e-10° (0.02 mm) inside its shell: valid as sent (in EPSG:4326 and 31370), stored,
    and read back at 9 decimals with the hole on the shell — a geometry the API then refused
    when sent back unchanged. Refused when filed, with the place, on every path."""
    import shapely

    from tests.factories import count_reports, feature
    from tests.test_form_refusals import _token

    assert shapely.geometry.shape(_hole_a_hair_inside()).is_valid
    refused = representative.post("/api/v1/reports", json=feature(_hole_a_hair_inside()))
    body = refused.get_json()
    assert (refused.status_code, body["code"], body["kind"]) == (422, "self_intersection", "invalid_at_stored_precision")
    assert body["location"] == [pytest.approx(4.44, abs=1e-6), pytest.approx(50.411, abs=1e-3)]
    (row,) = upload_file(representative, json.dumps(feature(_hole_a_hair_inside())).encode(), "z.geojson",
                         dry_run="true").get_json()["features"]
    assert (row["status"], row["error"]["code"], row["error"]["kind"]) == (
        "refused", "self_intersection", "invalid_at_stored_precision")
    representative.login()
    page = client.post("/carte", data={"csrf_token": _token(client, "/carte"), "network": "mobile",
                                       "geometry": json.dumps(_hole_a_hair_inside())})
    assert page.status_code == 422
    assert ("Deux contours de cette zone sont à moins d'un dixième de millimètre l'un de l'autre"
            in page.get_data(as_text=True).replace("&#39;", "'"))
    assert count_reports(db) == 0


# ---- KML and GPX are WGS 84 by definition (case 11's kind: coordinates of another system) --------

_KML_AT = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           '<Placemark><name>P</name><Point><coordinates>{}</coordinates></Point></Placemark></Document></kml>')
_GPX_AT = ('<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" '
           'xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="{1}" lon="{0}"><name>P</name></wpt></gpx>')


@pytest.mark.parametrize(("template", "name"), [(_KML_AT, "a.kml"), (_GPX_AT, "a.gpx")])
def test_a_kml_or_gpx_with_another_crs_is_refused_and_its_hint_says_to_export_again(
        app, db, admin, template: str, name: str) -> None:  # noqa: ANN001
    """A KML or GPX sent with ``crs=EPSG:31370`` was read as WGS 84 without a word (a GeoPackage
    or a .prj that disagrees is 422 ``unsupported_crs``); one holding Lambert 72 metres was told
    to « declare EPSG:31370 (the crs parameter…) », which gave back the same refusal."""
    wgs84 = template.format("4.4440,50.4108") if name.endswith("kml") else template.format(4.444, 50.4108)
    told = upload_file(admin, wgs84.encode(), name, network="mobile", crs="EPSG:31370", dry_run="true")
    body = told.get_json()
    assert (told.status_code, body["code"], body["kind"], body["where"]) == (
        422, "unsupported_crs", "wgs84_only_format", "crs")
    assert "Un fichier KML ou GPX est toujours en WGS 84" in body["message"]
    if name.endswith("gpx"):
        return  # (a GPX latitude of 122000 is no latitude: invalid_coordinate, its schema's range)
    lambert = template.format("155000,122000")
    (row,) = upload_file(admin, lambert.encode(), name, network="mobile", dry_run="true").get_json()["features"]
    error = row["error"]
    assert (error["code"], error["hint"], error["suggested_crs"], error["wgs84_only"]) == (
        "outside_service_area", "looks_like_lambert72", "EPSG:31370", True)
    assert "export it again in WGS 84" in error["detail"] and "crs parameter" not in error["detail"]
    from geosignal import ui_text

    with app.test_request_context("/"):
        assert "Un fichier KML ou GPX est toujours en WGS 84 (longitude/latitude) : exportez-le" in \
            ui_text.hint_message(error)


# ---- KML and GPX features numbered in file order (case 24's kind: folders and layers) ------------

_IN_FOLDERS = (
    b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
    b"<Placemark><name>Un</name><Point><coordinates>4.4440,50.4108</coordinates></Point></Placemark>"
    b"<Folder><name>F</name><Placemark><name>Deux</name><Point><coordinates>4.4450,50.4108</coordinates></Point>"
    b"</Placemark><Placemark><name>Trois</name></Placemark></Folder>"
    b"<Placemark><name>Quatre</name><Point><coordinates>4.4460,50.4108</coordinates></Point></Placemark>"
    b"</Document></kml>")
_TRACK_FIRST = (
    b'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
    b'<trk><name>Un</name><trkseg><trkpt lat="50.4108" lon="4.4440"/><trkpt lat="50.4118" lon="4.4450"/></trkseg></trk>'
    b'<wpt lat="50.4108" lon="4.4460"><name>Deux</name></wpt>'
    b'<rte><name>Trois</name><rtept lat="50.4100" lon="4.4440"/><rtept lat="50.4100" lon="4.4470"/></rte>'
    b'<wpt lat="50.4128" lon="4.4460"><name>Quatre</name></wpt></gpx>')


@pytest.mark.parametrize(("data", "name"), [(_IN_FOLDERS, "order.kml"), (_TRACK_FIRST, "order.gpx")])
def test_kml_and_gpx_features_are_numbered_in_file_order(app, db, admin, tmp_path, data: bytes, name: str) -> None:  # noqa: ANN001
    """GDAL reads a KML folder by folder (the document's own placemarks apart) and a GPX's
    waypoints, then routes, then tracks: « feature 0 » was the file's second placemark, and
    ``import-reports`` printed the refusals out of the file's order."""
    body = upload_file(admin, data, name, network="mobile", dry_run="true").get_json()
    said = [(f["index"], (f.get("properties") or {}).get("description") or f.get("error", {}).get("name"))
            for f in body["features"]]
    assert said == [(0, "Un"), (1, "Deux"), (2, "Trois"), (3, "Quatre")], said
    if name.endswith("kml"):
        assert (body["features"][2]["status"], body["features"][2]["error"]["where"]) == ("refused", "feature 2")
        path = tmp_path / name
        path.write_bytes(data)
        out = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email,
                                                 "--network", "mobile", "--dry-run"]).output
        assert "feature 2" in out and "'Trois'" in out, out


# ---- one shape written otherwise is one place, in files as through the API (case 36's kind) -----

_ZONE = [[4.440, 50.410], [4.446, 50.410], [4.446, 50.414], [4.440, 50.414], [4.440, 50.410]]
_SPELLINGS = {"polygon": {"type": "Polygon", "coordinates": [_ZONE]},
              "multipolygon": {"type": "MultiPolygon", "coordinates": [[_ZONE]]},
              "vertex on an edge": {"type": "Polygon", "coordinates": [[_ZONE[0], [4.443, 50.410], *_ZONE[1:]]]}}


def _collection(*geometries: dict) -> bytes:
    from tests.factories import feature

    return json.dumps({"type": "FeatureCollection", "features": [
        feature(g, description="zone", households_affected=3) for g in geometries]}).encode()


@pytest.mark.parametrize("spelling", ["multipolygon", "vertex on an edge"])
def test_one_shape_written_otherwise_is_a_repeat_in_a_file_as_through_the_api(db, representative, tmp_path,
                                                                              spelling: str) -> None:  # noqa: ANN001
    """The API's duplicate check takes a Polygon, its MultiPolygon of one part and the same ring
    with a vertex on an edge for one shape (``ST_Equals``); a file's compared written forms:
    sent after the API's report, or beside the Polygon in one file, it was stored again, and a
    copy re-exported by QGIS (a MultiPolygon layer) lost its « saved before » warnings."""

    from tests.factories import count_reports, feature

    other = _SPELLINGS[spelling]
    assert representative.post("/api/v1/reports", json=feature(_SPELLINGS["polygon"], description="zone",
                                                                households_affected=3)).status_code == 201
    after_api = upload_file(representative, _collection(other), "z.geojson").get_json()
    assert (after_api["saved"], [w["code"] for w in after_api["features"][0]["warnings"]]) == (
        0, ["probable_duplicate"])
    in_one_file = upload_file(representative, _collection(_SPELLINGS["polygon"], other), "two.geojson",
                              dry_run="true").get_json()
    assert [[w["code"] for w in f["warnings"]] for f in in_one_file["features"]][1] == ["probable_duplicate"]
    assert count_reports(db) == 1


def test_a_copy_re_exported_as_a_multipolygon_layer_is_saved_before(db, representative, tmp_path) -> None:  # noqa: ANN001
    """QGIS and ``ogr2ogr`` write a polygon layer as MultiPolygon: the copy of a saved file lost
    its ``row_saved_before`` warning, and its corrected copy ``same_place_saved_before``."""
    import geopandas as gpd
    from shapely.geometry import shape
    from sqlalchemy import text

    props = {"network": "mobile", "operators": "Proximus", "issue": "no_coverage", "description": "zone parc"}
    saved = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": _SPELLINGS["polygon"], "properties": {**props, "households_affected": 3}}]}
    assert upload_file(representative, json.dumps(saved).encode(), "z.geojson").get_json()["saved"] == 1
    db.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
    db.execute(text("UPDATE reports SET created_at = created_at - interval '1 day', "
                    "updated_at = updated_at - interval '1 day'"))
    for households, warned in ((3, "row_saved_before"), (30, "same_place_saved_before")):
        gpd.GeoDataFrame({**{k: [v] for k, v in props.items()}, "households_affected": [households]},
                         geometry=[shape(_SPELLINGS["multipolygon"])], crs=4326).to_file(
            tmp_path / f"copy{households}.gpkg", driver="GPKG")
        copy = upload_file(representative, (tmp_path / f"copy{households}.gpkg").read_bytes(), "copy.gpkg",
                           dry_run="true").get_json()
        assert [[w["code"] for w in f.get("warnings", [])] for f in copy["features"]] == [[warned]], copy


def test_a_zone_repaired_on_request_is_stored_on_the_grid_it_is_read_back_on(db, representative) -> None:  # noqa: ANN001
    """A vertex 0.03 mm past the opposite edge, sent with ``repair=true``: the repair kept a
    sliver thinner than 9 decimals, which the read-back check then refused as « valid as sent »
    (the author had asked for a repair). The repaired zone is snapped to that grid: stored,
    and read back valid."""
    import shapely
    from shapely.geometry import shape

    from tests.factories import feature

    ring = [[4.44, 50.41], [4.45, 50.41], [4.45, 50.42], [4.445, 50.41 - 3e-10], [4.44, 50.42], [4.44, 50.41]]
    created = representative.post("/api/v1/reports?repair=true",
                                  json=feature({"type": "Polygon", "coordinates": [ring]}))
    assert created.status_code == 201, created.get_json()
    assert [w["code"] for w in created.get_json()["intake"]["warnings"]] == ["geometry_repaired"]
    read = representative.get(created.headers["Location"]).get_json()
    assert shapely.is_valid(shape(read["geometry"]))
    assert read["properties"]["area_m2"] == pytest.approx(
        created.get_json()["intake"]["warnings"][0]["area_after_m2"], abs=0.1)
