"""Export runs marked as transmitted to DWconnect, the "new since the last transmitted export"
selection, and the history in plain words.

**Marking a run.** :func:`mark_transmitted` locks the run's row (``FOR UPDATE``: two people
marking the same run at once queue, the second sees it done), records who and when, and moves
the run's reports that are still ``validated`` to ``transmitted`` through
:func:`geosignal.services.workflow.transition_many`: one lock query and one statement moving
them all and journalling each move (with the run's id). Idempotent: marking a run again changes
nothing and says so. A report the run carried that is no longer ``validated`` (withdrawn since,
already transmitted by another run) stays as it is and is counted apart.

**New since the last transmitted export.** :func:`since_last_transmitted` returns the latest
run marked as transmitted that carried everything of its statuses (every commune, the whole
pass) and its watermark: nothing of those statuses changed up to it is missing from DWconnect. Above it, an
export carries the reports whose current change no marked run carried (a run of one commune or
one page, marked since, carried some: those are left out, the others are not). The zones
start from the latest such run that carried zones (a GeoJSON one: :func:`last_transmitted`):
a CSV or GeoPackage marked since gave DWconnect no zone.

Flask-free; the caller commits.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.services.communes import hold_communes
from geosignal.services.export.constants import BRUSSELS, ZONE_FORMATS

#: The ``since`` value meaning "only what is new since the last transmitted export".
SINCE_LAST_TRANSMITTED = "last_transmitted"


@dataclass(frozen=True)
class TerminalOperator:
    """The person at the terminal running ``geosignal mark-transmitted`` (trusted like any
    command of the operator; acts with the ``admin`` role in the workflow, no user id)."""

    label: str
    role: str = "admin"
    id: int | None = None
    commune_nis: str | None = None
    email: str | None = None
    is_authenticated: bool = True


def _run_id(run_id: str | uuid.UUID) -> uuid.UUID:
    try:
        return run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError:
        raise GeosignalError("not_found", f"no export run {run_id}") from None


#: The reports a run carried (ids unpacked from its batches), one row per report.
RUN_REPORTS_SQL = """
SELECT encode(substring(b.report_ids FROM 16 * i - 15 FOR 16), 'hex')::uuid AS report_id,
       b.change_seqs[i] AS change_seq
FROM export_run_batches b, generate_subscripts(b.change_seqs, 1) AS i
WHERE b.run_id = :run"""


#: One statement: each batch of the run keeps the ``change_seq`` of the reports the marking
#: moved to ``transmitted`` unchanged since they were sent (``:moved``), as they are right
#: after it (that move is no news for DWconnect: see ``transmitted_state``); every other
#: report keeps the ``change_seq`` sent — one changed between the export and its marking
#: (withdrawn, rejected, edited) is news DWconnect has not had, which
#: ``since=last_transmitted`` carries.
_KEEP_TRANSMITTED_SEQS = text("""
UPDATE export_run_batches b SET transmitted_change_seqs = x.seqs
FROM (SELECT b2.n, array_agg(coalesce(r.change_seq, b2.change_seqs[i]) ORDER BY i) AS seqs
      FROM export_run_batches b2 CROSS JOIN generate_subscripts(b2.change_seqs, 1) AS i
      LEFT JOIN reports r ON r.id = encode(substring(b2.report_ids FROM 16 * i - 15 FOR 16), 'hex')::uuid
                         AND r.id = ANY(CAST(:moved AS uuid[]))
      WHERE b2.run_id = :run GROUP BY b2.n) x
