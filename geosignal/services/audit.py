"""The audit trail: record changes set-wise, read a report's history and the admins' journal.

The journal (:class:`~geosignal.models.AuditEvent`, table ``audit_events``) is append-only in
the database (migration 0009): nothing here, nor anything else, can change or remove a row.

Actions recorded (:data:`AUDIT_ACTIONS`): ``create`` (a report filed: form, API, import),
``edit`` (geometry or attributes changed; ``before`` / ``after`` hold the values that
changed, the geometry as RFC 7946 GeoJSON in EPSG:4326), every workflow action of
:data:`geosignal.workflow.ACTIONS` (``from_status`` / ``to_status``, ``reason``), ``export``
(one event per export run, ``details.run_id``), ``merge`` and ``split`` (zones), ``copy`` (a
rejected or withdrawn report filed anew from a copy: on the original, ``details.copy_id`` and
``copy_reference``; the copy's ``create`` carries ``details.copied_from`` and
``copied_reference``); and the events about accounts of :data:`ACCOUNT_EVENT_LABELS_FR`.

Flask-free: functions take a session and return plain data; the caller commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract, policy, workflow
from geosignal.errors import GeosignalError

BRUSSELS = ZoneInfo("Europe/Brussels")

#: Events about an account rather than a report, with what the journal calls each: who
#: invited whom, gave a link to choose a password (``details.delivered``: ``mail``, or ``shown``
#: to the person who asked, to hand over), set a password (``details.how``: ``change``,
#: ``reset`` or ``invitation``; a link's ``link_by``), deactivated or reactivated an account, made or revoked an
#: API token. ``details`` names the account (``account_id``, ``account_email``,
#: ``account_role``); the event's commune is the account's.
ACCOUNT_EVENT_LABELS_FR: dict[str, str] = {
    "account_create": "Compte créé au terminal",
    "invite": "Compte invité",
    "reset_link": "Lien de mot de passe donné",
    "password_set": "Mot de passe choisi",
    "deactivate": "Compte désactivé",
    "reactivate": "Compte réactivé",
    "token_create": "Jeton API créé",
    "token_revoke": "Jeton API révoqué",
}

#: Every action the journal records.
AUDIT_ACTIONS: tuple[str, ...] = ("create", "edit", *workflow.ACTIONS, "export", "merge", "split", "copy",
                                  *ACCOUNT_EVENT_LABELS_FR)

#: Largest page of the journal.
MAX_PAGE = 500


def actor_fields(actor: Any) -> dict[str, Any]:
    """The actor columns of an event (``actor_id``, ``actor_role``, ``actor_commune_nis``) of
    a user, or of no one (None: the system, the CLI)."""
    if actor is None:
        return {"actor_id": None, "actor_role": None, "actor_commune_nis": None}
    return {"actor_id": getattr(actor, "id", None), "actor_role": getattr(actor, "role", None),
            "actor_commune_nis": getattr(actor, "commune_nis", None)}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


_INSERT_FOR_REPORTS = text("""
    INSERT INTO audit_events (action, actor_id, actor_role, actor_commune_nis, report_id, commune_nis,
                              from_status, to_status, reason, before, after, details)
    SELECT :action, :actor_id, :actor_role, :actor_commune_nis, r.id, r.commune_nis,
           :from_status, :to_status, :reason, CAST(:before AS jsonb), CAST(:after AS jsonb),
           CAST(:details AS jsonb)
    FROM reports r WHERE r.id = ANY(:ids) ORDER BY r.seq
""")

_INSERT_ONE = text("""
    INSERT INTO audit_events (action, actor_id, actor_role, actor_commune_nis, commune_nis,
                              from_status, to_status, reason, before, after, details)
    VALUES (:action, :actor_id, :actor_role, :actor_commune_nis, :commune_nis,
            :from_status, :to_status, :reason, CAST(:before AS jsonb), CAST(:after AS jsonb),
            CAST(:details AS jsonb))
