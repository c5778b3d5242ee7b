"""Sign-in (session cookie, Flask-Login), bearer tokens for the API, CSRF and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import lazy_gettext
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from geosignal import policy
from geosignal.db import get_database, get_session
from geosignal.errors import GeosignalError
from geosignal.models import User
from geosignal.services.users import touch_token, user_of_token

login_manager = LoginManager()
csrf = CSRFProtect()


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """Return the user of a session cookie (``"<id>.<session_version>"``, :meth:`User.get_id`),
    or None when the account is inactive or the session was ended (sign-out, password change,
    deactivation)."""
    user_id, _, version = session_id.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.in_force or user.session_version != int(version):
        return None
    return user


def _authenticate_bearer() -> None:
    """Authenticate a request that carries ``Authorization: Bearer <token>`` by the token
    alone: an unknown, revoked or expired token gets 401 ``unauthorized`` whatever cookie
    comes with it (never a fallback to the session), and a valid one makes its user the
    request's user, the cookie ignored; it reaches no endpoint of
    :data:`geosignal.policy.SESSION_ONLY` (403 ``forbidden``). Other schemes are not
    geosignal's and are ignored."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return
    found = user_of_token(get_session(), token.strip()) if token.strip() else None
    if found is None:
        raise GeosignalError("unauthorized", "the bearer token is unknown, revoked or expired")
    user, token_id, last_used_at = found
    # no write in the request's transaction: last_used_at at most once a minute, on its own
    touch_token(get_database().engine, token_id, last_used_at)
    login_manager._update_request_context_with_user(user)
    g.authenticated_by = "bearer"
    g.token_id = token_id
    if not policy.token_reaches(request.endpoint):
        raise GeosignalError("forbidden", "an API token does not manage passwords, tokens, accounts, e-mails or "
                             "sign-ins: sign in on the pages for that")


def uses_bearer_token() -> bool:
    """Whether this request was authenticated by a valid bearer token (no CSRF needed)."""
    return g.get("authenticated_by") == "bearer"


def init_app(app: Flask) -> None:
    """Wire Flask-Login and CSRF protection (checked for every cookie-authenticated write)."""
    login_manager.init_app(app)
    login_manager.login_view = "pages.login"
    login_manager.login_message = lazy_gettext("Connectez-vous pour accéder à cette page.")
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_authenticate_bearer)

    @app.before_request
    def _csrf_unless_bearer() -> None:
        """Check the CSRF token of every write the session cookie authenticates (a request
        authenticated by a valid bearer token carries no cookie authority).

        API writes without any credentials skip it, so that they get 401 ``unauthorized``
        from the view rather than a misleading ``csrf_failed``; so do writes to no route or
        with a method the route does not take (404, 405 with ``Allow``); pages (the sign-in
        form included) always check it.
        """
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or uses_bearer_token():
            return
        if request.routing_exception is not None:  # no such route or method: its 404 or 405, not csrf_failed
            return
        if request.endpoint in policy.CSRF_EXEMPT:  # authorised by the token its URL carries
            return
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return
        try:
            csrf.protect()
        except CSRFError as exc:
            if request.endpoint in policy.CSRF_ANY_AGE and _session_token_of_any_age():
                return
            raise GeosignalError("csrf_failed", exc.description) from None

    @app.before_request
    def _route_rule() -> None:
        """Refuse (``forbidden``, 403) a signed-in user whom the endpoint's rule excludes
        whatever the resource (:func:`policy.refusal_before_view`), before its view runs."""
        refusal = policy.refusal_before_view(request.endpoint, current_user)
        if refusal is not None:
            raise GeosignalError("forbidden", refusal)


def _session_token_of_any_age() -> bool:
    """Whether the request's CSRF token is this session's own, signed by geosignal, whatever
    its age within the session's lifetime (Flask-WTF's check with that lifetime as its limit)."""
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = request.form.get(field) or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token, time_limit=int(current_app.permanent_session_lifetime.total_seconds()))
    except ValidationError:
        return False
    return True


def current() -> User:
    """Return the signed-in user; ``unauthorized`` (401) when nobody is."""
    if not current_user.is_authenticated:
        raise GeosignalError("unauthorized", "sign in, or send Authorization: Bearer <token>")
    return current_user._get_current_object()  # type: ignore[no-any-return]


def require_policy(check: Callable[[User], bool], detail: str) -> Callable:
    """Decorate a view: 401 when anonymous, ``forbidden`` (403) with ``detail`` unless
    ``check(user)`` (a rule of :mod:`geosignal.policy`) allows the signed-in user."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not check(current()):
                raise GeosignalError("forbidden", detail)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_roles(*roles: str) -> Callable:
    """Decorate a view: 401 when anonymous, ``forbidden`` (403) unless the user has a role."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current()
            if roles and user.role not in roles:
                raise GeosignalError("forbidden", f"this needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorator
