"""Pages of one report: its page (map, status, history, thread, the allowed actions), its edit
page, the confirmation of withdraw / reject, and the audit journal (referent, admins). Thin views: parse,
authorise, call one service, render."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from geosignal import contract, formparse, i18n, policy, ui_text, workflow
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.params import parse_commune, parse_day
from geosignal.services import audit as audit_service
from geosignal.services import communes as communes_service
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services import zones as zones_service
from geosignal.services.intake import loads_strict
from geosignal.vocab import STATUSES

bp = Blueprint("report_pages", __name__)


def _commune_geometry(nis: str | None) -> str:
    """The boundary of a report's commune (GeoJSON geometry, EPSG:4326, as stored) for the
    report's map, which outlines it under the shape; ``null`` when unknown."""
    found = communes_service.list_communes(get_session(), nis_codes=[nis]) if nis else []
    return json.dumps(found[0]["geometry"] if found else None)


def _thread(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The referent's questions and the representative's answers, in order."""
    return [e for e in history if e["action"] in ("ask", "answer") and e.get("reason")]


def _decision(history: list[dict[str, Any]], status: str) -> dict[str, Any] | None:
    """The latest event that put the report in its current ``status`` with a text (the
    referent's question, a rejection's reason, the operator's note), shown at the top of its
    page; None for the other statuses."""
    if status not in workflow.DECISION_STATUSES:
        return None
    return next((e for e in reversed(history) if e.get("to") == status and e.get("reason")), None)


def render_report(feature: dict[str, Any], *, status: int = 200, **extra: Any) -> tuple[str, int]:
    """The report page of ``feature`` with ``status``; ``extra`` goes to the template (a failed
    action and its typed text, refused evidence and its values)."""
    user = current()
    props = feature["properties"]
    history = audit_service.history(get_session(), uuid.UUID(feature["id"]), viewer=user)
    page = render_template(
        "report.html", feature=feature, p=props, history=history, thread=_thread(history),
        decision=_decision(history, props["status"]),
        actions=policy.allowed_transitions(user, props["commune_nis"], props["status"]),
        may_edit=policy.may_edit_report(user, props["commune_nis"], props["status"]),
        may_copy=policy.may_copy_report(user, props["commune_nis"], props["status"]),
        copies=reports_service.copies_of(get_session(), feature["id"]),
        geometry_json=json.dumps(feature["geometry"]), commune_json=_commune_geometry(props.get("commune_nis")),
        zone=zones_service.for_reports(get_session(), [feature["id"]]).get(feature["id"]), **extra)
    return page, status


@bp.get("/signalements/<report_id>")
@login_required
def report_page(report_id: str) -> Any:
    """A report's page: reference, map, status, properties, history, questions and answers,
    and exactly the actions the user may take (those of the transition table)."""
    return render_report(reports_service.get_report(get_session(), current(), report_id))


@bp.post("/signalements/<report_id>/actions")
@login_required
def post_action(report_id: str) -> Any:
    """Take one action of the report's page (form: ``to``, ``reason``, ``confirm``,
    ``etag``). Withdraw and reject first show a confirmation page; a missing text or a stale
    page shows the report again with the reason."""
    return take_action(report_id, request.form.get("to", ""),
                       done=lambda fid: url_for("report_pages.report_page", report_id=fid))


def take_action(report_id: str, target: str, *, done: Any) -> Any:
    """Move a report to ``target`` from a page's form (``reason``, ``confirm``, ``etag`` read
    from the form), the one rule of every status form: a move that needs confirming shows the
    confirmation page first; a refused text, a stale page or a refused move shows the report
    again (4xx) with the typed text kept; ``done(report_id)`` is where a move leads (PRG)."""
    session = get_session()
    user = current()
    feature = reports_service.get_report(session, user, report_id)
    props = feature["properties"]
    typed = formparse.newlines_as_lf(request.form.get("reason") or "")
    # a text with nothing visible in it (spaces, zero-width characters) is no reason
    reason = typed.strip() if formparse.visible(typed) else None
    move = workflow.find(props["status"], target)
    try:
        if target not in STATUSES:
            raise GeosignalError("invalid_request", "to must be a status", where="/to")
        workflow_service.clean_reason(reason)  # checked before the confirmation page, not after it
        chosen = workflow_service.decide(user, props["commune_nis"], props["status"], target, reason)
    except GeosignalError as error:
        if error.code in ("forbidden", "not_found") or error.status >= 500:
            raise
        if error.code == "invalid_transition" and props["status"] == target:
            return _already(props, target, done(feature["id"]))
        flash(_("Action refusée : %(reason)s", reason=ui_text.error_message(error)), "error")
        return render_report(feature, status=error.status, failed_action=move, reason=typed)
    if chosen.confirm and request.form.get("confirm") != "1":
        return render_template("report_confirm.html", feature=feature, p=props, action=chosen, reason=reason,
                               etag=request.form.get("etag") or "")
    try:
        workflow_service.transition(session, feature["id"], target, user, reason,
                                    if_match=request.form.get("etag") or None)
    except GeosignalError as error:
        if error.code in ("forbidden", "not_found") or error.status >= 500:
            raise
        session.rollback()
        current_feature = reports_service.get_report(session, user, report_id)
        if error.code == "precondition_failed" or error.code == "invalid_transition":
            if current_feature["properties"]["status"] == target:  # a second click: it was done already
                return _already(props, target, done(feature["id"]))
            flash(_("Ce signalement a changé entre-temps : voici son état actuel. Rien n'a été modifié."), "error")
            return render_report(current_feature, status=error.status)
        flash(_("Action refusée : %(reason)s", reason=ui_text.error_message(error)), "error")
        return render_report(current_feature, status=error.status, failed_action=move, reason=typed)
    session.commit()
    if chosen.action == "answer":  # the representative is told where her answer went
        flash(_("Réponse envoyée au référent : le signalement %(reference)s est de nouveau soumis.",
                reference=props["reference"]), "success")
    else:
        flash(_("Signalement %(reference)s : %(status)s.", reference=props["reference"],
                status=ui_text.in_sentence(i18n.label(target))), "success")
    return redirect(done(feature["id"]))


def form_values(feature: dict[str, Any]) -> dict[str, list[str]]:
    """The report form's values from a stored Feature (lists of strings, like a posted form):
    the edit form's, and the map form's for a copy."""
    out: dict[str, list[str]] = {}
    for f in contract.form_fields():
        value = feature["properties"].get(f["name"])
        if value is None:
            continue
        if isinstance(value, list):
            out[f["name"]] = [str(v) for v in value]
        elif f["widget"] == "date":
            out[f["name"]] = [str(value)[:10]]
        else:
            out[f["name"]] = [str(value)]
    return out


def _already(props: dict[str, Any], target: str, url: str) -> Response:
    """A second click on a status button: the move was made by the first one; say so."""
    flash(_("C'est déjà fait : le signalement %(reference)s est %(status)s.",
            reference=props["reference"], status=ui_text.in_sentence(i18n.label(target))), "success")
    return redirect(url)


def _as_shown(values: list[str], *, widget: str) -> list[str]:
    """A field's posted values as the page would show them: empty values dropped, line ends
    as stored (LF), boxes in any order (the page lists them in vocabulary order)."""
    kept = [formparse.newlines_as_lf(v) if widget == "textarea" else v.strip() for v in values]
    kept = [v for v in kept if v.strip()]
    return sorted(kept) if widget == "checkboxes" else kept


def _same_as(form: Any, stored: dict[str, Any]) -> bool:
    """Whether every field of the edit form holds what the page shows for ``stored``."""
    shown = form_values(stored)
    return all(_as_shown(form.getlist(f["name"]), widget=f["widget"]) == _as_shown(shown.get(f["name"], []),
                                                                                    widget=f["widget"])
               for f in contract.form_fields())


def _not_saved(form: Any, stored: dict[str, Any]) -> list[dict[str, str]]:
    """What an edit form holds that differs from the page of ``stored`` (a version saved
    meanwhile): ``[{"name", "label", "value"}]`` in the form's order, each value as the page
    names it (vocabulary labels, numbers and dates as typed), so that a refused save loses
    nothing the person typed."""
    shown = form_values(stored)
    out = []
    for f in contract.form_fields():
        name, widget = f["name"], f["widget"]
        if widget == "hidden" or name not in form:
            continue
        mine = _as_shown(form.getlist(name), widget=widget)
        if mine == _as_shown(shown.get(name, []), widget=widget):
            continue
        value = ", ".join(i18n.label(v) for v in mine) if widget in ("select", "checkboxes") else "\n".join(mine)
        out.append({"name": name, "label": i18n.field_label(name), "value": value or "—"})
    return out


def _place_retyped(form: Any, stored: dict[str, Any]) -> bool:
    """Whether the edit form's coordinates field says another place than the one it was filled
    with (``stored``'s, :func:`~geosignal.services.coordinates.typed_positions`): an untouched
    field is not read (its 7 decimals would move the stored shape by a few millimetres)."""
    from geosignal.services.coordinates import typed_positions

    typed = " ".join((form.get("coordinates") or "").split())
    if not typed:
        return False
    shown = typed_positions(stored["geometry"])
    if shown is None or typed != " ".join(shown[0].split()):
        return True
    return shown[1] != "point" and (form.get("coordinates_shape") or shown[1]) != shown[1]


def _unchanged(form: Any, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored value of every field the edit form sends back as the page showed it: an
    untouched field keeps its value exactly (a date keeps its hour, a list its order, a text
    its line ends), so that saving an untouched form changes and records nothing."""
    shown = form_values(stored)
    kept: dict[str, Any] = {}
    for f in contract.form_fields():
        name = f["name"]
        if name not in form:
            continue
        if _as_shown(form.getlist(name), widget=f["widget"]) == _as_shown(shown.get(name, []), widget=f["widget"]):
            kept[name] = stored["properties"].get(name)
    return kept


def _render_edit(feature: dict[str, Any], *, status: int = 200, values: dict[str, list[str]] | None = None,
                 error: GeosignalError | None = None, stale: bool = False,
                 not_saved: list[dict[str, str]] | None = None, shape_not_saved: bool = False) -> tuple[str, int]:
    from geosignal.services.coordinates import typed_positions

    # the place as the coordinates field writes it (a short shape): replaced by typing
    typed = typed_positions(feature["geometry"])
    if values is None:
        values = form_values(feature)
        if typed:
            values = {**values, "coordinates": [typed[0]], "coordinates_shape": [typed[1]] if typed[1] != "point" else []}
    page = render_template(
        "report_edit.html", feature=feature, p=feature["properties"], typed_shape=typed is not None,
        example=communes_service.example_point(get_session(), feature["properties"].get("commune_nis")),
        geometry_json=json.dumps(feature["geometry"]),
        commune_json=_commune_geometry(feature["properties"].get("commune_nis")),
        etag=workflow_service.etag(feature["properties"]["revision"]),
        values=values,
        errors=ui_text.field_errors(error) if error else {}, error=error, stale=stale, not_saved=not_saved or [],
        shape_not_saved=shape_not_saved)
    return page, status


@bp.get("/signalements/<report_id>/modifier")
@login_required
def edit_page(report_id: str) -> Any:
    """The edit page: the report's shape on a map whose vertices can be moved (points
    dragged), and the same fields as a new report; the form carries the report's ETag."""
    user = current()
    feature = reports_service.get_report(get_session(), user, report_id)
    props = feature["properties"]
    if not policy.may_write_in_commune(user, props["commune_nis"]):
        raise GeosignalError("forbidden", "the commune's representative edits its reports")
    if props["status"] not in workflow.EDITABLE_STATUSES:
        raise GeosignalError("not_editable", f"a report {props['status']} can no longer be edited")
    return _render_edit(feature)


@bp.post("/signalements/<report_id>/modifier")
@login_required
def save_edit(report_id: str) -> Any:
    """Save the edit form (PRG). A refused value shows the form again with the reason; a
    stale form (the report changed meanwhile) shows a warning and the version saved meanwhile,
    which is kept, with what the person typed that differs from it (:func:`_not_saved`)."""
    from geosignal.views.api import edit_report_from_body
    from geosignal.views.locate import place_from_form
    from geosignal.views.pages import feature_from_form, flash_intake_notices

    session = get_session()
    user = current()
    geometry = (request.form.get("geometry") or "").strip()
    try:
        if not geometry and _place_retyped(request.form, reports_service.get_report(session, user, report_id)):
            # the place replaced without the map: the coordinates typed, read as the map form's
            geometry = json.dumps(place_from_form(request.form["coordinates"], request.form.get("coordinates_shape")))
        # read as strictly as an API body (a member twice, NaN, an unpaired surrogate: refused)
        feature_json = loads_strict(feature_from_form(request.form, geometry or "null"))
        properties: dict[str, Any] = {name: None for name in reports_service.ATTRIBUTES}
        properties.update(feature_json["properties"])
        properties.update(_unchanged(request.form, reports_service.get_report(session, user, report_id)))
        body: dict[str, Any] = {"properties": properties}
        if geometry:
            body["geometry"] = feature_json["geometry"]
        feature = edit_report_from_body(report_id, body, request.form.get("etag") or None)
    except GeosignalError as error:
        if error.code in ("not_found", "forbidden", "csrf_failed") or error.status >= 500:
            raise
        session.rollback()
        current_feature = reports_service.get_report(session, user, report_id)
        if error.code == "not_editable" or current_feature["properties"]["status"] not in workflow.EDITABLE_STATUSES:
            # as the edit page says it (GET): the error page, no form to fill in vain
            raise GeosignalError("not_editable", f"a report {current_feature['properties']['status']} can no "
                                 "longer be edited", message=_(
                                     "Ce signalement n'est plus modifiable dans son statut actuel : ouvrez sa "
                                     "page pour voir ce que vous pouvez encore faire.")) from None
        if error.code == "precondition_failed":
            if geometry == "" and _same_as(request.form, current_feature):  # a second click on Save
                flash(_("Vos modifications étaient déjà enregistrées : rien d'autre n'a changé."), "success")
                return redirect(url_for("report_pages.report_page", report_id=current_feature["id"]))
            flash(_("Ce signalement a été modifié depuis que vous avez ouvert cette page (dans un autre onglet ou par "
                    "une autre personne). Sa version actuelle est affichée ci-dessous et a été gardée : refaites "
                    "vos changements si nécessaire."), "error")
            return _render_edit(current_feature, status=412, stale=True,
                                not_saved=_not_saved(request.form, current_feature), shape_not_saved=bool(geometry))
        if error.code == "precondition_required":
            error.extra["message"] = _("Il manque à ce formulaire la version du signalement : rouvrez la page de "
                                       "modification depuis le signalement, puis refaites vos changements.")
        flash(_("Modification refusée : %(reason)s", reason=ui_text.refusal_summary(error)), "error")
        values = {k: request.form.getlist(k) for k in request.form.keys()}
        return _render_edit(current_feature, status=error.status, values=values, error=error)
    session.commit()
    flash_intake_notices(feature)
    flash(_("Signalement %(reference)s modifié.", reference=feature["properties"]["reference"]), "success")
    return redirect(url_for("report_pages.report_page", report_id=feature["id"]))


def _day(name: str) -> date | None:
    return parse_day(request.args.get(name), where=name)


def journal_filters() -> dict[str, Any]:
    """The journal's filters from the query string (shared by the page and the API)."""
    limit = formparse.whole_number(request.args.get("limit") or "100")
    raw_before = request.args.get("before") or ""
    before = formparse.whole_number(raw_before) if raw_before else None
    if limit is None:
        raise GeosignalError("invalid_request", "limit must be a whole number (ASCII digits)", where="limit")
    if raw_before and before is None:
        raise GeosignalError("invalid_request", "before must be an event id (ASCII digits)", where="before")
    date_from, date_to = _day("from"), _day("to")
    if date_from and date_to and date_from > date_to:  # as every other filter says it
        raise GeosignalError("invalid_request", "from is after to", where="from", kind="period_reversed")
    return {"action": request.args.get("action") or None,
            "commune": parse_commune(get_session(), request.args.get("commune")),
            "user": request.args.get("user") or None, "date_from": date_from, "date_to": date_to,
            "limit": limit, "before_id": before}


@bp.get("/admin/journal")
@login_required
def journal_page() -> Any:
    """The audit journal (referent, admins), newest first, filtered by action, commune, user and period."""
    policy.require(policy.may_read_audit(current()), "the journal is for the referent and admins")
    filters = journal_filters()
    page = audit_service.journal(get_session(), **filters)
    return render_template("journal.html", page=page, filters=filters, actions=audit_service.AUDIT_ACTIONS,
                           args=request.args.to_dict())


def json_response(doc: Any) -> Response:
    """Return ``doc`` as JSON (UTF-8)."""
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")