""")


def record(
    session: Session,
    action: str,
    actor: Any,
    *,
    report_ids: Iterable[uuid.UUID | str] = (),
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    commune_nis: str | None = None,
) -> int:
    """Append one event per report of ``report_ids`` (one ``INSERT … SELECT`` whatever their
    number; each row takes the report's commune), or a single event about no report when
    ``report_ids`` is empty (e.g. an export run: ``details={"run_id": …}``). Returns the number
    of events written.

    ``actor``: a user (its id, role and commune are copied) or None (the system, the CLI).
    ``before`` / ``after``: JSON-ready values (geometry as GeoJSON, EPSG:4326), the same for
    every report. Raises ``invalid_request`` (400) for an action outside
    :data:`AUDIT_ACTIONS`. The caller commits.
    """
    if action not in AUDIT_ACTIONS:
        raise GeosignalError("invalid_request", f"unknown audit action {action!r}", where="action")
    params = {"action": action, **actor_fields(actor), "from_status": from_status, "to_status": to_status,
              "reason": reason, "before": _json(before), "after": _json(after), "details": _json(details)}
    ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in report_ids]
    if ids:
        return session.execute(_INSERT_FOR_REPORTS, {**params, "ids": ids}).rowcount
    session.execute(_INSERT_ONE, {**params, "commune_nis": commune_nis})
    return 1


def record_account(session: Session, action: str, actor: Any, account: Any, **details: Any) -> None:
    """Append one event of :data:`ACCOUNT_EVENT_LABELS_FR` (``action``) by ``actor`` (a user, or
    None: the CLI) about ``account`` (a user), in ``account``'s commune, with ``details`` (JSON
    values) added to the account's id, e-mail and role. The caller commits."""
    record(session, action, actor, commune_nis=account.commune_nis,
           details={"account_id": account.id, "account_email": account.email, "account_role": account.role,
                    **details})


def creation_from_staging_sql(staging: str) -> str:
    """Return the psycopg statement (``%s`` placeholders) that journals, in one
    ``INSERT … SELECT``, the creation of the reports of an import staging table ``staging``
    (columns ``idx``, ``id``, ``commune_nis``) whose ``idx`` lies in ``[start, end)``. Its
    arguments: :func:`creation_args`, then ``start`` and ``end``."""
    return ("INSERT INTO audit_events (action, actor_id, actor_role, actor_commune_nis, report_id, commune_nis, "
            "to_status, details) SELECT 'create', %s, %s, %s, id, commune_nis, 'submitted', "
            f"'{{\"source\": \"import\"}}'::jsonb FROM {staging} WHERE idx >= %s AND idx < %s ORDER BY idx")


def creation_args(actor: Any) -> tuple[Any, Any, Any]:
    """Return the actor's (id, role, commune) for :func:`creation_from_staging_sql`."""
    fields = actor_fields(actor)
    return fields["actor_id"], fields["actor_role"], fields["actor_commune_nis"]


# ---- reading ---------------------------------------------------------------------------

def _entry(row: Any, *, show_names: bool) -> dict[str, Any]:
    entry = {
        "id": row.id,
        "at": contract.format_datetime(row.at),
        "actor": row.actor_role or "system",
        "action": row.action,
        "from": row.from_status,
        "to": row.to_status,
        "reason": row.reason,
    }
    if show_names:
        entry["actor_name"] = row.email
    if row.actor_commune_nis:
        entry["actor_commune_nis"] = row.actor_commune_nis
    if row.details:
        entry["details"] = row.details
    changed = {**(row.before or {}), **(row.after or {})} if row.action == "edit" else {}
    if changed:  # which properties changed (not their values: an old description may be gone on purpose)
        entry["fields"] = [k for k in ("geometry", *contract.BY_NAME) if k in changed]
    return entry


