"""The referent's validation queue: reports waiting for a decision, oldest first, filtered,
searched and paged, one SQL statement per page.

Flask-free: takes a session and returns plain data; the page (``/validation``) and the API
(``GET /api/v1/queue``) call :func:`read_queue` with the same :class:`QueueFilters`, built
from the same query arguments by :func:`parse_queue_args`.

**Order and paging.** Oldest first: by insertion order (``reports.seq``, immutable), so a
page boundary never moves. The cursor is the last ``seq`` of the page (opaque): a report
validated or added while someone pages does not shift the following pages (keyset paging,
never ``OFFSET``). ``sort=households_affected`` (or ``businesses_affected``) puts the reports
declaring the most households (businesses) affected first, those declaring none last, the
oldest first among equals; its cursor is the last (count, ``seq``) of the page, so its pages
do not shift either (a report whose count is edited meanwhile may be met again or missed, as
in any keyset). Each page is one statement: the page's rows (``limit`` + 1, to know
whether another page follows) and, as an uncorrelated sub-query computed once, the number of
reports matching the filters (``total``, independent of the cursor).

**Search.** ``q`` searches the descriptions with PostgreSQL's full-text search in French
(``to_tsvector('french', description) @@ websearch_to_tsquery('french', q)``: French
stemming, so *antennes* finds *antenne*; quoted phrases, ``or`` and ``-word`` as on a search
engine), served by the GIN expression index ``ix_reports_description_fts`` (migration 0012).
Accents count (*electricite* does not find *électricité*), and only whole words match.

**Default statuses.** The queue shows what waits for the referent: ``submitted`` reports,
which include the reports a representative answered after a question (answering moves a
``needs_info`` report back to ``submitted``). ``status=`` picks others (a comma list, or
``all``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract, vocab, workflow
from geosignal.errors import GeosignalError
from geosignal.params import parse_commune, parse_day, text_parameter, whole_number

BRUSSELS = ZoneInfo("Europe/Brussels")

#: What the queue shows by default: reports waiting for the referent's decision.
DEFAULT_STATUSES: tuple[str, ...] = ("submitted",)
#: Page sizes.
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
#: Decimals of an item's ``location`` (degrees, EPSG:4326; 6 decimals: about 0.1 m).
LOCATION_DECIMALS = contract.EXPORT_COORDINATE_DECIMALS
#: Longest search text accepted (characters).
MAX_QUERY = 200
#: The counts a report may declare (households, businesses affected: the contract's ``count``
#: properties, in its order), which a card shows when they are given.
COUNT_FIELDS: tuple[str, ...] = tuple(p.name for p in contract.PROPERTIES if p.kind == "count")
#: The queue's orders: oldest first (the default), or the most households / businesses
#: affected first (each the name of its count property; undeclared counts last).
SORTS: tuple[str, ...] = ("oldest", "households_affected", "businesses_affected")
#: Above any count a report may declare: the first page of a count order starts below it.
_ABOVE_COUNTS = 2**31 - 1
#: Which date the period filters: the date observed, or the date the report was filed.
PERIOD_FIELDS: tuple[str, ...] = ("observed", "created")
#: The full-text configuration of the search (and of the index of migration 0012).
FTS_CONFIG = "french"
#: The search's condition: the expression of ``ix_reports_description_fts``, bound ``:q_text``.
SEARCH_SQL = (f"to_tsvector('{FTS_CONFIG}'::regconfig, r.description) "
              f"@@ websearch_to_tsquery('{FTS_CONFIG}'::regconfig, :q_text)")


@dataclass(frozen=True)
class QueueFilters:
    """Which reports the queue shows.

    ``statuses``: any of :data:`geosignal.vocab.STATUSES` (default :data:`DEFAULT_STATUSES`);
    ``commune``: a loaded commune's NIS code; ``network``, ``operator``: one vocabulary value
    (a report matches an operator when its list holds it); ``period`` (``observed`` or
    ``created``) with ``date_from`` / ``date_to``: inclusive days in Brussels time compared with
    ``observed_at`` (reports without an observation date then never match) or ``created_at``;
    ``q``: French full-text search in the descriptions; ``sort``: one of :data:`SORTS`.
    """

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    commune: str | None = None
    network: str | None = None
    operator: str | None = None
    period: str = "created"
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    sort: str = "oldest"

    def as_args(self) -> dict[str, str]:
        """Return the filters as query arguments (what :func:`parse_queue_args` reads back);
        defaults are left out."""
        args: dict[str, str] = {}
        if self.statuses != DEFAULT_STATUSES:
            args["status"] = "all" if self.statuses == workflow.FILED_STATUSES else ",".join(self.statuses)
        for name in ("commune", "network", "operator", "q"):
            value = getattr(self, name)
            if value:
                args[name] = value
        if self.date_from or self.date_to:
            args["period"] = self.period
        if self.date_from:
            args["from"] = self.date_from.isoformat()
        if self.date_to:
            args["to"] = self.date_to.isoformat()
        if self.sort != "oldest":
            args["sort"] = self.sort
        return args


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: ``items`` (plain dicts, see :func:`read_queue`), ``total`` (reports
    matching the filters, all pages), ``next_cursor`` (None on the last page) and the filters."""

    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    filters: QueueFilters
    limit: int
    columns: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """Return the page as the API's JSON document."""
        return {"items": self.items, "total": self.total, "next_cursor": self.next_cursor,
                "limit": self.limit, "filters": self.filters.as_args()}


