"""The ``geosignal`` command: database, communes, users, tokens, export, server.

Each command prints a short summary; bad input exits non-zero with a one-line reason.
Also reachable as ``flask --app geosignal <command>``.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import wraps
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy import func, select

from geosignal.errors import GeosignalError, is_write_conflict
from geosignal.params import parse_bbox, parse_commune
from geosignal.textsafety import escaped_breaks
from geosignal.vocab import NETWORKS, ROLES


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and its noun, singular for exactly one: ``1 report``, ``0 reports``, ``2 reports``."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _create_app(*_args: Any, serving: bool = False) -> Flask:
    """The application of a command (``serving=False``: see :func:`geosignal.create_app`), or of
    ``serve``'s web workers (``serving=True``); a configuration fault is one line."""
    from geosignal import create_app

    try:
        return create_app(serving=serving)
    except RuntimeError as error:  # missing secret key, front-end libraries not installed
        raise click.ClickException(f"configuration: {error}") from None


def _user_named(session: Any, email: str) -> Any:
    """The account of ``email`` (as typed: spaces and case ignored, as accounts are stored).
    Raises ``not_found`` when there is none."""
    from geosignal.models import User

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise GeosignalError("not_found", f"no user {email}")
    return user


def reports_errors(command: Callable) -> Callable:
    """Turn a :class:`GeosignalError`, a value the database cannot hold (an id beyond its
    integer, a NUL, a date beyond its range: SQLAlchemy's ``DataError``), or a write rolled
    back by another at the same moment (a deadlock, a serialization failure:
    :func:`~geosignal.errors.is_write_conflict`), into a one-line reason and exit status 1."""
    from sqlalchemy.exc import DataError

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GeosignalError as error:
            raise one_line(error) from None
        except DataError as error:
            raise refused_value(error) from None
        except Exception as error:
            if is_write_conflict(error):  # (psycopg's own from a save's raw cursor: it was a traceback)
                raise click.ClickException(
                    f"conflict: another write at the same moment rolled this one back ({database_problem(error)}); "
                    "nothing was saved: run the command again") from None
            raise

    return wrapped


def refused_value(error: Exception) -> click.ClickException:
    """A value the database refused, as the command line says it."""
    return click.ClickException(f"invalid_request: the database refused a value: {database_problem(error)}")


def one_line(error: GeosignalError) -> click.ClickException:
    """A coded error as the command line says it: ``code: reason (at where)``; ``where`` a
    parameter the command takes as an option (the services name it as the API does: ``since``,
    ``bbox``, ``from``) is said as that option (``--since``)."""
    where = f" (at {_as_option(error.where)})" if error.where else ""
    return click.ClickException(f"{error.code}: {error.detail}{where}")


def _as_option(where: str) -> str:
    """``where`` as the running command's option of that name (``date_from`` or ``from``:
    ``--from``), else as it is (a JSON pointer, a row, a name the command has no option for)."""
    context = click.get_current_context(silent=True)
    if context is None or where.startswith(("/", "-")):
        return where
    typed = f"--{where.replace('_', '-')}"
    for param in context.command.params:
        opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
        if typed in opts:
            return typed
        if opts and param.name == where:
            return opts[0]
    return where


def _session():  # noqa: ANN202
    from geosignal.db import get_database

    return get_database().session()


class _OnceCommand(click.Command):
    """A geosignal command: an option of one value given twice is refused
    (:func:`refuse_repeated_options`) — through ``geosignal`` and ``flask --app geosignal``
    alike (the check ran in the ``geosignal`` group only)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_repeated_options(self, args)
        return super().parse_args(ctx, args)


#: geosignal's commands; :func:`register` adds them to each application's ``app.cli``.
commands = AppGroup("geosignal")
commands.command_class = _OnceCommand


def register(app: Flask) -> None:
    """Add geosignal's commands to ``app.cli`` (so ``flask --app geosignal …`` has them)."""
    for command in commands.commands.values():
        app.cli.add_command(command)


def refuse_repeated_options(command: click.Command, args: list[str]) -> None:
    """Raise :class:`click.UsageError` when ``args`` give an option of ``command`` that takes
    one value (or a flag) twice: Click kept the last without a word, so that ``export --status
    validated … --status all --mark-transmitted`` sent, and marked, every status; the API
    refuses a repeated parameter too."""
    once = {opt: param for param in command.params if isinstance(param, click.Option)
            and not param.multiple and not param.count for opt in (*param.opts, *param.secondary_opts)}
    seen: dict[str, str] = {}
    for arg in args:
        if arg == "--":
            break
        # --long=value; a short option with its value attached (-ofile.geojson) is its -o
        opt = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2] if arg.startswith("-") else arg
        param = once.get(opt)
        if param is None or param.name is None:
            continue
        if param.name in seen:
            also = f" (as {seen[param.name]} and {opt})" if seen[param.name] != opt else ""
            raise click.UsageError(f"the option {param.opts[-1]} is given twice{also}: give it once")
        seen[param.name] = opt


