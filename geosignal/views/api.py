"""JSON API under /api/v1: thin views that parse, authorise, call one service, serialise."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.http import unquote_etag

from geosignal import contract, formparse, policy, workflow
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.params import parse_bbox, parse_commune, whole_number
from geosignal.services import audit as audit_service
from geosignal.services import communes as communes_service
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services.intake import feature_id, known_finite, loads_strict, parse_report_feature
from geosignal.services.intake.batch import outside_shares, outside_warning
from geosignal.services.intake.core import resolve_crs
from geosignal.services.territory import limits_from_config, service_area
from geosignal.textsafety import pointer_key
from geosignal.vocab import STATUSES

bp = Blueprint("api", __name__, url_prefix="/api/v1")

GEOJSON = "application/geo+json"


def geojson_response(doc: dict[str, Any], status: int = 200, **headers: str) -> Response:
    """Return ``doc`` as ``application/geo+json`` (UTF-8, not ASCII-escaped)."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype=GEOJSON, headers=headers)


def not_modified(etag: str, **headers: str) -> Response | None:
    """Return ``304 Not Modified`` when the request's ``If-None-Match`` names ``etag`` (a quoted
    strong ETag; weak comparison, and ``*``, as RFC 9110 §13.1.2 says), else None. Call it once
    the answer is known to be a 2xx: an error is never turned into a 304."""
    tag, _weak = unquote_etag(etag)
    if tag is None or not request.if_none_match.contains_weak(tag):
        return None
    return Response(status=304, headers={"ETag": etag, **headers})


def current_service_area():  # noqa: ANN201
    """Return the territory served, cached on the application (rebuilt when the communes
    change) and looked up once per request (a report's intake and its warnings both ask)."""
    if "service_area" not in g:
        cache = current_app.extensions.setdefault("geosignal.service_area", {})
        g.service_area = service_area(get_session(), cache, current_app.config["SERVICE_MARGIN_M"])
    return g.service_area


def _flag(name: str) -> bool:
    return formparse.flag(request.args.get(name), where=name)  # maybe, 2, y: 400, never false


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw)
    if value is None:
        raise GeosignalError("invalid_request", f"{name} must be a whole number (digits 0-9)", where=name)
    return value


def create_report_from_body(body: bytes, *, crs: str | None, repair: bool,
                            copied_from: tuple[uuid.UUID, str] | None = None) -> tuple[dict[str, Any], int, str]:
    """Run a posted Feature through intake and store it, honouring ``Idempotency-Key``.

    Returns (stored Feature, HTTP status, Location). Shared by the API and the map form (whose
    copy of a rejected or withdrawn report names it: ``copied_from``, see
    :func:`~geosignal.services.reports.create_report`).
    """
    user = current()
    policy.require(policy.may_file_reports(user), "the referent reads reports; representatives write them")
    session = get_session()
    key = request.headers.get("Idempotency-Key") or request.form.get("idempotency_key")
    limits = limits_from_config(current_app.config)
    doc = loads_strict(body, limits=limits)
    if not isinstance(doc, dict):  # (a decoded string must not be parsed again as JSON text)
        raise GeosignalError("invalid_geojson", "A GeoJSON Feature (object) was expected.", where="/")
    fingerprint = reports_service.request_fingerprint(doc, crs=crs, repair=repair, status=request.form.get("status"))
    if key:
        stored = reports_service.replay_idempotent(session, user, key, fingerprint)
        if stored is not None:
            g.idempotent_replay = True
            return stored.response_body, stored.response_status, stored.location or ""
    status = request.form.get("status") or "submitted"
    if isinstance(doc, dict) and isinstance(doc.get("properties"), dict) and "status" in doc["properties"]:
        status = doc["properties"].pop("status") or status  # null counts as absent, as for every property
    if status not in workflow.INITIAL_STATUSES:
        raise GeosignalError("invalid_attribute", f"a new report is {' or '.join(workflow.INITIAL_STATUSES)}",
                             where="/properties/status")
    report_input = parse_report_feature(doc, area=current_service_area(), limits=limits, crs=crs, repair=repair)
    feature, created = reports_service.create_report(session, user, report_input, status=status,
                                                     copied_from=copied_from)
    warnings = [*report_input.warnings, *_outside_warning(report_input, feature)]
    if not created:
        warnings.append({"code": "probable_duplicate", "detail": "identical to a report you filed seconds ago; "
                         "the first one is returned", "report_id": feature["id"]})
    if warnings or report_input.repair:
        feature["intake"] = {"warnings": warnings, "repair": report_input.repair}
    status = 201 if created else 200
    location = url_for("api.get_report", report_id=feature["id"])
    if key:
        reports_service.remember_idempotent(session, user, key, fingerprint, status, feature, location)
    session.commit()
    return feature, status, location