def parse_queue_args(session: Session, args: Mapping[str, Any]) -> tuple[QueueFilters, int, str | None]:
    """Read the queue's query arguments: ``status``, ``commune``, ``network``, ``operator``,
    ``period``, ``from``, ``to``, ``q``, ``sort``, ``limit``, ``cursor``. Empty values are ignored.

    Returns (filters, limit, cursor). Raises ``unknown_commune`` (422) for a NIS code that is
    not a loaded commune, ``invalid_request`` (400, naming the parameter) for a value outside
    its vocabulary, a malformed date or number, ``from`` after ``to`` or a search ``q`` longer than
    :data:`MAX_QUERY` characters or holding a control character
    (:func:`geosignal.params.text_parameter`).
    """
    def arg(name: str) -> str:
        value = args.get(name)
        return str(value).strip() if value is not None else ""

    def one(name: str, vocabulary: tuple[str, ...]) -> str | None:
        value = arg(name)
        if value and value not in vocabulary:
            raise GeosignalError("invalid_request", f"{name} must be one of {', '.join(vocabulary)}", where=name)
        return value or None

    def day(name: str) -> date | None:
        return parse_day(arg(name), where=name)

    raw_status = arg("status")
    if not raw_status:
        statuses = DEFAULT_STATUSES
    elif raw_status == "all":  # every filed status: a draft only when named
        statuses = workflow.FILED_STATUSES
    else:
        wanted = {s.strip() for s in raw_status.split(",") if s.strip()}
        if not wanted or not wanted <= set(vocab.STATUSES):
            raise GeosignalError("invalid_request", f"status must be 'all' or among {', '.join(vocab.STATUSES)}",
                                 where="status")
        statuses = tuple(s for s in vocab.STATUSES if s in wanted)
    q = text_parameter(arg("q"), where="q", max_length=MAX_QUERY)  # a control character never reaches SQL
    filters = QueueFilters(
        statuses=statuses, commune=parse_commune(session, args.get("commune") or None),
        network=one("network", vocab.NETWORKS), operator=one("operator", vocab.OPERATORS),
        period=one("period", PERIOD_FIELDS) or "created", date_from=day("from"), date_to=day("to"), q=q,
        sort=one("sort", SORTS) or "oldest",
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise GeosignalError("invalid_request", "from is after to", where="from", kind="period_reversed")
    raw_limit = arg("limit")
    limit = whole_number(raw_limit, maximum=MAX_LIMIT) if raw_limit else DEFAULT_LIMIT
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise GeosignalError("invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}", where="limit")
    return filters, limit, arg("cursor") or None


#: The first letter of a cursor, by order (``q`` alone for the oldest-first order).
_CURSOR_MARK = {"oldest": "q", "households_affected": "h", "businesses_affected": "b"}


def encode_cursor(seq: int, sort: str = "oldest", count: int | None = None) -> str:
    """Return the opaque cursor of the page after the report of insertion order ``seq`` (and,
    in a count order of :data:`SORTS`, its ``count``: None for an undeclared count)."""
    raw = f"q{seq}" if sort == "oldest" else f"{_CURSOR_MARK[sort]}{-1 if count is None else count}.{seq}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "oldest") -> tuple[int, int]:
    """Return the (count, ``seq``) a cursor of order ``sort`` points after (count -1: none
    declared; unused, :data:`_ABOVE_COUNTS`, in the oldest-first order). ``invalid_request``
    (400) when malformed or made for another order."""
    mark = _CURSOR_MARK[sort]
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw[:1] in _CURSOR_MARK.values() and raw[:1] != mark:
            raise GeosignalError("invalid_request", "cursor belongs to another order (sort): start again from the "
                                 "first page", where="cursor")
        # ASCII digits within bigint (whole_number: int() and isdigit() take ² or ٣)
        if sort == "oldest":
            seq = whole_number(raw[1:]) if raw.startswith("q") else None
            if seq is None:
                raise ValueError(raw)
            return _ABOVE_COUNTS, seq
        count_text, _, seq_text = raw[1:].partition(".")
        seq, count = whole_number(seq_text), -1 if count_text == "-1" else whole_number(count_text)
        if seq is None or count is None or count >= _ABOVE_COUNTS:
            raise ValueError(raw)
        return count, seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GeosignalError("invalid_request", "cursor is malformed", where="cursor") from None


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=BRUSSELS)