class _Main(FlaskGroup):
    """The ``geosignal`` command: its own commands (``export``, ``import-reports``) resolve
    first, so they start without loading Flask's plugin commands (Flask-Limiter's imports
    ``rich``) or the application; the application's commands (:data:`commands`) come after."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = click.Group.get_command(self, ctx, name)
        return command if command is not None else super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands ``--help`` lists; when the application cannot be built (no secret key…),
        its own commands and one line saying why the others are missing (Flask printed a
        traceback)."""
        from flask.cli import ScriptInfo

        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()} (the commands that need it are not listed)\n", err=True)
            self._load_plugin_commands()
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; what goes wrong in any of them is said on one line (``Error: …``,
        exit status 1), never as a traceback: a coded error (``code: reason``), a database that
        cannot be reached or refuses the login (``database: …``), a database whose schema is
        missing or behind the code (the revision it is at, the one needed, ``geosignal init-db``), a
        value the database cannot hold (``invalid_request: the database refused a value: …``)."""
        from sqlalchemy.exc import DataError, InterfaceError, OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except GeosignalError as error:
            raise one_line(error) from None
        except DataError as error:  # a value the database cannot hold (an id beyond its range, a NUL…)
            raise refused_value(error) from None
        except (OperationalError, InterfaceError) as error:
            raise click.ClickException(f"database: {database_problem(error)}") from None
        except ProgrammingError as error:
            sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
            if sqlstate == "42501":  # a role without the privilege (a service role running init-db…)
                raise click.ClickException(f"database: {database_problem(error)} (the role of "
                                           "GEOSIGNAL_DATABASE_URL may not do this: a migration needs the owner "
                                           "of the tables; run init-db with the owner's URL)") from None
            if sqlstate not in SCHEMA_SQLSTATES:
                raise
            _require_schema_at_head(_standalone_config()["DATABASE_URL"], then="run this command again")
            raise  # the schema is the code's: a fault of the code, said as one


#: What PostgreSQL says of a statement naming a table, column or function the database does not
#: have (``undefined_table``, ``undefined_column``, ``undefined_function``, ``undefined_object``):
#: on a database not yet set up, or behind the code, the command says to run ``geosignal init-db``.
SCHEMA_SQLSTATES = frozenset({"42P01", "42703", "42883", "42704"})


def database_problem(error: Exception) -> str:
    """The first line of what the database driver said (authentication failed, connection
    refused…), the URL's password never shown."""
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


@click.group(cls=_Main, create_app=_create_app, add_default_commands=False,
             add_version_option=False)
def main() -> None:
    """geosignal: connectivity white zones of Charleroi Métropole."""


main.command_class = _OnceCommand


@commands.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (alembic migrations)."""
    from sqlalchemy.exc import ProgrammingError

    from geosignal import migrate

    url = current_app.config["DATABASE_URL"]
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    after = migrate.current_revision(url)
    if before == after:
        click.echo(f"database schema up to date ({after})")
    else:
        click.echo(f"database schema {'created' if before is None else 'upgraded from ' + before}: now at {after}")
    _apply_zone_distance()
    # the service role given, and those granted before (an upgrade run without the setting
    # left the new tables out of their reach: the service failed on them)
    given = current_app.config.get("SERVICE_ROLE")
    roles = sorted({given} if given else set(migrate.granted_service_roles(url)))
    for role in roles:
        try:
            migrate.grant_service_role(url, role)
        except ProgrammingError as error:
            raise click.ClickException(f"GEOSIGNAL_SERVICE_ROLE: {database_problem(error)}") from None
        again = "" if given else " again (granted before)"
        click.echo(f"role {role} granted{again} what serving needs (the audit journal: read and append only)")


def _apply_zone_distance() -> None:
    """Bring the stored grouping distance to ``ZONE_DISTANCE_M`` (every report regrouped when
    it changed)."""
    from geosignal.services import zones

    metres = current_app.config["ZONE_DISTANCE_M"]
    with _session() as session:
        changed = zones.apply_distance(session, metres)
        session.commit()
    if changed:
        click.echo(f"zones regrouped at {metres:g} m")


@commands.command("regroup-zones")
@reports_errors
def regroup_zones() -> None:
    """Regroup every report into zones from scratch, at ZONE_DISTANCE_M (after a load made with
    the reports triggers off, or to check the stored zones)."""
    import time

    from geosignal.services import zones

    started = time.perf_counter()
    with _session() as session:
        zones.apply_distance(session, current_app.config["ZONE_DISTANCE_M"])
        before = zones.grouping(session)
        zones.recompute_all(session)
        after = zones.grouping(session)
        session.commit()
    same = "unchanged" if before == after else f"{_n(len(before ^ after), 'zone')} differed and were rebuilt"
    click.echo(f"{_n(len(after), 'zone')} ({same}) in {time.perf_counter() - started:.1f} s")


@commands.command("load-communes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--nis-field", help="attribute holding the 5-digit NIS code")
@click.option("--remove-absent", is_flag=True,
              help="remove the communes loaded before that the file does not hold (refused, nothing stored, "
                   "while reports, zones, accounts or survey answers name one)")
@reports_errors
def load_communes(path: str, nis_field: str | None, remove_absent: bool) -> None:
    """Load or update communes from a boundary file (any format GDAL reads)."""
    from geosignal.services.aggregation import vacuum_cells
    from geosignal.services.communes import load_communes as load

    with _session() as session:
        summary = load(session, path, nis_field, remove_absent=remove_absent)
        session.commit()
        vacuum_cells(session)
    click.echo(f"{_n(summary.total, 'commune')} in file: {summary.inserted} inserted, {summary.updated} updated")
    if summary.absent:
        shown = ", ".join(summary.absent[:10]) + (f" and {len(summary.absent) - 10} more"
                                                   if len(summary.absent) > 10 else "")
        click.echo(f"{_n(len(summary.absent), 'commune')} loaded before and not in the file "
                   + (f"removed: {shown}" if summary.removed else f"kept ({shown}); --remove-absent removes them"))


def _read_password(password_stdin: bool) -> tuple[str, bool]:
    """Return (the password read from standard input, False), or (a generated one, True): a
    generated password is shown once and must be changed at first sign-in."""
    if password_stdin:
        from geosignal.services.accounts import password_problem

        password = sys.stdin.readline().rstrip("\n")
        problem = password_problem(password)
        if problem:
            raise click.ClickException(f"weak_password: {problem}")
        return password, False
    return secrets.token_urlsafe(16), True


@commands.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--commune", "commune_nis", help="NIS code (representatives only)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@reports_errors
def create_user(email: str, role: str, commune_nis: str | None, password_stdin: bool) -> None:
    """Create a user; prints a one-time password unless --password-stdin is given."""
    from geosignal.services import audit
    from geosignal.services.accounts import check_password_policy, guessable_words
    from geosignal.services.users import create_user as create

    password, generated = _read_password(password_stdin)
    with _session() as session:
        if not generated:  # the account's address and the communes' names, which need the database
            check_password_policy(password, guessable_words(session, email=email.strip().lower()))
        user = create(session, email, role, commune_nis, password)
        user.must_change_password = generated
        audit.record_account(session, "account_create", None, user, how="create-user",
                             password="one-time" if generated else "chosen")
        session.commit()
    click.echo(f"user {user.email} created ({role}{', ' + commune_nis if commune_nis else ''})")
    if generated:
        click.echo(f"one-time password: {password}")


@commands.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@reports_errors
def set_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (a new one is generated and printed unless given on stdin): the
    recovery of an account whose password may be known to someone else. As a reset by link,
    the user's sessions end, every unused link of the account (a reset, an invitation) stops
    working and every API token is revoked."""
    from geosignal.services import audit
    from geosignal.services.accounts import revoke_api_tokens, set_new_password

    password, generated = _read_password(password_stdin)
    with _session() as session:
        user = _user_named(session, email)
        set_new_password(session, user, password)
        user.must_change_password = generated
        revoked = revoke_api_tokens(session, user)
        audit.record_account(session, "password_set", None, user, how="terminal", tokens_revoked=revoked)
        session.commit()
    click.echo(f"password of {user.email} changed; pending links ended, {revoked} API "
               f"token{'s' if revoked != 1 else ''} revoked")
    if generated:
        click.echo(f"new password: {password}")


