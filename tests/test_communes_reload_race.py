"""Writers of reports and a load of communes at once, in real concurrent transactions against
PostGIS: a load takes the communes lock exclusively first, every writer takes it shared before
it reads the communes or locks a report (``geosignal.services.communes.COMMUNES_LOCK_KEY``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from shapely.geometry import Point, box
from sqlalchemy import text

from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.geo import LAMBERT72, WGS84, reproject
from geosignal.models import User
from geosignal.services import reports as reports_service
from geosignal.services.communes import HOME_COMMUNE_SQL, hold_communes, load_communes
from geosignal.services.intake import ReportInput
from geosignal.services.users import create_user
from tests.conftest import COMMUNES_FILE
from tests.factories import border_point, communes_file_with_border_moved
from tests.test_concurrency import _assert_stored_equals_recomputed


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with scratch_database("geosignal_test_reload_race", COMMUNES_FILE) as scratch:
        url = scratch.engine.url.render_as_string(hide_password=False)
        with scratch.session() as session:
            create_user(session, "race@igretec.com", "admin", None, "correct horse battery")
            session.commit()
        db = Database(url, pool_size=6, max_overflow=0)
        yield db
        db.engine.dispose()


def _admin(session) -> User:  # noqa: ANN001
    return session.query(User).filter_by(email="race@igretec.com").one()


def _input(geom) -> ReportInput:  # noqa: ANN001
    return ReportInput(geometry=geom, properties={
        "network": "mobile", "technologies": ["4G"], "operators": ["Orange"], "issue": "no_coverage",
        "setting": "outdoor", "households_affected": 3, "description": f"probe {uuid.uuid4()}"})


def _waiting(database: Database, timeout: float = 5.0) -> bool:
    """Whether some other backend is waiting on a lock (within ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    with database.engine.connect() as c:
        while time.monotonic() < deadline:
            n = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database()")).scalar()
            c.rollback()
            if n:
                return True
            time.sleep(0.05)
    return False


def _communes_back(database: Database) -> None:
    """Load the real communes again (what a test's load changed)."""
    with database.session() as s:
        load_communes(s, COMMUNES_FILE)
        s.commit()


def test_a_report_filed_during_a_reload_that_moves_its_border_gets_the_new_home(database, tmp_path) -> None:  # noqa: ANN001
    """A report filed while a load that gives its land to the other commune runs waits for the
    load, then takes the home the rule gives on the boundaries the load stored (it kept the
    old one: its home was read before the load committed, and the load re-homes only the
    reports committed before it)."""
    with database.session() as s:
        x, y = border_point(s)
        home_before = s.scalar(text(f"WITH g AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 31370), 4326) g) "
                                    f"SELECT c.nis_code {HOME_COMMUNE_SQL}"), {"x": x + 20, "y": y + 20, "srid": 31370})
    other = "52012" if home_before == "52011" else "52011"
    moved = communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved.geojson",
                                            box(x - 400, y - 400, x + 400, y + 400), other)
    point = reproject(Point(x + 20, y + 20), LAMBERT72, WGS84)
    loader = database.session()
    load_communes(loader, moved)  # not committed yet: every zone lock and the communes held
    result: dict = {}

    def file() -> None:
        with database.session() as w:
            try:
                feat, _ = reports_service.create_report(w, _admin(w), _input(point))
                w.commit()
                result["id"] = feat["id"]
            except BaseException as exc:  # noqa: BLE001
                result["error"] = exc

    t = threading.Thread(target=file)
    t.start()
    waited = _waiting(database, 3.0)  # the writer waits on the load
    assert waited and "id" not in result  # it was still under way when the load committed
    loader.commit()
    loader.close()
    t.join(60)
    assert "error" not in result, result
    with database.session() as s:
        stored = s.scalar(text("SELECT commune_nis FROM reports WHERE id = :r"), {"r": result["id"]})
        rule = s.scalar(text(f"WITH g AS (SELECT geometry g FROM reports WHERE id = :r) "
                             f"SELECT c.nis_code {HOME_COMMUNE_SQL}"), {"r": result["id"], "srid": 31370})
        zone_home = s.scalar(text("SELECT z.commune_nis FROM zones z JOIN zone_reports zr ON zr.zone_id = z.id "
                                  "WHERE zr.report_id = :r"), {"r": result["id"]})
    assert rule == other
    assert stored == other, (stored, zone_home)
    _assert_stored_equals_recomputed(database)


