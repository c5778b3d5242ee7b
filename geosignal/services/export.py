"""DWconnect export: reports as RFC 7946 GeoJSON, CSV or GeoPackage, streamed and recorded.

**GeoJSON.** PostgreSQL serialises each Feature (``json_build_object`` + ``ST_AsGeoJSON``);
rows come through a server-side cursor ``batch`` at a time and are written as they come, so
memory stays bounded whatever the number of reports (no list of all features anywhere).

**RFC 7946 to the letter.** ``[lon, lat]`` EPSG:4326, no ``crs`` member, 6 decimals.
Lines and zones are rounded with ``ST_ReducePrecision(g, 1e-6)`` *before* they are written:
GEOS snaps them to the 1e-6° grid and returns a valid geometry (a hole that would touch its
exterior once rounded becomes a notch, a sliver thinner than the grid disappears), so what is
written is valid as written. Zones keep their polygonal part only (``ST_CollectionExtract``),
lines their linear part; a report whose geometry collapses entirely (a zone thinner than
~0.1 m everywhere) is **not written** and is listed in the collection's ``excluded`` member
with the reason ``geometry_collapsed_when_rounded``. Exterior rings counter-clockwise and
holes clockwise (``ST_ForcePolygonCCW``, zones only: PostGIS 3.3 reverses lines given to
it). Text is NFC: commune names are normalised here (``normalize(…, NFC)``, once per
commune); descriptions are NFC-normalised by intake before they are stored (per-row
``normalize`` would cost ~0.5 s per 200,000 reports); numbers are finite (areas and lengths are
``numeric``). Times ISO 8601 with the Europe/Brussels offset. Media type
``application/geo+json; charset=utf-8``.

**Incremental, without skipping or repeating.** Every insert and update of a report takes
a fresh ``reports.change_seq`` (trigger, migration 0003) *after* taking a shared advisory
lock (:data:`CHANGE_LOCK_KEY`). An export reads its **watermark** (highest committed
``change_seq`` and highest insertion ``seq``) while holding that lock exclusively for an
instant: no change numbered at or below the watermark can still be uncommitted, so a later
``since=seq:<watermark>`` sees every change that came after. A *pass* (one response, or the
pages of a ``limit``/``cursor`` sequence) lists the reports inserted up to the watermark's
``seq`` that match the filters, **in insertion order** (``seq``, immutable): no report can
appear twice in a pass, and a report changed during the pass before its page was read is
written once, in its latest state. A report changed after its page was read, and reports
inserted during the pass, come in the next pass (``since`` = this pass's ``next_since``).

**Recorded.** With a :class:`RunRecord`, the exact bytes sent are hashed (SHA-256), kept
gzip-compressed in ``export_run_chunks`` and the reports carried in ``export_run_reports``
with their ``change_seq``; the :class:`~geosignal.models.ExportRun` row holds who, when,
filters, counts, checksum and watermark. The caller commits once the stream is consumed.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import os
import tempfile
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from geosignal import vocab
from geosignal.errors import GeosignalError
from geosignal.params import bbox_clause
from geosignal.vocab import LAMBERT72

if TYPE_CHECKING:
    from geosignal.models import ExportRun

# The models are imported where a run is recorded or read, not here: an export that only
# streams needs no ORM mapping (and starts 0.2 s sooner; see bench/export.py).

#: Version of the DWconnect export schema (``data/dwconnect-export.schema.json``). Bump the
#: minor version for added optional members, the major version for anything else.
SCHEMA_VERSION = "1.0.0"
#: ``$id`` of the export schema: carries the version.
SCHEMA_ID = f"urn:geosignal:schema:dwconnect-export:{SCHEMA_VERSION}"
SOURCE = "geosignal"
GEOJSON_MEDIA_TYPE = "application/geo+json; charset=utf-8"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
#: Advisory lock key ("gsig") shared with the trigger of migration 0003.
CHANGE_LOCK_KEY = 0x67736967
#: Grid (degrees) coordinates are rounded to: 6 decimals, ~0.1 m.
GRID_DEG = 1e-6
#: ``limit`` bounds for paged exports.
MAX_PAGE = 10_000
#: Reason given for a report left out of an export.
COLLAPSED = "geometry_collapsed_when_rounded"
#: Reports merged into one exported feature: always 1 in schema 1.x (no merging yet).
MERGED_REPORTS = 1
BRUSSELS = ZoneInfo("Europe/Brussels")

_CHUNK_BYTES = 1 << 20  # compressed bytes per stored chunk


# --------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class Watermark:
    """Highest committed ``change_seq`` and highest insertion ``seq`` when a pass started."""

    change_seq: int
    seq: int


@dataclass(frozen=True)
class ExportFilters:
    """Which reports an export carries.

    ``statuses`` None means every status; ``commune`` a NIS code; ``bbox`` (min lon, min lat,
    max lon, max lat) EPSG:4326, reports whose geometry intersects it; ``since_time`` reports
    updated after that instant (aware datetime; convenient, but a change committed late by a
    long transaction can be missed: use ``since_seq`` for synchronisation); ``since_seq``
    reports whose ``change_seq`` is above it (the ``next_since`` of a previous export).
    """

    statuses: tuple[str, ...] | None = ("validated",)
    commune: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    since_time: datetime | None = None
    since_seq: int | None = None

    def as_record(self) -> dict[str, Any]:
        """Return the filters as JSON-ready data (what an export run records)."""
        return {
            "status": "all" if self.statuses is None else ",".join(self.statuses),
            "commune": self.commune,
            "bbox": list(self.bbox) if self.bbox else None,
            "since": format_since(self) if self.since_time or self.since_seq is not None else None,
        }


def format_since(filters: ExportFilters) -> str | None:
    """Return the ``since`` parameter value that gives ``filters``' since-filter."""
    if filters.since_seq is not None:
        return f"seq:{filters.since_seq}"
    return filters.since_time.isoformat() if filters.since_time else None


