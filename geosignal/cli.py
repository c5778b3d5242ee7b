"""The ``geosignal`` command: database, communes, users, tokens, export, server.

Each command prints a short summary; bad input exits non-zero with a one-line reason.
Also reachable as ``flask --app geosignal <command>``.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy import func, select

from geosignal.errors import GeosignalError
from geosignal.vocab import NETWORKS, ROLES


def _create_app(*_args: Any) -> Flask:
    from geosignal import create_app

    return create_app()


def reports_errors(command: Callable) -> Callable:
    """Turn a :class:`GeosignalError` into a one-line reason and exit status 1."""

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GeosignalError as error:
            where = f" (at {error.where})" if error.where else ""
            raise click.ClickException(f"{error.code}: {error.detail}{where}") from None

    return wrapped


def _session():  # noqa: ANN202
    from geosignal.db import get_database

    return get_database().session()


#: geosignal's commands; :func:`register` adds them to each application's ``app.cli``.
commands = AppGroup("geosignal")


def register(app: Flask) -> None:
    """Add geosignal's commands to ``app.cli`` (so ``flask --app geosignal …`` has them)."""
    for command in commands.commands.values():
        app.cli.add_command(command)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False)
def main() -> None:
    """geosignal: connectivity white zones of Charleroi Métropole."""


@commands.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (alembic migrations)."""
    from geosignal import migrate

    migrate.upgrade(current_app.config["DATABASE_URL"])
    click.echo("database schema up to date")


@commands.command("load-communes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--nis-field", help="attribute holding the 5-digit NIS code")
@reports_errors
def load_communes(path: str, nis_field: str | None) -> None:
    """Load or update communes from a boundary file (any format GDAL reads)."""
    from geosignal.services.communes import load_communes as load

    with _session() as session:
        summary = load(session, path, nis_field)
        session.commit()
    click.echo(f"{summary.total} communes in file: {summary.inserted} inserted, {summary.updated} updated")


def _read_password(password_stdin: bool) -> tuple[str, bool]:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            raise click.ClickException("password must be at least 8 characters")
        return password, False
    return secrets.token_urlsafe(12), True


@commands.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--commune", "commune_nis", help="NIS code (representatives only)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@reports_errors
def create_user(email: str, role: str, commune_nis: str | None, password_stdin: bool) -> None:
    """Create a user; prints a one-time password unless --password-stdin is given."""
    from geosignal.services.users import create_user as create

    password, generated = _read_password(password_stdin)
    with _session() as session:
        user = create(session, email, role, commune_nis, password)
        session.commit()
    click.echo(f"user {user.email} created ({role}{', ' + commune_nis if commune_nis else ''})")
    if generated:
        click.echo(f"one-time password: {password}")


@commands.command("create-token")
@click.argument("email")
@reports_errors
def create_token(email: str) -> None:
    """Create an API bearer token for a user; printed once, alone on the last line."""
    from geosignal.services.users import create_token as create

    with _session() as session:
        token = create(session, email)
        session.commit()
    click.echo(f"API token for {email.lower()} (shown once, store it now):")
    click.echo(token)


@commands.command("create-demo-users")
def create_demo_users() -> None:
    """Create a demo referent and a representative of Charleroi when no user exists yet."""
    from geosignal.models import User
    from geosignal.services.users import create_user as create

    with _session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            click.echo("users exist already: no demo user created")
            return
        accounts = [("referent@geosignal.local", "referent", None),
                    ("charleroi@geosignal.local", "representative", "52011")]
        for email, role, nis in accounts:
            password = secrets.token_urlsafe(12)
            create(session, email, role, nis, password)
            click.echo(f"demo {role}: {email}  one-time password: {password}")
        session.commit()


@commands.command("import-reports")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "email", required=True, help="e-mail of the user the reports are filed for")
@click.option("--crs", help="CRS of the coordinates (EPSG:4326 default, EPSG:31370, EPSG:3812)")
@click.option("--network", type=click.Choice(NETWORKS), help="default network for features without one")
@click.option("--repair", is_flag=True, help="repair invalid shapes (make_valid, keeping all the area)")
@click.option("--valid-only", is_flag=True, help="save the valid features even when others are refused")
@click.option("--dry-run", is_flag=True, help="check only; save nothing")
@reports_errors
def import_reports(path: str, email: str, crs: str | None, network: str | None, repair: bool,
                   valid_only: bool, dry_run: bool) -> None:
    """Import reports from a file through the same intake pipeline as the API."""
    from pathlib import Path

    from geosignal.models import User
    from geosignal.services.imports import import_file
    from geosignal.services.territory import limits_from_config, service_area

    config = current_app.config
    with _session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise GeosignalError("not_found", f"no user {email}")
        try:
            outcome = import_file(
                session, user, Path(path).read_bytes(), Path(path).name,
                area=service_area(session, {}, config["SERVICE_MARGIN_M"]), limits=limits_from_config(config),
                crs=crs, repair=repair, default_network=network,
                mode="valid_only" if valid_only else "all", dry_run=dry_run,
            )
        except GeosignalError as error:
            for feature in error.extra.get("features", []):
                if feature["status"] == "refused":
                    click.echo(f"feature {feature['index']}: {feature['error']['code']}: {feature['error']['detail']}",
                               err=True)
            raise
        session.commit()
    for feature in outcome.features:
        if feature["status"] == "refused":
            click.echo(f"feature {feature['index']}: {feature['error']['code']}: {feature['error']['detail']}", err=True)
    verb = "would be saved (dry run)" if dry_run else "saved"
    click.echo(f"{outcome.accepted} accepted, {outcome.refused} refused, {outcome.saved if not dry_run else outcome.accepted} {verb}")


@commands.command("export")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="file to write (default: standard output)")
@click.option("--status", default="validated", help="a status, or 'all'")
@click.option("--commune", help="NIS code")
@reports_errors
def export(output: Any, status: str, commune: str | None) -> None:
    """Write the DWconnect GeoJSON export (streamed)."""
    from geosignal.services.export import ExportFilters, iter_feature_collection
    from geosignal.vocab import STATUSES

    if status != "all" and status not in STATUSES:
        raise click.BadParameter(f"status must be 'all' or one of {', '.join(STATUSES)}")
    filters = ExportFilters(statuses=None if status == "all" else (status,), commune=commune)
    with _session() as session:
        for chunk in iter_feature_collection(session, filters):
            output.write(chunk)
    if output is not sys.stdout:
        click.echo(f"export written to {output.name}", err=True)


@commands.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--workers", default=2, type=int, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve geosignal with gunicorn (production-grade WSGI server)."""
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self) -> Flask:
            return _create_app()

    click.echo(f"geosignal on http://{host}:{port}/")
    _Server().run()
