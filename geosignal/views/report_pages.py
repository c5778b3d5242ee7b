"""Pages of one report: its page (map, status, history, thread, the allowed actions), its edit
page, the confirmation of withdraw / reject, and the audit journal (referent, admins). Thin views: parse,
authorise, call one service, render."""

from __future__ import annotations

import json
import re
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
from geosignal.params import parse_commune, parse_day, text_parameter
from geosignal.services import audit as audit_service
from geosignal.services import communes as communes_service
from geosignal.services import drawing
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
        copies=reports_service.copies_of(get_session(), feature["id"], user),
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
    again (4xx) with the typed text kept; ``done(report_id)`` is where a move leads (PRG).

    A move already made (the report is in ``target``) is « already done » only when the form
    carries nothing that would be lost (no text, or the text recorded); a different text is
    said done meanwhile by someone else (409, :func:`_done_meanwhile`), the text shown back and
    nothing stored."""
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
            return _done_meanwhile(feature, target, reason, done(feature["id"]))
        sent = request.form.get("etag") or None
        if error.code == "invalid_transition" and not workflow_service.if_match_ok(sent, props["revision"]):
            # a move the page offered, refused because the report moved on since: said as such
            flash(_("Ce signalement a changé entre-temps : voici son état actuel. Rien n'a été modifié."), "error")
            return render_report(feature, status=412, **_kept_text(feature, target, reason))
        flash(_("Action refusée : %(reason)s", reason=ui_text.error_message(error)), "error")
        return render_report(feature, status=error.status, failed_action=move,
                             **{"reason": typed, **_kept_text(feature, target, reason)})
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
            if current_feature["properties"]["status"] == target:  # done already: by a second click, or by someone
                return _done_meanwhile(current_feature, target, reason, done(feature["id"]))
            flash(_("Ce signalement a changé entre-temps : voici son état actuel. Rien n'a été modifié."), "error")
            return render_report(current_feature, status=error.status, **_kept_text(current_feature, target, reason))
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


def _last_event(history: list[dict[str, Any]], *, to: str | None = None) -> dict[str, Any] | None:
    """The latest event of a report's ``history`` that changed it (an edit or a move; not an
    export run nor a zone's regrouping), or with ``to`` the latest that put it in status ``to``;
    None when the history has none."""
    changes = ("create", "edit", *workflow.ACTIONS)
    return next((e for e in reversed(history)
                 if (e.get("to") == to if to else e["action"] in changes)), None)


def who(event: dict[str, Any]) -> str:
    """Who did a history ``event``, as the report's history names them: the e-mail (when the
    viewer may see it) and the role, « vous » for the viewer themself (another tab)."""
    role = i18n.label(event["actor"])
    name = event.get("actor_name")
    user = current()
    if name and user is not None and name == getattr(user, "email", None):
        return _("vous (dans un autre onglet ou une autre fenêtre)")
    return f"{name} ({role})" if name else role


def _text_kind(target: str) -> str | None:
    """The kind of text a move to ``target`` asks for (:data:`geosignal.workflow.TEXT_KINDS`;
    the first of the table's moves to it with one), None when no move to it asks for one."""
    return next((t.text for t in workflow.TRANSITIONS if t.target == target and t.text), None)


def _by_whom(event: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"who", "at"}`` of a history ``event`` (:func:`who`; ``at`` ISO 8601) for a page
    saying who made a change and when; None for no event."""
    return {"who": who(event), "at": event["at"]} if event else None


def _kept_text(feature: dict[str, Any], target: str, reason: str | None) -> dict[str, Any]:
    """The template's ``not_sent`` for the typed text (``reason``) of a refused move to
    ``target`` that no form of the page shown will hold again (no action of the page moves
    the report, as it is now, to ``target`` with a text): shown back apart, so that it is not
    lost; when a form holds it, ``kept_for`` (its target) and ``reason`` fill that form again;
    ``{}`` when there is no text."""
    if reason is None:
        return {}
    props = feature["properties"]
    actions = policy.allowed_transitions(current(), props["commune_nis"], props["status"])
    if any(t.target == target and t.text for t in actions):
        return {"kept_for": target, "reason": reason}
    return {"not_sent": {"text": reason, "kind": _text_kind(target), "recorded": None}}


def _done_meanwhile(feature: dict[str, Any], target: str, reason: str | None, url: str) -> Any:
    """The answer to a move to ``target`` on a report already in ``target`` (``feature``, as
    it is now). With no text, or the text recorded by the event that made the move, it is a
    second click: « already done » (:func:`_already`). With another text, someone made the move
    meanwhile: 409, the report page says who (:func:`who`) and when, and shows the text back
    (``not_sent``); nothing is stored."""
    props = feature["properties"]
    history = audit_service.history(get_session(), uuid.UUID(feature["id"]), viewer=current())
    event = _last_event(history, to=target)
    if reason is None or (event is not None and (event.get("reason") or "") == reason):
        return _already(props, target, url)
    status = ui_text.in_sentence(i18n.label(target))
    if event is None:
        flash(_("Une autre personne l'a fait entre-temps : le signalement %(reference)s est maintenant %(status)s. "
                "Votre texte n'a pas été enregistré ; le voici ci-dessous, pour que vous ne le perdiez pas.",
                reference=props["reference"], status=status), "error")
    else:
        flash(_("Déjà fait entre-temps par %(who)s, le %(when)s (« %(done)s ») : le signalement %(reference)s est "
                "maintenant %(status)s. Votre texte n'a pas été enregistré ; le voici ci-dessous, pour que vous ne "
                "le perdiez pas.", who=who(event), when=i18n.format_datetime(event["at"]),
                done=ui_text.event_label(event["action"], event.get("to")), reference=props["reference"],
                status=status), "error")
    return render_report(feature, status=409, not_sent={
        "text": reason, "kind": _text_kind(target), "recorded": event.get("reason") if event else None})


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
    as stored (LF), a date typed day first as the ISO day the field holds (01/05/2025 is the
    2025-05-01 it was filled with), boxes in any order (the page lists them in vocabulary order)."""
    kept = [formparse.newlines_as_lf(v) if widget == "textarea" else
            (formparse.form_date(v) or "") if widget == "date" else v.strip() for v in values]
    kept = [v for v in kept if v.strip()]
    return sorted(kept) if widget == "checkboxes" else kept


def _same_as(form: Any, stored: dict[str, Any]) -> bool:
    """Whether every field of the edit form holds what the page shows for ``stored``."""
    shown = form_values(stored)
    return all(_as_shown(form.getlist(f["name"]), widget=f["widget"]) == _as_shown(shown.get(f["name"], []),
                                                                                    widget=f["widget"])
               for f in contract.form_fields())


def _same_shape(posted: str, stored: dict[str, Any] | None) -> bool:
    """Whether the shape a form posted (GeoJSON text, EPSG:4326: moved on the map, or retyped)
    is the stored one, to about 1 cm (1e-7°; the stored shape is the posted one as the intake
    kept it: rings turned, positions rounded): a second click on Save after moving it."""
    import shapely
    from shapely.geometry import shape

    try:
        mine, theirs = shape(json.loads(posted)), shape(stored or {})
        return mine.geom_type == theirs.geom_type and bool(shapely.hausdorff_distance(mine, theirs) < 1e-7)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError, shapely.errors.GEOSException):
        return False


