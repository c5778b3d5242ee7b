"""Engine and session per application; a session per request, closed at teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, make_url, select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

if TYPE_CHECKING:  # the models import this module: scripts using them need no Flask
    from flask import Flask


class Base(DeclarativeBase):
    """Declarative base of every geosignal model."""


#: Settings of every connection geosignal opens (libpq ``options``), whatever the server's or
#: the role's defaults: no JIT compilation. The ``reports`` triggers' statements keep the plan
#: of their first execution in a session; after a bulk load (22,000 rows) that plan is costly
#: enough for JIT, which compiled it again at every later execution: about 0.3 s added to
#: each single report filed on that connection. ``scripts/provision-db.sh`` also turns it off
#: for the role; this holds on a server provisioned otherwise.
CONNECTION_OPTIONS = "-c jit=off"


class Database:
    """An engine and its session factory for one database URL (connections opened with
    :data:`CONNECTION_OPTIONS`, unless the URL or ``connect_args`` give ``options``)."""

    def __init__(self, url: str, **engine_options: object) -> None:
        connect_args = dict(engine_options.pop("connect_args", None) or {})
        if "options" not in make_url(url).query and "options" not in connect_args:
            connect_args["options"] = CONNECTION_OPTIONS
        self.engine: Engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **engine_options)
        event.listen(self.engine, "checkout", _bound_lock_waits)
        self.sessionmaker: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        #: whether the schema's revision is the code's (see :func:`_schema_at_head`)
        self.schema_ok = False
        self.schema_checked_at = float("-inf")
        self.schema_problem: str | None = None

    def session(self) -> Session:
        """Return a new session (the caller closes it)."""
        return self.sessionmaker()


def init_app(app: Flask) -> Database:
    """Attach a :class:`Database` to ``app`` (``app.extensions["geosignal.db"]``)."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions["geosignal.db"] = database
    app.teardown_appcontext(_close_session)
    app.before_request(_schema_at_head)
    return database


#: Endpoints that read nothing of the database (the API's description), served during an upgrade.
_SCHEMA_FREE = frozenset({"ogc.openapi_json", "ogc.api_docs"})

#: Seconds between two reads of the schema's revision while it differs from the code's.
SCHEMA_RECHECK_S = 5.0


def _schema_at_head() -> None:
    """Answer 503 ``service_unavailable`` (every request but the health checks and static
    files) while the database's schema is not the code's — code upgraded, ``geosignal init-db``
    not run yet: every request touching a new column failed with 500. ``geosignal serve``
    refuses to start then; this holds under any other WSGI server. Read once per process when
    it matches, every :data:`SCHEMA_RECHECK_S` seconds while it does not."""
    import time

    from flask import request

    database = get_database()
    if database.schema_ok or (request.endpoint or "") in _SCHEMA_FREE or (request.endpoint or "").startswith(
            ("health.", "static", "vendor.")):
        return
    from geosignal.errors import GeosignalError

    now = time.monotonic()
    if database.schema_problem is None or now - database.schema_checked_at >= SCHEMA_RECHECK_S:
        from geosignal.migrate import revision_of
        from geosignal.services.health import migration_head

        # (a database that cannot be reached raises here: the outage handler's 503)
        with database.engine.connect() as connection:
            current = revision_of(connection)
        head = migration_head()
        database.schema_checked_at, database.schema_ok = now, current == head
        database.schema_problem = None if database.schema_ok else (
            f"the database schema is at {current}, this code needs {head}: the operator runs `geosignal init-db`")
    if database.schema_problem is not None:
        raise GeosignalError("service_unavailable", database.schema_problem, retry_after_s=int(SCHEMA_RECHECK_S))


def get_database() -> Database:
    """Return the current application's :class:`Database`."""
    from flask import current_app

    return current_app.extensions["geosignal.db"]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    from flask import g

    if "db_session" not in g:
        g.db_session = get_database().session()
        event.listen(g.db_session, "before_commit", _account_still_in_force)
    return g.db_session


def _account_still_in_force(session: Session) -> None:
    """Before a request's transaction commits, read the signed-in account again, and the API
    token the request came with (``g.token_id``), ``FOR SHARE`` (a deactivation or a
    revocation, which updates the row, waits for this commit, or this commit sees it): an
    account deactivated while the request ran stores nothing (403 ``forbidden``, ``reason``
    ``account_deactivated``), nor does a request whose token was revoked meanwhile (``reason``
    ``token_revoked``, as a queued import of that token:
    :func:`geosignal.services.imports.credential_problem`; its expiry is read as of the
    transaction's start, as when the request looked it up). Checked once, when the request began, a
    report posted or a rejection decided while the account was being deactivated was stored
    after it, and an export with ``mark_transmitted=true`` streaming when its token was revoked
    (its owner saw it used) marked every report transmitted at its last byte. One indexed
    statement per commit of a signed-in request, two for a token's."""
    from flask import g, has_request_context
    from flask_login import current_user

    from geosignal.errors import GeosignalError

    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return
    from geosignal.models import ApiToken, User

    in_force = session.execute(select(User.in_force).where(User.id == current_user.id)
                               .with_for_update(read=True)).scalar()
    if not in_force:
        raise GeosignalError("forbidden", "this account was deactivated while the request ran; nothing was saved",
                             reason="account_deactivated")
    token_id = g.get("token_id")
    if token_id is not None and session.execute(
            select(ApiToken.id).where(ApiToken.id == token_id, ApiToken.in_force())
            .with_for_update(read=True)).scalar() is None:
        raise GeosignalError("forbidden", "the API token of this request was revoked while it ran; nothing was saved", reason="token_revoked")


def _bound_lock_waits(dbapi_connection: object, record: object, _proxy: object) -> None:
    """On a connection's first checkout for a web request, make it wait at most the
    application's ``LOCK_TIMEOUT_S`` seconds for a lock (PostgreSQL's ``lock_timeout``,
    advisory locks included; once per connection, not per transaction), below the web
    worker's timeout: behind a large import holding its network's zone lock for a minute, a
    request waited until gunicorn killed its worker (a 500 page, and both workers stuck).
    PostgreSQL then answers ``lock_not_available``: the answer is 503 ``busy`` with
    ``Retry-After`` (:mod:`geosignal.errors_web`), nothing stored. Commands and job workers
    (processes without requests) wait as long as it takes."""
    from flask import current_app, has_request_context

    if record.info.get("lock_timeout_set") or not has_request_context():  # type: ignore[attr-defined]
        return
    milliseconds = int(1000 * float(current_app.config["LOCK_TIMEOUT_S"]))
    with dbapi_connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SET lock_timeout = {milliseconds}")
    dbapi_connection.commit()  # type: ignore[attr-defined]
    record.info["lock_timeout_set"] = True  # type: ignore[attr-defined]


def _close_session(exc: BaseException | None) -> None:
    from flask import g

    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