@bp.post("/reports")
def post_report() -> Response:
    """Create a report from a GeoJSON Feature → 201 with ``Location``, the stored Feature and
    its ``ETag`` (what ``PATCH`` takes in ``If-Match``: no read needed before a first edit); a
    replay of an ``Idempotency-Key`` answers the first response as it was, without one."""
    if request.mimetype not in ("application/json", GEOJSON, ""):
        raise GeosignalError("unsupported_media_type", "send application/geo+json or application/json")
    feature, status, location = create_report_from_body(
        request.get_data(), crs=request.args.get("crs"), repair=_flag("repair")
    )
    headers = {"Location": location}
    if g.get("idempotent_replay"):
        headers["Idempotent-Replayed"] = "true"
    elif "revision" in feature.get("properties", {}):
        headers["ETag"] = workflow_service.etag(feature["properties"]["revision"])
    return geojson_response(feature, status, **headers)


@bp.get("/reports/<report_id>")
def get_report(report_id: str) -> Response:
    """Return one report (a Feature) the user may see, with its ``ETag``; 304 without a body
    when ``If-None-Match`` names it (the report did not change)."""
    feature = reports_service.get_report(get_session(), current(), report_id)
    return not_modified(workflow_service.etag(feature["properties"]["revision"])) or _with_etag(feature)


@bp.get("/reports")
def list_reports() -> Response:
    """Return reports as a FeatureCollection, oldest first, with a ``next`` cursor link."""
    status = request.args.get("status")
    if status and status not in STATUSES:
        raise GeosignalError("invalid_request", f"status must be one of {', '.join(STATUSES)}", where="status")
    page = reports_service.list_reports(
        get_session(), current(), commune=parse_commune(get_session(), request.args.get("commune")), bbox=parse_bbox(request.args.get("bbox")),
        status=status, limit=_int_arg("limit", 100), cursor=request.args.get("cursor"),
    )
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": page.features, "links": []}
    if page.next_cursor:
        args = {**request.args.to_dict(), "cursor": page.next_cursor}
        doc["links"].append({"rel": "next", "type": GEOJSON, "href": url_for("api.list_reports", **args)})
        doc["next_cursor"] = page.next_cursor
    return geojson_response(doc)


def _with_etag(feature: dict[str, Any], status: int = 200) -> Response:
    response = geojson_response(feature, status)
    response.headers["ETag"] = workflow_service.etag(feature["properties"]["revision"])
    return response


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, read strictly (:mod:`geosignal.json_provider`).

    Raises ``unsupported_media_type`` (415) for another content type, ``invalid_json`` (400)
    for a body that is not JSON, ``invalid_request`` (400, where ``/``) for JSON that is not
    an object."""
    if request.mimetype not in ("application/json", GEOJSON, "application/merge-patch+json"):
        raise GeosignalError("unsupported_media_type", "send application/json")
    try:
        body = current_app.json.loads(request.get_data() or b"null")  # strict: see geosignal.json_provider
    except ValueError:
        raise GeosignalError("invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GeosignalError("invalid_request", "the body must be a JSON object", where="/")
    return body


def refuse_unknown_members(body: dict[str, Any], known: set[str] | frozenset[str]) -> None:
    """Raise ``invalid_request`` (400) naming the first member of ``body`` (in name order)
    that is not one of ``known`` (``where`` its pointer, ``/extra``): a member a write ignored
    was a typo the client never heard of (``reasons`` for ``reason``), so none is ignored."""
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise GeosignalError("invalid_request", f"unknown member {unknown[0]}", where=f"/{unknown[0]}")


@bp.post("/reports/<report_id>/transitions")
def post_transition(report_id: str) -> Response:
    """Move a report along the workflow: body ``{"to": status, "reason": text}`` → the
    report's Feature with its new ``ETag``. ``If-Match`` is honoured when sent."""
    body = json_body()
    refuse_unknown_members(body, {"to", "reason"})
    session = get_session()
    feature = workflow_service.transition(session, report_id, body.get("to"), current(), body.get("reason"),
                                          if_match=request.headers.get("If-Match"))
    session.commit()
    return _with_etag(feature)