def where_clause(filters: QueueFilters) -> tuple[str, dict[str, Any]]:
    """Return the SQL condition on ``reports r`` selecting the queue's reports and its bound
    values (SQLAlchemy ``:name`` style)."""
    clauses = ["r.status = ANY(:q_statuses)"]
    params: dict[str, Any] = {"q_statuses": list(filters.statuses)}
    if filters.commune:
        clauses.append("r.commune_nis = :q_commune")
        params["q_commune"] = filters.commune
    if filters.network:
        clauses.append("r.network = :q_network")
        params["q_network"] = filters.network
    if filters.operator:
        clauses.append("CAST(:q_operator AS varchar) = ANY(r.operators)")
        params["q_operator"] = filters.operator
    column = "r.observed_at" if filters.period == "observed" else "r.created_at"
    if filters.date_from:
        clauses.append(f"{column} >= :q_from")
        params["q_from"] = _day_start(filters.date_from)
    if filters.date_to:
        clauses.append(f"{column} < :q_to")
        params["q_to"] = _day_start(filters.date_to + timedelta(days=1))
    if filters.q:
        clauses.append(SEARCH_SQL)
        params["q_text"] = filters.q
    return " AND ".join(clauses), params


#: One page: the page's reports first (filtered, ordered, limited), then for those rows only
#: their last status move and, when it was an answer, the question it answered (the audit
#: trail's index on (report_id, id)).
_PAGE_SQL = """
SELECT p.*,
       last_move.action = 'answer' AS answered, asked.reason AS question,
       CASE WHEN last_move.action = 'answer' THEN last_move.reason END AS answer,
       CASE WHEN last_move.to_status = p.status AND p.status = ANY(:q_text_statuses)
            THEN last_move.reason END AS status_text
FROM (
  SELECT r.id, r.seq, r.change_seq, r.reference, r.status, r.commune_nis, c.name_fr, r.network, r.technologies,
         r.operators,
         r.issue, r.households_affected, r.businesses_affected, r.description, r.observed_at, r.created_at,
         ST_GeometryType(r.geometry) AS geometry_type,
         ST_Area(ST_Transform(r.geometry, 31370)) AS area_m2,
         ST_Length(ST_Transform(r.geometry, 31370)) AS length_m,
         ST_X(ST_PointOnSurface(r.geometry)) AS lon, ST_Y(ST_PointOnSurface(r.geometry)) AS lat,
         {key} AS sort_key,
         (SELECT count(*) FROM reports r WHERE {where}) AS total
  FROM reports r JOIN communes c ON c.nis_code = r.commune_nis
  WHERE {where} AND {after}
  ORDER BY {order}
  LIMIT :q_limit
) p
LEFT JOIN LATERAL (SELECT a.id, a.action, a.to_status, a.reason FROM audit_events a
                   WHERE a.report_id = p.id AND a.to_status IS NOT NULL
                   ORDER BY a.id DESC LIMIT 1) last_move ON true
LEFT JOIN LATERAL (SELECT q.reason FROM audit_events q
                   WHERE last_move.action = 'answer' AND q.report_id = p.id AND q.action = 'ask'
                     AND q.id < last_move.id
                   ORDER BY q.id DESC LIMIT 1) asked ON true
ORDER BY p.sort_key DESC, p.seq
"""
#: The sort key of each order of :data:`SORTS` (descending, then ``seq``): a constant for the
#: oldest-first order, else the count (-1 when not declared: last).
_SORT_KEYS = {"oldest": "0", "households_affected": "coalesce(r.households_affected, -1)",
              "businesses_affected": "coalesce(r.businesses_affected, -1)"}


def _after_sql(sort: str) -> str:
    """The keyset condition of order ``sort``: the rows after (``:q_key``, ``:q_after``)."""
    if sort == "oldest":
        return "r.seq > :q_after"
    key = _SORT_KEYS[sort]
    return f"({key} < :q_key OR ({key} = :q_key AND r.seq > :q_after))"