def loaded_values(form: Any) -> dict[str, list[str]] | None:
    """The edit form's values as its page was loaded (hidden field ``loaded``: the JSON of
    :func:`form_values` of the version the form started from), to tell what the person changed
    from what a colleague changed meanwhile; None when absent or not of that shape (a page
    from before the field, a hand-made form). Sent back by the browser, so trusted for nothing
    but saying what was typed: never stored, never used to decide what is saved."""
    raw = form.get("loaded") or ""
    try:
        value = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
    names = {f["name"] for f in contract.form_fields()}
    if not isinstance(value, dict) or not all(
            name in names and isinstance(values, list) and all(isinstance(v, str) for v in values)
            for name, values in value.items()):
        return None
    return value


def _not_saved(form: Any, base: dict[str, list[str]], stored: dict[str, Any]) -> list[dict[str, str]]:
    """What the person changed in an edit form that was not saved: the fields whose posted
    values differ from ``base`` (the values the form was loaded with, :func:`loaded_values`;
    the page's values of ``stored`` when unknown) and from the page of ``stored`` (the version
    saved meanwhile, which the form shows). A field the person left as loaded is not listed,
    even when a colleague changed it (offering its old value back would undo that change).
    Returns ``[{"name", "label", "value"}]`` in the form's order, each value as the page
    names it (vocabulary labels, numbers and dates as typed), so that a refused save loses
    nothing the person typed."""
    shown = form_values(stored)
    out = []
    for f in contract.form_fields():
        name, widget = f["name"], f["widget"]
        if widget == "hidden" or name not in form:
            continue
        mine = _as_shown(form.getlist(name), widget=widget)
        if mine == _as_shown(base.get(name, []), widget=widget) or mine == _as_shown(shown.get(name, []),
                                                                                     widget=widget):
            continue
        if widget in ("select", "checkboxes"):
            value = ", ".join(i18n.label(v) for v in mine)
        else:  # as typed (a date typed day first is compared as its ISO day, said as typed)
            typed = (formparse.newlines_as_lf(v) if widget == "textarea" else v.strip() for v in form.getlist(name))
            value = "\n".join(v for v in typed if v.strip())
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


