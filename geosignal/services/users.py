"""Users and API tokens."""

from __future__ import annotations

from sqlalchemy import select
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
