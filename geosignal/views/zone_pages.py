"""The referent's page of zones of overlapping reports: ``/zones`` (proposed zones first,
then confirmed) and its form actions: confirm a zone, take one report out of it, join another
zone of its network to it, add a report of its network that is in no zone.

Thin views over :mod:`geosignal.services.zones` (the same calls as ``POST
/api/v1/zones/<id>/confirm``, ``/join``, ``/add`` and ``/split``); each action redirects back to the page with a
flash message. The referent and admins only.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import text
from werkzeug.wrappers import Response

from geosignal import i18n, ui_text
from geosignal.auth import current, require_policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.formparse import whole_number
from geosignal.i18n import ngettext
from geosignal.params import parse_commune
from geosignal.services import communes as communes_service
from geosignal.services import zones as zones_service
from geosignal.vocab import NETWORKS

bp = Blueprint("zone_pages", __name__)

#: Why a representative gets 403 on the zones page.
ZONES_DENIED = "the referent and admins confirm and split zones"


#: Reports of a zone listed on its card, each with its take-out form (a drive test's import
#: made a zone of 5,338 reports: 7,043 forms, an 8.8 MB page); ``?membres=<zone id>`` lists
#: every report of that zone.
MEMBERS_SHOWN = 10
#: References named for each nearby zone offered to join (its oldest reports).
REFERENCES_NAMED = 2


def members_digest(report_ids: list[str]) -> str:
    """What the card's confirm form says it showed: a digest of the zone's reports (all of
    them, listed or not; order-free), 32 hex characters."""
    return hashlib.sha256(",".join(sorted(report_ids)).encode()).hexdigest()[:32]


def _cards(session: Any, features: list[dict[str, Any]], names: dict[str, str],
           unfolded: int | None = None) -> list[dict[str, Any]]:
    """Zone cards: proposed zones first, then confirmed (zone order within each), with the
    commune's name (``names``: NIS code → name), its first :data:`MEMBERS_SHOWN` reports (every one for the zone
    ``unfolded``) with their reference and shape (GeoJSON, EPSG:4326, 6 decimals: the map
    tells the reports apart; one query for all of them and one for the names), how many
    more, :func:`members_digest` of all, the zones of its network nearby, to join
    (:func:`~geosignal.services.zones.nearby_zones`, each named by its first references),
    and the reports of its network in no zone nearby, to add
    (:func:`~geosignal.services.zones.nearby_reports`)."""
    def listed(f: dict[str, Any]) -> list[str]:
        ids = f["properties"]["report_ids"]
        return ids if f["id"] == unfolded else ids[:MEMBERS_SHOWN]

    ids = [rid for f in features for rid in listed(f)]
    rows = session.execute(text(
        "SELECT id::text, reference, ST_AsGeoJSON(geometry, 6) FROM reports WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": ids}).all() if ids else []
    refs = {rid: ref for rid, ref, _shape in rows}
    shapes = {rid: shape for rid, _ref, shape in rows}
    zone_ids = [int(f["id"]) for f in features]
    nearby = zones_service.nearby_zones(session, zone_ids)
    lone = zones_service.nearby_reports(session, zone_ids)
    offered = sorted({n["id"] for near in nearby.values() for n in near})
    rows = session.execute(text(
        "SELECT z.zone_id, (array_agg(r.reference ORDER BY r.seq))[1:CAST(:n AS int)], array_agg(r.id::text) "
        "FROM zone_reports z JOIN reports r ON r.id = z.report_id WHERE z.zone_id = ANY(:ids) GROUP BY z.zone_id"),
        {"ids": offered, "n": REFERENCES_NAMED}).all() if offered else []
    named = {zid: refs for zid, refs, _ids in rows}
    digests = {zid: members_digest(ids) for zid, _refs, ids in rows}  # what each offer stands for

    def commune(n: dict[str, Any]) -> str:
        return names.get(n["commune_nis"], n["commune_nis"] or "—")

    order = {state: i for i, state in enumerate(("proposed", "confirmed"))}
    cards = []
    for f in sorted(features, key=lambda f: (order.get(f["properties"]["state"], 9), f["id"])):
        p = f["properties"]
        shown = listed(f)
        cards.append({**p, "id": f["id"], "commune_name": commune(p),
                      "reports": [{"id": rid, "reference": refs.get(rid, rid), "geometry": shapes.get(rid)}
                                  for rid in shown],
                      "more": len(p["report_ids"]) - len(shown), "members": members_digest(p["report_ids"]),
                      "nearby": [{**n, "commune_name": commune(n), "references": list(named.get(n["id"], [])),
                                  "more": n["report_count"] > REFERENCES_NAMED, "members": digests.get(n["id"], "")}
                                 for n in nearby.get(int(f["id"]), [])],
                      "lone": [{**n, "commune_name": commune(n)} for n in lone.get(int(f["id"]), [])],
                      "geometry": json.dumps(f["geometry"], separators=(",", ":"))})
    return cards


#: Zones shown on one page (a campaign's import makes thousands: 20,000 points, 3,836 zones).
PAGE_SIZE = 50


@bp.get("/zones")
@login_required
@require_policy(zones_service.may_decide, ZONES_DENIED)
def zones_page() -> Any:
    """The zones of overlapping reports, :data:`PAGE_SIZE` at a time (``?commune=`` a NIS
    code, ``state``, ``network``, ``page`` from 1, ``membres`` the zone whose every report is
    listed): one card per zone (commune, network, number of reports, technologies, operators,
    links to its first reports), the selected zone's union on a map, a button to confirm a
    proposed zone, one per report listed to take it out, and the nearby zones and lone reports
    to join or add."""
    return _render_zones()


def _view() -> dict[str, Any]:
    """The page's filters and page number read from the query string (the actions' URLs
    carry them, to come back to the same page): only those given. Raises ``unknown_commune``
    (422), ``invalid_request`` (400: a page that is not a whole number from 1); an unknown
    state or network is refused by :func:`~geosignal.services.zones.page_of_zones` (400)."""
    args = request.args
    view: dict[str, Any] = {}
    commune = parse_commune(get_session(), args.get("commune"))
    if commune:
        view["commune"] = commune
    for name in ("state", "network"):  # (checked by the service, which reads the page with them)
        if args.get(name):
            view[name] = args[name]
    if args.get("membres"):  # the zone whose every report is listed
        zone = whole_number(args["membres"])
        if zone is None:
            raise GeosignalError("invalid_request", "membres must be a zone's number", where="membres")
        view["membres"] = zone
    if args.get("page"):
        page = whole_number(args["page"])
        if page is None or page < 1:
            raise GeosignalError("invalid_request", "page must be a whole number from 1 (18 digits at most)", where="page")
        if page > 1:
            view["page"] = page
    return view


def _render_zones(status: int = 200, error: GeosignalError | None = None, zone_id: str | None = None) -> Any:
    session = get_session()
    view = _view()
    found = zones_service.page_of_zones(session, current(), state=view.get("state"), network=view.get("network"),
                                        commune=view.get("commune"), page=view.get("page", 1), per_page=PAGE_SIZE)
    page = found["page"]
    communes = communes_service.commune_choices(session)  # in reading order, as every commune list
    return render_template("zones.html", zones=_cards(session, found["features"], dict(communes), view.get("membres")),
                           error=error,
                           failed_zone=zone_id,
                           view=view,
                           filters={k: v for k, v in view.items() if k not in ("page", "membres")},
                           total=found["total"],
                           first=(page - 1) * PAGE_SIZE + 1, last=min(page * PAGE_SIZE, found["total"]), page=page,
                           pages=found["pages"], communes=communes, networks=NETWORKS), status


def _done(message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("zone_pages.zones_page", **_view()))


def _failed(session: Any, failure: GeosignalError, zone_id: str) -> Any:
    """The zones page again, as it is now, with the refusal's status and sentence (nothing
    changed): an unknown zone 404, a report that is not the zone's 422, a zone that changed
    since the page was read 409."""
    if failure.status >= 500 or failure.status in (401, 403):
        raise failure
    session.rollback()
    reason = (_("cette zone n'existe plus (une autre décision l'a défaite ou réunie à une autre) ; voici les "
                "zones telles qu'elles sont.") if failure.code == "not_found" else ui_text.error_message(failure))
    flash(_("Rien n'a été modifié : %(reason)s", reason=reason), "error")
    return _render_zones(failure.status, failure, zone_id)


def _decide(decision: Any, zone_id: str, value: Any, *, action: str) -> Any:
    """Take a decision on a zone (``decision``: a service of :mod:`geosignal.services.zones`
    called with the user, the zone and ``value``), journal it as ``action`` and commit; return
    its audit summary (a dict), or the page again when refused (nothing changed). The page's
    address (filters, page number: where the answer goes back to) is checked first: a decision
    was taken, then refused as a 400 for ``?page=abc``."""
    _view()
    session = get_session()
    user = current()
    try:
        _result, summary = decision(session, user, zone_id, value)
    except GeosignalError as failure:
        return _failed(session, failure, zone_id)
    zones_service.record_decision(session, user, action, summary)
    session.commit()
    return summary


@bp.post("/zones/<zone_id>/confirm")
@login_required
@require_policy(zones_service.may_decide, ZONES_DENIED)
def confirm_zone(zone_id: str) -> Any:
    """Confirm a zone from the page's form (``members``: :func:`members_digest` of the
    reports the card stood for; or ``report_ids``, one field each); a zone that changed
    meanwhile is not confirmed (flash, back to the page)."""
    shown = request.form.getlist("report_ids") or None
    digest = request.form.get("members")
    if shown is None and digest:
        summary = _decide(_confirm_as_shown, zone_id, digest, action="merge")
    else:
        summary = _decide(zones_service.confirm_zone, zone_id, shown, action="merge")
    if not isinstance(summary, dict):
        return summary
    return _done(ngettext("Zone confirmée : son %(num)s signalement est un seul lieu.",
                          "Zone confirmée : ses %(num)s signalements sont un seul lieu.", len(summary["report_ids"])))


def _confirm_as_shown(session: Any, user: Any, zone_id: str, digest: str) -> Any:
    """Confirm the zone when its reports are still those whose digest the card carried
    (``zone_changed`` otherwise); the service checks them again under the network's lock."""
    return zones_service.confirm_zone(session, user, zone_id, _as_shown(session, user, zone_id, digest))