def parse_since(raw: str | None) -> tuple[datetime | None, int | None]:
    """Parse ``since``: ``seq:<n>`` (a ``next_since`` token) or an ISO 8601 date-time with offset.

    Returns (since_time, since_seq). Raises ``invalid_request`` (400) otherwise.
    """
    if not raw:
        return None, None
    raw = raw.strip()
    if raw.startswith("seq:"):
        try:
            n = int(raw[4:])
        except ValueError:
            n = -1
        if n < 0:
            raise GeosignalError("invalid_request", "since=seq:<n> needs a whole number n ≥ 0", where="since")
        return None, n
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise GeosignalError("invalid_request", "since is seq:<n> or an ISO 8601 date-time with offset "
                             "(e.g. 2026-03-01T00:00:00+01:00)", where="since")
    return when, None


def parse_status(raw: str | None) -> tuple[str, ...] | None:
    """Parse ``status``: ``all``, one status or a comma-separated list (default ``validated``).

    Raises ``invalid_request`` (400) for an unknown status.
    """
    if raw is None or raw == "":
        return ("validated",)
    if raw == "all":
        return None
    parts = tuple(dict.fromkeys(p.strip() for p in raw.split(",")))
    for p in parts:
        if p not in vocab.STATUSES:
            raise GeosignalError("invalid_request", f"status must be 'all' or among {', '.join(vocab.STATUSES)}",
                                 where="status")
    return parts


@dataclass(frozen=True)
class Paging:
    """A page of a pass: at most ``limit`` reports after insertion ``seq`` ``after``, within
    the pass's watermark (None on the first page: it is read then)."""

    limit: int
    after: int = 0
    watermark: Watermark | None = None


def encode_cursor(after: int, watermark: Watermark) -> str:
    """Return the opaque cursor of the page after insertion ``seq`` ``after`` in a pass."""
    raw = json.dumps([after, watermark.change_seq, watermark.seq], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, Watermark]:
    """Return (after, watermark) of a cursor; ``invalid_request`` (400) when malformed."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, change_seq, seq = values
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ValueError(values)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise GeosignalError("invalid_request", "cursor is malformed", where="cursor") from None
    return after, Watermark(change_seq, seq)


def read_watermark(session: Session) -> Watermark:
    """Return the current watermark, read while no report change can be uncommitted.

    Takes the advisory lock :data:`CHANGE_LOCK_KEY` exclusively (waiting for transactions
    that changed reports to end; changes made by this very session do not block it), reads
    ``max(change_seq)`` and ``max(seq)``, and releases the lock.
    """
    session.execute(text("SELECT pg_advisory_lock(:k)"), {"k": CHANGE_LOCK_KEY})
    try:
        row = session.execute(
            text("SELECT coalesce(max(change_seq), 0), coalesce(max(seq), 0) FROM reports")
        ).one()
    finally:
        session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CHANGE_LOCK_KEY})
    return Watermark(int(row[0]), int(row[1]))


# --------------------------------------------------------------------------- SQL

#: The geometry as written: points as stored; lines and zones reduced to the 1e-6° grid
#: (valid by construction), zones oriented for RFC 7946.
GEOMETRY_SQL = f"""
CASE ST_Dimension(r.geometry)
  WHEN 0 THEN r.geometry
  WHEN 1 THEN ST_CollectionExtract(ST_ReducePrecision(r.geometry, {GRID_DEG}), 2)
  ELSE ST_ForcePolygonCCW(ST_CollectionExtract(ST_ReducePrecision(r.geometry, {GRID_DEG}), 3))
