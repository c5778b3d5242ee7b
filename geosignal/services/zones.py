"""Zones: reports of one network that speak of the same place, proposed by PostgreSQL and
confirmed or split by the referent.

Grouping happens when reports are written (statement-level triggers on ``reports``, SQL and
rules in :mod:`geosignal.services.zones_sql`), never when zones are read. This module reads
zones, records the referent's decisions (each one regroups the zone's reports at once, under
the network's lock), applies the grouping distance, and recomputes everything for checks.

Zones leave as RFC 7946 Features: ``id`` the zone's number, ``geometry`` the union of its
reports (EPSG:4326, ``[lon, lat]``, exteriors counter-clockwise), ``properties``: ``state``
(``proposed``, ``confirmed``), ``network``, ``report_ids`` (oldest report first),
``report_count``, ``technologies``, ``operators`` (unions, vocabulary order),
``commune_nis`` (largest part), ``area_m2`` (polygonal part, EPSG:31370, 0.1 m²; null when
none), ``created_at``, ``updated_at``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract, policy
from geosignal.errors import GeosignalError
from geosignal.services.zones_sql import (
    DECISION_KINDS,
    DEFAULT_DISTANCE_M,
    EXCLUDED_STATUSES,
    LOCK_ORDER,
    ZONE_STATES,
    ZONE_STATUSES,
    participates,
)
from geosignal.vocab import NETWORKS

__all__ = ["DECISION_KINDS", "DEFAULT_DISTANCE_M", "EXCLUDED_STATUSES", "ZONE_STATES", "add_to_zone",
           "apply_distance", "confirm_zone", "for_reports", "get_zone", "grouping", "join_zones", "list_zones",
           "nearby_reports", "nearby_zones", "page_of_zones", "recompute_all", "split_zone", "zone_figures",
           "zone_figures_live"]

#: Largest zone id accepted in a URL (PostgreSQL bigint).
_MAX_ID = 2**63 - 1

_FEATURE_SQL = """
SELECT z.id, z.network, z.state, {technologies} AS technologies, {operators} AS operators, z.report_count,
       z.commune_nis,
       z.created_at, z.updated_at,
       ST_AsGeoJSON(CASE WHEN ST_Dimension(v.g) = 2 THEN ST_ForcePolygonCCW(v.g)
                         ELSE v.g END, :decimals) AS geojson,
       CASE WHEN ST_Dimension(v.g) = 2
            THEN round(ST_Area(ST_Transform(ST_CollectionExtract(v.g, 3), 31370))::numeric, 1) END AS area_m2,
       ARRAY(SELECT zr.report_id::text FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
             WHERE zr.zone_id = z.id {members} ORDER BY r.seq) AS report_ids
