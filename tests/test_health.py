"""/healthz and /readyz, and 503 (never 500) while the database is unreachable."""

from __future__ import annotations

import json
import socket

from sqlalchemy import text

from geosignal import create_app
from tests.conftest import csrf_token, owner_only


def test_healthz_answers_without_the_database(client) -> None:  # noqa: ANN001
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@owner_only
def test_readyz_checks_postgis_the_crs_and_the_migrations(client, db) -> None:  # noqa: ANN001
    response = client.get("/readyz")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["status"] == "ready"
    assert doc["checks"]["crs"]["ok"] and doc["checks"]["crs"]["postgis_m"] < 1 and doc["checks"]["crs"]["pyproj_m"] < 1
    assert doc["checks"]["migrations"]["database"] == doc["checks"]["migrations"]["head"]
    db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    behind = client.get("/readyz")
    assert behind.status_code == 503 and behind.headers["Retry-After"] == "5"
    assert behind.get_json()["checks"]["migrations"] == {"ok": False, "database": "0001",
                                                         "head": doc["checks"]["migrations"]["head"]}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_unreachable_gives_503_with_retry_after() -> None:
    url = f"postgresql+psycopg://geosignal:geosignal@127.0.0.1:{_closed_port()}/nowhere?connect_timeout=2"
    app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "t"})
    client = app.test_client()
    for path, headers in (("/readyz", {}), ("/api/v1/reports", {"Authorization": "Bearer x"}),
                          ("/api/v1/communes", {})):
        response = client.get(path, headers=headers)
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["code"] == "service_unavailable"
    # detail in English, for clients and logs (it was French); message in the request's language
    english = client.get("/api/v1/communes", headers={"Accept-Language": "en"}).get_json()
    assert english["detail"] == "the database does not answer for now; try again in 5 seconds"
    assert english["message"] == "Service unavailable for now: try again in 5 seconds."
    token = csrf_token(client.get("/login").get_data(as_text=True))
    page = client.post("/login", data={"email": "a@b.be", "password": "x", "csrf_token": token},
                       headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "réessayez dans 5 secondes" in page.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_commands_work_without_the_front_end_libraries_and_serve_says_what_is_missing(
        app, client, db, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from geosignal import assets

    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path)
    build = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x",
                        "SECRET_KEY": "t"})
    assert build.test_cli_runner().invoke(args=["aggregate", "--help"]).exit_code == 0
    served = build.test_cli_runner().invoke(args=["serve", "--port", "1"])
    assert served.exit_code == 1 and "run `npm ci`" in served.output
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.get_json()["checks"]["front_end"] == {"ok": False}


@owner_only
def test_readyz_details_only_to_the_referent_admins_and_the_machine_itself(client, db, referent, representative,
                                                                            admin) -> None:  # noqa: ANN001
    """``/readyz`` told anyone PostGIS's version and the alembic revision: from elsewhere, an
    anonymous reader or a representative gets the status code and ``ready`` only; the referent,
    admins and the machine itself (loopback, no proxy in between) get the details."""
    away = {"REMOTE_ADDR": "203.0.113.5"}
    for response in (client.get("/readyz", environ_base=away), representative.get("/readyz", environ_base=away),
                     client.get("/readyz", headers={"X-Forwarded-For": "203.0.113.5"})):
        assert response.status_code == 200 and response.get_json() == {"status": "ready", "ready": True}
    for response in (client.get("/readyz"), referent.get("/readyz", environ_base=away),
                     admin.get("/readyz", environ_base=away), client.get("/readyz", environ_base={"REMOTE_ADDR": "::1"})):
        doc = response.get_json()
        assert response.status_code == 200 and doc["ready"] is True and doc["status"] == "ready"
        assert doc["checks"]["database"]["postgis"] and doc["checks"]["migrations"]["database"]
    db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    behind = client.get("/readyz", environ_base=away)
    assert behind.status_code == 503 and behind.headers["Retry-After"] == "5"
    assert behind.get_json() == {"status": "not_ready", "ready": False}
    assert referent.get("/readyz", environ_base=away).get_json()["checks"]["migrations"]["database"] == "0001"