END"""

_FROM_SQL = f"""
FROM reports r
JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT {GEOMETRY_SQL} AS g) x
WHERE {{where}}
ORDER BY r.seq
{{limit}}"""

#: The properties of a report (schema 1.x), in order; shared by every format.
PROPERTIES_SQL = """
    'report_id', r.id::text,
    'commune_nis', r.commune_nis,
    'commune_name', c.name_fr,
    'network', r.network,
    'technologies', to_json(r.technologies),
    'operators', to_json(r.operators),
    'issue', r.issue,
    'setting', r.setting,
    'households_affected', r.households_affected,
    'businesses_affected', r.businesses_affected,
    'description', r.description,
    'observed_at', r.observed_at,
    'reported_at', r.created_at,
    'updated_at', r.updated_at,
    'revision', r.change_seq,
    'status', r.status,
    'geometry_kind', CASE ST_Dimension(r.geometry) WHEN 0 THEN 'point' WHEN 1 THEN 'line' ELSE 'zone' END,
    'area_m2', CASE WHEN ST_Dimension(r.geometry) = 2
                    THEN round(ST_Area(ST_Transform(r.geometry, CAST(:srid AS integer)))::numeric, 1) END,
    'length_m', CASE WHEN ST_Dimension(r.geometry) = 1
                     THEN round(ST_Length(ST_Transform(r.geometry, CAST(:srid AS integer)))::numeric, 1) END,
    'merged_reports', CAST(:merged AS integer),
    'reporter_role', u.role,
    'reporter_commune_nis', u.commune_nis,
    'schema_version', CAST(:schema_version AS text),
    'source', CAST(:source AS text)"""

#: Property names of an exported report, in order (schema 1.x).
PROPERTY_NAMES: tuple[str, ...] = tuple(
    line.strip().split("'")[1] for line in PROPERTIES_SQL.strip().splitlines() if line.strip().startswith("'")
)

#: A report's GeoJSON Feature, as written. PostgreSQL computes it when a report is written
#: (trigger ``reports_feature_json``, :func:`feature_function_sql`) and stores it in
#: ``reports.feature_json``, so that an export only streams stored text.
_FEATURE_JSON_SQL = f"""json_build_object(
  'type', 'Feature',
  'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object({PROPERTIES_SQL})
)::text"""

#: Every export query starts with these columns, in this order (rows are plain tuples:
#: the named-tuple factory costs more than the rest of the loop).
ID, CHANGE_SEQ, SEQ, COLLAPSED_ROW = 0, 1, 2, 3
#: Position of the stored Feature (bytes) in :data:`_GEOJSON_SQL`'s rows.
FEATURE = 4
_ROW_HEAD = "r.id, r.change_seq, r.seq"

_GEOJSON_SQL = f"""
SELECT {_ROW_HEAD}, r.feature_collapsed, convert_to(r.feature_json, 'UTF8') AS feature
FROM reports r
WHERE {{where}}
ORDER BY r.seq
{{limit}}"""


def feature_function_sql() -> str:
    """Return the ``CREATE OR REPLACE FUNCTION reports_feature_json()`` statement: the
    trigger function storing each report's exported Feature (``feature_json``, Brussels
    offsets) and whether its geometry collapses when rounded (``feature_collapsed``).

    Installed by migration 0004; a new schema version installs it again. The properties are
    those of the CSV and GeoPackage exports (:data:`PROPERTIES_SQL`), which read them live.
    """
    literals = {"CAST(:srid AS integer)": str(LAMBERT72), "CAST(:merged AS integer)": str(MERGED_REPORTS),
                "CAST(:schema_version AS text)": f"'{SCHEMA_VERSION}'", "CAST(:source AS text)": f"'{SOURCE}'"}
    expression = _FEATURE_JSON_SQL
    for placeholder, literal in literals.items():
        expression = expression.replace(placeholder, literal)
    assert ":" not in expression.replace("::", ""), "unbound parameter left in the stored Feature"
    return f"""
CREATE OR REPLACE FUNCTION reports_feature_json() RETURNS trigger LANGUAGE plpgsql
SET TimeZone = 'Europe/Brussels' AS $fn$
BEGIN
  SELECT {expression}, ST_IsEmpty(x.g) INTO NEW.feature_json, NEW.feature_collapsed
  FROM (SELECT NEW.*) r
  JOIN (SELECT nis_code, normalize(name_fr, NFC) AS name_fr FROM communes) c ON c.nis_code = r.commune_nis
  LEFT JOIN users u ON u.id = r.reporter_id
  CROSS JOIN LATERAL (SELECT {GEOMETRY_SQL} AS g) x;
  RETURN NEW;
