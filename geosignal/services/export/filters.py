"""Which reports an export carries: filters, the pass watermark, page cursors.

**Incremental, without skipping or repeating.** Every insert and update of a report takes
a fresh ``reports.change_seq`` (trigger, migration 0003) *after* taking a shared advisory
lock (:data:`CHANGE_LOCK_KEY`). An export reads its **watermark** (highest committed
``change_seq`` and highest insertion ``seq``) while holding that lock exclusively for an
instant: no change numbered at or below the watermark can still be uncommitted, so a later
``since=seq:<watermark>`` sees every change that came after. A *pass* (one response, or the
pages of a ``limit``/``cursor`` sequence) lists the reports inserted up to the watermark's
``seq`` that match the filters, **in insertion order** (``seq``, immutable): no report can
appear twice in a pass, and a report changed during the pass before its rows were read is
written once, in its latest state. A report changed after its rows were read, and reports
inserted during the pass, come in the next pass (``since`` = this pass's ``next_since``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import workflow
from geosignal.errors import GeosignalError
from geosignal.params import ISO_DAY, bbox_clause, in_utc, parse_day, whole_number
from geosignal.services.export.constants import BRUSSELS, CHANGE_LOCK_KEY, SENT_CHANGE_SEQ_SQL


@dataclass(frozen=True)
class Watermark:
    """Highest committed ``change_seq`` and highest insertion ``seq`` when a pass started."""

    change_seq: int
    seq: int


@dataclass(frozen=True)
class ExportFilters:
    """Which reports an export carries.

    ``statuses`` None means every status but ``draft`` (never exported); ``commune`` a NIS code; ``bbox`` (min lon, min lat,
    max lon, max lat) EPSG:4326, reports whose geometry intersects it; ``since_time`` reports
    updated after that instant (aware datetime; convenient, but a change committed late by a
    long transaction can be missed: use ``since_seq`` for synchronisation); ``since_seq``
    reports whose ``change_seq`` is above it (the ``next_since`` of a previous export);
    ``date_from`` / ``date_to`` the period, inclusive days in Brussels time compared with the
    report's date (``observed_at``, or ``created_at`` when no observation date was given, as in
    the statistics); ``since_run`` the id of the transmitted run whose watermark gave
    ``since_seq`` ("only what is new since the last transmitted export", see
    :func:`geosignal.services.export.transmission.since_last_transmitted`), recorded with the run;
    ``zone_since_run`` / ``zone_since_seq``, when the zone part of "only what is new since the
    last transmitted export" starts elsewhere than the reports' (the newest marked run that
    carried zones is older than ``since_run``, a CSV or GeoPackage: see
    :func:`geosignal.services.export.transmission.last_transmitted`): that run's id (or
    ``none``: no marked run carried zones) and the ``change_seq`` the zones start above (None:
    every zone, none said removed), recorded with the run;
    ``removals`` (``status=dwconnect``, with ``statuses`` = :data:`~geosignal.workflow.FORWARDABLE_STATUSES`):
    an incremental pass also carries, in their current status, the reports that left those
    statuses since (withdrawn after their validation) and that DWconnect may hold — see
    :func:`where_clause`.

    Raises ``invalid_request`` (400, ``where`` = ``status``, kind ``not_for_dwconnect``) for
    ``since_run`` with a status a report never validated may be in (``all``, ``submitted``…):
    "new since the last transmitted export" is what DWconnect is sent.
    """

    statuses: tuple[str, ...] | None = ("validated",)
    commune: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    since_time: datetime | None = None
    since_seq: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    since_run: str | None = None
    removals: bool = False
    zone_since_run: str | None = None
    zone_since_seq: int | None = None

    def __post_init__(self) -> None:
        from geosignal.services.export.transmission import markable

        if self.since_run is not None and not markable({"status": self.status_record}):
            raise GeosignalError(
                "invalid_request", "since=last_transmitted sends DWconnect what it lacks, and DWconnect is sent "
                f"validated reports only: status must be {DWCONNECT} or among "
                f"{', '.join(workflow.FORWARDABLE_STATUSES)} (status=all is for a full export, without since)",
                where="status", kind="not_for_dwconnect", allowed=[DWCONNECT, *workflow.FORWARDABLE_STATUSES])

    @property
    def status_record(self) -> str:
        """The statuses as a run records them: ``all``, ``dwconnect`` or a comma-separated list
        (what :func:`~geosignal.services.export.transmission.markable` judges)."""
        return "all" if self.statuses is None else DWCONNECT if self.removals else ",".join(self.statuses)

    def as_record(self) -> dict[str, Any]:
        """Return the filters as JSON-ready data (what an export run records); the period and
        the "new since the last transmitted export" choice only when given (and the zones'
        starting point only when it is not the reports')."""
        record: dict[str, Any] = {
            "status": self.status_record,
            "commune": self.commune,
            "bbox": list(self.bbox) if self.bbox else None,
            "since": format_since(self) if self.since_time or self.since_seq is not None else None,
        }
        if self.date_from:
            record["from"] = self.date_from.isoformat()
        if self.date_to:
            record["to"] = self.date_to.isoformat()
        if self.since_run is not None:
            record["since_last_transmitted"] = self.since_run
        if self.zone_since_run is not None:
            record["zones_since_last_transmitted"] = self.zone_since_run
            record["zones_since"] = None if self.zone_since_seq is None else f"seq:{self.zone_since_seq}"
        return record


def parse_period(raw_from: str | None, raw_to: str | None) -> tuple[date | None, date | None]:
    """Parse the period ``from`` / ``to`` (``YYYY-MM-DD``, inclusive days, Brussels time; empty:
    open). Raises ``invalid_request`` (400) naming the parameter for a malformed date or
    ``from`` after ``to``."""
    start, end = parse_day(raw_from, where="from"), parse_day(raw_to, where="to")
    if start and end and start > end:
        raise GeosignalError("invalid_request", "from is after to", where="from", kind="period_reversed")
    return start, end


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=BRUSSELS)