FROM zones z CROSS JOIN LATERAL (SELECT {geometry} AS g) v
WHERE {where}
ORDER BY {order}z.id
{page}"""

#: A representative reads the zones holding one of their commune's reports.
_OWN_COMMUNE = """EXISTS (
    SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
    WHERE zr.zone_id = z.id AND r.commune_nis = :own)"""
#: ... and of such a zone, only their commune's reports: their ids, and the union of their
#: geometries when the zone holds another commune's reports too (whose shapes, unvalidated,
#: are that commune's; its count stays, as every commune's counts are open to the signed-in).
_OWN_MEMBERS = "AND r.commune_nis = :own"
#: ... and the technologies (operators) of the zone their commune's reports name, in the
#: zone's order: another commune's unvalidated attributes are that commune's too.
_OWN_NAMED = """ARRAY(SELECT u.v FROM unnest(z.{column}) WITH ORDINALITY u(v, k) WHERE EXISTS (
    SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
    WHERE zr.zone_id = z.id AND r.commune_nis = :own AND u.v = ANY(r.{column})) ORDER BY u.k)"""
_OWN_GEOMETRY = """CASE WHEN NOT EXISTS (
    SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
    WHERE zr.zone_id = z.id AND r.commune_nis <> :own) THEN z.geometry
  ELSE zones_union(ARRAY(SELECT r.geometry FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
                         WHERE zr.zone_id = z.id AND r.commune_nis = :own ORDER BY r.seq)) END"""


def _feature_sql(user: Any, where: list[str], *, proposed_first: bool = False, paged: bool = False) -> str:
    """The zones query for ``user`` (what :func:`_visible` lets them read) with ``where``, in
    zone order (proposed zones first when ``proposed_first``; ``LIMIT :limit OFFSET :offset``
    when ``paged``)."""
    own = not policy.sees_all_communes(user)
    named = {c: _OWN_NAMED.format(column=c) if own else f"z.{c}" for c in ("technologies", "operators")}
    return _FEATURE_SQL.format(members=_OWN_MEMBERS if own else "", geometry=_OWN_GEOMETRY if own else "z.geometry",
                               **named,
                               where=" AND ".join(where), order="z.state <> 'proposed', " if proposed_first else "",
                               page="LIMIT :limit OFFSET :offset" if paged else "")


def _feature(row: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": json.loads(row.geojson),
        "properties": {
            "state": row.state,
            "network": row.network,
            "report_ids": list(row.report_ids),
            "report_count": row.report_count,
            "technologies": list(row.technologies),
            "operators": list(row.operators),
            "commune_nis": row.commune_nis,
            "area_m2": float(row.area_m2) if row.area_m2 is not None else None,
            "created_at": contract.format_datetime(row.created_at),
            "updated_at": contract.format_datetime(row.updated_at),
        },
    }


def _visible(user: Any, clauses: list[str], params: dict[str, Any]) -> None:
    policy.require_signed_in(user)
    if not policy.sees_all_communes(user):
        clauses.append(_OWN_COMMUNE)
        params["own"] = user.commune_nis


def list_zones(session: Session, user: Any, *, state: str | None = None, network: str | None = None,
               commune: str | None = None) -> dict[str, Any]:
    """Return the zones ``user`` may read as a GeoJSON FeatureCollection (zone order).

    The referent and admins read every zone; a representative the zones holding one of their
    commune's reports, each with only those reports (``report_ids``, the technologies and
    operators they name, and the geometry their union when the zone holds another commune's
    reports too; ``report_count`` counts all). ``state`` (:data:`ZONE_STATES`),
    ``network`` and ``commune`` (a NIS code: zones homed there) filter. Raises
    ``unauthorized`` (401) when nobody is signed in, ``invalid_request`` (400) for an unknown
    state or network.
    """
    clauses, params = _filters(user, state, network, commune)
    rows = session.execute(text(_feature_sql(user, clauses)), params).all()
    return {"type": "FeatureCollection", "features": [_feature(r) for r in rows]}


def page_of_zones(session: Session, user: Any, *, state: str | None = None, network: str | None = None,
                  commune: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """Return page ``page`` (from 1; ``per_page`` zones each) of the zones :func:`list_zones`
    gives (same filters, rights and errors), proposed zones first, then confirmed (zone order
    within each): ``{"features": [...], "total": <zones matching>, "page": <the page given,
    or the last one when beyond it>, "pages": <pages, at least 1>}``. What the zones page
    shows (a campaign's import makes thousands of zones)."""
    clauses, params = _filters(user, state, network, commune)
    total = int(session.scalar(text("SELECT count(*) FROM zones z WHERE " + " AND ".join(clauses)), params))
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(text(_feature_sql(user, clauses, proposed_first=True, paged=True)),
                           {**params, "limit": per_page, "offset": (page - 1) * per_page}).all()
    return {"features": [_feature(r) for r in rows], "total": total, "page": page, "pages": pages}


def _filters(user: Any, state: str | None, network: str | None,
             commune: str | None) -> tuple[list[str], dict[str, Any]]:
    """The ``WHERE`` clauses and parameters of :func:`list_zones`' filters (rights first)."""
    clauses, params = ["true"], {"decimals": contract.API_COORDINATE_DECIMALS}
    _visible(user, clauses, params)
    if state is not None:
        if state not in ZONE_STATES:
            raise GeosignalError("invalid_request", f"state must be one of {', '.join(ZONE_STATES)}", where="state")
        clauses.append("z.state = :state")
        params["state"] = state
    if network is not None:
        if network not in NETWORKS:
            raise GeosignalError("invalid_request", f"network must be one of {', '.join(NETWORKS)}",
                                 where="network")
        clauses.append("z.network = :network")
        params["network"] = network
    if commune is not None:
        clauses.append("z.commune_nis = :commune")
        params["commune"] = commune
    return clauses, params


#: A zone id as written in a path, a form or a JSON string: ASCII digits, no sign, space,
#: underscore or leading zero (``int()`` reads ``+7``, `` 7``, ``1_1``, ``07`` and Arabic-Indic
#: digits as numbers: a join took ``٣`` for zone 3).
_ZONE_ID = re.compile(r"[1-9][0-9]{0,18}")


def _zone_id(zone_id: int | str) -> int:
    """The zone id ``zone_id`` (an int, not a bool, or its canonical digits, :data:`_ZONE_ID`);
    ``not_found`` (404) for anything else or beyond a bigint."""
    if isinstance(zone_id, int) and not isinstance(zone_id, bool):
        value = zone_id
    elif isinstance(zone_id, str) and _ZONE_ID.fullmatch(zone_id):
        value = int(zone_id)
    else:
        raise GeosignalError("not_found", f"no zone {str(zone_id)[:40]!r}")
    if not 0 < value <= _MAX_ID:
        raise GeosignalError("not_found", f"no zone {zone_id}")
    return value


def get_zone(session: Session, user: Any, zone_id: int | str) -> dict[str, Any]:
    """Return one zone ``user`` may read as a Feature; ``not_found`` (404) otherwise."""
    zid = _zone_id(zone_id)
    clauses, params = ["z.id = :id"], {"id": zid, "decimals": contract.API_COORDINATE_DECIMALS}
    _visible(user, clauses, params)
    row = session.execute(text(_feature_sql(user, clauses)), params).first()
    if row is None:
        raise GeosignalError("not_found", f"no zone {zone_id}")
    return _feature(row)


def for_reports(session: Session, report_ids: Iterable[uuid.UUID | str]) -> dict[str, dict[str, Any]]:
    """Return, for each of ``report_ids`` that is in a zone, ``{zone_id, report_count, state}``
    keyed by the report id (string), in one query: what pages show as "également signalé par
    N" (N = ``report_count`` - 1). Reports in no zone are absent. No authorisation: the
    caller shows it beside reports the user already reads."""
    ids = [str(i) for i in report_ids]
    if not ids:
        return {}
    rows = session.execute(text(
        "SELECT zr.report_id::text, z.id, z.report_count, z.state FROM zone_reports zr "
        "JOIN zones z ON z.id = zr.zone_id WHERE zr.report_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})
    return {r[0]: {"zone_id": r[1], "report_count": r[2], "state": r[3]} for r in rows}


def _lock(session: Session, networks: Sequence[str]) -> None:
    """Take the zone locks of ``networks`` (in name order), as the triggers do, after the
    shared lock of changes an export's watermark waits for (a decision may change confirmed
    zones, which take numbers of the change sequence): the order of a report's writer, which
    takes that lock before its zone trigger runs."""
    from geosignal.services.communes import hold_communes
    from geosignal.services.export.constants import CHANGE_LOCK_KEY

    hold_communes(session)  # a load of communes takes the zone locks after it (exclusively)
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": CHANGE_LOCK_KEY})
    session.execute(text("SELECT zones_lock(CAST(:nets AS varchar[]))"), {"nets": list(networks)})


def _locked_zone(session: Session, user: Any, zone_id: int | str) -> tuple[int, str, str, list[str]]:
    """Authorise a decision, lock the zone's network and return (id, network, state, report
    ids oldest first) read after the lock."""
    policy.require_signed_in(user)
    policy.require(policy.sees_all_communes(user), "the referent and admins confirm and split zones")
    zid = _zone_id(zone_id)
    network = session.scalar(text("SELECT network FROM zones WHERE id = :id"), {"id": zid})
    if network is None:
        raise GeosignalError("not_found", f"no zone {zone_id}")
    _lock(session, [network])
    row = session.execute(text(
        "SELECT z.network, z.state, ARRAY(SELECT zr.report_id::text FROM zone_reports zr JOIN reports r "
        "ON r.id = zr.report_id WHERE zr.zone_id = z.id ORDER BY r.seq) FROM zones z WHERE z.id = :id"),
        {"id": zid}).first()
    if row is None or row[0] != network:
        raise GeosignalError("zone_changed", f"zone {zone_id} changed meanwhile; read it again")
    return zid, row[0], row[1], list(row[2])


def _decide(session: Session, user: Any, kind: str, network: str, report_ids: list[str],
            decision_id: int | None = None) -> int:
    """Record a decision (a new one unless ``decision_id``) for ``report_ids`` and regroup them."""
    if decision_id is None:
        decision_id = session.scalar(text(
            "INSERT INTO zone_decisions (kind, network, decided_by) VALUES (:kind, :network, :user) RETURNING id"),
            {"kind": kind, "network": network, "user": getattr(user, "id", None)})
    session.execute(text(
        "INSERT INTO zone_decision_reports (report_id, decision_id) "
        "SELECT unnest(CAST(:ids AS uuid[])), :d ORDER BY 1 "
        "ON CONFLICT (report_id) DO UPDATE SET decision_id = EXCLUDED.decision_id"),
        {"ids": report_ids, "d": decision_id})
    return int(decision_id)  # type: ignore[arg-type]


def _pin(session: Session, user: Any, network: str, named: list[str], decision_id: int | None) -> tuple[int, int]:
    """Pin ``named`` (report ids, oldest first) together with a confirmed decision (a new one
    unless ``decision_id``), regroup them and return (the decision, the zone holding them).

    The zone a confirmation makes must hold exactly the reports named: a confirmed zone draws
    in the free reports touching it, so reports kept apart by a split (their decision becomes
    this one) would take back the free reports they were taken from, or bring in others no one
    named. Then nothing is decided (a savepoint rolled back) and ``zone_would_grow`` (409) is
    raised, its ``not_named`` listing those reports (oldest first)."""
    savepoint = session.begin_nested()
    try:
        decision = _decide(session, user, "confirmed", network, named, decision_id)
        _regroup(session, named)
        now_id = _zone_of(session, named[0])
        held = [] if now_id is None else list(session.scalars(text(
            "SELECT zr.report_id::text FROM zone_reports zr JOIN reports r ON r.id = zr.report_id "
            "WHERE zr.zone_id = :z ORDER BY r.seq"), {"z": now_id}))
        if now_id is None or set(held) != set(named):
            wanted = set(named)
            not_named = [r for r in held if r not in wanted]
            raise GeosignalError(
                "zone_would_grow", f"this decision would put {len(not_named)} reports it does not name in the zone "
                "(free reports touching reports kept apart by a split): confirm their zone first, or add them",
                not_named=not_named)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return decision, now_id


def _confirmed_decision(session: Session, report_ids: list[str], network: str) -> int | None:
    """The earliest confirmed decision of ``network`` holding one of ``report_ids`` (None)."""
    return session.scalar(text(
        "SELECT min(k.id) FROM zone_decision_reports d JOIN zone_decisions k ON k.id = d.decision_id "
        "WHERE d.report_id = ANY(CAST(:ids AS uuid[])) AND k.kind = 'confirmed' AND k.network = :n"),
        {"ids": report_ids, "n": network})


def _regroup(session: Session, report_ids: list[str]) -> None:
    session.execute(text("SELECT zones_regroup(CAST(:ids AS uuid[]))"), {"ids": report_ids})


def _zone_of(session: Session, report_id: str) -> int | None:
    return session.scalar(text("SELECT zone_id FROM zone_reports WHERE report_id = CAST(:r AS uuid)"),
                          {"r": report_id})


def _check_ids(report_ids: Any, where: str) -> list[str]:
    if not isinstance(report_ids, list) or not all(isinstance(i, str) for i in report_ids):
        raise GeosignalError("invalid_request", "report_ids must be a list of report ids", where=where)
    try:
        return [str(uuid.UUID(i)) for i in report_ids]
    except ValueError:
        raise GeosignalError("invalid_request", "report_ids must be report ids (UUID)", where=where) from None


def confirm_zone(session: Session, user: Any, zone_id: int | str,
                 report_ids: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Confirm a zone (the caller commits): its reports stay one zone from now on.

    ``report_ids``, when given, must be exactly the zone's reports (what the referent saw);
    otherwise ``zone_changed`` (409). Confirming a confirmed zone pins the reports that joined
    it since. Returns (the zone as a Feature, an audit summary ``{zone_id, network,
    report_ids, decision_id, before_state}``). Raises ``unauthorized`` (401), ``forbidden``
    (403, not the referent or an admin), ``not_found`` (404), ``zone_changed`` (409),
    ``zone_would_grow`` (409: the confirmed zone would hold other reports too — reports kept
    apart by a split would take back the free reports they touch; :func:`_pin`).
    """
    zid, network, state, members = _locked_zone(session, user, zone_id)
    if report_ids is not None:
        wanted = _check_ids(report_ids, "/report_ids")
        if set(wanted) != set(members):
            raise GeosignalError("zone_changed", f"zone {zid} now holds {len(members)} reports; read it again",
                                 report_ids=members)
    decision = None
    if state == "confirmed":
        decision = _confirmed_decision(session, members, network)
    decision, now_id = _pin(session, user, network, members, decision)
    summary = {"zone_id": now_id, "network": network, "report_ids": members, "decision_id": decision,
               "before_state": state}
    return get_zone(session, user, now_id), summary


def split_zone(session: Session, user: Any, zone_id: int | str,
               report_ids: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Take ``report_ids`` out of a zone (the caller commits); the split sticks.

    The reports taken out are kept apart: they group only with each other from now on (two
    of them that overlap form a zone of their own), never again with the reports they were
    taken from, nor with later reports. The zone keeps its id and state with the reports
    left (it disappears when one is left). Returns (a FeatureCollection of the zones now
    holding the zone's former reports, an audit summary ``{zone_id, network, report_ids,
    taken_out, decision_id}``). Raises ``invalid_request`` (400: not a list of ids),
    ``invalid_split`` (422: an id not in the zone, none, or all of them), ``unauthorized``,
    ``forbidden``, ``not_found``, ``zone_changed``.
    """
    zid, network, _state, members = _locked_zone(session, user, zone_id)
    out = _check_ids(report_ids, "/report_ids")
    stray = [i for i in out if i not in members]
    if stray:
        raise GeosignalError("invalid_split", f"report {stray[0]} is not in zone {zid}", where="/report_ids",
                             report_ids=stray)
    if not out or set(out) == set(members):
        raise GeosignalError("invalid_split", "take out some of the zone's reports, not none nor all",
                             where="/report_ids")
    out = sorted(set(out), key=members.index)
    decision = _decide(session, user, "apart", network, out)
    # the reports taken out leave the zone: its id stays with the reports left
    session.execute(text("DELETE FROM zone_reports WHERE report_id = ANY(CAST(:ids AS uuid[]))"), {"ids": out})
    _regroup(session, members)
    zone_ids = sorted({z for z in (_zone_of(session, m) for m in members) if z is not None})
    features = [get_zone(session, user, z) for z in zone_ids]
    summary = {"zone_id": zid, "network": network, "report_ids": members, "taken_out": out,
               "decision_id": decision}
    return {"type": "FeatureCollection", "features": features}, summary


def other_zone_id(other_id: Any) -> int:
    """The id of the zone to join (:func:`join_zones`' ``other_id``: an int or its canonical
    digits). Raises ``invalid_join`` (422, ``/zone_id``) for anything that cannot be a zone's
    id (text, a fraction, a bool): a zone the request names wrongly, not one that is gone."""
    try:
        other = _zone_id(other_id) if isinstance(other_id, (int, str)) and not isinstance(other_id, bool) else None
    except GeosignalError:
        other = None
    if other is None:
        raise GeosignalError("invalid_join", "zone_id must be the id of another zone", where="/zone_id")
    return other


def join_zones(session: Session, user: Any, zone_id: int | str, other_id: Any,
               report_ids: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Join two zones of one network into one confirmed zone (the caller commits): the
    referent knows two groups of reports are one place although they lie apart (both ends of
    a village, a valley). Their reports are pinned together for good, as a confirmation pins
    a zone's (one confirmed decision: the earliest of theirs, else a new one); the zone keeps
    one of the two ids.

    ``other_id``: the other zone's id. ``report_ids``, when given, must be exactly the two
    zones' reports (what the referent saw); otherwise ``zone_changed`` (409). Returns (the
    zone as a Feature, an audit summary ``{zone_id, network, report_ids, joined: [ids],
    decision_id}``). Raises ``invalid_join`` (422: the same zone twice, another network),
    ``unauthorized`` (401), ``forbidden`` (403), ``not_found`` (404), ``zone_changed`` (409),
    ``zone_would_grow`` (409: the zone would hold reports not named, :func:`_pin`).
    """
    other = other_zone_id(other_id)
    zid, network, _state, members = _locked_zone(session, user, zone_id)
    if other == zid:
        raise GeosignalError("invalid_join", f"zone {zid} cannot be joined with itself", where="/zone_id")
    other_network = session.scalar(text("SELECT network FROM zones WHERE id = :id"), {"id": other})
    if other_network is None:
        raise GeosignalError("not_found", f"no zone {other}")
    if other_network != network:
        raise GeosignalError("invalid_join", f"zone {other} is a white zone of the {other_network} network, "
                             f"zone {zid} of the {network} network", where="/zone_id")
    _oid, _network, _other_state, others = _locked_zone(session, user, other)
    both = members + [m for m in others if m not in members]
    if report_ids is not None and set(_check_ids(report_ids, "/report_ids")) != set(both):
        raise GeosignalError("zone_changed", f"zones {zid} and {other} now hold {len(both)} reports; read them again",
                             report_ids=both)
    decision = _confirmed_decision(session, both, network)
    decision, now_id = _pin(session, user, network, both, decision)
    summary = {"zone_id": now_id, "network": network, "report_ids": both, "joined": [zid, other],
               "decision_id": decision}
    return get_zone(session, user, now_id), summary


def add_to_zone(session: Session, user: Any, zone_id: int | str, report_id: Any,
                report_ids: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add a report that is in no zone to a zone of its network (the caller commits): the
    referent knows a lone report speaks of the zone's place although it lies apart. The zone's
    reports and this one are pinned together for good, as a join pins two zones' (one
    confirmed decision: the earliest of theirs, else a new one; a report taken out of a zone
    before is taken back by this decision).

    ``report_id``: the report's id (UUID). ``report_ids``, when given, must be exactly the
    zone's reports (what the referent saw); otherwise ``zone_changed`` (409). Returns (the
    zone as a Feature, an audit summary ``{zone_id, network, report_ids, added: [id],
    decision_id}``). Raises ``invalid_join`` (422: not a report id, a report of another
    network, in a zone already — two zones are joined instead —, or of a status the figures
    do not count), ``not_found`` (404: no such zone or report), ``unauthorized`` (401),
    ``forbidden`` (403), ``zone_changed`` (409), ``zone_would_grow`` (409: the zone would hold
    reports not named — a report taken out of another zone would take back the free reports
    it was taken from; :func:`_pin`).
    """
    try:
        rid = str(uuid.UUID(report_id)) if isinstance(report_id, str) else None
    except ValueError:
        rid = None
    if rid is None:
        raise GeosignalError("invalid_join", "report_id must be the id of a report (UUID)", where="/report_id")
    zid, network, _state, members = _locked_zone(session, user, zone_id)
    # read after the network's lock: a writer changing the report's zone or status holds it first
    row = session.execute(text(
        "SELECT r.reference, r.network, r.status, zr.zone_id FROM reports r "
        "LEFT JOIN zone_reports zr ON zr.report_id = r.id WHERE r.id = CAST(:r AS uuid)"), {"r": rid}).first()
    if row is None:
        raise GeosignalError("not_found", f"no report {rid}")
    reference, report_network, status, its_zone = row
    if its_zone == zid:
        raise GeosignalError("invalid_join", f"report {reference} is in zone {zid} already", where="/report_id")
    if its_zone is not None:
        raise GeosignalError("invalid_join", f"report {reference} is in zone {its_zone}: join the two zones instead",
                             where="/report_id", zone_id=its_zone)
    if report_network != network:
        raise GeosignalError("invalid_join", f"report {reference} is a report of the {report_network} network, "
                             f"zone {zid} a white zone of the {network} network", where="/report_id")
    if status not in ZONE_STATUSES:
        raise GeosignalError("invalid_join", f"report {reference} is {status}: only reports the figures count "
                             f"({', '.join(ZONE_STATUSES)}) are in zones", where="/report_id")
    if report_ids is not None and set(_check_ids(report_ids, "/report_ids")) != set(members):
        raise GeosignalError("zone_changed", f"zone {zid} now holds {len(members)} reports; read it again",
                             report_ids=members)
    both = [*members, rid]
    decision = _confirmed_decision(session, both, network)
    decision, now_id = _pin(session, user, network, both, decision)
    summary = {"zone_id": now_id, "network": network, "report_ids": both, "added": [rid], "decision_id": decision}
    return get_zone(session, user, now_id), summary


def nearby_reports(session: Session, zone_ids: Sequence[int], *, within_m: float = 5000,
                   limit: int = 5) -> dict[int, list[dict[str, Any]]]:
    """For each zone of ``zone_ids``, the reports of its network in no zone nearest to it
    (at most ``limit``, within ``within_m`` metres, EPSG:31370; of the statuses the figures
    count): ``{zone id: [{"id", "reference", "distance_m" (rounded to 10 m), "commune_nis"}]}``,
    nearest first. What the zones page offers to add (:func:`add_to_zone`); found as
    :func:`_nearest` finds them."""
    rows = _nearest(session, zone_ids, "o.id, o.reference, o.commune_nis",
                    f"reports o WHERE o.network = a.network AND {participates('o')} "
                    "AND NOT EXISTS (SELECT 1 FROM zone_reports zr WHERE zr.report_id = o.id)", within_m, limit)
    out: dict[int, list[dict[str, Any]]] = {int(z): [] for z in zone_ids}
    for r in rows:
        out[int(r.zone_id)].append({"id": str(r.id), "reference": r.reference, "commune_nis": r.commune_nis,
                                    "distance_m": r.distance_m})
    return out


def nearby_zones(session: Session, zone_ids: Sequence[int], *, within_m: float = 5000,
                 limit: int = 5) -> dict[int, list[dict[str, Any]]]:
    """For each zone of ``zone_ids``, the zones of its network nearest to it (at most
    ``limit``, within ``within_m`` metres, EPSG:31370): ``{zone id: [{"id", "distance_m"
    (rounded to 10 m), "commune_nis", "report_count", "state"}]}``, nearest first. What the
    zones page offers to join; found as :func:`_nearest` finds them."""
    rows = _nearest(session, zone_ids, "o.id, o.commune_nis, o.report_count, o.state",
                    "zones o WHERE o.network = a.network AND o.id <> a.id", within_m, limit)
    out: dict[int, list[dict[str, Any]]] = {int(z): [] for z in zone_ids}
    for r in rows:
        out[int(r.zone_id)].append({"id": int(r.id), "distance_m": r.distance_m,
                                    "commune_nis": r.commune_nis, "report_count": r.report_count, "state": r.state})
    return out


#: Candidates the spatial index gives per place asked, per place wanted: ten times as many.
_CANDIDATES_PER_PLACE = 10


def _nearest(session: Session, zone_ids: Sequence[int], columns: str, source: str, within_m: float,
             limit: int) -> list[Any]:
    """Rows ``(zone_id, <columns>, d, distance_m)`` of the ``limit`` nearest candidates of each
    zone of ``zone_ids`` within ``within_m`` metres (``d``: metres in EPSG:31370, nearest first;
    ``distance_m`` the same rounded to 10 m, as the page says it).
    ``columns``: what to read of a candidate ``o`` (``o.id`` first); ``source``: ``<table> o
    WHERE …`` of a zone ``a`` (a lateral subquery; ``o.geometry`` in EPSG:4326).

    One query: for each zone, the stored geometries' spatial index walks them nearest first
    by distance in degrees (``<->``), and the first ``10 × limit`` of them are measured in
    EPSG:31370, the zone's shape projected once. A degree of longitude is about 0.64 of one of
    latitude here, so the order in degrees and in metres agree but for near ties; measuring
    every place within ``within_m`` instead cost 12 s for 3,836 zones (20,000 points).
    """
    if not zone_ids:
        return []
    return list(session.execute(text(f"""
        SELECT a.id AS zone_id, b.*, (round(b.d / 10) * 10)::int AS distance_m
        FROM zones a CROSS JOIN LATERAL (SELECT ST_Transform(a.geometry, 31370) AS l) al
        CROSS JOIN LATERAL (
          SELECT s.* FROM (
            SELECT {columns}, ST_Distance(al.l, ST_Transform(o.geometry, 31370)) AS d FROM {source}
            ORDER BY o.geometry <-> a.geometry LIMIT :candidates) s
          WHERE s.d <= :within ORDER BY s.d, s.id LIMIT :limit) b
        WHERE a.id = ANY(:ids) ORDER BY a.id, b.d, b.id"""),
        {"ids": list(zone_ids), "within": within_m, "limit": limit,
         "candidates": _CANDIDATES_PER_PLACE * limit}).all())


def apply_distance(session: Session, metres: float) -> bool:
    """Set the grouping distance (m, EPSG:31370) and regroup every report when it changed
    (the caller commits). Returns whether it changed. Raises ``invalid_request`` (400) for a
    negative or non-finite distance."""
    if not (isinstance(metres, (int, float)) and 0 <= float(metres) < float("inf")):
        raise GeosignalError("invalid_request", "the zone distance must be a finite number of metres ≥ 0")
    _lock(session, LOCK_ORDER)
    changed = session.execute(text(
        "UPDATE zone_settings SET distance_m = :d WHERE id = 1 AND distance_m IS DISTINCT FROM :d"),
        {"d": float(metres)}).rowcount
    if changed:
        _regroup_everything(session)
    return bool(changed)


def _regroup_everything(session: Session) -> None:
    session.execute(text("SELECT zones_regroup(ARRAY(SELECT id FROM reports))"))


def recompute_all(session: Session) -> None:
    """Regroup every report from scratch under every network's lock (the caller commits or
    rolls back): what stored zones must equal."""
    _lock(session, LOCK_ORDER)
    _regroup_everything(session)


def grouping(session: Session) -> set[tuple[str, str, frozenset[str]]]:
    """Return the stored zones as a set of (network, state, report ids): comparable with the
    same after :func:`recompute_all` (zone ids aside)."""
    rows = session.execute(text(
        "SELECT z.network, z.state, array_agg(zr.report_id::text) FROM zones z "
        "JOIN zone_reports zr ON zr.zone_id = z.id GROUP BY z.id"))
    return {(r[0], r[1], frozenset(r[2])) for r in rows}


def zone_figures(session: Session) -> dict[str, dict[str, int]]:
    """Return per commune (NIS code) ``zone_group_count`` (zones of reports homed there, both
    states), ``confirmed_zone_group_count`` and ``reports_in_zone_groups`` (its counted reports that are in a
    zone), as the zone passes stored them (``zone_counts``, one row per commune and network:
    a read costs the same at any number of reports). Communes without zones are absent."""
    rows = session.execute(text(
        "SELECT nis_code, sum(zones), sum(confirmed), sum(reports) FROM zone_counts GROUP BY 1"))
    return {r[0]: place_figures(r[1], r[2], r[3]) for r in rows}


def zone_figures_filtered(session: Session, filters: Any) -> dict[str, dict[str, int]]:
    """:func:`zone_figures` among the reports a commune table's ``filters``
    (:class:`~geosignal.services.aggregation.filters.StatsFilters`) keep: the zones holding at
    least one of them (by the zone's home commune) and those of them in a zone (by their own),
    so that ``place_count`` counts the places of the reports counted (it went below 0 when a
    filter left out the reports the zones are made of). One statement."""
    from geosignal.services.aggregation.filters import where_sql

    where, params = where_sql(filters)
    rows = session.execute(text(f"""
        SELECT nis, sum(z), sum(c), sum(n) FROM (
          SELECT z.commune_nis AS nis, 1 AS z, (z.state = 'confirmed')::int AS c, 0 AS n FROM zones z
          WHERE EXISTS (SELECT 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
                        WHERE zr.zone_id = z.id AND {where})
          UNION ALL
          SELECT r.commune_nis, 0, 0, 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
          WHERE {where}) x
        GROUP BY nis"""), params)
    return {r[0]: place_figures(r[1], r[2], r[3]) for r in rows}


def place_figures(zones: int, confirmed: int, reports: int) -> dict[str, int]:
    """Return one commune's zone figures by name, from the sums of its ``zone_counts`` rows:
    zones, confirmed zones and counted reports in zones (the shape of :func:`zone_figures`)."""
    return {"zone_group_count": int(zones), "confirmed_zone_group_count": int(confirmed),
            "reports_in_zone_groups": int(reports)}


def zone_figures_live(session: Session) -> dict[str, dict[str, int]]:
    """Return what :func:`zone_figures` must equal, computed from the zones, their reports and
    the reports' statuses (a zone holds only reports whose status takes part)."""
    rows = session.execute(text(f"""
        SELECT nis, sum(z), sum(c), sum(r) FROM (
          SELECT commune_nis AS nis, 1 AS z, (state = 'confirmed')::int AS c, 0 AS r FROM zones
          UNION ALL
          SELECT r.commune_nis, 0, 0, 1 FROM zone_reports zr JOIN reports r ON r.id = zr.report_id
          WHERE r.status IN ({', '.join(f"'{s}'" for s in _counted())})) x
        GROUP BY nis"""))
    return {r[0]: {"zone_group_count": int(r[1]), "confirmed_zone_group_count": int(r[2]), "reports_in_zone_groups": int(r[3])}
            for r in rows}


def _counted() -> tuple[str, ...]:
    from geosignal.services.aggregation.filters import COUNTED_STATUSES

    return COUNTED_STATUSES


def may_decide(user: Any) -> bool:
    """Whether ``user`` confirms and splits zones (the referent, admins)."""
    return policy.sees_all_communes(user)


def record_decision(session: Session, user: Any, action: str, summary: dict[str, Any]) -> None:
    """Journal a decision on a zone for each of its reports (the caller commits): ``merge``
    (a confirmation: the reports are one place; a join of two zones has ``joined`` in the
    details, a report added to a zone ``added``) or ``split`` (``taken_out`` in the details),
    with the zone's id and the decision's. ``summary`` is what :func:`confirm_zone` /
    :func:`split_zone` / :func:`join_zones` / :func:`add_to_zone` returned."""
    from geosignal.services import audit

    details = {k: v for k, v in summary.items() if k != "report_ids"}
    audit.record(session, action, user, report_ids=summary["report_ids"], details=details)


def add_zone_figures(session: Session, table: dict[str, Any],
                     figures: dict[str, dict[str, int]] | None = None) -> None:
    """Add place counts to a commune table (:func:`geosignal.services.aggregation.commune_table`),
    in place: per commune and for the territory ``zone_group_count`` (zones of overlapping
    reports whose largest part lies there, proposed and confirmed; ``zone_count`` stays the
    number of reports that are areas), ``confirmed_zone_group_count``, ``reports_in_zone_groups``
    (its counted reports that belong to such a zone) and ``place_count`` = ``report_count`` -
    ``reports_in_zone_groups`` + ``zone_group_count`` (each zone counted once, each report
    outside zones once). Without filters, the zones as they stand; a filtered (live) table's
    caller passes :func:`zone_figures_filtered`. ``figures``: :func:`zone_figures` when the
    caller has read them already (with the table, in one snapshot); read here otherwise."""
    if figures is None:
        figures = zone_figures(session)
    keys = ("zone_group_count", "confirmed_zone_group_count", "reports_in_zone_groups")
    totals = dict.fromkeys(keys, 0)
    for row in table["communes"]:
        f = figures.get(row["nis_code"], dict.fromkeys(keys, 0))
        row.update(f, place_count=row["report_count"] - f["reports_in_zone_groups"] + f["zone_group_count"])
        for k in keys:
            totals[k] += f[k]
    territory = table["territory"]
    territory.update(totals, place_count=territory["report_count"] - totals["reports_in_zone_groups"] + totals["zone_group_count"])