def edit_report_from_body(report_id: str, body: dict[str, Any], if_match: str | None, *,
                          crs: str | None = None, repair: bool = False) -> dict[str, Any]:
    """Edit a report from a partial Feature ``body`` (``geometry`` and/or ``properties``; a
    property given replaces the stored one, ``null`` clears it): the merged Feature goes
    through the same intake as a new report, then :func:`reports_service.edit_report`.
    Shared by the API and the edit page; the caller commits. The Feature carries ``intake``
    (``warnings``, ``repair``) when the intake has something to say, as a new report's does."""
    session = get_session()
    user = current()
    stored = reports_service.get_report(session, user, report_id)
    policy.require(policy.may_write_in_commune(user, stored["properties"]["commune_nis"]),
                   "the commune's representative edits its reports; the referent asks questions (needs_info)")
    if if_match is None:
        raise GeosignalError("precondition_required", "send If-Match with the ETag of the report you edited")
    # the copy the edit is merged into is read under the row's lock (If-Match: * would write a
    # copy read before a concurrent change back over it)
    stored = reports_service.get_report_for_update(session, user, stored)
    refuse_unknown_members(body, {"type", "geometry", "properties", "id", "crs"})
    if "type" in body and body["type"] != "Feature":
        raise GeosignalError("invalid_geojson", 'an edit is a (partial) Feature: type must be "Feature"', where="/type")
    given_id = feature_id(body, "")  # a string or a number (RFC 7946), null as absent; else 422 at /id
    if given_id is not None and given_id != stored["id"]:
        raise GeosignalError("invalid_request", "id is the report's own id, which cannot be changed", where="/id")
    if "properties" in body and not isinstance(body["properties"], dict):
        raise GeosignalError("invalid_geojson", "properties must be an object", where="/properties")
    properties = reports_service.current_input(stored)
    read_only = set(stored["properties"]) - set(reports_service.ATTRIBUTES)
    for name, value in (body.get("properties") or {}).items():
        if name in read_only:  # sent back as read (a GET, changed, PATCHed whole): only a change is refused
            if not contract.same_json_value(value, stored["properties"][name]):  # 3.0 is 3; true is not 1
                # a Feature read, changed and sent back whole carries the read-only members of the
                # state it read: changed meanwhile, it is 412 (a client re-reads on 412), not a
                # « revision cannot be edited » 422
                workflow_service.require_if_match(if_match, stored["properties"]["revision"])
                how = ('change it with {"status": …} or POST …/transitions' if name == "status" else
                       "geosignal computes it")
                raise GeosignalError("invalid_attribute", f"{name} cannot be edited: {how}",
                                     where=f"/properties/{pointer_key(name)}")
            continue
        if value is None:
            properties.pop(name, None)
        else:
            properties[name] = value
    geometry_given = "geometry" in body
    # a radius alone makes the stored point a circle: the geometry changes as if it were sent
    circle = not geometry_given and (body.get("properties") or {}).get("radius") is not None
    if not geometry_given:  # a CRS for no coordinates: checked as a POST checks it, used for nothing
        resolve_crs(crs, body.get("crs"), where="")
    merged = {"type": "Feature", "geometry": body["geometry"] if geometry_given else stored["geometry"],
              "properties": properties}
    if geometry_given and "crs" in body:  # (GeoJSON 2008's crs member, read as a POST reads it: of the body's
        merged["crs"] = body["crs"]       # coordinates; the stored geometry is EPSG:4326 whatever it says)
    report_input = parse_report_feature(merged, area=current_service_area(),
                                        limits=limits_from_config(current_app.config),
                                        crs=crs if geometry_given else None, repair=repair,
                                        finite=known_finite(body))  # what is stored is finite
    feature = reports_service.edit_report(session, user, stored["id"], report_input, if_match=if_match,
                                          geometry_given=geometry_given or circle)
    warnings = [*report_input.warnings,
                *(_outside_warning(report_input, feature) if geometry_given or circle else [])]
    if warnings or report_input.repair:  # what was not read or was changed, said as a POST says it
        feature["intake"] = {"warnings": warnings, "repair": report_input.repair}
    return feature


