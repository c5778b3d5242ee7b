"""Test fixtures: a real PostGIS database per test run, the real communes, one transaction
per test (rolled back), an app, clients and users.

The database is cloned from ``geosignal_template`` (``scripts/provision-db.sh``, see
:mod:`geosignal.devdb`), migrated with alembic, loaded with
``../shared/data/communes_charleroi_metropole.geojson`` and dropped at the end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from geosignal import create_app
from geosignal.db import Database
from geosignal.devdb import scratch_database
from geosignal.services.intake import ServiceArea
from geosignal.services.users import create_token, create_user

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
COMMUNES_FILE = Path(os.environ.get("GEOSIGNAL_COMMUNES_FILE", SHARED / "data" / "communes_charleroi_metropole.geojson"))
COMMUNES_CSV = COMMUNES_FILE.with_suffix(".csv")
CASES = SHARED / "cases"
ARTIFACTS = ROOT / "test-artifacts"

CHARLEROI = "52011"

#: The suite's application connects as a role that owns nothing (README: Configuration).
SERVICE_ROLE_MODE = bool(os.environ.get("GEOSIGNAL_TEST_SERVICE_ROLE"))
#: A test that needs the owner of the tables — ``ANALYZE`` on the test's own rows (plan-shape
#: checks), granting privileges back, rewriting the schema's revision — skipped when the suite
#: runs as the service role (``GEOSIGNAL_TEST_SERVICE_ROLE``; it always runs in CI).
owner_only = pytest.mark.skipif(SERVICE_ROLE_MODE, reason="needs the owner of the tables; the suite runs as "
                                "GEOSIGNAL_TEST_SERVICE_ROLE")
CHIMAY = "56016"


def read_case(name: str) -> bytes:
    """Return the bytes of a handed case in ``../shared/cases/``."""
    return (CASES / name).read_bytes()


#: The run's database as the owner of its tables, when the suite runs as the service role: its
#: URL (set by ``database_url`` in the environment: the test modules that import this file get
#: another copy of it than pytest's) and its :class:`Database` (:func:`owner_session`).
OWNER_URL_VARIABLE = "PYTEST_OWNER_DATABASE_URL"  # (not GEOSIGNAL_…: the settings refuse names they do not know)
_OWNER: dict[str, Any] = {}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database holding the 30 real communes, for the whole run."""
    with scratch_database("geosignal_test", COMMUNES_FILE) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        database.engine.dispose()
        role = os.environ.get("GEOSIGNAL_TEST_SERVICE_ROLE")
        if role:  # the suite served by a role that owns nothing (README: a journal that holds)
            from sqlalchemy import make_url

            from geosignal.migrate import grant_service_role

            grant_service_role(url, role)
            os.environ[OWNER_URL_VARIABLE] = url
            url = make_url(url).set(username=role, password=role
                                    ).render_as_string(hide_password=False)
        yield url
        os.environ.pop(OWNER_URL_VARIABLE, None)


def owner_session(database: Database) -> Session:
    """A session that may delete what a test or a fixture committed (reports, accounts):
    ``database``'s, or, when the suite runs as the service role (which may delete neither:
    ``GEOSIGNAL_TEST_SERVICE_ROLE``), one as the owner of the tables. For clean-ups only:
    what a test checks runs as the application does. (No connection is kept: the run's
    database is dropped at its end.)"""
    if not SERVICE_ROLE_MODE or database.engine.url.username != os.environ["GEOSIGNAL_TEST_SERVICE_ROLE"]:
        return database.session()  # (a scratch database of a test's own is the owner's)
    if "database" not in _OWNER:
        from sqlalchemy.pool import NullPool

        _OWNER["database"] = Database(os.environ[OWNER_URL_VARIABLE], poolclass=NullPool)
    return _OWNER["database"].session()


@pytest.fixture(scope="session")
def area() -> ServiceArea:
    """The 30 communes as the intake's territory (no database needed)."""
    return ServiceArea.from_geojson_file(COMMUNES_FILE)


@pytest.fixture(scope="session")
def app(database_url: str):  # noqa: ANN201
    """The application, configured for tests (no base map tiles)."""
    application = create_app({"TESTING": True, "ENV": "testing", "DATABASE_URL": database_url,
                              "SECRET_KEY": "test", "TILE_URL": ""})
    yield application
    application.extensions["geosignal.db"].engine.dispose()


