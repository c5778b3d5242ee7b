"""Loading the 30 communes of Charleroi Métropole from the official boundaries."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select, text

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84, transformer
from geosignal.models import Commune
from geosignal.services.communes import load_communes
from tests.conftest import COMMUNES_CSV, COMMUNES_FILE, make_account
from tests.factories import CHARLEROI_LAMBERT72, CHARLEROI_LONLAT, feature


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


def _features_with(change) -> dict:  # noqa: ANN001
    import json

    data = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    for f in data["features"]:
        change(f)
    return data


def test_cli_refuses_boundaries_that_are_not_longitudes_and_latitudes(app, db, tmp_path) -> None:  # noqa: ANN001
    """Charleroi in Lambert 72 metres in a GeoJSON without ``crs`` (read as WGS 84): one line,
    exit 1, nothing stored (it stored an infinite area, then failed in PostGIS, a traceback)."""
    import json

    from shapely.geometry import mapping, shape

    from geosignal.geo import reproject

    data = _features_with(lambda f: None)
    charleroi = next(f for f in data["features"] if f["properties"]["nis_code"] == "52011")
    charleroi["geometry"] = json.loads(json.dumps(mapping(reproject(shape(charleroi["geometry"]), WGS84, LAMBERT72))))
    data["features"] = [charleroi]
    path = tmp_path / "lambert.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    boundary = text("SELECT md5(ST_AsEWKB(boundary)) FROM communes WHERE nis_code = '52011'")
    before = db.scalar(boundary)
    result = app.test_cli_runner().invoke(args=["load-communes", str(path)])
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit
    assert result.output.startswith("Error: invalid_geometry: ") and "are not longitudes and latitudes" in result.output
    assert len(result.output.strip().splitlines()) == 1
    db.rollback()
    assert db.scalar(boundary) == before


def test_a_file_of_codes_and_boundaries_keeps_the_names_and_populations(db, tmp_path) -> None:  # noqa: ANN001
    """A boundary correction carrying only NIS codes and geometries (FPS Finance's AdMuKey
    layer): the communes keep their names, province and population (they became the NIS code
    and nothing); a column the file has still replaces the stored value."""
    import json

    def codes_only(f: dict) -> None:
        f["properties"] = {"AdMuKey": f["properties"]["nis_code"]}

    path = tmp_path / "boundaries.geojson"
    path.write_text(json.dumps(_features_with(codes_only)), encoding="utf-8")
    row = text("SELECT name_fr, name_nl, province, population, population_year FROM communes WHERE nis_code = '52011'")
    before = db.execute(row).one()
    assert before[0] == "Charleroi" and before[3] > 200_000
    summary = load_communes(db, path)
    assert (summary.updated, summary.inserted) == (30, 0)
    assert db.execute(row).one() == before

    def population_only(f: dict) -> None:
        f["properties"] = {"nis_code": f["properties"]["nis_code"], "population": 1}

    path.write_text(json.dumps(_features_with(population_only)), encoding="utf-8")
    load_communes(db, path)
    assert db.execute(row).one() == (*before[:3], 1, before[4])


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


@pytest.mark.parametrize("stdin", [False, True])
def test_cli_set_password_ends_links_and_tokens_as_a_reset_does(app, db, stdin: bool) -> None:  # noqa: ANN001
    """The terminal's password is the recovery when no e-mail leaves: whoever held the account
    kept a reset link that still set a password, and API tokens that still worked. Both end."""
    from geosignal.models import User
    from geosignal.services import accounts
    from geosignal.services.users import create_token, create_user

    create_user(db, "maire@chimay.be", "representative", "56016", "first password")
    db.commit()
    token = create_token(db, "maire@chimay.be", "pris", days=30)
    _user, link = accounts.request_reset(db, "maire@chimay.be")
    db.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/reports", headers=bearer).status_code == 200
    args = ["set-password", "maire@chimay.be"] + (["--password-stdin"] if stdin else [])
    result = app.test_cli_runner().invoke(args=args, input="second password\n" if stdin else None)
    assert result.exit_code == 0, result.output
    assert "1 API token revoked" in result.output
    assert app.test_client().get("/api/v1/reports", headers=bearer).status_code == 401
    assert app.test_client().get(f"/compte/reinitialisation?jeton={link}").status_code == 410
    user = db.scalar(select(User).where(User.email == "maire@chimay.be"))
    db.refresh(user)
    assert user.must_change_password is not stdin


def _without(tmp_path, *codes: str):  # noqa: ANN001, ANN202
    """The 30 communes' boundary file without ``codes`` (GeoJSON, in ``tmp_path``)."""
    import json

    data = json.loads(open(COMMUNES_FILE, encoding="utf-8").read())
    nis = next(k for k in ("nis_code", "NIS", "nis", "AdMuKey", "CODE_INS", "id") if k in data["features"][0]["properties"])
    data["features"] = [f for f in data["features"] if str(f["properties"][nis]).zfill(5) not in codes]
    path = tmp_path / "communes.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_load_names_the_communes_absent_from_its_file_and_removes_them_when_asked(app, db, tmp_path) -> None:
    """Scale trial, operator: a file of fewer communes (back from Belgium's 581 to the 30)
    kept the others for ever. They are named; ``--remove-absent`` removes them with their
    stored figures, set-wise; the figures of the others are unchanged."""
    def figures():  # noqa: ANN202
        return {nis: (n, round(a, 3)) for nis, n, a in db.execute(text(
            "SELECT s.nis_code, count(*), sum(ST_Area(c.clip)) FROM commune_stats s "
            "JOIN commune_cells c USING (nis_code) GROUP BY 1"))}

    before = figures()
    assert len(before) == 30 and before["55085"][0] > 0
    path = _without(tmp_path, "55085", "56078")
    kept = app.test_cli_runner().invoke(args=["load-communes", str(path)])
    assert kept.exit_code == 0, kept.output
    assert kept.output.splitlines() == [
        "28 communes in file: 0 inserted, 28 updated",
        "2 communes loaded before and not in the file kept (55085, 56078); --remove-absent removes them"]
    assert db.scalar(select(func.count()).select_from(Commune)) == 30
    removed = app.test_cli_runner().invoke(args=["load-communes", str(path), "--remove-absent"])
    assert removed.exit_code == 0, removed.output
    assert removed.output.splitlines()[1] == "2 communes loaded before and not in the file removed: 55085, 56078"
    assert db.scalar(select(func.count()).select_from(Commune)) == 28
    after = figures()
    assert set(after) == set(before) - {"55085", "56078"}
    assert after == {nis: before[nis] for nis in after}
    for table in ("commune_cells", "commune_counts", "zone_counts", "commune_stats"):
        assert db.scalar(text(f"SELECT count(*) FROM {table} WHERE nis_code IN ('55085', '56078')")) == 0, table
    again = load_communes(db, COMMUNES_FILE)  # loaded back: the same figures as at first
    assert (again.inserted, again.updated, again.absent) == (2, 28, ())
    assert figures() == before