WHERE b.run_id = :run AND b.n = x.n""")


def markable(filters: dict[str, Any] | None) -> bool:
    """Whether a run made with ``filters`` (its record: ``status`` as
    :meth:`~geosignal.services.export.filters.ExportFilters.as_record` writes it) may be
    marked as transmitted: it carried what DWconnect is sent (``dwconnect``, or statuses among
    :data:`~geosignal.workflow.FORWARDABLE_STATUSES`), not every status (``all``) nor reports
    never validated, which DWconnect would then be recorded as holding."""
    from geosignal import workflow
    from geosignal.services.export.filters import DWCONNECT

    status = (filters or {}).get("status")
    return status == DWCONNECT or (isinstance(status, str) and bool(status) and status != "all"
                                   and set(status.split(",")) <= set(workflow.FORWARDABLE_STATUSES))


def _not_markable(status: int) -> GeosignalError:
    from geosignal import workflow
    from geosignal.services.export.filters import DWCONNECT

    return GeosignalError(
        "invalid_request", "only an export of what DWconnect is sent is marked as transmitted: status "
        f"{DWCONNECT} or among {', '.join(workflow.FORWARDABLE_STATUSES)} (status=all, or a status of reports never "
        "validated, is a full export, not a transmission)", where="status", kind="not_for_dwconnect", status=status,
        allowed=[DWCONNECT, *workflow.FORWARDABLE_STATUSES])


def check_markable(filters: Any) -> None:
    """Refuse, before an export starts, ``mark_transmitted`` for ``filters``
    (:class:`~geosignal.services.export.filters.ExportFilters`) that :func:`markable` refuses:
    ``invalid_request`` (400, ``where`` ``status``, kind ``not_for_dwconnect``)."""
    if not markable(filters.as_record()):
        raise _not_markable(400)


def mark_transmitted(session: Session, run_id: str | uuid.UUID, actor: Any, *,
                     now: datetime | None = None) -> dict[str, Any]:
    """Mark export run ``run_id`` as transmitted to DWconnect by ``actor`` (a user, or a
    :class:`TerminalOperator`) and move its reports still ``validated`` to ``transmitted``.

    Returns ``{"run_id", "already": bool (it was marked before: nothing changed),
    "transmitted_at" (ISO 8601, Brussels), "transmitted_actor", "moved": n reports moved,
    "not_moved": n carried reports no longer validated (left as they are)}``. Raises
    ``not_found`` (404) for an unknown run, ``forbidden`` (403) when ``actor`` may not mark
    reports as transmitted (the workflow table: referent, admin), ``invalid_request`` (409,
    kind ``not_for_dwconnect``) for a run of other statuses than DWconnect is sent
    (:func:`markable`). The caller commits.
    """
    from geosignal.services import workflow as workflow_service

    if getattr(actor, "role", None) not in ("referent", "admin"):
        raise GeosignalError("forbidden", "marking an export as transmitted is for the referent and admins")
    rid = _run_id(run_id)
    hold_communes(session)  # before the reports' row locks (a load of communes re-homes reports)
    run = session.execute(text(
        "SELECT id, transmitted_at, transmitted_actor, feature_count, filters FROM export_runs WHERE id = :id "
        "FOR UPDATE"), {"id": rid}).first()
    if run is None:
        raise GeosignalError("not_found", f"no export run {run_id}")
    if run.transmitted_at is None and not markable(run.filters):
        raise _not_markable(409)
    if run.transmitted_at is not None:
        return {"run_id": str(rid), "already": True, "transmitted_at": run.transmitted_at.astimezone(BRUSSELS).isoformat(),
                "transmitted_actor": run.transmitted_actor, "moved": 0, "not_moved": 0}
    # the run's reports, locked (in id order, as every transition locks) until the marking
    # commits: which are still validated, and which are as they were sent
    carried = session.execute(text(
        f"SELECT c.report_id, r.status = 'validated', r.change_seq = c.change_seq FROM ({RUN_REPORTS_SQL}) c "
        "JOIN reports r ON r.id = c.report_id ORDER BY r.id FOR UPDATE OF r"), {"run": rid}).all()
    ids = [report_id for report_id, validated, _ in carried if validated]
    outcome = workflow_service.transition_many(session, ids, "transmitted", actor,
                                               details={"export_run": str(rid)})
    as_sent = {str(report_id) for report_id, _, unchanged in carried if unchanged}
    session.execute(_KEEP_TRANSMITTED_SEQS, {"run": rid, "moved": [uuid.UUID(i) for i in outcome["moved"]
                                                                   if i in as_sent]})
    label = getattr(actor, "label", None) or getattr(actor, "email", None) or "?"
    when = session.execute(text(
        "UPDATE export_runs SET mark_transmitted = true, transmitted_at = coalesce(CAST(:now AS timestamptz), now()), "
        "transmitted_by_id = :uid, transmitted_actor = :label, transmitted_role = :role WHERE id = :id "
        "RETURNING transmitted_at"),
        {"now": now, "uid": getattr(actor, "id", None), "label": label, "role": actor.role, "id": rid}).scalar_one()
    return {"run_id": str(rid), "already": False, "transmitted_at": when.astimezone(BRUSSELS).isoformat(),
            "transmitted_actor": label, "moved": len(outcome["moved"]),
            "not_moved": run.feature_count - len(outcome["moved"])}


def complete(filters: dict[str, Any] | None) -> bool:
    """Whether a run made with ``filters`` (its record) carried everything of its statuses
    (:func:`markable`): every commune, no box, no period, not a page, and made in full or
    itself "new since the last transmitted export" (so complete above such a run's watermark
    in turn)."""
    filters = filters or {}
    return (markable(filters) and filters.get("commune") is None and filters.get("bbox") is None
            and not any(k in filters for k in ("from", "to", "limit", "cursor"))
            and (filters.get("since") is None or "since_last_transmitted" in filters))


def _unswept(filters: dict[str, Any] | None) -> list[str]:
    """The statuses DWconnect is sent (:data:`~geosignal.workflow.FORWARDABLE_STATUSES`) that
    a run made with ``filters`` did not carry (none for ``dwconnect``; a run of validated
    reports only left out the transmitted, resolved and not resolved ones)."""
    from geosignal import workflow
    from geosignal.services.export.filters import DWCONNECT

    status = (filters or {}).get("status")
    carried = set(workflow.FORWARDABLE_STATUSES) if status == DWCONNECT else set(str(status).split(","))
    return [s for s in workflow.FORWARDABLE_STATUSES if s not in carried]


#: The reports DWconnect was sent (carried by a run marked as transmitted), each with the
#: latest ``change_seq`` it has of them (sent, or right after the marking's move).
_HELD = """SELECT encode(substring(b.report_ids FROM 16 * i - 15 FOR 16), 'hex')::uuid AS id,
             max(greatest(b.change_seqs[i], b.transmitted_change_seqs[i])) AS sent
      FROM export_run_batches b JOIN export_runs e ON e.id = b.run_id
      CROSS JOIN LATERAL generate_subscripts(b.change_seqs, 1) AS i
      WHERE e.mark_transmitted GROUP BY 1"""

#: The lowest ``change_seq``, up to ``:w`` (a complete run's watermark), of a change DWconnect
#: lacks that the run did not carry: a report DWconnect holds, changed since it was sent and
#: never carried since (withdrawn between an export and its marking, then passed by a later
#: run's watermark — a full export carries no removal); or, never sent, in a status the run
#: left out (``:unswept``, :func:`_unswept`: validated reports below a run of transmitted ones).
#: The reports DWconnect holds are read from the marked runs' batches, not from every report.
_FIRST_CHANGE_NOT_CARRIED = f"""
WITH h AS MATERIALIZED ({_HELD})
SELECT min(r.change_seq) FROM reports r LEFT JOIN h ON h.id = r.id
WHERE r.change_seq <= :w
  AND ((h.id IS NOT NULL AND r.change_seq > h.sent {{held}}) {{unswept}})"""


def since_last_transmitted(session: Session, statuses: tuple[str, ...] | None = None,
                           removals: bool = True) -> tuple[int | None, str | None]:
    """Return (watermark, run id) of the latest run marked as transmitted that carried
    everything of its statuses (:func:`complete`), or (None, None) when none was, for an
    export of ``statuses`` (None: every status) with or without ``removals``
    (:class:`~geosignal.services.export.filters.ExportFilters`: ``status=dwconnect``'s).

    Every report changed up to that watermark went to DWconnect with that run or before it;
    an export with ``since_seq`` = that watermark and ``since_run`` then carries, above it,
    what DWconnect lacks: the reports whose current change no marked run carried
    (:func:`~geosignal.services.export.filters.where_clause`). A run of one commune, of a
    period or a page, marked since, gives no watermark: the latest marked run's watermark hid,
    for good, the reports it did not carry (another commune's, the next page's). One query over
    the marked runs (a few a month), newest first, and one over the reports they carried.

    The watermark returned is below any change DWconnect lacks that the run did not carry
    and that this export would carry (:data:`_FIRST_CHANGE_NOT_CARRIED`): a report a marked run
    carried, withdrawn before that run was marked and passed by a later complete run's
    watermark (a full export carries no removal), is still news to an export carrying removals
    until a marked run carries its withdrawal; so is a validated report below the watermark of a
    run of transmitted reports only, to an export of validated reports. Lowering it carries
    no report DWconnect has: above the watermark an export leaves out what a marked run carried
    in its current state (the confirmed zones changed in between are carried again, in their
    current state, which an integrator's upsert takes as it is).

    This is the reports' starting point; the zones' may be older (:func:`last_transmitted`)."""
    return _reports_start(session, _marked_runs(session), statuses, removals)


def _marked_runs(session: Session) -> list[Any]:
    """The runs marked as transmitted (id, format, watermark, filters), newest marking first."""
    return session.execute(text(
        "SELECT id, format, watermark, filters FROM export_runs WHERE transmitted_at IS NOT NULL "
        "ORDER BY transmitted_at DESC, created_at DESC")).all()


def _reports_start(session: Session, rows: list[Any], statuses: tuple[str, ...] | None,
                   removals: bool) -> tuple[int | None, str | None]:
    """:func:`since_last_transmitted` over the marked runs ``rows`` (:func:`_marked_runs`)."""
    row = next((r for r in rows if complete(r.filters)), None)
    if row is None:
        return None, None
    watermark = int(row.watermark)
    unswept = [s for s in _unswept(row.filters) if statuses is None or s in statuses]
    params: dict[str, Any] = {"w": watermark}
    held = ""
    if not removals and statuses is not None:  # (a removal is news only to an export carrying them)
        held, params["carried"] = "AND r.status = ANY(CAST(:carried AS varchar[]))", list(statuses)
    if unswept:
        params["unswept"] = unswept
    first = session.scalar(text(_FIRST_CHANGE_NOT_CARRIED.format(
        held=held, unswept="OR (h.id IS NULL AND r.status = ANY(CAST(:unswept AS varchar[])))" if unswept else "")),
        params)
    return (watermark if first is None else min(watermark, int(first) - 1)), str(row.id)


def _zone_start(rows: list[Any]) -> Any | None:
    """The newest of the marked runs ``rows`` (:func:`_marked_runs`) that gave DWconnect every
    confirmed zone changed up to its watermark, or None: a format carrying zones
    (:data:`~geosignal.services.export.constants.ZONE_FORMATS`), :func:`complete`, and full or
    "new since the last transmitted export" above a starting point for zones (its
    ``zones_since_last_transmitted``, else its ``since_last_transmitted``) that is ``none`` or
    such a run in turn. A GeoJSON run made above a marked CSV before the zones had their own
    starting point records none: its zones started from the CSV's watermark, and it carried
    only part of them. Each chain of runs is walked once."""
    by_id = {str(r.id): r for r in rows}
    known: dict[str, bool] = {}

    def carried(row: Any) -> bool:
        chain: list[str] = []
        while True:
            key = str(row.id)
            if key in known:
                result = known[key]
                break
            chain.append(key)
            filters = row.filters or {}
            if row.format not in ZONE_FORMATS or not complete(filters):
                result = False
                break
            start = filters.get("zones_since_last_transmitted", filters.get("since_last_transmitted"))
            if start is None or start == "none":
                result = True
                break
            row = by_id.get(start)
            if row is None or str(row.id) in chain:
                result = False
                break
        known.update(dict.fromkeys(chain, result))
        return result

    return next((r for r in rows if carried(r)), None)


def last_transmitted(session: Session, statuses: tuple[str, ...] | None = None,
                     removals: bool = True) -> dict[str, Any]:
    """Return the since-arguments of :class:`~geosignal.services.export.filters.ExportFilters`
    for "only what is new since the last transmitted export" (``since=last_transmitted``,
    ``geosignal export --since-last-transmitted``), for an export of ``statuses`` with or
    without ``removals``: ``since_seq`` and ``since_run`` (``none`` when no run gives one) from
    :func:`since_last_transmitted`, for the reports; and, when it is another run, the zones'
    starting point: ``zone_since_run``, the newest marked run that carried zones
    (:func:`_zone_start`; ``none``: no such run, every zone comes and none is said removed),
    and ``zone_since_seq``, its watermark, or the reports' when lower (carrying a zone again is
    harmless: an integrator upserts it). A CSV or GeoPackage carries no zone: marked, it moves
    the reports' starting point, never the zones' — a zone confirmed, split or removed before it
    is still news for DWconnect. Two queries (the marked runs, a few a month; the reports they
    carried)."""
    rows = _marked_runs(session)
    since_seq, since_run = _reports_start(session, rows, statuses, removals)
    zone_run = _zone_start(rows)
    out: dict[str, Any] = {"since_seq": since_seq, "since_run": since_run or "none"}
    if zone_run is None and since_run is not None:
        out.update(zone_since_run="none", zone_since_seq=None)
    elif zone_run is not None and str(zone_run.id) != since_run:
        assert since_seq is not None  # (a run that carried zones is complete: the reports start there or later)
        out.update(zone_since_run=str(zone_run.id), zone_since_seq=min(int(zone_run.watermark), int(since_seq)))
    return out


def any_transmitted(session: Session) -> bool:
    """Whether any export run has been marked as transmitted."""
    return bool(session.scalar(text("SELECT EXISTS (SELECT 1 FROM export_runs WHERE transmitted_at IS NOT NULL)")))


def history(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Return the latest export runs, newest first, with what the history says of each: the
    run's summary (:func:`~geosignal.services.export.runs.run_summary`) plus ``made_at`` and
    ``transmitted_on`` (aware datetimes, Brussels time; None when not transmitted),
    ``commune_name`` (of the ``commune`` filter, None for every commune), ``period_from`` /
    ``period_to`` (dates or None) and ``new_only`` (made with "only what is new since the last
    transmitted export"), ``markable`` (:func:`markable`), ``format_key`` (see :func:`format_key`) and ``same_as`` (for a run not marked: the marked run that carried the
    same reports in the same state, in another format or made again, as ``{"id", "format",
    "format_key", "made_at", "transmitted_on"}``; None otherwise: see :func:`_same_content`) and
    ``withdrawn_since`` (:func:`_withdrawn_since`). Three queries (runs with their commune's
    name; the marked runs of the same watermarks; the reports withdrawn since)."""
    from datetime import date

    from sqlalchemy import select

    from geosignal.models import Commune, ExportRun
    from geosignal.services.export.runs import run_summary

    rows = session.execute(
        select(ExportRun, Commune.name_fr)
        .outerjoin(Commune, Commune.nis_code == ExportRun.filters["commune"].astext)
        .order_by(ExportRun.created_at.desc(), ExportRun.id).limit(limit)).all()
    out = []
    for run, commune_name in rows:
        doc = run_summary(run)
        filters = run.filters or {}
        doc.update(
            made_at=run.created_at.astimezone(BRUSSELS),
            transmitted_on=run.transmitted_at.astimezone(BRUSSELS) if run.transmitted_at else None,
            commune_name=commune_name,
            period_from=date.fromisoformat(filters["from"]) if filters.get("from") else None,
            period_to=date.fromisoformat(filters["to"]) if filters.get("to") else None,
            new_only="since_last_transmitted" in filters,
            format_key=format_key(run.format, filters),
            markable=markable(filters),
        )
        out.append(doc)
    _same_content(session, out)
    _withdrawn_since(session, out)
    return out


def _withdrawn_since(session: Session, runs: list[dict[str, Any]]) -> None:
    """Set ``withdrawn_since`` on each run of ``runs`` (history dicts): for a run not marked as
    transmitted, the references of the reports it carried that their commune has withdrawn
    since (sorted; the file still carries them in their state then, validated or after), for
    the referent to see before she sends it; ``[]`` otherwise. One statement over the runs'
    batches of carried reports."""
    pending = [run["id"] for run in runs if run["transmitted_on"] is None and run["feature_count"]]
    for run in runs:
        run["withdrawn_since"] = []
    if not pending:
        return
    rows = session.execute(text("""
        SELECT b.run_id::text, r.reference
        FROM export_run_batches b
        CROSS JOIN LATERAL generate_subscripts(b.change_seqs, 1) AS i
        JOIN reports r ON r.id = encode(substring(b.report_ids FROM 16 * i - 15 FOR 16), 'hex')::uuid
        WHERE b.run_id = ANY(CAST(:runs AS uuid[])) AND r.status = 'withdrawn' AND r.change_seq > b.change_seqs[i]
        ORDER BY 1, 2"""), {"runs": pending}).all()
    by_run: dict[str, list[str]] = {}
    for run_id, reference in rows:
        by_run.setdefault(run_id, []).append(reference)
    for run in runs:
        run["withdrawn_since"] = by_run.get(run["id"], [])


def format_key(fmt: str, filters: dict[str, Any] | None) -> str:
    """How the history names a run's file: its format, and for CSV its dialect and decimal
    separator (``csv``, ``csv-comma``, ``csv-plain``, ``csv-plain-comma``): two CSV runs of the
    same reports read apart."""
    if fmt != "csv":
        return fmt
    filters = filters or {}
    return "csv" + ("-plain" if filters.get("dialect") == "plain" else "") + (
        "-comma" if filters.get("decimal") == "comma" else "")


#: Options of a run that change how its reports are written, not which (CSV dialect).
FORMAT_OPTIONS = ("dialect", "decimal")


def _content_key(run: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two runs carry the same reports in the same state: the same watermark (no
    report changed between them), the same filters (format options aside; a page's cursor
    and limit stay in) and the same counts."""
    filters = {k: v for k, v in (run["filters"] or {}).items() if k not in FORMAT_OPTIONS}
    return (run["next_since"], json.dumps(filters, sort_keys=True), run["feature_count"], run["excluded_count"])


def _zones(run: Any) -> tuple[int, int]:
    """The zone part of a run (a history dict or a row): (zones carried, zones said removed)."""
    if isinstance(run, dict):
        return run["zone_count"], run["zones_removed_count"]
    return run.zone_count, run.zones_removed_count


def _same_content(session: Session, runs: list[dict[str, Any]]) -> None:
    """Set ``same_as`` on each run of ``runs`` (history dicts) not marked as transmitted whose
    reports a marked run carried in the same state (the same export downloaded in two formats,
    one of them marked): marking it would move nothing. A run that carried zones (GeoJSON)
    is the same only as a marked run that carried as many: a marked CSV of the same reports
    gave DWconnect no zone. One query for the marked runs of those watermarks (they may be
    older than the runs listed)."""
    pending = [run for run in runs if run["transmitted_on"] is None]
    for run in runs:
        run["same_as"] = None
    if not pending:
        return
    watermarks = sorted({int(run["next_since"].removeprefix("seq:")) for run in pending})
    rows = session.execute(text(
        "SELECT id, format, filters, watermark, feature_count, excluded_count, zone_count, zones_removed_count, "
        "created_at, transmitted_at FROM export_runs WHERE transmitted_at IS NOT NULL AND watermark = ANY(:w) "
        "ORDER BY transmitted_at, created_at"), {"w": watermarks}).all()
    marked: dict[tuple[Any, ...], list[tuple[tuple[int, int], dict[str, Any]]]] = {}
    for row in rows:
        key = _content_key({"next_since": f"seq:{row.watermark}", "filters": row.filters,
                            "feature_count": row.feature_count, "excluded_count": row.excluded_count})
        marked.setdefault(key, []).append((_zones(row), {
            "id": str(row.id), "format": row.format, "format_key": format_key(row.format, row.filters),
            "made_at": row.created_at.astimezone(BRUSSELS), "transmitted_on": row.transmitted_at.astimezone(BRUSSELS)}))
    for run in pending:
        zones = _zones(run)
        run["same_as"] = next((same for carried, same in marked.get(_content_key(run), [])
                               if zones == (0, 0) or carried == zones), None)
