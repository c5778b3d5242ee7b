"""Streaming formats of the DWconnect export: GeoJSON (stored Features), CSV and GeoPackage.

**GeoJSON** streams the stored Features (``report_features``) with ``COPY … TO STDOUT``,
one statement per segment of :data:`SEGMENT` reports in insertion order: PostgreSQL sends rows
without waiting for a ``FETCH`` per batch, so it works while Python writes, and Python handles
one ``bytes`` per report (split once, joined by the ~1 MB block). Memory stays bounded
whatever the number of reports. The recorder's database writes happen between segments.

**CSV and GeoPackage** compute the properties live (:data:`~.sql.TABLE_SQL`) through a binary
server-side cursor, ``batch`` rows at a time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract
from geosignal.services.export.constants import BRUSSELS, COLLAPSED, SCHEMA_VERSION, SOURCE
from geosignal.services.export.filters import Paging, Watermark, encode_cursor, where_clause
from geosignal.services.export.runs import NoRecorder, Recorder
from geosignal.services.export.sql import (
    CHANGE_SEQ,
    COLLAPSED_ROW,
    GEOJSON_COPY_SQL,
    ID,
    LAT,
    LON,
    PROPERTY_NAMES,
    PROPERTY_PARAMS,
    PROPS,
    SEQ,
    TABLE_SQL,
    WKT,
)
from geosignal.services.export.zones import zone_part
from geosignal.textsafety import spreadsheet_text

if TYPE_CHECKING:
    from geosignal.services.export.stream import ExportRequest, ExportStream

AnyRecorder = Recorder | NoRecorder

#: Reports per ``COPY`` statement of a GeoJSON export (and per recorded batch).
SEGMENT = 20_000
#: Bytes of Features per block handed to the consumer.
BLOCK = 1 << 20


def _compile(session: Session, sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    compiled = text(sql).compile(dialect=session.get_bind().dialect)
    return compiled.string, compiled.construct_params(params)


def _dbapi(session: Session) -> Any:
    connection = session.connection().connection.dbapi_connection
    assert connection is not None
    return connection


# --------------------------------------------------------------------------- GeoJSON

def _block(features: list[bytes], first: bool) -> bytes:
    """Join Features (each ending with the ``COPY`` row end) with commas; undo ``COPY``'s
    text escaping (a JSON text holds no raw control character, so the only escape ``COPY``
    writes in it is a doubled backslash)."""
    data = b"".join(features).replace(b"\n", b",")[:-1]
    if b"\\" in data:
        data = data.replace(b"\\\\", b"\\")
    return data if first else b"," + data


def _stored_features(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                     recorder: AnyRecorder) -> Iterator[bytes]:
    """Yield the stored Features of a pass (or page) as comma-separated blocks of ~1 MB,
    recording the reports carried and the collapsed ones left out, and setting the next
    page's cursor when a page is full."""
    where, params = where_clause(request.filters, None, stream.watermark)
    after = paging.after if paging is not None else 0
    stream.seq_span = (after, after)
    page = paging.limit if paging is not None else None
    seen = 0  # rows of the page read (written or excluded)
    first = True
    connection = _dbapi(session)
    while True:
        limit = SEGMENT if page is None else min(SEGMENT, page - seen + 1)
        sql, bound = _compile(session, GEOJSON_COPY_SQL.format(where=where, after=":segment_after",
                                                               limit=":segment_limit"),
                              {**params, "segment_after": after, "segment_limit": limit})
        features: list[bytes] = []
        ids: list[bytes] = []
        change_seqs: list[bytes] = []
        size = rows = 0
        first_seq = last_seq = None
        with connection.cursor() as cursor, cursor.copy(sql, bound) as copy:
            for row in copy:
                rows += 1
                if page is not None and seen + rows > page:
                    stream.next_cursor = "more"  # the row after the page: not written
                    continue
                seq, change_seq, rid, feature = bytes(row).split(b"\t", 3)
                last_seq = seq
                if feature == b"\n":
                    stream.excluded.append(str(uuid.UUID(hex=rid.decode("ascii"))))
                    continue
                if first_seq is None:
                    first_seq = seq
                features.append(feature)
                ids.append(rid)
                change_seqs.append(change_seq)
                size += len(feature)
                if size >= BLOCK:
                    stream.count += len(features)
                    yield _block(features, first)
                    first, features, size = False, [], 0
        if features:
            stream.count += len(features)
            yield _block(features, first)
            first = False
        if first_seq is not None:
            packed = bytes.fromhex(b"".join(ids).decode("ascii"))  # 32 hex digits per report
            recorder.carried(int(first_seq), int(last_seq), packed, change_seqs)  # type: ignore[arg-type]
        recorder.flush()
        seen += rows
        if last_seq is not None:
            after = int(last_seq)
        if rows < limit or stream.next_cursor or (page is not None and seen >= page):
            break
    stream.seq_span = (stream.seq_span[0], after)
    if stream.next_cursor:
        stream.next_cursor = encode_cursor(after, stream.watermark, request.filters)


