"""Zones drawn exactly as their commune: the commune's white zone is its whole area, its share
exactly 1 (it was 1.0000000000001: two computations of one surface differ in their last bits),
on every path of the commune table (live and stored figures, and the territory's row)."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import mapping, shape

from tests.conftest import COMMUNES_FILE

FARCIENNES = "52018"


def _commune(nis: str) -> dict:
    doc = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    geometry = next(f["geometry"] for f in doc["features"] if f["properties"]["nis_code"] == nis)
    return json.loads(json.dumps(mapping(shape(geometry))))


def test_a_zone_equal_to_its_commune_covers_it_exactly_once(db, admin, referent) -> None:  # noqa: ANN001
    for description in ("première", "seconde"):  # twice, overlapping whole: counted once
        response = admin.post("/api/v1/reports", data=json.dumps({"type": "Feature", "geometry": _commune(FARCIENNES),
                                                                  "properties": {"network": "mobile",
                                                                                 "description": description}}),
                              content_type="application/geo+json")
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["properties"]["commune_nis"] == FARCIENNES
    for query in ("", "?network=mobile"):  # stored figures, then a filtered (live) computation
        table = referent.get(f"/api/v1/stats/communes{query}").get_json()
        row = next(r for r in table["communes"] if r["nis_code"] == FARCIENNES)
        assert row["zone_count"] == 2
        assert row["white_zone_share"] == 1.0, query
        assert row["white_zone_area_km2"] == row["commune_area_km2"]
        assert row["white_zone_area_km2"] == pytest.approx(10.316, abs=0.001)
        assert 0.0 <= table["territory"]["white_zone_share"] <= 1.0
