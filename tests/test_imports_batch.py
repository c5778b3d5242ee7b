"""Set-wise imports: the batch's home communes agree with ``commune_of`` (PostGIS), a file's
preview and its save give the same per-feature report, the streamed report equals the built
one, and CSV structure faults are refused with their row and column."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint, Point, shape

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.services.communes import commune_of
from geosignal.services.imports import import_file
from geosignal.services.intake import Limits, read_upload
from geosignal.services.intake.batch import home_communes
from geosignal.services.territory import limits_from_config
from tests.conftest import CASES, CHARLEROI, COMMUNES_FILE
from tests.factories import feature
from tests.factories import upload_file as _upload
from tests.test_zones_concurrency import database  # noqa: F401 (a database of its own: real commits)

CHATELET = "52012"


def _shared_vertex(a: str, b: str) -> tuple[float, float]:
    """A vertex of the boundary shared by communes ``a`` and ``b`` (EPSG:4326)."""
    doc = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    geoms = {f["properties"]["nis_code"]: shape(f["geometry"]) for f in doc["features"]}
    common = set(map(tuple, shapely.get_coordinates(geoms[a]))) & set(map(tuple, shapely.get_coordinates(geoms[b])))
    return sorted(common)[len(common) // 2]


def test_home_communes_of_a_batch_agree_with_postgis(db, area) -> None:
    case08 = shape(json.loads((CASES / "08-multipolygon-into-polygon-column.geojson").read_text(
        encoding="utf-8"))["features"][0]["geometry"])
    border = _shared_vertex(CHARLEROI, CHATELET)
    centre = reproject(Point(4.4440, 50.4108), WGS84, LAMBERT72)
    geoms = [
        Point(4.4440, 50.4108),                     # inside Charleroi
        Point(*border),                             # on the Charleroi/Châtelet border: smallest NIS
        case08,                                     # two parts, the larger in Châtelet by 40 m²
        LineString([(4.40, 50.41), (4.60, 50.41)]),  # a road across several communes
        MultiPoint([(4.4440, 50.4108), (4.50, 50.40), (4.51, 50.40)]),
        reproject(centre.buffer(300), LAMBERT72, WGS84),
        Point(4.31, 50.05),                         # Chimay
        Point(3.0, 51.0),                           # outside every commune
        # the decimal midpoint of a Charleroi/Châtelet edge: 3.4e-15° from Charleroi, within
        # BORDER_TOLERANCE_DEG of both, on their border → Charleroi; 5 m inside Châtelet → Châtelet
        Point(4.4976605, 50.3983995),
        Point(4.4976605 + 0.4e-8, 50.3983995 - 0.4e-8),
        Point(4.49770164, 50.39836305),
        MultiPoint([(4.4976605, 50.3983995), (4.49761935, 50.39843596), (4.49770164, 50.39836305)]),
        MultiPoint([(4.4976605, 50.3983995), (4.49770164, 50.39836305)]),
    ]
    got = home_communes(area, np.asarray(geoms, dtype=object))
    expected = [commune_of(db, f"SRID=4326;{g.wkt}") for g in geoms]
    assert list(got.home) == expected
    assert expected[:3] == [CHARLEROI, CHARLEROI, CHATELET] and expected[7] is None
    assert expected[8:] == [CHARLEROI, CHARLEROI, CHATELET, CHARLEROI, CHATELET]
    assert {CHARLEROI, CHATELET} <= set(got.touched)


def _without_ids(features: list[dict]) -> list[dict]:
    out = []
    for f in features:
        f = {k: v for k, v in f.items() if k not in ("report_id", "created")}
        if "properties" in f:  # (when: the moment each was asked for; a save dates its reports when it stores,
            # and gives them their reference and revision: null in the preview)
            f["properties"] = {k: v for k, v in f["properties"].items()
                               if k not in ("reported_at", "updated_at", "reference", "revision")}
        if "warnings" in f:  # a duplicate names the first report: its id exists once saved
            f["warnings"] = [{k: v for k, v in w.items() if k != "report_id"} for w in f["warnings"]]
        out.append(f)
    return out


def test_preview_and_save_of_a_file_agree(db, representative) -> None:
    rows = ["latitude;longitude;operateur;description;date",
            "50,4108;4,4440;Proximus;Pas de 4G;30/03/2025",
            "50,4108;4,4440;Proximus;Pas de 4G;30/03/2025",   # the same row again: a probable duplicate
            "50,05;4,31;Orange;Chimay;",                        # another commune
            "50,4200;4,4300;Base, Orange;Aucun réseau;",
            "50,4200;abc;Base;;"]                               # not a number
    data = ("\r\n".join(rows) + "\r\n").encode("utf-8")
    preview = _upload(representative, data, "c.csv", network="mobile", mode="valid_only", dry_run="true")
    saved = _upload(representative, data, "c.csv", network="mobile", mode="valid_only")
    assert (preview.status_code, saved.status_code) == (200, 201)
    p, s = preview.get_json(), saved.get_json()
    assert _without_ids(p["features"]) == _without_ids(s["features"])
    assert [(f["status"], f.get("error", {}).get("code")) for f in s["features"]] == [
        ("accepted", None), ("accepted", None), ("refused", "not_your_commune"), ("accepted", None),
        ("refused", "invalid_coordinate")]
    assert [f.get("created") for f in s["features"]] == [True, False, None, True, None]
    assert s["features"][1]["report_id"] == s["features"][0]["report_id"]
    # the row said twice names the row stored for both (a spreadsheet's number: the header is row 1)
    assert s["features"][1]["warnings"][-1] == {
        "code": "probable_duplicate", "detail": "identical to row 2 of this file, stored once",
        "report_id": s["features"][0]["report_id"], "first_index": 0, "first_row": 2}
    assert {**p["features"][1]["warnings"][-1], "report_id": None} == {
        "code": "probable_duplicate", "detail": "identical to row 2 of this file, stored once",
        "report_id": None, "first_index": 0, "first_row": 2}
    assert (p["saved"], s["saved"], s["accepted"], s["refused"]) == (0, 2, 3, 2)
    assert [(f["properties"]["reference"] is None, f["properties"]["revision"] is None)
            for f in p["features"] if f["status"] == "accepted"] == [(True, True)] * 3
    assert [(f["properties"]["reference"] is None, f["properties"]["revision"] is None)
            for f in s["features"] if f["status"] == "accepted"] == [(False, False)] * 3
    assert s["features"][3]["properties"]["operators"] == ["Telenet/BASE", "Orange"]
    # a CSV row found in another commune at import is named as a spreadsheet shows it (was "feature 2")
    assert s["features"][2]["error"]["where"] == "row 4" and s["features"][2]["error"]["commune_nis"] == "56016"


def test_reports_come_gzipped_to_a_client_that_accepts_it(db, representative) -> None:
    import gzip

    rows = ["latitude;longitude;operateur;description;date"] + [
        f"50,{4100 + k:04d};4,4440;Proximus;Pas de 4G n° {k};30/03/2025" for k in range(300)]
    data = ("\r\n".join(rows) + "\r\n").encode("utf-8")
    plain = _upload(representative, data, "c.csv", network="mobile", dry_run="true")
    form = {"file": (io.BytesIO(data), "c.csv"), "network": "mobile", "dry_run": "true"}
    packed = representative.post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                 headers={"Accept-Encoding": "gzip, deflate, br"})
    assert (plain.status_code, packed.status_code) == (200, 200)
    assert plain.headers.get("Content-Encoding") is None and "Accept-Encoding" in plain.headers["Vary"]
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    body = packed.get_data()
    assert len(body) < len(plain.get_data()) / 5
    document = json.loads(gzip.decompress(body))
    assert document == plain.get_json() and document["accepted"] == 300 and len(document["features"]) == 300
    form = {"file": (io.BytesIO(data), "c.csv"), "network": "mobile"}
    saved = representative.post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                headers={"Accept-Encoding": "gzip"})
    assert saved.status_code == 201 and saved.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(saved.get_data()))["saved"] == 300
    # gzip named with quality 0 is refused (RFC 9110 §12.5.3): the body comes as it is
    for refusing in ("gzip;q=0, identity", "*;q=0, identity"):
        form = {"file": (io.BytesIO(data), "c.csv"), "network": "mobile", "dry_run": "true"}
        as_is = representative.post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                     headers={"Accept-Encoding": refusing})
        assert as_is.headers.get("Content-Encoding") is None and as_is.get_json()["accepted"] == 300, refusing


@pytest.mark.parametrize("partition", [5000, 2])
def test_a_file_previewed_again_names_the_reports_just_saved_with_their_properties(
        db, representative, monkeypatch, partition) -> None:
    """The duplicate check reads the recent reports and the stored properties in partitions
    (a server-side cursor): with partitions of 2 rows, 5 reports span three of them."""
    from geosignal.services import imports

    monkeypatch.setattr(imports, "_PARTITION", partition)
    rows = ["latitude;longitude;operateur;description;date",
            "50,4108;4,4440;Proximus;Pas de 4G;30/03/2025",
            "50,4200;4,4300;Base, Orange;Aucun réseau;"] + [
            f"50,{4300 + k:04d};4,4300;Orange;Point {k};" for k in range(3)]
    data = ("\r\n".join(rows) + "\r\n").encode("utf-8")
    saved = _upload(representative, data, "c.csv", network="mobile")
    again = _upload(representative, data, "c.csv", network="mobile", dry_run="true")  # within seconds
    assert (saved.status_code, again.status_code) == (201, 200)
    assert (saved.get_json()["saved"], again.get_json()["accepted"]) == (5, 5)
    for first, second in zip(saved.get_json()["features"], again.get_json()["features"], strict=True):
        (warning,) = [w for w in second["warnings"] if w["code"] == "probable_duplicate"]
        assert warning["report_id"] == first["report_id"]
        stored = representative.get(f"/api/v1/reports/{first['report_id']}").get_json()
        assert second["properties"] == stored["properties"]  # the stored report's, as the API shows it
        assert second["geometry"] == first["geometry"]


def test_streamed_report_equals_the_built_one(db, app, representative, area) -> None:
    from geosignal.models import User

    zone = reproject(reproject(Point(4.4440, 50.4108), WGS84, LAMBERT72).buffer(200), LAMBERT72, WGS84)
    collection = {"type": "FeatureCollection", "features": [
        feature({"type": "Point", "coordinates": [4.4440, 50.4108]}, description="l'église", network="mobile"),
        feature(json.loads(json.dumps(shapely.geometry.mapping(zone))), network="fixed", technologies=["fibre"],
                households_affected=3),
        feature({"type": "Point", "coordinates": [4.4440, 50.4108]}, description="l'église", network="mobile"),
        feature({"type": "Point", "coordinates": [4.31, 50.05]}, network="mobile"),
    ]}
    user = db.query(User).filter_by(email=representative.email).one()
    # the point said twice (features 0 and 2) is the file's feature 0 until it is stored, then the stored report
    in_file, stored = "identical to feature 0 of this file, stored once", "identical to a report filed seconds ago"
    for dry_run, said in ((True, in_file), (False, in_file), (True, stored)):  # the last: all probable duplicates
        outcome = import_file(db, user, json.dumps(collection).encode(), "z.geojson", area=area,
                              limits=limits_from_config(app.config), mode="valid_only", dry_run=dry_run)
        assert json.loads("".join(outcome.iter_json())) == json.loads(json.dumps(outcome.to_dict()))
        assert [w["detail"] for w in outcome.features[2]["warnings"] if w["code"] == "probable_duplicate"] == [said]
    assert [w["code"] for e in outcome.features[:3] for w in e["warnings"]] == ["probable_duplicate"] * 3
    assert len(outcome.existing) == 2  # the point (twice in the file) and the zone, as stored
    zone_entry = outcome.features[1]
    assert zone_entry["properties"]["area_m2"] == pytest.approx(np.pi * 200 ** 2, rel=2e-3)
    assert zone_entry["properties"]["households_affected"] == 3


def test_streamed_report_of_every_shape_across_chunks(db, app, representative, area, monkeypatch) -> None:
    """Polygons (one with a hole) are built together from one ragged array, the other types
    one by one, and the streamed report writes geometries a chunk at a time: every shape
    comes back as sent, in file order, across chunk boundaries."""
    from geosignal.models import User
    from geosignal.services import imports

    monkeypatch.setattr(imports, "_JSON_CHUNK", 2)
    x, y = reproject(Point(4.4440, 50.4108), WGS84, LAMBERT72).coords[0]

    def wgs84(g):  # noqa: ANN001, ANN202
        return reproject(g, LAMBERT72, WGS84)

    def square(x0: float, y0: float, side: float) -> shapely.Polygon:
        return shapely.box(x0, y0, x0 + side, y0 + side)

    holed = shapely.Polygon(square(x, y, 400).exterior, [square(x + 150, y + 150, 100).exterior.coords[::-1]])
    shapes = [
        wgs84(holed),                                                        # 400 m square, 100 m hole
        wgs84(Point(x + 900, y)),
        wgs84(shapely.MultiPolygon([square(x, y + 600, 200), square(x + 300, y + 600, 100)])),
        wgs84(LineString([(x, y - 500), (x + 700, y - 450)])),
        wgs84(square(x - 800, y, 250)),
        wgs84(MultiPoint([(x - 300, y - 300), (x - 350, y - 320)])),
        wgs84(square(x - 800, y - 800, 300)),
    ]
    collection = {"type": "FeatureCollection", "features": [
        feature(json.loads(shapely.to_geojson(g)), description=f"forme {k}") for k, g in enumerate(shapes)]}
    user = db.query(User).filter_by(email=representative.email).one()
    outcome = import_file(db, user, json.dumps(collection).encode(), "shapes.geojson", area=area,
                          limits=limits_from_config(app.config), dry_run=True)
    streamed = json.loads("".join(outcome.iter_json()))
    assert streamed == json.loads(json.dumps(outcome.to_dict()))
    assert (streamed["accepted"], streamed["refused"]) == (7, 0)
    got = [shape(f["geometry"]) for f in streamed["features"]]
    assert [g.geom_type for g in got] == [g.geom_type for g in shapes]
    assert all(a.equals(b) for a, b in zip(got, shapes, strict=True))
    assert len(got[0].interiors) == 1
    areas = [f["properties"]["area_m2"] for f in streamed["features"]]
    # 400² − 100², 200² + 100², 250², 300² (m², EPSG:31370; rounded to 0.1 m² by the contract)
    assert [areas[k] for k in (0, 2, 4, 6)] == pytest.approx([150_000, 50_000, 62_500, 90_000], abs=0.1)
    assert [f["properties"]["description"] for f in streamed["features"]] == [f"forme {k}" for k in range(7)]


def test_streamed_report_names_each_row_s_commune(db, app, client, area) -> None:
    """Rows sharing their values but lying in different communes: the properties written once
    per combination of values carry each row's own commune (NIS code and name)."""
    from geosignal.models import User
    from tests.conftest import make_account

    make_account(client, db, "admin@igretec.com", "admin")
    user = db.query(User).filter_by(email="admin@igretec.com").one()
    rows = ["latitude;longitude;operateur;description",
            "50,4108;4,4440;Proximus;Pas de 4G",    # Charleroi
            "50,05;4,31;Proximus;Pas de 4G",        # Chimay
            "50,4108;4,4440;Proximus;Pas de 4G",    # Charleroi again: a duplicate of the first
            "50,3920;4,5140;Proximus;Pas de 4G"]    # Châtelet
    outcome = import_file(db, user, ("\n".join(rows) + "\n").encode(), "c.csv", area=area,
                          limits=limits_from_config(app.config), default_network="mobile", dry_run=True)
    streamed = json.loads("".join(outcome.iter_json()))
    assert streamed == json.loads(json.dumps(outcome.to_dict()))
    assert [(f["properties"]["commune_nis"], f["properties"]["commune_name"]) for f in streamed["features"]] == [
        (CHARLEROI, "Charleroi"), ("56016", "Chimay"), (CHARLEROI, "Charleroi"), (CHATELET, "Châtelet")]