def geojson_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                   recorder: AnyRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    """Yield the FeatureCollection's bytes: head, stored Features, tail (count, excluded,
    next cursor)."""
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
    yield from _stored_features(session, request, paging, stream, recorder)
    # the zone part of the pass, once, on its last page (see .zones)
    zones, removed = ([], []) if stream.next_cursor else zone_part(session, request.filters, stream.watermark)
    stream.zone_count, stream.zones_removed_count = len(zones), len(removed)
    tail: dict[str, Any] = {
        "numberReturned": stream.count,
        "excluded": [{"id": i, "reason": COLLAPSED} for i in stream.excluded],
        "zones": zones,
        "zones_removed": removed,
    }
    if stream.next_cursor:
        tail["next_cursor"] = stream.next_cursor
    yield ("]," + json.dumps(tail, separators=(",", ":"))[1:] + "\n").encode("utf-8")


# --------------------------------------------------------------------------- CSV, GeoPackage

def _rows(session: Session, filters: Any, watermark: Watermark, batch: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``batch`` rows of :data:`TABLE_SQL` (tuples) through a binary
    server-side cursor of the session's own connection."""
    where, params = where_clause(filters, None, watermark)
    params.update(PROPERTY_PARAMS)
    session.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    sql, bound = _compile(session, TABLE_SQL.format(where=where, limit=""), params)
    with _dbapi(session).cursor(name=f"export_{uuid.uuid4().hex}", binary=True) as cursor:
        cursor.execute(sql, bound)
        while rows := cursor.fetchmany(batch):
            yield rows


def _table_rows(session: Session, request: ExportRequest, stream: ExportStream, recorder: AnyRecorder,
                batch: int) -> Iterator[list[Any]]:
    """Yield batches of rows to write (collapsed ones removed and remembered), recording the
    reports carried."""
    for partition in _rows(session, request.filters, stream.watermark, batch):
        kept = [row for row in partition if not row[COLLAPSED_ROW]]
        stream.excluded.extend(str(row[ID]) for row in partition if row[COLLAPSED_ROW])
        stream.count += len(kept)
        if kept:
            recorder.carried(kept[0][SEQ], kept[-1][SEQ], b"".join(row[ID].bytes for row in kept),
                             [str(row[CHANGE_SEQ]).encode() for row in kept])
            recorder.flush()
            yield kept


#: CSV columns, in order: the properties, then a representative point and the WKT.
CSV_COLUMNS: tuple[str, ...] = PROPERTY_NAMES + ("lon", "lat", "wkt")


def csv_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
               recorder: AnyRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    """Yield the CSV export's bytes: Excel dialect (UTF-8 BOM, ``;``, optional decimal comma)
    or plain RFC 4180."""
    excel = request.dialect == "excel"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    yield (("\ufeff" if excel else "") + buffer.getvalue()).encode("utf-8")
    comma = request.decimal == "comma"
    for rows in _table_rows(session, request, stream, recorder, batch):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            props = json.loads(row[PROPS])
            values = [_csv_value(props[name], comma, excel) for name in PROPERTY_NAMES]
            lon, lat = f"{row[LON]:.6f}", f"{row[LAT]:.6f}"
            if comma:
                lon, lat = lon.replace(".", ","), lat.replace(".", ",")
            writer.writerow(values + [lon, lat, row[WKT]])
        yield buffer.getvalue().encode("utf-8")


def _csv_value(value: Any, comma: bool, excel: bool = False) -> str:
    """Return a property as CSV text: lists joined by ``,``, numbers with the decimal mark.

    In the Excel dialect a text starting with ``= + - @``, a tab, a carriage return or a line
    feed is neutralised by a leading apostrophe (spreadsheets then show it as text and never run
    it as a formula); the plain dialect and the other formats keep the text as it is.
    """
    if value is None:
        return ""
    if isinstance(value, list):
        text_value = ",".join(value)
    elif isinstance(value, float):
        text_value = f"{value:.1f}"
        return text_value.replace(".", ",") if comma else text_value
    elif isinstance(value, int):
        return str(value)
    else:
        text_value = str(value)
    return spreadsheet_text(text_value) if excel else text_value


#: The GeoPackage column type of each kind of export property (:data:`geosignal.contract.KINDS`),
#: as a pandas dtype: whole numbers ``INTEGER`` (nullable ``Int64``), measures ``REAL``, every
#: other kind ``TEXT`` (lists joined by ``,``, dates in ISO 8601).
_GPKG_DTYPES = {"count": "Int64", "integer": "Int64", "number": "float64", "metres": "float64"}
GPKG_COLUMN_TYPES: dict[str, str] = {p.name: _GPKG_DTYPES.get(p.kind, "object")
                                     for p in contract.properties(contract.EXPORT)}


def _gpkg_frame(records: list[dict[str, Any]], geometries: Any) -> Any:
    """A batch of the GeoPackage export as a GeoDataFrame whose columns have the types of
    :data:`GPKG_COLUMN_TYPES` whatever its rows hold: GDAL types a column from the values of
    the first batch, so that a batch whose counts were all empty, or whose areas were all
    null, made ``TEXT`` or ``REAL`` columns, and two exports of one layer differed."""
    import geopandas as gpd
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=list(PROPERTY_NAMES)) if records else pd.DataFrame(
        {name: [] for name in PROPERTY_NAMES})
    frame = frame.astype(GPKG_COLUMN_TYPES)
    return gpd.GeoDataFrame(frame, geometry=geometries, crs=4326)


