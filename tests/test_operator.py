"""What an operator meets installing and upgrading: an operator trial found a schema behind the
code answered 500 to every request, a port in use was announced as served, and a database
that refused the login or a table given as a boundary file ended commands in tracebacks.

The commands run as the operator runs them: the ``geosignal`` program in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import make_url

from geosignal import create_app, migrate
from geosignal.devdb import create_database, drop_database
from geosignal.services.health import migration_head

ROOT = Path(__file__).resolve().parent.parent
GEOSIGNAL = str(Path(sys.executable).with_name("geosignal"))


def _run(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_ENV": "testing", "PYTHONPATH": str(ROOT), **extra}
    env.pop("GEOSIGNAL_DB_NAME", None)
    return subprocess.run([GEOSIGNAL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def behind() -> str:
    """A database migrated to the revision before the code's head."""
    name = f"geosignal_behind_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    head = migration_head()
    migrate.upgrade(url, f"{head}-1")
    yield url
    drop_database(name)


def test_an_upgrade_without_init_db_is_refused_at_start_and_answered_503(behind: str) -> None:
    head = migration_head()
    previous = migrate.current_revision(behind)
    assert previous != head
    served = _run(behind, "serve", "--port", str(_free_port()), "--job-workers", "0")
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert served.stderr.strip() == (f"Error: the database schema is at {previous}, this code needs {head}: run "
                                     "`geosignal init-db` (applies the migrations; back the database up first), "
                                     "then serve again")
    # under another WSGI server: 503 with the reason, never 500; the health checks answer
    app = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": behind, "SECRET_KEY": "t"})
    client = app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 200  # (code, not data)
    for path in ("/api/v1/communes", "/api/v1/reports"):
        response = client.get(path)
        body = response.get_json()
        assert (response.status_code, body["code"]) == (503, "service_unavailable"), path
        assert body["detail"] == (f"the database schema is at {previous}, this code needs {head}: the operator runs "
                                  "`geosignal init-db`")
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 503
    done = _run(behind, "init-db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"database schema upgraded from {previous}: now at {head}"
    assert _run(behind, "init-db").stdout.splitlines()[0] == f"database schema up to date ({head})"
    app.extensions["geosignal.db"].schema_checked_at = float("-inf")  # (re-read every 5 s)
    assert client.get("/api/v1/communes").status_code == 200


def test_a_port_in_use_is_said_before_anything_starts(behind: str) -> None:
    migrate.upgrade(behind)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = _run(behind, "serve", "--port", str(port), "--job-workers", "0")
    assert served.returncode == 1 and "geosignal on http" not in served.stdout
    assert served.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    # without --port, GEOSIGNAL_PORT's (an operator trial: serve ignored it, and took 5000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = _run(behind, "serve", "--job-workers", "0", GEOSIGNAL_PORT=str(port))
    assert served.returncode == 1 and served.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")


def test_a_database_that_refuses_the_login_or_is_not_there_is_one_line(behind: str) -> None:
    wrong = make_url(behind).set(password="not-the-password").render_as_string(hide_password=False)
    closed = make_url(behind).set(port=_free_port()).render_as_string(hide_password=False)
    for url, said in ((wrong, "password authentication failed"), (closed, "Connection refused")):
        for args in (["init-db"], ["serve", "--port", str(_free_port())], ["list-tokens", "a@b.be"]):
            done = _run(url, *args)
            assert done.returncode == 1, (args, done.stdout)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: database: "), (args, done.stderr[-800:])
            assert said in lines[0] and "not-the-password" not in lines[0], lines[0]


def test_a_table_given_as_communes_is_refused_in_one_line(behind: str, tmp_path: Path) -> None:
    migrate.upgrade(behind)
    table = tmp_path / "communes.csv"
    table.write_text("nis_code;name_fr\n52011;Charleroi\n", encoding="utf-8")
    done = _run(behind, "load-communes", str(table))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"Error: unreadable_file: {table} holds no boundaries (a table without geometry, "
                                   "e.g. a CSV of names and codes): give a boundary file (GeoJSON, GeoPackage, "
                                   "Shapefile…)")


