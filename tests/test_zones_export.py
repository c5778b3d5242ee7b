"""The DWconnect export's zone part (schema 1.1.0): confirmed zones holding an exported
report, with their report count and ids; the whole document validates against the schema.
Incremental exports carry zone changes and removals (schema 1.3.0): tests/test_zones_export_changes.py."""

from __future__ import annotations

from shapely.geometry import Point, shape
from sqlalchemy import text

from geosignal import contract
from geosignal.geo import to_lambert72
from geosignal.services import zones
from tests.conftest import CHARLEROI, make_account
from tests.geojson_checks import assert_rfc7946_geometry, positions
from tests.test_export import VALIDATOR, assert_export_valid, export, validate_all
from tests.test_zones import X, Y, _admin, file, square, zone_of


def test_export_carries_confirmed_zones_and_validates(client, db) -> None:  # noqa: ANN001
    referent = make_account(client, db, "referent@igretec.com", "referent")
    a, b, c = (file(db, square(X + dx, Y - 3000)) for dx in (0, 150, 300))
    p = file(db, Point(X + 560, Y - 2900), technologies=["5G"], operators=["Orange"])  # 60 m east of C
    d, e = (file(db, square(X + dx, Y - 3600)) for dx in (0, 150))  # a proposal, never confirmed
    lone = file(db, square(X, Y - 4200))
    zid = zone_of(db, a)["zone_id"]
    zones.confirm_zone(db, _admin(db), zid)
    validate_all(db)  # commits
    doc, response = export(referent)
    assert doc["schema_version"] == "1.3.0" == contract.SCHEMA_VERSION
    assert doc["zones_removed"] == []  # a full export removes nothing
    assert_export_valid(doc)
    assert {f["id"] for f in doc["features"]} >= {a, b, c, p, d, e, lone}
    assert [z["id"] for z in doc["zones"]] == [zid]
    zone = doc["zones"][0]
    assert zone["properties"] == {
        "zone_id": zid, "state": "confirmed", "network": "mobile", "report_count": 4,
        "report_ids": [a, b, c, p], "technologies": ["4G", "5G"], "operators": ["Proximus", "Orange"],
        "commune_nis": CHARLEROI, "updated_at": zone["properties"]["updated_at"]}
    assert zone["geometry"]["type"] == "GeometryCollection"
    for part in zone["geometry"]["geometries"]:
        assert_rfc7946_geometry(part)
        assert shape(part).is_valid
        for lon, lat in positions(part["coordinates"]):
            assert round(lon, 6) == lon and round(lat, 6) == lat
    kinds = sorted(part["type"] for part in zone["geometry"]["geometries"])
    assert kinds == ["Point", "Polygon"]
    polygon = next(shape(g) for g in zone["geometry"]["geometries"] if g["type"] == "Polygon")
    assert abs(to_lambert72(polygon).area - 100_000.0) < 5.0  # 500 m × 200 m, snapped to 1e-6°
    # the schema refuses a zone that is not what 1.1.0 says
    broken = {**doc, "zones": [{**zone, "properties": {**zone["properties"], "report_count": 1}}]}
    assert any("report_count" in list(err.path) for err in VALIDATOR.iter_errors(broken))
    # a document without those reports carries no zone; the run's bytes include the zones
    other, _ = export(referent, "?commune=52012")
    assert other["zones"] == [] and other["features"] == []
    run_id = response.headers["X-Export-Run"]
    again = referent.get(f"/api/v1/exports/runs/{run_id}/download")
    assert again.get_data() == response.get_data()
    # a zone with one exported report is carried whole
    db.execute(text("UPDATE reports SET status = 'submitted' WHERE id <> CAST(:a AS uuid)"), {"a": a})
    db.commit()
    only_a, _ = export(referent)
    assert [f["id"] for f in only_a["features"]] == [a]
    assert only_a["zones"][0]["properties"]["report_ids"] == [a, b, c, p]
    # a pass carries its zones once, on its last page (1.3.0; before, each page those of its reports)
    validate_all(db)
    first, _ = export(referent, "?limit=2")
    assert [f["id"] for f in first["features"]] == [a, b] and first["zones"] == first["zones_removed"] == []
    assert_export_valid(first)
    pages = [first]
    while "next_cursor" in pages[-1]:
        pages.append(export(referent, f"?limit=2&cursor={pages[-1]['next_cursor']}")[0])
    assert [[z["id"] for z in page["zones"]] for page in pages] == [[]] * (len(pages) - 1) + [[zid]]