@commands.command("deactivate-user")
@click.argument("email")
@reports_errors
def deactivate_user(email: str) -> None:
    """Deactivate an account (never deleted): sign-in refused, sessions and API tokens revoked,
    its queued imports failed."""
    from geosignal.services.accounts import deactivate

    with _session() as session:
        user = _user_named(session, email)
        failed = deactivate(session, None, user)
        session.commit()
    click.echo(f"{user.email} deactivated: sign-in refused, sessions and API tokens revoked"
               + (f", {failed} queued import{'s' if failed != 1 else ''} failed" if failed else ""))


@commands.command("reactivate-user")
@click.argument("email")
@reports_errors
def reactivate_user(email: str) -> None:
    """Reactivate a deactivated account (the way back from deactivate-user): its role, commune
    and language are kept, its API tokens stay revoked, and its owner chooses a new password
    through a new invitation link (72 hours, once), printed alone on the last line to hand
    over (its old password no longer works). Journalled."""
    from urllib.parse import urlencode

    from geosignal.services.accounts import reactivate
    from geosignal.services.mail import link_base

    with _session() as session:
        user = _user_named(session, email)
        secret = reactivate(session, None, user)
        session.commit()
    with current_app.test_request_context():  # (the path as the application routes it)
        from flask import url_for

        path = url_for("account.accept_invitation")
    click.echo(f"{user.email} reactivated; sign-in works once its owner chooses a password through this "
               "invitation link (valid 72 hours, once: hand it over):")
    click.echo(f"{link_base(current_app.config)}{path}?{urlencode({'jeton': secret})}")


#: The longest retention ``purge`` takes, in days (about 2,700 years): PostgreSQL's
#: ``make_interval`` takes a 32-bit number of days, and 3,000,000,000 ended in a traceback.
MAX_RETENTION_DAYS = 1_000_000


@commands.command("purge")
@click.option("--export-copies-older-than", "days", type=int, default=None,
              help="days (default GEOSIGNAL_EXPORT_COPY_RETENTION_DAYS, 730)")
@click.option("--photos-older-than", "photo_days", type=int, default=None,
              help="days since a report was closed (default GEOSIGNAL_PHOTO_RETENTION_DAYS, 365)")
@click.option("--dry-run", is_flag=True, help="count what would go, delete nothing")
@reports_errors
def purge(days: int | None, photo_days: int | None, dry_run: bool) -> None:
    """Apply the retention rules: delete the stored copies of exports older than the retention
    period (their records stay: who, when, filters, SHA-256, reports carried), and the photos of
    reports closed for longer than theirs (speed tests stay)."""
    from geosignal.services.evidence import purge_photos
    from geosignal.services.export import purge_copies

    days = current_app.config["EXPORT_COPY_RETENTION_DAYS"] if days is None else days
    photo_days = current_app.config["PHOTO_RETENTION_DAYS"] if photo_days is None else photo_days
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise GeosignalError("invalid_request", f"--export-copies-older-than is a number of days from 0 to "
                             f"{MAX_RETENTION_DAYS:,}")
    if not 0 <= photo_days <= MAX_RETENTION_DAYS:
        raise GeosignalError("invalid_request", f"--photos-older-than is a number of days from 0 to "
                             f"{MAX_RETENTION_DAYS:,}")
    with _session() as session:
        done = purge_copies(session, days, dry_run=dry_run)
        photos = purge_photos(session, photo_days, dry_run=dry_run)
        session.commit()
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} the copies of {_n(done['runs'], 'export run')} older than {_n(days, 'day')} "
               f"({_n(done['bytes'], 'byte')})")
    click.echo(f"{verb} {_n(photos['photos'], 'photo')} of reports closed more than {_n(photo_days, 'day')} ago "
               f"({_n(photos['bytes'], 'byte')})")


@commands.command("send-mail")
@reports_errors
def send_mail() -> None:
    """Send the pending e-mail notifications now, those waiting to be retried after a failure
    too (job workers send them as they are queued, and retry failures later and later); what
    fails again is retried later."""
    _deliver(digest=False)


@commands.command("send-digest")
@reports_errors
def send_digest() -> None:
    """Send the daily digest to the users who chose it (the referents' new submissions, the
    representatives' status changes; job workers do it every day at 06:00 UTC)."""
    _deliver(digest=True)