def format_since(filters: ExportFilters) -> str | None:
    """Return the ``since`` parameter value that gives ``filters``' since-filter."""
    if filters.since_seq is not None:
        return f"seq:{filters.since_seq}"
    return filters.since_time.isoformat() if filters.since_time else None


def parse_since(raw: str | None) -> tuple[datetime | None, int | None]:
    """Parse ``since``: ``seq:<n>`` (a ``next_since`` token) or an ISO 8601 date-time with offset.

    Returns (since_time — in UTC, :func:`~geosignal.params.in_utc` —, since_seq). Raises ``invalid_request`` (400) otherwise.
    """
    if not raw:
        return None, None
    raw = raw.strip()
    if raw.startswith("seq:"):
        n = whole_number(raw[4:])
        if n is None:
            raise GeosignalError("invalid_request", "since=seq:<n> needs a whole number n ≥ 0 (digits 0-9)",
                                 where="since")
        return None, n
    try:  # (a week date or the basic form, which fromisoformat also reads: see params.ISO_DAY)
        when = (datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
                if ISO_DAY.match(raw) and raw[10:11] in ("T", "t", " ") else None)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise GeosignalError("invalid_request", "since is seq:<n> or an ISO 8601 date-time with offset "
                             "(e.g. 2026-03-01T00:00:00+01:00)", where="since")
    return in_utc(when, where="since"), None


#: Statuses an export may carry: every one but ``draft`` (a draft is the commune's, not yet
#: sent to anybody; it is never exported, not even with ``status=all``).
EXPORTABLE_STATUSES: tuple[str, ...] = workflow.FILED_STATUSES

#: The ``status`` value of what DWconnect is sent: the reports the referent validated, in
#: :data:`~geosignal.workflow.FORWARDABLE_STATUSES`, and in an incremental export the removals
#: too (:attr:`ExportFilters.removals`).
DWCONNECT = "dwconnect"


def parse_status(raw: str | None) -> tuple[str, ...] | None:
    """Parse ``status``: ``all`` (every status but ``draft``: None), ``dwconnect``
    (:data:`~geosignal.workflow.FORWARDABLE_STATUSES`; :func:`parse_status_filter` adds its
    removals), one status or a comma-separated list of :data:`EXPORTABLE_STATUSES` (default
    ``validated``).

    Raises ``invalid_request`` (400) for an unknown status or ``draft``.
    """
    if raw is None or raw == "":
        return ("validated",)
    if raw == "all":
        return None
    if raw == DWCONNECT:
        return workflow.FORWARDABLE_STATUSES
    parts = tuple(dict.fromkeys(p.strip() for p in raw.split(",")))
    for p in parts:
        if p not in EXPORTABLE_STATUSES:
            raise GeosignalError("invalid_request", f"status must be 'all', '{DWCONNECT}' or among "
                                 f"{', '.join(EXPORTABLE_STATUSES)}"
                                 + (" (a draft is never exported)" if p == "draft" else ""), where="status",
                                 allowed=list(EXPORTABLE_STATUSES))
    return parts


