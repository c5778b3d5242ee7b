"""Served by a role that owns nothing (``GEOSIGNAL_SERVICE_ROLE``): the audit journal then holds
against whoever has taken the service's database password. README: the owner role could grant
itself back ``UPDATE`` on the journal and disable its trigger, and serving with another role was
untested.

A scratch database is migrated by the owner, ``geosignal init-db`` grants the service role
(``geosignal_service``, made by ``scripts/provision-db.sh``), then the application and the
commands run as that role: reports filed, edited, validated, rejected and withdrawn, a file
saved and another saved as a job run by a real worker, a recorded export, the figures, the
zones and the accounts' commands. Then the role tries to change the journal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from geosignal import create_app, jobs
from geosignal.devdb import scratch_database
from geosignal.services import aggregation
from tests.conftest import CHARLEROI, COMMUNES_FILE
from tests.factories import feature, square_lambert, to_geojson_4326

ROOT = Path(__file__).resolve().parent.parent
GEOSIGNAL = str(Path(sys.executable).with_name("geosignal"))
SERVICE_ROLE = "geosignal_service"  # scripts/provision-db.sh: password = its name
PASSWORD = "correct horse battery"


def _run(url: str, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_ENV": "testing",
                   "PYTHONPATH": str(ROOT), **env}
    environment.pop("GEOSIGNAL_DB_NAME", None)
    return subprocess.run([GEOSIGNAL, *args], env=environment, capture_output=True, text=True, input=stdin,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def served():  # noqa: ANN201
    """(owner URL, service URL, application served as the service role)."""
    with scratch_database("geosignal_svc", COMMUNES_FILE) as database:
        owner = database.engine.url.render_as_string(hide_password=False)
        database.engine.dispose()
        granted = _run(owner, "init-db", GEOSIGNAL_SERVICE_ROLE=SERVICE_ROLE)
        assert granted.returncode == 0, granted.stderr
        assert granted.stdout.splitlines()[-1] == (f"role {SERVICE_ROLE} granted what serving needs "
                                                   "(the audit journal: read and append only)")
        service = make_url(owner).set(username=SERVICE_ROLE, password=SERVICE_ROLE).render_as_string(
            hide_password=False)
        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": service, "SECRET_KEY": "test",
                          "TILE_URL": "", "IMPORT_JOB_MIN_BYTES": 2000})
        try:
            yield owner, service, app
        finally:
            app.extensions["geosignal.db"].engine.dispose()


def _token(service: str, email: str, role: str, commune: str | None = None) -> str:
    """An account made and its token minted by the commands, run as the service role."""
    args = ["create-user", email, "--role", role, "--password-stdin"] + (["--commune", commune] if commune else [])
    made = _run(service, *args, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    minted = _run(service, "create-token", email)
    assert minted.returncode == 0, minted.stderr
    return minted.stdout.strip().splitlines()[-1]


def _zone(x: float, y: float, side: float = 120.0) -> dict:
    return to_geojson_4326(square_lambert(x, y, side))


def test_the_service_served_by_a_role_that_owns_nothing_works_and_cannot_change_the_journal(served) -> None:  # noqa: ANN001, E501
    owner, service, app = served
    rep = {"Authorization": "Bearer " + _token(service, "echevin@charleroi.be", "representative", CHARLEROI)}
    ref = {"Authorization": "Bearer " + _token(service, "referent@igretec.com", "referent")}
    client = app.test_client()

    # reports: filed, edited, validated, rejected, withdrawn
    ids = []
    for k in range(3):  # squares in Charleroi, the first two overlapping
        created = client.post("/api/v1/reports", headers=rep, json=feature(
            _zone(153_000 + 60 * min(k, 1) + 900 * (k == 2), 122_000), network="mobile", description=f"zone {k}"))
        assert created.status_code == 201, created.get_json()
        ids.append(created.get_json()["id"])
    tag = client.get(f"/api/v1/reports/{ids[0]}", headers=rep).headers["ETag"]
    edited = client.patch(f"/api/v1/reports/{ids[0]}", headers={**rep, "If-Match": tag},
                          json={"properties": {"description": "Cave"}})
    assert edited.status_code == 200, edited.get_json()
    for rid, to, reason in ((ids[0], "validated", None), (ids[1], "rejected", "Hors commune ?")):
        body = {"to": to, **({"reason": reason} if reason else {})}
        moved = client.post(f"/api/v1/reports/{rid}/transitions", headers=ref, json=body)
        assert moved.status_code == 200, moved.get_json()
    withdrawn = client.post(f"/api/v1/reports/{ids[2]}/transitions", headers=rep,
                            json={"to": "withdrawn", "reason": "En double"})
    assert withdrawn.status_code == 200, withdrawn.get_json()

    # a file saved at once, and a larger one saved as a job run by a real worker
    small = b"latitude;longitude;operateur\r\n50,4108;4,4440;Proximus\r\n50,4120;4,4460;Orange\r\n"
    saved = client.post("/api/v1/imports", headers=rep, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(small), "campagne.csv"), "network": "mobile"})
    assert saved.status_code == 201 and saved.get_json()["saved"] == 2, saved.get_json()
    rows = "".join(f"{50.4000 + k * 1e-4:.4f};{4.4300 + k * 1e-4:.4f};Base\r\n".replace(".", ",") for k in range(150))
    large = ("latitude;longitude;operateur\r\n" + rows).encode()
    assert len(large) > 2000
    queued = client.post("/api/v1/imports", headers=rep, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(large), "releves.csv"), "network": "mobile"})
    assert queued.status_code == 202, queued.get_json()
    jobs.run_worker(app, wait=False, install_signal_handlers=False)
    done = client.get(queued.headers["Location"], headers=rep).get_json()
    assert (done["state"], done["saved"]) == ("done", 150), done

    # a recorded export, the figures (stored == recomputed), the zones
    export = client.get("/api/v1/exports/dwconnect?status=validated", headers=ref)
    assert export.status_code == 200 and len(export.get_json()["features"]) == 1
    database = app.extensions["geosignal.db"]
    with database.session() as session:
        table = aggregation.commune_table(session)
        live = aggregation.compute_live(session)
    charleroi = next(r for r in table["communes"] if r["nis_code"] == CHARLEROI)
    assert charleroi["report_count"] == live[CHARLEROI]["report_count"] == 1 + 2 + 150  # validated + files
    assert charleroi["white_zone_area_km2"] == pytest.approx(live[CHARLEROI]["white_zone_area_km2"], rel=1e-6)
    assert charleroi["white_zone_area_km2"] == pytest.approx(0.0144, rel=1e-3)  # the validated 120 m square
    listed = _run(service, "list-tokens", "referent@igretec.com")
    token_id = listed.stdout.split("\t")[0]
    for args in (["refresh-stats"], ["regroup-zones"], ["send-mail"], ["purge", "--dry-run"],
                 ["revoke-token", token_id], ["deactivate-user", "echevin@charleroi.be"],
                 ["reactivate-user", "echevin@charleroi.be"], ["load-communes", str(COMMUNES_FILE)]):
        ran = _run(service, *args)
        assert ran.returncode == 0 and "Traceback" not in ran.stderr, (args, ran.stderr[-600:])
    assert client.get("/api/v1/reports", headers=ref).status_code == 401  # its token revoked
    assert client.get("/api/v1/reports", headers=rep).status_code == 401  # deactivated: tokens revoked (and kept so)

    # the journal holds every act, and the service role cannot change it
    engine = create_engine(service)
    try:
        with engine.connect() as c:
            actions = c.execute(text("SELECT action, count(*) FROM audit_events GROUP BY 1")).all()
        counted = dict(actions)
        assert counted["create"] == 3 + 2 + 150 and counted["edit"] == 1
        assert (counted["validate"], counted["reject"], counted["withdraw"]) == (1, 1, 1)
        assert (counted["token_create"], counted["token_revoke"], counted["deactivate"], counted["reactivate"]) == (
            2, 1, 1, 1)
        assert counted["export"] == 1
        total = sum(counted.values())
        for statement, said in (
                ("UPDATE audit_events SET reason = 'rien'", "permission denied for table audit_events"),
                ("DELETE FROM audit_events", "permission denied for table audit_events"),
                ("TRUNCATE audit_events", "permission denied for table audit_events"),
                ("ALTER TABLE audit_events DISABLE TRIGGER USER", "must be owner of table audit_events"),
                ("DROP TABLE audit_events", "must be owner of table audit_events"),
                ("UPDATE alembic_version SET version_num = '0001'", "permission denied for table alembic_version"),
                ("CREATE TABLE audit_copy (id int)", "permission denied for schema public"),
                # what the journal's lines name, and its sequences (an operator trial did each of these)
                ("UPDATE users SET email = 'quelquun@ailleurs.be' WHERE email = 'referent@igretec.com'",
                 "permission denied for table users"),
                ("UPDATE reports SET reference = 'CM-2026-99999'", "permission denied for table reports"),
                ("DELETE FROM reports", "permission denied for table reports"),
                ("DELETE FROM users", "permission denied for table users"),
                ("SELECT setval('audit_events_id_seq', 1)", "permission denied for sequence audit_events_id_seq"),
                ("SELECT setval('reports_change_seq', 1)", "permission denied for sequence reports_change_seq")):
            with engine.connect() as c, pytest.raises(DBAPIError) as refused:
                c.execute(text(statement))
            assert said in str(refused.value.orig), statement
        # a line slipped in with an id and a time of its own gets the next number and now()
        with engine.connect() as c:
            last = c.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
            stamped = c.execute(text(
                "INSERT INTO audit_events (id, at, action) OVERRIDING SYSTEM VALUE "
                "VALUES (-42, '2020-01-01T00:00:00Z', 'export') RETURNING id, at = now()")).one()
            c.rollback()
        assert stamped[0] > last and stamped[1] is True
        with engine.connect() as c:  # a grant to itself gives nothing (no grant option)
            c.execute(text(f"GRANT UPDATE, DELETE ON audit_events TO {SERVICE_ROLE}"))
            c.commit()
        with engine.connect() as c, pytest.raises(DBAPIError):
            c.execute(text("DELETE FROM audit_events"))
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == total
    finally:
        engine.dispose()


def test_an_upgrade_without_the_setting_grants_the_service_role_again(served) -> None:  # noqa: ANN001
    """An operator trial: an upgrade run without ``GEOSIGNAL_SERVICE_ROLE`` left the new tables
    out of the service role's reach, and ``serve`` started (the export then answered 500).
    ``serve`` now refuses, naming the tables; ``init-db`` grants the roles granted before."""
    from geosignal import migrate

    owner, service, _app = served
    engine = create_engine(owner)
    try:
        with engine.begin() as c:  # as after a migration made a table: not granted yet
            c.execute(text(f"REVOKE ALL ON zone_changes FROM {SERVICE_ROLE}"))
    finally:
        engine.dispose()
    assert migrate.missing_privileges(service) == ["zone_changes"] and migrate.missing_privileges(owner) == []
    refused = _run(service, "serve", "--port", "1", "--job-workers", "0")
    assert refused.returncode == 1 and refused.stderr.strip() == (
        "Error: the role of GEOSIGNAL_DATABASE_URL may not read 1 table(s) (zone_changes): run "
        "`GEOSIGNAL_SERVICE_ROLE=<this role> geosignal init-db` with the owner's URL, then serve again")
    again = _run(owner, "init-db")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (f"role {SERVICE_ROLE} granted again (granted before) what serving "
                                             "needs (the audit journal: read and append only)")
    assert migrate.missing_privileges(service) == []
    # init-db with the service role's own URL: said to be the owner's work, not a false claim
    own = _run(service, "init-db", GEOSIGNAL_SERVICE_ROLE=SERVICE_ROLE)
    assert own.returncode == 1 and own.stderr.strip() == (
        f"Error: GEOSIGNAL_SERVICE_ROLE: the role {SERVICE_ROLE} does not own the tables: grants are given by "
        "their owner (run init-db with the owner's URL)")


def test_a_role_that_could_change_the_journal_is_refused(served) -> None:  # noqa: ANN001
    """The owner itself, or a role that does not exist, is not granted as a service role; a
    migration by the service role says it needs the owner."""
    owner, service, _app = served
    owner_role = make_url(owner).username
    for role, said in ((owner_role, f"the role {owner_role} owns the tables, is a member of their owner "
                                    f"{owner_role}, is a superuser or may create roles: it could alter the journal"),
                       ("nobody_here", "there is no role nobody_here")):
        done = _run(owner, "init-db", GEOSIGNAL_SERVICE_ROLE=role)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.strip().startswith(f"Error: GEOSIGNAL_SERVICE_ROLE: {said}"), done.stderr
    from geosignal import migrate
    from geosignal.services.health import migration_head

    migrate.downgrade(owner, "-1")
    try:
        refused = _run(service, "init-db")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        line = refused.stderr.strip()
        assert line.startswith(("Error: database: must be owner of ", "Error: database: permission denied for ")) \
            and line.endswith(
            "(the role of GEOSIGNAL_DATABASE_URL may not do this: a migration needs the owner of the tables; "
            "run init-db with the owner's URL)"), line
    finally:
        upgraded = _run(owner, "init-db", GEOSIGNAL_SERVICE_ROLE=SERVICE_ROLE)
        assert upgraded.returncode == 0, upgraded.stderr
    assert migrate.current_revision(owner) == migration_head()