def _deliver(digest: bool) -> None:
    from geosignal.db import get_database
    from geosignal.services import notifications

    # an operator who just mended the mail server sends everything pending, not only what is due
    done = notifications.deliver_from_config(get_database(), current_app.config, digest=digest,
                                             now=None if digest else notifications.EVERY_PENDING)
    what = _n(done["messages"], "digest message" if digest else "message")
    click.echo(f"{what} sent ({_n(done['rows'], 'notification')}), {done['failed']} failed "
               f"(retried later), {done['skipped']} skipped" +
               ("" if current_app.config.get("SMTP_HOST") else " (no SMTP server configured: GEOSIGNAL_SMTP_HOST)"))


@commands.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="what the token is for (shown in the token list)")
@click.option("--days", default=90, show_default=True, type=int, help="lifetime (1-365 days)")
@reports_errors
def create_token(email: str, name: str, days: int) -> None:
    """Create a named API bearer token for a user; printed once, alone on the last line."""
    from geosignal.models import User
    from geosignal.services.users import create_token as create

    with _session() as session:
        token = create(session, email, name=name, days=days)
        pending = session.scalar(select(User.must_change_password).where(User.email == email.strip().lower()))
        session.commit()
    if pending:
        click.echo(f"warning: password_change_required: {email.lower()} still has its one-time password; "
                   "the token gets 403 until that user signs in and chooses one", err=True)
    click.echo(f"API token for {email.lower()}, valid {days} days (shown once, store it now):")
    click.echo(token)


@commands.command("list-tokens")
@click.argument("email")
@reports_errors
def list_tokens(email: str) -> None:
    """List a user's API tokens: id, state, name, expiry, last use."""
    from geosignal.services.users import list_tokens as listing

    with _session() as session:
        user = _user_named(session, email)
        tokens = listing(session, user)
        if not tokens:
            click.echo(f"no tokens for {user.email}")
        from geosignal.contract import BRUSSELS

        for t in tokens:  # (the day and time the account page shows: Brussels)
            expires = t["expires_at"].astimezone(BRUSSELS).date().isoformat() if t["expires_at"] else "never"
            used = (t["last_used_at"].astimezone(BRUSSELS).isoformat(timespec="minutes") if t["last_used_at"]
                    else "never")
            # (a name stored before names were checked may hold a line break or a tab: escaped)
            click.echo(f"{t['id']}\t{t['state']}\t{escaped_breaks(t['name']) or '-'}\texpires {expires}\tlast used {used}")


