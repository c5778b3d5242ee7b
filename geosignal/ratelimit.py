"""Rate limits (Flask-Limiter) counted in PostgreSQL, so every gunicorn worker shares them.

:class:`PostgresStorage` is a storage backend for the ``limits`` library (fixed windows): one
UNLOGGED row per key (table ``rate_limits``, :class:`~geosignal.models.RateLimitCounter`),
incremented by a single ``INSERT … ON CONFLICT DO UPDATE`` so concurrent workers never lose a
hit. Its URI is the database URL prefixed with ``geosignal+`` (e.g.
``geosignal+postgresql+psycopg://…``). Times are the database's (``now()``), never a worker's.

Limits (:data:`LOGIN_PER_ACCOUNT`, :data:`LOGIN_PER_ADDRESS`) count failed attempts only;
past them the answer is ``429`` with ``Retry-After`` and a French sentence, even for the
right password — but not on a device the account has signed in from before (OWASP's device
cookies, :data:`DEVICE_COOKIE`): there, failures count per device (:data:`LOGIN_PER_DEVICE`)
instead, so someone guessing an account's password elsewhere does not lock its owner out.
The per-address limit counts by the client's address: the TCP peer, or the one the
``TRUSTED_PROXIES`` reverse proxies forwarded (werkzeug's ``ProxyFix``, applied by
:func:`geosignal.create_app`). Writes (POST, PUT, PATCH, DELETE) are limited per user by ``WRITE_RATE_LIMIT``,
one budget for the API and the pages' forms alike (:func:`_limit_writes`).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, g, has_app_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

#: Failed sign-ins allowed per account and per client address (fixed windows), from devices
#: the account has not signed in from.
LOGIN_PER_ACCOUNT = "10 per 15 minutes"
LOGIN_PER_ADDRESS = "50 per 15 minutes"
#: The one budget of wrong guesses at an account's password (:data:`LOGIN_PER_ACCOUNT`): the
#: sign-in form, the *Mot de passe* page and the API-tokens page (both ask for the current
#: password) count together (Flask-Limiter's shared limit), not 10 each.
PASSWORD_GUESSES_SCOPE = "password-guesses"
#: Failed sign-ins allowed per device cookie, for the accounts it names.
LOGIN_PER_DEVICE = "10 per 15 minutes"
#: The device cookie: set at each successful sign-in, signed with the secret key, it holds a
#: random number naming the device and a keyed digest of each account (at most
#: :data:`DEVICE_ACCOUNTS`, the latest first) signed in from it — no address in clear.
DEVICE_COOKIE = "geosignal_device"
DEVICE_ACCOUNTS = 5
#: How long a device is remembered after its last sign-in (s).
DEVICE_MAX_AGE_S = 365 * 24 * 3600

_INCR = text("""
    INSERT INTO rate_limits AS r (key, hits, expires_at)
    VALUES (:key, :amount, now() + make_interval(secs => :expiry))
    ON CONFLICT (key) DO UPDATE SET
      hits = CASE WHEN r.expires_at <= now() THEN :amount ELSE r.hits + :amount END,
      expires_at = CASE WHEN r.expires_at <= now() THEN EXCLUDED.expires_at ELSE r.expires_at END
    RETURNING hits
""")


class PostgresStorage(Storage):
    """``limits`` storage in PostgreSQL (fixed-window strategy)."""

    STORAGE_SCHEME = ["geosignal+postgresql+psycopg", "geosignal+postgresql"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._uri = uri
        self._engines: dict[str, Any] = {}

    @property
    def engine(self) -> Any:
        """The engine of the application at work (its ``RATELIMIT_STORAGE_URI``), else of the
        URI this storage was made with. The module's one :data:`limiter` serves every
        application of a process (a command or a test making a second one, on another
        database): each counts in its own database, never in the last one registered."""
        uri = self._uri
        if has_app_context():
            uri = current_app.config.get("RATELIMIT_STORAGE_URI") or uri
        engine = self._engines.get(uri)
        if engine is None:
            engine = self._engines[uri] = create_engine(uri.removeprefix("geosignal+"), pool_size=2, max_overflow=2,
                                                        pool_pre_ping=True, isolation_level="AUTOCOMMIT")
        return engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` hits to ``key``'s window (``expiry`` s long) and return its count."""
        with self.engine.connect() as c:
            return int(c.execute(_INCR, {"key": key, "amount": amount, "expiry": float(expiry)}).scalar_one())

    def get(self, key: str) -> int:
        """Return the hits of ``key``'s current window (0 when expired or absent)."""
        with self.engine.connect() as c:
            return int(c.execute(text("SELECT hits FROM rate_limits WHERE key = :key AND expires_at > now()"),
                                 {"key": key}).scalar() or 0)

    def get_expiry(self, key: str) -> float:
        """Return when ``key``'s window ends (Unix time, s), on this worker's clock."""
        with self.engine.connect() as c:
            left = c.execute(text("SELECT extract(epoch FROM expires_at - now()) FROM rate_limits "
                                  "WHERE key = :key"), {"key": key}).scalar()
        return time.time() + max(float(left or 0.0), 0.0)

    def check(self) -> bool:
        """Return whether the database answers."""
        try:
            with self.engine.connect() as c:
                c.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Forget every counter; return how many there were."""
        with self.engine.connect() as c:
            return c.execute(text("DELETE FROM rate_limits")).rowcount

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        with self.engine.connect() as c:
            c.execute(text("DELETE FROM rate_limits WHERE key = :key"), {"key": key})


def remote_key() -> str:
    """The rate-limit key of the client's address: an IPv4 address, or the /64 network of an
    IPv6 one (one client holds a whole /64: counted by address, 52 addresses of one /64 made
    52 sign-in guesses never limited)."""
    import ipaddress

    address = get_remote_address()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 client
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


limiter = Limiter(key_func=remote_key, strategy="fixed-window", headers_enabled=True)


def login_account_key() -> str:
    """The rate-limit key of the account a sign-in names (lower-cased e-mail; an address holding
    a control character, which names no account and cannot be stored as PostgreSQL text, by
    its escaped form: its failures count too)."""
    from geosignal.params import is_plain_text

    email = (request.form.get("email") or "").strip().lower()
    if is_plain_text(email, len(email)):
        return "account:" + email
    return "account-escaped:" + email.encode("unicode_escape").decode("ascii")


def _device_serializer() -> Any:
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.secret_key, salt="geosignal-device")


def _account_digest(email: str) -> str:
    """A keyed digest of a (lower-cased) address: which accounts a device cookie names, without
    naming them to whoever reads the cookie."""
    import hashlib
    import hmac

    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"device-account:" + email.encode("utf-8", "backslashreplace"),
                    hashlib.sha256).hexdigest()[:22]


def read_device() -> dict | None:
    """The request's device cookie as ``{"n": device number, "a": [account digests]}``, or None
    when absent, altered or not signed with this service's key."""
    from itsdangerous import BadData

    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 1024:
        return None
    try:
        value = _device_serializer().loads(raw)
    except BadData:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("n"), str)
            and isinstance(value.get("a"), list) and all(isinstance(a, str) for a in value["a"])):
        return None
    return value


