"""Engine and session per application; a session per request, closed at teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

if TYPE_CHECKING:  # the models import this module: scripts using them need no Flask
    from flask import Flask


class Base(DeclarativeBase):
    """Declarative base of every geosignal model."""


class Database:
    """An engine and its session factory for one database URL."""

    def __init__(self, url: str, **engine_options: object) -> None:
        self.engine: Engine = create_engine(url, pool_pre_ping=True, **engine_options)
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
