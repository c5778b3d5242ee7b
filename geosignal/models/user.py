"""Users (representatives, the referent, admins) and their API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    String,
    and_,
    func,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from geosignal.db import Base
from geosignal.models.notification import NOTIFICATION_MAIL_CHOICES
from geosignal.vocab import ROLES, sql_in_list


class User(Base):
    """A person who signs in. A ``representative`` has exactly one commune; others none."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_in_list(ROLES)})", name="role_known"),
        CheckConstraint(
            "(role = 'representative') = (commune_nis IS NOT NULL)", name="representative_has_commune"
        ),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("locale IN ('fr', 'nl', 'en')", name="locale_known"),
        CheckConstraint("page_locale IN ('fr', 'nl', 'en')", name="page_locale_known"),
        CheckConstraint(f"notification_mail IN ({sql_in_list(NOTIFICATION_MAIL_CHOICES)})",
                        name="notification_mail_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    commune_nis: Mapped[str | None] = mapped_column(ForeignKey("communes.nis_code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    #: Bumped on sign-out, password change and deactivation: a session cookie carries the
    #: version it was issued under (:meth:`get_id`) and stops working once it differs.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: Set for accounts whose password was shown on a terminal (demo users): the first
    #: sign-in leads to the password change page, and nothing else opens until it is done.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: When the account was deactivated (accounts are never deleted; None while active).
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: Language of the pages chosen by the user (``fr``, ``nl``, ``en``; None: the browser's,
    #: see :mod:`geosignal.i18n`).
    locale: Mapped[str | None] = mapped_column(String(2))
    #: Language the pages spoke at the latest sign-in (``locale``, else the browser's): what
    #: e-mails are written in when the user chose none.
    page_locale: Mapped[str | None] = mapped_column(String(2))
    #: How the user gets the e-mails they are sent (a referent: new submissions and
    #: withdrawals; a representative: status changes of their commune's reports): ``each`` (a
    #: message per event), ``digest`` (one message a day) or ``none``
    #: (:data:`~geosignal.models.notification.NOTIFICATION_MAIL_CHOICES`; see
    #: :mod:`geosignal.services.notifications`).
    notification_mail: Mapped[str] = mapped_column(String(6), default="each", server_default="each")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password`` (werkzeug's scrypt) and end every session
        opened with the previous one."""
        had_one = bool(self.password_hash)
        self.password_hash = generate_password_hash(password)
        if had_one:
            self.end_sessions()

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this user so far (server-side)."""
        self.session_version = (self.session_version or 1) + 1

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.in_force

    @hybrid_property
    def in_force(self) -> bool:
        """Whether the account works: active and never deactivated (in SQL, the same
        condition on the ``users`` row). The one declaration of it: sign-in, sessions, bearer
        tokens, reset links, queued imports and the commit-time check read this."""
        return bool(self.active) and self.deactivated_at is None

    @in_force.inplace.expression
    @classmethod
    def _in_force_expression(cls) -> ColumnElement[bool]:
        return and_(cls.active, cls.deactivated_at.is_(None))

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Flask-Login's session identifier: ``"<id>.<session_version>"``."""
        return f"{self.id}.{self.session_version or 1}"

    @property
    def sees_all_communes(self) -> bool:
        """Whether this user reads every commune's reports (:func:`geosignal.policy.sees_all_communes`)."""
        from geosignal import policy

        return policy.sees_all_communes(self)


@functools.cache
def dummy_password_hash() -> str:
    """A hash of a random password, checked when a sign-in names no account, so that the
    answer takes as long as for a wrong password (no timing tells which e-mail addresses
    exist). Made on first use, once per process: scrypt costs about 0.1 s of CPU, which every
    command and worker paid at start-up when it was made on import."""
    return generate_password_hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a bearer token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: Purposes of single-use account links, and how long each stays valid (hours).
ACCOUNT_TOKEN_HOURS: dict[str, int] = {"invite": 72, "reset": 1}


class AccountToken(Base):
    """A single-use link sent by e-mail: an invitation (the invitee sets a password) or a
    password reset. Only the SHA-256 of the secret is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({sql_in_list(tuple(ACCOUNT_TOKEN_HOURS))})", name="purpose_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the token is for, as its owner named it (e.g. "QGIS du service urbanisme").
    name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: After this instant the token gets 401 (None: tokens made before expiry existed).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the token was revoked (by its owner, an admin, or the account's deactivation).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="tokens")

    @staticmethod
    def new_secret() -> str:
        """Return a fresh random token (43 URL-safe characters, 256 bits)."""
        return secrets.token_urlsafe(32)

    @classmethod
    def in_force(cls) -> ColumnElement[bool]:
        """The SQL condition of a token that still works: neither revoked nor expired (at the
        transaction's ``now()``)."""
        return and_(cls.revoked_at.is_(None), or_(cls.expires_at.is_(None), cls.expires_at > func.now()))