def trusted_device() -> bool:
    """Whether the sign-in comes from a device the account it names has signed in from (its
    device cookie names that account): the per-account and per-address limits then do not
    apply, the per-device one does."""
    device = read_device()
    if device is None:
        return False
    email = (request.form.get("email") or "").strip().lower()
    return bool(email) and _account_digest(email) in device["a"]


def login_device_key() -> str:
    """The rate-limit key of a trusted device (:func:`trusted_device`)."""
    device = read_device()
    return "device:" + (device["n"] if device else "")


def remember_device(response: Any, email: str) -> Any:
    """Name the account of ``email`` (lower-cased) on the device's cookie after a successful
    sign-in (the device keeps its number; a new one gets one), for :data:`DEVICE_MAX_AGE_S`."""
    import secrets

    device = read_device() or {"n": secrets.token_urlsafe(16), "a": []}
    digest = _account_digest(email)
    accounts = [digest, *(a for a in device["a"] if a != digest)][:DEVICE_ACCOUNTS]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps({"n": device["n"], "a": accounts}),
                        max_age=DEVICE_MAX_AGE_S, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def failed_sign_in(response: Any) -> bool:
    """Whether a sign-in answer counts as a failure: a password tried and refused (401), or
    anything else but the redirect of success — not a form sent with a field left empty
    (422: no password was tried)."""
    return response.status_code not in (302, 422)


#: Methods that write.
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

#: Writes that ``WRITE_RATE_LIMIT`` does not count: signing in and out,
#: the language, the password and single-use link forms (each throttled by limits of its own,
#: :data:`LOGIN_PER_ACCOUNT`…), and the actions that end access (a token revoked, an account
#: deactivated), which are never held back. Every other write counts, whatever its path.
UNCOUNTED_WRITES = frozenset({
    "pages.login", "pages.logout", "i18n.set_language", "account.change_password", "account.forgot_password",
    "account.reset_password", "account.accept_invitation", "account.revoke_token", "account.deactivate_user",
})


def _limit_writes() -> None:
    """Count a write against its user's ``WRITE_RATE_LIMIT``: one budget per signed-in user
    (session or token) for every write path they have — the API and the pages' forms (the
    map form, the edit page, status changes, evidence, zones…) — but
    :data:`UNCOUNTED_WRITES`; an anonymous API write counts per client address. Past it, 429
    ``rate_limited`` with ``Retry-After`` (seconds, also the problem's ``retry_after``): a
    problem document under ``/api``, a page saying how long to wait elsewhere; the view does
    not run, so nothing is stored."""
    if request.method not in WRITE_METHODS or request.endpoint in UNCOUNTED_WRITES:
        return
    from flask_login import current_user
    from limits import parse_many

    from geosignal.errors import GeosignalError

    if current_user.is_authenticated:
        key = f"user:{current_user.id}"
    elif request.path.startswith("/api/"):
        key = f"addr:{remote_key()}"
    else:  # a page's form without a session: signed-in pages send it to the sign-in page
        return
    try:
        # every limit of the setting (``1000 per hour; 30 per minute``): the first one refusing
        # stops the write (parse() read the first one only)
        for item in parse_many(current_app.config["WRITE_RATE_LIMIT"]):
            allowed = limiter.limiter.hit(item, "api-writes", key)
            if not allowed:
                reset_at = limiter.limiter.get_window_stats(item, "api-writes", key).reset_time
                break
    except Exception:  # noqa: BLE001 - the counters live in the database; while it is down the write fails anyway
        return
    if not allowed:
        retry = max(1, int(reset_at - time.time()) + 1)
        error = GeosignalError("rate_limited", f"Too many writes ({item}): retry in {retry} s.", retry_after=retry)
        g.retry_after = retry
        raise error


def init_app(app: Flask) -> None:
    """Point Flask-Limiter at PostgreSQL (``RATELIMIT_STORAGE_URI``, default the service's own
    database) and register it."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "geosignal+" + app.config["DATABASE_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # the counters live in the database: while it is down, the request itself fails with 503
    # (it needs the database too), so a counting error must not turn that into a 500
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    app.before_request(_limit_writes)

    @app.after_request
    def _retry_after(response):  # noqa: ANN001, ANN202
        if response.status_code == 429 and "retry_after" in g:
            response.headers["Retry-After"] = str(g.retry_after)
        return response