END $fn$"""


_TABLE_SQL = f"""
SELECT {_ROW_HEAD}, ST_IsEmpty(x.g), json_build_object({PROPERTIES_SQL})::text AS props,
       ST_AsText(x.g, 6) AS wkt, ST_AsBinary(x.g) AS wkb,
       ST_X(ST_PointOnSurface(x.g)) AS lon, ST_Y(ST_PointOnSurface(x.g)) AS lat
{_FROM_SQL}"""
#: Positions of the payload columns of :data:`_TABLE_SQL`.
PROPS, WKT, WKB, LON, LAT = 4, 5, 6, 7, 8


def _where(filters: ExportFilters, paging: Paging | None, watermark: Watermark) -> tuple[str, dict[str, Any]]:
    clauses, params = ["r.seq <= :max_seq"], {"max_seq": watermark.seq}
    if filters.statuses is not None:
        clauses.append("r.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    if filters.commune:
        clauses.append("r.commune_nis = :commune")
        params["commune"] = filters.commune
    if filters.bbox:
        clauses.append(bbox_clause(filters.bbox, params))
    if filters.since_time is not None:
        clauses.append("r.updated_at > :since_time")
        params["since_time"] = filters.since_time
    if filters.since_seq is not None:
        clauses.append("r.change_seq > :since_seq")
        params["since_seq"] = filters.since_seq
    if paging is not None and paging.after:
        clauses.append("r.seq > :after")
        params["after"] = paging.after
    return " AND ".join(clauses), params


def _rows(session: Session, sql: str, filters: ExportFilters, paging: Paging | None,
          watermark: Watermark, batch: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``batch`` rows of ``sql`` (tuples) through a server-side
    cursor of the session's own connection, in psycopg's binary protocol: the stored
    Features arrive as raw bytes, neither hex-encoded nor decoded and encoded again."""
    where, params = _where(filters, paging, watermark)
    params.update(srid=LAMBERT72, schema_version=SCHEMA_VERSION, source=SOURCE, merged=MERGED_REPORTS)
    limit = ""
    if paging is not None:
        limit = "LIMIT :page_limit"
        params["page_limit"] = paging.limit + 1  # one more tells whether a next page exists
    session.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    compiled = text(sql.format(where=where, limit=limit)).compile(dialect=session.get_bind().dialect)
    connection = session.connection().connection.dbapi_connection
    assert connection is not None
    with connection.cursor(name=f"export_{uuid.uuid4().hex}", binary=True) as cursor:
        cursor.execute(compiled.string, compiled.construct_params(params))
        while rows := cursor.fetchmany(batch):
            yield rows


# --------------------------------------------------------------------------- recording

@dataclass
class RunRecord:
    """Who asks for an export run and how it is recorded (see :func:`stream_export`)."""

    actor: str
    channel: str = "api"
    user_id: int | None = None
    mark_transmitted: bool = False
    #: Extra options to record with the filters (limit, cursor, CSV dialect…).
    options: dict[str, Any] = field(default_factory=dict)
    #: The run's id (chosen by the caller, e.g. to send it in a header before streaming).
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)


class _Recorder:
    """Hash, count, compress and store the bytes of a run; remember the reports carried."""

    def __init__(self, session: Session, run: ExportRun) -> None:
        self.session, self.run = session, run
        self.sha = hashlib.sha256()
        self.size = 0
        self.zip = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container; level 1: 3× faster than 6
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.n = 0

    def write(self, data: bytes) -> bytes:
        self.sha.update(data)
        self.size += len(data)
        out = self.zip.compress(data)
        if out:
            self.pending.append(out)
            self.pending_size += len(out)
            if self.pending_size >= _CHUNK_BYTES:
                self._flush()
        return data

    def _flush(self) -> None:
        from geosignal.models import ExportRunChunk

        if self.pending:
            self.session.add(ExportRunChunk(run_id=self.run.id, n=self.n, data=b"".join(self.pending)))
            self.session.flush()
            self.n += 1
            self.pending, self.pending_size = [], 0

    def carried(self, ids: list[uuid.UUID], seqs: list[int]) -> None:
        if ids:  # psycopg's binary protocol: arrays of 2,000 UUIDs are not written out as text
            connection = self.session.connection().connection.dbapi_connection
            assert connection is not None
            with connection.cursor(binary=True) as cursor:
                cursor.execute("INSERT INTO export_run_reports (run_id, report_id, change_seq) "
                               "SELECT %s, unnest(%s::uuid[]), unnest(%s::bigint[])", (self.run.id, ids, seqs))

    def finish(self, count: int, excluded: int) -> None:
        tail = self.zip.flush()
        if tail:
            self.pending.append(tail)
        self._flush()
        self.run.feature_count, self.run.excluded_count = count, excluded
        self.run.byte_count, self.run.sha256 = self.size, self.sha.hexdigest()
        self.session.flush()


class _NoRecorder:
    def write(self, data: bytes) -> bytes:
        return data

    def carried(self, ids: list[uuid.UUID], seqs: list[int]) -> None:
        pass

    def finish(self, count: int, excluded: int) -> None:
        pass


# --------------------------------------------------------------------------- the export

