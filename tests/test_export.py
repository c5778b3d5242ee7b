"""The DWconnect export: schema, RFC 7946 after rounding, incremental paging while reports
change, recorded runs that download again byte for byte, CSV, GeoPackage and the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import uuid
from pathlib import Path

import jsonschema
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, shape
from sqlalchemy import select, text, update

from geosignal.models import ExportRun, Report, ReportFeature
from geosignal.services import export as export_service
from tests.conftest import CHARLEROI, ROOT, owner_only
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.geojson_checks import assert_rfc7946_collection, positions

X0, Y0 = CHARLEROI_LAMBERT72
SCHEMA_FILE = ROOT / "data" / "dwconnect-export.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_FILE.read_text(encoding="utf-8")), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
EXPORT = "/api/v1/exports/dwconnect"


def strict_json(data: bytes) -> dict:
    """Parse JSON refusing NaN/Infinity (Python's json accepts them by default)."""
    def refuse(name: str) -> None:
        raise AssertionError(f"non-finite number {name} in export")
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def assert_export_valid(doc: dict) -> None:
    """Schema, RFC 7946, ≤ 6 decimals, valid geometries, no empty geometry."""
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert_rfc7946_collection(doc)
    for f in doc["features"]:
        geom = shape(f["geometry"])
        assert not geom.is_empty and geom.is_valid, (f["id"], shapely.is_valid_reason(geom))
        for lon, lat in positions(f["geometry"]["coordinates"]):
            assert round(lon, 6) == lon and round(lat, 6) == lat


def post(account, geometry: dict, **props) -> str:
    response = account.post("/api/v1/reports", data=json.dumps(feature(geometry, **props)),
                            content_type="application/geo+json")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def validate_all(db) -> None:
    db.execute(update(Report).values(status="validated"))
    db.commit()


def export(account, query: str = "") -> tuple[dict, object]:
    response = account.get(f"{EXPORT}{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return strict_json(response.get_data()), response


# --------------------------------------------------------------------------- contents


def test_schema_file_is_the_generated_schema_and_a_valid_2020_12_schema() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == export_service.export_schema(), "regenerate data/dwconnect-export.schema.json"
    jsonschema.Draft202012Validator.check_schema(on_disk)
    assert on_disk["$id"].endswith(":" + export_service.SCHEMA_VERSION)
    assert on_disk["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_export_carries_the_documented_properties_and_no_personal_data(db, representative, referent) -> None:
    zone = Polygon(square_lambert(X0 - 1500, Y0 - 1500, 600).exterior.coords,
                   [square_lambert(X0 - 1400, Y0 - 1400, 100).exterior.coords])
    ids = {
        "point": post(representative, to_geojson_4326(Point(X0, Y0)), households_affected=12,
                      observed_at="2026-03-29T01:30:00Z", description="Rue de l'Église ; « café »"),
        "line": post(representative, to_geojson_4326(LineString([(X0, Y0 + 10), (X0 + 500, Y0 + 310)]))),
        "zone": post(representative, to_geojson_4326(zone), businesses_affected=3),
    }
    validate_all(db)
    doc, response = export(referent)
    assert response.headers["Content-Type"] == "application/geo+json; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert_export_valid(doc)
    assert doc["schema_version"] == export_service.SCHEMA_VERSION and doc["source"] == "geosignal"
    assert doc["numberReturned"] == 3 and doc["excluded"] == []
    assert doc["next_since"] == response.headers["X-Next-Since"]
    by_id = {f["id"]: f for f in doc["features"]}
    assert set(by_id) == set(ids.values())
    point = by_id[ids["point"]]["properties"]
    assert list(point) == list(export_service.PROPERTY_NAMES)
    assert point["report_id"] == ids["point"]
    assert (point["commune_nis"], point["commune_name"]) == (CHARLEROI, "Charleroi")
    assert point["network"] == "mobile" and point["technologies"] == ["4G"] and point["operators"] == ["Proximus"]
    assert point["households_affected"] == 12 and point["businesses_affected"] is None
    assert point["description"] == "Rue de l'Église ; « café »"
    assert point["observed_at"] == "2026-03-29T03:30:00+02:00"  # Brussels time, after the DST switch
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+0[12]:00", point["reported_at"])
    assert point["status"] == "validated" and point["geometry_kind"] == "point"
    assert point["area_m2"] is None and point["length_m"] is None and point["merged_reports"] == 1
    assert (point["reporter_role"], point["reporter_commune_nis"]) == ("representative", CHARLEROI)
    line = by_id[ids["line"]]["properties"]
    assert line["geometry_kind"] == "line" and line["length_m"] == pytest.approx(math.hypot(500, 300), abs=0.5)
    zone_f = by_id[ids["zone"]]
    assert zone_f["properties"]["area_m2"] == pytest.approx(600 * 600 - 100 * 100, rel=0.001)
    assert zone_f["properties"]["businesses_affected"] == 3
    assert len(zone_f["geometry"]["coordinates"]) == 2  # the hole survives, clockwise (checked above)
    body = response.get_data()
    assert representative.email.encode() not in body and b"echevin" not in body


def test_ring_that_breaks_when_rounded_is_repaired_and_a_collapsed_zone_is_reported(db, referent) -> None:
    lon0, lat0 = 4.4400001, 50.4100001  # off the 1e-6 grid on purpose
    d = 0.002
    exterior = [(lon0, lat0), (lon0 + d, lat0), (lon0 + d, lat0 + d), (lon0, lat0 + d), (lon0, lat0)]
    # a hole 3e-7° (≈ 2 cm) inside the west edge: rounded to 6 decimals it touches the exterior
    # along a segment, which makes the polygon invalid
    hole = [(lon0 + 3e-7, lat0 + 0.0005), (lon0 + 0.0008, lat0 + 0.0005), (lon0 + 0.0008, lat0 + 0.0012),
            (lon0 + 3e-7, lat0 + 0.0012), (lon0 + 3e-7, lat0 + 0.0005)]
    holed = Polygon(exterior, [hole])
    assert holed.is_valid
    naive = Polygon([(round(x, 6), round(y, 6)) for x, y in exterior], [[(round(x, 6), round(y, 6)) for x, y in hole]])
    assert not naive.is_valid  # what plain 6-decimal rounding would write
    # a sliver 2e-7° wide: nothing of it survives the 1e-6° grid
    sliver = Polygon([(lon0, lat0 - 0.001), (lon0 + 0.003, lat0 - 0.001), (lon0 + 0.003, lat0 - 0.001 + 2e-7),
                      (lon0, lat0 - 0.001 + 2e-7), (lon0, lat0 - 0.001)])
    assert sliver.is_valid and not sliver.is_empty
    rows = {}
    for name, geom in (("holed", holed), ("sliver", sliver)):
        report = Report(id=uuid.uuid4(), geometry=f"SRID=4326;{geom.wkt}", commune_nis=CHARLEROI,
                        network="mobile", status="validated")
        db.add(report)
        rows[name] = str(report.id)
    db.commit()
    doc, response = export(referent)
    assert_export_valid(doc)
    assert [f["id"] for f in doc["features"]] == [rows["holed"]]
    assert doc["excluded"] == [{"id": rows["sliver"], "reason": "geometry_collapsed_when_rounded"}]
    written = shape(doc["features"][0]["geometry"])
    assert written.is_valid
    # the repair moves the boundary by at most a grid step: the area is kept within 0.1 %
    assert written.area == pytest.approx(holed.area, rel=1e-3)
    run = db.get(ExportRun, uuid.UUID(response.headers["X-Export-Run"]))
    assert (run.feature_count, run.excluded_count) == (1, 1)


# --------------------------------------------------------------------------- incremental


def test_a_draft_is_never_exported(db, representative, referent) -> None:  # noqa: ANN001
    # a referent's trial: "All statuses" carried the commune's draft to DWconnect
    sent = post(representative, to_geojson_4326(Point(X0, Y0)), description="envoyé")
    draft = post(representative, to_geojson_4326(Point(X0 + 300, Y0)), description="brouillon", status="draft")
    assert db.get(Report, uuid.UUID(draft)).status == "draft"
    for query in ("?status=all", "?status=all&since=seq:0"):
        doc, _ = export(referent, query)
        assert [f["id"] for f in doc["features"]] == [sent]
    csv_text = referent.get(f"{EXPORT}.csv?status=all").get_data(as_text=True)
    assert "envoyé" in csv_text and "brouillon" not in csv_text
    refused = referent.get(f"{EXPORT}?status=draft")
    assert refused.status_code == 400
    assert (refused.get_json()["code"], refused.get_json()["where"]) == ("invalid_request", "status")
    assert "draft" not in refused.get_json()["allowed"]
    # submitted later, it is exported like any other
    db.execute(update(Report).where(Report.id == uuid.UUID(draft)).values(status="submitted"))
    db.commit()
    doc, _ = export(referent, "?status=all")
    assert sorted(f["id"] for f in doc["features"]) == sorted([sent, draft])


def test_a_cursor_geosignal_did_not_give_is_refused(db, representative, referent) -> None:  # noqa: ANN001
    """The cursor is [after, change_seq, seq, filters' key], base64 JSON, not signed: one made
    up with a watermark ahead of every change recorded a run whose ``next_since`` lay past
    reports not yet sent (a marked run then hid them). A watermark above the current one, or a
    position past the cursor's own watermark, is 400 at ``cursor``; the real one goes on."""
    import base64

    [post(representative, to_geojson_4326(Point(X0 + 40 * i, Y0 + 900))) for i in range(3)]
    validate_all(db)
    doc, _ = export(referent, "?limit=2")
    after, change_seq, seq, key = json.loads(base64.urlsafe_b64decode(doc["next_cursor"] + "=="))

    def made_up(*values: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")

    for values in ((after, 10**12, seq, key), (after, change_seq, 10**12, key), (seq + 1, change_seq, seq, key)):
        refused = referent.post(f"{EXPORT}?limit=2&mark_transmitted=true&cursor={made_up(*values)}")
        assert refused.status_code == 400, values
        assert (refused.get_json()["code"], refused.get_json()["where"]) == ("invalid_request", "cursor")
    assert db.scalar(text("SELECT count(*) FROM export_runs WHERE transmitted_at IS NOT NULL")) == 0
    page, _ = export(referent, f"?limit=2&cursor={made_up(after, change_seq, seq, key)}")
    assert len(page["features"]) == 1 and page["next_since"] == doc["next_since"]


def test_paging_neither_skips_nor_repeats_while_reports_change(db, representative, referent) -> None:
    ids = [post(representative, to_geojson_4326(Point(X0 + 40 * i, Y0)), description=f"v1 #{i}") for i in range(7)]
    validate_all(db)
    seen: list[dict] = []
    doc, _ = export(referent, "?status=all&limit=3")
    seen += doc["features"]
    assert [f["id"] for f in doc["features"]] == ids[:3]
    next_since = doc["next_since"]
    # between pages: a new report, a change to a report already sent, one to a report not yet sent
    new_id = post(representative, to_geojson_4326(Point(X0 - 500, Y0 - 500)), description="new")
    for rid, new_text in ((ids[1], "v2 sent"), (ids[5], "v2 unsent")):
        db.execute(update(Report).where(Report.id == uuid.UUID(rid)).values(description=new_text))
    db.commit()
    cursor = doc["next_cursor"]
    while cursor:
        doc, _ = export(referent, f"?status=all&limit=3&cursor={cursor}")
        assert doc["next_since"] == next_since  # one pass, one watermark
        seen += doc["features"]
        cursor = doc.get("next_cursor")
    pass_ids = [f["id"] for f in seen]
    assert pass_ids == ids, "each report of the pass exactly once, in insertion order"
    by_id = {f["id"]: f for f in seen}
    assert by_id[ids[5]]["properties"]["description"] == "v2 unsent"  # latest state when its page was read
    assert by_id[ids[1]]["properties"]["description"] == "v1 #1"  # sent before it changed
    # the next pass carries exactly what changed after the watermark, in its latest state
    doc, _ = export(referent, f"?status=all&since={next_since}")
    assert sorted(f["id"] for f in doc["features"]) == sorted([ids[1], ids[5], new_id])
    latest = {f["id"]: f["properties"]["description"] for f in doc["features"]}
    assert latest == {ids[1]: "v2 sent", ids[5]: "v2 unsent", new_id: "new"}
    # applying both passes as upserts gives the database's current state
    state = {f["id"]: f["properties"]["description"] for f in seen}
    state.update(latest)
    current = dict(db.execute(select(Report.id, Report.description)).all())
    assert state == {str(k): v for k, v in current.items()}
    # nothing changed since: the pass after is empty
    doc2, _ = export(referent, f"?status=all&since={doc['next_since']}")
    assert doc2["features"] == []


def test_watermark_counts_changes_of_this_transaction_and_revisions_increase(db, representative, referent) -> None:
    rid = post(representative, to_geojson_4326(Point(X0, Y0)))
    first = db.scalar(select(Report.change_seq).where(Report.id == uuid.UUID(rid)))
    db.execute(update(Report).where(Report.id == uuid.UUID(rid)).values(status="validated"))
    second = db.scalar(select(Report.change_seq).where(Report.id == uuid.UUID(rid)))
    assert second > first
    mark = export_service.read_watermark(db)
    assert mark.change_seq >= second


def test_filters_commune_bbox_since_and_status(db, representative, referent) -> None:
    a = post(representative, to_geojson_4326(Point(X0, Y0)))
    b = post(representative, to_geojson_4326(Point(X0 + 3000, Y0 + 3000)))
    validate_all(db)
    lon, lat = 4.4440, 50.4108
    doc, _ = export(referent, f"?bbox={lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}")
    assert [f["id"] for f in doc["features"]] == [a]
    assert {f["id"] for f in export(referent, f"?commune={CHARLEROI}")[0]["features"]} == {a, b}
    assert export(referent, "?commune=56016")[0]["features"] == []
    assert export(referent, "?status=submitted")[0]["features"] == []
    assert len(export(referent, "?status=submitted,validated")[0]["features"]) == 2
    assert len(export(referent, "?since=2000-01-01T00:00:00%2B01:00")[0]["features"]) == 2
    assert export(referent, "?since=2999-01-01T00:00:00Z")[0]["features"] == []
    for query, where in (("?status=lost", "status"), ("?bbox=1,2,3", "bbox"), ("?since=yesterday", "since"),
                         ("?since=2026-01-01T00:00:00", "since"), ("?limit=0", "limit"),
                         ("?cursor=bad", "cursor"), ("?dialect=plain&decimal=comma", "decimal")):
        url = f"{EXPORT}.csv{query}" if "dialect" in query else f"{EXPORT}{query}"
        response = referent.get(url)
        assert response.status_code == 400, query
        assert response.get_json()["code"] == "invalid_request" and response.get_json()["where"] == where
    assert representative.get(EXPORT).status_code == 403


@pytest.mark.parametrize(("offset", "count"), [("%2B16:00", 2), ("-23:59", 0), ("%2B01:00:30.5", 2),
                                              ("%2B14:00", 2)])
def test_since_with_an_offset_postgresql_does_not_read_is_the_same_instant(db, representative, referent, offset,
                                                                         count) -> None:
    # Python reads +16:00, -23:59 or +01:00:30.5; PostgreSQL's text input refuses them: the
    # GeoJSON export answered 200, then broke mid-stream (a truncated document, no run)
    post(representative, to_geojson_4326(Point(X0, Y0)))
    post(representative, to_geojson_4326(Point(X0 + 3000, Y0 + 3000)))
    validate_all(db)
    day = db.scalar(text("SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM reports"))
    # the reports were changed today (UTC): since today 00:30 at +16:00 (08:30 the day before,
    # UTC) or at +01:00:30.5 (23:29:29.5 the day before) gives both, at -23:59 (00:29 the next
    # day, UTC) neither — whatever the hour the test runs (at 12:00, +01:00:30.5 was 10:59 UTC:
    # the test failed before 11:00 UTC)
    since = f"{day}T00:30:00{offset}"
    for suffix in ("", ".csv"):
        response = referent.get(f"{EXPORT}{suffix}?since={since}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        body = response.get_data(as_text=True)
        rows = len(json.loads(body)["features"]) if not suffix else body.count("\r\n") - 1
        assert rows == count, (suffix, body[:300])
    run = referent.get("/api/v1/exports/runs?limit=1").get_json()["runs"][0]
    assert run["filters"]["since"].endswith("+00:00")  # recorded as the same instant, in UTC
    # an instant beyond the year 9999 in UTC is a malformed parameter, not a database error
    response = referent.get(f"{EXPORT}?since=9999-12-31T23:00:00-10:00")
    assert (response.status_code, response.get_json()["code"], response.get_json()["where"]) == (
        400, "invalid_request", "since")


def test_ogc_datetime_with_an_offset_postgresql_does_not_read_is_answered(client) -> None:
    for moment in ("2025-03-01T10:00:00%2B16:00", "2025-03-01T10:00:00-23:59/.."):
        response = client.get(f"/ogc/collections/white-zones/items?datetime={moment}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    # (an offset with seconds is no RFC 3339 date-time: 400, as the OGC datetime says)
    assert client.get("/ogc/collections/white-zones/items?datetime=2025-03-01T10:00:00%2B01:00:30.5").status_code \
        == 400
    response = client.get("/ogc/collections/white-zones/items?datetime=9999-12-31T23:00:00-10:00")
    assert (response.status_code, response.get_json()["code"]) == (400, "invalid_request")


# --------------------------------------------------------------------------- history


def test_runs_are_recorded_marked_transmitted_and_download_identical(db, client, representative, referent) -> None:
    rid = post(representative, to_geojson_4326(Point(X0, Y0)))
    validate_all(db)
    response = referent.post(f"{EXPORT}?mark_transmitted=true")
    body = response.get_data()
    run_id = response.headers["X-Export-Run"]
    runs = referent.get("/api/v1/exports/runs").get_json()["runs"]
    assert [r["id"] for r in runs] == [run_id]
    run = runs[0]
    assert run["actor"] == referent.email and run["channel"] == "api" and run["format"] == "geojson"
    assert run["feature_count"] == 1 and run["byte_count"] == len(body) and run["mark_transmitted"] is True
    assert run["sha256"] == hashlib.sha256(body).hexdigest()
    assert run["filters"] == {"status": "validated", "commune": None, "bbox": None, "since": None}
    detail = referent.get(f"/api/v1/exports/runs/{run_id}").get_json()
    assert [r["id"] for r in detail["reports"]] == [rid]
    assert export_service.transmitted_state(db, [uuid.UUID(rid)]) == {rid: "current"}
    # the report changes: transmitted, but outdated; a later export does not alter the first one
    db.execute(update(Report).where(Report.id == uuid.UUID(rid)).values(households_affected=4))
    db.commit()
    assert export_service.transmitted_state(db, [uuid.UUID(rid)]) == {rid: "outdated"}
    assert referent.get(f"{EXPORT}.csv").get_data().startswith(b"\xef\xbb\xbf")  # read to the end: recorded
    again = referent.get(f"/api/v1/exports/runs/{run_id}/download")
    assert again.status_code == 200 and again.get_data() == body
    assert again.headers["Content-Type"] == "application/geo+json; charset=utf-8"
    assert again.headers["ETag"] == f'"{run["sha256"]}"'
    assert len(referent.get("/api/v1/exports/runs").get_json()["runs"]) == 2
    assert representative.get("/api/v1/exports/runs").status_code == 403
    assert referent.get(f"/api/v1/exports/runs/{uuid.uuid4()}").status_code == 404
    # the referent's page lists the runs with their checksums and a download link
    assert referent.login().status_code == 302
    page = client.get("/exports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and run["sha256"][:12] in html
    assert f"/api/v1/exports/runs/{run_id}/download" in html
    assert 'href="/exports"' in html  # nav link


def test_csv_for_excel_and_plain(db, representative, referent) -> None:
    zone = post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)), description='a; "b", é')
    validate_all(db)
    excel = referent.get(f"{EXPORT}.csv?decimal=comma")
    assert excel.status_code == 200 and excel.headers["Content-Type"] == "text/csv; charset=utf-8"
    data = excel.get_data()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == list(export_service.CSV_COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["report_id"] == zone and row["description"] == 'a; "b", é'
    assert rows[0][:2] == ["report_id", "reference"]  # schema 1.2.0: the reference the communes use
    assert row["reference"] == referent.get(f"/api/v1/reports/{zone}").get_json()["properties"]["reference"]
    assert re.fullmatch(r"CM-\d{4}-\d{5,}", row["reference"])
    assert float(row["area_m2"].replace(",", ".")) == pytest.approx(90_000, rel=0.001)
    assert "," in row["lon"] and float(row["lon"].replace(",", ".")) == pytest.approx(4.4461, abs=0.001)
    assert float(row["lat"].replace(",", ".")) == pytest.approx(50.4121, abs=0.001)
    assert row["wkt"].startswith("POLYGON((") and shapely.from_wkt(row["wkt"]).is_valid
    assert row["technologies"] == "4G" and row["observed_at"] == ""
    plain = referent.get(f"{EXPORT}.csv?dialect=plain").get_data()
    assert not plain.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(plain.decode("utf-8"), newline="")))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["description"] == 'a; "b", é' and "." in row["lon"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n", "\r\n"])
def test_excel_csv_neutralises_formulas_and_plain_csv_keeps_the_text(db, representative, referent, start) -> None:  # noqa: ANN001
    sent = f"{start}HYPERLINK(\"http://x.example\",\"clic\")"
    post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)), description=sent)
    text = sent.replace("\r\n", "\n").replace("\r", "\n")  # stored with LF line ends
    validate_all(db)
    excel = referent.get(f"{EXPORT}.csv").get_data().decode("utf-8-sig")
    row = dict(zip(*list(csv.reader(io.StringIO(excel, newline=""), delimiter=";"))[:2], strict=True))
    assert row["description"] == "'" + text
    plain = referent.get(f"{EXPORT}.csv?dialect=plain").get_data().decode("utf-8")
    row = dict(zip(*list(csv.reader(io.StringIO(plain, newline="")))[:2], strict=True))
    assert row["description"] == text
    doc, _ = export(referent)
    assert doc["features"][0]["properties"]["description"] == text


def test_marking_transmitted_needs_a_post(db, representative, referent) -> None:  # noqa: ANN001
    post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)))
    validate_all(db)
    refused = referent.get(f"{EXPORT}?mark_transmitted=true")
    assert refused.status_code == 405 and refused.get_json()["code"] == "method_not_allowed"
    assert db.scalar(text("SELECT count(*) FROM export_runs")) == 0
    sent = referent.post(f"{EXPORT}.csv?mark_transmitted=true")
    assert sent.status_code == 200 and sent.get_data()
    assert db.scalar(text("SELECT count(*) FROM export_runs WHERE mark_transmitted")) == 1


