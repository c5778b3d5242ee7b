"""File uploads: ``POST /api/v1/imports``, import jobs, and the upload page (preview, then save)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from geosignal import i18n, policy
from geosignal.auth import current
from geosignal.compression import gzip_chunks
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.formparse import flag
from geosignal.services.imports import (
    IMPORT_FIELDS,
    check_file_name,
    check_options,
    create_import_job,
    get_import_job,
    import_file,
    job_head,
    template_csv,
)
from geosignal.services.intake import check_declared_size, declared_size, detect_format
from geosignal.services.territory import limits_from_config
from geosignal.views.api import current_service_area

bp = Blueprint("imports", __name__)


@bp.post("/api/v1/imports")
def post_import() -> Response:
    """Import a file (multipart field ``file``): GeoJSON, KML/KMZ, GPX, CSV, GeoPackage or
    zipped Shapefile. Form fields or query parameters: ``crs``, ``repair``, ``network``
    (default for features without one), ``column_map`` (JSON object), ``mode``
    (``all`` | ``valid_only``), ``skip_saved_before`` (leave out the rows an earlier upload
    saved), ``correct_saved_before`` (a row corrected in an edited copy updates the report an
    earlier upload stored at its place), ``dry_run``. → 200 (preview) or 201 (saved) with the
    per-feature report; 422 ``import_rejected`` when ``mode=all`` and a feature is refused.

    A save of a file larger than ``IMPORT_JOB_MIN_BYTES`` is run by a job worker: → 202
    with ``Location: /api/v1/imports/<id>`` to poll (see :func:`get_import`). An archive's
    size is what its members declare they inflate to (:func:`~geosignal.services.intake.declared_size`).
    """
    user = current()
    policy.require(policy.may_file_reports(user), "the referent reads reports; representatives write them")
    uploads = request.files.getlist("file")
    if len(uploads) > 1:
        raise GeosignalError("invalid_request", f"send one file per request; got {len(uploads)} 'file' fields",
                             where="file")
    upload = uploads[0] if uploads else None
    if upload is None and request.mimetype not in ("multipart/form-data", ""):
        # a file sent as the body (a GeoJSON posted as application/json…), not as a form's file
        raise GeosignalError("unsupported_media_type", f"a file is sent as multipart/form-data (field 'file'), not "
                             f"as {request.mimetype[:60]}: POST a GeoJSON Feature to /api/v1/reports, or upload "
                             "the file in a form", where="file", media_type=request.mimetype[:60])
    if upload is None or not upload.filename:
        raise GeosignalError("invalid_request", "send the file as multipart field 'file'", where="file",
                             kind="no_file")
    # the name is kept with the save (said back when the same file comes again): a NUL cannot be
    # stored (a vague 400 came after the whole file was read), a direction override shows another name
    check_file_name(upload.filename)
    unknown = sorted({*request.args, *request.form} - {*IMPORT_FIELDS, "csrf_token"} | set(request.files) - {"file"})
    if unknown:  # a misspelt option was ignored: dry-run=true saved the file, colum_map left it unmapped
        raise GeosignalError("invalid_request", f"{unknown[0]!r} is not a field of this request; it takes file, "
                             f"{', '.join(IMPORT_FIELDS)}.", where=unknown[0], fields=unknown)
    for name in {*request.args, *request.form}:  # an option given twice: which one is meant?
        if len(request.args.getlist(name)) + len(request.form.getlist(name)) > 1:
            raise GeosignalError("invalid_request", f"{name} is given more than once", where=name)
    args = {**request.args.to_dict(), **request.form.to_dict()}
    column_map = None
    if args.get("column_map"):
        try:
            column_map = current_app.json.loads(args["column_map"])  # strict: a key twice is refused
        except GeosignalError as error:
            raise GeosignalError("invalid_request", f"column_map: {error.detail}", where="column_map") from None
        except ValueError:
            column_map = None
        if not isinstance(column_map, dict) or not all(isinstance(v, str) for v in column_map.values()):
            raise GeosignalError("invalid_request", "column_map must be a JSON object of strings", where="column_map")
    # flags read strictly: dry_run=maybe saved the file instead of previewing it
    dry_run = flag(args.get("dry_run"), where="dry_run")
    options = {"crs": args.get("crs") or None, "repair": flag(args.get("repair"), where="repair"),
               "column_map": column_map, "default_network": args.get("network") or None,
               "mode": args.get("mode", "all"),
               "skip_saved_before": flag(args.get("skip_saved_before"), where="skip_saved_before"),
               "correct_saved_before": flag(args.get("correct_saved_before"), where="correct_saved_before")}
    data = upload.read()
    session = get_session()
    limits = limits_from_config(current_app.config)
    # an archive by what it inflates to: a 58 KB KMZ of 20,000 placemarks was read in the request for 134 s
    if not dry_run and declared_size(data) > current_app.config["IMPORT_JOB_MIN_BYTES"]:
        check_options(mode=options["mode"], default_network=options["default_network"], crs=options["crs"],
                      column_map=column_map)
        if len(data) > limits.max_upload_bytes:
            raise GeosignalError("payload_too_large", f"The file has {len(data):,} bytes; the limit is "
                                 f"{limits.max_upload_bytes:,}.", value=len(data), limit=limits.max_upload_bytes)
        detect_format(data, upload.filename)
        check_declared_size(data, limits.max_upload_bytes)  # (a zip bomb: refused now, as in the request)
        job = create_import_job(session, user, data, upload.filename, options, token_id=g.get("token_id"),
                                language=i18n.current_language())
        session.commit()
        response = jsonify(job_head(job))
        response.status_code = 202
        response.headers["Location"] = url_for("imports.get_import", import_id=str(job.id))
        return response
    outcome = import_file(
        session, user, data, upload.filename, area=current_service_area(), limits=limits,
        crs=options["crs"], repair=options["repair"], column_map=column_map,
        default_network=options["default_network"], mode=options["mode"], dry_run=dry_run,
        skip_saved_before=options["skip_saved_before"], correct_saved_before=options["correct_saved_before"],
    )
    session.commit()
    status = 200 if outcome.dry_run else 201
    headers = {"Vary": "Accept-Encoding"}
    if _accepts_gzip():
        # the per-feature report of a large file is tens of MB of JSON (50,000 rows: 33 MB), a
        # twentieth of it gzipped: what a phone on a mobile network can wait for
        return Response(gzip_chunks(_chunks(outcome.iter_json())), status=status, mimetype="application/json",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(_chunks(outcome.iter_json()), status=status, mimetype="application/json", headers=headers)


def _accepts_gzip() -> bool:
    """Whether the request accepts a gzip body: ``gzip`` (or ``*``) with a quality above 0
    (``gzip;q=0`` refuses it, RFC 9110 §12.5.3; its mere mention is no acceptance)."""
    return request.accept_encodings["gzip"] > 0


def _chunks(pieces: Iterator[str], size: int = 256 * 1024) -> Iterator[bytes]:
    """Join small pieces of text into chunks of about ``size`` bytes (one write each)."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode("utf-8")
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def _gunzip(data: bytes) -> Iterator[bytes]:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for start in range(0, len(data), 256 * 1024):
        yield inflate.decompress(data[start:start + 256 * 1024])
    yield inflate.flush()


