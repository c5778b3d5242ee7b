"""File uploads: ``POST /api/v1/imports`` and the upload page (preview, then save)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_login import login_required

from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.services.imports import import_file
from geosignal.services.territory import limits_from_config
from geosignal.views.api import current_service_area

bp = Blueprint("imports", __name__)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


@bp.post("/api/v1/imports")
def post_import() -> Response:
    """Import a file (multipart field ``file``): GeoJSON, KML/KMZ, GPX, CSV, GeoPackage or
    zipped Shapefile. Form fields or query parameters: ``crs``, ``repair``, ``network``
    (default for features without one), ``column_map`` (JSON object), ``mode``
    (``all`` | ``valid_only``), ``dry_run``. → 200 (preview) or 201 (saved) with the
    per-feature report; 422 ``import_rejected`` when ``mode=all`` and a feature is refused.
    """
    user = current()
    if user.role == "referent":
        raise GeosignalError("forbidden", "the referent reads reports; representatives write them")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise GeosignalError("invalid_request", "send the file as multipart field 'file'", where="file")
    args = {**request.args.to_dict(), **request.form.to_dict()}
    column_map = None
    if args.get("column_map"):
        try:
            column_map = json.loads(args["column_map"])
        except ValueError:
            column_map = None
        if not isinstance(column_map, dict) or not all(isinstance(v, str) for v in column_map.values()):
            raise GeosignalError("invalid_request", "column_map must be a JSON object of strings", where="column_map")
    session = get_session()
    outcome = import_file(
        session, user, upload.read(), upload.filename,
        area=current_service_area(), limits=limits_from_config(current_app.config),
        crs=args.get("crs") or None, repair=_flag(args.get("repair")), column_map=column_map,
        default_network=args.get("network") or None, mode=args.get("mode", "all"),
        dry_run=_flag(args.get("dry_run")),
    )
    session.commit()
    response = jsonify(outcome.to_dict())
    response.status_code = 200 if outcome.dry_run else 201
    return response


@bp.get("/import")
@login_required
def upload_page() -> str:
    """The upload page: choose a file, preview it on the map, then save."""
    current()
    return render_template("import.html")