def test_geopackage_export(db, representative, referent, tmp_path: Path) -> None:
    from pyogrio import read_dataframe

    ids = {post(representative, to_geojson_4326(square_lambert(X0, Y0, 300))),
           post(representative, to_geojson_4326(Point(X0 + 1000, Y0)))}
    validate_all(db)
    response = referent.get(f"{EXPORT}.gpkg")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/geopackage+sqlite3"
    path = tmp_path / "export.gpkg"
    path.write_bytes(response.get_data())
    frame = read_dataframe(path, layer="white_zones")
    assert set(frame["report_id"]) == ids and frame.crs.to_epsg() == 4326
    zone = frame[frame["geometry_kind"] == "zone"].iloc[0]
    assert zone["area_m2"] == pytest.approx(90_000, rel=0.001) and zone.geometry.is_valid
    run = referent.get("/api/v1/exports/runs").get_json()["runs"][0]
    assert run["format"] == "gpkg" and run["sha256"] == hashlib.sha256(response.get_data()).hexdigest()


def test_geopackage_columns_have_the_same_types_whatever_the_rows(db, representative, referent,  # noqa: ANN001
                                                                   tmp_path: Path) -> None:
    # GDAL typed each column from the first batch's values: an export of points without counts
    # made households_affected, area_m2… TEXT, one with counts INTEGER or REAL; an integrator's
    # loader (QGIS, an ogr2ogr append, a staging table) broke on the next file
    import sqlite3

    post(representative, to_geojson_4326(Point(X0 + 1000, Y0)))  # no counts, no area
    post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)), households_affected=19,
         businesses_affected=3)
    validate_all(db)
    expected = {"households_affected": "INTEGER", "businesses_affected": "INTEGER", "revision": "INTEGER",
                "merged_reports": "INTEGER", "area_m2": "REAL", "length_m": "REAL"}
    seen = []
    for query in ("", "?bbox=" + ",".join(f"{v:.6f}" for v in shape(to_geojson_4326(Point(X0 + 1000, Y0).buffer(50))).bounds), "?status=rejected"):
        response = referent.get(f"{EXPORT}.gpkg{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        path = tmp_path / f"export{len(seen)}.gpkg"
        path.write_bytes(response.get_data())
        with sqlite3.connect(path) as con:
            types = {name: kind for _, name, kind, *_ in con.execute("PRAGMA table_info(white_zones)")}
            rows = con.execute("SELECT households_affected, businesses_affected, typeof(households_affected) "
                               "FROM white_zones ORDER BY households_affected").fetchall()
        seen.append((types, rows))
        assert {name: types[name] for name in expected} == expected, query
        assert {types[name] for name in types if name not in expected and name not in ("fid", "geom")} == {"TEXT"}
    assert seen[0][0] == seen[1][0] == seen[2][0]
    assert [rows for _, rows in seen] == [[(None, None, "null"), (19, 3, "integer")], [(None, None, "null")], []]


def test_geojson_csv_and_geopackage_carry_the_same_coordinates(db, representative, referent,  # noqa: ANN001
                                                                 tmp_path: Path) -> None:
    """Guards: the GeoPackage wrote points and MultiPoints as stored (``POINT (4.444001708858222
    50.410804135634905)``) where the GeoJSON and the CSV of the same export wrote them with 6
    decimals (``[4.444002, 50.410804]``): the three formats of one export carry the same
    positions, for every kind of geometry."""
    from pyogrio import read_dataframe

    shapes = {
        "point": Point(X0 + 0.123, Y0 + 0.456),
        "multipoint": shapely.MultiPoint([(X0 + 200.321, Y0 + 0.789), (X0 + 400.987, Y0 + 20.654)]),
        "line": LineString([(X0 + 0.123, Y0 + 500.456), (X0 + 300.789, Y0 + 620.321)]),
        "zone": square_lambert(X0 + 1000.123, Y0 + 0.456, 300),
    }
    ids = {post(representative, to_geojson_4326(g)): kind for kind, g in shapes.items()}
    validate_all(db)
    doc, _ = export(referent)
    written = {f["id"]: shape(f["geometry"]) for f in doc["features"]}
    assert {ids[i] for i in written} == set(shapes)
    assert written[next(i for i, k in ids.items() if k == "point")].coords[0] != (
        shape(to_geojson_4326(shapes["point"])).coords[0])  # the point sent has more than 6 decimals
    rows = list(csv.DictReader(io.StringIO(referent.get(f"{EXPORT}.csv?dialect=plain").get_data(as_text=True))))
    path = tmp_path / "export.gpkg"
    path.write_bytes(referent.get(f"{EXPORT}.gpkg").get_data())
    frame = read_dataframe(path, layer="white_zones")
    assert len(rows) == len(frame) == 4
    for row in rows:
        assert shapely.from_wkt(row["wkt"]).equals_exact(written[row["report_id"]], 0), ids[row["report_id"]]
    for rid, geometry in zip(frame["report_id"], frame.geometry, strict=True):
        assert geometry.geom_type == written[rid].geom_type, ids[rid]
        assert geometry.equals_exact(written[rid], 0), (ids[rid], geometry.wkt, written[rid].wkt)


def test_cli_export_with_filters_and_mark_transmitted(app, db, representative, tmp_path: Path) -> None:
    rid = post(representative, to_geojson_4326(Point(X0, Y0)))
    validate_all(db)
    out = tmp_path / "export.geojson"
    result = app.test_cli_runner().invoke(args=["export", "-o", str(out), "--commune", CHARLEROI,
                                                "--mark-transmitted"])
    assert result.exit_code == 0, result.output
    doc = strict_json(out.read_bytes())
    assert_export_valid(doc)
    assert [f["id"] for f in doc["features"]] == [rid]
    assert "1 report written" in result.output and doc["next_since"] in result.output
    run = db.scalars(select(ExportRun).where(ExportRun.channel == "cli")).one()
    assert run.mark_transmitted and run.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    bad = app.test_cli_runner().invoke(args=["export", "--status", "lost"])
    assert bad.exit_code != 0 and "invalid_request" in bad.output


def test_export_schema_is_served(client) -> None:
    response = client.get("/api/v1/exports/dwconnect.schema.json")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    assert response.get_json()["$id"] == export_service.SCHEMA_ID



def _live_properties(db, report_id: str) -> dict:  # noqa: ANN001
    """The properties as the CSV and GeoPackage exports compute them (live SQL)."""
    from sqlalchemy import text

    db.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    sql = text(f"""SELECT json_build_object({export_service.PROPERTIES_SQL})::text
                   FROM reports r JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c
                     ON c.nis_code = r.commune_nis LEFT JOIN users u ON u.id = r.reporter_id
                   WHERE r.id = :id""")
    raw = db.execute(sql, {"id": uuid.UUID(report_id), "srid": 31370, "merged": 1,
                           "schema_version": export_service.SCHEMA_VERSION, "source": export_service.SOURCE}).scalar_one()
    db.execute(text("SET LOCAL TimeZone = 'UTC'"))
    return json.loads(raw)


def test_stored_feature_matches_the_live_properties_and_follows_renames(db, representative, referent) -> None:
    from sqlalchemy import text

    x0, y0 = CHARLEROI_LAMBERT72
    ids = [representative.post("/api/v1/reports", data=json.dumps(feature(g, description="Rue de l'Église")),
                               content_type="application/geo+json").get_json()["id"]
           for g in (to_geojson_4326(Point(x0, y0)),
                     to_geojson_4326(LineString([(x0, y0), (x0 + 400, y0 + 100)])),
                     to_geojson_4326(square_lambert(x0 - 900, y0 - 900, 300)))]
    for rid in ids:
        stored = json.loads(db.scalar(select(ReportFeature.feature_json).join(Report, Report.seq == ReportFeature.seq)
                                      .where(Report.id == uuid.UUID(rid))))
        assert stored["id"] == rid
        assert stored["properties"] == _live_properties(db, rid)
    assert stored["properties"]["area_m2"] == pytest.approx(90_000, rel=0.01)
    # a commune renamed, a reporter's role changed: the stored Features follow
    db.execute(text("UPDATE communes SET name_fr = 'Charleroi (ville)' WHERE nis_code = '52011'"))
    db.execute(text("UPDATE users SET role = 'admin', commune_nis = NULL WHERE email = 'echevin@charleroi.be'"))
    for rid in ids:
        stored = json.loads(db.scalar(select(ReportFeature.feature_json).join(Report, Report.seq == ReportFeature.seq)
                                      .where(Report.id == uuid.UUID(rid))))
        assert stored["properties"]["commune_name"] == "Charleroi (ville)"
        assert stored["properties"]["reporter_role"] == "admin"
        assert stored["properties"] == _live_properties(db, rid)


# --------------------------------------------------------------------------- set-wise writes


def _bulk_insert(db, n: int, status: str = "validated", description: str = "bulk") -> None:  # noqa: ANN001
    """``INSERT … SELECT`` of ``n`` point reports around Charleroi's centre (one statement)."""
    from sqlalchemy import text

    db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, description, status)
        SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(4.444 + i * 1e-5, 50.4108), 4326), '52011', 'mobile',
               '{4G}', '{Proximus}', :description || ' #' || i, :status
        FROM generate_series(1, :n) i"""), {"n": n, "status": status, "description": description})


def _stored(db, rid) -> dict:  # noqa: ANN001
    raw = db.scalar(select(ReportFeature.feature_json).join(Report, Report.seq == ReportFeature.seq)
                    .where(Report.id == uuid.UUID(str(rid))))
    return json.loads(raw) if raw is not None else None


@owner_only  # (it deletes reports: the service role may not)
def test_bulk_insert_copy_update_and_delete_keep_stored_features_set_wise(db, representative) -> None:
    from sqlalchemy import text

    before = db.scalar(text("SELECT count(*) FROM report_features"))
    _bulk_insert(db, 50)
    rows = db.execute(select(Report.id, Report.change_seq).where(Report.description.like("bulk #%"))).all()
    assert len(rows) == 50
    assert db.scalar(text("SELECT count(*) FROM report_features")) == before + 50
    for rid, change_seq in rows[:3]:
        stored = _stored(db, rid)
        assert stored["properties"] == _live_properties(db, str(rid))
        assert stored["properties"]["revision"] == change_seq and stored["geometry"]["type"] == "Point"
    # COPY into reports (a line and a zone): the statement trigger fires for COPY too
    line_id, zone_id = uuid.uuid4(), uuid.uuid4()
    zone = shapely.geometry.shape(to_geojson_4326(square_lambert(X0 + 2000, Y0, 300)))
    line = shapely.geometry.shape(to_geojson_4326(LineString([(X0, Y0), (X0 + 400, Y0 + 300)])))
    connection = db.connection().connection.dbapi_connection
    with connection.cursor() as cursor, cursor.copy(
            "COPY reports (id, geometry, commune_nis, network, description, status) FROM STDIN") as copy:
        copy.write_row((line_id, f"SRID=4326;{line.wkt}", "52011", "fixed", "copied line", "submitted"))
        copy.write_row((zone_id, f"SRID=4326;{zone.wkt}", "52011", "mobile", "copied zone", "submitted"))
    assert _stored(db, line_id)["properties"]["length_m"] == pytest.approx(500, abs=0.5)
    assert _stored(db, zone_id)["properties"]["area_m2"] == pytest.approx(90_000, rel=0.001)
    assert _stored(db, zone_id)["properties"] == _live_properties(db, str(zone_id))
    # one report's status changes: its Feature follows, with the new revision
    db.execute(update(Report).where(Report.id == zone_id).values(status="validated"))
    stored = _stored(db, zone_id)["properties"]
    assert stored["status"] == "validated"
    assert stored["revision"] == db.scalar(select(Report.change_seq).where(Report.id == zone_id))
    # many reports change in one statement: every Feature follows
    db.execute(update(Report).where(Report.description.like("bulk #%")).values(households_affected=7))
    assert {(_stored(db, rid)["properties"]["households_affected"]) for rid, _ in rows} == {7}
    # deleted reports take their Features with them
    db.execute(text("DELETE FROM reports WHERE description LIKE 'bulk #%'"))
    assert db.scalar(text("SELECT count(*) FROM report_features")) == before + 2


def test_recorded_run_over_several_segments_records_batches_and_downloads_identical(
        db, referent, monkeypatch) -> None:
    from geosignal.services.export import formats

    monkeypatch.setattr(formats, "SEGMENT", 7)
    monkeypatch.setattr(formats, "BLOCK", 3000)
    _bulk_insert(db, 30, description='tab\there, "quoted", back\\slash\\\\ and\nnewline')
    sliver = Polygon([(4.44, 50.40), (4.443, 50.40), (4.443, 50.4000002), (4.44, 50.4000002), (4.44, 50.40)])
    collapsed = Report(id=uuid.uuid4(), geometry=f"SRID=4326;{sliver.wkt}", commune_nis=CHARLEROI,
                       network="mobile", status="validated")
    db.add(collapsed)
    db.commit()
    # the change_seq each report has when sent (marking them transmitted moves them afterwards)
    sent = db.execute(select(Report.id, Report.change_seq).where(Report.description.like("tab%"))
                      .order_by(Report.seq)).all()
    response = referent.post(f"{EXPORT}?mark_transmitted=true")
    body = response.get_data()
    doc = strict_json(body)
    assert_export_valid(doc)
    assert doc["numberReturned"] == 30 and len(doc["features"]) == 30
    assert doc["excluded"] == [{"id": str(collapsed.id), "reason": "geometry_collapsed_when_rounded"}]
    assert doc["features"][0]["properties"]["description"] == 'tab\there, "quoted", back\\slash\\\\ and\nnewline #1'
    expected = db.execute(select(Report.id, Report.change_seq).where(Report.description.like("tab%"))
                          .order_by(Report.seq)).all()
    assert [f["id"] for f in doc["features"]] == [str(rid) for rid, _ in expected]
    run_id = uuid.UUID(response.headers["X-Export-Run"])
    run = db.get(ExportRun, run_id)
    assert (run.feature_count, run.excluded_count, run.byte_count) == (30, 1, len(body))
    assert run.sha256 == hashlib.sha256(body).hexdigest()
    # set-wise: one row per segment of 7 reports (31 rows read, 30 carried), not one per report
    from sqlalchemy import text

    batches = db.execute(text("SELECT n, length(report_ids) / 16, first_seq <= last_seq FROM export_run_batches "
                              "WHERE run_id = :r ORDER BY n"), {"r": run_id}).all()
    assert [(n, size) for n, size, _ in batches] == [(0, 7), (1, 7), (2, 7), (3, 7), (4, 2)]
    assert all(ordered for _, _, ordered in batches)
    assert sorted(export_service.run_report_ids(db, run)) == sorted((str(r), s) for r, s in sent)
    assert b"".join(export_service.iter_run_bytes(db, run_id)) == body
    states = export_service.transmitted_state(db, [rid for rid, _ in expected[:2]] + [collapsed.id])
    assert states == {str(expected[0][0]): "current", str(expected[1][0]): "current", str(collapsed.id): "never"}
    # pages of 10 over segments of 7: each report once, in insertion order (now transmitted)
    seen, query = [], "?limit=10&status=transmitted"
    while query:
        page, _ = export(referent, query)
        seen += [f["id"] for f in page["features"]]
        query = f"?limit=10&status=transmitted&cursor={page['next_cursor']}" if "next_cursor" in page else ""
    assert seen == [str(rid) for rid, _ in expected]


@owner_only
def test_each_segment_reads_only_its_own_stored_features(db, monkeypatch) -> None:
    """A GeoJSON export reads each stored Feature once, whatever the number of segments: the
    Feature scan of a segment starts at the segment (without the bound it started at the first
    report each time, and the work grew with N²: 1,000,000 reports in 50 segments read 25
    million Features)."""
    from geosignal.services.export import formats

    monkeypatch.setattr(formats, "SEGMENT", 200)
    db.execute(text("""
        INSERT INTO reports (id, geometry, commune_nis, network, description, status)
        SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(4.40 + (i % 45) * 0.002, 50.38 + (i / 45) * 0.002), 4326),
               '52011', 'fixed', 'grid #' || i, 'validated'
        FROM generate_series(0, 1999) i"""))
    db.execute(text("ANALYZE reports"))
    db.execute(text("ANALYZE report_features"))
    total = db.scalar(text("SELECT count(*) FROM reports WHERE status = 'validated'"))
    read = text("SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = 'report_features'")
    rows = db.scalar(text("SELECT count(*) FROM report_features"))  # (read before the count starts)
    before = db.scalar(read)
    stream = export_service.stream_export(db, export_service.ExportRequest())
    doc = strict_json(b"".join(stream.chunks))
    assert doc["numberReturned"] == total >= 2000
    # each Feature once, plus the merge's look-ahead (a row or two per segment), plus at most
    # one scan of the whole table, which the planner may choose once at this size (a CI run
    # read 4,024: about the 2,000 twice); the scan from the first report in every segment
    # read 11,000 here
    assert db.scalar(read) - before <= total + rows + 3 * (total // 200 + 1)


def test_abandoned_recorded_stream_stops_its_worker(db, representative) -> None:
    import threading

    _bulk_insert(db, 5)
    stream = export_service.stream_export(db, export_service.ExportRequest(),
                                          record=export_service.RunRecord(actor="test"))
    next(stream.chunks)
    workers = [t for t in threading.enumerate() if t.name.startswith("export-run-")]
    assert len(workers) == 1
    stream.chunks.close()
    assert not workers[0].is_alive()


def test_geosignal_export_command_runs_without_building_the_app(monkeypatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from geosignal import cli
    from geosignal.devdb import scratch_database
    from tests.conftest import COMMUNES_FILE

    def refuse(*_args):  # noqa: ANN202
        raise AssertionError("geosignal export built the Flask application")

    monkeypatch.setattr(cli, "_create_app", refuse)
    with scratch_database("geosignal_cli", COMMUNES_FILE) as database:
        with database.session() as session:
            _bulk_insert(session, 12)
            session.commit()
        monkeypatch.setenv("GEOSIGNAL_DATABASE_URL", database.engine.url.render_as_string(hide_password=False))
        monkeypatch.setenv("GEOSIGNAL_ENV", "development")
        out = tmp_path / "export.geojson"
        result = CliRunner().invoke(cli.main, ["export", "-o", str(out), "--mark-transmitted"])
        assert result.exit_code == 0, result.output
        doc = strict_json(out.read_bytes())
        assert_export_valid(doc)
        assert doc["numberReturned"] == 12
        with database.session() as session:
            run = session.scalars(select(ExportRun)).one()
            assert (run.channel, run.feature_count, run.mark_transmitted) == ("cli", 12, True)
            assert run.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
            assert len(export_service.run_report_ids(session, run)) == 12
        bad = CliRunner().invoke(cli.main, ["export", "--status", "lost"])
        assert bad.exit_code != 0 and "invalid_request" in bad.output


def test_migration_0007_moves_stored_features_and_run_history_and_back() -> None:
    """Reports and a recorded run made under 0004 survive 0007 (Features moved, one row per
    report carried turned into batches) and a downgrade back to 0004."""
    import os

    from sqlalchemy import create_engine, text

    from geosignal import migrate
    from geosignal.devdb import create_database, drop_database

    name = f"geosignal_m0007_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0004")
        ids = [uuid.uuid4() for _ in range(3)]
        run = uuid.uuid4()
        with engine.begin() as c:
            c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES ('52011', 'Charleroi', "
                           "ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.6, 50.5, 4326)), 1)"))
            for i, rid in enumerate(ids):
                c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network, description, status) VALUES "
                               "(:id, ST_SetSRID(ST_MakePoint(4.44 + :i * 0.001, 50.41), 4326), '52011', 'mobile', "
                               "'old', 'validated')"), {"id": rid, "i": i})
            features = dict(c.execute(text("SELECT seq, feature_json FROM reports")).all())
            c.execute(text("INSERT INTO export_runs (id, actor, channel, format, media_type, filename, filters, "
                           "schema_version, feature_count, byte_count, sha256, watermark, mark_transmitted) VALUES "
                           "(:id, 'cli:x', 'cli', 'geojson', 'x', 'x', '{}', '1.0.0', 2, 0, '', 9, true)"), {"id": run})
            sent = {ids[0]: 11, ids[2]: 12}
            for rid, seq in sent.items():
                c.execute(text("INSERT INTO export_run_reports VALUES (:run, :rid, :seq)"),
                          {"run": run, "rid": rid, "seq": seq})
        assert len(features) == 3 and all(features.values())
        migrate.upgrade(url, "0007")  # later migrations rewrite the Features (0010: schema 1.1.0)
        with engine.begin() as c:
            assert dict(c.execute(text("SELECT seq, feature_json FROM report_features")).all()) == features
            rows = c.execute(text("SELECT n, length(report_ids), change_seqs FROM export_run_batches")).all()
            assert rows == [(0, 32, [11, 12])]
            from geosignal.services.export.runs import run_report_ids

            class Run:
                id = run
            assert sorted(run_report_ids(c, Run)) == sorted((str(r), s) for r, s in sent.items())
        migrate.downgrade(url, "0004")
        with engine.begin() as c:
            assert dict(c.execute(text("SELECT seq, feature_json FROM reports")).all()) == features
            back = c.execute(text("SELECT report_id, change_seq FROM export_run_reports")).all()
            assert dict(back) == sent
    finally:
        engine.dispose()
        drop_database(name)


def test_migration_0024_adds_the_reference_to_every_stored_feature_and_back() -> None:
    """Reports stored under 0023 (schema 1.1.0, no reference) get their reference in their
    stored Feature with 0024 (schema 1.2.0, one statement), and lose it again on the way down;
    the rest of each Feature and the reports' change_seq stay as they were."""
    import os

    from sqlalchemy import create_engine

    from geosignal import migrate
    from geosignal.devdb import create_database, drop_database

    name = f"geosignal_m0024_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    engine = create_engine(url)

    def stored() -> dict:
        with engine.begin() as c:
            return {str(rid): (ref, seq, json.loads(f)) for rid, ref, seq, f in c.execute(text(
                "SELECT r.id, r.reference, r.change_seq, f.feature_json FROM reports r "
                "JOIN report_features f ON f.seq = r.seq"))}

    try:
        migrate.upgrade(url, "0023")
        with engine.begin() as c:
            c.execute(text("INSERT INTO communes (nis_code, name_fr, boundary, area_m2) VALUES ('52011', 'Charleroi', "
                           "ST_Multi(ST_MakeEnvelope(4.3, 50.3, 4.6, 50.5, 4326)), 1)"))
            for i in range(3):
                c.execute(text("INSERT INTO reports (id, geometry, commune_nis, network, description, status) VALUES "
                               "(:id, ST_SetSRID(ST_MakePoint(4.44 + :i * 0.001, 50.41), 4326), '52011', 'mobile', "
                               "'avant', 'validated')"), {"id": uuid.uuid4(), "i": i})
        before = stored()
        assert len(before) == 3
        assert all("reference" not in f["properties"] and f["properties"]["schema_version"] == "1.1.0"
                   for _, _, f in before.values())
        migrate.upgrade(url, "0024")
        after = stored()
        for rid, (ref, seq, f) in after.items():
            assert re.fullmatch(r"CM-\d{4}-\d{5,}", ref) and f["properties"]["reference"] == ref
            assert (f["properties"]["schema_version"], seq) == ("1.2.0", before[rid][1])
            assert list(f["properties"])[:2] == ["report_id", "reference"]
            rest = {k: v for k, v in f["properties"].items() if k not in ("reference", "schema_version")}
            assert rest == {k: v for k, v in before[rid][2]["properties"].items() if k != "schema_version"}
        migrate.downgrade(url, "0023")
        assert stored() == before
    finally:
        engine.dispose()
        drop_database(name)


