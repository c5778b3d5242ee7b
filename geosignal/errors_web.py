"""Turn errors into ``application/problem+json`` under ``/api`` and into pages elsewhere."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from sqlalchemy.exc import DataError, DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from geosignal.errors import WRITE_CONFLICTS, GeosignalError

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait while the database is unreachable.
RETRY_AFTER_S = 5
#: A write that met another (:data:`~geosignal.errors.WRITE_CONFLICTS`): 503
#: ``service_unavailable``, ``kind`` ``write_conflict``, retried after
#: :data:`CONFLICT_RETRY_AFTER_S` — never a 500, nor "the database is unreachable".
CONFLICT_RETRY_AFTER_S = 1
#: PostgreSQL's ``lock_not_available``: a web request waited ``LOCK_TIMEOUT_S`` for a lock held
#: by a long write (a large import of its network): 503 ``service_unavailable``, ``kind``
#: ``busy``, retried after :data:`BUSY_RETRY_AFTER_S`.
LOCK_TIMEOUT = "55P03"
BUSY_RETRY_AFTER_S = 30

_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def wants_json() -> bool:
    """Whether the client should get problem+json rather than a page (decided by ``Accept``
    outside the API: said to caches, ``Vary: Accept``)."""
    if request.path.startswith(("/api/", "/ogc", "/readyz", "/healthz")):
        return True
    g.negotiated = True
    return request.accept_mimetypes.best == "application/json"


def _allowed_methods(allowed: list[str] | None = None) -> str:
    """The ``Allow`` header of a 405 (RFC 9110 §15.5.6): ``allowed`` (the methods routing
    found for the path), else those of the matched route (a method refused by the view)."""
    methods = set(allowed or (request.url_rule.methods if request.url_rule is not None else ()))
    return ", ".join(sorted(methods))


def problem_response(error: GeosignalError, allowed: list[str] | None = None) -> Response:
    """Return an RFC 9457 problem response for ``error``: the machine ``code``, ``title`` and
    ``detail`` as raised (English), and ``message``, what a person reads, in the request's
    language (:mod:`geosignal.i18n`). A 405 carries ``Allow`` (:func:`_allowed_methods`)."""
    from geosignal.ui_text import error_message

    doc = error.to_problem()
    doc["message"] = error_message(error)
    response = jsonify(doc)
    response.status_code = error.status
    response.mimetype = "application/problem+json"
    if error.status == 401:
        # RFC 9110 §15.5.2: a 401 names the scheme to use; RFC 6750 §3: Bearer, and
        # invalid_token when the one sent is unknown, revoked or expired
        sent = request.headers.get("Authorization", "").lower().startswith("bearer")
        response.headers["WWW-Authenticate"] = 'Bearer realm="geosignal"' + (', error="invalid_token"' if sent else "")
    if error.status == 405:
        response.headers["Allow"] = _allowed_methods(allowed)
    return response


def render_error(error: GeosignalError, allowed: list[str] | None = None) -> Response | tuple[Any, ...]:
    """Return problem+json for API clients, an HTML page for people (a 405 with ``Allow``:
    ``allowed``, else the matched route's methods)."""
    if wants_json():
        return problem_response(error, allowed)
    if error.status == 405:
        return render_template("error.html", error=error), error.status, {"Allow": _allowed_methods(allowed)}
    return render_template("error.html", error=error), error.status


def http_error(error: HTTPException) -> Response | tuple[Any, ...]:
    """The answer to werkzeug's HTTP errors (404, 405, 413…): problem+json or a page, with the
    code of :data:`_HTTP_CODES`. (A blueprint that says some of them its own way hands the
    others back to this.)"""
    status = error.code or 500
    if status == 429:
        return render_error(GeosignalError(
            "rate_limited", "too many attempts: wait a few minutes (see Retry-After) before trying again",
            status=429))
    code = _HTTP_CODES.get(status, "invalid_request" if status < 500 else "internal_error")
    return render_error(GeosignalError(code, error.description, status=status),
                        allowed=getattr(error, "valid_methods", None))


def init_app(app: Flask) -> None:
    """Register the handlers: GeosignalError, HTTP errors, and anything unexpected (500)."""

    @app.errorhandler(GeosignalError)
    def _geosignal_error(error: GeosignalError):  # noqa: ANN202
        return render_error(error)

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(psycopg.OperationalError)  # (raw: a COPY or an import's cursor)
    def _database_unavailable(error: Exception):  # noqa: ANN202
        sqlstate = getattr(getattr(error, "orig", error), "sqlstate", None)
        if sqlstate in WRITE_CONFLICTS or sqlstate == LOCK_TIMEOUT:
            return _write_conflict(error, busy=sqlstate == LOCK_TIMEOUT)
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    str(error).splitlines()[0] if str(error) else type(error).__name__)
        # the page is written for nobody signed in: its header asked for the user (or its
        # commune) again, and the query, to the database that does not answer, made the 503 a
        # bare 500 for everyone signed in
        g._login_user = current_app.login_manager.anonymous_user()
        response = render_error(GeosignalError(
            "service_unavailable", f"the database does not answer for now; try again in {RETRY_AFTER_S} seconds",
            retry_after_s=RETRY_AFTER_S))
        response = make_response(response)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def _write_conflict(error: Exception, busy: bool = False):  # noqa: ANN202
        # a deadlock or a serialization failure: another write at the same moment, not an
        # outage; or (busy) a lock held longer than a request may wait (a large import of
        # its network). Nothing was stored (the transaction is rolled back); a retry succeeds.
        # (Raised through SQLAlchemy, or by psycopg itself on a raw cursor: COPY, imports.)
        log.warning("%s on %s %s: %s", "lock wait too long" if busy else "write conflict", request.method,
                    request.path, str(error).splitlines()[0])
        from geosignal.db import get_session

        get_session().rollback()
        seconds = BUSY_RETRY_AFTER_S if busy else CONFLICT_RETRY_AFTER_S
        detail = ("A long write (a large import) holds what this one needs; nothing was stored: "
                  if busy else "Another write at the same moment held this one back; nothing was stored: ")
        response = make_response(render_error(GeosignalError(
            "service_unavailable", detail + f"retry in {seconds} s.", kind="busy" if busy else "write_conflict",
            retry_after_s=seconds)))
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(DataError)
    def _value_not_storable(error: DataError):  # noqa: ANN202
        # PostgreSQL refused a value (SQLSTATE class 22: too long, out of range, NUL in text…)
        # that intake let through: the request's fault, said as PostgreSQL says it, never a 500;
        # logged with its trace, as it marks a check intake should make itself
        log.warning("value refused by the database on %s %s", request.method, request.path, exc_info=error)
        # the failed flush left the session unusable: roll back before a page (its menu reads
        # the signed-in user) touches it, or the handler itself fails (PendingRollbackError)
        from geosignal.db import get_session

        get_session().rollback()
        reason = str(getattr(error, "orig", error)).splitlines()[0] if str(error) else "invalid value"
        return render_error(GeosignalError("invalid_request", f"A value of the request cannot be stored: {reason}."))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # noqa: ANN202
        log.exception("unexpected error on %s %s", request.method, request.path)
        # the session may be left unusable (a failed flush): rolled back before the page (its
        # menu reads the signed-in user) touches it, or the handler itself fails
        from geosignal.db import get_session

        try:
            get_session().rollback()
        except Exception:  # noqa: BLE001 - the answer is the 500 page whatever the session says
            log.warning("rollback after an unexpected error failed", exc_info=True)
        return render_error(GeosignalError("internal_error"))