@commands.command("revoke-token")
@click.argument("token_id", type=int)
@reports_errors
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (see list-tokens): it gets 401 from now on."""
    from geosignal.services.users import revoke_token as revoke

    with _session() as session:
        token = revoke(session, None, token_id)
        session.commit()
    click.echo(f"token {token_id} ({escaped_breaks(token.name) or 'unnamed'}) revoked")


@commands.command("create-demo-users")
def create_demo_users() -> None:
    """Create a demo referent and a representative of Charleroi when no user exists yet."""
    from geosignal.models import User
    from geosignal.services import audit
    from geosignal.services.users import create_user as create

    with _session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            click.echo("users exist already: no demo user created")
            return
        accounts = [("referent@geosignal.local", "referent", None),
                    ("charleroi@geosignal.local", "representative", "52011")]
        lines = []
        for email, role, nis in accounts:
            password = secrets.token_urlsafe(16)
            user = create(session, email, role, nis, password)
            user.must_change_password = True
            audit.record_account(session, "account_create", None, user, how="create-demo-users", password="one-time")
            lines.append(f"demo {role}: {email}  one-time password: {password}")
        session.flush()
        try:  # said before the users are stored: passwords nobody saw would lock them out
            _show_once(lines)
        except OSError as error:
            session.rollback()
            raise click.ClickException(
                f"cannot write the one-time passwords ({error.strerror or error}: {error.filename}); no demo user "
                "was created: make the instance folder writable, or set GEOSIGNAL_INSTANCE_PATH") from None
        session.commit()


def _show_once(lines: list[str]) -> None:
    """Show one-time passwords on the terminal only: never on a redirected output (a service's
    log); there they go to ``instance/demo-passwords.txt`` (mode 600) instead."""
    import os
    from pathlib import Path

    from flask import current_app

    if sys.stdout.isatty():
        for line in lines:
            click.echo(line)
        click.echo("(shown once; each must be changed at first sign-in)")
        return
    path = Path(current_app.instance_path) / "demo-passwords.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    click.echo(f"demo users created; their one-time passwords are in {path} (readable by you only; "
               "each must be changed at first sign-in)")


#: Per-feature warning lines an import prints before it says how many more there are (a file
#: of 50,000 rows each with a dropped attribute would otherwise print 50,000 lines).
FEATURE_WARNINGS_SHOWN = 50


def _at(said: dict[str, Any]) -> str:
    """Where in the feature a warning or an error points: `` (at /json/pointer)`` (GeoJSON), else
    `` (column 'name')`` (the file's column or field), else `` (line n of the file)`` (a KML or
    GPX fault, whose ``column`` is a character's place on that line, not a spreadsheet's
    column; left out when the detail already names the line), else nothing. The upload page
    says the same (``static/js/import.js``)."""
    if said.get("pointer"):
        return f" (at {said['pointer']})"
    column, line = said.get("column"), said.get("line")
    if isinstance(column, str):
        return f" (column {column!r})" if column else ""
    if type(line) is int and f"line {line}" not in str(said.get("detail") or ""):
        return f" (line {line} of the file)"
    return ""


def _echo_features(features: Iterable[dict[str, Any]], shown: int = FEATURE_WARNINGS_SHOWN) -> None:
    """Print what an import says per feature, in file order: one line per refused feature
    (``<row n | feature i>: <code>: <detail>``, every one) and one per warning of an accepted
    feature (``<row n | feature i>: warning: <code>: <detail>``), each followed by where in the
    feature it points (:func:`_at`). Only the first ``shown`` warnings are printed, then ``and
    N more warnings (on M features)``. ``features``: the per-feature entries (or
    :meth:`~geosignal.services.imports.ImportOutcome.iter_said`)."""
    more = more_features = 0
    for feature in features:
        place = f"row {feature['row']}" if feature.get("row") is not None else f"feature {feature['index']}"
        if feature["status"] == "refused":
            error = feature["error"]
            click.echo(f"{error.get('where') or place}: {error['code']}: {error['detail']}{_at(error)}", err=True)
            continue
        warnings = feature.get("warnings") or []
        room = max(shown, 0)
        for warning in warnings[:room]:
            said = warning.get("detail") or ", ".join(f"{k} {v}" for k, v in warning.items() if k != "code")
            click.echo(f"{place}: warning: {warning['code']}" + (f": {said}" if said else "") + _at(warning), err=True)
        shown -= min(len(warnings), room)
        if len(warnings) > room:
            more += len(warnings) - room
            more_features += 1
    if more:
        click.echo(f"and {_n(more, 'more warning')} (on {_n(more_features, 'feature')})", err=True)


def _echo_file_warnings(warnings: Iterable[dict[str, Any]]) -> None:
    """Print one line per file-level warning of an import (a file or rows saved before,
    columns read for nothing…): ``warning: <code>: <detail or what it names>``."""
    for warning in warnings:
        said = warning.get("detail") or ", ".join(
            str(v) if not isinstance(v, list) else ", ".join(map(str, v))
            for k, v in warning.items() if k != "code")
        click.echo(f"warning: {warning['code']}" + (f": {said}" if said else ""), err=True)


def _import_options(command: Callable) -> Callable:
    """The argument and options of ``import-reports`` (shared by its two registrations)."""
    options = [
        click.argument("path", type=click.Path(exists=True, dir_okay=False)),
        click.option("--as", "email", required=True, help="e-mail of the user the reports are filed for"),
        click.option("--crs", help="CRS of the coordinates (EPSG:4326 default, EPSG:31370, EPSG:3812)"),
        click.option("--network", type=click.Choice(NETWORKS), help="default network for features without one"),
        click.option("--repair", is_flag=True, help="repair invalid shapes (make_valid, keeping all the area)"),
        click.option("--valid-only", is_flag=True, help="save the valid features even when others are refused"),
        click.option("--skip-saved-before", is_flag=True,
                     help="leave out the rows an earlier upload of yours or your commune saved, unchanged"),
        click.option("--correct-saved-before", is_flag=True,
                     help="a row corrected in an edited copy updates the report an earlier upload stored at its "
                          "place (same_place_saved_before), instead of storing a second one"),
        click.option("--dry-run", is_flag=True, help="check only; save nothing"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@commands.command("import-reports")
@_import_options
@reports_errors
def import_reports(**options: Any) -> None:
    """Import reports from a file through the same intake pipeline as the API."""
    _import_reports(_session, current_app.config, **options)


# ``geosignal import-reports`` resolves this one first: it needs no application (starts ~0.5 s
# sooner); ``flask --app geosignal import-reports`` and the app's test runner use the one above.
@main.command("import-reports", with_appcontext=False)
@_import_options
@reports_errors
def import_reports_standalone(**options: Any) -> None:
    """Import reports from a file through the same intake pipeline as the API."""
    config = _standalone_config()
    _import_reports(lambda: _standalone_session(config), config, **options)


def _import_reports(new_session: Callable, config: Any, path: str, email: str, crs: str | None,
                    network: str | None, repair: bool, valid_only: bool, dry_run: bool,
                    skip_saved_before: bool = False, correct_saved_before: bool = False) -> None:
    """Import the reports of ``path`` with a session from ``new_session`` and the limits of ``config``."""
    from pathlib import Path

    from geosignal.services.imports import account_problem, import_file
    from geosignal.services.territory import limits_from_config, service_area

    with new_session() as session:
        user = _user_named(session, email)
        problem = account_problem(user)  # a preview too: what it shows could not be saved
        if problem is not None:
            raise problem
        try:
            outcome = import_file(
                session, user, _read_bounded(path, config["MAX_UPLOAD_BYTES"]), Path(path).name,
                area=service_area(session, {}, config["SERVICE_MARGIN_M"]), limits=limits_from_config(config),
                crs=crs, repair=repair, default_network=network,
                mode="valid_only" if valid_only else "all", dry_run=dry_run, skip_saved_before=skip_saved_before,
                correct_saved_before=correct_saved_before,
            )
        except GeosignalError as error:  # import_rejected carries the per-feature report: say it, then why
            _echo_file_warnings(error.extra.get("warnings", []))
            _echo_features(error.extra.get("features", []))
            raise
        session.commit()
    _echo_file_warnings(outcome.warnings)
    _echo_features(outcome.iter_said())
    if dry_run and not valid_only and outcome.refused:
        raise GeosignalError(
            "import_rejected", f"{outcome.refused} of {len(outcome.features)} features would be refused, so nothing "
            "would be saved (dry run; --valid-only keeps the valid ones)")
    verb = "would be saved (dry run)" if dry_run else "saved"
    stored = outcome.saved if not dry_run else outcome.new_reports  # (a probable duplicate stores nothing)
    left_out = f", {outcome.skipped} left out (saved before)" if outcome.skipped else ""
    corrected = (f", {_n(outcome.corrected, 'report')} " + ("would be corrected" if dry_run else "corrected")
                 if outcome.corrected else "")
    click.echo(f"{outcome.accepted} accepted, {outcome.refused} refused{left_out}, {stored} {verb}{corrected}")


def _read_bounded(path: str, limit: int, advice: str = "the upload limit (MAX_UPLOAD_BYTES): split it into "
                  "several files") -> bytes:
    """The bytes of the file at ``path``, read no further than ``limit`` + 1 bytes: a pipe or a
    device (``/dev/zero``) was read to its end, or until memory ran out, before its size was
    checked. Raises 413 ``payload_too_large`` past ``limit`` (saying ``advice``), as the upload
    APIs do."""
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise GeosignalError("payload_too_large", f"{path} holds more than {limit:,} bytes, {advice}.", limit=limit)
    return data


def _export_options(command: Callable) -> Callable:
    """The options of ``export`` (shared by its two registrations, see below)."""
    options = [
        click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
                     help="file to write (default: standard output); written whole or not at all"),
        click.option("--format", "fmt", type=click.Choice(["geojson", "csv", "gpkg"]), default="geojson",
                     show_default=True),
        click.option("--status", default=None,
                     help="'dwconnect' (what DWconnect is sent: the validated reports and those moved on from "
                          "validation, plus, incremental, the removals; the default with "
                          "--since-last-transmitted), a status, a comma-separated list, or 'all' (every status "
                          "but draft, reports not validated included: a full export, never with "
                          "--since-last-transmitted)  [default: validated]"),
        click.option("--commune", help="NIS code"),
        click.option("--bbox", help="min_lon,min_lat,max_lon,max_lat (EPSG:4326)"),
        click.option("--since", help="seq:<n> (next_since of an earlier export) or an ISO 8601 date-time"),
        click.option("--since-last-transmitted", "since_last_transmitted", is_flag=True,
                     help="only what is new since the last export marked as transmitted"),
        click.option("--from", "date_from", help="period start, YYYY-MM-DD (the report's date, inclusive)"),
        click.option("--to", "date_to", help="period end, YYYY-MM-DD (inclusive)"),
        click.option("--dialect", type=click.Choice(["excel", "plain"]), default="excel", show_default=True,
                     help="CSV only"),
        click.option("--decimal", type=click.Choice(["point", "comma"]), default="point", show_default=True,
                     help="CSV only (comma needs the excel dialect)"),
        click.option("--mark-transmitted", is_flag=True,
                     help="mark the reports exported as transmitted to DWconnect"),
        click.option("--no-record", is_flag=True, help="do not record the run in the export history"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _standalone_config() -> dict[str, Any]:
    """The configuration the application would have, without building it."""
    import os

    from geosignal.config import ROOT, load_config

    try:
        return load_config(os.environ.get("GEOSIGNAL_INSTANCE_PATH", str(ROOT / "instance")))
    except RuntimeError as error:
        raise click.ClickException(f"configuration: {error}") from None


def _standalone_session(config: dict[str, Any] | None = None):  # noqa: ANN202
    """A session on the configured database, without building the Flask application."""
    from geosignal.db import Database

    return Database((config or _standalone_config())["DATABASE_URL"]).session()


@commands.command("export")
@_export_options
@reports_errors
def export(**options: Any) -> None:
    """Write the DWconnect export (streamed, bounded memory) and record the run."""
    _write_export(_session, **options)


# ``geosignal export`` resolves this one first: it needs no application (starts ~0.6 s
# sooner); ``flask --app geosignal export`` and the app's test runner use the one above.
@main.command("export", with_appcontext=False)
@_export_options
@reports_errors
def export_standalone(**options: Any) -> None:
    """Write the DWconnect export (streamed, bounded memory) and record the run."""
    _write_export(_standalone_session, **options)


def _write_export(new_session: Callable, output: Any, fmt: str, status: str | None, commune: str | None,
                  bbox: str | None, since: str | None, since_last_transmitted: bool, date_from: str | None,
                  date_to: str | None, dialect: str, decimal: str, mark_transmitted: bool,
                  no_record: bool) -> None:
    """Write the DWconnect export to ``output`` with a session from ``new_session``."""
    import getpass

    from geosignal.services import export as export_service
    from geosignal.services.export import transmission

    if since and since_last_transmitted:
        raise click.UsageError("give --since or --since-last-transmitted, not both")
    if status is None:  # what DWconnect lacks is what DWconnect is sent
        status = export_service.DWCONNECT if since_last_transmitted else "validated"
    if no_record and mark_transmitted:
        raise click.UsageError("--mark-transmitted needs the run to be recorded")
    since_time, since_seq = export_service.parse_since(since)
    since_filter: dict[str, Any] = {"since_time": since_time, "since_seq": since_seq}
    period = export_service.parse_period(date_from, date_to)
    with new_session() as session:
        commune = parse_commune(session, commune, where="--commune")  # (the code as read: " 52011 " is 52011)
        status_filter = export_service.parse_status_filter(status)
        if since_last_transmitted:
            since_filter = transmission.last_transmitted(session, **status_filter)
        filters = export_service.ExportFilters(
            **status_filter, commune=commune, bbox=parse_bbox(bbox),
            date_from=period[0], date_to=period[1], **since_filter,
        )
        if mark_transmitted:
            transmission.check_markable(filters)
        request = export_service.ExportRequest(filters=filters, format=fmt, dialect=dialect, decimal=decimal)
        record = None if no_record else export_service.RunRecord(
            actor=f"cli:{getpass.getuser()}", channel="cli", mark_transmitted=mark_transmitted,
            options={"dialect": dialect, "decimal": decimal} if fmt == "csv" else {},
        )
        try:
            with output_file(output) as out:
                stream = export_service.stream_export(session, request, record=record)
                for chunk in stream.chunks:
                    out.write(chunk)
                out.flush()
                session.commit()  # (before the file takes its name: a run that failed leaves none)
        except OSError as error:  # a full disk, a folder that does not exist or may not be written…
            raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None
    where = "" if output == "-" else f" to {output}"
    run = f", run {stream.run.id}" if stream.run is not None else ""
    zones = (f", {_n(stream.zone_count, 'confirmed zone')}" if stream.zone_count else "") + (
        f", {_n(stream.zones_removed_count, 'zone')} removed" if stream.zones_removed_count else "")
    click.echo(f"{_n(stream.count, 'report')}{zones} written{where}{run}; next: --since {stream.next_since}",
               err=True)


@contextmanager
def output_file(path: str) -> Iterator[Any]:
    """A binary file to write ``path`` with, whole or not at all: the bytes go to a temporary
    file beside it, which takes its name once the ``with`` block ends without an error, and is
    removed otherwise (a failed export left a half-written GeoJSON over the previous one).
    ``-`` is standard output; a path that is no regular file (``/dev/null``, a pipe) is written
    in place. A link to a file writes its target (the link stays); a file replaced keeps its
    permissions (a new one gets the umask's, as a file opened plainly would). Whether the file
    can be replaced is asked before anything is written (a sticky folder's file of another
    user): whatever the block records then (an export run, reports marked transmitted) is
    never left without its file. If the name still cannot be taken at the end, the complete
    temporary file is kept and the error names it. Raises :class:`OSError` as the system does."""
    import errno
    import os
    import stat
    import tempfile

    if path == "-":
        yield click.get_binary_stream("stdout")
        return
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as handle:
            yield handle
        return
    target = os.path.realpath(path)  # (a link's target: the link stays a link)
    folder = os.path.dirname(target)
    existing = os.stat(target) if os.path.exists(target) else None
    if existing is not None and not _replaceable(folder, existing):
        raise OSError(errno.EPERM, f"{path} belongs to another user in a folder that keeps it theirs (sticky)")
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".part",
                                         delete=False)
    try:
        yield handle
        handle.close()
        if existing is not None:
            mode = stat.S_IMODE(existing.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(handle.name, mode)
    except BaseException:
        handle.close()
        with suppress(OSError):
            os.unlink(handle.name)
        raise
    try:
        os.replace(handle.name, target)
    except OSError as error:  # the export is complete: kept, said where
        raise OSError(error.errno, f"{error.strerror or error}; the complete file is kept as {handle.name}") from None


def _replaceable(folder: str, existing: os.stat_result) -> bool:
    """Whether this process may replace a file of ``folder`` whose status is ``existing``: in a
    sticky folder (``/tmp``, a shared drop folder) only its owner, the folder's or root may."""
    import os
    import stat

    folder_stat = os.stat(folder)
    if not folder_stat.st_mode & stat.S_ISVTX:
        return True
    return os.geteuid() in (0, existing.st_uid, folder_stat.st_uid)


@commands.command("mark-transmitted")
@click.argument("run_id")
@reports_errors
def mark_transmitted_command(run_id: str) -> None:
    """Mark export run RUN_ID as transmitted to DWconnect: its reports still validated become
    transmitted (idempotent: a second time changes nothing)."""
    import getpass

    from geosignal.services.export import transmission

    with _session() as session:
        outcome = transmission.mark_transmitted(session, run_id, transmission.TerminalOperator(
            f"cli:{getpass.getuser()}"))
        session.commit()
    if outcome["already"]:
        click.echo(f"run {outcome['run_id']} was already marked as transmitted on {outcome['transmitted_at']} "
                   f"by {outcome['transmitted_actor']}: nothing changed")
    else:
        click.echo(f"run {outcome['run_id']} marked as transmitted: {_n(outcome['moved'], 'report')} now "
                   f"transmitted, {_n(outcome['not_moved'], 'carried report')} no longer validated left as "
                   f"{'it is' if outcome['not_moved'] == 1 else 'they are'}")


@commands.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, help="[default: GEOSIGNAL_PORT, else 5000]")
@click.option("--workers", default=2, type=int, show_default=True, help="web worker processes")
@click.option("--job-workers", default=1, type=int, show_default=True,
              help="job worker processes (saved imports run as jobs); 0 when they run elsewhere")