def test_purge_deletes_old_copies_and_keeps_the_records(app, db, representative, referent) -> None:  # noqa: ANN001
    post(representative, to_geojson_4326(square_lambert(X0, Y0, 300)))
    validate_all(db)
    _, response = export(referent)
    run_id = response.headers["X-Export-Run"]
    assert referent.get(f"/api/v1/exports/runs/{run_id}/download").status_code == 200
    db.execute(text("UPDATE export_runs SET created_at = now() - interval '800 days' WHERE id = CAST(:id AS uuid)"),
               {"id": run_id})
    db.commit()
    dry = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0 and "would delete the copies of 1 export run older than 730 days" in dry.output
    assert referent.get(f"/api/v1/exports/runs/{run_id}/download").status_code == 200
    done = app.test_cli_runner().invoke(args=["purge"])
    assert done.exit_code == 0 and "deleted the copies of 1 export run " in done.output
    gone = referent.get(f"/api/v1/exports/runs/{run_id}/download")
    assert gone.status_code == 410 and gone.get_json()["code"] == "copy_purged"
    record = referent.get(f"/api/v1/exports/runs/{run_id}").get_json()
    assert record["feature_count"] == 1 and len(record["reports"]) == 1 and record["sha256"]


def test_a_run_downloaded_again_and_a_report_answer_304_to_their_etag(db, representative, referent) -> None:  # noqa: ANN001
    """An integrator's HTTP cache: If-None-Match with the ETag given is 304 without a body, weak
    comparison and * included; another tag, or a purged copy, is answered as before."""
    rid = post(representative, to_geojson_4326(Point(X0, Y0)))
    validate_all(db)
    _, response = export(referent)
    run_id = response.headers["X-Export-Run"]
    url = f"/api/v1/exports/runs/{run_id}/download"
    first = referent.get(url)
    etag = first.headers["ETag"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = referent.get(url, headers={"If-None-Match": sent})
        assert again.status_code == 304 and again.get_data() == b"", sent
        assert again.headers["ETag"] == etag and again.headers["X-Export-Run"] == run_id
        assert again.headers["Repr-Digest"] == first.headers["Repr-Digest"]
    other = referent.get(url, headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.get_data() == first.get_data()
    report = referent.get(f"/api/v1/reports/{rid}")
    tag = report.headers["ETag"]
    unchanged = referent.get(f"/api/v1/reports/{rid}", headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["ETag"] == tag
    db.execute(update(Report).where(Report.id == uuid.UUID(rid)).values(households_affected=4))
    db.commit()
    changed = referent.get(f"/api/v1/reports/{rid}", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert changed.get_json()["properties"]["households_affected"] == 4
    assert referent.get(f"/api/v1/reports/{uuid.uuid4()}", headers={"If-None-Match": "*"}).status_code == 404


def test_a_commune_renamed_is_carried_by_an_export_since_a_date_time(db, representative, referent) -> None:  # noqa: ANN001
    """A commune renamed rewrites its reports' Features (a new ``commune_name``) with a new
    ``change_seq``, but left ``updated_at`` as it was: ``since=<date-time>`` (which reads it)
    never carried the change, and the Feature said new content under an old date. (The report
    is made to date from 2020: the test's transaction time does not move.)"""
    rid = post(representative, to_geojson_4326(Point(X0 + 77, Y0 + 1300)))
    validate_all(db)
    db.execute(text("UPDATE reports SET updated_at = '2020-01-01T00:00:00Z' WHERE id = CAST(:i AS uuid)"), {"i": rid})
    db.commit()
    assert export(referent, "?since=2021-01-01T00:00:00Z")[0]["features"] == []
    try:
        db.execute(text("UPDATE communes SET name_fr = 'Charleroi (ville)' WHERE nis_code = '52011'"))
        db.commit()
        doc, _ = export(referent, "?since=2021-01-01T00:00:00Z")
        assert [f["id"] for f in doc["features"]] == [rid]
        properties = doc["features"][0]["properties"]
        assert properties["commune_name"] == "Charleroi (ville)" and properties["updated_at"] > "2021"
    finally:
        db.rollback()
        db.execute(text("UPDATE communes SET name_fr = 'Charleroi' WHERE nis_code = '52011'"))
        db.commit()