def test_refused_rows_are_kept_without_their_tracebacks(area) -> None:
    """A refusal is kept as its error alone: a 10 MB file of refused rows would otherwise hold
    the frames of every row's failure until the end of the upload."""
    text = "latitude;longitude;description\n50,41;abc;a\n50,42;4,45;b\n;;c\n50,43;1e999;d\n"
    result = read_upload(text.encode("utf-8"), "f.csv", area=area, limits=Limits())
    errors = [r for r in result if isinstance(r, GeosignalError)]
    assert [(e.code, e.where) for e in errors] == [
        ("invalid_coordinate", "row 2"), ("empty_geometry", "row 4"), ("non_finite_number", "row 5")]
    assert [(e.__traceback__, e.__context__, e.__cause__) for e in errors] == [(None, None, None)] * 3
    # refused by the batch's geometry checks (raised there, put in place by finish_items)
    bowtie = 'wkt;description\n"POLYGON((4.44 50.41, 4.45 50.42, 4.45 50.41, 4.44 50.42, 4.44 50.41))";a\n'
    [refused] = read_upload(bowtie.encode("utf-8"), "f.csv", area=area, limits=Limits())
    assert (refused.code, refused.where, refused.__traceback__, refused.__context__) == (
        "self_intersection", "row 2", None, None)
    # the message is made when asked for (no copy held per row), from where the error now is
    assert [e.args for e in errors] == [()] * 3
    assert str(errors[0]) == "invalid_coordinate: Column 'longitude' holds 'abc', not a number. (at row 2)"
    assert repr(errors[1]) == "GeosignalError('empty_geometry', 'The row has no coordinates.', where='row 4')"
    assert errors[2].to_problem()["type"] == "urn:geosignal:error:non_finite_number"