def history(session: Session, report_id: uuid.UUID, *, viewer: Any = None,
            with_values: bool = False) -> list[dict[str, Any]]:
    """Return a report's events oldest first: each ``{"id", "at" (ISO 8601, Brussels time),
    "actor" (role at the time, ``system`` for none), "action", "from", "to", "reason"}``, plus
    ``actor_name`` (the e-mail) when ``viewer`` may see it: the referent and admins see every
    name, a representative the names of their own commune's people and of the referent and
    admins. An ``edit`` names the properties it changed, in contract order (``fields``;
    ``geometry`` first), not their values. The export runs that carried the report as DWconnect is sent it appear too
    (one ``export`` event per run, ``details.run_id``): in one of :data:`~geosignal.workflow.FORWARDABLE_STATUSES`
    (validated, or moved on from there), or, out of them again (withdrawn), as a removal of a ``status=dwconnect``
    run. A run that carried it otherwise (a full export of every status, asked for explicitly: not yet validated,
    withdrawn before) is no DWconnect export of it and is not shown. Its status then is read from the journal's moves
    into and out of those statuses around the run's own event (the one before it, else the one after it, else the
    report's status now). ``with_values`` adds ``before`` / ``after``. The caller has checked that ``viewer`` reads
    the report."""
    from geosignal.services.export.filters import DWCONNECT

    rows = session.execute(text("""
        WITH moves AS (SELECT v.id, v.to_status = ANY(:forwardable) AS entered,
                              coalesce(v.from_status = ANY(:forwardable), false) AS was_in
                       FROM audit_events v WHERE v.report_id = :rid
                         AND (v.to_status = ANY(:forwardable) OR v.from_status = ANY(:forwardable)))
        SELECT e.*, u.email FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id
        CROSS JOIN LATERAL (SELECT (SELECT m.entered FROM moves m WHERE m.id < e.id ORDER BY m.id DESC LIMIT 1)
                                       AS before_in,
                                   (SELECT m.was_in FROM moves m WHERE m.id > e.id ORDER BY m.id LIMIT 1) AS after_in) k
        WHERE e.report_id = :rid
           OR (e.action = 'export' AND e.report_id IS NULL AND e.details->>'run_id' IN (
                 SELECT b.run_id::text FROM export_run_batches b, reports r
                 WHERE r.id = :rid AND b.first_seq <= r.seq AND b.last_seq >= r.seq
                   AND position(uuid_send(r.id) IN b.report_ids) % 16 = 1)
               AND (coalesce(k.before_in, k.after_in,
                             (SELECT r.status = ANY(:forwardable) FROM reports r WHERE r.id = :rid))
                    OR (NOT k.before_in AND e.details->'filters'->>'status' = :dwconnect)))
        ORDER BY e.id"""), {"rid": report_id, "forwardable": list(workflow.FORWARDABLE_STATUSES),
                            "dwconnect": DWCONNECT}).all()
    readable = _readable_named_reports(session, viewer, rows)
    out = []
    for row in rows:
        entry = _entry(row, show_names=_may_see_name(viewer, row))
        if readable is not None and entry.get("details"):
            entry["details"] = _named_reports_kept(entry["details"], readable)
        if with_values:
            entry["before"], entry["after"] = row.before, row.after
        out.append(entry)
    return out


#: The members of a zone decision's ``details`` that list reports (``split``: taken out;
#: ``merge``: added to a zone): a zone spans communes, so they may name another commune's.
_NAMED_REPORTS = ("taken_out", "added")
#: The members naming one report with its reference (``copy``: the copy; the copy's
#: ``create``: its original): an admin may file a copy in another commune.
_NAMED_REPORT = {"copy_id": "copy_reference", "copied_from": "copied_reference"}


def _readable_named_reports(session: Session, viewer: Any, rows: list[Any]) -> set[str] | None:
    """The ids among the reports the rows' zone decisions name that ``viewer`` may read
    (:func:`geosignal.policy.may_read_report`), read in one statement; None for a viewer who
    reads every commune's (nothing to hide)."""
    if policy.sees_all_communes(viewer):
        return None
    named = {str(i) for row in rows for key in _NAMED_REPORTS for i in ((row.details or {}).get(key) or ())}
    named |= {str(row.details[key]) for row in rows for key in _NAMED_REPORT if (row.details or {}).get(key)}
    if not named:
        return set()
    found = session.execute(text("SELECT id::text, commune_nis FROM reports WHERE id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": sorted(named)}).all()
    return {rid for rid, nis in found if policy.may_read_report(viewer, nis)}


