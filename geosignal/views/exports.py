"""DWconnect exports (GeoJSON, CSV, GeoPackage), their history and the referent's page.

Thin views: parse the query, authorise (referent or admin), call the export service, stream.
Every export is recorded as an export run; the run is committed once the last byte is sent
(an interrupted download records nothing).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from geosignal import i18n, policy
from geosignal.auth import current, require_policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.formparse import flag
from geosignal.i18n import ngettext
from geosignal.params import parse_bbox, parse_commune, parse_day, whole_number
from geosignal.services import communes as communes_service
from geosignal.services import export as export_service
from geosignal.services.export import transmission
from geosignal.views.api import not_modified

bp = Blueprint("exports", __name__)

API = "/api/v1/exports"
#: Why a representative gets 403 on the export routes (the same words as before the policy).
EXPORT_DENIED = "this needs the role referent or admin"


def _flag(name: str) -> bool:
    return flag(request.args.get(name), where=name)


def export_request(fmt: str) -> export_service.ExportRequest:
    """Build the export request of this HTTP request's query (status — default ``validated``,
    ``dwconnect`` with ``since=last_transmitted`` —, commune, bbox, since — ``seq:<n>``, a
    date-time or ``last_transmitted`` —, from, to, limit, cursor, dialect, decimal);
    ``invalid_request`` (400) when a parameter is wrong (``status=all`` with
    ``since=last_transmitted`` too: kind ``not_for_dwconnect``), ``unknown_commune`` (422)."""
    args = request.args
    session = get_session()
    status = args.get("status")
    if (args.get("since") or "").strip() == transmission.SINCE_LAST_TRANSMITTED:
        if status is None:  # what DWconnect lacks is what DWconnect is sent
            status = export_service.DWCONNECT
        status_filter = export_service.parse_status_filter(status)
        since = transmission.last_transmitted(session, **status_filter)
    else:
        status_filter = export_service.parse_status_filter(status)
        since_time, since_seq = export_service.parse_since(args.get("since"))
        since = {"since_time": since_time, "since_seq": since_seq}
    date_from, date_to = export_service.parse_period(args.get("from"), args.get("to"))
    filters = export_service.ExportFilters(
        **status_filter,
        commune=parse_commune(session, args.get("commune")),
        bbox=parse_bbox(args.get("bbox")),
        date_from=date_from, date_to=date_to, **since,
    )
    paging = None
    if "limit" in args or "cursor" in args:
        limit = whole_number(args.get("limit", "1000"))
        if limit is None:
            raise GeosignalError("invalid_request", "limit must be a whole number (ASCII digits)", where="limit")
        after, watermark = (export_service.decode_cursor(args["cursor"], filters, session) if args.get("cursor")
                            else (0, None))
        paging = export_service.Paging(limit=limit, after=after, watermark=watermark)
    return export_service.ExportRequest(
        filters=filters, format=fmt, paging=paging,
        dialect=args.get("dialect", "excel"), decimal=args.get("decimal", "point"),
    )


def _options() -> dict[str, Any]:
    keep = ("limit", "cursor", "dialect", "decimal")
    return {k: request.args[k] for k in keep if k in request.args}


def _stream(fmt: str) -> Response:
    user = current()
    if request.method in ("GET", "HEAD") and _flag("mark_transmitted"):
        raise GeosignalError("method_not_allowed", "marking reports as transmitted changes them: send a POST "
                             "(the same URL and parameters)", where="mark_transmitted", status=405)
    req = export_request(fmt)
    if _flag("mark_transmitted"):
        transmission.check_markable(req.filters)
    watermark = None
    if req.paging is None or req.paging.watermark is None:
        watermark = export_service.read_watermark(get_session())
    record = export_service.RunRecord(actor=user.email, channel="api", user_id=user.id, by=user,
                                      mark_transmitted=_flag("mark_transmitted"), options=_options())
    now = datetime.now(export_service.BRUSSELS)
    next_since = f"seq:{(watermark or req.paging.watermark).change_seq}"  # type: ignore[union-attr]

    def body() -> Iterator[bytes]:
        # Flask tears the request's session down before the body is sent: use a fresh one.
        session = get_session()
        stream = export_service.stream_export(session, req, record=record, now=now, watermark=watermark)
        yield from stream.chunks
        session.commit()

    headers = {
        "Content-Disposition": f'attachment; filename="{export_service.export_filename(req, now)}"',
        "X-Export-Run": str(record.run_id),
        "X-Next-Since": next_since,
        "Link": f'<{url_for("exports.get_run", run_id=record.run_id)}>; rel="describedby"',
    }
    return Response(stream_with_context(body()), content_type=req.media_type, headers=headers)


@bp.route(f"{API}/dwconnect", methods=["GET", "POST"])
@require_policy(policy.may_export, EXPORT_DENIED)
def export_dwconnect() -> Response:
    """Stream the DWconnect export: an RFC 7946 FeatureCollection (``application/geo+json``).

    Query: ``status`` (default ``validated``, ``dwconnect`` with ``since=last_transmitted``;
    ``dwconnect``: validated reports and their sequels, plus the removals when incremental;
    ``all``, a full export only; or a comma list), ``commune`` (NIS),
    ``bbox`` (min_lon,min_lat,max_lon,max_lat), ``since`` (``seq:<n>`` from ``next_since``, an
    ISO 8601 date-time, or ``last_transmitted``: only what is new since the last export marked
    as transmitted), ``from`` / ``to`` (the reports' dates, inclusive days), ``limit`` and
    ``cursor`` (pages); ``mark_transmitted=true`` with POST only (a GET never changes state:
    405): the run is marked as transmitted once sent and its validated reports become
    ``transmitted``.
    """
    return _stream("geojson")


@bp.route(f"{API}/dwconnect.csv", methods=["GET", "POST"])
@require_policy(policy.may_export, EXPORT_DENIED)
def export_dwconnect_csv() -> Response:
    """Stream the DWconnect export as CSV: Excel dialect by default (UTF-8 BOM, ``;``, CRLF;
    ``decimal=comma`` for a decimal comma), ``dialect=plain`` for RFC 4180 (``,``, no BOM)."""
    return _stream("csv")


@bp.route(f"{API}/dwconnect.gpkg", methods=["GET", "POST"])
@require_policy(policy.may_export, EXPORT_DENIED)
def export_dwconnect_gpkg() -> Response:
    """Send the DWconnect export as a GeoPackage (layer ``white_zones``, EPSG:4326)."""
    return _stream("gpkg")


@bp.get(f"{API}/dwconnect.schema.json")
def export_schema() -> Response:
    """Return the JSON Schema (2020-12) of the GeoJSON export (public: it is the contract)."""
    response = jsonify(export_service.export_schema())
    response.mimetype = "application/schema+json"
    return response


@bp.get(f"{API}/runs")
@require_policy(policy.may_export, EXPORT_DENIED)
def list_runs() -> Response:
    """Return the latest export runs (newest first; ``limit`` 1–1000, default 100)."""
    limit = whole_number(request.args.get("limit", "100"))
    if limit is None or not 1 <= limit <= 1000:
        raise GeosignalError("invalid_request", "limit must be 1 to 1000", where="limit")
    return jsonify({"runs": export_service.list_runs(get_session(), limit)})


@bp.get(f"{API}/runs/<run_id>")
@require_policy(policy.may_export, EXPORT_DENIED)
def get_run(run_id: str) -> Response:
    """Return one export run: who, when, filters, counts, checksum, and the reports it carried."""
    session = get_session()
    run = export_service.get_run(session, run_id)
    doc = export_service.run_summary(run)
    doc["reports"] = [{"id": rid, "revision": seq} for rid, seq in export_service.run_report_ids(session, run)]
    doc["download"] = url_for("exports.download_run", run_id=run.id)
    return jsonify(doc)


@bp.get(f"{API}/runs/<run_id>/download")
@require_policy(policy.may_export, EXPORT_DENIED)
def download_run(run_id: str) -> Response:
    """Send a past export again, byte for byte (same SHA-256, given in ``Repr-Digest``); 304
    without a body when ``If-None-Match`` names its ``ETag``."""
    session = get_session()
    run = export_service.get_run(session, run_id)
    if not export_service.copy_kept(session, run):
        raise GeosignalError("copy_purged", f"the copy of export run {run.id} was deleted under the retention "
                             "rule; its record (date, filters, SHA-256, reports carried) is kept")
    digest = base64.b64encode(bytes.fromhex(run.sha256)).decode()
    headers = {
        "Content-Disposition": f'attachment; filename="{run.filename}"',
        "Content-Length": str(run.byte_count),
        "Repr-Digest": f"sha-256=:{digest}:",
        "ETag": f'"{run.sha256}"',
        "X-Export-Run": str(run.id),
    }
    unchanged = not_modified(headers["ETag"], **{k: headers[k] for k in ("Repr-Digest", "X-Export-Run")})
    if unchanged is not None:
        return unchanged
    run_key = run.id

    def body() -> Iterator[bytes]:
        yield from export_service.iter_run_bytes(get_session(), run_key)

    return Response(stream_with_context(body()), content_type=run.media_type, headers=headers)


@bp.post(f"{API}/runs/<run_id>/transmitted")
@require_policy(policy.may_export, EXPORT_DENIED)
def mark_transmitted_api(run_id: str) -> Response:
    """Mark an export run as transmitted to DWconnect: its reports still ``validated`` become
    ``transmitted`` (one statement, each move journalled). Idempotent: a second call changes
    nothing (``already``: true). Answer: ``run_id``, ``already``, ``transmitted_at``,
    ``transmitted_actor``, ``moved``, ``not_moved``."""
    session = get_session()
    outcome = transmission.mark_transmitted(session, run_id, current())
    session.commit()
    return jsonify(outcome)


@bp.post("/exports/<run_id>/transmis")
@login_required
@require_policy(policy.may_export, EXPORT_DENIED)
def mark_transmitted_page(run_id: str) -> Response:
    """The exports page's button: mark a run as transmitted (form POST, CSRF), then back to
    the page (PRG) with what happened."""
    session = get_session()
    outcome = transmission.mark_transmitted(session, run_id, current())
    session.commit()
    if outcome["already"]:
        flash(_("Cet export était déjà marqué comme transmis ; rien n'a changé."), "success")
    elif not outcome["moved"]:  # (a run of zone changes alone, or reports moved on since)
        flash(_("Export marqué comme transmis à DWconnect ; aucun signalement ne change de statut."), "success")
    else:
        flash(ngettext("Export marqué comme transmis à DWconnect : %(num)s signalement passe au statut « %(status)s ».",
                       "Export marqué comme transmis à DWconnect : %(num)s signalements passent au statut « %(status)s ».",
                       outcome["moved"], status=i18n.label("transmitted")), "success")
    # the top of the page, where the message is (the run, marked, is the history's first lines)
    return redirect(url_for("exports.history_page"))


#: The page's export buttons (``format``) → the download route of each.
PAGE_FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    "geojson": ("geojson", "exports.export_dwconnect", {}),
    "csv": ("csv", "exports.export_dwconnect_csv", {}),
    "csv-comma": ("csv", "exports.export_dwconnect_csv", {"decimal": "comma"}),  # French-language Excel
    "gpkg": ("gpkg", "exports.export_dwconnect_gpkg", {}),
}
#: The page form's fields passed on to the download.
PAGE_FIELDS = ("status", "commune", "from", "to", "since")


@bp.get("/exports")
@login_required
@require_policy(policy.may_export, EXPORT_DENIED)
def history_page() -> Any:
    """The referent's page: a new export (statuses — for DWconnect, the default: validated
    reports and their sequels, plus, incremental, the removals; validated only; or all, for a
    full export that does not go to DWconnect —, commune, period, only what is new since the
    last transmitted export), past exports in plain words, each downloadable again and markable
    as transmitted.

    The new-export form comes back here (``format`` = ``geojson``, ``csv``, ``csv-comma`` — a
    decimal comma, for a French-language Excel — or ``gpkg``): its
    values are checked as the export checks them, then the browser is sent to the download; a
    refused value shows this page again (4xx) with the sentence and the values kept."""
    if "format" not in request.args:
        return _render_history()
    fmt = request.args.get("format", "")
    values = {k: request.args.get(k, "") for k in PAGE_FIELDS}
    try:
        if fmt not in PAGE_FORMATS:
            raise GeosignalError("invalid_request", f"format must be one of {', '.join(PAGE_FORMATS)}", where="format")
        date_from, date_to = parse_day(values["from"] or None, where="from"), parse_day(values["to"] or None, where="to")
        if date_from and date_to and date_from > date_to:
            raise GeosignalError("invalid_request", "the period ends before it starts", where="from",
                                 kind="period_reversed")
        export_request(PAGE_FORMATS[fmt][0])  # every other rule of the export (status, commune, since)
    except GeosignalError as error:
        if error.status >= 500 or error.status in (401, 403):
            raise
        return _render_history(error.status, error, values)
    _kind, endpoint, extra = PAGE_FORMATS[fmt]
    return redirect(url_for(endpoint, **{k: v for k, v in values.items() if v}, **extra))


@bp.get("/exports/historique")
@login_required
@require_policy(policy.may_export, EXPORT_DENIED)
def history_fragment() -> Any:
    """The history section of the exports page alone (HTML), which the page's script reads
    after a download to show the new run without a reload (it asks with the header
    ``X-Geosignal-Fragment: history``). Opened as a page (a person following the address), it
    is the exports page at its history: the section alone was a bare fragment, without the
    site's frame or style."""
    if request.headers.get("X-Geosignal-Fragment") != "history":
        return redirect(url_for("exports.history_page") + "#history")
    response = make_response(render_template("_export_history.html", runs=transmission.history(get_session(), 200)))
    response.vary.add("X-Geosignal-Fragment")
    return response


def _render_history(status: int = 200, error: GeosignalError | None = None,
                    values: dict[str, str] | None = None) -> tuple[str, int]:
    session = get_session()
    runs = transmission.history(session, 200)
    communes = communes_service.commune_choices(session)
    return render_template("exports.html", runs=runs, communes=communes,
                           last_transmitted=transmission.any_transmitted(session),
                           schema_version=export_service.SCHEMA_VERSION, error=error,
                           values=values or {}), status
