"""Scratch PostGIS databases for tests and benchmarks, cloned from the provisioned template.

``scripts/provision-db.sh`` creates the template ``geosignal_template`` (PostGIS installed by
a superuser) and gives the role ``geosignal`` CREATEDB, so that a scratch database needs no
superuser. ``GEOSIGNAL_TEST_ADMIN_URL`` names the database to connect to for CREATE and DROP
DATABASE; ``GEOSIGNAL_TEST_TEMPLATE`` the template.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from geosignal.db import Database

ADMIN_URL = os.environ.get(
    "GEOSIGNAL_TEST_ADMIN_URL", "postgresql+psycopg://geosignal:geosignal@127.0.0.1:5432/postgres"
)
TEMPLATE = os.environ.get("GEOSIGNAL_TEST_TEMPLATE", "geosignal_template")


def create_database(name: str) -> str:
    """Create database ``name`` from the PostGIS template (dropping one of that name) and
    return its SQLAlchemy URL."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    """Drop database ``name``, closing its connections (an autovacuum worker busy there is
    waited for and the drop tried again, up to 5 s, when the role may not end it)."""
    import time

    from sqlalchemy.exc import ProgrammingError

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            try:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except ProgrammingError:
                if attempt == 9:
                    raise
                time.sleep(0.5)
    finally:
        admin.dispose()


@contextmanager
def scratch_database(prefix: str, communes_file: str | PathLike[str] | None = None) -> Iterator[Database]:
    """Yield a migrated scratch database (with the communes of ``communes_file`` loaded and
    committed when given), dropped afterwards. Its URL is ``database.engine.url``."""
    from geosignal import migrate
    from geosignal.services.communes import load_communes

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    database = Database(url)
    try:
        migrate.upgrade(url)
        if communes_file is not None:
            with database.session() as session:
                load_communes(session, communes_file)
                session.commit()
        yield database
    finally:
        database.engine.dispose()
        drop_database(name)