def gpkg_chunks(session: Session, request: ExportRequest, paging: Paging | None, stream: ExportStream,
                recorder: AnyRecorder, batch: int, now: datetime) -> Iterator[bytes]:
    """Write batches to a temporary GeoPackage (pyogrio, append), then stream its bytes."""
    import shapely
    from pyogrio import write_dataframe

    handle, path = tempfile.mkstemp(suffix=".gpkg", prefix="geosignal-export-")
    os.close(handle)
    os.unlink(path)
    try:
        written = False
        for rows in _table_rows(session, request, stream, recorder, batch):
            records = []
            for row in rows:
                props = json.loads(row[PROPS])
                for name in ("technologies", "operators"):
                    props[name] = ",".join(props[name] or [])
                records.append(props)
            # the WKT the CSV writes: the GeoJSON's 6 decimals (points too), one set of positions
            frame = _gpkg_frame(records, shapely.from_wkt([r[WKT] for r in rows]))
            write_dataframe(frame, path, layer="white_zones", driver="GPKG", geometry_type="Unknown",
                            append=written, promote_to_multi=False)
            written = True
        if not written:  # an empty layer with the right columns
            frame = _gpkg_frame([], [])
            write_dataframe(frame, path, layer="white_zones", driver="GPKG", geometry_type="Unknown")
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                yield block
    finally:
        if os.path.exists(path):
            os.unlink(path)