@dataclass(frozen=True)
class ExportRequest:
    """What to export: filters, format (``geojson``, ``csv``, ``gpkg``), paging (GeoJSON
    only) and CSV options (``dialect`` ``excel`` or ``plain``, ``decimal`` ``point`` or
    ``comma``, excel only)."""

    filters: ExportFilters = ExportFilters()
    format: str = "geojson"
    paging: Paging | None = None
    dialect: str = "excel"
    decimal: str = "point"

    def __post_init__(self) -> None:
        if self.format not in ("geojson", "csv", "gpkg"):
            raise GeosignalError("invalid_request", "format must be geojson, csv or gpkg", where="format")
        if self.dialect not in ("excel", "plain"):
            raise GeosignalError("invalid_request", "dialect must be excel or plain", where="dialect")
        if self.decimal not in ("point", "comma"):
            raise GeosignalError("invalid_request", "decimal must be point or comma", where="decimal")
        if self.decimal == "comma" and self.dialect != "excel":
            raise GeosignalError("invalid_request", "decimal=comma needs the excel dialect (';' separator)",
                                 where="decimal")
        if self.paging is not None:
            if self.format != "geojson":
                raise GeosignalError("invalid_request", "limit and cursor page GeoJSON exports only", where="limit")
            if not 1 <= self.paging.limit <= MAX_PAGE:
                raise GeosignalError("invalid_request", f"limit must be 1 to {MAX_PAGE}", where="limit")

    @property
    def media_type(self) -> str:
        """Content type of the export."""
        return {"geojson": GEOJSON_MEDIA_TYPE, "csv": CSV_MEDIA_TYPE, "gpkg": GPKG_MEDIA_TYPE}[self.format]

    @property
    def extension(self) -> str:
        """File name extension of the export."""
        return {"geojson": "geojson", "csv": "csv", "gpkg": "gpkg"}[self.format]


@dataclass
class ExportStream:
    """An export being produced: its bytes (iterate ``chunks`` once), the pass watermark,
    the cursor of the next page once consumed, and the run recorded (if any)."""

    chunks: Iterator[bytes]
    watermark: Watermark
    filename: str
    media_type: str
    run: ExportRun | None = None
    next_cursor: str | None = None
    count: int = 0
    excluded: list[str] = field(default_factory=list)

    @property
    def next_since(self) -> str:
        """``since`` value for the next incremental export."""
        return f"seq:{self.watermark.change_seq}"


def export_filename(request: ExportRequest, now: datetime) -> str:
    """Return the file name of an export made at ``now`` (Brussels time in the name)."""
    return f"geosignal-dwconnect-{now.astimezone(BRUSSELS):%Y%m%d-%H%M%S}.{request.extension}"


def stream_export(session: Session, request: ExportRequest = ExportRequest(), *,
                  record: RunRecord | None = None, batch: int = 2000,
                  now: datetime | None = None, watermark: Watermark | None = None) -> ExportStream:
    """Start an export and return an :class:`ExportStream` whose ``chunks`` yield its bytes.

    The pass watermark is the cursor's (later pages), ``watermark`` when given (read earlier
    with :func:`read_watermark`), or read now. Rows are streamed ``batch`` at a time. With
    ``record``, an :class:`~geosignal.models.ExportRun` is added (flushed, not committed) and
    completed once ``chunks`` is exhausted: the caller commits then. The session must stay
    open while ``chunks`` is consumed.

    Raises ``invalid_request`` (400) for bad options.
    """
    paging = request.paging
    if paging is not None and paging.watermark is not None:
        watermark = paging.watermark
    if watermark is None:
        watermark = read_watermark(session)
    if paging is not None:
        paging = replace(paging, watermark=watermark)
    now = now or datetime.now(BRUSSELS)
    filename = export_filename(request, now)
    stream = ExportStream(iter(()), watermark, filename, request.media_type)
    recorder: _Recorder | _NoRecorder = _NoRecorder()
    if record is not None:
        from geosignal.models import ExportRun

        run = ExportRun(
            id=record.run_id, created_at=now, user_id=record.user_id, actor=record.actor, channel=record.channel,
            format=request.format, media_type=request.media_type, filename=filename,
            filters={**request.filters.as_record(), **record.options}, schema_version=SCHEMA_VERSION,
            feature_count=0, excluded_count=0, byte_count=0, sha256="", watermark=watermark.change_seq,
            mark_transmitted=record.mark_transmitted,
        )
        session.add(run)
        session.flush()
        stream.run = run
        recorder = _Recorder(session, run)
    writer = {"geojson": _geojson_chunks, "csv": _csv_chunks, "gpkg": _gpkg_chunks}[request.format]
    stream.chunks = _recorded(writer(session, request, paging, stream, recorder, batch, now), recorder, stream)
    return stream