@click.option("--timeout", default=30, type=int, show_default=True, help="seconds before a web request is cut")
def serve(host: str, port: int | None, workers: int, job_workers: int, timeout: int) -> None:
    """Serve geosignal: gunicorn's web workers and the job worker(s), started and stopped together."""
    from geosignal import assets

    port = port or current_app.config["PORT"]
    try:
        assets.require_installed()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    _require_schema_at_head(current_app.config["DATABASE_URL"])
    _require_free_port(host, port)
    from gunicorn.app.base import BaseApplication

    from geosignal.jobs import JobWorkers

    supervisor = JobWorkers(job_workers)

    def when_ready(_server: Any) -> None:
        if job_workers > 0:
            supervisor.start()

    def on_exit(_server: Any) -> None:
        supervisor.stop()

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", timeout)
            self.cfg.set("accesslog", "-")
            # paths without query strings: single-use links and filters stay out of the log
            self.cfg.set("access_log_format", '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(L)s')
            self.cfg.set("when_ready", when_ready)
            self.cfg.set("on_exit", on_exit)

        def load(self) -> Flask:
            return _create_app(serving=True)

    click.echo(f"geosignal on http://{host}:{port}/ ({_n(workers, 'web worker')}, {_n(job_workers, 'job worker')})")
    _Server().run()


