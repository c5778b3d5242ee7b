"""Zones of overlapping reports under /api/v1/zones: thin views over
:mod:`geosignal.services.zones`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.params import parse_commune
from geosignal.services import zones as zones_service
from geosignal.views.api import geojson_response, json_body, refuse_unknown_members

bp = Blueprint("zones", __name__, url_prefix="/api/v1")


def _body() -> dict[str, Any]:
    """Return the JSON object posted (``{}`` when the body is empty), read as every JSON write
    reads it (:func:`geosignal.views.api.json_body`: 415 for another content type — a body
    sent as text or a form was acted on)."""
    if not request.get_data().strip():
        return {}
    return json_body()


@bp.get("/zones")
def list_zones() -> Response:
    """Return the zones of overlapping reports as a GeoJSON FeatureCollection.

    The referent and admins read every zone; a representative the zones of their commune.
    Properties: `state` (`proposed`, `confirmed`), `network`, `report_ids`, `report_count`,
    `technologies`, `operators`, `commune_nis`, `area_m2`, `created_at`, `updated_at`."""
    session = get_session()
    user = current()
    doc = zones_service.list_zones(session, user, state=request.args.get("state") or None,
                                   network=request.args.get("network") or None,
                                   commune=parse_commune(session, request.args.get("commune")))
    return geojson_response(doc)


@bp.get("/zones/<zone_id>")
def get_zone(zone_id: str) -> Response:
    """Return one zone (a Feature) the user may read."""
    return geojson_response(zones_service.get_zone(get_session(), current(), zone_id))


def _decided(decide: Any, action: str, members: set[str], required: str | None = None) -> Response:
    """Take a decision on a zone (referent, admins; 403 otherwise): ``decide(session, user,
    body)`` is the service's call with the JSON body (``members``: those it takes, any other
    400 ``invalid_request`` naming it; ``required``: a member it must hold, 400
    ``invalid_request`` when missing); journal it as ``action``, commit and answer its
    result (a Feature or a FeatureCollection)."""
    user = current()
    session = get_session()
    if not zones_service.may_decide(user):
        raise GeosignalError("forbidden", "the referent and admins confirm, join and split zones")
    body = _body()
    refuse_unknown_members(body, members)
    if required is not None and required not in body:
        raise GeosignalError("invalid_request", f"{required} is required", where=f"/{required}")
    result, summary = decide(session, user, body)
    zones_service.record_decision(session, user, action, summary)
    session.commit()
    return geojson_response(result)


@bp.post("/zones/<zone_id>/confirm")
def confirm_zone(zone_id: str) -> Response:
    """Confirm a proposed zone (referent, admins): its reports stay one zone.

    Optional body `{"report_ids": [...]}`: the reports the referent saw; 409 `zone_changed`
    when the zone holds others now."""
    return _decided(lambda session, user, body: zones_service.confirm_zone(
        session, user, zone_id, body.get("report_ids")), "merge", {"report_ids"})


@bp.post("/zones/<zone_id>/split")
def split_zone(zone_id: str) -> Response:
    """Take reports out of a zone (referent, admins): body `{"report_ids": [...]}`.

    The reports taken out are kept apart for good. Returns the zones now holding the zone's
    former reports (a FeatureCollection)."""
    return _decided(lambda session, user, body: zones_service.split_zone(
        session, user, zone_id, body["report_ids"]), "split", {"report_ids"}, required="report_ids")


@bp.post("/zones/<zone_id>/join")
def join_zones(zone_id: str) -> Response:
    """Join another zone of the same network to this one (referent, admins): body
    `{"zone_id": <other>, "report_ids": [...] (optional: the two zones' reports as read)}`.

    Their reports are one confirmed zone from now on, even apart. Returns the zone (a
    Feature); 422 `invalid_join` (itself, another network), 409 `zone_changed`."""
    return _decided(lambda session, user, body: zones_service.join_zones(
        session, user, zone_id, body["zone_id"], body.get("report_ids")), "merge", {"zone_id", "report_ids"},
        required="zone_id")


@bp.post("/zones/<zone_id>/add")
def add_to_zone(zone_id: str) -> Response:
    """Add a report that is in no zone to this zone of its network (referent, admins): body
    `{"report_id": <uuid>, "report_ids": [...] (optional: the zone's reports as read)}`.

    The zone's reports and this one are one confirmed zone from now on, even apart. Returns
    the zone (a Feature); 422 `invalid_join` (another network, in a zone already, a status the
    figures do not count), 404 (no such report), 409 `zone_changed`."""
    return _decided(lambda session, user, body: zones_service.add_to_zone(
        session, user, zone_id, body["report_id"], body.get("report_ids")), "merge", {"report_id", "report_ids"},
        required="report_id")
