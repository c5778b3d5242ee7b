"""Users and API tokens: creation, and the bearer-token lookup of every API request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.models import ApiToken, Commune, User
from geosignal.models.user import hash_token
from geosignal.vocab import ROLES


def create_user(session: Session, email: str, role: str, commune_nis: str | None, password: str) -> User:
    """Create a user (the caller commits). A representative needs exactly one commune.

    Raises ``invalid_request`` (bad role, commune missing or given to a non-representative,
    e-mail taken) or ``unknown_commune``.
    """
    email = email.strip().lower()
    if "@" not in email:
        raise GeosignalError("invalid_request", f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise GeosignalError("invalid_request", f"role must be one of {', '.join(ROLES)}")
    if (role == "representative") != (commune_nis is not None):
        raise GeosignalError("invalid_request", "a representative has exactly one commune; other roles none")
    if commune_nis is not None and session.get(Commune, commune_nis) is None:
        raise GeosignalError("unknown_commune", f"no commune {commune_nis} is loaded")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise GeosignalError("invalid_request", f"user {email} exists already")
    user = User(email=email, role=role, commune_nis=commune_nis)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, email: str) -> str:
    """Create an API token for a user and return it (only its hash is stored)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise GeosignalError("not_found", f"no user {email}")
    token = ApiToken.new_secret()
    session.add(ApiToken(user=user, token_hash=hash_token(token)))
    session.flush()
    return token


#: ``api_tokens.last_used_at`` is written at most this often per token (seconds).
TOKEN_TOUCH_S = 60


def user_of_token(session: Session, token: str) -> tuple[User, int, datetime | None] | None:
    """Return (the active user, the token's id, its ``last_used_at``) for a bearer token, or
    None when the token is unknown or its user inactive. One SELECT; writes nothing."""
    row = session.execute(
        select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None or not row[0].active:
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
