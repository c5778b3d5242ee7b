"""Engine and session per application; a session per request, closed at teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, make_url
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
        self.sessionmaker: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """Return a new session (the caller closes it)."""
        return self.sessionmaker()


def init_app(app: Flask) -> Database:
    """Attach a :class:`Database` to ``app`` (``app.extensions["geosignal.db"]``)."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions["geosignal.db"] = database
    app.teardown_appcontext(_close_session)
    return database


def get_database() -> Database:
    """Return the current application's :class:`Database`."""
    from flask import current_app

    return current_app.extensions["geosignal.db"]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    from flask import g

    if "db_session" not in g:
        g.db_session = get_database().session()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    from flask import g

    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