def test_a_report_filed_in_a_commune_being_removed_is_refused_cleanly(database, tmp_path) -> None:  # noqa: ANN001
    """A load with remove_absent removing Chimay while an admin files a report in Chimay: the
    report waits for the load, then is refused ``outside_service_area`` (it failed on its
    foreign key: a 500 in the API)."""
    import json

    from geosignal.errors import GeosignalError

    data = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["nis_code"] != "56016"]
    path = tmp_path / "without_chimay.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    with database.session() as s:
        lon, lat = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) p FROM communes "
                                  "WHERE nis_code = '56016') q")).one()
    loader = database.session()
    load_communes(loader, path, remove_absent=True)
    result: dict = {}

    def file() -> None:
        with database.session() as w:
            try:
                reports_service.create_report(w, _admin(w), _input(Point(lon, lat)))
                w.commit()
                result["ok"] = True
            except BaseException as exc:  # noqa: BLE001
                result["error"] = exc

    t = threading.Thread(target=file)
    t.start()
    _waiting(database, 3.0)
    loader.commit()
    loader.close()
    t.join(60)
    try:
        assert isinstance(result.get("error"), GeosignalError), repr(result)[:300]
        assert result["error"].code == "outside_service_area"
        with database.session() as s:
            assert s.scalar(text("SELECT count(*) FROM communes WHERE nis_code = '56016'")) == 0
            assert s.scalar(text("SELECT count(*) FROM reports WHERE commune_nis = '56016'")) == 0
        _assert_stored_equals_recomputed(database)
    finally:
        _communes_back(database)


def _without_chimay(tmp_path) -> object:  # noqa: ANN001
    """A communes file without Chimay (56016)."""
    import json

    data = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["nis_code"] != "56016"]
    path = tmp_path / "without_chimay.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_survey_import_naming_a_commune_being_removed_is_refused_cleanly(database, tmp_path) -> None:  # noqa: ANN001
    """The referent's ``POST /api/v1/stats/survey`` naming Chimay while a load with
    remove_absent removes it: the import waits for the load, then refuses the row naming Chimay
    (422 ``invalid_attribute``, ``reason`` ``unknown_commune``, the row and the NIS code) — it
    read Chimay before the load committed and failed on the foreign key: a 500."""
    import io
    from pathlib import Path

    from geosignal import create_app
    from geosignal.services.users import create_token

    survey_csv = (Path(__file__).parent / "fixtures" / "survey_2022.csv").read_bytes()
    assert b"56016" in survey_csv
    app = create_app({"TESTING": True, "ENV": "testing", "SECRET_KEY": "test", "TILE_URL": "",
                      "DATABASE_URL": database.engine.url.render_as_string(hide_password=False)})
    with database.session() as s:
        create_user(s, "survey.race@igretec.com", "referent", None, "correct horse battery")
        headers = {"Authorization": f"Bearer {create_token(s, 'survey.race@igretec.com')}"}
        s.commit()
    loader = database.session()
    load_communes(loader, _without_chimay(tmp_path), remove_absent=True)  # not committed yet
    answers: list = []

    def post() -> None:
        r = app.test_client().post("/api/v1/stats/survey", headers=headers, content_type="multipart/form-data",
                                   data={"file": (io.BytesIO(survey_csv), "survey_2022.csv"), "edition": "2022"})
        answers.append((r.status_code, r.get_json(silent=True)))

    t = threading.Thread(target=post)
    t.start()
    try:
        assert _waiting(database, 5.0)  # the import waits for the load
        loader.commit()
        loader.close()
        t.join(60)
        assert answers and answers[0][0] == 422, answers
        doc = answers[0][1]
        assert doc["code"] == "invalid_attribute" and doc["reason"] == "unknown_commune", doc
        assert "56016" in doc["detail"] and doc["where"].startswith("row "), doc
        with database.session() as s:
            assert s.scalar(text("SELECT count(*) FROM survey_responses")) == 0
            assert s.scalar(text("SELECT count(*) FROM communes WHERE nis_code = '56016'")) == 0
    finally:
        loader.close()
        t.join(60)
        with database.session() as s:
            s.execute(text("DELETE FROM survey_responses"))
            s.commit()
        _communes_back(database)
        app.extensions["geosignal.db"].engine.dispose()


def test_an_invitation_naming_a_commune_being_removed_is_refused_cleanly(database, tmp_path) -> None:  # noqa: ANN001
    """An admin invites Chimay's representative while the load that removes Chimay is not yet
    committed: the invitation waits for the load, then is refused ``unknown_commune`` naming
    56016, nothing stored (it read Chimay before the load committed and its INSERT failed on
    ``users.commune_nis``'s foreign key: an IntegrityError, a 500 on the page)."""
    from geosignal.errors import GeosignalError
    from geosignal.services import accounts

    loader = database.session()
    load_communes(loader, _without_chimay(tmp_path), remove_absent=True)  # not committed yet
    result: dict = {}

    def invite() -> None:
        with database.session() as s:
            try:
                accounts.invite(s, _admin(s), "bourgmestre@chimay.be", "representative", "56016")
                s.commit()
                result["ok"] = True
            except BaseException as exc:  # noqa: BLE001
                result["error"] = exc

    t = threading.Thread(target=invite)
    t.start()
    try:
        assert _waiting(database, 5.0)  # the invitation waits for the load
        loader.commit()
        loader.close()
        t.join(60)
        assert isinstance(result.get("error"), GeosignalError), repr(result)[:300]
        assert result["error"].code == "unknown_commune" and "56016" in result["error"].detail
        with database.session() as s:
            assert s.scalar(text("SELECT count(*) FROM users WHERE email = 'bourgmestre@chimay.be'")) == 0
    finally:
        loader.close()
        t.join(60)
        with database.session() as s:
            s.execute(text("DELETE FROM users WHERE email = 'bourgmestre@chimay.be'"))
            s.commit()
        _communes_back(database)