def _as_shown(session: Any, user: Any, zone_id: str, digest: str | None) -> list[str] | None:
    """The reports of zone ``zone_id`` when they are still those whose digest
    (:func:`members_digest`) the page's form carried; None without a digest (a form that
    does not say what it showed). Raises ``zone_changed`` (409) when they changed,
    ``not_found`` (404) when the zone is gone."""
    if not digest:
        return None
    members = zones_service.get_zone(session, user, zone_id)["properties"]["report_ids"]
    if members_digest(members) != digest:
        raise GeosignalError("zone_changed", f"zone {zone_id} now holds {len(members)} reports; read it again")
    return members


def _join_as_shown(session: Any, user: Any, zone_id: str, form: Any) -> Any:
    """Join the zone chosen (``other``) when both zones still hold the reports the card showed
    (``members``, ``members_<other>``); the service checks them again under the lock."""
    other = form.get("other", "")
    zones_service.other_zone_id(other)  # a choice that names no zone: 422, as without digests
    mine = _as_shown(session, user, zone_id, form.get("members"))
    theirs = _as_shown(session, user, other, form.get(f"members_{other}")) if mine is not None else None
    shown = [*mine, *theirs] if mine is not None and theirs is not None else None
    return zones_service.join_zones(session, user, zone_id, other, shown)


