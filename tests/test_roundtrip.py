"""Round trip: export → import into a fresh database through the intake pipeline → the same
reports (positions within 1e-6°, attributes identical).

The receiving database gives the reports their own id, status (``submitted``), times and
revision: those are not part of the round trip. Areas and lengths are recomputed from the
rounded geometry: equal within 0.01 %.
"""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape
from sqlalchemy import update

from geosignal.devdb import scratch_database
from geosignal.models import Report
from geosignal.services import export as export_service
from geosignal.services import reports as reports_service
from geosignal.services.intake import Limits, parse_feature_collection
from geosignal.services.territory import service_area
from geosignal.services.users import create_user
from tests.conftest import COMMUNES_FILE
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.geojson_checks import positions

X0, Y0 = CHARLEROI_LAMBERT72
CARRIED = ("commune_nis", "commune_name", "network", "technologies", "operators", "issue", "setting",
           "households_affected", "businesses_affected", "description", "observed_at", "geometry_kind",
           "merged_reports", "schema_version", "source")


def _export(session) -> dict:
    chunks = export_service.iter_feature_collection(session, export_service.ExportFilters(statuses=None))
    return json.loads("".join(chunks))


@pytest.fixture
def fresh_database():  # noqa: ANN201
    with scratch_database("geosignal_rt", COMMUNES_FILE) as database:
        yield database


def test_export_then_import_gives_the_same_reports(db, representative, fresh_database) -> None:
    holed = Polygon(square_lambert(X0 - 2000, Y0 - 2000, 800).exterior.coords,
                    [square_lambert(X0 - 1800, Y0 - 1800, 200).exterior.coords])
    multi = MultiPolygon([square_lambert(X0 + 1000, Y0 + 1000, 300), square_lambert(X0 + 1500, Y0 + 1000, 300)])
    bodies = [
        feature(to_geojson_4326(Point(X0, Y0)), households_affected=12, businesses_affected=0,
                observed_at="2026-10-25T02:30:00+01:00", description="Café « L'Étoile » ; 2ᵉ étage"),
        feature(to_geojson_4326(LineString([(X0, Y0 + 50), (X0 + 400, Y0 + 250), (X0 + 900, Y0 + 260)])),
                network="fixed", technologies=["DSL", "fibre"], operators=["Proximus", "VOO"], issue="slow_speed",
                setting="indoor"),
        feature(to_geojson_4326(holed), operators=["Telenet/BASE", "other"], description="e\u0301 NFC"),
        feature(to_geojson_4326(multi), technologies=[], operators=[], issue=None, setting=None, description=""),
    ]
    for body in bodies:
        response = representative.post("/api/v1/reports", data=json.dumps(body), content_type="application/geo+json")
        assert response.status_code == 201, response.get_json()
    db.execute(update(Report).values(status="validated"))
    db.commit()
    first = _export(db)
    assert len(first["features"]) == 4

    with fresh_database.session() as session:
        user = create_user(session, "import@igretec.com", "admin", None, "correct horse battery")
        results = parse_feature_collection(json.dumps(first).encode(),
                                           area=service_area(session, {}, 1000.0), limits=Limits())
        assert all(not isinstance(r, Exception) for r in results), results
        for report_input in results:
            reports_service.create_report(session, user, report_input)
        session.commit()
        second = _export(session)

    assert len(second["features"]) == len(first["features"])
    # the receiving database orders by its own insertion order, which follows the file's
    for a, b in zip(first["features"], second["features"], strict=True):
        pa, pb = a["properties"], b["properties"]
        assert {k: pa[k] for k in CARRIED} == {k: pb[k] for k in CARRIED}
        assert a["geometry"]["type"] == b["geometry"]["type"]
        ga, gb = shapely.normalize(shape(a["geometry"])), shapely.normalize(shape(b["geometry"]))
        assert len(positions(a["geometry"]["coordinates"])) == len(positions(b["geometry"]["coordinates"]))
        assert ga.equals_exact(gb, tolerance=1e-6)  # same vertices within 1e-6°, ring starts aside
        for measure in ("area_m2", "length_m"):
            if pa[measure] is None:
                assert pb[measure] is None
            else:
                assert pb[measure] == pytest.approx(pa[measure], rel=1e-4)
        assert pb["status"] == "submitted" and pb["report_id"] != pa["report_id"]
    assert first["features"][2]["properties"]["description"] == "\u00e9 NFC"