# --------------------------------------------------------------------------- CSV structure

def _csv_error(text: str, area) -> GeosignalError:  # noqa: ANN001
    with pytest.raises(GeosignalError) as caught:
        read_upload(text.encode("utf-8"), "f.csv", area=area, limits=Limits())
    return caught.value


def test_csv_duplicate_header(area) -> None:
    err = _csv_error("latitude;longitude;description;Description;description\n50,41;4,44;a;b;c\n", area)
    assert (err.code, err.status, err.where) == ("duplicate_header", 422, "row 1")
    assert (err.extra["column"], err.extra["column_number"], err.extra["first_column_number"]) == ("description", 5, 3)


def test_csv_unterminated_quote_names_where_it_opened(area) -> None:
    text = 'latitude;longitude;description\n50,41;4,44;ok\n50,42;4,45;"Pas de réseau\n50,43;4,46;ok\n'
    err = _csv_error(text, area)
    assert (err.code, err.status, err.where) == ("unterminated_quote", 422, "row 3")
    assert (err.extra["column"], err.extra["column_number"]) == ("description", 3)
    # far from the end, the swallowed text is also too long: the open quote is still named
    long = text + "".join(f"50,4{k % 10};4,45;suite {k}\n" for k in range(2000))
    err = _csv_error(long, area)
    assert (err.code, err.where, err.extra["column"]) == ("unterminated_quote", "row 3", "description")
    # a quoted field with a line break, closed, is fine
    ok = read_upload(b'latitude;longitude;description\n50,41;4,44;"deux\nlignes"\n', "f.csv", area=area)
    assert ok[0].properties["description"] == "deux\nlignes"