def _add_as_shown(session: Any, user: Any, zone_id: str, form: Any) -> Any:
    """Add the report chosen (``report_id``) when the zone still holds the reports the card
    showed (``members``); the service checks them again under the lock."""
    shown = _as_shown(session, user, zone_id, form.get("members"))
    return zones_service.add_to_zone(session, user, zone_id, form.get("report_id", ""), shown)


def _split_as_shown(session: Any, user: Any, zone_id: str, report_id: str) -> Any:
    """Take out the report the card listed (``report_id``): a report no longer in the zone
    (another tab took it out, a withdrawal…) means the zone changed since the page was read
    (``zone_changed``, 409: the page said « choose some, not none nor all »)."""
    members = {str(m) for m in zones_service.get_zone(session, user, zone_id)["properties"]["report_ids"]}
    try:
        listed = str(uuid.UUID(report_id))
    except ValueError:
        listed = None  # no report's id: the service says so
    if listed is not None and listed not in members:
        raise GeosignalError("zone_changed", f"report {report_id} is no longer in zone {zone_id}; read it again")
    return zones_service.split_zone(session, user, zone_id, [report_id])


@bp.post("/zones/<zone_id>/split")
@login_required
@require_policy(zones_service.may_decide, ZONES_DENIED)
def split_zone(zone_id: str) -> Any:
    """Take one report (form field ``report_id``) out of a zone; it stays apart for good."""
    summary = _decide(_split_as_shown, zone_id, request.form.get("report_id", ""), action="split")
    if not isinstance(summary, dict):
        return summary
    session = get_session()
    taken = [str(r) for r in summary["taken_out"]]
    references = session.scalars(text("SELECT reference FROM reports WHERE id = ANY(CAST(:ids AS uuid[])) "
                                      "ORDER BY reference"), {"ids": taken}).all()
    return _done(_("%(refs)s retiré de sa zone (réseau %(network)s) : il n'y sera plus regroupé.",
                   refs=", ".join(references), network=i18n.label(summary["network"])))