def _require_schema_at_head(database_url: str, then: str = "serve again") -> None:
    """Stop ``serve`` (one line, exit status 1) when the database's schema is not the code's:
    after an upgrade of the code, every request touching a new column failed (500) until
    ``geosignal init-db`` ran. Also when the database cannot be reached or refuses the login.
    ``then``: what the line says to do after ``init-db``."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from geosignal import migrate
    from geosignal.services.health import migration_head

    try:
        current, head = migrate.current_revision(database_url), migration_head()
    except (OperationalError, InterfaceError) as error:
        raise click.ClickException(f"database: {database_problem(error)}") from None
    if current != head:
        raise click.ClickException(
            f"the database schema is at {current or 'nothing (empty database)'}, this code needs {head}: run "
            f"`geosignal init-db` (applies the migrations; back the database up first), then {then}")
    missing = migrate.missing_privileges(database_url)
    if missing:  # a service role not granted since the last migration: requests on them failed (500)
        raise click.ClickException(
            f"the role of GEOSIGNAL_DATABASE_URL may not read {len(missing)} table(s) ({', '.join(missing[:5])}"
            f"{', …' if len(missing) > 5 else ''}): run `GEOSIGNAL_SERVICE_ROLE=<this role> geosignal init-db` "
            f"with the owner's URL, then {then}")


def _require_free_port(host: str, port: int) -> None:
    """Stop ``serve`` at once when ``host:port`` is taken (gunicorn retried five times, after
    the start had been announced)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


