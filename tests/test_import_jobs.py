"""Import jobs: a saved upload above ``IMPORT_JOB_MIN_BYTES`` is queued (202 + Location), run
by a real procrastinate worker against PostGIS, polled until ``done`` or ``failed``.

The tests use their own scratch database (a job worker sees only committed data, which the
rolled-back per-test transaction of the other tests never is)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json

import pytest
from sqlalchemy import select, text

from geosignal import create_app, jobs
from geosignal.devdb import scratch_database
from geosignal.errors import GeosignalError
from geosignal.services.users import create_token, create_user
from tests.conftest import CHARLEROI, COMMUNES_FILE, ROOT

#: Points well inside Charleroi (lon, lat).
INSIDE_CHARLEROI = [(4.4300 + 0.00001 * k, 50.4100 + 0.00001 * k) for k in range(400)]


@pytest.fixture(scope="module")
def job_app():  # noqa: ANN201
    with scratch_database("geosignal_jobs", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "test",
                          "TILE_URL": "", "IMPORT_JOB_MIN_BYTES": 2000})
        with app.extensions["geosignal.db"].session() as session:
            create_user(session, "echevin@charleroi.be", "representative", CHARLEROI, "correct horse battery")
            create_user(session, "autre@charleroi.be", "representative", CHARLEROI, "correct horse battery")
            tokens = {email: create_token(session, email) for email in ("echevin@charleroi.be", "autre@charleroi.be")}
            session.commit()
        app.config["TEST_TOKENS"] = tokens
        yield app
        app.extensions["geosignal.db"].engine.dispose()


def _headers(app, email: str = "echevin@charleroi.be") -> dict[str, str]:  # noqa: ANN001
    return {"Authorization": f"Bearer {app.config['TEST_TOKENS'][email]}"}


def _csv(points, header: str = "latitude;longitude;operateur;description") -> bytes:  # noqa: ANN001
    lines = [header] + [f"{lat:.5f};{lon:.5f};Proximus;zone {k}".replace(".", ",", 2) for k, (lon, lat) in
                        enumerate(points)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _post(app, data: bytes, name: str = "campagne.csv", **fields):  # noqa: ANN001, ANN003, ANN201
    form = {"file": (io.BytesIO(data), name), "network": "mobile", **fields}
    return app.test_client().post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                  headers=_headers(app))


def _scalar(app, sql: str, **params):  # noqa: ANN001, ANN003, ANN202
    with app.extensions["geosignal.db"].engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def _work(app) -> None:  # noqa: ANN001
    """Run a real job worker until the queue is empty."""
    jobs.run_worker(app, wait=False, install_signal_handlers=False)


def test_a_large_save_is_queued_run_by_a_worker_and_polled_until_done(job_app) -> None:
    data = _csv(INSIDE_CHARLEROI[:300])
    assert len(data) > 2000
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, data)
    assert response.status_code == 202, response.get_json()
    location = response.headers["Location"]
    body = response.get_json()
    assert location == f"/api/v1/imports/{body['id']}"
    assert (body["state"], body["rows_done"], body["rows_total"]) == ("queued", 0, None)
    assert _scalar(job_app, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == 1
    polled = job_app.test_client().get(location, headers=_headers(job_app)).get_json()
    assert polled["state"] == "queued"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before

    _work(job_app)

    done = job_app.test_client().get(location, headers=_headers(job_app))
    assert done.status_code == 200
    result = done.get_json()
    assert (result["state"], result["rows_done"], result["rows_total"]) == ("done", 300, 300)
    assert (result["saved"], result["accepted"], result["refused"], result["dry_run"]) == (300, 300, 0, False)
    assert [f["index"] for f in result["features"]] == list(range(300))
    assert all(f["created"] and f["properties"]["commune_nis"] == CHARLEROI for f in result["features"])
    assert result["features"][7]["properties"]["description"] == "zone 7"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 300
    assert _scalar(job_app, "SELECT count(*) FROM reports WHERE id = CAST(:id AS uuid)",
                   id=result["features"][0]["report_id"]) == 1
    # figures brought up to date by the job, in the same transaction as the reports
    assert _scalar(job_app, "SELECT sum(n) FROM commune_counts WHERE nis_code = :n AND dim = 'reports'",
                   n=CHARLEROI) \
        == _scalar(job_app, "SELECT count(*) FROM reports WHERE commune_nis = :n AND status IN "
                   "('submitted', 'validated')", n=CHARLEROI)
    assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:id AS uuid)", id=result["id"])
    assert _scalar(job_app, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')") == 0
    # the same document, compressed, for clients that accept gzip
    zipped = job_app.test_client().get(location, headers={**_headers(job_app), "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == result
    as_is = job_app.test_client().get(location, headers={**_headers(job_app), "Accept-Encoding": "gzip;q=0"})
    assert as_is.headers.get("Content-Encoding") is None and as_is.get_json() == result
    # another representative does not see it
    other = job_app.test_client().get(location, headers=_headers(job_app, "autre@charleroi.be"))
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"


def test_a_queued_save_leaves_out_the_rows_saved_before_when_asked(job_app) -> None:
    """An edited copy saved through a job: the rows of an earlier save are left out on the
    user's word (``skip_saved_before``, kept with the job's options)."""
    first = _csv(INSIDE_CHARLEROI[300:360])
    assert _post(job_app, first, "premier.csv").status_code == 202
    _work(job_app)
    with job_app.extensions["geosignal.db"].engine.begin() as c:  # a day later (past the duplicate window)
        c.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        c.execute(text("UPDATE reports SET created_at = created_at - interval '1 day'"))
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    edited = _csv(INSIDE_CHARLEROI[300:380])  # 60 rows saved before, 20 new
    response = _post(job_app, edited, "second.csv", skip_saved_before="true")
    assert response.status_code == 202
    _work(job_app)
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (result["state"], result["saved"], result["skipped"], result["accepted"]) == ("done", 20, 60, 80)
    assert [f.get("skipped", False) for f in result["features"]] == [True] * 60 + [False] * 20
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 20


def test_a_queued_save_corrects_the_reports_of_corrected_rows_when_asked(job_app) -> None:
    """An edited copy whose 60 rows were corrected (another operator) saved through a job with
    ``correct_saved_before`` (kept with the job's options): the 60 reports are updated, none
    stored a second time."""
    first = _csv([(4.4400 + 0.00001 * k, 50.4000 + 0.00001 * k) for k in range(60)])  # (places of their own)
    assert _post(job_app, first, "premier.csv").status_code == 202
    _work(job_app)
    with job_app.extensions["geosignal.db"].engine.begin() as c:  # a day later, never edited since
        c.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        c.execute(text("UPDATE reports SET created_at = created_at - interval '1 day', "
                       "updated_at = updated_at - interval '1 day'"))
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, first.replace(b";Proximus;", b";Orange;"), "second.csv", correct_saved_before="true")
    assert response.status_code == 202
    _work(job_app)
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (result["state"], result["saved"], result["corrected"]) == ("done", 0, 60)
    assert all(f["corrected"] for f in result["features"])
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before
    assert _scalar(job_app, "SELECT count(*) FROM reports WHERE description LIKE 'zone %' "
                            "AND operators = ARRAY['Orange']::varchar[]") == 60


def test_an_unreadable_file_ends_failed_with_its_code(job_app) -> None:
    data = ("endroit;remarque\r\n" + "Charleroi;pas de réseau\r\n" * 200).encode("utf-8")
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, data)
    assert response.status_code == 202
    _work(job_app)
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert result["state"] == "failed"
    assert result["error"]["code"] == "unreadable_file"
    assert result["error"]["columns"] == ["endroit", "remarque"]
    assert "features" not in result
    assert _scalar(job_app, "SELECT error_code FROM import_jobs WHERE id = CAST(:id AS uuid)",
                   id=result["id"]) == "unreadable_file"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before


def test_a_file_of_more_features_than_allowed_ends_failed_with_its_count(job_app) -> None:
    """The job worker reads the file with the configured limits: refused whole, counted, nothing stored."""
    data = _csv(INSIDE_CHARLEROI[:100])
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    saved = job_app.config["MAX_UPLOAD_FEATURES"]
    job_app.config["MAX_UPLOAD_FEATURES"] = 60
    try:
        response = _post(job_app, data)
        assert response.status_code == 202
        _work(job_app)
    finally:
        job_app.config["MAX_UPLOAD_FEATURES"] = saved
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (result["state"], result["error"]["code"], result["error"]["status"]) == ("failed", "too_many_features", 413)
    assert (result["error"]["where"], result["error"]["value"], result["error"]["limit"]) == ("row 62", 100, 60)
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before


def test_a_rejected_file_ends_failed_with_the_per_feature_report(job_app) -> None:
    chimay = (4.31, 50.05)  # not Charleroi: not_your_commune for Charleroi's representative
    data = _csv([*INSIDE_CHARLEROI[300:360], chimay])
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, data)
    assert response.status_code == 202
    _work(job_app)
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (result["state"], result["error"]["code"], result["error"]["status"]) == ("failed", "import_rejected", 422)
    assert (result["accepted"], result["refused"], result["saved"]) == (60, 1, 0)
    refused = [f for f in result["features"] if f["status"] == "refused"]
    assert [(f["index"], f["error"]["code"], f["error"]["where"]) for f in refused] == \
        [(60, "not_your_commune", "row 62")]  # a CSV row, as a spreadsheet numbers it
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before
    # what a person reads, in the language of the request that queued it, as a synchronous
    # refusal says it (a failed job's error had no message)
    assert result["error"]["message"] == ("Des éléments du fichier ont été refusés et rien n'a été enregistré : "
                                          "corrigez-les, ou enregistrez seulement les éléments acceptés.")
    form = {"file": (io.BytesIO(data), "campagne.csv"), "network": "mobile"}
    english = job_app.test_client().post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                         headers={**_headers(job_app), "Accept-Language": "en"})
    _work(job_app)
    said = job_app.test_client().get(english.headers["Location"], headers=_headers(job_app)).get_json()
    assert said["error"]["message"] == ("Items of the file were refused and nothing was saved: correct them, or "
                                        "save only the accepted items.")


def test_bad_requests_are_answered_at_once_not_queued(job_app) -> None:
    queued = _scalar(job_app, "SELECT count(*) FROM import_jobs")
    binary = b"\x00\x01" * 2000
    response = _post(job_app, binary, "x.bin")
    assert response.status_code == 415 and response.get_json()["code"] == "unsupported_format"
    response = _post(job_app, _csv(INSIDE_CHARLEROI[:100]), mode="everything")
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_request"
    response = _post(job_app, _csv(INSIDE_CHARLEROI[:100]), crs="EPSG:2154")
    assert response.status_code == 422 and response.get_json()["code"] == "unsupported_crs"
    # a column_map key that is no property needs no file to be refused (it was queued, then failed)
    response = _post(job_app, _csv(INSIDE_CHARLEROI[:100]), column_map='{"foo": "latitude"}')
    assert (response.status_code, response.get_json()["code"], response.get_json()["where"]) == (
        400, "invalid_request", "column_map")
    assert _scalar(job_app, "SELECT count(*) FROM import_jobs") == queued
    # a preview of the same file stays synchronous
    preview = _post(job_app, _csv(INSIDE_CHARLEROI[:100]), dry_run="true")
    assert preview.status_code == 200 and preview.get_json()["accepted"] == 100


def _kmz(points) -> bytes:  # noqa: ANN001
    """A KMZ (deflated ``doc.kml``) of one placemark per point."""
    import zipfile

    placemarks = "".join(f"<Placemark><Point><coordinates>{lon:.5f},{lat:.5f}</coordinates></Point></Placemark>"
                         for lon, lat in points)
    doc = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f"{placemarks}</Document></kml>").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("doc.kml", doc)
    return buffer.getvalue()


def _zipped_shapefile(points, folder) -> bytes:  # noqa: ANN001
    """A zipped Shapefile (deflated members) of one point per point, each with a long description."""
    import zipfile

    import geopandas as gpd
    from shapely.geometry import Point

    gpd.GeoDataFrame({"descriptio": [f"zone {k}, relevée à pied rue de la Station : ni 4G ni 3G " * 3
                                     for k in range(len(points))]},
                     geometry=[Point(p) for p in points], crs=4326).to_file(folder / "zones.shp", encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.glob("zones.*")):
            z.writestr(path.name, path.read_bytes())
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["kmz", "shapefile"])
def test_an_archive_is_a_job_by_what_it_inflates_to_not_by_the_bytes_sent(job_app, tmp_path, kind: str) -> None:
    """A 58 KB KMZ of 20,000 placemarks was saved inside the web request (201 after 134 s; a
    web worker is killed at 30 s): the threshold compared the bytes sent. An archive (KMZ,
    zipped Shapefile) is counted by what its members declare they inflate to (its central
    directory: nothing inflated); a small one is still saved at once."""
    import zipfile

    lon0 = 4.4600 if kind == "kmz" else 4.4650
    if kind == "kmz":
        points = [(lon0 + 0.0002 * (k % 15), 50.4150 + 0.0001 * (k // 15)) for k in range(210)]
        data, name = _kmz(points), "campagne.kmz"
    else:
        points = [(lon0 + 0.0002 * (k % 10), 50.4150 + 0.0001 * (k // 10)) for k in range(30)]
        (tmp_path / "large").mkdir()
        data, name = _zipped_shapefile(points, tmp_path / "large"), "campagne.zip"
    inflated = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert len(data) < 2000 < inflated  # IMPORT_JOB_MIN_BYTES
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, data, name, mode="valid_only")
    assert response.status_code == 202, response.get_json()
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before
    _work(job_app)
    result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (result["state"], result["format"], result["saved"], result["refused"]) == (
        "done", kind, len(points), 0)
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + len(points)
    # an archive that inflates to less than the threshold is saved in the request
    (tmp_path / "small").mkdir()
    few = [(lon0 + 0.0002 * k, 50.4180) for k in range(3)]
    small = _kmz(few) if kind == "kmz" else _zipped_shapefile(few[:1], tmp_path / "small")
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(small)).infolist()) < 2000
    answer = _post(job_app, small, name, mode="valid_only")
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["saved"] == (3 if kind == "kmz" else 1)


# ---- a job acts for its account as it is when it runs ---------------------------------------------

def _account(app, email: str, role: str = "representative", commune: str | None = CHARLEROI) -> dict[str, str]:  # noqa: ANN001
    """A new account of ``role`` with a token; its Authorization header."""
    with app.extensions["geosignal.db"].session() as session:
        create_user(session, email, role, commune, "correct horse battery")
        token = create_token(session, email)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _queue(app, headers: dict[str, str], points) -> str:  # noqa: ANN001
    form = {"file": (io.BytesIO(_csv(points)), "campagne.csv"), "network": "mobile"}
    response = app.test_client().post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                      headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _job(app, job_id: str) -> dict:  # noqa: ANN001
    """The job's document as ``GET /api/v1/imports/<id>`` answers it (read from the database:
    the account's token may be revoked), with ``error_code``."""
    with app.extensions["geosignal.db"].engine.connect() as c:
        state, code, result = c.execute(text("SELECT state, error_code, result FROM import_jobs "
                                             "WHERE id = CAST(:id AS uuid)"), {"id": job_id}).one()
    doc = json.loads(gzip.decompress(result)) if result is not None else {}
    return {**doc, "state": state, "error_code": code}


def _reports_of(app, email: str) -> int:  # noqa: ANN001
    return _scalar(app, "SELECT count(*) FROM reports r JOIN users u ON u.id = r.reporter_id WHERE u.email = :e",
                   e=email)


def test_deactivating_an_account_fails_its_queued_imports_and_they_store_nothing(job_app) -> None:
    """A representative queued large CSVs, then `geosignal deactivate-user`: the jobs that
    started after it ran to `done` and stored thousands of reports of the deactivated user.
    Now its queued jobs fail at once (`forbidden`, `account_deactivated`), and the worker
    leaves them so."""
    email = "partant@charleroi.be"
    headers = _account(job_app, email)
    ids = [_queue(job_app, headers, INSIDE_CHARLEROI[k * 100:(k + 1) * 100]) for k in range(3)]
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    done = job_app.test_cli_runner().invoke(args=["deactivate-user", email])
    assert done.exit_code == 0, done.output
    assert done.output == (f"{email} deactivated: sign-in refused, sessions and API tokens revoked, "
                           "3 queued imports failed\n")
    for job_id in ids:
        job = _job(job_app, job_id)
        assert (job["state"], job["error_code"], job["error"]["code"], job["error"]["status"],
                job["error"]["reason"]) == ("failed", "forbidden", "forbidden", 403, "account_deactivated")
        assert job["finished_at"] and "features" not in job
        assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:id AS uuid)", id=job_id)
    _work(job_app)
    assert [_job(job_app, job_id)["state"] for job_id in ids] == ["failed"] * 3
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before and _reports_of(job_app, email) == 0
    assert _scalar(job_app, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')") == 0


@pytest.mark.parametrize(("name", "change", "reason"), [
    ("off", "active = false, deactivated_at = now()", "account_deactivated"),  # not through the CLI: still queued
    ("moved", "commune_nis = '52012'", "account_changed"),  # moved to Châtelet: not Charleroi's reports any more
    ("referent", "role = 'referent', commune_nis = NULL", "account_changed"),
    ("admin", "role = 'admin', commune_nis = NULL", "account_changed"),  # a wider role: not what was asked for
])
def test_a_job_whose_account_changed_before_it_started_fails_and_stores_nothing(job_app, name: str, change: str,
                                                                                reason: str) -> None:
    email = f"change-{name}@charleroi.be"
    headers = _account(job_app, email)
    job_id = _queue(job_app, headers, INSIDE_CHARLEROI[:120])
    with job_app.extensions["geosignal.db"].engine.begin() as c:
        c.execute(text(f"UPDATE users SET {change} WHERE email = :e"), {"e": email})
    _work(job_app)
    job = _job(job_app, job_id)
    assert (job["state"], job["error_code"], job["error"]["reason"]) == ("failed", "forbidden", reason)
    assert job["started_at"] and job["rows_done"] == 0 and "features" not in job
    assert _reports_of(job_app, email) == 0


def test_an_account_deactivated_while_its_job_reads_the_file_stores_nothing(job_app, monkeypatch) -> None:
    """Deactivated after the job started (while it validates the rows), before it stores: the
    job reads the account again under its save lock, fails `forbidden` and stores nothing."""
    from geosignal.models import User
    from geosignal.services import accounts
    from geosignal.services import imports as imports_service

    email = "en-cours@charleroi.be"
    headers = _account(job_app, email)
    job_id = _queue(job_app, headers, INSIDE_CHARLEROI[200:320])
    database = job_app.extensions["geosignal.db"]
    read_upload = imports_service.read_upload

    def read_then_deactivated(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        results = read_upload(*args, **kwargs)
        with database.session() as session:  # the operator, meanwhile
            assert _scalar(job_app, "SELECT state FROM import_jobs WHERE id = CAST(:id AS uuid)", id=job_id) == "running"
            user = session.scalar(select(User).where(User.email == email))
            assert accounts.deactivate(session, None, user) == 0  # running: not one of the queued jobs
            session.commit()
        return results

    monkeypatch.setattr(imports_service, "read_upload", read_then_deactivated)
    _work(job_app)
    job = _job(job_app, job_id)
    assert (job["state"], job["error_code"], job["error"]["reason"]) == ("failed", "forbidden", "account_deactivated")
    assert _reports_of(job_app, email) == 0


def test_a_deactivation_waits_for_a_save_under_way(job_app) -> None:
    """A save holds its user's lock to its commit; a deactivation takes that lock first, so
    the save either stored while the account was active, or starts after and stores nothing."""
    import threading

    from geosignal.models import User
    from geosignal.services import accounts
    from geosignal.services.imports import lock_saves

    email = "attente@charleroi.be"
    _account(job_app, email)
    database = job_app.extensions["geosignal.db"]
    saving = database.session()
    user_id = saving.scalar(select(User.id).where(User.email == email))
    lock_saves(saving, user_id)  # a save under way

    def deactivate() -> None:
        with database.session() as session:
            accounts.deactivate(session, None, session.get(User, user_id))
            session.commit()

    thread = threading.Thread(target=deactivate)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # waits for the save
    assert _scalar(job_app, "SELECT active FROM users WHERE id = :i", i=user_id)
    saving.commit()
    saving.close()
    thread.join(10.0)
    assert not thread.is_alive()
    assert not _scalar(job_app, "SELECT active FROM users WHERE id = :i", i=user_id)


def test_the_frozen_queue_schema_is_procrastinates() -> None:
    from importlib.metadata import version

    from procrastinate.schema import SchemaManager

    spec = importlib.util.spec_from_file_location("m0006", ROOT / "migrations" / "versions" / "0006_job_queue.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert version("procrastinate") == migration.PROCRASTINATE_VERSION
    assert migration.PROCRASTINATE_SCHEMA == SchemaManager.get_schema()


@pytest.mark.slow
def test_an_upload_of_campaign_size_becomes_a_job(job_app) -> None:
    """With the default threshold (256 KiB): 8,000 rows (≈ 300 KB) are saved by a job."""
    job_app.config["IMPORT_JOB_MIN_BYTES"] = 256 * 1024
    try:
        points = [(4.43 + 0.0001 * (k % 100), 50.405 + 0.0001 * (k // 100)) for k in range(8000)]
        data = _csv(points)
        assert len(data) > 256 * 1024
        response = _post(job_app, data)
        assert response.status_code == 202
        _work(job_app)
        result = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
        assert (result["state"], result["saved"], result["refused"]) == ("done", 8000, 0)
    finally:
        job_app.config["IMPORT_JOB_MIN_BYTES"] = 2000


#: Points of the file posted to `geosignal serve` (Charleroi).
SERVED = [(4.425 + 0.00002 * k, 50.405) for k in range(150)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_web_and_job_workers_and_stops_them_together(job_app) -> None:
    """`geosignal serve` alone is a working service: a large save posted over HTTP is done by
    its job worker; SIGTERM stops gunicorn and the job worker."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import requests

    port = _free_port()
    env = {**os.environ, "GEOSIGNAL_DATABASE_URL": job_app.config["DATABASE_URL"], "GEOSIGNAL_ENV": "testing",
           "GEOSIGNAL_SECRET_KEY": "test", "GEOSIGNAL_IMPORT_JOB_MIN_BYTES": "2000", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "geosignal.cli", "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            assert server.poll() is None, "geosignal serve stopped at start"
            try:
                requests.get(base + "/login", timeout=10)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        posted = requests.post(base + "/api/v1/imports", headers=_headers(job_app), timeout=30,
                               files={"file": ("c.csv", _csv(SERVED))}, data={"network": "fixed"})
        assert posted.status_code == 202, posted.text[:500]
        for _ in range(150):
            result = requests.get(base + posted.headers["Location"], headers=_headers(job_app), timeout=10).json()
            if result["state"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert (result["state"], result["saved"]) == ("done", len(SERVED))
        assert {f["properties"]["network"] for f in result["features"]} == {"fixed"}
        children = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 3  # gunicorn master, a web worker, a job worker
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True, text=True).stdout.split()
    assert left == []


def _taken_by_a_worker_that_dies(app, import_id: str) -> int:  # noqa: ANN001
    """A worker takes the import job ``import_id``, starts it, and dies (killed: the OOM
    killer, a crash in GDAL): its heartbeat stops, a minute old. Returns the queue entry's id."""
    with app.extensions["geosignal.db"].engine.begin() as c:
        worker = c.execute(text("SELECT procrastinate_register_worker_v1()")).scalar_one()
        taken = c.execute(text("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['imports']::varchar[], :w)"),
                          {"w": worker}).scalar_one()
        assert taken == c.execute(text("SELECT queue_job_id FROM import_jobs WHERE id = CAST(:i AS uuid)"),
                                  {"i": import_id}).scalar_one()
        c.execute(text("UPDATE import_jobs SET state = 'running', started_at = now() WHERE id = CAST(:i AS uuid)"),
                  {"i": import_id})
        c.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute' WHERE id = :w"),
                  {"w": worker})
    return taken


def _check(app) -> int:  # noqa: ANN001
    """Run once the periodic check of import jobs (every minute in a job worker); how many jobs
    it queued again."""
    import asyncio

    queue = jobs.job_app(app.config["DATABASE_URL"], app)
    periodic = queue.periodic_registry.periodic_tasks[(jobs.STALLED_TASK, "imports-stalled")]
    assert (periodic.cron, periodic.task.queueing_lock) == ("* * * * *", jobs.STALLED_TASK)

    async def tick() -> int:
        async with queue.open_async():
            return await periodic.task.func(timestamp=0)

    return asyncio.run(tick())


def test_a_job_a_dead_worker_left_running_is_queued_again_within_a_minute(job_app) -> None:
    """A worker killed mid-import leaves its job ``doing`` (the import ``running``). Stalled
    jobs were looked for only when a worker started: one restarted at once (the watchdog of
    ``geosignal serve``: 1 s) found the dead worker's heartbeat still fresh, and the job said
    ``running`` for ever. A periodic task (every minute, one at a time) queues again the jobs
    of workers whose heartbeat stopped; the job then runs from the start, once."""
    _work(job_app)  # (the jobs earlier tests left queued)
    response = _post(job_app, _csv([(4.4400 + 0.00001 * k, 50.4200 + 0.00001 * k) for k in range(120)]))
    assert response.status_code == 202
    location, import_id = response.headers["Location"], response.get_json()["id"]
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    taken = _taken_by_a_worker_that_dies(job_app, import_id)
    assert job_app.test_client().get(location, headers=_headers(job_app)).get_json()["state"] == "running"

    assert _check(job_app) == 1
    assert _scalar(job_app, "SELECT status FROM procrastinate_jobs WHERE id = :j", j=taken) == "todo"
    assert job_app.test_client().get(location, headers=_headers(job_app)).get_json()["state"] == "running"
    _work(job_app)
    done = job_app.test_client().get(location, headers=_headers(job_app)).get_json()
    assert (done["state"], done["saved"]) == ("done", 120)
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 120
    assert _check(job_app) == 0  # nothing left doing


def test_a_job_that_kills_its_worker_every_time_is_given_up_after_its_retries(job_app) -> None:
    """A job whose every run killed its worker (a file that makes GDAL crash, or the OOM killer)
    was handed out again every minute for ever (the stalled check ignored the task's 5 retries:
    procrastinate counts them in ``attempts``), killing a worker each time, and its import said
    ``running`` for ever, its file kept. After its retries the check gives it up: its queue
    entry ``failed``, its import ``failed`` (``internal_error``), the file dropped."""
    _work(job_app)
    response = _post(job_app, _csv([(4.4420 + 0.00001 * k, 50.4220 + 0.00001 * k) for k in range(120)]))
    assert response.status_code == 202
    import_id = response.get_json()["id"]
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    requeued = []
    for _ in range(jobs.IMPORT_RETRIES + 1):
        taken = _taken_by_a_worker_that_dies(job_app, import_id)
        requeued.append(_check(job_app))
    assert requeued == [1] * jobs.IMPORT_RETRIES + [0]
    assert _scalar(job_app, "SELECT status || ':' || attempts FROM procrastinate_jobs WHERE id = :j",
                   j=taken) == f"failed:{jobs.IMPORT_RETRIES + 1}"
    job = _job(job_app, import_id)
    assert (job["state"], job["error_code"], job["error"]["code"], job["error"]["status"]) == (
        "failed", "internal_error", "internal_error", 500)
    assert job["error"]["message"] == "Erreur inattendue ; elle a été consignée. Réessayez plus tard."
    assert job["finished_at"] and "features" not in job
    assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:i AS uuid)", i=import_id)
    polled = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (polled["state"], polled["error"]["code"]) == ("failed", "internal_error")
    assert _check(job_app) == 0
    _work(job_app)
    assert _job(job_app, import_id)["state"] == "failed"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before


def test_an_import_the_queue_gave_up_on_or_lost_ends_failed(job_app, monkeypatch) -> None:
    """The database away for minutes while a job runs (a restart, a fail-over): the job cannot
    record its failure, so the task raises and the queue runs it again; when every attempt
    meets the database away, the queue marks its entry ``failed``, and the import said
    ``running`` (committed by the first attempt) for ever, its file kept. So did a queued import
    whose queue entry is gone. The periodic check ends both ``failed`` (``internal_error``, the
    file dropped); an import whose entry waits is left to run."""
    from geosignal.services import imports as imports_service

    _work(job_app)  # (the jobs earlier tests left queued)
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    response = _post(job_app, _csv([(4.4440 + 0.00001 * k, 50.4240 + 0.00001 * k) for k in range(120)]))
    assert response.status_code == 202
    import_id = response.get_json()["id"]

    def database_away(database, config, key, area_cache, describe=None):  # noqa: ANN001, ANN202
        with database.session() as session:  # the first transaction commits; then the connection is lost
            session.execute(text("UPDATE import_jobs SET state = 'running', started_at = now() WHERE id = :k"),
                            {"k": key})
            session.commit()
        raise ConnectionError("server closed the connection unexpectedly")

    with monkeypatch.context() as away:
        away.setattr(imports_service, "_run_import_job", database_away)
        away.setattr(imports_service, "_record_crash", lambda *a, **k: False)
        for _ in range(jobs.IMPORT_RETRIES + 1):
            _work(job_app)
            with job_app.extensions["geosignal.db"].engine.begin() as c:  # (its retries wait 30 s)
                c.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'"))
    assert _scalar(job_app, "SELECT q.status || ':' || q.attempts FROM procrastinate_jobs q JOIN import_jobs i "
                   "ON i.queue_job_id = q.id WHERE i.id = CAST(:i AS uuid)", i=import_id) == (
        f"failed:{jobs.IMPORT_RETRIES + 1}")
    assert _job(job_app, import_id)["state"] == "running"
    # a queued import whose queue entry is gone; one whose entry waits
    lost, waiting = (_post(job_app, _csv([(4.4460 + 0.00001 * k, 50.4260 + 0.0001 * n + 0.00001 * k)
                                          for k in range(120)])) for n in range(2))
    with job_app.extensions["geosignal.db"].engine.begin() as c:
        c.execute(text("DELETE FROM procrastinate_jobs WHERE id = (SELECT queue_job_id FROM import_jobs "
                       "WHERE id = CAST(:i AS uuid))"), {"i": lost.get_json()["id"]})

    assert _check(job_app) == 0
    for ended in (import_id, lost.get_json()["id"]):
        job = _job(job_app, ended)
        assert (job["state"], job["error_code"], job["error"]["code"]) == ("failed", "internal_error", "internal_error")
        assert job["error"]["message"] == "Erreur inattendue ; elle a été consignée. Réessayez plus tard."
        assert job["finished_at"] and "features" not in job
        assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:i AS uuid)", i=ended)
    polled = job_app.test_client().get(response.headers["Location"], headers=_headers(job_app)).get_json()
    assert (polled["state"], polled["error"]["code"]) == ("failed", "internal_error")
    assert _job(job_app, waiting.get_json()["id"])["state"] == "queued"
    _work(job_app)
    assert _job(job_app, waiting.get_json()["id"])["state"] == "done"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 120


def test_the_same_file_saved_twice_at_once_is_stored_once_however_long_the_first_save(job_app) -> None:
    """A double click (or a retry after a timeout) queues the same file twice: the second job
    runs once the first is over (one user's saves one after another) and finds its rows as
    probable duplicates. The window was measured from when the second job ran: a first save
    longer than it (10 s) let every row through again. It is measured from when the second
    save was asked for. Here the first save is made to have taken 11 s: its reports, and the
    second job's request, 11 s earlier."""
    from geosignal.services.imports import run_import_job

    data = _csv([(4.4500 + 0.00001 * k, 50.4050 + 0.00001 * k) for k in range(150)])
    first, second = (_post(job_app, data) for _ in range(2))
    assert (first.status_code, second.status_code) == (202, 202)
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    assert run_import_job(job_app.extensions["geosignal.db"], job_app.config, first.get_json()["id"]) == "done"
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 150
    with job_app.extensions["geosignal.db"].engine.begin() as c:
        c.execute(text("UPDATE reports SET created_at = created_at - interval '11 seconds' "
                       "WHERE created_at > now() - interval '1 minute'"))
        c.execute(text("UPDATE import_jobs SET created_at = created_at - interval '11 seconds' "
                       "WHERE id = CAST(:i AS uuid)"), {"i": second.get_json()["id"]})
    _work(job_app)
    done = job_app.test_client().get(second.headers["Location"], headers=_headers(job_app)).get_json()
    assert (done["state"], done["saved"], done["accepted"]) == ("done", 0, 150)
    assert {w["code"] for w in done["warnings"]} >= {"file_already_saved"}
    first_ids = {f["report_id"] for f in job_app.test_client().get(
        first.headers["Location"], headers=_headers(job_app)).get_json()["features"]}
    assert {f["report_id"] for f in done["features"]} == first_ids
    assert all(not f["created"] for f in done["features"])
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + 150


@pytest.mark.parametrize("as_jobs", [False, True])
def test_the_same_file_saved_twice_at_once_says_it_was_saved_already(job_app, as_jobs) -> None:  # noqa: ANN001
    """Two saves of one file at once (two small ones answered at once, or two jobs run by two
    workers): the rows are stored once and the save that waited says file_already_saved, as one
    saved later does (it read the file's earlier saves before taking the save lock, so missed the
    one it waited for)."""
    import threading

    from geosignal.services.imports import run_import_job

    n = 150 if as_jobs else 5
    data = _csv([(4.4550 + 0.00001 * k + 0.001 * as_jobs, 50.4060 + 0.00001 * k) for k in range(n)])
    assert (len(data) > 2000) == as_jobs
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    barrier, answers = threading.Barrier(2), [None, None]
    queued = [_post(job_app, data) for _ in range(2)] if as_jobs else None

    def save(k: int) -> None:
        barrier.wait()
        if as_jobs:
            run_import_job(job_app.extensions["geosignal.db"], job_app.config, queued[k].get_json()["id"])
            answers[k] = job_app.test_client().get(queued[k].headers["Location"], headers=_headers(job_app)).get_json()
        else:
            answers[k] = _post(job_app, data).get_json()

    threads = [threading.Thread(target=save, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a["saved"] for a in answers) == [0, n]
    later = min(answers, key=lambda a: a["saved"])
    assert "file_already_saved" in [w["code"] for w in later["warnings"]]
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before + n


def test_a_job_queued_with_a_token_revoked_since_stores_nothing(job_app) -> None:
    """A token taken queues a large upload; its owner resets her password, which revokes her
    tokens (the token gets 401 at once). The job ran on and stored the file in her name. A job
    keeps the token that queued it and fails ``forbidden`` (``token_revoked``) when it is
    revoked before the job starts, or before it stores; a job queued from the session, or
    with a token still in force, runs."""
    from geosignal.services.imports import run_import_job
    from geosignal.services.users import create_token

    with job_app.extensions["geosignal.db"].session() as session:
        secret = create_token(session, "echevin@charleroi.be", "pris", days=30)
        session.commit()
    taken = {"Authorization": f"Bearer {secret}"}
    data = _csv([(4.4550 + 0.00001 * k, 50.4000 + 0.00001 * k) for k in range(120)])
    form = {"file": (io.BytesIO(data), "campagne.csv"), "network": "mobile"}
    queued = job_app.test_client().post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                        headers=taken)
    assert queued.status_code == 202
    token_id = _scalar(job_app, "SELECT id FROM api_tokens WHERE name = 'pris'")
    assert _scalar(job_app, "SELECT options->'acting_as'->>'token_id' FROM import_jobs WHERE id = CAST(:i AS uuid)",
                   i=queued.get_json()["id"]) == str(token_id)
    with job_app.extensions["geosignal.db"].engine.begin() as c:
        c.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE id = :t"), {"t": token_id})
    assert job_app.test_client().get("/api/v1/reports", headers=taken).status_code == 401
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    assert run_import_job(job_app.extensions["geosignal.db"], job_app.config, queued.get_json()["id"]) == "failed"
    failed = job_app.test_client().get(queued.headers["Location"], headers=_headers(job_app)).get_json()
    assert (failed["state"], failed["error"]["code"], failed["error"]["reason"]) == ("failed", "forbidden",
                                                                                    "token_revoked")
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before
    # revoked after the job started, before it stores: the check under the save lock
    with job_app.extensions["geosignal.db"].session() as session:
        secret = create_token(session, "echevin@charleroi.be", "pris 2", days=30)
        session.commit()
    form = {"file": (io.BytesIO(data), "campagne.csv"), "network": "mobile"}
    queued = job_app.test_client().post("/api/v1/imports", data=form, content_type="multipart/form-data",
                                        headers={"Authorization": f"Bearer {secret}"})
    assert queued.status_code == 202
    from geosignal.models import User
    from geosignal.services import imports as imports_service
    from geosignal.services.territory import limits_from_config, service_area

    with job_app.extensions["geosignal.db"].session() as session:
        user = session.scalar(select(User).where(User.email == "echevin@charleroi.be"))
        acting = session.execute(text("SELECT options->'acting_as' FROM import_jobs WHERE id = CAST(:i AS uuid)"),
                                 {"i": queued.get_json()["id"]}).scalar_one()
        session.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE name = 'pris 2'"))
        with pytest.raises(GeosignalError) as refused:
            imports_service.import_file(session, user, data, "campagne.csv", area=service_area(session, {}, 1000.0),
                                        limits=limits_from_config(job_app.config), default_network="mobile",
                                        acting=acting)
        assert (refused.value.code, refused.value.status, refused.value.extra["reason"]) == (
            "forbidden", 403, "token_revoked")
        session.rollback()
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before


def _signed_in(app, email: str):  # noqa: ANN001, ANN202
    """A browser signed in as ``email`` (password ``correct horse battery``); its CSRF token."""
    from tests.conftest import csrf_token

    browser = app.test_client()
    page = browser.get("/login")
    browser.post("/login", data={"email": email, "password": "correct horse battery",
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
    return browser, csrf_token(browser.get("/import").get_data(as_text=True))


def _queue_from(browser, token: str, points) -> str:  # noqa: ANN001
    form = {"file": (io.BytesIO(_csv(points)), "campagne.csv"), "network": "mobile", "csrf_token": token}
    response = browser.post("/api/v1/imports", data=form, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_a_job_queued_from_a_session_stores_nothing_once_its_owner_reset_her_password(job_app) -> None:
    """A session taken (a cookie copied) queues a large upload; its owner resets her password
    (`geosignal set-password`), which ends her sessions and tokens. A job queued with a token
    stopped (``token_revoked``); one queued from the session stored the file in her name. It
    keeps a digest of the password hash it was queued under and fails ``forbidden``
    (``password_changed``) when the password was set again. Signing out ends the sessions too,
    but fails none of one's own jobs."""
    email = "volee@charleroi.be"
    _account(job_app, email)
    thief, token = _signed_in(job_app, email)
    taken = _queue_from(thief, token, [(4.4570 + 0.00001 * k, 50.4010 + 0.00001 * k) for k in range(120)])
    done = job_app.test_cli_runner().invoke(args=["set-password", email, "--password-stdin"],
                                            input="another horse battery staple 42\n")
    assert done.exit_code == 0, done.output
    assert thief.get("/api/v1/reports").status_code == 401  # the session taken is over
    _work(job_app)
    job = _job(job_app, taken)
    assert (job["state"], job["error_code"], job["error"]["code"], job["error"]["status"],
            job["error"]["reason"]) == ("failed", "forbidden", "forbidden", 403, "password_changed")
    assert job["started_at"] and job["rows_done"] == 0 and "features" not in job
    assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:i AS uuid)", i=taken)
    assert _reports_of(job_app, email) == 0

    # her own job, queued before she signed out: it runs
    owner = "partie@charleroi.be"
    _account(job_app, owner)
    browser, token = _signed_in(job_app, owner)
    own = _queue_from(browser, token, [(4.4590 + 0.00001 * k, 50.4030 + 0.00001 * k) for k in range(120)])
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/api/v1/reports").status_code == 401
    _work(job_app)
    assert (_job(job_app, own)["state"], _reports_of(job_app, owner)) == ("done", 120)


def test_a_password_set_while_a_job_reads_its_file_stops_it_before_it_stores(job_app) -> None:
    """Set again after the job started, before it stores: the check under the save lock."""
    from geosignal.models import User
    from geosignal.services import imports as imports_service
    from geosignal.services.accounts import set_new_password
    from geosignal.services.territory import limits_from_config, service_area

    email = "volee-tard@charleroi.be"
    _account(job_app, email)
    browser, token = _signed_in(job_app, email)
    data = _csv([(4.4610 + 0.00001 * k, 50.4050 + 0.00001 * k) for k in range(120)])
    form = {"file": (io.BytesIO(data), "campagne.csv"), "network": "mobile", "csrf_token": token}
    queued = browser.post("/api/v1/imports", data=form, content_type="multipart/form-data")
    assert queued.status_code == 202
    with job_app.extensions["geosignal.db"].session() as session:
        user = session.scalar(select(User).where(User.email == email))
        acting = session.execute(text("SELECT options->'acting_as' FROM import_jobs WHERE id = CAST(:i AS uuid)"),
                                 {"i": queued.get_json()["id"]}).scalar_one()
        set_new_password(session, session.get(User, user.id), "another horse battery staple 42")
        session.flush()
        with pytest.raises(GeosignalError) as refused:
            imports_service.import_file(session, user, data, "campagne.csv", area=service_area(session, {}, 1000.0),
                                        limits=limits_from_config(job_app.config), default_network="mobile",
                                        acting=acting)
        assert (refused.value.code, refused.value.status, refused.value.extra["reason"]) == (
            "forbidden", 403, "password_changed")
        session.rollback()
    assert _reports_of(job_app, email) == 0


def test_a_password_set_during_a_save_waits_for_it(job_app) -> None:
    """A save under way (its lock held, its credentials checked) and a password set meanwhile
    (a reset, a change, ``set-password``): the password waits for the save to end, as a
    deactivation does. It did not: set between the save's check and its commit, the reports
    of a job queued from a stolen session were stored after the reset."""
    import threading

    from geosignal.models import User
    from geosignal.services import imports as imports_service
    from geosignal.services.accounts import set_new_password

    email = "volee-pendant@charleroi.be"
    _account(job_app, email)
    database = job_app.extensions["geosignal.db"]
    done = threading.Event()

    def reset(user_id: int) -> None:
        with database.session() as session:
            set_new_password(session, session.get(User, user_id), "another horse battery staple 42")
            session.commit()
        done.set()

    with database.session() as saving:
        user_id = saving.scalar(select(User.id).where(User.email == email))
        imports_service.lock_saves(saving, user_id)  # a save, past its credential check
        thread = threading.Thread(target=reset, args=(user_id,))
        thread.start()
        assert not done.wait(1.5)  # the password waits for the save
        saving.commit()
    thread.join(10)
    assert done.is_set()


def test_a_job_whose_connection_is_lost_at_the_end_is_recorded_failed(job_app, monkeypatch) -> None:
    """The database connection lost while the per-feature report is compressed (a restart, a
    failover): the final commit failed outside the import's own errors, the queue marked its
    own entry failed, and the job said `running` for ever with its file kept. It now ends
    `failed` (`internal_error`, nothing stored, the file dropped), recorded in a transaction
    of its own; and the task is retried by the queue when even that cannot be written."""
    from geosignal.services import imports as imports_service

    _work(job_app)  # (the jobs earlier tests left queued: this one is the only one to run)
    response = _post(job_app, _csv(INSIDE_CHARLEROI[:150]))
    assert response.status_code == 202
    import_id = response.get_json()["id"]
    before = _scalar(job_app, "SELECT count(*) FROM reports")
    real, killed = imports_service._gzip_json, []

    def compress_then_lose_the_connection(pieces):  # noqa: ANN001, ANN202
        out = real(pieces)
        if not killed:
            with job_app.extensions["geosignal.db"].engine.connect() as c:
                killed.append(c.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND pid <> pg_backend_pid() AND pid IN (SELECT l.pid FROM "
                    "pg_locks l WHERE l.relation = 'reports'::regclass AND l.mode = 'RowExclusiveLock')"))
                    .scalar_one())  # (the job's: the one that wrote reports)
                c.commit()
        return out

    monkeypatch.setattr(imports_service, "_gzip_json", compress_then_lose_the_connection)
    _work(job_app)
    assert killed == [1]
    job = _job(job_app, import_id)
    assert (job["state"], job["error_code"], job["error"]["code"]) == ("failed", "internal_error", "internal_error")
    assert _scalar(job_app, "SELECT upload IS NULL FROM import_jobs WHERE id = CAST(:id AS uuid)", id=import_id)
    assert _scalar(job_app, "SELECT count(*) FROM reports") == before
    task = jobs.job_app(job_app.config["DATABASE_URL"]).tasks[jobs.IMPORT_TASK]
    assert task.retry_strategy is not None and task.retry_strategy.max_attempts == 5


def _stored_properties(app, report_id: str) -> dict:  # noqa: ANN001
    response = app.test_client().get(f"/api/v1/reports/{report_id}", headers=_headers(app))
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{response.get_json()["properties"]["revision"]}"'
    return response.get_json()["properties"]


def test_a_saves_entries_carry_their_stored_reports_reference_and_revision(job_app) -> None:
    """The per-feature report of a save (201, and a job's ``done`` document) gives each entry
    its stored report's ``reference`` and ``revision`` — what ``GET /api/v1/reports/<id>``
    answers, the ETag a PATCH names —, a row repeating an earlier row of the file its report's;
    a preview, which stores nothing, null. (Every saved entry said null for both: a client
    could not edit the reports it had just imported without reading each again.)"""
    # rows of the same values (their properties written once, each with its own report's
    # reference and revision); the 4th repeats the 1st: stored once
    data = "".join(["latitude;longitude;operateur;description\r\n"] + [
        f"50,42{k}00;4,42{k}00;Proximus;même zone\r\n" for k in (0, 1, 2, 0)]).encode()
    preview = _post(job_app, data, "petit.csv", dry_run="true")
    assert preview.status_code == 200
    assert [(f["properties"]["reference"], f["properties"]["revision"]) for f in preview.get_json()["features"]] \
        == [(None, None)] * 4
    saved = _post(job_app, data, "petit.csv")
    assert saved.status_code == 201, saved.get_json()
    entries = saved.get_json()["features"]
    assert [f["created"] for f in entries] == [True, True, True, False]
    stored = [_stored_properties(job_app, f["report_id"]) for f in entries]
    assert [(f["properties"]["reference"], f["properties"]["revision"]) for f in entries] \
        == [(s["reference"], s["revision"]) for s in stored]
    assert entries[3]["properties"]["reference"] == entries[0]["properties"]["reference"]
    assert len({f["properties"]["reference"] for f in entries[:3]}) == 3
    assert all(f["properties"]["reference"] is not None and f["properties"]["revision"] is not None for f in entries)
    assert [f["properties"] for f in entries[:3]] == stored[:3]

    queued = _post(job_app, _csv([(4.4600 + 0.00001 * k, 50.4150 + 0.00001 * k) for k in range(100)]), "grand.csv")
    assert queued.status_code == 202
    _work(job_app)
    done = job_app.test_client().get(queued.headers["Location"], headers=_headers(job_app)).get_json()
    assert (done["state"], done["saved"]) == ("done", 100)
    for f in done["features"][::33]:
        assert f["properties"] == _stored_properties(job_app, f["report_id"])
    references = [f["properties"]["reference"] for f in done["features"]]
    assert len(set(references)) == 100 and None not in references


def test_a_corrected_rows_entry_carries_its_report_as_stored(job_app) -> None:
    """A row that corrects the report an earlier upload stored (``correct_saved_before``), and
    a later row of the file repeating it, give that report's properties as stored once
    corrected: its ``reference`` and new ``revision`` (they were null), its ``reported_at`` and
    ``updated_at`` (they were the save's time), the values the file has no column for (they
    were the file's empties) — what ``GET /api/v1/reports/<id>`` answers."""
    first = (b"latitude;longitude;operateur;menages;description\r\n"
             b"50,40500;4,45000;Proximus;12;zone 0\r\n50,40501;4,45001;Proximus;3;zone 1\r\n")
    assert _post(job_app, first, "premier.csv").status_code == 201
    with job_app.extensions["geosignal.db"].engine.begin() as c:  # a day later, never edited since
        c.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
        c.execute(text("UPDATE reports SET created_at = created_at - interval '1 day', "
                       "updated_at = updated_at - interval '1 day'"))
    second = (b"latitude;longitude;operateur;description\r\n50,40500;4,45000;Orange;zone 0\r\n"
              b"50,40501;4,45001;Orange;zone 1\r\n50,40500;4,45000;Orange;zone 0\r\n")
    response = _post(job_app, second, "second.csv", correct_saved_before="true")
    assert response.status_code == 201, response.get_json()
    entries = response.get_json()["features"]
    assert [(f.get("corrected"), f["created"]) for f in entries] == [(True, False), (True, False), (None, False)]
    assert entries[2]["report_id"] == entries[0]["report_id"]
    for f in entries:
        stored = _stored_properties(job_app, f["report_id"])
        assert (stored["operators"], stored["households_affected"]) == (["Orange"], 12 if f["index"] != 1 else 3)
        assert f["properties"] == stored
    assert entries[0]["properties"]["reference"] is not None