@bp.post("/zones/<zone_id>/join")
@login_required
@require_policy(zones_service.may_decide, ZONES_DENIED)
def join_zones(zone_id: str) -> Any:
    """Join the zone chosen in the card's list (form field ``other``) to this one: one
    confirmed zone from now on; refused (flash, back to the page) when either zone changed
    since the page was read (``members``, ``members_<other>``: their digests) or is gone."""
    summary = _decide(_join_as_shown, zone_id, request.form, action="merge")
    if not isinstance(summary, dict):
        return summary
    return _done(ngettext("Zones réunies : leur %(num)s signalement est un seul lieu.",
                          "Zones réunies : leurs %(num)s signalements sont un seul lieu.", len(summary["report_ids"])))


@bp.post("/zones/<zone_id>/add")
@login_required
@require_policy(zones_service.may_decide, ZONES_DENIED)
def add_to_zone(zone_id: str) -> Any:
    """Add the report chosen in the card's list (form field ``report_id``), in no zone, to
    this zone: one confirmed zone from now on; refused (flash, back to the page) when the
    zone changed since the page was read (``members``: its digest) or the report meanwhile."""
    summary = _decide(_add_as_shown, zone_id, request.form, action="merge")
    if not isinstance(summary, dict):
        return summary
    reference = get_session().scalar(text("SELECT reference FROM reports WHERE id = CAST(:id AS uuid)"),
                                     {"id": summary["added"][0]})
    return _done(ngettext("%(ref)s ajouté à la zone : son %(num)s signalement est un seul lieu.",
                          "%(ref)s ajouté à la zone : ses %(num)s signalements sont un seul lieu.",
                          len(summary["report_ids"]), ref=reference))
