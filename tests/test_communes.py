"""Loading the 30 communes of Charleroi Métropole from the official boundaries."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select, text

from geosignal.geo import LAMBERT72, WGS84, transformer
from geosignal.models import Commune
from geosignal.services.communes import load_communes
from tests.conftest import COMMUNES_CSV, COMMUNES_FILE
from tests.factories import CHARLEROI_LAMBERT72, CHARLEROI_LONLAT


def _reference() -> dict[str, dict[str, str]]:
    with open(COMMUNES_CSV, encoding="utf-8") as f:
        return {row["nis_code"]: row for row in csv.DictReader(f)}


def test_thirty_communes_with_the_reference_nis_codes(db) -> None:
    loaded = {nis: name for nis, name in db.execute(select(Commune.nis_code, Commune.name_fr))}
    reference = _reference()
    assert len(loaded) == 30
    assert set(loaded) == set(reference)
    assert loaded["55085"] == "Seneffe"
    assert loaded["92137"] == "Sambreville"
    assert loaded["52022"] == "Fontaine-l'Evêque"


def test_areas_within_half_a_percent_of_the_reference(db) -> None:
    reference = _reference()
    for nis, area_m2 in db.execute(select(Commune.nis_code, Commune.area_m2)):
        expected_km2 = float(reference[nis]["area_km2"])
        assert area_m2 / 1e6 == pytest.approx(expected_km2, rel=0.005), nis
    # PostGIS agrees with the area computed at load time (pyproj + shapely)
    postgis = db.scalar(select(func.ST_Area(func.ST_Transform(Commune.boundary, LAMBERT72)))
                        .where(Commune.nis_code == "52011"))
    assert postgis / 1e6 == pytest.approx(float(reference["52011"]["area_km2"]), rel=0.001)


def test_reload_is_idempotent(db) -> None:
    summary = load_communes(db, COMMUNES_FILE)
    assert (summary.inserted, summary.updated, summary.total) == (0, 30, 30)
    assert db.scalar(select(func.count()).select_from(Commune)) == 30


def test_pyproj_and_postgis_agree_on_lambert72(db) -> None:
    x, y = transformer(WGS84, LAMBERT72).transform(*CHARLEROI_LONLAT)
    assert (x, y) == pytest.approx(CHARLEROI_LAMBERT72, abs=1.0)
    px, py = db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 31370) p) s"
    ), {"lon": CHARLEROI_LONLAT[0], "lat": CHARLEROI_LONLAT[1]}).one()
    assert (px, py) == pytest.approx((x, y), abs=1.0)


def test_cli_rejects_a_file_without_nis_codes(app, tmp_path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},'
                   '"geometry":{"type":"Polygon","coordinates":[[[4.4,50.4],[4.5,50.4],[4.5,50.5],[4.4,50.4]]]}}]}')
    result = app.test_cli_runner().invoke(args=["load-communes", str(bad)])
    assert result.exit_code == 1
    assert "invalid_request" in result.output and "NIS" in result.output


def test_cli_set_password(app, db) -> None:
    from geosignal.models import User
    from geosignal.services.users import create_user

    create_user(db, "maire@chimay.be", "representative", "56016", "first password")
    db.commit()
    result = app.test_cli_runner().invoke(args=["set-password", "Maire@Chimay.be", "--password-stdin"],
                                          input="second password\n")
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User).where(User.email == "maire@chimay.be"))
    db.refresh(user)
    assert user.check_password("second password") and not user.check_password("first password")
    missing = app.test_cli_runner().invoke(args=["set-password", "nobody@x.be"])
    assert missing.exit_code == 1 and "not_found" in missing.output