def parse_status_filter(raw: str | None) -> dict[str, Any]:
    """Parse ``status`` as :func:`parse_status` does, into the :class:`ExportFilters` arguments
    it gives: ``{"statuses": …, "removals": bool}`` (``removals`` for ``dwconnect`` only)."""
    return {"statuses": parse_status(raw), "removals": raw == DWCONNECT}


@dataclass(frozen=True)
class Paging:
    """A page of a pass: at most ``limit`` reports after insertion ``seq`` ``after``, within
    the pass's watermark (None on the first page: it is read then)."""

    limit: int
    after: int = 0
    watermark: Watermark | None = None


#: The largest insertion or change ``seq`` a cursor may carry (PostgreSQL ``bigint``).
MAX_SEQ = 2**63 - 1


def pass_key(filters: ExportFilters) -> str:
    """A short digest of the filters of a pass: a cursor carries it, so that a cursor used with
    other filters (another ``status``, ``since``, commune, period…) is refused instead of mixing
    one pass's watermark with another's reports."""
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]


def encode_cursor(after: int, watermark: Watermark, filters: ExportFilters) -> str:
    """Return the opaque cursor of the page after insertion ``seq`` ``after`` in a pass with
    ``filters``."""
    raw = json.dumps([after, watermark.change_seq, watermark.seq, pass_key(filters)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: ExportFilters, session: Session | None = None) -> tuple[int, Watermark]:
    """Return (after, watermark) of a cursor of a pass with ``filters``.

    Raises ``invalid_request`` (400, ``where`` = ``cursor``) when it is malformed, carries a
    number beyond :data:`MAX_SEQ` or a position past its own watermark, belongs to a pass with
    other filters, or (with ``session``) carries a watermark above the current one: no pass
    was ever taken there (the cursor is no signed token: one made up with a watermark ahead
    recorded a run, and a ``next_since``, past reports not yet changed — which a marked run
    then hid from "new since the last transmitted export").
    """
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, change_seq, seq, key = values
        numbers = (after, change_seq, seq)
        if not all(type(v) is int and 0 <= v <= MAX_SEQ for v in numbers) or not isinstance(key, str):
            raise ValueError(values)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise GeosignalError("invalid_request", "cursor is malformed: send the next_cursor of the previous page "
                             "as it was given", where="cursor") from None
    if key != pass_key(filters):
        raise GeosignalError("invalid_request", "cursor belongs to an export with other filters: send the same "
                             "status, commune, bbox, since, from and to as the first page", where="cursor")
    if after > seq or (session is not None and _ahead(session, change_seq, seq)):
        raise GeosignalError("invalid_request", "cursor was not given by geosignal (it points past every change "
                             "made): send the next_cursor of the previous page as it was given", where="cursor")
    return after, Watermark(change_seq, seq)


#: The highest ``change_seq`` of reports and of zone changes (one sequence numbers both), and
#: the highest ``seq`` of reports: a watermark.
_HIGHEST = text(
    "SELECT greatest(coalesce(max(change_seq), 0), (SELECT coalesce(max(change_seq), 0) FROM zone_changes)), "
    "coalesce(max(seq), 0) FROM reports")


def _ahead(session: Session, change_seq: int, seq: int) -> bool:
    """Whether a watermark is above the current highest ``change_seq`` or ``seq``
    (:data:`_HIGHEST`, read without the lock: both only grow, so a real pass's watermark never
    is)."""
    now_change, now_seq = session.execute(_HIGHEST).one()
    return change_seq > now_change or seq > now_seq


def read_watermark(session: Session) -> Watermark:
    """Return the current watermark, read while no report or zone change can be uncommitted.

    Takes the advisory lock :data:`CHANGE_LOCK_KEY` exclusively (waiting for transactions
    that changed reports or confirmed zones to end; changes made by this very session do not
    block it), reads the highest ``change_seq`` of reports and of ``zone_changes`` (one
    sequence numbers both, migration 0026) and ``max(seq)`` of reports, and releases the lock.
    """
    session.execute(text("SELECT pg_advisory_lock(:k)"), {"k": CHANGE_LOCK_KEY})
    try:
        row = session.execute(_HIGHEST).one()
    except BaseException:
        # the lock is the connection's, not the transaction's: released after the rollback (an
        # aborted transaction refuses the unlock, which hid the error), so the pooled connection
        # does not keep it
        session.rollback()
        session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CHANGE_LOCK_KEY})
        raise
    session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CHANGE_LOCK_KEY})
    return Watermark(int(row[0]), int(row[1]))


