"""File imports through the one intake pipeline: API uploads, previews, all-or-nothing
saving, column mapping, the CLI; and double submission without a key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from geosignal.models import Report
from tests.conftest import CASES, make_account
from tests.factories import count_reports as _count
from tests.factories import feature
from tests.factories import upload_file as _upload

CHARLEROI_POINT = {"type": "Point", "coordinates": [4.4440, 50.4108]}
#: Placemarks in case 24 (two folders, one MultiGeometry kept as one report).
KML_SAVED = 2
CHIMAY_POINT = {"type": "Point", "coordinates": [4.31, 50.05]}


@pytest.mark.parametrize("name", ["22-csv-belgian-excel-cp1252.csv", "22-csv-belgian-excel-utf8-bom.csv"])
def test_belgian_excel_csv_is_imported_with_accents_and_communes(db, admin, name) -> None:
    response = _upload(admin, (CASES / name).read_bytes(), name, network="mobile")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["format"], body["saved"], body["accepted"], body["refused"]) == ("csv", 3, 3, 0)
    by_commune = {f["properties"]["commune_nis"]: f["properties"] for f in body["features"]}
    assert set(by_commune) == {"52055", "52022", "56086"}
    assert by_commune["52055"]["description"] == "Pas de 4G rue de la Station"
    assert by_commune["52055"]["observed_at"] == "2025-03-30T00:00:00+01:00"
    assert by_commune["52022"]["description"] == "Aucun réseau près de l'église"
    assert by_commune["56086"]["description"] == "Zone blanche; chemin agricole"
    assert by_commune["56086"]["observed_at"] is None
    assert by_commune["56086"]["operators"] == ["Telenet/BASE"]
    assert _count(db) == 3


def test_all_or_nothing_then_valid_only(db, representative) -> None:
    collection = {"type": "FeatureCollection", "features": [
        feature(CHARLEROI_POINT, description="ok"),
        feature(CHIMAY_POINT, description="other commune"),
        feature({"type": "Polygon", "coordinates": [[[4.44, 50.41], [4.45, 50.41], [4.45, 50.42]]]}),
    ]}
    data = json.dumps(collection).encode()
    rejected = _upload(representative, data, "zones.geojson")
    assert rejected.status_code == 422
    problem = rejected.get_json()
    assert problem["code"] == "import_rejected"
    assert [f["status"] for f in problem["features"]] == ["accepted", "refused", "refused"]
    assert problem["features"][1]["error"]["code"] == "not_your_commune"
    assert problem["features"][2]["error"]["code"] == "ring_not_closed"
    assert _count(db) == 0

    preview = _upload(representative, data, "zones.geojson", dry_run="true", mode="valid_only")
    assert preview.status_code == 200 and preview.get_json()["saved"] == 0
    assert _count(db) == 0

    kept = _upload(representative, data, "zones.geojson", mode="valid_only")
    assert kept.status_code == 201
    assert (kept.get_json()["saved"], kept.get_json()["refused"]) == (1, 2)
    assert _count(db) == 1


def test_nan_in_csv_names_the_row_and_stores_nothing(db, admin) -> None:
    response = _upload(admin, (CASES / "26-nan-infinity.csv").read_bytes(), "26.csv", network="mobile")
    assert response.status_code == 422
    refused = [f for f in response.get_json()["features"] if f["status"] == "refused"]
    assert [f["error"]["code"] for f in refused] == ["non_finite_number", "non_finite_number"]
    assert [f["error"]["where"] for f in refused] == ["row 2", "row 3"]
    assert _count(db) == 0


def test_kml_with_folders_and_multigeometry(db, admin) -> None:
    response = _upload(admin, (CASES / "24-kml-folders-multigeometry.kml").read_bytes(), "zones.kml",
                       network="mobile", mode="valid_only")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["format"] == "kml"
    assert (body["saved"], body["accepted"], body["refused"]) == (KML_SAVED, KML_SAVED, 0)
    types = {f["geometry"]["type"] for f in body["features"] if f["status"] == "accepted"}
    assert any(t.startswith("Multi") for t in types)
    assert all(len(p) == 2 for f in body["features"] if f["status"] == "accepted"
               for p in _positions(f["geometry"]["coordinates"]))


def _positions(c):  # noqa: ANN001, ANN202
    return [c] if isinstance(c[0], (int, float)) else [p for part in c for p in _positions(part)]


def test_unrecognised_headers_ask_for_a_mapping(db, representative) -> None:
    data = "endroit;coord_n;coord_e;remarque\nCharleroi;50,4108;4,4440;Pas de réseau\n".encode()
    first = _upload(representative, data, "points.csv", network="fixed")
    assert first.status_code == 422
    assert first.get_json()["code"] == "unreadable_file"
    assert first.get_json()["columns"] == ["endroit", "coord_n", "coord_e", "remarque"]
    assert (first.get_json()["reason"], first.get_json()["recognised"]) == ("no_coordinate_columns", {"description": "remarque"})
    named = _upload(representative, "Coord. Nord;Coord. Est;Opérateur;Réseau\n50,41;4,44;Orange;fixe\n".encode(),
                    "points.csv", network="fixed").get_json()
    assert (named["code"], named["reason"], named["recognised"]) == (
        "unreadable_file", "no_coordinate_columns", {"operators": "Opérateur", "network": "Réseau"})
    mapped = _upload(representative, data, "points.csv", network="fixed",
                     column_map=json.dumps({"lat": "coord_n", "lon": "coord_e", "description": "remarque"}))
    assert mapped.status_code == 201, mapped.get_json()
    saved = mapped.get_json()["features"][0]
    assert saved["geometry"]["coordinates"] == pytest.approx([4.4440, 50.4108], abs=1e-9)
    assert saved["properties"]["description"] == "Pas de réseau"
    assert saved["properties"]["network"] == "fixed"


def test_upload_limits_and_bad_requests(db, app, representative) -> None:
    assert representative.post("/api/v1/imports", data={}, content_type="multipart/form-data").get_json()["code"] \
        == "invalid_request"
    unknown = _upload(representative, b"\x00\x01binary", "x.bin")
    assert unknown.status_code == 415 and unknown.get_json()["code"] == "unsupported_format"
    assert _count(db) == 0


def test_cli_import_dry_run_and_save(app, db, admin) -> None:  # noqa: ANN001
    runner = app.test_cli_runner()
    path = str(CASES / "22-csv-belgian-excel-utf8-bom.csv")
    result = runner.invoke(args=["import-reports", path, "--as", "admin@igretec.com", "--network", "mobile", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 accepted, 0 refused, 3 would be saved (dry run)" in result.output
    assert _count(db) == 0
    result = runner.invoke(args=["import-reports", path, "--as", "admin@igretec.com", "--network", "mobile"])
    assert result.exit_code == 0, result.output
    assert "3 saved" in result.output
    assert _count(db) == 3
    again = runner.invoke(args=["import-reports", path, "--as", "admin@igretec.com", "--network", "mobile", "--dry-run"])
    assert again.exit_code == 0 and "warning: file_already_saved: The same file ('22-csv-belgian-excel-utf8-bom.csv'" \
        in again.output, again.output
    nan_case = str(CASES / "26-nan-infinity.csv")
    for extra in (["--dry-run"], []):
        bad = runner.invoke(args=["import-reports", nan_case, "--as", "admin@igretec.com", "--network", "mobile", *extra])
        assert bad.exit_code == 1 and "import_rejected" in bad.output
        assert "row 2: non_finite_number" in bad.output
    assert _count(db) == 3


def test_geosignal_import_reports_runs_without_building_the_app(monkeypatch) -> None:
    """``geosignal import-reports`` (the console command) needs no Flask application: it
    reads the configuration and imports through the same pipeline."""
    from click.testing import CliRunner

    from geosignal import cli
    from geosignal.devdb import scratch_database
    from geosignal.services.users import create_user
    from tests.conftest import COMMUNES_FILE

    def refuse(*_args):  # noqa: ANN202
        raise AssertionError("geosignal import-reports built the Flask application")

    monkeypatch.setattr(cli, "_create_app", refuse)
    with scratch_database("geosignal_cli_import", COMMUNES_FILE) as database:
        with database.session() as session:
            create_user(session, "gis@igretec.com", "admin", None, "correct horse battery")
            session.commit()
        monkeypatch.setenv("GEOSIGNAL_DATABASE_URL", database.engine.url.render_as_string(hide_password=False))
        monkeypatch.setenv("GEOSIGNAL_ENV", "development")
        path = str(CASES / "22-csv-belgian-excel-utf8-bom.csv")
        result = CliRunner().invoke(cli.main, ["import-reports", path, "--as", "gis@igretec.com",
                                               "--network", "mobile"])
        assert result.exit_code == 0, result.output
        assert "3 accepted, 0 refused, 3 saved" in result.output
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Report)) == 3
        missing = CliRunner().invoke(cli.main, ["import-reports", path, "--as", "nobody@example.org"])
        assert missing.exit_code == 1 and "not_found" in missing.output


def test_same_body_twice_without_key_is_one_report(db, representative) -> None:
    body = json.dumps(feature(CHARLEROI_POINT, description="Pas de réseau rue de la Gare"))
    first = representative.post("/api/v1/reports", data=body, content_type="application/geo+json")
    second = representative.post("/api/v1/reports", data=body, content_type="application/geo+json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.get_json()["intake"]["warnings"][-1]["code"] == "probable_duplicate"
    assert _count(db) == 1


def test_an_upload_right_after_a_draft_of_the_same_place_files_it(db, representative) -> None:
    # an upload files reports: the user's draft of the same place and values, filed seconds
    # before, was taken for the row's probable duplicate and the row stored nothing
    draft = feature(CHARLEROI_POINT, description="Brouillon puis fichier", status="draft")
    assert representative.post("/api/v1/reports", data=json.dumps(draft),
                               content_type="application/geo+json").status_code == 201
    row = feature(CHARLEROI_POINT, description="Brouillon puis fichier")
    saved = _upload(representative, json.dumps({"type": "FeatureCollection", "features": [row]}).encode(), "a.geojson")
    assert (saved.status_code, saved.get_json()["saved"]) == (201, 1), saved.get_json()
    assert [w["code"] for w in saved.get_json()["features"][0]["warnings"]] == []
    assert _count(db) == 2


def test_upload_larger_than_the_limit_is_refused(db, app, representative) -> None:
    saved = app.config["MAX_UPLOAD_BYTES"], app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_UPLOAD_BYTES"] = 2000
    try:
        big = json.dumps({"type": "FeatureCollection", "features": [feature(CHARLEROI_POINT)] * 40}).encode()
        assert 2000 < len(big) < app.config["MAX_CONTENT_LENGTH"]
        response = _upload(representative, big, "big.geojson")
        assert response.status_code == 413
        assert response.get_json()["code"] == "payload_too_large"
        assert (response.get_json()["value"], response.get_json()["limit"]) == (len(big), 2000)
        app.config["MAX_CONTENT_LENGTH"] = 1000
        response = _upload(representative, big, "big.geojson")
        assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    finally:
        app.config["MAX_UPLOAD_BYTES"], app.config["MAX_CONTENT_LENGTH"] = saved
    assert _count(db) == 0


def test_case_36_double_submit_with_the_same_key(db, representative) -> None:
    """../shared/cases/36-double-submit.http: the same body posted twice with one key."""
    text = (CASES / "36-double-submit.http").read_text(encoding="utf-8")
    request = text.split("###")[0]
    key = next(line.split(":", 1)[1].strip() for line in request.splitlines() if line.startswith("Idempotency-Key"))
    case_body = json.loads(request.split("\n\n", 1)[1])
    # geosignal requires the network; the case's body predates that field
    case_body["properties"]["network"] = "mobile"
    body = json.dumps(case_body, ensure_ascii=False)
    # the case's report lies in Fleurus: filed by Fleurus's representative
    fleurus = make_account(representative.client, db, "echevin@fleurus.be", "representative", "52021")
    responses = [fleurus.post("/api/v1/reports", data=body, content_type="application/geo+json",
                              headers={"Idempotency-Key": key}) for _ in range(2)]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].get_json()["id"] == responses[1].get_json()["id"]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    assert responses[0].get_json()["properties"]["commune_nis"] == "52021"
    assert _count(db) == 1


def test_the_same_file_twice_in_a_row_saves_once(db, admin) -> None:
    data = (CASES / "22-csv-belgian-excel-utf8-bom.csv").read_bytes()
    first = _upload(admin, data, "a.csv", network="mobile")
    second = _upload(admin, data, "a.csv", network="mobile")
    assert (first.get_json()["saved"], second.get_json()["saved"]) == (3, 0)
    assert [f["created"] for f in second.get_json()["features"]] == [False, False, False]
    assert {f["report_id"] for f in first.get_json()["features"]} == {f["report_id"] for f in second.get_json()["features"]}
    assert _count(db) == 3


@pytest.mark.parametrize(("fields", "query", "named"), [
    ({"dry-run": "true"}, "", "dry-run"),  # the CLI's spelling: the file was saved, not previewed
    ({"colum_map": '{"description": "descr"}'}, "", "colum_map"),
    ({"dry_run": "true", "repiar": "true"}, "", "repiar"),
    ({"dry_run": "true"}, "?modes=valid_only", "modes"),
    ({"dry_run": "true", "file2": (__import__("io").BytesIO(b"{}"), "b.geojson")}, "", "file2"),
])
def test_an_import_field_it_does_not_take_is_refused_not_ignored(db, representative, fields, query, named) -> None:
    import io

    data = json.dumps({"type": "FeatureCollection", "features": [feature(CHARLEROI_POINT)]}).encode()
    before = _count(db)
    response = representative.post("/api/v1/imports" + query, data={"file": (io.BytesIO(data), "a.geojson"), **fields},
                                   content_type="multipart/form-data")
    body = response.get_json()
    assert (response.status_code, body["code"], body["where"] if "where" in body else body.get("pointer")) == \
        (400, "invalid_request", named), body
    assert named in body["detail"] and "dry_run" in body["detail"]
    assert _count(db) == before


def test_the_import_fields_it_takes_are_documented(client) -> None:
    from geosignal.services.imports import IMPORT_FIELDS

    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["properties"]) == {"file", *IMPORT_FIELDS} and schema["additionalProperties"] is False


def test_a_refused_row_carries_what_identifies_it(db, representative) -> None:
    """A refused entry says what the row held, for its author to find it (members added beside
    the error, which is unchanged): its description, a CSV row's coordinate cells (as written
    when the reader refused the row, else the numbers read, by column in file order) and, when
    its shape was built, where it lies (EPSG:4326) for the map."""
    data = ("latitude;longitude;description;reseau\r\n50,4108;4,4440;ici;mobile\r\n"
            "abc;4,4440;Place du Marché;mobile\r\n50,05;4,31;Chemin de Chimay;mobile\r\n"
            "51,5;3,0;En mer;mobile\r\n50,4108;4,4440;sans réseau;\r\n").encode()
    body = _upload(representative, data, "releve.csv", dry_run="true").get_json()
    ok, mistyped, chimay, sea, no_network = body["features"]
    assert "description" not in ok and "coordinates" not in ok
    assert set(mistyped) == {"index", "row", "status", "error", "description", "coordinates"}
    assert mistyped["error"]["code"] == "invalid_coordinate" and "source" not in mistyped["error"]
    assert (mistyped["description"], mistyped["coordinates"]) == (
        "Place du Marché", {"latitude": "abc", "longitude": "4,4440"})
    assert chimay["error"]["code"] == "not_your_commune"
    assert (chimay["description"], chimay["coordinates"], chimay["geometry"]) == (
        "Chemin de Chimay", {"latitude": 50.05, "longitude": 4.31}, {"type": "Point", "coordinates": [4.31, 50.05]})
    assert sea["error"]["code"] == "outside_service_area"
    assert (sea["description"], list(sea["coordinates"]), sea["geometry"]["coordinates"]) == (
        "En mer", ["latitude", "longitude"], [3.0, 51.5])
    assert no_network["error"]["code"] == "invalid_attribute" and no_network["description"] == "sans réseau"
    # Lambert x/y: the numbers as the file gives them, the shape in EPSG:4326
    lambert = b"x;y;description\r\n100000;50000;loin\r\n"
    [far] = _upload(representative, lambert, "l.csv", dry_run="true", crs="EPSG:31370",
                    network="mobile").get_json()["features"]
    assert far["coordinates"] == {"x": 100000.0, "y": 50000.0}
    assert 3 < far["geometry"]["coordinates"][0] < 4
    # refused once placed (in Chimay, not the representative's commune; no network): the
    # position given back in the file's Lambert metres, within a millimetre of the cells
    placed = (b"x;y;description;reseau\r\n145793,02;82082,64;Chimay;mobile\r\n"
              b"155348,97;122214,95;sans r\xc3\xa9seau;\r\n")
    chimay_l, no_network_l = _upload(representative, placed, "p.csv", dry_run="true",
                                     crs="EPSG:31370").get_json()["features"]
    assert (chimay_l["error"]["code"], no_network_l["error"]["code"]) == ("not_your_commune", "invalid_attribute")
    for entry, (x, y) in ((chimay_l, (145793.02, 82082.64)), (no_network_l, (155348.97, 122214.95))):
        assert list(entry["coordinates"]) == ["x", "y"]
        assert entry["coordinates"]["x"] == pytest.approx(x, abs=1e-3)
        assert entry["coordinates"]["y"] == pytest.approx(y, abs=1e-3)
    # another format: the shape read, no coordinate cells
    collection = {"type": "FeatureCollection", "features": [feature(CHIMAY_POINT, description="à Chimay")]}
    [other] = _upload(representative, json.dumps(collection).encode(), "z.geojson",
                      dry_run="true").get_json()["features"]
    assert (other["description"], other["geometry"], "coordinates" in other) == ("à Chimay", CHIMAY_POINT, False)
