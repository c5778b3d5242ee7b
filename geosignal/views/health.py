"""Health endpoints for the process manager and the load balancer (no authentication, no
personal data): ``/healthz`` (the process answers) and ``/readyz`` (it can serve)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from geosignal import assets
from geosignal.db import get_session
from geosignal.services import health

bp = Blueprint("health", __name__)

#: Seconds a client is asked to wait when the service is not ready.
RETRY_AFTER_S = 5


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no database access)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """PostGIS reachable, PostGIS and pyproj agree on EPSG:31370 within 1 m, migrations at
    head, front-end libraries installed: 200; otherwise 503 with ``Retry-After`` and the
    failing checks."""
    report = health.readiness(get_session(), front_end=assets.installed())
    response = jsonify({"status": "ready" if report["ready"] else "not_ready", **report})
    if not report["ready"]:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
