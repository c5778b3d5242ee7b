"""Evidence of a report (speed tests, photos): the API, the forms of the report page and the
photos themselves. Thin views over :mod:`geosignal.services.evidence`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from geosignal import formparse, i18n, policy, ui_text
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.errors_web import http_error, render_error
from geosignal.params import MAX_BIGINT
from geosignal.services import evidence as evidence_service
from geosignal.services import reports as reports_service
from geosignal.views.api import json_body

bp = Blueprint("evidence", __name__)


def _with_urls(report_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    for photo in doc["photos"]:
        photo["url"] = url_for("evidence.photo", report_id=report_id, photo_id=photo["id"])
    return doc


@bp.get("/api/v1/reports/<report_id>/evidence")
def list_evidence(report_id: str) -> Response:
    """Return a report's evidence: speed tests, photos (with their URL) and the ``stale`` flag.

    ``stale`` is true when the newest evidence is more than 12 months old (re-confirmation
    wanted). Readers of the report only (others get 404).
    """
    doc = evidence_service.list_evidence(get_session(), current(), report_id)
    return jsonify(_with_urls(report_id, doc))


@bp.post("/api/v1/reports/<report_id>/evidence")
def post_speed_test(report_id: str) -> Response:
    """Add a speed test to a report → 201 with the stored test.

    Body: ``download_mbps``, ``upload_mbps`` (0–10,000 Mbit/s), ``latency_ms`` (0–60,000 ms),
    ``signal_dbm`` (−150 to −20 dBm), at least one of them; ``operator``; ``measured_at``
    (required). Every fault is listed in ``errors``. The report's representatives and admins,
    while the report is open.
    """
    user = current()
    session = get_session()
    added = evidence_service.add_speed_test(session, user, report_id, json_body,  # (read once allowed)
                                            idempotency_key=request.headers.get("Idempotency-Key"))
    session.commit()
    return _answer(added, url_for("evidence.list_evidence", report_id=report_id))


def _answer(added: evidence_service.Added, location: str) -> Response:
    """The API's answer to evidence added (:class:`~geosignal.services.evidence.Added`): 201, or
    200 for a probable duplicate; ``Location``; ``Idempotent-Replayed`` for a replay."""
    response = jsonify(added.doc)
    response.status_code = added.status
    response.headers["Location"] = location
    if added.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _uploaded_photo() -> bytes | None:
    """The bytes of the multipart field ``photo`` (one more than the limit at most), or None."""
    upload = request.files.get("photo")
    if upload is None or (not upload.filename and not upload.content_length):
        return None  # a form sent with no photo chosen has the field, empty and nameless
    return upload.read(evidence_service.MAX_PHOTO_BYTES + 1)


@bp.post("/api/v1/reports/<report_id>/photos")
def post_photo(report_id: str) -> Response:
    """Add a photo to a report (multipart/form-data, field ``photo``) → 201 with its description.

    JPEG or PNG (read from the content), at most 5 MB; stored re-encoded without any metadata
    (EXIF, GPS, XMP, ICC). The report's representatives and admins, while the report is open.
    """
    user = current()
    session = get_session()
    added = evidence_service.add_photo(session, user, report_id, _uploaded_photo(),
                                       idempotency_key=request.headers.get("Idempotency-Key"))
    session.commit()
    added.doc["url"] = url_for("evidence.photo", report_id=report_id, photo_id=added.doc["id"])
    return _answer(added, added.doc["url"])


@bp.get(f"/signalements/<report_id>/photos/<int(max={MAX_BIGINT}):photo_id>")
def photo(report_id: str, photo_id: int) -> Response:
    """Serve one photo of a report to those who read the report (others get 404)."""
    data, content_type = evidence_service.read_photo(get_session(), current(), report_id, photo_id)
    extension = "jpg" if content_type == "image/jpeg" else "png"
    return Response(data, mimetype=content_type, headers={
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="photo-{photo_id}.{extension}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })


def report_page(report_id: str) -> str:
    """Return the URL of a report's page, at its evidence section."""
    return url_for("report_pages.report_page", report_id=report_id) + "#preuves"