def _outside_warning(report_input: Any, feature: dict[str, Any]) -> list[dict[str, Any]]:
    """``[partly_outside_commune]`` when a tenth or more of the stored report's geometry lies
    outside the commune it was filed in (:func:`geosignal.services.intake.batch.outside_shares`),
    else ``[]``."""
    nis, name = feature["properties"]["commune_nis"], feature["properties"]["commune_name"]
    share = outside_shares(current_service_area(), np.asarray([report_input.geometry], dtype=object), [nis])[0]
    warning = outside_warning(share, nis, name, report_input.geometry)
    return [warning] if warning else []


@bp.patch("/reports/<report_id>")
def patch_report(report_id: str) -> Response:
    """Edit a report, or change its status.

    A body ``{"status": …, "reason": …}`` is an alias of the transitions endpoint (same
    table, rights and errors; ``If-Match`` honoured when sent). Any other body is an edit of
    a ``draft``, ``submitted`` or ``needs_info`` report by its commune: a partial GeoJSON
    Feature (``geometry`` and/or ``properties``; ``null`` clears a property; a ``crs`` member
    names the CRS of the edited geometry, as in a POST) validated like a new report; ``If-Match`` with the report's ``ETag`` is required (428 without it, 412 when
    it changed meanwhile: nothing is changed). Answers the Feature and its new ``ETag``."""
    if request.mimetype not in ("application/json", GEOJSON, "application/merge-patch+json"):
        raise GeosignalError("unsupported_media_type", "send application/json")
    body = loads_strict(request.get_data() or b"null", limits=limits_from_config(current_app.config))
    if not isinstance(body, dict):  # as a POST's body that is no Feature
        raise GeosignalError("invalid_geojson", "the body must be a JSON object: a partial GeoJSON Feature, or "
                             "{\"status\": …, \"reason\": …}", where="/")
    session = get_session()
    if "status" in body:
        unknown = sorted(set(body) - {"status", "reason"})
        if unknown:
            raise GeosignalError("invalid_request", "a status change carries only status and reason",
                                 where=f"/{unknown[0]}")
        feature = workflow_service.transition(session, report_id, body["status"], current(), body.get("reason"),
                                              if_match=request.headers.get("If-Match"), member="status")
    else:
        feature = edit_report_from_body(report_id, body, request.headers.get("If-Match"),
                                        crs=request.args.get("crs"), repair=_flag("repair"))
    session.commit()
    return _with_etag(feature)


@bp.get("/reports/<report_id>/history")
def report_history(report_id: str) -> Response:
    """Return a report's history, oldest first: ``{"report_id", "reference", "history": [{"at",
    "actor", "action", "from", "to", "reason"}]}``."""
    session = get_session()
    feature = reports_service.get_report(session, current(), report_id)
    entries = audit_service.history(session, uuid.UUID(feature["id"]), viewer=current())
    return Response(json.dumps({"report_id": feature["id"], "reference": feature["properties"]["reference"],
                                "history": entries}, ensure_ascii=False),
                    mimetype="application/json")


@bp.get("/audit")
def audit_log() -> Response:
    """Return the audit journal (referent, admins), newest first: ``{"events": [...], "next_before_id"}``.

    Filters: ``action``, ``commune`` (NIS), ``user`` (e-mail), ``from`` / ``to`` (days,
    Brussels time), ``limit`` (1–500, 100), ``before`` (an event id: the next page)."""
    from geosignal.views.report_pages import journal_filters, json_response

    policy.require(policy.may_read_audit(current()), "the audit journal is for the referent and admins")
    return json_response(audit_service.journal(get_session(), **journal_filters()))


@bp.get("/communes")
def list_communes() -> Response:
    """Return the loaded communes (open data) as a FeatureCollection, with an ETag of its
    content and ``Cache-Control: no-cache`` (a browser keeps it and asks again with
    ``If-None-Match``: 304 while the communes are the same; ``security.PUBLIC_DATA``)."""
    response = geojson_response(
        {"type": "FeatureCollection", "features": communes_service.list_communes(get_session())}
    )
    etag = '"' + hashlib.sha256(response.get_data()).hexdigest()[:32] + '"'
    response.headers.update({"ETag": etag, "Cache-Control": "no-cache"})
    return not_modified(etag, **{"Cache-Control": "no-cache"}) or response
