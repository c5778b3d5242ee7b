"""Move reports through the workflow (:data:`geosignal.workflow.TRANSITIONS`), one or many.

Both paths lock the reports concerned ``FOR UPDATE`` in id order (one fixed order, so that
concurrent writers never deadlock), decide from the table and the actor's role, then write
every move in **one statement**: an ``UPDATE … WHERE id = ANY(…) AND status = ANY(allowed
sources)`` whose ``RETURNING`` rows feed, in the same statement, the ``INSERT … SELECT`` of
their audit events. The stored per-commune figures follow through the statement triggers on
``reports`` (recomputed from the reports, never patched): they stay equal to a
recomputation whatever the interleaving.

Errors (:class:`~geosignal.errors.GeosignalError`): ``not_found`` 404 (no such report, or
one the actor may not read), ``invalid_transition`` 409 (the table has no move from the
current status to the target), ``forbidden`` 403 (the move exists but not for the actor's
role), ``reason_required`` 422 (the move needs a reason, question, answer or note),
``precondition_failed`` 412 (``if_match`` is stale), ``invalid_request`` 400 (unknown
target). Both paths check in that order: the report, the move from its current status, then
the ETag (a report someone else decided meanwhile says its status, not only that it changed).
Flask-free; the caller commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import policy, workflow
from geosignal.errors import GeosignalError
from geosignal.formparse import visible
from geosignal.services.communes import hold_communes
from geosignal.textsafety import refuse_unsafe_text
from geosignal.vocab import STATUSES

#: Longest reason, question, answer or note (characters).
MAX_REASON = 4000

_TEXT_FR = {"reason": "motif", "question": "question", "answer": "réponse", "note": "note"}


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _check_target(to: Any, member: str = "to") -> str:
    if not isinstance(to, str) or to not in STATUSES:
        raise GeosignalError("invalid_request", f"{member} must be one of {', '.join(STATUSES)}",
                             where=f"/{member}")
    return to


def clean_reason(reason: Any) -> str | None:
    """A transition's reason as stored (stripped; None when nothing visible is left). Raises
    422 ``invalid_attribute`` at ``/reason`` for a non-string, more than :data:`MAX_REASON`
    characters (``value``, ``limit``) or a character geosignal does not store."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise GeosignalError("invalid_attribute", "reason must be a string", where="/reason")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise GeosignalError("invalid_attribute", f"reason has {len(reason)} characters; the maximum is "
                             f"{MAX_REASON}", where="/reason", value=len(reason), limit=MAX_REASON)
    refuse_unsafe_text(reason, name="reason", where="/reason")
    return reason if visible(reason) else None  # zero-width characters only: no reason given


def decide(actor: Any, nis: str, source: str, to: str, reason: str | None, *,
           member: str = "to") -> workflow.Transition:
    """Return the transition ``actor`` takes moving a report of commune ``nis`` from
    ``source`` to ``to`` with ``reason``, or raise ``invalid_transition`` (409, no such move),
    ``forbidden`` (403, not for this role) or ``reason_required`` (422, its ``kind`` the
    text's: ``reason``, ``question``, ``answer``, ``note``). ``member``: the body's
    member naming the target (``to``; ``status`` in a ``PATCH``), where the errors point."""
    transition = workflow.find(source, to)
    if transition is None:
        allowed = [t.target for t in workflow.from_status(source)]
        raise GeosignalError("invalid_transition", f"a report {source} cannot become {to}; "
                             f"allowed from {source}: {', '.join(allowed) or 'none'}",
                             where=f"/{member}", status_from=source, status_to=to)
    if not policy.may_transition(actor, nis, source, to):
        raise GeosignalError("forbidden", f"{transition.action} ({source} → {to}) is for "
                             f"{' or '.join(transition.roles)} of the report's commune", where=f"/{member}")
    if transition.text and not reason:
        raise GeosignalError("reason_required", f"{transition.action} needs a {transition.text} "
                             f"({_TEXT_FR[transition.text]}) in reason", where="/reason",
                             kind=transition.text)
    return transition


_LOCK = text("SELECT id, status, commune_nis, change_seq FROM reports WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")

#: One statement: move the reports still in an allowed source status, and journal each move.
#: ``zone_id``: the confirmed zone each report was in before the move (the statement's
#: snapshot: the zone triggers regroup at its end), for the referent's withdrawal notice.
_MOVE = text("""
    WITH wanted AS (
      SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:sources AS varchar[]), CAST(:actions AS varchar[]))
        AS w(id, source, action)
    ), moved AS (
      UPDATE reports r SET status = :to, updated_at = now()
      FROM wanted w WHERE r.id = w.id AND r.status = w.source
      RETURNING r.id, r.commune_nis, w.source, w.action, r.seq, r.change_seq,
        (SELECT zr.zone_id FROM zone_reports zr JOIN zones z ON z.id = zr.zone_id AND z.state = 'confirmed'
         WHERE zr.report_id = r.id) AS zone_id
    ), journal AS (
      INSERT INTO audit_events (action, actor_id, actor_role, actor_commune_nis, report_id, commune_nis,
                                from_status, to_status, reason, details)
      SELECT m.action, :actor_id, :actor_role, :actor_commune_nis, m.id, m.commune_nis, m.source, :to,
             :reason, CAST(:details AS jsonb)
      FROM moved m ORDER BY m.seq
      RETURNING report_id
    )
    SELECT m.id, m.source, m.zone_id, m.change_seq, (SELECT count(*) FROM journal) AS journalled FROM moved m
""")


