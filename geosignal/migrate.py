"""Run alembic migrations programmatically (used by ``geosignal init-db`` and the tests)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config

from geosignal.config import ROOT


def alembic_config(database_url: str) -> Config:
    """Return an alembic :class:`Config` for ``migrations/`` targeting ``database_url``."""
    cfg = Config(str(ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at ``database_url`` to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def revision_of(connection: Any) -> str | None:
    """The alembic revision of the database ``connection`` (a SQLAlchemy connection) is at
    (None: never migrated). Database errors propagate."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def current_revision(database_url: str) -> str | None:
    """:func:`revision_of` the database at ``database_url``."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str = "base") -> None:
    """Downgrade the database at ``database_url`` to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