@bp.get("/api/v1/imports/<import_id>")
def get_import(import_id: str) -> Response:
    """An import job: ``{"id", "state": "queued" | "running" | "done" | "failed", "filename",
    "rows_done", "rows_total", "created_at", "started_at", "finished_at"}``; once ``done``
    also the import's counts and per-feature report (as a synchronous save answers), once
    ``failed`` an ``error`` problem document (with the per-feature report when features were
    refused). Only its owner (and admins) may read it."""
    job = get_import_job(get_session(), current(), import_id)
    if job.result is None:
        return jsonify(job_head(job))
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
    if _accepts_gzip():
        return Response(job.result, mimetype="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(_gunzip(job.result), mimetype="application/json", headers=headers)


@bp.get("/import")
@login_required
def upload_page() -> str:
    """The upload page: choose a file, preview it on the map, then save. For those who file
    reports (representatives, admins); the referent gets the 403 page."""
    policy.require(policy.may_file_reports(current()), "only those who file reports upload files")
    west, south, east, north = current_service_area().territory_4326.bounds
    return render_template("import.html", territory_bbox=[round(v, 6) for v in (west, south, east, north)])


@bp.get("/import/modele.csv")
@login_required
def template_file() -> Response:
    """The upload page's template file: a CSV as Belgian Excel writes it (``;``, UTF-8 with a
    byte order mark, decimal commas) with the canonical column names and one example row in the
    uploader's own commune, its description in the page's language (see
    :func:`geosignal.services.imports.template_csv`)."""
    from geosignal.services.communes import example_point

    user = current()
    policy.require(policy.may_file_reports(user), "only those who file reports upload files")
    place = example_point(get_session(), user.commune_nis)
    body = template_csv(_("Exemple : pas de 4G rue de la Station"), (place["lat"], place["lon"]) if place else None)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=geosignal-modele.csv", "Cache-Control": "no-store"})