def _recorded(chunks: Iterator[bytes], recorder: _Recorder | _NoRecorder, stream: ExportStream) -> Iterator[bytes]:
    for chunk in chunks:
        yield recorder.write(chunk)
    recorder.finish(stream.count, len(stream.excluded))


def _page_rows(session: Session, sql: str, request: ExportRequest, paging: Paging | None, stream: ExportStream,
               recorder: _Recorder | _NoRecorder, batch: int) -> Iterator[list[Any]]:
    """Yield partitions of rows to write (collapsed ones removed and remembered), recording
    the reports carried and setting the next cursor when a page is full."""
    seen = 0
    last_seq = 0
    for partition in _rows(session, sql, request.filters, paging, stream.watermark, batch):
        if paging is not None and seen + len(partition) > paging.limit:
            partition = partition[: paging.limit - seen]
            stream.next_cursor = "more"
        seen += len(partition)
        if partition:
            last_seq = partition[-1][SEQ]
        kept = [row for row in partition if not row[COLLAPSED_ROW]]
        stream.excluded.extend(str(row[ID]) for row in partition if row[COLLAPSED_ROW])
        stream.count += len(kept)
        recorder.carried([row[ID] for row in kept], [row[CHANGE_SEQ] for row in kept])
        if kept:
            yield kept
        if stream.next_cursor:
            break
    if stream.next_cursor:
        stream.next_cursor = encode_cursor(last_seq, stream.watermark)


def rows_feature(rows: list[Any]) -> Iterator[bytes]:
    """Return the stored Features (UTF-8 bytes) of a partition of rows."""
    return (row[FEATURE] for row in rows)