def test_a_commune_still_in_use_is_never_removed(client, db, tmp_path, admin) -> None:  # noqa: ANN001
    make_account(client, db, "clerc@thuin.be", "representative", "56078")
    zone = {"type": "Polygon", "coordinates": [[[4.215, 50.16], [4.225, 50.16], [4.225, 50.166], [4.215, 50.16]]]}
    answer = admin.post("/api/v1/reports", json=feature(zone, network="mobile"))
    assert answer.status_code == 201, answer.get_json()
    nis = answer.get_json()["properties"]["commune_nis"]
    path = _without(tmp_path, "56078", nis, "52075")
    with pytest.raises(GeosignalError) as refused:
        load_communes(db, path, remove_absent=True)
    assert (refused.value.code, refused.value.status) == ("invalid_request", 409)
    assert refused.value.extra["in_use"] == {"56078": {"accounts": 1}, nis: {"reports": 1}}
    assert "Thuin (56078): 1 accounts" in refused.value.detail
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Commune)) == 30


def test_the_service_area_is_built_again_when_a_border_moves(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    # a border moved between two communes leaves their number, their total area and their
    # codes as they were: the area the uploads use, cached by those, kept the old border, and
    # an upload homed in Charleroi the place a drawn report homed in Châtelet
    import json

    from shapely.geometry import box, mapping

    from geosignal.geo import reproject
    from geosignal.services.territory import service_area
    from tests.factories import border_point, communes_file_with_border_moved, upload_file

    x, y = border_point(db)
    served: dict = {}
    place = reproject(box(x - 200, y - 200, x - 150, y - 150), LAMBERT72, WGS84)
    zone = {"type": "Feature", "geometry": mapping(place), "properties": {"network": "mobile"}}
    before = service_area(db, served).commune_at(*place.centroid.coords[0])[0]
    other = "52012" if before == "52011" else "52011"
    preview = upload_file(admin, json.dumps({"type": "FeatureCollection", "features": [zone]}, default=list).encode(),
                          "a.geojson", dry_run="true")  # (the application's area, built before the move)
    assert preview.get_json()["features"][0]["properties"]["commune_nis"] == before
    load_communes(db, communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                                      box(x - 250, y - 250, x + 250, y + 250), other))
    db.commit()
    assert service_area(db, served).commune_at(*place.centroid.coords[0])[0] == other
    saved = upload_file(admin, json.dumps({"type": "FeatureCollection", "features": [zone]}, default=list).encode(),
                        "b.geojson")
    assert saved.status_code == 201, saved.get_json()
    assert db.scalar(text("SELECT commune_nis FROM reports")) == other


