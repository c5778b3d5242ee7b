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
  IF (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'audit_events'::regclass) <> current_user THEN
    RAISE EXCEPTION 'the role % does not own the tables: grants are given by their owner (run init-db with the '
                    'owner''s URL)', current_user USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc) THEN
    RAISE EXCEPTION 'there is no role %', svc USING ERRCODE = '42704';
  END IF;
  IF svc = current_user OR pg_has_role(svc, current_user, 'MEMBER')
     OR (SELECT rolsuper OR rolbypassrls OR rolcreaterole FROM pg_roles WHERE rolname = svc) THEN
    RAISE EXCEPTION 'the role % owns the tables, is a member of their owner %, is a superuser or may create '
                    'roles: it could alter the journal; serve with a role that is none of these', svc, current_user
      USING ERRCODE = '42501';
  END IF;
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), svc);
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', svc);
  FOR t IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
             AND pg_get_userbyid(c.relowner) = current_user ORDER BY c.relname LOOP
    EXECUTE format('REVOKE ALL ON %I FROM %I', t.relname, svc);
    IF t.relkind = 'S' THEN
      -- nextval, never setval: a sequence set back made every journalled write fail
      EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO %I', t.relname, svc);
    ELSIF t.relname IN ('audit_events') THEN  -- the journal: read and appended to, never changed
      EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.relname, svc);
    ELSIF t.relname IN ('alembic_version') THEN  -- the schema is the owner's
      EXECUTE format('GRANT SELECT ON %I TO %I', t.relname, svc);
    ELSIF t.relname IN ('users', 'reports') THEN
      -- what the journal's lines name (who acted, on which report) is read from these rows:
      -- never deleted by geosignal (accounts are deactivated, reports withdrawn), their id,
      -- an account's address and a report's reference never changed — so not by this role
      -- either, or a past line would name someone else
      EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.relname, svc);
      EXECUTE format('GRANT UPDATE (%s) ON %I TO %I', (
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = t.relname::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attname NOT IN ('id', 'email', 'reference')), t.relname, svc);
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.relname, svc);
    END IF;
  END LOOP;
END
$grant$
"""


def granted_service_roles(database_url: str) -> list[str]:
    """The roles granted as service roles before (those that may append to ``audit_events``
    but not change it: not a read-only role, nor the owner), sorted: ``init-db`` grants them
    again after a migration, so that an upgrade run without ``GEOSIGNAL_SERVICE_ROLE`` leaves
    no new table out of their reach."""
    return _names(database_url, "SELECT grantee FROM information_schema.role_table_grants "
                  "WHERE table_schema = 'public' AND table_name = 'audit_events' "
                  "AND grantee NOT IN ('PUBLIC', current_user) GROUP BY grantee "
                  "HAVING bool_or(privilege_type = 'INSERT') AND NOT bool_or(privilege_type = 'UPDATE') ORDER BY 1")


def missing_privileges(database_url: str) -> list[str]:
    """The tables of ``public`` the connecting role may not read (sorted), when it is not their
    owner: a service role not granted since the last migration (``geosignal serve`` refuses
    to start then). Empty for the owner."""
    return _names(database_url, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'spatial_ref_sys' "
                  "AND pg_get_userbyid(c.relowner) <> current_user "
                  "AND NOT has_table_privilege(current_user, c.oid, 'SELECT') ORDER BY 1")


def _names(database_url: str, sql: str) -> list[str]:
    """The first column of ``sql``'s rows, read on a connection of its own to ``database_url``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)).scalars())
    finally:
        engine.dispose()


def grant_service_role(database_url: str, role: str) -> None:
    """Give ``role`` (a PostgreSQL role that exists, owns nothing of the database, is no member
    of its owner and no superuser) what serving geosignal needs and no more: it reads and
    writes every table of ``public`` the connecting role (the owner, ``database_url``'s) owns,
    but only reads and appends to the audit journal (``audit_events``, whose trigger also
    stamps each line's id and time) and only reads the schema's revision; it deletes no
    account nor report and changes no id, address or reference (what the journal's lines
    name); sequences are drawn from, never set; no DDL, no ``TRUNCATE``, no grant option. Run
    after each migration (``geosignal init-db`` does, for ``GEOSIGNAL_SERVICE_ROLE`` and the
    roles granted before): new tables get their grants.
    Raises :class:`sqlalchemy.exc.ProgrammingError` (SQLSTATE 42704) for an unknown role, and
    (42501) when the connecting role does not own the tables or ``role`` could alter the
    journal (owner, member of the owner, superuser, ``BYPASSRLS`` or ``CREATEROLE``)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT set_config('geosignal.service_role', :r, true)"), {"r": role})
            connection.execute(text(_GRANT_SERVICE_ROLE))
    finally:
        engine.dispose()