def test_a_withdrawal_of_a_report_a_reload_rehomes_does_not_deadlock_with_it(database, tmp_path) -> None:  # noqa: ANN001
    """A withdrawal (the communes lock, then the report's row, then the UPDATE whose triggers
    take the zone locks) of a report in the land a load gives to the other commune, the load
    starting between the withdrawal's row lock and its UPDATE: the load waits for the
    withdrawal, then re-homes the withdrawn report. (Without the communes lock the load held
    every zone lock and waited for the row, the withdrawal held the row and waited for a zone
    lock: a deadlock, and the load failed.)"""
    from geosignal.services import workflow

    with database.session() as s:
        x, y = border_point(s)
    point = reproject(Point(x + 20, y + 20), LAMBERT72, WGS84)
    with database.session() as w:
        feat, _ = reports_service.create_report(w, _admin(w), _input(point))
        w.commit()
    rid = feat["id"]
    home = feat["properties"]["commune_nis"]
    other = "52012" if home == "52011" else "52011"
    moved = communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved2.geojson",
                                            box(x - 400, y - 400, x + 400, y + 400), other)
    errors: dict = {}
    t_session = database.session()
    # the withdrawal's first statements: the communes lock (shared), then the report's row
    hold_communes(t_session)
    t_session.execute(workflow._LOCK, {"ids": [uuid.UUID(rid)]}).all()

    def reload() -> None:
        with database.session() as s:
            try:
                load_communes(s, moved)
                s.commit()
            except BaseException as exc:  # noqa: BLE001
                errors["load"] = exc

    t = threading.Thread(target=reload)
    t.start()
    assert _waiting(database, 10.0)  # the load waits for the withdrawal
    try:
        workflow.transition(t_session, rid, "withdrawn", _admin(t_session), "plus d'actualité")
        t_session.commit()
    except BaseException as exc:  # noqa: BLE001
        errors["withdrawal"] = exc
        t_session.rollback()
    finally:
        t_session.close()
    t.join(60)
    try:
        assert not errors, {k: repr(v)[:200] for k, v in errors.items()}
        with database.session() as s:  # withdrawn first, then moved by the load
            assert s.execute(text("SELECT status, commune_nis FROM reports WHERE id = :r"),
                             {"r": rid}).one() == ("withdrawn", other)
        _assert_stored_equals_recomputed(database)
    finally:
        _communes_back(database)


def test_an_upload_read_before_a_load_of_communes_is_refused_when_saved_after(database, tmp_path) -> None:  # noqa: ANN001
    """A file read with the communes as they were (its reports' homes chosen from them), saved
    once a load that moved a border has committed: 409 ``communes_changed``, nothing stored (it
    stored the homes of the old border). The same file saved again is taken."""
    from geosignal.errors import GeosignalError
    from geosignal.services.imports import import_file
    from geosignal.services.intake import DEFAULT_LIMITS
    from geosignal.services.territory import service_area

    with database.session() as s:
        x, y = border_point(s)
    lon, lat = reproject(Point(x + 35, y + 35), LAMBERT72, WGS84).coords[0]  # (no other test's place)
    data = f"latitude;longitude;reseau\n{lat:.7f};{lon:.7f};mobile\n".encode()
    cache: dict = {}
    with database.session() as s:
        area = service_area(s, cache)
    before = area.commune_at(lon, lat)[0]
    other = "52012" if before == "52011" else "52011"
    moved = communes_file_with_border_moved(COMMUNES_FILE, tmp_path / "moved3.geojson",
                                            box(x - 400, y - 400, x + 400, y + 400), other)
    try:
        with database.session() as s:
            load_communes(s, moved)
            s.commit()
        with database.session() as s:
            try:
                import_file(s, _admin(s), data, "campagne.csv", area=area, limits=DEFAULT_LIMITS)
                raise AssertionError("saved with the communes of before the load")
            except GeosignalError as error:
                assert (error.code, error.status) == ("communes_changed", 409)
            s.rollback()
            near = text("SELECT count(*) FROM reports "
                        "WHERE ST_DWithin(geometry, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 1e-6)")
            assert s.scalar(near, {"x": lon, "y": lat}) == 0
            outcome = import_file(s, _admin(s), data, "campagne.csv", area=service_area(s, cache),
                                  limits=DEFAULT_LIMITS)
            s.commit()
            assert [f["properties"]["commune_nis"] for f in outcome.to_dict()["features"]] == [other]
            assert s.scalar(near, {"x": lon, "y": lat}) == 1
    finally:
        _communes_back(database)