def test_a_border_corrected_under_reports_moves_their_home(db, admin, referent, tmp_path) -> None:  # noqa: ANN001
    # the zones a reload crosses measured their home again, the reports did not: a point now in
    # the other commune still counted in the first (its counts, its households, who may edit it)

    from shapely.geometry import Point, box

    from geosignal.geo import reproject
    from tests.factories import (
        border_point,
        communes_file_with_border_moved,
        square_lambert,
        to_geojson_4326,
    )

    x, y = border_point(db)
    lon, lat = reproject(Point(x + 20, y + 20), LAMBERT72, WGS84).coords[0]
    point = admin.post("/api/v1/reports", json=feature({"type": "Point", "coordinates": [lon, lat]},
                                                       households_affected=4))
    far = admin.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + 3000, y + 3000, 100))))
    assert point.status_code == far.status_code == 201
    rid, home = point.get_json()["id"], point.get_json()["properties"]["commune_nis"]
    far_home = far.get_json()["properties"]["commune_nis"]
    other = "52012" if home == "52011" else "52011"
    load_communes(db, communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                                      box(x - 400, y - 400, x + 400, y + 400), other))
    db.commit()
    assert db.scalar(text("SELECT c.nis_code FROM communes c, reports r WHERE r.id = :r "
                          "AND ST_Intersects(c.boundary, r.geometry)"), {"r": rid}) == other
    assert db.scalar(text("SELECT commune_nis FROM reports WHERE id = :r"), {"r": rid}) == other
    assert db.scalar(text("SELECT commune_nis FROM reports WHERE id = :r"), {"r": far.get_json()["id"]}) == far_home
    rows = {c["nis_code"]: c for c in referent.get("/api/v1/stats/communes").get_json()["communes"]}
    assert (rows[home]["point_count"], rows[other]["point_count"]) == (0, 1)
    (event,) = db.execute(text("SELECT before, after, details, actor_id FROM audit_events "
                               "WHERE report_id = :r AND action = 'edit'"), {"r": rid}).all()
    assert (event.before, event.after, event.details, event.actor_id) == (
        {"commune_nis": home}, {"commune_nis": other}, {"boundary_reload": True}, None)
    # loaded again as it is: nothing moves, nothing journalled
    load_communes(db, tmp_path / "moved.geojson")
    db.commit()
    assert db.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'edit'")) == 1