def _move(session: Session, actor: Any, moves: list[tuple[uuid.UUID, str, str]], to: str,
          reason: str | None, details: dict[str, Any] | None) -> list[tuple[uuid.UUID, str, int]]:
    import json

    if not moves:
        return []
    rows = session.execute(_MOVE, {
        "ids": [m[0] for m in moves], "sources": [m[1] for m in moves], "actions": [m[2] for m in moves],
        "to": to, "reason": reason, "actor_id": getattr(actor, "id", None),
        "actor_role": getattr(actor, "role", None), "actor_commune_nis": getattr(actor, "commune_nis", None),
        "details": json.dumps(details) if details else None,
    }).all()
    from geosignal.services import notifications

    notifications.notify_transition(session, [r.id for r in rows], to, actor, reason, [r.source for r in rows],
                                    [r.zone_id for r in rows])
    return [(r.id, r.source, r.change_seq) for r in rows]


def etag(change_seq: int) -> str:
    """Return the strong ETag of a report at change sequence ``change_seq`` (``"<n>"``)."""
    return f'"{change_seq}"'


#: The content codings an answer's strong ETag is marked with when it leaves compressed
#: (Flask-Compress: ``"7"`` becomes ``"7:gzip"``, :mod:`geosignal.compression`).
ETAG_CODINGS = ("zstd", "br", "gzip", "deflate")
_CODED_TAG = re.compile(r'"(\d+):(?:' + "|".join(ETAG_CODINGS) + r')"')


def require_if_match(if_match: str | None, change_seq: int) -> None:
    """Raise ``precondition_failed`` (412, with the report's current ``etag``) unless
    ``If-Match`` matches a report at ``change_seq`` (:func:`if_match_ok`)."""
    if not if_match_ok(if_match, change_seq):
        raise GeosignalError("precondition_failed", f"the report changed meanwhile: its ETag is now "
                             f"{etag(change_seq)}", etag=etag(change_seq))


def if_match_ok(if_match: str | None, change_seq: int) -> bool:
    """Whether an ``If-Match`` header value matches a report at ``change_seq``: ``*``, or a
    list of entity tags of which one is :func:`etag`, compared strongly (RFC 9110 §13.1.1:
    a weak tag ``W/"n"`` never matches, since it does not vouch for the exact state). The tag
    of the same state as a compressed answer carried it (``"n:gzip"``, :data:`ETAG_CODINGS`)
    matches too: a browser, or any client accepting compression, received only that one."""
    if if_match is None:
        return True
    current = etag(change_seq)
    for tag in (t.strip() for t in if_match.split(",")):
        coded = _CODED_TAG.fullmatch(tag)
        if tag == "*" or tag == current or (coded is not None and f'"{coded.group(1)}"' == current):
            return True
    return False


def transition(
    session: Session,
    report_id: uuid.UUID | str,
    to: str,
    actor: Any,
    reason: str | None = None,
    *,
    if_match: str | None = None,
    member: str = "to",
) -> dict[str, Any]:
    """Move one report to status ``to`` as ``actor`` (a user) and return its Feature.

    ``reason``: the text the move requires (reason, question, answer or note), optional
    otherwise and then recorded too; ``if_match``: an ``If-Match`` value, checked against
    the report's ETag (:func:`etag`) once the report is locked and the move decided (a report
    whose status no longer allows it is ``invalid_transition``; a stale ``if_match`` on a move
    still allowed is ``precondition_failed`` with the current ``etag``, ``status_from`` the
    current status and ``status_to``, as :func:`transition_many` orders them); ``member``: the
    body's member naming the target, where the errors point (``status`` in a ``PATCH``).
    Errors: see the module.
    """
    from geosignal.services import reports as reports_service

    to = _check_target(to, member)
    reason = clean_reason(reason)
    rid = _uuid(report_id)
    hold_communes(session)  # before the row lock (a load of communes re-homes reports)
    row = session.execute(_LOCK, {"ids": [rid]}).first() if rid else None
    if row is None or not policy.may_read_report(actor, row.commune_nis):
        raise GeosignalError("not_found", f"no report {report_id}")
    chosen = decide(actor, row.commune_nis, row.status, to, reason, member=member)
    # after the status, as transition_many: a report whose status no longer allows the move
    # says so (409 invalid_transition, its status_from), which says more than 412 (RFC 9110
    # §13.2.1: a request refused without its preconditions ignores them)
    if not if_match_ok(if_match, row.change_seq):
        raise GeosignalError("precondition_failed", f"the report changed: its ETag is now {etag(row.change_seq)}",
                             etag=etag(row.change_seq), status_from=row.status, status_to=to)
    moved = _move(session, actor, [(row.id, row.status, chosen.action)], to, reason, None)
    assert len(moved) == 1, "the row was locked: it cannot have moved meanwhile"
    return reports_service.get_report(session, actor, row.id)