def test_csv_over_long_field(area) -> None:
    err = _csv_error("latitude;longitude;description\n50,41;4,44;ok\n50,42;4,45;" + "x" * 10_001 + "\n", area)
    assert (err.code, err.status, err.where) == ("field_too_long", 422, "row 3")
    assert (err.extra["column"], err.extra["column_number"], err.extra["value"], err.extra["limit"]) == \
        ("description", 3, 10_001, 10_000)
    # a quote opened and closed 3 rows later: one field swallowing rows
    swallowed = ('latitude;longitude;description\n50,41;4,44;"a\n' + "y" * 6000 + "\n" + "z" * 6000 + '"\n')
    err = _csv_error(swallowed, area)
    assert (err.code, err.where, err.extra["column"]) == ("field_too_long", "row 2", "description")


def test_csv_structure_errors_through_the_api(db, representative) -> None:
    from sqlalchemy import func, select

    from geosignal.models import Report

    response = _upload(representative, b"latitude;longitude;latitude\n50,41;4,44;50,41\n", "d.csv", network="mobile")
    assert response.status_code == 422
    assert {k: response.get_json()[k] for k in ("code", "where", "column", "column_number")} == \
        {"code": "duplicate_header", "where": "row 1", "column": "latitude", "column_number": 3}
    assert db.scalar(select(func.count()).select_from(Report)) == 0



