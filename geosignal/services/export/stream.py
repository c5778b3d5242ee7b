"""An export being produced: the request, the stream of bytes, and the run it records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.services.export import formats
from geosignal.services.export.constants import (
    BRUSSELS,
    CSV_MEDIA_TYPE,
    GEOJSON_MEDIA_TYPE,
    GPKG_MEDIA_TYPE,
    MAX_PAGE,
    SCHEMA_VERSION,
)
from geosignal.services.export.filters import ExportFilters, Paging, Watermark, read_watermark
from geosignal.services.export.runs import NoRecorder, RecordedRun, Recorder, RunRecord, start_run


@dataclass(frozen=True)
class ExportRequest:
    """What to export: filters, format (``geojson``, ``csv``, ``gpkg``), paging (GeoJSON
    only) and CSV options (``dialect`` ``excel`` or ``plain``, ``decimal`` ``point`` or
    ``comma``, excel only).

    Raises ``invalid_request`` (400) for an unknown format or option, or a page size outside
    1..:data:`MAX_PAGE`.
    """

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
    run: RecordedRun | None = None
    next_cursor: str | None = None
    count: int = 0
    excluded: list[str] = field(default_factory=list)
    #: Confirmed zones the document carried, and zones it said removed (GeoJSON only).
    zone_count: int = 0
    zones_removed_count: int = 0
    #: Insertion order (``seq``) the GeoJSON document covered: (after, last].
    seq_span: tuple[int, int] = (0, 0)

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
    with :func:`read_watermark`), or read now. GeoJSON streams stored Features by segments of
    ``formats.SEGMENT`` reports; CSV and GeoPackage rows come ``batch`` at a time. With
    ``record``, a row of ``export_runs`` (:class:`~geosignal.models.ExportRun`) is inserted
    (not committed) and completed once ``chunks`` is exhausted: the caller commits then. The session must stay
    open while ``chunks`` is consumed, and must not be used for anything else meanwhile.

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
    recorder: Recorder | NoRecorder = NoRecorder()
    if record is not None:
        stream.run = start_run(session, record, created_at=now, format=request.format,
                               media_type=request.media_type, filename=filename,
                               filters={**request.filters.as_record(), **record.options},
                               schema_version=SCHEMA_VERSION, watermark=watermark.change_seq)
        recorder = Recorder(session, stream.run)
    writer = {"geojson": formats.geojson_chunks, "csv": formats.csv_chunks, "gpkg": formats.gpkg_chunks}
    chunks = writer[request.format](session, request, paging, stream, recorder, batch, now)
    stream.chunks = _recorded(chunks, recorder, stream, session, record)
    return stream


def _recorded(chunks: Iterator[bytes], recorder: Recorder | NoRecorder, stream: ExportStream, session: Session,
              record: RunRecord | None) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield recorder.write(chunk)
        recorder.finish(stream.count, len(stream.excluded), stream.zone_count, stream.zones_removed_count)
        if record is not None and record.mark_transmitted and stream.run is not None:
            from geosignal.services.export.transmission import TerminalOperator, mark_transmitted

            mark_transmitted(session, stream.run.id, record.by or TerminalOperator(record.actor))
    finally:
        recorder.close()


def iter_feature_collection(session: Session, filters: ExportFilters | None = None,
                            batch: int = 2000) -> Iterator[str]:
    """Yield a GeoJSON FeatureCollection as text chunks, streaming stored Features (no
    recording). Memory stays bounded; the session must stay open while the iterator is consumed.
    """
    request = ExportRequest(filters=filters if filters is not None else ExportFilters())
    stream = stream_export(session, request, batch=batch)
    for chunk in stream.chunks:
        yield chunk.decode("utf-8")