def transition_many(
    session: Session,
    report_ids: Iterable[uuid.UUID | str],
    to: str,
    actor: Any,
    reason: str | None = None,
    *,
    details: dict[str, Any] | None = None,
    if_match: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Move many reports to status ``to`` as ``actor`` set-wise and say what happened.

    One lock query, one statement moving every report allowed and journalling each move
    (``details``, e.g. ``{"run_id": 12}``, is stored on each event). Reports that may not move
    are left as they are and listed; the call itself raises only for an unknown target
    (``invalid_request``) or a missing required text (``reason_required``, when every report
    the actor could move needs one); when some could move without it, they move and the others
    are listed with ``reason_required`` (a draft and a question's answer moved to ``submitted``
    together: the draft moves, the answer waits for its text).

    ``if_match``: report id → the ETag the actor saw (:func:`etag`); a report changed since
    (another ETag now, :func:`if_match_ok`) is refused with ``precondition_failed`` and its
    current ``etag``: a decision is taken on what was read.

    Returns ``{"to": to, "moved": [ids moved, as strings, in id order], "etags": {id moved:
    its new ETag}, "refused": [{"id", "code": "not_found" | "invalid_transition" | "forbidden"
    | "precondition_failed" | "reason_required", "status": current status or None (and
    ``etag``)}]}``.
    """
    to = _check_target(to)
    reason = clean_reason(reason)
    wanted, refused = [], []
    for value in dict.fromkeys(str(i) for i in report_ids):
        rid = _uuid(value)
        if rid is None:
            refused.append({"id": value, "code": "not_found", "status": None})
        else:
            wanted.append(rid)
    hold_communes(session)  # before the row locks (a load of communes re-homes reports)
    rows = session.execute(_LOCK, {"ids": wanted}).all() if wanted else []
    found = {r.id for r in rows}
    refused += [{"id": str(i), "code": "not_found", "status": None} for i in wanted if i not in found]
    seen = {str(_uuid(k)): v for k, v in (if_match or {}).items() if _uuid(k) is not None}
    moves, wanting_text = [], []
    for row in rows:
        if not policy.may_read_report(actor, row.commune_nis):
            refused.append({"id": str(row.id), "code": "not_found", "status": None})
            continue
        try:
            chosen = decide(actor, row.commune_nis, row.status, to, reason)
        except GeosignalError as error:
            if error.code == "reason_required":  # said below: the call's, or this report's
                wanting_text.append((row, error))
                continue
            refused.append({"id": str(row.id), "code": error.code, "status": row.status})
            continue
        # (after the status: a report that may no longer move says its status, which says more)
        if str(row.id) in seen and not if_match_ok(seen[str(row.id)], row.change_seq):
            refused.append({"id": str(row.id), "code": "precondition_failed", "status": row.status,
                            "etag": etag(row.change_seq)})
            continue
        moves.append((row.id, row.status, chosen.action))
    if wanting_text and not moves:  # nothing could move without the text: the call asks for it
        raise wanting_text[0][1]
    refused += [{"id": str(row.id), "code": "reason_required", "status": row.status} for row, _ in wanting_text]
    moved = _move(session, actor, moves, to, reason, details)
    return {"to": to, "moved": sorted(str(m[0]) for m in moved),
            "etags": {str(m[0]): etag(m[2]) for m in sorted(moved)}, "refused": refused}


def path_to(source: str, target: str, role: str = "admin") -> list[workflow.Transition]:
    """Return the shortest list of transitions ``role`` takes from ``source`` to ``target``
    (breadth-first over the table; empty when equal). Raises ``invalid_transition`` (409)
    when ``target`` cannot be reached. For tests, benchmarks and data loads that need a report
    in a given status through the real workflow."""
    if source == target:
        return []
    frontier: list[tuple[str, list[workflow.Transition]]] = [(source, [])]
    seen = {source}
    while frontier:
        nxt = []
        for status, steps in frontier:
            for t in workflow.from_status(status):
                if role not in t.roles or t.target in seen:
                    continue
                if t.target == target:
                    return [*steps, t]
                seen.add(t.target)
                nxt.append((t.target, [*steps, t]))
        frontier = nxt
    raise GeosignalError("invalid_transition", f"{role} cannot bring a report from {source} to {target}")


def move_along(session: Session, report_id: uuid.UUID | str, target: str, actor: Any,
               reason: str = "Motif de test") -> dict[str, Any]:
    """Bring one report to ``target`` through the shortest path of real transitions
    (:func:`path_to` for ``actor``'s role), each recorded; return its Feature."""
    from geosignal.services import reports as reports_service

    feature = reports_service.get_report(session, actor, report_id)
    for step in path_to(feature["properties"]["status"], target, actor.role):
        feature = transition(session, report_id, step.target, actor, reason if step.text else None)
    return feature