def _named_reports_kept(details: dict[str, Any], readable: set[str]) -> dict[str, Any]:
    """``details`` with only the ids of :data:`_NAMED_REPORTS` in ``readable``, and how many
    others there were (``taken_out_elsewhere``, ``added_elsewhere``): a commune learns that
    its report's zone lost or gained reports in other communes, not their ids. A report of
    :data:`_NAMED_REPORT` not in ``readable`` is left out with its reference."""
    kept = dict(details)
    for key in _NAMED_REPORTS:
        if isinstance(details.get(key), list):
            kept[key] = [i for i in details[key] if str(i) in readable]
            if len(kept[key]) < len(details[key]):
                kept[f"{key}_elsewhere"] = len(details[key]) - len(kept[key])
    for key, reference in _NAMED_REPORT.items():  # a copy (or original) in a commune the reader does not read
        if details.get(key) and str(details[key]) not in readable:
            kept.pop(key)
            kept.pop(reference, None)
    return kept


def _may_see_name(viewer: Any, row: Any) -> bool:
    role = getattr(viewer, "role", None)
    if role in ("referent", "admin"):
        return True
    if role == "representative":
        return row.actor_role in ("referent", "admin") or (
            row.actor_commune_nis is not None and row.actor_commune_nis == getattr(viewer, "commune_nis", None))
    return False


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=BRUSSELS)


def journal(
    session: Session,
    *,
    action: str | None = None,
    commune: str | None = None,
    user: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Return the journal newest first, filtered: ``action`` (:data:`AUDIT_ACTIONS`),
    ``commune`` (NIS code of the report, or of the actor for events about no report), ``user``
    (e-mail, exact, case-insensitive), ``date_from`` / ``date_to`` (inclusive days, Brussels
    time); ``limit`` rows (1–:data:`MAX_PAGE`) with ids below ``before_id``.

    Returns ``{"events": [entry + "report_id", "reference", "commune_nis", "actor_name",
    "before", "after"], "next_before_id": int | None}``. Raises ``invalid_request`` (400)
    naming the parameter for an unknown action or a limit out of range.
    """
    if action and action not in AUDIT_ACTIONS:
        raise GeosignalError("invalid_request", f"action must be one of {', '.join(AUDIT_ACTIONS)}", where="action")
    if not 1 <= limit <= MAX_PAGE:
        raise GeosignalError("invalid_request", f"limit must be 1 to {MAX_PAGE}", where="limit")
    clauses, params = ["TRUE"], {"limit": limit + 1}
    if action:
        clauses.append("e.action = :action")
        params["action"] = action
    if commune:
        clauses.append("coalesce(e.commune_nis, e.actor_commune_nis) = :commune")
        params["commune"] = commune
    if user:
        clauses.append("lower(u.email) = lower(:user)")
        params["user"] = user
    if date_from:
        clauses.append("e.at >= :from")
        params["from"] = _day_start(date_from)
    if date_to:
        clauses.append("e.at < :to")
        params["to"] = _day_start(date_to + timedelta(days=1))
    if before_id is not None:  # (0: nothing is before it)
        clauses.append("e.id < :before_id")
        params["before_id"] = before_id
    rows = session.execute(text(f"""
        SELECT e.*, u.email, r.reference FROM audit_events e
        LEFT JOIN users u ON u.id = e.actor_id
        LEFT JOIN reports r ON r.id = e.report_id
        WHERE {' AND '.join(clauses)} ORDER BY e.id DESC LIMIT :limit"""), params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    events = []
    for row in rows:
        entry = _entry(row, show_names=True)
        entry.update(report_id=str(row.report_id) if row.report_id else None, reference=row.reference,
                     commune_nis=row.commune_nis, before=row.before, after=row.after)
        events.append(entry)
    return {"events": events, "next_before_id": rows[-1].id if more else None}