def kept_as_shown(form: Any, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored value of every field a form filled from ``stored`` (the edit form, the map
    form copying a report) sends back as the page showed it: an untouched field keeps its
    value exactly (a date keeps its hour, a list its order, a text its line ends), so that
    saving an untouched edit form changes and records nothing, and a copy is its original."""
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
                 not_saved: list[dict[str, str]] | None = None, shape_not_saved: bool = False,
                 etag: str | None = None, loaded: dict[str, list[str]] | None = None,
                 changed_by: dict[str, Any] | None = None) -> tuple[str, int]:
    """The edit page of ``feature``. Its form carries ``etag`` and ``loaded`` (the version the
    person's form started from: ``feature``'s unless given, as a refused value keeps the one
    the person started from) and shows ``values`` (``feature``'s unless given, with its place
    written in the coordinates field when the shape is short enough to be typed)."""
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
        measure_json=json.dumps(drawing.measure_spec()),
        etag=etag or workflow_service.etag(feature["properties"]["revision"]),
        loaded=json.dumps(loaded if loaded is not None else form_values(feature), ensure_ascii=False),
        values=values,
        errors=ui_text.field_errors(error) if error else {}, error=error, stale=stale, not_saved=not_saved or [],
        shape_not_saved=shape_not_saved, changed_by=changed_by)
    return page, status


def _render_not_editable(feature: dict[str, Any], *, not_saved: list[dict[str, str]] | None = None,
                         shape_not_saved: bool = False) -> tuple[str, int]:
    """409: the edit page of a report no longer editable (``feature`` as it is now): what
    happened (its status, by whom and when as its history knows it), links to its page and
    to filing a copy when allowed, and what the person typed that was not saved."""
    user = current()
    props = feature["properties"]
    history = audit_service.history(get_session(), uuid.UUID(feature["id"]), viewer=user)
    page = render_template(
        "report_not_editable.html", feature=feature, p=props, event=_by_whom(_last_event(history, to=props["status"])),
        may_copy=policy.may_copy_report(user, props["commune_nis"], props["status"]),
        not_saved=not_saved or [], shape_not_saved=shape_not_saved)
    return page, 409


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
    if props["status"] not in workflow.EDITABLE_STATUSES:  # 409: says why, and where to go
        return _render_not_editable(feature)
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
        properties.update(kept_as_shown(request.form, reports_service.get_report(session, user, report_id)))
        body: dict[str, Any] = {"properties": properties}
        if geometry:
            body["geometry"] = feature_json["geometry"]
        feature = edit_report_from_body(report_id, body, request.form.get("etag") or None,
                                        repair=formparse.flag(request.form.get("repair"), where="repair"))
    except GeosignalError as error:
        if error.code in ("not_found", "forbidden", "csrf_failed") or error.status >= 500:
            raise
        session.rollback()
        current_feature = reports_service.get_report(session, user, report_id)
        base = loaded_values(request.form)
        if error.code == "not_editable" or current_feature["properties"]["status"] not in workflow.EDITABLE_STATUSES:
            # no form to fill in vain: what happened, where to go, and what was typed
            return _render_not_editable(current_feature, shape_not_saved=bool(geometry), not_saved=_not_saved(
                request.form, base if base is not None else form_values(current_feature), current_feature))
        if error.code == "precondition_failed":
            if _same_as(request.form, current_feature) and (
                    geometry == "" or _same_shape(geometry, current_feature["geometry"])):  # a second click on Save
                flash(_("Vos modifications étaient déjà enregistrées : rien d'autre n'a changé."), "success")
                return redirect(url_for("report_pages.report_page", report_id=current_feature["id"]))
            flash(_("Ce signalement a été modifié depuis que vous avez ouvert cette page (dans un autre onglet ou par "
                    "une autre personne). Sa version actuelle est affichée ci-dessous et a été gardée : refaites "
                    "vos changements si nécessaire."), "error")
            history = audit_service.history(session, uuid.UUID(current_feature["id"]), viewer=user)
            return _render_edit(current_feature, status=412, stale=True, shape_not_saved=bool(geometry),
                                not_saved=_not_saved(request.form, base if base is not None
                                                     else form_values(current_feature), current_feature),
                                changed_by=_by_whom(_last_event(history)))
        if error.code == "precondition_required":
            error.extra["message"] = _("Il manque à ce formulaire la version du signalement : rouvrez la page de "
                                       "modification depuis le signalement, puis refaites vos changements.")
        flash(_("Modification refusée : %(reason)s", reason=ui_text.refusal_summary(error)), "error")
        values = {k: request.form.getlist(k) for k in request.form.keys()}
        # the form keeps the version the person started from: a change saved meanwhile is still said on the
        # next save (412), not overwritten by it
        posted_etag = request.form.get("etag") or ""
        keep = error.code != "precondition_required" and re.fullmatch(r'"\d{1,19}"', posted_etag) is not None
        return _render_edit(current_feature, status=error.status, values=values, error=error,
                            etag=posted_etag if keep else None, loaded=base if keep else None)
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
            "user": text_parameter(request.args.get("user"), where="user"), "date_from": date_from, "date_to": date_to,
            "limit": limit, "before_id": before}


@bp.get("/admin/journal")
@login_required
def journal_page() -> Any:
    """The audit journal (referent, admins), newest first, filtered by action, commune, user and period.

    A refused filter (an unknown action or commune, a day that is none, a period ending before
    it starts, a text holding a control character) shows this page again with its status (400
    or 422): the form as typed, the sentence next to the field it concerns, and the journal
    unfiltered below it (as the validation queue does)."""
    policy.require(policy.may_read_audit(current()), "the journal is for the referent and admins")
    session = get_session()
    error: GeosignalError | None = None
    try:
        page = audit_service.journal(session, **journal_filters())
    except GeosignalError as failure:
        if failure.status >= 500:
            raise
        session.rollback()
        page, error = audit_service.journal(session), failure
        if failure.where in ("limit", "before"):  # no field of the form: the address (a link) was altered
            failure.extra["message"] = _("L'adresse de cette page du journal est incorrecte : rouvrez le Journal "
                                         "depuis le menu, puis filtrez-le à nouveau.")
        elif failure.where == "action":  # a list's value no option has (an altered link): not « a type »
            failure.extra["message"] = _("Action inconnue : choisissez-en une dans la liste.")
    typed = request.args.to_dict()
    return render_template("journal.html", page=page, actions=audit_service.AUDIT_ACTIONS, args=typed,
                           error=error, paging=typed if error is None else {}), (error.status if error else 200)


def json_response(doc: Any) -> Response:
    """Return ``doc`` as JSON (UTF-8)."""
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")