def test_a_write_conflict_is_503_retry_and_says_so_never_500(client, db, representative, monkeypatch) -> None:  # noqa: ANN001
    """PostgreSQL's deadlock or serialization failure (a concurrency trial: raised by psycopg on
    an import's raw cursor it gave a 500; through SQLAlchemy, "the database is unreachable"):
    503 ``service_unavailable``, ``kind`` ``write_conflict``, ``Retry-After: 1``, nothing stored."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from geosignal.services import reports as reports_service
    from tests.factories import (
        CHARLEROI_LAMBERT72,
        count_reports,
        feature,
        square_lambert,
        to_geojson_4326,
    )

    body = feature(to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200)), network="mobile")
    for raised in (psycopg.errors.DeadlockDetected("deadlock detected"),
                   OperationalError("INSERT INTO reports …", {}, psycopg.errors.SerializationFailure("could not serialize"))):
        def conflict(*_args, raised=raised, **_kwargs):  # noqa: ANN002, ANN003, ANN202
            raise raised

        monkeypatch.setattr(reports_service, "create_report", conflict)
        before = count_reports(db)
        answer = representative.post("/api/v1/reports", json=body)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1"), answer.get_data(as_text=True)
        problem = answer.get_json()
        assert (problem["code"], problem["kind"], problem["retry_after_s"]) == ("service_unavailable", "write_conflict", 1)
        assert count_reports(db) == before
    representative.login()
    page = representative.client.get("/carte")
    token = csrf_token(page.get_data(as_text=True))
    said = representative.client.post("/carte", data={"csrf_token": token, "geometry": json.dumps(body["geometry"]),
                                                      "network": "mobile"}, headers={"Accept": "text/html"})
    assert said.status_code == 503 and said.headers["Retry-After"] == "1"
    assert "Un autre enregistrement fait au même moment a bloqué le vôtre" in " ".join(
        said.get_data(as_text=True).split()).replace("&#39;", "'")


def test_a_request_waits_for_a_lock_at_most_lock_timeout_then_503_busy() -> None:
    """A concurrency trial: behind a large import holding its network's zone lock for a
    minute, a request waited until gunicorn killed its worker (a 500 page; both workers stuck,
    /healthz too). A web request now waits at most ``LOCK_TIMEOUT_S``: 503 ``busy`` with
    ``Retry-After``, nothing stored; commands and job workers still wait."""
    import time

    from geosignal.devdb import scratch_database
    from geosignal.services.users import create_token, create_user
    from tests.conftest import COMMUNES_FILE
    from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

    with scratch_database("geosignal_test_busy", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        with database.session() as session:
            create_user(session, "busy@charleroi.be", "representative", "52011", "correct horse battery")
            token = create_token(session, "busy@charleroi.be")
            session.commit()
        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "t", "TILE_URL": "",
                          "LOCK_TIMEOUT_S": 1})
        try:
            client = app.test_client()
            body = feature(to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200)), network="mobile")
            headers = {"Authorization": f"Bearer {token}"}
            with database.session() as job:  # a large mobile import's transaction: the zone lock held
                job.execute(text("SELECT zones_lock(ARRAY['mobile']::varchar[])"))
                started = time.perf_counter()
                answer = client.post("/api/v1/reports", json=body, headers=headers)
                waited = time.perf_counter() - started
                assert (answer.status_code, answer.headers["Retry-After"]) == (503, "30"), answer.get_data(as_text=True)
                problem = answer.get_json()
                assert (problem["code"], problem["kind"], problem["retry_after_s"]) == ("service_unavailable", "busy", 30)
                assert 1.0 <= waited < 10
                assert job.execute(text("SELECT count(*) FROM reports")).scalar_one() == 0
                # a fixed report needs no mobile lock: it does not wait
                fixed = client.post("/api/v1/reports", json={**body, "properties": {**body["properties"],
                                                                                    "network": "fixed"}},
                                    headers=headers)
                assert fixed.status_code == 201, fixed.get_json()
                job.rollback()
            assert client.post("/api/v1/reports", json=body, headers=headers).status_code == 201
        finally:
            app.extensions["geosignal.db"].engine.dispose()