def _geojson_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                    recorder: _Recorder | _NoRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    head = {
        "type": "FeatureCollection",
        "schema_version": SCHEMA_VERSION,
        "source": SOURCE,
        "generated_at": now.astimezone(BRUSSELS).isoformat(timespec="seconds"),
        "next_since": stream.next_since,
    }
    if stream.run is not None:
        head["export_run"] = str(stream.run.id)
    yield (json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"features":[').encode()
    first = True
    for rows in _page_rows(session, _GEOJSON_SQL, request, paging, stream, recorder, batch):
        chunk = b",".join(rows_feature(rows))
        yield chunk if first else b"," + chunk
        first = False
    tail: dict[str, Any] = {
        "numberReturned": stream.count,
        "excluded": [{"id": i, "reason": COLLAPSED} for i in stream.excluded],
    }
    if stream.next_cursor:
        tail["next_cursor"] = stream.next_cursor
    yield ("]," + json.dumps(tail, separators=(",", ":"))[1:] + "\n").encode("utf-8")


#: CSV columns, in order: the properties, then a representative point and the WKT.
CSV_COLUMNS: tuple[str, ...] = PROPERTY_NAMES + ("lon", "lat", "wkt")


def _csv_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                recorder: _Recorder | _NoRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    excel = request.dialect == "excel"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    yield (("\ufeff" if excel else "") + buffer.getvalue()).encode("utf-8")
    comma = request.decimal == "comma"
    for rows in _page_rows(session, _TABLE_SQL, request, None, stream, recorder, batch):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            props = json.loads(row[PROPS])
            values = [_csv_value(props[name], comma) for name in PROPERTY_NAMES]
            lon, lat = f"{row[LON]:.6f}", f"{row[LAT]:.6f}"
            if comma:
                lon, lat = lon.replace(".", ","), lat.replace(".", ",")
            writer.writerow(values + [lon, lat, row[WKT]])
        yield buffer.getvalue().encode("utf-8")


def _csv_value(value: Any, comma: bool) -> str:
    """Return a property as CSV text: lists joined by ``,``, numbers with the decimal mark."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, float):
        text_value = f"{value:.1f}"
        return text_value.replace(".", ",") if comma else text_value
    return str(value)


def _gpkg_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                 recorder: _Recorder | _NoRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    """Write batches to a temporary GeoPackage (pyogrio, append), then stream its bytes."""
    import geopandas as gpd
    import shapely
    from pyogrio import write_dataframe

    handle, path = tempfile.mkstemp(suffix=".gpkg", prefix="geosignal-export-")
    os.close(handle)
    os.unlink(path)
    try:
        written = False
        for rows in _page_rows(session, _TABLE_SQL, request, None, stream, recorder, batch):
            records = []
            for row in rows:
                props = json.loads(row[PROPS])
                for name in ("technologies", "operators"):
                    props[name] = ",".join(props[name] or [])
                records.append(props)
            frame = gpd.GeoDataFrame(records, geometry=shapely.from_wkb([bytes(r[WKB]) for r in rows]), crs=4326)
            write_dataframe(frame, path, layer="white_zones", driver="GPKG", geometry_type="Unknown",
                            append=written, promote_to_multi=False)
            written = True
        if not written:  # an empty layer with the right columns
            frame = gpd.GeoDataFrame({name: [] for name in PROPERTY_NAMES}, geometry=[], crs=4326)
            write_dataframe(frame, path, layer="white_zones", driver="GPKG", geometry_type="Unknown")
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                yield block
    finally:
        if os.path.exists(path):
            os.unlink(path)


def iter_feature_collection(session: Session, filters: ExportFilters = ExportFilters(),
                            batch: int = 2000) -> Iterator[str]:
    """Yield a GeoJSON FeatureCollection as text chunks, streaming rows (no recording).

    Holds at most ``batch`` serialised features in memory. The session must stay open
    while the iterator is consumed.
    """
    stream = stream_export(session, ExportRequest(filters=filters), batch=batch)
    for chunk in stream.chunks:
        yield chunk.decode("utf-8")


# --------------------------------------------------------------------------- history

def list_runs(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Return the latest export runs, newest first, as plain dicts (no bytes)."""
    from geosignal.models import ExportRun

    runs = session.scalars(select(ExportRun).order_by(ExportRun.created_at.desc(), ExportRun.id).limit(limit))
    return [run_summary(run) for run in runs]


def run_summary(run: ExportRun) -> dict[str, Any]:
    """Return an export run as JSON-ready data (times ISO 8601 in Brussels time)."""
    return {
        "id": str(run.id),
        "created_at": run.created_at.astimezone(BRUSSELS).isoformat(),
        "actor": run.actor,
        "channel": run.channel,
        "format": run.format,
        "media_type": run.media_type,
        "filename": run.filename,
        "filters": run.filters,
        "schema_version": run.schema_version,
        "feature_count": run.feature_count,
        "excluded_count": run.excluded_count,
        "byte_count": run.byte_count,
        "sha256": run.sha256,
        "next_since": f"seq:{run.watermark}",
        "mark_transmitted": run.mark_transmitted,
    }


def get_run(session: Session, run_id: str | uuid.UUID) -> ExportRun:
    """Return an export run; ``not_found`` (404) when there is none."""
    from geosignal.models import ExportRun

    try:
        rid = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError:
        raise GeosignalError("not_found", f"no export run {run_id}") from None
    run = session.get(ExportRun, rid)
    if run is None:
        raise GeosignalError("not_found", f"no export run {run_id}")
    return run


def iter_run_bytes(session: Session, run_id: uuid.UUID) -> Iterator[bytes]:
    """Yield the exact bytes export run ``run_id`` sent, decompressing its chunks one at a time."""
    from geosignal.models import ExportRunChunk

    unzip = zlib.decompressobj(31)
    numbers = session.scalars(select(ExportRunChunk.n).where(ExportRunChunk.run_id == run_id)
                              .order_by(ExportRunChunk.n)).all()
    for n in numbers:
        data = session.scalar(select(ExportRunChunk.data).where(ExportRunChunk.run_id == run_id,
                                                                ExportRunChunk.n == n))
        out = unzip.decompress(data)
        if out:
            yield out
    tail = unzip.flush()
    if tail:
        yield tail


def run_report_ids(session: Session, run: ExportRun) -> list[tuple[str, int]]:
    """Return (report id, change_seq) of every report a run carried, in report-id order."""
    from geosignal.models import ExportRunReport

    rows = session.execute(select(ExportRunReport.report_id, ExportRunReport.change_seq)
                           .where(ExportRunReport.run_id == run.id).order_by(ExportRunReport.report_id))
    return [(str(r), int(s)) for r, s in rows]


def transmitted_state(session: Session, report_ids: Iterable[uuid.UUID]) -> dict[str, str]:
    """Return, for each report id, ``current`` (transmitted in its current state),
    ``outdated`` (transmitted, changed since) or ``never``."""
    from geosignal.models import ExportRun, ExportRunReport, Report

    ids = list(report_ids)
    latest = (
        select(ExportRunReport.report_id, func.max(ExportRunReport.change_seq).label("sent"))
        .join(ExportRun, ExportRun.id == ExportRunReport.run_id)
        .where(ExportRun.mark_transmitted, ExportRunReport.report_id.in_(ids))
        .group_by(ExportRunReport.report_id).subquery()
    )
    rows = session.execute(select(Report.id, Report.change_seq, latest.c.sent)
                           .outerjoin(latest, latest.c.report_id == Report.id).where(Report.id.in_(ids)))
    return {str(rid): "never" if sent is None else "current" if sent >= seq else "outdated"
            for rid, seq, sent in rows}


def delete_run(session: Session, run: ExportRun) -> None:
    """Delete an export run with its bytes and its list of reports (the caller commits)."""
    from geosignal.models import ExportRun

    session.execute(delete(ExportRun).where(ExportRun.id == run.id))


# --------------------------------------------------------------------------- schema

def export_schema() -> dict[str, Any]:
    """Return the JSON Schema (2020-12) of the DWconnect export, built from :mod:`geosignal.vocab`.

    ``data/dwconnect-export.schema.json`` is this document (a test keeps them equal).
    """
    def nullable(schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [schema, {"type": "null"}]}

    date_time = {"type": "string", "format": "date-time",
                 "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$"}
    position = {"type": "array", "minItems": 2, "maxItems": 2,
                "prefixItems": [{"type": "number", "minimum": -180, "maximum": 180},
                                {"type": "number", "minimum": -90, "maximum": 90}]}
    line = {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/position"}}
    ring = {"type": "array", "minItems": 4, "items": {"$ref": "#/$defs/position"}}
    polygon = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ring"}}

    def geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["type", "coordinates"], "not": {"required": ["crs"]},
                "properties": {"type": {"const": kind}, "coordinates": coordinates}}

    properties = {
        "report_id": {"type": "string", "format": "uuid", "description": "Stable identifier of the report (UUID)."},
        "commune_nis": {"type": "string", "pattern": "^[0-9]{5}$",
                        "description": "NIS (Statbel REFNIS) code of the commune holding most of the geometry."},
        "commune_name": {"type": "string", "minLength": 1, "description": "French name of that commune."},
        "network": {"enum": list(vocab.NETWORKS), "description": "Network concerned."},
        "technologies": {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.TECHNOLOGIES)}},
        "operators": {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.OPERATORS)}},
        "issue": nullable({"enum": list(vocab.ISSUES)}),
        "setting": nullable({"enum": list(vocab.SETTINGS)}),
        "households_affected": nullable({"type": "integer", "minimum": 0}),
        "businesses_affected": nullable({"type": "integer", "minimum": 0}),
        "description": {"type": "string", "description": "Free text of the representative (NFC)."},
        "observed_at": nullable({**date_time, "description": "When the problem was observed."}),
        "reported_at": {**date_time, "description": "When the report was filed."},
        "updated_at": {**date_time, "description": "Last change of the report."},
        "revision": {"type": "integer", "minimum": 1,
                     "description": "Change sequence of the report: greater after every change."},
        "status": {"enum": list(vocab.STATUSES)},
        "geometry_kind": {"enum": ["point", "line", "zone"]},
        "area_m2": nullable({"type": "number", "exclusiveMinimum": 0,
                             "description": "Planar area in m² (EPSG:31370), zones only."}),
        "length_m": nullable({"type": "number", "minimum": 0,
                              "description": "Planar length in m (EPSG:31370), lines only."}),
        "merged_reports": {"type": "integer", "minimum": 1,
                           "description": "Reports merged into this feature (always 1 in 1.x)."},
        "reporter_role": nullable({"enum": list(vocab.ROLES)}),
        "reporter_commune_nis": nullable({"type": "string", "pattern": "^[0-9]{5}$"}),
        "schema_version": {"const": SCHEMA_VERSION},
        "source": {"const": SOURCE},
    }
    assert tuple(properties) == PROPERTY_NAMES, "schema and SQL properties differ"
    feature = {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "string", "format": "uuid"},
            "geometry": {"oneOf": [
                geometry("Point", {"$ref": "#/$defs/position"}),
                geometry("LineString", line),
                geometry("Polygon", polygon),
                geometry("MultiPoint", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/position"}}),
                geometry("MultiLineString", {"type": "array", "minItems": 1, "items": line}),
                geometry("MultiPolygon", {"type": "array", "minItems": 1, "items": polygon}),
            ]},
            "properties": {"type": "object", "additionalProperties": False,
                           "required": list(PROPERTY_NAMES), "properties": properties},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"geosignal DWconnect export {SCHEMA_VERSION}",
        "description": "White-zone reports of Charleroi Métropole as an RFC 7946 FeatureCollection "
                       "(EPSG:4326 [lon, lat], 6 decimals). See docs/dwconnect.md.",
        "type": "object",
        "required": ["type", "schema_version", "source", "generated_at", "next_since", "features",
                     "numberReturned", "excluded"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "FeatureCollection"},
            "schema_version": {"const": SCHEMA_VERSION},
            "source": {"const": SOURCE},
            "generated_at": date_time,
            "next_since": {"type": "string", "pattern": "^seq:[0-9]+$",
                           "description": "Pass it as since= to get the changes after this export."},
            "export_run": {"type": "string", "format": "uuid"},
            "features": {"type": "array", "items": {"$ref": "#/$defs/feature"}},
            "numberReturned": {"type": "integer", "minimum": 0},
            "excluded": {"type": "array", "items": {
                "type": "object", "required": ["id", "reason"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "format": "uuid"}, "reason": {"enum": [COLLAPSED]}}}},
            "next_cursor": {"type": "string", "description": "Present when another page follows."},
        },
        "$defs": {"position": position, "ring": ring, "feature": feature},
    }