@pytest.fixture
def db(app):  # noqa: ANN001, ANN201
    """A session inside a transaction that is rolled back after the test.

    The application's requests share the same connection (their commits become
    savepoints), so nothing a test does outlives it.
    """
    database: Database = app.extensions["geosignal.db"]
    saved = dict(database.sessionmaker.kw)
    connection = database.engine.connect()
    outer = connection.begin()
    database.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = database.session()
    yield session
    session.close()
    outer.rollback()
    connection.close()
    database.sessionmaker.kw = saved


@pytest.fixture
def client(app, db):  # noqa: ANN001, ANN201
    return app.test_client()


class Account:
    """A user with a bearer token, and helpers to call the API as them."""

    def __init__(self, client, email: str, password: str, token: str) -> None:  # noqa: ANN001
        self.client, self.email, self.password, self.token = client, email, password, token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw):  # noqa: ANN003, ANN201
        return self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def login(self):  # noqa: ANN201
        """Sign in with the session cookie through the login form (CSRF token included)."""
        page = self.client.get("/login")
        token = csrf_token(page.get_data(as_text=True))
        return self.client.post("/login", data={"email": self.email, "password": self.password,
                                                "csrf_token": token})


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def make_account(client, db, email: str, role: str, commune: str | None = None) -> Account:  # noqa: ANN001
    password = "correct horse battery"
    create_user(db, email, role, commune, password)
    token = create_token(db, email)
    db.commit()
    return Account(client, email, password, token)


@pytest.fixture
def admin(client, db) -> Account:  # noqa: ANN001
    """An admin (files reports anywhere: zones crossing borders, uploads of any commune)."""
    return make_account(client, db, "admin@igretec.com", "admin")


@pytest.fixture
def representative(client, db) -> Account:  # noqa: ANN001
    """The representative of Charleroi (NIS 52011)."""
    return make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)


@pytest.fixture
def referent(client, db) -> Account:  # noqa: ANN001
    """The Smart Region referent (sees every commune)."""
    return make_account(client, db, "referent@igretec.com", "referent")


class Mailbox:
    """Messages received by the local SMTP server, parsed (:class:`email.message.EmailMessage`)."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        """Return the messages sent to ``address``."""
        return [m for m in self.messages if m["To"] == address]

    def subjects(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every message received, in order: what a failed wait shows."""
        return [(str(m["To"]), str(m["Subject"])) for m in self.messages]

    def wait_to(self, address: str, count: int, timeout: float = 10.0) -> list:
        """Return the messages sent to ``address`` once ``count`` of them have arrived (at most
        ``timeout`` s): a mail sent after the answer (a reset link) may arrive after the page a
        browser shows."""
        import time

        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.to(address)

    def wait_for(self, address: str, subject: str, timeout: float = 30.0) -> list:
        """Return the messages sent to ``address`` whose subject contains ``subject`` once one
        has arrived (at most ``timeout`` s). Mails sent after the answer (a token's notice, a
        reset link) may arrive in any order and late on a busy machine: waiting for a count of
        messages took a late notice for the reset link."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject in m["Subject"]]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


@pytest.fixture
def smtp_server(app):  # noqa: ANN001, ANN201
    """A real SMTP server (aiosmtpd) on a free loopback port, and the app pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = {k: app.config.get(k) for k in ("SMTP_HOST", "SMTP_PORT")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    yield mailbox
    app.config.update(saved)
    controller.stop()


@contextmanager
def configured(app, **values):  # noqa: ANN001, ANN003, ANN202
    """Set ``app.config`` values for the duration of a ``with`` block."""
    saved = {k: app.config.get(k) for k in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


@pytest.fixture
def fresh_limits(app):  # noqa: ANN001, ANN201
    """Rate-limit counters start and end empty (they live outside the test's transaction)."""
    from geosignal.ratelimit import limiter

    with app.app_context():
        limiter.reset()
    yield
    with app.app_context():
        limiter.reset()


def run_together(database: Database, jobs: list[Callable]) -> None:
    """Run each job (a callable taking a session) in its own thread with its own session, all
    released at once by a barrier: real concurrent transactions against PostGIS. Each job
    commits what it does. Re-raises the first error."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable) -> None:
        session = database.session()
        try:
            barrier.wait()
            job(session)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            session.rollback()
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