@commands.command("run-jobs")
@click.option("--concurrency", default=1, type=int, show_default=True, help="jobs run at once")
def run_jobs(concurrency: int) -> None:
    """Run a job worker (saved imports) until stopped; `geosignal serve` starts one itself."""
    from geosignal import jobs

    jobs.run_worker(current_app._get_current_object(), concurrency=concurrency)  # type: ignore[attr-defined]


@commands.command("refresh-stats")
@reports_errors
def refresh_stats() -> None:
    """Recompute and store every commune's white-zone figures (after a bulk load)."""
    import time

    from geosignal.services.aggregation import recompute_all, vacuum_cells

    started = time.perf_counter()
    with _session() as session:
        count = recompute_all(session)
        session.commit()
        vacuum_cells(session)
    click.echo(f"figures of {_n(count, 'commune')} recomputed in {time.perf_counter() - started:.1f} s")


@commands.command("aggregate", with_appcontext=False)
@click.option("--reports", "reports_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="reports file (GeoJSON, GeoPackage, … e.g. a DWconnect export)")
@click.option("--communes", "communes_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="communes boundary file with NIS codes and populations")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="OUT.csv (Excel: BOM, ';') or OUT.geojson; default: a summary on standard output")
@click.option("--decimal", type=click.Choice(["point", "comma"]), default="point", show_default=True,
              help="CSV decimal separator")
@click.option("--status", default="", help="statuses counted (comma-separated) or 'all'; default "
                                           "submitted,needs_info,validated,transmitted,not_resolved, as the "
                                           "server's figures")
@click.option("--network")
@click.option("--technology")
@click.option("--operator")
@click.option("--issue")
@click.option("--from", "date_from", help="YYYY-MM-DD (observed_at, else the filing time: reported_at or created_at)")
@click.option("--to", "date_to", help="YYYY-MM-DD, inclusive")
@reports_errors
def aggregate(reports_path: str, communes_path: str, output: str | None, decimal: str, **filter_args: Any) -> None:
    """Per-commune white-zone figures from files, no server or database needed."""
    import json

    from geosignal.services import aggregation

    args = {("from" if k == "date_from" else "to" if k == "date_to" else k): v for k, v in filter_args.items()}
    filters = aggregation.parse_filters(args)
    if output and not output.lower().endswith((".csv", ".geojson", ".json")):
        raise click.BadParameter("the output must end in .csv or .geojson", param_hint="-o")
    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):  # said before the work, not after
        raise click.ClickException(f"cannot write {output}: no such folder")
    steps = aggregation.aggregate_files_steps(communes_path)
    with click.progressbar(length=steps, label="aggregating", file=sys.stderr) as bar:
        table, features = aggregation.aggregate_files(reports_path, communes_path, filters, progress=bar.update)
    territory = table["territory"]
    if output:
        written = (aggregation.table_csv(table, decimal_comma=decimal == "comma") if output.lower().endswith(".csv")
                   else json.dumps(aggregation.table_geojson(table, features), ensure_ascii=False))
        try:
            with output_file(output) as out:
                out.write(written.encode("utf-8"))
        except OSError as error:  # a full disk, a folder that may not be written…
            raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None
    else:
        click.echo(f"{'INS':5}  {'commune':30} {'reports':>8} {'zone km²':>12} {'share %':>8} {'lines km':>9}")
        for row in [*table["communes"], {**territory, "nis_code": ""}]:
            click.echo(f"{row['nis_code']:5}  {row['name_fr'][:30]:30} {row['report_count']:8d} "
                       f"{row['white_zone_area_km2']:12.6f} {100 * row['white_zone_share']:8.3f} "
                       f"{row['line_length_km']:9.3f}")
    click.echo(f"{_n(territory['commune_count'], 'commune')}, {_n(territory['report_count'], 'report')}, white zone "
               f"{territory['white_zone_area_km2']:.6f} km²" + (f"; written to {output}" if output else ""),
               err=True)


main.add_command(aggregate)


@commands.command("import-survey")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--edition", type=int, required=True, help="survey edition (year), e.g. 2022")
@reports_errors
def import_survey(path: str, edition: int) -> None:
    """Import a "Territoire intelligent" questionnaire export (CSV or XLSX) as one edition."""
    from pathlib import Path

    from geosignal.services.survey import MAX_SURVEY_BYTES, compute_indicators
    from geosignal.services.survey_db import import_edition, load_responses

    data = _read_bounded(path, MAX_SURVEY_BYTES, "a survey export is far smaller")
    with _session() as session:
        summary = import_edition(session, data, Path(path).name, edition)
        session.commit()
        indicators = compute_indicators(load_responses(session, edition))
    click.echo(f"edition {summary.edition_year}: {_n(summary.responses, 'response')} stored "
               f"({summary.replaced} replaced), {_n(summary.published, 'published figure')}")
    for name in ("smart_score", "citizens_informed"):
        ind = indicators[name]
        if ind.value is not None:
            click.echo(f"  {name}: {ind.value:.1f}/10 over {_n(ind.denominator, 'commune')}")


@commands.command("delete-survey")
@click.option("--edition", type=int, required=True, help="the edition (year) whose imported answers go")
@click.option("--yes", is_flag=True, help="confirm: the answers are deleted, not withdrawn")
@reports_errors
def delete_survey(edition: int, yes: bool) -> None:
    """Delete the answers imported for one survey edition (one imported under a wrong year)."""
    from geosignal.services.survey_db import delete_edition

    if not yes:
        raise click.UsageError(f"this deletes every answer imported for the edition {edition}: add --yes")
    with _session() as session:
        removed = delete_edition(session, edition)
        session.commit()
    click.echo(f"edition {edition}: {_n(removed, 'answer')} deleted")


if __name__ == "__main__":
    main()
