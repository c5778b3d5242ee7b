"""Health endpoints for the process manager and the load balancer (no authentication, no
personal data): ``/healthz`` (the process answers) and ``/readyz`` (it can serve)."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user

from geosignal import assets, policy
from geosignal.db import get_session
from geosignal.services import health

bp = Blueprint("health", __name__)

#: Seconds a client is asked to wait when the service is not ready.
RETRY_AFTER_S = 5


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no database access)."""
    return jsonify({"status": "ok"})


def from_loopback() -> bool:
    """Whether the request comes from the machine itself: its client address (the TCP peer,
    or the one trusted proxies forwarded: ``GEOSIGNAL_TRUSTED_PROXIES``) is a loopback address.
    With no trusted proxy, a request carrying ``X-Forwarded-For`` or ``Forwarded`` came
    through a proxy of the same machine, for a client elsewhere: not loopback."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    if not current_app.config.get("TRUSTED_PROXIES"):
        loopback = loopback and "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers
    return loopback


@bp.get("/readyz")
def readyz() -> Response:
    """PostGIS reachable, PostGIS and pyproj agree on EPSG:31370 within 1 m, migrations at
    head, front-end libraries installed: 200; otherwise 503 with ``Retry-After``. Everyone
    gets the status code, ``status`` and ``ready``; the checks' details (PostGIS's version,
    the alembic revisions, the failing checks) go to the referent and admins signed in, and to
    requests from the machine itself (:func:`geosignal.policy.may_read_readiness_details`)."""
    report = health.readiness(get_session(), front_end=assets.installed())
    body = health.public_readiness(report)
    if policy.may_read_readiness_details(current_user, from_loopback=from_loopback()):
        body.update(report)
    response = jsonify(body)
    if not report["ready"]:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