def _stale_evidence(session: Session, ids: list[Any]) -> set[str] | None:
    """Return the ids (text) among ``ids`` whose evidence is older than 12 months, or None when
    the evidence service is not installed (the queue then has no such column)."""
    try:
        from geosignal.services.evidence import stale_report_ids  # type: ignore[import-not-found]
    except ImportError:
        return None
    return {str(i) for i in stale_report_ids(session, ids)} if ids else set()


def read_queue(session: Session, filters: QueueFilters = QueueFilters(), *, limit: int = DEFAULT_LIMIT,
               cursor: str | None = None) -> QueuePage:
    """Return one page of the validation queue, oldest first (one statement; see the module).

    Each item: ``id``, ``reference`` (``CM-YYYY-NNNNN``), ``status``, ``answered`` (its last
    move was the representative's answer to a question) with ``question`` and ``answer`` (the
    referent's question and the commune's answer; None unless ``answered``), ``status_text``
    (the text that put it in its status, for :data:`geosignal.workflow.DECISION_STATUSES`: the question asked, the
    reason of a rejection, the operator's note; else None), ``commune_nis``, ``commune_name``, ``network``,
    ``technologies``, ``operators``, ``issue``, ``households_affected``,
    ``businesses_affected``, ``description``, ``observed_at``, ``reported_at`` (ISO 8601,
    Brussels time), ``geometry_kind`` (``point``, ``line``, ``zone``), ``area_m2`` (zones) and
    ``length_m`` (lines), planar in EPSG:31370 rounded to 0.1, ``location`` (a point on the
    report's shape, ``[lon, lat]`` in EPSG:4326, :data:`LOCATION_DECIMALS` decimals: where the
    queue's map marks it), and ``evidence_stale`` when the
    evidence service is installed. Raises ``invalid_request`` (400) for a malformed cursor or
    ``limit`` outside 1..:data:`MAX_LIMIT`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise GeosignalError("invalid_request", f"limit must be 1 to {MAX_LIMIT}", where="limit")
    key, after = decode_cursor(cursor, filters.sort) if cursor else (_ABOVE_COUNTS, 0)
    where, params = where_clause(filters)
    key_sql = _SORT_KEYS[filters.sort]
    order = "r.seq" if filters.sort == "oldest" else f"{key_sql} DESC, r.seq"
    rows = session.execute(text(_PAGE_SQL.format(where=where, key=key_sql, after=_after_sql(filters.sort),
                                                  order=order)),
                           {**params, "q_key": key, "q_after": after, "q_limit": limit + 1,
                            "q_text_statuses": list(workflow.DECISION_STATUSES)}).all()
    more = len(rows) > limit
    rows = rows[:limit]
    total = int(rows[0].total) if rows else _count(session, where, params)
    from geosignal.services.workflow import etag

    stale = _stale_evidence(session, [r.id for r in rows])
    items = []
    for r in rows:
        kind = contract.geometry_kind(r.geometry_type.removeprefix("ST_"))
        item = {
            "id": str(r.id), "etag": etag(r.change_seq), "reference": r.reference, "status": r.status,
            "answered": bool(r.answered),
            "question": r.question if r.answered else None, "answer": r.answer, "status_text": r.status_text, "commune_nis": r.commune_nis, "commune_name": r.name_fr,
            "network": r.network, "technologies": list(r.technologies or []), "operators": list(r.operators or []),
            "issue": r.issue, "households_affected": r.households_affected,
            "businesses_affected": r.businesses_affected, "description": r.description,
            "observed_at": contract.format_datetime(r.observed_at),
            "reported_at": contract.format_datetime(r.created_at), "geometry_kind": kind,
            "area_m2": round(float(r.area_m2), 1) if kind == "zone" else None,
            "length_m": round(float(r.length_m), 1) if kind == "line" else None,
            "location": [round(float(r.lon), LOCATION_DECIMALS), round(float(r.lat), LOCATION_DECIMALS)],
        }
        if stale is not None:
            item["evidence_stale"] = str(r.id) in stale
        items.append(item)
    last = rows[-1] if rows else None
    next_cursor = encode_cursor(last.seq, filters.sort, getattr(last, filters.sort, None)) if more else None
    return QueuePage(items, total, next_cursor, filters, limit)


def _count(session: Session, where: str, params: dict[str, Any]) -> int:
    """Count the queue's reports (only when a page is empty: past the last page, or none)."""
    return int(session.execute(text(f"SELECT count(*) FROM reports r WHERE {where}"), params).scalar_one())