def test_a_slow_save_sent_again_meanwhile_is_stored_once(database, monkeypatch) -> None:  # noqa: ANN001, F811
    """A save reads and checks its file before it takes the user's save lock; its reports were
    dated from its transaction's start. The same file sent again while the first was still
    storing waited on the lock, then looked for duplicates filed within the window before it
    began: a first save that had read for longer than the window was out of it, and every
    report was stored twice. (The window is made 2 s here; it is 10 s.)"""
    import threading
    import time

    from sqlalchemy import text

    from geosignal.services import imports
    from geosignal.services.territory import service_area
    from tests.factories import square_lambert, to_geojson_4326
    from tests.test_zones_concurrency import _admin, _clear

    monkeypatch.setattr(imports, "DUPLICATE_WINDOW_S", 2)
    _clear(database)
    zones = [feature(to_geojson_4326(square_lambert(152_000 + 130 * k, 119_000, 100)), description=f"z{k}")
             for k in range(3)]
    data = json.dumps({"type": "FeatureCollection", "features": zones}).encode()
    locked, saved = threading.Event(), {}

    def first() -> None:
        with database.session() as session:
            admin = _admin(session)  # the request's first reads: its transaction begins
            area = service_area(session, {})
            time.sleep(2.5)  # a large file read and checked, for longer than the window

            def storing(done: int, total: int) -> None:
                if done == total:
                    locked.set()
                    time.sleep(1)  # still storing, under the save lock

            saved["first"] = import_file(session, admin, data, "z.geojson", area=area, limits=Limits(),
                                         progress=storing).saved
            session.commit()

    def second() -> None:
        assert locked.wait(30)
        with database.session() as session:  # sent again: it waits on the save lock
            saved["second"] = import_file(session, _admin(session), data, "z.geojson",
                                          area=service_area(session, {}), limits=Limits()).saved
            session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with database.session() as session:
        assert session.scalar(text("SELECT count(*) FROM reports")) == 3
    assert saved == {"first": 3, "second": 0}
