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


#: The privileges :func:`grant_service_role` gives (one DO block; the role is read from the
#: setting ``geosignal.service_role``, never spliced into the text).
_GRANT_SERVICE_ROLE = """
DO $grant$
DECLARE
  svc text := current_setting('geosignal.service_role');
  t record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc) THEN
    RAISE EXCEPTION 'there is no role %', svc USING ERRCODE = '42704';
  END IF;
  IF svc = current_user OR pg_has_role(svc, current_user, 'MEMBER')
     OR (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = svc) THEN
    RAISE EXCEPTION 'the role % owns the tables, is a member of their owner %, or is a superuser: it could '
                    'alter the journal; serve with a role that is none of these', svc, current_user
      USING ERRCODE = '42501';
  END IF;
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), svc);
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', svc);
  FOR t IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
             AND pg_get_userbyid(c.relowner) = current_user ORDER BY c.relname LOOP
    EXECUTE format('REVOKE ALL ON %I FROM %I', t.relname, svc);
    IF t.relkind = 'S' THEN
      EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %I TO %I', t.relname, svc);
    ELSIF t.relname IN ('audit_events') THEN  -- the journal: read and appended to, never changed
      EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.relname, svc);
    ELSIF t.relname IN ('alembic_version') THEN  -- the schema is the owner's
      EXECUTE format('GRANT SELECT ON %I TO %I', t.relname, svc);
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.relname, svc);
    END IF;
  END LOOP;
END
$grant$
"""


def grant_service_role(database_url: str, role: str) -> None:
    """Give ``role`` (a PostgreSQL role that exists, owns nothing of the database, is no member
    of its owner and no superuser) what serving geosignal needs and no more: it reads and
    writes every table of ``public`` the connecting role (the owner, ``database_url``'s) owns,
    but only reads and appends to the audit journal (``audit_events``) and only reads the
    schema's revision; no DDL, no ``TRUNCATE``, no grant option. Run after each migration
    (``geosignal init-db`` does, with ``GEOSIGNAL_SERVICE_ROLE``): new tables get their grants.
    Raises :class:`sqlalchemy.exc.ProgrammingError` (SQLSTATE 42704) for an unknown role and
    (42501) for one that could alter the journal."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT set_config('geosignal.service_role', :r, true)"), {"r": role})
            connection.execute(text(_GRANT_SERVICE_ROLE))
    finally:
        engine.dispose()
