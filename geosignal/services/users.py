"""Users and API tokens: creation, and the bearer-token lookup of every API request."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geosignal import policy
from geosignal.errors import GeosignalError
from geosignal.formparse import MAX_EMAIL_CHARS, email_problem
from geosignal.models import ApiToken, Commune, User
from geosignal.models.user import hash_token
from geosignal.services import audit
from geosignal.services.communes import hold_communes
from geosignal.textsafety import UNSAFE_IN_NAMES, refuse_unsafe_text
from geosignal.vocab import ROLES

#: A NIS code as written: five ASCII digits.
_NIS = re.compile(r"[0-9]{5}")


def create_user(session: Session, email: str, role: str, commune_nis: str | None, password: str) -> User:
    """Create a user (the caller commits). A representative needs exactly one commune.

    Raises ``invalid_request`` (an address :func:`check_email` refuses, bad role, commune
    missing or given to a non-representative, e-mail taken: ``kind`` ``email_taken``, or
    409 ``email_deactivated`` when its account is deactivated, which only a reactivation brings
    back) or ``unknown_commune``. Nothing is added to the session when it raises.

    A representative's commune is read under the communes lock (:func:`hold_communes`,
    shared): a load of communes under way ends first, and a commune it removed is
    ``unknown_commune`` (the account was inserted naming the removed row: a foreign key
    violation, 500).
    """
    email = check_email(email)
    if role not in ROLES:
        raise GeosignalError("invalid_request", f"role must be one of {', '.join(ROLES)}")
    if (role == "representative") != (commune_nis is not None):
        raise GeosignalError("invalid_request", "a representative has exactly one commune; other roles none",
                             where="commune", status=422,
                             kind="commune_missing" if commune_nis is None else "commune_not_for_role")
    if commune_nis is not None:
        hold_communes(session)
    if commune_nis is not None and (not _NIS.fullmatch(commune_nis)
                                    or session.get(Commune, commune_nis, populate_existing=True) is None):
        shown = commune_nis[:20].encode("unicode_escape").decode("ascii")
        raise GeosignalError("unknown_commune", f"no commune {shown} is loaded")
    taken = GeosignalError("invalid_request", f"user {email} exists already", where="email", kind="email_taken")
    existing = session.scalar(select(User).where(User.email == email))
    if existing is not None and not existing.in_force:  # (« Mot de passe oublié ? » gives it nothing: 409)
        raise GeosignalError("invalid_request", f"user {email} exists already, deactivated: an admin reactivates it "
                             "(« Réactiver » on /utilisateurs, or geosignal reactivate-user)", where="email",
                             status=409, kind="email_deactivated")
    if existing is not None:
        raise taken
    user = User(email=email, role=role, commune_nis=commune_nis)
    user.set_password(password)
    try:
        with session.begin_nested():  # the same address created at once elsewhere (a double click):
            session.add(user)         # it waits for the other, then finds it taken (it was a 500)
            session.flush()
    except IntegrityError as error:
        if getattr(getattr(error.orig, "diag", None), "constraint_name", None) == "users_email_key":
            raise taken from None
        raise
    return user


def check_email(address: str) -> str:
    """Return ``address`` as stored (surrounding spaces removed, lower case), or raise 422
    ``invalid_request`` (``where`` = ``email``, ``kind`` = ``email_too_long``,
    ``email_characters``, ``email_form`` or ``email_domain``) when it is not an address
    geosignal accepts (:func:`geosignal.formparse.email_problem`): a control, direction
    override, space or non-ASCII character, not one ``@``, a domain without a dot, more than
    254 characters. Checked before anything is stored: an address with a line feed would
    otherwise reach an e-mail header."""
    # only spaces and tabs around it are dropped, and the case lowered once checked: Python's
    # strip() also took U+2028, NBSP or \x1c away, and lower() made the Kelvin sign a k
    email = address.strip(" \t")
    problem = email_problem(email.lower()) if email.isascii() else "characters"
    email = email.lower()
    if problem is not None:
        shown = email[:80].encode("unicode_escape").decode("ascii")
        extra = {"value": len(email), "limit": MAX_EMAIL_CHARS} if problem == "too_long" else {}
        raise GeosignalError("invalid_request", f"{shown!r} is not an e-mail address geosignal accepts ({problem})",
                             where="email", status=422, kind=f"email_{problem}", **extra)
    return email


#: Lifetime of a new API token (days) unless its owner asks otherwise, and the longest allowed.
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365


def token_days(days: int | None) -> int:
    """Return ``days`` when a token may last that long: a whole number from 1 to
    :data:`MAX_TOKEN_DAYS`. Raises 422 ``invalid_request`` at ``days`` otherwise (None: a
    text that is no whole number), the one refusal of every bad lifetime."""
    if days is None or not 1 <= days <= MAX_TOKEN_DAYS:
        raise GeosignalError("invalid_request", f"a token lasts a whole number of days from 1 to {MAX_TOKEN_DAYS}",
                             where="days", status=422)
    return days


def create_token(session: Session, email: str, name: str = "", days: int = TOKEN_DAYS, *,
                 actor: User | None = None) -> str:
    """Create a named API token for a user, valid ``days`` days (1–365), and return it (shown
    once: only its hash is stored). Journalled (``token_create``) as made by ``actor`` (the
    user on their page; None: the operator at the terminal).

    Raises ``not_found`` (404) for an unknown or deactivated user, ``invalid_request`` for a
    lifetime out of range (422, :func:`token_days`) or a name longer than 80 characters (400),
    and (422, ``where`` ``name``, ``kind`` ``name_characters``) for a name holding a character a
    name may not hold (:data:`~geosignal.textsafety.UNSAFE_IN_NAMES`, as a file's: a line break
    or a tab too, which forged paragraphs in the e-mail telling the owner a token was made, and
    lines in ``geosignal list-tokens``).
    """
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.in_force:
        raise GeosignalError("not_found", f"no active user {email}")
    token_days(days)
    if len(name) > 80:
        raise GeosignalError("invalid_request", "a token's name has at most 80 characters", where="name")
    refuse_unsafe_text(name, name="the token's name", where="name", code="invalid_request",
                       characters=UNSAFE_IN_NAMES, status=422, kind="name_characters")
    token = ApiToken.new_secret()
    row = ApiToken(user=user, token_hash=hash_token(token), name=name.strip(),
                   expires_at=datetime.now(UTC) + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record_account(session, "token_create", actor, user, token_id=row.id, token_name=row.name, days=days)
    return token


def list_tokens(session: Session, user: User) -> list[dict]:
    """Return a user's API tokens, newest first: ``{"id", "name", "created_at", "expires_at",
    "last_used_at", "revoked_at", "state"}`` with ``state`` one of ``active``, ``expired``,
    ``revoked`` (the secrets themselves are never kept)."""
    now = datetime.now(UTC)
    out = []
    for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())):
        state = ("revoked" if t.revoked_at else "expired" if t.expires_at and t.expires_at <= now else "active")
        out.append({"id": t.id, "name": t.name, "created_at": t.created_at, "expires_at": t.expires_at,
                    "last_used_at": t.last_used_at, "revoked_at": t.revoked_at, "state": state})
    return out


def revoke_token(session: Session, actor: User | None, token_id: int) -> ApiToken:
    """Revoke a token (the caller commits): its owner or an admin may (``actor`` None: the
    operator at the terminal). Raises ``not_found`` (404) otherwise, so that nobody learns
    which token ids exist."""
    token = session.get(ApiToken, token_id)
    if token is None or not policy.may_manage_token(actor, token.user_id):
        raise GeosignalError("not_found", f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record_account(session, "token_revoke", actor, token.user, token_id=token.id, token_name=token.name)
    return token


#: ``api_tokens.last_used_at`` is written at most this often per token (seconds).
TOKEN_TOUCH_S = 60


def user_of_token(session: Session, token: str) -> tuple[User, int, datetime | None] | None:
    """Return (the active user, the token's id, its ``last_used_at``) for a bearer token, or
    None when the token is unknown, revoked, expired, or its user inactive. One SELECT;
    writes nothing."""
    row = session.execute(
        select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.in_force())
    ).first()
    if row is None or not row[0].in_force:
        return None
    return row[0], row[1], row[2]


def touch_token(engine: Engine, token_id: int, last_used_at: datetime | None) -> bool:
    """Record that a token was used, at most once per :data:`TOKEN_TOUCH_S` seconds.

    Runs in its own short transaction on ``engine`` (never in the request's), and only when
    the stored ``last_used_at`` is older than the interval; returns whether it wrote.
    """
    now = datetime.now(UTC)
    if last_used_at is not None and now - last_used_at < timedelta(seconds=TOKEN_TOUCH_S):
        return False
    with engine.begin() as connection:
        connection.execute(text(
            "UPDATE api_tokens SET last_used_at = now() WHERE id = :id "
            "AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :interval))"),
            {"id": token_id, "interval": TOKEN_TOUCH_S})
    return True