def test_demo_passwords_that_cannot_be_written_create_no_user(behind: str, tmp_path: Path) -> None:
    # an operator trial: on an unwritable instance folder the demo users were stored, their
    # one-time passwords lost (a traceback), and the next run said they existed already
    migrate.upgrade(behind)
    from tests.conftest import COMMUNES_FILE

    assert _run(behind, "load-communes", str(COMMUNES_FILE)).returncode == 0
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    env_path = str(blocker / "instance")  # (as root, permissions would not stop the write)
    done = subprocess.run([GEOSIGNAL, "create-demo-users"], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "GEOSIGNAL_DATABASE_URL": behind, "GEOSIGNAL_ENV": "testing",
                               "GEOSIGNAL_INSTANCE_PATH": env_path, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("Error: cannot write the one-time passwords (Not a directory: ")
    assert done.stderr.strip().endswith("no demo user was created: make the instance folder writable, or set "
                                        "GEOSIGNAL_INSTANCE_PATH")
    again = subprocess.run([GEOSIGNAL, "create-demo-users"], capture_output=True, text=True, timeout=60, check=False,
                           env={**os.environ, "GEOSIGNAL_DATABASE_URL": behind, "GEOSIGNAL_ENV": "testing",
                                "GEOSIGNAL_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0 and "demo users created" in again.stdout
    assert (tmp_path / "instance" / "demo-passwords.txt").read_text(encoding="utf-8").count("one-time password") == 2


def test_provisioning_names_the_database_geosignal_will_use() -> None:
    """With ``GEOSIGNAL_DATABASE_URL`` naming another database, ``scripts/run`` said « PostGIS
    ready: …/geosignal » and then used the URL's: the provisioning now names that one too,
    its password hidden."""
    env = {**os.environ, "GEOSIGNAL_DATABASE_URL": "postgresql+psycopg://geosignal:s3cret@127.0.0.1:5432/elsewhere"}
    done = subprocess.run(["bash", "scripts/provision-db.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "geosignal uses GEOSIGNAL_DATABASE_URL: postgresql+psycopg://geosignal:***@127.0.0.1:5432/elsewhere"
    assert "s3cret" not in done.stdout


@pytest.fixture
def empty() -> str:
    """A database with PostGIS and no schema (``geosignal init-db`` not run)."""
    name = f"geosignal_empty_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    yield url
    drop_database(name)


def test_commands_on_a_database_not_set_up_say_to_run_init_db(empty: str, tmp_path: Path) -> None:
    """The commands an operator may try before ``init-db`` ended in a traceback — the export's
    in one that hid the missing table behind a refused unlock."""
    csv = tmp_path / "zones.csv"
    csv.write_text("latitude;longitude\n50,41;4,44\n", encoding="utf-8")
    head = migration_head()
    runs = [(empty, "nothing (empty database)", args) for args in (
        ["export", "-o", str(tmp_path / "out.geojson")], ["import-reports", str(csv), "--as", "a@b.be"],
        ["create-user", "a@b.be", "--role", "admin"], ["list-tokens", "a@b.be"], ["refresh-stats"])]
    for url, at, args in runs:
        done = _run(url, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (args, done.stderr[-800:])
        assert done.stderr.strip() == (f"Error: the database schema is at {at}, this code needs {head}: run "
                                       "`geosignal init-db` (applies the migrations; back the database up first), "
                                       "then run this command again"), args
    assert not (tmp_path / "out.geojson").exists() or (tmp_path / "out.geojson").stat().st_size == 0
    assert migrate.current_revision(empty) is None  # nothing was created either


def test_help_without_a_secret_key_lists_what_it_can_in_one_line(behind: str, tmp_path: Path) -> None:
    """``geosignal --help`` in production without ``GEOSIGNAL_SECRET_KEY``: Flask printed the
    application's traceback above the list."""
    env = {k: v for k, v in os.environ.items() if k not in ("GEOSIGNAL_SECRET_KEY", "GEOSIGNAL_DB_NAME")}
    # (an instance folder holding scripts/run's key file would give one)
    env.update(GEOSIGNAL_DATABASE_URL=behind, GEOSIGNAL_ENV="production", PYTHONPATH=str(ROOT),
               GEOSIGNAL_INSTANCE_PATH=str(tmp_path))
    done = subprocess.run([GEOSIGNAL, "--help"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("Error: configuration: GEOSIGNAL_SECRET_KEY is required in production (set "
                                   "GEOSIGNAL_ENV=development for a local trial); generate one with python3 -c "
                                   "'import secrets; print(secrets.token_hex(32))' (the commands that need it are "
                                   "not listed)")
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == ["aggregate", "export", "import-reports", "limiter"]
