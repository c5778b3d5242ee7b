"""Alembic environment: geosignal's models, with GeoAlchemy2's helpers for spatial columns."""

from __future__ import annotations

import os

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from geosignal.config import DEFAULT_DATABASE_URL
from geosignal.models import Base

config = context.config
target_metadata = Base.metadata

#: Tables and schemas that belong to PostGIS itself, not to geosignal.
POSTGIS_TABLES = {"spatial_ref_sys", "geography_columns", "geometry_columns", "raster_columns",
                  "raster_overviews", "layer", "topology"}


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    """Skip PostGIS's own tables and the job queue's (procrastinate, migration 0006), then
    defer to GeoAlchemy2 (spatial indexes)."""
    if type_ == "table" and (name in POSTGIS_TABLES or getattr(obj, "schema", None) in ("tiger", "topology")
                             or name.startswith("procrastinate_")):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def database_url() -> str:
    return (config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
            or os.environ.get("GEOSIGNAL_DATABASE_URL") or DEFAULT_DATABASE_URL)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("geosignal migrations run online only")
run_migrations_online()