def _messages(error: GeosignalError, typed: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """What a person reads about a refused speed test or photo, one sentence per fault, each
    naming its field and saying what to do (current language): ``(field, code, sentence)``,
    ``field`` a speed test's field (:data:`~geosignal.services.evidence.SPEED_TEST_FIELDS`) the
    form shows the sentence next to, or ``form`` (no value at all, a closed report, a photo).
    ``typed``: the form's values as typed, by field (a number both readings of which fit,
    ``1.000``, is said as such)."""
    items = error.extra.get("errors") or [{"code": error.code, "detail": error.detail, "pointer": error.where}]
    out = []
    for item in items:
        field = (item.get("pointer") or "").strip("/")
        label = ui_text.evidence_label(field) if field in ui_text.EVIDENCE_FIELDS_FR else None
        title = (ui_text.kind_message(item["code"], item.get("kind"))
                 or (ui_text.error_message(error) if len(items) == 1 else ui_text.code_message(item["code"])))
        message = _("%(field)s : %(problem)s", field=label, problem=title) if label else title
        readings = formparse.ambiguous_readings((typed or {}).get(field))
        if item["code"] == "invalid_attribute" and field in evidence_service.SPEED_TEST_RANGES and readings:
            thousands, decimal, decimals = readings
            message = _("%(field)s : « %(value)s » se lit %(thousands)s ou %(decimal)s : écrivez le nombre sans "
                        "séparateur de milliers.", field=label, value=(typed or {})[field].strip(),
                        thousands=str(thousands), decimal=i18n.format_number(decimal, decimals))
        elif item["code"] == "invalid_attribute" and field in evidence_service.SPEED_TEST_RANGES:
            lo, hi, unit = evidence_service.SPEED_TEST_RANGES[field]
            low, high = i18n.format_number(lo), i18n.format_number(hi)
            message = _("%(field)s : un nombre entre %(lo)s et %(hi)s %(unit)s.", field=label,
                        lo=low, hi=high, unit=unit)
        elif item["code"] == "conflict":
            message = _("Ce signalement est clos : on ne peut plus y ajouter de mesure ni de photo.")
        elif item["code"] == "invalid_attribute" and field == "operator":
            message = _("%(field)s : choisissez un opérateur de la liste.", field=label)
        out.append((field if field in evidence_service.SPEED_TEST_FIELDS else "form", item["code"], message))
    return out


def _form_number(raw: str | None) -> Any:
    """A number typed in a form (:func:`geosignal.formparse.decimal_number`: decimal comma or
    point, ``−`` or ``-``, spaces between thousands); the text itself when it is not one (the
    service then refuses it, naming the field: ``1_0``, ``NaN``, ``²``); None when empty."""
    text = (raw or "").strip()
    if not text:
        return None
    number = formparse.decimal_number(text)
    return text if number is None else number


def _refused(report_id: str, error: GeosignalError, values: dict[str, str] | None = None) -> Any:
    """The report page again, with the refusal's status, its sentences next to the evidence
    forms and the values typed (nothing stored)."""
    from geosignal.views.report_pages import render_report

    if error.status in (401, 403, 404) or error.status >= 500:
        raise error
    session = get_session()
    session.rollback()
    feature = reports_service.get_report(session, current(), report_id)
    said = _messages(error, values)
    by_field: dict[str, list[str]] = {}
    codes: dict[str, str] = {}
    for field, code, message in said:
        by_field.setdefault(field, []).append(message)
        codes.setdefault(field, code)
    # each field's sentences next to it (aria-invalid, aria-describedby), the rest above the forms
    return render_report(feature, status=error.status, evidence_values=values or {},
                         evidence_errors=by_field.pop("form", []), evidence_field_errors=by_field,
                         evidence_field_codes=codes, evidence_code=codes.get("form", error.code))


@bp.post("/signalements/<report_id>/mesures")
def add_speed_test_form(report_id: str) -> Any:
    """Add a speed test from the report page's form, then back to the page (PRG); a refused
    one shows the page again (4xx) with the reasons and the values typed."""
    user = current()
    form = request.form
    body: dict[str, Any] = {name: _form_number(form.get(name)) for name in evidence_service.SPEED_TEST_RANGES}
    body["operator"] = form.get("operator") or None
    body["measured_at"] = formparse.form_date(form.get("measured_at"))  # 31/03/2024 14:30 as Belgians write it, or ISO
    session = get_session()
    try:
        added = evidence_service.add_speed_test(session, user, report_id, body)
    except GeosignalError as error:
        return _refused(report_id, error, {k: form.get(k) or "" for k in (*evidence_service.SPEED_TEST_RANGES,
                                                                           "operator", "measured_at")})
    session.commit()
    if added.status == 201:
        flash(_("Mesure ajoutée."), "success")
    else:  # the same sent twice (a double click): stored once
        flash(_("Cette mesure était déjà enregistrée : elle ne l'est qu'une fois."), "success")
    return redirect(report_page(report_id))


@bp.post("/signalements/<report_id>/photos")
def add_photo_form(report_id: str) -> Any:
    """Add a photo from the report page's form, then back to the page (PRG); a refused one
    shows the page again (4xx) with the reason."""
    user = current()
    session = get_session()
    try:
        added = evidence_service.add_photo(session, user, report_id, _uploaded_photo())
    except GeosignalError as error:
        return _refused(report_id, error)
    session.commit()
    if added.status == 201:
        flash(_("Photo ajoutée (sans ses métadonnées : position GPS, appareil, date)."), "success")
    else:
        flash(_("Cette photo était déjà enregistrée : elle ne l'est qu'une fois."), "success")
    return redirect(report_page(report_id))


@bp.errorhandler(RequestEntityTooLarge)
def _photo_beyond_the_request_limit(error: RequestEntityTooLarge) -> Any:
    """A photo beyond what a request may carry (``MAX_CONTENT_LENGTH``, about 10 MB: a phone's
    camera makes such files) sent from the report page's form: the report page again with the
    photo's limit said beside its field, as for one between 5 and 10 MB — not an error page
    that said to split the file and led away from the report. The other routes of this
    blueprint (the API's) answer as everywhere (:func:`geosignal.errors_web.http_error`)."""
    report_id = (request.view_args or {}).get("report_id")
    if request.endpoint != "evidence.add_photo_form" or not report_id:
        return http_error(error)
    try:
        return _refused(report_id, evidence_service.photo_too_large())
    except GeosignalError as refused:  # (a report this user may not read: as for any other refusal)
        return render_error(refused)


@bp.app_template_global()
def report_evidence(feature: dict[str, Any]) -> dict[str, Any]:
    """For the report page's partial (``_report_evidence.html``): the evidence of the report
    whose Feature is ``feature`` (:func:`~geosignal.services.evidence.list_evidence`, photos
    with their URL) and whether the signed-in user may add to it (``may_add``)."""
    user = current()
    report_id = str(feature["id"])
    doc = _with_urls(report_id, evidence_service.list_evidence(get_session(), user, report_id))
    nis, status = feature["properties"]["commune_nis"], feature["properties"]["status"]
    doc["may_add"] = policy.may_add_evidence(user, nis) and status not in evidence_service.closed_statuses()
    doc["ranges"] = evidence_service.SPEED_TEST_RANGES
    doc["max_photo_mb"] = evidence_service.MAX_PHOTO_BYTES // (1024 * 1024)
    return doc