#: A removal of an incremental ``status=dwconnect`` pass (on ``reports r``, ``:statuses`` the
#: forwardable ones): a report out of them now whose journal shows a move into or out of one of
#: them (validated, then withdrawn: the withdrawal's ``from_status`` is ``validated``). A report
#: never validated has no such move.
REMOVAL_SQL = """r.status <> ALL(:statuses) AND EXISTS (
    SELECT 1 FROM audit_events v WHERE v.report_id = r.id
      AND (v.to_status = ANY(:statuses) OR v.from_status = ANY(:statuses)))"""


def where_clause(filters: ExportFilters, paging: Paging | None, watermark: Watermark, *,
                 since: bool = True, status: bool = True) -> tuple[str, dict[str, Any]]:
    """Return the SQL condition on ``reports r`` selecting a pass's reports (those inserted up to
    the watermark's ``seq`` that match the filters, after the page's ``after``) and its bound
    values (SQLAlchemy ``:name`` style). ``since=False`` leaves the since-filters out (``since``,
    "new since the last transmitted export") and ``status=False`` the status filter (drafts
    stay out): what decides which zones a pass carries (:mod:`.zones`).

    **Removals** (``filters.removals``, ``status=dwconnect``, incremental passes only): besides
    the reports in ``filters.statuses`` (the forwardable ones), those in another status that
    were in one of them (a journalled move, :data:`REMOVAL_SQL`: withdrawn after their
    validation) — and, new since the last transmitted export (``since_run``), that a run marked
    as transmitted carried (:data:`SENT_CHANGE_SEQ_SQL`): DWconnect holds them and is to take
    them down. A report never validated is never carried. One condition of the same query,
    read through the journal's ``(report_id, id)`` index: no per-report round trip."""
    clauses, params = ["r.seq <= :max_seq"], {"max_seq": watermark.seq}
    incremental = since and (filters.since_time is not None or filters.since_seq is not None
                             or filters.since_run is not None)
    if status and filters.statuses is not None and filters.removals and incremental:
        removal = REMOVAL_SQL + (f" AND {SENT_CHANGE_SEQ_SQL} IS NOT NULL" if filters.since_run is not None else "")
        clauses.append(f"(r.status = ANY(:statuses) OR ({removal}))")
        params["statuses"] = list(filters.statuses)
    elif status and filters.statuses is not None:
        clauses.append("r.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    else:  # every status a report can be exported in: never a draft
        clauses.append("r.status <> 'draft'")
    if filters.commune:
        clauses.append("r.commune_nis = :commune")
        params["commune"] = filters.commune
    if filters.bbox:
        clauses.append(bbox_clause(filters.bbox, params))
    if since and filters.since_time is not None:
        clauses.append("r.updated_at > :since_time")
        params["since_time"] = filters.since_time
    if since and filters.since_seq is not None:
        clauses.append("r.change_seq > :since_seq")
        params["since_seq"] = filters.since_seq
    if since and filters.since_run is not None:  # new since the last transmitted export: not what DWconnect has
        clauses.append(f"coalesce({SENT_CHANGE_SEQ_SQL}, -1) < r.change_seq")
    if filters.date_from is not None:
        clauses.append("coalesce(r.observed_at, r.created_at) >= :period_from")
        params["period_from"] = _day_start(filters.date_from)
    if filters.date_to is not None:
        clauses.append("coalesce(r.observed_at, r.created_at) < :period_to")
        params["period_to"] = _day_start(filters.date_to + timedelta(days=1))
    if paging is not None and paging.after:
        clauses.append("r.seq > :after")
        params["after"] = paging.after
    return " AND ".join(clauses), params
